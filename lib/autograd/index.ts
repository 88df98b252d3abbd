// Reverse-mode autograd over the native ops: the tape engine, and the differentiable
// functions of lib/ops re-exported so autograd.conv2d etc. stay where users find them.
export { backward, noGrad, withGrad, isGradEnabled, Node } from './engine';
export type { BackwardOptions, BackwardFn } from './engine';
export * from '../ops';
