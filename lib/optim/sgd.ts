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
import { badArg, optionNames } from '../checks';
import { asOp } from '../errors';
import { checkNumber, describe, keep, Tensor } from '../tensor';
import { BaseOptions, GroupedOptimizer, loadParamState } from './optimizer';

export type { ParamGroup } from './optimizer';

export interface SGDOptions extends BaseOptions {
  lr: number;
  momentum?: number;
  dampening?: number;
  nesterov?: boolean;
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

export class SGD extends GroupedOptimizer {
  private readonly buffers = new Map<Tensor, Tensor>();
  readonly momentum: number;
  readonly dampening: number;
  readonly nesterov: boolean;

  /** params: a Module (its named parameters), a list of tensors, or [name, tensor] pairs. */
  constructor(params: Module | Tensor[] | [string, Tensor][], options: SGDOptions) {
    super('SGD', params, options, SGD_OPTIONS, { weightDecay: 0 });
    this.momentum = checkNumber(options.momentum ?? 0, 'SGD: momentum', { min: 0 });
    this.dampening = checkNumber(options.dampening ?? 0, 'SGD: dampening', { min: 0, max: 1 });
    this.nesterov = options.nesterov ?? false;
    if (typeof this.nesterov !== 'boolean') throw badArg('type', 'SGD: nesterov', `must be a boolean, got ${describe(this.nesterov)}`);
    if (this.nesterov && (this.momentum <= 0 || this.dampening !== 0))
      throw badArg('range', 'SGD: nesterov', `requires momentum > 0 and dampening 0 (got momentum ${this.momentum}, dampening ${this.dampening})`);
  }

  /**
   * One update of every parameter that has a gradient. skipIf: a float32 device tensor
   * (MixedPrecision.unscale()'s flag); when its element 0 is non-zero at the time the update
   * runs, nothing changes. With skipIf, dampening must be 0: a skipped first update leaves
   * a zero momentum buffer, which the next update then treats exactly like a first one
   * only when dampening is 0.
   */
  step(opts: { skipIf?: Tensor | null } = {}): void {
    const skip = this.skipFlag(opts);
    if (skip !== null && this.dampening !== 0) throw badArg('range', 'SGD.step: skipIf', `requires dampening 0, got ${this.dampening}`);
    // Whether this is a parameter's first update is one more thing a native call cannot vary.
    const first = (p: Tensor) => this.momentum !== 0 && !this.buffers.has(p);
    const groups = this.updateGroups(skip, (p) => String(first(p)));
    for (const g of groups) {
      const isFirst = first(g.params[0]);
      const bufs: Tensor[] = [];
      if (this.momentum !== 0)
        for (const p of g.params) {
          let buf = this.buffers.get(p);
          if (!buf) {
            // Zeroed, not left empty: a skipped first update must leave a buffer the next reads safely.
            buf = keep(Tensor.zeros(p.shape, { device: p.device, dtype: p.dtype, layout: p.layout }));
            this.buffers.set(p, buf);
          }
          bufs.push(buf);
        }
      asOp('SGD.step', () =>
        native().sgdUpdate(
          g.params.map((t) => t.handle),
          g.params.map((t) => (t.grad as Tensor).handle),
          bufs.map((t) => t.handle),
          this.lr * g.scale,
          this.momentum,
          this.dampening,
          g.wd,
          this.nesterov,
          isFirst,
          this.lrOn(g.device, g.scale).handle,
          skip ? skip.handle : null,
        ),
      );
    }
    this.stepCount++;
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
    const changed = loadParamState(
      'SGD.loadStateDict',
      this.params,
      ['momentum_buffer'],
      new Map([['momentum_buffer', this.buffers]]),
      state,
      (_, p) => p.shape,
      (_, p, v) => v.to({ device: p.device, dtype: p.dtype, layout: p.layout }),
    );
    if (changed) this.version++;
    if (stepCount !== undefined) this.stepCount = checkNumber(stepCount, 'SGD.loadStateDict: stepCount', { integer: true, min: 0 });
  }

  /** Frees the momentum buffers and the device copies of lr. */
  override dispose(): void {
    for (const b of this.buffers.values()) b.dispose();
    this.buffers.clear();
    super.dispose();
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
