// linear: the fully connected layer, x w^T + b.
import { native } from '../native';
import { badArg } from '../checks';
import { checkTensor, Tensor } from '../tensor';
import { record } from '../autograd/engine';
import { wrap, expectRank } from './shared';

/** x [N, K] w[M, K]^T + b [M] -> [N, M]. */
export function linear(x: Tensor, w: Tensor, bias: Tensor | null = null): Tensor {
  checkTensor(x, 'linear: x');
  checkTensor(w, 'linear: weight');
  expectRank(x, 2, 'linear: x');
  expectRank(w, 2, 'linear: weight');
  if (x.shape[1] !== w.shape[1]) throw badArg('range', `linear: x`, `has ${x.shape[1]} features but weight [${w.shape.join(', ')}] expects ${w.shape[1]}`);
  if (bias !== null) {
    checkTensor(bias, 'linear: bias');
    if (bias.rank !== 1 || bias.shape[0] !== w.shape[0]) throw badArg('range', `linear: bias`, `must have shape [${w.shape[0]}], got [${bias.shape.join(', ')}]`);
  }
  const y = wrap(native().linearForward(x.handle, w.handle, bias ? bias.handle : null));
  record('linear', y, [x, w, bias], (g) => [
    x.requiresGrad ? wrap(native().linearBackwardData(g.handle, w.handle)) : null,
    w.requiresGrad ? wrap(native().linearBackwardWeight(g.handle, x.handle)) : null,
    bias && bias.requiresGrad ? wrap(native().linearBackwardBias(g.handle)) : null,
  ])?.save(x, w);
  return y;
}
