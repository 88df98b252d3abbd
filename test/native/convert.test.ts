// cast, toLayout and convert against references written here: IEEE round-to-nearest-even to
// float16 and bfloat16 computed arithmetically (not by bit tricks like the addon's), the
// NCHW <-> NHWC permutation by index, convert as cast then toLayout; the backward used by
// lib/ops/convert.ts (the inverse conversion) against finite differences; bad calls.
import * as assert from 'node:assert/strict';

import { DTypeName, LayoutName, native, NativeAddon, NativeTensor } from '../../lib/native';
import { describeDevices } from '../helpers/devices';
import { assertArgError, assertThrowsNamed } from '../helpers/reference';
import { checkFiniteDiff, disposeAll, dot, fromLayoutOrder, make, normals, randInt, readNCHW, rng, someIndices, toLayoutOrder } from './ops-common';

const FLOATS: DTypeName[] = ['float32', 'float16', 'bfloat16'];

/** Round an fp32 value to `mantissa` explicit bits, exponent floor `minExp`, overflow above `max`. */
function roundTo(v: number, mantissa: number, minExp: number, max: number): number {
  if (!Number.isFinite(v) || v === 0) return v;
  const a = Math.abs(v);
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a)
    e--; // log2 may round up just below a power of two
  else if (2 ** (e + 1) <= a) e++;
  const ulp = 2 ** (Math.max(e, minExp) - mantissa);
  const q = a / ulp;
  const f = Math.floor(q);
  const r = q - f > 0.5 || (q - f === 0.5 && f % 2 === 1) ? f + 1 : f;
  const out = r * ulp;
  return Math.sign(v) * (out > max ? Infinity : out);
}

/** What storing fp32 value v in `dtype` gives back. */
function stored(v: number, dtype: DTypeName): number {
  const f = Math.fround(v);
  if (dtype === 'float16') return roundTo(f, 10, -14, 65504);
  if (dtype === 'bfloat16') return roundTo(f, 7, -126, 3.3895313892515355e38);
  if (dtype === 'int32') return Math.trunc(f);
  return f;
}

const numel = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/** Exact equality element by element (Infinity included), naming the first difference. */
function assertSame(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < actual.length; i++) if (actual[i] !== expected[i]) assert.fail(`${what}: element ${i} is ${actual[i]}, expected ${expected[i]}`);
}

/** A tensor of any dtype from logical NCHW values (integers for the integer dtypes). */
function fromValues(v: ArrayLike<number>, shape: number[], device: string, dtype: DTypeName, layout: LayoutName): NativeTensor {
  const ordered = toLayoutOrder(v, shape, layout);
  const data = dtype === 'int32' ? Int32Array.from(ordered) : dtype === 'uint8' ? Uint8Array.from(ordered) : ordered;
  return native().fromTypedArray(data, shape, dtype, layout, device);
}

