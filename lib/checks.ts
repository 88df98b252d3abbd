// Checks of what only TypeScript sees: plain JS arguments (numbers, strings, arrays) and
// options objects. Each throws lib/errors.ts's argument error (TypeError for a wrong kind of
// value, RangeError for a wrong value; .code, .op, .argument), the shape native errors have.
import { argError } from './errors';
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

// Call sites name the argument as '<op>: <argument>' ('Tensor.zeros: shape'); the error
// carries both apart (lib/errors.ts).
function split(arg: string): [string, string] {
  const i = arg.indexOf(': ');
  return i < 0 ? ['', arg] : [arg.slice(0, i), arg.slice(i + 2)];
}

/** An argument error for an argument named '<op>: <argument>'. */
export function badArg(kind: 'type' | 'range', arg: string, what: string, code?: string): Error {
  const [op, name] = split(arg);
  return op ? argError(kind, op, name, what, code) : argError(kind, name, name, what, code);
}

export function checkShape(shape: unknown, arg = 'shape'): number[] {
  if (!Array.isArray(shape)) throw badArg('type', arg, `must be an array of positive integers, got ${describe(shape)}`);
  if (shape.length === 0 || shape.length > 6) throw badArg('range', arg, `must have 1 to 6 dimensions, got ${shape.length}`);
  for (const [i, s] of shape.entries()) {
    if (typeof s !== 'number' || !Number.isInteger(s)) throw badArg('type', `${arg}[${i}]`, `must be an integer, got ${describe(s)}`);
    if (s < 1) throw badArg('range', `${arg}[${i}]`, `must be >= 1, got ${s}`);
  }
  return shape.slice();
}

export function checkDType(dtype: unknown, arg = 'dtype'): DType {
  if (typeof dtype !== 'string' || !(DTYPES as readonly string[]).includes(dtype))
    throw badArg('type', arg, `must be one of ${DTYPES.join(', ')}, got ${describe(dtype)}`);
  return dtype as DType;
}

export function checkLayout(layout: unknown, arg = 'layout'): Layout {
  if (layout !== 'NCHW' && layout !== 'NHWC') throw badArg('type', arg, `must be 'NCHW' or 'NHWC', got ${describe(layout)}`);
  return layout;
}

export function checkDevice(device: unknown, arg = 'device'): Device {
  if (typeof device !== 'string' || !/^(cpu|cuda:\d+)$/.test(device)) throw badArg('type', arg, `must be 'cpu' or 'cuda:N', got ${describe(device)}`);
  return device;
}

export function checkNumber(v: unknown, arg: string, opts: { min?: number; max?: number; integer?: boolean } = {}): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw badArg('type', arg, `must be a finite number, got ${describe(v)}`);
  if (opts.integer && !Number.isInteger(v)) throw badArg('type', arg, `must be an integer, got ${v}`);
  if (opts.min !== undefined && v < opts.min) throw badArg('range', arg, `must be >= ${opts.min}, got ${v}`);
  if (opts.max !== undefined && v > opts.max) throw badArg('range', arg, `must be <= ${opts.max}, got ${v}`);
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

/**
 * The option names of an options type, written once as `{ name: true, ... }`: the compiler
 * rejects a list that misses a key of T or names one T lacks, so the runtime check below
 * cannot drift from the type.
 */
export function optionNames<T extends object>(names: { [K in keyof Required<T>]: true }): readonly string[] {
  return Object.keys(names);
}

/**
 * Checks an options object: it must be a plain object (or undefined, read as {}), and every
 * key must be one of `known`. A misspelt option is refused (ERR_UNKNOWN_OPTION, naming the
 * key and the known ones), never ignored: `{ weigths: 'f.pth' }` would otherwise build a
 * random model without a word. Returns the object.
 */
export function checkOptions<T extends object>(op: string, opts: T | undefined, known: readonly string[], arg = 'options'): T {
  if (opts === undefined) return {} as T;
  if (opts === null || typeof opts !== 'object' || Array.isArray(opts)) throw argError('type', op, arg, `must be an object, got ${describe(opts)}`);
  for (const key of Object.keys(opts)) {
    if (known.includes(key)) continue;
    const near = closest(key, known);
    throw argError(
      'type',
      op,
      `${arg}.${key}`,
      `is not an option of ${op}${near ? ` (did you mean '${near}'?)` : ''}; known options: ${known.length ? known.join(', ') : 'none'}`,
      'ERR_UNKNOWN_OPTION',
    );
  }
  return opts;
}

// The known name within edit distance 2 of `key` (case-insensitive), if exactly one is closest.
function closest(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = 3;
  for (const k of known) {
    const d = editDistance(key.toLowerCase(), k.toLowerCase());
    if (d < bestD) [best, bestD] = [k, d];
  }
  return best;
}

// Optimal string alignment distance: insertions, deletions, substitutions and swaps of
// two neighbours ('weigths' for 'weights') each cost one.
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}
