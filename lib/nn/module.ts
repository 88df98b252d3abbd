// Module: a tree of named parameters, buffers and child modules, in registration order, so
// that state-dict keys come out in PyTorch's order (own parameters, own buffers, then each
// child's, depth first) and with its names.
import { badArg, checkOptions, optionNames } from '../checks';
import { native } from '../native';
import { checkDevice, checkDType, describe, keep, Tensor, DType, Device, Layout } from '../tensor';
import type { PredictInput, PredictOptions, Predictions } from '../infer/predict';

/** A state value: a tensor, or a bigint for an int64 scalar such as num_batches_tracked. */
export type StateValue = Tensor | bigint;
export type StateDict = Map<string, StateValue>;

export type GradHook = (grad: Tensor, module: Module) => void;

/** What a model's weights come with for inference; infer.load() fills it from a run's checkpoint. */
export interface ModelMeta {
  /** One name per output class. */
  classNames?: readonly string[];
  /** The per-channel statistics the model was trained with (pixel values in [0, 1]). */
  normalization?: { mean: number[]; std: number[] };
  /** The crop size it was trained at. */
  imageSize?: number;
}

export abstract class Module {
  training = true;
  /** Stays in eval mode whatever train() asks (batch norm of a frozen part, see freeze()). */
  evalOnly = false;
  /** Class names, input statistics and image size for predict() (empty unless loaded with them). */
  meta: ModelMeta = {};
  private readonly _params = new Map<string, Tensor | null>();
  private readonly _buffers = new Map<string, Tensor | bigint>();
  private readonly _modules = new Map<string, Module>();
  private readonly _gradHooks: GradHook[] = [];
  private _hooked = false;

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  abstract forward(x: Tensor, ...rest: any[]): Tensor;

  /** Adds a trainable tensor (kept, requiresGrad) under `name`; null registers an absent one. */
  protected registerParameter(name: string, t: Tensor | null): Tensor | null {
    checkName(name, this._params, 'Module.registerParameter');
    if (t) {
      keep(t);
      t.requiresGrad = true;
    }
    this._params.set(name, t);
    return t;
  }

  /** Adds non-trainable state (kept), e.g. running statistics; bigint for int64 scalars. */
  protected registerBuffer(name: string, t: Tensor | bigint): void {
    checkName(name, this._buffers, 'Module.registerBuffer');
    if (t instanceof Tensor) keep(t);
    this._buffers.set(name, t);
  }

  protected setBuffer(name: string, v: bigint): void {
    if (!this._buffers.has(name)) throw badArg('range', 'Module.setBuffer: name', `names no buffer: '${name}'`);
    this._buffers.set(name, v);
  }

  protected getBuffer(name: string): Tensor | bigint {
    const v = this._buffers.get(name);
    if (v === undefined) throw badArg('range', 'Module.getBuffer: name', `names no buffer: '${name}'`);
    return v;
  }

  registerModule<M extends Module>(name: string, m: M): M {
    checkName(name, this._modules, 'Module.registerModule');
    if (!(m instanceof Module)) throw badArg('type', 'Module.registerModule: m', `must be a Module (for '${name}'), got ${describe(m)}`);
    this._modules.set(name, m);
    return m;
  }

  *children(): IterableIterator<[string, Module]> {
    yield* this._modules.entries();
  }

  /** This module ('' ) and every descendant with its dotted name, depth first. */
  namedModules(prefix = ''): [string, Module][] {
    const out: [string, Module][] = [[prefix, this]];
    for (const [n, m] of this._modules) out.push(...m.namedModules(prefix ? `${prefix}.${n}` : n));
    return out;
  }

