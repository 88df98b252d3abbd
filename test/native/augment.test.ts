// augmentBatch and gatherLabels against a naive reference written from the contract in
// native/core/backend.h, on random images, indices and crop/flip parameters (odd batch
// sizes, odd image sizes, every output dtype and layout), plus the argument checks.
import * as assert from 'node:assert/strict';

import { DTypeName, LayoutName, native, NativeTensor } from '../../lib/native';
import { describeDevices, fewer } from '../helpers/devices';
import { assertClose, assertThrowsNamed, int32Tensor, rng } from '../helpers/reference';

interface Case {
  M: number;
  C: number;
  H: number;
  W: number;
  B: number;
  pad: number;
}

function randomBytes(n: number, seed: number): Uint8Array {
  const r = rng(seed);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.floor(r() * 256);
  return out;
}

/** (v / 255 - mean) / std with every step rounded to fp32, as the op computes it. */
function f32norm(v: number, mean: number, std: number): number {
  const f = Math.fround;
  return f(f(f(v / 255) - f(mean)) / f(std));
}

/** The contract, literally: out[b, c, y, x] = (v / 255 - mean[c]) / std[c] of the padded, cropped, mirrored image. */
function reference(img: Uint8Array, cs: Case, idx: Int32Array, prm: Int32Array, mean: number[], std: number[], layout: LayoutName): Float32Array {
  const { C, H, W, B, pad } = cs;
  const out = new Float32Array(B * C * H * W);
  for (let b = 0; b < B; b++) {
    const [dy, dx, flip] = [prm[b * 3], prm[b * 3 + 1], prm[b * 3 + 2]];
    for (let c = 0; c < C; c++) {
      for (let y = 0; y < H; y++) {
        for (let x = 0; x < W; x++) {
          const col = flip ? W - 1 - x : x;
          const py = y + dy,
            px = col + dx; // in the padded image
          const sy = py - pad,
            sx = px - pad;
          const v = sy >= 0 && sy < H && sx >= 0 && sx < W ? img[((idx[b] * C + c) * H + sy) * W + sx] : 0;
          const o = layout === 'NCHW' ? ((b * C + c) * H + y) * W + x : ((b * H + y) * W + x) * C + c;
          out[o] = f32norm(v, mean[c], std[c]);
        }
      }
    }
  }
  return out;
}

function randomCall(cs: Case, seed: number): { img: Uint8Array; idx: Int32Array; prm: Int32Array; mean: number[]; std: number[] } {
  const r = rng(seed);
  const img = randomBytes(cs.M * cs.C * cs.H * cs.W, seed + 1);
  const idx = Int32Array.from({ length: cs.B }, () => Math.floor(r() * cs.M));
  const prm = new Int32Array(cs.B * 3);
  for (let b = 0; b < cs.B; b++) {
    prm[b * 3] = Math.floor(r() * (2 * cs.pad + 1));
    prm[b * 3 + 1] = Math.floor(r() * (2 * cs.pad + 1));
    prm[b * 3 + 2] = r() < 0.5 ? 1 : 0;
  }
  const mean = Array.from({ length: cs.C }, () => r());
  const std = Array.from({ length: cs.C }, () => 0.1 + r());
  return { img, idx, prm, mean, std };
}

const CASES: Case[] = [
  { M: 9, C: 3, H: 32, W: 32, B: 17, pad: 4 },
  { M: 5, C: 3, H: 32, W: 32, B: 1, pad: 4 },
  { M: 13, C: 1, H: 7, W: 5, B: 33, pad: 2 },
  { M: 4, C: 4, H: 6, W: 9, B: 3, pad: 5 }, // padding wider than the image: some crops are all zeros
  { M: 20, C: 3, H: 11, W: 13, B: 64, pad: 0 },
  { M: 2, C: 2, H: 3, W: 3, B: 7, pad: 1 },
];

// Tolerances for each output dtype: the reference is fp32; half types round once.
const DTYPES: Array<[DTypeName, number]> = [
  ['float32', 1e-6],
  ['float16', 1e-3],
  ['bfloat16', 8e-3],
];

