// Image files as a SampleDataset: torchvision's ImageFolder layout (root/<class>/**/<image>,
// classes sorted by name so label indices match a torchvision-trained model), an explicit
// [{ path, label }] list, or a CSV of path,label. Decoding is lib/data/image-decode.ts
// (sharp, off the JS thread). A file that cannot be decoded is an ImageError naming it, or
// with onError: 'skip' is recorded in `skipped` and replaced by the next readable image of
// the dataset (with its own label), so batches keep their size and labels stay right.
// Small PNGs and JPEGs take a faster path (lib/data/decode-pool.ts: worker threads, no
// libvips; JPEG through libjpeg-turbo in the addon when it was built with it) when the
// transform is built from this package's classes; option decoder: 'sharp' turns it off.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { badArg, checkOptions, describe, optionNames } from '../checks';
import { Normalization } from './augment';
import { Sample, SampleContext, SampleDataset } from './dataset';
import { decodePool, FastOutcome } from './decode-pool';
import { checkMaxPixels, decodeImage, DEFAULT_MAX_PIXELS, ImageError } from './image-decode';
import { jpegDecoderVersion } from './jpeg-decode';
import { Rng } from './prng';
import { evalTransform, Transform, transformSpec } from './transforms';

/** torchvision's IMG_EXTENSIONS (what ImageFolder lists), compared case-insensitively. */
export const IMAGE_EXTENSIONS: readonly string[] = ['.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif', '.tiff', '.webp'];

export interface ImageEntry {
  path: string;
  label: number;
}

export interface ImageDatasetOptions {
  /** Geometric transform (lib/data/transforms.ts); default evalTransform(224): Resize(256) + CenterCrop(224). */
  transform?: Transform;
  /** 'raise' (default): an unreadable image throws an ImageError; 'skip': recorded, replaced by the next readable one. */
  onError?: 'raise' | 'skip';
  /** Images with more pixels are refused before decoding (default 89,478,485, PIL's limit). */
  maxPixels?: number;
  /** Statistics loaders normalise with (default: none; the Trainer uses ImageNet's unless told). */
  normalization?: Normalization;
  /** Called once per newly skipped file (onError: 'skip'). */
  onSkip?: (error: ImageError) => void;
  /**
   * 'auto' (default): PNGs up to 256 x 256, and JPEGs when the addon has libjpeg-turbo
   * (buildInfo().jpeg), are decoded and transformed in worker threads without libvips (a
   * resize is PIL's bilinear filter, as torchvision's, within a few levels of libvips' linear
   * one; JPEGs are DCT-scaled and cropped while decoded); 'sharp': every image through libvips.
   */
  decoder?: 'auto' | 'sharp';
}

const IMAGE_DATASET_OPTIONS = optionNames<ImageDatasetOptions>({
  transform: true,
  onError: true,
  maxPixels: true,
  normalization: true,
  onSkip: true,
  decoder: true,
});

/** Python's sort order of str: by code point (JS's default compares UTF-16 units). */
export function compareCodePoints(a: string, b: string): number {
  const x = Array.from(a);
  const y = Array.from(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = (x[i].codePointAt(0) as number) - (y[i].codePointAt(0) as number);
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

function isDir(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory(); // follows links, as torchvision's is_dir() does
  } catch {
    return false;
  }
}

function hasImageExtension(name: string): boolean {
  const lower = name.toLowerCase();
  return IMAGE_EXTENSIONS.some((e) => lower.endsWith(e));
}

/** Class folders of `root`, sorted as torchvision's find_classes sorts them. */
export function findClasses(root: string): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(root);
  } catch (e) {
    throw new ImageError('ERR_IMAGE_FOLDER', root, `cannot list the image folder: ${(e as Error).message}`);
  }
  const classes = names.filter((n) => isDir(path.join(root, n))).sort(compareCodePoints);
  if (classes.length === 0) throw new ImageError('ERR_IMAGE_FOLDER', root, 'holds no class folders (expected root/<class>/<image>)');
  return classes;
}

/** Every image file below `dir`, in the order of torchvision's sorted(os.walk(dir)) + sorted(files). */
function walkImages(dir: string): string[] {
  const folders: string[] = [];
  const visit = (d: string, seen: Set<string>): void => {
    const real = fs.realpathSync(d);
    if (seen.has(real)) return; // a link cycle
    seen.add(real);
    folders.push(d);
    for (const n of fs.readdirSync(d)) if (isDir(path.join(d, n))) visit(path.join(d, n), seen);
    seen.delete(real);
  };
  visit(dir, new Set());
  folders.sort(compareCodePoints);
  const files: string[] = [];
  for (const d of folders) {
    const names = fs
      .readdirSync(d)
      .filter((n) => hasImageExtension(n) && !isDir(path.join(d, n)))
      .sort(compareCodePoints);
    for (const n of names) files.push(path.join(d, n));
  }
  return files;
}

