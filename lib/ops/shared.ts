// What the op files share: wrapping a native handle in a Tensor, and the argument checks that
// only the differentiable ops need (lib/checks.ts holds those of the whole public API).
import { NativeTensor } from '../native';
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
