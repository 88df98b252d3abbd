// linear: the fully connected layer, x w^T + b.
import { native } from '../native';
import { asOp } from '../errors';
import { checkTensor, Tensor } from '../tensor';
import { record } from '../autograd/engine';
import { wrap } from './shared';

/** x [N, K] w[M, K]^T + b [M] -> [N, M]. */
export function linear(x: Tensor, w: Tensor, bias: Tensor | null = null): Tensor {
  checkTensor(x, 'linear: x');
  checkTensor(w, 'linear: weight');
  if (bias !== null) checkTensor(bias, 'linear: bias');
  // Ranks, sizes, dtypes and devices are checked natively (docs/errors.md).
  const y = wrap(asOp('linear', () => native().linearForward(x.handle, w.handle, bias ? bias.handle : null), { w: 'weight' }));
  record('linear', y, [x, w, bias], (g) => [
    x.requiresGrad ? wrap(native().linearBackwardData(g.handle, w.handle)) : null,
    w.requiresGrad ? wrap(native().linearBackwardWeight(g.handle, x.handle)) : null,
    bias && bias.requiresGrad ? wrap(native().linearBackwardBias(g.handle)) : null,
  ])?.save(x, w);
  return y;
}
