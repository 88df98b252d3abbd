// Learning-rate schedules as functions of the iteration (0-based), plus a scheduler that
// writes them into an optimizer. Pure functions make a schedule easy to test, to plot and
// to resume from a checkpoint (only the iteration needs saving). parseSchedule turns the
// names the CLI and the Trainer options accept into schedules.
import { badArg, checkOptions, optionNames } from '../checks';
import { checkNumber, describe } from '../tensor';

export interface LRSchedule {
  /** Learning rate for iteration `it` (0-based). */
  lrAt(it: number): number;
}

function positiveInt(v: unknown, arg: string): number {
  return checkNumber(v, arg, { integer: true, min: 1 });
}

function sorted(ms: unknown, arg: string): number[] {
  if (!Array.isArray(ms)) throw badArg('type', arg, `must be an array of iteration numbers, got ${describe(ms)}`);
  const out = ms.map((m, i) => checkNumber(m, `${arg}[${i}]`, { integer: true, min: 0 }));
  for (let i = 1; i < out.length; i++) if (out[i] <= out[i - 1]) throw badArg('range', arg, `must increase, got [${out.join(', ')}]`);
  return out;
}

export interface MultiStepOptions {
  lr: number;
  /** Iterations at which the lr is multiplied by gamma, increasing. */
  milestones: number[];
  /** Default 0.1. */
  gamma?: number;
}
export interface PaperCifarOptions {
  /** Default 0.1. */
  lr?: number;
  /** Default [32000, 48000]. */
  milestones?: number[];
}
export interface StepByEpochsOptions {
  lr: number;
  /** Epochs at which the lr is multiplied by gamma, increasing. */
  epochs: number[];
  itersPerEpoch: number;
  /** Default 0.1. */
  gamma?: number;
}
export interface CosineOptions {
  lr: number;
  totalIters: number;
  /** Default 0. */
  minLr?: number;
}
export interface LinearWarmupOptions {
  iters: number;
  /** Default 0. */
  startFactor?: number;
}
export interface ConstantWarmupOptions {
  lr: number;
  iters: number;
}
export interface ResNet110WarmupOptions {
  /** Default 0.01. */
  lr?: number;
  /** Default 0.8. */
  maxError?: number;
  /** Default 400. */
  maxIters?: number;
}

const MULTI_STEP_OPTIONS = optionNames<MultiStepOptions>({ lr: true, milestones: true, gamma: true });

// multiStep's body under the name of the public function that was called.
function multiStepAs(op: string, opts: MultiStepOptions): LRSchedule {
  const lr = checkNumber(opts.lr, `${op}: lr`, { min: 0 });
  const ms = sorted(opts.milestones, `${op}: milestones`);
  const gamma = checkNumber(opts.gamma ?? 0.1, `${op}: gamma`, { min: 0 });
  return { lrAt: (it) => lr * gamma ** ms.filter((m) => it >= m).length };
}

/** lr * gamma^(number of milestones <= it). */
export function multiStep(opts: MultiStepOptions): LRSchedule {
  return multiStepAs('multiStep', checkOptions('multiStep', opts, MULTI_STEP_OPTIONS));
}

/**
 * He et al., CIFAR-10: 0.1, divided by 10 at 32k and 48k iterations (training ends at 64k;
 * batch 128, 45k/5k split in the paper).
 */
export function paperCifar(opts: PaperCifarOptions = {}): LRSchedule {
  checkOptions('paperCifar', opts, optionNames<PaperCifarOptions>({ lr: true, milestones: true }));
  return multiStepAs('paperCifar', { lr: opts.lr ?? 0.1, milestones: opts.milestones ?? [32000, 48000], gamma: 0.1 });
}

/** Multi-step by epochs: lr * gamma^(epoch milestones passed), with itersPerEpoch to convert. */
export function stepByEpochs(opts: StepByEpochsOptions): LRSchedule {
  checkOptions('stepByEpochs', opts, optionNames<StepByEpochsOptions>({ lr: true, epochs: true, itersPerEpoch: true, gamma: true }));
  const per = positiveInt(opts.itersPerEpoch, 'stepByEpochs: itersPerEpoch');
  const epochs = sorted(opts.epochs, 'stepByEpochs: epochs');
  return multiStepAs('stepByEpochs', { lr: opts.lr, milestones: epochs.map((e) => e * per), gamma: opts.gamma });
}

