// Command-line options of image-folder data, shared by `train` and `grad-flow`.
import * as fs from 'node:fs';

import { UsageError } from './args';

export const IMAGE_OPTIONS = {
  'val-data': { type: 'string' },
  'image-size': { type: 'string' },
  augment: { type: 'string' },
  workers: { type: 'string' },
  'skip-bad-images': { type: 'boolean' },
} as const;

export const IMAGE_USAGE = `Image folders (--data DIR with DIR/train/<class>/*.jpg|png|webp and DIR/val/<class>/...,
or class folders plus --val-data; classes sorted by name, as torchvision's ImageFolder):
  --val-data DIR        validation class folders (default DIR/val, DIR/validation or DIR/test)
  --image-size N        crop size (default 224 for resnet18 ... resnet152, 32 for CIFAR models)
  --augment A           torchvision (default: RandomResizedCrop + flip) | paper (shorter side
                        in [256, 480], crop, flip) | none (Resize + CenterCrop); eval: Resize + CenterCrop
  --workers N           images decoding at once (default: the cores; UV_THREADPOOL_SIZE caps it, 4 by default)
  --skip-bad-images     skip (and count) unreadable images instead of stopping with an error`;

export interface ImageArgs {
  valData?: string;
  imageSize?: number;
  augment?: 'torchvision' | 'paper' | 'none';
  workers?: number;
  onImageError?: 'skip';
}

/** Whether --data names an image folder (else it is CIFAR). */
export async function isImageFolderArg(data: string, valData?: string): Promise<boolean> {
  const { imageRoots } = await import('../train/loaders');
  return fs.existsSync(data) && imageRoots(data, valData) !== null;
}

/** Parses the image options; `images` says whether --data is an image folder. */
export function imageArgs(v: Record<string, string | boolean | undefined>, images: boolean): ImageArgs {
  const out: ImageArgs = {};
  const only = (flag: string): void => {
    if (!images) throw new UsageError(`--${flag} applies to image folders; --data ${v.data === undefined ? 'is not given' : `'${v.data}' is CIFAR data`}`);
  };
  if (typeof v['val-data'] === 'string') {
    only('val-data');
    if (!fs.existsSync(v['val-data'])) throw new UsageError(`--val-data: no such folder: ${v['val-data']}`);
    out.valData = v['val-data'];
  }
  if (typeof v['image-size'] === 'string') {
    only('image-size');
    const n = Number(v['image-size']);
    if (!/^\d+$/.test(v['image-size']) || n < 1 || n > 4096) throw new UsageError(`--image-size must be an integer in [1, 4096], got '${v['image-size']}'`);
    out.imageSize = n;
  }
  if (typeof v.augment === 'string') {
    if (!['torchvision', 'paper', 'none'].includes(v.augment)) throw new UsageError(`--augment must be torchvision, paper or none, got '${v.augment}'`);
    if (!images && v.augment !== 'none') only('augment');
    out.augment = v.augment as ImageArgs['augment'];
  }
  if (typeof v.workers === 'string') {
    only('workers');
    if (!/^\d+$/.test(v.workers) || Number(v.workers) < 1) throw new UsageError(`--workers must be an integer >= 1, got '${v.workers}'`);
    out.workers = Number(v.workers);
  }
  if (v['skip-bad-images'] === true) {
    only('skip-bad-images');
    out.onImageError = 'skip';
  }
  return out;
}
