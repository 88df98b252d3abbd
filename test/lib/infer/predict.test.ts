// model.predict against a manual pipeline: the same pixels (decoded through the evaluation
// transform, or raw CIFAR-style arrays) normalised on the host, a forward pass in eval mode
// and a float64 softmax. Also the order and sum of the probabilities, modes restored, no
// leaked tensors, and every bad input refused with a named error.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { noGrad } from '../../../lib/autograd';
import { CIFAR10_NORMALIZATION, Normalization } from '../../../lib/data/augment';
import { decodeImage, DEFAULT_MAX_PIXELS } from '../../../lib/data/image-decode';
import { evalTransform, IMAGENET_NORMALIZATION } from '../../../lib/data/transforms';
import { inputNormalization, predict } from '../../../lib/infer/predict';
import { create, ResNet } from '../../../lib/models/resnet';
import { memory, Tensor, tidy } from '../../../lib/tensor';
import { rng } from '../../helpers/reference';
import { tempDir, writeImage } from '../../helpers/images';

const SIZE = 32;

/** Random CHW uint8 images. */
function randomImages(n: number, seed: number): Uint8Array[] {
  const r = rng(seed);
  return Array.from({ length: n }, () => Uint8Array.from({ length: 3 * SIZE * SIZE }, () => Math.floor(r() * 256)));
}

/** CHW uint8 -> normalised float32 CHW, on the host. */
function normalise(chw: Uint8Array, n: Normalization, size = SIZE): Float32Array {
  const plane = size * size;
  return Float32Array.from(chw, (v, i) => (v / 255 - n.mean[Math.floor(i / plane)]) / n.std[Math.floor(i / plane)]);
}

function hwcToChw(hwc: Uint8Array, size: number): Uint8Array {
  const out = new Uint8Array(hwc.length);
  for (let p = 0; p < size * size; p++) for (let c = 0; c < 3; c++) out[c * size * size + p] = hwc[p * 3 + c];
  return out;
}

/** Softmax rows of the model's logits for a normalised batch, in eval mode, float64. */
function manualProbabilities(model: ResNet, x: Float32Array, n: number, size = SIZE): number[][] {
  const was = model.training;
  model.eval();
  // tidy: the activations inside forward are freed here, not later by the garbage collector
  // (which would move the live-tensor count under a later test's feet).
  const logits = noGrad(() => tidy(() => Array.from(model.forward(Tensor.fromArray(x, [n, 3, size, size])).dataSync())));
  model.train(was);
  const c = logits.length / n;
  return Array.from({ length: n }, (_, i) => {
    const row = logits.slice(i * c, (i + 1) * c);
    const m = Math.max(...row);
    const e = row.map((v) => Math.exp(v - m));
    const s = e.reduce((a, b) => a + b, 0);
    return e.map((v) => v / s);
  });
}

function assertMatches(got: { index: number; probability: number }[][], want: number[][], what: string): void {
  assert.equal(got.length, want.length, what);
  got.forEach((top, i) => {
    const order = want[i].map((p, j) => [p, j]).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
    top.forEach((c, r) => {
      assert.equal(c.index, order[r][1], `${what}: image ${i}, rank ${r}`);
      assert.ok(Math.abs(c.probability - order[r][0]) < 1e-5, `${what}: image ${i}, rank ${r}: ${c.probability} vs ${order[r][0]}`);
    });
  });
}

