// The Trainer as a library: events, evaluation, metrics files, checkpoints and stop(),
// mixed precision with fp32 master weights, schedules by name and option checks. Models
// and data are tiny (resnet8, 64 images) so each test runs in seconds on two cores.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { readSafetensors } from '../../../lib/checkpoint/safetensors';
import { syntheticDataset } from '../../../lib/data/synthetic';
import { readSidecar } from '../../../lib/checkpoint/run';
import { EvalMetrics, readMetrics, StepMetrics } from '../../../lib/train/metrics';
import { formatDuration, Progress } from '../../../lib/train/progress';
import { parseSchedule } from '../../../lib/optim/schedules';
import { resolveSpec, resumeOptions, Trainer, TrainerOptions } from '../../../lib/train/trainer';
import { memory } from '../../../lib/tensor';
import { assertArgError } from '../../helpers/reference';

const data = { train: syntheticDataset({ count: 64, seed: 5 }), test: syntheticDataset({ split: 'test', count: 32, seed: 5 }) };
const base: TrainerOptions = { model: 'resnet8', data, batchSize: 16, device: 'cpu', seed: 1 };

describe('train: Trainer', function () {
  this.timeout(60000);
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trainer-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('runs epochs, emits step / eval / epoch events and writes metrics and a checkpoint', async () => {
    const steps: StepMetrics[] = [];
    const evals: EvalMetrics[] = [];
    const epochs: number[] = [];
    const live = memory().liveTensors;
    const t = new Trainer({ ...base, epochs: 2, out: dir, onEpoch: (e) => epochs.push(e.epoch) });
    t.on('step', (s: StepMetrics) => steps.push(s)).on('eval', (e: EvalMetrics) => evals.push(e));
    try {
      const r = await t.fit();
      assert.equal(r.stopped, false);
      assert.equal(r.iterations, 8); // 64 images / 16 per batch x 2 epochs
      assert.deepEqual(
        steps.map((s) => s.iteration),
        [1, 2, 3, 4, 5, 6, 7, 8],
      );
      assert.deepEqual(
        steps.map((s) => s.epoch),
        [1, 1, 1, 1, 2, 2, 2, 2],
      );
      assert.deepEqual(epochs, [1, 2]);
      assert.deepEqual(
        evals.map((e) => e.iteration),
        [4, 8],
      );
      for (const s of steps) assert.ok(Number.isFinite(s.loss) && s.loss > 0 && s.error >= 0 && s.error <= 1);
      for (const e of evals) {
        assert.ok(e.testError >= 0 && e.testError <= 1 && Number.isFinite(e.testLoss));
        // The test error is a whole number of the 32 test images.
        assert.ok(Math.abs(e.testError * 32 - Math.round(e.testError * 32)) < 1e-9);
      }
      // 'paper' schedule: /10 at 50% and 75% of the 8 iterations.
      assert.deepEqual(
        steps.map((s) => Number(s.lr.toPrecision(6))),
        [0.1, 0.1, 0.1, 0.1, 0.01, 0.01, 0.001, 0.001],
      );
      assert.deepEqual(
        readMetrics(path.join(dir, 'metrics.jsonl')).map((m) => m.type),
        ['step', 'step', 'step', 'step', 'eval', 'step', 'step', 'step', 'step', 'eval'],
      );
      const csv = fs.readFileSync(path.join(dir, 'metrics.csv'), 'utf8').trim().split('\n');
      assert.equal(csv.length, 3);
      assert.match(csv[0], /^epoch,iteration,lr,trainLoss,trainError,testLoss,testError/);
      const { sidecar, weights } = readSidecar(dir);
      assert.equal(sidecar.reason, 'end');
      assert.equal(sidecar.iteration, 8);
      assert.equal(sidecar.optimizer.step, 8);
      assert.deepEqual(sidecar.rng, { dataSeed: 1, modelSeed: 1, nextEpoch: 2, nextBatch: 0, lossScale: 1 });
      const f = readSafetensors(weights);
      assert.equal(f.metadata['train.iteration'], '8');
      assert.ok(f.tensors.has('conv1.weight') && f.tensors.has('optimizer.momentum_buffer.conv1.weight'));
      assert.equal(r.checkpoint, path.join(dir, 'checkpoint.json'));
    } finally {
      t.dispose();
    }
    assert.equal(memory().liveTensors, live, 'dispose() frees the model, optimizer state and datasets; no step leaks');
  });

  it('stop() ends the run after the step in flight and saves an interrupt checkpoint', async () => {
    const t = new Trainer({ ...base, epochs: 3, out: dir });
    const seen: number[] = [];
    t.on('step', (s: StepMetrics) => {
      seen.push(s.iteration);
      if (s.iteration === 2) t.stop(); // step 3 is already queued (metrics are read one step behind)
    });
    try {
      const r = await t.fit();
      assert.equal(r.stopped, true);
      assert.equal(r.iterations, 3);
      assert.deepEqual(seen, [1, 2, 3]); // the step in flight still reports
      const { sidecar } = readSidecar(dir);
      assert.equal(sidecar.reason, 'interrupt');
      assert.deepEqual([sidecar.iteration, sidecar.rng.nextEpoch, sidecar.rng.nextBatch], [3, 0, 3]);
      assert.ok(sidecar.running.images === 48, 'the running training sums are saved');
    } finally {
      t.dispose();
    }
  });

  for (const precision of ['bf16', 'fp16'] as const) {
    it(`${precision} trains with fp32 master weights and checkpoints fp32 weights`, async () => {
      const t = new Trainer({ ...base, iterations: 2, precision, out: dir });
      const losses: number[] = [];
      t.on('step', (s: StepMetrics) => losses.push(s.loss));
      try {
        const info = await t.setup();
        assert.match(info.precision, new RegExp(`^${precision} on cpu: .*fp32 master weights`));
        await t.fit();
        assert.ok(
          losses.every((l) => Number.isFinite(l) && l > 0),
          `losses ${losses}`,
        );
        // The model keeps fp32 (master) weights; the layers cast them to the batches' dtype.
        assert.equal(t.model.namedParameters().find(([n]) => n === 'conv1.weight')?.[1].dtype, 'float32');
        const f = readSafetensors(path.join(dir, 'checkpoint.safetensors'));
        assert.equal(f.tensors.get('conv1.weight')?.dtype, 'F32');
        assert.equal(f.tensors.get('bn1.weight')?.dtype, 'F32');
        const { sidecar } = readSidecar(dir);
        assert.equal(sidecar.optimizer.step, 2);
        // fp16 scales the loss (2^16 to start); bf16 has fp32's range and needs no scaling.
        assert.equal(sidecar.rng.lossScale, precision === 'fp16' ? 2 ** 16 : 1);
        // the scaler's counters travel too, so a resume grows the scale when the run would have
        assert.deepEqual(sidecar.scaler, precision === 'fp16' ? { goodSteps: 2, skipped: 0 } : { goodSteps: 0, skipped: 0 });
      } finally {
        t.dispose();
      }
    });
  }

  it('a fit() after stop() continues from where the first ended, to the end', async () => {
    const t = new Trainer({ ...base, iterations: 6, out: dir });
    const seen: number[] = [];
    t.on('step', (s: StepMetrics) => {
      seen.push(s.iteration);
      if (s.iteration === 1) t.stop();
    });
    try {
      const a = await t.fit();
      assert.equal(a.stopped, true);
      assert.equal(a.iterations, 2);
      const b = await t.fit();
      assert.equal(b.stopped, false);
      assert.equal(b.iterations, 6);
      assert.deepEqual(seen, [1, 2, 3, 4, 5, 6]);
      const { sidecar } = readSidecar(dir);
      assert.equal(sidecar.reason, 'end');
      assert.equal(sidecar.iteration, 6);
      assert.equal(sidecar.optimizer.step, 6);
    } finally {
      t.dispose();
    }
  });

  it("step throughput is each step's own time, also for steps that end on an evaluation, an epoch or a stop", async () => {
    // Evaluations at 3, 6 and 9, epoch ends at 4 and 8; stopped in step 10's event, so step 11
    // (already queued) is the last, settled right after step 10.
    const t = new Trainer({ ...base, epochs: 3, evalEvery: 3, out: dir });
    const steps: StepMetrics[] = [];
    t.on('step', (s: StepMetrics) => {
      steps.push(s);
      if (s.iteration === 10) t.stop();
    });
    try {
      const r = await t.fit();
      assert.equal(r.iterations, 11);
      // Every step does the same work (a resnet8 step on 16 images: tens of ms on a CPU), so no
      // step takes a tiny fraction of the typical one; two settles back to back once timed a
      // step over ~0 ms (millions of images/s). The bounds leave room for a loaded machine.
      const seconds = steps.map((s) => 16 / s.imagesPerSec).sort((a, b) => a - b);
      const median = seconds[Math.floor(seconds.length / 2)];
      for (const s of steps) {
        const t = 16 / s.imagesPerSec;
        assert.ok(t > 0.005 && t > median / 100, `step ${s.iteration}: ${s.imagesPerSec.toFixed(0)} img/s, median step ${median * 1000} ms`);
      }
      const total = seconds.reduce((a, b) => a + b, 0);
      assert.ok(total <= r.seconds + 0.05, `step times add up to ${total} s in a ${r.seconds} s run`);
    } finally {
      t.dispose();
    }
  });

  it('refuses an output folder that holds a run unless resuming or told to overwrite', async () => {
    const first = new Trainer({ ...base, iterations: 2, out: dir });
    try {
      await first.fit();
    } finally {
      first.dispose();
    }
    const before = fs.readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8');
    const again = new Trainer({ ...base, iterations: 3, out: dir });
    try {
      await assert.rejects(
        again.fit(),
        (e: Error) =>
          e instanceof RangeError &&
          (e as Error & { argument?: string }).argument === 'out' &&
          e.message.includes(`Trainer: argument 'out' ${dir} already holds a run (finished at iteration 2`) &&
          /resume/.test(e.message) &&
          /overwrite: true/.test(e.message),
      );
    } finally {
      again.dispose();
    }
    assert.equal(fs.readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8'), before, 'the refused run touched nothing');
    const replace = new Trainer({ ...base, iterations: 3, out: dir, overwrite: true });
    try {
      assert.equal((await replace.fit()).iterations, 3);
    } finally {
      replace.dispose();
    }
    assert.equal(readSidecar(dir).sidecar.iteration, 3);
  });

  it("resumeOptions() continues in the run folder; more epochs keep the schedule's drop points", async () => {
    const first = new Trainer({ ...base, epochs: 2, out: dir }); // 8 iterations, 'paper': /10 at 4 and 6
    try {
      await first.fit();
    } finally {
      first.dispose();
    }
    const o = resumeOptions(dir);
    assert.equal(o.out, dir);
    assert.equal(o.scheduleIterations, 8);
    const longer = new Trainer({ ...o, data, epochs: 4 });
    const lrs: number[] = [];
    longer.on('step', (s: StepMetrics) => lrs.push(Number(s.lr.toPrecision(6))));
    try {
      const info = await longer.setup();
      assert.equal(info.startIteration, 8);
      assert.equal(Number(info.lr.toPrecision(6)), 0.001);
      assert.match(info.schedule, /^paper: 0\.1, \/10 at iterations 4 and 6 \(drop points of the original 8-iteration run\)$/);
      await longer.fit();
    } finally {
      longer.dispose();
    }
    assert.deepEqual(lrs, Array(8).fill(0.001), 'the finished run goes on at its last lr');
    const records = readMetrics(path.join(dir, 'metrics.jsonl'));
    assert.deepEqual(
      records.filter((r) => r.type === 'step').map((r) => r.iteration),
      Array.from({ length: 16 }, (_, i) => i + 1),
    );
    // A schedule asked for afresh spans the new length.
    const fresh = new Trainer({ ...resumeOptions(dir), data, epochs: 6, schedule: 'paper', scheduleIterations: undefined });
    try {
      const info = await fresh.setup();
      assert.equal(info.schedule, 'paper: 0.1, /10 at iterations 12 and 18');
      assert.equal(Number(info.lr.toPrecision(6)), 0.01);
    } finally {
      fresh.dispose();
    }
  });

  it('an evaluation says when batch-norm running statistics are not settled enough to mean much', async () => {
    const t = new Trainer({ ...base, iterations: 4, evalEvery: 2 });
    const evals: EvalMetrics[] = [];
    t.on('eval', (e: EvalMetrics) => evals.push(e));
    try {
      await t.fit();
    } finally {
      t.dispose();
    }
    // BN momentum 0.1: after n training steps, 0.9^n of the running statistics is their start.
    assert.deepEqual(
      evals.map((e) => e.bnInitialShare),
      [0.81, 0.6561],
    );
    let text = '';
    const p = new Progress({ write: (s) => (text += s), tty: false, totalIterations: 4, itersPerEpoch: 4 });
    p.eval(evals[0]);
    assert.match(text, /\n {2}\(test figures not meaningful yet: the batch-norm running statistics are still 81% their initial values\)\n$/);
    text = '';
    p.eval({ ...evals[0], bnInitialShare: 0.9 ** 60 });
    assert.doesNotMatch(text, /not meaningful/);
  });

  it('options are checked and named in errors', () => {
    assertArgError(() => resolveSpec({ batchSize: 0 }), RangeError, { code: 'ERR_OUT_OF_RANGE', op: 'Trainer', argument: 'batchSize' }, 'must be >= 1');
    assertArgError(
      () => resolveSpec({ lr: Number.NaN }),
      TypeError,
      { code: 'ERR_INVALID_ARG_TYPE', op: 'Trainer', argument: 'lr' },
      'must be a finite number',
    );
    assertArgError(() => resolveSpec({ precision: 'fp8' as never }), RangeError, { op: 'Trainer', argument: 'precision' }, 'must be one of fp32, bf16, fp16');
    assertArgError(() => resolveSpec({ dataset: 'mnist' as never }), RangeError, { op: 'Trainer', argument: 'dataset' }, "must be 'cifar10' or 'cifar100'");
    assertArgError(() => resolveSpec({ nesterov: true, momentum: 0 }), RangeError, { op: 'Trainer', argument: 'nesterov' }, 'needs momentum');
    assertArgError(() => resolveSpec({ nesterov: 1 as never }), TypeError, { op: 'Trainer', argument: 'nesterov' });
    assertArgError(() => resolveSpec({ freezeBn: true }), RangeError, { op: 'Trainer', argument: 'freezeBn' }, 'needs freeze');
    assertArgError(() => resolveSpec({ weights: '' }), TypeError, { op: 'Trainer', argument: 'weights' });
    assertArgError(() => resolveSpec({ lrScale: {} }), TypeError, { op: 'Trainer', argument: 'lrScale' });
    assertArgError(() => resolveSpec({ imageSize: 64 }), RangeError, { op: 'Trainer', argument: 'imageSize' }, 'applies to image folders');
    assertArgError(() => new Trainer({ capture: 'yes' as never }), TypeError, { op: 'Trainer', argument: 'capture' });
    assertArgError(() => parseSchedule('warp', 0.1, 100, 10, 'Trainer', 'schedule'), RangeError, { op: 'Trainer', argument: 'schedule' }, 'unknown schedule');
    assert.equal(resolveSpec({}).epochs, 1);
    assert.equal(resolveSpec({ iterations: 5 }).epochs, null);
  });

  it('schedules by name', () => {
    const lrs = (s: string) => Array.from({ length: 8 }, (_, i) => Number(parseSchedule(s, 0.1, 8, 4).lrAt(i).toPrecision(6)));
    assert.deepEqual(lrs('paper'), [0.1, 0.1, 0.1, 0.1, 0.01, 0.01, 0.001, 0.001]);
    assert.deepEqual(parseSchedule('paper', 0.1, 64000, 391).lrAt(31999), 0.1);
    assert.ok(Math.abs(parseSchedule('paper', 0.1, 64000, 391).lrAt(32000) - 0.01) < 1e-12);
    assert.ok(Math.abs(parseSchedule('paper', 0.1, 64000, 391).lrAt(48000) - 0.001) < 1e-12);
    assert.deepEqual(lrs('multistep:2,6'), [0.1, 0.1, 0.01, 0.01, 0.01, 0.01, 0.001, 0.001]);
    assert.deepEqual(lrs('epochs:1'), [0.1, 0.1, 0.1, 0.1, 0.01, 0.01, 0.01, 0.01]);
    assert.deepEqual(lrs('constant'), Array(8).fill(0.1));
    assert.equal(lrs('cosine')[0], 0.1);
    assert.throws(() => parseSchedule('warp', 0.1, 8, 4), /unknown schedule 'warp'/);
    assert.throws(() => parseSchedule('multistep:a', 0.1, 8, 4), /not a list/);
  });

  it('progress: plain lines when not a TTY, a redrawn bar on a TTY', () => {
    let text = '';
    const step: StepMetrics = { type: 'step', epoch: 1, iteration: 1, lr: 0.1, loss: 2.5, error: 0.9, imagesPerSec: 100, elapsed: 1 };
    const plain = new Progress({ write: (t) => (text += t), tty: false, totalIterations: 10, itersPerEpoch: 5 });
    plain.step(step);
    plain.step({ ...step, iteration: 2 }); // within the interval: no line
    assert.match(text, /^epoch 1\/2 iter 1\/5 \| 100 img\/s \| loss 2\.5000 \| lr 0\.100 \| ETA .*\n$/);
    assert.ok(!text.includes('\r'));
    text = '';
    const bar = new Progress({ write: (t) => (text += t), tty: true, totalIterations: 10, itersPerEpoch: 5 });
    bar.step({ ...step, iteration: 5 });
    // eslint-disable-next-line no-control-regex -- the terminal's escape sequence is what is tested
    assert.match(text, /^\r\x1b\[2K\[#{12}\.{12}\] {2}50% epoch 1\/2/);
    assert.equal(formatDuration(3725), '1:02:05');
    assert.equal(formatDuration(65), '1:05');
  });
});
