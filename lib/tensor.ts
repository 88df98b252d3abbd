// The Tensor users program against: a native handle plus the autograd fields, deterministic
// disposal (dispose(), `using`, tidy() scopes) and argument checks that run before any
// native call, so a mistake is reported in terms of the public API.
import { native, NativeMemoryStats, NativeTensor, NativeTypedArray } from './native';

import { badArg, checkDType, checkNumber, checkOptions, checkSeed, describe, Device, DType, Layout, numel } from './checks';
import { asOp } from './errors';
import { nextSeed } from './seeds';
import { checkFloat, impliedDType, parseTarget, RANDN_OPTIONS, TENSOR_OPTIONS, TensorOptions, UNIFORM_OPTIONS } from './tensor-options';

export { checkDevice, checkDType, checkLayout, checkNumber, checkSeed, checkShape, describe, DTYPES, LAYOUTS, numel } from './checks';
export type { Device, DType, Layout } from './checks';
export { manualSeed, nextSeed, deriveSeed } from './seeds';
export type { TensorOptions } from './tensor-options';
export type TensorData = Float32Array | Int32Array | Uint8Array;

/** The autograd record that produced a tensor; see lib/autograd/engine.ts. */
export interface GradNode {
  readonly name: string;
}

// ---------------------------------------------------------------- argument checks

