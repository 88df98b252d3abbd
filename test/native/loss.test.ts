// Softmax cross-entropy: loss and correct count against a float64 reference (including
// logits far beyond exp's range), backward against the reference and central differences,
// first-max tie rule, fp16/bf16 logits, label smoothing (against its definition, central
// differences, and bit-identity of eps = 0 with no smoothing), and argument checks (label
// range on CPU).
import * as assert from 'node:assert/strict';

import { native } from '../../lib/native';
import { describeDevices, fewer } from '../helpers/devices';
import { assertThrowsNamed, int32Tensor } from '../helpers/reference';
import { checkFiniteDiff, close, disposeAll, make, normals, randInt, readNCHW, rng, rounded, someIndices } from './ops-common';

function lossRef(x: ArrayLike<number>, labels: ArrayLike<number>, N: number, C: number) {
  let total = 0,
    correct = 0;
  const prob = new Float64Array(N * C);
  for (let n = 0; n < N; n++) {
    let m = -Infinity,
      arg = 0;
    for (let j = 0; j < C; j++)
      if (x[n * C + j] > m) {
        m = x[n * C + j];
        arg = j;
      }
    let s = 0;
    for (let j = 0; j < C; j++) s += Math.exp(x[n * C + j] - m);
    const lse = m + Math.log(s);
    total += lse - x[n * C + labels[n]];
    if (arg === labels[n]) correct++;
    for (let j = 0; j < C; j++) prob[n * C + j] = Math.exp(x[n * C + j] - lse);
  }
  return { loss: total / N, correct, prob };
}

function gradRef(x: ArrayLike<number>, labels: ArrayLike<number>, N: number, C: number, g: number): Float64Array {
  const { prob } = lossRef(x, labels, N, C);
  return Float64Array.from(prob, (p, i) => (g * (p - (i % C === labels[Math.floor(i / C)] ? 1 : 0))) / N);
}

// Label smoothing by its definition: the mean over rows of -sum_j t_j log softmax(x)_j with
// t = (1 - eps) onehot(label) + eps / C; and its gradient (softmax - t) * g / N.
function smoothedRef(x: ArrayLike<number>, labels: ArrayLike<number>, N: number, C: number, eps: number, g: number) {
  let total = 0;
  const grad = new Float64Array(N * C);
  for (let n = 0; n < N; n++) {
    const row = Array.from({ length: C }, (_, j) => x[n * C + j]);
    const m = Math.max(...row);
    const lse = m + Math.log(row.reduce((a, v) => a + Math.exp(v - m), 0));
    for (let j = 0; j < C; j++) {
      const t = (j === labels[n] ? 1 - eps : 0) + eps / C;
      total -= t * (row[j] - lse);
      grad[n * C + j] = (g * (Math.exp(row[j] - lse) - t)) / N;
    }
  }
  return { loss: total / N, grad };
}

