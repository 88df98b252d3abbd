// What SGD and AdamW share: the parameters by name, parameter groups (lr multiplier and own
// weight decay by module name or prefix), the learning rate kept on the device as well as
// here, the step count, and the interface the Trainer, the schedules, checkpoints and the
// captured step program against.
import { native } from '../native';
import { Module } from '../nn/module';
import { badArg, checkOptions, optionNames } from '../checks';
import { argError } from '../errors';
import { checkNumber, checkTensor, describe, keep, Tensor } from '../tensor';

/** What every optimizer of this package offers (SGD, AdamW). */
export interface Optimizer {
  /** 'SGD' or 'AdamW' (saved in checkpoints as optimizer.type). */
  readonly name: string;
  /** The learning rate; setting it updates the device copies the update kernels read. */
  lr: number;
  /** Steps taken (updated by step(), and by a captured step's replays). */
  stepCount: number;
  /** Changes when loadStateDict() replaces state tensors a recorded step would address. */
  readonly stateVersion: number;
  namedParameters(): [string, Tensor][];
  step(opts?: { skipIf?: Tensor | null }): void;
  zeroGrad(): void;
  /** State tensors by key ('<state name>.<parameter name>'); the tensors are the optimizer's own. */
  stateDict(): Map<string, Tensor>;
  loadStateDict(state: Map<string, Tensor>, stepCount?: number): void;
  dispose(): void;
}

export interface ParamGroup {
  /** Module names or prefixes ('fc', 'layer4.2'), or a predicate on the parameter's name. */
  params: string[] | ((name: string) => boolean);
  /** Multiplies lr (so schedules move every group together). Default 1. */
  lrScale?: number;
  /** Default: the optimizer's weightDecay. */
  weightDecay?: number;
}

const PARAM_GROUP_KEYS = optionNames<ParamGroup>({ params: true, lrScale: true, weightDecay: true });

/** The options every optimizer takes. */
export interface BaseOptions {
  lr?: number;
  weightDecay?: number;
  /** Apply no weight decay to BN weights and biases and to layer biases: every 1-D parameter. Default false. */
  excludeBnAndBiasFromDecay?: boolean;
  /**
   * Parameter groups with their own learning-rate multiplier and weight decay, e.g. a new
   * head trained faster than a pretrained backbone. The first group whose `params` match a
   * parameter's name applies; other parameters use lr and weightDecay.
   */
  groups?: ParamGroup[];
}

/** One native update call's worth of parameters: same device, decay and lr scale. */
export interface UpdateGroup {
  device: string;
  wd: number;
  scale: number;
  params: Tensor[];
}

export abstract class GroupedOptimizer implements Optimizer {
  protected readonly params: [string, Tensor][];
  private _lr: number;
  private readonly lrTensors = new Map<string, { t: Tensor; scale: number }>(); // device/scale -> [1] f32 lr * scale
  private readonly groupOf = new Map<Tensor, { scale: number; wd: number }>();
  readonly weightDecay: number;
  readonly excludeBnAndBiasFromDecay: boolean;
  stepCount = 0;
  protected version = 0;

  /** params: a Module (its named parameters), a list of tensors, or [name, tensor] pairs. */
  constructor(
    readonly name: string,
    params: Module | Tensor[] | [string, Tensor][],
    options: BaseOptions,
    known: readonly string[],
    defaults: { lr?: number; weightDecay: number },
  ) {
    if (params instanceof Module) this.params = params.namedParameters();
    else if (Array.isArray(params)) {
      this.params = params.map((p, i) => (Array.isArray(p) ? [String(p[0]), p[1]] : [String(i), p]));
    } else throw badArg('type', `${name}: params`, `must be a Module or an array of tensors, got ${describe(params)}`);
    for (const [n, t] of this.params) if (!(t instanceof Tensor)) throw badArg('type', `${name}: params['${n}']`, `must be a Tensor, got ${describe(t)}`);
    const seen = new Map<Tensor, string>();
    for (const [n, t] of this.params) {
      const first = seen.get(t);
      if (first !== undefined)
        throw argError('range', name, 'params', `lists one tensor twice ('${first}' and '${n}'); each step would update it twice`, 'ERR_ALIASED_ARGS');
      seen.set(t, n);
    }
    if (options === null || typeof options !== 'object') throw badArg('type', `${name}: options`, `must be an object with lr, got ${describe(options)}`);
    checkOptions(name, options, known);
    this._lr = checkNumber(options.lr ?? defaults.lr, `${name}: lr`, { min: 0 });
    this.weightDecay = checkNumber(options.weightDecay ?? defaults.weightDecay, `${name}: weightDecay`, { min: 0 });
    this.excludeBnAndBiasFromDecay = options.excludeBnAndBiasFromDecay ?? false;
    if (typeof this.excludeBnAndBiasFromDecay !== 'boolean')
      throw badArg('type', `${name}: excludeBnAndBiasFromDecay`, `must be a boolean, got ${describe(this.excludeBnAndBiasFromDecay)}`);
    this.assignGroups(options.groups);
  }

