// Test-side tools: a seeded RNG, tensor construction from plain arrays, error measures and
// central finite differences. References for each op live in that op's test file.
import * as assert from 'node:assert/strict';

import { native, NativeTensor } from '../../lib/native';

/** mulberry32: small, seeded, good enough for test data. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randn(n: number, seed: number, scale = 1): Float32Array {
  const r = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = Math.max(r(), 1e-12);
    out[i] = scale * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r());
  }
  return out;
}

export function numel(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function tensor(data: Float32Array | number[], shape: number[], device = 'cpu'): NativeTensor {
  const arr = data instanceof Float32Array ? data : Float32Array.from(data);
  return native().fromTypedArray(arr, shape, 'float32', 'NCHW', device);
}

export function int32Tensor(data: Int32Array | number[], shape: number[], device = 'cpu'): NativeTensor {
  const arr = data instanceof Int32Array ? data : Int32Array.from(data);
  return native().fromTypedArray(arr, shape, 'int32', 'NCHW', device);
}

export function read(t: NativeTensor): Float32Array {
  return t.read() as Float32Array;
}

/** max |a - b| / max(|b|, floor): relative error that tolerates values near zero. */
export function maxRelErr(a: ArrayLike<number>, b: ArrayLike<number>, floor = 1e-3): number {
  assert.equal(a.length, b.length, 'length mismatch');
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const e = Math.abs(a[i] - b[i]) / Math.max(Math.abs(b[i]), floor);
    if (!(e <= worst)) worst = Number.isNaN(e) ? Infinity : Math.max(worst, e);
  }
  return worst;
}

export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol = 1e-4, what = 'values'): void {
  const e = maxRelErr(actual, expected);
  assert.ok(e <= rtol, `${what}: max relative error ${e.toExponential(2)} > ${rtol}`);
}

/**
 * Central finite differences of a scalar function f(x) at x, in float64 on the host:
 * d f / d x_i ~ (f(x + h e_i) - f(x - h e_i)) / 2h, for the indices given (all by default).
 */
export function finiteDiff<T extends Float32Array | Float64Array>(f: (x: T) => number, x: T, h = 1e-2, indices?: number[]): Float64Array {
  const idx = indices ?? Array.from({ length: x.length }, (_, i) => i);
  const g = new Float64Array(x.length);
  for (const i of idx) {
    const keep = x[i];
    x[i] = keep + h;
    const fp = f(x);
    x[i] = keep - h;
    const fm = f(x);
    x[i] = keep;
    g[i] = (fp - fm) / (2 * h);
  }
  return g;
}

/** sum(w * y): projects an output onto fixed random weights so its gradient is w. */
export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** Asserts that `fn` throws `type` whose message mentions every fragment. */
export function assertThrowsNamed(fn: () => unknown, type: ErrorConstructor | TypeErrorConstructor | RangeErrorConstructor, ...fragments: string[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof type, `expected ${type.name}, got ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`);
    for (const f of fragments) assert.ok((e as Error).message.includes(f), `message "${(e as Error).message}" lacks "${f}"`);
    return true;
  });
}

/**
 * Asserts the argument-error shape every bad call reports (docs/errors.md): the class, the
 * code, the public op and the argument, the message starting "<op>: argument '<argument>'",
 * plus any message fragments.
 */
export function assertArgError(
  fn: () => unknown,
  type: ErrorConstructor | TypeErrorConstructor | RangeErrorConstructor,
  want: { code?: string; op: string; argument: string },
  ...fragments: string[]
): void {
  assert.throws(fn, (e: unknown) => {
    const err = e as Error & { code?: string; op?: string; argument?: string };
    assert.ok(err instanceof type, `expected ${type.name}, got ${err?.constructor?.name}: ${err?.message}`);
    if (want.code !== undefined) assert.equal(err.code, want.code, `code of "${err.message}"`);
    assert.equal(err.op, want.op, `op of "${err.message}"`);
    assert.equal(err.argument, want.argument, `argument of "${err.message}"`);
    assert.ok(err.message.startsWith(`${want.op}: argument '${want.argument}'`), `message "${err.message}" does not start with op and argument`);
    for (const f of fragments) assert.ok(err.message.includes(f), `message "${err.message}" lacks "${f}"`);
    return true;
  });
}
