// Tools for the training-stack tests: gradient checks of whole functions of Tensors by
// central finite differences, computed with recording off.
import * as assert from 'node:assert/strict';

import { noGrad } from '../../lib/autograd';
import { Tensor, tidy } from '../../lib/tensor';
import { rng } from '../helpers/reference';

/** sum(w * y) on the host, in float64. */
export function project(y: Tensor, w: Float32Array): number {
  const v = y.dataSync();
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * w[i];
  return s;
}

/** n distinct indices in [0, size), seeded. */
export function pickIndices(size: number, n: number, seed: number): number[] {
  if (n >= size) return Array.from({ length: size }, (_, i) => i);
  const r = rng(seed);
  const set = new Set<number>();
  while (set.size < n) set.add(Math.floor(r() * size));
  return [...set];
}

/**
 * Central differences of f (a scalar function of the current value of `t`) with respect to
 * t's elements at `indices`; t is modified in place and restored. f runs under noGrad.
 */
export function numericGrad(t: Tensor, f: () => number, indices: number[], h = 1e-2): Float64Array {
  const base = Float32Array.from(t.dataSync() as Float32Array);
  const out = new Float64Array(indices.length);
  const set = (arr: Float32Array) =>
    tidy(() => {
      t.copyFrom(Tensor.fromArray(arr, t.shape, { device: t.device, layout: t.layout }));
    });
  indices.forEach((idx, k) => {
    const v = base[idx];
    base[idx] = v + h;
    set(base);
    const fp = noGrad(() => tidy(f));
    base[idx] = v - h;
    set(base);
    const fm = noGrad(() => tidy(f));
    base[idx] = v;
    out[k] = (fp - fm) / (2 * h);
  });
  set(base);
  return out;
}

/** ||a - b|| / ||b|| <= tol, with a readable failure. */
export function assertGradClose(analytic: ArrayLike<number>, numeric: ArrayLike<number>, tol: number, what: string): void {
  let num = 0;
  let den = 0;
  for (let i = 0; i < numeric.length; i++) {
    num += (analytic[i] - numeric[i]) ** 2;
    den += numeric[i] ** 2;
  }
  const rel = Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-6);
  assert.ok(den > 0 || num === 0, `${what}: numeric gradient is all zero`);
  assert.ok(
    rel <= tol,
    `${what}: relative error ${rel.toExponential(2)} > ${tol}\n  analytic ${Array.from(analytic)
      .slice(0, 6)
      .map((v) => v.toFixed(5))}\n  numeric  ${Array.from(numeric)
      .slice(0, 6)
      .map((v) => v.toFixed(5))}`,
  );
}

/** Values of t at indices. */
export function at(t: Tensor, indices: number[]): number[] {
  const v = t.dataSync();
  return indices.map((i) => v[i]);
}
