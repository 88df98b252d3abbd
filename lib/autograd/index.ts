// Reverse-mode autograd over the native ops: the tape engine and the differentiable functions.
export { backward, noGrad, withGrad, isGradEnabled, Node } from './engine';
export type { BackwardOptions, BackwardFn } from './engine';
export * from './functions';
