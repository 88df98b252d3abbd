// The small-PNG fast path (worker threads, no libvips) against the sharp path on files made
// here: the decoder on every colour type, bit depth and filter gives sharp's pixels exactly;
// what it leaves to sharp it leaves whole; crops, padding and flips are identical on both
// paths; a resize is PIL's bilinear filter (checked against a direct computation of it) and
// stays within a measured bound of libvips' linear kernel.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';

import { CenterCrop, Compose, imageList, RandomCrop, RandomHorizontalFlip, RandomResizedCrop, Resize, Rng } from '../../../lib/data';
import { DecodePool, decodePool, runFastJob } from '../../../lib/data/decode-pool';
import { decodePng } from '../../../lib/data/png-decode';
import { applyPlan } from '../../../lib/data/resample';
import { CropPlan, identityPlan, RandomShorterSide, Transform, transformFromSpec, transformSpec } from '../../../lib/data/transforms';
import { sharp, tempDir, writeImage } from '../../helpers/images';

interface PngSpec {
  width: number;
  height: number;
  type: 0 | 2 | 3 | 4 | 6;
  depth: 1 | 2 | 4 | 8 | 16;
  /** Sample values per pixel and channel, row-major. */
  samples: number[];
  palette?: number[];
  trns?: Buffer;
  extra?: [string, Buffer][];
}

const CHANNELS = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

function chunk(type: string, data: Buffer): Buffer {
  const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  td.copy(out, 4);
  out.writeUInt32BE(zlib.crc32(td), 8 + data.length);
  return out;
}

