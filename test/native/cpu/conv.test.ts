// conv2d forward / backward data / backward filter / backward bias against a naive float64
// reference written here, central finite differences of sum(g * y), and the NHWC and
// half-precision paths against fp32 NCHW on the same (rounded) inputs.
import * as assert from 'node:assert/strict';

import { DTypeName, LayoutName, native, NativeTensor } from '../../../lib/native';
import { describeDevices } from '../../helpers/devices';
import { dot, finiteDiff, maxRelErr, numel, randn, rng } from '../../helpers/reference';

type Shape4 = [number, number, number, number];
/** [strideH, strideW, padH, padW, dilationH, dilationW] */
type Params = [number, number, number, number, number, number];

interface Case {
  name: string;
  x: Shape4;
  w: Shape4;
  p: Params;
  bias: boolean;
}

const CASES: Case[] = [
  { name: '7x7 input, 3x3 kernel, stride 2, padding 1', x: [2, 3, 7, 7], w: [4, 3, 3, 3], p: [2, 2, 1, 1, 1, 1], bias: true },
  { name: '1x1 kernel, batch 1 (direct path)', x: [1, 5, 6, 6], w: [6, 5, 1, 1], p: [1, 1, 0, 0, 1, 1], bias: false },
  { name: 'dilation 2, batch 3, non-square input', x: [3, 2, 9, 8], w: [3, 2, 3, 3], p: [1, 1, 2, 2, 2, 2], bias: true },
  { name: 'non-square kernel, mixed strides and padding', x: [2, 3, 5, 9], w: [2, 3, 2, 4], p: [1, 2, 0, 1, 1, 1], bias: false },
  { name: '1x1 kernel, stride 2', x: [3, 4, 8, 8], w: [5, 4, 1, 1], p: [2, 2, 0, 0, 1, 1], bias: true },
  { name: 'C*R*S = 288 > one GEMM depth block, odd K', x: [2, 32, 6, 5], w: [7, 32, 3, 3], p: [1, 1, 1, 1, 1, 1], bias: true },
  { name: 'P*Q = 289 > one GEMM depth block (backward filter)', x: [2, 3, 17, 17], w: [5, 3, 3, 3], p: [1, 1, 1, 1, 1, 1], bias: false },
  { name: 'kernel as large as the padded input, asymmetric dilation', x: [1, 2, 4, 6], w: [3, 2, 3, 2], p: [1, 1, 1, 0, 2, 5], bias: true },
  // Large enough that the CPU backend unfolds the image in several bands of output rows.
  { name: 'several row bands, same-size 3x3', x: [1, 16, 40, 40], w: [4, 16, 3, 3], p: [1, 1, 1, 1, 1, 1], bias: true },
  { name: 'several row bands, stride 2', x: [2, 16, 80, 79], w: [3, 16, 3, 3], p: [2, 2, 1, 1, 1, 1], bias: false },
  // Batch 20: backward filter sums eight fixed runs of two or three images each.
  { name: 'batch 20 of 6x5 images, same-size 3x3', x: [20, 5, 6, 5], w: [4, 5, 3, 3], p: [1, 1, 1, 1, 1, 1], bias: false },
  // 3600 output pixels per image: more columns than one GEMM column block.
  { name: '1x1 over 60x60 pixels', x: [2, 2, 60, 60], w: [3, 2, 1, 1], p: [1, 1, 0, 0, 1, 1], bias: true },
];

function outDims(x: Shape4, w: Shape4, p: Params): [number, number] {
  const P = Math.floor((x[2] + 2 * p[2] - p[4] * (w[2] - 1) - 1) / p[0]) + 1;
  const Q = Math.floor((x[3] + 2 * p[3] - p[5] * (w[3] - 1) - 1) / p[1]) + 1;
  return [P, Q];
}

/** Calls fn(xIndex, wIndex, yIndex) for every multiply-add of the convolution (NCHW / KCRS). */
function forEachTap(x: Shape4, w: Shape4, p: Params, fn: (xi: number, wi: number, yi: number) => void): void {
  const [N, C, H, W] = x;
  const [K, , R, S] = w;
  const [P, Q] = outDims(x, w, p);
  for (let n = 0; n < N; n++)
    for (let k = 0; k < K; k++)
      for (let oh = 0; oh < P; oh++)
        for (let ow = 0; ow < Q; ow++) {
          const yi = ((n * K + k) * P + oh) * Q + ow;
          for (let c = 0; c < C; c++)
            for (let r = 0; r < R; r++) {
              const ih = oh * p[0] - p[2] + r * p[4];
              if (ih < 0 || ih >= H) continue;
              for (let s = 0; s < S; s++) {
                const iw = ow * p[1] - p[3] + s * p[5];
                if (iw < 0 || iw >= W) continue;
                fn(((n * C + c) * H + ih) * W + iw, ((k * C + c) * R + r) * S + s, yi);
              }
            }
        }
}

