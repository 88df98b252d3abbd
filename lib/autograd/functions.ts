// Differentiable functions over the native op table: each validates its arguments, calls
// the forward op, and (when recording) attaches a Node whose backward calls the matching
// native backward ops. Shapes are logical [N, C, H, W]; any layout the native ops accept.
import { native, NativeTensor } from '../native';
import { checkNumber, checkTensor, describe, Tensor, DType, Layout } from '../tensor';
import { record } from './engine';

const wrap = (h: NativeTensor) => new Tensor(h);

function pair(v: unknown, arg: string, min: number): [number, number] {
  const a = Array.isArray(v) ? v : [v, v];
  if (a.length !== 2) throw new TypeError(`${arg} must be a number or a pair [h, w], got ${describe(v)}`);
  return [checkNumber(a[0], arg, { integer: true, min }), checkNumber(a[1], arg, { integer: true, min })];
}

function expectRank(t: Tensor, rank: number, arg: string): void {
  if (t.rank !== rank) throw new RangeError(`${arg} must be ${rank}-D, got shape [${t.shape.join(', ')}]`);
}

function expectFloat(t: Tensor, arg: string): void {
  if (t.dtype === 'int32' || t.dtype === 'uint8') throw new TypeError(`${arg} must be a float tensor, got ${t.dtype}`);
}

function sameShape(a: Tensor, b: Tensor): boolean {
  return a.shape.length === b.shape.length && a.shape.every((s, i) => s === b.shape[i]);
}

// ---------------------------------------------------------------- convolution

export interface Conv2dOptions {
  stride?: number | [number, number];
  padding?: number | [number, number];
  dilation?: number | [number, number];
  /** CUDA only: TF32 tensor-core math for fp32 inputs. */
  allowTf32?: boolean;
}

/** x [N, C, H, W] * w [O, C, kh, kw] (+ bias [O]) -> [N, O, H', W']. */
export function conv2d(x: Tensor, w: Tensor, bias: Tensor | null = null, opts: Conv2dOptions = {}): Tensor {
  checkTensor(x, 'conv2d: x');
  checkTensor(w, 'conv2d: weight');
  expectRank(x, 4, 'conv2d: x');
  expectRank(w, 4, 'conv2d: weight');
  if (bias !== null) {
    checkTensor(bias, 'conv2d: bias');
    if (bias.rank !== 1 || bias.shape[0] !== w.shape[0]) throw new RangeError(`conv2d: bias must have shape [${w.shape[0]}], got [${bias.shape.join(', ')}]`);
  }
  if (x.shape[1] !== w.shape[1])
    throw new RangeError(`conv2d: x has ${x.shape[1]} channels but weight [${w.shape.join(', ')}] expects ${w.shape[1]}`);
  const [sh, sw] = pair(opts.stride ?? 1, 'conv2d: stride', 1);
  const [ph, pw] = pair(opts.padding ?? 0, 'conv2d: padding', 0);
  const [dh, dw] = pair(opts.dilation ?? 1, 'conv2d: dilation', 1);
  const tf32 = opts.allowTf32 ?? false;
  const params = [sh, sw, ph, pw, dh, dw];
  const y = wrap(native().conv2dForward(x.handle, w.handle, bias ? bias.handle : null, params, tf32));
  const xShape = x.shape;
  const wShape = w.shape;
  const node = record('conv2d', y, [x, w, bias], (g) => [
    x.requiresGrad ? wrap(native().conv2dBackwardData(g.handle, w.handle, xShape, params, tf32)) : null,
    w.requiresGrad ? wrap(native().conv2dBackwardFilter(g.handle, x.handle, wShape, params, tf32)) : null,
    bias && bias.requiresGrad ? wrap(native().conv2dBackwardBias(g.handle)) : null,
  ]);
  node?.save(x, w);
  return y;
}

// ---------------------------------------------------------------- batch norm

