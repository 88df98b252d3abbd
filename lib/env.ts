// Every environment variable cudnn-resnet reads, in one table, and the accessors the library
// uses instead of touching process.env itself. The native addon reads its own switches in
// native/core/env.cpp and the build scripts theirs in scripts/env.js; the table below lists
// those too, so that this file and the README's "Environment variables" table are the whole
// list (test/lib/env.test.ts checks both against the code).
import * as os from 'node:os';
import * as path from 'node:path';

/** Who reads a variable: the TypeScript library, the native addon, the build scripts, or the tests. */
export type EnvReader = 'library' | 'addon' | 'build' | 'tests';

export interface EnvVariable {
  name: string;
  readBy: EnvReader;
  /** What it does, in one sentence (the README table says the same). */
  meaning: string;
}

export const ENVIRONMENT: readonly EnvVariable[] = [
  { name: 'CUDNN_RESNET_ADDON', readBy: 'library', meaning: 'path of the compiled addon (.node) to load instead of the local build or the prebuilt binary' },
  {
    name: 'CUDNN_RESNET_CACHE',
    readBy: 'library',
    meaning: 'cache folder for downloaded and generated datasets (default $XDG_CACHE_HOME/cudnn-resnet or ~/.cache/cudnn-resnet)',
  },
  {
    name: 'CUDNN_RESNET_BN',
    readBy: 'addon',
    meaning: 'CUDA batch-norm path: unset = cuDNN with its fused fp16 NHWC kernel where eligible, plain = cuDNN without it, native = own kernels',
  },
  { name: 'CUDNN_RESNET_CPU_THREADS', readBy: 'addon', meaning: 'number of CPU backend threads (1-64; 1 makes CPU training bitwise reproducible)' },
  {
    name: 'CUDNN_RESNET_CPU_GEMM',
    readBy: 'addon',
    meaning:
      "caps the CPU GEMM micro-kernel and the direct 3x3 convolution's with it: avx2 = AVX2/FMA even where AVX-512 exists, generic = the portable GEMM kernel and no direct convolution",
  },
  {
    name: 'CUDNN_RESNET_CPU_CONV',
    readBy: 'addon',
    meaning:
      'CPU convolution path: unset = the direct 3x3 kernel where it applies and one GEMM per filter tap for tiny, mostly padded planes, gemm = unfold + GEMM for every convolution (the reference path; with CUDNN_RESNET_CPU_GEMM=avx2 and one thread, the same bits on every CPU with AVX2 and FMA)',
  },
  { name: 'CUDNN_LIBRARY_PATH', readBy: 'addon', meaning: 'libcudnn.so.9 or its folder, tried before the default search' },
  { name: 'CUDNN_RESNET_NO_CUDA', readBy: 'build', meaning: '1 = build the addon without the CUDA backend even where nvcc exists' },
  { name: 'CUDNN_RESNET_BUILD_DIR', readBy: 'build', meaning: 'build folder of the addon (default build/)' },
  { name: 'CUDNN_RESNET_TEST_SHAPES', readBy: 'tests', meaning: 'small = the op suites run a shortened shape list (for compute-sanitizer runs)' },
  { name: 'CUDNN_RESNET_ONNX_ALL', readBy: 'tests', meaning: '1 = the ONNX export test also runs the six largest nets in onnxruntime (slow)' },
  { name: 'CUDNN_RESNET_KEEP_TMP', readBy: 'tests', meaning: '1 = the package test keeps its temporary install folder for inspection' },
  {
    name: 'CUDNN_RESNET_PYTHON',
    readBy: 'tests',
    meaning: 'a python that imports torch/torchvision, for the tests that compare with them (default: python3, then /usr/bin/python3)',
  },
];

function read(name: string): string | undefined {
  const v = process.env[name];
  return v === undefined || v === '' ? undefined : v;
}

/** CUDNN_RESNET_ADDON: an explicit addon file, or undefined. */
export function addonPath(): string | undefined {
  return read('CUDNN_RESNET_ADDON');
}

/** The cache root: $CUDNN_RESNET_CACHE, else $XDG_CACHE_HOME/cudnn-resnet, else ~/.cache/cudnn-resnet. */
export function cacheDir(): string {
  const explicit = read('CUDNN_RESNET_CACHE');
  if (explicit) return explicit;
  return path.join(read('XDG_CACHE_HOME') ?? path.join(os.homedir(), '.cache'), 'cudnn-resnet');
}

/** CUDNN_RESNET_BN as the addon interprets it (the addon reads it once, when it loads). */
export function batchNormPath(): 'auto' | 'plain' | 'native' {
  const v = read('CUDNN_RESNET_BN');
  return v === 'plain' || v === 'native' ? v : 'auto';
}

/** CUDNN_RESNET_TEST_SHAPES=small: tests shorten their shape lists. */
export function smallTestShapes(): boolean {
  return read('CUDNN_RESNET_TEST_SHAPES') === 'small';
}

/** CUDNN_RESNET_KEEP_TMP=1: tests keep their temporary folders. */
export function keepTestTmp(): boolean {
  return read('CUDNN_RESNET_KEEP_TMP') === '1';
}

/** CUDNN_RESNET_PYTHON: the python the comparison tests try first, or undefined. */
export function testPython(): string | undefined {
  return read('CUDNN_RESNET_PYTHON');
}

/** CUDNN_RESNET_ONNX_ALL=1: the ONNX test exports every model. */
export function onnxAllModels(): boolean {
  return read('CUDNN_RESNET_ONNX_ALL') === '1';
}