/** A PNG written byte by byte; row y uses filter y % 5, so every filter type is decoded. */
function encodePng(s: PngSpec): Buffer {
  const ch = CHANNELS[s.type];
  const rowBytes = Math.ceil((s.width * ch * s.depth) / 8);
  const bpp = Math.max(1, (ch * s.depth) >> 3);
  const rows: Buffer[] = [];
  for (let y = 0; y < s.height; y++) {
    const row = Buffer.alloc(rowBytes);
    for (let x = 0; x < s.width; x++) {
      for (let c = 0; c < ch; c++) {
        const v = s.samples[(y * s.width + x) * ch + c];
        const i = x * ch + c;
        if (s.depth === 16) row.writeUInt16BE(v, i * 2);
        else if (s.depth === 8) row[i] = v;
        else row[(i * s.depth) >> 3] |= v << (8 - s.depth - ((i * s.depth) & 7));
      }
    }
    rows.push(row);
  }
  const raw: number[] = [];
  rows.forEach((row, y) => {
    const f = y % 5;
    const up = y > 0 ? rows[y - 1] : Buffer.alloc(rowBytes);
    raw.push(f);
    for (let i = 0; i < rowBytes; i++) {
      const a = i >= bpp ? row[i - bpp] : 0;
      const b = up[i];
      const c = i >= bpp ? up[i - bpp] : 0;
      const p = a + b - c;
      const pred = [
        0,
        a,
        b,
        (a + b) >> 1,
        Math.abs(p - a) <= Math.abs(p - b) && Math.abs(p - a) <= Math.abs(p - c) ? a : Math.abs(p - b) <= Math.abs(p - c) ? b : c,
      ][f];
      raw.push((row[i] - pred) & 255);
    }
  });
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(s.width, 0);
  ihdr.writeUInt32BE(s.height, 4);
  ihdr.set([s.depth, s.type, 0, 0, 0], 8);
  return Buffer.concat([
    Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]),
    chunk('IHDR', ihdr),
    ...(s.extra ?? []).map(([t, d]) => chunk(t, d)),
    ...(s.palette ? [chunk('PLTE', Buffer.from(s.palette))] : []),
    ...(s.trns ? [chunk('tRNS', s.trns)] : []),
    chunk('IDAT', zlib.deflateSync(Buffer.from(raw))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

function randomSamples(n: number, max: number, seed: number): number[] {
  const r = new Rng(seed);
  return Array.from({ length: n }, () => r.nextInt(max + 1));
}

/** What the sharp path decodes a file to before any transform (alpha dropped, sRGB). */
async function sharpPixels(buf: Buffer): Promise<Buffer> {
  return sharp(buf).removeAlpha().toColourspace('srgb').raw().toBuffer();
}

/** PIL's bilinear resize of the whole image to the plan's size, then its window, computed directly per output pixel. */
function pilReference(src: Uint8Array, width: number, height: number, p: CropPlan): number[] {
  const taps = (n: number, out: number, i: number): [number, number][] => {
    const scale = n / out;
    const support = Math.max(scale, 1);
    const centre = (i + 0.5) * scale;
    const ws: [number, number][] = [];
    for (let j = Math.max(0, Math.floor(centre - support + 0.5)); j < Math.min(n, Math.ceil(centre + support + 0.5)); j++) {
      ws.push([j, Math.max(0, 1 - Math.abs((j + 0.5 - centre) / support))]);
    }
    const total = ws.reduce((t, [, w]) => t + w, 0);
    return ws.map(([j, w]) => [j, w / total]);
  };
  const out: number[] = [];
  for (let y = 0; y < p.height; y++) {
    for (let x = 0; x < p.width; x++) {
      const rx = p.left + (p.flip ? p.width - 1 - x : x);
      const ry = p.top + y;
      for (let c = 0; c < 3; c++) {
        if (rx < 0 || ry < 0 || rx >= p.resizeWidth || ry >= p.resizeHeight) {
          out.push(0);
          continue;
        }
        let v = 0;
        for (const [sy, wy] of taps(height, p.resizeHeight, ry))
          for (const [sx, wx] of taps(width, p.resizeWidth, rx)) v += wy * wx * src[(sy * width + sx) * 3 + c];
        out.push(Math.min(255, Math.max(0, Math.round(v))));
      }
    }
  }
  return out;
}

describe('data: small-PNG fast path', function () {
  this.timeout(120000);
  let root: string;
  before(() => {
    root = tempDir('png-fast');
  });
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  it("decodes every colour type, bit depth and filter to sharp's pixels exactly", async () => {
    const cases: PngSpec[] = [];
    for (const [w, h] of [
      [1, 1],
      [7, 5],
      [16, 11],
    ]) {
      const n = w * h;
      for (const depth of [1, 2, 4, 8, 16] as const) cases.push({ width: w, height: h, type: 0, depth, samples: randomSamples(n, 2 ** depth - 1, depth) });
      for (const depth of [8, 16] as const) {
        cases.push({ width: w, height: h, type: 2, depth, samples: randomSamples(n * 3, 2 ** depth - 1, 30 + depth) });
        cases.push({ width: w, height: h, type: 4, depth, samples: randomSamples(n * 2, 2 ** depth - 1, 40 + depth) });
        cases.push({ width: w, height: h, type: 6, depth, samples: randomSamples(n * 4, 2 ** depth - 1, 50 + depth) });
      }
      for (const depth of [1, 2, 4, 8] as const) {
        const colours = 2 ** depth;
        const palette = randomSamples(colours * 3, 255, 60 + depth);
        cases.push({ width: w, height: h, type: 3, depth, samples: randomSamples(n, colours - 1, 70 + depth), palette });
        cases.push({ width: w, height: h, type: 3, depth, samples: randomSamples(n, colours - 1, 80 + depth), palette, trns: Buffer.from([0, 128]) });
      }
      cases.push({ width: w, height: h, type: 2, depth: 8, samples: randomSamples(n * 3, 255, 90), trns: Buffer.from([0, 1, 0, 2, 0, 3]) });
      cases.push({
        width: w,
        height: h,
        type: 0,
        depth: 8,
        samples: randomSamples(n, 255, 91),
        trns: Buffer.from([0, 7]),
        extra: [['gAMA', Buffer.from([0, 0, 0xb1, 0x8f])]],
      });
    }
    for (const c of cases) {
      const buf = encodePng(c);
      const mine = decodePng(buf);
      const what = `type ${c.type}, depth ${c.depth}, ${c.width} x ${c.height}${c.trns ? ', tRNS' : ''}`;
      assert.ok(mine, `${what}: taken by the fast path`);
      assert.deepEqual(Buffer.from(mine.data), await sharpPixels(buf), what);
    }
  });

  it('leaves to sharp what it does not decode exactly like libvips, and corrupt data', async () => {
    const base: PngSpec = { width: 6, height: 4, type: 2, depth: 8, samples: randomSamples(72, 255, 5) };
    const good = encodePng(base);
    assert.ok(decodePng(good));
    const badCrc = Buffer.from(good);
    badCrc[40] ^= 1; // inside IDAT: the chunk's CRC no longer matches
    const badFilter = encodePng({ ...base, samples: base.samples });
    const iend = badFilter.length - 12;
    const interlaced = await sharp(Buffer.from(base.samples), { raw: { width: 6, height: 4, channels: 3 } })
      .png({ progressive: true })
      .toBuffer();
    assert.equal(interlaced[28], 1, 'Adam7');
    const refused: [string, Buffer][] = [
      ['interlaced', interlaced],
      ['an ICC profile', encodePng({ ...base, extra: [['iCCP', Buffer.from('x\0\0')]] })],
      ['an unknown chunk', encodePng({ ...base, extra: [['zzZz', Buffer.alloc(3)]] })],
      ['a bad CRC', badCrc],
      ['truncated', good.subarray(0, good.length - 20)],
      ['data after IEND', Buffer.concat([good, Buffer.from([0])])],
      ['no IEND', good.subarray(0, iend)],
      ['a palette index outside the palette', encodePng({ width: 2, height: 1, type: 3, depth: 8, samples: [0, 5], palette: [1, 2, 3] })],
      ['too many pixels', encodePng({ width: 300, height: 300, type: 0, depth: 1, samples: new Array(90000).fill(1) })],
      ['not a PNG', Buffer.from('GIF89a not a png at all, just bytes long enough')],
    ];
    for (const [what, buf] of refused) assert.equal(decodePng(buf), null, what);
    // A bad filter type: patch the first row's filter byte inside a stored (uncompressed) IDAT.
    const raw = Buffer.concat([Buffer.from([7]), Buffer.alloc(18), Buffer.from([0]), Buffer.alloc(18)]);
    const ihdr = Buffer.alloc(13);
    ihdr.writeUInt32BE(6, 0);
    ihdr.writeUInt32BE(2, 4);
    ihdr.set([8, 2, 0, 0, 0], 8);
    const bad = Buffer.concat([good.subarray(0, 8), chunk('IHDR', ihdr), chunk('IDAT', zlib.deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
    assert.equal(decodePng(bad), null, 'filter type 7');
    // Through a dataset, a refused file takes the sharp path: same pixels, same errors.
    const dir = path.join(root, 'refused');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'i.png'), interlaced);
    fs.writeFileSync(path.join(dir, 't.png'), good.subarray(0, good.length - 20));
    const ds = imageList([{ path: path.join(dir, 'i.png'), label: 0 }], { transform: new CenterCrop([4, 6]) });
    assert.deepEqual(Buffer.from((await ds.get(0)).image), Buffer.from(base.samples));
    const trunc = imageList([{ path: path.join(dir, 't.png'), label: 0 }], { transform: new CenterCrop(4) });
    await assert.rejects(trunc.get(0), (e: Error & { code?: string }) => e.code === 'ERR_IMAGE_DECODE' && e.message.includes('t.png'));
    await assert.rejects(trunc.getMany([{ index: 0 }]), (e: Error & { code?: string }) => e.code === 'ERR_IMAGE_DECODE');
  });

  it('gives the sharp path’s pixels for crops, padding and flips, and get() and getMany() agree', async () => {
    const w = 40,
      h = 30;
    const px = new Uint8Array(randomSamples(w * h * 3, 255, 11));
    const file = path.join(root, 'crop', 'a.png');
    await writeImage(file, px, w, h, 3);
    const transforms: Transform[] = [
      new Compose([new RandomCrop([17, 23]), new RandomHorizontalFlip()]),
      new CenterCrop([36, 50]), // larger than the image: zero padding
      new Compose([new CenterCrop(20), new RandomHorizontalFlip(1)]),
    ];
    for (const transform of transforms) {
      const fast = imageList([{ path: file, label: 0 }], { transform });
      const slow = imageList([{ path: file, label: 0 }], { transform, decoder: 'sharp' });
      for (let s = 0; s < 6; s++) {
        const a = await fast.get(0, { rng: new Rng(3, s) });
        const b = await slow.get(0, { rng: new Rng(3, s) });
        assert.deepEqual(a.shape, b.shape);
        assert.deepEqual(Buffer.from(a.image), Buffer.from(b.image), `${transform.name}, seed ${s}`);
        const [m] = await fast.getMany([{ index: 0, context: { rng: new Rng(3, s) } }]);
        assert.deepEqual(Buffer.from(m.image), Buffer.from(a.image));
      }
    }
    // The worker gives what the same job gives in this thread.
    const spec = JSON.stringify(transformSpec(transforms[0]));
    const job = { file, rng: new Rng(9).state(), maxPixels: 1e6 };
    const [viaPool] = await decodePool().decodeMany(spec, [job]);
    const here = runFastJob(spec, job);
    assert.ok(viaPool && 'data' in viaPool && here && 'data' in here);
    assert.deepEqual(Buffer.from(viaPool.data), Buffer.from(here.data));
    // A worker that cannot start answers null (the sharp path) and retires the pool.
    const broken = new DecodePool(2, path.join(root, 'no-such-worker.js'));
    assert.deepEqual(await broken.decodeMany(spec, [job, job]), [null, null]);
    assert.equal(broken.usable, false);
    assert.deepEqual(await broken.decode(spec, job), null);
  });

  it("resizes with PIL's bilinear filter, within a bounded distance of libvips' linear kernel", async () => {
    const w = 32,
      h = 32;
    // Photo-like content: smooth waves plus pixel noise (the worst case for kernel differences).
    const px = new Uint8Array(w * h * 3);
    const r = new Rng(21);
    for (let i = 0; i < w * h; i++) {
      const x = i % w,
        y = Math.floor(i / w);
      for (let c = 0; c < 3; c++)
        px[i * 3 + c] = Math.max(0, Math.min(255, Math.round(128 + 60 * Math.sin(0.2 * x + c) * Math.cos(0.15 * y) + (r.nextFloat() - 0.5) * 40)));
    }
    const file = path.join(root, 'resize', 'p.png');
    await writeImage(file, px, w, h, 3);
    let sum = 0,
      n = 0,
      max = 0;
    const transforms = [new RandomResizedCrop(32), new RandomResizedCrop(24), new RandomResizedCrop(64), new Compose([new Resize(40), new CenterCrop(36)])];
    for (const transform of transforms) {
      const fast = imageList([{ path: file, label: 0 }], { transform });
      const slow = imageList([{ path: file, label: 0 }], { transform, decoder: 'sharp' });
      for (let s = 0; s < 8; s++) {
        const plan = transform.plan(identityPlan(w, h), new Rng(5, s));
        const a = (await fast.get(0, { rng: new Rng(5, s) })).image;
        const ref = pilReference(px, w, h, plan);
        for (let i = 0; i < ref.length; i++) assert.ok(Math.abs(a[i] - ref[i]) <= 1, `${transform.name} seed ${s} value ${i}: ${a[i]} vs PIL ${ref[i]}`);
        const b = (await slow.get(0, { rng: new Rng(5, s) })).image;
        for (let i = 0; i < a.length; i++) {
          const d = Math.abs(a[i] - b[i]);
          sum += d;
          max = Math.max(max, d);
          n++;
        }
      }
    }
    // Measured on this image with sharp 0.35 / libvips 8.18: mean 3.5, max 22 levels
    // (libvips' linear kernel places enlarged samples differently); the bound leaves room for
    // other libvips versions but catches a wrong offset, channel order or flip.
    assert.ok(sum / n < 5, `mean difference to the sharp path ${(sum / n).toFixed(2)} levels`);
    assert.ok(max <= 40, `largest difference to the sharp path ${max} levels`);
  });

  it('describes built-in transforms as data that rebuilds the same plans; others stay on sharp', () => {
    const ts: Transform[] = [
      new Resize(40),
      new Resize([20, 30]),
      new CenterCrop([7, 9]),
      new RandomCrop(12),
      new RandomResizedCrop([20, 24], { scale: [0.3, 0.9], ratio: [0.5, 2] }),
      new RandomHorizontalFlip(0.3),
      new RandomShorterSide(30, 50),
      new Compose([new RandomShorterSide(30, 50), new RandomCrop(24), new RandomHorizontalFlip()]),
    ];
    for (const t of ts) {
      const spec = transformSpec(t);
      assert.ok(spec, t.name);
      const back = transformFromSpec(JSON.parse(JSON.stringify(spec)));
      for (let s = 0; s < 5; s++) assert.deepEqual(back.plan(identityPlan(61, 47), new Rng(s)), t.plan(identityPlan(61, 47), new Rng(s)));
    }
    class Mine extends CenterCrop {}
    assert.equal(transformSpec(new Mine(4)), null);
    assert.equal(transformSpec(new Compose([new Resize(8), { name: 'own', plan: (p: CropPlan) => p }])), null);
    const rng = new Rng(4, 2);
    rng.nextUint32();
    const copy = Rng.fromState(rng.state());
    assert.equal(copy.nextUint32(), rng.nextUint32());
    assert.throws(() => imageList([{ path: 'a.png', label: 0 }], { decoder: 'vips' as 'sharp' }), /argument 'decoder' must be 'auto' or 'sharp'/);
  });

  it('applyPlan writes zeros outside the image and mirrors the window', () => {
    const img = { data: new Uint8Array([1, 2, 3, 4, 5, 6]), width: 2, height: 1 };
    const out = applyPlan(img, { resizeWidth: 2, resizeHeight: 1, left: -1, top: 0, width: 4, height: 2, flip: true });
    assert.deepEqual(Array.from(out), [0, 0, 0, 4, 5, 6, 1, 2, 3, 0, 0, 0, ...new Array(12).fill(0)]);
  });
});
