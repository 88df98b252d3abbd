// Geometric image transforms with torchvision's names and parameter rules (Resize,
// CenterCrop, RandomCrop, RandomResizedCrop, RandomHorizontalFlip, Compose), plus the ResNet
// paper's scale augmentation. A transform never touches pixels: it maps a CropPlan (resize
// the whole source to some size, then take a window of it, then maybe mirror) to a new one.
// The decoder then runs the final plan in one libvips pipeline, so a JPEG is shrunk while it
// is decoded and only the window is computed. Random choices come from the Rng handed in
// (one counter-based stream per sample and epoch), never from global state.
import { badArg, checkOptions, describe, optionNames } from '../checks';
import { Rng } from './prng';

/**
 * The whole geometric pipeline of one sample: resize the source image to
 * resizeWidth x resizeHeight, take the window (left, top, width, height) of that (pixels
 * outside the resized image are zero), and mirror the window when `flip` is set.
 */
export interface CropPlan {
  resizeWidth: number;
  resizeHeight: number;
  left: number;
  top: number;
  width: number;
  height: number;
  flip: boolean;
}

export interface Transform {
  /** A short description, e.g. "RandomResizedCrop(224, scale=[0.08, 1], ratio=[0.75, 1.333])". */
  readonly name: string;
  /** The plan after this transform; `rng` is the sample's stream (drawn from only by random transforms). */
  plan(input: CropPlan, rng: Rng): CropPlan;
}

/** The identity plan of a width x height source. */
export function identityPlan(width: number, height: number): CropPlan {
  return { resizeWidth: width, resizeHeight: height, left: 0, top: 0, width, height, flip: false };
}

/** Python 3's round(): halves go to the even neighbour (torchvision's crop offsets use it). */
export function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

type Size = number | [number, number];

function checkSize(size: Size, op: string, arg = 'size'): [number, number] {
  const hw = typeof size === 'number' ? [size, size] : size;
  if (!Array.isArray(hw) || hw.length !== 2 || !hw.every((v) => Number.isInteger(v) && v >= 1 && v <= 65535)) {
    throw badArg('range', `${op}: ${arg}`, `must be an integer in [1, 65535] or [height, width] of such, got ${describe(size)}`);
  }
  return [hw[0], hw[1]];
}

function checkRange(r: [number, number], op: string, arg: string, positive: boolean): [number, number] {
  if (!Array.isArray(r) || r.length !== 2 || !r.every((v) => Number.isFinite(v) && (positive ? v > 0 : v >= 0)) || r[0] > r[1]) {
    throw badArg('range', `${op}: ${arg}`, `must be [min, max] with 0 ${positive ? '<' : '<='} min <= max, got ${describe(r)}`);
  }
  return [r[0], r[1]];
}

/** Resizes the current window to `width x height` (the whole plan scales with it). */
function resizeTo(p: CropPlan, width: number, height: number): CropPlan {
  if (width === p.width && height === p.height) return p;
  const sx = width / p.width;
  const sy = height / p.height;
  return {
    resizeWidth: Math.max(1, Math.round(p.resizeWidth * sx)),
    resizeHeight: Math.max(1, Math.round(p.resizeHeight * sy)),
    left: Math.round(p.left * sx),
    top: Math.round(p.top * sy),
    width,
    height,
    flip: p.flip,
  };
}

/** Takes the window (left, top, width, height) of the current window. */
function cropTo(p: CropPlan, left: number, top: number, width: number, height: number): CropPlan {
  // A window taken from a mirrored image starts at the other edge of the unmirrored one.
  const x = p.flip ? p.width - left - width : left;
  return { ...p, left: p.left + x, top: p.top + top, width, height };
}

/** torchvision.transforms.Resize: an int scales the shorter side to it (the longer keeps the aspect, truncated); [h, w] is exact. */
export class Resize implements Transform {
  readonly name: string;
  readonly size: Size;
  constructor(size: Size) {
    checkSize(size, 'Resize');
    this.size = size;
    this.name = `Resize(${JSON.stringify(size)})`;
  }
  plan(p: CropPlan): CropPlan {
    if (typeof this.size !== 'number') return resizeTo(p, this.size[1], this.size[0]);
    return resizeTo(p, ...shorterSideTo(p.width, p.height, this.size));
  }
}