export interface BatchNormOptions {
  /** Batch statistics and running-stat update (true) or running statistics (false). */
  training: boolean;
  momentum?: number;
  eps?: number;
  /** Added before the activation: y = act(bn(x) + residual), the fused residual form. */
  residual?: Tensor | null;
  /** Apply ReLU after the (optional) residual add, fused. */
  relu?: boolean;
}

/**
 * Spatial batch normalisation over [N, C, H, W] with per-channel weight and bias, fused with
 * an optional residual add and ReLU. In training the running statistics are updated in place
 * (PyTorch's momentum convention). Gradients flow to x, weight, bias and the residual; in
 * eval mode the op records no usable backward (the native ops have none): use noGrad().
 */
export function batchNorm(x: Tensor, weight: Tensor, bias: Tensor, runningMean: Tensor, runningVar: Tensor, opts: BatchNormOptions): Tensor {
  checkTensor(x, 'batchNorm: x');
  expectRank(x, 4, 'batchNorm: x');
  expectFloat(x, 'batchNorm: x');
  const C = x.shape[1];
  for (const [t, arg] of [[weight, 'weight'], [bias, 'bias'], [runningMean, 'runningMean'], [runningVar, 'runningVar']] as const) {
    checkTensor(t, `batchNorm: ${arg}`);
    if (t.rank !== 1 || t.shape[0] !== C) throw new RangeError(`batchNorm: ${arg} must have shape [${C}] (the channels of x), got [${t.shape.join(', ')}]`);
  }
  if (opts === null || typeof opts !== 'object' || typeof opts.training !== 'boolean')
    throw new TypeError(`batchNorm: opts.training must be a boolean, got ${describe(opts?.training)}`);
  const momentum = checkNumber(opts.momentum ?? 0.1, 'batchNorm: momentum', { min: 0, max: 1 });
  const eps = checkNumber(opts.eps ?? 1e-5, 'batchNorm: eps', { min: 0 });
  const residual = opts.residual ?? null;
  if (residual !== null) {
    checkTensor(residual, 'batchNorm: residual');
    if (!sameShape(residual, x)) throw new RangeError(`batchNorm: residual must have the shape of x [${x.shape.join(', ')}], got [${residual.shape.join(', ')}]`);
  }
  const relu = opts.relu ?? false;
  const res = residual ? residual.handle : null;
  if (!opts.training) {
    const y = wrap(native().batchNormForwardInference(x.handle, weight.handle, bias.handle, runningMean.handle, runningVar.handle, eps, res, relu));
    record('batchNorm(eval)', y, [x, weight, bias, residual], () => {
      throw new Error('backward: batchNorm in eval mode has no backward; call model.train() to differentiate, or run the forward under noGrad()');
    });
    return y;
  }
  const f = native().batchNormForwardTraining(x.handle, weight.handle, bias.handle, runningMean.handle, runningVar.handle, momentum, eps, res, relu);
  const y = wrap(f.y);
  const saveMean = wrap(f.saveMean);
  const saveInvStd = wrap(f.saveInvStd);
  // The fused CUDA kernel's reserve space: its backward reads it (with beta) instead of
  // re-deriving the ReLU mask from y and running the plain backward.
  const reserve = f.reserve ? wrap(f.reserve) : null;
  const node = record('batchNorm', y, [x, weight, bias, residual], (g) => {
    const b = native().batchNormBackward(g.handle, x.handle, weight.handle, saveMean.handle, saveInvStd.handle, eps,
      relu ? y.handle : null, relu, residual !== null, reserve ? bias.handle : null, reserve ? reserve.handle : null);
    return [wrap(b.dx), wrap(b.dgamma), wrap(b.dbeta), b.dresidual ? wrap(b.dresidual) : null];
  });
  if (node) {
    node.save(x, weight);
    if (relu) node.save(y);
    if (reserve) node.save(bias);
    node.savePrivate(saveMean, saveInvStd, ...(reserve ? [reserve] : []));
  } else {
    saveMean.dispose();
    saveInvStd.dispose();
    reserve?.dispose();
  }
  return y;
}

// ---------------------------------------------------------------- elementwise

