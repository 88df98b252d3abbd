// Naive float64 references for the tensor-math ops (arith, reduce, softmax, index): plain
// loops over logical row-major indices, written independently of the native code's
// [outer, n, inner] and stride tricks.

/** Row-major coordinates of flat index i in `shape`. */
export function coords(i: number, shape: number[]): number[] {
  const c = new Array<number>(shape.length);
  for (let k = shape.length - 1; k >= 0; k--) {
    c[k] = i % shape[k];
    i = Math.floor(i / shape[k]);
  }
  return c;
}

/** Flat row-major index of coordinates c in `shape`. */
export function flatIndex(c: number[], shape: number[]): number {
  let i = 0;
  for (let k = 0; k < shape.length; k++) i = i * shape[k] + c[k];
  return i;
}

export function size(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** NumPy's broadcast of two shapes, or null when they do not broadcast. */
export function broadcastShape(a: number[], b: number[]): number[] | null {
  const r = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let k = 0; k < r; k++) {
    const da = a[k - (r - a.length)] ?? 1,
      db = b[k - (r - b.length)] ?? 1;
    if (da !== db && da !== 1 && db !== 1) return null;
    out.push(da === 1 ? db : da);
  }
  return out;
}

/** The element of x (of shape `shape`) that output coordinates c read under broadcasting. */
function broadcastRead(x: ArrayLike<number>, shape: number[], c: number[]): number {
  const lead = c.length - shape.length;
  return x[
    flatIndex(
      shape.map((s, k) => (s === 1 ? 0 : c[k + lead])),
      shape,
    )
  ];
}

export function refBinary(a: ArrayLike<number>, aShape: number[], b: ArrayLike<number>, bShape: number[], f: (u: number, v: number) => number): Float64Array {
  const out = broadcastShape(aShape, bShape)!;
  const y = new Float64Array(size(out));
  for (let i = 0; i < y.length; i++) {
    const c = coords(i, out);
    y[i] = f(broadcastRead(a, aShape, c), broadcastRead(b, bShape, c));
  }
  return y;
}

/** For every output element (coordinates with reduced axes at 0), the list of input indices it reduces. */
export function reductionGroups(shape: number[], axes: number[]): number[][] {
  const groups = new Map<number, number[]>();
  for (let i = 0; i < size(shape); i++) {
    const c = coords(i, shape).map((v, k) => (axes.includes(k) ? 0 : v));
    const key = flatIndex(c, shape);
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key)!.push(i);
  }
  return [...groups.keys()].sort((p, q) => p - q).map((k) => groups.get(k)!);
}

/** The shape a reduction gives: axes kept as 1, or removed (all removed: [1]). */
export function reducedShape(shape: number[], axes: number[], keepdim: boolean): number[] {
  const out = shape.flatMap((s, k) => (axes.includes(k) ? (keepdim ? [1] : []) : [s]));
  return out.length ? out : [1];
}

/** The lines along `axis`: for each, the flat indices of its elements in order. */
export function axisLines(shape: number[], axis: number): number[][] {
  return reductionGroups(shape, [axis]);
}

/** A random shape of rank 1..maxRank with sizes in [1, maxSize], odd sizes likely. */
export function randomShape(r: () => number, maxRank = 4, maxSize = 7): number[] {
  const rank = 1 + Math.floor(r() * maxRank);
  return Array.from({ length: rank }, () => 1 + Math.floor(r() * maxSize));
}

/** A shape that broadcasts with `shape`: some leading axes dropped, some sizes set to 1. */
export function broadcastPartner(r: () => number, shape: number[]): number[] {
  const drop = Math.floor(r() * shape.length);
  const s = shape.slice(drop).map((v) => (r() < 0.35 ? 1 : v));
  return s.length ? s : [1];
}
