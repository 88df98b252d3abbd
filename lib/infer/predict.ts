// Inference: model.predict(images, options) and infer.predict(model, images, options).
// Images are files, encoded bytes (JPEG, PNG, WebP: decoded through the evaluation transform
// of image folders, shorter side resized then the centre crop), raw CIFAR-style pixel arrays
// (3 x size x size bytes, channel planes), or a Tensor batch the model takes as it is. Files
// and bytes go through the same DataLoader as evaluation, so a picture is seen exactly as the
// validation images of a run were. The pass runs in eval mode without recording a tape; each
// module's mode is restored afterwards. Probabilities are a softmax of the logits computed on
// the host in float64 (the outputs are classes x images numbers).
import { noGrad } from '../autograd/engine';
import { badArg, checkOptions, optionNames } from '../checks';
import { Normalization, CIFAR10_NORMALIZATION } from '../data/augment';
import { DataLoader } from '../data/data-loader';
import { Sample, SampleDataset } from '../data/dataset';
import { DecodedImage, decodeImage, decodeImageData, DEFAULT_MAX_PIXELS, headerInfo } from '../data/image-decode';
import { evalTransform, IMAGENET_NORMALIZATION, Transform } from '../data/transforms';
import { describe, Tensor, tidy } from '../tensor';
import type { Module } from '../nn/module';

const OP = 'predict';

/** One image given by path, encoded bytes, or 3 x size x size uint8 pixels (CHW, as CIFAR records). */
export type ImageInput = string | Uint8Array;

/** What predict() takes: one image, a list of them, or a Tensor batch [N, C, H, W] already normalised. */
export type PredictInput = ImageInput | readonly ImageInput[] | Tensor;

export interface PredictOptions {
  /** Classes reported per image, most probable first (default 5, or the number of classes if fewer). */
  topk?: number;
  /** Class names, one per output (default: the names the model's checkpoint records, else "0", "1", ...). */
  classes?: readonly string[];
  /** Images per forward pass (default 32). */
  batchSize?: number;
  /** Per-channel statistics for image inputs (default: the run's, else ImageNet's or CIFAR-10's by model size). */
  normalization?: Normalization;
  /** Crop size for image inputs (default: the run's, else 224 for ImageNet-stem models and 32 for CIFAR ones). */
  imageSize?: number;
}

const PREDICT_OPTIONS = optionNames<PredictOptions>({ topk: true, classes: true, batchSize: true, normalization: true, imageSize: true });

export interface ClassScore {
  index: number;
  name: string;
  probability: number;
}

/** Where the statistics image inputs were normalised with came from. */
export interface UsedNormalization extends Normalization {
  source: 'option' | 'checkpoint' | 'imagenet' | 'cifar10';
}

/** One top-k list per image, in input order; `normalization` is what image inputs were normalised with (null for a Tensor). */
export type Predictions = ClassScore[][] & { normalization: UsedNormalization | null; imageSize: number | null };

/** The model's stem ('imagenet' / 'cifar') when it is a ResNet of this package. */
function stemOf(model: Module): string | undefined {
  return (model as { config?: { stem?: string } }).config?.stem;
}

/** The crop size image inputs are brought to: the option, the checkpoint's, else by model kind. */
export function inputImageSize(model: Module, options: PredictOptions = {}): number {
  const v = options.imageSize ?? model.meta.imageSize ?? (stemOf(model) === 'cifar' ? 32 : 224);
  if (!Number.isInteger(v) || v < 1 || v > 4096) throw badArg('range', `${OP}: options.imageSize`, `must be an integer in [1, 4096], got ${describe(v)}`);
  return v;
}

/** The statistics image inputs are normalised with, and where they came from. */
export function inputNormalization(model: Module, options: PredictOptions = {}): UsedNormalization {
  const given = options.normalization;
  if (given !== undefined) {
    const ok = (a: unknown) => Array.isArray(a) && a.length === 3 && a.every((x) => typeof x === 'number' && Number.isFinite(x));
    if (!ok(given?.mean) || !ok(given?.std) || !given.std.every((s) => s > 0))
      throw badArg('type', `${OP}: options.normalization`, `must be { mean, std } of 3 finite numbers each (std > 0), got ${JSON.stringify(given)}`);
    return { mean: [...given.mean], std: [...given.std], source: 'option' };
  }
  const saved = model.meta.normalization;
  if (saved) return { mean: [...saved.mean], std: [...saved.std], source: 'checkpoint' };
  const base = stemOf(model) === 'cifar' ? CIFAR10_NORMALIZATION : IMAGENET_NORMALIZATION;
  return { mean: [...base.mean], std: [...base.std], source: stemOf(model) === 'cifar' ? 'cifar10' : 'imagenet' };
}

