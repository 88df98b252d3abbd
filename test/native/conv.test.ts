// conv2d forward / backward data / backward filter / backward bias against a naive float64
// reference (test/helpers/conv-reference.ts), central finite differences of sum(g * y), and the NHWC and
// half-precision paths against fp32 NCHW on the same (rounded) inputs; bad calls into the
// bindings throw TypeError or RangeError naming the op and the argument.
import * as assert from 'node:assert/strict';

import { DTypeName, LayoutName, native, NativeTensor } from '../../lib/native';
import { cudaUnavailableReason, describeDevices, fewer } from '../helpers/devices';
import { assertThrowsNamed, dot, finiteDiff, maxRelErr, numel, randn, rng } from '../helpers/reference';
import { badCallKit } from './ops-common';
import { assertRef, assertRel, maxAbs, Case, outDims, refBackwardBias, refBackwardData, refBackwardFilter, refForward } from '../helpers/conv-reference';

const CASES: Case[] = [
  { name: '7x7 input, 3x3 kernel, stride 2, padding 1', x: [2, 3, 7, 7], w: [4, 3, 3, 3], p: [2, 2, 1, 1, 1, 1], bias: true },
  { name: '1x1 kernel, batch 1 (direct path)', x: [1, 5, 6, 6], w: [6, 5, 1, 1], p: [1, 1, 0, 0, 1, 1], bias: false },
  { name: 'dilation 2, batch 3, non-square input', x: [3, 2, 9, 8], w: [3, 2, 3, 3], p: [1, 1, 2, 2, 2, 2], bias: true },
  { name: 'non-square kernel, mixed strides and padding', x: [2, 3, 5, 9], w: [2, 3, 2, 4], p: [1, 2, 0, 1, 1, 1], bias: false },
  { name: '1x1 kernel, stride 2', x: [3, 4, 8, 8], w: [5, 4, 1, 1], p: [2, 2, 0, 0, 1, 1], bias: true },
  { name: 'C*R*S = 288 > one GEMM depth block, odd K', x: [2, 32, 6, 5], w: [7, 32, 3, 3], p: [1, 1, 1, 1, 1, 1], bias: true },
  { name: 'P*Q = 289 > one GEMM depth block (backward filter)', x: [2, 3, 17, 17], w: [5, 3, 3, 3], p: [1, 1, 1, 1, 1, 1], bias: false },
  { name: 'kernel as large as the padded input, asymmetric dilation', x: [1, 2, 4, 6], w: [3, 2, 3, 2], p: [1, 1, 1, 0, 2, 5], bias: true },
  // Large enough that the CPU backend unfolds the image in several bands of output rows.
  { name: 'several row bands, same-size 3x3', x: [1, 16, 40, 40], w: [4, 16, 3, 3], p: [1, 1, 1, 1, 1, 1], bias: true },
  { name: 'several row bands, stride 2', x: [2, 16, 80, 79], w: [3, 16, 3, 3], p: [2, 2, 1, 1, 1, 1], bias: false },
  // Small images: backward filter takes several per GEMM, in fixed runs of the batch.
  { name: 'batch 20 of 6x5 images, same-size 3x3', x: [20, 5, 6, 5], w: [4, 5, 3, 3], p: [1, 1, 1, 1, 1, 1], bias: false },
  { name: '1x1 kernel, batch 6 of 5x5 images (direct, several per GEMM)', x: [6, 4, 5, 5], w: [3, 4, 1, 1], p: [1, 1, 0, 0, 1, 1], bias: true },
  // Same-size 3x3 on planes of 64 pixels or more: the direct kernel where the CPU has AVX-512
  // (two 16-pixel vectors per tile: half rows, whole rows, two rows, vectors that straddle
  // rows, a partial vector, a lone last vector; output channels that fill no 8-channel block
  // exactly, in forward and backward data).
  { name: 'direct 3x3: 32 columns, 12 filters, 5 channels', x: [3, 5, 7, 32], w: [12, 5, 3, 3], p: [1, 1, 1, 1, 1, 1], bias: true },
  { name: 'direct 3x3: one row of 70 columns', x: [2, 9, 1, 70], w: [9, 9, 3, 3], p: [1, 1, 1, 1, 1, 1], bias: false },
  { name: 'direct 3x3: 8 x 8, two rows per vector', x: [3, 10, 8, 8], w: [6, 10, 3, 3], p: [1, 1, 1, 1, 1, 1], bias: true },
  { name: 'direct 3x3: 4 x 4, two images per tile, odd batch', x: [3, 6, 4, 4], w: [10, 6, 3, 3], p: [1, 1, 1, 1, 1, 1], bias: true },
  { name: 'direct 3x3: 5 x 13, vectors straddling rows', x: [2, 3, 5, 13], w: [4, 3, 3, 3], p: [1, 1, 1, 1, 1, 1], bias: false },
  { name: 'direct 3x3: 16 x 16, 8 channels in and out', x: [2, 8, 16, 16], w: [8, 8, 3, 3], p: [1, 1, 1, 1, 1, 1], bias: true },
  { name: 'direct 3x3: 3 rows of 48 columns, 3 filters', x: [1, 2, 3, 48], w: [3, 2, 3, 3], p: [1, 1, 1, 1, 1, 1], bias: true },
  // The direct weight gradient (same planes): filters in vectors of 16 (AVX-512) or 8 (AVX2),
  // two vectors per tile where enough filters are left, else an input channel or two per
  // tile; images in groups sized for the L2, within fixed runs of the batch.
  { name: 'direct dw: 9 x 9, 13 channels, 19 filters, odd batch', x: [5, 13, 9, 9], w: [19, 13, 3, 3], p: [1, 1, 1, 1, 1, 1], bias: false },
  { name: 'direct dw: 4 x 4, 20 channels, 37 filters (two vectors and a tail)', x: [7, 20, 4, 4], w: [37, 20, 3, 3], p: [1, 1, 1, 1, 1, 1], bias: true },
  { name: 'direct dw: 32 x 32, 16 in, 16 out, several groups per run', x: [17, 16, 32, 32], w: [16, 16, 3, 3], p: [1, 1, 1, 1, 1, 1], bias: false },
  { name: 'direct dw: 11 x 12, 3 channels, 33 filters', x: [3, 3, 11, 12], w: [33, 3, 3, 3], p: [1, 1, 1, 1, 1, 1], bias: false },
  { name: 'direct dw: 7 x 17, 5 channels, 13 filters (two AVX2 vectors)', x: [3, 5, 7, 17], w: [13, 5, 3, 3], p: [1, 1, 1, 1, 1, 1], bias: true },
  { name: 'direct dw: 4 x 4, 7 channels, 5 filters (one part-full AVX2 vector)', x: [6, 7, 4, 4], w: [5, 7, 3, 3], p: [1, 1, 1, 1, 1, 1], bias: false },
  { name: 'direct dw: 8 x 8, 9 channels, 24 filters (16 and 8 per AVX2 tile)', x: [5, 9, 8, 8], w: [24, 9, 3, 3], p: [1, 1, 1, 1, 1, 1], bias: false },
  // Stride-2 rows long enough for the CPU's vector copy when unfolding (16 columns per step,
  // rows of 17 and 33 that end in a scalar remainder), in a 7x7 stem-like layer.
  { name: 'stride 2 over 67 columns', x: [2, 2, 9, 67], w: [3, 2, 3, 3], p: [2, 2, 1, 1, 1, 1], bias: true },
  { name: '7x7 stride 2 padding 3 over 37 columns', x: [2, 3, 12, 37], w: [4, 3, 7, 7], p: [2, 2, 3, 3, 1, 1], bias: false },
  // Output planes under 64 pixels where most unfolded entries would be padding: one GEMM per
  // filter tap over the pixels it reaches (output channels in blocks of 32 and a partial one;
  // taps that reach no pixel; strides and dilation that leave input pixels unreached).
  { name: 'tap-wise: 2x2 planes, 3x3 padding 1, 70 filters', x: [3, 9, 2, 2], w: [70, 9, 3, 3], p: [1, 1, 1, 1, 1, 1], bias: true },
  { name: 'tap-wise: 1x1 planes, 3x3 padding 1, 37 channels', x: [5, 37, 1, 1], w: [6, 37, 3, 3], p: [1, 1, 1, 1, 1, 1], bias: false },
  { name: 'tap-wise: 2x3 planes, 5x5 padding 2', x: [2, 3, 2, 3], w: [4, 3, 5, 5], p: [1, 1, 2, 2, 1, 1], bias: true },
  { name: 'tap-wise: 3x3 input, stride 2, 2x2 output', x: [2, 6, 3, 3], w: [5, 6, 3, 3], p: [2, 2, 1, 1, 1, 1], bias: false },
  { name: 'tap-wise: dilation 2 on 2x2 planes', x: [2, 4, 2, 2], w: [3, 4, 3, 3], p: [1, 1, 2, 2, 2, 2], bias: true },
  // 1100 images of 300 channels: more gathered pixels than one group of images holds.
  { name: 'tap-wise: batch 1100 of 1x1 planes, in groups', x: [1100, 300, 1, 1], w: [3, 300, 3, 3], p: [1, 1, 1, 1, 1, 1], bias: true },
  // 3600 output pixels per image: more columns than one GEMM column block.
  { name: '1x1 over 60x60 pixels', x: [2, 2, 60, 60], w: [3, 2, 1, 1], p: [1, 1, 0, 0, 1, 1], bias: true },
];

