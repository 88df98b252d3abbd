// A training checkpoint is two files in the run folder: checkpoint.safetensors (model state
// and momentum buffers, through lib/checkpoint) and checkpoint.json, the sidecar with what
// resuming needs beyond tensors: the position (epoch, iteration), the random state, the
// optimizer's step and the options the run was started with. Both are written atomically,
// weights first; the safetensors metadata repeats the iteration, and resuming refuses a pair
// whose iterations differ (a crash between the two writes).
import * as fs from 'node:fs';
import * as path from 'node:path';

import { writeFileAtomic } from './safetensors';
import type { ImageRunSpec } from '../train/loaders';
import type { Normalization } from '../data/augment';

export const WEIGHTS_FILE = 'checkpoint.safetensors';
export const SIDECAR_FILE = 'checkpoint.json';

/** The options a run can be resumed with (everything serialisable that shapes the result). */
export interface RunSpec {
  model: string;
  dataset: 'cifar10' | 'cifar100';
  /** The data folder or archive, or null for the synthetic dataset. */
  data: string | null;
  trainImages: number | null;
  testImages: number | null;
  batchSize: number;
  lr: number;
  schedule: string;
  weightDecay: number;
  momentum: number;
  nesterov: boolean;
  precision: 'fp32' | 'bf16' | 'fp16';
  seed: number;
  augment: boolean;
  epochs: number | null;
  iterations: number | null;
  evalEvery: number | null;
  /** The run length the schedule's relative drop points refer to; null: this run's length (absent in older files). */
  scheduleIterations?: number | null;
  /** Image-folder runs only: image size, augmentation preset, validation folder. */
  images?: ImageRunSpec;
  /** The weights the run started from (absent: initialised from seed). */
  weights?: string;
  freeze?: string[];
  freezeBn?: boolean;
  lrScale?: Record<string, number>;
  /** The optimizer (absent in older files: 'sgd'); betas and eps are AdamW's. */
  optimizer?: 'sgd' | 'adamw';
  betas?: [number, number];
  eps?: number;
  /** No weight decay on 1-D parameters (BN weights and biases, layer biases). */
  excludeBnAndBiasFromDecay?: boolean;
  /** Label smoothing of the training loss (absent in older files: 0). */
  labelSmoothing?: number;
}

/** What predicting with a run's weights needs: class names (null: indices only), input statistics, crop size. */
export interface InferenceInfo {
  classNames: string[] | null;
  normalization: Normalization;
  imageSize: number;
}

const META_CLASSES = 'inference.class_names';
const META_NORMALIZATION = 'inference.normalization';
const META_IMAGE_SIZE = 'inference.image_size';

/** InferenceInfo as safetensors metadata (strings), so the weights file carries it alone. */
export function inferenceMetadata(info: InferenceInfo): Record<string, string> {
  const out: Record<string, string> = {
    [META_NORMALIZATION]: JSON.stringify({ mean: info.normalization.mean, std: info.normalization.std }),
    [META_IMAGE_SIZE]: String(info.imageSize),
  };
  if (info.classNames) out[META_CLASSES] = JSON.stringify(info.classNames);
  return out;
}

/** What a weights file's metadata records of InferenceInfo (absent or unreadable parts left out). */
export function readInferenceMetadata(meta: Record<string, string>): Partial<InferenceInfo> {
  const out: Partial<InferenceInfo> = {};
  const json = (k: string): unknown => {
    try {
      return meta[k] === undefined ? undefined : JSON.parse(meta[k]);
    } catch {
      return undefined;
    }
  };
  const names = json(META_CLASSES);
  if (Array.isArray(names) && names.every((n) => typeof n === 'string')) out.classNames = names;
  const n = json(META_NORMALIZATION) as Normalization | undefined;
  const three = (a: unknown) => Array.isArray(a) && a.length === 3 && a.every((x) => typeof x === 'number' && Number.isFinite(x));
  if (n && three(n.mean) && three(n.std)) out.normalization = { mean: n.mean, std: n.std };
  const size = Number(meta[META_IMAGE_SIZE]);
  if (Number.isInteger(size) && size >= 1) out.imageSize = size;
  return out;
}