  private assignGroups(groups: ParamGroup[] | undefined): void {
    if (groups === undefined) return;
    if (!Array.isArray(groups)) throw badArg('type', `${this.name}: groups`, `must be an array, got ${describe(groups)}`);
    groups.forEach((g, i) => {
      const arg = `${this.name}: groups[${i}]`;
      if (g === null || typeof g !== 'object') throw badArg('type', arg, `must be an object, got ${describe(g)}`);
      checkOptions(this.name, g, PARAM_GROUP_KEYS, `groups[${i}]`);
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
    const lr = checkNumber(v, `${this.name}: lr`, { min: 0 });
    if (lr === this._lr) return; // the Trainer sets it every step; a fill per step would be waste
    this._lr = lr;
    for (const { t, scale } of this.lrTensors.values()) native().fillConstant(t.handle, lr * scale);
  }

  /** The device copy of lr * scale that the update reads (created on first use). */
  protected lrOn(device: string, scale: number): Tensor {
    const key = `${device}/${scale}`;
    let e = this.lrTensors.get(key);
    if (!e) this.lrTensors.set(key, (e = { t: keep(Tensor.full([1], this._lr * scale, { device })), scale }));
    return e.t;
  }

  /** The parameters this optimizer updates, with their names. */
  namedParameters(): [string, Tensor][] {
    return this.params.slice();
  }

  /** step()'s skipIf, checked: a tensor or null. */
  protected skipFlag(opts: { skipIf?: Tensor | null }): Tensor | null {
    const skip = checkOptions(`${this.name}.step`, opts, ['skipIf']).skipIf ?? null;
    if (skip !== null) checkTensor(skip, `${this.name}.step: skipIf`);
    return skip;
  }

  /**
   * The parameters with a gradient, split by what one native call cannot vary (device,
   * decay, lr scale, and whatever `extraKey` adds), in parameter order.
   */
  protected updateGroups(skip: Tensor | null, extraKey: (p: Tensor) => string = () => ''): UpdateGroup[] {
    const groups = new Map<string, UpdateGroup>();
    for (const [, p] of this.params) {
      if (!p.grad) continue;
      const own = this.groupOf.get(p);
      const scale = own ? own.scale : 1;
      const wd = this.excludeBnAndBiasFromDecay && p.rank === 1 ? 0 : own ? own.wd : this.weightDecay;
      const key = `${p.device}/${wd}/${scale}/${extraKey(p)}`;
      let grp = groups.get(key);
      if (!grp) groups.set(key, (grp = { device: p.device, wd, scale, params: [] }));
      grp.params.push(p);
    }
    for (const g of groups.values())
      if (skip && skip.device !== g.device) throw badArg('range', `${this.name}.step: skipIf`, `is on ${skip.device}, parameters on ${g.device}`);
    return [...groups.values()];
  }

  abstract step(opts?: { skipIf?: Tensor | null }): void;
  abstract stateDict(): Map<string, Tensor>;
  abstract loadStateDict(state: Map<string, Tensor>, stepCount?: number): void;

  /** Disposes every parameter's gradient and sets it to null. */
  zeroGrad(): void {
    for (const [, p] of this.params) {
      if (p.grad) p.grad.dispose();
      p.grad = null;
    }
  }

  /**
   * Changes whenever loadStateDict() adds or drops a state tensor, i.e. when a recorded step
   * would address memory that is no longer the optimizer's. Values loaded into existing
   * tensors do not change it.
   */
  get stateVersion(): number {
    return this.version;
  }

  /** Frees the device copies of lr (subclasses free their state, then call this). */
  dispose(): void {
    for (const { t } of this.lrTensors.values()) t.dispose();
    this.lrTensors.clear();
  }
}

/**
 * Restores per-parameter state tensors named '<kind>.<parameter name>' into `store` (kind ->
 * parameter -> tensor), copying into tensors that exist (so a captured step addressing them
 * stays valid) and creating the others; state a parameter had but `state` leaves out is
 * dropped. Returns whether a tensor was created or dropped. Checks every key and shape
 * before changing anything.
 */
export function loadParamState(
  op: string,
  params: [string, Tensor][],
  kinds: readonly string[],
  store: Map<string, Map<Tensor, Tensor>>,
  state: Map<string, Tensor>,
  shapeOf: (kind: string, p: Tensor) => number[],
  create: (kind: string, p: Tensor, v: Tensor) => Tensor,
): boolean {
  const byName = new Map(params);
  const unexpected: string[] = [];
  const wrong: string[] = [];
  const parsed: [string, Tensor, Tensor][] = [];
  for (const [k, v] of state) {
    const kind = kinds.find((c) => k.startsWith(`${c}.`));
    const p = kind ? byName.get(k.slice(kind.length + 1)) : undefined;
    if (!kind || !p) unexpected.push(k);
    else if (v.shape.join() !== shapeOf(kind, p).join()) wrong.push(`${k}: [${v.shape.join(', ')}] vs [${shapeOf(kind, p).join(', ')}]`);
    else parsed.push([kind, p, v]);
  }
  if (unexpected.length || wrong.length)
    throw badArg(
      'range',
      `${op}: state`,
      `does not fit the parameters: ${[unexpected.length ? `unexpected keys: ${unexpected.join(', ')}` : '', wrong.length ? `wrong shapes: ${wrong.join('; ')}` : ''].filter(Boolean).join('\n  ')}`,
    );
  let changed = false;
  const loaded = new Map<string, Set<Tensor>>(kinds.map((k) => [k, new Set<Tensor>()]));
  for (const [kind, p, v] of parsed) {
    const own = store.get(kind) as Map<Tensor, Tensor>;
    (loaded.get(kind) as Set<Tensor>).add(p);
    const t = own.get(p);
    if (t) {
      const src = v.dtype === t.dtype && v.layout === t.layout && v.device === t.device ? v : v.to({ device: t.device, dtype: t.dtype, layout: t.layout });
      t.copyFrom(src);
      if (src !== v) src.dispose();
    } else {
      own.set(p, keep(create(kind, p, v)));
      changed = true;
    }
  }
  for (const kind of kinds) {
    const own = store.get(kind) as Map<Tensor, Tensor>;
    for (const [p, t] of [...own]) {
      if ((loaded.get(kind) as Set<Tensor>).has(p)) continue;
      t.dispose();
      own.delete(p);
      changed = true;
    }
  }
  return changed;
}
