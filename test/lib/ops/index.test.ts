// Every differentiable function against central finite differences of sum(w * f(...)), with
// w fixed random weights, on small odd shapes in fp32.
import * as assert from 'node:assert/strict';

import * as F from '../../../lib/ops';
import { backward, noGrad } from '../../../lib/autograd';
import { native } from '../../../lib/native';
import { Tensor, tidy } from '../../../lib/tensor';
import { describeDevices } from '../../helpers/devices';
import { assertArgError, assertThrowsNamed, randn } from '../../helpers/reference';
import { assertGradClose, numericGrad, pickIndices, project } from '../helpers';

interface Case {
  name: string;
  /** Makes the inputs (leaves that need gradients) and the constants. */
  inputs: () => Tensor[];
  fn: (xs: Tensor[]) => Tensor;
  tol?: number;
  h?: number;
}

function leaf(shape: number[], seed: number, device: string, scale = 1): Tensor {
  const t = Tensor.fromArray(
    randn(
      shape.reduce((a, b) => a * b, 1),
      seed,
      scale,
    ),
    shape,
    { device },
  );
  t.requiresGrad = true;
  return t;
}

/** The same values as an NHWC leaf (x is disposed). */
function nhwc(x: Tensor): Tensor {
  const y = x.to('NHWC');
  x.dispose();
  y.requiresGrad = true;
  return y;
}

/** x + offset as a new leaf (x is disposed): keeps inputs away from kinks and poles. */
function shifted(x: Tensor, offset: number): Tensor {
  const v = Float32Array.from(x.dataSync(), (a) => a + offset);
  const y = Tensor.fromArray(v, x.shape, { device: x.device });
  x.dispose();
  y.requiresGrad = true;
  return y;
}

/** Checks d sum(w * fn(xs)) / d xs[i] against finite differences for every input. */
function gradCheck(c: Case): void {
  tidy(() => {
    const xs = c.inputs();
    const y = c.fn(xs);
    const w = randn(y.size, 99, 1);
    backward(y, Tensor.fromArray(w, y.shape, { device: y.device, layout: y.layout }));
    xs.forEach((x, i) => {
      if (!x.requiresGrad) return;
      assert.ok(x.grad, `${c.name}: input ${i} got no gradient`);
      const idx = pickIndices(x.size, 24, 5 + i);
      const analytic = x.grad.dataSync();
      const numeric = numericGrad(x, () => project(c.fn(xs), w), idx, c.h ?? 1e-2);
      assertGradClose(
        idx.map((j) => analytic[j]),
        numeric,
        c.tol ?? 1e-2,
        `${c.name} d/d input ${i}`,
      );
    });
    for (const x of xs) x.dispose();
  });
}