export function relu(x: Tensor): Tensor {
  checkTensor(x, 'relu: x');
  expectFloat(x, 'relu: x');
  const y = wrap(native().reluForward(x.handle));
  record('relu', y, [x], (g) => [wrap(native().reluBackward(g.handle, y.handle))])?.save(y);
  return y;
}

/** a + b, same shape, dtype and layout. */
export function add(a: Tensor, b: Tensor): Tensor {
  checkTensor(a, 'add: a');
  checkTensor(b, 'add: b');
  if (!sameShape(a, b)) throw new RangeError(`add: b has shape [${b.shape.join(', ')}] but a has [${a.shape.join(', ')}]`);
  const y = wrap(native().add(a.handle, b.handle));
  record('add', y, [a, b], (g) => [g, g]);
  return y;
}

/** alpha * x. */
export function scale(x: Tensor, alpha: number): Tensor {
  checkTensor(x, 'scale: x');
  checkNumber(alpha, 'scale: alpha');
  const y = wrap(native().scale(x.handle, alpha));
  record('scale', y, [x], (g) => [wrap(native().scale(g.handle, alpha))]);
  return y;
}

// ---------------------------------------------------------------- linear

/** x [N, K] w[M, K]^T + b [M] -> [N, M]. */
export function linear(x: Tensor, w: Tensor, bias: Tensor | null = null): Tensor {
  checkTensor(x, 'linear: x');
  checkTensor(w, 'linear: weight');
  expectRank(x, 2, 'linear: x');
  expectRank(w, 2, 'linear: weight');
  if (x.shape[1] !== w.shape[1]) throw new RangeError(`linear: x has ${x.shape[1]} features but weight [${w.shape.join(', ')}] expects ${w.shape[1]}`);
  if (bias !== null) {
    checkTensor(bias, 'linear: bias');
    if (bias.rank !== 1 || bias.shape[0] !== w.shape[0]) throw new RangeError(`linear: bias must have shape [${w.shape[0]}], got [${bias.shape.join(', ')}]`);
  }
  const y = wrap(native().linearForward(x.handle, w.handle, bias ? bias.handle : null));
  record('linear', y, [x, w, bias], (g) => [
    x.requiresGrad ? wrap(native().linearBackwardData(g.handle, w.handle)) : null,
    w.requiresGrad ? wrap(native().linearBackwardWeight(g.handle, x.handle)) : null,
    bias && bias.requiresGrad ? wrap(native().linearBackwardBias(g.handle)) : null,
  ])?.save(x, w);
  return y;
}

// ---------------------------------------------------------------- pooling

export interface Pool2dOptions {
  kernelSize: number | [number, number];
  /** Defaults to kernelSize. */
  stride?: number | [number, number];
  padding?: number | [number, number];
  /** Average pooling only: count padded zeros in the divisor (PyTorch's default, true). */
  countIncludePad?: boolean;
}

function pool(name: string, mode: 'max' | 'avg', x: Tensor, opts: Pool2dOptions): Tensor {
  checkTensor(x, `${name}: x`);
  expectRank(x, 4, `${name}: x`);
  if (opts === null || typeof opts !== 'object') throw new TypeError(`${name}: options must be an object with kernelSize, got ${describe(opts)}`);
  const [kh, kw] = pair(opts.kernelSize, `${name}: kernelSize`, 1);
  const [sh, sw] = pair(opts.stride ?? [kh, kw], `${name}: stride`, 1);
  const [ph, pw] = pair(opts.padding ?? 0, `${name}: padding`, 0);
  if (ph * 2 > kh || pw * 2 > kw) throw new RangeError(`${name}: padding must be at most half of kernelSize, got padding [${ph}, ${pw}] for kernel [${kh}, ${kw}]`);
  if (x.shape[2] + 2 * ph < kh || x.shape[3] + 2 * pw < kw)
    throw new RangeError(`${name}: kernelSize [${kh}, ${kw}] is larger than the padded input [${x.shape[2] + 2 * ph}, ${x.shape[3] + 2 * pw}]`);
  const params = [kh, kw, sh, sw, ph, pw];
  const cip = opts.countIncludePad ?? true;
  const y = wrap(native().pool2dForward(x.handle, mode, params, cip));
  record(name, y, [x], (g) => [wrap(native().pool2dBackward(g.handle, x.handle, y.handle, mode, params, cip))])?.save(x, y);
  return y;
}

