// The CIFAR binary formats (https://www.cs.toronto.edu/~kriz/cifar.html): fixed-size
// records of label byte(s) followed by a 32x32 RGB image stored channel-major (1024 red,
// 1024 green, 1024 blue bytes, each plane row-major). CIFAR-10 has one label byte per
// record; CIFAR-100 has a coarse (20 superclasses) then a fine (100 classes) label byte.
import { badArg, describe } from '../checks';
import { CifarFormatError } from './errors';

export type CifarKind = 'cifar10' | 'cifar100';
export type Split = 'train' | 'test';

export const IMAGE_CHANNELS = 3;
export const IMAGE_SIZE = 32;
export const IMAGE_BYTES = IMAGE_CHANNELS * IMAGE_SIZE * IMAGE_SIZE; // 3072

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
  /** Records in each batch file of the official dataset. */
  officialRecords: Record<string, number>;
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
  officialRecords: {
    'data_batch_1.bin': 10000,
    'data_batch_2.bin': 10000,
    'data_batch_3.bin': 10000,
    'data_batch_4.bin': 10000,
    'data_batch_5.bin': 10000,
    'test_batch.bin': 10000,
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
  officialRecords: { 'train.bin': 50000, 'test.bin': 10000 },
  namesFile: 'fine_label_names.txt',
  coarseNamesFile: 'coarse_label_names.txt',
};

export function formatOf(kind: CifarKind, op = 'formatOf'): CifarFormat {
  if (kind === 'cifar10') return CIFAR10;
  if (kind === 'cifar100') return CIFAR100;
  throw badArg('type', `${op}: kind`, `must be 'cifar10' or 'cifar100', got ${describe(kind)}`);
}

export const CIFAR10_CLASS_NAMES: readonly string[] = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];

export const CIFAR100_CLASS_NAMES: readonly string[] = [
  'apple',
  'aquarium_fish',
  'baby',
  'bear',
  'beaver',
  'bed',
  'bee',
  'beetle',
  'bicycle',
  'bottle',
  'bowl',
  'boy',
  'bridge',
  'bus',
  'butterfly',
  'camel',
  'can',
  'castle',
  'caterpillar',
  'cattle',
  'chair',
  'chimpanzee',
  'clock',
  'cloud',
  'cockroach',
  'couch',
  'crab',
  'crocodile',
  'cup',
  'dinosaur',
  'dolphin',
  'elephant',
  'flatfish',
  'forest',
  'fox',
  'girl',
  'hamster',
  'house',
  'kangaroo',
  'keyboard',
  'lamp',
  'lawn_mower',
  'leopard',
  'lion',
  'lizard',
  'lobster',
  'man',
  'maple_tree',
  'motorcycle',
  'mountain',
  'mouse',
  'mushroom',
  'oak_tree',
  'orange',
  'orchid',
  'otter',
  'palm_tree',
  'pear',
  'pickup_truck',
  'pine_tree',
  'plain',
  'plate',
  'poppy',
  'porcupine',
  'possum',
  'rabbit',
  'raccoon',
  'ray',
  'road',
  'rocket',
  'rose',
  'sea',
  'seal',
  'shark',
  'shrew',
  'skunk',
  'skyscraper',
  'snail',
  'snake',
  'spider',
  'squirrel',
  'streetcar',
  'sunflower',
  'sweet_pepper',
  'table',
  'tank',
  'telephone',
  'television',
  'tiger',
  'tractor',
  'train',
  'trout',
  'tulip',
  'turtle',
  'wardrobe',
  'whale',
  'willow_tree',
  'wolf',
  'woman',
  'worm',
];

