// The Tensor users program against: a native handle plus the autograd fields, deterministic
// disposal (dispose(), `using`, tidy() scopes) and argument checks that run before any
// native call, so a mistake is reported in terms of the public API.
import { native, NativeMemoryStats, NativeTensor, NativeTypedArray } from './native';

import {
  checkDevice, checkDType, checkLayout, checkNumber, checkSeed, checkShape, describe, Device, DType, DTYPES, Layout, numel,
} from './checks';

export {
  checkDevice, checkDType, checkLayout, checkNumber, checkSeed, checkShape, describe, DTYPES, LAYOUTS, numel,
} from './checks';
export type { Device, DType, Layout } from './checks';
export type TensorData = Float32Array | Int32Array | Uint8Array;

/** Options shared by the static constructors. */
export interface TensorOptions {
  dtype?: DType;
  device?: Device;
  /** Memory order of a 4-D tensor; ignored (NCHW) for other ranks. */
  layout?: Layout;
}

/** The autograd record that produced a tensor; see lib/autograd/engine.ts. */
export interface GradNode {
  readonly name: string;
}

// ---------------------------------------------------------------- argument checks

export function checkTensor(t: unknown, arg: string): Tensor {
  if (!(t instanceof Tensor)) throw new TypeError(`${arg} must be a Tensor, got ${describe(t)}`);
  if (t.disposed) throw new TypeError(`${arg} ${t.disposedReason()}`);
  return t;
}


// ---------------------------------------------------------------- tidy scopes

type Scope = Set<Tensor>;
const scopes: Scope[] = [];

function track(t: Tensor): void {
  if (scopes.length > 0) scopes[scopes.length - 1].add(t);
}

function collectTensors(v: unknown, out: Set<Tensor>, depth = 0): void {
  if (v instanceof Tensor) out.add(v);
  else if (depth > 3 || v === null || typeof v !== 'object') return;
  else if (Array.isArray(v)) for (const x of v) collectTensors(x, out, depth + 1);
  else if (v instanceof Map) for (const x of v.values()) collectTensors(x, out, depth + 1);
  else if (Object.getPrototypeOf(v) === Object.prototype) for (const x of Object.values(v)) collectTensors(x, out, depth + 1);
}

/**
 * Runs fn in a scope: every tensor created inside is disposed when it ends, except tensors
 * passed to keep() and those returned (a Tensor, or arrays / Maps / plain objects holding
 * them), which move to the enclosing scope. Scopes nest. Async functions are refused: a
 * scope cannot span an await.
 */
export function tidy<T>(fn: () => T): T {
  if (typeof fn !== 'function') throw new TypeError(`tidy: fn must be a function, got ${describe(fn)}`);
  const scope: Scope = new Set();
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    popScope(scope, new Set());
    throw e;
  }
  if (result instanceof Promise) {
    popScope(scope, new Set());
    throw new TypeError('tidy: fn must be synchronous (it returned a Promise); a scope cannot span an await');
  }
  const returned = new Set<Tensor>();
  collectTensors(result, returned);
  popScope(scope, returned);
  return result;
}

function popScope(scope: Scope, survivors: Set<Tensor>): void {
  const top = scopes.pop();
  if (top !== scope) throw new Error('tidy: scopes were left out of order');
  for (const t of scope) {
    if (t.kept) continue;
    if (survivors.has(t)) track(t);
    else t.dispose();
  }
}

/** Exempts a tensor from every tidy scope: it lives until disposed. Returns it. */
export function keep<T extends Tensor>(t: T): T {
  checkTensor(t, 'keep: t');
  t.kept = true;
  return t;
}

/** Native memory counters: live tensor handles and bytes held per device. */
export function memory(): NativeMemoryStats & { tidyDepth: number } {
  return { ...native().memoryStats(), tidyDepth: scopes.length };
}

// ---------------------------------------------------------------- Tensor

// Set by lib/autograd/engine.ts when it loads, so that Tensor.backward() does not need a
// circular import.
export const autogradHooks: { backward?: (t: Tensor, grad?: Tensor) => void } = {};

let nextId = 1;

export class Tensor implements Disposable {
  private _handle: NativeTensor;
  readonly id = nextId++;
  /** Exempt from tidy scopes (parameters, gradients, optimizer state). */
  kept = false;
  /** Whether gradients flow to this tensor. Leaves (parameters) set it themselves. */
  requiresGrad = false;
  /** The accumulated gradient of a leaf after backward(). */
  grad: Tensor | null = null;
  /** The recorded op that produced this tensor, null for leaves. */
  gradFn: GradNode | null = null;
  /** Gradient hooks, run by backward() when this tensor's gradient is complete. */
  hooks: ((grad: Tensor) => void)[] = [];
  /** How many recorded ops saved this tensor for their backward (autograd bookkeeping). */
  savedBy = 0;

