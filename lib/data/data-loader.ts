// DataLoader: batches of any SampleDataset. Samples are fetched with at most `workers` get()
// calls in flight (an image dataset decodes on libuv's thread pool, so that is how many
// images decode at once), copied into one host buffer per batch, uploaded once as uint8 and
// turned into normalised floats on the device by the augment op (identity crop, no
// padding), as the CIFAR path does. The order of epoch e and every sample's random stream
// depend only on (seed, e, index), never on what ran before, so any batch can be rebuilt.
import * as os from 'node:os';

import { DTypeName, LayoutName, native, NativeTensor } from '../native';
import { badArg, checkOptions, describe, optionNames } from '../checks';
import { Tensor } from '../tensor';
import { Normalization } from './augment';
import {
  BatchLoader,
  checkEpochIndex,
  checkShard,
  prefetchEpoch,
  Sample,
  SampleContext,
  SampleDataset,
  shardOrder,
  ShardOptions,
  TensorBatch,
} from './dataset';
import { Rng } from './prng';

export interface DataLoaderOptions extends ShardOptions {
  batchSize: number;
  /** Reshuffle every epoch (default true). */
  shuffle?: boolean;
  /** Drop the last, smaller batch of an epoch (default false). */
  dropLast?: boolean;
  /** Seed of the order and of every sample's random stream (default 0). */
  seed?: number;
  /** Batches requested ahead of the one in use (default 2). */
  prefetch?: number;
  /** Samples being fetched at once (default: the machine's cores, at least 2). */
  workers?: number;
  /** 'cpu' (default) or 'cuda:N'. */
  device?: string;
  /** Statistics for uint8 samples (default: the dataset's, else mean 0 / std 1 on [0, 1] values). */
  normalization?: Normalization;
  dtype?: Extract<DTypeName, 'float32' | 'float16' | 'bfloat16'>;
  layout?: LayoutName;
}

// Stream words of lib/data/prng.ts's Rng: the CIFAR loader uses 1 (shuffle) and 2 (augment).
const SHUFFLE_STREAM = 1;
const SAMPLE_STREAM = 3;

