// Training on a folder of generated images: through the Trainer API the loss falls within a
// few epochs; through the CLI (one CPU thread, so bitwise reproducible) a run stopped
// mid-epoch and resumed ends with exactly the weights and step losses of an uninterrupted
// run, and the image options are checked like the others.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { Trainer } from '../../../lib/train/trainer';
import { tempDir, writeClassFolder, writeImage } from '../../helpers/images';

const cli = path.resolve(__dirname, '..', '..', '..', 'lib', 'cli', 'main.js');

describe('train: image folders', function () {
  this.timeout(120000);
  let tmp: string;
  let data: string;
  before(async () => {
    tmp = tempDir('image-training');
    data = path.join(tmp, 'pets');
    await writeClassFolder(path.join(data, 'train'), ['cat', 'dog', 'eel'], 8, [24, 20], 'jpeg');
    await writeClassFolder(path.join(data, 'val'), ['cat', 'dog', 'eel'], 3, [22, 26], 'png');
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('the loss falls on a generated folder (Trainer API)', async () => {
    const losses: number[] = [];
    const t = new Trainer({ model: 'resnet8', data, imageSize: 16, epochs: 6, batchSize: 8, lr: 0.05, schedule: 'constant', device: 'cpu', seed: 1, onStep: (s) => losses.push(s.loss) });
    try {
      const info = await t.setup();
      assert.equal(info.trainImages, 24);
      assert.equal(info.testImages, 9);
      assert.equal(info.itersPerEpoch, 3);
      const r = await t.fit();
      assert.equal(r.iterations, 18);
      const first = losses[0];
      const last = (losses[15] + losses[16] + losses[17]) / 3;
      assert.ok(first > 0.9, `first loss ${first} (3 classes start near ln 3)`);
      assert.ok(last < first / 2, `loss did not fall: first ${first.toFixed(3)}, last ${last.toFixed(3)}`);
      assert.ok(r.final && Number.isFinite(r.final.testLoss) && r.final.testError >= 0 && r.final.testError <= 1);
    } finally {
      t.dispose();
    }
  });

  it('CLI: a run stopped mid-epoch and resumed equals the uninterrupted run', () => {
    const env = { ...process.env, CUDNN_RESNET_CPU_THREADS: '1' };
    const run = (args: string[]) => spawnSync(process.execPath, [cli, 'train', ...args], { encoding: 'utf8', env, timeout: 120000 });
    const common = ['--data', data, '--model', 'resnet8', '--image-size', '16', '--batch', '8', '--schedule', 'constant', '--lr', '0.05',
      '--device', 'cpu', '--seed', '3', '--augment', 'paper', '--quiet'];
    const full = path.join(tmp, 'full');
    const cut = path.join(tmp, 'cut');
    const a = run([...common, '--iterations', '6', '--out', full]);
    assert.equal(a.status, 0, a.stderr);
    const b = run([...common, '--iterations', '4', '--out', cut]);
    assert.equal(b.status, 0, b.stderr);
    const c = run(['--resume', cut, '--iterations', '6']);
    assert.equal(c.status, 0, c.stderr);
    const steps = (dir: string) => fs.readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l))
      .filter((r) => r.type === 'step').map((r) => [r.iteration, r.loss, r.error]);
    assert.equal(steps(full).length, 6);
    assert.deepEqual(steps(cut), steps(full));
    assert.ok(fs.readFileSync(path.join(cut, 'checkpoint.safetensors')).equals(fs.readFileSync(path.join(full, 'checkpoint.safetensors'))), 'identical weights');
    const side = JSON.parse(fs.readFileSync(path.join(cut, 'checkpoint.json'), 'utf8'));
    assert.deepEqual(side.spec.images, { imageSize: 16, augment: 'paper', valData: null });
  });

  it('CLI: image options are checked; a folder without validation images says what to add', async () => {
    const run = (args: string[]) => spawnSync(process.execPath, [cli, 'train', ...args], { encoding: 'utf8', timeout: 120000 });
    const usage: [string[], RegExp][] = [
      [['--data', data, '--image-size', '0'], /--image-size must be an integer in \[1, 4096\]/],
      [['--data', data, '--augment', 'random'], /--augment must be torchvision, paper or none/],
      [['--image-size', '32'], /--image-size applies to image folders/],
      [['--data', data, '--val-data', path.join(tmp, 'nowhere')], /--val-data: no such folder/],
    ];
    for (const [args, msg] of usage) {
      const r = run(args);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, msg);
    }
    const flat = path.join(tmp, 'flat');
    await writeClassFolder(flat, ['a', 'b'], 2, [8, 8]);
    const r = run(['--data', flat, '--model', 'resnet8', '--device', 'cpu', '--quiet', '--out', path.join(tmp, 'flat-run')]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /has no validation images: add .*val or .*validation or .*test .*--val-data/);
    // With --val-data and an unreadable training image skipped.
    await writeImage(path.join(flat, 'a', 'zz.png'), new Uint8Array(3), 1, 1, 3);
    fs.writeFileSync(path.join(flat, 'b', 'broken.jpg'), 'not a jpeg');
    const ok = run(['--data', flat, '--val-data', flat, '--model', 'resnet8', '--image-size', '8', '--batch', '5', '--device', 'cpu', '--skip-bad-images',
      '--quiet', '--out', path.join(tmp, 'flat-run')]);
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stderr, /skipped an unreadable image \(1 so far\): .*broken\.jpg/);
    assert.match(ok.stdout, /1 unreadable images skipped/);
  });
});
