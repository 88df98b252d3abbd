// The benchmark protocol (bench/results/README.md) as data and small pure helpers: the rows and precisions
// of the PyTorch comparison, argument parsing for them, and the timing loop (warm-up, then
// timed runs with the device synchronised around each run, median ms/step).

export type Precision = 'fp32' | 'bf16' | 'fp16';
export const PRECISIONS: readonly Precision[] = ['fp32', 'bf16', 'fp16'];

/** One step: forward, softmax cross-entropy, backward, SGD with these settings. */
export const SGD_SETTINGS = { lr: 0.1, momentum: 0.9, weightDecay: 1e-4 } as const;

export interface TimingOptions {
  warmup: number;
  steps: number;
  runs: number;
}

export const PROTOCOL: TimingOptions = { warmup: 10, steps: 50, runs: 3 };

export interface Row {
  model: string;
  batch: number;
  /** Input pixels (square), when not the model's own (imageSizeOf): e.g. ResNet-18 at 64 px. */
  size?: number;
}

/**
 * The benchmark's rows, in the order a time-limited run should take them: the CIFAR
 * ResNet-20/56 rows the captured step is meant to win first, the large models last.
 */
export const DEFAULT_ROWS: readonly Row[] = [
  { model: 'resnet20', batch: 128 },
  { model: 'resnet56', batch: 128 },
  { model: 'resnet56', batch: 512 },
  { model: 'resnet110', batch: 128 },
  { model: 'plain56', batch: 128 },
  { model: 'resnet18', batch: 256 },
  { model: 'resnet50', batch: 256 },
];

const IMAGENET_DEPTHS = new Set([18, 34, 50, 101, 152]);

/** 224 for the ImageNet models (resnet18/34/50/101/152), 32 for the CIFAR ones. */
export function imageSizeOf(model: string): number {
  const m = /^(?:plain|resnet|preact-resnet)(\d+)$/.exec(model);
  return m && IMAGENET_DEPTHS.has(Number(m[1])) ? 224 : 32;
}

/** The row's input size: its own `size`, else the model's. */
export function rowImageSize(r: Row): number {
  return r.size ?? imageSizeOf(r.model);
}

/** 'model:batch', or 'model@px:batch' for a row (or result, by its imageSize) at another input size. */
export function rowKey(r: Row & { imageSize?: number }): string {
  const size = r.size ?? (r.imageSize !== undefined && r.imageSize !== imageSizeOf(r.model) ? r.imageSize : undefined);
  return size === undefined ? `${r.model}:${r.batch}` : `${r.model}@${size}:${r.batch}`;
}

/** 'resnet20:128,resnet56:512,resnet18@64:32' -> rows. A bare model name takes batch 128; @PX sets the input size. */
export function parseRows(spec: string): Row[] {
  if (typeof spec !== 'string' || spec.trim() === '') throw new TypeError(`--rows must list model:batch pairs, got '${spec}'`);
  return spec.split(',').map((part) => {
    const [name, batch, extra] = part.trim().split(':');
    const [model, px, more] = (name ?? '').split('@');
    const b = batch === undefined ? 128 : Number(batch);
    const size = px === undefined ? undefined : Number(px);
    if (!model || extra !== undefined || more !== undefined || !Number.isInteger(b) || b < 1 || (size !== undefined && (!Number.isInteger(size) || size < 8)))
      throw new RangeError(`--rows: '${part}' is not model[@px]:batch with a positive integer batch and px >= 8 (e.g. resnet56:128, resnet18@64:32)`);
    return size === undefined ? { model: model.toLowerCase(), batch: b } : { model: model.toLowerCase(), batch: b, size };
  });
}

export function parsePrecisions(spec: string): Precision[] {
  const out = spec.split(',').map((p) => p.trim().toLowerCase());
  for (const p of out) if (!(PRECISIONS as readonly string[]).includes(p)) throw new RangeError(`--precisions: '${p}' is not one of ${PRECISIONS.join(', ')}`);
  if (out.length === 0) throw new RangeError('--precisions must name at least one precision');
  return [...new Set(out)] as Precision[];
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) throw new RangeError('median: no values');
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export interface Timing {
  /** ms per step of each timed run. */
  runsMs: number[];
  /** Median of runsMs. */
  msPerStep: number;
  /** Wall time of the warm-up, ms (includes algorithm search and first-touch allocation). */
  warmupMs: number;
}

/** Milliseconds since an arbitrary origin, from the monotonic clock. */
export function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** Measures one run: start() before its first step, the returned stop() after its last (ms). */
export type RunTimer = () => { stop(): number };

/**
 * The protocol's loop: `warmup` steps, then `runs` runs of `steps` steps. Each run is timed
 * by `timer` when given (on CUDA: events on the device's stream, as the protocol says),
 * otherwise by the host's monotonic clock between two device synchronisations.
 */
export function timeSteps(step: (i: number) => void, sync: () => void, o: TimingOptions, clock: () => number = nowMs, timer?: RunTimer): Timing {
  for (const [k, min] of [
    ['warmup', 0],
    ['steps', 1],
    ['runs', 1],
  ] as const)
    if (!Number.isInteger(o[k]) || o[k] < min) throw new RangeError(`timeSteps: ${k} must be an integer >= ${min}, got ${o[k]}`);
  let i = 0;
  const w0 = clock();
  for (let k = 0; k < o.warmup; k++) step(i++);
  sync();
  const warmupMs = clock() - w0;
  const runsMs: number[] = [];
  for (let r = 0; r < o.runs; r++) {
    sync();
    const t0 = clock();
    const t = timer?.();
    for (let k = 0; k < o.steps; k++) step(i++);
    const ms = t ? t.stop() : (sync(), clock() - t0);
    runsMs.push(ms / o.steps);
  }
  return { runsMs, msPerStep: median(runsMs), warmupMs };
}
