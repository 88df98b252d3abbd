// SGD: several steps over several tensors at once against a JS reimplementation of
// torch.optim.SGD (weight decay, momentum with the first-step buffer, dampening, nesterov),
// in fp32 arithmetic, plus argument checks.
import * as assert from 'node:assert/strict';

import { native, NativeTensor } from '../../lib/native';
import { describeDevices } from '../helpers/devices';
import { assertArgError, assertThrowsNamed } from '../helpers/reference';
import { close, disposeAll, make, normals, readNCHW, rng } from './ops-common';

interface Hyper {
  lr: number;
  momentum: number;
  dampening: number;
  weightDecay: number;
  nesterov: boolean;
}

const f = Math.fround;

// torch.optim.SGD's _single_tensor_sgd, element by element, rounding every operation to fp32.
// The hyper-parameters are fp32 too, as in a float32 tensor's foreach kernels.
function torchSgdStep(p: Float32Array, g: Float32Array, buf: Float32Array | null, hyper: Hyper, first: boolean): void {
  const h = { ...hyper, lr: f(hyper.lr), momentum: f(hyper.momentum), dampening: f(hyper.dampening), weightDecay: f(hyper.weightDecay) };
  for (let i = 0; i < p.length; i++) {
    let d = g[i];
    if (h.weightDecay !== 0) d = f(d + f(h.weightDecay * p[i]));
    if (h.momentum !== 0) {
      buf![i] = first ? d : f(f(h.momentum * buf![i]) + f(f(1 - h.dampening) * d));
      d = h.nesterov ? f(d + f(h.momentum * buf![i])) : buf![i];
    }
    p[i] = f(p[i] - f(h.lr * d));
  }
}