/** A dataset of image files; see imageFolder(), imageList() and imageCsv(). */
export class ImageFolder implements SampleDataset {
  readonly samples: readonly ImageEntry[];
  readonly classNames: readonly string[];
  readonly classes: number;
  readonly transform: Transform;
  readonly onError: 'raise' | 'skip';
  readonly maxPixels: number;
  readonly normalization?: Normalization;
  readonly decoder: 'auto' | 'sharp';
  /** Files found unreadable so far (onError: 'skip'), with the reason. */
  readonly skipped = new Map<string, ImageError>();
  private readonly onSkip?: (error: ImageError) => void;
  /** JSON of the transform's spec when small PNGs may take the fast path, else null. */
  private readonly fastSpec: string | null;

  constructor(samples: ImageEntry[], classNames: string[], options: ImageDatasetOptions = {}, op = 'ImageFolder') {
    if (!Array.isArray(samples)) throw badArg('type', `${op}: samples`, `must be an array of { path, label }, got ${describe(samples)}`);
    if (!Array.isArray(classNames)) throw badArg('type', `${op}: classNames`, `must be an array of class names, got ${describe(classNames)}`);
    if (classNames.length === 0) throw badArg('range', `${op}: classNames`, 'must name at least one class');
    checkOptions(op, options, IMAGE_DATASET_OPTIONS);
    const list = op.startsWith('ImageFolder') ? 'samples' : 'entries';
    samples.forEach((s, i) => {
      if (typeof s?.path !== 'string' || s.path.length === 0)
        throw badArg('type', `${op}: ${list}[${i}].path`, `must be a non-empty string, got ${describe(s?.path)}`);
      if (!Number.isInteger(s.label) || s.label < 0 || s.label >= classNames.length) {
        throw badArg('range', `${op}: ${list}[${i}].label`, `(${s.path}) is ${s.label}, outside [0, ${classNames.length - 1}]`);
      }
    });
    const onError = options.onError ?? 'raise';
    if (onError !== 'raise' && onError !== 'skip') throw badArg('range', `${op}: onError`, `must be 'raise' or 'skip', got ${describe(onError)}`);
    this.samples = samples;
    this.classNames = classNames;
    this.classes = classNames.length;
    this.transform = options.transform ?? evalTransform(224);
    this.onError = onError;
    this.maxPixels = checkMaxPixels(options.maxPixels ?? DEFAULT_MAX_PIXELS, op);
    this.normalization = options.normalization;
    this.onSkip = options.onSkip;
    const decoder = options.decoder ?? 'auto';
    if (decoder !== 'auto' && decoder !== 'sharp') throw badArg('range', `${op}: decoder`, `must be 'auto' or 'sharp', got ${describe(decoder)}`);
    this.decoder = decoder;
    const spec = decoder === 'auto' ? transformSpec(this.transform) : null;
    this.fastSpec = spec ? JSON.stringify(spec) : null;
  }

  get length(): number {
    return this.samples.length;
  }

  /** Labels in dataset order (torchvision's `targets`). */
  get targets(): number[] {
    return this.samples.map((s) => s.label);
  }

  /** A dataset over the same files and classes with other options (e.g. the training transform). */
  with(options: ImageDatasetOptions): ImageFolder {
    checkOptions('ImageFolder.with', options, IMAGE_DATASET_OPTIONS);
    return new ImageFolder(
      [...this.samples],
      [...this.classNames],
      {
        transform: this.transform,
        onError: this.onError,
        maxPixels: this.maxPixels,
        normalization: this.normalization,
        onSkip: this.onSkip,
        decoder: this.decoder,
        ...options,
      },
      'ImageFolder.with',
    );
  }

  /** Image `index` after the transform: uint8 HWC RGB. */
  async get(index: number, context?: Partial<SampleContext>): Promise<Sample> {
    this.checkIndex(index, 'ImageFolder.get'); // inside an async function: a bad index rejects, as it always did
    return this.fetch(index, context?.rng, true);
  }

