// Loads the compiled addon and types its export table. NativeAddon mirrors the C++ export
// table in native/bindings/op_table.h; test/native.test.ts checks that the two list the
// same names. Everything here is the raw layer: lib/tensor.ts and lib/ops/ validate
// arguments and give them a friendlier shape before calling in.
import * as path from 'node:path';

import { loadFailure, nodeGypBuild, packageRoot } from './addon-load';
import { addonPath } from './env';
import type { NativeJpegInfo, NativeResampleArgs } from './native-image';

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
  /** Whether another live handle (a view) or pending work (an async read) holds this storage. */
  readonly storageShared: boolean;
  /** Elements in memory order: Float32Array for float dtypes, Int32Array, Uint8Array. */
  read(): Float32Array | Int32Array | Uint8Array;
  readAsync(): Promise<Float32Array | Int32Array | Uint8Array>;
  /** Frees the storage now (if no view shares it); idempotent. */
  dispose(): void;
}

/** An instantiated CUDA graph; it owns the memory its capture allocated until dispose(). */
export interface NativeCudaGraph {
  readonly device: DeviceName;
  readonly disposed: boolean;
  /** Waits for pending replays, destroys the graph and frees its pool; idempotent. */
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
  /** The CPU GEMM micro-kernel chosen at load for this CPU: 'avx512', 'avx2-fma' or 'generic'. */
  cpuKernel: string;
  /**
   * The kernel of the CPU's direct 3x3 stride-1 convolution (forward, backward data and
   * weight gradient), chosen at load with the GEMM's:
   * 'avx512', 'avx2-fma', or 'none' when every convolution is unfolded into the GEMM
   * (CUDNN_RESNET_CPU_CONV=gemm, or the portable GEMM kernel).
   */
  cpuDirectConv: string;
  napiVersion: number;
  /** The libjpeg-turbo version linked in for JPEG decoding ('2.1.5'), or '' when built without it (JPEG then goes through sharp). */
  jpeg: string;
}

export interface NativeBatchNormForward {
  y: NativeTensor;
  saveMean: NativeTensor;
  saveInvStd: NativeTensor;
  /** Opaque state for batchNormBackward (cuDNN's fused-kernel reserve space on CUDA), or null. */
  reserve: NativeTensor | null;
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

export interface NativeCudaDevice {
  index: number;
  name: string;
  /** e.g. '9.0' */
  computeCapability: string;
  totalMemory: number;
}

export interface NativeCudaInfo {
  /** false when the addon was built without nvcc */
  compiled: boolean;
  available: boolean;
  /** Why CUDA is unusable ('' when available): what is missing and where it was looked for. */
  reason: string;
  deviceCount: number;
  devices: NativeCudaDevice[];
  /** CUDA versions as integers, e.g. 13000; 0 when unknown */
  driverVersion: number;
  runtimeVersion: number;
  /** e.g. 91400; 0 when cuDNN was not loaded */
  cudnnVersion: number;
  cudnnPath: string;
  /** Every place cuDNN was looked for, with the outcome. */
  searched: string[];
  /** The convolution algorithm chosen for each shape seen so far. */
  convAlgorithms: string[];
  /** Calls of cuDNN's fused batch-norm kernels so far, and qualifying calls that fell back to the plain path. */
  fusedBatchNorm: { forward: number; backward: number; fallbacks: number };
}

/** A CUDA event pair measuring one interval of a device's stream (eventTimerStart/Stop). */
export interface NativeEventTimer {
  readonly device: string;
  readonly stopped: boolean;
}

export interface NativeCudaMemoryStats {
  allocated: number;
  reserved: number;
  peakAllocated: number;
  peakReserved: number;
  cachedBlocks: number;
  mallocCalls: number;
  cacheHits: number;
  oomRetries: number;
  workspace: number;
}

/** The op table. Argument order is positional; null stands for an absent optional tensor. */
/** Values and their int32 indices (maxAxis, topk). */
export interface NativeTopk {
  values: NativeTensor;
  indices: NativeTensor;
}

export interface NativeAddon {
  // ---- tensors (bindings/tensor_binding.cpp) ----
  empty(shape: number[], dtype: DTypeName, layout: LayoutName, device: DeviceName): NativeTensor;
  full(shape: number[], dtype: DTypeName, layout: LayoutName, device: DeviceName, value: number): NativeTensor;
  /** Float32Array may back any float dtype (converted); Uint16Array holds raw f16/bf16 bits. */
  fromTypedArray(data: NativeTypedArray, shape: number[], dtype: DTypeName, layout: LayoutName, device: DeviceName): NativeTensor;
  toDevice(x: NativeTensor, device: DeviceName): NativeTensor;
  /** A view sharing storage; same element count, layout must be NCHW for rank changes. */
  reshape(x: NativeTensor, shape: number[]): NativeTensor;
  /** dst <- src, equal shape/dtype/layout, any devices. */
  copyInto(dst: NativeTensor, src: NativeTensor): void;
  synchronize(device: DeviceName): void;
  memoryStats(): NativeMemoryStats;
  buildInfo(): NativeBuildInfo;
  /** CPU ms of the calling thread and of the CPU pool's workers (profiling; the process clock counts V8's threads too). */
  cpuThreadTimes(): { callerMs: number; poolMs: number };