describeDevices('dtype and layout conversions', ({ device }) => {
  const A = () => native();
  const r = rng(777);
  const shapes: number[][] = [
    [1, 1, 1, 1],
    [2, 3, 5, 7],
    [3, 1, 4, 9],
    ...Array.from({ length: 3 }, () => [randInt(r, 1, 3), randInt(r, 1, 11), randInt(r, 1, 9), randInt(r, 1, 9)]),
    [2, 33, 17, 9],
  ];

  /** Values that probe rounding: normals at several scales, fp16 subnormals, ties, overflow. */
  function probes(n: number): Float32Array {
    const v = Float32Array.from(normals(n, r), (x, i) => x * [1, 1e3, 1e-5, 3e4][i % 4]);
    const special = [0, -0, 1 + 2 ** -11, 1 + 3 * 2 ** -11, 1 + 2 ** -8, 2 ** -24, 2 ** -25, 3 * 2 ** -25, 65504, 65519, 65520, -1e5, 2 ** -130];
    special.forEach((s, i) => i < n && (v[i] = s));
    return v;
  }

  for (const layout of ['NCHW', 'NHWC'] as const)
    it(`cast between every pair of float dtypes rounds to nearest even (${layout})`, () => {
      for (const shape of shapes) {
        const n = numel(shape);
        const x = probes(n);
        for (const from of FLOATS) {
          const src = Float32Array.from(x, (v) => stored(v, from));
          const tx = make(src, shape, device, from, layout);
          assertSame(readNCHW(tx), src, `stored ${from}`);
          for (const to of FLOATS) {
            const y = A().cast(tx, to);
            assert.deepEqual([y.shape, y.dtype, y.layout], [shape, to, layout]);
            assertSame(
              readNCHW(y),
              src.map((v) => stored(v, to)),
              `${from} -> ${to} ${shape}`,
            );
            y.dispose();
          }
          tx.dispose();
        }
      }
    });

  it('casts integers to floats and floats to int32 (toward zero)', () => {
    const shape = [3, 5, 2, 7];
    const n = numel(shape);
    const ints = Int32Array.from({ length: n }, (_, i) => (i % 2 ? -1 : 1) * Math.floor(r() * 3000));
    const ti = A().fromTypedArray(ints, shape, 'int32', 'NCHW', device);
    for (const to of FLOATS) {
      const y = A().cast(ti, to);
      assertSame(
        y.read() as Float32Array,
        Array.from(ints, (v) => stored(v, to)),
        `int32 -> ${to}`,
      );
      y.dispose();
    }
    const bytes = Uint8Array.from({ length: n }, () => Math.floor(r() * 256));
    const tb = A().fromTypedArray(bytes, shape, 'uint8', 'NCHW', device);
    const yb = A().cast(tb, 'float32');
    assertSame(yb.read() as Float32Array, bytes, 'uint8 -> float32');
    const floats = Float32Array.from(normals(n, r, 100));
    const tf = A().fromTypedArray(floats, shape, 'float32', 'NCHW', device);
    const yi = A().cast(tf, 'int32');
    assert.equal(yi.dtype, 'int32');
    assertSame(
      yi.read() as Int32Array,
      Array.from(floats, (v) => Math.trunc(v)),
      'float32 -> int32',
    );
    disposeAll(ti, tb, yb, tf, yi);
  });

  for (const dtype of ['float32', 'float16', 'int32', 'uint8'] as const)
    it(`toLayout permutes NCHW <-> NHWC by index (${dtype})`, () => {
      for (const shape of shapes) {
        const n = numel(shape);
        // Distinct values wherever the dtype can hold them exactly.
        const v = Float32Array.from({ length: n }, (_, i) => (dtype === 'uint8' ? i % 251 : dtype === 'float16' ? (i % 2001) - 1000 : i - Math.floor(n / 2)));
        const tx = fromValues(v, shape, device, dtype, 'NCHW');
        const y = A().toLayout(tx, 'NHWC');
        assert.deepEqual([y.shape, y.dtype, y.layout], [shape, dtype, 'NHWC']);
        // Memory order of the result is the NHWC order of the logical values.
        assertSame(y.read() as ArrayLike<number>, toLayoutOrder(v, shape, 'NHWC'), `NHWC ${shape}`);
        const back = A().toLayout(y, 'NCHW');
        assertSame(back.read() as ArrayLike<number>, v, `round trip ${shape}`);
        const same = A().toLayout(y, 'NHWC');
        assertSame(fromLayoutOrder(same.read() as ArrayLike<number>, shape, 'NHWC'), v, `NHWC -> NHWC ${shape}`);
        disposeAll(tx, y, back, same);
      }
    });

  it('convert equals cast then toLayout for every dtype and layout pair', () => {
    for (const shape of shapes.slice(0, 5)) {
      const x = probes(numel(shape));
      for (const from of FLOATS)
        for (const fromLayout of ['NCHW', 'NHWC'] as LayoutName[]) {
          const tx = make(x, shape, device, from, fromLayout);
          const src = readNCHW(tx);
          for (const to of FLOATS)
            for (const layout of ['NCHW', 'NHWC'] as LayoutName[]) {
              const y = A().convert(tx, to, layout);
              assert.deepEqual([y.shape, y.dtype, y.layout], [shape, to, layout]);
              assert.notEqual(y, tx);
              assertSame(
                readNCHW(y),
                src.map((v) => stored(v, to)),
                `${from} ${fromLayout} -> ${to} ${layout} ${shape}`,
              );
              y.dispose();
            }
          tx.dispose();
        }
    }
    const flat = make([1.5, -2.25, 3], [3], device, 'float32');
    const h = A().convert(flat, 'bfloat16', 'NCHW');
    assert.deepEqual([h.shape, h.dtype], [[3], 'bfloat16']);
    assertSame(h.read() as Float32Array, [1.5, -2.25, 3], '1-D convert');
    disposeAll(flat, h);
  });

  it('the inverse conversion is the gradient: finite differences of sum(w * convert(x))', () => {
    for (const shape of [
      [2, 3, 4, 5],
      [1, 7, 3, 2],
    ]) {
      const n = numel(shape);
      const x = normals(n, r);
      const w = normals(n, r);
      // fp32 NCHW -> NHWC: exact, so finite differences see the whole map.
      const tw = make(w, shape, device, 'float32', 'NHWC');
      const g = A().convert(tw, 'float32', 'NCHW');
      const f = (xv: Float64Array) => {
        const t = make(xv, shape, device);
        const o = A().convert(t, 'float32', 'NHWC');
        const v = dot(readNCHW(o), w);
        disposeAll(t, o);
        return v;
      };
      checkFiniteDiff(f, x, readNCHW(g), someIndices(n, 30, r), `dx ${shape}`, 1e-2, 1e-4, 1e-5);
      disposeAll(tw, g);
    }
  });

  describe('bad arguments', () => {
    const raw = () => native() as unknown as Record<keyof NativeAddon, (...args: unknown[]) => unknown>;
    let owned: NativeTensor[] = [];
    const t = (shape: number[], dtype: DTypeName = 'float32', layout: LayoutName = 'NCHW') => {
      const x = A().empty(shape, dtype, layout, device);
      owned.push(x);
      return x;
    };
    afterEach(() => {
      disposeAll(...owned);
      owned = [];
    });

    it('unknown dtypes and layouts, wrong ranks, foreign objects, argument counts', () => {
      assertThrowsNamed(() => raw().cast(t([3]), 'float64'), TypeError, 'cast', "'dtype'", 'float64');
      assertThrowsNamed(() => raw().cast(t([3]), 16), TypeError, 'cast', "'dtype'");
      assertThrowsNamed(() => raw().toLayout(t([1, 2, 3, 4]), 'CHWN'), TypeError, 'toLayout', "'layout'", 'CHWN');
      assertThrowsNamed(() => A().toLayout(t([2, 3, 4]), 'NHWC'), RangeError, 'toLayout', "'x'", '4-D');
      assertThrowsNamed(() => A().convert(t([6, 4]), 'float16', 'NHWC'), RangeError, 'convert', "'layout'", 'NCHW');
      assertThrowsNamed(() => raw().convert(t([1, 2, 3, 4]), 'float16', 'nhwc'), TypeError, "'layout'");
      assertThrowsNamed(() => raw().convert({ shape: [3] }, 'float16', 'NCHW'), TypeError, "'x'", 'tensor handle');
      assertThrowsNamed(() => raw().cast(t([3])), TypeError, 'cast', 'expected 2');
      assertThrowsNamed(() => raw().convert(t([3]), 'float16'), TypeError, 'convert', 'expected 3');
      const gone = t([3]);
      gone.dispose();
      assertThrowsNamed(() => A().cast(gone, 'float16'), TypeError, "'x'", 'disposed');
    });
  });

  it('refuses values an integer dtype cannot hold instead of wrapping them, as full() does', () => {
    const R = { code: 'ERR_OUT_OF_RANGE', argument: 'x' };
    const cases: [number[], DTypeName, string][] = [
      [[1, 1e12], 'int32', 'element 1'],
      [[Number.NaN], 'int32', 'nan'],
      [[0, -Infinity], 'int32', 'element 1'],
      [[3, -5], 'uint8', 'element 1'],
      [[256], 'uint8', '256'],
      [[Number.NaN], 'uint8', 'nan'],
    ];
    for (const [values, to, fragment] of cases) {
      const x = A().fromTypedArray(Float32Array.from(values), [values.length], 'float32', 'NCHW', device);
      assertArgError(() => A().cast(x, to), RangeError, { ...R, op: 'cast' }, to, fragment);
      assertArgError(() => A().convert(x, to, 'NCHW'), RangeError, { ...R, op: 'convert' }, to);
      assert.throws(() => A().full([1], to, 'NCHW', device, values[values.length - 1]), RangeError, 'full() refuses the same value');
      x.dispose();
    }
    const big = A().fromTypedArray(Int32Array.from([7, 300]), [2], 'int32', 'NCHW', device);
    assertArgError(() => A().cast(big, 'uint8'), RangeError, { ...R, op: 'cast' }, '300');
    // In range: fractions truncate toward zero, the extremes are exact.
    const ok = A().fromTypedArray(Float32Array.from([-0.9, 255.9, 0, 254.5]), [4], 'float32', 'NCHW', device);
    const u = A().cast(ok, 'uint8');
    assert.deepEqual([...(u.read() as Uint8Array)], [0, 255, 0, 254]);
    const edge = A().fromTypedArray(Float32Array.from([-2147483648, 2147483520]), [2], 'float32', 'NCHW', device);
    const i = A().cast(edge, 'int32');
    assert.deepEqual([...(i.read() as Int32Array)], [-2147483648, 2147483520]);
    disposeAll(big, ok, u, edge, i);
  });

  it('refuses NHWC for a tensor that is not 4-D', () => {
    const x = A().fromTypedArray(new Float32Array(6), [2, 3], 'float32', 'NCHW', device);
    assertArgError(() => A().convert(x, 'float16', 'NHWC'), RangeError, { code: 'ERR_OUT_OF_RANGE', op: 'convert', argument: 'layout' }, '2-D');
    assertArgError(() => A().empty([6], 'float32', 'NHWC', device), RangeError, { code: 'ERR_OUT_OF_RANGE', op: 'empty', argument: 'layout' });
    x.dispose();
  });
});