  /** Wraps a native handle; the Tensor owns it from now on. */
  constructor(handle: NativeTensor) {
    this._handle = handle;
    track(this);
  }

  /** Set when backward() frees this tensor (an intermediate activation), for the error message. */
  private freedByBackward = false;

  get handle(): NativeTensor {
    if (this._handle.disposed) throw new TypeError(`Tensor ${this.id} ${this.disposedReason()}`);
    return this._handle;
  }
  get shape(): number[] { return this.handle.shape; }
  get dtype(): DType { return this.handle.dtype; }
  get layout(): Layout { return this.handle.layout; }
  get device(): Device { return this.handle.device; }
  get nbytes(): number { return this.handle.nbytes; }
  get rank(): number { return this.handle.shape.length; }
  get size(): number { return numel(this.handle.shape); }

  /** Called by backward() as it frees an intermediate activation it no longer needs. */
  freeAfterBackward(): void {
    this.freedByBackward = true;
    this.dispose();
  }

  /** Why the tensor cannot be used, completing "Tensor 12 ..." (it is disposed). */
  disposedReason(): string {
    if (!this.freedByBackward) return 'has been disposed';
    return 'was freed by backward(): it is an intermediate result (e.g. a model output), and backward() frees those once ' +
      'the ops that saved them have run. Read it before calling backward(), or keep() it to read it after (then dispose it yourself)';
  }
  get disposed(): boolean { return this._handle.disposed; }
  get isLeaf(): boolean { return this.gradFn === null; }

  /** Replaces the storage behind this object (Module.to keeps parameter identities). */
  replaceHandle(handle: NativeTensor): void {
    const old = this._handle;
    this._handle = handle;
    if (old !== handle) old.dispose();
  }

