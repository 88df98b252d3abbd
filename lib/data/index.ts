// CIFAR-10/100: readers (folder or .tar.gz), a synthetic stand-in, the seeded generator,
// augmentation parameters and the prefetching batch loader.
export { CifarFormatError } from './errors';
export type { CifarErrorCode } from './errors';
export {
  CIFAR10, CIFAR100, CIFAR10_CLASS_NAMES, CIFAR100_CLASS_NAMES, CIFAR100_COARSE_CLASS_NAMES,
  IMAGE_BYTES, IMAGE_CHANNELS, IMAGE_SIZE, RECORDS_FILE, formatOf,
} from './format';
export type { CifarFormat, CifarKind, Dataset, Split } from './format';
export { loadCifar, loadCifar10, loadCifar100, loadCifarSplits, locateCifar } from './cifar';
export type { CifarSource, LoadOptions } from './cifar';
export { encodeRecords, syntheticDataset, writeSyntheticCifar, writeTarGz } from './synthetic';
export type { SyntheticSplitOptions, SyntheticWriteOptions, SyntheticWritten } from './synthetic';
export { Rng } from './prng';
export { CIFAR10_NORMALIZATION, CIFAR100_NORMALIZATION, channelStats, drawAugmentParams } from './augment';
export type { AugmentSettings, Normalization } from './augment';
export { CifarLoader, evalLoader } from './loader';
export type { Batch, LoaderOptions } from './loader';