/** A small counting semaphore: at most `limit` tasks run at once, in request order. */
class Limiter {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(private readonly limit: number) {}
  async run<T>(task: () => T | Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active++;
    try {
      return await task();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}

const DATA_LOADER_OPTIONS = optionNames<DataLoaderOptions>({
  batchSize: true,
  shuffle: true,
  dropLast: true,
  seed: true,
  prefetch: true,
  workers: true,
  device: true,
  normalization: true,
  dtype: true,
  layout: true,
  rank: true,
  worldSize: true,
});

export class DataLoader implements BatchLoader {
  readonly dataset: SampleDataset;
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly dropLast: boolean;
  readonly seed: number;
  readonly prefetch: number;
  readonly workers: number;
  readonly device: string;
  readonly rank: number;
  readonly worldSize: number;
  readonly normalization: Normalization;
  readonly dtype: DTypeName;
  readonly layout: LayoutName;
  private readonly limiter: Limiter;
  private orders = new Map<number, Int32Array>();
  private staging: Uint8Array | Float32Array | null = null;
  private disposed = false;

  constructor(dataset: SampleDataset, options: DataLoaderOptions) {
    const op = 'DataLoader';
    if (!dataset || typeof dataset.get !== 'function' || !Number.isInteger(dataset.length) || dataset.length < 0) {
      throw badArg('type', `${op}: dataset`, `must have an integer 'length' and a get(index) method, got ${describe(dataset)}`);
    }
    options = checkOptions(op, options, DATA_LOADER_OPTIONS);
    const int = (v: number | undefined, name: string, fallback: number, min: number): number => {
      const x = v ?? fallback;
      if (!Number.isSafeInteger(x) || x < min) throw badArg('range', `${op}: ${name}`, `must be an integer >= ${min}, got ${describe(v)}`);
      return x;
    };
    this.dataset = dataset;
    this.batchSize = int(options.batchSize, 'batchSize', NaN, 1);
    this.seed = int(options.seed, 'seed', 0, 0);
    this.prefetch = int(options.prefetch, 'prefetch', 2, 0);
    this.workers = int(options.workers, 'workers', Math.max(2, os.availableParallelism()), 1);
    this.shuffle = options.shuffle ?? true;
    this.dropLast = options.dropLast ?? false;
    ({ rank: this.rank, worldSize: this.worldSize } = checkShard(options, op));
    this.device = options.device ?? 'cpu';
    this.dtype = options.dtype ?? 'float32';
    this.layout = options.layout ?? 'NCHW';
    this.normalization = options.normalization ?? dataset.normalization ?? { mean: [0, 0, 0], std: [1, 1, 1] };
    this.limiter = new Limiter(this.workers);
    if (this.batchesPerEpoch === 0)
      throw new RangeError(
        `${op}: ${this.shardLength} images per epoch${this.worldSize > 1 ? ` (rank ${this.rank} of ${this.worldSize})` : ''} leave no batch of ${this.batchSize}${this.dropLast ? ' with dropLast' : ''}`,
      );
  }

  get datasetLength(): number {
    return this.dataset.length;
  }

  get classes(): number | undefined {
    return this.dataset.classes;
  }

  /** Positions per epoch of this rank (DistributedSampler's count). */
  get shardLength(): number {
    const n = this.dataset.length;
    return this.worldSize === 1 ? n : this.dropLast ? Math.floor(n / this.worldSize) : Math.ceil(n / this.worldSize);
  }

  get batchesPerEpoch(): number {
    const n = this.shardLength;
    return this.dropLast ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
  }

  get imagesPerEpoch(): number {
    return Math.min(this.shardLength, this.batchesPerEpoch * this.batchSize);
  }

  /** The dataset indices this rank visits in epoch `epoch`, in order. */
  epochOrder(epoch: number): Int32Array {
    let order = this.orders.get(epoch);
    if (!order) {
      const n = this.dataset.length;
      const all = this.shuffle ? new Rng(this.seed, SHUFFLE_STREAM, epoch).permutation(n) : Int32Array.from({ length: n }, (_, i) => i);
      order = shardOrder(all, this.rank, this.worldSize, this.dropLast);
      if (this.orders.size >= 2) this.orders.delete(this.orders.keys().next().value as number); // the epoch boundary needs two
      this.orders.set(epoch, order);
    }
    return order;
  }

  /** The sample at dataset index `index` as epoch `epoch` sees it (its random stream included). */
  sample(epoch: number, index: number): Promise<Sample> {
    return this.limiter.run(() => this.dataset.get(index, this.context(epoch, index)));
  }

  private context(epoch: number, index: number): SampleContext {
    return { epoch, index, rng: new Rng(this.seed, SAMPLE_STREAM, epoch, index) };
  }

  /** The samples at dataset indices `indices` as epoch `epoch` sees them, through getMany() where the dataset has it. */
  private samples(epoch: number, indices: Int32Array): Promise<Sample[]> {
    const ds = this.dataset;
    if (!ds.getMany) return Promise.all(Array.from(indices, (i) => this.sample(epoch, i)));
    return ds.getMany(
      Array.from(indices, (index) => ({ index, context: this.context(epoch, index) })),
      (task) => this.limiter.run(task),
    );
  }

  async batch(epoch: number, index: number): Promise<TensorBatch> {
    if (this.disposed) throw new Error('DataLoader: used after dispose()');
    checkEpochIndex('DataLoader.batch', epoch, index, this.batchesPerEpoch);
    const order = this.epochOrder(epoch);
    const indices = order.slice(index * this.batchSize, Math.min((index + 1) * this.batchSize, order.length));
    const samples = await this.samples(epoch, indices);
    if (this.disposed) throw new Error('DataLoader: disposed while a batch was being made');
    return this.assemble(samples, indices, epoch, index);
  }

  epoch(epoch: number, from = 0): AsyncIterableIterator<TensorBatch> {
    checkEpochIndex('DataLoader.epoch', epoch, from, this.batchesPerEpoch + 1, 'from');
    return prefetchEpoch(this, epoch, from, this.prefetch);
  }

  /** One host buffer, one upload, then normalisation (uint8) or conversion (float32) on the device. */
  private assemble(samples: Sample[], indices: Int32Array, epoch: number, index: number): TensorBatch {
    const size = samples.length;
    const first = samples[0];
    const [c, h, w] = checkSample(first, indices[0], this.dataset.classes);
    const float = first.image instanceof Float32Array;
    const hwc = first.layout === 'HWC';
    const per = c * h * w;
    const buf = this.stagingBuffer(float, size * per);
    const labels = new Int32Array(size);
    samples.forEach((s, k) => {
      const [sc, sh, sw] = checkSample(s, indices[k], this.dataset.classes);
      if (sc !== c || sh !== h || sw !== w || s.image instanceof Float32Array !== float || (s.layout === 'HWC') !== hwc) {
        throw new RangeError(
          `DataLoader: sample ${indices[k]} is ${describeSample(s)} but sample ${indices[0]} of the same batch is ${describeSample(first)}; ` +
            'every image of a batch needs the same shape, type and layout (give the dataset a transform with a fixed output size)',
        );
      }
      buf.set(s.image, k * per);
      labels[k] = s.label;
    });
    if (!float && this.normalization.mean.length !== c) {
      throw new RangeError(`DataLoader: option 'normalization' has ${this.normalization.mean.length} channels, the images have ${c}`);
    }
    const n = native();
    const shape = [size, c, h, w];
    const owned: NativeTensor[] = [];
    const keep = (t: NativeTensor): NativeTensor => (owned.push(t), t);
    try {
      let x: NativeTensor;
      const raw = keep(n.fromTypedArray(buf, shape, float ? 'float32' : 'uint8', hwc ? 'NHWC' : 'NCHW', this.device));
      if (float) {
        x = n.convert(raw, this.dtype, this.layout);
      } else {
        const planar = hwc ? keep(n.toLayout(raw, 'NCHW')) : raw;
        const rows = keep(
          n.fromTypedArray(
            Int32Array.from({ length: size }, (_, i) => i),
            [size],
            'int32',
            'NCHW',
            this.device,
          ),
        );
        const noCrop = keep(n.fromTypedArray(new Int32Array(size * 3), [size, 3], 'int32', 'NCHW', this.device));
        x = n.augmentBatch(planar, rows, noCrop, this.normalization.mean, this.normalization.std, 0, this.dtype, this.layout);
      }
      const xs = new Tensor(x);
      let y: Tensor;
      try {
        y = new Tensor(n.fromTypedArray(labels, [size], 'int32', 'NCHW', this.device));
      } catch (e) {
        xs.dispose();
        throw e;
      }
      return tensorBatch(xs, y, epoch, index, indices);
    } finally {
      for (const t of owned) t.dispose();
    }
  }

  /**
   * The host buffer a batch is assembled in, kept between batches: the upload copies it at
   * once, and a fresh 10-40 MB buffer per batch would cost its zeroing and page faults again.
   */
  private stagingBuffer(float: boolean, length: number): Uint8Array | Float32Array {
    const s = this.staging;
    if (s && s instanceof Float32Array === float && s.length >= length) return s.subarray(0, length);
    this.staging = float ? new Float32Array(length) : new Uint8Array(length);
    return this.staging;
  }

  dispose(): void {
    this.staging = null;
    this.disposed = true;
    this.orders.clear();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

export function tensorBatch(x: Tensor, y: Tensor, epoch: number, index: number, indices: Int32Array): TensorBatch {
  const batch: TensorBatch = {
    x,
    y,
    size: indices.length,
    epoch,
    index,
    indices,
    dispose: () => {
      x.dispose();
      y.dispose();
    },
    [Symbol.dispose]: () => batch.dispose(),
  };
  return batch;
}

function describeSample(s: Sample): string {
  return `${s.image instanceof Float32Array ? 'float32' : 'uint8'} ${s.layout ?? 'CHW'} [${s.shape?.join(', ')}]`;
}

function checkSample(s: Sample, index: number, classes: number | undefined): [number, number, number] {
  const where = `DataLoader: dataset.get(${index})`;
  if (!s || typeof s !== 'object') throw new TypeError(`${where} must return a sample { image, shape, label }, got ${s === null ? 'null' : typeof s}`);
  if (!(s.image instanceof Uint8Array) && !(s.image instanceof Float32Array)) throw new TypeError(`${where}: 'image' must be a Uint8Array or Float32Array`);
  const sh = s.shape;
  if (!Array.isArray(sh) || sh.length !== 3 || !sh.every((v) => Number.isInteger(v) && v >= 1))
    throw new TypeError(`${where}: 'shape' must be [channels, height, width], got ${JSON.stringify(sh)}`);
  if (s.image.length !== sh[0] * sh[1] * sh[2])
    throw new RangeError(`${where}: 'image' holds ${s.image.length} values, shape [${sh.join(', ')}] needs ${sh[0] * sh[1] * sh[2]}`);
  if (s.layout !== undefined && s.layout !== 'CHW' && s.layout !== 'HWC')
    throw new TypeError(`${where}: 'layout' must be 'CHW' or 'HWC', got ${JSON.stringify(s.layout)}`);
  if (!Number.isInteger(s.label) || s.label < 0 || (classes !== undefined && s.label >= classes) || s.label > 0x7fffffff) {
    throw new RangeError(`${where}: 'label' must be an integer in [0, ${classes ?? '2^31'}), got ${s.label}`);
  }
  return [sh[0], sh[1], sh[2]];
}
