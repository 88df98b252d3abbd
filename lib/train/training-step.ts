// The library's training step, shared by the Trainer, the bench and the tests: forward,
// softmax cross-entropy (label smoothing optional), backward seeded with the loss scale,
// unscale, the optimizer's update (SGD or AdamW) skipped on overflow, loss-scale update. Everything it needs between steps (lr, loss scale, overflow
// flag) is on the device, so a CUDA-graph replay of it behaves like an eager step.
import { softmaxCrossEntropy } from '../autograd';
import { batchNormLayers } from '../nn/layers';
import { Module } from '../nn/module';
import { Optimizer } from '../optim/optimizer';
import { badArg, checkOptions } from '../checks';
import { describe, Tensor } from '../tensor';
import { CAPTURED_STEP_OPTIONS, CapturedStep, CapturedStepOptions } from './captured-step';
import { MixedPrecision } from './amp';

export interface TrainingParts {
  model: Module;
  mp: MixedPrecision;
  opt: Optimizer;
  /** Label smoothing of the training loss (default 0). */
  labelSmoothing?: number;
}

// The hooks are the helper's own: a caller's would be replaced.
const STEP_OPTIONS = CAPTURED_STEP_OPTIONS.filter((k) => k !== 'onReplay' && k !== 'onCaptureStart' && k !== 'reset');

// The parts are a bundle, not options: a larger object that holds them (a test rig) is fine.
function checkParts(op: string, parts: TrainingParts): TrainingParts {
  if (typeof parts !== 'object' || parts === null) throw badArg('type', `${op}: parts`, `must be { model, mp, opt }, got ${describe(parts)}`);
  const want = { model: Module, mp: MixedPrecision } as const;
  for (const k of ['model', 'mp'] as const)
    if (!(parts[k] instanceof want[k])) throw badArg('type', `${op}: parts.${k}`, `must be a ${want[k].name}, got ${describe(parts[k])}`);
  // Any Optimizer will do (SGD, AdamW or one of the caller's): check its shape, not its class.
  const opt = parts.opt as Partial<Optimizer> | null | undefined;
  if (typeof opt !== 'object' || opt === null || typeof opt.step !== 'function' || typeof opt.zeroGrad !== 'function')
    throw badArg('type', `${op}: parts.opt`, `must be an Optimizer (SGD, AdamW), got ${describe(parts.opt)}`);
  return parts;
}

/** One eager step on (x, y); returns [loss, correct] (the step's own tensors). */
export function trainingStepFn(parts: TrainingParts): (x: Tensor, y: Tensor) => Tensor[] {
  const { model, mp, opt, labelSmoothing } = checkParts('trainingStepFn', parts);
  return (x, y) => {
    const r = softmaxCrossEntropy(model.forward(x), y, { labelSmoothing: labelSmoothing ?? 0 });
    r.loss.backward(mp.seed(r.loss));
    opt.step({ skipIf: mp.unscale() });
    mp.update();
    opt.zeroGrad();
    return [r.loss, r.correct];
  };
}

/**
 * The step wrapped in a CapturedStep whose hooks keep the step's JS-side counts right: a
 * replay runs no JS, so the optimizer's step count and BatchNorm2d's num_batches_tracked advance in
 * onReplay, and a capture that failed part-way (its JS ran, its GPU work did not) restores
 * them and drops the gradients it recorded.
 */
export function capturedTrainingStep(
  parts: TrainingParts,
  options: Omit<CapturedStepOptions, 'onReplay' | 'onCaptureStart' | 'reset'> = {},
): CapturedStep<Tensor[]> {
  const { model, opt } = checkParts('capturedTrainingStep', parts);
  checkOptions('capturedTrainingStep', options, STEP_OPTIONS);
  const bns = batchNormLayers(model);
  let stepsBefore = 0;
  let bnBefore: bigint[] = [];
  // The graph addresses the optimizer's momentum buffers: when loadStateDict replaces that
  // set (stateVersion), capture again. A caller's key joins it; the pair object is reused
  // while both parts stay the same, since CapturedStep compares keys with Object.is.
  let key: { version: number; user: unknown } | null = null;
  const captureKey = () => {
    const user = options.captureKey?.();
    if (!key || key.version !== opt.stateVersion || !Object.is(key.user, user)) key = { version: opt.stateVersion, user };
    return key;
  };
  return new CapturedStep(trainingStepFn(parts), {
    ...options,
    captureKey,
    onReplay: () => {
      opt.stepCount++;
      for (const bn of bns) if (bn.training) bn.numBatchesTracked += 1n;
    },
    onCaptureStart: () => {
      stepsBefore = opt.stepCount;
      bnBefore = bns.map((bn) => bn.numBatchesTracked);
    },
    reset: () => {
      opt.zeroGrad();
      opt.stepCount = stepsBefore;
      bns.forEach((bn, i) => {
        bn.numBatchesTracked = bnBefore[i];
      });
    },
  });
}
