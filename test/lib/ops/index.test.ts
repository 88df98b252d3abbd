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
