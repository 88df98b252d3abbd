// 2-D max and average pooling: forward against a naive reference, backward against the
// reference and central differences, first-max tie routing, global average pooling,
// fp16/bf16 NHWC, and argument checks.
import * as assert from 'node:assert/strict';

import { native, PoolModeName } from '../../lib/native';
import { describeDevices, fewer } from '../helpers/devices';
import { assertThrowsNamed } from '../helpers/reference';
import { checkFiniteDiff, close, disposeAll, make, normals, randInt, readNCHW, rng, rounded, someIndices } from './ops-common';

interface Pool {
  mode: PoolModeName;
  k: [number, number];
  s: [number, number];
  p: [number, number];
  cip: boolean;
}

const params = (q: Pool) => [q.k[0], q.k[1], q.s[0], q.s[1], q.p[0], q.p[1]];
const outSize = (n: number, k: number, s: number, p: number) => Math.floor((n + 2 * p - k) / s) + 1;

// For each output, the in-bounds input indices of its window (row-major) and its divisor.
function windows(shape: number[], q: Pool) {
  const [N, C, H, W] = shape;
  const Ho = outSize(H, q.k[0], q.s[0], q.p[0]),
    Wo = outSize(W, q.k[1], q.s[1], q.p[1]);
  const out: { idx: number[]; div: number }[] = [];
  for (let nc = 0; nc < N * C; nc++)
    for (let oh = 0; oh < Ho; oh++)
      for (let ow = 0; ow < Wo; ow++) {
        const idx: number[] = [];
        for (let i = 0; i < q.k[0]; i++)
          for (let j = 0; j < q.k[1]; j++) {
            const h = oh * q.s[0] - q.p[0] + i,
              w = ow * q.s[1] - q.p[1] + j;
            if (h >= 0 && h < H && w >= 0 && w < W) idx.push((nc * H + h) * W + w);
          }
        out.push({ idx, div: q.mode === 'avg' && q.cip ? q.k[0] * q.k[1] : idx.length });
      }
  return { wins: out, yShape: [N, C, Ho, Wo] };
}

function poolRef(x: ArrayLike<number>, shape: number[], q: Pool): Float64Array {
  const { wins } = windows(shape, q);
  return Float64Array.from(wins, ({ idx, div }) => (q.mode === 'max' ? Math.max(...idx.map((i) => x[i])) : idx.reduce((s, i) => s + x[i], 0) / div));
}

function poolBackwardRef(dy: ArrayLike<number>, x: ArrayLike<number>, shape: number[], q: Pool): Float64Array {
  const { wins } = windows(shape, q);
  const dx = new Float64Array(x.length);
  wins.forEach(({ idx, div }, o) => {
    if (q.mode === 'max') {
      let best = idx[0];
      for (const i of idx) if (x[i] > x[best]) best = i; // first maximum wins
      dx[best] += dy[o];
    } else {
      for (const i of idx) dx[i] += dy[o] / div;
    }
  });
  return dx;
}

function randomPool(r: () => number, mode: PoolModeName): { shape: number[]; q: Pool } {
  const k: [number, number] = [randInt(r, 1, 4), randInt(r, 1, 4)];
  const p: [number, number] = [randInt(r, 0, Math.floor(k[0] / 2)), randInt(r, 0, Math.floor(k[1] / 2))];
  const s: [number, number] = [randInt(r, 1, 3), randInt(r, 1, 3)];
  const shape = [randInt(r, 1, 3), randInt(r, 1, 4), randInt(r, Math.max(1, k[0] - 2 * p[0]), 9), randInt(r, Math.max(1, k[1] - 2 * p[1]), 9)];
  return { shape, q: { mode, k, s, p, cip: r() < 0.5 } };
}

// Distinct values at least 0.05 apart, so a finite-difference step never changes a max.
function distinct(n: number, r: () => number): Float64Array {
  const v = Float64Array.from({ length: n }, (_, i) => (i - n / 2) * 0.05);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [v[i], v[j]] = [v[j], v[i]];
  }
  return v;
}

