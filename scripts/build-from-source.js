#!/usr/bin/env node
// The package's "install" script. Where npm runs it (install scripts allowed or approved),
// it keeps a fitting prebuilt binary and builds only when none loads. In a clone of the
// repository it always runs the (incremental) cmake-js build.
//
// Not `node-gyp-build "<cmd>"`: that runs <cmd> as a pre-step and then `node-gyp rebuild`
// anyway, so a cmake-js CUDA build was overwritten by the CPU-only binding.gyp build.
//   build order: cmake-js (scripts/build-native.js; CUDA where nvcc exists) when cmake-js is
//   installed (a clone with devDependencies), else node-gyp with binding.gyp (CPU only),
//   which npm provides to install scripts.
//   CUDNN_RESNET_BUILD_FROM_SOURCE=1 or `npm install --build-from-source` skip the prebuilt.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');

function fromSource() {
  return process.env.CUDNN_RESNET_BUILD_FROM_SOURCE === '1' || process.env.npm_config_build_from_source === 'true';
}

/** The file node-gyp-build would load, if it loads; checked in a child, as node-gyp-build-test does. */
function loadable() {
  const code = `const f = require('node-gyp-build').resolve(process.argv[1]); require(f); process.stdout.write(f)`;
  const r = spawnSync(process.execPath, ['-e', code, root], { cwd: root, encoding: 'utf8' });
  return r.status === 0 ? r.stdout : null;
}

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

/** A clone being set up (`npm install` / `npm ci` in the repository), not a dependency:
 * there the build is always (re)run, incrementally, so edited sources are never shadowed by
 * an older build/Release; a dependency lives under node_modules/. */
function developmentCheckout() {
  return !root.split(path.sep).includes('node_modules') && hasCmakeJs();
}

function main() {
  if (!fromSource() && !developmentCheckout()) {
    const file = loadable();
    if (file) {
      console.log(`cudnn-resnet: using ${path.relative(root, file)}; nothing to build`);
      return 0;
    }
    console.log('cudnn-resnet: no prebuilt binary fits this machine; building from source');
  }
  if (hasCmakeJs()) {
    const r = spawnSync(process.execPath, [path.join(__dirname, 'build-native.js')], { cwd: root, stdio: 'inherit' });
    return r.status ?? 1;
  }
  const [cmd, ...args] = nodeGyp();
  const r = spawnSync(cmd, [...args, 'rebuild'], { cwd: root, stdio: 'inherit' });
  if (r.error) console.error(`cudnn-resnet: could not run node-gyp (${r.error.message}); install it or cmake-js and retry`);
  return r.status ?? 1;
}

process.exit(main());
