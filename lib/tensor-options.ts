// The options of Tensor's constructors and of Tensor.to(). Only what TypeScript alone knows
// is checked here (unknown keys, float-only constructors); shapes, dtypes, layouts and
// devices are checked once, natively, and reported under the public name (lib/errors.ts).
import { badArg, checkDType, Device, DType, DTYPES, Layout, optionNames } from './checks';

/** Options shared by the static constructors. */
export interface TensorOptions {
  dtype?: DType;
  device?: Device;
  /** Memory order of a 4-D tensor; other ranks have none, so NHWC is refused for them. */
  layout?: Layout;
}

export const TENSOR_OPTIONS = optionNames<TensorOptions>({ dtype: true, device: true, layout: true });
export const RANDN_OPTIONS = [...TENSOR_OPTIONS, ...optionNames<{ seed?: number; mean?: number; std?: number }>({ seed: true, mean: true, std: true })];
export const UNIFORM_OPTIONS = [...TENSOR_OPTIONS, ...optionNames<{ seed?: number; low?: number; high?: number }>({ seed: true, low: true, high: true })];

export function checkFloat(dtype: unknown, arg: string): DType {
  const d = checkDType(dtype, arg);
  if (d === 'int32' || d === 'uint8') throw badArg('type', arg, `must be a float dtype, got '${d}'`);
  return d;
}

export function impliedDType(data: unknown): DType {
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof Uint8Array) return 'uint8';
  return 'float32';
}

export function parseTarget(target: string): TensorOptions {
  if ((DTYPES as readonly string[]).includes(target)) return { dtype: target as DType };
  if (target === 'NCHW' || target === 'NHWC') return { layout: target };
  return { device: target };
}