  // ---- dtype and layout conversions (bindings/convert_binding.cpp) ----
  cast(x: NativeTensor, dtype: DTypeName): NativeTensor;
  toLayout(x: NativeTensor, layout: LayoutName): NativeTensor;
  /** cast + toLayout in one pass (one kernel on CUDA); layout must be NCHW unless x is 4-D. Always a new tensor. */
  convert(x: NativeTensor, dtype: DTypeName, layout: LayoutName): NativeTensor;

  // ---- JPEG decoding (bindings/jpeg_binding.cpp): libjpeg-turbo, when buildInfo().jpeg is not '' ----
  /** The header; more than maxPixels pixels, or a libjpeg error or warning, throws (code ERR_JPEG_DECODE). */
  jpegInfo(data: Uint8Array, maxPixels: number): NativeJpegInfo;
  /**
   * The window (left, top, width, height) of the image DCT-scaled by 1/denom (1, 2, 4, 8) as
   * height x width x 3 RGB bytes. The whole file is read: a corrupt or truncated one throws
   * (ERR_JPEG_DECODE, libjpeg's message) whatever the window.
   */
  jpegDecode(data: Uint8Array, denom: number, left: number, top: number, width: number, height: number, maxPixels: number): Uint8Array;
  /** lib/data/resample.ts's resize of RGB bytes, with the same result (see NativeResampleArgs). */
  resampleRgb(...args: NativeResampleArgs): void;

  // ---- CUDA runtime (bindings/cuda_binding.cpp): never throws for lack of a GPU ----
  cudaInfo(): NativeCudaInfo;
  /** Caching-allocator statistics of cuda:<device>; throws ERR_CUDA_UNAVAILABLE when unusable. */
  cudaMemoryStats(device: number): NativeCudaMemoryStats;
  /** Returns every device's cached blocks to the driver. */
  cudaEmptyCache(): void;

  // ---- CUDA graph capture (bindings/cuda_binding.cpp). On 'cpu' or a build without CUDA
  // every one throws an Error with code ERR_CAPTURE_UNSUPPORTED. ----
  /** Starts recording the device's stream (ops queue nothing while recording); allocations go to a private pool. */
  graphCaptureBegin(device: DeviceName): void;
  /** Ends the recording and instantiates it; on failure the capture is discarded and the error says why. */
  graphCaptureEnd(device: DeviceName): NativeCudaGraph;
  /** Ends and discards an open capture (no-op when none is open). */
  graphCaptureAbort(device: DeviceName): void;
  /** Launches the graph once on its device's stream (asynchronous). */
  graphReplay(graph: NativeCudaGraph): void;
  /** Records a CUDA event on the device's stream now (refused during a capture). */
  eventTimerStart(device: DeviceName): NativeEventTimer;
  /** Records a second event, waits for it and returns the GPU milliseconds since the start. Once per timer. */
  eventTimerStop(timer: NativeEventTimer): number;

  // ---- convolution (bindings/conv_binding.cpp); params: [strideH, strideW, padH, padW, dilationH, dilationW] ----
  conv2dForward(x: NativeTensor, w: NativeTensor, bias: NativeTensor | null, params: number[], allowTf32: boolean): NativeTensor;
  conv2dBackwardData(dy: NativeTensor, w: NativeTensor, xShape: number[], params: number[], allowTf32: boolean): NativeTensor;
  conv2dBackwardFilter(dy: NativeTensor, x: NativeTensor, wShape: number[], params: number[], allowTf32: boolean): NativeTensor;
  conv2dBackwardBias(dy: NativeTensor): NativeTensor;

