// SGD with momentum, dampening, Nesterov and L2 weight decay, with PyTorch's semantics
// (torch.optim.SGD: decay is added to the gradient, the first step sets the momentum buffer
// to the gradient). One native sgdUpdate call updates a whole group of tensors, so a step
// costs a handful of calls whatever the model's size.
import { native } from '../native';
import { Module } from '../nn/module';
import { checkNumber, describe, keep, Tensor } from '../tensor';

export interface SGDOptions {
  lr: number;
  momentum?: number;
  dampening?: number;
  nesterov?: boolean;
  weightDecay?: number;
  /**
   * Apply no weight decay to BN weights and biases and to layer biases: every 1-D
   * parameter. Default false (the paper decays everything).
   */
  excludeBnAndBiasFromDecay?: boolean;
}

export class SGD {
  private readonly params: [string, Tensor][];
  private readonly buffers = new Map<Tensor, Tensor>();
  private _lr: number;
  readonly momentum: number;
  readonly dampening: number;
  readonly nesterov: boolean;
  readonly weightDecay: number;
  readonly excludeBnAndBiasFromDecay: boolean;
  /** Steps taken (updated by step()). */
  stepCount = 0;

  /** params: a Module (its named parameters), a list of tensors, or [name, tensor] pairs. */
  constructor(params: Module | Tensor[] | [string, Tensor][], options: SGDOptions) {
    if (params instanceof Module) this.params = params.namedParameters();
    else if (Array.isArray(params)) {
      this.params = params.map((p, i) => (Array.isArray(p) ? [String(p[0]), p[1]] : [String(i), p]));
    } else throw new TypeError(`SGD: params must be a Module or an array of tensors, got ${describe(params)}`);
    for (const [n, t] of this.params) if (!(t instanceof Tensor)) throw new TypeError(`SGD: params['${n}'] must be a Tensor, got ${describe(t)}`);
    if (options === null || typeof options !== 'object') throw new TypeError(`SGD: options must be an object with lr, got ${describe(options)}`);
    this._lr = checkNumber(options.lr, 'SGD: lr', { min: 0 });
    this.momentum = checkNumber(options.momentum ?? 0, 'SGD: momentum', { min: 0 });
    this.dampening = checkNumber(options.dampening ?? 0, 'SGD: dampening', { min: 0, max: 1 });
    this.weightDecay = checkNumber(options.weightDecay ?? 0, 'SGD: weightDecay', { min: 0 });
    this.nesterov = options.nesterov ?? false;
    if (typeof this.nesterov !== 'boolean') throw new TypeError(`SGD: nesterov must be a boolean, got ${describe(this.nesterov)}`);
    if (this.nesterov && (this.momentum <= 0 || this.dampening !== 0))
      throw new RangeError(`SGD: nesterov requires momentum > 0 and dampening 0 (got momentum ${this.momentum}, dampening ${this.dampening})`);
    this.excludeBnAndBiasFromDecay = options.excludeBnAndBiasFromDecay ?? false;
  }

  get lr(): number {
    return this._lr;
  }

  set lr(v: number) {
    this._lr = checkNumber(v, 'SGD: lr', { min: 0 });
  }

  /** The parameters this optimizer updates, with their names. */
  namedParameters(): [string, Tensor][] {
    return this.params.slice();
  }

  /** One update of every parameter that has a gradient. */
  step(): void {
    // Groups by (decay, first step), the two things one native call cannot vary.
    const groups = new Map<string, { p: Tensor[]; g: Tensor[]; b: Tensor[]; wd: number; first: boolean }>();
    for (const [, p] of this.params) {
      if (!p.grad) continue;
      const wd = this.excludeBnAndBiasFromDecay && p.rank === 1 ? 0 : this.weightDecay;
      let buf = this.buffers.get(p);
      const first = this.momentum !== 0 && !buf;
      if (first) {
        buf = keep(new Tensor(native().empty(p.shape, p.dtype, p.layout, p.device)));
        this.buffers.set(p, buf);
      }
      const key = `${wd}/${first}`;
      let grp = groups.get(key);
      if (!grp) groups.set(key, (grp = { p: [], g: [], b: [], wd, first }));
      grp.p.push(p);
      grp.g.push(p.grad);
      if (buf && this.momentum !== 0) grp.b.push(buf);
    }
    for (const g of groups.values()) {
      native().sgdUpdate(g.p.map((t) => t.handle), g.g.map((t) => t.handle), g.b.map((t) => t.handle),
        this._lr, this.momentum, this.dampening, g.wd, this.nesterov, g.first);
    }
    this.stepCount++;
  }

