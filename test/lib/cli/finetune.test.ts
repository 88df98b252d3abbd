// `cudnn-resnet train --weights F --freeze ...` in a child process: the run starts from
// the .pth fixture, the frozen modules come out of training bit for bit as they went in,
// the others move; bad fine-tuning flags exit 2.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { encodeSafetensors, RawTensor, readPth, readSafetensors } from '../../../lib/checkpoint';
import { fixture } from '../checkpoint/fixtures';

const cli = path.resolve(__dirname, '..', '..', '..', 'lib', 'cli', 'main.js');
const same = (a: RawTensor, b: RawTensor) => a.dtype === b.dtype && Buffer.from(a.data).equals(Buffer.from(b.data));

describe('cli: train --weights / --freeze', function () {
  this.timeout(180000);
  let tmp: string;
  let env: NodeJS.ProcessEnv;
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cli-finetune-'));
    env = { ...process.env, CUDNN_RESNET_CACHE: path.join(tmp, 'cache'), CUDNN_RESNET_CPU_THREADS: '1' };
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const run = (args: string[]) => spawnSync(process.execPath, [cli, 'train', ...args], { encoding: 'utf8', env, timeout: 180000 });
  const tiny = ['--model', 'resnet8', '--train-images', '64', '--test-images', '32', '--batch', '32', '--iterations', '2', '--device', 'cpu', '--lr', '0.05'];

  it('starts from a .pth state dict and trains only what is not frozen', () => {
    const out = path.join(tmp, 'run');
    const r = run([
      ...tiny,
      '--out',
      out,
      '--weights',
      fixture('resnet8.pth'),
      '--classes',
      '10',
      '--freeze',
      'conv1,bn1,layer1',
      '--freeze-bn',
      '--lr-scale',
      'fc=10',
    ]);
    assert.equal(r.status, 0, r.stderr + r.stdout);
    const start = readPth(fixture('resnet8.pth')).tensors;
    const end = readSafetensors(path.join(out, 'checkpoint.safetensors')).tensors;
    for (const k of ['conv1.weight', 'bn1.weight', 'bn1.running_mean', 'layer1.0.conv2.weight', 'layer1.0.bn2.running_var'])
      assert.ok(same(start.get(k)!, end.get(k)!), `${k} changed`);
    for (const k of ['layer2.0.conv1.weight', 'layer3.0.bn2.bias', 'fc.weight', 'layer2.0.bn1.running_mean'])
      assert.ok(!same(start.get(k)!, end.get(k)!), `${k} did not change`);
    const sidecar = JSON.parse(fs.readFileSync(path.join(out, 'checkpoint.json'), 'utf8'));
    assert.deepEqual(sidecar.spec.freeze, ['conv1', 'bn1', 'layer1']);
    assert.equal(sidecar.spec.freezeBn, true);
    assert.deepEqual(sidecar.spec.lrScale, { fc: 10 });
  });

  it('replaces a head of another size and says so', () => {
    // resnet8.pth cut down to a 3-class head; the synthetic data has 10 classes.
    const f = readPth(fixture('resnet8.pth'));
    const w = f.tensors.get('fc.weight')!;
    const b = f.tensors.get('fc.bias')!;
    f.tensors.set('fc.weight', { dtype: w.dtype, shape: [3, 64], data: w.data.subarray(0, 3 * 64 * 4) });
    f.tensors.set('fc.bias', { dtype: b.dtype, shape: [3], data: b.data.subarray(0, 3 * 4) });
    const file = path.join(tmp, 'three-classes.safetensors');
    fs.writeFileSync(file, encodeSafetensors(f.tensors));
    const out = path.join(tmp, 'head');
    const r = run([...tiny, '--iterations', '1', '--out', out, '--weights', file]);
    assert.equal(r.status, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /loaded every tensor but fc; the file's head has 3 classes and this model 10/);
    const end = readSafetensors(path.join(out, 'checkpoint.safetensors')).tensors;
    assert.deepEqual(end.get('fc.weight')!.shape, [10, 64]);
  });

  it('a file that does not fit the model exits 1 naming it', () => {
    const r = run([...tiny, '--iterations', '1', '--out', path.join(tmp, 'bad'), '--weights', fixture('wrapped-model.pth')]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /--weights: .*wrapped-model\.pth.*missing tensors/s);
  });

  it('bad fine-tuning flags exit 2 with the reason', () => {
    const cases: [string[], RegExp][] = [
      [['--weights', path.join(tmp, 'none.pth')], /--weights: no such file/],
      [['--classes', '0'], /--classes must be >= 1, got 0/],
      [['--freeze-bn'], /--freeze-bn needs --freeze/],
      [['--freeze', ','], /--freeze needs module names/],
      [[...tiny, '--freeze', 'layer7'], /freeze: argument 'modules' names no module with parameters: 'layer7'/],
      [[...tiny, '--classes', '37'], /--classes is 37, but the dataset has 10/],
      [['--lr-scale', 'fc'], /--lr-scale takes MODULE=X/],
      [['--lr-scale', 'fc=-1'], /--lr-scale must be a number >= 0/],
      [[...tiny, '--lr-scale', 'fc9=2'], /--lr-scale: \(fc9\) matches no parameter/],
    ];
    for (const [args, re] of cases) {
      const r = run(args);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, re);
    }
  });
});
