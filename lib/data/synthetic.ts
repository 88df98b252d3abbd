// A stand-in for CIFAR that needs no download: images with class-dependent shapes and
// colours on a random background, jittered in position, size and tint, plus pixel noise,
// written in the exact CIFAR binary formats (batch folder and/or the .tar.gz), so every
// reader path, test, example and the CLI's default run work offline. Deterministic by seed.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import * as tar from 'tar-stream';

import { assemble, CifarFormat, CifarKind, Dataset, formatOf, IMAGE_BYTES, IMAGE_SIZE, RECORDS_FILE, Split } from './format';
import { badArg, checkOptions, describe, optionNames } from '../checks';
import { Rng } from './prng';

const SHAPES = ['disc', 'square', 'ring', 'hbars', 'vbars', 'plus', 'cross', 'triangle', 'checker', 'diamond'] as const;
const COLOURS: ReadonlyArray<readonly [string, number, number, number]> = [
  ['red', 220, 40, 40],
  ['green', 40, 190, 60],
  ['blue', 50, 80, 230],
  ['yellow', 230, 220, 40],
  ['magenta', 210, 50, 200],
  ['cyan', 40, 210, 220],
  ['orange', 240, 140, 30],
  ['purple', 120, 50, 170],
  ['white', 235, 235, 235],
  ['brown', 130, 80, 40],
];

/** Is (u, v), in units of the shape's radius around its centre, inside shape `s`? */
function inside(s: number, u: number, v: number): boolean {
  const au = Math.abs(u),
    av = Math.abs(v);
  switch (s) {
    case 0:
      return u * u + v * v < 1;
    case 1:
      return au < 0.85 && av < 0.85;
    case 2: {
      const r = u * u + v * v;
      return r > 0.3 && r < 1;
    }
    case 3:
      return au < 1 && av < 1 && Math.floor((v + 1) * 2.5) % 2 === 0;
    case 4:
      return au < 1 && av < 1 && Math.floor((u + 1) * 2.5) % 2 === 0;
    case 5:
      return (au < 0.3 && av < 1) || (av < 0.3 && au < 1);
    case 6:
      return au < 1 && av < 1 && (Math.abs(u - v) < 0.35 || Math.abs(u + v) < 0.35);
    case 7:
      return v > -0.9 && v < 0.9 && au < (v + 0.9) / 1.8;
    case 8:
      return au < 1 && av < 1 && (Math.floor((u + 1) * 2) + Math.floor((v + 1) * 2)) % 2 === 0;
    default:
      return au + av < 1;
  }
}

// Standard normal draws are the bulk of the generator's work (3072 per image); a fixed
// table of them indexed by 16 random bits is ~10x cheaper than Box-Muller per pixel.
let normalTable: Float32Array | undefined;
function normals(): Float32Array {
  if (!normalTable) {
    const r = new Rng(0x5eed);
    normalTable = new Float32Array(65536);
    for (let i = 0; i < normalTable.length; i++) normalTable[i] = r.nextNormal();
  }
  return normalTable;
}

function clampByte(x: number): number {
  return x <= 0 ? 0 : x >= 255 ? 255 : Math.round(x);
}

/** Draws one image of fine class `cls` (of `classes`) into `out` at `at` (3072 bytes, channel-major). */
function drawImage(out: Uint8Array, at: number, cls: number, classes: number, rng: Rng, noise: number): void {
  const shape = cls % 10;
  const colour = COLOURS[classes === 10 ? cls : Math.floor(cls / 10)];
  const cy = 15.5 + (rng.nextFloat() - 0.5) * 8;
  const cx = 15.5 + (rng.nextFloat() - 0.5) * 8;
  const radius = 8 + rng.nextFloat() * 4;
  const bgLevel = 40 + rng.nextFloat() * 120;
  const bg = [0, 1, 2].map(() => bgLevel + (rng.nextFloat() - 0.5) * 60);
  const fg = [colour[1], colour[2], colour[3]].map((c) => c + (rng.nextFloat() - 0.5) * 50);
  const plane = IMAGE_SIZE * IMAGE_SIZE;
  const table = normals();
  for (let y = 0; y < IMAGE_SIZE; y++) {
    for (let x = 0; x < IMAGE_SIZE; x++) {
      const hit = inside(shape, (x - cx) / radius, (y - cy) / radius);
      const p = y * IMAGE_SIZE + x;
      for (let c = 0; c < 3; c++) {
        const base = hit ? fg[c] : bg[c];
        out[at + c * plane + p] = clampByte(base + noise * table[rng.nextUint32() >>> 16]);
      }
    }
  }
}

