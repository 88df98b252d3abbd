// The Trainer with AdamW and label smoothing: a run stopped part-way and resumed from its
// checkpoint ends with exactly the weights and optimizer state of the run trained straight
// through; the checkpoint and the start line say which optimizer and smoothing; fp16 runs
// (AdamW behind the loss scaler's skip flag); bad options name themselves.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { readSafetensors } from '../../../lib/checkpoint/safetensors';
import { readSidecar } from '../../../lib/checkpoint/run';
import { syntheticDataset } from '../../../lib/data/synthetic';
import { StepMetrics } from '../../../lib/train/metrics';
import { resolveSpec, resumeOptions, Trainer, TrainerOptions } from '../../../lib/train/trainer';

const data = { train: syntheticDataset({ count: 64, seed: 7 }), test: syntheticDataset({ split: 'test', count: 32, seed: 7 }) };
const base: TrainerOptions = {
  model: 'resnet8',
  data,
  batchSize: 16,
  device: 'cpu',
  seed: 2,
  iterations: 6,
  optimizer: 'adamw',
  lr: 3e-3,
  betas: [0.85, 0.99],
  eps: 1e-7,
  weightDecay: 0.05,
  excludeBnAndBiasFromDecay: true,
  labelSmoothing: 0.1,
  lrScale: { fc: 2 },
};

describe('train: Trainer with AdamW and label smoothing', function () {
  this.timeout(120000);
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trainer-adamw-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('resumes exactly: stopped at 3 and resumed ends where 6 straight iterations end', async () => {
    const straight = path.join(dir, 'straight');
    const t1 = new Trainer({ ...base, out: straight });
    try {
      const info = await t1.setup();
      assert.equal(info.optimizer, 'adamw (betas 0.85, 0.99, eps 1e-7, weight decay 0.05 (none on BN and bias)), lr scale fc x2, label smoothing 0.1');
      await t1.fit();
    } finally {
      t1.dispose();
    }
    const split = path.join(dir, 'split');
    const t2 = new Trainer({ ...base, out: split });
    t2.on('step', (s: StepMetrics) => {
      if (s.iteration === 2) t2.stop(); // the step in flight (3) still runs
    });
    try {
      assert.equal((await t2.fit()).iterations, 3);
    } finally {
      t2.dispose();
    }
    const resumed = resumeOptions(split);
    assert.deepEqual(
      [resumed.optimizer, resumed.betas, resumed.eps, resumed.labelSmoothing, resumed.excludeBnAndBiasFromDecay],
      ['adamw', [0.85, 0.99], 1e-7, 0.1, true],
    );
    const t3 = new Trainer({ ...resumed, data });
    try {
      assert.equal((await t3.fit()).iterations, 6);
    } finally {
      t3.dispose();
    }
    const [a, b] = [straight, split].map((d) => readSafetensors(path.join(d, 'checkpoint.safetensors')));
    assert.equal(a.metadata['optimizer.type'], 'AdamW');
    assert.ok(a.tensors.has('optimizer.exp_avg.conv1.weight') && a.tensors.has('optimizer.step.fc.bias'));
    assert.deepEqual([...b.tensors.keys()].sort(), [...a.tensors.keys()].sort());
    for (const [k, t] of a.tensors) assert.ok(Buffer.from(t.data).equals(Buffer.from(b.tensors.get(k)!.data)), `${k} differs after resuming`);
    const step = a.tensors.get('optimizer.step.conv1.weight')!;
    assert.equal(new Float32Array(step.data.buffer.slice(step.data.byteOffset, step.data.byteOffset + 4))[0], 6);
    const { sidecar } = readSidecar(split);
    assert.deepEqual([sidecar.spec.optimizer, sidecar.spec.labelSmoothing, sidecar.optimizer.step], ['adamw', 0.1, 6]);
  });

  it('a checkpoint of one optimizer does not resume as the other', async () => {
    const t = new Trainer({ ...base, iterations: 1, out: dir });
    try {
      await t.fit();
    } finally {
      t.dispose();
    }
    const sgd = new Trainer({ ...resumeOptions(dir), data, optimizer: 'sgd', betas: undefined, eps: undefined });
    try {
      await assert.rejects(sgd.setup(), /resume: the checkpoint was made with optimizer adamw, this run asks for sgd/);
    } finally {
      sgd.dispose();
    }
  });

  it('fp16: AdamW follows the loss scaler (skipped steps leave its step counts)', async () => {
    const t = new Trainer({ ...base, iterations: 2, precision: 'fp16', out: dir });
    const losses: number[] = [];
    t.on('step', (s: StepMetrics) => losses.push(s.loss));
    try {
      await t.fit();
    } finally {
      t.dispose();
    }
    assert.ok(
      losses.every((l) => Number.isFinite(l) && l > 0),
      `losses ${losses}`,
    );
    const { sidecar } = readSidecar(dir);
    const f = readSafetensors(path.join(dir, 'checkpoint.safetensors'));
    const step = f.tensors.get('optimizer.step.conv1.weight')!;
    const taken = new Float32Array(Uint8Array.from(step.data).buffer)[0];
    assert.equal(taken, 2 - (sidecar.scaler?.skipped ?? 0), 'AdamW counts only the updates the scaler let through');
  });

  it('defaults and checks of the optimizer options', () => {
    const s = resolveSpec({ optimizer: 'adamw' });
    assert.deepEqual([s.lr, s.weightDecay, s.betas, s.eps, s.labelSmoothing], [1e-3, 1e-2, [0.9, 0.999], 1e-8, 0]);
    const sgd = resolveSpec({});
    assert.deepEqual([sgd.optimizer, sgd.lr, sgd.weightDecay, sgd.betas, sgd.labelSmoothing], ['sgd', 0.1, 1e-4, undefined, 0]);
    assert.throws(() => resolveSpec({ optimizer: 'adam' as never }), /argument 'optimizer' must be 'sgd' or 'adamw', got 'adam'/);
    assert.throws(() => resolveSpec({ betas: [0.9, 0.99] }), /argument 'betas' needs optimizer 'adamw'/);
    assert.throws(() => resolveSpec({ optimizer: 'adamw', betas: [0.9, 1] }), /argument 'betas\[1\]' must be < 1/);
    assert.throws(() => resolveSpec({ labelSmoothing: 1.5 }), /argument 'labelSmoothing' must be <= 1/);
    assert.throws(
      () => resolveSpec({ labelSmoothing: -0.1 }),
      (e: Error & { argument?: string }) => e instanceof RangeError && e.argument === 'labelSmoothing',
    );
    assert.throws(() => resolveSpec({ excludeBnAndBiasFromDecay: 'yes' as never }), TypeError);
  });
});
