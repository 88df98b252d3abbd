// Spatial batch norm: training/inference forward against a float64 reference
// (test/helpers/batchnorm-reference.ts), running statistics, backward against the reference
// and central differences, the fused residual and ReLU against the unfused composition, and
// fp16/bf16 NHWC. Argument checks are in batchnorm-errors.test.ts.
import * as assert from 'node:assert/strict';

import { native } from '../../lib/native';
import { describeDevices, fewer } from '../helpers/devices';
import { bnBackwardRef, bnRef } from '../helpers/batchnorm-reference';
import { checkFiniteDiff, close, disposeAll, make, normals, randInt, readNCHW, rng, rounded, someIndices } from './ops-common';

function randomShape(r: () => number): number[] {
  for (;;) {
    const s = [randInt(r, 1, 5), randInt(r, 1, 6), randInt(r, 1, 7), randInt(r, 1, 7)];
    if (s[0] * s[2] * s[3] >= 2) return s;
  }
}

const SHAPES = [
  [3, 5, 7, 5],
  [1, 3, 3, 1],
  [2, 7, 5, 3],
  [5, 1, 1, 1],
  [4, 4, 9, 7],
];

describeDevices('batch norm', (d) => {
  const dev = d.device;
  const nat = () => native();

  function params(C: number, r: () => number) {
    return {
      gamma: normals(C, r, 0.5, 1),
      beta: normals(C, r, 0.5),
      rm: normals(C, r, 0.3),
      rv: Float64Array.from(normals(C, r), (v) => Math.fround(0.5 + Math.abs(v))),
    };
  }

  it('training forward matches the reference and updates the running statistics', () => {
    const r = rng(11);
    const shapes = fewer([...SHAPES, randomShape(r), randomShape(r)]);
    for (const shape of shapes) {
      const C = shape[1];
      const x = normals(
        shape.reduce((a, b) => a * b),
        r,
        2,
        0.7,
      );
      const p = params(C, r);
      const momentum = [0.1, 0.37, 1, 0][randInt(r, 0, 3)],
        eps = 1e-5;
      const tx = make(x, shape, dev),
        tg = make(p.gamma, [C], dev),
        tb = make(p.beta, [C], dev);
      const trm = make(p.rm, [C], dev),
        trv = make(p.rv, [C], dev);
      const out = nat().batchNormForwardTraining(tx, tg, tb, trm, trv, momentum, eps, null, false);
      const ref = bnRef(x, shape, p.gamma, p.beta, eps, null, false);
      close(readNCHW(out.y), ref.y, 1e-4, `y ${shape}`);
      close(readNCHW(out.saveMean), ref.mean, 1e-4, `saveMean ${shape}`);
      close(readNCHW(out.saveInvStd), ref.invstd, 1e-4, `saveInvStd ${shape}`);
      const expMean = Float64Array.from(p.rm, (v, c) => (1 - momentum) * v + momentum * ref.mean[c]);
      const expVar = Float64Array.from(p.rv, (v, c) => (1 - momentum) * v + momentum * ref.varUnbiased[c]);
      close(readNCHW(trm), expMean, 1e-4, `runningMean ${shape}`);
      close(readNCHW(trv), expVar, 1e-4, `runningVar ${shape} (unbiased)`);
      disposeAll(tx, tg, tb, trm, trv, out.y, out.saveMean, out.saveInvStd);
    }
  });

  it('running statistics converge to the data statistics over repeated steps', () => {
    const r = rng(12);
    const shape = [4, 3, 5, 5];
    const x = normals(300, r, 3, -2);
    const ref = bnRef(x, shape, [1, 1, 1], [0, 0, 0], 1e-5, null, false);
    const tx = make(x, shape, dev),
      tg = make([1, 1, 1], [3], dev),
      tb = make([0, 0, 0], [3], dev);
    const trm = make([0, 0, 0], [3], dev),
      trv = make([1, 1, 1], [3], dev);
    let em = [0, 0, 0],
      ev = [1, 1, 1];
    for (let step = 0; step < 30; step++) {
      const o = nat().batchNormForwardTraining(tx, tg, tb, trm, trv, 0.25, 1e-5, null, false);
      disposeAll(o.y, o.saveMean, o.saveInvStd);
      em = em.map((v, c) => 0.75 * v + 0.25 * ref.mean[c]);
      ev = ev.map((v, c) => 0.75 * v + 0.25 * ref.varUnbiased[c]);
    }
    close(readNCHW(trm), em, 1e-4, 'running mean after 30 steps');
    close(readNCHW(trv), ev, 1e-4, 'running var after 30 steps');
    close(readNCHW(trv), ref.varUnbiased, 1e-3, 'running var near the unbiased variance');
    disposeAll(tx, tg, tb, trm, trv);
  });

  it('statistics of large planes far from zero keep their precision (no cancellation)', () => {
    // Planes longer than the kernels' vector lanes, with an odd tail, and a mean 2000 times
    // the spread: an fp32 one-pass sum of squares would lose every digit here.
    const r = rng(13);
    const shape = [3, 4, 37, 41];
    const C = shape[1];
    const x = normals(
      shape.reduce((a, b) => a * b),
      r,
      0.5,
      1000,
    );
    const p = params(C, r);
    const tx = make(x, shape, dev),
      tg = make(p.gamma, [C], dev),
      tb = make(p.beta, [C], dev);
    const trm = make(p.rm, [C], dev),
      trv = make(p.rv, [C], dev);
    const out = nat().batchNormForwardTraining(tx, tg, tb, trm, trv, 1, 1e-5, null, false);
    const ref = bnRef(x, shape, p.gamma, p.beta, 1e-5, null, false);
    close(readNCHW(out.saveMean), ref.mean, 1e-6, 'saveMean');
    close(readNCHW(out.saveInvStd), ref.invstd, 1e-4, 'saveInvStd');
    close(readNCHW(trv), ref.varUnbiased, 1e-4, 'runningVar (unbiased)');
    disposeAll(tx, tg, tb, trm, trv, out.y, out.saveMean, out.saveInvStd);
  });

  it('inference forward uses the running statistics (with residual and ReLU)', () => {
    const r = rng(13);
    for (const shape of fewer([...SHAPES, randomShape(r)])) {
      const C = shape[1],
        n = shape.reduce((a, b) => a * b);
      const x = normals(n, r, 1.5),
        res = normals(n, r);
      const p = params(C, r);
      for (const [useRes, relu] of [
        [false, false],
        [true, true],
        [false, true],
      ]) {
        const tx = make(x, shape, dev),
          tr = useRes ? make(res, shape, dev) : null;
        const tg = make(p.gamma, [C], dev),
          tb = make(p.beta, [C], dev),
          trm = make(p.rm, [C], dev),
          trv = make(p.rv, [C], dev);
        const y = nat().batchNormForwardInference(tx, tg, tb, trm, trv, 1e-3, tr, relu);
        const ref = bnRef(x, shape, p.gamma, p.beta, 1e-3, useRes ? res : null, relu, { mean: p.rm, var: p.rv });
        close(readNCHW(y), ref.y, 1e-4, `inference y ${shape} res=${useRes} relu=${relu}`);
        close(readNCHW(trm), p.rm, 0, 'running mean untouched');
        disposeAll(tx, tr, tg, tb, trm, trv, y);
      }
    }
  });

  it('fused residual + ReLU forward and backward equal the unfused composition', () => {
    const r = rng(14);
    for (const shape of [
      [3, 4, 5, 3],
      [2, 5, 7, 7],
      [1, 2, 3, 5],
    ]) {
      const C = shape[1],
        n = shape.reduce((a, b) => a * b);
      const x = normals(n, r),
        res = normals(n, r),
        dy = normals(n, r);
      const p = params(C, r);
      const tx = make(x, shape, dev),
        tres = make(res, shape, dev),
        tdy = make(dy, shape, dev);
      const tg = make(p.gamma, [C], dev),
        tb = make(p.beta, [C], dev);
      const rm = () => make(p.rm, [C], dev),
        rv = () => make(p.rv, [C], dev);
      const [m1, v1, m2, v2] = [rm(), rv(), rm(), rv()];
      const fused = nat().batchNormForwardTraining(tx, tg, tb, m1, v1, 0.1, 1e-5, tres, true);
      const plain = nat().batchNormForwardTraining(tx, tg, tb, m2, v2, 0.1, 1e-5, null, false);
      const sum = nat().add(plain.y, tres);
      const act = nat().reluForward(sum);
      close(readNCHW(fused.y), readNCHW(act), 1e-5, 'fused forward', 1);
      close(readNCHW(m1), readNCHW(m2), 0, 'running mean');
      const fb = nat().batchNormBackward(tdy, tx, tg, fused.saveMean, fused.saveInvStd, 1e-5, fused.y, true, true);
      const g = nat().reluBackward(tdy, act);
      const pb = nat().batchNormBackward(g, tx, tg, plain.saveMean, plain.saveInvStd, 1e-5, null, false, false);
      assert.equal(pb.dresidual, undefined);
      assert.ok(fb.dresidual, 'dresidual returned');
      close(readNCHW(fb.dx), readNCHW(pb.dx), 1e-5, 'dx', 1e-2);
      close(readNCHW(fb.dgamma), readNCHW(pb.dgamma), 1e-5, 'dgamma', 1e-2);
      close(readNCHW(fb.dbeta), readNCHW(pb.dbeta), 1e-5, 'dbeta', 1e-2);
      close(readNCHW(fb.dresidual!), readNCHW(g), 0, 'dresidual is the masked dy');
      disposeAll(
        tx,
        tres,
        tdy,
        tg,
        tb,
        m1,
        v1,
        m2,
        v2,
        fused.y,
        fused.saveMean,
        fused.saveInvStd,
        plain.y,
        plain.saveMean,
        plain.saveInvStd,
        sum,
        act,
        fb.dx,
        fb.dgamma,
        fb.dbeta,
        fb.dresidual,
        g,
        pb.dx,
        pb.dgamma,
        pb.dbeta,
      );
    }
  });

  for (const [useRes, relu] of [
    [false, false],
    [false, true],
    [true, false],
    [true, true],
  ] as const) {
    it(`backward matches the reference and finite differences (residual=${useRes}, relu=${relu})`, () => {
      const r = rng(20 + (useRes ? 2 : 0) + (relu ? 1 : 0));
      const shapes = fewer([[3, 3, 5, 3], [2, 5, 3, 3], [1, 2, 7, 5], [5, 3, 1, 1], randomShape(r)]);
      let tested = 0;
      for (const shape of shapes) {
        const C = shape[1],
          n = shape.reduce((a, b) => a * b);
        const x = normals(n, r, 1.3, 0.4),
          res = normals(n, r),
          w = normals(n, r);
        const p = params(C, r);
        const tg = make(p.gamma, [C], dev),
          tb = make(p.beta, [C], dev);
        const forward = (xv: ArrayLike<number>, gv: ArrayLike<number>, bv: ArrayLike<number>, rv: ArrayLike<number>) => {
          const ts = [make(xv, shape, dev), make(gv, [C], dev), make(bv, [C], dev), make(p.rm, [C], dev), make(p.rv, [C], dev)];
          const tr = useRes ? make(rv, shape, dev) : null;
          const o = nat().batchNormForwardTraining(ts[0], ts[1], ts[2], ts[3], ts[4], 0.1, 1e-5, tr, relu);
          const y = readNCHW(o.y);
          disposeAll(...ts, tr, o.y, o.saveMean, o.saveInvStd);
          return y;
        };
        const project = (y: ArrayLike<number>) => {
          let s = 0;
          for (let i = 0; i < y.length; i++) s += w[i] * y[i];
          return s;
        };
        // Analytic: dy = w.
        const tx = make(x, shape, dev),
          tres = useRes ? make(res, shape, dev) : null;
        const trm = make(p.rm, [C], dev),
          trv = make(p.rv, [C], dev),
          tw = make(w, shape, dev);
        const fw = nat().batchNormForwardTraining(tx, tg, tb, trm, trv, 0.1, 1e-5, tres, relu);
        const b = nat().batchNormBackward(tw, tx, tg, fw.saveMean, fw.saveInvStd, 1e-5, relu ? fw.y : null, relu, useRes);
        const dx = readNCHW(b.dx),
          dgamma = readNCHW(b.dgamma),
          dbeta = readNCHW(b.dbeta);
        // Reference on the saved statistics and the op's own output mask.
        const ref = bnBackwardRef(w, x, shape, p.gamma, readNCHW(fw.saveMean), readNCHW(fw.saveInvStd), relu ? readNCHW(fw.y) : null);
        close(dx, ref.dx, 1e-4, `dx ${shape}`, 1e-2);
        close(dgamma, ref.dgamma, 1e-4, `dgamma ${shape}`, 1e-2);
        close(dbeta, ref.dbeta, 1e-4, `dbeta ${shape}`, 1e-2);
        if (useRes) close(readNCHW(b.dresidual!), ref.dres, 0, 'dresidual');
        else assert.equal(b.dresidual, undefined);
        // Finite differences. With the ReLU, an index is only used when no pre-activation it
        // moves (its whole channel, through the batch statistics) comes within 3 steps of
        // the kink, where the function is not differentiable.
        const h = relu ? 1e-3 : 1e-2;
        const R = bnRef(x, shape, p.gamma, p.beta, 1e-5, useRes ? res : null, false);
        const HW = shape[2] * shape[3];
        const chan = (i: number) => Math.floor(i / HW) % C;
        const xhat = (j: number) => (x[j] - R.mean[chan(j)]) * R.invstd[chan(j)];
        const members = (c: number) => Array.from({ length: n }, (_, j) => j).filter((j) => chan(j) === c);
        const clear = (c: number, reach: (j: number) => number) => !relu || members(c).every((j) => Math.abs(R.pre[j]) > 3 * h * reach(j));
        const gi = (c: number) => Math.abs(p.gamma[c]) * R.invstd[c];
        const idx = someIndices(n, 24, r).filter((i) => clear(chan(i), (j) => gi(chan(i)) * (2 + Math.abs(xhat(i) * xhat(j)))));
        const cidx = (reach: (j: number) => number) => someIndices(C, 4, r).filter((c) => clear(c, reach));
        tested += idx.length;
        checkFiniteDiff((xv) => project(forward(xv, p.gamma, p.beta, res)), Float64Array.from(x), dx, idx, `dx ${shape}`, h, 2e-2, 2e-3);
        checkFiniteDiff(
          (gv) => project(forward(x, gv, p.beta, res)),
          Float64Array.from(p.gamma),
          dgamma,
          cidx((j) => Math.abs(xhat(j))),
          `dgamma ${shape}`,
          h,
          2e-2,
          2e-3,
        );
        checkFiniteDiff(
          (bv) => project(forward(x, p.gamma, bv, res)),
          Float64Array.from(p.beta),
          dbeta,
          cidx(() => 1),
          `dbeta ${shape}`,
          h,
          2e-2,
          2e-3,
        );
        if (useRes)
          checkFiniteDiff(
            (rv) => project(forward(x, p.gamma, p.beta, rv)),
            Float64Array.from(res),
            readNCHW(b.dresidual!),
            idx.filter((i) => !relu || Math.abs(R.pre[i]) > 3 * h),
            `dresidual ${shape}`,
            h,
            2e-2,
            2e-3,
          );
        disposeAll(tg, tb, tx, tres, trm, trv, tw, fw.y, fw.saveMean, fw.saveInvStd, b.dx, b.dgamma, b.dbeta, b.dresidual);
      }
      assert.ok(tested >= 20, `only ${tested} elements were checked by finite differences`);
    });
  }

  for (const dtype of ['float16', 'bfloat16'] as const) {
    it(`${dtype} NHWC forward and backward match the fp32 reference on the rounded inputs`, () => {
      const r = rng(dtype === 'float16' ? 31 : 32);
      const tol = dtype === 'float16' ? 2e-3 : 1.6e-2;
      for (const shape of [
        [2, 5, 3, 7],
        [3, 8, 4, 4],
        [1, 3, 5, 5],
      ]) {
        const C = shape[1],
          n = shape.reduce((a, b) => a * b);
        const x = rounded(normals(n, r), dtype),
          res = rounded(normals(n, r), dtype),
          dy = rounded(normals(n, r), dtype);
        const p = params(C, r);
        const tx = make(x, shape, dev, dtype, 'NHWC'),
          tres = make(res, shape, dev, dtype, 'NHWC');
        const tdy = make(dy, shape, dev, dtype, 'NHWC');
        const tg = make(p.gamma, [C], dev),
          tb = make(p.beta, [C], dev),
          trm = make(p.rm, [C], dev),
          trv = make(p.rv, [C], dev);
        const o = nat().batchNormForwardTraining(tx, tg, tb, trm, trv, 0.1, 1e-5, tres, true);
        assert.equal(o.y.dtype, dtype);
        assert.equal(o.y.layout, 'NHWC');
        const ref = bnRef(x, shape, p.gamma, p.beta, 1e-5, res, true);
        close(readNCHW(o.y), ref.y, tol, `${dtype} y`, 1e-1);
        close(readNCHW(o.saveMean), ref.mean, 1e-4, `${dtype} saveMean`);
        close(readNCHW(o.saveInvStd), ref.invstd, 1e-4, `${dtype} saveInvStd`);
        // With the forward's reserve: on CUDA with C % 4 == 0 that is cuDNN's fused backward.
        const b = nat().batchNormBackward(tdy, tx, tg, o.saveMean, o.saveInvStd, 1e-5, o.y, true, true, tb, o.reserve);
        assert.equal(b.dx.dtype, dtype);
        const bref = bnBackwardRef(dy, x, shape, p.gamma, readNCHW(o.saveMean), readNCHW(o.saveInvStd), readNCHW(o.y));
        close(readNCHW(b.dx), bref.dx, tol, `${dtype} dx`, 1e-1);
        close(readNCHW(b.dgamma), bref.dgamma, 1e-4, `${dtype} dgamma`, 1e-2);
        close(readNCHW(b.dbeta), bref.dbeta, 1e-4, `${dtype} dbeta`, 1e-2);
        close(readNCHW(b.dresidual!), bref.dres, 0, `${dtype} dresidual`);
        disposeAll(tx, tres, tdy, tg, tb, trm, trv, o.y, o.saveMean, o.saveInvStd, o.reserve, b.dx, b.dgamma, b.dbeta, b.dresidual);
      }
    });
  }
});
