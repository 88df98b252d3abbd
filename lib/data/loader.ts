// Batches for training and evaluation. The dataset is uploaded once, as a uint8 tensor that
// stays resident on the training device; each batch then costs two small uploads (row
// indices, crop/flip parameters) and one augmentBatch + gatherLabels call. The shuffle and
// the augmentation parameters of epoch e come from their own seeded streams, so a batch
// depends only on (seed, epoch, position), never on what was iterated before.
//
// Prefetch: iterating an epoch hands out batch t only after batch t+1 has been requested
// from the backend. On a GPU that request is an asynchronous kernel launch queued behind
// nothing but the two small uploads, so it is ready before step t's kernels finish; on the
// CPU backend it runs ahead synchronously (one thread of JS, the op itself is threaded).
import { DTypeName, LayoutName, native, NativeTensor } from '../native';
import { Tensor } from '../tensor';
import { AugmentSettings, channelStats, CIFAR100_NORMALIZATION, CIFAR10_NORMALIZATION, drawAugmentParams, Normalization } from './augment';
import { Dataset, IMAGE_CHANNELS, IMAGE_SIZE } from './format';
import { badArg, checkOptions, describe, optionNames } from '../checks';
import { Rng } from './prng';

export interface LoaderOptions {
  batchSize: number;
  /** 'cpu' (default) or 'cuda:N': where the dataset lives and batches are made. */
  device?: string;
  /** Reshuffle every epoch (default true). */
  shuffle?: boolean;
  /** Pad + random crop + flip (default true), or false for evaluation batches. */
  augment?: boolean | AugmentSettings;
  /** Drop the last, smaller batch of an epoch (default false). */
  dropLast?: boolean;
  /** Seed of the shuffle and augmentation streams (default 0). */
  seed?: number;
  /** Per-channel statistics (default: measured on this dataset; evalLoader defaults to the dataset's fixed constants). */
  normalization?: Normalization;
  dtype?: Extract<DTypeName, 'float32' | 'float16' | 'bfloat16'>;
  layout?: LayoutName;
}

const AUGMENT_KEYS = optionNames<AugmentSettings>({ pad: true, crop: true, flip: true });

export const LOADER_OPTIONS = optionNames<LoaderOptions>({
  batchSize: true,
  device: true,
  shuffle: true,
  augment: true,
  dropLast: true,
  seed: true,
  normalization: true,
  dtype: true,
  layout: true,
});

export interface Batch extends Disposable {
  /** [size, 3, 32, 32] images, normalised, in the loader's dtype and layout. */
  x: Tensor;
  /** [size] int32 labels. */
  y: Tensor;
  size: number;
  epoch: number;
  /** Position of the batch in its epoch. */
  index: number;
  /** The dataset rows in this batch (host copy). */
  indices: Int32Array;
  dispose(): void;
}

const SHUFFLE_STREAM = 1;
const AUGMENT_STREAM = 2;

export class CifarLoader implements Disposable {
  readonly dataset: Dataset;
  readonly batchSize: number;
  readonly device: string;
  readonly shuffle: boolean;
  readonly dropLast: boolean;
  readonly seed: number;
  readonly normalization: Normalization;
  readonly augment: Required<AugmentSettings> | null;
  readonly dtype: DTypeName;
  readonly layout: LayoutName;
  /** The resident dataset: images [N, 3, 32, 32] uint8 and labels [N] uint8 on `device`. */
  readonly images: NativeTensor;
  readonly labels: NativeTensor;
  private disposed = false;