/** A reference result and, per value, the sum of |terms| that produced it: the scale an fp32
 * summation's rounding error is proportional to, so relative errors stay meaningful for
 * values that cancel to near zero. */
interface Ref {
  v: Float64Array;
  mag: Float64Array;
}

function newRef(n: number): Ref {
  return { v: new Float64Array(n), mag: new Float64Array(n) };
}

function refForward(c: Case, x: Float32Array, w: Float32Array, b: Float32Array | null): Ref {
  const [P, Q] = outDims(c.x, c.w, c.p);
  const y = newRef(c.x[0] * c.w[0] * P * Q);
  if (b)
    for (let i = 0; i < y.v.length; i++) {
      y.v[i] = b[Math.floor(i / (P * Q)) % c.w[0]];
      y.mag[i] = Math.abs(y.v[i]);
    }
  forEachTap(c.x, c.w, c.p, (xi, wi, yi) => {
    y.v[yi] += x[xi] * w[wi];
    y.mag[yi] += Math.abs(x[xi] * w[wi]);
  });
  return y;
}

function refBackwardData(c: Case, dy: Float32Array, w: Float32Array): Ref {
  const dx = newRef(numel(c.x));
  forEachTap(c.x, c.w, c.p, (xi, wi, yi) => {
    dx.v[xi] += dy[yi] * w[wi];
    dx.mag[xi] += Math.abs(dy[yi] * w[wi]);
  });
  return dx;
}

function refBackwardFilter(c: Case, dy: Float32Array, x: Float32Array): Ref {
  const dw = newRef(numel(c.w));
  forEachTap(c.x, c.w, c.p, (xi, wi, yi) => {
    dw.v[wi] += dy[yi] * x[xi];
    dw.mag[wi] += Math.abs(dy[yi] * x[xi]);
  });
  return dw;
}

function refBackwardBias(c: Case, dy: Float32Array): Ref {
  const [P, Q] = outDims(c.x, c.w, c.p);
  const db = newRef(c.w[0]);
  for (let i = 0; i < dy.length; i++) {
    const k = Math.floor(i / (P * Q)) % c.w[0];
    db.v[k] += dy[i];
    db.mag[k] += Math.abs(dy[i]);
  }
  return db;
}

/** max |actual - v| / mag: the error relative to the magnitude summed into each value. */
function refErr(actual: ArrayLike<number>, ref: Ref): number {
  assert.equal(actual.length, ref.v.length, 'length mismatch');
  let worst = 0;
  for (let i = 0; i < actual.length; i++) {
    const d = Math.abs(actual[i] - ref.v[i]);
    const e = d === 0 ? 0 : d / Math.max(ref.mag[i], 1e-30);
    if (!(e <= worst)) worst = Number.isNaN(e) ? Infinity : e;
  }
  return worst;
}