  dispose(): void {
    this._handle.dispose();
    if (this.grad && !this.grad.disposed) this.grad.dispose();
    this.grad = null;
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  // ---- reading ----

  /** Elements in logical (NCHW) order. Float dtypes come back as Float32Array. */
  dataSync(): TensorData {
    if (this.layout === 'NHWC' && this.rank === 4) {
      const t = native().toLayout(this.handle, 'NCHW');
      try {
        return t.read();
      } finally {
        t.dispose();
      }
    }
    return this.handle.read();
  }

  async data(): Promise<TensorData> {
    if (this.layout === 'NHWC' && this.rank === 4) {
      const t = native().toLayout(this.handle, 'NCHW');
      try {
        return await t.readAsync();
      } finally {
        t.dispose();
      }
    }
    return this.handle.readAsync();
  }

  /** The single value of a one-element tensor. */
  item(): number {
    if (this.size !== 1) throw new RangeError(`item: tensor must have one element, has shape [${this.shape.join(', ')}]`);
    return this.dataSync()[0];
  }

  toString(): string {
    if (this.disposed) return `Tensor(id=${this.id}, disposed)`;
    return `Tensor(id=${this.id}, shape=[${this.shape.join(', ')}], dtype=${this.dtype}, layout=${this.layout}, device=${this.device})`;
  }

  // ---- conversion ----

  /**
   * A copy on another device, dtype or layout ('cpu' | 'cuda:N' | a dtype | 'NCHW' | 'NHWC'),
   * or several at once as an object. Returns a new tensor even when nothing changes, so
   * the result may always be disposed independently. Not differentiable.
   */
  to(target: Device | DType | Layout | TensorOptions): Tensor {
    const opts: TensorOptions = typeof target === 'string' ? parseTarget(target) : target;
    if (opts === null || typeof opts !== 'object') throw new TypeError(`to: target must be a device, dtype, layout or options object, got ${describe(target)}`);
    let h = this.handle;
    const temps: NativeTensor[] = [];
    const step = (n: NativeTensor) => {
      temps.push(n);
      h = n;
    };
    if (opts.device !== undefined && checkDevice(opts.device, 'to: device') !== h.device) step(native().toDevice(h, opts.device));
    const dtype = opts.dtype !== undefined ? checkDType(opts.dtype, 'to: dtype') : h.dtype;
    const layout = opts.layout !== undefined ? checkLayout(opts.layout, 'to: layout') : h.layout;
    const keepLayout = h.shape.length === 4 ? layout : h.layout;  // only 4-D tensors have one
    if (dtype !== h.dtype || keepLayout !== h.layout) step(native().convert(h, dtype, keepLayout));
    if (temps.length === 0) step(native().toDevice(h, h.device));
    for (const t of temps.slice(0, -1)) t.dispose();
    return new Tensor(temps[temps.length - 1]);
  }

  /** A copy with its own storage. */
  clone(): Tensor {
    return new Tensor(native().toDevice(this.handle, this.device));
  }

  /** A view on the same storage that records no gradient. */
  detach(): Tensor {
    return new Tensor(native().reshape(this.handle, this.shape));
  }

  /** Copies src into this tensor in place (same shape, dtype and layout; any devices). */
  copyFrom(src: Tensor): this {
    checkTensor(src, 'copyFrom: src');
    if (src.shape.join() !== this.shape.join())
      throw new RangeError(`copyFrom: src has shape [${src.shape.join(', ')}], this tensor [${this.shape.join(', ')}]`);
    native().copyInto(this.handle, src.handle);
    return this;
  }

  /** backward() from this tensor; see lib/autograd. */
  backward(grad?: Tensor): void {
    if (!autogradHooks.backward) throw new Error('backward: lib/autograd is not loaded');
    autogradHooks.backward(this, grad);
  }

  /** Runs fn with this tensor's gradient during backward(); returns a remover. */
  registerHook(fn: (grad: Tensor) => void): () => void {
    if (typeof fn !== 'function') throw new TypeError(`registerHook: fn must be a function, got ${describe(fn)}`);
    this.hooks.push(fn);
    return () => {
      const i = this.hooks.indexOf(fn);
      if (i >= 0) this.hooks.splice(i, 1);
    };
  }

  // ---- constructors ----

  static empty(shape: number[], opts: TensorOptions = {}): Tensor {
    const o = resolveOptions(opts, 'empty');
    return new Tensor(native().empty(checkShape(shape, 'empty: shape'), o.dtype, layoutFor(shape, o.layout), o.device));
  }

  static full(shape: number[], value: number, opts: TensorOptions = {}): Tensor {
    const o = resolveOptions(opts, 'full');
    checkNumber(value, 'full: value');
    return new Tensor(native().full(checkShape(shape, 'full: shape'), o.dtype, layoutFor(shape, o.layout), o.device, value));
  }

  static zeros(shape: number[], opts: TensorOptions = {}): Tensor {
    return Tensor.full(shape, 0, opts);
  }

  static ones(shape: number[], opts: TensorOptions = {}): Tensor {
    return Tensor.full(shape, 1, opts);
  }

  /**
   * From values in logical (NCHW) order. Plain arrays become float32 unless dtype says
   * otherwise; typed arrays imply their dtype (Float32Array float32, Int32Array int32,
   * Uint8Array uint8) and float16/bfloat16 accept Float32Array values.
   */
  static fromArray(data: ArrayLike<number>, shape: number[], opts: TensorOptions = {}): Tensor {
    const dtype = checkDType(opts.dtype ?? impliedDType(data), 'fromArray: dtype');
    const device = checkDevice(opts.device ?? 'cpu', 'fromArray: device');
    const layout = checkLayout(opts.layout ?? 'NCHW', 'fromArray: layout');
    checkShape(shape, 'fromArray: shape');
    if (data === null || typeof data !== 'object' || typeof (data as ArrayLike<number>).length !== 'number')
      throw new TypeError(`fromArray: data must be an array or typed array, got ${describe(data)}`);
    if (data.length !== numel(shape))
      throw new RangeError(`fromArray: data has ${data.length} elements but shape [${shape.join(', ')}] needs ${numel(shape)}`);
    let arr: NativeTypedArray;
    if (dtype === 'int32') arr = data instanceof Int32Array ? data : Int32Array.from(data);
    else if (dtype === 'uint8') arr = data instanceof Uint8Array ? data : Uint8Array.from(data);
    else arr = data instanceof Float32Array ? data : Float32Array.from(data);
    // Values arrive in NCHW order; an NHWC tensor is made by converting after upload.
    const h = native().fromTypedArray(arr, shape, dtype, 'NCHW', layoutFor(shape, layout) === 'NHWC' ? 'cpu' : device);
    if (layoutFor(shape, layout) === 'NHWC') {
      const l = native().toLayout(h, 'NHWC');
      h.dispose();
      if (device === 'cpu') return new Tensor(l);
      const d = native().toDevice(l, device);
      l.dispose();
      return new Tensor(d);
    }
    return new Tensor(h);
  }

  /** Alias of fromArray. */
  static from(data: ArrayLike<number>, shape: number[], opts: TensorOptions = {}): Tensor {
    return Tensor.fromArray(data, shape, opts);
  }

  /** Normal(mean, std) from a counter-based generator: the same seed gives the same values on every device. */
  static randn(shape: number[], opts: TensorOptions & { seed?: number; mean?: number; std?: number } = {}): Tensor {
    const seed = checkSeed(opts.seed ?? nextSeed(), 'randn: seed');
    const mean = checkNumber(opts.mean ?? 0, 'randn: mean');
    const std = checkNumber(opts.std ?? 1, 'randn: std', { min: 0 });
    const t = Tensor.empty(shape, { ...opts, dtype: checkFloat(opts.dtype ?? 'float32', 'randn: dtype') });
    native().fillNormal(t.handle, mean, std, seed);
    return t;
  }

  /** Uniform in [low, high). */
  static uniform(shape: number[], opts: TensorOptions & { seed?: number; low?: number; high?: number } = {}): Tensor {
    const seed = checkSeed(opts.seed ?? nextSeed(), 'uniform: seed');
    const low = checkNumber(opts.low ?? 0, 'uniform: low');
    const high = checkNumber(opts.high ?? 1, 'uniform: high');
    if (!(high >= low)) throw new RangeError(`uniform: high (${high}) must be >= low (${low})`);
    const t = Tensor.empty(shape, { ...opts, dtype: checkFloat(opts.dtype ?? 'float32', 'uniform: dtype') });
    native().fillUniform(t.handle, low, high, seed);
    return t;
  }
}

function checkFloat(dtype: unknown, arg: string): DType {
  const d = checkDType(dtype, arg);
  if (d === 'int32' || d === 'uint8') throw new TypeError(`${arg} must be a float dtype, got '${d}'`);
  return d;
}

function impliedDType(data: unknown): DType {
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof Uint8Array) return 'uint8';
  return 'float32';
}

