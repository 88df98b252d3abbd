// `cudnn-resnet train` as a user runs it, in a child process of the compiled CLI: usage
// errors exit 2 with the usage, a short run writes metrics and a checkpoint, Ctrl-C
// (SIGINT) saves a checkpoint and exits 130, and --resume continues to exactly the result
// of an uninterrupted run (CPU, one thread: bitwise reproducible).
import * as assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const cli = path.resolve(__dirname, '..', '..', '..', 'lib', 'cli', 'main.js');

describe('cli: train', function () {
  this.timeout(120000);
  let tmp: string;
  let env: NodeJS.ProcessEnv;
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cli-train-'));
    // Own data cache; one CPU thread so that runs are bitwise reproducible.
    env = { ...process.env, CUDNN_RESNET_CACHE: path.join(tmp, 'cache'), CUDNN_RESNET_CPU_THREADS: '1' };
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  const run = (args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env, timeout: 120000 });
  const tiny = ['--model', 'resnet8', '--train-images', '96', '--test-images', '64', '--batch', '32', '--device', 'cpu', '--quiet'];

  it('argument errors print the usage and exit 2', () => {
    const cases: [string[], RegExp][] = [
      [['train', '--frobnicate'], /--frobnicate/],
      [['train', '--model', 'resnet7'], /unknown model 'resnet7'/],
      [['train', '--epochs', '0'], /--epochs must be >= 1, got 0/],
      [['train', '--epochs', '-1'], /--epochs must be >= 1, got -1/],
      [['train', '--batch', 'many'], /--batch must be an integer/],
      [['train', '--lr=-1'], /--lr must be a number >= 0, got '-1'/],
      [['train', '--data', path.join(os.tmpdir(), 'no-such-cifar')], /--data: no such file or folder/],
      [['train', '--device', 'gpu'], /--device must be auto, cpu or cuda:N/],
      [['train', '--precision', 'fp8'], /--precision must be fp32, bf16 or fp16/],
      [['train', '--schedule', 'warp'], /unknown schedule/],
      [['train', 'extra'], /Unexpected argument 'extra'/],
      [['grad-flow', '--models', 'plain7'], /unknown model 'plain7'/],
      [['grad-flow', '--steps', 'x'], /--steps must be an integer/],
      [['degradation', '--iterations', '-3'], /--iterations/],
    ];
    for (const [args, msg] of cases) {
      const r = run(args);
      assert.equal(r.status, 2, `${args.join(' ')}: exit ${r.status}\n${r.stderr}`);
      assert.match(r.stderr, msg, args.join(' '));
      assert.match(r.stderr, new RegExp(`usage: cudnn-resnet ${args[0]} \\[options\\]`), args.join(' '));
    }
    const help = run(['train', '--help']);
    assert.equal(help.status, 0);
    assert.match(help.stdout, /--resume PATH/);
  });

  it('bad data files, a corrupt checkpoint and a file as --out: one line with the file, exit 2, no stack', async () => {
    const { writeSyntheticCifar } = await import('../../../lib/data/synthetic');
    const oneLine = (args: string[], ...fragments: RegExp[]) => {
      const r = run(args);
      assert.equal(r.status, 2, `${args.join(' ')}: exit ${r.status}\n${r.stderr}`);
      assert.doesNotMatch(r.stderr, /^\s+at /m, `${args.join(' ')}: no stack trace\n${r.stderr}`);
      assert.doesNotMatch(r.stderr, /usage:/, 'a data error is not a usage error');
      for (const f of fragments) assert.match(r.stderr, f, args.join(' '));
    };
    const corrupt = async (name: string, edit: (file: string) => void) => {
      const w = await writeSyntheticCifar(path.join(tmp, name), { train: 64, test: 32, seed: 3 });
      edit(path.join(w.folder!, 'data_batch_1.bin'));
      return w.folder!;
    };
    const label200 = await corrupt('label200', (f) => {
      const b = fs.readFileSync(f);
      b[3073] = 200;  // the label byte of record 1
      fs.writeFileSync(f, b);
    });
    oneLine(['train', ...tiny, '--data', label200, '--out', path.join(tmp, 'o1')], /data_batch_1\.bin \(byte offset 3073\).*label 200/);
    const truncated = await corrupt('truncated', (f) => fs.truncateSync(f, 3073 * 2 + 100));
    oneLine(['train', ...tiny, '--data', truncated, '--out', path.join(tmp, 'o2')], /data_batch_1\.bin/);
    const empty = await corrupt('empty', (f) => fs.writeFileSync(f, ''));
    oneLine(['train', ...tiny, '--data', empty, '--out', path.join(tmp, 'o3')], /data_batch_1\.bin/);

    const asFile = path.join(tmp, 'a-file');
    fs.writeFileSync(asFile, 'x');
    const r = run(['train', ...tiny, '--out', asFile]);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /--out: .*a-file exists and is not a folder/);

    const runDir = path.join(tmp, 'to-corrupt');
    const ok = run(['train', '--model', 'resnet8', '--train-images', '32', '--test-images', '32', '--batch', '32', '--device', 'cpu', '--quiet', '--epochs', '1', '--out', runDir]);
    assert.equal(ok.status, 0, ok.stderr);
    const weights = path.join(runDir, 'checkpoint.safetensors');
    fs.truncateSync(weights, fs.statSync(weights).size - 10);
    oneLine(['train', '--resume', runDir, '--epochs', '2', '--quiet'], /checkpoint\.safetensors/);
  });

  it('trains, is interrupted by SIGINT (exit 130, checkpoint saved) and resumes to the uninterrupted result', async () => {
    const full = path.join(tmp, 'full');
    const cut = path.join(tmp, 'cut');
    const r = run(['train', ...tiny, '--epochs', '3', '--out', full]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /done: 9 iterations/);
    for (const f of ['metrics.jsonl', 'metrics.csv', 'checkpoint.safetensors', 'checkpoint.json']) assert.ok(fs.existsSync(path.join(full, f)), f);

    // Interrupt after the first step record appears.
    const child = spawn(process.execPath, [cli, 'train', ...tiny, '--epochs', '3', '--out', cut], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const metrics = path.join(cut, 'metrics.jsonl');
    const t0 = Date.now();
    while (!(fs.existsSync(metrics) && fs.readFileSync(metrics, 'utf8').includes('"step"'))) {
      assert.ok(Date.now() - t0 < 60000, 'no step within 60 s');
      await new Promise((res) => setTimeout(res, 20));
    }
    child.kill('SIGINT');
    const code = await exited;
    assert.notEqual(code, 0, 'the run ended before SIGINT arrived (machine too fast for this test)');
    assert.equal(code, 130, stderr);
    assert.match(stderr, /interrupted at iteration \d+; checkpoint saved/);
    const side = JSON.parse(fs.readFileSync(path.join(cut, 'checkpoint.json'), 'utf8'));
    assert.equal(side.reason, 'interrupt');
    assert.ok(side.iteration >= 1 && side.iteration < 9, `interrupted at ${side.iteration}`);

    const res = run(['train', '--resume', cut]);
    assert.equal(res.status, 0, res.stderr);
    assert.match(res.stdout, new RegExp(`resuming at iteration ${side.iteration}`));

    const strip = (f: string) => fs.readFileSync(f, 'utf8').trim().split('\n').map((l) => {
      const o = JSON.parse(l);
      delete o.imagesPerSec;
      delete o.elapsed;
      return o;
    });
    const a = strip(path.join(full, 'metrics.jsonl'));
    assert.equal(a.length, 9 + 3);
    assert.deepEqual(strip(metrics), a);
    assert.ok(fs.readFileSync(path.join(cut, 'checkpoint.safetensors')).equals(fs.readFileSync(path.join(full, 'checkpoint.safetensors'))), 'identical weights');
  });
});