  constructor(dataset: Dataset, options: LoaderOptions) {
    checkOptions('CifarLoader', options, LOADER_OPTIONS);
    const bs = options.batchSize;
    if (!Number.isInteger(bs) || bs < 1) throw badArg('range', 'CifarLoader: batchSize', `must be a positive integer, got ${describe(bs)}`);
    const seed = options.seed ?? 0;
    if (!Number.isSafeInteger(seed) || seed < 0) throw badArg('range', 'CifarLoader: seed', `must be an integer in [0, 2^53), got ${describe(seed)}`);
    if (dataset.images.length !== dataset.count * IMAGE_CHANNELS * IMAGE_SIZE * IMAGE_SIZE || dataset.labels.length !== dataset.count) {
      throw badArg(
        'range',
        'CifarLoader: dataset',
        `is inconsistent: ${dataset.count} images but ${dataset.images.length} image bytes and ${dataset.labels.length} labels`,
      );
    }
    this.dataset = dataset;
    this.batchSize = bs;
    this.device = options.device ?? 'cpu';
    this.shuffle = options.shuffle ?? true;
    this.dropLast = options.dropLast ?? false;
    this.seed = seed;
    this.normalization = options.normalization ?? channelStats(dataset);
    checkNormalization(this.normalization);
    const aug = options.augment ?? true;
    if (typeof aug === 'object') checkOptions('CifarLoader', aug, AUGMENT_KEYS, 'augment');
    else if (typeof aug !== 'boolean') throw badArg('type', 'CifarLoader: augment', `must be a boolean or { pad, crop, flip }, got ${describe(aug)}`);
    this.augment = aug === false ? null : { pad: 4, crop: true, flip: true, ...(aug === true ? {} : aug) };
    this.dtype = options.dtype ?? 'float32';
    this.layout = options.layout ?? 'NCHW';
    if (this.batchesPerEpoch === 0) throw badArg('range', 'CifarLoader: batchSize', `${bs} > ${dataset.count} images leaves no batch with dropLast`);
    const n = native();
    this.images = n.fromTypedArray(dataset.images, [dataset.count, IMAGE_CHANNELS, IMAGE_SIZE, IMAGE_SIZE], 'uint8', 'NCHW', this.device);
    try {
      this.labels = n.fromTypedArray(dataset.labels, [dataset.count], 'uint8', 'NCHW', this.device);
    } catch (e) {
      this.images.dispose();
      throw e;
    }
  }

  get batchesPerEpoch(): number {
    const n = this.dataset.count;
    return this.dropLast ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
  }

  /** Images per epoch actually handed out (fewer than the dataset with dropLast). */
  get imagesPerEpoch(): number {
    return Math.min(this.dataset.count, this.batchesPerEpoch * this.batchSize);
  }

  /** The order in which epoch `epoch` visits the dataset's rows. */
  epochOrder(epoch: number): Int32Array {
    checkEpoch(epoch);
    if (!this.shuffle) return Int32Array.from({ length: this.dataset.count }, (_, i) => i);
    return new Rng(this.seed, SHUFFLE_STREAM, epoch).permutation(this.dataset.count);
  }

  /** (dy, dx, flip) for every position of epoch `epoch`; the identity crop without augmentation. */
  epochParams(epoch: number): Int32Array {
    checkEpoch(epoch);
    if (!this.augment) return new Int32Array(this.dataset.count * 3);
    return drawAugmentParams(new Rng(this.seed, AUGMENT_STREAM, epoch), this.dataset.count, this.augment);
  }

