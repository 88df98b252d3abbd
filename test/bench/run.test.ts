// `npm run bench` end to end on the CPU, with tiny settings: the JSON it writes, the
// comparison path with a stand-in for python3 (this machine has no torch), the
// end-to-end epoch, and argument errors.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { countModel } from '../../bench/flops';
import { parseArgs } from '../../bench/run';
import type { BenchDocument } from '../../bench/report';
import { create } from '../../lib/models/resnet';

const RUN = path.join(__dirname, '..', '..', 'bench', 'run.js');

function bench(args: string[]): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, [RUN, ...args], { encoding: 'utf8', timeout: 110000, env: process.env });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

// Answers like bench/pytorch_reference.py: `-c` (the torch probe) succeeds, a run prints one
// JSON line per mode at a fixed 1000 img/s (eager) or 4000 img/s (compile); a CPU heap mode
// runs at 1500 img/s when it was started with the malloc settings, else reports an error.
const FAKE_PYTHON = `#!${process.execPath}
const a = process.argv.slice(2);
if (a[0] === '-c') process.exit(0);
const get = (n) => a[a.indexOf(n) + 1];
const [model, batch] = get('--rows').split(':');
const cpu = a.includes('--device') && get('--device') === 'cpu';
const heapEnv = process.env.MALLOC_MMAP_THRESHOLD_ !== undefined && process.env.MALLOC_TRIM_THRESHOLD_ !== undefined;
for (const mode of get('--modes').split(',')) {
  const heap = mode.includes('-heap-');
  if (heap && !heapEnv) { console.log(JSON.stringify({ model, batch: Number(batch), mode, error: 'no malloc env' })); continue; }
  const ips = mode.startsWith('compile') ? 4000 : heap ? 1500 : 1000;
  const env = cpu ? { cpu: 'Fake CPU', threads: Number(get('--threads')), cpu_ms_per_step: heap ? 1000 : 2000 } : { cudnn: 91900, cuda: '13.0', gpu: 'Fake GPU' };
  if (!heap && heapEnv) { console.log(JSON.stringify({ model, batch: Number(batch), mode, error: 'malloc env leaked' })); continue; }
  console.log(JSON.stringify({ model, batch: Number(batch), mode, ms_per_step: Number(batch) * 1000 / ips, images_per_s: ips,
    runs_ms: [1], torch: '9.9-fake', steps: get('--steps'), ...env }));
}
`;

