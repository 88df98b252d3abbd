// An in-process PNG decoder for small images, where libvips' fixed cost per image (about a
// millisecond of pipeline set-up and threading) outweighs the decoding itself. It decodes to
// the 8-bit RGB that the sharp path gives (alpha dropped, colours under it kept; grey
// replicated; 16-bit samples to their high byte; low bit depths scaled to 0..255) and
// returns null for whatever it does not handle exactly the way libvips would: interlaced
// files, colour profiles, unknown chunks, bad CRCs, truncated or trailing data. The caller
// then takes the sharp path, which also words the error for a corrupt file.
import * as zlib from 'node:zlib';

export interface RgbImage {
  /** height x width x 3 bytes, RGB interleaved. */
  data: Uint8Array;
  width: number;
  height: number;
}

/** PNG files with more pixels than this go to libvips, which decodes large images faster. */
export const PNG_FAST_MAX_PIXELS = 256 * 256;

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
/** Ancillary chunks that change nothing libvips decodes to (an ICC profile, for one, would). */
const HARMLESS = new Set(['tRNS', 'pHYs', 'tEXt', 'zTXt', 'iTXt', 'tIME', 'bKGD', 'gAMA', 'cHRM', 'sRGB']);
/** Allowed bit depths per colour type (grey, RGB, palette, grey + alpha, RGBA). */
const DEPTHS: Record<number, number[]> = { 0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16] };
const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

/** Width and height from a PNG's IHDR, or null when `b` is not a PNG. */
export function pngSize(b: Uint8Array): { width: number; height: number } | null {
  if (b.length < 33 || !SIGNATURE.every((v, i) => b[i] === v)) return null;
  const u32 = (o: number): number => ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
  return { width: u32(16), height: u32(20) };
}

/** The RGB pixels of a PNG, or null when the file is not one this decoder takes (see above). */
export function decodePng(b: Uint8Array, maxPixels = PNG_FAST_MAX_PIXELS): RgbImage | null {
  const crc32 = (zlib as { crc32?: (data: Uint8Array) => number }).crc32;
  if (!crc32 || !pngSize(b)) return null;
  const u32 = (o: number): number => ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
  const name = (o: number): string => String.fromCharCode(b[o], b[o + 1], b[o + 2], b[o + 3]);
  let width = 0,
    height = 0,
    depth = 0,
    type = -1;
  let palette: Uint8Array | null = null;
  const idat: Uint8Array[] = [];
  let idatDone = false;
  let end = false;
  for (let o = 8; !end;) {
    if (o + 12 > b.length) return null;
    const len = u32(o);
    const kind = name(o + 4);
    if (len > b.length - o - 12 || crc32(b.subarray(o + 4, o + 8 + len)) >>> 0 !== u32(o + 8 + len)) return null;
    const data = b.subarray(o + 8, o + 8 + len);
    if (o === 8) {
      if (kind !== 'IHDR' || len !== 13) return null;
      width = u32(o + 8);
      height = u32(o + 12);
      [depth, type] = [data[8], data[9]];
      const ok = width > 0 && height > 0 && width * height <= maxPixels && (DEPTHS[type] ?? []).includes(depth);
      if (!ok || data[10] !== 0 || data[11] !== 0 || data[12] !== 0) return null; // also refuses Adam7 interlacing
    } else if (kind === 'IDAT') {
      if (idatDone) return null;
      idat.push(data);
    } else {
      if (idat.length > 0) idatDone = true;
      if (kind === 'IEND') end = true;
      else if (kind === 'PLTE') {
        if (len === 0 || len % 3 !== 0 || len > 768 || idat.length > 0) return null;
        palette = data;
      } else if (!HARMLESS.has(kind)) return null;
    }
    o += 12 + len;
    if (end && o !== b.length) return null;
  }
  if (idat.length === 0 || (type === 3 && !palette)) return null;
  const bitsPerPixel = CHANNELS[type] * depth;
  const rowBytes = Math.ceil((width * bitsPerPixel) / 8);
  const expected = height * (rowBytes + 1);
  let raw: Buffer;
  try {
    raw = zlib.inflateSync(idat.length === 1 ? idat[0] : Buffer.concat(idat), { maxOutputLength: expected + 1 });
  } catch {
    return null;
  }
  if (raw.length !== expected) return null;
  const rows = unfilter(raw, height, rowBytes, Math.max(1, bitsPerPixel >> 3));
  const data = rows && toRgb(rows, width, height, rowBytes, type, depth, palette);
  return data ? { data, width, height } : null;
}