  // ---- batch norm (bindings/batchnorm_binding.cpp) ----
  batchNormForwardTraining(
    x: NativeTensor,
    gamma: NativeTensor,
    beta: NativeTensor,
    runningMean: NativeTensor,
    runningVar: NativeTensor,
    momentum: number,
    eps: number,
    residual: NativeTensor | null,
    relu: boolean,
  ): NativeBatchNormForward;
  batchNormForwardInference(
    x: NativeTensor,
    gamma: NativeTensor,
    beta: NativeTensor,
    runningMean: NativeTensor,
    runningVar: NativeTensor,
    eps: number,
    residual: NativeTensor | null,
    relu: boolean,
  ): NativeTensor;
  batchNormBackward(
    dy: NativeTensor,
    x: NativeTensor,
    gamma: NativeTensor,
    saveMean: NativeTensor,
    saveInvStd: NativeTensor,
    eps: number,
    y: NativeTensor | null,
    relu: boolean,
    hasResidual: boolean,
    /** With reserve: the forward's beta and reserve, for the backward of the kernel the forward ran. */
    beta?: NativeTensor | null,
    reserve?: NativeTensor | null,
  ): NativeBatchNormBackward;

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

  // ---- loss (bindings/loss_binding.cpp): logits [N, C] float, labels [N] int32, labelSmoothing in [0, 1] (default 0) ----
  softmaxCrossEntropyForward(logits: NativeTensor, labels: NativeTensor, labelSmoothing?: number): NativeCrossEntropy;
  softmaxCrossEntropyBackward(logits: NativeTensor, labels: NativeTensor, gradLoss: NativeTensor, labelSmoothing?: number): NativeTensor;

  // ---- optimizer (bindings/sgd_binding.cpp): in place over many tensors; bufs [] when momentum is 0 ----
  sgdUpdate(
    params: NativeTensor[],
    grads: NativeTensor[],
    bufs: NativeTensor[],
    lr: number,
    momentum: number,
    dampening: number,
    weightDecay: number,
    nesterov: boolean,
    firstStep: boolean,
    /** [1] float32 on the params' device, read by the update in place of lr. */
    lrDevice?: NativeTensor | null,
    /** float32 on the params' device: when element 0 is non-zero the update changes nothing. */
    skipFlag?: NativeTensor | null,
  ): void;

  // ---- AdamW (bindings/adamw_binding.cpp): torch.optim.AdamW in place over many float32 tensors;
  // maxExpAvgSqs [] without amsgrad; steps: one [1] float32 count per parameter, incremented first ----
  adamwUpdate(
    params: NativeTensor[],
    grads: NativeTensor[],
    expAvgs: NativeTensor[],
    expAvgSqs: NativeTensor[],
    maxExpAvgSqs: NativeTensor[],
    steps: NativeTensor[],
    lr: number,
    beta1: number,
    beta2: number,
    eps: number,
    weightDecay: number,
    amsgrad: boolean,
    /** [1] float32 on the params' device, read by the update in place of lr. */
    lrDevice?: NativeTensor | null,
    /** float32 on the params' device: when element 0 is non-zero nothing changes, step counts included. */
    skipFlag?: NativeTensor | null,
  ): void;

  // ---- dynamic loss scaling (bindings/amp_binding.cpp), on the device; scale [1] and
  // state [3] = {foundInf, goodSteps, skippedSteps}, float32 ----
  /** state[0] = any grad element inf/NaN ? 1 : 0; every grad *= 1 / scale[0]. */
  ampUnscale(grads: NativeTensor[], scale: NativeTensor, state: NativeTensor): void;
  /** GradScaler's update: back off (and count a skip) on state[0], else grow after growthInterval good steps. */
  ampUpdateScale(scale: NativeTensor, state: NativeTensor, growthFactor: number, backoffFactor: number, growthInterval: number): void;

  // ---- fills (bindings/fill_binding.cpp): in place; seeds are integers in [0, 2^53) ----
  fillConstant(t: NativeTensor, value: number): void;
  fillUniform(t: NativeTensor, low: number, high: number, seed: number): void;
  fillNormal(t: NativeTensor, mean: number, std: number, seed: number): void;
  /** He et al. 2015: normal(0, gain / sqrt(fan)), fan from the weight's shape ([out, in, kh, kw] or [out, in]). */
  fillKaimingNormal(t: NativeTensor, mode: 'fan_in' | 'fan_out', gain: number, seed: number): void;

