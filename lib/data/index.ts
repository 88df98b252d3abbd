// CIFAR-10/100: readers (folder or .tar.gz), a synthetic stand-in, the seeded generator,
// augmentation parameters and the prefetching batch loader. Image files (JPEG, PNG, WebP):
// ImageFolder, a CSV or an explicit list, torchvision's transforms, and the DataLoader that
// batches any SampleDataset.
export { CifarFormatError } from './errors';
export type { CifarErrorCode } from './errors';
export {
  CIFAR10,
  CIFAR100,
  CIFAR10_CLASS_NAMES,
  CIFAR100_CLASS_NAMES,
  CIFAR100_COARSE_CLASS_NAMES,
  IMAGE_BYTES,
  IMAGE_CHANNELS,
  IMAGE_SIZE,
  RECORDS_FILE,
  formatOf,
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
export { cifarSamples, CifarDataLoader } from './cifar-batches';
export type { CifarDataLoaderOptions } from './cifar-batches';
export { RunFeed, shardOrder } from './dataset';
export type { BatchLoader, Sample, SampleContext, SampleDataset, ShardOptions, TensorBatch } from './dataset';
export { DataLoader } from './data-loader';
export type { DataLoaderOptions } from './data-loader';
export { decodeImage, DEFAULT_MAX_PIXELS, ImageError } from './image-decode';
export type { DecodedImage, ImageErrorCode } from './image-decode';
export { IMAGE_EXTENSIONS, ImageFolder, imageCsv, imageFolder, imageList } from './image-folder';
export { writeImageFolder } from './image-export';
export type { ImageDatasetOptions, ImageEntry } from './image-folder';
export {
  CenterCrop,
  Compose,
  evalTransform,
  IMAGENET_NORMALIZATION,
  Normalize,
  RandomCrop,
  RandomHorizontalFlip,
  RandomResizedCrop,
  RandomShorterSide,
  Resize,
  trainTransform,
} from './transforms';
export type { AugmentPreset, CropPlan, Transform } from './transforms';