describeDevices('sgd', (d) => {
  const dev = d.device;
  const nat = () => native();
  const configs: Hyper[] = [
    { lr: 0.1, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false },
    { lr: 0.05, momentum: 0, dampening: 0, weightDecay: 1e-2, nesterov: false },
    { lr: 0.1, momentum: 0.9, dampening: 0, weightDecay: 1e-4, nesterov: false },
    { lr: 0.2, momentum: 0.5, dampening: 0.3, weightDecay: 5e-3, nesterov: false },
    { lr: 0.1, momentum: 0.9, dampening: 0, weightDecay: 1e-4, nesterov: true },
    { lr: 0, momentum: 0.9, dampening: 0.1, weightDecay: 0, nesterov: false },
  ];

  for (const h of configs) {
    it(`matches torch.optim.SGD step by step (${JSON.stringify(h)})`, () => {
      const r = rng(61);
      const shapes = [[16, 3, 3, 3], [16], [10, 7], [1], [3, 5, 1, 1], [40000]];
      const ps = shapes.map((s) =>
        Float32Array.from(
          normals(
            s.reduce((a, b) => a * b),
            r,
          ),
        ),
      );
      const bufs = ps.map((p) => new Float32Array(p.length));
      const tp = ps.map((p, k) => make(p, shapes[k], dev));
      const tb = h.momentum !== 0 ? ps.map((p, k) => make(new Float32Array(p.length).fill(123), shapes[k], dev)) : [];
      for (let step = 0; step < 5; step++) {
        const gs = ps.map((p) => Float32Array.from(normals(p.length, r, 0.5)));
        const tg = gs.map((g, k) => make(g, shapes[k], dev));
        nat().sgdUpdate(tp, tg, tb, h.lr, h.momentum, h.dampening, h.weightDecay, h.nesterov, step === 0);
        ps.forEach((p, k) => torchSgdStep(p, gs[k], h.momentum !== 0 ? bufs[k] : null, h, step === 0));
        tp.forEach((t, k) => close(readNCHW(t), ps[k], 1e-5, `param ${k} after step ${step + 1}`, 1e-2));
        tb.forEach((t, k) => close(readNCHW(t), bufs[k], 1e-5, `buf ${k} after step ${step + 1}`, 1e-2));
        disposeAll(...tg);
      }
      disposeAll(...tp, ...tb);
    });
  }

  it('the first step sets buf = grad (+ weight decay) without dampening', () => {
    const p = make([1, -2], [2], dev),
      g = make([0.5, 0.25], [2], dev),
      b = make([99, 99], [2], dev);
    nat().sgdUpdate([p], [g], [b], 0.1, 0.9, 0.5, 0.1, false, true);
    close(readNCHW(b), [0.5 + 0.1 * 1, 0.25 + 0.1 * -2], 1e-6, 'buf');
    close(readNCHW(p), [1 - 0.1 * 0.6, -2 - 0.1 * 0.05], 1e-6, 'param');
    nat().sgdUpdate([p], [g], [b], 0.1, 0.9, 0.5, 0.1, false, false);
    const d0 = 0.5 + 0.1 * 0.94,
      b0 = 0.9 * 0.6 + 0.5 * d0;
    close([readNCHW(b)[0]], [b0], 1e-6, 'buf after step 2');
    close([readNCHW(p)[0]], [0.94 - 0.1 * b0], 1e-6, 'param after step 2');
    disposeAll(p, g, b);
  });

  it('accepts an empty parameter list and momentum 0 without buffers', () => {
    nat().sgdUpdate([], [], [], 0.1, 0, 0, 0, false, true);
    const p = make([1], [1], dev),
      g = make([2], [1], dev);
    nat().sgdUpdate([p], [g], [], 0.5, 0, 0, 0, false, false);
    assert.equal(readNCHW(p)[0], 0);
    disposeAll(p, g);
  });

  it('reads lr from a device tensor when given one, bit for bit like the number', () => {
    const r = rng(7);
    const init = Float32Array.from(normals(1000, r));
    const grad = Float32Array.from(normals(1000, r));
    const a = make(init, [1000], dev),
      b = make(init, [1000], dev),
      g = make(grad, [1000], dev);
    const ba = make(new Float32Array(1000), [1000], dev),
      bb = make(new Float32Array(1000), [1000], dev);
    const lr = make([0.3], [1], dev);
    nat().sgdUpdate([a], [g], [ba], 999, 0.9, 0, 1e-4, false, true, lr); // 999 is ignored
    nat().sgdUpdate([b], [g], [bb], 0.3, 0.9, 0, 1e-4, false, true);
    assert.deepEqual(readNCHW(a), readNCHW(b));
    nat().fillConstant(lr, 0.01); // a schedule writes the tensor; the next update reads it
    nat().sgdUpdate([a], [g], [ba], 999, 0.9, 0, 1e-4, false, false, lr);
    nat().sgdUpdate([b], [g], [bb], 0.01, 0.9, 0, 1e-4, false, false);
    assert.deepEqual(readNCHW(a), readNCHW(b));
    assert.deepEqual(readNCHW(ba), readNCHW(bb));
    disposeAll(a, b, g, ba, bb, lr);
  });

  it('changes nothing while the skip flag is set, and updates once it is cleared', () => {
    const p = make([1, 2], [2], dev),
      g = make([0.5, -0.5], [2], dev),
      b = make([7, 7], [2], dev);
    const flag = make([1, 5, 0], [3], dev); // element 0 decides; the rest is the scaler's state
    nat().sgdUpdate([p], [g], [b], 0.1, 0.9, 0, 0, false, false, null, flag);
    assert.deepEqual([...readNCHW(p)], [1, 2]);
    assert.deepEqual([...readNCHW(b)], [7, 7]);
    nat().fillConstant(flag, 0);
    nat().sgdUpdate([p], [g], [b], 0.1, 0.9, 0, 0, false, false, null, flag);
    close(readNCHW(b), [f(f(0.9 * 7) + 0.5), f(f(0.9 * 7) - 0.5)], 1e-6, 'buf');
    close(readNCHW(p), [f(1 - f(f(0.1) * f(f(0.9 * 7) + 0.5))), f(2 - f(f(0.1) * f(f(0.9 * 7) - 0.5)))], 1e-6, 'param');
    disposeAll(p, g, b, flag);
  });

  it('refuses bad arguments, naming them', () => {
    const p = make([1, 2, 3], [3], dev),
      g = make([1, 2, 3], [3], dev),
      b = make([0, 0, 0], [3], dev);
    const g4 = make([1, 2, 3, 4], [4], dev);
    const half = nat().fromTypedArray(new Float32Array(3), [3], 'float16', 'NCHW', dev);
    const upd =
      (...o: unknown[]) =>
      () =>
        (nat().sgdUpdate as (...a: unknown[]) => unknown)(...o);
    assertThrowsNamed(upd([p], [], [b], 0.1, 0.9, 0, 0, false, false), RangeError, "'grads'");
    assertThrowsNamed(upd([p], [g], [], 0.1, 0.9, 0, 0, false, false), RangeError, "'bufs'");
    assertThrowsNamed(upd([p], [g4], [b], 0.1, 0.9, 0, 0, false, false), RangeError, "'grads[0]'", '[3]');
    assertThrowsNamed(upd([half], [g], [b], 0.1, 0.9, 0, 0, false, false), TypeError, "'params[0]'", 'float32');
    assertThrowsNamed(upd([p], [g], [half], 0.1, 0.9, 0, 0, false, false), TypeError, "'bufs[0]'");
    assertThrowsNamed(upd([p], [g], [b], -0.1, 0.9, 0, 0, false, false), RangeError, "'lr'");
    assertThrowsNamed(upd([p], [g], [b], 0.1, -0.9, 0, 0, false, false), RangeError, "'momentum'");
    assertThrowsNamed(upd([p], [g], [b], 0.1, 0.9, 0, -1e-4, false, false), RangeError, "'weightDecay'");
    assertThrowsNamed(upd([p], [g], [b], 0.1, 0, 0, 0, true, false), RangeError, "'nesterov'", 'momentum');
    assertThrowsNamed(upd([p], [g], [b], 0.1, 0.9, 0.1, 0, true, false), RangeError, "'nesterov'", 'dampening');
    assertThrowsNamed(upd([p], [g, 'x'] as unknown as NativeTensor[], [b], 0.1, 0.9, 0, 0, false, false), TypeError, "'grads[1]'");
    assertThrowsNamed(upd(p, [g], [b], 0.1, 0.9, 0, 0, false, false), TypeError, "'params'", 'array');
    assertThrowsNamed(upd([p], [g], [b], Number.NaN, 0.9, 0, 0, false, false), RangeError, "'lr'");
    const two = make([0.1, 0.1], [2], dev),
      i32 = nat().fromTypedArray(new Int32Array(1), [1], 'int32', 'NCHW', dev);
    assertThrowsNamed(upd([p], [g], [b], 0.1, 0.9, 0, 0, false, false, two), RangeError, "'lrDevice'", '[1]');
    assertThrowsNamed(upd([p], [g], [b], 0.1, 0.9, 0, 0, false, false, i32), TypeError, "'lrDevice'", 'float32');
    assertThrowsNamed(upd([p], [g], [b], 0.1, 0.9, 0, 0, false, false, null, i32), TypeError, "'skipFlag'", 'float32');
    assertThrowsNamed(upd([p], [g], [b], 0.1, 0.9, 0, 0, false, false, null, 'x'), TypeError, "'skipFlag'");
    disposeAll(two, i32);
    // Nothing was modified by the refused calls.
    assert.deepEqual([...readNCHW(p)], [1, 2, 3]);
    disposeAll(p, g, b, g4, half);
  });

  it('refuses aliased arguments it would write through, naming both', () => {
    const p = make([1, 2], [2], dev),
      q = make([3, 4], [2], dev),
      g = make([0.5, 0.5], [2], dev),
      h = make([1, 1], [2], dev);
    const b = make([0, 0], [2], dev);
    const view = nat().reshape(p, [2]); // a second handle on p's storage
    const upd =
      (ps: NativeTensor[], gs: NativeTensor[], bs: NativeTensor[], momentum = 0.9) =>
      () =>
        nat().sgdUpdate(ps, gs, bs, 0.1, momentum, 0, 0, false, true);
    const aliased = { code: 'ERR_ALIASED_ARGS', op: 'sgdUpdate' };
    assertArgError(upd([p], [g], [p]), RangeError, { ...aliased, argument: 'bufs[0]' }, "'params[0]'");
    assertArgError(upd([p, p], [g, h], [b, q]), RangeError, { ...aliased, argument: 'params[1]' }, "'params[0]'");
    assertArgError(upd([p, view], [g, h], [], 0), RangeError, { ...aliased, argument: 'params[1]' }, "'params[0]'");
    assertArgError(upd([p], [p], [b]), RangeError, { ...aliased, argument: 'grads[0]' }, "'params[0]'");
    assertArgError(upd([p, q], [g, h], [b, b]), RangeError, { ...aliased, argument: 'bufs[1]' }, "'bufs[0]'");
    // Reading one gradient twice writes nothing through it: allowed.
    nat().sgdUpdate([p, q], [g, g], [], 0.1, 0, 0, 0, false, true);
    assert.deepEqual([...readNCHW(p)], [Math.fround(1 - 0.05), Math.fround(2 - 0.05)]);
    assert.deepEqual([...readNCHW(b)], [0, 0], 'refused calls change nothing');
    disposeAll(p, q, g, h, b, view);
  });

  it('blames params, not grads, when params is empty', () => {
    const g = make([1], [1], dev);
    assertArgError(
      () => nat().sgdUpdate([], [g], [], 0.1, 0, 0, 0, false, true),
      RangeError,
      { code: 'ERR_OUT_OF_RANGE', op: 'sgdUpdate', argument: 'params' },
      'empty',
    );
    disposeAll(g);
  });
});
