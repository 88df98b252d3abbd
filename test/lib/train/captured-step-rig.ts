// The rig the captured-step tests share: a small ResNet with its optimizer and mixed
// precision, seeded batches, and the losses of N eager or N captured steps from one start.
import * as assert from 'node:assert/strict';

import { create as createModel } from '../../../lib/models/resnet';
import { batchNormLayers } from '../../../lib/nn/layers';
import { Module } from '../../../lib/nn/module';
import { AdamW } from '../../../lib/optim/adamw';
import { Optimizer } from '../../../lib/optim/optimizer';
import { SGD } from '../../../lib/optim/sgd';
import { Tensor, tidy } from '../../../lib/tensor';
import { CapturedStep } from '../../../lib/train/captured-step';
import { MixedPrecision } from '../../../lib/train/amp';
import { capturedTrainingStep, trainingStepFn } from '../../../lib/train/training-step';
import { rng } from '../../helpers/reference';

export const B = 8;
export const CLASSES = 10;

export function batches(n: number, seed: number, device: string): { x: Tensor; y: Tensor }[] {
  const r = rng(seed);
  const out: { x: Tensor; y: Tensor }[] = [];
  for (let i = 0; i < n; i++) {
    const x = Float32Array.from({ length: B * 3 * 32 * 32 }, () => r() * 2 - 1);
    const y = Int32Array.from({ length: B }, () => Math.floor(r() * CLASSES));
    out.push({ x: Tensor.fromArray(x, [B, 3, 32, 32], { device }), y: Tensor.fromArray(y, [B], { dtype: 'int32', device }) });
  }
  return out;
}

export interface Rig {
  model: Module;
  opt: Optimizer;
  mp: MixedPrecision;
  labelSmoothing?: number;
  fn: (x: Tensor, y: Tensor) => Tensor[];
  dispose(): void;
}

// fp16: NHWC half batches, fp32 masters, the loss scaled from `initScale` on the device.
// 'adamw': AdamW without decay on 1-D parameters, and a label-smoothed loss.
export function rig(device: string, precision: 'fp32' | 'fp16' = 'fp32', initScale = 2 ** 16, optimizer: 'sgd' | 'adamw' = 'sgd'): Rig {
  const model = createModel('resnet8', { classes: CLASSES, seed: 3, device });
  model.train();
  const mp = new MixedPrecision(model, precision, { initScale });
  const opt =
    optimizer === 'adamw'
      ? new AdamW(mp.masters, { lr: 1e-3, weightDecay: 0.05, excludeBnAndBiasFromDecay: true })
      : new SGD(mp.masters, { lr: 0.1, momentum: 0.9, weightDecay: 1e-4 });
  const labelSmoothing = optimizer === 'adamw' ? 0.1 : 0;
  const fn = trainingStepFn({ model, mp, opt, labelSmoothing });
  return {
    model,
    opt,
    mp,
    labelSmoothing,
    fn,
    dispose: () => {
      opt.dispose();
      mp.dispose();
      model.dispose();
    },
  };
}

export function eagerLosses(device: string, data: { x: Tensor; y: Tensor }[], lrAt: (i: number) => number, make: () => Rig = () => rig(device)): number[] {
  const r = make();
  try {
    return data.map((b, i) => {
      r.opt.lr = lrAt(i);
      return tidy(() => r.fn(b.x, b.y)[0].item());
    });
  } finally {
    r.dispose();
  }
}

export function capturedLosses(
  device: string,
  data: { x: Tensor; y: Tensor }[],
  lrAt: (i: number) => number,
  log: string[],
  inspect?: (cs: CapturedStep<Tensor[]>, r: Rig) => void,
  opts: { make?: () => Rig; keyAt?: (i: number) => unknown } = {},
): number[] {
  const r = (opts.make ?? (() => rig(device)))();
  let i = 0;
  const cs = capturedTrainingStep(r, {
    captureKey: opts.keyAt ? () => opts.keyAt?.(i) : undefined,
    log: (m) => log.push(m),
  });
  try {
    const losses = data.map((b, k) => {
      i = k;
      r.opt.lr = lrAt(k);
      return cs.step(b.x, b.y)[0].item();
    });
    assert.equal(r.opt.stepCount, data.length); // onReplay keeps the optimizer's count
    for (const bn of batchNormLayers(r.model)) assert.equal(bn.numBatchesTracked, BigInt(data.length));
    inspect?.(cs, r);
    return losses;
  } finally {
    cs.dispose();
    r.dispose();
  }
}
