// adamwUpdate: several steps over several tensors at once against a JS reimplementation of
// torch.optim.AdamW in the op's fp32 arithmetic (one rounding per operation, bias corrections
// in double), with and without AMSGrad, lr from a device tensor, the skip flag, argument and
// aliasing checks, and on a GPU bit-for-bit agreement with the CPU backend.
import * as assert from 'node:assert/strict';

import { native, NativeTensor } from '../../lib/native';
import { describeDevices } from '../helpers/devices';
import { assertArgError, assertThrowsNamed } from '../helpers/reference';
import { close, disposeAll, make, normals, readNCHW, rng } from './ops-common';

interface Hyper {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  amsgrad: boolean;
}

interface State {
  m: Float32Array;
  v: Float32Array;
  vmax: Float32Array;
  step: number;
}

const f = Math.fround;

// torch.optim.AdamW's single-tensor step, element by element, in the op's order and rounding.
function torchAdamwStep(w: Float32Array, g: Float32Array, st: State, h: Hyper): void {
  st.step = f(st.step + 1);
  const stepSize = f(f(h.lr) / (1 - h.beta1 ** st.step));
  const bc2Sqrt = f(Math.sqrt(1 - h.beta2 ** st.step));
  const decay = f(1 - f(h.lr) * h.weightDecay);
  const [b1, omb1, b2, omb2, eps] = [f(h.beta1), f(1 - h.beta1), f(h.beta2), f(1 - h.beta2), f(h.eps)];
  for (let i = 0; i < w.length; i++) {
    const wi = f(w[i] * decay);
    st.m[i] = f(f(st.m[i] * b1) + f(omb1 * g[i]));
    st.v[i] = f(f(st.v[i] * b2) + f(f(omb2 * g[i]) * g[i]));
    let vv = st.v[i];
    if (h.amsgrad) vv = st.vmax[i] = Math.max(st.vmax[i], st.v[i]);
    const denom = f(f(f(Math.sqrt(vv)) / bc2Sqrt) + eps);
    w[i] = f(wi - f(stepSize * f(st.m[i] / denom)));
  }
}

