// Host side of the paper's augmentation (He et al. 2016, sec. 4.2: 4 pixels of zero padding
// on each side, a random 32x32 crop, a horizontal flip with probability 0.5) and of the
// per-channel normalisation. Only the small per-image parameters are drawn here, from the
// seeded generator; the pixels are produced by the native augmentBatch op on the device
// that holds the dataset, so CPU and CUDA give the same batches for the same seed.
import { Dataset, IMAGE_SIZE } from './format';
import { badArg, checkOptions, describe, optionNames } from '../checks';
import { Rng } from './prng';

/** Per-channel mean and standard deviation of pixel values scaled to [0, 1]. */
export interface Normalization {
  mean: number[];
  std: number[];
}

/** The usual CIFAR-10 training-set statistics. */
export const CIFAR10_NORMALIZATION: Readonly<Normalization> = Object.freeze({
  mean: [0.4914, 0.4822, 0.4465],
  std: [0.247, 0.2435, 0.2616],
});

/** The usual CIFAR-100 training-set statistics. */
export const CIFAR100_NORMALIZATION: Readonly<Normalization> = Object.freeze({
  mean: [0.5071, 0.4865, 0.4409],
  std: [0.2673, 0.2564, 0.2762],
});

/** Measures a dataset's per-channel statistics (population std), for any CIFAR-like data. */
export function channelStats(ds: Dataset): Normalization {
  const plane = IMAGE_SIZE * IMAGE_SIZE;
  const mean: number[] = [];
  const std: number[] = [];
  for (let c = 0; c < 3; c++) {
    // Byte histograms keep the sums exact and the pass cheap.
    const hist = new Float64Array(256);
    for (let i = 0; i < ds.count; i++) {
      const base = (i * 3 + c) * plane;
      for (let p = 0; p < plane; p++) hist[ds.images[base + p]]++;
    }
    let n = 0,
      s = 0,
      s2 = 0;
    for (let v = 0; v < 256; v++) {
      const x = v / 255;
      n += hist[v];
      s += hist[v] * x;
      s2 += hist[v] * x * x;
    }
    const m = s / n;
    mean.push(m);
    std.push(Math.sqrt(Math.max(s2 / n - m * m, 1e-12)));
  }
  return { mean, std };
}

export interface AugmentSettings {
  /** Zero padding on each side before the crop (default 4). */
  pad?: number;
  /** Random crop position (default true; false takes the centre, dy = dx = pad). */
  crop?: boolean;
  /** Random horizontal flip at p = 0.5 (default true). */
  flip?: boolean;
}

/**
 * Crop and flip parameters for `count` images: an Int32Array of count x (dy, dx, flip),
 * with dy, dx uniform in [0, 2 * pad] (the crop's corner in the padded image) and flip a
 * fair coin. The layout is augmentBatch's `params` tensor.
 */
export function drawAugmentParams(rng: Rng, count: number, settings: AugmentSettings = {}): Int32Array {
  checkOptions('drawAugmentParams', settings, optionNames<AugmentSettings>({ pad: true, crop: true, flip: true }), 'settings');
  const pad = settings.pad ?? 4;
  const crop = settings.crop ?? true;
  const flip = settings.flip ?? true;
  if (!Number.isInteger(pad) || pad < 0 || pad > 64) throw badArg('range', 'drawAugmentParams: pad', `must be an integer in [0, 64], got ${describe(pad)}`);
  const out = new Int32Array(count * 3);
  for (let i = 0; i < count; i++) {
    out[i * 3] = crop ? rng.nextInt(2 * pad + 1) : pad;
    out[i * 3 + 1] = crop ? rng.nextInt(2 * pad + 1) : pad;
    out[i * 3 + 2] = flip ? rng.nextUint32() >>> 31 : 0;
  }
  return out;
}