describeDevices('pooling', (d) => {
  const dev = d.device;
  const nat = () => native();

  const fixed: { shape: number[]; q: Pool }[] = [
    { shape: [2, 3, 7, 5], q: { mode: 'max', k: [3, 3], s: [2, 2], p: [1, 1], cip: true } },
    { shape: [1, 2, 9, 9], q: { mode: 'avg', k: [3, 2], s: [2, 3], p: [1, 1], cip: true } },
    { shape: [3, 1, 5, 7], q: { mode: 'avg', k: [3, 3], s: [1, 2], p: [1, 0], cip: false } },
    { shape: [1, 3, 8, 8], q: { mode: 'max', k: [2, 2], s: [2, 2], p: [0, 0], cip: true } },
  ];

  for (const mode of ['max', 'avg'] as const) {
    it(`${mode} forward matches the reference on random shapes`, () => {
      const r = rng(mode === 'max' ? 41 : 42);
      const cases = fewer([...fixed.filter((f) => f.q.mode === mode), ...Array.from({ length: 8 }, () => randomPool(r, mode))], 3);
      for (const { shape, q } of cases) {
        const x = normals(
          shape.reduce((a, b) => a * b),
          r,
        );
        const tx = make(x, shape, dev);
        const y = nat().pool2dForward(tx, q.mode, params(q), q.cip);
        assert.deepEqual(y.shape, windows(shape, q).yShape);
        close(readNCHW(y), poolRef(x, shape, q), 1e-4, `${mode} ${shape} ${params(q)} cip=${q.cip}`);
        disposeAll(tx, y);
      }
    });

    it(`${mode} backward matches the reference and finite differences`, () => {
      const r = rng(mode === 'max' ? 43 : 44);
      const cases = fewer([...fixed.filter((f) => f.q.mode === mode), ...Array.from({ length: 5 }, () => randomPool(r, mode))], 3);
      for (const { shape, q } of cases) {
        const n = shape.reduce((a, b) => a * b);
        const x = distinct(n, r);
        const tx = make(x, shape, dev);
        const ty = nat().pool2dForward(tx, q.mode, params(q), q.cip);
        const w = normals(
          ty.shape.reduce((a, b) => a * b),
          r,
        );
        const tw = make(w, ty.shape, dev);
        const dx = readNCHW(nat().pool2dBackward(tw, tx, ty, q.mode, params(q), q.cip));
        close(dx, poolBackwardRef(w, x, shape, q), 1e-4, `${mode} dx ${shape} ${params(q)}`, 1e-2);
        const f = (xv: Float64Array) => {
          const t = make(xv, shape, dev);
          const y = nat().pool2dForward(t, q.mode, params(q), q.cip);
          const v = readNCHW(y).reduce((s, yi, i) => s + yi * w[i], 0);
          disposeAll(t, y);
          return v;
        };
        checkFiniteDiff(f, Float64Array.from(x), dx, someIndices(n, 30, r), `${mode} dx ${shape}`, 1e-2, 1e-2, 1e-3);
        disposeAll(tx, ty, tw);
      }
    });
  }

  it("max backward sends a tied window's gradient to its first maximum only", () => {
    // Every window of a constant input is a tie; with a 2x2 kernel, stride 1 and no padding,
    // the first element of each window is its top-left corner.
    const shape = [1, 1, 3, 4];
    const tx = make(new Float32Array(12).fill(2), shape, dev);
    const ty = nat().pool2dForward(tx, 'max', [2, 2, 1, 1, 0, 0], true);
    const dy = make([1, 2, 3, 4, 5, 6], [1, 1, 2, 3], dev);
    const dx = readNCHW(nat().pool2dBackward(dy, tx, ty, 'max', [2, 2, 1, 1, 0, 0], true));
    assert.deepEqual([...dx], [1, 2, 3, 0, 4, 5, 6, 0, 0, 0, 0, 0]);
    // A tie inside one window: [0 5; 5 5] -> the gradient goes to (0, 1).
    const t2 = make([0, 5, 5, 5], [1, 1, 2, 2], dev);
    const y2 = nat().pool2dForward(t2, 'max', [2, 2, 2, 2, 0, 0], true);
    const g2 = make([7], [1, 1, 1, 1], dev);
    assert.deepEqual([...readNCHW(nat().pool2dBackward(g2, t2, y2, 'max', [2, 2, 2, 2, 0, 0], true))], [0, 7, 0, 0]);
    disposeAll(tx, ty, dy, t2, y2, g2);
  });

  it('global average pooling (kernel = H x W) is the per-plane mean, its backward spreads dy / (H W)', () => {
    const r = rng(45);
    for (const shape of [
      [2, 5, 7, 7],
      [3, 4, 1, 9],
      [1, 16, 8, 8],
    ]) {
      const [N, C, H, W] = shape;
      const x = normals(N * C * H * W, r);
      const tx = make(x, shape, dev);
      const y = nat().pool2dForward(tx, 'avg', [H, W, 1, 1, 0, 0], true);
      assert.deepEqual(y.shape, [N, C, 1, 1]);
      const mean = Float64Array.from({ length: N * C }, (_, p) => x.slice(p * H * W, (p + 1) * H * W).reduce((a, b) => a + b, 0) / (H * W));
      close(readNCHW(y), mean, 1e-4, `global mean ${shape}`);
      const dy = normals(N * C, r);
      const tdy = make(dy, [N, C, 1, 1], dev);
      const dx = readNCHW(nat().pool2dBackward(tdy, tx, y, 'avg', [H, W, 1, 1, 0, 0], true));
      close(
        dx,
        Float64Array.from(dx, (_, i) => dy[Math.floor(i / (H * W))] / (H * W)),
        1e-4,
        `global dx ${shape}`,
      );
      disposeAll(tx, y, tdy);
    }
  });

  for (const dtype of ['float16', 'bfloat16', 'float32'] as const) {
    it(`${dtype} NHWC matches the reference on the rounded inputs`, () => {
      const r = rng(46);
      const tol = dtype === 'float16' ? 1e-3 : dtype === 'bfloat16' ? 8e-3 : 1e-4;
      for (const q of [fixed[0].q, fixed[2].q]) {
        const shape = [2, 6, 7, 9];
        const n = shape.reduce((a, b) => a * b);
        const x = rounded(distinct(n, r), dtype);
        const tx = make(x, shape, dev, dtype, 'NHWC');
        const y = nat().pool2dForward(tx, q.mode, params(q), q.cip);
        assert.equal(y.layout, 'NHWC');
        assert.equal(y.dtype, dtype);
        close(readNCHW(y), poolRef(x, shape, q), tol, `${dtype} ${q.mode} forward`, 1e-1);
        const dy = rounded(
          normals(
            y.shape.reduce((a, b) => a * b),
            r,
          ),
          dtype,
        );
        const tdy = make(dy, y.shape, dev, dtype, 'NHWC');
        const dx = nat().pool2dBackward(tdy, tx, y, q.mode, params(q), q.cip);
        assert.equal(dx.layout, 'NHWC');
        close(readNCHW(dx), poolBackwardRef(dy, x, shape, q), tol, `${dtype} ${q.mode} backward`, 1e-1);
        disposeAll(tx, y, tdy, dx);
      }
    });
  }

  it('refuses bad arguments, naming them', () => {
    const x = make(new Float32Array(2 * 3 * 6 * 6), [2, 3, 6, 6], dev);
    const y = nat().pool2dForward(x, 'max', [2, 2, 2, 2, 0, 0], true);
    const wrong = make(new Float32Array(2 * 3 * 2 * 2), [2, 3, 2, 2], dev);
    const p = [2, 2, 2, 2, 0, 0];
    const fwd =
      (...o: unknown[]) =>
      () =>
        (nat().pool2dForward as (...a: unknown[]) => unknown)(...o);
    assertThrowsNamed(fwd(x, 'min', p, true), TypeError, "'mode'");
    assertThrowsNamed(fwd(x, 'max', [2, 2, 2, 2, 0], true), RangeError, "'params'", '6');
    assertThrowsNamed(fwd(x, 'max', [0, 2, 2, 2, 0, 0], true), RangeError, "'params'", 'kernel');
    assertThrowsNamed(fwd(x, 'max', [2, 2, 0, 2, 0, 0], true), RangeError, "'params'", 'stride');
    assertThrowsNamed(fwd(x, 'max', [3, 3, 1, 1, 2, 0], true), RangeError, "'params'", 'half');
    assertThrowsNamed(fwd(x, 'max', [7, 2, 1, 1, 0, 0], true), RangeError, "'params'", 'larger');
    assertThrowsNamed(fwd(x, 'avg', [2, 2, 1.5, 2, 0, 0], true), RangeError, "'params[2]'");
    assertThrowsNamed(fwd(x, 'avg', p, 'yes'), TypeError, "'countIncludePad'");
    assertThrowsNamed(() => nat().pool2dBackward(wrong, x, y, 'max', p, true), RangeError, "'dy'", '[2, 3, 3, 3]');
    assertThrowsNamed(() => nat().pool2dBackward(y, x, wrong, 'max', p, true), RangeError, "'y'");
    disposeAll(x, y, wrong);
  });
});

