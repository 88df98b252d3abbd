#!/usr/bin/env node
// Builds the addon with cmake-js into build/Release/cudnn_resnet.node.
//   CUDNN_RESNET_NO_CUDA=1   skip the CUDA backend even where nvcc exists (faster builds)
//   CUDNN_RESNET_BUILD_DIR   build folder (default build/)
'use strict';
const { spawnSync } = require('node:child_process');
const path = require('node:path');
const os = require('node:os');

const env = require('./env');

const root = path.resolve(__dirname, '..');
let cmakeJs;
try {
  cmakeJs = require.resolve('cmake-js/bin/cmake-js', { paths: [root] });
} catch {
  console.error(
    'cudnn-resnet: cannot build the native addon here because cmake-js is not installed.\n' +
      '  Install the development dependencies first (`npm install` in a clone of the repository),\n' +
      '  or use the prebuilt binary that ships in the package (prebuilds/linux-x64).',
  );
  process.exit(1);
}
const out = env.buildDir() || path.join(root, 'build');
const args = [cmakeJs, 'compile', '--out', out, '--parallel', String(Math.max(1, os.availableParallelism?.() ?? os.cpus().length))];
if (env.noCuda()) args.push('--CDCR_CUDA=OFF');
else args.push('--CDCR_CUDA=ON');
const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
process.exit(r.status ?? 1);
