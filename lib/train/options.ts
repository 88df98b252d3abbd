// The Trainer's options: their types, the defaults and checks that turn them into the
// RunSpec a checkpoint records (resolveSpec), and the way back from a checkpoint to options
// (resumeOptions).
import * as path from 'node:path';

import { Normalization } from '../data/augment';
import { SampleDataset } from '../data/dataset';
import { CifarKind, Dataset } from '../data/format';
import { AugmentPreset } from '../data/transforms';
import { type LayoutName } from '../native';
import { Module } from '../nn/module';
import { LRSchedule } from '../optim/schedules';
import { badArg, checkOptions, optionNames } from '../checks';
import { checkNumber, describe } from '../tensor';
import { readSidecar, RunSpec } from '../checkpoint/run';
import { Precision, PRECISIONS } from './device';
import { imageSpec } from './loaders';
import { EvalMetrics, StepMetrics } from './metrics';

export interface TrainerOptions {
  /** A model name (models.names(), or any CIFAR depth 6n+2 such as resnet8) or a Module. Default 'resnet20'. */
  model?: string | Module;
  dataset?: CifarKind;
  /**
   * A CIFAR folder or .tar.gz, an image folder (train/ and val/ class folders, or class
   * folders with `valData`), loaded CIFAR splits, any SampleDataset pair, or undefined for
   * the synthetic dataset (cached).
   */
  data?: string | { train: Dataset | SampleDataset; test: Dataset | SampleDataset };
  /** Image folders: the validation class folders when `data` has no val/ (or to use others). */
  valData?: string;
  /** Image folders: crop size (default 224 for resnet18 ... resnet152, 32 for the CIFAR models). */
  imageSize?: number;
  /** Image folders: per-channel statistics (default ImageNet's); CIFAR: default measured on the training set. */
  normalization?: Normalization;
  /** Image folders: images decoding at once (default: the cores) and batches prepared ahead (default 2). */
  workers?: number;
  prefetch?: number;
  /** Image folders: 'raise' (default) on an unreadable image, or 'skip' it (counted, 'skip' events). */
  onImageError?: 'raise' | 'skip';
  /** Use only the first N training / test images. */
  trainImages?: number;
  testImages?: number;
  /** Length of the run: epochs, or iterations (wins when both are given). Default 1 epoch. */
  epochs?: number;
  iterations?: number;
  batchSize?: number;
  lr?: number;
  /** 'paper' (default), 'multistep:I1,I2', 'epochs:E1,E2', 'cosine', 'constant', or an LRSchedule. */
  schedule?: string | LRSchedule;
  /**
   * The run length the schedule's relative points refer to ('paper': /10 at 50% and 75%;
   * 'cosine': reaches 0). Default: this run's length. resumeOptions() sets it to the original
   * run's length, so a run extended with more epochs keeps its drop points.
   */
  scheduleIterations?: number;
  weightDecay?: number;
  momentum?: number;
  nesterov?: boolean;
  /** 'auto' (default: cuda:0 when usable, else cpu), 'cpu' or 'cuda:N'. */
  device?: string;
  precision?: Precision;
  seed?: number;
  /**
   * Random crop + flip of the training batches (default true). Image folders: true or
   * 'torchvision' (RandomResizedCrop + flip), 'paper' (shorter side in [256, 480], crop,
   * flip), false or 'none' (Resize + CenterCrop, as evaluation).
   */
  augment?: boolean | AugmentPreset;
  /** Evaluate every N iterations (default: at each epoch's end) and at the end of the run. */
  evalEvery?: number;
  /** Write metrics.jsonl, metrics.csv and checkpoints here. */
  out?: string;
  /**
   * Replace a run already in `out` (its checkpoint and metrics). Without it, a folder that
   * holds a run is refused unless the run is continued with `resume`.
   */
  overwrite?: boolean;
  /** Start from these weights (safetensors or a PyTorch .pth/.pt state dict); a head of another size is replaced. */
  weights?: string;
  /** The classifier's classes; must match the dataset's (a check when fine-tuning). */
  classes?: number;
  /** Module names or prefixes whose parameters are not trained (nn.freeze), e.g. ['conv1', 'bn1', 'layer1']. */
  freeze?: string[];
  /** Hold the batch norm of the frozen modules in eval mode (see nn.FreezeOptions.bnEval). */
  freezeBn?: boolean;
  /** Learning-rate multipliers by module name or prefix, e.g. { fc: 10 } (parameter groups; first match wins). */
  lrScale?: Record<string, number>;
  /**
   * 'sgd' (default: momentum, nesterov, L2 decay) or 'adamw' (torch.optim.AdamW: betas, eps,
   * decoupled decay). With 'adamw', lr defaults to 1e-3 and weightDecay to 1e-2.
   */
  optimizer?: 'sgd' | 'adamw';
  /** AdamW's moment coefficients (default [0.9, 0.999]) and denominator term (default 1e-8). */
  betas?: [number, number];
  eps?: number;
  /** No weight decay on BN weights and biases and on layer biases (every 1-D parameter). Default false. */
  excludeBnAndBiasFromDecay?: boolean;
  /** Label smoothing of the training cross-entropy, in [0, 1] (PyTorch's label_smoothing). Default 0. */
  labelSmoothing?: number;
  /** Continue from a checkpoint: a run folder, its checkpoint.json or checkpoint.safetensors. */
  resume?: string;
  /**
   * Record the training step once as a CUDA graph and replay it (lib/train/captured-step.ts).
   * 'auto' (default): on for a cuda device, off on the CPU. Not saved in checkpoints.
   */
  capture?: boolean | 'auto';
  onStep?: (s: StepMetrics) => void;
  onEval?: (e: EvalMetrics) => void;
  onEpoch?: (e: EpochEvent) => void;
}

