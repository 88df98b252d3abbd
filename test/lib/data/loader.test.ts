// The batch loader and the augmentation it drives: crop/flip parameters in bounds and fair,
// flips that are exact mirrors, zero padding, normalised statistics, seeded reproducibility,
// shuffles that are permutations, drop-last, evaluation batches, and the prefetch's
// ownership rules (nothing leaks when a loop stops early).
import * as assert from 'node:assert/strict';

import {
  channelStats,
  CIFAR100_NORMALIZATION,
  CIFAR10_NORMALIZATION,
  CifarLoader,
  Dataset,
  drawAugmentParams,
  evalLoader,
  Rng,
  syntheticDataset,
} from '../../../lib/data';
import { create as createModel } from '../../../lib/models/resnet';
import { native } from '../../../lib/native';
import { Tensor, tidy } from '../../../lib/tensor';
import { describeDevices } from '../../helpers/devices';

const f = Math.fround;
const norm = (v: number, m: number, s: number): number => f(f(f(v / 255) - f(m)) / f(s));

/** Batch image j, channel c, as the contract says it must look (fp32, NCHW). */
function expectedImage(ds: Dataset, row: number, dy: number, dx: number, flip: number, pad: number, mean: number[], std: number[]): Float32Array {
  const out = new Float32Array(3072);
  for (let c = 0; c < 3; c++) {
    for (let y = 0; y < 32; y++) {
      for (let x = 0; x < 32; x++) {
        const sy = y + dy - pad,
          sx = (flip ? 31 - x : x) + dx - pad;
        const v = sy >= 0 && sy < 32 && sx >= 0 && sx < 32 ? ds.images[row * 3072 + c * 1024 + sy * 32 + sx] : 0;
        out[c * 1024 + y * 32 + x] = norm(v, mean[c], std[c]);
      }
    }
  }
  return out;
}

function collect<T>(it: Iterable<T>): T[] {
  return [...it];
}

describe('data: augmentation parameters', () => {
  it('crops stay in [0, 2 * pad], cover every offset, and flips are a fair coin', () => {
    for (const pad of [0, 1, 4, 7]) {
      const p = drawAugmentParams(new Rng(3, pad), 4000, { pad });
      const seen = new Set<number>();
      let flips = 0;
      for (let i = 0; i < 4000; i++) {
        for (const v of [p[i * 3], p[i * 3 + 1]]) {
          assert.ok(v >= 0 && v <= 2 * pad, `offset ${v} outside [0, ${2 * pad}]`);
          seen.add(v);
        }
        assert.ok(p[i * 3 + 2] === 0 || p[i * 3 + 2] === 1);
        flips += p[i * 3 + 2];
      }
      assert.equal(seen.size, 2 * pad + 1, `pad ${pad}: offsets seen ${[...seen]}`);
      // 4000 fair coins: 5 standard deviations is +-0.040.
      assert.ok(Math.abs(flips / 4000 - 0.5) < 0.04, `flip rate ${flips / 4000}`);
    }
  });

  it('crop: false takes the centre, flip: false never mirrors', () => {
    const p = drawAugmentParams(new Rng(1), 50, { pad: 4, crop: false, flip: false });
    for (let i = 0; i < 50; i++) assert.deepEqual([p[i * 3], p[i * 3 + 1], p[i * 3 + 2]], [4, 4, 0]);
    assert.throws(() => drawAugmentParams(new Rng(1), 5, { pad: 65 }), RangeError);
  });
});

