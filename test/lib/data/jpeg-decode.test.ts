// JPEG through libjpeg-turbo in the addon (lib/data/jpeg-decode.ts), on files made here by
// sharp from known pixels (and two cjpeg fixtures with restart markers): full decodes
// against sharp's, crops and DCT-scaled crops against the full decode, the loader's pipeline
// against a full decode + resize, the files it leaves to sharp, corrupt files, and the
// bindings' argument checks. Skipped where the addon was built without libjpeg-turbo.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { CenterCrop, Compose, imageList, RandomHorizontalFlip, RandomResizedCrop, Resize, Rng } from '../../../lib/data';
import { decodePool, runFastJob } from '../../../lib/data/decode-pool';
import { ImageError } from '../../../lib/data/image-decode';
import { isJpeg, jpegDecoderVersion, jpegDenom, planJpeg } from '../../../lib/data/jpeg-decode';
import { applyPlan, planTaps, resampleRegion } from '../../../lib/data/resample';
import { identityPlan, RandomShorterSide, Transform, transformSpec } from '../../../lib/data/transforms';
import { native } from '../../../lib/native';
import { sharp, tempDir } from '../../helpers/images';
import { assertArgError } from '../../helpers/reference';

const FIXTURES = path.join(__dirname, '..', '..', '..', '..', 'test', 'fixtures', 'jpeg');
const BIG = 65535 * 65535;
// Bounds (levels of 0..255) on these noisy files. Against sharp's decode of the same file:
// identical (libvips runs libjpeg-turbo with the same IDCT and upsampling).
const SHARP_MAX = 0;
const SHARP_MEAN = 0;
// DCT scaling then the triangle filter, against the triangle filter on the full decode
// (measured: mean up to 2.3, max 17 at 1/2 .. 1/8; exactly 0 without DCT scaling).
const PIPELINE_MAX = 24;
const PIPELINE_MEAN = 3;
// The loader against the sharp path (libvips' own shrink-on-load and linear kernel;
// measured: mean up to 4.4).
const LIBVIPS_MEAN = 6;

/** Smooth colour fields plus noise, like a photo's (a seeded LCG, so every run is the same). */
function photo(w: number, h: number, seed: number): Buffer {
  let s = seed >>> 0;
  const rand = (): number => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296;
  const px = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const o = (y * w + x) * 3;
      px[o] = 128 + 90 * Math.sin(x / 9 + seed) + rand() * 30 - 15;
      px[o + 1] = 128 + 90 * Math.cos(y / 7 - seed) + rand() * 30 - 15;
      px[o + 2] = ((x * 3 + y * 5) & 255) * 0.6 + rand() * 40;
    }
  }
  return px;
}

async function jpeg(w: number, h: number, seed: number, options: Record<string, unknown> = {}, channels: 1 | 3 = 3): Promise<Buffer> {
  const px = photo(w, h, seed);
  const img = sharp(px, { raw: { width: w, height: h, channels: 3 } });
  return (channels === 1 ? img.toColourspace('b-w') : img).jpeg({ quality: 90, ...options }).toBuffer();
}

/** Largest and mean absolute difference of two byte arrays of the same length. */
function diff(a: Uint8Array, b: Uint8Array): { max: number; mean: number } {
  assert.equal(a.length, b.length);
  let max = 0,
    sum = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    max = Math.max(max, d);
    sum += d;
  }
  return { max, mean: sum / a.length };
}

/** The window (left, top, w, h) of an interleaved RGB image `width` pixels wide. */
function windowOf(data: Uint8Array, width: number, left: number, top: number, w: number, h: number): Buffer {
  const out = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) out.set(data.subarray(((top + y) * width + left) * 3, ((top + y) * width + left + w) * 3), y * w * 3);
  return out;
}

