// Learning-rate schedules as functions of the iteration (0-based), plus a scheduler that
// writes them into an optimizer. Pure functions make a schedule easy to test, to plot and
// to resume from a checkpoint (only the iteration needs saving). parseSchedule turns the
// names the CLI and the Trainer options accept into schedules.
import { checkNumber, describe } from '../tensor';

export interface LRSchedule {
  /** Learning rate for iteration `it` (0-based). */
  lrAt(it: number): number;
}

function positiveInt(v: unknown, arg: string): number {
  return checkNumber(v, arg, { integer: true, min: 1 });
}

function sorted(ms: unknown, arg: string): number[] {
  if (!Array.isArray(ms)) throw new TypeError(`${arg} must be an array of iteration numbers, got ${describe(ms)}`);
  const out = ms.map((m, i) => checkNumber(m, `${arg}[${i}]`, { integer: true, min: 0 }));
  for (let i = 1; i < out.length; i++) if (out[i] <= out[i - 1]) throw new RangeError(`${arg} must increase, got [${out.join(', ')}]`);
  return out;
}

/** lr * gamma^(number of milestones <= it). */
export function multiStep(opts: { lr: number; milestones: number[]; gamma?: number }): LRSchedule {
  const lr = checkNumber(opts.lr, 'multiStep: lr', { min: 0 });
  const ms = sorted(opts.milestones, 'multiStep: milestones');
  const gamma = checkNumber(opts.gamma ?? 0.1, 'multiStep: gamma', { min: 0 });
  return { lrAt: (it) => lr * gamma ** ms.filter((m) => it >= m).length };
}

/**
 * He et al., CIFAR-10: 0.1, divided by 10 at 32k and 48k iterations (training ends at 64k;
 * batch 128, 45k/5k split in the paper).
 */
export function paperCifar(opts: { lr?: number; milestones?: number[] } = {}): LRSchedule {
  return multiStep({ lr: opts.lr ?? 0.1, milestones: opts.milestones ?? [32000, 48000], gamma: 0.1 });
}

/** Multi-step by epochs: lr * gamma^(epoch milestones passed), with itersPerEpoch to convert. */
export function stepByEpochs(opts: { lr: number; epochs: number[]; itersPerEpoch: number; gamma?: number }): LRSchedule {
  const per = positiveInt(opts.itersPerEpoch, 'stepByEpochs: itersPerEpoch');
  const epochs = sorted(opts.epochs, 'stepByEpochs: epochs');
  return multiStep({ lr: opts.lr, milestones: epochs.map((e) => e * per), gamma: opts.gamma });
}

/** Cosine from lr to minLr over totalIters, minLr after. */
export function cosine(opts: { lr: number; totalIters: number; minLr?: number }): LRSchedule {
  const lr = checkNumber(opts.lr, 'cosine: lr', { min: 0 });
  const total = positiveInt(opts.totalIters, 'cosine: totalIters');
  const min = checkNumber(opts.minLr ?? 0, 'cosine: minLr', { min: 0 });
  return { lrAt: (it) => (it >= total ? min : min + 0.5 * (lr - min) * (1 + Math.cos((Math.PI * it) / total))) };
}

/** Linear ramp from startFactor * inner(0) to inner over the first `iters` iterations, then inner. */
export function linearWarmup(inner: LRSchedule, opts: { iters: number; startFactor?: number }): LRSchedule {
  const iters = positiveInt(opts.iters, 'linearWarmup: iters');
  const f0 = checkNumber(opts.startFactor ?? 0, 'linearWarmup: startFactor', { min: 0, max: 1 });
  return { lrAt: (it) => (it >= iters ? inner.lrAt(it) : inner.lrAt(it) * (f0 + ((1 - f0) * it) / iters)) };
}

/** A constant lr for the first `iters` iterations, then inner. */
export function constantWarmup(inner: LRSchedule, opts: { lr: number; iters: number }): LRSchedule {
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
    opts: { lr?: number; maxError?: number; maxIters?: number } = {},
  ) {
    this.warmupLr = checkNumber(opts.lr ?? 0.01, 'ResNet110Warmup: lr', { min: 0 });
    this.maxError = checkNumber(opts.maxError ?? 0.8, 'ResNet110Warmup: maxError', { min: 0, max: 1 });
    this.maxIters = positiveInt(opts.maxIters ?? 400, 'ResNet110Warmup: maxIters');
  }

  /** Reports the training error (0..1) measured at iteration `it`. */
  observe(it: number, trainingError: number): void {
    checkNumber(trainingError, 'observe: trainingError', { min: 0, max: 1 });
    if (this.endedAt === null && trainingError < this.maxError) this.endedAt = it + 1;
  }

  get warmupEnd(): number {
    return Math.min(this.endedAt ?? this.maxIters, this.maxIters);
  }

  lrAt(it: number): number {
    return it < this.warmupEnd ? this.warmupLr : this.inner.lrAt(it);
  }
}

/** Writes schedule.lrAt(iteration) into optimizer.lr; call step() once per iteration, before the update. */
export class LRScheduler {
  iteration: number;

  constructor(
    readonly optimizer: { lr: number },
    readonly schedule: LRSchedule,
    startIteration = 0,
  ) {
    if (!schedule || typeof schedule.lrAt !== 'function') throw new TypeError(`LRScheduler: schedule must have lrAt(it), got ${describe(schedule)}`);
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

export function parseSchedule(spec: ScheduleSpec, lr: number, totalIterations: number, itersPerEpoch: number): LRSchedule {
  if (typeof spec === 'object' && spec !== null && typeof spec.lrAt === 'function') return spec;
  if (typeof spec !== 'string') throw new TypeError(`schedule must be a name or an object with lrAt(it), got ${String(spec)}`);
  const [name, arg] = spec.split(':', 2);
  const list = (what: string): number[] => {
    if (!arg) throw new RangeError(`schedule '${name}' needs a list, e.g. ${name}:${what}`);
    const out = arg.split(',').map((v) => Number(v));
    if (out.some((v) => !Number.isInteger(v) || v < 0)) throw new RangeError(`schedule '${spec}': '${arg}' is not a list of non-negative integers`);
    return out;
  };
  switch (name) {
    case 'paper': {
      const ms = [Math.round(totalIterations * 0.5), Math.round(totalIterations * 0.75)].filter((m, i, a) => m > 0 && (i === 0 || m > a[i - 1]));
      return multiStep({ lr, milestones: ms });
    }
    case 'multistep':
      return multiStep({ lr, milestones: list('32000,48000') });
    case 'epochs':
      return stepByEpochs({ lr, epochs: list('82,123'), itersPerEpoch });
    case 'cosine':
      return cosine({ lr, totalIters: Math.max(1, totalIterations) });
    case 'constant':
      return { lrAt: () => lr };
    default:
      throw new RangeError(`unknown schedule '${spec}': use paper, multistep:I1,I2, epochs:E1,E2, cosine or constant`);
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
