#!/usr/bin/env node
// Builds the native addon from source, for a machine no prebuilt binary fits (the package
// ships none for it, or its glibc is older). The package has no install script, so npm never
// runs this by itself; the addon's load error and `cudnn-resnet doctor` tell users to run
//   npm run build:from-source        (in node_modules/cudnn-resnet)
// It uses cmake-js when it is installed (a clone with devDependencies: CUDA too where nvcc
// is found), else node-gyp with binding.gyp (CPU backend only; npm provides node-gyp to the
// scripts it runs). Needs python3, make and a C++17 compiler.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');

function hasCmakeJs() {
  try {
    require.resolve('cmake-js/bin/cmake-js', { paths: [root] });
    return true;
  } catch {
    return false;
  }
}

function nodeGyp() {
  // npm points npm_config_node_gyp at its bundled node-gyp when it runs a script.
  const bundled = process.env.npm_config_node_gyp;
  if (bundled && fs.existsSync(bundled)) return [process.execPath, bundled];
  return ['node-gyp'];
}

function main() {
  if (hasCmakeJs()) {
    const r = spawnSync(process.execPath, [path.join(__dirname, 'build-native.js')], { cwd: root, stdio: 'inherit' });
    return r.status ?? 1;
  }
  const [cmd, ...args] = nodeGyp();
  const r = spawnSync(cmd, [...args, 'rebuild'], { cwd: root, stdio: 'inherit' });
  if (r.error) console.error(`cudnn-resnet: could not run node-gyp (${r.error.message}); run this through \`npm run build:from-source\`, or install node-gyp`);
  return r.status ?? 1;
}

process.exit(main());
