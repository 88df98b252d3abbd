// shortcutA: the parameter-free option-A shortcut of the CIFAR ResNets.
import { native } from '../native';
import { checkNumber, checkTensor, Tensor } from '../tensor';
import { record } from '../autograd/engine';
import { wrap, expectRank } from './shared';

/**
 * The CIFAR option-A shortcut: x[:, :, ::stride, ::stride] zero-padded to outChannels
 * ((outChannels - C) / 2 zero channels in front, the rest behind).
 */
export function shortcutA(x: Tensor, outChannels: number, stride: number): Tensor {
  checkTensor(x, 'shortcutA: x');
  expectRank(x, 4, 'shortcutA: x');
  checkNumber(outChannels, 'shortcutA: outChannels', { integer: true, min: x.shape[1] });
  checkNumber(stride, 'shortcutA: stride', { integer: true, min: 1 });
  const xShape = x.shape;
  const y = wrap(native().shortcutAForward(x.handle, outChannels, stride));
  record('shortcutA', y, [x], (g) => [wrap(native().shortcutABackward(g.handle, xShape[1], stride, xShape))]);
  return y;
}
