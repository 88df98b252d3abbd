// Layers and the Module base class.
export { Module } from './module';
export type { StateDict, StateValue, GradHook, ModelMeta } from './module';
export { Conv2d, BatchNorm2d, ReLU, Identity, Linear, MaxPool2d, AvgPool2d, GlobalAvgPool2d, Flatten, Sequential, batchNormLayers } from './layers';
export { kaimingNormal_, uniform_, constant_ } from '../ops/fill';
export type { KaimingNormalOptions } from '../ops/fill';
export { freeze, unfreeze, frozenParameters } from './freeze';
export type { FreezeOptions } from './freeze';
export type { LayerOptions, Conv2dOptions, BatchNorm2dOptions, LinearOptions } from './layers';
export * as functional from '../ops';
