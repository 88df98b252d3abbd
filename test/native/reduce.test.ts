// Reductions: sum and per-tensor L2 norms against float64 references, in every float dtype
// and layout, plus argument checks.
import * as assert from 'node:assert/strict';

import { native } from '../../lib/native';
import { describeDevices, fewer } from '../helpers/devices';
import { assertThrowsNamed } from '../helpers/reference';
import { close, disposeAll, make, normals, randInt, readNCHW, rng, rounded } from './ops-common';

describeDevices('reductions', (d) => {
  const dev = d.device;
  const nat = () => native();

  it('sum matches a float64 sum on random shapes, dtypes and layouts', () => {
    const r = rng(71);
    const shapes = fewer([[1], [7], [3, 5], [2, 3, 5, 7], [5, 1, 9, 3], [1, 200003], [3, 17, 33, 65]], 3);
    for (const shape of shapes)
      for (const dtype of ['float32', 'float16', 'bfloat16'] as const) {
        const n = shape.reduce((a, b) => a * b);
        const x = rounded(normals(n, r, 1, 0.25), dtype);
        const layout = shape.length === 4 && r() < 0.5 ? 'NHWC' : 'NCHW';
        const t = make(x, shape, dev, dtype, layout);
        const s = nat().sum(t);
        assert.deepEqual(s.shape, [1]);
        assert.equal(s.dtype, 'float32');
        const want = x.reduce((a, b) => a + b, 0);
        // Relative to the sum of magnitudes: the sum itself may cancel to near zero.
        const scale = x.reduce((a, b) => a + Math.abs(b), 0);
        assert.ok(Math.abs(readNCHW(s)[0] - want) <= 1e-6 * scale + 1e-30, `sum ${shape} ${dtype} ${layout}: ${readNCHW(s)[0]} vs ${want}`);
        close(readNCHW(s), [want], 1e-4, `sum ${shape} ${dtype}`, 1e-3 * scale);
        disposeAll(t, s);
      }
  });

  it('sum of a large constant tensor is exact where fp32 accumulation would drift', () => {
    const t = nat().empty([1 << 22], 'float32', 'NCHW', dev);
    nat().fillConstant(t, 0.1);
    const s = nat().sum(t);
    close(readNCHW(s), [Math.fround(0.1) * (1 << 22)], 1e-6, 'sum of 2^22 x 0.1');
    disposeAll(t, s);
  });

  it('l2Norms returns one norm per tensor', () => {
    const r = rng(72);
    const shapes: number[][] = Array.from({ length: 6 }, () => [randInt(r, 1, 5), randInt(r, 1, 7), randInt(r, 1, 5), randInt(r, 1, 3)]);
    shapes.push([1], [1000, 3]);
    const dtypes = ['float32', 'float16', 'bfloat16'] as const;
    const xs = shapes.map((s, k) =>
      rounded(
        normals(
          s.reduce((a, b) => a * b),
          r,
          k + 0.5,
        ),
        dtypes[k % 3],
      ),
    );
    const ts = shapes.map((s, k) => make(xs[k], s, dev, dtypes[k % 3], s.length === 4 && k % 2 ? 'NHWC' : 'NCHW'));
    const out = nat().l2Norms(ts);
    assert.deepEqual(out.shape, [shapes.length]);
    close(
      readNCHW(out),
      xs.map((x) => Math.sqrt(x.reduce((a, b) => a + b * b, 0))),
      1e-6,
      'l2 norms',
    );
    disposeAll(...ts, out);
  });

  it('refuses bad arguments, naming them', () => {
    const i = nat().fromTypedArray(new Int32Array(3), [3], 'int32', 'NCHW', dev);
    const f = make([1, 2], [2], dev);
    assertThrowsNamed(() => nat().sum(i), TypeError, "'x'", 'float');
    assertThrowsNamed(() => nat().l2Norms([]), RangeError, "'xs'");
    assertThrowsNamed(() => nat().l2Norms([f, i]), TypeError, "'xs[1]'");
    assertThrowsNamed(() => (nat().l2Norms as (x: unknown) => unknown)(f), TypeError, "'xs'", 'array');
    disposeAll(i, f);
  });
});
