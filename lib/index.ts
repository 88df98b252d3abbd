// Package root. Each subsystem re-exports its public names here; docs/architecture.md
// describes the layers underneath.
// The declarations use Node's types (Buffer, EventEmitter, Disposable / Symbol.dispose): the
// directive below, kept in the emitted index.d.ts, makes them part of every consumer's
// program (@types/node is a dependency), whatever the consumer's `types` and `lib` say.
/// <reference types="node" preserve="true" />
export { native } from './native';
export { InputFileError } from './errors';
export type { ArgumentError, InputFileErrorCode } from './errors';
export { cuda } from './cuda';
export type { CudaDevice, CudaMemoryStats, CudaVersions } from './cuda';
export type { NativeAddon, NativeTensor, NativeTopk, DTypeName, LayoutName } from './native';
export { Tensor, tidy, keep, memory, manualSeed } from './tensor';
export type { DType, Layout, Device, TensorOptions, TensorData } from './tensor';
export { backward, noGrad } from './autograd';
export * as autograd from './autograd';
export * as nn from './nn';
export * as models from './models';
export * as optim from './optim';
export * as checkpoint from './checkpoint';
export { saveCheckpoint, loadCheckpoint, saveSafetensors, loadSafetensors } from './checkpoint';
export * as data from './data';
export { Trainer } from './train';
export type { TrainerOptions, TrainResult, StepMetrics, EvalMetrics } from './train';
export * as train from './train';
export * as diagnostics from './diagnostics';
export * as infer from './infer';
export * as onnx from './onnx';
export { exportOnnx } from './onnx';
export type { OnnxExportOptions } from './onnx';
