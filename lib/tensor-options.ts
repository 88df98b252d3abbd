// The options of Tensor's constructors and of Tensor.to(), checked and completed with their
// defaults before anything reaches native code.
import { checkDevice, checkDType, checkLayout, describe, Device, DType, DTYPES, Layout } from './checks';

/** Options shared by the static constructors. */
export interface TensorOptions {
  dtype?: DType;
  device?: Device;
  /** Memory order of a 4-D tensor; ignored (NCHW) for other ranks. */
  layout?: Layout;
}

export function checkFloat(dtype: unknown, arg: string): DType {
  const d = checkDType(dtype, arg);
  if (d === 'int32' || d === 'uint8') throw new TypeError(`${arg} must be a float dtype, got '${d}'`);
  return d;
}

export function impliedDType(data: unknown): DType {
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof Uint8Array) return 'uint8';
  return 'float32';
}

export function resolveOptions(opts: TensorOptions, fn: string): Required<TensorOptions> {
  if (opts === null || typeof opts !== 'object') throw new TypeError(`${fn}: options must be an object, got ${describe(opts)}`);
  return {
    dtype: checkDType(opts.dtype ?? 'float32', `${fn}: dtype`),
    device: checkDevice(opts.device ?? 'cpu', `${fn}: device`),
    layout: checkLayout(opts.layout ?? 'NCHW', `${fn}: layout`),
  };
}

export function layoutFor(shape: number[], layout: Layout): Layout {
  return shape.length === 4 ? layout : 'NCHW';
}

export function parseTarget(target: string): TensorOptions {
  if ((DTYPES as readonly string[]).includes(target)) return { dtype: target as DType };
  if (target === 'NCHW' || target === 'NHWC') return { layout: target };
  return { device: checkDevice(target, 'to: target') };
}
