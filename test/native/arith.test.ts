// Broadcasting arithmetic (arithBinary, arithScalar, arithUnary, broadcastTo) against float64
// references on random shapes with odd and size-1 axes, in every float dtype and both
// layouts, plus argument checks. Gradients: test/lib/ops/index.test.ts.
import * as assert from 'node:assert/strict';

import { DTypeName, LayoutName, native, NativeTensor } from '../../lib/native';
import { memory } from '../../lib/tensor';
import { describeDevices, fewer } from '../helpers/devices';
import { broadcastPartner, broadcastShape, randomShape, refBinary, size } from '../helpers/math-reference';
import { assertThrowsNamed } from '../helpers/reference';
import { badCallKit, close, disposeAll, make, normals, readNCHW, rng, rounded } from './ops-common';

const DTYPES: DTypeName[] = ['float32', 'float16', 'bfloat16'];
// One unit in the last place of each dtype, relative: the result is rounded once.
const ULP: Record<string, number> = { float32: 2e-6, float16: 1e-3, bfloat16: 8e-3 };

const BINARY: Record<string, (u: number, v: number) => number> = {
  add: (u, v) => u + v,
  sub: (u, v) => u - v,
  mul: (u, v) => u * v,
  div: (u, v) => u / v,
};
const SCALAR: Record<string, (x: number, s: number) => number> = {
  add: (x, s) => x + s,
  sub: (x, s) => x - s,
  rsub: (x, s) => s - x,
  mul: (x, s) => x * s,
  div: (x, s) => x / s,
  rdiv: (x, s) => s / x,
  pow: (x, s) => Math.pow(x, s),
};
const UNARY: Record<string, (x: number) => number> = {
  neg: (x) => -x,
  exp: Math.exp,
  log: Math.log,
  sqrt: Math.sqrt,
  abs: Math.abs,
  sign: Math.sign,
};

function layoutFor(shape: number[], r: () => number): LayoutName {
  return shape.length === 4 && r() < 0.5 ? 'NHWC' : 'NCHW';
}

/** Inputs away from 0 (for div, log, sqrt) with random signs unless `positive`. */
function values(n: number, r: () => number, dtype: DTypeName, positive = false): Float32Array {
  const v = normals(n, r).map((x) => (positive ? 0.5 + Math.abs(x) : Math.sign(x || 1) * (0.5 + Math.abs(x))));
  return rounded(v, dtype);
}