  namedParameters(): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [prefix, m] of this.namedModules()) for (const [n, t] of m._params) if (t) out.push([prefix ? `${prefix}.${n}` : n, t]);
    return out;
  }

  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }

  namedBuffers(): [string, Tensor | bigint][] {
    const out: [string, Tensor | bigint][] = [];
    for (const [prefix, m] of this.namedModules()) for (const [n, t] of m._buffers) out.push([prefix ? `${prefix}.${n}` : n, t]);
    return out;
  }

  /** Tensor buffers (running statistics); int64 scalars are left out. */
  buffers(): Tensor[] {
    return this.namedBuffers().flatMap(([, t]) => (t instanceof Tensor ? [t] : []));
  }

  /** Trainable elements (BN weight and bias included, running statistics not). */
  parameterCount(): number {
    return this.parameters().reduce((s, t) => s + t.size, 0);
  }

  train(mode = true): this {
    if (typeof mode !== 'boolean') throw badArg('type', 'Module.train: mode', `must be a boolean, got ${describe(mode)}`);
    for (const [, m] of this.namedModules()) m.training = mode && !m.evalOnly;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /**
   * The top-k classes of each image with their probabilities: file paths, encoded image
   * bytes or 3 x size x size pixel arrays (resized and normalised as the run's validation
   * images were), or a Tensor batch used as it is. Eval mode and no tape for the call; every
   * module's mode is restored after. See infer.predict.
   */
  async predict(images: PredictInput, options?: PredictOptions): Promise<Predictions> {
    const { predict } = await import('../infer/predict');
    return predict(this, images, options);
  }

  /** Parameters and buffers by dotted name, in PyTorch's state_dict order. The tensors are the module's own (not copies). */
  stateDict(): StateDict {
    const out: StateDict = new Map();
    for (const [prefix, m] of this.namedModules()) {
      const p = prefix ? `${prefix}.` : '';
      for (const [n, t] of m._params) if (t) out.set(p + n, t);
      for (const [n, t] of m._buffers) out.set(p + n, t);
    }
    return out;
  }

  /**
   * Copies values into this module's tensors (converted to their device, dtype and layout).
   * With strict (the default) missing or unexpected keys fail; a wrong shape always fails.
   * The error lists every problem at once.
   */
  loadStateDict(state: Map<string, StateValue> | Record<string, StateValue>, opts: { strict?: boolean } = {}): void {
    if (typeof state !== 'object' || state === null)
      throw badArg('type', 'Module.loadStateDict: state', `must be a Map or an object of name -> tensor, got ${describe(state)}`);
    checkOptions('Module.loadStateDict', opts, LOAD_STATE_OPTIONS);
    const src = state instanceof Map ? state : new Map(Object.entries(state));
    const own = this.stateDict();
    const strict = opts.strict ?? true;
    if (typeof strict !== 'boolean') throw badArg('type', 'Module.loadStateDict: strict', `must be a boolean, got ${describe(strict)}`);
    const missing = [...own.keys()].filter((k) => !src.has(k));
    const unexpected = [...src.keys()].filter((k) => !own.has(k));
    const wrong: string[] = [];
    for (const [k, v] of src) {
      const mine = own.get(k);
      if (mine === undefined) continue;
      if (mine instanceof Tensor) {
        if (!(v instanceof Tensor)) wrong.push(`${k}: expected a tensor of shape [${mine.shape.join(', ')}], got ${describe(v)}`);
        else if (v.shape.join() !== mine.shape.join()) wrong.push(`${k}: shape [${v.shape.join(', ')}] in the source, [${mine.shape.join(', ')}] in the model`);
      } else if (!(typeof v === 'bigint' || (v instanceof Tensor && v.size === 1))) {
        wrong.push(`${k}: expected an int64 scalar, got ${describe(v)}`);
      }
    }
    const problems: string[] = [];
    if (strict && missing.length) problems.push(`missing keys: ${missing.join(', ')}`);
    if (strict && unexpected.length) problems.push(`unexpected keys: ${unexpected.join(', ')}`);
    if (wrong.length) problems.push(`wrong shapes: ${wrong.join('; ')}`);
    if (problems.length) throw badArg('range', 'Module.loadStateDict: state', `does not fit the module: ${problems.join('\n  ')}`);
    for (const [prefix, m] of this.namedModules()) {
      const p = prefix ? `${prefix}.` : '';
      for (const [n, t] of m._params) if (t && src.has(p + n)) copyConverted(t, src.get(p + n) as Tensor);
      for (const [n, t] of m._buffers) {
        const v = src.get(p + n);
        if (v === undefined) continue;
        if (t instanceof Tensor) copyConverted(t, v as Tensor);
        else m._buffers.set(n, typeof v === 'bigint' ? v : BigInt(Math.round((v as Tensor).item())));
      }
    }
  }

  /**
   * Moves every parameter and buffer to a device, and float parameters and buffers to a
   * dtype (batch norm's stay fp32, as the native ops need). Conv2d and Linear convert
   * their weights to their input's dtype and layout in forward, so an fp32 model runs bf16
   * NHWC inputs as it is (fp32 master weights); to(dtype) is for pure low-precision use. Tensor objects keep their identity (an optimizer built before stays valid, its
   * state does not move). Gradients are dropped.
   */
  to(target: Device | DType | { device?: Device; dtype?: DType }): this {
    const o =
      typeof target === 'string'
        ? /^(cpu|cuda:\d+)$/.test(target)
          ? { device: target }
          : { dtype: checkDType(target, 'Module.to: target') }
        : checkOptions('Module.to', target, MODULE_TO_OPTIONS, 'target');
    if (o.device !== undefined) checkDevice(o.device, 'Module.to: target.device');
    if (o.dtype !== undefined) checkDType(o.dtype, 'Module.to: target.dtype');
    const fp32 = new Set<Tensor>();
    for (const [, m] of this.namedModules()) if (m.keepsFp32()) for (const [, t] of [...m._params, ...m._buffers]) if (t instanceof Tensor) fp32.add(t);
    for (const t of [...this.parameters(), ...this.buffers()]) {
      let h = t.handle;
      const fresh: (typeof h)[] = [];
      if (o.device !== undefined && h.device !== o.device) fresh.push((h = native().toDevice(h, o.device)));
      if (o.dtype !== undefined && !fp32.has(t) && h.dtype !== o.dtype && h.dtype !== 'int32' && h.dtype !== 'uint8')
        fresh.push((h = native().cast(h, o.dtype)));
      if (fresh.length === 0) continue;
      for (const f of fresh.slice(0, -1)) f.dispose();
      if (t.grad) t.grad.dispose();
      t.grad = null;
      t.replaceHandle(h);
    }
    return this;
  }

  /** Whether this module's own tensors stay fp32 under to(dtype) (batch norm). */
  protected keepsFp32(): boolean {
    return false;
  }

  /** Converts 4-D parameters (convolution weights) to a memory layout. */
  toLayout(layout: Layout): this {
    for (const t of this.parameters()) {
      if (t.rank !== 4 || t.layout === layout) continue;
      if (t.grad) t.grad.dispose();
      t.grad = null;
      t.replaceHandle(native().toLayout(t.handle, layout));
    }
    return this;
  }

  /** Sets every parameter's gradient to null (disposing it). */
  zeroGrad(): void {
    for (const t of this.parameters()) {
      if (t.grad) t.grad.dispose();
      t.grad = null;
    }
  }

  /** Frees every parameter, buffer and gradient. */
  dispose(): void {
    for (const t of [...this.parameters(), ...this.buffers()]) t.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  /**
   * Calls fn(grad, module) with the gradient of this module's output during each backward
   * (diagnostics: per-layer gradient norms). The gradient is only valid inside fn. Returns
   * a remover.
   */
  registerGradHook(fn: GradHook): () => void {
    if (typeof fn !== 'function') throw badArg('type', 'Module.registerGradHook: fn', `must be a function, got ${describe(fn)}`);
    this._gradHooks.push(fn);
    if (!this._hooked) {
      // Wraps this instance's forward once; hooks attach to each output that records a gradient.
      this._hooked = true;
      const impl = this.forward;
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      const self = this as { forward: (...xs: any[]) => Tensor };
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      self.forward = (...xs: any[]) => {
        const y = (impl as (...a: unknown[]) => Tensor).apply(this, xs);
        if (y.gradFn && this._gradHooks.length) for (const h of this._gradHooks.slice()) y.registerHook((g) => h(g, this));
        return y;
      };
    }
    return () => {
      const i = this._gradHooks.indexOf(fn);
      if (i >= 0) this._gradHooks.splice(i, 1);
    };
  }
}

const LOAD_STATE_OPTIONS = optionNames<{ strict?: boolean }>({ strict: true });
const MODULE_TO_OPTIONS = optionNames<{ device?: Device; dtype?: DType }>({ device: true, dtype: true });

function checkName(name: string, map: Map<string, unknown>, fn: string): void {
  if (typeof name !== 'string' || name === '' || name.includes('.'))
    throw badArg('type', `${fn}: name`, `must be a non-empty string without dots, got ${describe(name)}`);
  if (map.has(name)) throw badArg('range', `${fn}: name`, `'${name}' is already registered`);
}

function copyConverted(dst: Tensor, src: Tensor): void {
  if (src.dtype === dst.dtype && src.layout === dst.layout && src.device === dst.device) {
    native().copyInto(dst.handle, src.handle);
    return;
  }
  const tmp = src.to({ device: dst.device, dtype: dst.dtype, layout: dst.layout });
  try {
    native().copyInto(dst.handle, tmp.handle);
  } finally {
    tmp.dispose();
  }
}
