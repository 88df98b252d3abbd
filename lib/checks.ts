// Argument checks shared by the public API: each throws a TypeError (wrong type) or a
// RangeError (wrong value) that names the argument, before anything reaches native code.
import { DTypeName, LayoutName } from './native';

export type DType = DTypeName;
export type Layout = LayoutName;
export type Device = string;

export const DTYPES: readonly DType[] = ['float32', 'float16', 'bfloat16', 'int32', 'uint8'];
export const LAYOUTS: readonly Layout[] = ['NCHW', 'NHWC'];

// A Tensor without importing lib/tensor.ts (which imports this file).
function isTensorLike(v: unknown): v is { shape: number[] } {
  return typeof v === 'object' && v !== null && v.constructor?.name === 'Tensor' && Array.isArray((v as { shape?: unknown }).shape);
}

export function checkShape(shape: unknown, arg = 'shape'): number[] {
  if (!Array.isArray(shape)) throw new TypeError(`${arg} must be an array of positive integers, got ${describe(shape)}`);
  if (shape.length === 0 || shape.length > 8) throw new RangeError(`${arg} must have 1 to 8 dimensions, got ${shape.length}`);
  for (const [i, s] of shape.entries()) {
    if (typeof s !== 'number' || !Number.isInteger(s)) throw new TypeError(`${arg}[${i}] must be an integer, got ${describe(s)}`);
    if (s < 1) throw new RangeError(`${arg}[${i}] must be >= 1, got ${s}`);
  }
  return shape.slice();
}

export function checkDType(dtype: unknown, arg = 'dtype'): DType {
  if (typeof dtype !== 'string' || !(DTYPES as readonly string[]).includes(dtype))
    throw new TypeError(`${arg} must be one of ${DTYPES.join(', ')}, got ${describe(dtype)}`);
  return dtype as DType;
}

export function checkLayout(layout: unknown, arg = 'layout'): Layout {
  if (layout !== 'NCHW' && layout !== 'NHWC') throw new TypeError(`${arg} must be 'NCHW' or 'NHWC', got ${describe(layout)}`);
  return layout;
}

export function checkDevice(device: unknown, arg = 'device'): Device {
  if (typeof device !== 'string' || !/^(cpu|cuda:\d+)$/.test(device))
    throw new TypeError(`${arg} must be 'cpu' or 'cuda:N', got ${describe(device)}`);
  return device;
}

export function checkNumber(v: unknown, arg: string, opts: { min?: number; max?: number; integer?: boolean } = {}): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new TypeError(`${arg} must be a finite number, got ${describe(v)}`);
  if (opts.integer && !Number.isInteger(v)) throw new TypeError(`${arg} must be an integer, got ${v}`);
  if (opts.min !== undefined && v < opts.min) throw new RangeError(`${arg} must be >= ${opts.min}, got ${v}`);
  if (opts.max !== undefined && v > opts.max) throw new RangeError(`${arg} must be <= ${opts.max}, got ${v}`);
  return v;
}

export function checkSeed(seed: unknown, arg = 'seed'): number {
  return checkNumber(seed, arg, { integer: true, min: 0, max: Number.MAX_SAFE_INTEGER });
}

export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (isTensorLike(v)) return `Tensor(${v.shape.join('x')})`;
  if (Array.isArray(v)) return `[${v.slice(0, 8).map(describe).join(', ')}${v.length > 8 ? ', ...' : ''}]`;
  if (typeof v === 'string') return `'${v}'`;
  if (typeof v === 'object') return (v as object).constructor?.name ?? 'object';
  return String(v);
}

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
