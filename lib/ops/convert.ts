// cast, toLayout, convert: differentiable dtype and layout conversions (the gradient goes
// back to the input's dtype and layout), and matchActivation for mixed-precision weights.
import { native } from '../native';
import { badArg } from '../checks';
import { checkTensor, describe, DType, Layout, Tensor } from '../tensor';
import { record } from '../autograd/engine';
import { wrap, expectRank, expectFloat } from './shared';

/** x converted to a float dtype; the gradient comes back in x's dtype. */
export function cast(x: Tensor, dtype: DType): Tensor {
  checkTensor(x, 'cast: x');
  expectFloat(x, 'cast: x');
  if (dtype !== 'float32' && dtype !== 'float16' && dtype !== 'bfloat16') throw badArg('type', `cast: dtype`, `must be a float dtype, got ${describe(dtype)}`);
  const from = x.dtype;
  const y = wrap(native().cast(x.handle, dtype));
  record('cast', y, [x], (g) => [wrap(native().cast(g.handle, from))]);
  return y;
}

/** A 4-D x in another memory layout; the gradient comes back in x's layout. */
export function toLayout(x: Tensor, layout: Layout): Tensor {
  checkTensor(x, 'toLayout: x');
  expectRank(x, 4, 'toLayout: x');
  if (layout !== 'NCHW' && layout !== 'NHWC') throw badArg('type', `toLayout: layout`, `must be 'NCHW' or 'NHWC', got ${describe(layout)}`);
  const from = x.layout;
  const y = wrap(native().toLayout(x.handle, layout));
  record('toLayout', y, [x], (g) => [wrap(native().toLayout(g.handle, from))]);
  return y;
}

/** cast and toLayout in one op (one pass over the data; one kernel each way on CUDA). */
export function convert(x: Tensor, dtype: DType, layout: Layout): Tensor {
  checkTensor(x, 'convert: x');
  expectFloat(x, 'convert: x');
  if (dtype !== 'float32' && dtype !== 'float16' && dtype !== 'bfloat16')
    throw badArg('type', `convert: dtype`, `must be a float dtype, got ${describe(dtype)}`);
  if (layout !== 'NCHW' && layout !== 'NHWC') throw badArg('type', `convert: layout`, `must be 'NCHW' or 'NHWC', got ${describe(layout)}`);
  const target = x.rank === 4 ? layout : 'NCHW';
  const from = { dtype: x.dtype, layout: x.layout };
  const y = wrap(native().convert(x.handle, dtype, target));
  record('convert', y, [x], (g) => [wrap(native().convert(g.handle, from.dtype, g.rank === 4 ? from.layout : 'NCHW'))]);
  return y;
}

/**
 * A weight in the dtype and layout of the activation it meets (differentiable), so fp32
 * master weights serve bf16/fp16 NHWC activations; the weight itself when they agree.
 * One conversion each way per step, not a cast and a permutation.
 */
export function matchActivation(w: Tensor, x: Tensor): Tensor {
  const layout = w.rank === 4 && x.rank === 4 ? x.layout : w.layout;
  if (w.dtype === x.dtype && w.layout === layout) return w;
  return convert(w, x.dtype, layout);
}