function resolveOptions(opts: TensorOptions, fn: string): Required<TensorOptions> {
  if (opts === null || typeof opts !== 'object') throw new TypeError(`${fn}: options must be an object, got ${describe(opts)}`);
  return {
    dtype: checkDType(opts.dtype ?? 'float32', `${fn}: dtype`),
    device: checkDevice(opts.device ?? 'cpu', `${fn}: device`),
    layout: checkLayout(opts.layout ?? 'NCHW', `${fn}: layout`),
  };
}

function layoutFor(shape: number[], layout: Layout): Layout {
  return shape.length === 4 ? layout : 'NCHW';
}

function parseTarget(target: string): TensorOptions {
  if ((DTYPES as readonly string[]).includes(target)) return { dtype: target as DType };
  if (target === 'NCHW' || target === 'NHWC') return { layout: target };
  return { device: checkDevice(target, 'to: target') };
}

// ---------------------------------------------------------------- seeds

// splitmix-style mixing in 32-bit halves, kept below 2^53 so seeds survive as JS numbers.
let seedState = 0x2545f491;

/** Seeds the generator that unseeded random constructors and layer initialisers draw from. */
export function manualSeed(seed: number): void {
  seedState = ((checkSeed(seed, 'manualSeed: seed') >>> 0) ^ Math.floor(seed / 2 ** 32)) >>> 0;
}

/** The next seed from the global generator. */
export function nextSeed(): number {
  seedState = (seedState + 0x9e3779b9) >>> 0;
  return deriveSeed(seedState, 0);
}

/** A seed in [0, 2^53) derived deterministically from a base seed and an index. */
export function deriveSeed(base: number, index: number): number {
  let h1 = (Math.imul((base >>> 0) ^ 0x85ebca6b, 0xc2b2ae35) ^ Math.imul(index + 1, 0x27d4eb2f)) >>> 0;
  let h2 = (Math.floor(base / 2 ** 32) ^ Math.imul(index ^ 0x165667b1, 0x9e3779b1)) >>> 0;
  h1 = Math.imul(h1 ^ (h1 >>> 16), 0x85ebca6b) >>> 0;
  h1 = Math.imul(h1 ^ (h1 >>> 13), 0xc2b2ae35) >>> 0;
  h2 = Math.imul(h2 ^ h1 ^ (h2 >>> 15), 0x2c1b3c6d) >>> 0;
  h2 = (h2 ^ (h2 >>> 12)) >>> 0;
  const lo = (h1 ^ (h1 >>> 16)) >>> 0;
  return (h2 & 0x1fffff) * 2 ** 32 + lo;
}
