// Reductions over axes: sum, mean, max (with the argmax its gradient flows to), argmax and
// topk, PyTorch's names and conventions: `dim` is an axis or a list of axes (negative counts
// from the end; omitted: all of them), keepdim keeps reduced axes as size 1. A reduction to
// a single value without keepdim has shape [1] (tensors have at least one dimension).
import { native, NativeTensor, NativeTopk } from '../native';
import { asOp } from '../errors';
import { badArg, checkOptions, numel, optionNames } from '../checks';
import { checkTensor, describe, Tensor } from '../tensor';
import { record } from '../autograd/engine';
import { inLayout, normAxis, wrap } from './shared';

export interface ReduceOptions {
  /** Keep the reduced axes as size 1 (default false). */
  keepdim?: boolean;
}
const REDUCE_OPTIONS = optionNames<ReduceOptions>({ keepdim: true });

export interface TopkOptions {
  /** The axis (default -1, the last). */
  dim?: number;
  /** The largest values (default) or the smallest. */
  largest?: boolean;
}
const TOPK_OPTIONS = optionNames<TopkOptions>({ dim: true, largest: true });

/** Values and their int32 indices along the axis (max with a dim, topk). */
export interface ValuesIndices {
  values: Tensor;
  indices: Tensor;
}

function axesOf(op: string, x: Tensor, dim: unknown): number[] {
  if (dim === undefined) return x.shape.map((_, k) => k);
  if (typeof dim === 'number') return [dim];
  if (Array.isArray(dim)) return dim as number[];
  throw badArg('type', `${op}: dim`, `must be an axis or an array of axes, got ${describe(dim)}`);
}

/** x's shape with the given axes set to 1. */
function keptShape(shape: number[], axes: number[]): number[] {
  return shape.map((s, k) => (axes.includes(k) ? 1 : s));
}

/** A [n] view of x in logical order (NHWC goes through an NCHW copy). */
function flatLogical(x: Tensor): NativeTensor {
  const n = native();
  if (x.rank !== 4 || x.layout !== 'NHWC') return n.reshape(x.handle, [x.size]);
  const c = n.toLayout(x.handle, 'NCHW');
  const v = n.reshape(c, [x.size]);
  c.dispose(); // the view keeps the storage
  return v;
}

/** maxAxis over the flattened x (logical order). */
function maxOfAll(op: string, x: Tensor): NativeTopk {
  return asOp(op, () => {
    const flat = flatLogical(x);
    try {
      return native().maxAxis(flat, 0, false);
    } finally {
      flat.dispose();
    }
  });
}

function reduce(op: 'sum' | 'mean', x: Tensor, dim: unknown, opts: ReduceOptions | undefined): Tensor {
  checkTensor(x, `${op}: x`);
  const o = checkOptions(op, opts, REDUCE_OPTIONS);
  const axes = axesOf(op, x, dim);
  const y = wrap(asOp(op, () => native().reduceAxes(x.handle, axes, o.keepdim ?? false, op)));
  const shape = x.shape,
    layout = x.layout;
  const norm = axes.map((a) => normAxis(a, shape.length));
  const count = norm.reduce((p, a) => p * shape[a], 1);
  record(op, y, [x], (g) => {
    const n = native();
    const v = n.reshape(g.handle, keptShape(shape, norm));
    let d = n.broadcastTo(v, shape);
    v.dispose();
    if (op === 'mean') {
      const m = n.arithScalar(d, count, 'div');
      d.dispose();
      d = m;
    }
    return [wrap(inLayout(d, layout, shape.length))];
  });
  return y;
}

/** Sum over `dim` (an axis, a list of axes, or all when omitted). */
export function sum(x: Tensor, dim?: number | number[], opts?: ReduceOptions): Tensor {
  return reduce('sum', x, dim, opts);
}

/** Mean over `dim` (an axis, a list of axes, or all when omitted). */
export function mean(x: Tensor, dim?: number | number[], opts?: ReduceOptions): Tensor {
  return reduce('mean', x, dim, opts);
}

/** The gradient of values picked along `axis` at `indices`: added into zeros of x's shape. */
function scatterBack(g: Tensor, indices: NativeTensor, axis: number, shape: number[], layout: string, keepdim: boolean): Tensor {
  const n = native();
  const kept = keepdim ? null : keptShape(shape, [axis]);
  const gv = kept ? n.reshape(g.handle, kept) : g.handle;
  const iv = kept ? n.reshape(indices, kept) : indices;
  try {
    return wrap(inLayout(n.scatterAddAxis(gv, iv, axis, shape), layout, shape.length));
  } finally {
    if (kept) {
      gv.dispose();
      iv.dispose();
    }
  }
}

/**
 * The largest value: of all of x when dim is omitted (a [1] tensor), else along `dim`, with
 * the index of its first occurrence ({ values, indices }, as torch.max(x, dim)). NaN counts
 * as the largest. The gradient flows to that one element.
 */
export function max(x: Tensor): Tensor;
export function max(x: Tensor, dim: number, opts?: ReduceOptions): ValuesIndices;
export function max(x: Tensor, dim?: number, opts?: ReduceOptions): Tensor | ValuesIndices {
  checkTensor(x, 'max: x');
  const o = checkOptions('max', opts, REDUCE_OPTIONS);
  const shape = x.shape,
    layout = x.layout;
  if (dim === undefined) {
    const r = maxOfAll('max', x);
    const y = wrap(r.values);
    const idx = wrap(r.indices);
    record('max', y, [x], (g) => {
      const d = native().scatterAddAxis(g.handle, idx.handle, 0, [numel(shape)]);
      const v = native().reshape(d, shape);
      d.dispose();
      return [wrap(inLayout(v, layout, shape.length))];
    })?.savePrivate(idx);
    if (!y.requiresGrad) idx.dispose();
    return y;
  }
  const keepdim = o.keepdim ?? false;
  const r = asOp('max', () => native().maxAxis(x.handle, dim, keepdim));
  const values = wrap(r.values),
    indices = wrap(r.indices);
  const axis = normAxis(dim, shape.length);
  record('max', values, [x], (g) => [scatterBack(g, indices.handle, axis, shape, layout, keepdim)])?.save(indices);
  return { values, indices };
}

/** The index of the largest value (first occurrence) along `dim`, or in the flattened x when omitted; int32. */
export function argmax(x: Tensor, dim?: number, opts?: ReduceOptions): Tensor {
  checkTensor(x, 'argmax: x');
  const o = checkOptions('argmax', opts, REDUCE_OPTIONS);
  if (dim === undefined) {
    const r = maxOfAll('argmax', x);
    r.values.dispose();
    return wrap(r.indices);
  }
  const r = asOp('argmax', () => native().maxAxis(x.handle, dim, o.keepdim ?? false));
  r.values.dispose();
  return wrap(r.indices);
}

/**
 * The k largest (or smallest) values along `dim` (default the last), sorted that way, with
 * their int32 indices; equal values come in index order. The gradient flows to the picked
 * elements.
 */
export function topk(x: Tensor, k: number, opts?: TopkOptions): ValuesIndices {
  checkTensor(x, 'topk: x');
  const o = checkOptions('topk', opts, TOPK_OPTIONS);
  const dim = o.dim ?? -1;
  const r = asOp('topk', () => native().topk(x.handle, k, dim, o.largest ?? true));
  const shape = x.shape,
    layout = x.layout;
  const values = wrap(r.values),
    indices = wrap(r.indices);
  const axis = normAxis(dim, shape.length);
  record('topk', values, [x], (g) => [scatterBack(g, indices.handle, axis, shape, layout, true)])?.save(indices);
  return { values, indices };
}
