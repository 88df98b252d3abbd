#!/usr/bin/env node
// Fails (exit 1) when a source file is longer than 400 lines: a file that size holds more
// than one idea, and the fix is to split it by what it does, not to raise the limit.
//   node scripts/check-file-sizes.js [--root <dir>] [--max <lines>]
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { sourceFiles } = require('./source-files');

const EXTENSIONS = ['.ts', '.js', '.mjs', '.cjs', '.cpp', '.h', '.cu', '.cuh', '.py', '.sh'];

function main(argv) {
  let root = path.resolve(__dirname, '..');
  let max = 400;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--root') root = path.resolve(argv[++i]);
    else if (argv[i] === '--max') max = Number(argv[++i]);
    else {
      console.error(`check-file-sizes: unknown argument ${argv[i]}`);
      return 2;
    }
  }
  const long = [];
  for (const f of sourceFiles(root, EXTENSIONS)) {
    const text = fs.readFileSync(path.join(root, f), 'utf8');
    const lines = text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
    if (lines > max) long.push(`${f}: ${lines} lines`);
  }
  if (long.length) {
    console.error(`check-file-sizes: ${long.length} source file(s) over ${max} lines; split them by concern:\n  ${long.join('\n  ')}`);
    return 1;
  }
  return 0;
}

process.exitCode = main(process.argv.slice(2));
