// relu and scale: elementwise ops and their gradients (add and the rest of the arithmetic
// are in arith.ts).
import { native } from '../native';
import { checkNumber, checkTensor, Tensor } from '../tensor';
import { record } from '../autograd/engine';
import { wrap, expectFloat } from './shared';

export function relu(x: Tensor): Tensor {
  checkTensor(x, 'relu: x');
  expectFloat(x, 'relu: x');
  const y = wrap(native().reluForward(x.handle));
  record('relu', y, [x], (g) => [wrap(native().reluBackward(g.handle, y.handle))])?.save(y);
  return y;
}

/** alpha * x. */
export function scale(x: Tensor, alpha: number): Tensor {
  checkTensor(x, 'scale: x');
  checkNumber(alpha, 'scale: alpha');
  const y = wrap(native().scale(x.handle, alpha));
  record('scale', y, [x], (g) => [wrap(native().scale(g.handle, alpha))]);
  return y;
}
