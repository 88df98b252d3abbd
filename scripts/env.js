// The environment switches of the build scripts (build-native.js, package-prebuilds.js),
// read here and nowhere else. They run before the TypeScript is compiled, so they cannot use
// lib/env.ts, which lists these variables too, with the ones the library and addon read.
'use strict';

module.exports = {
  /** CUDNN_RESNET_NO_CUDA=1: build without the CUDA backend even where nvcc exists. */
  noCuda: () => process.env.CUDNN_RESNET_NO_CUDA === '1',
  /** CUDNN_RESNET_BUILD_DIR: the addon's build folder, or undefined for the default (build/). */
  buildDir: () => process.env.CUDNN_RESNET_BUILD_DIR || undefined,
};
