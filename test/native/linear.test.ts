// linear forward / backward data / weight / bias against a naive float64 reference, central
// finite differences of sum(g * y), half precision against fp32 on the same inputs, and bad
// calls that must throw TypeError or RangeError naming the argument.
import * as assert from 'node:assert/strict';

import { DTypeName, native, NativeTensor } from '../../lib/native';
import { cudaUnavailableReason, describeDevices, fewer } from '../helpers/devices';
import { assertThrowsNamed, dot, finiteDiff, maxRelErr, randn, rng } from '../helpers/reference';
import { badCallKit } from './ops-common';

interface Case {
  n: number;
  k: number;
  m: number;
  bias: boolean;
}

// [N, K] x [M, K]^T: single elements, odd sizes, more than one GEMM depth block (K > 256),
// rows and columns that do not fill a register tile, more columns than one GEMM block.
const CASES: Case[] = [
  { n: 1, k: 1, m: 1, bias: true },
  { n: 3, k: 7, m: 5, bias: false },
  { n: 17, k: 33, m: 10, bias: true },
  { n: 128, k: 64, m: 10, bias: true },
  { n: 5, k: 300, m: 29, bias: false },
  { n: 2, k: 5, m: 50, bias: true },
  { n: 70, k: 130, m: 90, bias: true },
  { n: 2, k: 5, m: 3100, bias: true }, // more outputs than one GEMM column block
];

/** A reference result and, per value, the sum of |terms| that produced it (what an fp32
 * summation's rounding error scales with). */
interface Ref {
  v: Float64Array;
  mag: Float64Array;
}

const newRef = (n: number): Ref => ({ v: new Float64Array(n), mag: new Float64Array(n) });

function add(r: Ref, i: number, term: number): void {
  r.v[i] += term;
  r.mag[i] += Math.abs(term);
}

function refForward(c: Case, x: Float32Array, w: Float32Array, b: Float32Array | null): Ref {
  const y = newRef(c.n * c.m);
  for (let i = 0; i < c.n; i++)
    for (let j = 0; j < c.m; j++) {
      if (b) add(y, i * c.m + j, b[j]);
      for (let k = 0; k < c.k; k++) add(y, i * c.m + j, x[i * c.k + k] * w[j * c.k + k]);
    }
  return y;
}

function refBackward(c: Case, dy: Float32Array, x: Float32Array, w: Float32Array) {
  const dx = newRef(c.n * c.k),
    dw = newRef(c.m * c.k),
    db = newRef(c.m);
  for (let i = 0; i < c.n; i++)
    for (let j = 0; j < c.m; j++) {
      const g = dy[i * c.m + j];
      add(db, j, g);
      for (let k = 0; k < c.k; k++) {
        add(dx, i * c.k + k, g * w[j * c.k + k]);
        add(dw, j * c.k + k, g * x[i * c.k + k]);
      }
    }
  return { dx, dw, db };
}

