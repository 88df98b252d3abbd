// The Dataset / DataLoader contract every data source meets (torch.utils.data's, in this
// package's terms). A SampleDataset has a length and a get(i) that returns one image and
// its label, synchronously or as a Promise; a BatchLoader hands out Tensor batches by
// (epoch, position), so a run can start anywhere and resume exactly. The Trainer, the CLI,
// the gradient-flow tool and evaluation take any BatchLoader: the generic DataLoader over a
// SampleDataset (image folders, a user's class) or the CIFAR loader's resident fast path.
import { badArg, describe } from '../checks';
import { Tensor } from '../tensor';
import { Normalization } from './augment';
import { Rng } from './prng';

/** One image and its label. */
export interface Sample {
  /**
   * Pixels: uint8 (normalised on the device with the loader's statistics) or float32 (used
   * as they are, already normalised).
   */
  image: Uint8Array | Float32Array;
  /** [channels, height, width]; every sample of a batch must agree. */
  shape: [number, number, number];
  /** Memory order of `image`: 'CHW' (planes, the default) or 'HWC' (interleaved, as decoders write). */
  layout?: 'CHW' | 'HWC';
  /** Class index in [0, classes). */
  label: number;
}

/** What get() may use to be reproducible: a stream unique to (seed, epoch, index). */
export interface SampleContext {
  epoch: number;
  index: number;
  /** Draw every random choice of this sample from here (augmentation), so resume is exact. */
  rng: Rng;
}

/** torch.utils.data.Dataset (map-style): a length and get(i). */
export interface SampleDataset {
  readonly length: number;
  get(index: number, context: SampleContext): Sample | Promise<Sample>;
  /**
   * Optional: several samples at once, each exactly what get() gives, for a source that
   * shares work between them (an image folder decodes small files in groups). `run` is the
   * loader's limit on samples in flight: wrap each unit of work that occupies a decoder.
   */
  getMany?(requests: { index: number; context: SampleContext }[], run: <T>(task: () => Promise<T>) => Promise<T>): Promise<Sample[]>;
  /** Number of classes (default: found from labels by the Trainer when it builds a model). */
  readonly classes?: number;
  readonly classNames?: readonly string[];
  /** Statistics a loader normalises uint8 images with unless given others. */
  readonly normalization?: Normalization;
}

/** A batch: images [size, C, H, W] in the loader's dtype and layout, int32 labels [size]. */
export interface TensorBatch extends Disposable {
  x: Tensor;
  y: Tensor;
  size: number;
  epoch: number;
  /** Position of the batch in its epoch. */
  index: number;
  /** The dataset indices in this batch. */
  indices: Int32Array;
  dispose(): void;
}

/** torch.utils.data.DataLoader's role: batches by (epoch, position), prefetched. */
export interface BatchLoader extends Disposable {
  readonly batchSize: number;
  /** Batches in one epoch (of this rank's share when sharded). */
  readonly batchesPerEpoch: number;
  /** Images handed out per epoch. */
  readonly imagesPerEpoch: number;
  /** Size of the dataset behind the loader (all ranks). */
  readonly datasetLength: number;
  /** Batches requested ahead of the one being used. */
  readonly prefetch: number;
  readonly device: string;
  readonly normalization: Normalization;
  readonly classes?: number;
  /** Batch `index` of epoch `epoch`; the caller disposes it. */
  batch(epoch: number, index: number): Promise<TensorBatch>;
  /** The batches of one epoch from position `from` (default 0), `prefetch` requested ahead. */
  epoch(epoch: number, from?: number): AsyncIterableIterator<TensorBatch>;
  dispose(): void;
}

/** Sharding as torch's DistributedSampler: rank r of w takes every w-th position of the epoch's order. */
export interface ShardOptions {
  rank?: number;
  worldSize?: number;
}

/** The rank's share of an epoch's order; without dropLast the order wraps so every rank gets ceil(n / w). */
export function shardOrder(order: Int32Array, rank: number, worldSize: number, dropLast: boolean): Int32Array {
  if (worldSize === 1) return order;
  const n = order.length;
  const per = dropLast ? Math.floor(n / worldSize) : Math.ceil(n / worldSize);
  const out = new Int32Array(per);
  for (let k = 0; k < per; k++) out[k] = order[(rank + k * worldSize) % n];
  return out;
}