export interface SyntheticSplitOptions {
  kind?: CifarKind;
  split?: Split;
  count?: number;
  seed?: number;
  /** Standard deviation of per-pixel Gaussian noise, in byte units (default 24). */
  noise?: number;
}

/**
 * An in-memory synthetic split, class-balanced (labels cycle through the classes, then are
 * shuffled). CIFAR-100's coarse label is fine / 5, as five fine classes share a superclass.
 */
export function syntheticDataset(options: SyntheticSplitOptions = {}): Dataset {
  checkOptions('syntheticDataset', options, optionNames<SyntheticSplitOptions>({ kind: true, split: true, count: true, seed: true, noise: true }));
  const fmt = formatOf(options.kind ?? 'cifar10', 'syntheticDataset');
  const split = options.split ?? 'train';
  const count = options.count ?? (split === 'train' ? 1000 : 200);
  const seed = options.seed ?? 0;
  const noise = options.noise ?? 24;
  if (!Number.isInteger(count) || count < 1) throw badArg('range', 'syntheticDataset: count', `must be a positive integer, got ${describe(count)}`);
  const rng = new Rng(seed, fmt.kind === 'cifar10' ? 10 : 100, split === 'train' ? 0 : 1);
  const fine = new Uint8Array(count);
  for (let i = 0; i < count; i++) fine[i] = i % fmt.classes;
  rng.shuffle(fine);
  const records = Buffer.alloc(count * fmt.recordBytes);
  for (let i = 0; i < count; i++) {
    const off = i * fmt.recordBytes;
    if (fmt.labelBytes === 2) records[off] = Math.floor(fine[i] / 5);
    records[off + fmt.labelBytes - 1] = fine[i];
    drawImage(records, off + fmt.labelBytes, fine[i], fmt.classes, rng, noise);
  }
  const names = classNames(fmt);
  return assemble(fmt, split, [records], 'synthetic', 'fine', names);
}

function classNames(fmt: CifarFormat): { fine: string[]; coarse?: string[] } {
  const fine = Array.from({ length: fmt.classes }, (_, c) => `${SHAPES[c % 10]}_${COLOURS[fmt.classes === 10 ? c : Math.floor(c / 10)][0]}`);
  if (fmt.labelBytes === 1) return { fine };
  const coarse = Array.from({ length: fmt.coarseClasses! }, (_, k) => `${COLOURS[Math.floor(k / 2)][0]}_${k % 2 === 0 ? 'curved' : 'angular'}`);
  return { fine, coarse };
}

/** The CIFAR binary records of a dataset (or of rows [start, end) of it). */
export function encodeRecords(ds: Dataset, start = 0, end = ds.count): Buffer {
  const fmt = formatOf(ds.kind);
  const fine = ds.fineLabels ?? ds.labels;
  const out = Buffer.alloc((end - start) * fmt.recordBytes);
  for (let i = start; i < end; i++) {
    const off = (i - start) * fmt.recordBytes;
    if (fmt.labelBytes === 2) out[off] = ds.coarseLabels![i];
    out[off + fmt.labelBytes - 1] = fine[i];
    ds.images.copy(out, off + fmt.labelBytes, i * IMAGE_BYTES, (i + 1) * IMAGE_BYTES);
  }
  return out;
}