function assertRef(actual: ArrayLike<number>, ref: Ref, tol: number, what: string): void {
  const e = refErr(actual, ref);
  assert.ok(e <= tol, `${what}: max relative error ${e.toExponential(2)} > ${tol}`);
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

/** Relative error per value, floored at 1e-3 of the reference's largest magnitude. */
function relErr(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  return maxRelErr(actual, expected, Math.max(1e-3 * maxAbs(expected), 1e-6));
}

function assertRel(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what: string): void {
  const e = relErr(actual, expected);
  assert.ok(e <= tol, `${what}: max relative error ${e.toExponential(2)} > ${tol}`);
}

describeDevices('conv2d', ({ device, rtol }) => {
  const A = native();
  let owned: NativeTensor[] = [];
  const keep = (t: NativeTensor): NativeTensor => (owned.push(t), t);
  afterEach(() => {
    for (const t of owned) t.dispose();
    owned = [];
  });

  /** fp32 NCHW data -> a tensor of `dtype` / `layout` on the device under test. */
  function make(data: Float32Array, shape: number[], dtype: DTypeName = 'float32', layout: LayoutName = 'NCHW'): NativeTensor {
    let t = A.fromTypedArray(data, shape, 'float32', 'NCHW', device);
    if (dtype !== 'float32') {
      const u = A.cast(t, dtype);
      t.dispose();
      t = u;
    }
    if (layout !== 'NCHW') {
      const u = A.toLayout(t, layout);
      t.dispose();
      t = u;
    }
    return keep(t);
  }

  /** Values in logical (NCHW) order as fp32, whatever the tensor's dtype and layout. */
  function values(t: NativeTensor): Float32Array {
    if (t.shape.length === 4 && t.layout === 'NHWC') {
      const u = A.toLayout(t, 'NCHW');
      try {
        return u.read() as Float32Array;
      } finally {
        u.dispose();
      }
    }
    return t.read() as Float32Array;
  }

  function data(c: Case, seed: number) {
    const [P, Q] = outDims(c.x, c.w, c.p);
    return {
      x: randn(numel(c.x), seed),
      w: randn(numel(c.w), seed + 1, 0.5),
      b: c.bias ? randn(c.w[0], seed + 2) : null,
      dy: randn(c.x[0] * c.w[0] * P * Q, seed + 3),
      yShape: [c.x[0], c.w[0], P, Q],
    };
  }

  CASES.forEach((c, ci) => {
    describe(`x ${JSON.stringify(c.x)}, w ${JSON.stringify(c.w)}: ${c.name}`, () => {
      const d = data(c, 100 * ci + 7);

      it('forward matches the naive reference', () => {
        const y = keep(A.conv2dForward(make(d.x, c.x), make(d.w, c.w), d.b && make(d.b, [c.w[0]]), c.p, false));
        assert.deepEqual(y.shape, d.yShape);
        assert.equal(y.dtype, 'float32');
        assertRef(values(y), refForward(c, d.x, d.w, d.b), rtol, 'y');
      });

      it('backward data, filter and bias match the naive reference', () => {
        const dy = make(d.dy, d.yShape);
        const dx = keep(A.conv2dBackwardData(dy, make(d.w, c.w), c.x, c.p, false));
        const dw = keep(A.conv2dBackwardFilter(dy, make(d.x, c.x), c.w, c.p, false));
        const db = keep(A.conv2dBackwardBias(dy));
        assert.deepEqual(dx.shape, c.x);
        assert.deepEqual(dw.shape, c.w);
        assert.deepEqual(db.shape, [c.w[0]]);
        assert.equal(db.dtype, 'float32');
        assertRef(values(dx), refBackwardData(c, d.dy, d.w), rtol, 'dx');
        assertRef(values(dw), refBackwardFilter(c, d.dy, d.x), rtol, 'dw');
        assertRef(values(db), refBackwardBias(c, d.dy), rtol, 'db');
      });

      it('gradients match central finite differences of sum(g * y)', () => {
        const g = d.dy;
        const loss = (x: Float32Array, w: Float32Array, b: Float32Array | null): number => {
          const xt = A.fromTypedArray(x, c.x, 'float32', 'NCHW', device);
          const wt = A.fromTypedArray(w, c.w, 'float32', 'NCHW', device);
          const bt = b && A.fromTypedArray(b, [c.w[0]], 'float32', 'NCHW', device);
          const y = A.conv2dForward(xt, wt, bt, c.p, false);
          const l = dot(g, y.read() as Float32Array);
          for (const t of [xt, wt, bt, y]) t?.dispose();
          return l;
        };
        const gt = make(g, d.yShape);
        const dx = values(keep(A.conv2dBackwardData(gt, make(d.w, c.w), c.x, c.p, false)));
        const dw = values(keep(A.conv2dBackwardFilter(gt, make(d.x, c.x), c.w, c.p, false)));
        const db = values(keep(A.conv2dBackwardBias(gt)));
        const pick = (n: number, seed: number): number[] => {
          const r = rng(seed);
          return Array.from({ length: Math.min(n, 10) }, () => Math.floor(r() * n));
        };
        const check = (analytic: Float32Array, fd: Float64Array, idx: number[], what: string) => {
          const a = idx.map((i) => analytic[i]);
          const f = idx.map((i) => fd[i]);
          const e = maxRelErr(a, f, Math.max(1e-2 * maxAbs(f), 1e-3));
          assert.ok(e <= 1e-2, `${what}: finite-difference relative error ${e.toExponential(2)} > 1e-2 (${a} vs ${f})`);
        };
        const xi = pick(d.x.length, ci + 1);
        check(dx, finiteDiff((x) => loss(x, d.w, d.b), d.x, 1e-2, xi), xi, 'dx');
        const wi = pick(d.w.length, ci + 2);
        check(dw, finiteDiff((w) => loss(d.x, w, d.b), d.w, 1e-2, wi), wi, 'dw');
        const b = d.b ?? new Float32Array(c.w[0]);
        const bi = Array.from({ length: c.w[0] }, (_, i) => i);
        check(db, finiteDiff((bb) => loss(d.x, d.w, bb), b, 1e-2, bi), bi, 'db');
      });
    });
  });

  const VARIANTS: [DTypeName, LayoutName, number][] = [
    ['float32', 'NHWC', 1e-5],
    ['float16', 'NCHW', 2e-3],
    ['float16', 'NHWC', 2e-3],
    ['bfloat16', 'NCHW', 1e-2],
    ['bfloat16', 'NHWC', 1e-2],
  ];
  for (const [dtype, layout, tol] of VARIANTS) {
    it(`${dtype} ${layout} inputs give the fp32 NCHW results (within output rounding)`, () => {
      for (const c of [CASES[0], CASES[2], CASES[5]]) {
        const d = data(c, 55);
        // Round the inputs to the dtype once, so both paths see the same values.
        const q = (v: Float32Array, shape: number[]) => values(make(v, shape, dtype));
        const x = q(d.x, c.x), w = q(d.w, c.w), dy = q(d.dy, d.yShape);
        const ref = {
          y: values(keep(A.conv2dForward(make(x, c.x), make(w, c.w), d.b && make(d.b, [c.w[0]]), c.p, false))),
          dx: values(keep(A.conv2dBackwardData(make(dy, d.yShape), make(w, c.w), c.x, c.p, false))),
          dw: values(keep(A.conv2dBackwardFilter(make(dy, d.yShape), make(x, c.x), c.w, c.p, false))),
          db: values(keep(A.conv2dBackwardBias(make(dy, d.yShape)))),
        };
        const xt = make(d.x, c.x, dtype, layout), wt = make(d.w, c.w, dtype, layout);
        const dyt = make(d.dy, d.yShape, dtype, layout);
        const y = keep(A.conv2dForward(xt, wt, d.b && make(d.b, [c.w[0]]), c.p, true));
        const dx = keep(A.conv2dBackwardData(dyt, wt, c.x, c.p, true));
        const dw = keep(A.conv2dBackwardFilter(dyt, xt, c.w, c.p, true));
        const db = keep(A.conv2dBackwardBias(dyt));
        for (const [t, shape] of [[y, d.yShape], [dx, c.x], [dw, c.w]] as [NativeTensor, number[]][]) {
          assert.equal(t.dtype, dtype);
          assert.equal(t.layout, layout);
          assert.deepEqual(t.shape, shape);
        }
        assert.equal(db.dtype, 'float32');
        assertRel(values(y), ref.y, tol, `${c.name}: y`);
        assertRel(values(dx), ref.dx, tol, `${c.name}: dx`);
        assertRel(values(dw), ref.dw, tol, `${c.name}: dw`);
        assertRel(values(db), ref.db, 1e-5, `${c.name}: db`);
      }
    });
  }

  it('a ResNet-sized layer (batch 9, 16 channels, 12x12) matches the reference in forward and backward', () => {
    const c: Case = { name: 'resnet', x: [9, 16, 12, 12], w: [16, 16, 3, 3], p: [1, 1, 1, 1, 1, 1], bias: false };
    const d = data(c, 999);
    const x = make(d.x, c.x), w = make(d.w, c.w), dy = make(d.dy, d.yShape);
    assertRef(values(keep(A.conv2dForward(x, w, null, c.p, false))), refForward(c, d.x, d.w, null), rtol, 'y');
    assertRef(values(keep(A.conv2dBackwardData(dy, w, c.x, c.p, false))), refBackwardData(c, d.dy, d.w), rtol, 'dx');
    assertRef(values(keep(A.conv2dBackwardFilter(dy, x, c.w, c.p, false))), refBackwardFilter(c, d.dy, d.x), rtol, 'dw');
  });

  it('leaves no live tensors behind', () => {
    const before = A.memoryStats().liveTensors;
    const c = CASES[0];
    const d = data(c, 3);
    const x = A.fromTypedArray(d.x, c.x, 'float32', 'NHWC', device);
    const w = A.fromTypedArray(d.w, c.w, 'float32', 'NHWC', device);
    const y = A.conv2dForward(x, w, null, c.p, false);
    const dx = A.conv2dBackwardData(y, w, c.x, c.p, false);
    const dw = A.conv2dBackwardFilter(y, x, c.w, c.p, false);
    const db = A.conv2dBackwardBias(y);
    assert.equal(A.memoryStats().liveTensors, before + 6);
    for (const t of [x, w, y, dx, dw, db]) t.dispose();
    assert.equal(A.memoryStats().liveTensors, before);
  });
});