export interface EpochEvent {
  epoch: number;
  iteration: number;
  eval: EvalMetrics | null;
  checkpoint: string | null;
}

export interface StartInfo {
  model: string;
  parameters: number;
  device: string;
  deviceNote: string | null;
  precision: string;
  /** Memory layout of the batches (activationLayout: NHWC for 16-bit on CUDA, else NCHW). */
  layout: LayoutName;
  trainImages: number;
  testImages: number;
  dataSource: string;
  itersPerEpoch: number;
  totalIterations: number;
  startIteration: number;
  /** The learning rate of the first iteration this run trains (the resumed one when resuming). */
  lr: number;
  /** The schedule in words, with its drop points, e.g. "paper: 0.1, /10 at iterations 8 and 12". */
  schedule: string;
  /** The optimizer and loss in words, e.g. "adamw (betas 0.9, 0.999, eps 1e-8, weight decay 0.01), label smoothing 0.1". */
  optimizer: string;
}

export interface TrainResult {
  iterations: number;
  epochs: number;
  stopped: boolean;
  final: EvalMetrics | null;
  checkpoint: string | null;
  seconds: number;
  /** Image folders with onImageError 'skip': unreadable files skipped so far. */
  skippedImages?: number;
}

const num = (v: unknown, arg: string, o: { min?: number; integer?: boolean }) => checkNumber(v, `Trainer: ${arg}`, o);
const bad = (kind: 'type' | 'range', arg: string, what: string) => badArg(kind, `Trainer: ${arg}`, what);

/** Fills in defaults and checks every option; throws TypeError / RangeError naming the option. */
const TRAINER_OPTIONS = optionNames<TrainerOptions>({
  model: true,
  dataset: true,
  data: true,
  trainImages: true,
  testImages: true,
  epochs: true,
  iterations: true,
  batchSize: true,
  lr: true,
  schedule: true,
  weightDecay: true,
  momentum: true,
  nesterov: true,
  device: true,
  precision: true,
  seed: true,
  augment: true,
  evalEvery: true,
  out: true,
  resume: true,
  capture: true,
  onStep: true,
  onEval: true,
  onEpoch: true,
  valData: true,
  imageSize: true,
  normalization: true,
  workers: true,
  prefetch: true,
  onImageError: true,
  scheduleIterations: true,
  overwrite: true,
  weights: true,
  classes: true,
  freeze: true,
  freezeBn: true,
  lrScale: true,
  optimizer: true,
  betas: true,
  eps: true,
  excludeBnAndBiasFromDecay: true,
  labelSmoothing: true,
});

