// SGD with momentum, dampening, Nesterov and L2 weight decay, with PyTorch's semantics
// (torch.optim.SGD: decay is added to the gradient, the first step sets the momentum buffer
// to the gradient). One native sgdUpdate call updates a whole group of tensors, so a step
// costs a handful of calls whatever the model's size.
//
// The learning rate lives in a [1] device tensor per device as well as here: setting `lr`
// writes it at once, and the update kernel reads it when it runs. So a step recorded in a
// CUDA graph follows a schedule without being re-captured. step({ skipIf }) makes the
// update conditional on a device flag (the loss scaler's found-inf), again with no host
// round trip.
import { native } from '../native';
import { Module } from '../nn/module';
import { badArg, checkOptions, optionNames } from '../checks';
import { argError, asOp } from '../errors';
import { checkNumber, checkTensor, describe, keep, Tensor } from '../tensor';

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
  /**
   * Parameter groups with their own learning-rate multiplier and weight decay, e.g. a new
   * head trained faster than a pretrained backbone. The first group whose `params` match a
   * parameter's name applies; other parameters use lr and weightDecay.
   */
  groups?: ParamGroup[];
}

export interface ParamGroup {
  /** Module names or prefixes ('fc', 'layer4.2'), or a predicate on the parameter's name. */
  params: string[] | ((name: string) => boolean);
  /** Multiplies lr (so schedules move every group together). Default 1. */
  lrScale?: number;
  /** Default: the optimizer's weightDecay. */
  weightDecay?: number;
}

const SGD_OPTIONS = optionNames<SGDOptions>({
  lr: true,
  momentum: true,
  dampening: true,
  nesterov: true,
  weightDecay: true,
  excludeBnAndBiasFromDecay: true,
  groups: true,
});

const PARAM_GROUP_KEYS = optionNames<ParamGroup>({ params: true, lrScale: true, weightDecay: true });

export class SGD {
  private readonly params: [string, Tensor][];
  private readonly buffers = new Map<Tensor, Tensor>();
  private _lr: number;
  private readonly lrTensors = new Map<string, { t: Tensor; scale: number }>(); // device/scale -> [1] f32 lr * scale
  private readonly groupOf = new Map<Tensor, { scale: number; wd: number }>();
  readonly momentum: number;
  readonly dampening: number;
  readonly nesterov: boolean;
  readonly weightDecay: number;
  readonly excludeBnAndBiasFromDecay: boolean;
  /** Steps taken (updated by step()). */
  stepCount = 0;
  private version = 0;

  /** params: a Module (its named parameters), a list of tensors, or [name, tensor] pairs. */
  constructor(params: Module | Tensor[] | [string, Tensor][], options: SGDOptions) {
    if (params instanceof Module) this.params = params.namedParameters();
    else if (Array.isArray(params)) {
      this.params = params.map((p, i) => (Array.isArray(p) ? [String(p[0]), p[1]] : [String(i), p]));
    } else throw badArg('type', 'SGD: params', `must be a Module or an array of tensors, got ${describe(params)}`);
    for (const [n, t] of this.params) if (!(t instanceof Tensor)) throw badArg('type', `SGD: params['${n}']`, `must be a Tensor, got ${describe(t)}`);
    const seen = new Map<Tensor, string>();
    for (const [n, t] of this.params) {
      const first = seen.get(t);
      if (first !== undefined)
        throw argError('range', 'SGD', 'params', `lists one tensor twice ('${first}' and '${n}'); each step would update it twice`, 'ERR_ALIASED_ARGS');
      seen.set(t, n);
    }
    if (options === null || typeof options !== 'object') throw badArg('type', 'SGD: options', `must be an object with lr, got ${describe(options)}`);
    checkOptions('SGD', options, SGD_OPTIONS);
    this._lr = checkNumber(options.lr, 'SGD: lr', { min: 0 });
    this.momentum = checkNumber(options.momentum ?? 0, 'SGD: momentum', { min: 0 });
    this.dampening = checkNumber(options.dampening ?? 0, 'SGD: dampening', { min: 0, max: 1 });
    this.weightDecay = checkNumber(options.weightDecay ?? 0, 'SGD: weightDecay', { min: 0 });
    this.nesterov = options.nesterov ?? false;
    if (typeof this.nesterov !== 'boolean') throw badArg('type', 'SGD: nesterov', `must be a boolean, got ${describe(this.nesterov)}`);
    if (this.nesterov && (this.momentum <= 0 || this.dampening !== 0))
      throw badArg('range', 'SGD: nesterov', `requires momentum > 0 and dampening 0 (got momentum ${this.momentum}, dampening ${this.dampening})`);
    this.excludeBnAndBiasFromDecay = options.excludeBnAndBiasFromDecay ?? false;
    this.assignGroups(options.groups);
  }