describeDevices('adamw', (d) => {
  const dev = d.device;
  const nat = () => native();
  const shapes = [[16, 3, 3, 3], [16], [10, 7], [1], [3, 5, 1, 1], [40000]];
  const configs: Hyper[] = [
    { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 1e-2, amsgrad: false },
    { lr: 0.05, beta1: 0.8, beta2: 0.95, eps: 1e-3, weightDecay: 0, amsgrad: false },
    { lr: 0.01, beta1: 0.5, beta2: 0.9, eps: 1e-6, weightDecay: 0.2, amsgrad: true },
    { lr: 0, beta1: 0, beta2: 0, eps: 0.1, weightDecay: 0.5, amsgrad: true },
  ];

  for (const h of configs) {
    it(`matches torch.optim.AdamW step by step (${JSON.stringify(h)})`, () => {
      const r = rng(83);
      const ws = shapes.map((s) =>
        Float32Array.from(
          normals(
            s.reduce((a, b) => a * b),
            r,
          ),
        ),
      );
      const states: State[] = ws.map((w) => ({ m: new Float32Array(w.length), v: new Float32Array(w.length), vmax: new Float32Array(w.length), step: 0 }));
      const tw = ws.map((w, k) => make(w, shapes[k], dev));
      const zeros = () => ws.map((w, k) => make(new Float32Array(w.length), shapes[k], dev));
      const [tm, tv] = [zeros(), zeros()];
      const tvmax = h.amsgrad ? zeros() : [];
      const ts = ws.map(() => make([0], [1], dev));
      for (let step = 0; step < 5; step++) {
        // Gradients of changing scale, so AMSGrad's maximum differs from the running average.
        const gs = ws.map((w) => Float32Array.from(normals(w.length, r, step % 2 ? 0.1 : 1)));
        const tg = gs.map((g, k) => make(g, shapes[k], dev));
        nat().adamwUpdate(tw, tg, tm, tv, tvmax, ts, h.lr, h.beta1, h.beta2, h.eps, h.weightDecay, h.amsgrad);
        ws.forEach((w, k) => torchAdamwStep(w, gs[k], states[k], h));
        const after = `after step ${step + 1}`;
        // The CPU is exact; a GPU's double pow may differ from the host's in the last bit.
        if (dev === 'cpu') tw.forEach((t, k) => assert.deepEqual(readNCHW(t), ws[k], `param ${k} ${after}`));
        else tw.forEach((t, k) => close(readNCHW(t), ws[k], 1e-6, `param ${k} ${after}`, 1e-6));
        tm.forEach((t, k) => close(readNCHW(t), states[k].m, 1e-6, `exp_avg ${k} ${after}`, 1e-6));
        tv.forEach((t, k) => close(readNCHW(t), states[k].v, 1e-6, `exp_avg_sq ${k} ${after}`, 1e-9));
        tvmax.forEach((t, k) => close(readNCHW(t), states[k].vmax, 1e-6, `max_exp_avg_sq ${k} ${after}`, 1e-9));
        ts.forEach((t) => assert.equal(readNCHW(t)[0], step + 1));
        disposeAll(...tg);
      }
      disposeAll(...tw, ...tm, ...tv, ...tvmax, ...ts);
    });
  }

  it('continues from the step count it is given (bias corrections of a resumed run)', () => {
    const h: Hyper = { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, amsgrad: false };
    const st: State = { m: Float32Array.from([0.1, -0.2]), v: Float32Array.from([0.01, 0.04]), vmax: new Float32Array(2), step: 41 };
    const w = Float32Array.from([1, -1]),
      g = Float32Array.from([0.3, 0.2]);
    const [tw, tg, tm, tv, ts] = [make(w, [2], dev), make(g, [2], dev), make(st.m, [2], dev), make(st.v, [2], dev), make([41], [1], dev)];
    nat().adamwUpdate([tw], [tg], [tm], [tv], [], [ts], h.lr, h.beta1, h.beta2, h.eps, h.weightDecay, false);
    torchAdamwStep(w, g, st, h);
    close(readNCHW(tw), w, 1e-6, 'param', 1e-6);
    assert.equal(readNCHW(ts)[0], 42);
    disposeAll(tw, tg, tm, tv, ts);
  });

  it('reads lr from a device tensor when given one, bit for bit like the number', () => {
    const r = rng(7);
    const init = Float32Array.from(normals(1000, r)),
      grad = Float32Array.from(normals(1000, r));
    const mk = () => [make(init, [1000], dev), make(new Float32Array(1000), [1000], dev), make(new Float32Array(1000), [1000], dev), make([0], [1], dev)];
    const [a, ma, va, sa] = mk(),
      [b, mb, vb, sb] = mk();
    const g = make(grad, [1000], dev),
      lr = make([0.3], [1], dev);
    nat().adamwUpdate([a], [g], [ma], [va], [], [sa], 999, 0.9, 0.99, 1e-8, 0.01, false, lr); // 999 is ignored
    nat().adamwUpdate([b], [g], [mb], [vb], [], [sb], 0.3, 0.9, 0.99, 1e-8, 0.01, false);
    assert.deepEqual(readNCHW(a), readNCHW(b));
    nat().fillConstant(lr, 0.01);
    nat().adamwUpdate([a], [g], [ma], [va], [], [sa], 999, 0.9, 0.99, 1e-8, 0.01, false, lr);
    nat().adamwUpdate([b], [g], [mb], [vb], [], [sb], 0.01, 0.9, 0.99, 1e-8, 0.01, false);
    assert.deepEqual(readNCHW(a), readNCHW(b));
    assert.deepEqual(readNCHW(va), readNCHW(vb));
    disposeAll(a, ma, va, sa, b, mb, vb, sb, g, lr);
  });

  it('changes nothing, step counts included, while the skip flag is set', () => {
    const w = make([1, 2], [2], dev),
      g = make([0.5, -0.5], [2], dev),
      m = make([0.1, 0.1], [2], dev),
      v = make([0.2, 0.2], [2], dev),
      vmax = make([0.3, 0.1], [2], dev),
      s = make([3], [1], dev);
    const flag = make([1, 5, 0], [3], dev); // element 0 decides; the rest is the scaler's state
    nat().adamwUpdate([w], [g], [m], [v], [vmax], [s], 0.1, 0.9, 0.99, 1e-8, 0.1, true, null, flag);
    assert.deepEqual([...readNCHW(w)], [1, 2]);
    assert.deepEqual([...readNCHW(m)], [f(0.1), f(0.1)]);
    assert.deepEqual([...readNCHW(vmax)], [f(0.3), f(0.1)]);
    assert.equal(readNCHW(s)[0], 3);
    nat().fillConstant(flag, 0);
    nat().adamwUpdate([w], [g], [m], [v], [vmax], [s], 0.1, 0.9, 0.99, 1e-8, 0.1, true, null, flag);
    assert.equal(readNCHW(s)[0], 4);
    assert.notDeepEqual([...readNCHW(w)], [1, 2]);
    disposeAll(w, g, m, v, vmax, s, flag);
  });

  it('accepts an empty parameter list', () => {
    nat().adamwUpdate([], [], [], [], [], [], 0.1, 0.9, 0.999, 1e-8, 0, false);
  });

  if (dev !== 'cpu') {
    it('agrees with the CPU backend bit for bit', () => {
      const r = rng(5);
      const n = [70000, 3, 257];
      const data = n.map((k) => [normals(k, r), normals(k, r, 0.3), normals(k, r, 0.1), normals(k, r, 0.01, 0.02)].map((x) => Float32Array.from(x)));
      const run = (device: string) => {
        const ts = data.map((xs, k) => xs.map((x) => make(x, [n[k]], device)));
        const steps = n.map(() => make([6], [1], device));
        const col = (i: number) => ts.map((t) => t[i]);
        for (let k = 0; k < 2; k++) nat().adamwUpdate(col(0), col(1), col(2), col(3), [], steps, 0.02, 0.9, 0.99, 1e-8, 0.05, false);
        const out = col(0).map((t) => readNCHW(t));
        disposeAll(...ts.flat(), ...steps);
        return out;
      };
      const [cpu, gpu] = [run('cpu'), run(dev)];
      gpu.forEach((g, k) => assert.deepEqual(g, cpu[k], `tensor ${k}`));
    });
  }

  it('refuses bad arguments, naming them', () => {
    const p = make([1, 2, 3], [3], dev),
      g = make([1, 2, 3], [3], dev),
      m = make([0, 0, 0], [3], dev),
      v = make([0, 0, 0], [3], dev),
      s = make([0], [1], dev);
    const g4 = make([1, 2, 3, 4], [4], dev),
      s2 = make([0, 0], [2], dev);
    const half = nat().fromTypedArray(new Float32Array(3), [3], 'float16', 'NCHW', dev);
    const i32 = nat().fromTypedArray(new Int32Array(1), [1], 'int32', 'NCHW', dev);
    const upd =
      (...o: unknown[]) =>
      () =>
        (nat().adamwUpdate as (...a: unknown[]) => unknown)(...o);
    const ok = [[p], [g], [m], [v], [], [s], 0.1, 0.9, 0.999, 1e-8, 0.01, false];
    const swap = (i: number, x: unknown) => upd(...ok.map((o, k) => (k === i ? x : o)));
    assertThrowsNamed(swap(1, []), RangeError, "'grads'");
    assertThrowsNamed(swap(2, []), RangeError, "'expAvgs'");
    assertThrowsNamed(swap(3, [v, v]), RangeError, "'expAvgSqs'");
    assertThrowsNamed(swap(4, [m]), RangeError, "'maxExpAvgSqs'", 'amsgrad');
    assertThrowsNamed(upd([p], [g], [m], [v], [], [s], 0.1, 0.9, 0.999, 1e-8, 0.01, true), RangeError, "'maxExpAvgSqs'");
    assertThrowsNamed(swap(5, []), RangeError, "'steps'");
    assertThrowsNamed(swap(1, [g4]), RangeError, "'grads[0]'", '[3]');
    assertThrowsNamed(swap(0, [half]), TypeError, "'params[0]'", 'float32');
    assertThrowsNamed(swap(2, [half]), TypeError, "'expAvgs[0]'");
    assertThrowsNamed(swap(5, [s2]), RangeError, "'steps[0]'", '[1]');
    assertThrowsNamed(swap(5, [i32]), TypeError, "'steps[0]'", 'float32');
    assertThrowsNamed(swap(6, -0.1), RangeError, "'lr'");
    assertThrowsNamed(swap(7, 1), RangeError, "'beta1'");
    assertThrowsNamed(swap(8, -0.5), RangeError, "'beta2'");
    assertThrowsNamed(swap(9, -1e-8), RangeError, "'eps'");
    assertThrowsNamed(swap(10, -1e-2), RangeError, "'weightDecay'");
    assertThrowsNamed(swap(11, 1), TypeError, "'amsgrad'");
    assertThrowsNamed(swap(6, Number.NaN), RangeError, "'lr'");
    assertThrowsNamed(swap(0, p), TypeError, "'params'", 'array');
    assertThrowsNamed(upd(...ok, s2), RangeError, "'lrDevice'", '[1]');
    assertThrowsNamed(upd(...ok, null, i32), TypeError, "'skipFlag'", 'float32');
    assertThrowsNamed(upd(...ok.slice(0, 11)), TypeError, 'adamwUpdate');
    // Nothing was modified by the refused calls.
    assert.deepEqual([...readNCHW(p)], [1, 2, 3]);
    assert.equal(readNCHW(s)[0], 0);
    disposeAll(p, g, m, v, s, g4, s2, half, i32);
  });

  it('refuses aliased arguments it would write through, naming both', () => {
    const [p, q, g, m, v, m2, v2] = [1, 2, 3, 4, 5, 6, 7].map((x) => make([x, x], [2], dev));
    const [s, s2] = [make([0], [1], dev), make([0], [1], dev)];
    const view = nat().reshape(p, [2]);
    const aliased = { code: 'ERR_ALIASED_ARGS', op: 'adamwUpdate' };
    const upd = (ps: NativeTensor[], gs: NativeTensor[], ms: NativeTensor[], vs: NativeTensor[], ss: NativeTensor[]) => () =>
      nat().adamwUpdate(ps, gs, ms, vs, [], ss, 0.1, 0.9, 0.999, 1e-8, 0, false);
    assertArgError(upd([p], [g], [p], [v], [s]), RangeError, { ...aliased, argument: 'expAvgs[0]' }, "'params[0]'");
    assertArgError(upd([p], [p], [m], [v], [s]), RangeError, { ...aliased, argument: 'grads[0]' }, "'params[0]'");
    assertArgError(upd([p], [g], [m], [m], [s]), RangeError, { ...aliased, argument: 'expAvgSqs[0]' }, "'expAvgs[0]'");
    assertArgError(upd([p, view], [g, g], [m, m2], [v, v2], [s, s2]), RangeError, { ...aliased, argument: 'params[1]' }, "'params[0]'");
    assertArgError(upd([p, q], [g, g], [m, m2], [v, v2], [s, s]), RangeError, { ...aliased, argument: 'steps[1]' }, "'steps[0]'");
    assert.deepEqual([...readNCHW(p)], [1, 1], 'refused calls change nothing');
    // Reading one gradient twice writes nothing through it: allowed.
    nat().adamwUpdate([p, q], [g, g], [m, m2], [v, v2], [], [s, s2], 0.1, 0.9, 0.999, 1e-8, 0, false);
    disposeAll(p, q, g, m, v, m2, v2, s, s2, view);
  });

  it('leaks no tensors', () => {
    const before = nat().memoryStats().liveTensors;
    const [p, g, m, v, s] = [make([1], [1], dev), make([1], [1], dev), make([0], [1], dev), make([0], [1], dev), make([0], [1], dev)];
    nat().adamwUpdate([p], [g], [m], [v], [], [s], 0.1, 0.9, 0.999, 1e-8, 0.1, false);
    disposeAll(p, g, m, v, s);
    assert.equal(nat().memoryStats().liveTensors, before);
  });
});
