// slice / narrow (a range of one axis, with a step) and indexSelect (entries of one axis
// picked by int32 indices, repeats allowed), with their gradients: the slice's is written
// into zeros, indexSelect's added (every copy of a repeated index contributes). Results are
// copies, NCHW in the input's dtype.
import { native } from '../native';
import { asOp } from '../errors';
import { badArg, checkNumber } from '../checks';
import { checkTensor, Tensor } from '../tensor';
import { record } from '../autograd/engine';
import { inLayout, normAxis, wrap } from './shared';

function checkDim(op: string, x: Tensor, dim: unknown): number {
  const r = x.rank;
  const d = checkNumber(dim, `${op}: dim`, { integer: true });
  if (d < -r || d >= r) throw badArg('range', `${op}: dim`, `must be in [${-r}, ${r}) for shape [${x.shape.join(', ')}], got ${d}`);
  return normAxis(d, r);
}

function sliceOp(op: string, x: Tensor, axis: number, start: number, end: number, step: number): Tensor {
  const shape = x.shape,
    layout = x.layout;
  const y = wrap(asOp(op, () => native().slice(x.handle, axis, start, end, step)));
  record(op, y, [x], (g) => [wrap(inLayout(native().sliceBackward(g.handle, axis, start, step, shape), layout, shape.length))]);
  return y;
}

/**
 * x[..., start:end:step, ...] along `dim`, as Python slices it: negative start/end count
 * from the end, both are clamped to the axis, end defaults to its size; step >= 1. The
 * result must not be empty (tensors have no zero-size axes).
 */
export function slice(x: Tensor, dim: number, start = 0, end?: number, step = 1): Tensor {
  checkTensor(x, 'slice: x');
  const axis = checkDim('slice', x, dim);
  const size = x.shape[axis];
  const clamp = (v: number) => Math.min(size, Math.max(0, v < 0 ? v + size : v));
  const s = clamp(checkNumber(start, 'slice: start', { integer: true }));
  const e = end === undefined ? size : clamp(checkNumber(end, 'slice: end', { integer: true }));
  checkNumber(step, 'slice: step', { integer: true, min: 1 });
  if (e <= s) throw badArg('range', 'slice: end', `selects nothing: [${start}:${end ?? ''}] of an axis of size ${size}`);
  return sliceOp('slice', x, axis, s, e, step);
}

/** length entries of `dim` from `start` (negative counts from the end), as torch.narrow. */
export function narrow(x: Tensor, dim: number, start: number, length: number): Tensor {
  checkTensor(x, 'narrow: x');
  const axis = checkDim('narrow', x, dim);
  const size = x.shape[axis];
  const s0 = checkNumber(start, 'narrow: start', { integer: true, min: -size, max: size - 1 });
  const s = s0 < 0 ? s0 + size : s0;
  checkNumber(length, 'narrow: length', { integer: true, min: 1, max: size - s });
  return sliceOp('narrow', x, axis, s, s + length, 1);
}

/** The entries of `dim` at `index` (1-D int32, each in [0, size)), in that order, as torch.index_select. */
export function indexSelect(x: Tensor, dim: number, index: Tensor): Tensor {
  checkTensor(x, 'indexSelect: x');
  checkTensor(index, 'indexSelect: index');
  const shape = x.shape,
    layout = x.layout;
  const y = wrap(asOp('indexSelect', () => native().indexSelect(x.handle, dim, index.handle)));
  const axis = normAxis(dim, shape.length);
  record('indexSelect', y, [x], (g) => [wrap(inLayout(native().indexSelectBackward(g.handle, axis, index.handle, shape), layout, shape.length))])?.save(index);
  return y;
}