/** Cosine from lr to minLr over totalIters, minLr after. */
export function cosine(opts: CosineOptions): LRSchedule {
  checkOptions('cosine', opts, optionNames<CosineOptions>({ lr: true, totalIters: true, minLr: true }));
  const lr = checkNumber(opts.lr, 'cosine: lr', { min: 0 });
  const total = positiveInt(opts.totalIters, 'cosine: totalIters');
  const min = checkNumber(opts.minLr ?? 0, 'cosine: minLr', { min: 0 });
  return { lrAt: (it) => (it >= total ? min : min + 0.5 * (lr - min) * (1 + Math.cos((Math.PI * it) / total))) };
}

/** Linear ramp from startFactor * inner(0) to inner over the first `iters` iterations, then inner. */
export function linearWarmup(inner: LRSchedule, opts: LinearWarmupOptions): LRSchedule {
  checkSchedule(inner, 'linearWarmup: inner');
  checkOptions('linearWarmup', opts, optionNames<LinearWarmupOptions>({ iters: true, startFactor: true }));
  const iters = positiveInt(opts.iters, 'linearWarmup: iters');
  const f0 = checkNumber(opts.startFactor ?? 0, 'linearWarmup: startFactor', { min: 0, max: 1 });
  return { lrAt: (it) => (it >= iters ? inner.lrAt(it) : inner.lrAt(it) * (f0 + ((1 - f0) * it) / iters)) };
}

/** A constant lr for the first `iters` iterations, then inner. */
export function constantWarmup(inner: LRSchedule, opts: ConstantWarmupOptions): LRSchedule {
  checkSchedule(inner, 'constantWarmup: inner');
  checkOptions('constantWarmup', opts, optionNames<ConstantWarmupOptions>({ lr: true, iters: true }));
  const lr = checkNumber(opts.lr, 'constantWarmup: lr', { min: 0 });
  const iters = positiveInt(opts.iters, 'constantWarmup: iters');
  return { lrAt: (it) => (it < iters ? lr : inner.lrAt(it)) };
}

/**
 * ResNet-110's warm-up (He et al., section 4.2): lr 0.01 "until the training error is below
 * 80% (about 400 iterations)", then the paper's schedule. This form ends the warm-up on
 * whichever comes first: observe(trainingError) reporting an error below maxError, or
 * maxIters (default 400, so a run that never reports errors gets the paper's practical form).
 */
export class ResNet110Warmup implements LRSchedule {
  private endedAt: number | null = null;
  readonly warmupLr: number;
  readonly maxError: number;
  readonly maxIters: number;

  constructor(
    private readonly inner: LRSchedule = paperCifar(),
    opts: ResNet110WarmupOptions = {},
  ) {
    checkSchedule(inner, 'ResNet110Warmup: inner');
    checkOptions('ResNet110Warmup', opts, optionNames<ResNet110WarmupOptions>({ lr: true, maxError: true, maxIters: true }));
    this.warmupLr = checkNumber(opts.lr ?? 0.01, 'ResNet110Warmup: lr', { min: 0 });
    this.maxError = checkNumber(opts.maxError ?? 0.8, 'ResNet110Warmup: maxError', { min: 0, max: 1 });
    this.maxIters = positiveInt(opts.maxIters ?? 400, 'ResNet110Warmup: maxIters');
  }

  /** Reports the training error (0..1) measured at iteration `it`. */
  observe(it: number, trainingError: number): void {
    checkNumber(it, 'ResNet110Warmup.observe: it', { integer: true, min: 0 });
    checkNumber(trainingError, 'ResNet110Warmup.observe: trainingError', { min: 0, max: 1 });
    if (this.endedAt === null && trainingError < this.maxError) this.endedAt = it + 1;
  }

  get warmupEnd(): number {
    return Math.min(this.endedAt ?? this.maxIters, this.maxIters);
  }

  lrAt(it: number): number {
    return it < this.warmupEnd ? this.warmupLr : this.inner.lrAt(it);
  }
}

function checkSchedule(s: unknown, arg: string): void {
  if (typeof s !== 'object' || s === null || typeof (s as LRSchedule).lrAt !== 'function') throw badArg('type', arg, `must have lrAt(it), got ${describe(s)}`);
}

/** Writes schedule.lrAt(iteration) into optimizer.lr; call step() once per iteration, before the update. */
export class LRScheduler {
  iteration: number;

