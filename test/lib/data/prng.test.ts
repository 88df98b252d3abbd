// The data pipeline's seeded generator: reproducible, stream-separated, unbiased enough.
import * as assert from 'node:assert/strict';

import { Rng } from '../../../lib/data';

describe('data: Rng', () => {
  it('is reproducible by (seed, streams) and differs across seeds and streams', () => {
    const draw = (r: Rng): number[] => Array.from({ length: 8 }, () => r.nextUint32());
    assert.deepEqual(draw(new Rng(42)), draw(new Rng(42)));
    assert.deepEqual(draw(new Rng(42, 1, 7)), draw(new Rng(42, 1, 7)));
    const all = [draw(new Rng(42)), draw(new Rng(43)), draw(new Rng(42, 1)), draw(new Rng(42, 1, 0)), draw(new Rng(2 ** 40 + 42))];
    for (let i = 0; i < all.length; i++) for (let j = i + 1; j < all.length; j++) assert.notDeepEqual(all[i], all[j], `${i} vs ${j}`);
  });

  it('draws uniform floats in [0, 1) and integers in [0, n) without bias', () => {
    const r = new Rng(1);
    const counts = new Array(9).fill(0);
    const N = 90000;
    for (let i = 0; i < N; i++) {
      const u = r.nextFloat();
      assert.ok(u >= 0 && u < 1);
      counts[r.nextInt(9)]++;
    }
    // Chi-square with 8 degrees of freedom: 26.1 is its 0.999 quantile.
    const chi2 = counts.reduce((s, c) => s + (c - N / 9) ** 2 / (N / 9), 0);
    assert.ok(chi2 < 26.1, `chi2 ${chi2}, counts ${counts}`);
    let s = 0,
      s2 = 0;
    for (let i = 0; i < 20000; i++) {
      const z = r.nextNormal();
      s += z;
      s2 += z * z;
    }
    assert.ok(Math.abs(s / 20000) < 0.04 && Math.abs(s2 / 20000 - 1) < 0.06);
  });

  it('permutation() is a permutation, and different seeds give different ones', () => {
    const p = new Rng(5).permutation(1000);
    assert.deepEqual(
      Array.from(p).sort((a, b) => a - b),
      Array.from({ length: 1000 }, (_, i) => i),
    );
    assert.notDeepEqual(Array.from(p), Array.from(new Rng(6).permutation(1000)));
    // Every position is reached by element 0 about equally often over many small shuffles.
    const where = new Array(5).fill(0);
    const r = new Rng(9);
    for (let t = 0; t < 5000; t++) where[r.permutation(5).indexOf(0)]++;
    for (const w of where) assert.ok(Math.abs(w - 1000) < 150, `positions ${where}`);
  });

  it('rejects bad seeds and ranges', () => {
    assert.throws(() => new Rng(-1), RangeError);
    assert.throws(() => new Rng(1.5), RangeError);
    assert.throws(() => new Rng(1, 2 ** 32), RangeError);
    assert.throws(() => new Rng(1).nextInt(0), RangeError);
  });
});