/** [width, height] with the shorter side `size` and the longer scaled as torchvision does (int() truncation). */
export function shorterSideTo(width: number, height: number, size: number): [number, number] {
  if (width <= height) return [size, Math.max(1, Math.floor((size * height) / width))];
  return [Math.max(1, Math.floor((size * width) / height)), size];
}

/** torchvision.transforms.CenterCrop: offsets round((dim - crop) / 2); a crop larger than the image pads with zeros. */
export class CenterCrop implements Transform {
  readonly name: string;
  readonly hw: [number, number];
  constructor(size: Size) {
    this.hw = checkSize(size, 'CenterCrop');
    this.name = `CenterCrop(${JSON.stringify(size)})`;
  }
  plan(p: CropPlan): CropPlan {
    const [h, w] = this.hw;
    return cropTo(p, centreOffset(p.width, w), centreOffset(p.height, h), w, h);
  }
}

function centreOffset(dim: number, crop: number): number {
  // torchvision pads floor((crop - dim) / 2) on the left / top first, then crops at 0.
  return crop > dim ? -Math.floor((crop - dim) / 2) : roundHalfEven((dim - crop) / 2);
}

/** torchvision.transforms.RandomCrop without padding: top in [0, h - crop], left in [0, w - crop]; a smaller image is centred. */
export class RandomCrop implements Transform {
  readonly name: string;
  readonly hw: [number, number];
  constructor(size: Size) {
    this.hw = checkSize(size, 'RandomCrop');
    this.name = `RandomCrop(${JSON.stringify(size)})`;
  }
  plan(p: CropPlan, rng: Rng): CropPlan {
    const [h, w] = this.hw;
    const top = p.height >= h ? rng.nextInt(p.height - h + 1) : centreOffset(p.height, h);
    const left = p.width >= w ? rng.nextInt(p.width - w + 1) : centreOffset(p.width, w);
    return cropTo(p, left, top, w, h);
  }
}

/** torchvision.transforms.RandomHorizontalFlip(p). */
export class RandomHorizontalFlip implements Transform {
  readonly name: string;
  constructor(readonly p = 0.5) {
    if (!(p >= 0 && p <= 1)) throw badArg('range', 'RandomHorizontalFlip: p', `must be in [0, 1], got ${describe(p)}`);
    this.name = `RandomHorizontalFlip(${p})`;
  }
  plan(plan: CropPlan, rng: Rng): CropPlan {
    return rng.nextFloat() < this.p ? { ...plan, flip: !plan.flip } : plan;
  }
}

/** The crop box (left, top, width, height) torchvision's RandomResizedCrop.get_params picks. */
export function randomResizedCropBox(
  width: number,
  height: number,
  scale: [number, number],
  ratio: [number, number],
  rng: Rng,
): [number, number, number, number] {
  const area = width * height;
  const logLo = Math.log(ratio[0]);
  const logHi = Math.log(ratio[1]);
  for (let attempt = 0; attempt < 10; attempt++) {
    const target = area * (scale[0] + (scale[1] - scale[0]) * rng.nextFloat());
    const aspect = Math.exp(logLo + (logHi - logLo) * rng.nextFloat());
    const w = roundHalfEven(Math.sqrt(target * aspect));
    const h = roundHalfEven(Math.sqrt(target / aspect));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      const top = rng.nextInt(height - h + 1);
      const left = rng.nextInt(width - w + 1);
      return [left, top, w, h];
    }
  }
  // Ten misses: the central crop with the aspect ratio clamped into the range.
  const inRatio = width / height;
  let w = width;
  let h = height;
  if (inRatio < ratio[0]) h = roundHalfEven(w / ratio[0]);
  else if (inRatio > ratio[1]) w = roundHalfEven(h * ratio[1]);
  return [Math.floor((width - w) / 2), Math.floor((height - h) / 2), w, h];
}

