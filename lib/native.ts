// Loads the compiled addon and types its export table. NativeAddon mirrors the C++ export
// table in native/bindings/addon.cpp; test/native.test.ts checks that the two list the
// same names. Everything here is the raw layer: lib/tensor.ts and lib/ops/ validate
// arguments and give them a friendlier shape before calling in.
import * as fs from 'node:fs';
import * as path from 'node:path';

export type DTypeName = 'float32' | 'float16' | 'bfloat16' | 'int32' | 'uint8';
export type LayoutName = 'NCHW' | 'NHWC';
/** 'cpu' or 'cuda:N'. */
export type DeviceName = string;

/** The native tensor handle. Shape is logical ([N, C, H, W] for 4-D whatever the layout). */
export interface NativeTensor {
  readonly shape: number[];
  readonly dtype: DTypeName;
  readonly layout: LayoutName;
  readonly device: DeviceName;
  readonly nbytes: number;
  readonly disposed: boolean;
  /** Elements in memory order: Float32Array for float dtypes, Int32Array, Uint8Array. */
  read(): Float32Array | Int32Array | Uint8Array;
  readAsync(): Promise<Float32Array | Int32Array | Uint8Array>;
  /** Frees the storage now (if no view shares it); idempotent. */
  dispose(): void;
}

export type NativeTypedArray = Float32Array | Uint16Array | Int32Array | Uint8Array;

export interface NativeMemoryStats {
  /** Handles not yet disposed or collected. */
  liveTensors: number;
  cpuStorages: number;
  cpuBytes: number;
  cudaStorages: number;
  cudaBytes: number;
}

export interface NativeBuildInfo {
  version: string;
  cuda: boolean;
  cudaArchitectures: string;
  cpuThreads: number;
  napiVersion: number;
}

export interface NativeBatchNormForward {
  y: NativeTensor;
  saveMean: NativeTensor;
  saveInvStd: NativeTensor;
}

export interface NativeBatchNormBackward {
  dx: NativeTensor;
  dgamma: NativeTensor;
  dbeta: NativeTensor;
  /** Present when the forward added a residual. */
  dresidual?: NativeTensor;
}

export interface NativeCrossEntropy {
  loss: NativeTensor;
  correct: NativeTensor;
}

export type PoolModeName = 'max' | 'avg';

/** The op table. Argument order is positional; null stands for an absent optional tensor. */
export interface NativeAddon {
  // ---- tensors (bindings/tensor_binding.cpp) ----
  empty(shape: number[], dtype: DTypeName, layout: LayoutName, device: DeviceName): NativeTensor;
  full(shape: number[], dtype: DTypeName, layout: LayoutName, device: DeviceName, value: number): NativeTensor;
  /** Float32Array may back any float dtype (converted); Uint16Array holds raw f16/bf16 bits. */
  fromTypedArray(data: NativeTypedArray, shape: number[], dtype: DTypeName, layout: LayoutName, device: DeviceName): NativeTensor;
  toDevice(x: NativeTensor, device: DeviceName): NativeTensor;
  cast(x: NativeTensor, dtype: DTypeName): NativeTensor;
  toLayout(x: NativeTensor, layout: LayoutName): NativeTensor;
  /** A view sharing storage; same element count, layout must be NCHW for rank changes. */
  reshape(x: NativeTensor, shape: number[]): NativeTensor;
  /** dst <- src, equal shape/dtype/layout, any devices. */
  copyInto(dst: NativeTensor, src: NativeTensor): void;
  synchronize(device: DeviceName): void;
  memoryStats(): NativeMemoryStats;
  buildInfo(): NativeBuildInfo;

  // ---- convolution (bindings/conv_binding.cpp); params: [strideH, strideW, padH, padW, dilationH, dilationW] ----
  conv2dForward(x: NativeTensor, w: NativeTensor, bias: NativeTensor | null, params: number[], allowTf32: boolean): NativeTensor;
  conv2dBackwardData(dy: NativeTensor, w: NativeTensor, xShape: number[], params: number[], allowTf32: boolean): NativeTensor;
  conv2dBackwardFilter(dy: NativeTensor, x: NativeTensor, wShape: number[], params: number[], allowTf32: boolean): NativeTensor;
  conv2dBackwardBias(dy: NativeTensor): NativeTensor;