describe('infer: model.predict', function () {
  this.timeout(120000);
  let model: ResNet;
  let dir: string;
  const images = randomImages(5, 7);
  const files: string[] = [];

  before(async () => {
    model = create('resnet8', { seed: 3 });
    dir = tempDir('predict');
    // Larger than the crop and not square, so the resize and centre crop do something.
    for (const [i, fmt] of (['png', 'jpeg', 'webp'] as const).entries()) {
      const w = 40 + 3 * i;
      const h = 45;
      const r = rng(100 + i);
      const px = Uint8Array.from({ length: w * h * 3 }, () => Math.floor(r() * 256));
      const file = path.join(dir, `img${i}.${fmt === 'jpeg' ? 'jpg' : fmt}`);
      await writeImage(file, px, w, h, 3, fmt);
      files.push(file);
    }
  });
  after(() => {
    model.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('CIFAR-style arrays: the classes and probabilities of a manual forward + softmax', async () => {
    const r = await model.predict(images, { topk: 10 });
    const x = new Float32Array(images.length * 3 * SIZE * SIZE);
    images.forEach((im, i) => x.set(normalise(im, CIFAR10_NORMALIZATION), i * im.length));
    assertMatches(r, manualProbabilities(model, x, images.length), 'arrays');
    assert.equal(r.normalization?.source, 'cifar10');
    assert.equal(r.imageSize, SIZE);
  });

  it('a Tensor batch is the model input as it is', async () => {
    const x = new Float32Array(images.length * 3 * SIZE * SIZE);
    images.forEach((im, i) => x.set(normalise(im, IMAGENET_NORMALIZATION), i * im.length));
    const t = Tensor.fromArray(x, [images.length, 3, SIZE, SIZE]);
    const r = await model.predict(t, { topk: 3 });
    t.dispose();
    assertMatches(r, manualProbabilities(model, x, images.length), 'tensor');
    assert.equal(r.normalization, null);
  });

  it('files and Buffers (PNG, JPEG, WebP) go through the evaluation transform; both give the same', async () => {
    const norm = { mean: [0.5, 0.4, 0.3], std: [0.2, 0.25, 0.3] };
    const byPath = await model.predict(files, { topk: 4, normalization: norm });
    const byBuffer = await predict(
      model,
      files.map((f) => fs.readFileSync(f)),
      { topk: 4, normalization: norm },
    );
    assert.deepEqual(byBuffer, byPath);
    assert.equal(byPath.normalization?.source, 'option');
    const x = new Float32Array(files.length * 3 * SIZE * SIZE);
    for (const [i, f] of files.entries()) {
      const img = await decodeImage(f, evalTransform(SIZE), undefined, { maxPixels: DEFAULT_MAX_PIXELS });
      assert.deepEqual([img.width, img.height], [SIZE, SIZE]);
      x.set(normalise(hwcToChw(img.data, SIZE), norm), i * 3 * SIZE * SIZE);
    }
    assertMatches(byPath, manualProbabilities(model, x, files.length), 'files');
  });

  it('mixes paths, Buffers and arrays in one call, in input order, over several batches', async () => {
    const mixed = [files[0], images[0], fs.readFileSync(files[1]), images[1], files[2]];
    const all = await model.predict(mixed, { topk: 2, batchSize: 2 });
    const one = await Promise.all(mixed.map(async (m) => (await model.predict([m], { topk: 2 }))[0]));
    assert.equal(all.length, 5);
    all.forEach((top, i) => {
      assert.deepEqual(
        top.map((c) => c.index),
        one[i].map((c) => c.index),
      );
      top.forEach((c, r) => assert.ok(Math.abs(c.probability - one[i][r].probability) < 1e-6));
    });
  });

  it('top-k: most probable first, names from the option, all classes sum to 1', async () => {
    const names = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j'];
    const r = await model.predict(images, { topk: 10, classes: names });
    for (const top of r) {
      for (let k = 1; k < top.length; k++) assert.ok(top[k - 1].probability >= top[k].probability);
      assert.ok(Math.abs(top.reduce((s, c) => s + c.probability, 0) - 1) < 1e-9);
      for (const c of top) assert.equal(c.name, names[c.index]);
    }
    const dflt = await model.predict(images[0]);
    assert.equal(dflt[0].length, 5, 'default topk 5');
    assert.equal(dflt[0][0].name, String(dflt[0][0].index), 'default names are indices');
  });

  it("uses model.meta: the run's class names and statistics", async () => {
    const stats = { mean: [0.3, 0.3, 0.3], std: [0.4, 0.4, 0.4] };
    model.meta = { classNames: 'abcdefghij'.split(''), normalization: stats };
    try {
      const r = await model.predict(images.slice(0, 2), { topk: 10 });
      assert.equal(r.normalization?.source, 'checkpoint');
      assert.deepEqual(r.normalization?.mean, stats.mean);
      const x = new Float32Array(2 * 3 * SIZE * SIZE);
      images.slice(0, 2).forEach((im, i) => x.set(normalise(im, stats), i * im.length));
      assertMatches(r, manualProbabilities(model, x, 2), 'meta');
      assert.equal(r[0][0].name, 'abcdefghij'[r[0][0].index]);
    } finally {
      model.meta = {};
    }
    const big = create('resnet18', { init: false, seed: 0, classes: 4 });
    assert.equal(inputNormalization(big).source, 'imagenet');
    assert.deepEqual(inputNormalization(big).std, IMAGENET_NORMALIZATION.std);
    big.dispose();
  });

  it("restores every module's mode, also after an error, and leaks no tensor", async () => {
    model.train();
    model.fc.training = false; // a mixed state must come back as it was
    const modes = () => model.namedModules().map(([n, m]) => `${n}:${m.training}`);
    const before = modes();
    const live = memory().liveTensors;
    await model.predict(images, { topk: 1 });
    await model.predict(files, { topk: 1 });
    const t = Tensor.zeros([2, 3, SIZE, SIZE]);
    await model.predict(t);
    t.dispose();
    await assert.rejects(model.predict([files[0], path.join(dir, 'missing.png')]));
    assert.deepEqual(modes(), before);
    // Calls awaited together: each runs in eval mode throughout, and the modes come back once all end.
    const together = await Promise.all([model.predict(images, { batchSize: 1 }), model.predict(images), model.predict(files, { batchSize: 2 })]);
    const alone = await model.predict(images);
    assert.deepEqual(together[0], alone);
    assert.deepEqual(together[1], alone);
    assert.deepEqual(modes(), before);
    assert.equal(memory().liveTensors, live);
    model.train();
  });

  it('refuses bad inputs with errors that say what and which', async () => {
    const rejects = (p: Promise<unknown>, check: Record<string, unknown>) =>
      assert.rejects(p, (e: Error) => {
        for (const [k, v] of Object.entries(check)) {
          const got = k === 'message' ? e.message : (e as unknown as Record<string, unknown>)[k];
          if (v instanceof RegExp) assert.match(String(got), v, `${k} of ${e.message}`);
          else assert.equal(got, v, `${k} of ${e.message}`);
        }
        return true;
      });
    await rejects(model.predict(path.join(dir, 'missing.png')), { code: 'ERR_IMAGE_READ', message: /missing\.png: cannot read the file/ });
    const corrupt = fs.readFileSync(files[0]).subarray(0, 60); // a PNG header, then nothing
    fs.writeFileSync(path.join(dir, 'corrupt.png'), corrupt);
    await rejects(model.predict(path.join(dir, 'corrupt.png')), { code: 'ERR_IMAGE_DECODE', message: /corrupt\.png/ });
    await rejects(model.predict([images[0], corrupt]), { code: 'ERR_IMAGE_DECODE', message: /images\[1\]/ });
    await rejects(model.predict([images[0], new Uint8Array(100)]), {
      name: 'RangeError',
      code: 'ERR_OUT_OF_RANGE',
      argument: 'images[1]',
      message: /holds 100 bytes: pixels must be 3 x 32 x 32 = 3072 bytes/,
    });
    await rejects(model.predict(images, { topk: 11 }), { name: 'RangeError', argument: 'options.topk', message: /<= the model's 10 classes/ });
    await rejects(model.predict(images, { topk: 0 }), { argument: 'options.topk' });
    await rejects(model.predict(images, { topK: 3 } as never), { code: 'ERR_UNKNOWN_OPTION', argument: 'options.topK', message: /did you mean 'topk'/ });
    await rejects(model.predict(images, { classes: ['a', 'b'] }), { argument: 'options.classes', message: /lists 2 names, the model has 10 classes/ });
    await rejects(model.predict(images, { batchSize: 0 }), { argument: 'options.batchSize' });
    await rejects(model.predict(images, { normalization: { mean: [0], std: [1] } }), { argument: 'options.normalization' });
    await rejects(model.predict([]), { argument: 'images', message: /empty list/ });
    await rejects(model.predict(42 as never), { name: 'TypeError', argument: 'images' });
    await rejects(model.predict([images[0], 7] as never), { name: 'TypeError', argument: 'images[1]' });
    const gone = Tensor.zeros([1, 3, SIZE, SIZE]);
    gone.dispose();
    await rejects(model.predict(gone), { argument: 'images', message: /disposed/ });
  });
});