export function maxPool2d(x: Tensor, opts: Pool2dOptions): Tensor {
  return pool('maxPool2d', 'max', x, opts);
}

export function avgPool2d(x: Tensor, opts: Pool2dOptions): Tensor {
  return pool('avgPool2d', 'avg', x, opts);
}

/** Mean over H and W: [N, C, H, W] -> [N, C, 1, 1] (torchvision's AdaptiveAvgPool2d(1)). */
export function globalAvgPool(x: Tensor): Tensor {
  checkTensor(x, 'globalAvgPool: x');
  expectRank(x, 4, 'globalAvgPool: x');
  return pool('globalAvgPool', 'avg', x, { kernelSize: [x.shape[2], x.shape[3]] });
}

// ---------------------------------------------------------------- dtype and layout

/** x converted to a float dtype; the gradient comes back in x's dtype. */
export function cast(x: Tensor, dtype: DType): Tensor {
  checkTensor(x, 'cast: x');
  expectFloat(x, 'cast: x');
  if (dtype !== 'float32' && dtype !== 'float16' && dtype !== 'bfloat16') throw new TypeError(`cast: dtype must be a float dtype, got ${describe(dtype)}`);
  const from = x.dtype;
  const y = wrap(native().cast(x.handle, dtype));
  record('cast', y, [x], (g) => [wrap(native().cast(g.handle, from))]);
  return y;
}

/** A 4-D x in another memory layout; the gradient comes back in x's layout. */
export function toLayout(x: Tensor, layout: Layout): Tensor {
  checkTensor(x, 'toLayout: x');
  expectRank(x, 4, 'toLayout: x');
  if (layout !== 'NCHW' && layout !== 'NHWC') throw new TypeError(`toLayout: layout must be 'NCHW' or 'NHWC', got ${describe(layout)}`);
  const from = x.layout;
  const y = wrap(native().toLayout(x.handle, layout));
  record('toLayout', y, [x], (g) => [wrap(native().toLayout(g.handle, from))]);
  return y;
}

/** cast and toLayout in one op (one pass over the data; one kernel each way on CUDA). */
export function convert(x: Tensor, dtype: DType, layout: Layout): Tensor {
  checkTensor(x, 'convert: x');
  expectFloat(x, 'convert: x');
  if (dtype !== 'float32' && dtype !== 'float16' && dtype !== 'bfloat16') throw new TypeError(`convert: dtype must be a float dtype, got ${describe(dtype)}`);
  if (layout !== 'NCHW' && layout !== 'NHWC') throw new TypeError(`convert: layout must be 'NCHW' or 'NHWC', got ${describe(layout)}`);
  const target = x.rank === 4 ? layout : 'NCHW';
  const from = { dtype: x.dtype, layout: x.layout };
  const y = wrap(native().convert(x.handle, dtype, target));
  record('convert', y, [x], (g) => [wrap(native().convert(g.handle, from.dtype, g.rank === 4 ? from.layout : 'NCHW'))]);
  return y;
}

/**
 * A weight in the dtype and layout of the activation it meets (differentiable), so fp32
 * master weights serve bf16/fp16 NHWC activations; the weight itself when they agree.
 * One conversion each way per step, not a cast and a permutation.
 */
export function matchActivation(w: Tensor, x: Tensor): Tensor {
  const layout = w.rank === 4 && x.rank === 4 ? x.layout : w.layout;
  if (w.dtype === x.dtype && w.layout === layout) return w;
  return convert(w, x.dtype, layout);
}

// ---------------------------------------------------------------- shape

