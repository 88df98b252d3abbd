// conv2d: the differentiable convolution (bias optional); backward runs the data, filter and
// bias gradients only for inputs that require them.
import { native } from '../native';
import { checkOptions, optionNames } from '../checks';
import { asOp } from '../errors';
import { checkTensor, Tensor } from '../tensor';
import { record } from '../autograd/engine';
import { wrap, pair } from './shared';

export interface Conv2dOptions {
  stride?: number | [number, number];
  padding?: number | [number, number];
  dilation?: number | [number, number];
  /** CUDA only: TF32 tensor-core math for fp32 inputs. */
  allowTf32?: boolean;
}

const CONV2D_OPTIONS = optionNames<Conv2dOptions>({ stride: true, padding: true, dilation: true, allowTf32: true });

/** x [N, C, H, W] * w [O, C, kh, kw] (+ bias [O]) -> [N, O, H', W']. */
export function conv2d(x: Tensor, w: Tensor, bias: Tensor | null = null, opts: Conv2dOptions = {}): Tensor {
  checkOptions('conv2d', opts, CONV2D_OPTIONS);
  checkTensor(x, 'conv2d: x');
  checkTensor(w, 'conv2d: weight');
  if (bias !== null) checkTensor(bias, 'conv2d: bias');
  // Ranks, channels, dtypes, layouts and devices are checked natively (docs/errors.md).
  const [sh, sw] = pair(opts.stride ?? 1, 'conv2d: stride', 1);
  const [ph, pw] = pair(opts.padding ?? 0, 'conv2d: padding', 0);
  const [dh, dw] = pair(opts.dilation ?? 1, 'conv2d: dilation', 1);
  const tf32 = opts.allowTf32 ?? false;
  const params = [sh, sw, ph, pw, dh, dw];
  const y = wrap(asOp('conv2d', () => native().conv2dForward(x.handle, w.handle, bias ? bias.handle : null, params, tf32), { w: 'weight' }));
  const xShape = x.shape;
  const wShape = w.shape;
  const node = record('conv2d', y, [x, w, bias], (g) => [
    x.requiresGrad ? wrap(native().conv2dBackwardData(g.handle, w.handle, xShape, params, tf32)) : null,
    w.requiresGrad ? wrap(native().conv2dBackwardFilter(g.handle, x.handle, wShape, params, tf32)) : null,
    bias && bias.requiresGrad ? wrap(native().conv2dBackwardBias(g.handle)) : null,
  ]);
  node?.save(x, w);
  return y;
}
