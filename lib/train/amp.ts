// Mixed precision for the Trainer and the bench. The model keeps fp32 weights (the masters):
// Conv2d and Linear cast them, differentiably, to the dtype of the activation they meet
// (F.matchActivation), and batch norm keeps fp32 parameters and statistics, so feeding
// bf16/fp16 batches is all a forward needs, and the weight gradients arrive in fp32.
//
// What is left here is loss scaling for fp16, whose gradients underflow (bf16 has fp32's
// exponent range and needs none): PyTorch's GradScaler policy. The loss is seeded with the
// scale for backward, the gradients are divided by it after, an inf/NaN among them skips
// the update and halves the scale, and `growthInterval` good steps in a row double it.
// All of it stays on the device: the scale and the found-inf flag are device tensors that
// the unscale, SGD and update kernels read, so a step costs no host round trip and can be
// captured in a CUDA graph. Reading `lossScale` or `skipped` synchronises; do it between
// steps (logging, checkpoints), not inside one.
//
//   r.loss.backward(mp.seed(r.loss));
//   opt.step({ skipIf: mp.unscale() });
//   mp.update();
import { native } from '../native';
import { Module } from '../nn/module';
import { badArg, checkOptions, optionNames } from '../checks';
import { checkNumber, describe, keep, Tensor } from '../tensor';
import { activationDType, Precision, PRECISIONS } from './device';

export interface LossScaleOptions {
  /** Starting scale. Default 2^16 (GradScaler's). */
  initScale?: number;
  growthFactor?: number;
  backoffFactor?: number;
  growthInterval?: number;
}

const LOSS_SCALE_OPTIONS = optionNames<LossScaleOptions>({ initScale: true, growthFactor: true, backoffFactor: true, growthInterval: true });

/** Dynamic loss scaling's state: the scale, good steps since the last change, updates skipped. */
export interface ScalerState {
  scale: number;
  goodSteps: number;
  skipped: number;
}

export class MixedPrecision {
  readonly dtype: 'float32' | 'bfloat16' | 'float16';
  /** Whether the loss is scaled (fp16 only). */
  readonly scaling: boolean;
  readonly growthFactor: number;
  readonly backoffFactor: number;
  readonly growthInterval: number;
  private initScale: number;
  private initCounts = [0, 0]; // good steps, skipped steps: until the device state exists
  private scaleT: Tensor | null = null; // [1] f32: the loss scale
  private stateT: Tensor | null = null; // [3] f32: found_inf, good steps, skipped steps

  constructor(
    private readonly model: Module,
    readonly precision: Precision,
    opts: LossScaleOptions = {},
  ) {
    if (!(model instanceof Module)) throw badArg('type', 'MixedPrecision: model', `must be a Module, got ${describe(model)}`);
    if (!PRECISIONS.includes(precision))
      throw badArg('range', 'MixedPrecision: precision', `must be one of ${PRECISIONS.join(', ')}, got ${describe(precision)}`);
    checkOptions('MixedPrecision', opts, LOSS_SCALE_OPTIONS);
    this.dtype = activationDType(precision);
    this.scaling = precision === 'fp16';
    this.initScale = checkNumber(opts.initScale ?? 2 ** 16, 'MixedPrecision: initScale', { min: Number.MIN_VALUE });
    this.growthFactor = checkNumber(opts.growthFactor ?? 2, 'MixedPrecision: growthFactor', { min: 1 });
    this.backoffFactor = checkNumber(opts.backoffFactor ?? 0.5, 'MixedPrecision: backoffFactor', { min: Number.MIN_VALUE, max: 1 });
    if (this.growthFactor === 1) throw badArg('range', 'MixedPrecision: growthFactor', 'must be > 1, got 1');
    if (this.backoffFactor === 1) throw badArg('range', 'MixedPrecision: backoffFactor', 'must be < 1, got 1');
    this.growthInterval = checkNumber(opts.growthInterval ?? 2000, 'MixedPrecision: growthInterval', { integer: true, min: 1 });
  }