  /** Builds one batch from host-side order and parameters (see epochOrder / epochParams). */
  makeBatch(epoch: number, index: number, order: Int32Array, params: Int32Array): Batch {
    if (this.disposed) throw new Error('CifarLoader: used after dispose()');
    const start = index * this.batchSize;
    const end = Math.min(start + this.batchSize, this.dataset.count);
    const size = end - start;
    const indices = order.slice(start, end);
    const n = native();
    const idx = n.fromTypedArray(indices, [size], 'int32', 'NCHW', this.device);
    let prm: NativeTensor | undefined;
    let x: NativeTensor | undefined;
    try {
      prm = n.fromTypedArray(params.subarray(start * 3, end * 3), [size, 3], 'int32', 'NCHW', this.device);
      const { mean, std } = this.normalization;
      x = n.augmentBatch(this.images, idx, prm, mean, std, this.augment ? this.augment.pad : 0, this.dtype, this.layout);
      const y = new Tensor(n.gatherLabels(this.labels, idx));
      const xs = new Tensor(x);
      const batch: Batch = {
        x: xs,
        y,
        size,
        epoch,
        index,
        indices,
        dispose: () => {
          xs.dispose();
          y.dispose();
        },
        [Symbol.dispose]: () => batch.dispose(),
      };
      return batch;
    } catch (e) {
      x?.dispose();
      throw e;
    } finally {
      idx.dispose();
      prm?.dispose();
    }
  }

  /**
   * The batches of one epoch, prefetched one ahead. Each batch belongs to the caller, who
   * disposes it; a batch prepared but never handed out (loop left early) is disposed here.
   */
  epoch(epoch: number): IterableIterator<Batch> {
    const order = this.epochOrder(epoch);
    const params = this.epochParams(epoch);
    const count = this.batchesPerEpoch;
    let next = 0;
    let ready: Batch | null = null;
    const prepare = (): void => {
      ready = next < count ? this.makeBatch(epoch, next++, order, params) : null;
    };
    const it: IterableIterator<Batch> = {
      next: (): IteratorResult<Batch> => {
        if (next === 0 && ready === null) prepare();
        const out: Batch | null = ready;
        if (out === null) return { done: true, value: undefined };
        try {
          prepare(); // batch t+1 is requested before batch t is handed out
        } catch (e) {
          out.dispose();
          throw e;
        }
        return { done: false, value: out };
      },
      return: (): IteratorResult<Batch> => {
        (ready as Batch | null)?.dispose();
        ready = null;
        next = count;
        return { done: true, value: undefined };
      },
      [Symbol.iterator]: () => it,
    };
    return it;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.images.dispose();
    this.labels.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

/**
 * A loader for evaluation: fixed order, no augmentation, every image (no drop-last). It
 * normalises with `normalization`: pass the training loader's (`trainLoader.normalization`).
 * The default is the dataset's fixed constants (CIFAR-10 or CIFAR-100 training-set
 * statistics), never statistics measured on the evaluated data itself.
 */
export function evalLoader(dataset: Dataset, options: Omit<LoaderOptions, 'shuffle' | 'augment' | 'dropLast' | 'seed'>): CifarLoader {
  checkOptions(
    'evalLoader',
    options,
    LOADER_OPTIONS.filter((k) => !['shuffle', 'augment', 'dropLast', 'seed'].includes(k)),
  );
  const normalization = options.normalization ?? (dataset.kind === 'cifar100' ? CIFAR100_NORMALIZATION : CIFAR10_NORMALIZATION);
  return new CifarLoader(dataset, {
    ...options,
    normalization: { mean: [...normalization.mean], std: [...normalization.std] },
    shuffle: false,
    augment: false,
    dropLast: false,
  });
}

function checkNormalization(n: Normalization): void {
  const ok = (a: unknown, positive: boolean): boolean =>
    Array.isArray(a) && a.length === IMAGE_CHANNELS && a.every((v) => typeof v === 'number' && Number.isFinite(v) && (!positive || v > 0));
  if (!ok(n?.mean, false) || !ok(n?.std, true)) {
    throw badArg(
      'range',
      'CifarLoader: normalization',
      `must hold ${IMAGE_CHANNELS} finite means and ${IMAGE_CHANNELS} positive finite stds, got ${JSON.stringify(n)}`,
    );
  }
}

function checkEpoch(epoch: number): void {
  if (!Number.isInteger(epoch) || epoch < 0 || epoch > 0xffffffff)
    throw badArg('range', 'CifarLoader: epoch', `must be an integer in [0, 2^32), got ${describe(epoch)}`);
}