describe('bench: npm run bench on the CPU', function () {
  this.timeout(120000);
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-run-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('resnet20 at batch 8, 2 steps: writes the results document and prints the table', () => {
    const json = path.join(dir, 'out.json');
    const outDir = path.join(dir, 'results');
    const r = bench([
      '--rows',
      'resnet20:8',
      '--precisions',
      'fp32',
      '--device',
      'cpu',
      '--steps',
      '2',
      '--warmup',
      '1',
      '--runs',
      '1',
      '--json',
      json,
      '--out-dir',
      outDir,
    ]);
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, /REDUCED: not the protocol/);
    assert.match(r.out, /^resnet20:8 +fp32 +eager +[\d.]+ +[\d,.]+ /m);
    const doc = JSON.parse(fs.readFileSync(json, 'utf8')) as BenchDocument;
    assert.equal(doc.schema, 'cudnn-resnet-bench/1');
    assert.deepEqual({ warmup: doc.protocol.warmup, steps: doc.protocol.steps, runs: doc.protocol.runs }, { warmup: 1, steps: 2, runs: 1 });
    assert.deepEqual(doc.protocol.sgd, { lr: 0.1, momentum: 0.9, weightDecay: 1e-4 });
    assert.equal(doc.env.device, 'cpu');
    assert.ok(Date.parse(doc.env.date) > Date.parse('2026-01-01'));
    assert.equal(doc.rows.length, 1);
    const row = doc.rows[0];
    assert.equal(row.error, null);
    assert.deepEqual([row.model, row.batch, row.precision, row.layout, row.imageSize], ['resnet20', 8, 'fp32', 'NCHW', 32]);
    assert.equal(row.runsMs.length, 1);
    assert.ok((row.msPerStep as number) > 0);
    assert.ok(Math.abs((row.imagesPerS as number) - 8000 / (row.msPerStep as number)) < 1e-6);
    const m = create('resnet20', { device: 'cpu', init: false, seed: 0 });
    try {
      const c = countModel(m, 32);
      assert.equal(row.floor.flops, 8 * c.stepFlops);
      assert.equal(row.parameters, c.parameters);
    } finally {
      m.dispose();
    }
    assert.equal(doc.pytorch, null);
    assert.equal(doc.comparison[0].oursBest?.imagesPerS, row.imagesPerS);
    const stored = fs.readdirSync(outDir);
    assert.equal(stored.length, 1);
    assert.match(stored[0], /^\d{4}-\d\d-\d\dT\d{6}-cpu\.json$/);
    assert.deepEqual(JSON.parse(fs.readFileSync(path.join(outDir, stored[0]), 'utf8')).rows[0].runsMs, row.runsMs);
    // --report prints the same table from the stored file
    const rep = bench(['--report', json]);
    assert.equal(rep.status, 0, rep.out);
    assert.match(rep.out, /^resnet20:8 +fp32 +eager +[\d.]+ +[\d,.]+ .* compute /m);
  });

  it('--pytorch on the CPU: runs the reference per row on our thread count and prints ours / PyTorch (stand-in python)', () => {
    const fake = path.join(dir, 'fake-python');
    fs.writeFileSync(fake, FAKE_PYTHON, { mode: 0o755 });
    const json = path.join(dir, 'py.json');
    const r = bench([
      '--rows',
      'resnet8:4,resnet18@40:2',
      '--device',
      'cpu',
      '--steps',
      '1',
      '--warmup',
      '0',
      '--runs',
      '1',
      '--repeat',
      '2',
      '--pytorch',
      '--python',
      fake,
      '--json',
      json,
    ]);
    assert.equal(r.status, 0, r.out);
    const doc = JSON.parse(fs.readFileSync(json, 'utf8')) as BenchDocument;
    assert.equal(doc.pytorch?.unavailable, null);
    // fp32 only on the CPU, each row twice, PyTorch after ours each time
    assert.deepEqual(
      doc.rows.map((x) => `${x.model}@${x.imageSize}:${x.precision}`),
      ['resnet8@32:fp32', 'resnet8@32:fp32', 'resnet18@40:fp32', 'resnet18@40:fp32'],
    );
    // as installed and with glibc malloc keeping freed memory (its own child, its own env)
    assert.deepEqual(
      doc.pytorch?.results.map((x) => `${x.mode}@${x.image_size}${x.error ? ` ${x.error}` : ''}`),
      [
        'eager-fp32@32',
        'eager-heap-fp32@32',
        'eager-fp32@32',
        'eager-heap-fp32@32',
        'eager-fp32@40',
        'eager-heap-fp32@40',
        'eager-fp32@40',
        'eager-heap-fp32@40',
      ],
    );
    assert.equal(doc.pytorch?.env.torch, '9.9-fake');
    assert.equal(doc.pytorch?.env.threads, doc.env.cpuThreads);
    // the floor divides by this CPU's measured peaks, not an H100's
    assert.match(doc.rows[0].floor.ceilings, /^CPU \(\d+ threads, .* GEMM, measured\)$/);
    assert.ok(doc.rows[0].floor.peakFlops > 1e8 && doc.rows[0].floor.peakFlops < 1e13, String(doc.rows[0].floor.peakFlops));
    const c = doc.comparison[0];
    assert.deepEqual(c.pytorchEager, { mode: 'eager-heap-fp32', imagesPerS: 1500 });
    assert.equal(c.pytorchCompile, null);
    const ours = doc.rows.filter((x) => x.model === 'resnet8').map((x) => x.imagesPerS as number);
    assert.ok(Math.abs((c.ratioEager as number) - (ours[0] + ours[1]) / 2 / 1500) < 1e-9, 'median of the two repeats');
    const cpuMs = doc.rows.filter((x) => x.model === 'resnet8').map((x) => x.cpuMsPerStep as number);
    // the CPU-time ratio uses the same (fastest) PyTorch mode
    assert.ok(Math.abs((c.ratioCpu as number) - 1000 / ((cpuMs[0] + cpuMs[1]) / 2)) < 1e-9);
    const faults = doc.rows.map((x) => x.minorFaultsPerStep as number);
    assert.ok(
      faults.every((f) => Number.isFinite(f) && f >= 0),
      String(faults),
    );
    assert.equal(doc.comparison[1].imageSize, 40);
    // the comparison table is the last thing printed before the file names
    const tail = r.out.slice(r.out.lastIndexOf('ours vs PyTorch'));
    assert.match(tail, /^ours vs PyTorch 9\.9-fake on cpu \(\d+ threads each; load /);
    assert.match(tail, /resnet8:4 .*\(fp32\) +1,500 \(eager-heap-fp32\)/);
    assert.match(tail, /resnet18@40:2 /);
  });

  it('--pytorch without torch: says why and still benchmarks ours', () => {
    const r = bench([
      '--rows',
      'resnet8:2',
      '--precisions',
      'fp32',
      '--device',
      'cpu',
      '--steps',
      '1',
      '--warmup',
      '0',
      '--runs',
      '1',
      '--pytorch',
      '--python',
      path.join(dir, 'no-such-python'),
    ]);
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, /pytorch: skipped, .*could not be started/);
    assert.match(r.out, /^resnet8:2 +fp32 +[\d.]+ ms\/step/m);
  });

  it('--e2e-only: one small epoch through the synthetic files, the loader and the evaluation', () => {
    const json = path.join(dir, 'e2e.json');
    const cache = path.join(dir, 'cache');
    const args = [
      '--rows',
      'resnet8:16,resnet50:2',
      '--precisions',
      'fp32',
      '--device',
      'cpu',
      '--e2e-only',
      '--e2e-images',
      '64',
      '--e2e-test-images',
      '32',
      '--cache-dir',
      cache,
      '--json',
      json,
    ];
    const r = bench(args);
    assert.equal(r.status, 0, r.out);
    const doc = JSON.parse(fs.readFileSync(json, 'utf8')) as BenchDocument;
    assert.equal(doc.rows.length, 0);
    assert.equal(doc.e2e.length, 1, 'the 224-px row is left out');
    const e = doc.e2e[0];
    assert.equal(e.error, null);
    assert.equal(e.imagesTrained, 64);
    assert.ok((e.writeS as number) > 0, 'first run writes the files');
    for (const k of ['setupS', 'firstStepS', 'trainS', 'evalS', 'totalS'] as const) assert.ok((e[k] as number) > 0, k);
    assert.ok((e.totalS as number) >= (e.trainS as number) + (e.evalS as number));
    assert.ok(e.testError !== null && e.testError >= 0 && e.testError <= 1);
    assert.ok(fs.existsSync(path.join(cache, 'synthetic-v2-cifar10-64-32-seed0', '.complete')));
    const again = bench(args);
    assert.equal(again.status, 0, again.out);
    assert.equal((JSON.parse(fs.readFileSync(json, 'utf8')) as BenchDocument).e2e[0].writeS, null, 'second run reuses the cache');
  });

  it('argument errors name the option', () => {
    assert.throws(() => parseArgs(['--rows']), /--rows needs a value/);
    assert.throws(() => parseArgs(['--nope']), /unknown option --nope/);
    assert.throws(() => parseArgs(['--tf32=1']), /--tf32 takes no value/);
    assert.throws(() => parseArgs(['stray']), /unexpected argument 'stray'/);
    assert.deepEqual(
      [...parseArgs(['--steps=3', '--pytorch', '--rows', 'resnet20:8'])],
      [
        ['steps', '3'],
        ['pytorch', true],
        ['rows', 'resnet20:8'],
      ],
    );
    const r = bench(['--precisions', 'fp8']);
    assert.equal(r.status, 2);
    assert.match(r.out, /--precisions: 'fp8'/);
    const m = bench(['--rows', 'resnet7:8', '--device', 'cpu']);
    assert.equal(m.status, 2);
    assert.match(m.out, /unknown model name 'resnet7'/);
  });
});
