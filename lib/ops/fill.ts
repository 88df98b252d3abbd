// In-place initialisers over the native fills (uniform, constant, Kaiming normal), public as
// nn.kaimingNormal_, nn.uniform_ and nn.constant_ (PyTorch's nn.init names). Not differentiable,
// so lib/ops/index.ts does not re-export them with the autograd functions.
import { native } from '../native';
import { checkSeed, nextSeed, Tensor } from '../tensor';

/** He et al. 2015: normal(0, gain / sqrt(fan)), in place. */
export function kaimingNormal_(t: Tensor, opts: { mode?: 'fan_in' | 'fan_out'; gain?: number; seed?: number } = {}): Tensor {
  native().fillKaimingNormal(t.handle, opts.mode ?? 'fan_out', opts.gain ?? Math.SQRT2, checkSeed(opts.seed ?? nextSeed(), 'kaimingNormal_: seed'));
  return t;
}

export function uniform_(t: Tensor, low: number, high: number, seed?: number): Tensor {
  native().fillUniform(t.handle, low, high, checkSeed(seed ?? nextSeed(), 'uniform_: seed'));
  return t;
}

export function constant_(t: Tensor, value: number): Tensor {
  native().fillConstant(t.handle, value);
  return t;
}
