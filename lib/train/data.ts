// Where a run's images come from: a CIFAR folder or .tar.gz, or (when none is given) the
// synthetic CIFAR-format dataset, written once into a cache folder and read back through
// the same reader as real data.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { loadCifar, locateCifar } from '../data/cifar';
import { CifarKind, Dataset } from '../data/format';
import { writeSyntheticCifar } from '../data/synthetic';
import { checkOptions, optionNames } from '../checks';
import { cacheDir } from '../env';

export const SYNTHETIC_TRAIN = 2000;
export const SYNTHETIC_TEST = 500;

/** The cache root (see env.ts: $CUDNN_RESNET_CACHE, else the XDG cache folder). */
export { cacheDir } from '../env';

/**
 * Where the synthetic dataset of these sizes lives in the cache. ('v2': the sets carry a
 * records.json with their record counts, which the reader needs for non-official sizes.)
 */
export interface SyntheticSourceOptions {
  /** Training images (default 2000). */
  train?: number;
  /** Test images (default 500). */
  test?: number;
  seed?: number;
}
const SYNTHETIC_SOURCE_OPTIONS = optionNames<SyntheticSourceOptions>({ train: true, test: true, seed: true });

export function syntheticDir(kind: CifarKind, opts: SyntheticSourceOptions = {}): string {
  return path.join(cacheDir(), `synthetic-v2-${kind}-${opts.train ?? SYNTHETIC_TRAIN}-${opts.test ?? SYNTHETIC_TEST}-seed${opts.seed ?? 0}`);
}

/** The synthetic dataset's folder, generated on first use. Returns the folder to read. */
export async function syntheticSource(kind: CifarKind, opts: SyntheticSourceOptions = {}): Promise<string> {
  checkOptions('syntheticSource', opts, SYNTHETIC_SOURCE_OPTIONS);
  const train = opts.train ?? SYNTHETIC_TRAIN;
  const test = opts.test ?? SYNTHETIC_TEST;
  const seed = opts.seed ?? 0;
  const dir = syntheticDir(kind, { train, test, seed });
  const done = path.join(dir, '.complete');
  if (!fs.existsSync(done)) {
    // Written into a private folder and renamed, so concurrent runs never read a half-written set.
    const tmp = `${dir}.tmp-${process.pid}-${Date.now()}`;
    await writeSyntheticCifar(tmp, { kind, train, test, seed });
    fs.writeFileSync(path.join(tmp, '.complete'), '');
    try {
      fs.renameSync(tmp, dir);
    } catch {
      fs.rmSync(tmp, { recursive: true, force: true }); // another run got there first
    }
  }
  return dir;
}

/** Checks that `source` holds the dataset (throws CifarFormatError ERR_CIFAR_MISSING_FILE otherwise). */
export function checkSource(kind: CifarKind, source: string): void {
  locateCifar(kind, source);
}

/** The first `limit` images of a split (all when limit is undefined or larger). */
export function limitDataset(ds: Dataset, limit: number | undefined): Dataset {
  if (limit === undefined || limit >= ds.count) return ds;
  const n = limit;
  return {
    ...ds,
    count: n,
    images: ds.images.subarray(0, n * 3072),
    labels: ds.labels.subarray(0, n),
    coarseLabels: ds.coarseLabels?.subarray(0, n),
    fineLabels: ds.fineLabels?.subarray(0, n),
  };
}

export async function loadSplits(kind: CifarKind, source: string, limits: { train?: number; test?: number } = {}): Promise<{ train: Dataset; test: Dataset }> {
  const train = limitDataset(await loadCifar(kind, source, { split: 'train' }), limits.train);
  const test = limitDataset(await loadCifar(kind, source, { split: 'test' }), limits.test);
  return { train, test };
}
