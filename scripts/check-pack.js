#!/usr/bin/env node
// prepack: refuses to pack a package that would not work. The compiled library (dist/)
// and a prebuilt binary are not in git, and the package has no install script to make
// them, so a tarball without them installs fine and then fails on the first require().
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));

function referenced() {
  const files = [pkg.main, pkg.types, ...Object.values(pkg.bin ?? {})];
  for (const entry of Object.values(pkg.exports ?? {})) {
    if (typeof entry === 'string') files.push(entry);
    else if (entry && typeof entry === 'object') files.push(...Object.values(entry).filter((v) => typeof v === 'string'));
  }
  return [...new Set(files.filter(Boolean).map((f) => path.normalize(f)))];
}

const problems = [];
for (const f of referenced()) {
  if (!fs.existsSync(path.join(root, f))) problems.push(`${f} (named in package.json) is missing: run \`npm run build:ts\``);
}
const prebuilds = path.join(root, 'prebuilds');
const binaries = fs.existsSync(prebuilds) ? fs.readdirSync(prebuilds, { recursive: true }).filter((f) => String(f).endsWith('.node')) : [];
if (binaries.length === 0) problems.push('prebuilds/ holds no binary: build the addon, then `npm run prebuilds`');

if (problems.length > 0) {
  console.error(`cudnn-resnet: not packing, the package would not work:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  process.exit(1);
}
console.log(`cudnn-resnet: pack check ok (${referenced().length} entry points, ${binaries.length} prebuilt binary)`);