  private assignGroups(groups: ParamGroup[] | undefined): void {
    if (groups === undefined) return;
    if (!Array.isArray(groups)) throw badArg('type', 'SGD: groups', `must be an array, got ${describe(groups)}`);
    groups.forEach((g, i) => {
      const arg = `SGD: groups[${i}]`;
      checkOptions('SGD', g, PARAM_GROUP_KEYS, `groups[${i}]`);
      if (g === undefined) throw badArg('type', arg, 'must be an object, got undefined');
      const scale = checkNumber(g.lrScale ?? 1, `${arg}.lrScale`, { min: 0 });
      const wd = checkNumber(g.weightDecay ?? this.weightDecay, `${arg}.weightDecay`, { min: 0 });
      let match: (name: string) => boolean;
      if (typeof g.params === 'function') match = g.params;
      else if (Array.isArray(g.params) && g.params.length > 0 && g.params.every((p) => typeof p === 'string' && p !== '')) {
        const ps = g.params.map((p) => p.replace(/\.$/, ''));
        match = (n) => ps.some((p) => n === p || n.startsWith(`${p}.`));
      } else throw badArg('type', `${arg}.params`, `must be a non-empty list of module names or a function, got ${describe(g.params)}`);
      let any = false;
      for (const [n, t] of this.params) {
        if (!match(n)) continue;
        any = true;
        if (!this.groupOf.has(t)) this.groupOf.set(t, { scale, wd });
      }
      const what = typeof g.params === 'function' ? '' : ` (${g.params.join(', ')})`;
      if (!any)
        throw badArg(
          'range',
          `${arg}.params`,
          `${what ? `${what.trim()} ` : ''}matches no parameter (names look like ${this.params
            .slice(0, 3)
            .map(([n]) => n)
            .join(', ')})`,
        );
    });
  }

  get lr(): number {
    return this._lr;
  }

  set lr(v: number) {
    const lr = checkNumber(v, 'SGD: lr', { min: 0 });
    if (lr === this._lr) return; // the Trainer sets it every step; a fill per step would be waste
    this._lr = lr;
    for (const { t, scale } of this.lrTensors.values()) native().fillConstant(t.handle, lr * scale);
  }

  /** The device copy of lr * scale that the update reads (created on first use). */
  private lrOn(device: string, scale: number): Tensor {
    const key = `${device}/${scale}`;
    let e = this.lrTensors.get(key);
    if (!e) this.lrTensors.set(key, (e = { t: keep(Tensor.full([1], this._lr * scale, { device })), scale }));
    return e.t;
  }

  /** The parameters this optimizer updates, with their names. */
  namedParameters(): [string, Tensor][] {
    return this.params.slice();
  }

