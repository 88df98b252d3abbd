// Trainer: the training loop behind `cudnn-resnet train`, usable from any Node script.
//
//   const t = new Trainer({ model: 'resnet20', epochs: 2, batchSize: 128, out: 'runs/a' });
//   t.on('step', (s) => ...).on('eval', (e) => ...);
//   const result = await t.fit();
//
// Each step is forward, softmax cross-entropy, backward, SGD or AdamW; only two scalars (loss and
// correct count) come back to the host, read asynchronously one step behind, so the 'step'
// event of step i arrives while step i + 1 runs. The loop yields to the event loop every
// step, so signals, timers and progress output run while it trains; stop() ends it after
// the step in flight and (with `out`) saves a checkpoint that `resume` continues from exactly.
import { EventEmitter } from 'node:events';

import { loadCheckpoint } from '../checkpoint';
import { BatchLoader, RunFeed } from '../data/dataset';
import { create as createModel } from '../models/resnet';
import { freeze } from '../nn/freeze';
import { Module } from '../nn/module';
import { Optimizer } from '../optim/optimizer';
import { createOptimizer, describeOptimizer } from './optimizer-spec';
import { LRSchedule } from '../optim/schedules';
import { badArg } from '../checks';
import { describe, tidy } from '../tensor';
import { existingRun, InferenceInfo, RunSpec, Sidecar } from '../checkpoint/run';
import { runLoaders } from './loaders';
import { capturedTrainingStep } from './training-step';
import { activationDType, activationLayout, describePrecision, resolveDevice } from './device';
import { EvalMetrics, MetricsLog, StepMetrics } from './metrics';
import { evalRecord, evaluateModel, RunningTotals } from './evaluation';
import { readResume, writeRunCheckpoint } from './run-checkpoint';
import { MixedPrecision } from './amp';
import { describeSchedule, parseSchedule } from '../optim/schedules';
import { EpochEvent, resolveSpec, StartInfo, TrainerOptions, TrainResult } from './options';

export { resolveSpec, resumeOptions } from './options';
export type { EpochEvent, StartInfo, TrainerOptions, TrainResult } from './options';

interface Setup {
  model: Module;
  mp: MixedPrecision;
  opt: Optimizer;
  schedule: LRSchedule;
  loader: BatchLoader;
  test: BatchLoader;
  device: string;
  itersPerEpoch: number;
  total: number;
  /** The next iteration to run: the resumed one at first, then where the last fit() ended. */
  start: number;
  metrics: MetricsLog | null;
  running: RunningTotals;
  info: StartInfo;
  inference: InferenceInfo;
}

export class Trainer extends EventEmitter {
  readonly spec: RunSpec;
  private stopRequested = false;
  private setupDone: Setup | null = null;
  /** Unreadable image files skipped (image folders with onImageError 'skip'). */
  skippedImages = 0;

  constructor(readonly options: TrainerOptions = {}) {
    super();
    this.spec = resolveSpec(options);
    const c = options.capture ?? 'auto';
    if (c !== true && c !== false && c !== 'auto') throw badArg('type', 'Trainer: capture', `must be true, false or 'auto', got ${describe(c)}`);
    if (options.onStep) this.on('step', options.onStep);
    if (options.onEval) this.on('eval', options.onEval);
    if (options.onEpoch) this.on('epoch', options.onEpoch);
  }

  /**
   * Ends the run after the step in flight (and saves a checkpoint when `out` is set). Called
   * from the 'step' event of step i, the run ends after step i + 1, which is already queued.
   */
  stop(): void {
    this.stopRequested = true;
  }

  get stopping(): boolean {
    return this.stopRequested;
  }