/** Softmax of one row of logits in float64, then the k most probable (ties: lower index first). */
export function topK(logits: ArrayLike<number>, k: number, names: readonly string[] | null): ClassScore[] {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]);
  const p = new Float64Array(logits.length);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += p[i] = Math.exp(logits[i] - max);
  const order = Array.from({ length: logits.length }, (_, i) => i).sort((a, b) => p[b] - p[a] || a - b);
  return order.slice(0, k).map((i) => ({ index: i, name: names ? names[i] : String(i), probability: p[i] / sum }));
}

// Decoded pixels (interleaved) as channel planes, so decoded images and raw arrays share a batch.
function decodedSample(img: DecodedImage): Sample {
  const plane = img.width * img.height;
  const chw = new Uint8Array(plane * 3);
  for (let p = 0; p < plane; p++) for (let c = 0; c < 3; c++) chw[c * plane + p] = img.data[p * 3 + c];
  return { image: chw, shape: [3, img.height, img.width], layout: 'CHW', label: 0 };
}

// One image input as a sample: decoded through `transform`, or raw CHW pixels as they are.
function imageSample(input: ImageInput, i: number, size: number, transform: Transform): () => Promise<Sample> {
  const arg = `${OP}: images[${i}]`;
  if (typeof input === 'string') {
    if (input === '') throw badArg('type', arg, 'must be a file path, encoded image bytes or pixels, got an empty string');
    return async () => {
      return decodedSample(await decodeImage(input, transform, undefined, { maxPixels: DEFAULT_MAX_PIXELS }));
    };
  }
  if (!(input instanceof Uint8Array))
    throw badArg('type', arg, `must be a file path, a Buffer of an encoded image or a Uint8Array of pixels, got ${describe(input)}`);
  const raw = size * size * 3;
  const encoded = headerInfo(input) !== null;
  if (!encoded && input.length === raw) return async () => ({ image: input, shape: [3, size, size], layout: 'CHW', label: 0 });
  // A Buffer may hold another format sharp reads (GIF, TIFF...); a plain Uint8Array is pixels.
  if (!encoded && (!Buffer.isBuffer(input) || input.length === 0))
    throw badArg(
      'range',
      arg,
      `holds ${input.length} bytes: pixels must be 3 x ${size} x ${size} = ${raw} bytes (channel planes, as CIFAR records), or give the bytes of a JPEG, PNG or WebP file`,
    );
  return async () => {
    return decodedSample(await decodeImageData(input, `images[${i}]`, transform, undefined, { maxPixels: DEFAULT_MAX_PIXELS }));
  };
}

function checkClassNames(names: unknown): readonly string[] | undefined {
  if (names === undefined) return undefined;
  if (!Array.isArray(names) || !names.every((n) => typeof n === 'string'))
    throw badArg('type', `${OP}: options.classes`, `must be an array of class names, got ${describe(names)}`);
  return names;
}

// Models inside inEvalMode: how many calls are running, and each module's mode before the first.
const evalCalls = new WeakMap<Module, { calls: number; modes: [Module, boolean][] }>();

/**
 * Runs fn with every module of `model` in eval mode, then gives each its own mode back.
 * Overlapping calls on one model (predictions awaited together) share one eval period: the
 * first saves the modes, the last restores them.
 */
export async function inEvalMode<T>(model: Module, fn: () => Promise<T>): Promise<T> {
  let state = evalCalls.get(model);
  if (!state) {
    state = { calls: 0, modes: model.namedModules().map(([, m]) => [m, m.training]) };
    evalCalls.set(model, state);
    model.eval();
  }
  state.calls++;
  try {
    return await fn();
  } finally {
    if (--state.calls === 0) {
      evalCalls.delete(model);
      for (const [m, training] of state.modes) m.training = training;
    }
  }
}

