// The DataLoader over any SampleDataset and the CIFAR loader behind the same contract:
// normalised Tensor batches, seeded determinism, random access equal to iteration (resume
// mid-epoch), sharding as DistributedSampler, drop-last, prefetch ownership, bad samples.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';

import {
  CifarDataLoader, CifarLoader, cifarSamples, DataLoader, imageFolder, Sample, SampleDataset, shardOrder, syntheticDataset, TensorBatch, trainTransform,
} from '../../../lib/data';
import { native, NativeTensor } from '../../../lib/native';
import { Tensor } from '../../../lib/tensor';
import { tempDir, writeClassFolder } from '../../helpers/images';

const f = Math.fround;

/** The values of a batch tensor, whichever handle type the CIFAR loader hands out. */
function readAny(t: NativeTensor | Tensor): Float32Array {
  return (t instanceof Tensor ? t.handle : t).read() as Float32Array;
}

/** n tiny images whose pixels encode (index, channel, position); label = index % classes. */
function toyDataset(n: number, classes = 3, hw = 4): SampleDataset & { calls: number; get(i: number): Sample } {
  const ds = {
    length: n, classes, calls: 0,
    get(i: number): Sample {
      ds.calls++;
      const img = new Uint8Array(3 * hw * hw);
      for (let k = 0; k < img.length; k++) img[k] = (i * 7 + k) % 256;
      return { image: img, shape: [3, hw, hw], label: i % classes };
    },
  };
  return ds;
}

async function all(it: AsyncIterableIterator<TensorBatch>): Promise<{ indices: number[]; x: number[]; y: number[] }[]> {
  const out = [];
  for await (const b of it) {
    out.push({ indices: Array.from(b.indices), x: Array.from(await b.x.data()), y: Array.from(await b.y.data()) });
    b.dispose();
  }
  return out;
}

