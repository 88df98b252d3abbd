// Reductions: sum and per-tensor L2 norms against float64 references, in every float dtype
// and layout, plus argument checks; then the reductions over axes (reduceAxes, maxAxis,
// topk, scatterAddAxis) against naive loops on random shapes.
import * as assert from 'node:assert/strict';

import { native } from '../../lib/native';
import { describeDevices, fewer } from '../helpers/devices';
import { assertThrowsNamed } from '../helpers/reference';
import { axisLines, coords, flatIndex, randomShape, reducedShape, reductionGroups, size } from '../helpers/math-reference';
import { badCallKit, close, disposeAll, make, normals, randInt, readNCHW, rng, rounded } from './ops-common';

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

  describe('over axes', () => {
    const dtypes = ['float32', 'float16', 'bfloat16'] as const;
    const ulp = { float32: 2e-6, float16: 1e-3, bfloat16: 8e-3 };
    const layoutOf = (shape: number[], r: () => number) => (shape.length === 4 && r() < 0.5 ? 'NHWC' : 'NCHW');
    const shapes = (seed: number) => {
      const r = rng(seed);
      const list = [[1], [7], [3, 1, 5], [2, 3, 5, 7], [4, 1, 3, 2], [3, 129]];
      for (let k = 0; k < 4; k++) list.push(randomShape(r));
      return fewer(list, 3);
    };

    it('reduceAxes sums and averages any set of axes, with and without keepdim', () => {
      const r = rng(81);
      for (const shape of shapes(82))
        for (const dtype of dtypes) {
          const rank = shape.length;
          const axes = Array.from({ length: rank }, (_, k) => k).filter(() => r() < 0.5);
          if (axes.length === 0) axes.push(randInt(r, 0, rank - 1));
          const keepdim = r() < 0.5;
          const mode = r() < 0.5 ? 'sum' : 'mean';
          const x = rounded(normals(size(shape), r), dtype);
          const t = make(x, shape, dev, dtype, layoutOf(shape, r));
          // Negative axes count from the end.
          const y = nat().reduceAxes(
            t,
            axes.map((a) => (r() < 0.5 ? a - rank : a)),
            keepdim,
            mode,
          );
          assert.deepEqual(y.shape, reducedShape(shape, axes, keepdim));
          assert.equal(y.dtype, dtype);
          const want = reductionGroups(shape, axes).map((g) => g.reduce((s, i) => s + x[i], 0) / (mode === 'mean' ? g.length : 1));
          const scale = Math.max(...reductionGroups(shape, axes).map((g) => g.reduce((s, i) => s + Math.abs(x[i]), 0)));
          close(readNCHW(y), want, ulp[dtype], `${mode} ${shape} axes ${axes} ${dtype}`, 1e-5 * scale + 1e-2);
          disposeAll(t, y);
        }
    });

    it('maxAxis and topk pick like PyTorch: largest first, ties in index order, NaN as the max', () => {
      const r = rng(83);
      for (const shape of shapes(84))
        for (const dtype of dtypes) {
          const axis = randInt(r, 0, shape.length - 1);
          // Few distinct values, so ties are common.
          const x = rounded(
            Array.from({ length: size(shape) }, () => randInt(r, -3, 3) / 2),
            dtype,
          );
          if (x.length > 3 && r() < 0.5) x[randInt(r, 0, x.length - 1)] = NaN;
          const t = make(x, shape, dev, dtype, layoutOf(shape, r));
          const keepdim = r() < 0.5;
          const m = nat().maxAxis(t, axis, keepdim);
          const k = randInt(r, 1, shape[axis]);
          const largest = r() < 0.7;
          const top = nat().topk(t, k, axis, largest);
          assert.deepEqual(m.values.shape, reducedShape(shape, [axis], keepdim));
          assert.equal(m.indices.dtype, 'int32');
          assert.deepEqual(
            top.values.shape,
            shape.map((s, a) => (a === axis ? k : s)),
          );
          const order = (line: number[], big: boolean) =>
            line
              .map((i, j) => ({ v: x[i], j }))
              .sort((p, q) => {
                const pn = Number.isNaN(p.v),
                  qn = Number.isNaN(q.v);
                if (pn !== qn) return (big ? pn : qn) ? -1 : 1;
                if (!pn && p.v !== q.v) return big === p.v > q.v ? -1 : 1;
                return p.j - q.j;
              });
          const same = (u: number, v: number) => Object.is(u, v) || u === v;
          const mv = readNCHW(m.values),
            mi = m.indices.read();
          const tv = readNCHW(top.values),
            ti = top.indices.read();
          const topLines = axisLines(top.values.shape, axis);
          axisLines(shape, axis).forEach((line, l) => {
            const best = order(line, true)[0];
            assert.equal(mi[l], best.j, `max index ${shape} axis ${axis} line ${l}`);
            assert.ok(same(mv[l], best.v), `max value ${shape} axis ${axis} line ${l}`);
            const o = order(line, largest);
            topLines[l].forEach((at, j) => {
              assert.equal(ti[at], o[j].j, `topk ${largest ? 'largest' : 'smallest'} ${shape} axis ${axis} k ${k} line ${l} #${j}`);
              assert.ok(same(tv[at], o[j].v));
            });
          });
          disposeAll(t, m.values, m.indices, top.values, top.indices);
        }
    });

    it('scatterAddAxis adds every source element at its index, repeats included', () => {
      const r = rng(85);
      for (const shape of shapes(86))
        for (const dtype of dtypes) {
          const axis = randInt(r, 0, shape.length - 1);
          const m = randInt(r, 1, 4);
          const srcShape = shape.map((s, a) => (a === axis ? m : s));
          const src = rounded(normals(size(srcShape), r), dtype);
          const idx = Int32Array.from({ length: src.length }, () => randInt(r, 0, shape[axis] - 1));
          const ts = make(src, srcShape, dev, dtype);
          const ti = nat().fromTypedArray(idx, srcShape, 'int32', 'NCHW', dev);
          const y = nat().scatterAddAxis(ts, ti, axis - shape.length, shape);
          const want = new Float64Array(size(shape));
          for (let k = 0; k < src.length; k++) {
            const c = coords(k, srcShape);
            c[axis] = idx[k];
            want[flatIndex(c, shape)] += src[k];
          }
          close(readNCHW(y), want, ulp[dtype] * 4, `scatterAddAxis ${shape} axis ${axis} ${dtype}`, 1e-2);
          disposeAll(ts, ti, y);
        }
    });

    describe('bad arguments', () => {
      const { raw, t } = badCallKit(dev);
      it('are refused, naming them', () => {
        assertThrowsNamed(() => raw.reduceAxes(t([2, 3]), [2], false, 'sum'), RangeError, "'dim[0]'");
        assertThrowsNamed(() => raw.reduceAxes(t([2, 3]), [1, -1], false, 'sum'), RangeError, "'dim'", 'twice');
        assertThrowsNamed(() => raw.reduceAxes(t([2, 3]), [], false, 'sum'), RangeError, "'dim'");
        assertThrowsNamed(() => raw.reduceAxes(t([2, 3]), 1, false, 'sum'), TypeError, "'dim'");
        assertThrowsNamed(() => raw.reduceAxes(t([2, 3]), [0], 1, 'sum'), TypeError, "'keepdim'");
        assertThrowsNamed(() => raw.reduceAxes(t([2, 3]), [0], true, 'max'), RangeError, "'mode'");
        assertThrowsNamed(() => raw.reduceAxes(t([2, 3], 'int32'), [0], true, 'sum'), TypeError, "'x'");
        assertThrowsNamed(() => raw.maxAxis(t([2, 3]), -3, false), RangeError, "'dim'");
        assertThrowsNamed(() => raw.maxAxis(t([2, 3]), 0.5, false), RangeError, "'dim'", 'integer');
        assertThrowsNamed(() => raw.maxAxis(t([2, 3]), '1', false), TypeError, "'dim'");
        assertThrowsNamed(() => raw.topk(t([2, 3]), 4, 1, true), RangeError, "'k'");
        assertThrowsNamed(() => raw.topk(t([2, 3]), 0, 1, true), RangeError, "'k'");
        const src = t([2, 2]);
        assertThrowsNamed(() => raw.scatterAddAxis(src, t([2, 2]), 1, [2, 3]), TypeError, "'indices'", 'int32');
        assertThrowsNamed(() => raw.scatterAddAxis(src, t([2, 3], 'int32'), 1, [2, 3]), RangeError, "'indices'");
        assertThrowsNamed(() => raw.scatterAddAxis(src, t([2, 2], 'int32'), 1, [3, 3]), RangeError, "'shape'");
        const bad = nat().fromTypedArray(Int32Array.from([0, 3, 1, 2]), [2, 2], 'int32', 'NCHW', dev);
        assertThrowsNamed(() => raw.scatterAddAxis(src, bad, 1, [2, 3]), RangeError, "'indices'", '[0, 3)');
        bad.dispose();
      });
    });
  });
});
