// A naive float64 conv2d (forward, backward data / filter / bias) over NCHW / KCRS data, with
// per-value magnitudes so relative errors stay meaningful where terms cancel.
import * as assert from 'node:assert/strict';

import { maxRelErr, numel } from './reference';

export type Shape4 = [number, number, number, number];
/** [strideH, strideW, padH, padW, dilationH, dilationW] */
export type Params = [number, number, number, number, number, number];

export interface Case {
  name: string;
  x: Shape4;
  w: Shape4;
  p: Params;
  bias: boolean;
}

export function outDims(x: Shape4, w: Shape4, p: Params): [number, number] {
  const P = Math.floor((x[2] + 2 * p[2] - p[4] * (w[2] - 1) - 1) / p[0]) + 1;
  const Q = Math.floor((x[3] + 2 * p[3] - p[5] * (w[3] - 1) - 1) / p[1]) + 1;
  return [P, Q];
}

/** Calls fn(xIndex, wIndex, yIndex) for every multiply-add of the convolution (NCHW / KCRS). */
export function forEachTap(x: Shape4, w: Shape4, p: Params, fn: (xi: number, wi: number, yi: number) => void): void {
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
export interface Ref {
  v: Float64Array;
  mag: Float64Array;
}

export function newRef(n: number): Ref {
  return { v: new Float64Array(n), mag: new Float64Array(n) };
}

export function refForward(c: Case, x: Float32Array, w: Float32Array, b: Float32Array | null): Ref {
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

export function refBackwardData(c: Case, dy: Float32Array, w: Float32Array): Ref {
  const dx = newRef(numel(c.x));
  forEachTap(c.x, c.w, c.p, (xi, wi, yi) => {
    dx.v[xi] += dy[yi] * w[wi];
    dx.mag[xi] += Math.abs(dy[yi] * w[wi]);
  });
  return dx;
}

export function refBackwardFilter(c: Case, dy: Float32Array, x: Float32Array): Ref {
  const dw = newRef(numel(c.w));
  forEachTap(c.x, c.w, c.p, (xi, wi, yi) => {
    dw.v[wi] += dy[yi] * x[xi];
    dw.mag[wi] += Math.abs(dy[yi] * x[xi]);
  });
  return dw;
}

export function refBackwardBias(c: Case, dy: Float32Array): Ref {
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
export function refErr(actual: ArrayLike<number>, ref: Ref): number {
  assert.equal(actual.length, ref.v.length, 'length mismatch');
  let worst = 0;
  for (let i = 0; i < actual.length; i++) {
    const d = Math.abs(actual[i] - ref.v[i]);
    const e = d === 0 ? 0 : d / Math.max(ref.mag[i], 1e-30);
    if (!(e <= worst)) worst = Number.isNaN(e) ? Infinity : e;
  }
  return worst;
}

export function assertRef(actual: ArrayLike<number>, ref: Ref, tol: number, what: string): void {
  const e = refErr(actual, ref);
  assert.ok(e <= tol, `${what}: max relative error ${e.toExponential(2)} > ${tol}`);
}

export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

/** Relative error per value, floored at 1e-3 of the reference's largest magnitude. */
export function relErr(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  return maxRelErr(actual, expected, Math.max(1e-3 * maxAbs(expected), 1e-6));
}

export function assertRel(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what: string): void {
  const e = relErr(actual, expected);
  assert.ok(e <= tol, `${what}: max relative error ${e.toExponential(2)} > ${tol}`);
}
