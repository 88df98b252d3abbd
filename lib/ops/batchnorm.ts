// batchNorm: spatial batch normalisation with the fused residual add and ReLU; saves what
// the backward of the kernel that ran needs.
import { native } from '../native';
import { badArg, checkOptions, optionNames } from '../checks';
import { asOp } from '../errors';
import { checkNumber, checkTensor, describe, Tensor } from '../tensor';
import { record } from '../autograd/engine';
import { wrap } from './shared';

export interface BatchNormOptions {
  /** Batch statistics and running-stat update (true) or running statistics (false). */
  training: boolean;
  momentum?: number;
  eps?: number;
  /** Added before the activation: y = act(bn(x) + residual), the fused residual form. */
  residual?: Tensor | null;
  /** Apply ReLU after the (optional) residual add, fused. */
  relu?: boolean;
}

/**
 * Spatial batch normalisation over [N, C, H, W] with per-channel weight and bias, fused with
 * an optional residual add and ReLU. In training the running statistics are updated in place
 * (PyTorch's momentum convention). Gradients flow to x, weight, bias and the residual; in
 * eval mode the op records no usable backward (the native ops have none): use noGrad().
 */
export function batchNorm(x: Tensor, weight: Tensor, bias: Tensor, runningMean: Tensor, runningVar: Tensor, opts: BatchNormOptions): Tensor {
  checkTensor(x, 'batchNorm: x');
  for (const [t, arg] of [
    [weight, 'weight'],
    [bias, 'bias'],
    [runningMean, 'runningMean'],
    [runningVar, 'runningVar'],
  ] as const)
    checkTensor(t, `batchNorm: ${arg}`);
  if (opts === null || typeof opts !== 'object' || typeof opts.training !== 'boolean')
    throw badArg('type', `batchNorm: opts.training`, `must be a boolean, got ${describe(opts?.training)}`);
  checkOptions('batchNorm', opts, optionNames<BatchNormOptions>({ training: true, momentum: true, eps: true, residual: true, relu: true }));
  const momentum = checkNumber(opts.momentum ?? 0.1, 'batchNorm: momentum', { min: 0, max: 1 });
  const eps = checkNumber(opts.eps ?? 1e-5, 'batchNorm: eps', { min: 0 });
  const residual = opts.residual ?? null;
  if (residual !== null) checkTensor(residual, 'batchNorm: residual');
  // Ranks, channel counts, dtypes, devices and aliasing are checked natively (docs/errors.md).
  const names = { gamma: 'weight', beta: 'bias' };
  const relu = opts.relu ?? false;
  const res = residual ? residual.handle : null;
  if (!opts.training) {
    const y = wrap(
      asOp(
        'batchNorm',
        () => native().batchNormForwardInference(x.handle, weight.handle, bias.handle, runningMean.handle, runningVar.handle, eps, res, relu),
        names,
      ),
    );
    record('batchNorm(eval)', y, [x, weight, bias, residual], () => {
      throw new Error('backward: batchNorm in eval mode has no backward; call model.train() to differentiate, or run the forward under noGrad()');
    });
    return y;
  }
  const f = asOp(
    'batchNorm',
    () => native().batchNormForwardTraining(x.handle, weight.handle, bias.handle, runningMean.handle, runningVar.handle, momentum, eps, res, relu),
    names,
  );
  const y = wrap(f.y);
  const saveMean = wrap(f.saveMean);
  const saveInvStd = wrap(f.saveInvStd);
  // The fused CUDA kernel's reserve space: its backward reads it (with beta) instead of
  // re-deriving the ReLU mask from y and running the plain backward.
  const reserve = f.reserve ? wrap(f.reserve) : null;
  const node = record('batchNorm', y, [x, weight, bias, residual], (g) => {
    const b = native().batchNormBackward(
      g.handle,
      x.handle,
      weight.handle,
      saveMean.handle,
      saveInvStd.handle,
      eps,
      relu ? y.handle : null,
      relu,
      residual !== null,
      reserve ? bias.handle : null,
      reserve ? reserve.handle : null,
    );
    return [wrap(b.dx), wrap(b.dgamma), wrap(b.dbeta), b.dresidual ? wrap(b.dresidual) : null];
  });
  if (node) {
    node.save(x, weight);
    if (relu) node.save(y);
    if (reserve) node.save(bias);
    node.savePrivate(saveMean, saveInvStd, ...(reserve ? [reserve] : []));
  } else {
    saveMean.dispose();
    saveInvStd.dispose();
    reserve?.dispose();
  }
  return y;
}
