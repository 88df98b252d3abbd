// Decoding one image file through sharp (libvips) into the uint8 RGB pixels of a transform's
// plan. The file is read, its header parsed, the plan drawn, then one libvips pipeline runs
// on libuv's thread pool: resize of the whole image (for JPEG and WebP the decoder itself
// shrinks by 2, 4 or 8 first: shrink-on-load), the window, zero padding, alpha dropped,
// grey or CMYK converted to sRGB. The mirror is a row reversal here. Like PIL, EXIF
// orientation is not applied, so pixels match what torchvision sees.
import * as fs from 'node:fs';

import { Rng } from './prng';
import { CropPlan, identityPlan, Transform } from './transforms';

export type ImageErrorCode =
  /** The file cannot be read (missing, permissions). */
  | 'ERR_IMAGE_READ'
  /** The file is empty. */
  | 'ERR_IMAGE_EMPTY'
  /** Not an image sharp can decode, or corrupt / truncated data. */
  | 'ERR_IMAGE_DECODE'
  /** More pixels than the dataset's maxPixels. */
  | 'ERR_IMAGE_TOO_LARGE'
  /** An image folder without class folders, or a class without images. */
  | 'ERR_IMAGE_FOLDER'
  /** A CSV list that cannot be read or parsed. */
  | 'ERR_IMAGE_LIST'
  /** onError 'skip' skipped every image. */
  | 'ERR_IMAGE_NONE_READABLE'
  /** The sharp package is missing or fails to load. */
  | 'ERR_IMAGE_DECODER';

export class ImageError extends Error {
  readonly code: ImageErrorCode;
  /** The file (or folder) concerned. */
  readonly file: string;
  constructor(code: ImageErrorCode, file: string, what: string, options?: { cause?: unknown }) {
    super(`${file}: ${what}`, options);
    this.name = 'ImageError';
    this.code = code;
    this.file = file;
  }
}

/** PIL's decompression-bomb threshold (Image.MAX_IMAGE_PIXELS). */
export const DEFAULT_MAX_PIXELS = 89_478_485;

export function checkMaxPixels(v: number, op: string): number {
  if (!Number.isSafeInteger(v) || v < 1) throw new RangeError(`${op}: option 'maxPixels' must be a positive integer, got ${v}`);
  return v;
}

type SharpFactory = typeof import('sharp').default;
let sharpModule: SharpFactory | null = null;

/**
 * sharp, loaded on first use so the rest of the package works without it. The first load
 * sets libvips to one thread per image and no operation cache: a loader keeps several
 * images in flight (one per pool thread) and never decodes the same file twice in a row,
 * so both defaults would only cost. This is process-wide for sharp.
 */
function loadSharp(): SharpFactory {
  if (sharpModule) return sharpModule;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    sharpModule = require('sharp') as SharpFactory;
  } catch (e) {
    throw new ImageError('ERR_IMAGE_DECODER', 'sharp', `image decoding needs the 'sharp' package, which failed to load: ${(e as Error).message}\n` +
      'possible solutions: reinstall with `npm install` on this platform (its prebuilt libvips comes as an optional @img/sharp-* ' +
      'package, which --omit=optional or a copied node_modules from another OS leaves out); see https://sharp.pixelplumbing.com/install', { cause: e });
  }
  sharpModule.concurrency(1);
  sharpModule.cache(false);
  return sharpModule;
}

export interface DecodedImage {
  /** height x width x 3 bytes, RGB interleaved. */
  data: Uint8Array;
  width: number;
  height: number;
  plan: CropPlan;
}

function reason(e: unknown): string {
  return String((e as Error)?.message ?? e).split('\n')[0];
}