/** Undoes the per-row filters; returns the rows without their filter bytes, or null for a bad filter type. */
function unfilter(raw: Uint8Array, height: number, rowBytes: number, bpp: number): Uint8Array | null {
  const out = new Uint8Array(height * rowBytes);
  for (let y = 0; y < height; y++) {
    const f = raw[y * (rowBytes + 1)];
    const s = y * (rowBytes + 1) + 1;
    const o = y * rowBytes;
    const u = o - rowBytes; // the row above; read only when y > 0
    if (f === 0 || (f === 2 && y === 0)) out.set(raw.subarray(s, s + rowBytes), o);
    else if (f === 1 || (f === 4 && y === 0)) {
      // Paeth on the first row predicts from the left neighbour only.
      for (let i = 0; i < bpp; i++) out[o + i] = raw[s + i];
      for (let i = bpp; i < rowBytes; i++) out[o + i] = raw[s + i] + out[o + i - bpp];
    } else if (f === 2) {
      for (let i = 0; i < rowBytes; i++) out[o + i] = raw[s + i] + out[u + i];
    } else if (f === 3) {
      for (let i = 0; i < bpp; i++) out[o + i] = raw[s + i] + ((y > 0 ? out[u + i] : 0) >> 1);
      for (let i = bpp; i < rowBytes; i++) out[o + i] = raw[s + i] + ((out[o + i - bpp] + (y > 0 ? out[u + i] : 0)) >> 1);
    } else if (f === 4) {
      for (let i = 0; i < bpp; i++) out[o + i] = raw[s + i] + out[u + i];
      for (let i = bpp; i < rowBytes; i++) {
        const a = out[o + i - bpp],
          b = out[u + i],
          c = out[u + i - bpp];
        const pa = Math.abs(b - c),
          pb = Math.abs(a - c),
          pc = Math.abs(a + b - c - c);
        out[o + i] = raw[s + i] + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
      }
    } else return null;
  }
  return out;
}

/** 8-bit RGB of the unfiltered rows, or null for a palette index outside the palette (left to libvips to judge). */
function toRgb(rows: Uint8Array, width: number, height: number, rowBytes: number, type: number, depth: number, palette: Uint8Array | null): Uint8Array | null {
  if (type === 2 && depth === 8) return rows; // already RGB, rows unpadded
  const rgb = new Uint8Array(width * height * 3);
  const channels = CHANNELS[type];
  const step = depth === 16 ? 2 : 1; // 16-bit samples: the high byte comes first
  const maxIndex = palette ? palette.length / 3 - 1 : -1;
  for (let y = 0, o = 0; y < height; y++) {
    const row = y * rowBytes;
    for (let x = 0; x < width; x++, o += 3) {
      let v: number;
      if (depth < 8) {
        const bit = x * depth;
        v = (rows[row + (bit >> 3)] >> (8 - depth - (bit & 7))) & ((1 << depth) - 1);
        if (type === 0) v = (v * 255) / ((1 << depth) - 1);
      } else v = rows[row + x * channels * step];
      if (type === 3) {
        if (v > maxIndex) return null;
        const pal = palette as Uint8Array;
        rgb[o] = pal[v * 3];
        rgb[o + 1] = pal[v * 3 + 1];
        rgb[o + 2] = pal[v * 3 + 2];
      } else if (type === 0 || type === 4) {
        rgb[o] = rgb[o + 1] = rgb[o + 2] = v;
      } else {
        const p = row + x * channels * step;
        rgb[o] = rows[p];
        rgb[o + 1] = rows[p + step];
        rgb[o + 2] = rows[p + 2 * step];
      }
    }
  }
  return rgb;
}
