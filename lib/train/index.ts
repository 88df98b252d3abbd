// Training: the Trainer (loop, evaluation, metrics, checkpoints, resume), and the pieces
// the CLI builds on (devices and precisions, schedules by name, progress output).
export { Trainer, resolveSpec, resumeOptions } from './trainer';
export type { TrainerOptions, TrainResult, StartInfo, EpochEvent } from './trainer';
export { MetricsLog, readMetrics } from './metrics';
export type { StepMetrics, EvalMetrics, MetricsRecord } from './metrics';
export { readSidecar, WEIGHTS_FILE, SIDECAR_FILE } from '../checkpoint/run';
export type { Sidecar, RunSpec } from '../checkpoint/run';
export { resolveDevice, describePrecision, PRECISIONS } from './device';
export type { Precision } from './device';
export { parseSchedule } from '../optim/schedules';
export { Progress, formatDuration } from './progress';
export { cacheDir, syntheticSource } from './data';
export type { SyntheticSourceOptions } from './data';
export { MixedPrecision } from './amp';
export type { LossScaleOptions, ScalerState } from './amp';
export { CapturedStep } from './captured-step';
export { capturedTrainingStep, trainingStepFn } from './training-step';
export type { TrainingParts } from './training-step';
export type { CapturedStepOptions, StepOutputs } from './captured-step';
