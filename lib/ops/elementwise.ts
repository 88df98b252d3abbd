// relu, add, scale: elementwise ops and their gradients.
import { native } from '../native';
import { asOp } from '../errors';
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

/** a + b, same shape, dtype and layout. */
export function add(a: Tensor, b: Tensor): Tensor {
  checkTensor(a, 'add: a');
  checkTensor(b, 'add: b');
  const y = wrap(asOp('add', () => native().add(a.handle, b.handle)));
  record('add', y, [a, b], (g) => [g, g]);
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
