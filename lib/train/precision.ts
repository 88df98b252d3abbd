// Mixed precision for the Trainer. The model keeps fp32 weights (the masters): Conv2d and
// Linear cast them, differentiably, to the dtype of the activation they meet
// (F.matchActivation), and batch norm keeps fp32 parameters and statistics, so feeding
// bf16/fp16 batches is all a forward needs, and the weight gradients arrive in fp32.
// What is left here is loss scaling for fp16, whose gradients underflow: the loss is
// multiplied by a dynamic scale before backward and the gradients divided by it after
// (PyTorch's GradScaler policy: on inf/NaN skip the step and halve the scale, double it
// after `growthInterval` good steps). bf16 has fp32's exponent range and needs none.
import { native } from '../native';
import { Module } from '../nn/module';
import { Tensor } from '../tensor';
import { activationDType, Precision } from './device';

export class MixedPrecision {
  readonly dtype: 'float32' | 'bfloat16' | 'float16';
  lossScale: number;
  private goodSteps = 0;
  readonly growthInterval = 2000;
  /** Steps skipped because the scaled gradients overflowed. */
  skipped = 0;

  constructor(private readonly model: Module, readonly precision: Precision) {
    this.dtype = activationDType(precision);
    this.lossScale = precision === 'fp16' ? 2 ** 16 : 1;
  }

  /** [name, fp32 tensor] for the optimizer: the model's own parameters. */
  get masters(): [string, Tensor][] {
    return this.model.namedParameters();
  }

  /**
   * Unscales the gradients after a backward of loss * lossScale. Returns false when they
   * overflowed: the caller skips the update (the scale has been halved).
   */
  unscaleGradients(): boolean {
    if (this.lossScale === 1) return true;
    const grads = this.model.parameters().map((p) => p.grad).filter((g): g is Tensor => g !== null);
    if (grads.length === 0) return true;
    const norms = native().l2Norms(grads.map((g) => g.handle));
    let finite: boolean;
    try {
      finite = (norms.read() as Float32Array).every(Number.isFinite);
    } finally {
      norms.dispose();
    }
    if (!finite) {
      this.lossScale /= 2;
      this.goodSteps = 0;
      this.skipped++;
      return false;
    }
    for (const g of grads) g.replaceHandle(native().scale(g.handle, 1 / this.lossScale));
    if (++this.goodSteps >= this.growthInterval) {
      this.lossScale *= 2;
      this.goodSteps = 0;
    }
    return true;
  }
}