/**
 * Same-size 3x3 convolutions of random shape (seeded) that the direct kernels serve: planes
 * of exactly 16 pixels and of 64 or more in any aspect, odd batches and channel counts that
 * are no multiple of 4 or 8 (the kernels' channel blocks), so that tiles span images and
 * rows and end part-full.
 */
function randomDirectCases(count: number, seed: number): Case[] {
  const r = rng(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
  const channels = () => [1, 3, 5, 6, 7, 9, 11, 13, 15, 17, 19][int(0, 10)];
  const sixteen: [number, number][] = [
    [4, 4],
    [2, 8],
    [16, 1],
    [1, 16],
  ];
  return Array.from({ length: count }, (_, i): Case => {
    const W = int(3, 41);
    const [H, Wd] = i < sixteen.length ? sixteen[i] : [Math.max(int(1, 13), Math.ceil(64 / W)), W];
    const [n, C, K] = [int(1, 5), channels(), channels()];
    return { name: `direct 3x3, random: ${H} x ${Wd}`, x: [n, C, H, Wd], w: [K, C, 3, 3], p: [1, 1, 1, 1, 1, 1], bias: r() < 0.5 };
  });
}
CASES.push(...randomDirectCases(8, 99));

describeDevices('conv2d', ({ device, rtol }) => {
  const A = native();
  let owned: NativeTensor[] = [];
  const keep = (t: NativeTensor): NativeTensor => (owned.push(t), t);
  afterEach(() => {
    for (const t of owned) t.dispose();
    owned = [];
  });

  /** fp32 NCHW data -> a tensor of `dtype` / `layout` on the device under test. */
  function make(data: Float32Array, shape: number[], dtype: DTypeName = 'float32', layout: LayoutName = 'NCHW'): NativeTensor {
    let t = A.fromTypedArray(data, shape, 'float32', 'NCHW', device);
    if (dtype !== 'float32') {
      const u = A.cast(t, dtype);
      t.dispose();
      t = u;
    }
    if (layout !== 'NCHW') {
      const u = A.toLayout(t, layout);
      t.dispose();
      t = u;
    }
    return keep(t);
  }

  /** Values in logical (NCHW) order as fp32, whatever the tensor's dtype and layout. */
  function values(t: NativeTensor): Float32Array {
    if (t.shape.length === 4 && t.layout === 'NHWC') {
      const u = A.toLayout(t, 'NCHW');
      try {
        return u.read() as Float32Array;
      } finally {
        u.dispose();
      }
    }
    return t.read() as Float32Array;
  }

  function data(c: Case, seed: number) {
    const [P, Q] = outDims(c.x, c.w, c.p);
    return {
      x: randn(numel(c.x), seed),
      w: randn(numel(c.w), seed + 1, 0.5),
      b: c.bias ? randn(c.w[0], seed + 2) : null,
      dy: randn(c.x[0] * c.w[0] * P * Q, seed + 3),
      yShape: [c.x[0], c.w[0], P, Q],
    };
  }

  fewer(CASES, 3).forEach((c, ci) => {
    describe(`x ${JSON.stringify(c.x)}, w ${JSON.stringify(c.w)}: ${c.name}`, () => {
      const d = data(c, 100 * ci + 7);

      it('forward matches the naive reference', () => {
        const y = keep(A.conv2dForward(make(d.x, c.x), make(d.w, c.w), d.b && make(d.b, [c.w[0]]), c.p, false));
        assert.deepEqual(y.shape, d.yShape);
        assert.equal(y.dtype, 'float32');
        assertRef(values(y), refForward(c, d.x, d.w, d.b), rtol, 'y');
      });

      it('backward data, filter and bias match the naive reference', () => {
        const dy = make(d.dy, d.yShape);
        const dx = keep(A.conv2dBackwardData(dy, make(d.w, c.w), c.x, c.p, false));
        const dw = keep(A.conv2dBackwardFilter(dy, make(d.x, c.x), c.w, c.p, false));
        const db = keep(A.conv2dBackwardBias(dy));
        assert.deepEqual(dx.shape, c.x);
        assert.deepEqual(dw.shape, c.w);
        assert.deepEqual(db.shape, [c.w[0]]);
        assert.equal(db.dtype, 'float32');
        assertRef(values(dx), refBackwardData(c, d.dy, d.w), rtol, 'dx');
        assertRef(values(dw), refBackwardFilter(c, d.dy, d.x), rtol, 'dw');
        assertRef(values(db), refBackwardBias(c, d.dy), rtol, 'db');
      });

      it('gradients match central finite differences of sum(g * y)', () => {
        const g = d.dy;
        const loss = (x: Float32Array, w: Float32Array, b: Float32Array | null): number => {
          const xt = A.fromTypedArray(x, c.x, 'float32', 'NCHW', device);
          const wt = A.fromTypedArray(w, c.w, 'float32', 'NCHW', device);
          const bt = b && A.fromTypedArray(b, [c.w[0]], 'float32', 'NCHW', device);
          const y = A.conv2dForward(xt, wt, bt, c.p, false);
          const l = dot(g, y.read() as Float32Array);
          for (const t of [xt, wt, bt, y]) t?.dispose();
          return l;
        };
        const gt = make(g, d.yShape);
        const dx = values(keep(A.conv2dBackwardData(gt, make(d.w, c.w), c.x, c.p, false)));
        const dw = values(keep(A.conv2dBackwardFilter(gt, make(d.x, c.x), c.w, c.p, false)));
        const db = values(keep(A.conv2dBackwardBias(gt)));
        const pick = (n: number, seed: number): number[] => {
          const r = rng(seed);
          return Array.from({ length: Math.min(n, 10) }, () => Math.floor(r() * n));
        };
        const check = (analytic: Float32Array, fd: Float64Array, idx: number[], what: string) => {
          const a = idx.map((i) => analytic[i]);
          const f = idx.map((i) => fd[i]);
          const e = maxRelErr(a, f, Math.max(1e-2 * maxAbs(f), 1e-3));
          assert.ok(e <= 1e-2, `${what}: finite-difference relative error ${e.toExponential(2)} > 1e-2 (${a} vs ${f})`);
        };
        const xi = pick(d.x.length, ci + 1);
        check(
          dx,
          finiteDiff((x) => loss(x, d.w, d.b), d.x, 1e-2, xi),
          xi,
          'dx',
        );
        const wi = pick(d.w.length, ci + 2);
        check(
          dw,
          finiteDiff((w) => loss(d.x, w, d.b), d.w, 1e-2, wi),
          wi,
          'dw',
        );
        const b = d.b ?? new Float32Array(c.w[0]);
        const bi = Array.from({ length: c.w[0] }, (_, i) => i);
        check(
          db,
          finiteDiff((bb) => loss(d.x, d.w, bb), b, 1e-2, bi),
          bi,
          'db',
        );
      });
    });
  });

  // allowTf32 lets CUDA round fp32 inputs to TF32 (10-bit mantissa, unit roundoff 2^-11), so
  // that variant gets a TF32-sized tolerance; without it fp32 must match to fp32 rounding.
  const VARIANTS: [DTypeName, LayoutName, number, boolean][] = [
    ['float32', 'NHWC', 1e-5, false],
    ['float32', 'NHWC', 5e-3, true],
    ['float16', 'NCHW', 2e-3, true],
    ['float16', 'NHWC', 2e-3, true],
    ['bfloat16', 'NCHW', 1e-2, true],
    ['bfloat16', 'NHWC', 1e-2, true],
  ];
  for (const [dtype, layout, tol, tf32] of VARIANTS) {
    const math = dtype === 'float32' ? (tf32 ? ' with TF32' : ' without TF32') : '';
    it(`${dtype} ${layout}${math} inputs give the fp32 NCHW results (within output rounding)`, () => {
      for (const c of [CASES[0], CASES[2], CASES[5]]) {
        const d = data(c, 55);
        // Round the inputs to the dtype once, so both paths see the same values.
        const q = (v: Float32Array, shape: number[]) => values(make(v, shape, dtype));
        const x = q(d.x, c.x),
          w = q(d.w, c.w),
          dy = q(d.dy, d.yShape);
        const ref = {
          y: values(keep(A.conv2dForward(make(x, c.x), make(w, c.w), d.b && make(d.b, [c.w[0]]), c.p, false))),
          dx: values(keep(A.conv2dBackwardData(make(dy, d.yShape), make(w, c.w), c.x, c.p, false))),
          dw: values(keep(A.conv2dBackwardFilter(make(dy, d.yShape), make(x, c.x), c.w, c.p, false))),
          db: values(keep(A.conv2dBackwardBias(make(dy, d.yShape)))),
        };
        const xt = make(d.x, c.x, dtype, layout),
          wt = make(d.w, c.w, dtype, layout);
        const dyt = make(d.dy, d.yShape, dtype, layout);
        const y = keep(A.conv2dForward(xt, wt, d.b && make(d.b, [c.w[0]]), c.p, tf32));
        const dx = keep(A.conv2dBackwardData(dyt, wt, c.x, c.p, tf32));
        const dw = keep(A.conv2dBackwardFilter(dyt, xt, c.w, c.p, tf32));
        const db = keep(A.conv2dBackwardBias(dyt));
        for (const [t, shape] of [
          [y, d.yShape],
          [dx, c.x],
          [dw, c.w],
        ] as [NativeTensor, number[]][]) {
          assert.equal(t.dtype, dtype);
          assert.equal(t.layout, layout);
          assert.deepEqual(t.shape, shape);
        }
        assert.equal(db.dtype, 'float32');
        assertRel(values(y), ref.y, tol, `${c.name}: y`);
        assertRel(values(dx), ref.dx, tol, `${c.name}: dx`);
        assertRel(values(dw), ref.dw, tol, `${c.name}: dw`);
        assertRel(values(db), ref.db, 1e-5, `${c.name}: db`);
      }
    });
  }

  it('a ResNet-sized layer (batch 9, 16 channels, 12x12) matches the reference in forward and backward', () => {
    const c: Case = { name: 'resnet', x: [9, 16, 12, 12], w: [16, 16, 3, 3], p: [1, 1, 1, 1, 1, 1], bias: false };
    const d = data(c, 999);
    const x = make(d.x, c.x),
      w = make(d.w, c.w),
      dy = make(d.dy, d.yShape);
    assertRef(values(keep(A.conv2dForward(x, w, null, c.p, false))), refForward(c, d.x, d.w, null), rtol, 'y');
    assertRef(values(keep(A.conv2dBackwardData(dy, w, c.x, c.p, false))), refBackwardData(c, d.dy, d.w), rtol, 'dx');
    assertRef(values(keep(A.conv2dBackwardFilter(dy, x, c.w, c.p, false))), refBackwardFilter(c, d.dy, d.x), rtol, 'dw');
  });

  it('leaves no live tensors behind', () => {
    const before = A.memoryStats().liveTensors;
    const c = CASES[0];
    const d = data(c, 3);
    const x = A.fromTypedArray(d.x, c.x, 'float32', 'NHWC', device);
    const w = A.fromTypedArray(d.w, c.w, 'float32', 'NHWC', device);
    const y = A.conv2dForward(x, w, null, c.p, false);
    const dx = A.conv2dBackwardData(y, w, c.x, c.p, false);
    const dw = A.conv2dBackwardFilter(y, x, c.w, c.p, false);
    const db = A.conv2dBackwardBias(y);
    assert.equal(A.memoryStats().liveTensors, before + 6);
    for (const t of [x, w, y, dx, dw, db]) t.dispose();
    assert.equal(A.memoryStats().liveTensors, before);
  });
});

const P1: number[] = [1, 1, 1, 1, 1, 1];

describeDevices('conv2d bindings refuse bad arguments', ({ device }) => {
  const A = native();
  const { raw, t } = badCallKit(device);

  // x [2, 3, 8, 8], w [4, 3, 3, 3] -> y [2, 4, 8, 8] with padding 1.
  const x = () => t([2, 3, 8, 8]);
  const w = () => t([4, 3, 3, 3]);
  const dy = () => t([2, 4, 8, 8]);

  it('accepts the well-formed calls these tests corrupt', () => {
    for (const r of [
      A.conv2dForward(x(), w(), t([4]), P1, false),
      A.conv2dBackwardData(dy(), w(), [2, 3, 8, 8], P1, false),
      A.conv2dBackwardFilter(dy(), x(), [4, 3, 3, 3], P1, false),
      A.conv2dBackwardBias(dy()),
    ])
      r.dispose();
  });

  it('wrong rank: 3-D x, 1-D w, 2-D dy for the bias gradient', () => {
    assertThrowsNamed(() => A.conv2dForward(t([3, 8, 8]), w(), null, P1, false), RangeError, 'conv2dForward', "'x'", '4-D');
    assertThrowsNamed(() => A.conv2dForward(x(), t([27]), null, P1, false), RangeError, "'w'", '4-D');
    assertThrowsNamed(() => A.conv2dBackwardBias(t([2, 4])), RangeError, 'conv2dBackwardBias', "'dy'");
  });

  it('non-float dtype and mismatched dtypes', () => {
    assertThrowsNamed(() => A.conv2dForward(t([2, 3, 8, 8], 'int32'), w(), null, P1, false), TypeError, "'x'", 'float32');
    assertThrowsNamed(() => A.conv2dForward(x(), t([4, 3, 3, 3], 'float16'), null, P1, false), TypeError, "'w'", 'dtype');
    assertThrowsNamed(() => A.conv2dBackwardFilter(dy(), t([2, 3, 8, 8], 'float16'), [4, 3, 3, 3], P1, false), TypeError, "'x'");
  });

  it('mismatched layouts', () => {
    assertThrowsNamed(() => A.conv2dForward(x(), t([4, 3, 3, 3], 'float32', 'NHWC'), null, P1, false), TypeError, "'w'", 'layout');
    assertThrowsNamed(() => A.conv2dBackwardData(t([2, 4, 8, 8], 'float32', 'NHWC'), w(), [2, 3, 8, 8], P1, false), TypeError, "'w'");
  });

  it('channel mismatch between x and w', () => {
    assertThrowsNamed(() => A.conv2dForward(x(), t([4, 5, 3, 3]), null, P1, false), RangeError, "'w'", 'input channels');
    assertThrowsNamed(() => A.conv2dBackwardData(dy(), w(), [2, 5, 8, 8], P1, false), RangeError, "'xShape'");
    assertThrowsNamed(() => A.conv2dBackwardFilter(dy(), x(), [4, 5, 3, 3], P1, false), RangeError, "'wShape'");
  });

  it('disposed tensors and foreign objects', () => {
    const gone = t([4, 3, 3, 3]);
    gone.dispose();
    assertThrowsNamed(() => A.conv2dForward(x(), gone, null, P1, false), TypeError, "'w'", 'disposed');
    assertThrowsNamed(() => raw.conv2dForward({ shape: [2, 3, 8, 8] }, w(), null, P1, false), TypeError, "'x'", 'tensor handle');
    assertThrowsNamed(() => raw.conv2dBackwardData(dy(), 'w', [2, 3, 8, 8], P1, false), TypeError, "'w'");
    assertThrowsNamed(() => raw.conv2dForward(x(), w(), 0, P1, false), TypeError, "'bias'");
  });

  it('NaN, negative, fractional, huge and zero params', () => {
    const call = (p: unknown[]) => () => raw.conv2dForward(x(), w(), null, p, false);
    assertThrowsNamed(call([1, 1, NaN, 1, 1, 1]), RangeError, "'params[2]'", 'NaN');
    assertThrowsNamed(call([1, 1, -1, 1, 1, 1]), RangeError, "'params[2]'");
    assertThrowsNamed(call([1.5, 1, 1, 1, 1, 1]), RangeError, "'params[0]'");
    assertThrowsNamed(call([1, 1, 1, 1, 1e9, 1]), RangeError, "'params[4]'");
    assertThrowsNamed(call([1, 0, 1, 1, 1, 1]), RangeError, "'params[1]'", 'strideW');
    assertThrowsNamed(call([1, 1, 1, 1, 1, 0]), RangeError, "'params[5]'", 'dilationW');
    assertThrowsNamed(call([1, 1, Infinity, 1, 1, 1]), RangeError, "'params[2]'");
    assertThrowsNamed(call([1, 1, 1, 1]), RangeError, "'params'", '6 entries');
    assertThrowsNamed(call(['1', 1, 1, 1, 1, 1]), TypeError, "'params[0]'");
    assertThrowsNamed(() => raw.conv2dForward(x(), w(), null, 1, false), TypeError, "'params'");
  });

  it('wrong argument count and a non-boolean allowTf32', () => {
    assertThrowsNamed(() => raw.conv2dForward(x(), w(), null, P1), TypeError, 'conv2dForward', 'expected 5 arguments');
    assertThrowsNamed(() => raw.conv2dBackwardBias(), TypeError, 'conv2dBackwardBias', 'expected 1');
    assertThrowsNamed(() => raw.conv2dForward(x(), w(), null, P1, 1), TypeError, "'allowTf32'");
  });

  it('bias of the wrong shape or rank', () => {
    assertThrowsNamed(() => A.conv2dForward(x(), w(), t([5]), P1, false), RangeError, "'bias'", '[4]');
    assertThrowsNamed(() => A.conv2dForward(x(), w(), t([1, 4]), P1, false), RangeError, "'bias'", '1-D');
  });

  it('a kernel that does not fit the padded input, and shapes inconsistent with dy', () => {
    assertThrowsNamed(() => A.conv2dForward(x(), t([4, 3, 11, 3]), null, P1, false), RangeError, "'w'", 'empty output');
    assertThrowsNamed(() => A.conv2dForward(x(), w(), null, [1, 1, 0, 0, 5, 1], false), RangeError, "'w'", 'dilation 5x1');
    assertThrowsNamed(() => A.conv2dBackwardData(dy(), w(), [2, 3, 9, 8], P1, false), RangeError, "'xShape'", "'dy'");
    assertThrowsNamed(() => A.conv2dBackwardData(dy(), w(), [3, 3, 8, 8], P1, false), RangeError, "'xShape'");
    assertThrowsNamed(() => A.conv2dBackwardData(dy(), w(), [2, 3, 8], P1, false), RangeError, "'xShape'", '4 entries');
    assertThrowsNamed(() => A.conv2dBackwardData(dy(), w(), [2, 3, 0, 8], P1, false), RangeError, "'xShape[2]'");
    assertThrowsNamed(() => A.conv2dBackwardFilter(dy(), x(), [5, 3, 3, 3], P1, false), RangeError, "'wShape'", "'dy'");
    assertThrowsNamed(() => A.conv2dBackwardFilter(dy(), x(), [4, 3, 3, 3], [2, 2, 1, 1, 1, 1], false), RangeError, "'wShape'");
  });

  it('operands on different devices', function () {
    if (cudaUnavailableReason() !== null) this.skip();
    const other = device === 'cpu' ? 'cuda:0' : 'cpu';
    assertThrowsNamed(() => A.conv2dForward(x(), t([4, 3, 3, 3], 'float32', 'NCHW', other), null, P1, false), TypeError, "'w'", 'device');
    assertThrowsNamed(() => A.conv2dForward(x(), w(), t([4], 'float32', 'NCHW', other), P1, false), TypeError, "'bias'", 'device');
  });
});
