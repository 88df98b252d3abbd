// Image files made in the tests from known pixels (sharp encodes them), so every expected
// value is computed, never stored.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

type SharpFactory = typeof import('sharp').default;
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const sharp = require('sharp') as SharpFactory;

export type Format = 'png' | 'jpeg' | 'webp';

/** Encodes interleaved pixels (channels 1..4) as a file. */
export async function writeImage(file: string, pixels: Uint8Array, width: number, height: number, channels: 1 | 2 | 3 | 4, format: Format = 'png'): Promise<void> {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  let img = sharp(Buffer.from(pixels.buffer, pixels.byteOffset, pixels.length), { raw: { width, height, channels } });
  img = format === 'png' ? img.png() : format === 'jpeg' ? img.jpeg({ quality: 95 }) : img.webp({ lossless: true });
  await img.toFile(file);
}

/** RGB pixels whose value says where they are: r = x, g = y (mod 256), b = `blue`. */
export function coordinateImage(width: number, height: number, blue: number): Uint8Array {
  const px = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      px[o] = x & 255;
      px[o + 1] = y & 255;
      px[o + 2] = blue;
    }
  }
  return px;
}

/** A uniform RGB image. */
export function solidImage(width: number, height: number, rgb: [number, number, number]): Uint8Array {
  const px = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) px.set(rgb, i * 3);
  return px;
}

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `cr-${prefix}-`));
}

/**
 * A class-folder tree root/<class>/img<k>.<ext>: class c's images are a solid colour that
 * makes the class easy to learn (a bright channel per class) plus a small per-image offset.
 */
export async function writeClassFolder(root: string, classes: string[], perClass: number, size: [number, number], format: Format = 'png'): Promise<void> {
  const palette: [number, number, number][] = [[220, 40, 40], [40, 200, 60], [50, 60, 230], [230, 220, 50], [200, 50, 210], [40, 210, 220]];
  for (let c = 0; c < classes.length; c++) {
    for (let k = 0; k < perClass; k++) {
      const base = palette[c % palette.length];
      const rgb = base.map((v) => Math.max(0, Math.min(255, v + ((k * 7) % 21) - 10))) as [number, number, number];
      const ext = format === 'jpeg' ? 'jpg' : format;
      await writeImage(path.join(root, classes[c], `img${k}.${ext}`), solidImage(size[0], size[1], rgb), size[0], size[1], 3, format);
    }
  }
}
