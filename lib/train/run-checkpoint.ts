// Reading and writing a run's checkpoint (weights + sidecar) for the Trainer. Kept out of the
// loop because resuming "exactly" is a contract between these two functions: what one writes
// (iteration, data position, loss scale, running totals) is what the other checks and restores,
// and a run resumed with a different model, data or precision must fail loudly, not drift.
import * as path from 'node:path';

import { saveCheckpoint } from '../checkpoint';
import { readSafetensors } from '../checkpoint/safetensors';
import { inferenceMetadata, InferenceInfo, readSidecar, RunSpec, Sidecar, WEIGHTS_FILE, writeSidecar } from '../checkpoint/run';
import { Module } from '../nn/module';
import { Optimizer } from '../optim/optimizer';
import { describe } from '../tensor';
import { MixedPrecision } from './amp';
import { RunningTotals } from './evaluation';

/** Reads the run at `resume` and checks it was made by a run this one can continue. */
export function readResume(resume: string, spec: RunSpec): { sidecar: Sidecar; weights: string } {
  const found = readSidecar(resume);
  const saved = found.sidecar.spec;
  for (const k of ['model', 'dataset', 'batchSize', 'seed', 'precision', 'trainImages'] as const)
    if (saved[k] !== spec[k]) throw new RangeError(`resume: the checkpoint was made with ${k} ${describe(saved[k])}, this run asks for ${describe(spec[k])}`);
  if ((saved.optimizer ?? 'sgd') !== (spec.optimizer ?? 'sgd'))
    throw new RangeError(`resume: the checkpoint was made with optimizer ${saved.optimizer ?? 'sgd'}, this run asks for ${spec.optimizer ?? 'sgd'}`);
  const [was, now] = [saved.images, spec.images].map((x) => (x ? `image size ${x.imageSize}, augment ${x.augment}` : 'CIFAR data'));
  if (was !== now) throw new RangeError(`resume: the checkpoint was made with ${was}, this run asks for ${now}`);
  const meta = readSafetensors(found.weights).metadata;
  if (meta['train.iteration'] !== String(found.sidecar.iteration))
    throw new RangeError(
      `resume: ${found.weights} holds iteration ${meta['train.iteration']} but its sidecar says ${found.sidecar.iteration} (interrupted while saving?)`,
    );
  return found;
}

/** What a checkpoint captures of a run in progress. */
export interface RunState {
  model: Module;
  opt: Optimizer;
  mp: MixedPrecision;
  itersPerEpoch: number;
  running: RunningTotals;
  /** Class names, input statistics and crop size, recorded for inference. */
  inference?: InferenceInfo;
}

/** Writes checkpoint.safetensors + checkpoint.json into `out`; returns the sidecar's path. */
export function writeRunCheckpoint(out: string, st: RunState, spec: RunSpec, reason: Sidecar['reason'], iteration: number): string {
  const weights = path.join(out, WEIGHTS_FILE);
  saveCheckpoint(weights, st.model, {
    optimizer: st.opt,
    metadata: { 'train.iteration': iteration, 'train.model': spec.model, ...(st.inference ? inferenceMetadata(st.inference) : {}) },
  });
  const bpe = st.itersPerEpoch;
  const scaler = st.mp.scalerState();
  return writeSidecar(out, {
    format: 'cudnn-resnet-training-checkpoint',
    version: 1,
    weights: WEIGHTS_FILE,
    reason,
    iteration,
    epoch: Number((iteration / bpe).toFixed(4)),
    itersPerEpoch: bpe,
    rng: { dataSeed: spec.seed, modelSeed: spec.seed, nextEpoch: Math.floor(iteration / bpe), nextBatch: iteration % bpe, lossScale: scaler.scale },
    optimizer: { step: st.opt.stepCount, lr: st.opt.lr },
    scaler: { goodSteps: scaler.goodSteps, skipped: scaler.skipped },
    running: { ...st.running },
    spec,
    ...(st.inference ? { inference: st.inference } : {}),
    savedAt: new Date().toISOString(),
  });
}