/** The model's logits for x as float32 on the host, without a tape. */
function logitsOf(model: Module, x: Tensor): Float32Array {
  return noGrad(() =>
    tidy(() => {
      const y = model.forward(x);
      if (y.rank !== 2 || y.shape[0] !== x.shape[0])
        throw new RangeError(`${OP}: the model returned [${y.shape.join(', ')}], expected [${x.shape[0]}, classes]`);
      return (y.dtype === 'float32' ? y : y.to('float32')).dataSync() as Float32Array;
    }),
  );
}

/**
 * The top-k classes of each image with their probabilities (see the file comment for the
 * inputs). A Tensor batch is moved to the model's device if needed and used as it is (it is
 * the model's input: normalised, at the model's size).
 */
export async function predict(model: Module, images: PredictInput, options: PredictOptions = {}): Promise<Predictions> {
  checkOptions(OP, options, PREDICT_OPTIONS);
  const names = checkClassNames(options.classes);
  const batchSize = options.batchSize ?? 32;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw badArg('range', `${OP}: options.batchSize`, `must be an integer >= 1, got ${describe(batchSize)}`);
  const topk = options.topk;
  if (topk !== undefined && (!Number.isInteger(topk) || topk < 1))
    throw badArg('range', `${OP}: options.topk`, `must be an integer >= 1, got ${describe(topk)}`);
  const declared = (model as { classes?: unknown }).classes;
  if (topk !== undefined && typeof declared === 'number' && topk > declared)
    throw badArg('range', `${OP}: options.topk`, `must be <= the model's ${declared} classes, got ${topk}`);
  const param = model.parameters()[0];
  const device = param?.device ?? 'cpu';
  const dtype = param && (param.dtype === 'bfloat16' || param.dtype === 'float16') ? param.dtype : 'float32';

  const rows: Float32Array[] = [];
  let classes = 0;
  const collect = (logits: Float32Array, n: number): void => {
    classes = logits.length / n;
    for (let i = 0; i < n; i++) rows.push(logits.subarray(i * classes, (i + 1) * classes));
  };
  let used: UsedNormalization | null = null;
  let size: number | null = null;
  if (images instanceof Tensor) {
    if (images.disposed) throw badArg('type', `${OP}: images`, 'is a disposed Tensor');
    await inEvalMode(model, async () => {
      const x = images.device === device ? images : images.to({ device });
      try {
        collect(logitsOf(model, x), images.shape[0]);
      } finally {
        if (x !== images) x.dispose();
      }
    });
  } else {
    const list = typeof images === 'string' || images instanceof Uint8Array ? [images] : images;
    if (!Array.isArray(list))
      throw badArg('type', `${OP}: images`, `must be a Tensor, a file path, image bytes, or an array of those, got ${describe(images)}`);
    if (list.length === 0) throw badArg('range', `${OP}: images`, 'is an empty list');
    size = inputImageSize(model, options);
    used = inputNormalization(model, options);
    const transform = evalTransform(size);
    const samples = list.map((input: ImageInput, i: number) => imageSample(input, i, size as number, transform));
    const dataset: SampleDataset = { length: samples.length, get: (i) => samples[i]() };
    const normalization = { mean: used.mean, std: used.std };
    const loader = new DataLoader(dataset, { batchSize, shuffle: false, device, dtype, normalization, prefetch: 1 });
    try {
      await inEvalMode(model, async () => {
        for await (const b of loader.epoch(0)) {
          try {
            collect(logitsOf(model, b.x), b.size);
          } finally {
            b.dispose();
          }
        }
      });
    } finally {
      loader.dispose();
    }
  }
  const k = topk ?? Math.min(5, classes);
  if (k > classes) throw badArg('range', `${OP}: options.topk`, `must be <= the model's ${classes} classes, got ${k}`);
  const labels = names ?? model.meta.classNames ?? null;
  if (labels && labels.length !== classes)
    throw badArg('range', `${OP}: ${names ? 'options.classes' : 'model.meta.classNames'}`, `lists ${labels.length} names, the model has ${classes} classes`);
  const out = rows.map((r) => topK(r, k, labels)) as Predictions;
  out.normalization = used;
  out.imageSize = size;
  return out;
}