describeDevices('autograd functions', ({ device }) => {
  const cases: Case[] = [
    {
      name: 'conv2d stride 2 pad 1 with bias',
      inputs: () => [leaf([2, 3, 7, 6], 1, device), leaf([4, 3, 3, 3], 2, device, 0.3), leaf([4], 3, device)],
      fn: ([x, w, b]) => F.conv2d(x, w, b, { stride: 2, padding: 1 }),
    },
    {
      name: 'conv2d 1x1 no bias, rectangular stride',
      inputs: () => [leaf([1, 5, 5, 4], 4, device), leaf([3, 5, 1, 1], 5, device, 0.3)],
      fn: ([x, w]) => F.conv2d(x, w, null, { stride: [2, 1] }),
    },
    {
      name: 'batchNorm (training)',
      inputs: () => [leaf([3, 4, 3, 5], 6, device), leaf([4], 7, device), leaf([4], 8, device)],
      fn: ([x, g, b]) => noGradStats(4, device, (m, v) => F.batchNorm(x, g, b, m, v, { training: true })),
    },
    {
      name: 'batchNorm + residual + relu (fused)',
      inputs: () => [leaf([2, 3, 4, 3], 9, device), leaf([3], 10, device), leaf([3], 11, device), leaf([2, 3, 4, 3], 12, device)],
      fn: ([x, g, b, r]) => noGradStats(3, device, (m, v) => F.batchNorm(x, g, b, m, v, { training: true, residual: r, relu: true })),
    },
    {
      name: 'batchNorm + relu (fused)',
      inputs: () => [leaf([2, 3, 3, 3], 13, device), leaf([3], 14, device), leaf([3], 15, device)],
      fn: ([x, g, b]) => noGradStats(3, device, (m, v) => F.batchNorm(x, g, b, m, v, { training: true, relu: true })),
    },
    { name: 'relu', inputs: () => [leaf([3, 7], 16, device)], fn: ([x]) => F.relu(x) },
    { name: 'add', inputs: () => [leaf([2, 3, 2, 2], 17, device), leaf([2, 3, 2, 2], 18, device)], fn: ([a, b]) => F.add(a, b) },
    { name: 'scale', inputs: () => [leaf([5], 19, device)], fn: ([x]) => F.scale(x, -1.5) },
    {
      name: 'linear',
      inputs: () => [leaf([3, 7], 20, device), leaf([5, 7], 21, device, 0.5), leaf([5], 22, device)],
      fn: ([x, w, b]) => F.linear(x, w, b),
    },
    {
      name: 'maxPool2d 3/2 pad 1',
      inputs: () => [leaf([2, 2, 7, 5], 23, device)],
      fn: ([x]) => F.maxPool2d(x, { kernelSize: 3, stride: 2, padding: 1 }),
      h: 1e-3,
    },
    {
      name: 'avgPool2d 2/2',
      inputs: () => [leaf([2, 3, 5, 4], 24, device)],
      fn: ([x]) => F.avgPool2d(x, { kernelSize: 2 }),
    },
    { name: 'globalAvgPool', inputs: () => [leaf([2, 3, 3, 5], 25, device)], fn: ([x]) => F.globalAvgPool(x) },
    { name: 'flatten', inputs: () => [leaf([2, 3, 2, 1], 26, device)], fn: ([x]) => F.flatten(F.scale(x, 2)) },
    // a permutation: exact in fp32, so finite differences see it (16-bit rounding is checked below)
    { name: 'convert to NHWC', inputs: () => [leaf([2, 3, 2, 3], 30, device)], fn: ([x]) => F.scale(F.convert(x, 'float32', 'NHWC'), 1.5) },
    { name: 'reshape with -1', inputs: () => [leaf([4, 6], 27, device)], fn: ([x]) => F.reshape(x, [2, -1, 3]) },
    {
      name: 'shortcutA 4 -> 8 channels, stride 2',
      inputs: () => [leaf([2, 4, 5, 5], 28, device)],
      fn: ([x]) => F.shortcutA(x, 8, 2),
    },
    {
      name: 'softmaxCrossEntropy',
      inputs: () => [leaf([5, 4], 29, device)],
      fn: ([x]) => F.softmaxCrossEntropy(x, Tensor.fromArray(Int32Array.from([0, 3, 1, 1, 2]), [5], { device })).loss,
    },
    {
      name: 'softmaxCrossEntropy with label smoothing 0.2',
      inputs: () => [leaf([5, 4], 31, device)],
      fn: ([x]) => F.softmaxCrossEntropy(x, Tensor.fromArray(Int32Array.from([2, 0, 1, 3, 3]), [5], { device }), { labelSmoothing: 0.2 }).loss,
    },
    // ---- tensor math: broadcasting arithmetic, reductions, softmax, slicing and indexing
    { name: 'add broadcast [2,3,4] + [3,1]', inputs: () => [leaf([2, 3, 4], 40, device), leaf([3, 1], 41, device)], fn: ([a, b]) => F.add(a, b) },
    { name: 'sub broadcast [4] - [2,1,4]', inputs: () => [leaf([4], 42, device), leaf([2, 1, 4], 43, device)], fn: ([a, b]) => F.sub(a, b) },
    {
      name: 'mul broadcast NHWC [2,3,2,2] * [3,1,1]',
      inputs: () => [nhwc(leaf([2, 3, 2, 2], 44, device)), leaf([3, 1, 1], 45, device)],
      fn: ([a, b]) => F.mul(a, b),
    },
    {
      name: 'div broadcast [3,5] / [5] (b away from 0)',
      inputs: () => [leaf([3, 5], 46, device), shifted(leaf([5], 47, device, 0.2), 2)],
      fn: ([a, b]) => F.div(a, b),
    },
    { name: 'scalar add, sub, mul, div', inputs: () => [leaf([2, 3], 48, device)], fn: ([x]) => F.div(F.mul(F.sub(F.add(x, 1.5), 0.25), -2), 3) },
    { name: 'neg, exp', inputs: () => [leaf([3, 4], 49, device, 0.5)], fn: ([x]) => F.exp(F.neg(x)) },
    { name: 'log, sqrt (inputs > 0)', inputs: () => [shifted(leaf([7], 50, device, 0.2), 2)], fn: ([x]) => F.add(F.log(x), F.sqrt(x)) },
    { name: 'abs (away from 0)', inputs: () => [shifted(leaf([6], 51, device, 0.2), 1)], fn: ([x]) => F.abs(F.sub(x, 2)) },
    { name: 'pow 3 and 0.5', inputs: () => [shifted(leaf([5], 52, device, 0.2), 1.5)], fn: ([x]) => F.add(F.pow(x, 3), F.pow(x, 0.5)) },
    { name: 'broadcastTo [3,1] -> [2,3,4]', inputs: () => [leaf([3, 1], 53, device)], fn: ([x]) => F.broadcastTo(x, [2, 3, 4]) },
    { name: 'sum over dims 0 and -1', inputs: () => [leaf([3, 4, 5], 54, device)], fn: ([x]) => F.sum(x, [0, -1]) },
    { name: 'sum of an NHWC tensor, keepdim', inputs: () => [nhwc(leaf([2, 3, 2, 3], 55, device))], fn: ([x]) => F.sum(x, 1, { keepdim: true }) },
    { name: 'mean of everything', inputs: () => [leaf([4, 3], 56, device)], fn: ([x]) => F.mean(x) },
    { name: 'mean over dim 1', inputs: () => [leaf([2, 5, 3], 57, device)], fn: ([x]) => F.mean(x, 1) },
    { name: 'max over dim 1', inputs: () => [leaf([3, 5, 2], 58, device)], fn: ([x]) => F.max(x, 1).values, h: 1e-3 },
    { name: 'max over dim 0, keepdim', inputs: () => [leaf([4, 3], 59, device)], fn: ([x]) => F.max(x, 0, { keepdim: true }).values, h: 1e-3 },
    { name: 'max of everything (NHWC)', inputs: () => [nhwc(leaf([2, 2, 3, 2], 60, device))], fn: ([x]) => F.max(x), h: 1e-3 },
    { name: 'topk 3 along dim 1', inputs: () => [leaf([2, 7], 61, device)], fn: ([x]) => F.topk(x, 3).values, h: 1e-3 },
    { name: 'topk 2 smallest along dim 0', inputs: () => [leaf([5, 3], 62, device)], fn: ([x]) => F.topk(x, 2, { dim: 0, largest: false }).values, h: 1e-3 },
    { name: 'softmax along dim 1', inputs: () => [leaf([3, 5, 2], 63, device)], fn: ([x]) => F.softmax(x, 1) },
    { name: 'logSoftmax along the last dim', inputs: () => [leaf([4, 6], 64, device)], fn: ([x]) => F.logSoftmax(x) },
    { name: 'softmax of an NHWC tensor along C', inputs: () => [nhwc(leaf([2, 3, 2, 2], 65, device))], fn: ([x]) => F.softmax(x, 1) },
    { name: 'slice 1:-1:2 along dim 1', inputs: () => [leaf([3, 8, 2], 66, device)], fn: ([x]) => F.slice(x, 1, 1, -1, 2) },
    { name: 'narrow dim 0', inputs: () => [nhwc(leaf([4, 3, 2, 2], 67, device))], fn: ([x]) => F.narrow(x, 0, -3, 2) },
    {
      name: 'indexSelect with repeats along dim 1',
      inputs: () => [leaf([3, 4, 2], 68, device)],
      fn: ([x]) => F.indexSelect(x, 1, Tensor.fromArray(Int32Array.from([3, 0, 3, 1]), [4], { device })),
    },
  ];
  for (const c of cases) it(`${c.name}: gradients match finite differences`, () => gradCheck(c));

  it('flatten of an NHWC tensor keeps logical order and its gradient comes back NHWC', () => {
    tidy(() => {
      const x = Tensor.fromArray(
        Array.from({ length: 12 }, (_, i) => i),
        [1, 3, 2, 2],
        { device, layout: 'NHWC' },
      );
      x.requiresGrad = true;
      const y = F.flatten(x);
      assert.deepEqual(y.shape, [1, 12]);
      assert.deepEqual(
        Array.from(y.dataSync()),
        Array.from({ length: 12 }, (_, i) => i),
      );
      backward(
        y,
        Tensor.fromArray(
          Array.from({ length: 12 }, (_, i) => -i),
          [1, 12],
          { device },
        ),
      );
      assert.equal(x.grad!.layout, 'NHWC');
      assert.deepEqual(
        Array.from(x.grad!.dataSync()),
        Array.from({ length: 12 }, (_, i) => -i),
      );
    });
  });

  it('convert and matchActivation: one op for dtype + layout, the gradient back in the master format', () => {
    tidy(() => {
      const vals = Array.from({ length: 2 * 4 * 3 * 2 }, (_, i) => (i - 20) * 0.37);
      const w = Tensor.fromArray(vals, [2, 4, 3, 2], { device });
      w.requiresGrad = true;
      const x = Tensor.zeros([1, 4, 3, 2], { device, dtype: 'float16', layout: 'NHWC' });
      const wh = F.matchActivation(w, x);
      assert.equal(wh.dtype, 'float16');
      assert.equal(wh.layout, 'NHWC');
      assert.equal(wh.gradFn?.name, 'convert');
      const want = w.to({ dtype: 'float16', layout: 'NHWC' });
      assert.deepEqual(Array.from(wh.dataSync()), Array.from(want.dataSync()));
      backward(
        wh,
        Tensor.fromArray(
          vals.map((v) => -v),
          [2, 4, 3, 2],
          { device, dtype: 'float16', layout: 'NHWC' },
        ),
      );
      assert.equal(w.grad!.dtype, 'float32');
      assert.equal(w.grad!.layout, 'NCHW');
      assert.deepEqual(
        Array.from(w.grad!.dataSync()),
        Array.from(want.dataSync(), (v) => -v),
      );
      assert.equal(F.matchActivation(w, Tensor.zeros([1, 4, 3, 2], { device })), w);
      const lin = Tensor.zeros([3, 4], { device });
      assert.equal(F.matchActivation(lin, Tensor.zeros([2, 4], { device, dtype: 'bfloat16' })).dtype, 'bfloat16');
      assertThrowsNamed(() => F.convert(w, 'int32' as never, 'NCHW'), TypeError, "convert: argument 'dtype'");
      assertThrowsNamed(() => F.convert(w, 'float16', 'CHWN' as never), TypeError, "convert: argument 'layout'");
      assertThrowsNamed(() => native().convert(lin.handle, 'float16', 'NHWC'), RangeError, "'layout'", '2-D');
    });
  });

  it('softmaxCrossEntropy returns the loss and the correct count', () => {
    tidy(() => {
      const logits = Tensor.fromArray([2, 1, 0, 0, 3, 1, 5, 0, 0], [3, 3], { device });
      const { loss, correct } = F.softmaxCrossEntropy(logits, Tensor.fromArray(Int32Array.from([0, 1, 2]), [3], { device }));
      assert.equal(correct.item(), 2);
      const ls = (r: number[], k: number) => -(r[k] - Math.log(r.reduce((s, v) => s + Math.exp(v), 0)));
      const expected = (ls([2, 1, 0], 0) + ls([0, 3, 1], 1) + ls([5, 0, 0], 2)) / 3;
      assert.ok(Math.abs(loss.item() - expected) < 1e-5);
    });
  });
});