/** A view with another shape (same element count, logical NCHW order). */
export function reshape(x: Tensor, shape: number[]): Tensor {
  checkTensor(x, 'reshape: x');
  if (!Array.isArray(shape)) throw new TypeError(`reshape: shape must be an array, got ${describe(shape)}`);
  const n = x.size;
  const known = shape.filter((s) => s !== -1).reduce((a, b) => a * b, 1);
  const target = shape.map((s) => (s === -1 ? n / known : s));
  if (shape.filter((s) => s === -1).length > 1 || target.some((s) => !Number.isInteger(s) || s < 1) || target.reduce((a, b) => a * b, 1) !== n)
    throw new RangeError(`reshape: shape [${shape.join(', ')}] does not fit the ${n} elements of [${x.shape.join(', ')}]`);
  const xShape = x.shape;
  const xLayout = x.layout;
  let src = x.handle;
  const converted = xLayout === 'NHWC' && x.rank === 4 && !sameShape(x, { shape: target } as Tensor);
  if (converted) src = native().toLayout(src, 'NCHW');
  const y = wrap(native().reshape(src, target));
  if (converted) src.dispose(); // the view keeps the storage alive
  record('reshape', y, [x], (g) => {
    const v = native().reshape(g.handle, xShape);
    if (!converted) {
      // A copy, not a view: a leaf's .grad must not share storage with the caller's gradient.
      const c = native().toDevice(v, v.device);
      v.dispose();
      return [wrap(c)];
    }
    const l = native().toLayout(v, xLayout);
    v.dispose();
    return [wrap(l)];
  });
  return y;
}

/** [N, ...] -> [N, prod(...)]. */
export function flatten(x: Tensor): Tensor {
  checkTensor(x, 'flatten: x');
  return reshape(x, [x.shape[0], x.size / x.shape[0]]);
}

/**
 * The CIFAR option-A shortcut: x[:, :, ::stride, ::stride] zero-padded to outChannels
 * ((outChannels - C) / 2 zero channels in front, the rest behind).
 */
export function shortcutA(x: Tensor, outChannels: number, stride: number): Tensor {
  checkTensor(x, 'shortcutA: x');
  expectRank(x, 4, 'shortcutA: x');
  checkNumber(outChannels, 'shortcutA: outChannels', { integer: true, min: x.shape[1] });
  checkNumber(stride, 'shortcutA: stride', { integer: true, min: 1 });
  const xShape = x.shape;
  const y = wrap(native().shortcutAForward(x.handle, outChannels, stride));
  record('shortcutA', y, [x], (g) => [wrap(native().shortcutABackward(g.handle, xShape[1], stride, xShape))]);
  return y;
}

// ---------------------------------------------------------------- loss

export interface CrossEntropyResult {
  /** [1] fp32: mean over the batch of -log softmax(logits)[label]; differentiable. */
  loss: Tensor;
  /** [1] int32: rows whose argmax equals the label. */
  correct: Tensor;
}

/** Softmax cross-entropy of logits [N, C] against int32 labels [N]. */
export function softmaxCrossEntropy(logits: Tensor, labels: Tensor): CrossEntropyResult {
  checkTensor(logits, 'softmaxCrossEntropy: logits');
  checkTensor(labels, 'softmaxCrossEntropy: labels');
  expectRank(logits, 2, 'softmaxCrossEntropy: logits');
  expectFloat(logits, 'softmaxCrossEntropy: logits');
  if (labels.dtype !== 'int32') throw new TypeError(`softmaxCrossEntropy: labels must be int32, got ${labels.dtype}`);
  if (labels.rank !== 1 || labels.shape[0] !== logits.shape[0])
    throw new RangeError(`softmaxCrossEntropy: labels must have shape [${logits.shape[0]}], got [${labels.shape.join(', ')}]`);
  const f = native().softmaxCrossEntropyForward(logits.handle, labels.handle);
  const loss = wrap(f.loss);
  const correct = wrap(f.correct);
  record('softmaxCrossEntropy', loss, [logits], (g) => [wrap(native().softmaxCrossEntropyBackward(logits.handle, labels.handle, g.handle))])?.save(logits, labels);
  return { loss, correct };
}