  constructor(
    readonly optimizer: { lr: number },
    readonly schedule: LRSchedule,
    startIteration = 0,
  ) {
    if (typeof optimizer !== 'object' || optimizer === null || typeof optimizer.lr !== 'number')
      throw badArg('type', 'LRScheduler: optimizer', `must be an optimizer (an object with a numeric lr), got ${describe(optimizer)}`);
    checkSchedule(schedule, 'LRScheduler: schedule');
    this.iteration = checkNumber(startIteration, 'LRScheduler: startIteration', { integer: true, min: 0 });
  }

  /** Sets the lr for the current iteration and advances; returns the lr set. */
  step(): number {
    const lr = this.schedule.lrAt(this.iteration++);
    this.optimizer.lr = lr;
    return lr;
  }
}

// Schedules by name, for the CLI and the Trainer options:
//   paper              lr, /10 at 50% and 75% of the run: for the paper's 64k iterations
//                      exactly its 32k and 48k (He et al., sec. 4.2)
//   multistep:I1,I2..  lr, /10 at the given iterations
//   epochs:E1,E2..     lr, /10 at the given epochs
//   cosine             cosine decay from lr to 0 over the run
//   constant           lr throughout
export type ScheduleSpec = string | LRSchedule;

/** `op` and `argument` name the caller's public function and option in errors (the Trainer's `schedule`). */
export function parseSchedule(
  spec: ScheduleSpec,
  lr: number,
  totalIterations: number,
  itersPerEpoch: number,
  op = 'parseSchedule',
  argument = 'spec',
): LRSchedule {
  if (typeof spec === 'object' && spec !== null && typeof spec.lrAt === 'function') return spec;
  const bad = (kind: 'type' | 'range', what: string) => badArg(kind, `${op}: ${argument}`, what);
  if (typeof spec !== 'string') throw bad('type', `must be a name or an object with lrAt(it), got ${describe(spec)}`);
  const [name, arg] = spec.split(':', 2);
  const list = (what: string): number[] => {
    if (!arg) throw bad('range', `'${name}' needs a list, e.g. ${name}:${what}`);
    const out = arg.split(',').map((v) => Number(v));
    if (out.some((v) => !Number.isInteger(v) || v < 0)) throw bad('range', `'${spec}': '${arg}' is not a list of non-negative integers`);
    return out;
  };
  switch (name) {
    case 'paper': {
      const ms = [Math.round(totalIterations * 0.5), Math.round(totalIterations * 0.75)].filter((m, i, a) => m > 0 && (i === 0 || m > a[i - 1]));
      return multiStepAs(op, { lr, milestones: ms });
    }
    case 'multistep':
      return multiStepAs(op, { lr, milestones: list('32000,48000') });
    case 'epochs':
      return multiStepAs(op, { lr, milestones: list('82,123').map((e) => e * positiveInt(itersPerEpoch, `${op}: itersPerEpoch`)) });
    case 'cosine':
      return cosine({ lr, totalIters: Math.max(1, totalIterations) });
    case 'constant':
      return { lrAt: () => lr };
    default:
      throw bad('range', `is an unknown schedule '${spec}': use paper, multistep:I1,I2, epochs:E1,E2, cosine or constant`);
  }
}

/** A named schedule in words with its drop points, e.g. "paper: 0.1, /10 at iterations 8 and 12". */
export function describeSchedule(spec: ScheduleSpec, lr: number, totalIterations: number, itersPerEpoch: number): string {
  if (typeof spec !== 'string') return 'custom schedule';
  const [name] = spec.split(':', 1);
  const list = (xs: number[]) => (xs.length <= 1 ? xs.join('') : `${xs.slice(0, -1).join(', ')} and ${xs[xs.length - 1]}`);
  switch (name) {
    case 'paper':
    case 'multistep':
    case 'epochs': {
      const s = parseSchedule(spec, lr, totalIterations, itersPerEpoch);
      const drops: number[] = [];
      for (let it = 1, prev = s.lrAt(0); it <= totalIterations; it++) {
        const cur = s.lrAt(it);
        if (cur !== prev) drops.push(it);
        prev = cur;
      }
      return drops.length === 0 ? `${spec}: ${lr} throughout` : `${spec}: ${lr}, /10 at iteration${drops.length > 1 ? 's' : ''} ${list(drops)}`;
    }
    case 'cosine':
      return `cosine: ${lr} decaying to 0 at iteration ${totalIterations}`;
    default:
      return `${spec}: ${lr} throughout`;
  }
}
