// What the op files share: wrapping a native handle in a Tensor, and the argument checks that
// only the differentiable ops need (lib/checks.ts holds those of the whole public API).
import { native, NativeTensor } from '../native';
import { badArg } from '../checks';
import { checkNumber, describe, Tensor } from '../tensor';

export const wrap = (h: NativeTensor): Tensor => new Tensor(h);

export function pair(v: unknown, arg: string, min: number): [number, number] {
  const a = Array.isArray(v) ? v : [v, v];
  if (a.length !== 2) throw badArg('type', arg, `must be a number or a pair [h, w], got ${describe(v)}`);
  return [checkNumber(a[0], arg, { integer: true, min }), checkNumber(a[1], arg, { integer: true, min })];
}

export function expectRank(t: Tensor, rank: number, arg: string): void {
  if (t.rank !== rank) throw badArg('range', arg, `must be ${rank}-D, got shape [${t.shape.join(', ')}]`);
}

export function expectFloat(t: Tensor, arg: string): void {
  if (t.dtype === 'int32' || t.dtype === 'uint8') throw badArg('type', arg, `must be a float tensor, got ${t.dtype}`);
}

export function sameShape(a: Tensor, b: Tensor): boolean {
  return a.shape.length === b.shape.length && a.shape.every((s, i) => s === b.shape[i]);
}

// ---- the tensor-math families (arith, reduce, softmax, index-slice): their native ops read
// any layout in logical order and return NCHW, so a gradient may need its input's layout back.

/** An axis the native op already accepted, in [0, rank). */
export function normAxis(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}

/** g (owned) converted to the layout a 4-D input had; other ranks have only one. */
export function inLayout(g: NativeTensor, layout: string, rank: number): NativeTensor {
  if (rank !== 4 || g.layout === layout) return g;
  const c = native().toLayout(g, layout as 'NCHW' | 'NHWC');
  g.dispose();
  return c;
}

/**
 * The gradient of a broadcast input: g summed over the axes along which `shape` was
 * broadcast to g's shape, in the input's layout. Returns g itself when nothing changes.
 */
export function gradTo(g: Tensor, shape: number[], layout: string): Tensor {
  const out = g.shape;
  const lead = out.length - shape.length;
  const axes = out.map((s, k) => k).filter((k) => k < lead || (shape[k - lead] === 1 && out[k] !== 1));
  if (axes.length === 0) return g.layout === layout || g.rank !== 4 ? g : wrap(native().toLayout(g.handle, layout as 'NCHW' | 'NHWC'));
  const r = native().reduceAxes(g.handle, axes, true, 'sum');
  const v = native().reshape(r, shape);
  r.dispose();
  return wrap(inLayout(v, layout, shape.length));
}
