// The training and evaluation loaders of a run, from whatever its `data` option names: a
// CIFAR folder or archive (or the synthetic set), an image folder (train/ and val/ class
// folders, or --val-data), loaded CIFAR splits, or any SampleDataset pair. Image folders
// use the run's image size and augmentation preset and, unless given other statistics,
// ImageNet's normalisation.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { Normalization } from '../data/augment';
import { CifarDataLoader } from '../data/cifar-batches';
import { BatchLoader, Sample, SampleContext, SampleDataset } from '../data/dataset';
import { DataLoader } from '../data/data-loader';
import { Dataset } from '../data/format';
import { ImageError } from '../data/image-decode';
import { IMAGE_EXTENSIONS, imageFolder } from '../data/image-folder';
import { AugmentPreset, evalTransform, IMAGENET_NORMALIZATION, trainTransform } from '../data/transforms';
import { DTypeName, LayoutName } from '../native';
import { badArg } from '../checks';
import { describe } from '../tensor';
import type { RunSpec } from '../checkpoint/run';
import { loadSplits, syntheticSource } from './data';

/** What a checkpoint records of an image-folder run. */
export interface ImageRunSpec {
  imageSize: number;
  augment: AugmentPreset;
  /** The validation folder when given apart from `data`. */
  valData: string | null;
}

const VAL_NAMES = ['val', 'validation', 'test'];

