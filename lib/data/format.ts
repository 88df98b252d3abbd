// The CIFAR binary formats (https://www.cs.toronto.edu/~kriz/cifar.html): fixed-size
// records of label byte(s) followed by a 32x32 RGB image stored channel-major (1024 red,
// 1024 green, 1024 blue bytes, each plane row-major). CIFAR-10 has one label byte per
// record; CIFAR-100 has a coarse (20 superclasses) then a fine (100 classes) label byte.
import { CifarFormatError } from './errors';

export type CifarKind = 'cifar10' | 'cifar100';
export type Split = 'train' | 'test';

export const IMAGE_CHANNELS = 3;
export const IMAGE_SIZE = 32;
export const IMAGE_BYTES = IMAGE_CHANNELS * IMAGE_SIZE * IMAGE_SIZE;  // 3072

export interface CifarFormat {
  kind: CifarKind;
  /** The folder the official archive extracts to. */
  folder: string;
  /** The official archive's file name. */
  archive: string;
  labelBytes: 1 | 2;
  recordBytes: number;
  /** Classes of the (fine) label. */
  classes: number;
  /** CIFAR-100 only: superclasses of the coarse label. */
  coarseClasses?: number;
  /** Batch files of a split, in the order their records are concatenated. */
  files: Record<Split, string[]>;
  /** Text files with one class name per line (optional: defaults are built in). */
  namesFile: string;
  coarseNamesFile?: string;
}

export const CIFAR10: CifarFormat = {
  kind: 'cifar10',
  folder: 'cifar-10-batches-bin',
  archive: 'cifar-10-binary.tar.gz',
  labelBytes: 1,
  recordBytes: 1 + IMAGE_BYTES,
  classes: 10,
  files: {
    train: ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin'],
    test: ['test_batch.bin'],
  },
  namesFile: 'batches.meta.txt',
};

export const CIFAR100: CifarFormat = {
  kind: 'cifar100',
  folder: 'cifar-100-binary',
  archive: 'cifar-100-binary.tar.gz',
  labelBytes: 2,
  recordBytes: 2 + IMAGE_BYTES,
  classes: 100,
  coarseClasses: 20,
  files: { train: ['train.bin'], test: ['test.bin'] },
  namesFile: 'fine_label_names.txt',
  coarseNamesFile: 'coarse_label_names.txt',
};

export function formatOf(kind: CifarKind): CifarFormat {
  if (kind === 'cifar10') return CIFAR10;
  if (kind === 'cifar100') return CIFAR100;
  throw new TypeError(`argument 'kind' must be 'cifar10' or 'cifar100', got ${JSON.stringify(kind)}`);
}

export const CIFAR10_CLASS_NAMES: readonly string[] = [
  'airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck',
];

export const CIFAR100_CLASS_NAMES: readonly string[] = [
  'apple', 'aquarium_fish', 'baby', 'bear', 'beaver', 'bed', 'bee', 'beetle', 'bicycle', 'bottle',
  'bowl', 'boy', 'bridge', 'bus', 'butterfly', 'camel', 'can', 'castle', 'caterpillar', 'cattle',
  'chair', 'chimpanzee', 'clock', 'cloud', 'cockroach', 'couch', 'crab', 'crocodile', 'cup', 'dinosaur',
  'dolphin', 'elephant', 'flatfish', 'forest', 'fox', 'girl', 'hamster', 'house', 'kangaroo', 'keyboard',
  'lamp', 'lawn_mower', 'leopard', 'lion', 'lizard', 'lobster', 'man', 'maple_tree', 'motorcycle', 'mountain',
  'mouse', 'mushroom', 'oak_tree', 'orange', 'orchid', 'otter', 'palm_tree', 'pear', 'pickup_truck', 'pine_tree',
  'plain', 'plate', 'poppy', 'porcupine', 'possum', 'rabbit', 'raccoon', 'ray', 'road', 'rocket',
  'rose', 'sea', 'seal', 'shark', 'shrew', 'skunk', 'skyscraper', 'snail', 'snake', 'spider',
  'squirrel', 'streetcar', 'sunflower', 'sweet_pepper', 'table', 'tank', 'telephone', 'television', 'tiger', 'tractor',
  'train', 'trout', 'tulip', 'turtle', 'wardrobe', 'whale', 'willow_tree', 'wolf', 'woman', 'worm',
];

export const CIFAR100_COARSE_CLASS_NAMES: readonly string[] = [
  'aquatic_mammals', 'fish', 'flowers', 'food_containers', 'fruit_and_vegetables', 'household_electrical_devices',
  'household_furniture', 'insects', 'large_carnivores', 'large_man-made_outdoor_things', 'large_natural_outdoor_scenes',
  'large_omnivores_and_herbivores', 'medium_mammals', 'non-insect_invertebrates', 'people', 'reptiles', 'small_mammals',
  'trees', 'vehicles_1', 'vehicles_2',
];