/** Every file of a CIFAR folder (relative name -> bytes) for the given splits. */
export function cifarFiles(train: Dataset, test: Dataset): Map<string, Buffer> {
  const fmt = formatOf(train.kind);
  const files = new Map<string, Buffer>();
  const counts: Record<string, number> = {};
  files.set(RECORDS_FILE, Buffer.alloc(0)); // first, so that an archive has it before the batches
  const batches = fmt.files.train.length;
  // CIFAR-10 spreads training data over five equal batches; remainders go to the first ones.
  let start = 0;
  fmt.files.train.forEach((f, b) => {
    const n = Math.floor(train.count / batches) + (b < train.count % batches ? 1 : 0);
    files.set(f, encodeRecords(train, start, start + n));
    counts[f] = n;
    start += n;
  });
  files.set(fmt.files.test[0], encodeRecords(test));
  counts[fmt.files.test[0]] = test.count;
  files.set(RECORDS_FILE, Buffer.from(JSON.stringify(counts, null, 2) + '\n'));
  files.set(fmt.namesFile, Buffer.from(train.classNames.join('\n') + '\n'));
  if (fmt.coarseNamesFile) files.set(fmt.coarseNamesFile, Buffer.from(classNames(fmt).coarse!.join('\n') + '\n'));
  return files;
}

export interface SyntheticWriteOptions {
  kind?: CifarKind;
  /** 'folder' (default), 'archive' (.tar.gz) or 'both'. */
  container?: 'folder' | 'archive' | 'both';
  /** Training images (default 1000; CIFAR-10 needs at least 5, one per batch file). */
  train?: number;
  /** Test images (default 200). */
  test?: number;
  seed?: number;
  noise?: number;
}

export interface SyntheticWritten {
  /** The batch folder (dir/cifar-10-batches-bin or dir/cifar-100-binary), if written. */
  folder?: string;
  /** The archive (dir/cifar-10-binary.tar.gz or dir/cifar-100-binary.tar.gz), if written. */
  archive?: string;
  train: number;
  test: number;
}

/** Writes a synthetic dataset under `dir` in the official layout and file names. */
export async function writeSyntheticCifar(dir: string, options: SyntheticWriteOptions = {}): Promise<SyntheticWritten> {
  checkOptions(
    'writeSyntheticCifar',
    options,
    optionNames<SyntheticWriteOptions>({ kind: true, container: true, train: true, test: true, seed: true, noise: true }),
  );
  const kind = options.kind ?? 'cifar10';
  const fmt = formatOf(kind, 'writeSyntheticCifar');
  const container = options.container ?? 'folder';
  if (!['folder', 'archive', 'both'].includes(container))
    throw badArg('type', 'writeSyntheticCifar: container', `must be 'folder', 'archive' or 'both', got ${describe(container)}`);
  const trainCount = options.train ?? 1000;
  const testCount = options.test ?? 200;
  if (trainCount < fmt.files.train.length)
    throw badArg('range', 'writeSyntheticCifar: train', `must be >= ${fmt.files.train.length} for ${kind}, got ${describe(trainCount)}`);
  const seed = options.seed ?? 0;
  const train = syntheticDataset({ kind, split: 'train', count: trainCount, seed, noise: options.noise });
  const test = syntheticDataset({ kind, split: 'test', count: testCount, seed, noise: options.noise });
  const files = cifarFiles(train, test);
  await fs.promises.mkdir(dir, { recursive: true });
  const out: SyntheticWritten = { train: trainCount, test: testCount };
  if (container !== 'archive') {
    out.folder = path.join(dir, fmt.folder);
    await fs.promises.mkdir(out.folder, { recursive: true });
    for (const [name, bytes] of files) await fs.promises.writeFile(path.join(out.folder, name), bytes);
  }
  if (container !== 'folder') {
    out.archive = path.join(dir, fmt.archive);
    await writeTarGz(out.archive, fmt.folder, files);
  }
  return out;
}

/** Writes `files` as members folder/name of a gzip-compressed tar (tar-stream pack + zlib). */
export async function writeTarGz(file: string, folder: string, files: Map<string, Buffer>): Promise<void> {
  const pack = tar.pack();
  const gzip = zlib.createGzip();
  const sink = fs.createWriteStream(file);
  const done = new Promise<void>((resolve, reject) => {
    sink.on('close', resolve);
    for (const s of [gzip, sink]) s.on('error', reject);
    pack.on('error', reject);
  });
  pack.pipe(gzip).pipe(sink);
  const mtime = new Date(0); // byte-identical archives for the same seed
  pack.entry({ name: `${folder}/`, type: 'directory', mode: 0o755, mtime });
  for (const [name, bytes] of files) pack.entry({ name: `${folder}/${name}`, size: bytes.length, mode: 0o644, mtime }, bytes);
  pack.finalize();
  await done;
}