export function checkTensor(t: unknown, arg: string): Tensor {
  if (!(t instanceof Tensor)) throw badArg('type', arg, `must be a Tensor, got ${describe(t)}`);
  if (t.disposed) throw badArg('type', arg, t.disposedReason());
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
  if (typeof fn !== 'function') throw badArg('type', 'tidy: fn', `must be a function, got ${describe(fn)}`);
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
    throw badArg('type', 'tidy: fn', 'must be synchronous (it returned a Promise); a scope cannot span an await');
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

/** The id the next Tensor will get: every tensor with a smaller id was made before now. */
export function nextTensorId(): number {
  return nextId;
}

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
  get shape(): number[] {
    return this.handle.shape;
  }
  get dtype(): DType {
    return this.handle.dtype;
  }
  get layout(): Layout {
    return this.handle.layout;
  }
  get device(): Device {
    return this.handle.device;
  }
  get nbytes(): number {
    return this.handle.nbytes;
  }
  get rank(): number {
    return this.handle.shape.length;
  }
  get size(): number {
    return numel(this.handle.shape);
  }

  /** Called by backward() as it frees an intermediate activation it no longer needs. */
  freeAfterBackward(): void {
    this.freedByBackward = true;
    this.dispose();
  }

  /** Why the tensor cannot be used, completing "Tensor 12 ..." (it is disposed). */
  disposedReason(): string {
    if (!this.freedByBackward) return 'has been disposed';
    return (
      'was freed by backward(): it is an intermediate result (e.g. a model output), and backward() frees those once ' +
      'the ops that saved them have run. Read it before calling backward(), or keep() it to read it after (then dispose it yourself)'
    );
  }
  get disposed(): boolean {
    return this._handle.disposed;
  }
  get isLeaf(): boolean {
    return this.gradFn === null;
  }

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
    if (this.size !== 1) throw badArg('range', 'Tensor.item: this', `must have one element, has shape [${this.shape.join(', ')}]`);
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
    const opts: TensorOptions = typeof target === 'string' ? parseTarget(target) : checkOptions('Tensor.to', target, TENSOR_OPTIONS, 'target');
    const temps: NativeTensor[] = [];
    try {
      return asOp(
        'Tensor.to',
        () => {
          let h = this.handle;
          const step = (n: NativeTensor) => {
            temps.push(n);
            h = n;
          };
          if (opts.device !== undefined && opts.device !== h.device) step(native().toDevice(h, opts.device));
          // Only 4-D tensors have a layout: asking another rank for NHWC is refused natively.
          const dtype = opts.dtype ?? h.dtype,
            layout = opts.layout ?? h.layout;
          if (dtype !== h.dtype || layout !== h.layout) step(native().convert(h, dtype, layout));
          if (temps.length === 0) step(native().toDevice(h, h.device));
          return new Tensor(temps.pop()!); // the result leaves `temps`; the rest is freed below
        },
        { x: 'this' },
      );
    } finally {
      for (const t of temps) t.dispose();
    }
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
    checkTensor(src, 'Tensor.copyFrom: src');
    if (src.shape.join() !== this.shape.join())
      throw badArg('range', 'Tensor.copyFrom: src', `has shape [${src.shape.join(', ')}], this tensor [${this.shape.join(', ')}]`);
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
    if (typeof fn !== 'function') throw badArg('type', 'Tensor.registerHook: fn', `must be a function, got ${describe(fn)}`);
    this.hooks.push(fn);
    return () => {
      const i = this.hooks.indexOf(fn);
      if (i >= 0) this.hooks.splice(i, 1);
    };
  }

  // ---- constructors ----

  static empty(shape: number[], opts: TensorOptions = {}): Tensor {
    return Tensor.make('Tensor.empty', shape, opts);
  }

  static full(shape: number[], value: number, opts: TensorOptions = {}): Tensor {
    return Tensor.make('Tensor.full', shape, opts, value);
  }

  static zeros(shape: number[], opts: TensorOptions = {}): Tensor {
    return Tensor.make('Tensor.zeros', shape, opts, 0);
  }

  static ones(shape: number[], opts: TensorOptions = {}): Tensor {
    return Tensor.make('Tensor.ones', shape, opts, 1);
  }

  // shape, dtype, layout and device are checked natively, once; errors name `op`.
  private static make(op: string, shape: number[], opts: TensorOptions, value?: number): Tensor {
    const o = checkOptions(op, opts, TENSOR_OPTIONS);
    const dtype = o.dtype ?? 'float32',
      layout = o.layout ?? 'NCHW',
      device = o.device ?? 'cpu';
    return asOp(op, () => new Tensor(value === undefined ? native().empty(shape, dtype, layout, device) : native().full(shape, dtype, layout, device, value)));
  }

  /**
   * From values in logical (NCHW) order. Plain arrays become float32 unless dtype says
   * otherwise; typed arrays imply their dtype (Float32Array float32, Int32Array int32,
   * Uint8Array uint8) and float16/bfloat16 accept Float32Array values.
   */
  static fromArray(data: ArrayLike<number>, shape: number[], opts: TensorOptions = {}): Tensor {
    return Tensor.fromValues('Tensor.fromArray', data, shape, opts);
  }

  private static fromValues(op: string, data: ArrayLike<number>, shape: number[], opts: TensorOptions): Tensor {
    const o = checkOptions(op, opts, TENSOR_OPTIONS);
    const dtype = checkDType(o.dtype ?? impliedDType(data), `${op}: dtype`);
    const device = o.device ?? 'cpu';
    const layout = o.layout ?? 'NCHW';
    if (data === null || typeof data !== 'object' || typeof (data as ArrayLike<number>).length !== 'number')
      throw badArg('type', `${op}: data`, `must be an array or typed array, got ${describe(data)}`);
    let arr: NativeTypedArray;
    if (dtype === 'int32') arr = data instanceof Int32Array ? data : Int32Array.from(data);
    else if (dtype === 'uint8') arr = data instanceof Uint8Array ? data : Uint8Array.from(data);
    else arr = data instanceof Float32Array ? data : Float32Array.from(data);
    return asOp(op, () => {
      if (layout !== 'NHWC') return new Tensor(native().fromTypedArray(arr, shape, dtype, layout, device));
      // Values arrive in NCHW order: uploaded so on the host, then converted (convert refuses
      // NHWC for a tensor that is not 4-D) and moved.
      const nchw = native().fromTypedArray(arr, shape, dtype, 'NCHW', 'cpu');
      const temps = [nchw];
      try {
        temps.push(native().convert(nchw, dtype, 'NHWC'));
        return new Tensor(device === 'cpu' ? temps.pop()! : native().toDevice(temps[1], device));
      } finally {
        for (const t of temps) t.dispose();
      }
    });
  }

  /** Alias of fromArray. */
  static from(data: ArrayLike<number>, shape: number[], opts: TensorOptions = {}): Tensor {
    return Tensor.fromValues('Tensor.from', data, shape, opts);
  }

  /** Normal(mean, std) from a counter-based generator: the same seed gives the same values on every device. */
  static randn(shape: number[], opts: TensorOptions & { seed?: number; mean?: number; std?: number } = {}): Tensor {
    const o = checkOptions('Tensor.randn', opts, RANDN_OPTIONS);
    const seed = checkSeed(o.seed ?? nextSeed(), 'Tensor.randn: seed');
    const mean = checkNumber(o.mean ?? 0, 'Tensor.randn: mean');
    const std = checkNumber(o.std ?? 1, 'Tensor.randn: std', { min: 0 });
    const dtype = checkFloat(o.dtype ?? 'float32', 'Tensor.randn: dtype');
    const t = Tensor.make('Tensor.randn', shape, { dtype, device: o.device, layout: o.layout });
    native().fillNormal(t.handle, mean, std, seed);
    return t;
  }

  /** Uniform in [low, high). */
  static uniform(shape: number[], opts: TensorOptions & { seed?: number; low?: number; high?: number } = {}): Tensor {
    const o = checkOptions('Tensor.uniform', opts, UNIFORM_OPTIONS);
    const seed = checkSeed(o.seed ?? nextSeed(), 'Tensor.uniform: seed');
    const low = checkNumber(o.low ?? 0, 'Tensor.uniform: low');
    const high = checkNumber(o.high ?? 1, 'Tensor.uniform: high');
    if (!(high >= low)) throw badArg('range', 'Tensor.uniform: high', `must be >= low (${low}), got ${high}`);
    const dtype = checkFloat(o.dtype ?? 'float32', 'Tensor.uniform: dtype');
    const t = Tensor.make('Tensor.uniform', shape, { dtype, device: o.device, layout: o.layout });
    native().fillUniform(t.handle, low, high, seed);
    return t;
  }
}