describe('lib/data/jpeg-decode: JPEG through libjpeg-turbo', function () {
  this.timeout(120000);
  const addon = native();
  let dir = '';

  before(function () {
    if (!addon.buildInfo().jpeg) this.skip(); // built without libjpeg-turbo: JPEG goes through sharp (image-folder tests)
    dir = tempDir('jpeg');
  });
  after(() => dir && fs.rmSync(dir, { recursive: true, force: true }));

  it('buildInfo names the libjpeg-turbo version, and the loader uses it', () => {
    assert.match(addon.buildInfo().jpeg, /^\d+\.\d+\.\d+$/);
    assert.equal(jpegDecoderVersion(), addon.buildInfo().jpeg);
  });

  const kinds: [string, Record<string, unknown>, 1 | 3][] = [
    ['4:2:0', {}, 3],
    ['4:4:4', { chromaSubsampling: '4:4:4' }, 3],
    ['progressive', { progressive: true }, 3],
    ['grayscale', {}, 1],
  ];
  for (const [name, options, channels] of kinds) {
    it(`${name}: sharp's pixels, and crops and DCT-scaled crops equal to the same window of the full decode`, async () => {
      for (const [w, h] of [
        [301, 203],
        [64, 48],
        [17, 9],
        [1, 1],
      ]) {
        const buf = await jpeg(w, h, w + h, options, channels);
        assert.ok(isJpeg(buf));
        const info = addon.jpegInfo(buf, BIG);
        assert.deepEqual(info, { width: w, height: h, components: channels, progressive: name === 'progressive', unsupported: null });
        const full = addon.jpegDecode(buf, 1, 0, 0, w, h, BIG);
        const ref = await sharp(buf).toColourspace('srgb').raw().toBuffer();
        const d = diff(full, ref);
        assert.ok(d.max <= SHARP_MAX && d.mean <= SHARP_MEAN, `${name} ${w} x ${h} vs sharp: ${JSON.stringify(d)}`);
        if (channels === 1) for (let i = 0; i < full.length; i += 3) assert.ok(full[i] === full[i + 1] && full[i] === full[i + 2]);
        const rng = new Rng(11, w);
        for (const denom of [1, 2, 4, 8]) {
          const sw = Math.ceil(w / denom),
            sh = Math.ceil(h / denom);
          const scaled = addon.jpegDecode(buf, denom, 0, 0, sw, sh, BIG);
          for (let t = 0; t < 12; t++) {
            const left = rng.nextInt(sw),
              top = rng.nextInt(sh);
            const cw = 1 + rng.nextInt(sw - left),
              ch = 1 + rng.nextInt(sh - top);
            const crop = addon.jpegDecode(buf, denom, left, top, cw, ch, BIG);
            assert.deepEqual(Buffer.from(crop), windowOf(scaled, sw, left, top, cw, ch), `${name} ${w} x ${h} 1/${denom} (${left}, ${top}, ${cw}, ${ch})`);
          }
        }
      }
    });
  }

  it("restart markers (cjpeg fixtures): sharp's pixels, crops equal to the full decode", async () => {
    for (const name of ['restart-420.jpg', 'restart-progressive.jpg']) {
      const buf = fs.readFileSync(path.join(FIXTURES, name));
      const rst = buf.findIndex((v, i) => v === 0xff && buf[i + 1] >= 0xd0 && buf[i + 1] <= 0xd7);
      assert.ok(rst > 0, `${name} has restart markers`);
      const { width: w, height: h } = addon.jpegInfo(buf, BIG);
      const full = addon.jpegDecode(buf, 1, 0, 0, w, h, BIG);
      const d = diff(full, await sharp(buf).raw().toBuffer());
      assert.ok(d.max <= SHARP_MAX && d.mean <= SHARP_MEAN, `${name} vs sharp: ${JSON.stringify(d)}`);
      const crop = addon.jpegDecode(buf, 1, 17, 9, 20, 15, BIG);
      assert.deepEqual(Buffer.from(crop), windowOf(full, w, 17, 9, 20, 15));
    }
  });

  it('the pipeline (DCT scaling, crop, resize, flip) against a full decode + resize, within a stated bound', async () => {
    const buf = await jpeg(500, 375, 3);
    const full = { data: addon.jpegDecode(buf, 1, 0, 0, 500, 375, BIG), width: 500, height: 375 };
    const transforms: Transform[] = [
      new Compose([new RandomResizedCrop(224), new RandomHorizontalFlip()]),
      new Compose([new RandomResizedCrop(32), new RandomHorizontalFlip()]),
      new Compose([new Resize(256), new CenterCrop(224)]),
      new Compose([new Resize(64), new CenterCrop(56)]),
      new Compose([new Resize(150), new CenterCrop(128), new RandomHorizontalFlip()]),
      new Compose([new RandomShorterSide(256, 480), new CenterCrop(224)]),
    ];
    const denoms = new Set<number>();
    for (const t of transforms) {
      let worstMean = 0,
        worstMax = 0;
      for (let s = 0; s < 8; s++) {
        const planFor = (w: number, h: number) => t.plan(identityPlan(w, h), new Rng(5, s));
        const p = planJpeg(buf, planFor, BIG);
        assert.ok(p);
        denoms.add(jpegDenom(500, 375, p.plan));
        const out = p.render(new Uint8Array(p.plan.width * p.plan.height * 3));
        const d = diff(out, applyPlan(full, p.plan));
        worstMean = Math.max(worstMean, d.mean);
        worstMax = Math.max(worstMax, d.max);
        // With no DCT scaling the pipeline is exactly the full decode's.
        if (jpegDenom(500, 375, p.plan) === 1) assert.equal(d.max, 0, `${t.name} seed ${s}`);
      }
      assert.ok(worstMean <= PIPELINE_MEAN && worstMax <= PIPELINE_MAX, `${t.name}: mean ${worstMean}, max ${worstMax}`);
    }
    assert.deepEqual(
      [...denoms].sort((x, y) => x - y),
      [1, 2, 4, 8],
      'the transforms exercise every scale',
    );
  });

  it('the image loader: same plans as the sharp path, deterministic under a seed, the same in a worker', async () => {
    const file = path.join(dir, 'photo.jpg');
    fs.writeFileSync(file, await jpeg(500, 375, 8));
    const transform = new Compose([new RandomResizedCrop(224), new RandomHorizontalFlip()]);
    const fast = imageList([{ path: file, label: 0 }], { transform });
    const slow = imageList([{ path: file, label: 0 }], { transform, decoder: 'sharp' });
    for (let s = 0; s < 4; s++) {
      const a = await fast.get(0, { rng: new Rng(3, s) });
      const again = await fast.get(0, { rng: new Rng(3, s) });
      assert.deepEqual(Buffer.from(again.image), Buffer.from(a.image));
      const [m] = await fast.getMany([{ index: 0, context: { rng: new Rng(3, s) } }]);
      assert.deepEqual(Buffer.from(m.image), Buffer.from(a.image));
      const b = await slow.get(0, { rng: new Rng(3, s) });
      assert.deepEqual(a.shape, b.shape);
      const d = diff(a.image as Uint8Array, b.image as Uint8Array);
      assert.ok(d.mean <= LIBVIPS_MEAN, `seed ${s} vs the sharp path: ${JSON.stringify(d)}`);
    }
    const spec = JSON.stringify(transformSpec(transform));
    const job = { file, rng: new Rng(9).state(), maxPixels: 1e8 };
    const [viaPool] = await decodePool().decodeMany(spec, [job]);
    const here = runFastJob(spec, job);
    assert.ok(viaPool && 'data' in viaPool && here && 'data' in here, 'the worker decodes JPEG');
    assert.deepEqual(Buffer.from(viaPool.data), Buffer.from(here.data));
  });

  it('CMYK and files with an ICC profile are left to sharp, whole', async () => {
    const px = photo(40, 30, 1);
    const cmyk = await sharp(px, { raw: { width: 40, height: 30, channels: 3 } })
      .toColourspace('cmyk')
      .jpeg()
      .toBuffer();
    const icc = await sharp(px, { raw: { width: 40, height: 30, channels: 3 } })
      .withIccProfile('p3')
      .jpeg()
      .toBuffer();
    for (const [name, buf] of [
      ['cmyk', cmyk],
      ['icc', icc],
    ] as const) {
      assert.ok(addon.jpegInfo(buf, BIG).unsupported, name);
      assert.equal(
        planJpeg(buf, (w, h) => identityPlan(w, h), BIG),
        null,
      );
      const file = path.join(dir, `${name}.jpg`);
      fs.writeFileSync(file, buf);
      const transform = new Resize(20);
      const a = await imageList([{ path: file, label: 0 }], { transform }).get(0);
      const b = await imageList([{ path: file, label: 0 }], { transform, decoder: 'sharp' }).get(0);
      assert.deepEqual(Buffer.from(a.image), Buffer.from(b.image), name);
    }
    assert.throws(() => addon.jpegDecode(cmyk, 1, 0, 0, 1, 1, BIG), { code: 'ERR_JPEG_UNSUPPORTED' });
  });

  it("corrupt, truncated, empty and non-JPEG data: libjpeg's message, whatever the window", async () => {
    const good = await jpeg(120, 90, 4);
    const truncated = good.subarray(0, Math.floor(good.length * 0.6));
    assert.deepEqual(addon.jpegInfo(truncated, BIG).width, 120); // the header is whole
    for (const [left, top] of [
      [0, 0],
      [100, 80],
    ]) {
      assert.throws(() => addon.jpegDecode(truncated, 1, left, top, 8, 8, BIG), { code: 'ERR_JPEG_DECODE', message: /Premature end/ });
      assert.throws(() => addon.jpegDecode(truncated, 4, left / 4, top / 4, 2, 2, BIG), { code: 'ERR_JPEG_DECODE', message: /Premature end/ });
    }
    const marked = Buffer.from(good);
    marked[good.length - 200] = 0xff; // a marker inside the entropy-coded data
    marked[good.length - 199] = 0xd3;
    assert.throws(() => addon.jpegDecode(marked, 1, 0, 0, 4, 4, BIG), { code: 'ERR_JPEG_DECODE', message: /Corrupt JPEG data/ });
    assert.throws(() => addon.jpegInfo(Buffer.alloc(0), BIG), { code: 'ERR_JPEG_DECODE' });
    assert.throws(() => addon.jpegInfo(Buffer.from('\x89PNG\r\n\x1a\n', 'latin1'), BIG), { code: 'ERR_JPEG_DECODE', message: /Not a JPEG file/ });
    assert.throws(() => addon.jpegInfo(good.subarray(0, 40), BIG), { code: 'ERR_JPEG_DECODE' });
  });

  it('in an image folder: an ImageError naming the file, or skipped and counted (onError)', async () => {
    const good = path.join(dir, 'good.jpg');
    const bad = path.join(dir, 'truncated.jpg');
    const empty = path.join(dir, 'empty.jpg');
    const buf = await jpeg(120, 90, 5);
    fs.writeFileSync(good, buf);
    fs.writeFileSync(bad, buf.subarray(0, buf.length - 300));
    fs.writeFileSync(empty, Buffer.alloc(0));
    const transform = new Compose([new RandomResizedCrop(32), new RandomHorizontalFlip()]);
    const raising = imageList(
      [
        { path: bad, label: 0 },
        { path: good, label: 1 },
        { path: empty, label: 0 },
      ],
      { transform },
    );
    const isDecodeError = (e: unknown): boolean =>
      e instanceof ImageError && e.code === 'ERR_IMAGE_DECODE' && e.file === bad && /Premature end/.test(e.message);
    await assert.rejects(raising.get(0, { rng: new Rng(1) }), isDecodeError);
    await assert.rejects(raising.getMany([{ index: 1 }, { index: 0 }]), isDecodeError);
    await assert.rejects(raising.get(2), (e: unknown) => e instanceof ImageError && e.code === 'ERR_IMAGE_EMPTY' && e.file === empty);
    const skippedFiles: string[] = [];
    const skipping = imageList(
      [
        { path: bad, label: 0 },
        { path: good, label: 1 },
      ],
      { transform, onError: 'skip', onSkip: (e) => skippedFiles.push(e.file) },
    );
    const [viaMany] = await skipping.getMany([{ index: 0, context: { rng: new Rng(2) } }]);
    const viaGet = await skipping.get(0, { rng: new Rng(2) });
    assert.equal(viaMany.label, 1);
    assert.deepEqual(Buffer.from(viaGet.image), Buffer.from(viaMany.image));
    assert.deepEqual(skippedFiles, [bad]);
    assert.deepEqual([...skipping.skipped.keys()], [bad]);
  });

  it('huge dimensions are refused from the header, before anything is allocated', async () => {
    const buf = Buffer.from(await jpeg(16, 16, 6));
    const sof = buf.findIndex((v, i) => v === 0xff && buf[i + 1] === 0xc0);
    buf.writeUInt16BE(60000, sof + 5);
    buf.writeUInt16BE(60000, sof + 7);
    assert.throws(() => addon.jpegInfo(buf, 89_478_485), { code: 'ERR_JPEG_DECODE', message: /60000 x 60000 pixels, more than the limit of 89478485/ });
    assert.throws(() => addon.jpegDecode(buf, 8, 0, 0, 1, 1, 89_478_485), { code: 'ERR_JPEG_DECODE', message: /more than the limit/ });
    const file = path.join(dir, 'huge.jpg');
    fs.writeFileSync(file, buf);
    await assert.rejects(imageList([{ path: file, label: 0 }]).get(0), (e: unknown) => e instanceof ImageError && e.code === 'ERR_IMAGE_TOO_LARGE');
  });

  it("resampleRgb gives resampleRegion's bytes (random sizes, crops, flips), and reads only the pixels it is given", () => {
    const rng = new Rng(21);
    let checked = 0;
    for (let t = 0; t < 40; t++) {
      const w = 1 + rng.nextInt(120),
        h = 1 + rng.nextInt(90);
      const crop = new Compose([new RandomResizedCrop([1 + rng.nextInt(60), 1 + rng.nextInt(60)]), new RandomHorizontalFlip()]);
      const plan = crop.plan(identityPlan(w, h), rng);
      const taps = planTaps({ width: w, height: h, extentWidth: w, extentHeight: h }, plan);
      if (!taps) continue;
      const r = taps.region;
      const region = windowOf(photo(w, h, t), w, r.left, r.top, r.width, r.height);
      const js = resampleRegion({ data: region, width: r.width, height: r.height }, taps, plan, new Uint8Array(plan.width * plan.height * 3));
      const out = new Uint8Array(plan.width * plan.height * 3);
      const { tx, ty } = taps;
      const args = [tx.start, tx.count, tx.weights, tx.maxTaps, ty.start, ty.count, ty.weights, ty.maxTaps] as const;
      addon.resampleRgb(region, r.width, r.height, r.left, r.top, ...args, out, plan.width, taps.x0 - plan.left, taps.y0 - plan.top, plan.flip);
      assert.deepEqual(Buffer.from(out), Buffer.from(js), `${w} x ${h}, ${JSON.stringify(plan)}`);
      checked++;
      if (checked === 1) {
        assertArgError(() => addon.resampleRgb(region, r.width, r.height, r.left + 1, r.top, ...args, out, plan.width, 0, 0, false), RangeError, {
          op: 'resampleRgb',
          argument: 'xStart',
        });
        assertArgError(() => addon.resampleRgb(region, r.width, r.height, r.left, r.top, ...args, out.subarray(3), plan.width, 0, 0, false), RangeError, {
          op: 'resampleRgb',
          argument: 'out',
        });
      }
    }
    assert.ok(checked > 30);
  });

  it('bad arguments to the bindings', async () => {
    const buf = await jpeg(20, 10, 7);
    assertArgError(() => addon.jpegInfo('x' as unknown as Uint8Array, BIG), TypeError, { op: 'jpegInfo', argument: 'data' });
    assertArgError(() => addon.jpegInfo(buf, 0), RangeError, { op: 'jpegInfo', argument: 'maxPixels' });
    assertArgError(() => addon.jpegDecode(new Float32Array(4) as unknown as Uint8Array, 1, 0, 0, 1, 1, BIG), TypeError, { op: 'jpegDecode', argument: 'data' });
    assertArgError(() => addon.jpegDecode(buf, 3, 0, 0, 1, 1, BIG), RangeError, { op: 'jpegDecode', argument: 'denom' }, 'must be 1, 2, 4 or 8');
    assertArgError(() => addon.jpegDecode(buf, 1, -1, 0, 1, 1, BIG), RangeError, { op: 'jpegDecode', argument: 'left' });
    assertArgError(() => addon.jpegDecode(buf, 1, 0, 0, 0, 1, BIG), RangeError, { op: 'jpegDecode', argument: 'width' });
    assertArgError(() => addon.jpegDecode(buf, 1, 15, 0, 6, 1, BIG), RangeError, { op: 'jpegDecode', argument: 'window' }, 'does not fit');
    assertArgError(() => addon.jpegDecode(buf, 2, 0, 5, 1, 1, BIG), RangeError, { op: 'jpegDecode', argument: 'window' });
    assert.throws(() => (addon.jpegDecode as unknown as (b: Buffer) => void)(buf), TypeError);
  });
});
