// Image folders on files made here from known pixels: class order and labels as
// torchvision's ImageFolder gives them, CSV and list sources, exact crops and flips, resize
// against a linear ramp (which any interpolation reproduces), colour conversions, and every
// kind of unreadable file.
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';

import {
  CenterCrop,
  Compose,
  ImageError,
  imageCsv,
  imageFolder,
  imageList,
  RandomCrop,
  RandomHorizontalFlip,
  RandomResizedCrop,
  Resize,
  Rng,
  syntheticDataset,
  writeImageFolder,
} from '../../../lib/data';
import { headerInfo } from '../../../lib/data/image-decode';
import { testPython } from '../../../lib/env';
import { randomResizedCropBox } from '../../../lib/data/transforms';
import { coordinateImage, sharp, solidImage, tempDir, writeClassFolder, writeImage } from '../../helpers/images';

/** A PNG whose header claims width x height (the pixel data is a stub: never read). */
function pngHeaderOnly(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer): Buffer => {
    const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(zlib.crc32(td));
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  return Buffer.concat([
    Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]),
    chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(Buffer.alloc(4))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

function pixel(img: Uint8Array, width: number, x: number, y: number): number[] {
  return Array.from(img.subarray((y * width + x) * 3, (y * width + x) * 3 + 3));
}

/** A python that imports torchvision ($CUDNN_RESNET_PYTHON, python3, the system's), or null. */
function torchvisionPython(): string | null {
  for (const py of [testPython(), 'python3', '/usr/bin/python3']) {
    if (!py) continue;
    try {
      execFileSync(py, ['-c', 'import torchvision'], { stdio: 'ignore', timeout: 60000 });
      return py;
    } catch {
      /* next */
    }
  }
  return null;
}

describe('data: image folders', function () {
  this.timeout(120000);
  let root: string;
  before(() => {
    root = tempDir('image-folder');
  });
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  it('sorts classes and files by code point, walks subfolders, ignores other files, labels exactly', async () => {
    const dir = path.join(root, 'order');
    const classes = ['b', 'a', 'C', 'a b', '_x', 'é'];
    for (const c of classes) {
      await writeImage(path.join(dir, c, 'z.png'), solidImage(2, 2, [1, 2, 3]), 2, 2, 3);
      await writeImage(path.join(dir, c, 'B.PNG'), solidImage(2, 2, [1, 2, 3]), 2, 2, 3);
      await writeImage(path.join(dir, c, 'sub', 'a.png'), solidImage(2, 2, [1, 2, 3]), 2, 2, 3);
      fs.writeFileSync(path.join(dir, c, 'notes.txt'), 'not an image');
    }
    fs.writeFileSync(path.join(dir, 'README'), 'a file at the root is not a class');
    const ds = imageFolder(dir);
    assert.deepEqual(ds.classNames, ['C', '_x', 'a', 'a b', 'b', 'é']);
    assert.equal(ds.length, 18);
    const rel = ds.samples.map((s) => `${path.relative(dir, s.path)}:${s.label}`);
    assert.deepEqual(rel.slice(0, 3), ['C/B.PNG:0', 'C/z.png:0', 'C/sub/a.png:0']);
    assert.deepEqual(
      ds.targets,
      classes.flatMap((_, i) => [i, i, i]),
    );
    const python = torchvisionPython();
    if (python) {
      const py =
        'import sys, json, torchvision; d = torchvision.datasets.ImageFolder(sys.argv[1]); print(json.dumps([d.classes, [[p, t] for p, t in d.samples]]))';
      const [tvClasses, tvSamples] = JSON.parse(execFileSync(python, ['-c', py, dir], { encoding: 'utf8', timeout: 120000 }));
      assert.deepEqual(ds.classNames, tvClasses);
      assert.deepEqual(
        ds.samples.map((s) => [s.path, s.label]),
        tvSamples,
      );
    }
  });

  it('refuses a folder without classes, and a class without images unless allowed', async () => {
    const dir = path.join(root, 'empty-class');
    await writeImage(path.join(dir, 'a', 'x.png'), solidImage(1, 1, [0, 0, 0]), 1, 1, 3);
    fs.mkdirSync(path.join(dir, 'b'));
    fs.writeFileSync(path.join(dir, 'b', 'x.txt'), '');
    assert.throws(
      () => imageFolder(dir),
      (e: ImageError) => e.code === 'ERR_IMAGE_FOLDER' && /classes b\b/.test(e.message),
    );
    assert.equal(imageFolder(dir, { allowEmptyClasses: true }).classes, 2);
    assert.throws(
      () => imageFolder(path.join(dir, 'a')),
      (e: ImageError) => e.code === 'ERR_IMAGE_FOLDER' && /no class folders/.test(e.message),
    );
    assert.throws(
      () => imageFolder(path.join(root, 'missing')),
      (e: ImageError) => e.code === 'ERR_IMAGE_FOLDER',
    );
  });

  it('reads CSV lists (header, quotes, relative paths, class names) and explicit lists', async () => {
    const dir = path.join(root, 'csv');
    await writeImage(path.join(dir, 'img', 'p.png'), solidImage(3, 3, [10, 20, 30]), 3, 3, 3);
    await writeImage(path.join(dir, 'img', 'q,r.png'), solidImage(3, 3, [40, 50, 60]), 3, 3, 3);
    fs.writeFileSync(path.join(dir, 'numeric.csv'), 'path,label\nimg/p.png,2\n"img/q,r.png",0\n');
    const a = imageCsv(path.join(dir, 'numeric.csv'));
    assert.deepEqual(
      a.samples.map((s) => [path.basename(s.path), s.label]),
      [
        ['p.png', 2],
        ['q,r.png', 0],
      ],
    );
    assert.equal(a.classes, 3);
    fs.writeFileSync(path.join(dir, 'names.csv'), 'img/p.png,zebra\r\nimg/q,r.png,ant\n'.replace('img/q,r.png', '"img/q,r.png"'));
    const b = imageCsv(path.join(dir, 'names.csv'));
    assert.deepEqual(b.classNames, ['ant', 'zebra']);
    assert.deepEqual(b.targets, [1, 0]);
    assert.equal((await b.get(1)).label, 0);
    fs.writeFileSync(path.join(dir, 'bad.csv'), 'img/p.png,1,extra\n');
    assert.throws(
      () => imageCsv(path.join(dir, 'bad.csv')),
      (e: ImageError) => e.code === 'ERR_IMAGE_LIST' && /line 1/.test(e.message),
    );
    const c = imageList([{ path: path.join(dir, 'img', 'p.png'), label: 1 }], { classNames: ['x', 'y'] });
    assert.equal((await c.get(0)).label, 1);
    assert.throws(() => imageList([{ path: 'a.png', label: 2 }], { classNames: ['x', 'y'] }), {
      name: 'RangeError',
      code: 'ERR_OUT_OF_RANGE',
      op: 'imageList',
      argument: 'entries[0].label',
      message: "imageList: argument 'entries[0].label' (a.png) is 2, outside [0, 1]",
    } as never);
  });

  it('crops and flips exactly as the plan says, on known pixels', async () => {
    const file = path.join(root, 'coords', 'a', 'c.png');
    await writeImage(file, coordinateImage(64, 48, 7), 64, 48, 3);
    const ds = imageList([{ path: file, label: 0 }], { transform: new Compose([new RandomCrop([16, 20]), new RandomHorizontalFlip()]) });
    let flipped = 0;
    for (let s = 0; s < 12; s++) {
      const ref = new Rng(4, s);
      const top = ref.nextInt(48 - 16 + 1);
      const left = ref.nextInt(64 - 20 + 1);
      const flip = ref.nextFloat() < 0.5;
      flipped += flip ? 1 : 0;
      const out = await ds.get(0, { rng: new Rng(4, s) });
      assert.deepEqual(out.shape, [3, 16, 20]);
      assert.equal(out.layout, 'HWC');
      for (let y = 0; y < 16; y++) {
        for (let x = 0; x < 20; x++) {
          const sx = left + (flip ? 19 - x : x);
          assert.deepEqual(pixel(out.image as Uint8Array, 20, x, y), [sx, top + y, 7], `seed ${s} at (${x}, ${y})`);
        }
      }
    }
    assert.ok(flipped > 0 && flipped < 12);
    // CenterCrop: offsets round(30 / 2) = 15 and round(21 / 2) = 10 (ties to even), then padding when larger.
    const centre = await imageList([{ path: file, label: 0 }], { transform: new CenterCrop([27, 34]) }).get(0);
    assert.deepEqual(pixel(centre.image as Uint8Array, 34, 0, 0), [15, 10, 7]);
    assert.deepEqual(pixel(centre.image as Uint8Array, 34, 33, 26), [48, 36, 7]);
    const padded = await imageList([{ path: file, label: 0 }], { transform: new CenterCrop([50, 67]) }).get(0);
    assert.deepEqual(pixel(padded.image as Uint8Array, 67, 0, 0), [0, 0, 0]);
    assert.deepEqual(pixel(padded.image as Uint8Array, 67, 1, 1), [0, 0, 7]); // (-1, -1) pads, (1, 1) is source (0, 0)
    assert.deepEqual(pixel(padded.image as Uint8Array, 67, 66, 49), [0, 0, 0]);
  });

  for (const format of ['png', 'jpeg', 'webp'] as const) {
    it(`resizes like a linear interpolation of a ramp (${format}, RandomResizedCrop and Resize + CenterCrop)`, async () => {
      const w = 240,
        h = 180;
      const px = new Uint8Array(w * h * 3);
      for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) px.set([x, Math.round(y * 1.4), 128], (y * w + x) * 3);
      const file = path.join(root, 'ramp', `r.${format === 'jpeg' ? 'jpg' : format}`);
      await writeImage(file, px, w, h, 3, format);
      const tol = format === 'jpeg' ? 4 : 2.5;
      const ds = imageList([{ path: file, label: 0 }], { transform: new RandomResizedCrop(24) });
      for (let s = 0; s < 6; s++) {
        const [left, top, cw, ch] = randomResizedCropBox(w, h, [0.08, 1], [3 / 4, 4 / 3], new Rng(8, s));
        const out = (await ds.get(0, { rng: new Rng(8, s) })).image as Uint8Array;
        for (let v = 2; v < 22; v++) {
          for (let u = 2; u < 22; u++) {
            const sx = left + ((u + 0.5) * cw) / 24 - 0.5;
            const sy = top + ((v + 0.5) * ch) / 24 - 0.5;
            const [r, g] = pixel(out, 24, u, v);
            assert.ok(
              Math.abs(r - sx) <= tol + cw / 24 / 2 && Math.abs(g - 1.4 * sy) <= 1.4 * (tol + ch / 24 / 2),
              `seed ${s} box ${[left, top, cw, ch]} (${u}, ${v}): got (${r}, ${g}), expected (${sx.toFixed(1)}, ${(1.4 * sy).toFixed(1)})`,
            );
          }
        }
      }
      // Resize(40) makes 53 x 40 (the longer side truncated), CenterCrop(32) starts at (10, 4).
      const ev = (await imageList([{ path: file, label: 0 }], { transform: new Compose([new Resize(40), new CenterCrop(32)]) }).get(0)).image as Uint8Array;
      for (const [u, v] of [
        [3, 3],
        [16, 16],
        [28, 28],
      ]) {
        const sx = ((u + 10 + 0.5) * w) / 53 - 0.5;
        const [r] = pixel(ev, 32, u, v);
        assert.ok(Math.abs(r - sx) <= tol + 2.5, `eval (${u}, ${v}): ${r} vs ${sx.toFixed(1)}`);
      }
    });
  }

  it('gives 3 RGB channels for grey, grey + alpha and RGBA inputs (alpha dropped, colours kept), and reads a 1-pixel image', async () => {
    const dir = path.join(root, 'colours');
    const grey = new Uint8Array(16).map((_, i) => i * 10);
    await writeImage(path.join(dir, 'grey.png'), grey, 4, 4, 1);
    await writeImage(
      path.join(dir, 'grey-alpha.png'),
      new Uint8Array(32).map((_, i) => (i % 2 ? 0 : 90)),
      4,
      4,
      2,
    );
    const rgba = new Uint8Array(64);
    for (let i = 0; i < 16; i++) rgba.set([200, 100, 50, i % 2 ? 0 : 255], i * 4);
    await writeImage(path.join(dir, 'rgba.png'), rgba, 4, 4, 4);
    await writeImage(path.join(dir, 'one.png'), new Uint8Array([9, 99, 199]), 1, 1, 3);
    const entries = ['grey', 'grey-alpha', 'rgba', 'one'].map((n, label) => ({ path: path.join(dir, `${n}.png`), label }));
    const same = imageList(entries, { transform: new CenterCrop(4) });
    const g = await same.get(0);
    assert.deepEqual(g.shape, [3, 4, 4]);
    for (let i = 0; i < 16; i++) assert.deepEqual(Array.from(g.image.subarray(i * 3, i * 3 + 3)), [i * 10, i * 10, i * 10]);
    assert.ok(Array.from((await same.get(1)).image).every((v) => v === 90));
    const c = await same.get(2);
    for (let i = 0; i < 16; i++) assert.deepEqual(Array.from(c.image.subarray(i * 3, i * 3 + 3)), [200, 100, 50]);
    const big = await imageList([entries[3]], { transform: new Compose([new Resize(256), new CenterCrop(224)]) }).get(0);
    assert.deepEqual(big.shape, [3, 224, 224]);
    for (let i = 0; i < 224 * 224; i += 997) assert.deepEqual(Array.from(big.image.subarray(i * 3, i * 3 + 3)), [9, 99, 199]);
    const rrc = await imageList([entries[3]], { transform: new RandomResizedCrop(8) }).get(0, { rng: new Rng(1) });
    assert.deepEqual(Array.from(rrc.image.subarray(0, 3)), [9, 99, 199]);
  });

  it('names the file of corrupt, truncated, empty and non-image data, and refuses huge dimensions before decoding', async () => {
    const dir = path.join(root, 'bad');
    fs.mkdirSync(dir, { recursive: true });
    const good = path.join(dir, 'good.jpg');
    await writeImage(good, coordinateImage(64, 64, 3), 64, 64, 3, 'jpeg');
    const bytes = fs.readFileSync(good);
    const files: Record<string, Buffer> = {
      'truncated.jpg': bytes.subarray(0, Math.floor(bytes.length / 2)),
      'corrupt.png': Buffer.concat([fs.readFileSync(good).subarray(0, 2), Buffer.alloc(300, 0x41)]),
      'empty.png': Buffer.alloc(0),
      'text.jpg': Buffer.from('this is not an image\n'.repeat(20)),
      'huge.png': pngHeaderOnly(100000, 100000),
    };
    const codes: Record<string, string> = {
      'truncated.jpg': 'ERR_IMAGE_DECODE',
      'corrupt.png': 'ERR_IMAGE_DECODE',
      'empty.png': 'ERR_IMAGE_EMPTY',
      'text.jpg': 'ERR_IMAGE_DECODE',
      'huge.png': 'ERR_IMAGE_TOO_LARGE',
    };
    for (const [name, data] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), data);
    for (const name of Object.keys(files)) {
      const ds = imageList([{ path: path.join(dir, name), label: 0 }], { transform: new Resize([8, 8]) });
      const t0 = Date.now();
      await assert.rejects(
        ds.get(0),
        (e: ImageError) => e instanceof ImageError && e.code === codes[name] && e.file === path.join(dir, name) && e.message.startsWith(path.join(dir, name)),
        name,
      );
      if (name === 'huge.png') assert.ok(Date.now() - t0 < 2000, 'refused from the header, not after decoding');
    }
    await assert.rejects(imageList([{ path: path.join(dir, 'missing.png'), label: 0 }]).get(0), (e: ImageError) => e.code === 'ERR_IMAGE_READ');
    await assert.rejects(
      imageList([{ path: good, label: 0 }], { maxPixels: 4095 }).get(0),
      (e: ImageError) => e.code === 'ERR_IMAGE_TOO_LARGE' && /64 x 64 = 4096 pixels/.test(e.message),
    );
    assert.throws(() => imageList([{ path: good, label: 0 }], { maxPixels: 0 }), /'maxPixels'/);

    // skip: each bad file is recorded once and replaced by the next readable image, with that image's label.
    const names = Object.keys(files);
    const entries = [...names.map((n, i) => ({ path: path.join(dir, n), label: i })), { path: good, label: 5 }];
    const skippedEvents: string[] = [];
    const ds = imageList(entries, { transform: new RandomResizedCrop(8), onError: 'skip', onSkip: (e) => skippedEvents.push(path.basename(e.file)) });
    for (let i = 0; i < entries.length; i++) {
      const s = await ds.get(i, { rng: new Rng(3, i) });
      assert.equal(s.label, 5, `index ${i} must come back as the readable image's label`);
    }
    assert.deepEqual([...ds.skipped.keys()].map((f) => path.basename(f)).sort(), [...names].sort());
    assert.deepEqual(skippedEvents.sort(), [...names].sort());
    // The replacement draws what the bad file would have drawn, whether or not it was known bad already.
    const again = await ds.get(0, { rng: new Rng(3, 0) });
    const fresh = await imageList(entries, { transform: new RandomResizedCrop(8), onError: 'skip' }).get(0, { rng: new Rng(3, 0) });
    assert.deepEqual(again.image, fresh.image);
    await assert.rejects(imageList(entries.slice(0, 3), { onError: 'skip' }).get(0), (e: ImageError) => e.code === 'ERR_IMAGE_NONE_READABLE');
  });

  it('reads size and alpha from JPEG, PNG and WebP headers as libvips does', async () => {
    const dir = path.join(root, 'headers');
    const cases: [string, number, number, 1 | 2 | 3 | 4, 'png' | 'jpeg' | 'webp', object?][] = [
      ['a.png', 37, 5, 3, 'png'],
      ['b.png', 3, 300, 4, 'png'],
      ['c.png', 9, 9, 1, 'png'],
      ['d.png', 17, 2, 2, 'png'],
      ['e.jpg', 333, 101, 3, 'jpeg'],
      ['f.jpg', 8, 1999, 1, 'jpeg'],
      ['g.webp', 45, 77, 3, 'webp'],
      ['h.webp', 64, 3, 4, 'webp'],
      ['i.webp', 21, 13, 3, 'webp', { lossless: false }],
      ['j.webp', 21, 13, 4, 'webp', { lossless: false }],
      ['k.jpg', 70, 50, 3, 'jpeg', { progressive: true }],
      ['l.png', 12, 12, 4, 'png', { palette: true }],
    ];
    for (const [name, w, h, ch, format, opts] of cases) {
      const file = path.join(dir, name);
      fs.mkdirSync(dir, { recursive: true });
      const px = new Uint8Array(w * h * ch).map((_, i) => (i * 31) % 256);
      let img = sharp(Buffer.from(px), { raw: { width: w, height: h, channels: ch } });
      img = format === 'png' ? img.png(opts) : format === 'jpeg' ? img.jpeg(opts) : img.webp({ lossless: true, ...opts });
      await img.toFile(file);
      const buf = fs.readFileSync(file);
      const meta = await sharp(buf).metadata();
      assert.deepEqual(headerInfo(buf), { width: meta.width, height: meta.height, alpha: meta.hasAlpha }, name);
    }
    assert.equal(headerInfo(Buffer.from('GIF89a......')), null);
    assert.equal(headerInfo(Buffer.from([0xff, 0xd8, 0xff])), null);
  });

  it('writeImageFolder writes a CIFAR split that imageFolder reads back with the same labels and pixels', async () => {
    const ds = syntheticDataset({ count: 30, seed: 4 });
    const dir = path.join(root, 'exported');
    assert.equal(await writeImageFolder(dir, ds), 30);
    const back = imageFolder(dir, { transform: new Resize([32, 32]) });
    assert.deepEqual(
      back.classNames.map((n) => n.replace(/^\d+-/, '')),
      ds.classNames,
    ); // unsorted names get their label as prefix
    for (let k = 0; k < back.length; k++) {
      const i = Number(path.basename(back.samples[k].path, '.png'));
      const s = await back.get(k);
      assert.equal(s.label, ds.labels[i]);
      for (let p = 0; p < 1024; p += 37) for (let c = 0; c < 3; c++) assert.equal(s.image[p * 3 + c], ds.images[i * 3072 + c * 1024 + p]);
    }
  });

  it('an exact-size Resize gives the pixels with sharp decoding the file directly', async () => {
    const dir = path.join(root, 'agree');
    await writeClassFolder(dir, ['x', 'y'], 2, [30, 20], 'png');
    const ds = imageFolder(dir, { transform: new Resize([20, 30]) });
    const s = await ds.get(3);
    const direct = await sharp(ds.samples[3].path).raw().toBuffer();
    assert.deepEqual(Buffer.from(s.image), direct);
    assert.equal(s.label, 1);
  });
});
