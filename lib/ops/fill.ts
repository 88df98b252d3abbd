// In-place initialisers over the native fills (uniform, constant, Kaiming normal), public as
// nn.kaimingNormal_, nn.uniform_ and nn.constant_ (PyTorch's nn.init names). Not differentiable,
// so lib/ops/index.ts does not re-export them with the autograd functions.
import { checkOptions, optionNames } from '../checks';
import { native } from '../native';
import { checkSeed, nextSeed, Tensor } from '../tensor';

/** He et al. 2015: normal(0, gain / sqrt(fan)), in place. */
export interface KaimingNormalOptions {
  /** Default 'fan_out'. */
  mode?: 'fan_in' | 'fan_out';
  /** Default sqrt(2). */
  gain?: number;
  seed?: number;
}

export function kaimingNormal_(t: Tensor, opts: KaimingNormalOptions = {}): Tensor {
  checkOptions('kaimingNormal_', opts, optionNames<KaimingNormalOptions>({ mode: true, gain: true, seed: true }));
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
