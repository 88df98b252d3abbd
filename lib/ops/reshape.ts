// reshape and flatten: views with another shape; an NHWC input goes through NCHW first,
// since the logical order is what a reshape keeps.
import { native } from '../native';
import { badArg } from '../checks';
import { checkTensor, describe, Tensor } from '../tensor';
import { record } from '../autograd/engine';
import { wrap, sameShape } from './shared';

/** A view with another shape (same element count, logical NCHW order). */
export function reshape(x: Tensor, shape: number[]): Tensor {
  checkTensor(x, 'reshape: x');
  if (!Array.isArray(shape)) throw badArg('type', `reshape: shape`, `must be an array, got ${describe(shape)}`);
  const n = x.size;
  const known = shape.filter((s) => s !== -1).reduce((a, b) => a * b, 1);
  const target = shape.map((s) => (s === -1 ? n / known : s));
  if (shape.filter((s) => s === -1).length > 1 || target.some((s) => !Number.isInteger(s) || s < 1) || target.reduce((a, b) => a * b, 1) !== n)
    throw badArg('range', `reshape: shape`, `[${shape.join(', ')}] does not fit the ${n} elements of [${x.shape.join(', ')}]`);
  const xShape = x.shape;
  const xLayout = x.layout;
  let src = x.handle;
  const converted = xLayout === 'NHWC' && x.rank === 4 && !sameShape(x, { shape: target } as Tensor);
  if (converted) src = native().toLayout(src, 'NCHW');
  const y = wrap(native().reshape(src, target));
  if (converted) src.dispose(); // the view keeps the storage alive
  record('reshape', y, [x], (g) => {
    const v = native().reshape(g.handle, xShape);
    if (!converted) {
      // A copy, not a view: a leaf's .grad must not share storage with the caller's gradient.
      const c = native().toDevice(v, v.device);
      v.dispose();
      return [wrap(c)];
    }
    const l = native().toLayout(v, xLayout);
    v.dispose();
    return [wrap(l)];
  });
  return y;
}

/** [N, ...] -> [N, prod(...)]. */
export function flatten(x: Tensor): Tensor {
  checkTensor(x, 'flatten: x');
  return reshape(x, [x.shape[0], x.size / x.shape[0]]);
}
