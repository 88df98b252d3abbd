// Differentiable functions over the native op table, one file per op family: each validates
// its arguments, calls the forward op, and (when recording) attaches a Node whose backward
// calls the matching native backward ops. Shapes are logical [N, C, H, W]; any layout the
// native ops accept.
export * from './conv';
export * from './batchnorm';
export * from './elementwise';
export * from './linear';
export * from './pooling';
export * from './convert';
export * from './reshape';
export * from './shortcut';
export * from './loss';
export * from './arith';
export * from './reduce';
export * from './softmax';
export * from './index-slice';