  /** Loads data, builds (or restores) model and optimizer; fit() calls it. Emits 'start'. */
  async setup(): Promise<StartInfo> {
    if (this.setupDone) return this.setupDone.info;
    const o = this.options;
    const s = this.spec;
    const { device, fallbackReason } = resolveDevice(o.device ?? 'auto', 'Trainer', 'device');

    if (o.out !== undefined && o.resume === undefined && !o.overwrite) {
      const found = existingRun(o.out);
      if (found) throw badArg('range', 'Trainer: out', `${o.out} already holds a run (${found}); pass resume to continue it or overwrite: true to replace it`);
    }
    const resume = o.resume !== undefined ? readResume(o.resume, s) : null;

    const dtype = activationDType(s.precision);
    const layout = activationLayout(s.precision, device);
    const data = await runLoaders(o.data ?? s.data ?? undefined, s, {
      device,
      dtype,
      layout,
      normalization: o.normalization,
      workers: o.workers,
      prefetch: o.prefetch,
      onError: o.onImageError,
      onSkip: (e) => {
        this.skippedImages++;
        this.emit('skip', { file: e.file, reason: e.message, code: e.code, skipped: this.skippedImages });
      },
    });
    const classes = data.classes;
    if (o.classes !== undefined && o.classes !== classes) throw badArg('range', 'Trainer: classes', `is ${o.classes}, but the dataset has ${classes}`);
    // A resumed run's weights come from its checkpoint; the starting weights are not read again.
    const weights = resume ? undefined : s.weights;
    const model =
      typeof o.model === 'object' ? o.model : createModel(s.model, { classes, seed: s.seed, device, weights, onMessage: (m) => this.emit('message', m) });
    if (typeof o.model === 'object') model.to(device);
    if (typeof o.model === 'object' && weights) loadCheckpoint(weights, model);
    if (s.freeze) freeze(model, s.freeze, { bnEval: s.freezeBn ?? false });
    const mp = new MixedPrecision(model, s.precision);
    const opt = createOptimizer(mp.masters, s);
    if (resume) {
      loadCheckpoint(resume.weights, model, { optimizer: opt });
      const sc = resume.sidecar.scaler ?? { goodSteps: 0, skipped: 0 };
      mp.loadScalerState({ scale: resume.sidecar.rng.lossScale, goodSteps: sc.goodSteps, skipped: sc.skipped });
    }

    const { train: loader, test } = data;
    const itersPerEpoch = loader.batchesPerEpoch;
    const total = s.iterations ?? (s.epochs as number) * itersPerEpoch;
    const scheduleTotal = s.scheduleIterations ?? total;
    const schedule = parseSchedule(o.schedule ?? s.schedule, s.lr, scheduleTotal, itersPerEpoch, 'Trainer', 'schedule');
    const start = resume ? resume.sidecar.iteration : 0;
    if (start > total) throw new RangeError(`resume: the checkpoint is at iteration ${start}, past this run's ${total} iterations`);
    const metrics = o.out ? new MetricsLog(o.out, resume ? { resumeAt: start } : {}) : null;
    const info: StartInfo = {
      model: s.model,
      parameters: model.parameterCount(),
      device,
      deviceNote: fallbackReason,
      precision: describePrecision(s.precision, device),
      layout,
      trainImages: data.trainImages,
      testImages: data.testImages,
      dataSource: data.source,
      itersPerEpoch,
      totalIterations: total,
      startIteration: start,
      lr: schedule.lrAt(start),
      optimizer: describeOptimizer(s),
      schedule:
        describeSchedule(o.schedule ?? s.schedule, s.lr, scheduleTotal, itersPerEpoch) +
        (scheduleTotal !== total ? ` (drop points of the original ${scheduleTotal}-iteration run)` : ''),
    };
    // predict() then names classes and normalises images as this run's data was.
    model.meta = {
      ...model.meta,
      ...(data.classNames?.length === classes ? { classNames: [...data.classNames] } : {}),
      normalization: { mean: [...loader.normalization.mean], std: [...loader.normalization.std] },
      imageSize: s.images?.imageSize ?? 32,
    };
    this.setupDone = {
      model,
      mp,
      opt,
      schedule,
      loader,
      test,
      device,
      itersPerEpoch,
      total,
      start,
      metrics,
      running: resume ? { ...resume.sidecar.running } : { loss: 0, wrong: 0, images: 0 },
      info,
      inference: {
        classNames: model.meta.classNames ? [...model.meta.classNames] : null,
        normalization: model.meta.normalization as InferenceInfo['normalization'],
        imageSize: model.meta.imageSize as number,
      },
    };
    this.emit('start', info);
    return info;
  }

  /** The model (after setup()). */
  get model(): Module {
    if (!this.setupDone) throw new Error('Trainer: call setup() or fit() first');
    return this.setupDone.model;
  }

  /** Test loss and error of the current model. */
  async evaluate(): Promise<{ loss: number; error: number }> {
    const st = this.setupDone;
    if (!st) throw new Error('Trainer: call setup() or fit() first');
    return evaluateModel(st.model, st.test);
  }