  // ---- batch norm (bindings/batchnorm_binding.cpp) ----
  batchNormForwardTraining(x: NativeTensor, gamma: NativeTensor, beta: NativeTensor, runningMean: NativeTensor,
    runningVar: NativeTensor, momentum: number, eps: number, residual: NativeTensor | null, relu: boolean): NativeBatchNormForward;
  batchNormForwardInference(x: NativeTensor, gamma: NativeTensor, beta: NativeTensor, runningMean: NativeTensor,
    runningVar: NativeTensor, eps: number, residual: NativeTensor | null, relu: boolean): NativeTensor;
  batchNormBackward(dy: NativeTensor, x: NativeTensor, gamma: NativeTensor, saveMean: NativeTensor, saveInvStd: NativeTensor,
    eps: number, y: NativeTensor | null, relu: boolean, hasResidual: boolean): NativeBatchNormBackward;

  // ---- activation and elementwise (bindings/elementwise_binding.cpp) ----
  reluForward(x: NativeTensor): NativeTensor;
  reluBackward(dy: NativeTensor, y: NativeTensor): NativeTensor;
  add(a: NativeTensor, b: NativeTensor): NativeTensor;
  scale(x: NativeTensor, alpha: number): NativeTensor;
  /** y += alpha * x, in place. */
  axpy(alpha: number, x: NativeTensor, y: NativeTensor): void;

  // ---- pooling (bindings/pooling_binding.cpp); params: [kernelH, kernelW, strideH, strideW, padH, padW] ----
  pool2dForward(x: NativeTensor, mode: PoolModeName, params: number[], countIncludePad: boolean): NativeTensor;
  pool2dBackward(dy: NativeTensor, x: NativeTensor, y: NativeTensor, mode: PoolModeName, params: number[], countIncludePad: boolean): NativeTensor;

  // ---- linear (bindings/linear_binding.cpp): y[N, M] = x[N, K] w[M, K]^T + b ----
  linearForward(x: NativeTensor, w: NativeTensor, bias: NativeTensor | null): NativeTensor;
  linearBackwardData(dy: NativeTensor, w: NativeTensor): NativeTensor;
  linearBackwardWeight(dy: NativeTensor, x: NativeTensor): NativeTensor;
  linearBackwardBias(dy: NativeTensor): NativeTensor;

  // ---- loss (bindings/loss_binding.cpp): logits [N, C] float, labels [N] int32 ----
  softmaxCrossEntropyForward(logits: NativeTensor, labels: NativeTensor): NativeCrossEntropy;
  softmaxCrossEntropyBackward(logits: NativeTensor, labels: NativeTensor, gradLoss: NativeTensor): NativeTensor;

  // ---- optimizer (bindings/sgd_binding.cpp): in place over many tensors; bufs [] when momentum is 0 ----
  sgdUpdate(params: NativeTensor[], grads: NativeTensor[], bufs: NativeTensor[], lr: number, momentum: number,
    dampening: number, weightDecay: number, nesterov: boolean, firstStep: boolean): void;

  // ---- fills (bindings/fill_binding.cpp): in place; seeds are integers in [0, 2^53) ----
  fillConstant(t: NativeTensor, value: number): void;
  fillUniform(t: NativeTensor, low: number, high: number, seed: number): void;
  fillNormal(t: NativeTensor, mean: number, std: number, seed: number): void;
  /** He et al. 2015: normal(0, gain / sqrt(fan)), fan from the weight's shape ([out, in, kh, kw] or [out, in]). */
  fillKaimingNormal(t: NativeTensor, mode: 'fan_in' | 'fan_out', gain: number, seed: number): void;

  // ---- reductions (bindings/reduce_binding.cpp) ----
  sum(x: NativeTensor): NativeTensor;
  l2Norms(xs: NativeTensor[]): NativeTensor;

