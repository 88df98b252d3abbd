// Package root. Each subsystem re-exports its public names here.
export { native } from './native';
export type { NativeAddon, NativeTensor, DTypeName, LayoutName } from './native';