/** Reads, decodes and transforms one file; every failure is an ImageError naming it. */
export async function decodeImage(file: string, transform: Transform, rng: Rng | undefined, options: { maxPixels: number }): Promise<DecodedImage> {
  let buf: Buffer;
  try {
    buf = await fs.promises.readFile(file);
  } catch (e) {
    throw new ImageError('ERR_IMAGE_READ', file, `cannot read the file: ${reason(e)}`, { cause: e });
  }
  if (buf.length === 0) throw new ImageError('ERR_IMAGE_EMPTY', file, 'empty file (0 bytes), not an image');
  const sharp = loadSharp();
  let width = 0;
  let height = 0;
  let alpha = false;
  try {
    const meta = await sharp(buf, { limitInputPixels: false }).metadata();
    width = meta.width ?? 0;
    height = meta.height ?? 0;
    alpha = meta.hasAlpha === true;
  } catch (e) {
    throw new ImageError('ERR_IMAGE_DECODE', file, `not a readable image: ${reason(e)}`, { cause: e });
  }
  if (!(width > 0 && height > 0)) throw new ImageError('ERR_IMAGE_DECODE', file, 'the image header gives no size');
  if (width * height > options.maxPixels) {
    throw new ImageError('ERR_IMAGE_TOO_LARGE', file, `${width} x ${height} = ${width * height} pixels, more than the limit of ` +
      `${options.maxPixels} (option maxPixels); refused before decoding`);
  }
  const plan = transform.plan(identityPlan(width, height), rng ?? new Rng(0));
  const { resizeWidth: rw, resizeHeight: rh, left, top, width: w, height: h } = plan;
  const x0 = Math.max(0, left), y0 = Math.max(0, top);
  const x1 = Math.min(rw, left + w), y1 = Math.min(rh, top + h);
  let img = sharp(buf, { limitInputPixels: options.maxPixels });
  if (alpha) {
    // libvips resizes with premultiplied alpha; PIL (convert('RGB') first) drops alpha and
    // keeps the colours under it. Decode without alpha first, then resize those pixels.
    try {
      const flat = await img.removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
      img = sharp(flat.data, { raw: { width: flat.info.width, height: flat.info.height, channels: flat.info.channels as 3 } });
    } catch (e) {
      throw new ImageError('ERR_IMAGE_DECODE', file, `cannot decode (corrupt or truncated?): ${reason(e)}`, { cause: e });
    }
  }
  if (rw !== width || rh !== height) img = img.resize(rw, rh, { fit: 'fill', kernel: 'linear' });
  const inside = x1 > x0 && y1 > y0;
  // A window wholly outside the image (possible only with odd user transforms) still decodes a pixel, so bad data is caught.
  if (!inside) img = img.extract({ left: 0, top: 0, width: 1, height: 1 });
  else if (x0 !== 0 || y0 !== 0 || x1 !== rw || y1 !== rh) img = img.extract({ left: x0, top: y0, width: x1 - x0, height: y1 - y0 });
  if (inside && (x0 !== left || y0 !== top || x1 !== left + w || y1 !== top + h)) {
    img = img.extend({ left: x0 - left, top: y0 - top, right: left + w - x1, bottom: top + h - y1, background: { r: 0, g: 0, b: 0, alpha: 1 } });
  }
  let data: Buffer;
  let info: { width: number; height: number; channels: number };
  try {
    ({ data, info } = await img.removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true }));
  } catch (e) {
    throw new ImageError('ERR_IMAGE_DECODE', file, `cannot decode (corrupt or truncated?): ${reason(e)}`, { cause: e });
  }
  if (!inside) return { data: new Uint8Array(w * h * 3), width: w, height: h, plan };
  if (info.width !== w || info.height !== h || info.channels !== 3) {
    throw new ImageError('ERR_IMAGE_DECODE', file, `decoded to ${info.width} x ${info.height} x ${info.channels}, expected ${w} x ${h} x 3`);
  }
  if (plan.flip) mirrorRows(data, w, h);
  return { data, width: w, height: h, plan };
}

/** Mirrors an interleaved RGB image left-right in place. */
export function mirrorRows(data: Uint8Array, width: number, height: number): void {
  for (let y = 0; y < height; y++) {
    let a = y * width * 3;
    let b = a + (width - 1) * 3;
    for (; a < b; a += 3, b -= 3) {
      const r = data[a], g = data[a + 1], bl = data[a + 2];
      data[a] = data[b]; data[a + 1] = data[b + 1]; data[a + 2] = data[b + 2];
      data[b] = r; data[b + 1] = g; data[b + 2] = bl;
    }
  }
}