describeDevices('data: CifarLoader', ({ device }) => {
  let ds: Dataset;
  before(() => {
    ds = syntheticDataset({ count: 300, seed: 5 });
  });
  const loaders: CifarLoader[] = [];
  const make = (opts: Partial<ConstructorParameters<typeof CifarLoader>[1]> = {}): CifarLoader => {
    const l = new CifarLoader(ds, { batchSize: 64, device, ...opts });
    loaders.push(l);
    return l;
  };
  afterEach(() => {
    while (loaders.length) loaders.pop()!.dispose();
  });

  it('each batch is exactly the augmented, normalised images of its rows, with their labels', () => {
    const l = make({ batchSize: 37, seed: 9 });
    const params = l.epochParams(2);
    const order = l.epochOrder(2);
    const { mean, std } = l.normalization;
    let pos = 0;
    for (const b of l.epoch(2)) {
      const x = b.x.handle.read() as Float32Array;
      assert.deepEqual(b.x.shape, [b.size, 3, 32, 32]);
      assert.deepEqual(Array.from(b.indices), Array.from(order.subarray(pos, pos + b.size)));
      assert.deepEqual(
        Array.from(b.y.handle.read()),
        Array.from(b.indices, (i) => ds.labels[i]),
      );
      for (let j = 0; j < b.size; j++) {
        const k = pos + j;
        const want = expectedImage(ds, b.indices[j], params[k * 3], params[k * 3 + 1], params[k * 3 + 2], 4, mean, std);
        assert.deepEqual(x.subarray(j * 3072, (j + 1) * 3072), want, `batch ${b.index} image ${j}`);
      }
      pos += b.size;
      b.dispose();
    }
    assert.equal(pos, 300);
  });

  it('a flip is an exact mirror and padded pixels hold (0 - mean) / std', () => {
    const l = make({ batchSize: 300, shuffle: false, seed: 4 });
    const plain = make({ batchSize: 300, shuffle: false, augment: { crop: false, flip: false } });
    const params = l.epochParams(0);
    const [b] = collect(l.epoch(0));
    const [p] = collect(plain.epoch(0));
    const x = b.x.handle.read() as Float32Array,
      ref = p.x.handle.read() as Float32Array;
    const { mean, std } = l.normalization;
    let mirrored = 0,
      padded = 0;
    for (let i = 0; i < 300; i++) {
      const [dy, dx, flip] = [params[i * 3], params[i * 3 + 1], params[i * 3 + 2]];
      for (let c = 0; c < 3; c++) {
        for (let y = 0; y < 32; y++) {
          for (let xx = 0; xx < 32; xx++) {
            const got = x[i * 3072 + c * 1024 + y * 32 + xx];
            // Undo the mirror, then the crop: the crop column, then the source pixel.
            const cx = flip ? 31 - xx : xx;
            const sy = y + dy - 4,
              sx = cx + dx - 4;
            if (sy < 0 || sy >= 32 || sx < 0 || sx >= 32) {
              assert.equal(got, norm(0, mean[c], std[c]));
              padded++;
            } else {
              assert.equal(got, ref[i * 3072 + c * 1024 + sy * 32 + sx]);
            }
          }
        }
      }
      if (flip && dx === 4 && dy === 4) {
        // Centre crop + flip: row by row the exact reverse of the unaugmented image.
        for (let r = 0; r < 96; r++) {
          const row = Array.from(x.subarray(i * 3072 + r * 32, i * 3072 + r * 32 + 32));
          assert.deepEqual(row.reverse(), Array.from(ref.subarray(i * 3072 + r * 32, i * 3072 + r * 32 + 32)));
        }
        mirrored++;
      }
    }
    assert.ok(padded > 0, 'no padded pixels were checked');
    assert.ok(mirrored > 0, 'no centre-crop flip was drawn');
    b.dispose();
    p.dispose();
  });

  it('evaluation batches are the normalised images in order, with zero mean and unit variance per channel', () => {
    const stats = channelStats(ds);
    const l = evalLoader(ds, { batchSize: 128, device, normalization: stats });
    loaders.push(l);
    const batches = collect(l.epoch(0));
    assert.deepEqual(
      batches.map((b) => b.size),
      [128, 128, 44],
    );
    const sums = [0, 0, 0],
      sq = [0, 0, 0];
    let row = 0;
    for (const b of batches) {
      const x = b.x.handle.read() as Float32Array;
      for (let j = 0; j < b.size; j++, row++) {
        assert.equal(b.indices[j], row);
        for (let c = 0; c < 3; c++) {
          for (let p = 0; p < 1024; p++) {
            const v = x[j * 3072 + c * 1024 + p];
            assert.equal(v, norm(ds.images[row * 3072 + c * 1024 + p], stats.mean[c], stats.std[c]));
            sums[c] += v;
            sq[c] += v * v;
          }
        }
      }
      b.dispose();
    }
    const n = 300 * 1024;
    for (let c = 0; c < 3; c++) {
      const m = sums[c] / n;
      assert.ok(Math.abs(m) < 1e-4, `channel ${c} mean ${m}`);
      assert.ok(Math.abs(Math.sqrt(sq[c] / n - m * m) - 1) < 1e-4, `channel ${c} std`);
    }
  });

  it('same seed, same batches; another seed or epoch, different ones', () => {
    const first = (l: CifarLoader, epoch: number): [number[], Float32Array] => {
      const it = l.epoch(epoch);
      const b = it.next().value!;
      it.return!();
      const out: [number[], Float32Array] = [Array.from(b.indices), b.x.handle.read() as Float32Array];
      b.dispose();
      return out;
    };
    const [ia, xa] = first(make({ seed: 21 }), 1);
    const [ib, xb] = first(make({ seed: 21 }), 1);
    const [ic, xc] = first(make({ seed: 22 }), 1);
    const [id] = first(make({ seed: 21 }), 2);
    assert.deepEqual(ia, ib);
    assert.deepEqual(xa, xb);
    assert.notDeepEqual(ia, ic);
    assert.notDeepEqual(xa, xc);
    assert.notDeepEqual(ia, id);
    // Epoch 1 does not depend on epoch 0 having been iterated.
    const l = make({ seed: 21 });
    for (const b of l.epoch(0)) b.dispose();
    assert.deepEqual(first(l, 1)[0], ia);
  });

  it('an epoch visits a permutation of the rows; without shuffle, in order', () => {
    const l = make({ batchSize: 50, seed: 8 });
    const seen: number[] = [];
    for (const b of l.epoch(0)) {
      seen.push(...b.indices);
      b.dispose();
    }
    assert.equal(seen.length, 300);
    assert.deepEqual(
      [...seen].sort((a, b) => a - b),
      Array.from({ length: 300 }, (_, i) => i),
    );
    assert.notDeepEqual(
      seen,
      Array.from({ length: 300 }, (_, i) => i),
    );
    assert.notDeepEqual(Array.from(l.epochOrder(1)), seen);
    const fixed = make({ shuffle: false });
    assert.deepEqual(
      Array.from(fixed.epochOrder(3)),
      Array.from({ length: 300 }, (_, i) => i),
    );
  });

  it('drop-last drops only the short final batch', () => {
    const keep = make({ batchSize: 64 });
    const drop = make({ batchSize: 64, dropLast: true });
    const sizes = (l: CifarLoader): number[] =>
      collect(l.epoch(0)).map((b) => {
        b.dispose();
        return b.size;
      });
    assert.deepEqual(sizes(keep), [64, 64, 64, 64, 44]);
    assert.deepEqual(sizes(drop), [64, 64, 64, 64]);
    assert.equal(drop.batchesPerEpoch, 4);
    assert.equal(drop.imagesPerEpoch, 256);
    assert.deepEqual(sizes(make({ batchSize: 100, dropLast: true })), [100, 100, 100]);
    assert.throws(() => make({ batchSize: 301, dropLast: true }), RangeError);
  });

  it('makes float16 / bfloat16 and NHWC batches', () => {
    const ref = make({ batchSize: 16, seed: 2 });
    const [r] = collect(ref.epoch(0)).slice(0, 1);
    const rx = r.x.handle.read() as Float32Array;
    for (const [dtype, tol] of [
      ['float16', 2e-3],
      ['bfloat16', 1.6e-2],
    ] as const) {
      const l = make({ batchSize: 16, seed: 2, dtype, layout: 'NHWC' });
      const it = l.epoch(0);
      const b = it.next().value!;
      it.return!();
      assert.equal(b.x.dtype, dtype);
      assert.equal(b.x.layout, 'NHWC');
      const x = b.x.handle.read() as Float32Array; // NHWC memory order
      for (let j = 0; j < 16; j++) {
        for (let c = 0; c < 3; c++) {
          for (let p = 0; p < 1024; p++) {
            const want = rx[j * 3072 + c * 1024 + p];
            const got = x[(j * 1024 + p) * 3 + c];
            assert.ok(Math.abs(got - want) <= tol * Math.max(1, Math.abs(want)), `${dtype} ${got} vs ${want}`);
          }
        }
      }
      b.dispose();
    }
  });

  it('prefetches one batch ahead and disposes it when the loop stops early', () => {
    const l = make({ batchSize: 32 });
    const base = native().memoryStats().liveTensors;
    const it = l.epoch(0);
    const b0 = it.next().value!;
    // b0 (x, y) plus the prefetched b1 (x, y).
    assert.equal(native().memoryStats().liveTensors, base + 4);
    b0.dispose();
    for (const b of { [Symbol.iterator]: () => it }) {
      assert.equal(b.index, 1);
      b.dispose();
      break; // calls it.return(), which disposes the prefetched batch 2
    }
    assert.equal(native().memoryStats().liveTensors, base);
    assert.equal(it.next().done, true);
  });

  it("evaluation without a normalization uses the dataset's fixed constants, not the evaluated data's statistics", () => {
    for (const kind of ['cifar10', 'cifar100'] as const) {
      const test = syntheticDataset({ kind, split: 'test', count: 40, seed: 9 });
      const l = evalLoader(test, { batchSize: 40, device });
      loaders.push(l);
      const expected = kind === 'cifar10' ? CIFAR10_NORMALIZATION : CIFAR100_NORMALIZATION;
      assert.deepEqual(l.normalization, { mean: [...expected.mean], std: [...expected.std] }, kind);
      assert.notDeepEqual(l.normalization, channelStats(test));
      const [b] = collect(l.epoch(0));
      const x = b.x.handle.read() as Float32Array;
      const row = b.indices[0];
      assert.equal(x[5], norm(test.images[row * 3072 + 5], expected.mean[0], expected.std[0]));
      b.dispose();
    }
  });

  it('hands out batches as Tensors that a model takes as they are', () => {
    const l = make({ batchSize: 8 });
    const it = l.epoch(0);
    const b = it.next().value!;
    it.return!();
    try {
      assert.ok(b.x instanceof Tensor && b.y instanceof Tensor);
      assert.deepEqual(b.x.shape, [8, 3, 32, 32]);
      assert.equal(b.y.dtype, 'int32');
      const model = createModel('resnet8', { classes: 10, seed: 1, device });
      try {
        const out = tidy(() => model.forward(b.x).shape);
        assert.deepEqual(out, [8, 10]);
      } finally {
        model.dispose();
      }
    } finally {
      b.dispose();
    }
    assert.ok(b.x.disposed && b.y.disposed, 'Batch.dispose() disposes both tensors');
  });

  it('rejects bad options', () => {
    assert.throws(
      () => make({ batchSize: 0 }),
      (e: Error) => e instanceof RangeError && e.message.includes("'batchSize'"),
    );
    assert.throws(
      () => make({ batchSize: 2.5 }),
      (e: Error) => e instanceof RangeError && e.message.includes("'batchSize'"),
    );
    assert.throws(
      () => make({ seed: -1 }),
      (e: Error) => e instanceof RangeError && e.message.includes("'seed'"),
    );
    assert.throws(
      () => make().epoch(-1),
      (e: Error) => e instanceof RangeError && e.message.includes("'epoch'"),
    );
    for (const normalization of [
      { mean: [0, 0, 0], std: [1, 0, 1] },
      { mean: [0, 0], std: [1, 1, 1] },
      { mean: [0, NaN, 0], std: [1, 1, 1] },
    ]) {
      assert.throws(
        () => make({ normalization }),
        (e: Error) => e instanceof RangeError && e.message.includes("'normalization'"),
      );
    }
  });
});