export function resolveSpec(o: TrainerOptions): RunSpec {
  if (o === null || typeof o !== 'object') throw bad('type', 'options', `must be an object, got ${describe(o)}`);
  checkOptions('Trainer', o, TRAINER_OPTIONS);
  const model = o.model ?? 'resnet20';
  const dataset = o.dataset ?? 'cifar10';
  if (dataset !== 'cifar10' && dataset !== 'cifar100') throw bad('range', 'dataset', `must be 'cifar10' or 'cifar100', got ${describe(dataset)}`);
  const precision = o.precision ?? 'fp32';
  if (!PRECISIONS.includes(precision)) throw bad('range', 'precision', `must be one of ${PRECISIONS.join(', ')}, got ${describe(precision)}`);
  const opt = (v: number | undefined, arg: string, min: number, integer: boolean) => (v === undefined ? null : num(v, arg, { min, integer }));
  const optimizer = o.optimizer ?? 'sgd';
  if (optimizer !== 'sgd' && optimizer !== 'adamw') throw bad('range', 'optimizer', `must be 'sgd' or 'adamw', got ${describe(optimizer)}`);
  const adamw = optimizer === 'adamw';
  const iterations = opt(o.iterations, 'iterations', 1, true);
  const epochs = opt(o.epochs, 'epochs', 1, true);
  const spec: RunSpec = {
    model: typeof model === 'string' ? model : (model.constructor?.name ?? 'model'),
    dataset,
    data: typeof o.data === 'string' ? o.data : null,
    trainImages: opt(o.trainImages, 'trainImages', 1, true),
    testImages: opt(o.testImages, 'testImages', 1, true),
    batchSize: num(o.batchSize ?? 128, 'batchSize', { min: 1, integer: true }),
    lr: num(o.lr ?? (adamw ? 1e-3 : 0.1), 'lr', { min: 0 }),
    schedule: typeof o.schedule === 'string' ? o.schedule : o.schedule ? 'custom' : 'paper',
    weightDecay: num(o.weightDecay ?? (adamw ? 1e-2 : 1e-4), 'weightDecay', { min: 0 }),
    momentum: num(o.momentum ?? 0.9, 'momentum', { min: 0 }),
    nesterov: o.nesterov ?? false,
    precision,
    seed: num(o.seed ?? 0, 'seed', { min: 0, integer: true }),
    augment: typeof o.augment === 'string' ? o.augment !== 'none' : (o.augment ?? true),
    epochs: iterations === null ? (epochs ?? 1) : epochs,
    iterations,
    evalEvery: opt(o.evalEvery, 'evalEvery', 1, true),
    scheduleIterations: opt(o.scheduleIterations, 'scheduleIterations', 1, true),
  };
  if (o.overwrite !== undefined && typeof o.overwrite !== 'boolean') throw bad('type', 'overwrite', `must be a boolean, got ${describe(o.overwrite)}`);
  const images = imageSpec(o);
  if (images) spec.images = images;
  if (o.weights !== undefined) {
    if (typeof o.weights !== 'string' || o.weights === '') throw bad('type', 'weights', `must be a file path, got ${describe(o.weights)}`);
    spec.weights = o.weights;
  }
  if (o.freeze !== undefined) {
    if (!Array.isArray(o.freeze) || o.freeze.length === 0 || !o.freeze.every((f) => typeof f === 'string' && f !== ''))
      throw bad('type', 'freeze', `must be a non-empty list of module names, got ${describe(o.freeze)}`);
    spec.freeze = o.freeze.slice();
  }
  if (o.freezeBn !== undefined) {
    if (typeof o.freezeBn !== 'boolean') throw bad('type', 'freezeBn', `must be a boolean, got ${describe(o.freezeBn)}`);
    if (!spec.freeze) throw bad('range', 'freezeBn', 'needs freeze');
    spec.freezeBn = o.freezeBn;
  }
  if (o.classes !== undefined) num(o.classes, 'classes', { min: 1, integer: true });
  if (o.lrScale !== undefined) {
    if (o.lrScale === null || typeof o.lrScale !== 'object' || Array.isArray(o.lrScale) || Object.keys(o.lrScale).length === 0)
      throw bad('type', 'lrScale', `must be an object of module name -> multiplier, got ${describe(o.lrScale)}`);
    for (const [k, v] of Object.entries(o.lrScale)) num(v, `lrScale['${k}']`, { min: 0 });
    spec.lrScale = { ...o.lrScale };
  }
  Object.assign(spec, optimizerSpec(o, optimizer));
  if (typeof spec.nesterov !== 'boolean') throw bad('type', 'nesterov', `must be a boolean, got ${describe(spec.nesterov)}`);
  if (spec.nesterov && spec.momentum === 0) throw bad('range', 'nesterov', 'needs momentum > 0');
  return spec;
}