  /** Several images at once (what get() gives each): small PNGs go to the decoding workers in a few messages. */
  async getMany(
    requests: { index: number; context?: Partial<SampleContext> }[],
    run: <T>(task: () => Promise<T>) => Promise<T> = (t) => t(),
  ): Promise<Sample[]> {
    requests.forEach((r) => this.checkIndex(r?.index, 'ImageFolder.getMany'));
    const out: (Sample | null)[] = requests.map(() => null);
    const fast = requests.map((r) => !this.skipped.has(this.samples[r.index].path) && this.fastEligible(this.samples[r.index].path));
    const retry = requests.map(() => false);
    const picked = requests.filter((_, k) => fast[k]);
    if (picked.length > 0 && this.fastSpec !== null) {
      const spec = this.fastSpec;
      const results = await run(() =>
        decodePool().decodeMany(
          spec,
          picked.map((r) => this.fastJob(this.samples[r.index].path, r.context?.rng)),
        ),
      );
      let i = 0;
      requests.forEach((r, k) => {
        if (!fast[k]) return;
        const res = results[i++];
        if (res !== null && 'error' in res)
          retry[k] = true; // decoded again below, where onError applies
        else out[k] = this.toSample(res, this.samples[r.index]);
      });
    }
    return Promise.all(requests.map((r, k) => out[k] ?? run(() => this.fetch(r.index, r.context?.rng, !fast[k] || retry[k]))));
  }

  private checkIndex(index: number, op: string): void {
    if (!Number.isInteger(index) || index < 0 || index >= this.samples.length) {
      throw badArg('range', `${op}: index`, `must be an integer in [0, ${this.samples.length}), got ${describe(index)}`);
    }
  }

  private fastEligible(file: string): boolean {
    if (this.fastSpec === null || !decodePool().usable) return false;
    return /\.png$/i.test(file) || (/\.jpe?g$/i.test(file) && jpegDecoderVersion() !== '');
  }

  private fastJob(file: string, rng: Rng | undefined): { file: string; rng: number[]; maxPixels: number } {
    return { file, rng: (rng ?? new Rng(0)).state(), maxPixels: this.maxPixels };
  }

  /** The sample of a fast-path outcome; a corrupt file is an ImageError naming it. */
  private toSample(r: FastOutcome, entry: ImageEntry): Sample | null {
    if (r !== null && 'error' in r) throw new ImageError('ERR_IMAGE_DECODE', entry.path, `cannot decode (corrupt or truncated?): ${r.error}`);
    return r && { image: r.data, shape: [3, r.height, r.width], layout: 'HWC', label: entry.label };
  }

  /** Entry `index`, or with onError 'skip' the next readable one; the first is tried on the fast path only when `tryFastFirst`. */
  private async fetch(index: number, rng: Rng | undefined, tryFastFirst: boolean): Promise<Sample> {
    for (let k = 0; k < this.samples.length; k++) {
      const entry = this.samples[(index + k) % this.samples.length];
      if (this.skipped.has(entry.path)) continue;
      try {
        // Every attempt draws the same numbers, so a replacement does not depend on whether
        // the bad file was already known (a resumed run learns it again).
        if ((k > 0 || tryFastFirst) && this.fastEligible(entry.path) && this.fastSpec !== null) {
          const fast = this.toSample(await decodePool().decode(this.fastSpec, this.fastJob(entry.path, rng)), entry);
          if (fast) return fast;
        }
        const img = await decodeImage(entry.path, this.transform, rng?.clone(), { maxPixels: this.maxPixels });
        return { image: img.data, shape: [3, img.height, img.width], layout: 'HWC', label: entry.label };
      } catch (e) {
        if (!(e instanceof ImageError) || this.onError === 'raise') throw e;
        if (!this.skipped.has(entry.path)) {
          this.skipped.set(entry.path, e);
          this.onSkip?.(e);
        }
      }
    }
    throw new ImageError(
      'ERR_IMAGE_NONE_READABLE',
      this.samples[index]?.path ?? '',
      `none of the ${this.samples.length} images could be read (${this.skipped.size} skipped)`,
    );
  }
}

