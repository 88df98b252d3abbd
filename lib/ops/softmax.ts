// softmax and logSoftmax along one axis (PyTorch's `dim`, negative from the end), computed
// stably (the max of each line is subtracted first); results NCHW in the input's dtype.
import { native } from '../native';
import { asOp } from '../errors';
import { checkTensor, Tensor } from '../tensor';
import { record } from '../autograd/engine';
import { inLayout, wrap } from './shared';

function softmaxOp(op: 'softmax' | 'logSoftmax', x: Tensor, dim: number): Tensor {
  checkTensor(x, `${op}: x`);
  const log = op === 'logSoftmax';
  const y = wrap(asOp(op, () => native().softmaxForward(x.handle, dim, log)));
  const rank = x.rank,
    layout = x.layout;
  record(op, y, [x], (g) => [wrap(inLayout(native().softmaxBackward(g.handle, y.handle, dim, log), layout, rank))])?.save(y);
  return y;
}

/** exp(x) / sum(exp(x)) along `dim` (default -1). */
export function softmax(x: Tensor, dim = -1): Tensor {
  return softmaxOp('softmax', x, dim);
}

/** log(softmax(x)) along `dim` (default -1), without forming the softmax. */
export function logSoftmax(x: Tensor, dim = -1): Tensor {
  return softmaxOp('logSoftmax', x, dim);
}