describeDevices('augmentBatch', ({ device }) => {
  const n = () => native();
  const u8 = (data: Uint8Array, shape: number[]): NativeTensor => n().fromTypedArray(data, shape, 'uint8', 'NCHW', device);

  for (const [dtype, tol] of DTYPES) {
    for (const layout of ['NCHW', 'NHWC'] as LayoutName[]) {
      it(`matches the naive reference (${dtype} ${layout}, ${CASES.length} shapes)`, () => {
        fewer(CASES).forEach((cs, k) => {
          const { img, idx, prm, mean, std } = randomCall(cs, 100 + k);
          const images = u8(img, [cs.M, cs.C, cs.H, cs.W]);
          const it = int32Tensor(idx, [cs.B], device);
          const pt = int32Tensor(prm, [cs.B, 3], device);
          const out = n().augmentBatch(images, it, pt, mean, std, cs.pad, dtype, layout);
          assert.deepEqual(out.shape, [cs.B, cs.C, cs.H, cs.W]);
          assert.equal(out.dtype, dtype);
          assert.equal(out.layout, layout);
          assert.equal(out.device, device);
          assertClose(out.read(), reference(img, cs, idx, prm, mean, std, layout), tol, `case ${k} ${JSON.stringify(cs)}`);
          for (const t of [images, it, pt, out]) t.dispose();
        });
      });
    }
  }

  it('is exact in float32: a mirrored crop is the crop read backwards, padding is (0 - mean) / std', () => {
    const cs: Case = { M: 3, C: 3, H: 8, W: 8, B: 2, pad: 3 };
    const img = randomBytes(cs.M * 3 * 64, 7);
    const images = u8(img, [3, 3, 8, 8]);
    const idx = int32Tensor([2, 2], [2], device);
    const prm = int32Tensor([0, 0, 0, 0, 0, 1], [2, 3], device);
    const mean = [0.1, 0.5, 0.9];
    const std = [0.5, 0.25, 2];
    const out = n().augmentBatch(images, idx, prm, mean, std, 3, 'float32', 'NCHW').read() as Float32Array;
    for (let c = 0; c < 3; c++) {
      const pad = f32norm(0, mean[c], std[c]);
      for (let y = 0; y < 8; y++) {
        for (let x = 0; x < 8; x++) {
          const plain = out[(c * 8 + y) * 8 + x];
          const mirrored = out[((3 + c) * 8 + y) * 8 + (7 - x)];
          assert.equal(mirrored, plain, `mirror at c${c} y${y} x${x}`);
          // Crop corner (0, 0) of the 3-padded image: rows/cols < 3 are padding.
          if (y < 3 || x < 3) assert.equal(plain, pad, `padding at c${c} y${y} x${x}`);
          else assert.equal(plain, f32norm(img[((2 * 3 + c) * 8 + y - 3) * 8 + x - 3], mean[c], std[c]));
        }
      }
    }
    for (const t of [images, idx, prm]) t.dispose();
  });

  describe('rejects bad arguments, naming them', () => {
    let images: NativeTensor, idx: NativeTensor, prm: NativeTensor;
    const mean = [0.5, 0.5, 0.5],
      std = [0.25, 0.25, 0.25];
    beforeEach(() => {
      images = u8(randomBytes(4 * 3 * 8 * 8, 1), [4, 3, 8, 8]);
      idx = int32Tensor([0, 3], [2], device);
      prm = int32Tensor([0, 8, 1, 4, 4, 0], [2, 3], device);
    });
    afterEach(() => [images, idx, prm].forEach((t) => t.dispose()));
    const call = (over: Partial<Record<'images' | 'indices' | 'params' | 'mean' | 'std' | 'pad' | 'dtype' | 'layout', unknown>>) => () => {
      const a = { images, indices: idx, params: prm, mean, std, pad: 4, dtype: 'float32', layout: 'NCHW', ...over };
      return (n().augmentBatch as (...args: unknown[]) => NativeTensor)(a.images, a.indices, a.params, a.mean, a.std, a.pad, a.dtype, a.layout).dispose();
    };
    const withTensor = (t: NativeTensor, f: () => void) => {
      try {
        f();
      } finally {
        t.dispose();
      }
    };

    it('accepts the baseline call', () => call({})());
    it('images: not uint8, not 4-D, not NCHW, not a tensor', () => {
      const f = n().fromTypedArray(new Float32Array(4 * 3 * 64), [4, 3, 8, 8], 'float32', 'NCHW', device);
      withTensor(f, () => assertThrowsNamed(call({ images: f }), TypeError, "'images'", 'uint8'));
      const r3 = u8(new Uint8Array(3 * 64), [3, 8, 8]);
      withTensor(r3, () => assertThrowsNamed(call({ images: r3 }), RangeError, "'images'", '4-D'));
      const nhwc = n().fromTypedArray(new Uint8Array(4 * 3 * 64), [4, 3, 8, 8], 'uint8', 'NHWC', device);
      withTensor(nhwc, () => assertThrowsNamed(call({ images: nhwc }), TypeError, "'images'", 'NCHW'));
      assertThrowsNamed(call({ images: {} }), TypeError, "'images'");
    });
    it('indices: wrong dtype or rank, out-of-range rows', () => {
      const f = n().fromTypedArray(new Float32Array([0, 1]), [2], 'float32', 'NCHW', device);
      withTensor(f, () => assertThrowsNamed(call({ indices: f }), TypeError, "'indices'", 'int32'));
      const r2 = int32Tensor([0, 1], [2, 1], device);
      withTensor(r2, () => assertThrowsNamed(call({ indices: r2 }), RangeError, "'indices'", '1-D'));
      for (const bad of [4, -1, 2147483647]) {
        const t = int32Tensor([0, bad], [2], device);
        if (device === 'cpu') {
          withTensor(t, () => assertThrowsNamed(call({ indices: t }), RangeError, "'indices'", String(bad), '[0, 4)'));
        } else {
          // Device-resident indices are not read on the host: the bad row comes out as NaN pixels.
          withTensor(t, () => {
            const a = { images, indices: t, params: prm, mean, std, pad: 4, dtype: 'float32', layout: 'NCHW' };
            const y = n().augmentBatch(a.images, a.indices, a.params, a.mean, a.std, a.pad, 'float32', 'NCHW');
            const v = y.read() as Float32Array;
            y.dispose();
            const half = v.length / 2;
            assert.ok(v.slice(0, half).every(Number.isFinite), 'the good row is intact');
            assert.ok(v.slice(half).every(Number.isNaN), `row ${bad}: NaN pixels`);
          });
        }
      }
    });
    it('params: wrong dtype or shape, crop offsets outside [0, 2 * pad], flip not 0/1', () => {
      const f = n().fromTypedArray(new Float32Array(6), [2, 3], 'float32', 'NCHW', device);
      withTensor(f, () => assertThrowsNamed(call({ params: f }), TypeError, "'params'", 'int32'));
      for (const shape of [[2, 2], [3, 3], [6]]) {
        const t = int32Tensor(new Int32Array(shape.reduce((a, b) => a * b)), shape, device);
        withTensor(t, () => assertThrowsNamed(call({ params: t }), RangeError, "'params'"));
      }
      // The values are checked for CPU tensors only (device-resident params are not read on the
      // host; the CUDA kernel bounds-checks every read, so a bad offset crops into zeros).
      if (device !== 'cpu') return;
      for (const row of [
        [9, 0, 0],
        [0, 9, 0],
        [-1, 0, 0],
        [0, -1, 0],
        [0, 0, 2],
        [0, 0, -1],
      ]) {
        const t = int32Tensor([0, 0, 0, ...row], [2, 3], device);
        withTensor(t, () => assertThrowsNamed(call({ params: t }), RangeError, "'params'", 'row 1'));
      }
      // pad 0 allows only the identity crop.
      assertThrowsNamed(call({ pad: 0 }), RangeError, "'params'", '[0, 0]');
    });
    it('mean and std: C finite numbers, std > 0', () => {
      assertThrowsNamed(call({ mean: [0.5, 0.5] }), RangeError, "'mean'", '3 entries');
      assertThrowsNamed(call({ mean: 0.5 }), TypeError, "'mean'");
      assertThrowsNamed(call({ mean: [0.5, NaN, 0.5] }), RangeError, "'mean[1]'");
      assertThrowsNamed(call({ mean: [0.5, '0.5', 0.5] }), TypeError, "'mean[1]'");
      assertThrowsNamed(call({ mean: [0.5, 0.5, 1e300] }), RangeError, "'mean[2]'");
      assertThrowsNamed(call({ std: [0.25, 0, 0.25] }), RangeError, "'std[1]'", '> 0');
      assertThrowsNamed(call({ std: [-1, 0.25, 0.25] }), RangeError, "'std[0]'", '> 0');
      assertThrowsNamed(call({ std: [0.25, 0.25, Infinity] }), RangeError, "'std[2]'");
      assertThrowsNamed(call({ std: [0.25, 0.25, 0.25, 0.25] }), RangeError, "'std'", '3 entries');
    });
    it('pad: an integer in [0, 64]', () => {
      assertThrowsNamed(call({ pad: 65 }), RangeError, "'pad'", '[0, 64]');
      assertThrowsNamed(call({ pad: -1 }), RangeError, "'pad'");
      assertThrowsNamed(call({ pad: 4.5 }), RangeError, "'pad'");
      assertThrowsNamed(call({ pad: '4' }), TypeError, "'pad'");
    });
    it('dtype and layout', () => {
      assertThrowsNamed(call({ dtype: 'int32' }), TypeError, "'dtype'");
      assertThrowsNamed(call({ dtype: 'uint8' }), TypeError, "'dtype'");
      assertThrowsNamed(call({ dtype: 'float64' }), TypeError, "'dtype'");
      assertThrowsNamed(call({ layout: 'CHWN' }), TypeError, "'layout'");
    });
    it('argument count', () => {
      assertThrowsNamed(() => (n().augmentBatch as (...a: unknown[]) => unknown)(images, idx, prm), TypeError, 'augmentBatch', '8 arguments');
    });
    it('disposed tensors', () => {
      const t = int32Tensor([0, 1], [2], device);
      t.dispose();
      assertThrowsNamed(call({ indices: t }), TypeError, "'indices'", 'disposed');
    });
    if (device !== 'cpu') {
      it('tensors on another device', () => {
        const t = int32Tensor([0, 1], [2], 'cpu');
        withTensor(t, () => assertThrowsNamed(call({ indices: t }), TypeError, "'indices'", 'device'));
        const p = int32Tensor([0, 0, 0, 0, 0, 0], [2, 3], 'cpu');
        withTensor(p, () => assertThrowsNamed(call({ params: p }), TypeError, "'params'", 'device'));
      });
    }
  });
});

