// Types of the addon's image functions (bindings/jpeg_binding.cpp), kept out of lib/native.ts
// for its length; NativeAddon declares the functions.

export interface NativeJpegInfo {
  width: number;
  height: number;
  components: number;
  progressive: boolean;
  /** Why the JPEG decoder leaves this file to sharp (CMYK, YCCK, an ICC profile), or null. */
  unsupported: string | null;
}

/**
 * resampleRgb's arguments: src holds the source's RGB pixels from (originX, originY) on; each
 * axis' taps (start, count and maxTaps weights per output position, as lib/data/resample.ts
 * computes them) must read only those; the cols x rows result goes to (outX, outY) of out,
 * outWidth pixels wide, mirrored within that width when flip is set.
 */
export type NativeResampleArgs = [
  src: Uint8Array,
  srcWidth: number,
  srcHeight: number,
  originX: number,
  originY: number,
  xStart: Int32Array,
  xCount: Int32Array,
  xWeights: Float32Array,
  xMaxTaps: number,
  yStart: Int32Array,
  yCount: Int32Array,
  yWeights: Float32Array,
  yMaxTaps: number,
  out: Uint8Array,
  outWidth: number,
  outX: number,
  outY: number,
  flip: boolean,
];