// CPU only: NaNs, signed zeros and ties are where backends may differ, and where the CPU's
// vectorised path for 3-wide, stride-2 max windows must agree with its scalar rule: a tap
// replaces the running maximum only when strictly greater (so a NaN wins only as a window's
// first in-bounds element, and the first of tied maxima, -0 and 0 alike, is kept).
describe('pooling (cpu): 3-wide stride-2 max windows keep the scalar rule bit for bit', () => {
  // The first maximum by the strict rule, for each output, as an index into x.
  function firstMax(x: Float32Array, shape: number[], q: Pool): Int32Array {
    return Int32Array.from(windows(shape, q).wins, ({ idx }) => idx.reduce((best, i) => (x[i] > x[best] ? i : best), idx[0]));
  }

  it('on shapes with odd widths and heights, ties, signed zeros and NaNs', () => {
    const r = rng(41);
    const pick = [-1, -0, 0, 0.5, 2, NaN];
    for (let trial = 0; trial < 60; trial++) {
      const kh = randInt(r, 1, 3);
      const q: Pool = { mode: 'max', k: [kh, 3], s: [randInt(r, 1, 2), 2], p: [randInt(r, 0, kh >> 1), randInt(r, 0, 1)], cip: true };
      const W = [3, 4, 5, 8, 9, 16, 17, 24, 33][randInt(r, 0, 8)];
      const shape = [randInt(r, 1, 2), randInt(r, 1, 3), randInt(r, Math.max(1, kh - 2 * q.p[0]), 9), W];
      const n = shape.reduce((a, b) => a * b, 1);
      const x = Float32Array.from({ length: n }, () => (r() < 0.05 ? NaN : pick[randInt(r, 0, 4)]));
      const dyShape = windows(shape, q).yShape;
      const dy = Float32Array.from({ length: dyShape.reduce((a, b) => a * b, 1) }, () => Math.fround(r() - 0.5));
      const best = firstMax(x, shape, q);
      const tx = make(x, shape, 'cpu');
      const y = native().pool2dForward(tx, 'max', params(q), true);
      const tdy = make(dy, dyShape, 'cpu');
      const dx = native().pool2dBackward(tdy, tx, y, 'max', params(q), true);
      const what = `shape [${shape}] kernel ${q.k} stride ${q.s} pad ${q.p}`;
      const ys = y.read() as Float32Array;
      best.forEach((b, o) => assert.ok(Object.is(ys[o], x[b]), `${what}: output ${o} is ${ys[o]}, want x[${b}] = ${x[b]}`));
      const want = new Float64Array(n);
      best.forEach((b, o) => (want[b] += dy[o]));
      assert.deepEqual(dx.read(), Float32Array.from(want), `${what}: backward`);
      disposeAll(tx, y, tdy, dx);
    }
  });
});
