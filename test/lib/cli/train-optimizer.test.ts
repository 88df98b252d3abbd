// `cudnn-resnet train --optimizer adamw --label-smoothing X --no-decay-bn-bias` in a child
// process: the start line says so, the checkpoint records it, --resume keeps it and ends
// exactly where a straight run ends; bad flags exit 2 with the reason.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { readSafetensors } from '../../../lib/checkpoint';

const cli = path.resolve(__dirname, '..', '..', '..', 'lib', 'cli', 'main.js');

describe('cli: train --optimizer adamw --label-smoothing', function () {
  this.timeout(240000);
  let tmp: string;
  let env: NodeJS.ProcessEnv;
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cli-adamw-'));
    env = { ...process.env, CUDNN_RESNET_CACHE: path.join(tmp, 'cache'), CUDNN_RESNET_CPU_THREADS: '1' };
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const run = (args: string[]) => spawnSync(process.execPath, [cli, 'train', ...args], { encoding: 'utf8', env, timeout: 240000 });
  const tiny = ['--model', 'resnet8', '--train-images', '64', '--test-images', '32', '--batch', '32', '--device', 'cpu', '--schedule', 'constant'];
  const adamw = ['--optimizer', 'adamw', '--label-smoothing', '0.1', '--no-decay-bn-bias', '--betas', '0.8,0.99', '--lr', '0.002'];

  it('trains, records the optimizer and smoothing, and resumes exactly', () => {
    const straight = path.join(tmp, 'straight');
    const r1 = run([...tiny, ...adamw, '--iterations', '4', '--out', straight]);
    assert.equal(r1.status, 0, r1.stderr + r1.stdout);
    assert.match(r1.stdout, /optimizer: adamw \(betas 0\.8, 0\.99, eps 1e-8, weight decay 0\.01 \(none on BN and bias\)\), label smoothing 0\.1/);
    const split = path.join(tmp, 'split');
    const r2 = run([...tiny, ...adamw, '--iterations', '2', '--out', split]);
    assert.equal(r2.status, 0, r2.stderr + r2.stdout);
    const r3 = run(['--resume', split, '--iterations', '4']);
    assert.equal(r3.status, 0, r3.stderr + r3.stdout);
    assert.match(r3.stdout, /resuming at iteration 2/);
    assert.match(r3.stdout, /optimizer: adamw \(betas 0\.8, 0\.99.*label smoothing 0\.1/);
    const [a, b] = [straight, split].map((d) => readSafetensors(path.join(d, 'checkpoint.safetensors')));
    assert.equal(a.metadata['optimizer.type'], 'AdamW');
    for (const [k, t] of a.tensors) assert.ok(Buffer.from(t.data).equals(Buffer.from(b.tensors.get(k)!.data)), `${k} differs after --resume`);
    const sidecar = JSON.parse(fs.readFileSync(path.join(split, 'checkpoint.json'), 'utf8'));
    assert.deepEqual(
      [sidecar.spec.optimizer, sidecar.spec.betas, sidecar.spec.labelSmoothing, sidecar.spec.excludeBnAndBiasFromDecay],
      ['adamw', [0.8, 0.99], 0.1, true],
    );
    const r4 = run(['--resume', split, '--iterations', '5', '--optimizer', 'sgd']);
    assert.equal(r4.status, 2, r4.stderr);
    assert.match(r4.stderr, /made with optimizer adamw, this run asks for sgd/);
  });

  it('bad optimizer flags exit 2 with the reason', () => {
    const cases: [string[], RegExp][] = [
      [['--optimizer', 'adam'], /--optimizer must be sgd or adamw, got 'adam'/],
      [['--betas', '0.9,0.99'], /--betas needs --optimizer adamw/],
      [['--eps', '1e-6'], /--eps needs --optimizer adamw/],
      [['--optimizer', 'adamw', '--betas', '0.9'], /--betas takes B1,B2/],
      [['--optimizer', 'adamw', '--betas', '0.9,1'], /--betas must each be < 1/],
      [['--label-smoothing', '2'], /--label-smoothing must lie in \[0, 1\]/],
      [['--label-smoothing', '-0.1'], /--label-smoothing must be a number >= 0/],
    ];
    for (const [args, re] of cases) {
      const r = run(args);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, re);
    }
  });
});