describeDevices('softmax cross-entropy', (d) => {
  const dev = d.device;
  const nat = () => native();
  const shapes = fewer(
    [
      [1, 1],
      [3, 10],
      [7, 5],
      [13, 3],
      [33, 17],
      [128, 100],
    ],
    3,
  );

  it('loss and correct count match the reference on random shapes and scales', () => {
    const r = rng(51);
    for (const [N, C] of shapes)
      for (const [scale, offset] of [
        [1, 0],
        [8, 0],
        [30, 1000],
        [5, -3e4],
      ]) {
        const x = normals(N * C, r, scale, offset);
        const labels = Int32Array.from({ length: N }, () => randInt(r, 0, C - 1));
        // Make some rows correct on purpose so the count is not trivially 0.
        for (let n = 0; n < N; n += 3) labels[n] = x.slice(n * C, (n + 1) * C).indexOf(Math.max(...x.slice(n * C, (n + 1) * C)));
        const tx = make(x, [N, C], dev),
          tl = int32Tensor(labels, [N], dev);
        const out = nat().softmaxCrossEntropyForward(tx, tl);
        const ref = lossRef(x, labels, N, C);
        assert.deepEqual(out.loss.shape, [1]);
        assert.equal(out.correct.dtype, 'int32');
        const loss = readNCHW(out.loss)[0];
        assert.ok(Number.isFinite(loss), `loss finite for offset ${offset}`);
        close([loss], [ref.loss], 1e-4, `loss [${N}, ${C}] scale ${scale} offset ${offset}`);
        assert.equal((out.correct.read() as Int32Array)[0], ref.correct, `correct [${N}, ${C}]`);
        disposeAll(tx, tl, out.loss, out.correct);
      }
  });

  it('counts a row as correct only when the label is the first maximum', () => {
    const x = make([1, 3, 3, 0, 2, 2, 2, 2, 5, 5, 1, 5], [3, 4], dev);
    const t1 = int32Tensor([1, 0, 0], [3], dev); // rows: first max at 1, 0, 0
    const t2 = int32Tensor([2, 1, 3], [3], dev); // tied but not first
    assert.equal((nat().softmaxCrossEntropyForward(x, t1).correct.read() as Int32Array)[0], 3);
    assert.equal((nat().softmaxCrossEntropyForward(x, t2).correct.read() as Int32Array)[0], 0);
    disposeAll(x, t1, t2);
  });

  it('backward matches the reference and finite differences', () => {
    const r = rng(52);
    for (const [N, C] of shapes) {
      const x = normals(N * C, r, 2);
      const labels = Int32Array.from({ length: N }, () => randInt(r, 0, C - 1));
      const g = 0.5 + 2 * r();
      const tx = make(x, [N, C], dev),
        tl = int32Tensor(labels, [N], dev),
        tg = make([g], [1], dev);
      const dx = readNCHW(nat().softmaxCrossEntropyBackward(tx, tl, tg));
      close(dx, gradRef(x, labels, N, C, g), 1e-4, `dlogits [${N}, ${C}]`, 1e-2 / N);
      const f = (xv: Float64Array) => {
        const t = make(xv, [N, C], dev);
        const o = nat().softmaxCrossEntropyForward(t, tl);
        const v = g * readNCHW(o.loss)[0];
        disposeAll(t, o.loss, o.correct);
        return v;
      };
      // h = 0.05: the loss is an fp32 scalar, so a smaller step would drown in its rounding.
      checkFiniteDiff(f, Float64Array.from(x), dx, someIndices(N * C, 30, r), `dlogits [${N}, ${C}]`, 5e-2, 1e-2, 2e-3 / N);
      disposeAll(tx, tl, tg);
    }
  });

  it('backward stays finite and exact for huge logits', () => {
    const x = [1e4, 1e4 - 2, -1e4, 3e4, 3e4, 0];
    const tx = make(x, [2, 3], dev),
      tl = int32Tensor([1, 2], [2], dev),
      tg = make([1], [1], dev);
    const dx = readNCHW(nat().softmaxCrossEntropyBackward(tx, tl, tg));
    close(dx, gradRef(x, [1, 2], 2, 3, 1), 1e-4, 'huge-logit gradient');
    disposeAll(tx, tl, tg);
  });

  for (const dtype of ['float16', 'bfloat16'] as const) {
    it(`${dtype} logits give the fp32 result of the rounded logits`, () => {
      const r = rng(53);
      const [N, C] = [9, 11];
      const x = rounded(normals(N * C, r, 3), dtype);
      const labels = Int32Array.from({ length: N }, () => randInt(r, 0, C - 1));
      const tx = make(x, [N, C], dev, dtype),
        tl = int32Tensor(labels, [N], dev),
        tg = make([1], [1], dev);
      const o = nat().softmaxCrossEntropyForward(tx, tl);
      assert.equal(o.loss.dtype, 'float32');
      close(readNCHW(o.loss), [lossRef(x, labels, N, C).loss], 1e-4, `${dtype} loss`);
      const dx = nat().softmaxCrossEntropyBackward(tx, tl, tg);
      assert.equal(dx.dtype, dtype);
      close(readNCHW(dx), gradRef(x, labels, N, C, 1), dtype === 'float16' ? 1e-3 : 8e-3, `${dtype} dlogits`, 1e-2);
      disposeAll(tx, tl, tg, o.loss, o.correct, dx);
    });
  }

  it('label smoothing: loss and gradient match the definition and finite differences', () => {
    const r = rng(54);
    for (const [N, C] of shapes)
      for (const eps of [0.1, 0.37, 1]) {
        const x = normals(N * C, r, 3);
        const labels = Int32Array.from({ length: N }, () => randInt(r, 0, C - 1));
        const g = 0.5 + 2 * r();
        const tx = make(x, [N, C], dev),
          tl = int32Tensor(labels, [N], dev),
          tg = make([g], [1], dev);
        const ref = smoothedRef(x, labels, N, C, eps, g);
        const o = nat().softmaxCrossEntropyForward(tx, tl, eps);
        close(readNCHW(o.loss), [ref.loss], 1e-5, `loss [${N}, ${C}] eps ${eps}`);
        const dx = readNCHW(nat().softmaxCrossEntropyBackward(tx, tl, tg, eps));
        close(dx, ref.grad, 1e-4, `dlogits [${N}, ${C}] eps ${eps}`, 1e-2 / N);
        const f = (xv: Float64Array) => {
          const t = make(xv, [N, C], dev);
          const out = nat().softmaxCrossEntropyForward(t, tl, eps);
          const v = g * readNCHW(out.loss)[0];
          disposeAll(t, out.loss, out.correct);
          return v;
        };
        // The loss is an fp32 scalar: its rounding (a few ulps of g * loss) over 2h bounds the difference quotient's error.
        const h = 5e-2;
        const atol = (4 * g * ref.loss * 2 ** -24) / (2 * h) + 2e-3 / N;
        checkFiniteDiff(f, Float64Array.from(x), dx, someIndices(N * C, 20, r), `dlogits [${N}, ${C}] eps ${eps}`, h, 1e-2, atol);
        disposeAll(tx, tl, tg, o.loss, o.correct);
      }
  });

  it('label smoothing 0 is bit for bit the unsmoothed loss and gradient', () => {
    const r = rng(55);
    const [N, C] = [17, 10];
    const x = normals(N * C, r, 4);
    const labels = Int32Array.from({ length: N }, () => randInt(r, 0, C - 1));
    const tx = make(x, [N, C], dev),
      tl = int32Tensor(labels, [N], dev),
      tg = make([1.5], [1], dev);
    const [a, b] = [nat().softmaxCrossEntropyForward(tx, tl), nat().softmaxCrossEntropyForward(tx, tl, 0)];
    assert.deepEqual(readNCHW(b.loss), readNCHW(a.loss));
    const [da, db] = [nat().softmaxCrossEntropyBackward(tx, tl, tg), nat().softmaxCrossEntropyBackward(tx, tl, tg, 0)];
    assert.deepEqual(readNCHW(db), readNCHW(da));
    const c = nat().softmaxCrossEntropyForward(tx, tl, 0.2);
    assert.notDeepEqual(readNCHW(c.loss), readNCHW(a.loss));
    assert.equal((c.correct.read() as Int32Array)[0], (a.correct.read() as Int32Array)[0], 'smoothing does not change the count');
    disposeAll(tx, tl, tg, a.loss, a.correct, b.loss, b.correct, c.loss, c.correct, da, db);
  });

  it('refuses bad arguments, naming them', () => {
    const x = make(new Float32Array(12), [3, 4], dev);
    const good = int32Tensor([0, 1, 3], [3], dev);
    const g = make([1], [1], dev);
    if (dev === 'cpu') {
      // CPU tensors: the binding reads the labels (CUDA tensors are not read on the host).
      assertThrowsNamed(() => nat().softmaxCrossEntropyForward(x, int32Tensor([0, 4, 1], [3], dev)), RangeError, "'labels'", '[0, 4)', '4');
      assertThrowsNamed(() => nat().softmaxCrossEntropyForward(x, int32Tensor([0, 1, -1], [3], dev)), RangeError, "'labels'", '-1');
      assertThrowsNamed(() => nat().softmaxCrossEntropyBackward(x, int32Tensor([9, 1, 1], [3], dev), g), RangeError, "'labels'");
    }
    assertThrowsNamed(() => nat().softmaxCrossEntropyForward(x, make([0, 1, 2], [3], dev)), TypeError, "'labels'", 'int32');
    assertThrowsNamed(() => nat().softmaxCrossEntropyForward(x, int32Tensor([0, 1], [2], dev)), RangeError, "'labels'", '[3]');
    assertThrowsNamed(() => nat().softmaxCrossEntropyForward(make(new Float32Array(12), [3, 4, 1], dev), good), RangeError, "'logits'", '2-D');
    assertThrowsNamed(() => nat().softmaxCrossEntropyBackward(x, good, make([1, 1], [2], dev)), RangeError, "'gradLoss'", '[1]');
    assertThrowsNamed(() => nat().softmaxCrossEntropyBackward(x, good, int32Tensor([1], [1], dev)), TypeError, "'gradLoss'");
    assertThrowsNamed(() => nat().softmaxCrossEntropyForward(x, good, -0.1), RangeError, "'labelSmoothing'", '[0, 1]');
    assertThrowsNamed(() => nat().softmaxCrossEntropyForward(x, good, 1.5), RangeError, "'labelSmoothing'");
    assertThrowsNamed(() => nat().softmaxCrossEntropyBackward(x, good, g, Number.NaN), RangeError, "'labelSmoothing'");
    assertThrowsNamed(() => (nat().softmaxCrossEntropyForward as (...a: unknown[]) => unknown)(x, good, '0.1'), TypeError, "'labelSmoothing'");
    disposeAll(x, good, g);
  });
});
