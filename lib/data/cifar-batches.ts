// The CIFAR loader behind the BatchLoader contract: the dataset stays resident on the
// device and each batch is one augmentBatch + gatherLabels call, exactly CifarLoader's
// batches (same order, same crops and flips for a seed); this adds Tensor batches, the
// prefetching epoch iterator and sharding by rank. Also a SampleDataset view of a CIFAR
// split, for code written against the generic interface.
import { LayoutName, native, NativeTensor } from '../native';
import { badArg, checkOptions, describe, optionNames } from '../checks';
import { Tensor } from '../tensor';
import { Normalization } from './augment';
import { BatchLoader, checkEpochIndex, checkShard, prefetchEpoch, Sample, SampleDataset, shardOrder, ShardOptions, TensorBatch } from './dataset';
import { tensorBatch } from './data-loader';
import { Dataset, IMAGE_BYTES, IMAGE_CHANNELS, IMAGE_SIZE } from './format';
import { CifarLoader, LOADER_OPTIONS, LoaderOptions } from './loader';

export interface CifarDataLoaderOptions extends LoaderOptions, ShardOptions {
  /** Batches requested ahead of the one in use (default 1: the device queue already runs ahead). */
  prefetch?: number;
}

const CIFAR_DATA_LOADER_OPTIONS = [...LOADER_OPTIONS, ...optionNames<ShardOptions & { prefetch?: number }>({ rank: true, worldSize: true, prefetch: true })];

export class CifarDataLoader implements BatchLoader {
  readonly loader: CifarLoader;
  readonly prefetch: number;
  readonly rank: number;
  readonly worldSize: number;
  private cache: { epoch: number; order: Int32Array; params: Int32Array } | null = null;

  constructor(dataset: Dataset, options: CifarDataLoaderOptions) {
    checkOptions('CifarDataLoader', options, CIFAR_DATA_LOADER_OPTIONS);
    ({ rank: this.rank, worldSize: this.worldSize } = checkShard(options, 'CifarDataLoader'));
    const p = options.prefetch ?? 1;
    if (!Number.isInteger(p) || p < 0) throw badArg('range', 'CifarDataLoader: prefetch', `must be an integer >= 0, got ${describe(p)}`);
    this.prefetch = p;
    // The sharding and prefetch options are this wrapper's; the inner loader is told the rest.
    const { rank: _rank, worldSize: _worldSize, prefetch: _prefetch, ...loaderOptions } = options;
    this.loader = new CifarLoader(dataset, loaderOptions);
    if (this.batchesPerEpoch === 0) {
      this.loader.dispose();
      throw new RangeError(`CifarDataLoader: rank ${this.rank} of ${this.worldSize} gets ${this.shardLength} images, no batch of ${this.batchSize}`);
    }
  }

  get batchSize(): number {
    return this.loader.batchSize;
  }
  get device(): string {
    return this.loader.device;
  }
  /** Memory order of the batches' images. */
  get layout(): LayoutName {
    return this.loader.layout;
  }
  get normalization(): Normalization {
    return this.loader.normalization;
  }
  get classes(): number {
    return this.loader.dataset.classes;
  }
  get datasetLength(): number {
    return this.loader.dataset.count;
  }

  get shardLength(): number {
    const n = this.loader.dataset.count;
    if (this.worldSize === 1) return n;
    return this.loader.dropLast ? Math.floor(n / this.worldSize) : Math.ceil(n / this.worldSize);
  }

  get batchesPerEpoch(): number {
    if (this.worldSize === 1) return this.loader.batchesPerEpoch;
    const n = this.shardLength;
    return this.loader.dropLast ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
  }

  get imagesPerEpoch(): number {
    return Math.min(this.shardLength, this.batchesPerEpoch * this.batchSize);
  }

  /** This rank's rows and their (dy, dx, flip) for epoch `epoch` (the crops follow the global position). */
  private epochData(epoch: number): { order: Int32Array; params: Int32Array } {
    if (this.cache?.epoch !== epoch) {
      const order = this.loader.epochOrder(epoch);
      const params = this.loader.epochParams(epoch);
      if (this.worldSize === 1) {
        this.cache = { epoch, order, params };
      } else {
        const positions = shardOrder(
          Int32Array.from({ length: order.length }, (_, i) => i),
          this.rank,
          this.worldSize,
          this.loader.dropLast,
        );
        const mine = new Int32Array(positions.length * 3);
        positions.forEach((p, k) => mine.set(params.subarray(p * 3, p * 3 + 3), k * 3));
        this.cache = { epoch, order: positions.map((p) => order[p]), params: mine };
      }
    }
    return this.cache;
  }

  /** Synchronous on the host: the batch is queued on the device before the Promise is returned. */
  async batch(epoch: number, index: number): Promise<TensorBatch> {
    checkEpochIndex('CifarDataLoader.batch', epoch, index, this.batchesPerEpoch);
    const { order, params } = this.epochData(epoch);
    if (this.worldSize === 1) {
      const b = this.loader.makeBatch(epoch, index, order, params);
      return tensorBatch(asTensor(b.x), asTensor(b.y), epoch, index, b.indices);
    }
    const start = index * this.batchSize;
    const end = Math.min(start + this.batchSize, order.length);
    const indices = order.slice(start, end);
    const n = native();
    const l = this.loader;
    const idx = n.fromTypedArray(indices, [indices.length], 'int32', 'NCHW', l.device);
    try {
      const prm = n.fromTypedArray(params.slice(start * 3, end * 3), [indices.length, 3], 'int32', 'NCHW', l.device);
      try {
        const x = new Tensor(n.augmentBatch(l.images, idx, prm, l.normalization.mean, l.normalization.std, l.augment ? l.augment.pad : 0, l.dtype, l.layout));
        try {
          return tensorBatch(x, new Tensor(n.gatherLabels(l.labels, idx)), epoch, index, indices);
        } catch (e) {
          x.dispose();
          throw e;
        }
      } finally {
        prm.dispose();
      }
    } finally {
      idx.dispose();
    }
  }

  epoch(epoch: number, from = 0): AsyncIterableIterator<TensorBatch> {
    checkEpochIndex('CifarDataLoader.epoch', epoch, from, this.batchesPerEpoch + 1, 'from');
    return prefetchEpoch(this, epoch, from, this.prefetch);
  }

  dispose(): void {
    this.loader.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

// CifarLoader's batches hold native handles; a Tensor takes ownership of one.
function asTensor(t: NativeTensor | Tensor): Tensor {
  return t instanceof Tensor ? t : new Tensor(t);
}

/** A CIFAR split as a SampleDataset: image i is a view of its 3072 bytes (CHW), no copy. */
export function cifarSamples(ds: Dataset, normalization?: Normalization): SampleDataset {
  return {
    length: ds.count,
    classes: ds.classes,
    classNames: ds.classNames,
    normalization,
    get(i: number): Sample {
      if (!Number.isInteger(i) || i < 0 || i >= ds.count) throw new RangeError(`cifarSamples: index must be an integer in [0, ${ds.count}), got ${i}`);
      return { image: ds.images.subarray(i * IMAGE_BYTES, (i + 1) * IMAGE_BYTES), shape: [IMAGE_CHANNELS, IMAGE_SIZE, IMAGE_SIZE], label: ds.labels[i] };
    },
  };
}