function isDir(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** Whether `dir` looks like root/<class>/<image> (some class folder holds an image file). */
function hasClassFolders(dir: string): boolean {
  if (!isDir(dir)) return false;
  for (const c of fs.readdirSync(dir)) {
    const sub = path.join(dir, c);
    if (!isDir(sub)) continue;
    if (fs.readdirSync(sub).some((f) => IMAGE_EXTENSIONS.some((e) => f.toLowerCase().endsWith(e)) || isDir(path.join(sub, f)))) return true;
  }
  return false;
}

/** The train and validation class roots of an image-folder `data`, or null when it is no image folder. */
export function imageRoots(data: string, valData?: string | null): { train: string; val: string | null } | null {
  if (isDir(path.join(data, 'train')) && hasClassFolders(path.join(data, 'train'))) {
    const val = valData ?? VAL_NAMES.map((n) => path.join(data, n)).find(isDir) ?? null;
    return { train: path.join(data, 'train'), val };
  }
  if (hasClassFolders(data) && !fs.readdirSync(data).some((f) => /\.bin$|cifar/i.test(f))) return { train: data, val: valData ?? null };
  return null;
}

/** 224 for the ImageNet-stem models (resnet18 ... resnet152), 32 for the CIFAR ones. */
export function defaultImageSize(model: string | { config?: { stem?: string } }): number {
  if (typeof model !== 'string') return model.config?.stem === 'cifar' ? 32 : 224;
  return /^(preact-)?(resnet|plain)(18|34|50|101|152)$/.test(model.toLowerCase().replace(/_/g, '-')) ? 224 : 32;
}

/** The image part of a run's spec, or undefined when `data` is not an image folder. */
export function imageSpec(o: {
  data?: unknown;
  valData?: string;
  imageSize?: number;
  augment?: boolean | AugmentPreset;
  model?: unknown;
}): ImageRunSpec | undefined {
  const objects = typeof o.data === 'object' && o.data !== null && !isCifarSplit((o.data as { train?: unknown }).train);
  if (!objects && (typeof o.data !== 'string' || !imageRoots(o.data, o.valData))) {
    if (o.imageSize !== undefined) throw badArg('range', 'Trainer: imageSize', `applies to image folders; data ${describe(o.data)} is CIFAR`);
    if (o.valData !== undefined) throw badArg('range', 'Trainer: valData', 'applies to image folders');
    return undefined;
  }
  const size = o.imageSize ?? defaultImageSize((o.model ?? 'resnet20') as string | { config?: { stem?: string } });
  if (!Number.isInteger(size) || size < 1 || size > 4096) throw badArg('range', 'Trainer: imageSize', `must be an integer in [1, 4096], got ${describe(size)}`);
  const augment: AugmentPreset = o.augment === false ? 'none' : o.augment === true || o.augment === undefined ? 'torchvision' : o.augment;
  if (!['torchvision', 'paper', 'none'].includes(augment))
    throw badArg('range', 'Trainer: augment', `must be a boolean or 'torchvision', 'paper' or 'none', got ${describe(o.augment)}`);
  return { imageSize: size, augment, valData: o.valData ?? null };
}

function isCifarSplit(x: unknown): x is Dataset {
  return typeof x === 'object' && x !== null && (x as Dataset).images instanceof Uint8Array && typeof (x as Dataset).count === 'number';
}

/** Evenly spread `limit` samples of `ds` (every class of a sorted folder keeps its share). */
export function limitSamples(ds: SampleDataset, limit: number | null | undefined): SampleDataset {
  if (limit === null || limit === undefined || limit >= ds.length) return ds;
  const pick = (k: number): number => Math.floor((k * ds.length) / limit);
  return {
    length: limit,
    classes: ds.classes,
    classNames: ds.classNames,
    normalization: ds.normalization,
    get: (i: number, c: SampleContext): Sample | Promise<Sample> => ds.get(pick(i), { ...c, index: pick(i) }),
  };
}

export interface RunLoaders {
  train: BatchLoader;
  test: BatchLoader;
  classes: number;
  /** The training set's class names, when it has them. */
  classNames?: readonly string[];
  trainImages: number;
  testImages: number;
  source: string;
}

export interface LoaderSettings {
  device: string;
  dtype: Extract<DTypeName, 'float32' | 'float16' | 'bfloat16'>;
  /** Memory order of the batches (NHWC for 16-bit training on CUDA). */
  layout?: LayoutName;
  normalization?: Normalization;
  workers?: number;
  prefetch?: number;
  onError?: 'raise' | 'skip';
  onSkip?: (e: ImageError) => void;
}

/** Builds the run's two loaders (see the file comment). */
export async function runLoaders(
  data: string | { train: Dataset | SampleDataset; test: Dataset | SampleDataset } | undefined,
  s: RunSpec & { images?: ImageRunSpec },
  o: LoaderSettings,
): Promise<RunLoaders> {
  const bs = s.batchSize;
  const testBatch = Math.min(Math.max(bs, 100), 500);
  if (s.images || (typeof data === 'object' && !isCifarSplit(data.train))) {
    let train: SampleDataset;
    let test: SampleDataset;
    let source: string;
    const size = s.images?.imageSize ?? 224;
    if (typeof data === 'object') {
      if (isCifarSplit(data.test)) throw badArg('type', 'Trainer: data', 'must hold train and test of one kind: both CIFAR splits or both SampleDatasets');
      train = data.train as SampleDataset;
      test = data.test as SampleDataset;
      source = 'user datasets';
    } else {
      const roots = imageRoots(data as string, s.images?.valData);
      if (!roots) throw badArg('range', 'Trainer: data', `is not an image folder: ${data}`);
      if (!roots.val) {
        throw badArg(
          'range',
          'Trainer: data',
          `${data} has no validation images: add ${VAL_NAMES.map((n) => path.join(data as string, n)).join(' or ')} ` +
            '(class folders like train/), or name one with valData (--val-data)',
        );
      }
      const common = { onError: o.onError, onSkip: o.onSkip };
      const base = imageFolder(roots.train, { ...common, transform: trainTransform(s.images?.augment ?? 'torchvision', size) });
      const val = imageFolder(roots.val, { ...common, transform: evalTransform(size) });
      if (val.classNames.join('\n') !== base.classNames.join('\n')) {
        throw badArg(
          'range',
          'Trainer: data',
          `has validation classes (${val.classes}: ${val.classNames.slice(0, 5).join(', ')}...) that differ from the training classes ` +
            `(${base.classes}: ${base.classNames.slice(0, 5).join(', ')}...) in ${roots.val}; labels would not match`,
        );
      }
      train = base;
      test = val;
      source = roots.val === path.join(data as string, path.basename(roots.val)) ? (data as string) : `${roots.train} (validation ${roots.val})`;
    }
    train = limitSamples(train, s.trainImages);
    test = limitSamples(test, s.testImages);
    const normalization = o.normalization ?? train.normalization ?? IMAGENET_NORMALIZATION;
    const common = { device: o.device, dtype: o.dtype, layout: o.layout, normalization, workers: o.workers, prefetch: o.prefetch };
    const loader = new DataLoader(train, { ...common, batchSize: bs, seed: s.seed, shuffle: true, dropLast: train.length >= bs });
    const evaluation = new DataLoader(test, { ...common, batchSize: Math.min(bs, testBatch), shuffle: false, dropLast: false });
    const classes = train.classes ?? Math.max(test.classes ?? 0, 1);
    return { train: loader, test: evaluation, classes, classNames: train.classNames, trainImages: train.length, testImages: test.length, source };
  }
  let splits: { train: Dataset; test: Dataset };
  let source: string;
  if (typeof data === 'object') {
    splits = data as { train: Dataset; test: Dataset };
    source = splits.train.source;
  } else {
    source = data ?? (await syntheticSource(s.dataset));
    splits = await loadSplits(s.dataset, source, { train: s.trainImages ?? undefined, test: s.testImages ?? undefined });
    if (data === undefined) source = `synthetic ${s.dataset} (${source})`;
  }
  const augment = s.augment;
  const train = new CifarDataLoader(splits.train, {
    batchSize: bs,
    device: o.device,
    seed: s.seed,
    augment,
    dropLast: splits.train.count >= bs,
    dtype: o.dtype,
    layout: o.layout,
    normalization: o.normalization,
  });
  let test: CifarDataLoader;
  try {
    test = new CifarDataLoader(splits.test, {
      batchSize: testBatch,
      device: o.device,
      shuffle: false,
      augment: false,
      normalization: train.normalization,
      dtype: o.dtype,
      layout: o.layout,
    });
  } catch (e) {
    train.dispose();
    throw e;
  }
  const classNames = splits.train.classNames.length === splits.train.classes ? splits.train.classNames : undefined;
  return { train, test, classes: splits.train.classes, classNames, trainImages: splits.train.count, testImages: splits.test.count, source };
}