/** A loaded split: images N x 3 x 32 x 32 uint8 in one buffer, one label byte per image. */
export interface Dataset {
  kind: CifarKind;
  split: Split;
  /** Number of images N. */
  count: number;
  /** N * 3072 bytes, image i at [i * 3072, (i + 1) * 3072), channel-major. */
  images: Buffer;
  /** N labels in [0, classes): CIFAR-100's fine labels unless loaded with labels: 'coarse'. */
  labels: Uint8Array;
  classes: number;
  classNames: string[];
  /** CIFAR-100 only: the coarse label of every image (whatever `labels` holds). */
  coarseLabels?: Uint8Array;
  /** CIFAR-100 only: the fine label of every image (whatever `labels` holds). */
  fineLabels?: Uint8Array;
  /** Where it was read from (folder or archive path). */
  source: string;
}

/**
 * Checks that `size` bytes make whole records. A size that is a whole number of the other
 * CIFAR variant's records (3073 vs 3074 bytes) means the wrong dataset was pointed at;
 * any other remainder means the file stops inside a record.
 */
export function checkFileSize(file: string, size: number, fmt: CifarFormat): void {
  const rec = fmt.recordBytes;
  if (size === 0) throw new CifarFormatError('ERR_CIFAR_TRUNCATED', file, 0, `empty file: a ${fmt.kind} batch holds ${rec}-byte records`);
  const rem = size % rec;
  if (rem === 0) return;
  const whole = size - rem;
  const other = fmt.kind === 'cifar10' ? CIFAR100 : CIFAR10;
  if (size % other.recordBytes === 0) {
    throw new CifarFormatError('ERR_CIFAR_RECORD_SIZE', file, whole,
      `${rec}-byte ${fmt.kind} records do not divide its ${size} bytes (remainder ${rem}); it holds ` +
      `${size / other.recordBytes} records of ${other.recordBytes} bytes, the ${other.kind} record size: wrong dataset?`);
  }
  throw new CifarFormatError('ERR_CIFAR_TRUNCATED', file, whole,
    `truncated: ${size} bytes end ${rem} bytes into record ${whole / rec}, which starts at byte offset ${whole} ` +
    `(a ${fmt.kind} record is ${rec} bytes)`);
}

/** Checks size and every label of one batch file's bytes. */
export function validateBatch(file: string, buf: Uint8Array, fmt: CifarFormat): void {
  checkFileSize(file, buf.length, fmt);
  const rec = fmt.recordBytes;
  const n = buf.length / rec;
  for (let r = 0; r < n; r++) {
    const off = r * rec;
    if (fmt.labelBytes === 2) {
      if (buf[off] >= fmt.coarseClasses!) throw labelError(file, off, r, 'coarse label', buf[off], fmt.coarseClasses!);
      if (buf[off + 1] >= fmt.classes) throw labelError(file, off + 1, r, 'fine label', buf[off + 1], fmt.classes);
    } else if (buf[off] >= fmt.classes) {
      throw labelError(file, off, r, 'label', buf[off], fmt.classes);
    }
  }
}

function labelError(file: string, offset: number, record: number, what: string, value: number, classes: number): CifarFormatError {
  return new CifarFormatError('ERR_CIFAR_LABEL_RANGE', file, offset,
    `record ${record} has ${what} ${value}, outside [0, ${classes - 1}]`);
}

/** Concatenates validated batch files (in order) into one Dataset. */
export function assemble(fmt: CifarFormat, split: Split, batches: Uint8Array[], source: string,
  labelMode: 'fine' | 'coarse', names?: { fine?: string[]; coarse?: string[] }): Dataset {
  const rec = fmt.recordBytes;
  const count = batches.reduce((s, b) => s + b.length / rec, 0);
  const images = Buffer.allocUnsafe(count * IMAGE_BYTES);
  const fine = new Uint8Array(count);
  const coarse = fmt.labelBytes === 2 ? new Uint8Array(count) : undefined;
  let i = 0;
  for (const b of batches) {
    const src = Buffer.from(b.buffer, b.byteOffset, b.length);
    for (let off = 0; off < b.length; off += rec, i++) {
      fine[i] = b[off + fmt.labelBytes - 1];
      if (coarse) coarse[i] = b[off];
      src.copy(images, i * IMAGE_BYTES, off + fmt.labelBytes, off + rec);
    }
  }
  const fineNames = names?.fine ?? [...(fmt.kind === 'cifar10' ? CIFAR10_CLASS_NAMES : CIFAR100_CLASS_NAMES)];
  const ds: Dataset = { kind: fmt.kind, split, count, images, labels: fine, classes: fmt.classes, classNames: fineNames, source };
  if (coarse) {
    ds.coarseLabels = coarse;
    ds.fineLabels = fine;
    if (labelMode === 'coarse') {
      ds.labels = coarse;
      ds.classes = fmt.coarseClasses!;
      ds.classNames = names?.coarse ?? [...CIFAR100_COARSE_CLASS_NAMES];
    }
  }
  return ds;
}

/** Class names from a names file: one per line, blank lines ignored; undefined if the count is wrong. */
export function parseNames(text: string, expected: number): string[] | undefined {
  const names = text.split(/\r?\n/).map((s) => s.trim()).filter((s) => s.length > 0);
  return names.length === expected ? names : undefined;
}
