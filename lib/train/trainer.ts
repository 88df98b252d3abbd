// Trainer: the training loop behind `cudnn-resnet train`, usable from any Node script.
//
//   const t = new Trainer({ model: 'resnet20', epochs: 2, batchSize: 128, out: 'runs/a' });
//   t.on('step', (s) => ...).on('eval', (e) => ...);
//   const result = await t.fit();
//
// Each step is forward, softmax cross-entropy, backward, SGD; only two scalars (loss and
// correct count) come back to the host, read asynchronously one step behind, so the 'step'
// event of step i arrives while step i + 1 runs. The loop yields to the event loop every
// step, so signals, timers and progress output run while it trains; stop() ends it after
// the step in flight and (with `out`) saves a checkpoint that `resume` continues from exactly.
import { EventEmitter } from 'node:events';
import * as path from 'node:path';

import { noGrad, softmaxCrossEntropy } from '../autograd';
import { loadCheckpoint, saveCheckpoint } from '../checkpoint';
import { readSafetensors } from '../checkpoint/safetensors';
import { CifarLoader, evalLoader } from '../data/loader';
import { Dataset } from '../data/format';
import { create as createModel } from '../models/resnet';
import { freeze } from '../nn/freeze';
import { Module } from '../nn/module';
import { SGD } from '../optim/sgd';
import { LRSchedule } from '../optim/schedules';
import { describe, Tensor, tidy } from '../tensor';
import { readSidecar, RunSpec, Sidecar, WEIGHTS_FILE, writeSidecar } from '../checkpoint/run';
import { syntheticSource, loadSplits } from './data';
import { capturedTrainingStep } from './training-step';
import { activationDType, describePrecision, resolveDevice } from './device';
import { EvalMetrics, MetricsLog, StepMetrics } from './metrics';
import { MixedPrecision } from './amp';
import { parseSchedule } from '../optim/schedules';
import { EpochEvent, resolveSpec, StartInfo, TrainerOptions, TrainResult } from './options';

export { resolveSpec, resumeOptions } from './options';
export type { EpochEvent, StartInfo, TrainerOptions, TrainResult } from './options';

interface Setup {
  model: Module;
  mp: MixedPrecision;
  opt: SGD;
  schedule: LRSchedule;
  loader: CifarLoader;
  test: CifarLoader;
  device: string;
  itersPerEpoch: number;
  total: number;
  /** The next iteration to run: the resumed one at first, then where the last fit() ended. */
  start: number;
  metrics: MetricsLog | null;
  running: { loss: number; wrong: number; images: number };
  info: StartInfo;
}

export class Trainer extends EventEmitter {
  readonly spec: RunSpec;
  private stopRequested = false;
  private setupDone: Setup | null = null;

