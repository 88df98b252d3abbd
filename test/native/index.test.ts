// slice / indexSelect and their backwards against naive references on random shapes, in
// every float dtype and both layouts; argument checks (ranges, index dtype and values).
// Gradients through autograd: test/lib/ops/index.test.ts.
import * as assert from 'node:assert/strict';

import { DTypeName, native } from '../../lib/native';
import { memory } from '../../lib/tensor';
import { describeDevices, fewer } from '../helpers/devices';
import { coords, flatIndex, randomShape, size } from '../helpers/math-reference';
import { assertThrowsNamed } from '../helpers/reference';
import { badCallKit, close, disposeAll, make, normals, randInt, readNCHW, rng, rounded } from './ops-common';

const DTYPES: DTypeName[] = ['float32', 'float16', 'bfloat16'];

/** y[.., j, ..] = x[.., pick[j], ..] along axis. */
function refGather(x: ArrayLike<number>, shape: number[], axis: number, pick: number[]): Float64Array {
  const out = shape.map((s, a) => (a === axis ? pick.length : s));
  const y = new Float64Array(size(out));
  for (let i = 0; i < y.length; i++) {
    const c = coords(i, out);
    c[axis] = pick[c[axis]];
    y[i] = x[flatIndex(c, shape)];
  }
  return y;
}

/** zeros(shape), then y[.., pick[j], ..] += dy[.., j, ..]. */
function refScatter(dy: ArrayLike<number>, shape: number[], axis: number, pick: number[]): Float64Array {
  const from = shape.map((s, a) => (a === axis ? pick.length : s));
  const y = new Float64Array(size(shape));
  for (let i = 0; i < dy.length; i++) {
    const c = coords(i, from);
    c[axis] = pick[c[axis]];
    y[flatIndex(c, shape)] += dy[i];
  }
  return y;
}