describe('data: DataLoader', function () {
  this.timeout(120000);

  it('batches are normalised Tensors [B, C, H, W] with int32 labels; CHW and HWC samples agree', async () => {
    const mean = [0.1, 0.5, 0.9];
    const std = [0.2, 0.3, 0.4];
    const ds = toyDataset(10);
    const l = new DataLoader(ds, { batchSize: 4, shuffle: false, normalization: { mean, std } });
    const b = await l.batch(0, 1);
    assert.deepEqual(b.x.shape, [4, 3, 4, 4]);
    assert.equal(b.x.dtype, 'float32');
    assert.deepEqual(Array.from(b.indices), [4, 5, 6, 7]);
    assert.deepEqual(Array.from(await b.y.data()), [1, 2, 0, 1]);
    const x = await b.x.data();
    for (let j = 0; j < 4; j++) {
      const img = ds.get(4 + j).image;
      for (let k = 0; k < 48; k++) {
        const c = Math.floor(k / 16);
        assert.equal(x[j * 48 + k], f(f(f(img[k] / 255) - f(mean[c])) / f(std[c])));
      }
    }
    // The same pixels interleaved (as decoders write them) give the same batch.
    const hwc: SampleDataset = {
      length: 10, classes: 3,
      get(i) {
        const chw = ds.get(i).image;
        const img = new Uint8Array(48);
        for (let c = 0; c < 3; c++) for (let p = 0; p < 16; p++) img[p * 3 + c] = chw[c * 16 + p];
        return Promise.resolve({ image: img, shape: [3, 4, 4], layout: 'HWC', label: i % 3 });
      },
    };
    const b2 = await new DataLoader(hwc, { batchSize: 4, shuffle: false, normalization: { mean, std } }).batch(0, 1);
    assert.deepEqual(await b2.x.data(), x);
    const half = await new DataLoader(ds, { batchSize: 4, shuffle: false, dtype: 'bfloat16', layout: 'NHWC' }).batch(0, 0);
    assert.deepEqual([half.x.dtype, half.x.layout], ['bfloat16', 'NHWC']);
    // float32 samples are used as they are.
    const floats: SampleDataset = { length: 2, get: (i) => ({ image: new Float32Array(12).fill(i + 0.25), shape: [3, 2, 2], label: i }) };
    const fb = await new DataLoader(floats, { batchSize: 2, shuffle: false }).batch(0, 0);
    assert.deepEqual(Array.from(await fb.x.data()), [...Array(12).fill(0.25), ...Array(12).fill(1.25)]);
    for (const t of [b, b2, half, fb]) t.dispose();
  });

  it('same seed, same batches; another seed, another order; batch(e, i) equals the i-th batch of the epoch (resume)', async () => {
    const ds = toyDataset(23);
    const a = await all(new DataLoader(ds, { batchSize: 5, seed: 3 }).epoch(2));
    const b = await all(new DataLoader(ds, { batchSize: 5, seed: 3, workers: 1, prefetch: 0 }).epoch(2));
    assert.deepEqual(a, b);
    assert.deepEqual(a.flatMap((x) => x.indices).sort((p, q) => p - q), Array.from({ length: 23 }, (_, i) => i));
    const c = await all(new DataLoader(ds, { batchSize: 5, seed: 4 }).epoch(2));
    assert.notDeepEqual(a.map((x) => x.indices), c.map((x) => x.indices));
    const nextEpoch = await all(new DataLoader(ds, { batchSize: 5, seed: 3 }).epoch(3));
    assert.notDeepEqual(a.map((x) => x.indices), nextEpoch.map((x) => x.indices));
    const fresh = new DataLoader(ds, { batchSize: 5, seed: 3 });
    const third = await fresh.batch(2, 3);
    assert.deepEqual(Array.from(third.indices), a[3].indices);
    assert.deepEqual(Array.from(await third.x.data()), a[3].x);
    third.dispose();
    assert.deepEqual(await all(fresh.epoch(2, 3)), a.slice(3));
  });

  it('image folders: augmented batches repeat exactly under a seed, also from a fresh loader mid-epoch', async () => {
    const root = tempDir('loader-images');
    try {
      await writeClassFolder(root, ['a', 'b', 'c'], 5, [37, 29], 'jpeg');
      const ds = imageFolder(root, { transform: trainTransform('torchvision', 16) });
      const run = async (from: number) => all(new DataLoader(ds, { batchSize: 4, seed: 9, workers: 3 }).epoch(1, from));
      const first = await run(0);
      assert.equal(first.length, 4);
      assert.deepEqual(await run(2), first.slice(2));
      const other = await all(new DataLoader(ds, { batchSize: 4, seed: 10 }).epoch(1));
      assert.notDeepEqual(first.map((b) => b.x), other.map((b) => b.x));
      for (const b of first) b.indices.forEach((i, k) => assert.equal(b.y[k], ds.samples[i].label));
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  it('shards by rank like DistributedSampler, with drop-last and wrap-around', async () => {
    const order = Int32Array.from([9, 8, 7, 6, 5, 4, 3]);
    assert.deepEqual(Array.from(shardOrder(order, 0, 3, false)), [9, 6, 3]);
    assert.deepEqual(Array.from(shardOrder(order, 2, 3, false)), [7, 4, 8]);  // padded with the order's start, as torch does
    assert.deepEqual(Array.from(shardOrder(order, 1, 3, true)), [8, 5]);
    const ds = toyDataset(24);
    const seen: number[] = [];
    for (let rank = 0; rank < 4; rank++) {
      const l = new DataLoader(ds, { batchSize: 3, seed: 1, rank, worldSize: 4 });
      assert.equal(l.batchesPerEpoch, 2);
      for (const b of await all(l.epoch(0))) seen.push(...b.indices);
    }
    assert.deepEqual(seen.sort((a, b) => a - b), Array.from({ length: 24 }, (_, i) => i));
    assert.throws(() => new DataLoader(ds, { batchSize: 3, rank: 4, worldSize: 4 }), /'rank' must be an integer in \[0, 4\)/);
  });

  it('drop-last, no shuffle, and a batch larger than the data', async () => {
    const ds = toyDataset(10);
    const kept = await all(new DataLoader(ds, { batchSize: 4, shuffle: false }).epoch(0));
    assert.deepEqual(kept.map((b) => b.indices.length), [4, 4, 2]);
    assert.deepEqual(kept[2].indices, [8, 9]);
    const dropped = new DataLoader(ds, { batchSize: 4, dropLast: true });
    assert.equal(dropped.batchesPerEpoch, 2);
    assert.equal(dropped.imagesPerEpoch, 8);
    assert.throws(() => new DataLoader(ds, { batchSize: 11, dropLast: true }), /leave no batch/);
  });

  it('a loop left early frees the prefetched batches; errors name the sample', async () => {
    const before = native().memoryStats().liveTensors;
    const l = new DataLoader(toyDataset(40, 3, 8), { batchSize: 4, prefetch: 3 });
    for await (const b of l.epoch(0)) {
      b.dispose();
      break;
    }
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(native().memoryStats().liveTensors, before);
    const mixed: SampleDataset = { length: 4, get: (i) => ({ image: new Uint8Array(i === 2 ? 12 : 27), shape: i === 2 ? [3, 2, 2] : [3, 3, 3], label: 0 }) };
    await assert.rejects(new DataLoader(mixed, { batchSize: 4, shuffle: false }).batch(0, 0), /sample 2 is uint8 CHW \[3, 2, 2\] but sample 0 .* \[3, 3, 3\]/);
    const badLabel: SampleDataset = { length: 2, classes: 2, get: () => ({ image: new Uint8Array(3), shape: [3, 1, 1], label: 2 }) };
    await assert.rejects(new DataLoader(badLabel, { batchSize: 2 }).batch(0, 0), /'label' must be an integer in \[0, 2\), got 2/);
    const failing: SampleDataset = { length: 3, get: (i) => (i === 1 ? Promise.reject(new Error('boom at 1')) : { image: new Uint8Array(3), shape: [3, 1, 1], label: 0 }) };
    await assert.rejects(all(new DataLoader(failing, { batchSize: 1, shuffle: false }).epoch(0)), /boom at 1/);
    assert.throws(() => new DataLoader({ length: 3 } as never, { batchSize: 1 }), TypeError);
    await assert.rejects(l.batch(0, 10), /'index' must be an integer in \[0, 10\)/);
  });
});

describe('data: CifarDataLoader', function () {
  this.timeout(120000);
  const ds = syntheticDataset({ count: 100, seed: 2 });

  it('gives exactly CifarLoader\'s batches, as Tensors', async () => {
    const ref = new CifarLoader(ds, { batchSize: 32, seed: 5 });
    const l = new CifarDataLoader(ds, { batchSize: 32, seed: 5 });
    try {
      const got = await all(l.epoch(1));
      assert.equal(got.length, 4);
      const order = ref.epochOrder(1);
      const params = ref.epochParams(1);
      for (let i = 0; i < 4; i++) {
        const b = ref.makeBatch(1, i, order, params);
        assert.deepEqual(got[i].indices, Array.from(b.indices));
        assert.deepEqual(got[i].x, Array.from(readAny(b.x)));
        b.dispose();
      }
    } finally {
      ref.dispose();
      l.dispose();
    }
  });

  it('shards keep each image\'s crop and split the epoch between ranks', async () => {
    const whole = new CifarDataLoader(ds, { batchSize: 100, seed: 1, shuffle: true });
    const full = (await all(whole.epoch(0)))[0];
    whole.dispose();
    const seen: number[] = [];
    for (let rank = 0; rank < 2; rank++) {
      const l = new CifarDataLoader(ds, { batchSize: 50, seed: 1, rank, worldSize: 2 });
      const [b] = await all(l.epoch(0));
      l.dispose();
      b.indices.forEach((row, k) => {
        const pos = rank + 2 * k;
        assert.equal(full.indices[pos], row);
        assert.deepEqual(b.x.slice(k * 3072, (k + 1) * 3072), full.x.slice(pos * 3072, (pos + 1) * 3072));
      });
      seen.push(...b.indices);
    }
    assert.equal(new Set(seen).size, 100);
  });

  it('a CIFAR split is also a SampleDataset for the generic DataLoader', async () => {
    const samples = cifarSamples(ds);
    assert.equal(samples.length, 100);
    const b = await new DataLoader(samples, { batchSize: 10, shuffle: false, normalization: { mean: [0, 0, 0], std: [1, 1, 1] } }).batch(0, 0);
    const x = await b.x.data();
    for (let k = 0; k < 3072 * 10; k += 101) assert.equal(x[k], f(ds.images[k] / 255));
    assert.deepEqual(Array.from(await b.y.data()), Array.from(ds.labels.subarray(0, 10)));
    b.dispose();
  });
});

