// Shared tools for the op-family tests, which run on every device (elementwise, batch norm,
// pooling, loss, SGD, fills, reductions, shortcut): tensors in either layout and any float
// dtype built from NCHW data, read back as NCHW, and comparisons with an explicit floor for
// near-zero values.
import * as assert from 'node:assert/strict';

import { DTypeName, LayoutName, native, NativeAddon, NativeTensor } from '../../lib/native';
import { finiteDiff, maxRelErr, rng } from '../helpers/reference';

export { rng };

/** Logical [N, C, H, W] data in NCHW order -> memory order of `layout`. */
export function toLayoutOrder(data: ArrayLike<number>, shape: number[], layout: LayoutName): Float32Array {
  const out = Float32Array.from(data);
  if (layout === 'NCHW' || shape.length !== 4) return out;
  const [N, C, H, W] = shape;
  for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) for (let p = 0; p < H * W; p++) out[(n * H * W + p) * C + c] = data[(n * C + c) * H * W + p];
  return out;
}

/** Memory order of `layout` -> NCHW order. */
export function fromLayoutOrder(data: ArrayLike<number>, shape: number[], layout: LayoutName): Float32Array {
  const out = Float32Array.from(data);
  if (layout === 'NCHW' || shape.length !== 4) return out;
  const [N, C, H, W] = shape;
  for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) for (let p = 0; p < H * W; p++) out[(n * C + c) * H * W + p] = data[(n * H * W + p) * C + c];
  return out;
}

export function make(data: ArrayLike<number>, shape: number[], device: string, dtype: DTypeName = 'float32', layout: LayoutName = 'NCHW'): NativeTensor {
  return native().fromTypedArray(toLayoutOrder(data, shape, layout), shape, dtype, layout, device);
}

/** Values as NCHW fp32, whatever the tensor's dtype and layout. */
export function readNCHW(t: NativeTensor): Float32Array {
  return fromLayoutOrder(t.read() as Float32Array, t.shape, t.layout);
}

/** The data as the given dtype stores it (fp16/bf16 rounding), as plain numbers. */
export function rounded(data: ArrayLike<number>, dtype: DTypeName): Float32Array {
  if (dtype === 'float32') return Float32Array.from(data);
  const t = native().fromTypedArray(Float32Array.from(data), [data.length], dtype, 'NCHW', 'cpu');
  const r = t.read() as Float32Array;
  t.dispose();
  return r;
}

/** Relative error with an absolute floor: |a - b| / max(|b|, floor) <= rtol everywhere. */
export function close(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol: number, what: string, floor = 1e-3): void {
  const e = maxRelErr(actual, expected, floor);
  assert.ok(e <= rtol, `${what}: max relative error ${e.toExponential(2)} > ${rtol}`);
}

export function randInt(r: () => number, lo: number, hi: number): number {
  return lo + Math.floor(r() * (hi - lo + 1));
}

/** Normal(0, 1) samples as float64 from a seeded stream. */
export function normals(n: number, r: () => number, scale = 1, offset = 0): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const u = Math.max(r(), 1e-12);
    out[i] = offset + scale * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r());
  }
  return Float64Array.from(Float32Array.from(out)); // exactly representable in fp32
}

/** Up to k distinct indices of [0, n), in increasing order. */
export function someIndices(n: number, k: number, r: () => number): number[] {
  if (n <= k) return Array.from({ length: n }, (_, i) => i);
  const s = new Set<number>();
  while (s.size < k) s.add(Math.floor(r() * n));
  return [...s].sort((a, b) => a - b);
}

/**
 * Central differences of f at the given indices of x (x is restored afterwards), compared
 * with the analytic gradient: |fd - g| <= atol + rtol * |g|.
 */
export function checkFiniteDiff(
  f: (x: Float64Array) => number,
  x: Float64Array,
  grad: ArrayLike<number>,
  indices: number[],
  what: string,
  h = 1e-2,
  rtol = 1e-2,
  atol = 1e-3,
): void {
  const fdAll = finiteDiff(f, x, h, indices);
  for (const i of indices) {
    const fd = fdAll[i];
    assert.ok(Math.abs(fd - grad[i]) <= atol + rtol * Math.abs(grad[i]), `${what}[${i}]: finite difference ${fd} vs analytic ${grad[i]}`);
  }
}

export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** Disposes the given tensors, skipping absent ones. */
export function disposeAll(...ts: (NativeTensor | undefined | null)[]): void {
  for (const t of ts) t?.dispose();
}

/**
 * For the bad-argument suites: the addon with its types erased (to make the calls TypeScript
 * would refuse) and a maker of empty tensors on `device` that are freed after each test.
 * Call inside a describe block (it registers an afterEach).
 */
export function badCallKit(device: string): {
  raw: Record<keyof NativeAddon, (...args: unknown[]) => unknown>;
  t: (shape: number[], dtype?: 'float32' | 'float16' | 'int32', layout?: 'NCHW' | 'NHWC', dev?: string) => NativeTensor;
} {
  const A = native();
  let owned: NativeTensor[] = [];
  afterEach(() => {
    for (const x of owned) x.dispose();
    owned = [];
  });
  return {
    raw: A as unknown as Record<keyof NativeAddon, (...args: unknown[]) => unknown>,
    t: (shape, dtype = 'float32', layout = 'NCHW', dev = device) => {
      const x = A.empty(shape, dtype, layout, dev);
      owned.push(x);
      return x;
    },
  };
}
