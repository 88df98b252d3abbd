// softmaxForward / softmaxBackward (softmax and log-softmax along any axis) against float64
// references on random shapes, in every float dtype and both layouts; stability with huge
// logits; argument checks. Gradients through autograd: test/lib/ops/index.test.ts.
import * as assert from 'node:assert/strict';

import { DTypeName, native } from '../../lib/native';
import { memory } from '../../lib/tensor';
import { describeDevices, fewer } from '../helpers/devices';
import { axisLines, randomShape, size } from '../helpers/math-reference';
import { assertThrowsNamed } from '../helpers/reference';
import { badCallKit, close, disposeAll, make, normals, randInt, readNCHW, rng, rounded } from './ops-common';

const DTYPES: DTypeName[] = ['float32', 'float16', 'bfloat16'];
const ULP: Record<string, number> = { float32: 2e-6, float16: 1e-3, bfloat16: 8e-3 };

function refSoftmax(x: ArrayLike<number>, shape: number[], axis: number, log: boolean): Float64Array {
  const y = new Float64Array(x.length);
  for (const line of axisLines(shape, axis)) {
    const m = Math.max(...line.map((i) => x[i]));
    const lse = m + Math.log(line.reduce((s, i) => s + Math.exp(x[i] - m), 0));
    for (const i of line) y[i] = log ? x[i] - lse : Math.exp(x[i] - lse);
  }
  return y;
}

function refBackward(dy: ArrayLike<number>, y: ArrayLike<number>, shape: number[], axis: number, log: boolean): Float64Array {
  const dx = new Float64Array(y.length);
  for (const line of axisLines(shape, axis)) {
    const s = line.reduce((acc, i) => acc + (log ? dy[i] : dy[i] * y[i]), 0);
    for (const i of line) dx[i] = log ? dy[i] - Math.exp(y[i]) * s : y[i] * (dy[i] - s);
  }
  return dx;
}

describeDevices('softmax', (d) => {
  const dev = d.device;
  const nat = () => native();

  it('forward and backward match float64 along every axis, in every dtype and layout', () => {
    const r = rng(401);
    const shapes = [[1], [10], [4, 7], [2, 3, 5, 7], [3, 1, 4, 2], [2, 1001]];
    for (let k = 0; k < 3; k++) shapes.push(randomShape(r));
    for (const shape of fewer(shapes, 3))
      for (const dtype of DTYPES)
        for (const log of [false, true]) {
          const axis = randInt(r, 0, shape.length - 1);
          const layout = shape.length === 4 && r() < 0.5 ? 'NHWC' : 'NCHW';
          const x = rounded(normals(size(shape), r, 3), dtype);
          const t = make(x, shape, dev, dtype, layout);
          const y = nat().softmaxForward(t, r() < 0.5 ? axis : axis - shape.length, log);
          assert.deepEqual(y.shape, shape);
          assert.equal(y.layout, 'NCHW');
          const what = `${log ? 'logSoftmax' : 'softmax'} ${shape} axis ${axis} ${dtype}`;
          close(readNCHW(y), refSoftmax(x, shape, axis, log), ULP[dtype] * 4, what, log ? 1e-2 : 1e-4);
          const dy = rounded(normals(size(shape), r), dtype);
          const tdy = make(dy, shape, dev, dtype, layout);
          const dx = nat().softmaxBackward(tdy, y, axis, log);
          // The reference reads the rounded forward output, as the op does.
          close(readNCHW(dx), refBackward(dy, readNCHW(y), shape, axis, log), ULP[dtype] * 8, `${what} backward`, 1e-2);
          disposeAll(t, y, tdy, dx);
        }
  });

  it('is stable for huge logits and gives PyTorch`s NaN for a line of -inf', () => {
    const t = make([1000, 1001, 999, -Infinity, -Infinity, -Infinity], [2, 3], dev);
    const y = nat().softmaxForward(t, 1, false);
    const ly = nat().softmaxForward(t, 1, true);
    const v = readNCHW(y),
      lv = readNCHW(ly);
    close(v.slice(0, 3), refSoftmax([1000, 1001, 999], [3], 0, false), 1e-6, 'huge logits');
    close(lv.slice(0, 3), refSoftmax([1000, 1001, 999], [3], 0, true), 1e-6, 'huge logits, log');
    assert.ok(v.slice(3).every(Number.isNaN), `-inf line: ${Array.from(v.slice(3))}`);
    disposeAll(t, y, ly);
  });

  it('leaks no tensors', () => {
    const before = memory().liveTensors;
    const t = make([1, 2, 3, 4], [2, 2], dev);
    const y = nat().softmaxForward(t, 0, true);
    const dx = nat().softmaxBackward(t, y, 0, true);
    disposeAll(t, y, dx);
    assert.equal(memory().liveTensors, before);
  });

  describe('bad arguments', () => {
    const { raw, t } = badCallKit(dev);
    it('are refused, naming them', () => {
      assertThrowsNamed(() => raw.softmaxForward(t([2, 3]), 2, false), RangeError, "'dim'");
      assertThrowsNamed(() => raw.softmaxForward(t([2, 3]), 1, 'yes'), TypeError, "'log'");
      assertThrowsNamed(() => raw.softmaxForward(t([2, 3], 'int32'), 1, false), TypeError, "'x'");
      assertThrowsNamed(() => raw.softmaxBackward(t([2, 3]), t([3, 2]), 1, false), RangeError, "'y'");
      assertThrowsNamed(() => raw.softmaxBackward(t([2, 3]), null, 1, false), TypeError, "'y'");
      const gone = t([2, 3]);
      gone.dispose();
      assertThrowsNamed(() => raw.softmaxForward(gone, 1, false), TypeError, "'x'", 'disposed');
    });
  });
});