export function checkShard(o: ShardOptions, op: string): { rank: number; worldSize: number } {
  const worldSize = o.worldSize ?? 1;
  const rank = o.rank ?? 0;
  if (!Number.isInteger(worldSize) || worldSize < 1) throw badArg('range', `${op}: worldSize`, `must be a positive integer, got ${describe(worldSize)}`);
  if (!Number.isInteger(rank) || rank < 0 || rank >= worldSize)
    throw badArg('range', `${op}: rank`, `must be an integer in [0, ${worldSize}), got ${describe(rank)}`);
  return { rank, worldSize };
}

export function checkEpochIndex(op: string, epoch: number, index: number, batches: number, indexName = 'index'): void {
  if (!Number.isInteger(epoch) || epoch < 0 || epoch > 0xffffffff)
    throw badArg('range', `${op}: epoch`, `must be an integer in [0, 2^32), got ${describe(epoch)}`);
  if (!Number.isInteger(index) || index < 0 || index >= batches)
    throw badArg('range', `${op}: ${indexName}`, `must be an integer in [0, ${batches}), got ${describe(index)}`);
}

/**
 * Batches of one epoch from `from`, keeping `depth` requested ahead; a batch made but never
 * handed out (loop left early, or an error) is disposed here.
 */
export function prefetchEpoch(
  loader: Pick<BatchLoader, 'batch' | 'batchesPerEpoch'>,
  epoch: number,
  from: number,
  depth: number,
): AsyncIterableIterator<TensorBatch> {
  const count = loader.batchesPerEpoch;
  const queue: Promise<TensorBatch>[] = [];
  let next = from;
  const fill = (): void => {
    while (queue.length < Math.max(1, depth) + 1 && next < count) {
      const p = loader.batch(epoch, next++);
      p.catch(() => undefined); // awaited in order below; this only keeps it from being "unhandled" meanwhile
      queue.push(p);
    }
  };
  const drain = (): void => {
    for (const p of queue.splice(0))
      p.then(
        (b) => b.dispose(),
        () => undefined,
      );
    next = count;
  };
  const it: AsyncIterableIterator<TensorBatch> = {
    next: async (): Promise<IteratorResult<TensorBatch>> => {
      fill();
      const p = queue.shift();
      if (!p) return { done: true, value: undefined };
      try {
        return { done: false, value: await p };
      } catch (e) {
        drain();
        throw e;
      }
    },
    return: async (): Promise<IteratorResult<TensorBatch>> => {
      drain();
      return { done: true, value: undefined };
    },
    [Symbol.asyncIterator]: () => it,
  };
  return it;
}

/**
 * Batches for iterations [start, total) across epochs (batch i of the run is batch
 * i % perEpoch of epoch floor(i / perEpoch)), `depth` requested ahead: the Trainer's feed.
 */
export class RunFeed implements Disposable {
  private readonly queue: { iteration: number; batch: Promise<TensorBatch> }[] = [];
  private next: number;

  constructor(
    private readonly loader: BatchLoader,
    start: number,
    private readonly total: number,
    private readonly depth = loader.prefetch,
  ) {
    this.next = start;
  }

  private fill(): void {
    const bpe = this.loader.batchesPerEpoch;
    while (this.queue.length < Math.max(1, this.depth) + 1 && this.next < this.total) {
      const i = this.next++;
      const batch = this.loader.batch(Math.floor(i / bpe), i % bpe);
      batch.catch(() => undefined);
      this.queue.push({ iteration: i, batch });
    }
  }

  /** The next iteration's batch; the `depth` after it are requested before it is returned. */
  async take(): Promise<TensorBatch | null> {
    this.fill();
    const head = this.queue.shift();
    if (!head) return null;
    return head.batch;
  }

  dispose(): void {
    for (const q of this.queue.splice(0))
      q.batch.then(
        (b) => b.dispose(),
        () => undefined,
      );
    this.next = this.total;
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}