describeDevices('gatherLabels', ({ device }) => {
  const n = () => native();
  it('gathers uint8 labels into int32 (random sizes)', () => {
    for (const [M, B, seed] of [
      [10, 7, 1],
      [1, 1, 2],
      [1000, 333, 3],
      [256, 1024, 4],
      [3, 65, 5],
    ]) {
      const labels = Uint8Array.from(randomBytes(M, seed));
      const r = rng(seed + 10);
      const idx = Int32Array.from({ length: B }, () => Math.floor(r() * M));
      const lt = n().fromTypedArray(labels, [M], 'uint8', 'NCHW', device);
      const it = int32Tensor(idx, [B], device);
      const y = n().gatherLabels(lt, it);
      assert.equal(y.dtype, 'int32');
      assert.deepEqual(y.shape, [B]);
      assert.deepEqual(
        Array.from(y.read()),
        Array.from(idx, (i) => labels[i]),
      );
      for (const t of [lt, it, y]) t.dispose();
    }
  });
  it('rejects bad arguments, naming them', () => {
    const lt = n().fromTypedArray(new Uint8Array([1, 2, 3]), [3], 'uint8', 'NCHW', device);
    const ok = int32Tensor([0, 2], [2], device);
    const f = n().fromTypedArray(new Float32Array(3), [3], 'float32', 'NCHW', device);
    const l2 = n().fromTypedArray(new Uint8Array(6), [3, 2], 'uint8', 'NCHW', device);
    const out = int32Tensor([0, 3], [2], device);
    const neg = int32Tensor([-1], [1], device);
    try {
      assertThrowsNamed(() => n().gatherLabels(f, ok), TypeError, "'labels'", 'uint8');
      assertThrowsNamed(() => n().gatherLabels(l2, ok), RangeError, "'labels'", '1-D');
      assertThrowsNamed(() => n().gatherLabels(lt, f), TypeError, "'indices'", 'int32');
      if (device === 'cpu') {
        assertThrowsNamed(() => n().gatherLabels(lt, out), RangeError, "'indices'", '[0, 3)');
        assertThrowsNamed(() => n().gatherLabels(lt, neg), RangeError, "'indices'", '-1');
      } else {
        // not read on the host: an index outside [0, M) gives label -1 (the loss is then NaN)
        const y = n().gatherLabels(lt, out);
        assert.deepEqual(Array.from(y.read()), [1, -1]);
        y.dispose();
      }
      assertThrowsNamed(() => (n().gatherLabels as (...a: unknown[]) => unknown)(lt), TypeError, 'gatherLabels', '2 arguments');
    } finally {
      for (const t of [lt, ok, f, l2, out, neg]) t.dispose();
    }
  });
});
