// The spread over seeds that the README's grad-flow and degradation tables come from: the
// seed-list parser, the median and range, the tables, and `--seeds` on both CLIs (at one CPU
// thread, each seed's figures equal that seed's own run).
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import type { DegradationResult } from '../../../lib/diagnostics/degradation';
import type { GradFlowResult } from '../../../lib/diagnostics/grad-flow';
import { degradationSpreadTable, gradFlowSpreadTable, median, parseSeeds, spreadCell } from '../../../lib/diagnostics/spread';

const cli = path.resolve(__dirname, '..', '..', '..', 'lib', 'cli', 'main.js');

function run(args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: { ...process.env, CUDNN_RESNET_CPU_THREADS: '1' }, timeout: 240000 });
}

describe('diagnostics: spread over seeds', function () {
  this.timeout(300000);

  it('parses seed lists and ranges, and refuses bad ones naming the argument', () => {
    assert.deepEqual(parseSeeds('0-4'), [0, 1, 2, 3, 4]);
    assert.deepEqual(parseSeeds('7'), [7]);
    assert.deepEqual(parseSeeds('3, 1,2-3'), [3, 1, 2]);
    for (const bad of ['', 'a', '4-2', '-1', '1,,2', '0-100'])
      assert.throws(
        () => parseSeeds(bad),
        (e: Error & { op?: string; argument?: string }) => e.op === 'parseSeeds' && e.argument === 'spec',
        bad,
      );
  });

  it('median and range', () => {
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.ok(Number.isNaN(median([])));
    assert.equal(
      spreadCell([0.5, 0.1, 0.3], (v) => v.toFixed(1)),
      '0.3 (0.1 .. 0.5)',
    );
    assert.equal(
      spreadCell([2], (v) => v.toFixed(1)),
      '2.0',
    );
  });

  it('tables: one row per model (and step), cells over the seeds, the values per seed', () => {
    const m = (model: string, step: number, loss: number, first: number) => ({
      model,
      step,
      loss,
      weights: [
        { depth: 1, name: 'conv1.weight', norm: first },
        { depth: 2, name: 'layer1.0.conv1.weight', norm: 1 },
        { depth: 3, name: 'fc.weight', norm: 100 },
      ],
      blockInputs: [
        { depth: 1, name: 'layer1.0', norm: 2 * first },
        { depth: 2, name: 'layer1.1', norm: 2 },
      ],
    });
    const options = { models: ['plain8'], steps: [0], batchSize: 8, lr: 0.02, momentum: 0.9, weightDecay: 1e-4, device: 'cpu', data: 'synthetic' };
    const gf: GradFlowResult[] = [1, 2, 3].map((seed) => ({ options: { ...options, seed }, measurements: [m('plain8', 0, seed, 10 * seed)] }));
    const t = gradFlowSpreadTable(gf, 1);
    assert.match(t, /^3 seeds \(1, 2, 3\), cpu, 1 CPU thread; batch 8/);
    // ratios 10, 20, 30 (first / last conv: fc excluded) and block inputs 10, 20, 30
    assert.match(t, /\| plain-8, 0 \| 20 \(10 \.\. 30\) \| 20 \(10 \.\. 30\) \| 2\.00 \(1\.00 \.\. 3\.00\) \|/);
    assert.match(t, /\| plain-8, 0 \| 1\.00 \/ 10 \| 2\.00 \/ 20 \| 3\.00 \/ 30 \|/);

    const point = (trainError: number, testError: number) => ({
      type: 'eval' as const,
      epoch: 1,
      iteration: 8,
      lr: 0.02,
      trainLoss: 2 * trainError,
      trainError,
      testLoss: 1,
      testError,
      imagesPerSec: 1,
      elapsed: 1,
    });
    const settings = {
      models: ['resnet8'],
      iterations: 8,
      batchSize: 8,
      evalEvery: 4,
      lr: 0.02,
      schedule: 'constant',
      weightDecay: 1e-4,
      momentum: 0.9,
      seed: 0,
      device: 'cpu',
      data: 'synthetic',
      trainImages: null,
      testImages: 250,
    };
    const deg: DegradationResult[] = [0.2, 0.6, 0.4].map((e, seed) => ({
      settings: { ...settings, seed },
      curves: [{ model: 'resnet8', points: [point(0.9, 0.5), point(e, 0.8)], seconds: 1 }],
      seconds: 1,
    }));
    const d = degradationSpreadTable(deg, 2);
    assert.match(d, /^3 seeds \(0, 1, 2\), 2 CPU threads; 8 iterations of batch 8/);
    assert.ok(d.includes('| ResNet-8 | 40.0% (20.0% .. 60.0%) | 80.0% (80.0% .. 80.0%) | 50.0% (50.0% .. 50.0%) | 0.80 (0.40 .. 1.20) |'), d);
    assert.match(d, /\| ResNet-8 \| 20\.0% \| 60\.0% \| 40\.0% \|/);
    assert.doesNotMatch(d, /wall|seconds| s \|/, 'no run times: they depend on the load');
  });

  it('grad-flow --seeds: per-seed files, a spread table, and each seed as its own run gives', () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'spread-'));
    try {
      const base = ['grad-flow', '--models', 'plain8', '--steps', '0,2', '--batch', '8', '--device', 'cpu'];
      const r = run([...base, '--seeds', '0-1', '--out', out]);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /^2 seeds \(0, 1\), cpu, 1 CPU thread;/m);
      assert.match(r.stdout, /\| plain-8, 2 \| [\d.e+-]+ \([\d.e+-]+ \.\. [\d.e+-]+\) \|/);
      assert.equal(
        fs.readFileSync(path.join(out, 'grad-flow-seeds.md'), 'utf8').split('\n')[0],
        r.stdout.split('\n').find((l) => l.startsWith('2 seeds')),
      );
      const single = run([...base, '--seed', '1', '--out', path.join(out, 'single')]);
      assert.equal(single.status, 0, single.stderr);
      const a = JSON.parse(fs.readFileSync(path.join(out, 'seed-1', 'grad-flow.json'), 'utf8')) as GradFlowResult;
      const b = JSON.parse(fs.readFileSync(path.join(out, 'single', 'grad-flow.json'), 'utf8')) as GradFlowResult;
      assert.deepEqual(a.measurements, b.measurements);
      const both = run([...base, '--seed', '1', '--seeds', '0-1']);
      assert.equal(both.status, 2);
      assert.match(both.stderr, /--seed or --seeds, not both/);
      const bad = run([...base, '--seeds', '3-1']);
      assert.equal(bad.status, 2);
      assert.match(bad.stderr, /--seeds has an empty or invalid range '3-1'/);
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });

  it('degradation --seeds: a run folder per seed and the spread table', () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'spread-deg-'));
    try {
      const r = run([
        'degradation',
        '--models',
        'resnet8',
        '--iterations',
        '2',
        '--eval-every',
        '2',
        '--batch',
        '8',
        '--test-images',
        '16',
        '--seeds',
        '0,1',
        '--device',
        'cpu',
        '--out',
        out,
      ]);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /^2 seeds \(0, 1\), 1 CPU thread; 2 iterations of batch 8/m);
      assert.match(r.stdout, /\| ResNet-8 \| [\d.]+% \([\d.]+% \.\. [\d.]+%\) \|/);
      for (const s of [0, 1]) assert.ok(fs.existsSync(path.join(out, `seed-${s}`, 'degradation.json')), `seed-${s}`);
      assert.ok(fs.existsSync(path.join(out, 'degradation-seeds.md')));
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });
});