describeDevices('arith', (d) => {
  const dev = d.device;
  const nat = () => native();

  it('arithBinary broadcasts like NumPy, in every dtype and layout', () => {
    const r = rng(301);
    const pairs: [number[], number[]][] = [
      [[7], [1]],
      [
        [3, 1, 5],
        [4, 1],
      ],
      [
        [2, 3, 5, 7],
        [3, 1, 1],
      ],
      [
        [5, 1, 9, 3],
        [5, 4, 1, 3],
      ],
      [[1], [2, 3, 3]],
      [[33, 65], [65]],
    ];
    for (let k = 0; k < 6; k++) {
      const s = randomShape(r);
      pairs.push(r() < 0.5 ? [s, broadcastPartner(r, s)] : [broadcastPartner(r, s), s]);
    }
    for (const [as, bs] of fewer(pairs, 3))
      for (const dtype of DTYPES)
        for (const op of Object.keys(BINARY)) {
          const a = values(size(as), r, dtype),
            b = values(size(bs), r, dtype);
          const ta = make(a, as, dev, dtype, layoutFor(as, r)),
            tb = make(b, bs, dev, dtype, layoutFor(bs, r));
          const y = nat().arithBinary(ta, tb, op as 'add');
          assert.deepEqual(y.shape, broadcastShape(as, bs));
          assert.equal(y.dtype, dtype);
          assert.equal(y.layout, 'NCHW');
          close(readNCHW(y), refBinary(a, as, b, bs, BINARY[op]), ULP[dtype], `${op} [${as}] [${bs}] ${dtype}`, 1e-2);
          disposeAll(ta, tb, y);
        }
  });

  it('arithScalar and arithUnary match the references', () => {
    const r = rng(302);
    for (const shape of fewer([[1], [9], [3, 5], [2, 3, 5, 7], [4, 1, 3, 2]], 2))
      for (const dtype of DTYPES) {
        const layout = layoutFor(shape, r);
        for (const op of Object.keys(SCALAR)) {
          const x = values(size(shape), r, dtype, op === 'pow');
          const s = op === 'pow' ? 1.5 : -1.75;
          const t = make(x, shape, dev, dtype, layout);
          const y = nat().arithScalar(t, s, op as 'add');
          assert.deepEqual(y.shape, shape);
          close(
            readNCHW(y),
            Array.from(x, (v) => SCALAR[op](v, s)),
            ULP[dtype] * 2,
            `${op} ${shape} ${dtype}`,
            1e-2,
          );
          disposeAll(t, y);
        }
        for (const op of Object.keys(UNARY)) {
          const x = values(size(shape), r, dtype, op === 'log' || op === 'sqrt');
          const t = make(x, shape, dev, dtype, layout);
          const y = nat().arithUnary(t, op as 'neg');
          close(readNCHW(y), Array.from(x, UNARY[op]), ULP[dtype] * 2, `${op} ${shape} ${dtype}`, 1e-2);
          disposeAll(t, y);
        }
      }
  });

  it('sign gives 0 for both zeros and keeps NaN', () => {
    const t = make([0, -0, NaN, -3, 2], [5], dev);
    const y = nat().arithUnary(t, 'sign');
    assert.deepEqual(Array.from(readNCHW(y)), [0, 0, NaN, -1, 1]);
    disposeAll(t, y);
  });

  it('broadcastTo copies along new and size-1 axes', () => {
    const r = rng(303);
    for (const [from, to] of [
      [[1], [4]],
      [
        [3, 1],
        [2, 3, 5],
      ],
      [
        [2, 1, 3, 1],
        [2, 4, 3, 5],
      ],
    ] as [number[], number[]][]) {
      const x = values(size(from), r, 'float32');
      const t = make(x, from, dev, 'float32', layoutFor(from, r));
      const y = nat().broadcastTo(t, to);
      assert.deepEqual(y.shape, to);
      close(
        readNCHW(y),
        refBinary(x, from, new Float64Array(size(to)), to, (u) => u),
        0,
        `broadcastTo [${from}] -> [${to}]`,
      );
      disposeAll(t, y);
    }
  });

  it('leaks no tensors', () => {
    const before = memory().liveTensors;
    const a = make([1, 2, 3, 4, 5, 6], [2, 1, 3], dev, 'float32');
    const b = make([1, 2], [2, 1], dev, 'float32');
    const made: NativeTensor[] = [nat().arithBinary(a, b, 'div'), nat().arithScalar(a, 2, 'rdiv'), nat().arithUnary(a, 'exp'), nat().broadcastTo(b, [3, 2, 4])];
    disposeAll(a, b, ...made);
    assert.equal(memory().liveTensors, before);
  });

  describe('refuses bad arguments, naming them', () => {
    const { raw, t } = badCallKit(dev);
    it('arithBinary', () => {
      assertThrowsNamed(() => raw.arithBinary(t([2, 3]), t([3]), 'pow'), RangeError, "'op'", "'add'");
      assertThrowsNamed(() => raw.arithBinary(t([2, 3]), t([2]), 'add'), RangeError, "'b'", 'broadcast');
      assertThrowsNamed(() => raw.arithBinary(t([2, 3]), t([3], 'float16'), 'add'), TypeError, "'b'", 'dtype');
      assertThrowsNamed(() => raw.arithBinary(t([2, 3], 'int32'), t([3], 'int32'), 'add'), TypeError, "'a'");
      assertThrowsNamed(() => raw.arithBinary(t([2, 3]), 2, 'add'), TypeError, "'b'");
      assertThrowsNamed(() => raw.arithBinary(t([2, 3]), t([3])), TypeError, 'arguments');
      const gone = t([3]);
      gone.dispose();
      assertThrowsNamed(() => raw.arithBinary(t([2, 3]), gone, 'add'), TypeError, "'b'", 'disposed');
      if (dev !== 'cpu') assertThrowsNamed(() => raw.arithBinary(t([2, 3]), t([3], 'float32', 'NCHW', 'cpu'), 'add'), TypeError, "'b'");
    });
    it('arithScalar, arithUnary, broadcastTo', () => {
      assertThrowsNamed(() => raw.arithScalar(t([2]), NaN, 'add'), RangeError, "'scalar'");
      assertThrowsNamed(() => raw.arithScalar(t([2]), '1', 'add'), TypeError, "'scalar'");
      assertThrowsNamed(() => raw.arithScalar(t([2]), 1, 'max'), RangeError, "'op'");
      assertThrowsNamed(() => raw.arithUnary(t([2]), 'tanh'), RangeError, "'op'", "'exp'");
      assertThrowsNamed(() => raw.arithUnary(t([2], 'int32'), 'neg'), TypeError, "'x'");
      assertThrowsNamed(() => raw.broadcastTo(t([2, 3]), [3, 3]), RangeError, "'shape'");
      assertThrowsNamed(() => raw.broadcastTo(t([2, 3]), [3]), RangeError, "'shape'");
      assertThrowsNamed(() => raw.broadcastTo(t([2, 3]), [2, 0]), RangeError, "'shape[1]'");
    });
  });
});