  /** Disposes every parameter's gradient and sets it to null. */
  zeroGrad(): void {
    for (const [, p] of this.params) {
      if (p.grad) p.grad.dispose();
      p.grad = null;
    }
  }

  /** Momentum buffers by parameter name ('momentum_buffer.<name>'); the tensors are the optimizer's own. */
  stateDict(): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    for (const [n, p] of this.params) {
      const b = this.buffers.get(p);
      if (b) out.set(`momentum_buffer.${n}`, b);
    }
    return out;
  }

  /** Restores momentum buffers (copied, converted to each parameter's device and layout). */
  loadStateDict(state: Map<string, Tensor>, stepCount?: number): void {
    const byName = new Map(this.params);
    const unexpected: string[] = [];
    const wrong: string[] = [];
    for (const [k, v] of state) {
      const p = k.startsWith('momentum_buffer.') ? byName.get(k.slice('momentum_buffer.'.length)) : undefined;
      if (!p) unexpected.push(k);
      else if (v.shape.join() !== p.shape.join()) wrong.push(`${k}: [${v.shape.join(', ')}] vs parameter [${p.shape.join(', ')}]`);
    }
    if (unexpected.length || wrong.length)
      throw new RangeError(`SGD.loadStateDict: ${[unexpected.length ? `unexpected keys: ${unexpected.join(', ')}` : '', wrong.length ? `wrong shapes: ${wrong.join('; ')}` : ''].filter(Boolean).join('\n  ')}`);
    for (const b of this.buffers.values()) b.dispose();
    this.buffers.clear();
    for (const [k, v] of state) {
      const p = byName.get(k.slice('momentum_buffer.'.length)) as Tensor;
      this.buffers.set(p, keep(v.to({ device: p.device, dtype: p.dtype, layout: p.layout })));
    }
    if (stepCount !== undefined) this.stepCount = checkNumber(stepCount, 'stepCount', { integer: true, min: 0 });
  }

  /** Frees the momentum buffers. */
  dispose(): void {
    for (const b of this.buffers.values()) b.dispose();
    this.buffers.clear();
  }
}

/**
 * Rescales the gradients so that their global L2 norm is at most maxNorm (one native
 * l2Norms call; reads n floats back to the host). Returns the norm before clipping.
 */
export function clipGradNorm(params: Module | Tensor[], maxNorm: number): number {
  checkNumber(maxNorm, 'clipGradNorm: maxNorm', { min: 0 });
  const list = (params instanceof Module ? params.parameters() : params).filter((p) => p.grad);
  if (list.length === 0) return 0;
  const byDevice = new Map<string, Tensor[]>();
  for (const p of list) byDevice.set(p.device, [...(byDevice.get(p.device) ?? []), p]);
  let sq = 0;
  for (const ps of byDevice.values()) {
    const h = native().l2Norms(ps.map((p) => (p.grad as Tensor).handle));
    try {
      for (const v of h.read() as Float32Array) sq += v * v;
    } finally {
      h.dispose();
    }
  }
  const total = Math.sqrt(sq);
  const coef = maxNorm / (total + 1e-6);
  if (coef < 1) {
    for (const p of list) {
      const g = p.grad as Tensor;
      const scaled = native().scale(g.handle, coef);
      g.replaceHandle(scaled);
    }
  }
  return total;
}