/** torchvision.transforms.RandomResizedCrop(size, scale=(0.08, 1), ratio=(3/4, 4/3)). */
export class RandomResizedCrop implements Transform {
  readonly name: string;
  readonly hw: [number, number];
  readonly scale: [number, number];
  readonly ratio: [number, number];
  constructor(size: Size, options: { scale?: [number, number]; ratio?: [number, number] } = {}) {
    checkOptions('RandomResizedCrop', options, optionNames<{ scale?: [number, number]; ratio?: [number, number] }>({ scale: true, ratio: true }));
    this.hw = checkSize(size, 'RandomResizedCrop');
    this.scale = checkRange(options.scale ?? [0.08, 1], 'RandomResizedCrop', 'scale', false);
    this.ratio = checkRange(options.ratio ?? [3 / 4, 4 / 3], 'RandomResizedCrop', 'ratio', true);
    this.name = `RandomResizedCrop(${JSON.stringify(size)}, scale=${JSON.stringify(this.scale)}, ratio=[${this.ratio.map((r) => +r.toFixed(4)).join(', ')}])`;
  }
  plan(p: CropPlan, rng: Rng): CropPlan {
    const [left, top, w, h] = randomResizedCropBox(p.width, p.height, this.scale, this.ratio, rng);
    return resizeTo(cropTo(p, left, top, w, h), this.hw[1], this.hw[0]);
  }
}

/**
 * The ResNet paper's scale augmentation (He et al. 2016, sec. 3.4): the shorter side
 * resized to a length drawn uniformly from [min, max] (256 and 480 for 224-pixel crops).
 */
export class RandomShorterSide implements Transform {
  readonly name: string;
  constructor(
    readonly min: number,
    readonly max: number,
  ) {
    checkSize(min, 'RandomShorterSide', 'min');
    checkSize(max, 'RandomShorterSide', 'max');
    if (min > max) throw badArg('range', 'RandomShorterSide: min', `(${min}) must not exceed max (${max})`);
    this.name = `RandomShorterSide(${min}, ${max})`;
  }
  plan(p: CropPlan, rng: Rng): CropPlan {
    const s = this.min + rng.nextInt(this.max - this.min + 1);
    return resizeTo(p, ...shorterSideTo(p.width, p.height, s));
  }
}

/** Per-channel mean and std of pixel values in [0, 1]: applied on the device after upload (see DataLoader). */
export class Normalize {
  readonly name: string;
  constructor(
    readonly mean: number[],
    readonly std: number[],
  ) {
    if (
      !Array.isArray(mean) ||
      !Array.isArray(std) ||
      mean.length !== std.length ||
      mean.length === 0 ||
      !mean.every(Number.isFinite) ||
      !std.every((s) => Number.isFinite(s) && s > 0)
    ) {
      throw badArg(
        'range',
        `Normalize: ${Array.isArray(mean) && mean.length > 0 && mean.every(Number.isFinite) ? 'std' : 'mean'}`,
        `must be one of two equally long lists of finite numbers, std > 0; got ${JSON.stringify({ mean, std })}`,
      );
    }
    this.name = `Normalize(mean=${JSON.stringify(mean)}, std=${JSON.stringify(std)})`;
  }
}

/** torchvision.transforms.Compose: geometric transforms in order; a Normalize among them is kept for the loader. */
export class Compose implements Transform {
  readonly name: string;
  readonly transforms: Transform[];
  readonly normalize: Normalize | null;
  constructor(transforms: (Transform | Normalize)[]) {
    if (!Array.isArray(transforms)) throw badArg('type', 'Compose: transforms', `must be an array, got ${describe(transforms)}`);
    this.transforms = [];
    let normalize: Normalize | null = null;
    transforms.forEach((t, i) => {
      if (t instanceof Normalize) normalize = t;
      else if (t && typeof (t as Transform).plan === 'function') this.transforms.push(t as Transform);
      else throw badArg('type', `Compose: transforms[${i}]`, `is not a transform, got ${describe(t)}`);
    });
    this.normalize = normalize;
    this.name = `Compose([${transforms.map((t) => t.name).join(', ')}])`;
  }
  plan(p: CropPlan, rng: Rng): CropPlan {
    for (const t of this.transforms) p = t.plan(p, rng);
    return p;
  }
}

