#!/usr/bin/env node
// clang-format over the C++ and CUDA sources, with the binary the clang-format npm package
// ships (so a clean `npm ci` has it, offline too; a platform it does not cover falls back to
// clang-format on PATH). The style is .clang-format at the repository root.
//   node scripts/clang-format.js          check: exit 1 and the list of files that would change
//   node scripts/clang-format.js --fix    rewrite them in place
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { sourceFiles } = require('./source-files');

const root = path.resolve(__dirname, '..');

function binary() {
  try {
    const dir = path.dirname(require.resolve('clang-format'));
    const shipped = path.join(dir, 'bin', `${process.platform}_${process.arch}`, 'clang-format');
    if (fs.existsSync(shipped)) return shipped;
  } catch {
    // the npm package is not installed (a production install): use PATH
  }
  return 'clang-format';
}

function main(argv) {
  const fix = argv.includes('--fix');
  const files = sourceFiles(root, ['.cpp', '.h', '.cu', '.cuh']);
  const bin = binary();
  const bad = [];
  for (let i = 0; i < files.length; i += 50) {
    const batch = files.slice(i, i + 50);
    const args = fix ? ['-i', '--style=file', ...batch] : ['--dry-run', '--Werror', '--style=file', ...batch];
    const r = spawnSync(bin, args, { cwd: root, encoding: 'utf8' });
    if (r.error) {
      console.error(`clang-format: cannot run ${bin}: ${r.error.message}`);
      return 2;
    }
    if (r.status !== 0) {
      if (fix) {
        process.stderr.write(r.stderr);
        return r.status ?? 1;
      }
      for (const m of r.stderr.matchAll(/^(.+?):\d+:\d+: error:/gm)) if (!bad.includes(m[1])) bad.push(m[1]);
      if (bad.length === 0) process.stderr.write(r.stderr);
    }
  }
  if (bad.length) {
    console.error(`clang-format: ${bad.length} file(s) not formatted (npm run format fixes them):\n  ${bad.join('\n  ')}`);
    return 1;
  }
  return 0;
}

process.exitCode = main(process.argv.slice(2));