  // ---- option-A shortcut (bindings/shortcut_binding.cpp) ----
  shortcutAForward(x: NativeTensor, outChannels: number, stride: number): NativeTensor;
  shortcutABackward(dy: NativeTensor, inChannels: number, stride: number, xShape: number[]): NativeTensor;

  // ---- data (bindings/augment_binding.cpp) ----
  augmentBatch(images: NativeTensor, indices: NativeTensor, params: NativeTensor, mean: number[], std: number[], pad: number,
    dtype: DTypeName, layout: LayoutName): NativeTensor;
  gatherLabels(labels: NativeTensor, indices: NativeTensor): NativeTensor;
}

/** Every name NativeAddon declares, checked against the addon's exports by a test. */
export const NATIVE_EXPORTS = [
  'empty', 'full', 'fromTypedArray', 'toDevice', 'cast', 'toLayout', 'reshape', 'copyInto', 'synchronize',
  'memoryStats', 'buildInfo',
  'conv2dForward', 'conv2dBackwardData', 'conv2dBackwardFilter', 'conv2dBackwardBias',
  'batchNormForwardTraining', 'batchNormForwardInference', 'batchNormBackward',
  'reluForward', 'reluBackward', 'add', 'scale', 'axpy',
  'pool2dForward', 'pool2dBackward',
  'linearForward', 'linearBackwardData', 'linearBackwardWeight', 'linearBackwardBias',
  'softmaxCrossEntropyForward', 'softmaxCrossEntropyBackward',
  'sgdUpdate',
  'fillConstant', 'fillUniform', 'fillNormal', 'fillKaimingNormal',
  'sum', 'l2Norms',
  'shortcutAForward', 'shortcutABackward',
  'augmentBatch', 'gatherLabels',
] as const satisfies readonly (keyof NativeAddon)[];

// Compile-time half of the check: NATIVE_EXPORTS must name every key of NativeAddon.
type Missing = Exclude<keyof NativeAddon, (typeof NATIVE_EXPORTS)[number]>;
const exportsComplete: [Missing] extends [never] ? true : Missing = true;
void exportsComplete;

/** The package root (where package.json lives), found from this compiled file's folder. */
export function packageRoot(): string {
  let dir = __dirname;
  for (;;) {
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'native'))) return dir;
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'prebuilds'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) return path.resolve(__dirname, '..', '..');
    dir = up;
  }
}

function loadFailure(root: string, cause: unknown): Error {
  const reason = cause instanceof Error ? cause.message.trim() : String(cause);
  const lines = [
    'cudnn-resnet: could not load its native addon.',
    `  Looked in: ${path.join(root, 'build', 'Release')} (a local build) and ${path.join(root, 'prebuilds', `${process.platform}-${process.arch}`)} (binaries shipped in the package).`,
    `  Loader said: ${reason.split('\n')[0]}`,
    '  Possible solutions:',
    `  - This package ships prebuilt binaries for linux-x64 (glibc) only; this is ${process.platform}-${process.arch}.`,
    '  - Build it here: install cmake and a C++17 compiler, then run `npm run build:native` in the package folder',
    '    (or allow install scripts for it, e.g. `npm install --allow-scripts=cudnn-resnet`, and reinstall).',
    '  - Point CUDNN_RESNET_ADDON at a compiled cudnn_resnet.node to use that file.',
  ];
  const err = new Error(lines.join('\n'));
  (err as Error & { code: string }).code = 'ERR_CUDNN_RESNET_ADDON';
  (err as Error & { cause: unknown }).cause = cause;
  return err;
}

let cached: NativeAddon | undefined;

/** The addon, loaded on first use. CUDNN_RESNET_ADDON names an explicit .node file. */
export function native(): NativeAddon {
  if (cached) return cached;
  const root = packageRoot();
  try {
    const explicit = process.env.CUDNN_RESNET_ADDON;
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    cached = (explicit ? require(path.resolve(explicit)) : require('node-gyp-build')(root)) as NativeAddon;
  } catch (e) {
    throw loadFailure(root, e);
  }
  return cached;
}