/** torchvision.datasets.ImageFolder: root/<class>/.../<image> (subfolders too); classes sorted by name. */
export function imageFolder(root: string, options: ImageDatasetOptions & { allowEmptyClasses?: boolean } = {}): ImageFolder {
  if (typeof root !== 'string' || root.length === 0) throw badArg('type', 'imageFolder: root', `must be a folder path, got ${describe(root)}`);
  const { allowEmptyClasses, ...datasetOptions } = checkOptions('imageFolder', options, [...IMAGE_DATASET_OPTIONS, 'allowEmptyClasses']);
  const classes = findClasses(root);
  const samples: ImageEntry[] = [];
  const empty: string[] = [];
  classes.forEach((c, label) => {
    const files = walkImages(path.join(root, c));
    if (files.length === 0) empty.push(c);
    for (const f of files) samples.push({ path: f, label });
  });
  if (empty.length > 0 && !allowEmptyClasses) {
    throw new ImageError(
      'ERR_IMAGE_FOLDER',
      root,
      `found no image files (${IMAGE_EXTENSIONS.join(' ')}) for the classes ${empty.join(', ')} ` +
        '(the labels of the others would shift; remove the folders or pass allowEmptyClasses)',
    );
  }
  return new ImageFolder(samples, classes, datasetOptions, 'imageFolder');
}

/** An explicit list of { path, label }; `classNames` defaults to "0" ... String(max label). */
export function imageList(entries: ImageEntry[], options: ImageDatasetOptions & { classNames?: string[] } = {}): ImageFolder {
  return imageListAs('imageList', entries, options);
}

function imageListAs(op: string, entries: ImageEntry[], options: ImageDatasetOptions & { classNames?: string[] }): ImageFolder {
  if (!Array.isArray(entries)) throw badArg('type', `${op}: entries`, `must be an array of { path, label }, got ${describe(entries)}`);
  const { classNames, ...datasetOptions } = checkOptions(op, options, [...IMAGE_DATASET_OPTIONS, 'classNames']);
  const max = entries.reduce((m, e) => Math.max(m, Number.isInteger(e?.label) ? e.label : -1), -1);
  const names = classNames ?? Array.from({ length: max + 1 }, (_, i) => String(i));
  return new ImageFolder(
    entries.map((e) => ({ path: e?.path, label: e?.label })),
    names,
    datasetOptions,
    op,
  );
}

/**
 * A CSV file of path,label rows (a header row is recognised by a non-numeric label; quoted
 * fields allowed). Relative paths are resolved against the CSV's folder. Labels are class
 * indices, or class names, which are then sorted like ImageFolder's folders.
 */
export function imageCsv(file: string, options: ImageDatasetOptions = {}): ImageFolder {
  if (typeof file !== 'string' || file === '') throw badArg('type', 'imageCsv: file', `must be a file path, got ${describe(file)}`);
  checkOptions('imageCsv', options, IMAGE_DATASET_OPTIONS);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new ImageError('ERR_IMAGE_LIST', file, `cannot read the CSV: ${(e as Error).message}`);
  }
  const rows = parseCsv(text, file);
  if (rows.length > 0 && /^label$/i.test(rows[0].fields[1]?.trim() ?? '')) rows.shift();
  if (rows.length === 0) throw new ImageError('ERR_IMAGE_LIST', file, 'holds no rows');
  const base = path.dirname(file);
  const labels = rows.map((r) => r.fields[1].trim());
  const numeric = labels.every((l) => /^\d+$/.test(l));
  const names = numeric ? null : [...new Set(labels)].sort(compareCodePoints);
  const entries = rows.map((r, i) => ({ path: path.resolve(base, r.fields[0]), label: numeric ? Number(labels[i]) : (names as string[]).indexOf(labels[i]) }));
  return imageListAs('imageCsv', entries, { ...options, classNames: names ?? undefined });
}

function parseCsv(text: string, file: string): { line: number; fields: string[] }[] {
  const out: { line: number; fields: string[] }[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    if (raw.trim() === '') return;
    const fields: string[] = [];
    let cur = '';
    let quoted = false;
    for (let k = 0; k < raw.length; k++) {
      const ch = raw[k];
      if (quoted) {
        if (ch === '"' && raw[k + 1] === '"') {
          cur += '"';
          k++;
        } else if (ch === '"') quoted = false;
        else cur += ch;
      } else if (ch === '"' && cur === '') quoted = true;
      else if (ch === ',') {
        fields.push(cur);
        cur = '';
      } else cur += ch;
    }
    if (quoted) throw new ImageError('ERR_IMAGE_LIST', file, `line ${i + 1}: unterminated quote`);
    fields.push(cur);
    if (fields.length !== 2 || fields[0].trim() === '' || fields[1].trim() === '') {
      throw new ImageError('ERR_IMAGE_LIST', file, `line ${i + 1}: expected two fields path,label, got ${JSON.stringify(raw)}`);
    }
    out.push({ line: i + 1, fields });
  });
  return out;
}
