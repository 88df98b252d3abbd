// `cudnn-resnet predict` and `cudnn-resnet eval` end to end on a generated image folder and a
// tiny run trained on it (and on CIFAR binaries with a .pth model): what they print and write
// is checked against model.predict and a confusion matrix counted here; infer.load reads the
// run in each of its forms; bad input exits 1 with one line, a bad command line exits 2.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { main } from '../../../lib/cli/main';
import { loadCifar } from '../../../lib/data/cifar';
import { writeSyntheticCifar } from '../../../lib/data/synthetic';
import { IMAGENET_NORMALIZATION } from '../../../lib/data/transforms';
import { load } from '../../../lib/infer/load';
import { Trainer } from '../../../lib/train/trainer';
import { fixture } from '../checkpoint/fixtures';
import { parseXml } from '../diagnostics/xml';
import { tempDir, writeClassFolder } from '../../helpers/images';

const CLASSES = ['ant', 'bee', 'cat'];

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { out: (t) => out.push(t), err: (t) => err.push(t) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

/** The confusion matrix of `model` on labelled files, from its top-1 predictions. */
async function countConfusion(checkpoint: string, files: string[], labels: number[], classes: number, model?: string): Promise<number[][]> {
  const m = load(checkpoint, { model, device: 'cpu' });
  try {
    const r = await m.predict(files, { topk: 1 });
    const c = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
    r.forEach((top, i) => c[labels[i]][top[0].index]++);
    return c;
  } finally {
    m.dispose();
  }
}

function parseCsv(text: string): { header: string[]; rows: [string, number[]][] } {
  const [head, ...lines] = text.trim().split('\n');
  return { header: head.split(','), rows: lines.map((l) => [l.split(',')[0], l.split(',').slice(1).map(Number)]) };
}

describe('cli: predict and eval', function () {
  this.timeout(300000);
  let tmp: string;
  let data: string;
  let run: string;
  const val: { file: string; label: number }[] = [];

  before(async () => {
    tmp = tempDir('cli-predict');
    data = path.join(tmp, 'photos');
    await writeClassFolder(path.join(data, 'train'), CLASSES, 4, [20, 24]);
    await writeClassFolder(path.join(data, 'val'), CLASSES, 3, [24, 20], 'jpeg');
    CLASSES.forEach((c, label) => {
      for (const f of fs.readdirSync(path.join(data, 'val', c)).sort()) val.push({ file: path.join(data, 'val', c, f), label });
    });
    run = path.join(tmp, 'run');
    const trainer = new Trainer({ data, model: 'resnet8', epochs: 1, batchSize: 6, imageSize: 16, out: run, device: 'cpu', seed: 0 });
    await trainer.fit();
    trainer.dispose();
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('infer.load reads the run as a folder, its checkpoint.json, its weights, and the weights copied alone', () => {
    const alone = path.join(tmp, 'alone');
    fs.mkdirSync(alone);
    fs.copyFileSync(path.join(run, 'checkpoint.safetensors'), path.join(alone, 'w.safetensors'));
    for (const f of [run, path.join(run, 'checkpoint.json'), path.join(run, 'checkpoint.safetensors'), path.join(alone, 'w.safetensors')]) {
      const m = load(f);
      try {
        assert.equal(m.classes, 3, f);
        assert.deepEqual(m.meta.classNames, CLASSES, f);
        assert.deepEqual(m.meta.normalization, { mean: IMAGENET_NORMALIZATION.mean, std: IMAGENET_NORMALIZATION.std }, f);
        assert.equal(m.meta.imageSize, 16, f);
      } finally {
        m.dispose();
      }
    }
    assert.throws(() => load(fixture('resnet8.pth')), { argument: 'options.model', message: /does not say which model/ });
    assert.throws(() => load(path.join(tmp, 'nothing')), { code: 'ERR_FILE_NOT_FOUND' });
  });

  it('predict --json gives what model.predict gives, with the run names and statistics', async () => {
    const files = val.slice(0, 4).map((v) => v.file);
    const r = await cli(['predict', '--checkpoint', run, '--topk', '2', '--json', '--device', 'cpu', ...files]);
    assert.equal(r.code, 0, r.err);
    const doc = JSON.parse(r.out) as { imageSize: number; normalization: { source: string }; predictions: { image: string; top: unknown[] }[] };
    const m = load(run);
    const want = await m.predict(files, { topk: 2 });
    m.dispose();
    assert.equal(doc.imageSize, 16);
    assert.equal(doc.normalization.source, 'checkpoint');
    assert.deepEqual(
      doc.predictions.map((p) => p.image),
      files,
    );
    assert.deepEqual(
      doc.predictions.map((p) => p.top),
      JSON.parse(JSON.stringify(want.map((t) => t))),
    );
  });

  it('predict prints each image and its classes; --classes renames them', async () => {
    const names = path.join(tmp, 'names.txt');
    fs.writeFileSync(names, 'fourmi\nabeille\nchat\n');
    const r = await cli(['predict', '--checkpoint', run, '--classes', names, '--device', 'cpu', val[0].file]);
    assert.equal(r.code, 0, r.err);
    const lines = r.out.split('\n');
    assert.equal(lines[0], val[0].file);
    assert.equal(lines.length, 4, 'three classes: topk defaults to 3');
    for (const l of lines.slice(1)) assert.match(l, /^ +\d+\.\d\d% {2}(fourmi|abeille|chat) \(\d\)$/);
    assert.match(r.err, /16 x 16 crops, normalised with the run's training statistics \(mean 0\.4850, 0\.4560, 0\.4060; std 0\.2290, 0\.2240, 0\.2250\)/);
  });

  it('eval prints the errors and per-class accuracy and writes the confusion matrix as CSV and SVG', async () => {
    const out = path.join(tmp, 'eval');
    const r = await cli(['eval', '--checkpoint', run, '--data', data, '--out', out, '--device', 'cpu']);
    assert.equal(r.code, 0, r.err);
    const want = await countConfusion(
      run,
      val.map((v) => v.file),
      val.map((v) => v.label),
      3,
    );
    const csv = parseCsv(fs.readFileSync(path.join(out, 'confusion.csv'), 'utf8'));
    assert.deepEqual(csv.header, ['true \\ predicted', ...CLASSES]);
    assert.deepEqual(
      csv.rows.map(([n]) => n),
      CLASSES,
    );
    assert.deepEqual(
      csv.rows.map(([, counts]) => counts),
      want,
    );
    const wrong = val.length - want.reduce((s, row, t) => s + row[t], 0);
    assert.match(r.out, new RegExp(`top-1 error ${((100 * wrong) / val.length).toFixed(2)}% \\(${wrong} of ${val.length} wrong\\)`));
    assert.match(r.out, /top-3 error 0\.00% \(0 of 9 wrong\)/);
    for (const [t, c] of CLASSES.entries()) assert.match(r.out, new RegExp(`  ${c}  +[\\d.]+%  \\(${want[t][t]}/3\\)`));
    const svg = parseXml(fs.readFileSync(path.join(out, 'confusion.svg'), 'utf8'));
    assert.equal(svg.name, 'svg');
    const metrics = JSON.parse(fs.readFileSync(path.join(out, 'metrics.json'), 'utf8'));
    assert.deepEqual(metrics.confusion, want);
    assert.ok(Math.abs(metrics.top1Error - wrong / val.length) < 1e-12);
  });

  it('eval on CIFAR binaries with a .pth model (--model), the test split counted', async () => {
    const cifar = path.join(tmp, 'cifar');
    const written = await writeSyntheticCifar(cifar, { train: 5, test: 12, seed: 4 });
    const out = path.join(tmp, 'eval-cifar');
    const r = await cli([
      'eval',
      '--checkpoint',
      fixture('resnet8.pth'),
      '--model',
      'resnet8',
      '--data',
      written.folder as string,
      '--out',
      out,
      '--device',
      'cpu',
    ]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /CIFAR-10's usual statistics/);
    const test = await loadCifar('cifar10', written.folder as string, { split: 'test' });
    const m = load(fixture('resnet8.pth'), { model: 'resnet8' });
    const arrays = Array.from({ length: test.count }, (_, i) => test.images.subarray(i * 3072, (i + 1) * 3072));
    const top = await m.predict(arrays, { topk: 1 });
    m.dispose();
    const want = Array.from({ length: 10 }, () => new Array<number>(10).fill(0));
    top.forEach((t, i) => want[test.labels[i]][t[0].index]++);
    const csv = parseCsv(fs.readFileSync(path.join(out, 'confusion.csv'), 'utf8'));
    assert.deepEqual(
      csv.rows.map(([, counts]) => counts),
      want,
    );
    assert.deepEqual(
      csv.rows.map(([n]) => n),
      test.classNames,
    );
  });

  it('bad files exit 1 with one line; bad command lines exit 2', async () => {
    const one = (r: { err: string }) => assert.equal(r.err.trim().split('\n').length, 1, r.err);
    let r = await cli(['predict', '--checkpoint', path.join(tmp, 'missing'), '--device', 'cpu', val[0].file]);
    assert.equal(r.code, 1);
    one(r);
    assert.match(r.err, /missing: no such file or folder/);
    r = await cli(['predict', '--checkpoint', run, '--device', 'cpu', path.join(tmp, 'nope.png')]);
    assert.equal(r.code, 1);
    assert.match(r.err.split('\n').pop() as string, /nope\.png: cannot read the file/);
    fs.writeFileSync(path.join(tmp, 'bad.jpg'), 'not a jpeg at all');
    r = await cli(['predict', '--checkpoint', run, '--device', 'cpu', path.join(tmp, 'bad.jpg')]);
    assert.equal(r.code, 1);
    assert.match(r.err, /bad\.jpg: not a readable image/);
    const usage: [string[], RegExp][] = [
      [['predict', '--checkpoint', run], /no images given/],
      [['predict', val[0].file], /--checkpoint is required/],
      [['predict', '--checkpoint', run, '--topk', '0', val[0].file], /--topk must be >= 1/],
      [['predict', '--checkpoint', run, '--device', 'cpu', '--topk', '4', val[0].file], /--topk 4 is more than the model's 3 classes/],
      [['predict', '--checkpoint', fixture('resnet8.pth'), '--device', 'cpu', val[0].file], /--model is needed/],
      [['predict', '--checkpoint', run, '--colour', val[0].file], /Unknown option '--colour'/],
      [['eval', '--checkpoint', run], /--data is required/],
      [['eval', '--checkpoint', run, '--data', path.join(tmp, 'nowhere')], /--data: no such file or folder/],
    ];
    for (const [args, msg] of usage) {
      r = await cli(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
      assert.match(r.err, msg);
    }
  });
});
