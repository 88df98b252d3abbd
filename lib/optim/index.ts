// Optimisers, learning-rate schedules and gradient clipping.
export { SGD, clipGradNorm } from './sgd';
export type { SGDOptions } from './sgd';
export { AdamW } from './adamw';
export type { AdamWOptions } from './adamw';
export type { Optimizer, ParamGroup } from './optimizer';
export { multiStep, paperCifar, stepByEpochs, cosine, linearWarmup, constantWarmup, ResNet110Warmup, LRScheduler } from './schedules';
export type {
  LRSchedule,
  MultiStepOptions,
  PaperCifarOptions,
  StepByEpochsOptions,
  CosineOptions,
  LinearWarmupOptions,
  ConstantWarmupOptions,
  ResNet110WarmupOptions,
} from './schedules';