export const CIFAR100_COARSE_CLASS_NAMES: readonly string[] = [
  'aquatic_mammals',
  'fish',
  'flowers',
  'food_containers',
  'fruit_and_vegetables',
  'household_electrical_devices',
  'household_furniture',
  'insects',
  'large_carnivores',
  'large_man-made_outdoor_things',
  'large_natural_outdoor_scenes',
  'large_omnivores_and_herbivores',
  'medium_mammals',
  'non-insect_invertebrates',
  'people',
  'reptiles',
  'small_mammals',
  'trees',
  'vehicles_1',
  'vehicles_2',
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
 * A dataset that is not the official one (the synthetic set, a subset) says how many records
 * each batch file holds in this file beside them (in an archive: before them); without it
 * the official counts apply, so a file cut short at a record boundary is caught too.
 */
export const RECORDS_FILE = 'records.json';

/** Record counts per batch file: the official ones, or those a records.json declares. */
export type RecordCounts = Record<string, number>;

/** Parses a records.json: an object of the format's batch file names to positive record counts. */
export function parseRecordCounts(file: string, text: string, fmt: CifarFormat): RecordCounts {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new CifarFormatError('ERR_CIFAR_RECORDS_FILE', file, undefined, `not JSON: ${(e as Error).message}`);
  }
  const names = [...fmt.files.train, ...fmt.files.test];
  if (v === null || typeof v !== 'object' || Array.isArray(v))
    throw new CifarFormatError('ERR_CIFAR_RECORDS_FILE', file, undefined, `must map batch file names (${names.join(', ')}) to record counts`);
  const counts: RecordCounts = { ...fmt.officialRecords };
  for (const [k, n] of Object.entries(v)) {
    if (!names.includes(k))
      throw new CifarFormatError('ERR_CIFAR_RECORDS_FILE', file, undefined, `names '${k}', which is not a ${fmt.kind} batch file (${names.join(', ')})`);
    if (!Number.isSafeInteger(n) || (n as number) < 1)
      throw new CifarFormatError('ERR_CIFAR_RECORDS_FILE', file, undefined, `'${k}': the record count must be a positive integer, got ${JSON.stringify(n)}`);
    counts[k] = n as number;
  }
  return counts;
}

/**
 * Checks that a batch file of `size` bytes holds exactly `records` records. A size that is a
 * whole number of the other CIFAR variant's records (3073 vs 3074 bytes) means the wrong
 * dataset was pointed at; otherwise the file is either short (truncated: inside a record or
 * at a record boundary) or long (extra bytes after the last record), and the error says
 * which, with the byte offset where the file departs from what it must be.
 */
export function checkFileSize(file: string, size: number, fmt: CifarFormat, records: number): void {
  const rec = fmt.recordBytes;
  const expected = records * rec;
  if (size === expected) return;
  const must = `it must hold ${records} records of ${rec} bytes (${expected} bytes)`;
  if (size === 0) throw new CifarFormatError('ERR_CIFAR_TRUNCATED', file, 0, `empty file: ${must}`);
  const other = fmt.kind === 'cifar10' ? CIFAR100 : CIFAR10;
  if (size % rec !== 0 && size % other.recordBytes === 0) {
    throw new CifarFormatError(
      'ERR_CIFAR_RECORD_SIZE',
      file,
      size - (size % rec),
      `${rec}-byte ${fmt.kind} records do not divide its ${size} bytes (remainder ${size % rec}); it holds ` +
        `${size / other.recordBytes} records of ${other.recordBytes} bytes, the ${other.kind} record size: wrong dataset?`,
    );
  }
  if (size > expected) {
    throw new CifarFormatError(
      'ERR_CIFAR_EXTRA_BYTES',
      file,
      expected,
      `${size - expected} extra bytes after the last record: the file has ${size} bytes, ${must}`,
    );
  }
  const whole = size - (size % rec);
  if (size % rec === 0) {
    throw new CifarFormatError(
      'ERR_CIFAR_TRUNCATED',
      file,
      size,
      `truncated at a record boundary: the file holds ${size / rec} of its ${records} records (${size} bytes; ${must})`,
    );
  }
  throw new CifarFormatError(
    'ERR_CIFAR_TRUNCATED',
    file,
    whole,
    `truncated: the file ends ${size % rec} bytes into record ${whole / rec}, which starts at byte offset ${whole} (${size} bytes; ${must})`,
  );
}

/** The wrong-dataset part of checkFileSize alone, for an archive member's header (its count is checked later). */
export function checkRecordSize(file: string, size: number, fmt: CifarFormat): void {
  const other = fmt.kind === 'cifar10' ? CIFAR100 : CIFAR10;
  if (size > 0 && size % fmt.recordBytes !== 0 && size % other.recordBytes === 0) checkFileSize(file, size, fmt, Math.ceil(size / fmt.recordBytes));
}

/** Checks size and every label of one batch file's bytes. */
export function validateBatch(file: string, buf: Uint8Array, fmt: CifarFormat, records: number): void {
  checkFileSize(file, buf.length, fmt, records);
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
  return new CifarFormatError('ERR_CIFAR_LABEL_RANGE', file, offset, `record ${record} has ${what} ${value}, outside [0, ${classes - 1}]`);
}

/** Concatenates validated batch files (in order) into one Dataset. */
export function assemble(
  fmt: CifarFormat,
  split: Split,
  batches: Uint8Array[],
  source: string,
  labelMode: 'fine' | 'coarse',
  names?: { fine?: string[]; coarse?: string[] },
): Dataset {
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
  const names = text
    .split(/\r?\n/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  return names.length === expected ? names : undefined;
}