describeDevices('index', (d) => {
  const dev = d.device;
  const nat = () => native();
  const shapes = (seed: number) => {
    const r = rng(seed);
    const list = [[1], [9], [3, 1, 5], [2, 3, 5, 7], [5, 2, 1, 3]];
    for (let k = 0; k < 4; k++) list.push(randomShape(r));
    return fewer(list, 3);
  };

  it('slice and sliceBackward along any axis with any step', () => {
    const r = rng(501);
    for (const shape of shapes(502))
      for (const dtype of DTYPES) {
        const axis = randInt(r, 0, shape.length - 1);
        const n = shape[axis];
        const start = randInt(r, 0, n - 1),
          end = randInt(r, start + 1, n),
          step = randInt(r, 1, 3);
        const pick: number[] = [];
        for (let p = start; p < end; p += step) pick.push(p);
        const layout = shape.length === 4 && r() < 0.5 ? 'NHWC' : 'NCHW';
        const x = rounded(normals(size(shape), r), dtype);
        const t = make(x, shape, dev, dtype, layout);
        const y = nat().slice(t, axis - (r() < 0.5 ? shape.length : 0), start, end, step);
        const what = `slice ${shape} axis ${axis} ${start}:${end}:${step} ${dtype}`;
        assert.deepEqual(
          y.shape,
          shape.map((s, a) => (a === axis ? pick.length : s)),
        );
        close(readNCHW(y), refGather(x, shape, axis, pick), 0, what);
        const dy = rounded(normals(size(y.shape), r), dtype);
        const tdy = make(dy, y.shape, dev, dtype);
        const dx = nat().sliceBackward(tdy, axis, start, step, shape);
        close(readNCHW(dx), refScatter(dy, shape, axis, pick), 0, `${what} backward`);
        disposeAll(t, y, tdy, dx);
      }
  });

  it('indexSelect and its backward, repeated indices adding up', () => {
    const r = rng(503);
    for (const shape of shapes(504))
      for (const dtype of DTYPES) {
        const axis = randInt(r, 0, shape.length - 1);
        const pick = Array.from({ length: randInt(r, 1, 6) }, () => randInt(r, 0, shape[axis] - 1));
        const layout = shape.length === 4 && r() < 0.5 ? 'NHWC' : 'NCHW';
        const x = rounded(normals(size(shape), r), dtype);
        const t = make(x, shape, dev, dtype, layout);
        const idx = nat().fromTypedArray(Int32Array.from(pick), [pick.length], 'int32', 'NCHW', dev);
        const y = nat().indexSelect(t, axis, idx);
        const what = `indexSelect ${shape} axis ${axis} [${pick}] ${dtype}`;
        close(readNCHW(y), refGather(x, shape, axis, pick), 0, what);
        const dy = rounded(normals(size(y.shape), r), dtype);
        const tdy = make(dy, y.shape, dev, dtype);
        const dx = nat().indexSelectBackward(tdy, axis - shape.length, idx, shape);
        const tol = { float32: 2e-6, float16: 2e-3, bfloat16: 1.6e-2 }[dtype as string]!;
        close(readNCHW(dx), refScatter(dy, shape, axis, pick), tol, `${what} backward`, 1e-2);
        disposeAll(t, idx, y, tdy, dx);
      }
  });

  it('leaks no tensors', () => {
    const before = memory().liveTensors;
    const t = make([1, 2, 3, 4, 5, 6], [2, 3], dev);
    const idx = nat().fromTypedArray(Int32Array.from([2, 2]), [2], 'int32', 'NCHW', dev);
    const made = [nat().slice(t, 1, 0, 3, 2), nat().indexSelect(t, 1, idx)];
    made.push(nat().sliceBackward(made[0], 1, 0, 2, [2, 3]), nat().indexSelectBackward(made[1], 1, idx, [2, 3]));
    disposeAll(t, idx, ...made);
    assert.equal(memory().liveTensors, before);
  });

  describe('bad arguments', () => {
    const { raw, t } = badCallKit(dev);
    const ints = (v: number[]) => {
      const x = nat().fromTypedArray(Int32Array.from(v), [v.length], 'int32', 'NCHW', dev);
      return x;
    };
    it('slice, sliceBackward', () => {
      assertThrowsNamed(() => raw.slice(t([2, 5]), 2, 0, 1, 1), RangeError, "'dim'");
      assertThrowsNamed(() => raw.slice(t([2, 5]), 1, 5, 5, 1), RangeError, "'start'");
      assertThrowsNamed(() => raw.slice(t([2, 5]), 1, 2, 2, 1), RangeError, "'end'");
      assertThrowsNamed(() => raw.slice(t([2, 5]), 1, 0, 6, 1), RangeError, "'end'");
      assertThrowsNamed(() => raw.slice(t([2, 5]), 1, 0, 5, 0), RangeError, "'step'");
      assertThrowsNamed(() => raw.slice(t([2, 5], 'int32'), 1, 0, 5, 1), TypeError, "'x'");
      assertThrowsNamed(() => raw.sliceBackward(t([2, 3]), 1, 0, 2, [2, 5, 1]), RangeError, "'shape'");
      assertThrowsNamed(() => raw.sliceBackward(t([2, 3]), 1, 1, 2, [2, 5]), RangeError, "'dy'");
      assertThrowsNamed(() => raw.sliceBackward(t([3, 3]), 1, 0, 2, [2, 5]), RangeError, "'dy'");
    });
    it('indexSelect, indexSelectBackward', () => {
      const idx = ints([0, 4]);
      const over = ints([0, 5]);
      const neg = ints([-1]);
      try {
        assertThrowsNamed(() => raw.indexSelect(t([2, 5]), 1, t([2])), TypeError, "'index'", 'int32');
        assertThrowsNamed(() => raw.indexSelect(t([2, 5]), 1, t([2, 1], 'int32')), RangeError, "'index'");
        assertThrowsNamed(() => raw.indexSelect(t([2, 5]), 1, over), RangeError, "'index'", '[0, 5)', 'got 5');
        assertThrowsNamed(() => raw.indexSelect(t([2, 5]), 1, neg), RangeError, "'index'", 'got -1');
        assertThrowsNamed(() => raw.indexSelect(t([2, 5]), -3, idx), RangeError, "'dim'");
        assertThrowsNamed(() => raw.indexSelect(t([2, 5]), 1, [0, 1]), TypeError, "'index'");
        assertThrowsNamed(() => raw.indexSelectBackward(t([2, 3]), 1, idx, [2, 5]), RangeError, "'dy'");
        assertThrowsNamed(() => raw.indexSelectBackward(t([2, 2]), 1, over, [2, 5]), RangeError, "'index'");
        assertThrowsNamed(() => raw.indexSelectBackward(t([2, 2]), 1, idx, [2, 5, 2]), RangeError, "'shape'");
        const gone = ints([1]);
        gone.dispose();
        assertThrowsNamed(() => raw.indexSelect(t([2, 5]), 1, gone), TypeError, "'index'", 'disposed');
      } finally {
        disposeAll(idx, over, neg);
      }
    });
  });
});
