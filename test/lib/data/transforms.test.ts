// The geometric transforms' parameter rules against torchvision's (written out here from its
// documented algorithm), on random sizes including odd and tiny ones, and bad arguments.
import * as assert from 'node:assert/strict';

import {
  CenterCrop,
  Compose,
  evalTransform,
  Normalize,
  RandomCrop,
  RandomHorizontalFlip,
  RandomResizedCrop,
  Resize,
  Rng,
  trainTransform,
} from '../../../lib/data';
import { identityPlan, randomResizedCropBox, RandomShorterSide, roundHalfEven, shorterSideTo } from '../../../lib/data/transforms';

/** Python 3 round() through its definition: the nearest integer, ties to even. */
function pyRound(x: number): number {
  const lo = Math.floor(x);
  const hi = lo + 1;
  if (x - lo < hi - x) return lo;
  if (hi - x < x - lo) return hi;
  return lo % 2 === 0 ? lo : hi;
}

describe('data: transforms', () => {
  const rng = new Rng(11);
  const sizes = Array.from({ length: 60 }, () => [1 + rng.nextInt(700), 1 + rng.nextInt(700)] as [number, number]);

  it('roundHalfEven is Python 3 round()', () => {
    for (const x of [0.5, 1.5, 2.5, 3.5, -0.5, -1.5, 2.4999, 2.5001, 7, 10.5, 11.5]) assert.equal(roundHalfEven(x), pyRound(x), `round(${x})`);
    for (let i = 0; i < 1000; i++) {
      const x = (rng.nextInt(2001) - 1000) / 4;
      assert.equal(roundHalfEven(x), pyRound(x), `round(${x})`);
    }
  });

  it('Resize(int) sets the shorter side and truncates the longer, Resize([h, w]) is exact', () => {
    for (const [w, h] of sizes) {
      for (const s of [1, 7, 32, 256]) {
        const p = new Resize(s).plan(identityPlan(w, h));
        const [ew, eh] = w <= h ? [s, Math.max(1, Math.floor((s * h) / w))] : [Math.max(1, Math.floor((s * w) / h)), s];
        assert.deepEqual([p.width, p.height, p.resizeWidth, p.resizeHeight, p.left, p.top], [ew, eh, ew, eh, 0, 0], `${w}x${h} -> ${s}`);
        assert.deepEqual(shorterSideTo(w, h, s), [ew, eh]);
      }
      const p = new Resize([5, 9]).plan(identityPlan(w, h));
      assert.deepEqual([p.resizeWidth, p.resizeHeight], [9, 5]);
    }
  });

  it('CenterCrop offsets are round((dim - crop) / 2), and a larger crop pads floor((crop - dim) / 2) before', () => {
    for (const [w, h] of sizes) {
      for (const [ch, cw] of [
        [1, 1],
        [13, 8],
        [224, 224],
        [h, w],
        [h + 3, w + 2],
      ]) {
        const p = new CenterCrop([ch, cw]).plan(identityPlan(w, h));
        const left = cw > w ? -Math.floor((cw - w) / 2) : pyRound((w - cw) / 2);
        const top = ch > h ? -Math.floor((ch - h) / 2) : pyRound((h - ch) / 2);
        assert.deepEqual([p.left, p.top, p.width, p.height], [left, top, cw, ch], `${w}x${h} crop ${cw}x${ch}`);
      }
    }
  });

  it('RandomResizedCrop boxes follow get_params: inside the image, area and ratio in range, the fallback when ten draws miss', () => {
    const scale: [number, number] = [0.08, 1];
    const ratio: [number, number] = [3 / 4, 4 / 3];
    for (const [w, h] of sizes) {
      for (let k = 0; k < 20; k++) {
        const [left, top, cw, ch] = randomResizedCropBox(w, h, scale, ratio, rng);
        assert.ok(cw >= 1 && ch >= 1 && left >= 0 && top >= 0 && left + cw <= w && top + ch <= h, `${w}x${h}: box ${[left, top, cw, ch]}`);
        const fallback = left === Math.floor((w - cw) / 2) && top === Math.floor((h - ch) / 2) && (cw === w || ch === h);
        if (!fallback && w > 8 && h > 8) {
          // Rounding moves each side by at most 0.5 px.
          assert.ok(cw * ch <= w * h + 1 && (cw + 1) * (ch + 1) >= 0.08 * w * h, `${w}x${h}: area ${cw * ch}`);
          assert.ok((cw + 0.5) / Math.max(ch - 0.5, 0.5) >= 3 / 4 && (cw - 0.5) / (ch + 0.5) <= 4 / 3, `${w}x${h}: ratio ${cw}/${ch}`);
        }
      }
    }
    // A 1000 x 10 strip has no box in range: the central crop, aspect clamped to 4/3.
    assert.deepEqual(randomResizedCropBox(1000, 10, scale, ratio, new Rng(1)), [Math.floor((1000 - 13) / 2), 0, 13, 10]);
    assert.deepEqual(randomResizedCropBox(10, 1000, scale, ratio, new Rng(1)), [0, Math.floor((1000 - 13) / 2), 10, 13]);
    assert.deepEqual(randomResizedCropBox(1, 1, scale, ratio, new Rng(1)), [0, 0, 1, 1]);
  });

  it('RandomResizedCrop plans resize the whole image so the box lands on the output', () => {
    for (const [w, h] of sizes) {
      const seed = rng.nextInt(1000);
      const [left, top, cw, ch] = randomResizedCropBox(w, h, [0.08, 1], [3 / 4, 4 / 3], new Rng(seed));
      const p = new RandomResizedCrop(32).plan(identityPlan(w, h), new Rng(seed));
      assert.deepEqual([p.width, p.height], [32, 32]);
      assert.equal(p.resizeWidth, Math.max(1, Math.round((w * 32) / cw)));
      assert.equal(p.resizeHeight, Math.max(1, Math.round((h * 32) / ch)));
      assert.equal(p.left, Math.round((left * 32) / cw));
      assert.equal(p.top, Math.round((top * 32) / ch));
    }
  });

  it('RandomCrop and the paper recipe stay inside the image; flips are fair; p = 0 and 1 are exact', () => {
    const paper = trainTransform('paper', 224);
    let flips = 0;
    for (let i = 0; i < 2000; i++) {
      const [w, h] = sizes[i % sizes.length];
      const p = paper.plan(identityPlan(w, h), new Rng(5, i));
      const short = Math.min(p.resizeWidth, p.resizeHeight);
      assert.ok(short >= 256 && short <= 480, `shorter side ${short}`);
      assert.ok(p.left >= 0 && p.top >= 0 && p.left + 224 <= p.resizeWidth && p.top + 224 <= p.resizeHeight);
      flips += p.flip ? 1 : 0;
    }
    assert.ok(Math.abs(flips / 2000 - 0.5) < 0.06, `flip rate ${flips / 2000}`);
    const r = new Rng(2);
    for (let i = 0; i < 50; i++) {
      assert.equal(new RandomHorizontalFlip(0).plan(identityPlan(4, 4), r).flip, false);
      assert.equal(new RandomHorizontalFlip(1).plan(identityPlan(4, 4), r).flip, true);
    }
    // A crop taken after a flip is mirrored back onto the unflipped image.
    const flipped = new Compose([new RandomHorizontalFlip(1), new CenterCrop([4, 3])]).plan(identityPlan(10, 4), r);
    assert.deepEqual([flipped.left, flipped.width, flipped.flip], [10 - pyRound(3.5) - 3, 3, true]);
    const crop = new RandomCrop(5).plan(identityPlan(3, 9), new Rng(1));
    assert.equal(crop.left, -1); // narrower than the crop: centred with zero padding
  });

  it('the same seed gives the same plans; presets and eval sizes', () => {
    const t = trainTransform('torchvision', 64);
    for (const [w, h] of sizes.slice(0, 10)) assert.deepEqual(t.plan(identityPlan(w, h), new Rng(9, w)), t.plan(identityPlan(w, h), new Rng(9, w)));
    assert.match(t.name, /^Compose\(\[RandomResizedCrop\(64, scale=\[0.08,1\], ratio=\[0.75, 1.3333\]\), RandomHorizontalFlip\(0.5\)\]\)$/);
    assert.equal(evalTransform(224).name, 'Compose([Resize(256), CenterCrop(224)])');
    assert.equal(evalTransform(32).name, 'Compose([Resize(37), CenterCrop(32)])');
    assert.equal(trainTransform('none', 32).name, evalTransform(32).name);
    const s = new RandomShorterSide(3, 3).plan(identityPlan(10, 20), new Rng(0));
    assert.deepEqual([s.width, s.height], [3, 6]);
  });

  it('refuses bad arguments with RangeError / TypeError naming them', () => {
    const bad = (op: string, argument: string, name = 'RangeError') => ({ name, op, argument }) as never;
    assert.throws(() => new Resize(0), bad('Resize', 'size'));
    assert.throws(() => new CenterCrop([1, 2, 3] as unknown as [number, number]), bad('CenterCrop', 'size'));
    assert.throws(() => new RandomResizedCrop(8, { scale: [0.5, 0.1] }), bad('RandomResizedCrop', 'scale'));
    assert.throws(() => new RandomResizedCrop(8, { ratio: [0, 1] }), bad('RandomResizedCrop', 'ratio'));
    assert.throws(() => new RandomHorizontalFlip(2), bad('RandomHorizontalFlip', 'p'));
    assert.throws(() => new RandomShorterSide(9, 3), bad('RandomShorterSide', 'min'));
    assert.throws(() => new Normalize([0.5], [0]), bad('Normalize', 'std'));
    assert.throws(() => new Compose([{} as never]), { name: 'TypeError', op: 'Compose', argument: 'transforms[0]' } as never);
    assert.throws(() => trainTransform('imagenet' as never), bad('trainTransform', 'preset'));
    const n = new Compose([new Resize(8), new Normalize([0.1, 0.2, 0.3], [1, 2, 3])]);
    assert.deepEqual(n.normalize?.std, [1, 2, 3]);
  });
});
