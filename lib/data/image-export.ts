// A CIFAR-format split written out as an image folder (root/<class>/<index>.png), for
// reading it back with imageFolder(), with torchvision, or as stand-in photos in examples.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { Dataset, IMAGE_BYTES, IMAGE_SIZE } from './format';
import { badArg, checkOptions, describe, optionNames } from '../checks';
import { compareCodePoints } from './image-folder';

type SharpFactory = typeof import('sharp').default;

/**
 * Writes every image of `ds` as root/<class>/<index>.<format> and resolves to the count.
 * Folders are the class names when their sorted order is the label order (so imageFolder
 * gives back the same labels), else the names prefixed with the zero-padded label.
 */
export async function writeImageFolder(root: string, ds: Dataset, options: { format?: 'png' | 'jpeg' | 'webp' } = {}): Promise<number> {
  checkOptions('writeImageFolder', options, optionNames<{ format?: 'png' | 'jpeg' | 'webp' }>({ format: true }));
  const format = options.format ?? 'png';
  if (!['png', 'jpeg', 'webp'].includes(format)) throw badArg('range', 'writeImageFolder: format', `must be 'png', 'jpeg' or 'webp', got ${describe(format)}`);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const sharp = require('sharp') as SharpFactory;
  const names = ds.classNames.length === ds.classes ? [...ds.classNames] : Array.from({ length: ds.classes }, (_, i) => String(i));
  const sorted = names.every((n, i) => i === 0 || compareCodePoints(names[i - 1], n) < 0);
  const width = String(ds.classes - 1).length;
  const folders = sorted ? names : names.map((n, i) => `${String(i).padStart(width, '0')}-${n}`);
  for (const f of folders) fs.mkdirSync(path.join(root, f), { recursive: true });
  const plane = IMAGE_SIZE * IMAGE_SIZE;
  const ext = format === 'jpeg' ? 'jpg' : format;
  for (let i = 0; i < ds.count; i++) {
    const hwc = Buffer.alloc(IMAGE_BYTES);
    for (let p = 0; p < plane; p++) for (let c = 0; c < 3; c++) hwc[p * 3 + c] = ds.images[i * IMAGE_BYTES + c * plane + p];
    let img = sharp(hwc, { raw: { width: IMAGE_SIZE, height: IMAGE_SIZE, channels: 3 } });
    img = format === 'png' ? img.png() : format === 'jpeg' ? img.jpeg({ quality: 95 }) : img.webp({ lossless: true });
    await img.toFile(path.join(root, folders[ds.labels[i]], `${i}.${ext}`));
  }
  return ds.count;
}