  /**
   * One update of every parameter that has a gradient. skipIf: a float32 device tensor
   * (MixedPrecision.unscale()'s flag); when its element 0 is non-zero at the time the update
   * runs, nothing changes. With skipIf, dampening must be 0: a skipped first update leaves
   * a zero momentum buffer, which the next update then treats exactly like a first one
   * only when dampening is 0.
   */
  step(opts: { skipIf?: Tensor | null } = {}): void {
    const skip = checkOptions('SGD.step', opts, ['skipIf']).skipIf ?? null;
    if (skip !== null) {
      checkTensor(skip, 'SGD.step: skipIf');
      if (this.dampening !== 0) throw badArg('range', 'SGD.step: skipIf', `requires dampening 0, got ${this.dampening}`);
    }
    // Groups by (device, decay, lr scale, first step), what one native call cannot vary.
    const groups = new Map<string, { p: Tensor[]; g: Tensor[]; b: Tensor[]; wd: number; scale: number; first: boolean; device: string }>();
    for (const [, p] of this.params) {
      if (!p.grad) continue;
      const own = this.groupOf.get(p);
      const scale = own ? own.scale : 1;
      const wd = this.excludeBnAndBiasFromDecay && p.rank === 1 ? 0 : own ? own.wd : this.weightDecay;
      let buf = this.buffers.get(p);
      const first = this.momentum !== 0 && !buf;
      if (first) {
        // Zeroed, not left empty: a skipped first update must leave a buffer the next reads safely.
        buf = keep(Tensor.zeros(p.shape, { device: p.device, dtype: p.dtype, layout: p.layout }));
        this.buffers.set(p, buf);
      }
      const key = `${p.device}/${wd}/${scale}/${first}`;
      let grp = groups.get(key);
      if (!grp) groups.set(key, (grp = { p: [], g: [], b: [], wd, scale, first, device: p.device }));
      grp.p.push(p);
      grp.g.push(p.grad);
      if (buf && this.momentum !== 0) grp.b.push(buf);
    }
    for (const g of groups.values())
      if (skip && skip.device !== g.device) throw badArg('range', 'SGD.step: skipIf', `is on ${skip.device}, parameters on ${g.device}`);
    for (const g of groups.values()) {
      asOp('SGD.step', () =>
        native().sgdUpdate(
          g.p.map((t) => t.handle),
          g.g.map((t) => t.handle),
          g.b.map((t) => t.handle),
          this._lr * g.scale,
          this.momentum,
          this.dampening,
          g.wd,
          this.nesterov,
          g.first,
          this.lrOn(g.device, g.scale).handle,
          skip ? skip.handle : null,
        ),
      );
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

  /**
   * Restores momentum buffers (copied, converted to each parameter's device, dtype and
   * layout). A buffer that already exists is overwritten in place, so a captured step
   * (lib/train/captured-step.ts) that addresses it stays valid; parameters the state leaves
   * out lose their buffer (their next update starts momentum afresh) and parameters without
   * one get a new one: either changes `stateVersion`, and a captured step keyed on it
   * (capturedTrainingStep) captures again instead of replaying into freed memory.
   */
  loadStateDict(state: Map<string, Tensor>, stepCount?: number): void {
    if (!(state instanceof Map)) throw badArg('type', 'SGD.loadStateDict: state', `must be a Map of name -> Tensor, got ${describe(state)}`);
    for (const [k, v] of state) if (!(v instanceof Tensor)) throw badArg('type', `SGD.loadStateDict: state['${k}']`, `must be a Tensor, got ${describe(v)}`);
    const byName = new Map(this.params);
    const unexpected: string[] = [];
    const wrong: string[] = [];
    for (const [k, v] of state) {
      const p = k.startsWith('momentum_buffer.') ? byName.get(k.slice('momentum_buffer.'.length)) : undefined;
      if (!p) unexpected.push(k);
      else if (v.shape.join() !== p.shape.join()) wrong.push(`${k}: [${v.shape.join(', ')}] vs parameter [${p.shape.join(', ')}]`);
    }
    if (unexpected.length || wrong.length)
      throw badArg(
        'range',
        'SGD.loadStateDict: state',
        `does not fit the parameters: ${[unexpected.length ? `unexpected keys: ${unexpected.join(', ')}` : '', wrong.length ? `wrong shapes: ${wrong.join('; ')}` : ''].filter(Boolean).join('\n  ')}`,
      );
    const loaded = new Set<Tensor>();
    for (const [k, v] of state) {
      const p = byName.get(k.slice('momentum_buffer.'.length)) as Tensor;
      loaded.add(p);
      const buf = this.buffers.get(p);
      if (buf) {
        const src = v.dtype === buf.dtype && v.layout === buf.layout ? v : v.to({ dtype: buf.dtype, layout: buf.layout });
        buf.copyFrom(src);
        if (src !== v) src.dispose();
      } else {
        this.buffers.set(p, keep(v.to({ device: p.device, dtype: p.dtype, layout: p.layout })));
        this.version++;
      }
    }
    for (const [p, b] of [...this.buffers]) {
      if (loaded.has(p)) continue;
      b.dispose();
      this.buffers.delete(p);
      this.version++;
    }
    if (stepCount !== undefined) this.stepCount = checkNumber(stepCount, 'SGD.loadStateDict: stepCount', { integer: true, min: 0 });
  }

  /**
   * Changes whenever loadStateDict() adds or drops a momentum buffer tensor, i.e. when a
   * recorded step would address memory that is no longer the optimizer's. Values loaded into
   * existing buffers do not change it.
   */
  get stateVersion(): number {
    return this.version;
  }

  /** Frees the momentum buffers and the device copies of lr. */
  dispose(): void {
    for (const b of this.buffers.values()) b.dispose();
    this.buffers.clear();
    for (const { t } of this.lrTensors.values()) t.dispose();
    this.lrTensors.clear();
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