export type AugmentPreset = 'torchvision' | 'paper' | 'none';

/** ImageNet's usual statistics (what torchvision's pretrained models expect). */
export const IMAGENET_NORMALIZATION = Object.freeze({ mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] });

/** The evaluation transform: shorter side to round(size * 256 / 224) (256 for 224), then the centre size x size. */
export function evalTransform(size = 224): Compose {
  return new Compose([new Resize(Math.round((size * 256) / 224)), new CenterCrop(size)]);
}

/**
 * The training transform of a preset: 'torchvision' is RandomResizedCrop(size) + flip;
 * 'paper' the shorter side random in [256, 480] (scaled by size / 224), a random size x size
 * crop and a flip; 'none' the evaluation transform.
 */
export function trainTransform(preset: AugmentPreset, size = 224): Compose {
  if (preset === 'torchvision') return new Compose([new RandomResizedCrop(size), new RandomHorizontalFlip()]);
  if (preset === 'paper') {
    const k = size / 224;
    return new Compose([new RandomShorterSide(Math.round(256 * k), Math.round(480 * k)), new RandomCrop(size), new RandomHorizontalFlip()]);
  }
  if (preset === 'none') return evalTransform(size);
  throw badArg('range', 'trainTransform: preset', `must be 'torchvision', 'paper' or 'none', got ${describe(preset)}`);
}

/** A built-in transform as plain data (what a decoding worker rebuilds it from). */
export type TransformSpec =
  | ['Resize', Size]
  | ['CenterCrop' | 'RandomCrop', [number, number]]
  | ['RandomResizedCrop', [number, number], [number, number], [number, number]]
  | ['RandomHorizontalFlip', number]
  | ['RandomShorterSide', number, number]
  | ['Compose', TransformSpec[]];

/**
 * The spec of a transform built only from this module's classes (not subclasses, whose plan
 * may differ), else null.
 */
export function transformSpec(t: Transform): TransformSpec | null {
  const is = (cls: { prototype: object }): boolean => Object.getPrototypeOf(t) === cls.prototype;
  if (is(Resize)) return ['Resize', (t as Resize).size];
  if (is(CenterCrop)) return ['CenterCrop', (t as CenterCrop).hw];
  if (is(RandomCrop)) return ['RandomCrop', (t as RandomCrop).hw];
  if (is(RandomResizedCrop)) return ['RandomResizedCrop', (t as RandomResizedCrop).hw, (t as RandomResizedCrop).scale, (t as RandomResizedCrop).ratio];
  if (is(RandomHorizontalFlip)) return ['RandomHorizontalFlip', (t as RandomHorizontalFlip).p];
  if (is(RandomShorterSide)) return ['RandomShorterSide', (t as RandomShorterSide).min, (t as RandomShorterSide).max];
  if (is(Compose)) {
    const parts = (t as Compose).transforms.map(transformSpec);
    return parts.every((p) => p !== null) ? ['Compose', parts as TransformSpec[]] : null;
  }
  return null;
}

/** The transform a spec describes. */
export function transformFromSpec(s: TransformSpec): Transform {
  switch (s[0]) {
    case 'Resize':
      return new Resize(s[1]);
    case 'CenterCrop':
      return new CenterCrop(s[1]);
    case 'RandomCrop':
      return new RandomCrop(s[1]);
    case 'RandomResizedCrop':
      return new RandomResizedCrop(s[1], { scale: s[2], ratio: s[3] });
    case 'RandomHorizontalFlip':
      return new RandomHorizontalFlip(s[1]);
    case 'RandomShorterSide':
      return new RandomShorterSide(s[1], s[2]);
    case 'Compose':
      return new Compose(s[1].map(transformFromSpec));
  }
}
