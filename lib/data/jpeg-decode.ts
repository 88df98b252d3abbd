// JPEG on the fast path (lib/data/decode-pool.ts): libjpeg-turbo in the addon decodes only
// what a plan needs, then lib/data/resample.ts resizes, crops and mirrors it as it does for
// PNG (the addon's copy of that resize, which gives the same bytes). Two things the decoder does cheaper than a full decode: DCT scaling (1/2, 1/4, 1/8)
// when the plan shrinks the image at least that much, which also serves as the first stage
// of the anti-aliasing, and cropping on decode, so the IDCT runs only on the rows and columns
// the filter reads (the rest of the file is still entropy-decoded, so a corrupt or truncated
// file fails whatever the crop). The pixels are those of PIL's decoder (the same library and
// settings: ISLOW IDCT, fancy upsampling) before the resize; EXIF orientation is not applied,
// as neither PIL nor the sharp path does. CMYK, YCCK and files with an ICC profile are left
// to sharp, and so is everything when the addon was built without libjpeg-turbo.
import { native, NativeAddon } from '../native';
import { planTaps } from './resample';
import { CropPlan } from './transforms';

/** A JPEG starts with SOI and another marker. */
export function isJpeg(b: Uint8Array): boolean {
  return b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff;
}

let addon: NativeAddon | null | undefined;
let version = '';

/** The addon when it has the JPEG decoder, else null (loaded once per thread). */
function jpegAddon(): NativeAddon | null {
  if (addon !== undefined) return addon;
  try {
    const a = native();
    version = a.buildInfo().jpeg ?? '';
    addon = version ? a : null;
  } catch {
    addon = null;
  }
  return addon;
}

/** The libjpeg-turbo version JPEGs are decoded with on the fast path, or '' when they go through sharp. */
export function jpegDecoderVersion(): string {
  jpegAddon();
  return version;
}

/**
 * The DCT scaling denominator for a plan: the largest of 8, 4, 2 that the plan shrinks the
 * image by on both axes (so the resize after it still shrinks or keeps the size), else 1.
 */
export function jpegDenom(width: number, height: number, plan: CropPlan): number {
  const shrink = Math.min(width / plan.resizeWidth, height / plan.resizeHeight);
  for (const d of [8, 4, 2]) if (shrink >= d) return d;
  return 1;
}

/** A JPEG's fast-path decoding: the plan and a function that writes its pixels. */
export interface PlannedJpeg {
  plan: CropPlan;
  render(out: Uint8Array): Uint8Array;
}

/** Thrown for a file libjpeg cannot decode, or decodes with a warning; the message is libjpeg's. */
export class JpegDecodeError extends Error {}

/**
 * Decodes what `planFor(width, height)` needs of the JPEG in `buf`; null when this decoder
 * leaves the file to sharp (no decoder in this build, CMYK, ICC profile, too many pixels,
 * which sharp then refuses with its usual error).
 */
export function planJpeg(buf: Uint8Array, planFor: (width: number, height: number) => CropPlan, maxPixels: number): PlannedJpeg | null {
  const a = jpegAddon();
  if (!a || !isJpeg(buf)) return null;
  const info = call(() => a.jpegInfo(buf, 65535 * 65535));
  if (info.unsupported !== null || info.width * info.height > maxPixels) return null;
  const plan = planFor(info.width, info.height);
  const denom = jpegDenom(info.width, info.height, plan);
  const grid = {
    width: Math.ceil(info.width / denom),
    height: Math.ceil(info.height / denom),
    extentWidth: info.width / denom,
    extentHeight: info.height / denom,
  };
  const taps = planTaps(grid, plan);
  // A window wholly outside the image still decodes a pixel, so bad data is caught.
  const r = taps?.region ?? { left: 0, top: 0, width: 1, height: 1 };
  const data = call(() => a.jpegDecode(buf, denom, r.left, r.top, r.width, r.height, maxPixels));
  return {
    plan,
    render: (out) => {
      if (!taps) return out;
      // The addon's copy of resampleRegion (the same bytes, several times faster).
      const { tx, ty } = taps;
      a.resampleRgb(
        data,
        r.width,
        r.height,
        r.left,
        r.top,
        tx.start,
        tx.count,
        tx.weights,
        tx.maxTaps,
        ty.start,
        ty.count,
        ty.weights,
        ty.maxTaps,
        out,
        plan.width,
        taps.x0 - plan.left,
        taps.y0 - plan.top,
        plan.flip,
      );
      return out;
    },
  };
}

function call<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    if ((e as { code?: string }).code === 'ERR_JPEG_DECODE') {
      throw new JpegDecodeError(String((e as Error).message).replace(/^jpeg(Info|Decode): /, ''));
    }
    throw e;
  }
}