export interface Sidecar {
  format: 'cudnn-resnet-training-checkpoint';
  version: 1;
  weights: string;
  /** Why it was written: at an epoch's end, on an interrupt (SIGINT / stop()), or at the end of the run. */
  reason: 'epoch' | 'interrupt' | 'end';
  /** Iterations completed. */
  iteration: number;
  /** Epochs completed (fractional inside an epoch). */
  epoch: number;
  itersPerEpoch: number;
  /**
   * The random state. Every random choice of a run is counter-based: batch order and
   * augmentation of (epoch e, batch i) come from streams keyed by (dataSeed, e), the model's
   * initialisation from modelSeed. So the next batch's position is the whole state.
   */
  rng: { dataSeed: number; modelSeed: number; nextEpoch: number; nextBatch: number; lossScale: number };
  optimizer: { step: number; lr: number };
  /** fp16 loss scaling: good steps since the scale last changed and updates skipped (absent in older files). */
  scaler?: { goodSteps: number; skipped: number };
  /** Training loss / error sums since the last evaluation (so the next evaluation's train columns match). */
  running: { loss: number; wrong: number; images: number };
  spec: RunSpec;
  /** Class names, input statistics and crop size for inference (absent in older files). */
  inference?: InferenceInfo;
  savedAt: string;
}

/** Resolves --resume's argument (a run folder, its checkpoint.json or its .safetensors) to the sidecar path. */
export function sidecarPath(resume: string): string {
  let st: fs.Stats;
  try {
    st = fs.statSync(resume);
  } catch {
    throw new RangeError(`resume: no such file or folder: ${resume}`);
  }
  if (st.isDirectory()) return path.join(resume, SIDECAR_FILE);
  if (resume.endsWith('.safetensors')) return path.join(path.dirname(resume), SIDECAR_FILE);
  return resume;
}

export function readSidecar(resume: string): { sidecar: Sidecar; file: string; weights: string } {
  const file = sidecarPath(resume);
  let s: Sidecar;
  try {
    s = JSON.parse(fs.readFileSync(file, 'utf8')) as Sidecar;
  } catch (e) {
    throw new RangeError(`resume: cannot read the checkpoint sidecar ${file}: ${(e as Error).message}`, { cause: e });
  }
  if (s.format !== 'cudnn-resnet-training-checkpoint' || s.version !== 1) throw new RangeError(`resume: ${file} is not a cudnn-resnet training checkpoint`);
  return { sidecar: s, file, weights: path.join(path.dirname(file), s.weights) };
}

export function writeSidecar(dir: string, s: Sidecar): string {
  const file = path.join(dir, SIDECAR_FILE);
  writeFileAtomic(file, Buffer.from(JSON.stringify(s, null, 2) + '\n'));
  return file;
}

/**
 * What a folder already holds of a run, in words ("finished at iteration 16 of 16"), or null
 * when it holds none (missing, empty, or unrelated files only).
 */
export function existingRun(dir: string): string | null {
  const sidecar = path.join(dir, SIDECAR_FILE);
  if (fs.existsSync(sidecar)) {
    try {
      const s = JSON.parse(fs.readFileSync(sidecar, 'utf8')) as Sidecar;
      const state = s.reason === 'end' ? 'finished' : s.reason === 'interrupt' ? 'interrupted' : 'checkpointed';
      return `${state} at iteration ${s.iteration}, ${SIDECAR_FILE} and ${s.weights ?? WEIGHTS_FILE}`;
    } catch {
      return `an unreadable ${SIDECAR_FILE}`;
    }
  }
  for (const f of [WEIGHTS_FILE, 'metrics.jsonl']) {
    const file = path.join(dir, f);
    if (fs.existsSync(file) && fs.statSync(file).size > 0) return f;
  }
  return null;
}
