// AdamW with PyTorch's semantics (torch.optim.AdamW): decoupled weight decay (the weights
// shrink by lr * weightDecay before the Adam step), bias-corrected moments, eps added after
// the square root, optional AMSGrad. One native adamwUpdate call updates a whole group of
// tensors.
//
// Everything a step reads between steps is on the device: the learning rate (as for SGD,
// setting `lr` rewrites a [1] device tensor) and every parameter's step count, which the
// update increments itself unless step({ skipIf }) skips it. So a skipped fp16 overflow step
// leaves the bias corrections where they were, as PyTorch's GradScaler does by not calling
// step(), and a step recorded in a CUDA graph counts its replays.
import { native } from '../native';
import { Module } from '../nn/module';
import { badArg, optionNames } from '../checks';
import { asOp } from '../errors';
import { checkNumber, describe, keep, Tensor } from '../tensor';
import { BaseOptions, GroupedOptimizer, loadParamState } from './optimizer';

export interface AdamWOptions extends BaseOptions {
  /** Default 1e-3. */
  lr?: number;
  /** Coefficients of the running averages of the gradient and its square. Default [0.9, 0.999]. */
  betas?: [number, number];
  /** Added to the denominator after the square root. Default 1e-8. */
  eps?: number;
  /** Decoupled weight decay. Default 1e-2 (torch.optim.AdamW's). */
  weightDecay?: number;
  /** Use the maximum of the second moments so far (AMSGrad). Default false. */
  amsgrad?: boolean;
}

const ADAMW_OPTIONS = optionNames<AdamWOptions>({
  lr: true,
  betas: true,
  eps: true,
  weightDecay: true,
  amsgrad: true,
  excludeBnAndBiasFromDecay: true,
  groups: true,
});

/** State tensors per parameter, under PyTorch's names. */
const KINDS = ['exp_avg', 'exp_avg_sq', 'max_exp_avg_sq', 'step'] as const;
type Kind = (typeof KINDS)[number];

export class AdamW extends GroupedOptimizer {
  readonly betas: [number, number];
  readonly eps: number;
  readonly amsgrad: boolean;
  private readonly state = new Map<string, Map<Tensor, Tensor>>(KINDS.map((k) => [k, new Map<Tensor, Tensor>()]));

  /** params: a Module (its named parameters), a list of tensors, or [name, tensor] pairs. */
  constructor(params: Module | Tensor[] | [string, Tensor][], options: AdamWOptions = {}) {
    super('AdamW', params, options, ADAMW_OPTIONS, { lr: 1e-3, weightDecay: 1e-2 });
    const betas = options.betas ?? [0.9, 0.999];
    if (!Array.isArray(betas) || betas.length !== 2) throw badArg('type', 'AdamW: betas', `must be a pair of numbers, got ${describe(betas)}`);
    const beta = (i: number) => {
      const b = checkNumber(betas[i], `AdamW: betas[${i}]`, { min: 0 });
      if (b >= 1) throw badArg('range', `AdamW: betas[${i}]`, `must be < 1, got ${b}`);
      return b;
    };
    this.betas = [beta(0), beta(1)];
    this.eps = checkNumber(options.eps ?? 1e-8, 'AdamW: eps', { min: 0 });
    this.amsgrad = options.amsgrad ?? false;
    if (typeof this.amsgrad !== 'boolean') throw badArg('type', 'AdamW: amsgrad', `must be a boolean, got ${describe(this.amsgrad)}`);
  }

  private own(kind: Kind): Map<Tensor, Tensor> {
    return this.state.get(kind) as Map<Tensor, Tensor>;
  }

  /** The parameter's state tensor of `kind`, created (zeroed) on first use. */
  private stateOf(kind: Kind, p: Tensor): Tensor {
    let t = this.own(kind).get(p);
    if (!t) {
      t = keep(kind === 'step' ? Tensor.zeros([1], { device: p.device }) : Tensor.zeros(p.shape, { device: p.device, dtype: p.dtype, layout: p.layout }));
      this.own(kind).set(p, t);
    }
    return t;
  }

  /**
   * One update of every parameter that has a gradient. skipIf: a float32 device tensor
   * (MixedPrecision.unscale()'s flag); when its element 0 is non-zero at the time the update
   * runs, nothing changes, step counts included.
   */
  step(opts: { skipIf?: Tensor | null } = {}): void {
    const skip = this.skipFlag(opts);
    for (const g of this.updateGroups(skip)) {
      const list = (kind: Kind) => g.params.map((p) => this.stateOf(kind, p).handle);
      asOp('AdamW.step', () =>
        native().adamwUpdate(
          g.params.map((t) => t.handle),
          g.params.map((t) => (t.grad as Tensor).handle),
          list('exp_avg'),
          list('exp_avg_sq'),
          this.amsgrad ? list('max_exp_avg_sq') : [],
          list('step'),
          this.lr * g.scale,
          this.betas[0],
          this.betas[1],
          this.eps,
          g.wd,
          this.amsgrad,
          this.lrOn(g.device, g.scale).handle,
          skip ? skip.handle : null,
        ),
      );
    }
    this.stepCount++;
  }

  /**
   * State by PyTorch's names: 'exp_avg.<param>', 'exp_avg_sq.<param>', 'max_exp_avg_sq.<param>'
   * (AMSGrad) and 'step.<param>' ([1] float32). The tensors are the optimizer's own.
   */
  stateDict(): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    for (const kind of KINDS)
      for (const [n, p] of this.params) {
        const t = this.own(kind).get(p);
        if (t) out.set(`${kind}.${n}`, t);
      }
    return out;
  }

  /**
   * Restores the state (copied into the tensors that exist, so a captured step addressing
   * them stays valid; converted to each parameter's device, dtype and layout). A parameter
   * the state leaves out starts afresh. Creating or dropping a state tensor changes
   * `stateVersion`, which makes a captured step capture again.
   */
  loadStateDict(state: Map<string, Tensor>, stepCount?: number): void {
    const changed = loadParamState(
      'AdamW.loadStateDict',
      this.params,
      KINDS,
      this.state,
      state,
      (kind, p) => (kind === 'step' ? [1] : p.shape),
      (kind, p, v) => (kind === 'step' ? v.to({ device: p.device, dtype: 'float32' }) : v.to({ device: p.device, dtype: p.dtype, layout: p.layout })),
    );
    if (changed) this.version++;
    if (stepCount !== undefined) this.stepCount = checkNumber(stepCount, 'AdamW.loadStateDict: stepCount', { integer: true, min: 0 });
  }

  /** Frees the state tensors and the device copies of lr. */
  override dispose(): void {
    for (const m of this.state.values()) {
      for (const t of m.values()) t.dispose();
      m.clear();
    }
    super.dispose();
  }
}