/** The optimizer's and the loss's part of the spec: optimizer and labelSmoothing always, the rest when they apply. */
function optimizerSpec(o: TrainerOptions, optimizer: 'sgd' | 'adamw'): Partial<RunSpec> {
  const out: Partial<RunSpec> = { optimizer, labelSmoothing: num(o.labelSmoothing ?? 0, 'labelSmoothing', { min: 0 }) };
  if ((out.labelSmoothing as number) > 1) throw bad('range', 'labelSmoothing', `must be <= 1, got ${o.labelSmoothing}`);
  if (optimizer === 'adamw') {
    const betas = o.betas ?? [0.9, 0.999];
    if (!Array.isArray(betas) || betas.length !== 2) throw bad('type', 'betas', `must be a pair of numbers, got ${describe(betas)}`);
    betas.forEach((b, i) => {
      if (num(b, `betas[${i}]`, { min: 0 }) >= 1) throw bad('range', `betas[${i}]`, `must be < 1, got ${b}`);
    });
    out.betas = [betas[0], betas[1]];
    out.eps = num(o.eps ?? 1e-8, 'eps', { min: 0 });
  } else if (o.betas !== undefined || o.eps !== undefined) throw bad('range', o.betas !== undefined ? 'betas' : 'eps', "needs optimizer 'adamw'");
  if (o.excludeBnAndBiasFromDecay !== undefined) {
    if (typeof o.excludeBnAndBiasFromDecay !== 'boolean')
      throw bad('type', 'excludeBnAndBiasFromDecay', `must be a boolean, got ${describe(o.excludeBnAndBiasFromDecay)}`);
    if (o.excludeBnAndBiasFromDecay) out.excludeBnAndBiasFromDecay = true;
  }
  return out;
}

/**
 * The options a checkpoint was written with, to continue it: `resume` and `out` name its run
 * folder (metrics and checkpoints go on there). Change `epochs` or `iterations` to train
 * longer; the schedule keeps the original run's drop points (`scheduleIterations`) unless
 * you replace `schedule` and drop `scheduleIterations`.
 */
export function resumeOptions(resume: string): TrainerOptions {
  const { sidecar, file } = readSidecar(resume);
  const s = sidecar.spec;
  const total = s.iterations ?? (s.epochs ?? 1) * sidecar.itersPerEpoch;
  return {
    model: s.model,
    dataset: s.dataset,
    data: s.data ?? undefined,
    trainImages: s.trainImages ?? undefined,
    testImages: s.testImages ?? undefined,
    batchSize: s.batchSize,
    lr: s.lr,
    schedule: s.schedule === 'custom' ? undefined : s.schedule,
    weightDecay: s.weightDecay,
    momentum: s.momentum,
    nesterov: s.nesterov,
    precision: s.precision,
    seed: s.seed,
    augment: s.images?.augment ?? s.augment,
    valData: s.images?.valData ?? undefined,
    imageSize: s.images?.imageSize,
    epochs: s.epochs ?? undefined,
    iterations: s.iterations ?? undefined,
    evalEvery: s.evalEvery ?? undefined,
    scheduleIterations: s.scheduleIterations ?? total,
    freeze: s.freeze,
    freezeBn: s.freezeBn,
    lrScale: s.lrScale,
    optimizer: s.optimizer,
    betas: s.betas,
    eps: s.eps,
    excludeBnAndBiasFromDecay: s.excludeBnAndBiasFromDecay,
    labelSmoothing: s.labelSmoothing,
    resume,
    out: path.dirname(file),
  };
}