/** Fresh running statistics, made outside the recording. */
function noGradStats(c: number, device: string, f: (m: Tensor, v: Tensor) => Tensor): Tensor {
  const [m, v] = noGrad(() => [Tensor.zeros([c], { device }), Tensor.ones([c], { device })]);
  return f(m, v);
}

describe('autograd function argument checks', () => {
  it('name the argument', () => {
    tidy(() => {
      const x = Tensor.zeros([1, 3, 4, 4]);
      assertArgError(() => F.conv2d(x, Tensor.zeros([2, 4, 3, 3])), RangeError, { code: 'ERR_OUT_OF_RANGE', op: 'conv2d', argument: 'weight' }, 'channels');
      assertArgError(
        () => F.conv2d(Tensor.zeros([3, 4]), Tensor.zeros([2, 3, 3, 3])),
        RangeError,
        { code: 'ERR_OUT_OF_RANGE', op: 'conv2d', argument: 'x' },
        '4-D',
      );
      assertThrowsNamed(() => F.conv2d(x, Tensor.zeros([2, 3, 3, 3]), null, { stride: 0 }), RangeError, 'stride');
      assertArgError(() => F.conv2d(x, 'w' as unknown as Tensor), TypeError, { code: 'ERR_INVALID_ARG_TYPE', op: 'conv2d', argument: 'weight' });
      assertArgError(
        () => F.batchNorm(x, Tensor.ones([2]), Tensor.zeros([3]), Tensor.zeros([3]), Tensor.ones([3]), { training: true }),
        RangeError,
        { code: 'ERR_OUT_OF_RANGE', op: 'batchNorm', argument: 'weight' },
        '[3]',
      );
      assertArgError(
        () => F.linear(Tensor.zeros([2, 3]), Tensor.zeros([4, 5])),
        RangeError,
        { code: 'ERR_OUT_OF_RANGE', op: 'linear', argument: 'weight' },
        'dimension 1',
      );
      assertArgError(() => F.add(Tensor.zeros([2]), Tensor.zeros([3])), RangeError, { code: 'ERR_OUT_OF_RANGE', op: 'add', argument: 'b' });
      assertArgError(
        () => F.softmaxCrossEntropy(Tensor.zeros([2, 3]), Tensor.zeros([2])),
        TypeError,
        { code: 'ERR_INVALID_ARG_TYPE', op: 'softmaxCrossEntropy', argument: 'labels' },
        'int32',
      );
      assertThrowsNamed(() => F.maxPool2d(x, { kernelSize: 9 }), RangeError, 'kernelSize');
      assertThrowsNamed(() => F.reshape(x, [5, -1]), RangeError, 'reshape', 'shape');
      assertThrowsNamed(() => F.shortcutA(x, 2, 2), RangeError, 'outChannels');
      const disposed = Tensor.zeros([1]);
      disposed.dispose();
      assertArgError(() => F.relu(disposed), TypeError, { code: 'ERR_INVALID_ARG_TYPE', op: 'relu', argument: 'x' }, 'disposed');
    });
  });
});
