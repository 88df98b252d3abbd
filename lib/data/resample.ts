// A CropPlan carried out in JavaScript on decoded RGB pixels (the fast path: small PNGs, and
// JPEGs, which arrive DCT-scaled and cropped to the pixels the filter reads; the rest goes
// through libvips, which does the same in its pipeline). Resizing is PIL's
// bilinear filter as torchvision's PIL transforms apply it: a triangle kernel whose support
// grows with the reduction factor (antialiased when shrinking, plain bilinear when
// enlarging), pixel centres aligned, taps outside the image dropped and the rest
// renormalised (edges clamp). It is computed in floating point and rounded once, where PIL
// and libvips round in fixed point; libvips' own linear kernel differs slightly again, so
// pixels after a resize can differ from the sharp path by a few levels (bounded in
// test/lib/data/png-fast-path.test.ts). Crops, zero padding and mirroring are exact.
import { RgbImage } from './png-decode';
import { CropPlan } from './transforms';

export interface Taps {
  /** First source index of output position i. */
  start: Int32Array;
  count: Int32Array;
  /** Weights, `maxTaps` per position. */
  weights: Float32Array;
  maxTaps: number;
}

/**
 * Taps of the output positions first .. first + n - 1 of a resize along one axis from a source
 * `extent` pixels long to `dst` pixels; the source grid has `limit` pixels (extent rounded up,
 * when it is a JPEG DCT-scaled by 1/denom whose size is not a multiple of denom).
 */
function axisTaps(extent: number, limit: number, dst: number, first: number, n: number): Taps {
  const scale = extent / dst;
  const support = Math.max(scale, 1);
  const maxTaps = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(n);
  const count = new Int32Array(n);
  const weights = new Float32Array(n * maxTaps);
  for (let i = 0; i < n; i++) {
    const centre = (first + i + 0.5) * scale;
    let lo = Math.max(0, Math.floor(centre - support + 0.5));
    let hi = Math.min(limit, Math.ceil(centre + support + 0.5));
    const weight = (j: number): number => Math.max(0, 1 - Math.abs((j + 0.5 - centre) / support));
    // Taps of weight 0 at either end cost time and add nothing.
    while (hi - lo > 1 && weight(lo) === 0) lo++;
    while (hi - lo > 1 && weight(hi - 1) === 0) hi--;
    let total = 0;
    let k = 0;
    for (let j = lo; j < hi && k < maxTaps; j++, k++) {
      weights[i * maxTaps + k] = weight(j);
      total += weight(j);
    }
    for (let t = 0; t < k; t++) weights[i * maxTaps + t] /= total;
    start[i] = lo;
    count[i] = k;
  }
  return { start, count, weights, maxTaps };
}

/** The source a plan is resampled from: a grid of width x height pixels covering an image extentWidth x extentHeight of them. */
export interface SourceGrid {
  width: number;
  height: number;
  extentWidth: number;
  extentHeight: number;
}

/** A plan's filter taps on a source grid, and the window of the grid they read. */
export interface PlanTaps {
  tx: Taps;
  ty: Taps;
  /** The part of the plan's window inside the resized image. */
  x0: number;
  y0: number;
  cols: number;
  rows: number;
  /** The source pixels the taps read: [left, left + width) x [top, top + height) of the grid. */
  region: { left: number; top: number; width: number; height: number };
}

/** The taps of `plan` on `grid`, or null when the plan's window lies wholly outside the resized image (all zeros). */
export function planTaps(grid: SourceGrid, plan: CropPlan): PlanTaps | null {
  const { resizeWidth: rw, resizeHeight: rh, left, top, width: w, height: h } = plan;
  const x0 = Math.max(0, left),
    y0 = Math.max(0, top);
  const x1 = Math.min(rw, left + w),
    y1 = Math.min(rh, top + h);
  if (x1 <= x0 || y1 <= y0) return null;
  const cols = x1 - x0,
    rows = y1 - y0;
  const tx = axisTaps(grid.extentWidth, grid.width, rw, x0, cols);
  const ty = axisTaps(grid.extentHeight, grid.height, rh, y0, rows);
  const span = (t: Taps, n: number): [number, number] => {
    let lo = Infinity,
      hi = -Infinity;
    for (let i = 0; i < n; i++) {
      lo = Math.min(lo, t.start[i]);
      hi = Math.max(hi, t.start[i] + t.count[i]);
    }
    return [lo, hi];
  };
  const [rx0, rx1] = span(tx, cols);
  const [ry0, ry1] = span(ty, rows);
  return { tx, ty, x0, y0, cols, rows, region: { left: rx0, top: ry0, width: rx1 - rx0, height: ry1 - ry0 } };
}

