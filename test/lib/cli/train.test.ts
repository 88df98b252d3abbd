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
      // The error comes last, under a one-line usage (a 30-line dump scrolled it away).
      const at = r.stderr.indexOf(`\ncudnn-resnet ${args[0]}: `);
      assert.ok(at > 0, `${args.join(' ')}: no error line after the usage\n${r.stderr}`);
      assert.equal(r.stderr.slice(0, at).split('\n').length, 1, `${args.join(' ')}: more than one usage line\n${r.stderr}`);
      assert.match(r.stderr.slice(at), msg, args.join(' '));
      assert.match(r.stderr, new RegExp(`\`cudnn-resnet ${args[0]} --help\` lists the options`));
    }
    const unknown = run(['frobnicate']);
    assert.equal(unknown.status, 2);
    assert.match(unknown.stderr.trimEnd().split('\n').pop()!, /^cudnn-resnet: unknown command 'frobnicate'$/);
    const help = run(['train', '--help']);
    assert.equal(help.status, 0);
    assert.match(help.stdout, /--resume PATH/);
  });

  it('bad data files, a corrupt checkpoint and a file as --out: one line with the file, no stack', async () => {
    const { writeSyntheticCifar } = await import('../../../lib/data/synthetic');
    const oneLine = (args: string[], ...fragments: RegExp[]) => {
      const r = run(args);
      assert.equal(r.status, 1, `${args.join(' ')}: exit ${r.status}\n${r.stderr}`);
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
      b[3073] = 200; // the label byte of record 1
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
    const ok = run([
      'train',
      '--model',
      'resnet8',
      '--train-images',
      '32',
      '--test-images',
      '32',
      '--batch',
      '32',
      '--device',
      'cpu',
      '--quiet',
      '--epochs',
      '1',
      '--out',
      runDir,
    ]);
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

    const strip = (f: string) =>
      fs
        .readFileSync(f, 'utf8')
        .trim()
        .split('\n')
        .map((l) => {
          const o = JSON.parse(l);
          delete o.imagesPerSec;
          delete o.elapsed;
          return o;
        });
    const a = strip(path.join(full, 'metrics.jsonl'));
    assert.equal(a.length, 9 + 3);
    assert.deepEqual(strip(metrics), a);
    assert.ok(
      fs.readFileSync(path.join(cut, 'checkpoint.safetensors')).equals(fs.readFileSync(path.join(full, 'checkpoint.safetensors'))),
      'identical weights',
    );
  });

  it('refuses --out over a run (suggesting --resume or --overwrite); --resume with more epochs keeps the lr schedule', () => {
    const out = path.join(tmp, 'used');
    assert.equal(run(['train', ...tiny, '--epochs', '3', '--out', out]).status, 0);
    const before = fs.readFileSync(path.join(out, 'metrics.jsonl'), 'utf8');
    const again = run(['train', ...tiny, '--epochs', '3', '--out', out]);
    assert.equal(again.status, 2, again.stderr);
    const last = again.stderr.trimEnd().split('\n').pop()!;
    assert.ok(last.includes(`--out ${out} already holds a run (finished at iteration 9`), last);
    assert.ok(last.includes(`cudnn-resnet train --resume ${out}`) && last.includes('--overwrite'), last);
    assert.equal(fs.readFileSync(path.join(out, 'metrics.jsonl'), 'utf8'), before, 'nothing was replaced');

    // Three more epochs of a finished 'paper' run: it goes on at its final lr, and says so.
    const more = run(['train', '--resume', out, '--epochs', '6']);
    assert.equal(more.status, 0, more.stderr);
    assert.match(more.stdout, /^resuming at iteration 9 \(epoch 3\) with lr 0\.001$/m);
    assert.match(more.stdout, /^schedule: paper: 0\.1, \/10 at iterations 5 and 7 \(drop points of the original 9-iteration run\)$/m);
    const lrs = fs
      .readFileSync(path.join(out, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
      .filter((r) => r.type === 'step' && r.iteration > 9)
      .map((r) => Number(r.lr.toPrecision(6)));
    assert.deepEqual(lrs, Array(9).fill(0.001));

    const replaced = run(['train', ...tiny, '--iterations', '2', '--out', out, '--overwrite']);
    assert.equal(replaced.status, 0, replaced.stderr);
    assert.equal(JSON.parse(fs.readFileSync(path.join(out, 'checkpoint.json'), 'utf8')).iteration, 2);
  });

  it('a corrupt data file: one line naming the file, the offset and what is wrong; no stack', async () => {
    const { writeSyntheticCifar } = await import('../../../lib/data');
    const w = await writeSyntheticCifar(path.join(tmp, 'bad-data'), { train: 50, test: 10, seed: 1 });
    const file = path.join(w.folder!, 'data_batch_2.bin');
    fs.appendFileSync(file, Buffer.alloc(1000));
    const r = run(['train', '--data', w.folder!, '--model', 'resnet8', '--device', 'cpu', '--quiet', '--out', path.join(tmp, 'bad-run')]);
    assert.equal(r.status, 1, r.stderr);
    assert.equal(
      r.stderr.trim(),
      `cudnn-resnet train: ${file} (byte offset 30730): 1000 extra bytes after the last record: ` +
        'the file has 31730 bytes, it must hold 10 records of 3073 bytes (30730 bytes)',
    );
  });

  it("--device auto without a GPU says so in one line, whatever the reason's length", async () => {
    const device = await import('../../../lib/train/device');
    const { main } = await import('../../../lib/cli/main');
    const real = device.resolveDevice;
    const reason = 'cuDNN 9 (libcudnn.so.9) was not found. Looked in:\n  - CUDNN_LIBRARY_PATH: unset\n  - dlopen: not found\n  - pip wheels: none';
    (device as { resolveDevice: typeof real }).resolveDevice = (spec: string) => (spec === 'auto' ? { device: 'cpu', fallbackReason: reason } : real(spec));
    let out = '';
    const prevCache = process.env.CUDNN_RESNET_CACHE;
    process.env.CUDNN_RESNET_CACHE = env.CUDNN_RESNET_CACHE;
    try {
      const code = await main(
        ['train', '--model', 'resnet8', '--train-images', '32', '--test-images', '32', '--batch', '32', '--iterations', '1', '--out', path.join(tmp, 'auto')],
        { out: (t) => (out += t.endsWith('\n') ? t : `${t}\n`), err: (t) => (out += t) },
      );
      assert.equal(code, 0, out);
    } finally {
      (device as { resolveDevice: typeof real }).resolveDevice = real;
      if (prevCache === undefined) delete process.env.CUDNN_RESNET_CACHE;
      else process.env.CUDNN_RESNET_CACHE = prevCache;
    }
    const lines = out.split('\n').filter((l) => /GPU|cuDNN|Looked|pip wheels/.test(l));
    assert.deepEqual(lines, ['no usable GPU (cuDNN 9 (libcudnn.so.9) was not found. Looked in): training on the CPU; `cudnn-resnet doctor` says why']);
  });
});
