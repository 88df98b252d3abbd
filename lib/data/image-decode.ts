// Decoding one image file through sharp (libvips) into the uint8 RGB pixels of a transform's
// plan. The file is read, its header parsed, the plan drawn, then one libvips pipeline runs
// on libuv's thread pool: resize of the whole image (for JPEG and WebP the decoder itself
// shrinks by 2, 4 or 8 first: shrink-on-load), the window, zero padding, alpha dropped,
// grey or CMYK converted to sRGB. The mirror is a row reversal here. Like PIL, EXIF
// orientation is not applied, so pixels match what torchvision sees.
import * as fs from 'node:fs';

import { badArg, checkOptions, describe, optionNames } from '../checks';
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
  if (!Number.isSafeInteger(v) || v < 1) throw badArg('range', `${op}: maxPixels`, `must be a positive integer, got ${describe(v)}`);
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
    throw new ImageError(
      'ERR_IMAGE_DECODER',
      'sharp',
      `image decoding needs the 'sharp' package, which failed to load: ${(e as Error).message}\n` +
        'possible solutions: reinstall with `npm install` on this platform (its prebuilt libvips comes as an optional @img/sharp-* ' +
        'package, which --omit=optional or a copied node_modules from another OS leaves out); see https://sharp.pixelplumbing.com/install',
      { cause: e },
    );
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
  options = checkOptions('decodeImage', options, optionNames<{ maxPixels: number }>({ maxPixels: true }));
  let buf: Buffer;
  try {
    buf = await fs.promises.readFile(file);
  } catch (e) {
    throw new ImageError('ERR_IMAGE_READ', file, `cannot read the file: ${reason(e)}`, { cause: e });
  }
  return decodeImageData(buf, file, transform, rng, options);
}

/** decodeImage for bytes already in memory (an encoded JPEG, PNG, WebP...); `file` names them in errors. */
export async function decodeImageData(
  buf: Uint8Array,
  file: string,
  transform: Transform,
  rng: Rng | undefined,
  options: { maxPixels: number },
): Promise<DecodedImage> {
  if (buf.length === 0) throw new ImageError('ERR_IMAGE_EMPTY', file, 'empty file (0 bytes), not an image');
  const sharp = loadSharp();
  // JPEG, PNG and WebP headers are read here, which saves libvips a header pass per image.
  let { width, height, alpha } = headerInfo(buf) ?? { width: 0, height: 0, alpha: false };
  if (width === 0) {
    try {
      const meta = await sharp(buf, { limitInputPixels: false }).metadata();
      width = meta.width ?? 0;
      height = meta.height ?? 0;
      alpha = meta.hasAlpha === true;
    } catch (e) {
      throw new ImageError('ERR_IMAGE_DECODE', file, `not a readable image: ${reason(e)}`, { cause: e });
    }
  }
  if (!(width > 0 && height > 0)) throw new ImageError('ERR_IMAGE_DECODE', file, 'the image header gives no size');
  if (width * height > options.maxPixels) {
    throw new ImageError(
      'ERR_IMAGE_TOO_LARGE',
      file,
      `${width} x ${height} = ${width * height} pixels, more than the limit of ` + `${options.maxPixels} (option maxPixels); refused before decoding`,
    );
  }
  const plan = transform.plan(identityPlan(width, height), rng ?? new Rng(0));
  const { resizeWidth: rw, resizeHeight: rh, left, top, width: w, height: h } = plan;
  const x0 = Math.max(0, left),
    y0 = Math.max(0, top);
  const x1 = Math.min(rw, left + w),
    y1 = Math.min(rh, top + h);
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

/**
 * Size and alpha from a JPEG (first SOF marker), PNG (IHDR; alpha from the colour type or a
 * tRNS chunk) or WebP (VP8, VP8L, VP8X) header; null for other or unrecognised data, which
 * then goes to libvips' own reader.
 */
export function headerInfo(b: Uint8Array): { width: number; height: number; alpha: boolean } | null {
  const u16be = (o: number): number => (b[o] << 8) | b[o + 1];
  const u32be = (o: number): number => ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
  const ascii = (o: number, n: number): string => String.fromCharCode(...b.subarray(o, o + n));
  if (b.length >= 33 && b[0] === 0x89 && ascii(1, 3) === 'PNG' && ascii(12, 4) === 'IHDR') {
    const type = b[25];
    let alpha = type === 4 || type === 6;
    for (let o = 8; !alpha && o + 8 <= b.length;) {
      const len = u32be(o);
      const name = ascii(o + 4, 4);
      if (name === 'tRNS') alpha = true;
      if (name === 'IDAT' || name === 'IEND') break;
      o += 12 + len;
    }
    return { width: u32be(16), height: u32be(20), alpha };
  }
  if (b.length >= 4 && b[0] === 0xff && b[1] === 0xd8) {
    for (let o = 2; o + 9 < b.length;) {
      if (b[o] !== 0xff) return null;
      const m = b[o + 1];
      if (m === 0xff) {
        o++;
        continue;
      }
      if (m === 0x01 || (m >= 0xd0 && m <= 0xd7)) {
        o += 2;
        continue;
      }
      if (m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc) return { height: u16be(o + 5), width: u16be(o + 7), alpha: false };
      if (m === 0xd9 || m === 0xda) return null;
      o += 2 + u16be(o + 2);
    }
    return null;
  }
  if (b.length >= 30 && ascii(0, 4) === 'RIFF' && ascii(8, 4) === 'WEBP') {
    const kind = ascii(12, 4);
    const u24le = (o: number): number => b[o] | (b[o + 1] << 8) | (b[o + 2] << 16);
    if (kind === 'VP8 ' && b[23] === 0x9d && b[24] === 0x01 && b[25] === 0x2a) {
      return { width: (b[26] | (b[27] << 8)) & 0x3fff, height: (b[28] | (b[29] << 8)) & 0x3fff, alpha: false };
    }
    if (kind === 'VP8L' && b[20] === 0x2f) {
      const bits = (b[21] | (b[22] << 8) | (b[23] << 16) | (b[24] << 24)) >>> 0;
      return { width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1, alpha: ((bits >>> 28) & 1) === 1 };
    }
    if (kind === 'VP8X') return { width: u24le(24) + 1, height: u24le(27) + 1, alpha: (b[20] & 0x10) !== 0 };
  }
  return null;
}

/** Mirrors an interleaved RGB image left-right in place. */
export function mirrorRows(data: Uint8Array, width: number, height: number): void {
  for (let y = 0; y < height; y++) {
    let a = y * width * 3;
    let b = a + (width - 1) * 3;
    for (; a < b; a += 3, b -= 3) {
      const r = data[a],
        g = data[a + 1],
        bl = data[a + 2];
      data[a] = data[b];
      data[a + 1] = data[b + 1];
      data[a + 2] = data[b + 2];
      data[b] = r;
      data[b + 1] = g;
      data[b + 2] = bl;
    }
  }
}