/** max |actual - v| / mag: the error relative to the magnitude summed into each value. */
function assertRef(actual: ArrayLike<number>, ref: Ref, tol: number, what: string): void {
  assert.equal(actual.length, ref.v.length, `${what}: length mismatch`);
  let worst = 0;
  for (let i = 0; i < actual.length; i++) {
    const d = Math.abs(actual[i] - ref.v[i]);
    const e = d === 0 ? 0 : d / Math.max(ref.mag[i], 1e-30);
    if (!(e <= worst)) worst = Number.isNaN(e) ? Infinity : e;
  }
  assert.ok(worst <= tol, `${what}: max relative error ${worst.toExponential(2)} > ${tol}`);
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

/** Relative error per value, floored at 1e-3 of the expected values' largest magnitude. */
function assertRel(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what: string): void {
  const e = maxRelErr(actual, expected, Math.max(1e-3 * maxAbs(expected), 1e-6));
  assert.ok(e <= tol, `${what}: max relative error ${e.toExponential(2)} > ${tol}`);
}

describeDevices('linear', ({ device, rtol }) => {
  const A = native();
  let owned: NativeTensor[] = [];
  const keep = (t: NativeTensor): NativeTensor => (owned.push(t), t);
  afterEach(() => {
    for (const t of owned) t.dispose();
    owned = [];
  });
  const make = (v: Float32Array, shape: number[], dtype: DTypeName = 'float32') => keep(A.fromTypedArray(v, shape, dtype, 'NCHW', device));
  const values = (t: NativeTensor) => t.read() as Float32Array;

  fewer(CASES, 3).forEach((c, ci) => {
    describe(`x [${c.n}, ${c.k}], w [${c.m}, ${c.k}]${c.bias ? ', bias' : ''}`, () => {
      const x = randn(c.n * c.k, 10 * ci + 1);
      const w = randn(c.m * c.k, 10 * ci + 2, 0.5);
      const b = c.bias ? randn(c.m, 10 * ci + 3) : null;
      const dy = randn(c.n * c.m, 10 * ci + 4);

      it('forward matches the naive reference', () => {
        const y = keep(A.linearForward(make(x, [c.n, c.k]), make(w, [c.m, c.k]), b && make(b, [c.m])));
        assert.deepEqual(y.shape, [c.n, c.m]);
        assertRef(values(y), refForward(c, x, w, b), rtol, 'y');
      });

      it('backward data, weight and bias match the naive reference', () => {
        const g = make(dy, [c.n, c.m]);
        const ref = refBackward(c, dy, x, w);
        const dx = keep(A.linearBackwardData(g, make(w, [c.m, c.k])));
        const dw = keep(A.linearBackwardWeight(g, make(x, [c.n, c.k])));
        const db = keep(A.linearBackwardBias(g));
        assert.deepEqual(dx.shape, [c.n, c.k]);
        assert.deepEqual(dw.shape, [c.m, c.k]);
        assert.deepEqual(db.shape, [c.m]);
        assert.equal(db.dtype, 'float32');
        assertRef(values(dx), ref.dx, rtol, 'dx');
        assertRef(values(dw), ref.dw, rtol, 'dw');
        assertRef(values(db), ref.db, rtol, 'db');
      });

      it('gradients match central finite differences of sum(g * y)', () => {
        const loss = (xv: Float32Array, wv: Float32Array, bv: Float32Array | null): number => {
          const ts = [A.fromTypedArray(xv, [c.n, c.k], 'float32', 'NCHW', device), A.fromTypedArray(wv, [c.m, c.k], 'float32', 'NCHW', device)];
          const bt = bv && A.fromTypedArray(bv, [c.m], 'float32', 'NCHW', device);
          const y = A.linearForward(ts[0], ts[1], bt);
          const l = dot(dy, y.read() as Float32Array);
          for (const t of [...ts, bt, y]) t?.dispose();
          return l;
        };
        const g = make(dy, [c.n, c.m]);
        const dx = values(keep(A.linearBackwardData(g, make(w, [c.m, c.k]))));
        const dw = values(keep(A.linearBackwardWeight(g, make(x, [c.n, c.k]))));
        const db = values(keep(A.linearBackwardBias(g)));
        const r = rng(ci + 5);
        const pick = (n: number) => Array.from({ length: Math.min(n, 10) }, () => Math.floor(r() * n));
        const check = (analytic: Float32Array, fd: Float64Array, idx: number[], what: string) => {
          const a = idx.map((i) => analytic[i]),
            f = idx.map((i) => fd[i]);
          const e = maxRelErr(a, f, Math.max(1e-2 * maxAbs(f), 1e-3));
          assert.ok(e <= 1e-2, `${what}: finite-difference relative error ${e.toExponential(2)} > 1e-2`);
        };
        const xi = pick(x.length),
          wi = pick(w.length),
          bi = pick(c.m);
        check(
          dx,
          finiteDiff((v) => loss(v, w, b), x, 1e-2, xi),
          xi,
          'dx',
        );
        check(
          dw,
          finiteDiff((v) => loss(x, v, b), w, 1e-2, wi),
          wi,
          'dw',
        );
        check(
          db,
          finiteDiff((v) => loss(x, w, v), b ?? new Float32Array(c.m), 1e-2, bi),
          bi,
          'db',
        );
      });
    });
  });

  for (const [dtype, tol] of [
    ['float16', 2e-3],
    ['bfloat16', 1e-2],
  ] as [DTypeName, number][]) {
    it(`${dtype} inputs give the fp32 results (within output rounding)`, () => {
      const c = CASES[6];
      const round = (v: Float32Array, shape: number[]) => values(make(v, shape, dtype));
      const x = round(randn(c.n * c.k, 71), [c.n, c.k]),
        w = round(randn(c.m * c.k, 72), [c.m, c.k]);
      const dy = round(randn(c.n * c.m, 73), [c.n, c.m]);
      const b = randn(c.m, 74);
      const xs = [c.n, c.k],
        ws = [c.m, c.k],
        ys = [c.n, c.m];
      const ref = {
        y: values(keep(A.linearForward(make(x, xs), make(w, ws), make(b, [c.m])))),
        dx: values(keep(A.linearBackwardData(make(dy, ys), make(w, ws)))),
        dw: values(keep(A.linearBackwardWeight(make(dy, ys), make(x, xs)))),
        db: values(keep(A.linearBackwardBias(make(dy, ys)))),
      };
      const y = keep(A.linearForward(make(x, xs, dtype), make(w, ws, dtype), make(b, [c.m])));
      const dx = keep(A.linearBackwardData(make(dy, ys, dtype), make(w, ws, dtype)));
      const dw = keep(A.linearBackwardWeight(make(dy, ys, dtype), make(x, xs, dtype)));
      const db = keep(A.linearBackwardBias(make(dy, ys, dtype)));
      for (const t of [y, dx, dw]) assert.equal(t.dtype, dtype);
      assert.equal(db.dtype, 'float32');
      assertRel(values(y), ref.y, tol, 'y');
      assertRel(values(dx), ref.dx, tol, 'dx');
      assertRel(values(dw), ref.dw, tol, 'dw');
      assertRel(values(db), ref.db, 1e-5, 'db');
    });
  }

  it('leaves no live tensors behind', () => {
    const before = A.memoryStats().liveTensors;
    const x = A.fromTypedArray(randn(12, 1), [3, 4], 'float32', 'NCHW', device);
    const w = A.fromTypedArray(randn(8, 2), [2, 4], 'float32', 'NCHW', device);
    const y = A.linearForward(x, w, null);
    const out = [A.linearBackwardData(y, w), A.linearBackwardWeight(y, x), A.linearBackwardBias(y)];
    assert.equal(A.memoryStats().liveTensors, before + 6);
    for (const t of [x, w, y, ...out]) t.dispose();
    assert.equal(A.memoryStats().liveTensors, before);
  });
});

describeDevices('linear bindings refuse bad arguments', ({ device }) => {
  const A = native();
  const { raw, t } = badCallKit(device);

  it('accepts the well-formed call these tests corrupt', () => {
    A.linearForward(t([5, 7]), t([3, 7]), t([3])).dispose();
  });

  it('wrong ranks, in-features, batch, bias and dtype', () => {
    assertThrowsNamed(() => A.linearForward(t([5, 7, 1]), t([3, 7]), null), RangeError, 'linearForward', "'x'", '2-D');
    assertThrowsNamed(() => A.linearForward(t([5, 7]), t([3, 8]), null), RangeError, "'w'");
    assertThrowsNamed(() => A.linearForward(t([5, 7]), t([3, 7]), t([4])), RangeError, "'bias'");
    assertThrowsNamed(() => A.linearForward(t([5, 7]), t([3, 7], 'float16'), null), TypeError, "'w'", 'dtype');
    assertThrowsNamed(() => A.linearForward(t([5, 7], 'int32'), t([3, 7], 'int32'), null), TypeError, "'x'");
    assertThrowsNamed(() => A.linearBackwardData(t([5, 3]), t([4, 7])), RangeError, 'linearBackwardData', "'w'");
    assertThrowsNamed(() => A.linearBackwardWeight(t([5, 3]), t([6, 7])), RangeError, 'linearBackwardWeight', "'x'");
    assertThrowsNamed(() => A.linearBackwardBias(t([5])), RangeError, 'linearBackwardBias', "'dy'");
    const gone = t([3, 7]);
    gone.dispose();
    assertThrowsNamed(() => A.linearBackwardData(t([5, 3]), gone), TypeError, "'w'", 'disposed');
  });

  it('wrong argument count', () => {
    assertThrowsNamed(() => raw.linearForward(t([5, 7]), t([3, 7])), TypeError, 'linearForward', 'expected 3');
  });

  it('operands on different devices', function () {
    if (cudaUnavailableReason() !== null) this.skip();
    const other = device === 'cpu' ? 'cuda:0' : 'cpu';
    assertThrowsNamed(() => A.linearForward(t([5, 7]), t([3, 7], 'float32', 'NCHW', other), null), TypeError, "'w'", 'device');
  });
});