  // ---- reductions (bindings/reduce_binding.cpp) ----
  sum(x: NativeTensor): NativeTensor;
  l2Norms(xs: NativeTensor[]): NativeTensor;

  // ---- tensor math (bindings/arith_binding.cpp, reduce_binding.cpp, softmax_binding.cpp,
  // index_binding.cpp): float tensors of any dtype and layout, read in logical order;
  // results NCHW in the input's dtype; axes may be negative; indices int32 ----
  /** a op b with NumPy broadcasting; same dtype and device. */
  arithBinary(a: NativeTensor, b: NativeTensor, op: 'add' | 'sub' | 'mul' | 'div'): NativeTensor;
  /** x op s; rsub = s - x, rdiv = s / x, pow = x ** s. */
  arithScalar(x: NativeTensor, scalar: number, op: 'add' | 'sub' | 'rsub' | 'mul' | 'div' | 'rdiv' | 'pow'): NativeTensor;
  arithUnary(x: NativeTensor, op: 'neg' | 'exp' | 'log' | 'sqrt' | 'abs' | 'sign'): NativeTensor;
  broadcastTo(x: NativeTensor, shape: number[]): NativeTensor;
  /** Sum or mean over distinct axes; keepdim leaves them as size 1 (all removed: [1]). */
  reduceAxes(x: NativeTensor, dim: number[], keepdim: boolean, mode: 'sum' | 'mean'): NativeTensor;
  /** Max along an axis and the index of its first occurrence (NaN is the max). */
  maxAxis(x: NativeTensor, dim: number, keepdim: boolean): NativeTopk;
  /** The k largest (or smallest) along an axis, in that order; ties in index order. */
  topk(x: NativeTensor, k: number, dim: number, largest: boolean): NativeTopk;
  /** zeros(shape), then out[.., indices[.., j, ..], ..] += src[.., j, ..] along axis. */
  scatterAddAxis(src: NativeTensor, indices: NativeTensor, dim: number, shape: number[]): NativeTensor;
  softmaxForward(x: NativeTensor, dim: number, log: boolean): NativeTensor;
  /** y is the forward's output. */
  softmaxBackward(dy: NativeTensor, y: NativeTensor, dim: number, log: boolean): NativeTensor;
  /** x[.., start:end:step, ..] along axis; 0 <= start < end <= size, step >= 1. */
  slice(x: NativeTensor, dim: number, start: number, end: number, step: number): NativeTensor;
  sliceBackward(dy: NativeTensor, dim: number, start: number, step: number, shape: number[]): NativeTensor;
  /** index: 1-D int32 within the axis. */
  indexSelect(x: NativeTensor, dim: number, index: NativeTensor): NativeTensor;
  indexSelectBackward(dy: NativeTensor, dim: number, index: NativeTensor, shape: number[]): NativeTensor;

  // ---- option-A shortcut (bindings/shortcut_binding.cpp) ----
  shortcutAForward(x: NativeTensor, outChannels: number, stride: number): NativeTensor;
  shortcutABackward(dy: NativeTensor, inChannels: number, stride: number, xShape: number[]): NativeTensor;

  // ---- data (bindings/augment_binding.cpp) ----
  augmentBatch(
    images: NativeTensor,
    indices: NativeTensor,
    params: NativeTensor,
    mean: number[],
    std: number[],
    pad: number,
    dtype: DTypeName,
    layout: LayoutName,
  ): NativeTensor;
  gatherLabels(labels: NativeTensor, indices: NativeTensor): NativeTensor;
}

export { packageRoot, readPrebuildRecord } from './addon-load';
export type { PrebuildRecord } from './addon-load';
export type { NativeJpegInfo, NativeResampleArgs } from './native-image';

let cached: NativeAddon | undefined;
let cachedFile: string | undefined;

/** The .node file native() loaded, or undefined before the first successful load. */
export function nativeAddonFile(): string | undefined {
  return cachedFile;
}

/** The addon, loaded on first use. CUDNN_RESNET_ADDON names an explicit .node file. */
export function native(): NativeAddon {
  if (cached) return cached;
  const root = packageRoot();
  let file: string | undefined;
  try {
    const explicit = addonPath();
    file = explicit ? path.resolve(explicit) : nodeGypBuild().resolve(root);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    cached = require(file) as NativeAddon;
    cachedFile = file;
  } catch (e) {
    throw loadFailure(root, file, e);
  }
  return cached;
}