  /** Runs to the end (or until stop()). */
  async fit(): Promise<TrainResult> {
    await this.setup();
    const st = this.setupDone as Setup;
    const { model, mp, opt, loader, itersPerEpoch: bpe, total } = st;
    const evalEvery = this.spec.evalEvery ?? bpe;
    const t0 = Date.now();
    const capture = this.options.capture ?? 'auto';
    const stepper = capturedTrainingStep(
      { model, mp, opt, labelSmoothing: this.spec.labelSmoothing ?? 0 },
      {
        capture: capture === 'auto' ? st.device.startsWith('cuda') : capture,
      },
    );
    this.stopRequested = false; // a stop() of an earlier fit() does not end this one
    let it = st.start;
    let last: EvalMetrics | null = null;
    let checkpoint: string | null = null;
    let imagesSinceEval = 0;
    let evalClock = Date.now();
    // Batches of iterations it, it + 1, ... are requested `prefetch` ahead of the step that uses them.
    const feed = new RunFeed(loader, it, total);
    const elapsed = () => (Date.now() - t0) / 1000;
    // A step's loss and correct count are read asynchronously: the copy is queued right after
    // the step, and the loop waits for it only once the next step is queued, so the device
    // does not idle while the host records metrics and prepares the next batch.
    // A step's time runs from its end back to the later of its own start and the previous
    // step's end: steps that overlap on the device are not counted twice, an evaluation or
    // checkpoint between two steps is left out, and two settles back to back (a step that
    // lands on an evaluation) do not time the second step over ~0 ms. The end is when the
    // step call returned on the CPU (its ops run synchronously there; the values' promise may
    // only be observed a step later), and when its values arrived on a GPU.
    const synchronous = st.device === 'cpu';
    let pending: {
      values: Promise<[number, number]>;
      done: Promise<number>;
      startedAt: number;
      issuedAt: number;
      iteration: number;
      size: number;
      lr: number;
    } | null = null;
    let lastEnd = 0;
    const settle = async (): Promise<void> => {
      if (!pending) return;
      const p = pending;
      pending = null;
      const [loss, correct] = await p.values;
      const endAt = synchronous ? p.issuedAt : Math.max(p.issuedAt, await p.done);
      const seconds = Math.max((endAt - Math.max(p.startedAt, lastEnd)) / 1000, 1e-3);
      lastEnd = endAt;
      st.running.loss += loss * p.size;
      st.running.wrong += p.size - correct;
      st.running.images += p.size;
      imagesSinceEval += p.size;
      const step: StepMetrics = {
        type: 'step',
        epoch: Math.floor((p.iteration - 1) / bpe) + 1,
        iteration: p.iteration,
        lr: p.lr,
        loss,
        error: 1 - correct / p.size,
        imagesPerSec: p.size / seconds,
        elapsed: elapsed(),
      };
      st.metrics?.write(step);
      this.emit('step', step);
    };
    model.train();
    try {
      while (it < total && !this.stopRequested) {
        const startedAt = Date.now();
        const batch = (await feed.take()) as NonNullable<Awaited<ReturnType<RunFeed['take']>>>;
        const lr = st.schedule.lrAt(it);
        opt.lr = lr;
        // The outputs belong to `stepper` (static buffers when captured); only two scalars come back.
        let values: Promise<[number, number]> = Promise.resolve([NaN, NaN]);
        try {
          tidy(() => {
            const [loss, correct] = stepper.step(batch.x, batch.y);
            values = Promise.all([loss.data(), correct.data()]).then(([l, c]): [number, number] => [l[0], c[0]]);
          });
        } finally {
          batch.dispose(); // its memory is reused in stream order on a GPU, so the queued step still reads it
        }
        const issuedAt = Date.now();
        const done = values.then(
          () => Date.now(),
          () => Date.now(),
        );
        values.catch(() => undefined); // awaited in settle(); this only keeps a failure from being "unhandled" meanwhile
        it++;
        await settle(); // the previous step's values, while this one runs
        pending = { values, done, startedAt, issuedAt, iteration: it, size: batch.size, lr };

        const epochEnd = it % bpe === 0;
        const evalNow = it % evalEvery === 0 || it === total;
        if (evalNow || epochEnd) await settle(); // metrics in order: this step's before the evaluation and checkpoint
        if (evalNow) {
          const ev = await this.evaluate();
          const imagesPerSec = imagesSinceEval / Math.max((Date.now() - evalClock) / 1000, 1e-6);
          last = evalRecord(model, { iteration: it, itersPerEpoch: bpe, lr, elapsed: elapsed(), imagesPerSec }, st.running, ev);
          st.running = { loss: 0, wrong: 0, images: 0 };
          imagesSinceEval = 0;
          st.metrics?.write(last);
          this.emit('eval', last);
          evalClock = Date.now();
        }
        if (epochEnd || it === total) {
          checkpoint = this.options.out ? this.saveCheckpoint(it === total ? 'end' : 'epoch', it) : null;
          if (epochEnd)
            this.emit('epoch', { epoch: it / bpe, iteration: it, eval: last && last.iteration === it ? last : null, checkpoint } satisfies EpochEvent);
        }
      }
      await settle();
      st.start = it; // a later fit() continues from here
      if (it < total && this.options.out) checkpoint = this.saveCheckpoint('interrupt', it);
    } finally {
      feed.dispose();
      stepper.dispose(); // before the model: the graph borrows its parameters
    }
    const skipped = this.skippedImages;
    return {
      iterations: it,
      epochs: it / bpe,
      stopped: it < total,
      final: last,
      checkpoint,
      seconds: elapsed(),
      ...(skipped ? { skippedImages: skipped } : {}),
    };
  }

  /** Writes checkpoint.safetensors + checkpoint.json into `out`; returns the sidecar's path. */
  saveCheckpoint(reason: Sidecar['reason'], iteration: number): string {
    const st = this.setupDone;
    const out = this.options.out;
    if (!st || !out) throw new Error('Trainer.saveCheckpoint: needs setup() and the `out` option');
    const file = writeRunCheckpoint(out, st, this.spec, reason, iteration);
    this.emit('checkpoint', { file, reason, iteration });
    return file;
  }

  /** Frees the model, optimizer state and resident datasets. */
  dispose(): void {
    const st = this.setupDone;
    if (!st) return;
    st.loader.dispose();
    st.test.dispose();
    st.opt.dispose();
    st.mp.dispose();
    if (typeof this.options.model !== 'object') st.model.dispose();
    this.setupDone = null;
  }
}
