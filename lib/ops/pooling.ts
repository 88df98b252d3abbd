// maxPool2d, avgPool2d, globalAvgPool: 2-D pooling; global average pooling is the average
// pool whose window is the whole image.
import { native } from '../native';
import { badArg, checkOptions, optionNames } from '../checks';
import { checkTensor, describe, Tensor } from '../tensor';
import { record } from '../autograd/engine';
import { wrap, pair, expectRank } from './shared';

export interface Pool2dOptions {
  kernelSize: number | [number, number];
  /** Defaults to kernelSize. */
  stride?: number | [number, number];
  padding?: number | [number, number];
  /** Average pooling only: count padded zeros in the divisor (PyTorch's default, true). */
  countIncludePad?: boolean;
}

function pool(name: string, mode: 'max' | 'avg', x: Tensor, opts: Pool2dOptions): Tensor {
  checkTensor(x, `${name}: x`);
  expectRank(x, 4, `${name}: x`);
  if (opts === null || typeof opts !== 'object') throw badArg('type', `${name}: options`, `must be an object with kernelSize, got ${describe(opts)}`);
  checkOptions(name, opts, optionNames<Pool2dOptions>({ kernelSize: true, stride: true, padding: true, countIncludePad: true }));
  const [kh, kw] = pair(opts.kernelSize, `${name}: kernelSize`, 1);
  const [sh, sw] = pair(opts.stride ?? [kh, kw], `${name}: stride`, 1);
  const [ph, pw] = pair(opts.padding ?? 0, `${name}: padding`, 0);
  if (ph * 2 > kh || pw * 2 > kw)
    throw badArg('range', `${name}: padding`, `must be at most half of kernelSize, got padding [${ph}, ${pw}] for kernel [${kh}, ${kw}]`);
  if (x.shape[2] + 2 * ph < kh || x.shape[3] + 2 * pw < kw)
    throw badArg('range', `${name}: kernelSize`, `[${kh}, ${kw}] is larger than the padded input [${x.shape[2] + 2 * ph}, ${x.shape[3] + 2 * pw}]`);
  const params = [kh, kw, sh, sw, ph, pw];
  const cip = opts.countIncludePad ?? true;
  const y = wrap(native().pool2dForward(x.handle, mode, params, cip));
  record(name, y, [x], (g) => [wrap(native().pool2dBackward(g.handle, x.handle, y.handle, mode, params, cip))])?.save(x, y);
  return y;
}

export function maxPool2d(x: Tensor, opts: Pool2dOptions): Tensor {
  return pool('maxPool2d', 'max', x, opts);
}

export function avgPool2d(x: Tensor, opts: Pool2dOptions): Tensor {
  return pool('avgPool2d', 'avg', x, opts);
}

/** Mean over H and W: [N, C, H, W] -> [N, C, 1, 1] (torchvision's AdaptiveAvgPool2d(1)). */
export function globalAvgPool(x: Tensor): Tensor {
  checkTensor(x, 'globalAvgPool: x');
  expectRank(x, 4, 'globalAvgPool: x');
  return pool('globalAvgPool', 'avg', x, { kernelSize: [x.shape[2], x.shape[3]] });
}