let scratch = new Float32Array(0);

/** The plan's window of `img` (resized, cropped, zero-padded, mirrored): height x width x 3 bytes, into `out` if given (zeroed). */
export function applyPlan(img: RgbImage, plan: CropPlan, out?: Uint8Array): Uint8Array {
  out ??= new Uint8Array(plan.width * plan.height * 3);
  const taps = planTaps({ width: img.width, height: img.height, extentWidth: img.width, extentHeight: img.height }, plan);
  // `img` is the whole source, not just the pixels the taps read.
  return taps ? resampleRegion(img, { ...taps, region: { left: 0, top: 0, width: img.width, height: img.height } }, plan, out) : out;
}

/**
 * Carries out `plan` from `region`: the pixels taps.region of the source grid (only those),
 * into `out` (height x width x 3 bytes of the plan, zeroed).
 */
export function resampleRegion(region: RgbImage, taps: PlanTaps, plan: CropPlan, out: Uint8Array): Uint8Array {
  const { left, top, width: w, flip } = plan;
  const { tx, ty, x0, y0, cols, rows } = taps;
  const ox = taps.region.left,
    oy = taps.region.top;
  // Source rows the window needs, resized horizontally once each.
  const rowLo = ty.start[0];
  const rowHi = ty.start[rows - 1] + ty.count[rows - 1];
  if (scratch.length < (rowHi - rowLo) * cols * 3) scratch = new Float32Array((rowHi - rowLo) * cols * 3);
  const mid = scratch; // rows of the horizontal pass, reused between calls (one thread runs them)
  const src = region.data;
  const { start: xs, count: xc, weights: xw, maxTaps: xm } = tx;
  for (let sy = rowLo; sy < rowHi; sy++) {
    const srow = (sy - oy) * region.width * 3;
    let m = (sy - rowLo) * cols * 3;
    for (let i = 0; i < cols; i++, m += 3) {
      let r = 0,
        g = 0,
        b = 0;
      for (let k = 0, p = srow + (xs[i] - ox) * 3, wi = i * xm, n = xc[i]; k < n; k++, p += 3) {
        const wt = xw[wi + k];
        r += wt * src[p];
        g += wt * src[p + 1];
        b += wt * src[p + 2];
      }
      mid[m] = r;
      mid[m + 1] = g;
      mid[m + 2] = b;
    }
  }
  // A clamped array rounds (half to even) and clamps on store, where a plain one would wrap.
  const px = new Uint8ClampedArray(out.buffer, out.byteOffset, out.length);
  const { start: ys, count: yc, weights: yw, maxTaps: ym } = ty;
  const stride = cols * 3;
  for (let j = 0; j < rows; j++) {
    const orow = (y0 - top + j) * w;
    const n = yc[j];
    const m0 = (ys[j] - rowLo) * stride;
    for (let i = 0, mi = m0; i < cols; i++, mi += 3) {
      let r = 0,
        g = 0,
        b = 0;
      for (let k = 0, p = mi, wi = j * ym; k < n; k++, p += stride) {
        const wt = yw[wi + k];
        r += wt * mid[p];
        g += wt * mid[p + 1];
        b += wt * mid[p + 2];
      }
      const x = x0 - left + i;
      const o = (orow + (flip ? w - 1 - x : x)) * 3;
      px[o] = r;
      px[o + 1] = g;
      px[o + 2] = b;
    }
  }
  return out;
}
