// The Trainer's optimizer from a run's spec, and its description for the start line: SGD or
// AdamW, with the parameter groups the spec asks for (lrScale by module, no decay on 1-D
// parameters).
import { Tensor } from '../tensor';
import { AdamW } from '../optim/adamw';
import { Optimizer } from '../optim/optimizer';
import { SGD } from '../optim/sgd';
import { RunSpec } from '../checkpoint/run';

export function createOptimizer(params: [string, Tensor][], s: RunSpec): Optimizer {
  const groups = s.lrScale ? Object.entries(s.lrScale).map(([m, lrScale]) => ({ params: [m], lrScale })) : undefined;
  const excludeBnAndBiasFromDecay = s.excludeBnAndBiasFromDecay ?? false;
  if ((s.optimizer ?? 'sgd') === 'adamw')
    return new AdamW(params, { lr: s.lr, betas: s.betas, eps: s.eps, weightDecay: s.weightDecay, excludeBnAndBiasFromDecay, groups });
  return new SGD(params, { lr: s.lr, momentum: s.momentum, weightDecay: s.weightDecay, nesterov: s.nesterov, excludeBnAndBiasFromDecay, groups });
}

export function describeOptimizer(s: RunSpec): string {
  const decay = `weight decay ${s.weightDecay}${s.excludeBnAndBiasFromDecay ? ' (none on BN and bias)' : ''}`;
  const opt =
    (s.optimizer ?? 'sgd') === 'adamw'
      ? `adamw (betas ${(s.betas ?? [0.9, 0.999]).join(', ')}, eps ${s.eps ?? 1e-8}, ${decay})`
      : `sgd (momentum ${s.momentum}${s.nesterov ? ', nesterov' : ''}, ${decay})`;
  const scales = s.lrScale
    ? `, lr scale ${Object.entries(s.lrScale)
        .map(([m, x]) => `${m} x${x}`)
        .join(', ')}`
    : '';
  return `${opt}${scales}, label smoothing ${s.labelSmoothing ?? 0}`;
}