  /** [name, fp32 tensor] for the optimizer: the model's own parameters. */
  get masters(): [string, Tensor][] {
    return this.model.namedParameters();
  }

  /** The current loss scale (1 without scaling). Reads the device. */
  get lossScale(): number {
    if (!this.scaling) return 1;
    return this.scaleT ? this.scaleT.item() : this.initScale;
  }

  /** Sets the scale (a resumed run's). */
  set lossScale(v: number) {
    if (!this.scaling) return;
    this.initScale = checkNumber(v, 'MixedPrecision: lossScale', { min: Number.MIN_VALUE });
    if (this.scaleT) native().fillConstant(this.scaleT.handle, this.initScale);
  }

  /** Updates skipped because the scaled gradients overflowed. Reads the device. */
  get skipped(): number {
    return this.scalerState().skipped;
  }

  /** The scaler's whole state, for a checkpoint (reads the device). */
  scalerState(): ScalerState {
    if (!this.scaleT || !this.stateT) return { scale: this.lossScale, goodSteps: this.initCounts[0], skipped: this.initCounts[1] };
    const st = this.stateT.dataSync() as Float32Array;
    return { scale: this.scaleT.item(), goodSteps: st[1], skipped: st[2] };
  }

  /** Restores scalerState() (a resumed run's), so its scale grows exactly when it would have. */
  loadScalerState(s: ScalerState): void {
    if (!this.scaling) return;
    const good = checkNumber(s.goodSteps, 'MixedPrecision: goodSteps', { integer: true, min: 0 });
    const skipped = checkNumber(s.skipped, 'MixedPrecision: skipped', { integer: true, min: 0 });
    this.lossScale = s.scale;
    this.initCounts = [good, skipped];
    // In place, as the scale above (fillConstant): a captured step addresses these tensors.
    if (this.stateT) {
      const host = Tensor.fromArray(new Float32Array([0, good, skipped]), [3]);
      this.stateT.copyFrom(host);
      host.dispose();
    }
  }

  /** The gradient to seed loss.backward() with: the scale as a device tensor, or undefined (no scaling). */
  seed(loss: Tensor): Tensor | undefined {
    if (!this.scaling) return undefined;
    this.ensureOn(loss.device);
    return this.scaleT as Tensor;
  }

  /**
   * After a backward seeded by seed(): divides the gradients by the scale in place and sets
   * the found-inf flag. Returns the flag for SGD.step({ skipIf }), or null without scaling.
   */
  unscale(): Tensor | null {
    if (!this.scaling) return null;
    const grads = this.model
      .parameters()
      .map((p) => p.grad)
      .filter((g): g is Tensor => g !== null);
    if (grads.length === 0) return null;
    this.ensureOn(grads[0].device);
    native().ampUnscale(
      grads.map((g) => g.handle),
      (this.scaleT as Tensor).handle,
      (this.stateT as Tensor).handle,
    );
    return this.stateT;
  }

  /** After the optimizer step: adjusts the scale from the flag unscale() set. */
  update(): void {
    if (!this.scaling || !this.scaleT || !this.stateT) return;
    native().ampUpdateScale(this.scaleT.handle, this.stateT.handle, this.growthFactor, this.backoffFactor, this.growthInterval);
  }

  /** Frees the device scalars. */
  dispose(): void {
    this.scaleT?.dispose();
    this.stateT?.dispose();
    this.scaleT = this.stateT = null;
  }

  private ensureOn(device: string): void {
    if (this.scaleT && this.scaleT.device === device) return;
    // Carried over when the model moved: the scale and the counters are the run's state.
    const scale = this.scaleT ? this.scaleT.item() : this.initScale;
    const state = this.stateT ? Array.from(this.stateT.dataSync() as Float32Array) : [0, ...this.initCounts];
    this.dispose();
    this.scaleT = keep(Tensor.full([1], scale, { device }));
    this.stateT = keep(Tensor.fromArray(new Float32Array(state), [3], { device }));
  }
}