  constructor(readonly options: TrainerOptions = {}) {
    super();
    this.spec = resolveSpec(options);
    const c = options.capture ?? 'auto';
    if (c !== true && c !== false && c !== 'auto') throw new TypeError(`capture must be true, false or 'auto', got ${describe(c)}`);
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
    const { device, fallbackReason } = resolveDevice(o.device ?? 'auto');

    let source: string;
    let splits: { train: Dataset; test: Dataset };
    if (o.data !== undefined && typeof o.data === 'object') {
      splits = o.data;
      source = o.data.train.source;
    } else {
      source = s.data ?? (await syntheticSource(s.dataset));
      splits = await loadSplits(s.dataset, source, { train: s.trainImages ?? undefined, test: s.testImages ?? undefined });
    }

    let resume: { sidecar: Sidecar; weights: string } | null = null;
    if (o.resume !== undefined) {
      resume = readSidecar(o.resume);
      const saved = resume.sidecar.spec;
      for (const k of ['model', 'dataset', 'batchSize', 'seed', 'precision', 'trainImages'] as const)
        if (saved[k] !== s[k]) throw new RangeError(`resume: the checkpoint was made with ${k} ${describe(saved[k])}, this run asks for ${describe(s[k])}`);
      const meta = readSafetensors(resume.weights).metadata;
      if (meta['train.iteration'] !== String(resume.sidecar.iteration))
        throw new RangeError(`resume: ${resume.weights} holds iteration ${meta['train.iteration']} but its sidecar says ${resume.sidecar.iteration} (interrupted while saving?)`);
    }

    const classes = splits.train.classes;
    if (o.classes !== undefined && o.classes !== classes) throw new RangeError(`classes: ${o.classes} asked for, but the dataset has ${classes}`);
    // A resumed run's weights come from its checkpoint; the starting weights are not read again.
    const weights = resume ? undefined : s.weights;
    const model = typeof o.model === 'object' ? o.model : createModel(s.model, { classes, seed: s.seed, device, weights, onMessage: (m) => this.emit('message', m) });
    if (typeof o.model === 'object') model.to(device);
    if (typeof o.model === 'object' && weights) loadCheckpoint(weights, model);
    if (s.freeze) freeze(model, s.freeze, { bnEval: s.freezeBn ?? false });
    const mp = new MixedPrecision(model, s.precision);
    const groups = s.lrScale ? Object.entries(s.lrScale).map(([m, lrScale]) => ({ params: [m], lrScale })) : undefined;
    const opt = new SGD(mp.masters, { lr: s.lr, momentum: s.momentum, weightDecay: s.weightDecay, nesterov: s.nesterov, groups });
    if (resume) {
      loadCheckpoint(resume.weights, model, { optimizer: opt });
      const sc = resume.sidecar.scaler ?? { goodSteps: 0, skipped: 0 };
      mp.loadScalerState({ scale: resume.sidecar.rng.lossScale, goodSteps: sc.goodSteps, skipped: sc.skipped });
    }

    const dtype = activationDType(s.precision);
    const bs = s.batchSize;
    const loader = new CifarLoader(splits.train, { batchSize: bs, device, seed: s.seed, augment: s.augment, dropLast: splits.train.count >= bs, dtype });
    const test = evalLoader(splits.test, { batchSize: Math.min(Math.max(bs, 100), 500), device, normalization: loader.normalization, dtype });
    const itersPerEpoch = loader.batchesPerEpoch;
    const total = s.iterations ?? (s.epochs as number) * itersPerEpoch;
    const schedule = parseSchedule(o.schedule ?? s.schedule, s.lr, total, itersPerEpoch);
    const start = resume ? resume.sidecar.iteration : 0;
    if (start > total) throw new RangeError(`resume: the checkpoint is at iteration ${start}, past this run's ${total} iterations`);
    const metrics = o.out ? new MetricsLog(o.out, resume ? { resumeAt: start } : {}) : null;
    const info: StartInfo = {
      model: s.model,
      parameters: model.parameterCount(),
      device,
      deviceNote: fallbackReason,
      precision: describePrecision(s.precision, device),
      trainImages: splits.train.count,
      testImages: splits.test.count,
      dataSource: o.data === undefined ? `synthetic ${s.dataset} (${source})` : source,
      itersPerEpoch,
      totalIterations: total,
      startIteration: start,
    };
    this.setupDone = {
      model, mp, opt, schedule, loader, test, device, itersPerEpoch, total, start, metrics,
      running: resume ? { ...resume.sidecar.running } : { loss: 0, wrong: 0, images: 0 }, info,
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
  evaluate(): { loss: number; error: number } {
    const st = this.setupDone;
    if (!st) throw new Error('Trainer: call setup() or fit() first');
    st.model.eval();
    let loss = 0;
    let correct = 0;
    try {
      noGrad(() => {
        for (const b of st.test.epoch(0)) {
          tidy(() => {
            const x = new Tensor(b.x);
            const y = new Tensor(b.y);
            const r = softmaxCrossEntropy(st.model.forward(x), y);
            loss += r.loss.item() * b.size;
            correct += r.correct.item();
          });
        }
      });
    } finally {
      st.model.train();
    }
    const n = st.test.dataset.count;
    return { loss: loss / n, error: 1 - correct / n };
  }

  /** Runs to the end (or until stop()). */
  async fit(): Promise<TrainResult> {
    await this.setup();
    const st = this.setupDone as Setup;
    const { model, mp, opt, loader, itersPerEpoch: bpe, total } = st;
    const evalEvery = this.spec.evalEvery ?? bpe;
    const t0 = Date.now();
    const capture = this.options.capture ?? 'auto';
    const stepper = capturedTrainingStep({ model, mp, opt }, {
      capture: capture === 'auto' ? st.device.startsWith('cuda') : capture,
    });
    this.stopRequested = false;  // a stop() of an earlier fit() does not end this one
    let it = st.start;
    let last: EvalMetrics | null = null;
    let checkpoint: string | null = null;
    let lastStepTime = Date.now();
    let imagesSinceEval = 0;
    let evalClock = Date.now();
    let epochCache: { epoch: number; order: Int32Array; params: Int32Array } | null = null;
    const batchAt = (i: number) => {
      const e = Math.floor(i / bpe);
      if (!epochCache || epochCache.epoch !== e) epochCache = { epoch: e, order: loader.epochOrder(e), params: loader.epochParams(e) };
      return loader.makeBatch(e, i % bpe, epochCache.order, epochCache.params);
    };
    const elapsed = () => (Date.now() - t0) / 1000;
    // A step's loss and correct count are read asynchronously: the copy is queued right after
    // the step, and the loop waits for it only once the next step is queued, so the device
    // does not idle while the host records metrics and prepares the next batch.
    let pending: { values: Promise<[number, number]>; iteration: number; size: number; lr: number } | null = null;
    const settle = async (): Promise<void> => {
      if (!pending) return;
      const p = pending;
      pending = null;
      const [loss, correct] = await p.values;
      st.running.loss += loss * p.size;
      st.running.wrong += p.size - correct;
      st.running.images += p.size;
      imagesSinceEval += p.size;
      const now = Date.now();
      const step: StepMetrics = {
        type: 'step', epoch: Math.floor((p.iteration - 1) / bpe) + 1, iteration: p.iteration, lr: p.lr, loss,
        error: 1 - correct / p.size, imagesPerSec: p.size / Math.max((now - lastStepTime) / 1000, 1e-6), elapsed: elapsed(),
      };
      lastStepTime = now;
      st.metrics?.write(step);
      this.emit('step', step);
    };
    model.train();
    let next = it < total ? batchAt(it) : null;
    try {
      while (it < total && !this.stopRequested) {
        const batch = next as NonNullable<typeof next>;
        next = it + 1 < total ? batchAt(it + 1) : null;  // prefetch: queued before this step's work
        const lr = st.schedule.lrAt(it);
        opt.lr = lr;
        // The outputs belong to `stepper` (static buffers when captured); only two scalars come back.
        let values: Promise<[number, number]> = Promise.resolve([NaN, NaN]);
        tidy(() => {
          const [loss, correct] = stepper.step(new Tensor(batch.x), new Tensor(batch.y));
          values = Promise.all([loss.data(), correct.data()]).then(([l, c]): [number, number] => [l[0], c[0]]);
        });
        values.catch(() => undefined);  // awaited in settle(); this only keeps a failure from being "unhandled" meanwhile
        it++;
        await settle();  // the previous step's values, while this one runs
        pending = { values, iteration: it, size: batch.size, lr };

        const epochEnd = it % bpe === 0;
        const evalNow = it % evalEvery === 0 || it === total;
        if (evalNow || epochEnd) await settle();  // metrics in order: this step's before the evaluation and checkpoint
        if (evalNow) {
          const ev = this.evaluate();
          const r = st.running;
          last = {
            type: 'eval', epoch: Number((it / bpe).toFixed(4)), iteration: it, lr,
            trainLoss: r.images ? r.loss / r.images : NaN, trainError: r.images ? r.wrong / r.images : NaN,
            testLoss: ev.loss, testError: ev.error,
            imagesPerSec: imagesSinceEval / Math.max((Date.now() - evalClock) / 1000, 1e-6), elapsed: elapsed(),
          };
          st.running = { loss: 0, wrong: 0, images: 0 };
          imagesSinceEval = 0;
          st.metrics?.write(last);
          this.emit('eval', last);
          evalClock = Date.now();
        }
        if (epochEnd || it === total) {
          checkpoint = this.options.out ? this.saveCheckpoint(it === total ? 'end' : 'epoch', it) : null;
          if (epochEnd) this.emit('epoch', { epoch: it / bpe, iteration: it, eval: last && last.iteration === it ? last : null, checkpoint } satisfies EpochEvent);
        }
        if (evalNow || epochEnd) lastStepTime = Date.now();  // the next step's rate leaves the evaluation out
      }
      await settle();
      st.start = it;  // a later fit() continues from here
      if (it < total && this.options.out) checkpoint = this.saveCheckpoint('interrupt', it);
    } finally {
      (next as { dispose(): void } | null)?.dispose();
      stepper.dispose();  // before the model: the graph borrows its parameters
    }
    return { iterations: it, epochs: it / bpe, stopped: it < total, final: last, checkpoint, seconds: elapsed() };
  }

  /** Writes checkpoint.safetensors + checkpoint.json into `out`; returns the sidecar's path. */
  saveCheckpoint(reason: Sidecar['reason'], iteration: number): string {
    const st = this.setupDone;
    const out = this.options.out;
    if (!st || !out) throw new Error('Trainer.saveCheckpoint: needs setup() and the `out` option');
    const weights = path.join(out, WEIGHTS_FILE);
    saveCheckpoint(weights, st.model, { optimizer: st.opt, metadata: { 'train.iteration': iteration, 'train.model': this.spec.model } });
    const bpe = st.itersPerEpoch;
    const scaler = st.mp.scalerState();
    const file = writeSidecar(out, {
      format: 'cudnn-resnet-training-checkpoint',
      version: 1,
      weights: WEIGHTS_FILE,
      reason,
      iteration,
      epoch: Number((iteration / bpe).toFixed(4)),
      itersPerEpoch: bpe,
      rng: { dataSeed: this.spec.seed, modelSeed: this.spec.seed, nextEpoch: Math.floor(iteration / bpe), nextBatch: iteration % bpe, lossScale: scaler.scale },
      optimizer: { step: st.opt.stepCount, lr: st.opt.lr },
      scaler: { goodSteps: scaler.goodSteps, skipped: scaler.skipped },
      running: { ...st.running },
      spec: this.spec,
      savedAt: new Date().toISOString(),
    });
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
