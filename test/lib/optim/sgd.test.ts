import * as assert from 'node:assert/strict';

import { BatchNorm2d, Linear, Sequential } from '../../../lib/nn';
import { clipGradNorm, constantWarmup, cosine, linearWarmup, LRScheduler, multiStep, paperCifar, ResNet110Warmup, SGD, stepByEpochs } from '../../../lib/optim';
import { Tensor, tidy } from '../../../lib/tensor';
import { describeDevices } from '../../helpers/devices';
import { assertClose, assertThrowsNamed, randn } from '../../helpers/reference';

interface Hyper {
  lr: number;
  momentum: number;
  dampening: number;
  nesterov: boolean;
  weightDecay: number;
}

/** torch.optim.SGD's update, written out in float64. */
function referenceSteps(p0: Float32Array, grads: Float32Array[], h: Hyper, decay: boolean): Float64Array {
  const p = Float64Array.from(p0);
  let buf: Float64Array | null = null;
  for (const g0 of grads) {
    const g = Float64Array.from(g0, (v, i) => v + (decay ? h.weightDecay * p[i] : 0));
    let d: ArrayLike<number> = g;
    if (h.momentum !== 0) {
      if (!buf) buf = Float64Array.from(g);
      else for (let i = 0; i < g.length; i++) buf[i] = h.momentum * buf[i] + (1 - h.dampening) * g[i];
      d = h.nesterov ? Float64Array.from(g, (v, i) => v + h.momentum * buf![i]) : buf;
    }
    for (let i = 0; i < p.length; i++) p[i] -= h.lr * d[i];
  }
  return p;
}

describeDevices('SGD', ({ device, rtol }) => {
  const settings: Hyper[] = [
    { lr: 0.1, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0 },
    { lr: 0.1, momentum: 0.9, dampening: 0, nesterov: false, weightDecay: 1e-4 },
    { lr: 0.05, momentum: 0.9, dampening: 0.1, nesterov: false, weightDecay: 5e-4 },
    { lr: 0.2, momentum: 0.8, dampening: 0, nesterov: true, weightDecay: 1e-3 },
  ];
  for (const h of settings) {
    for (const exclude of [false, true]) {
      it(`matches torch.optim.SGD over 3 steps: ${JSON.stringify(h)}${exclude ? ', 1-D parameters undecayed' : ''}`, () => {
        const shapes = [[3, 2, 3, 3], [7], [5, 4]];
        const init = shapes.map((s, i) =>
          randn(
            s.reduce((a, b) => a * b, 1),
            10 + i,
          ),
        );
        const grads = shapes.map((s, i) =>
          [0, 1, 2].map((k) =>
            randn(
              s.reduce((a, b) => a * b, 1),
              100 + 10 * i + k,
            ),
          ),
        );
        const params = shapes.map((s, i) => Tensor.fromArray(init[i], s, { device }));
        const opt = new SGD(params, { ...h, excludeBnAndBiasFromDecay: exclude });
        for (let k = 0; k < 3; k++) {
          params.forEach((p, i) => {
            if (p.grad) p.grad.dispose();
            p.grad = Tensor.fromArray(grads[i][k], shapes[i], { device });
          });
          opt.step();
        }
        params.forEach((p, i) => {
          const expected = referenceSteps(init[i], grads[i], h, !(exclude && shapes[i].length === 1));
          assertClose(p.dataSync(), expected, rtol * 10, `param ${i}`);
        });
        assert.equal(opt.stepCount, 3);
        assert.equal(opt.stateDict().size, h.momentum ? 3 : 0);
        opt.dispose();
        for (const p of params) p.dispose();
      });
    }
  }

  it('skips parameters without a gradient', () => {
    const a = Tensor.fromArray([1, 2], [2], { device });
    const b = Tensor.fromArray([3, 4], [2], { device });
    a.grad = Tensor.fromArray([1, 1], [2], { device });
    const opt = new SGD([a, b], { lr: 0.5, momentum: 0.9 });
    opt.step();
    assert.deepEqual(Array.from(a.dataSync()), [0.5, 1.5]);
    assert.deepEqual(Array.from(b.dataSync()), [3, 4]);
    opt.dispose();
    a.dispose();
    b.dispose();
  });
});

describeDevices('SGD: device-side lr and skip', ({ device, rtol }) => {
  it('a new lr reaches the update through its device copy (as a captured step needs)', () => {
    const h: Hyper = { lr: 0.1, momentum: 0.9, dampening: 0, nesterov: false, weightDecay: 1e-4 };
    const init = randn(12, 5);
    const grads = [0, 1, 2].map((k) => randn(12, 50 + k));
    const p = Tensor.fromArray(init, [12], { device });
    const opt = new SGD([p], h);
    const lrs = [0.1, 0.02, 0.5];
    grads.forEach((g, k) => {
      opt.lr = lrs[k];
      if (p.grad) p.grad.dispose();
      p.grad = Tensor.fromArray(g, [12], { device });
      opt.step();
    });
    // torch.optim.SGD in float64 with the lr of each step
    const want = Float64Array.from(init);
    const buf = new Float64Array(12);
    grads.forEach((g, k) => {
      for (let i = 0; i < 12; i++) {
        const d = g[i] + h.weightDecay * want[i];
        buf[i] = k === 0 ? d : h.momentum * buf[i] + d;
        want[i] -= lrs[k] * buf[i];
      }
    });
    assertClose(p.dataSync(), want, rtol * 10, 'param');
    opt.dispose();
    p.dispose();
  });

  it('step({ skipIf }) leaves parameters and buffers alone while the flag is set', () => {
    const p = Tensor.fromArray([1, 2, 3], [3], { device });
    const flag = Tensor.fromArray([1, 0, 0], [3], { device });
    const opt = new SGD([p], { lr: 0.5, momentum: 0.9 });
    p.grad = Tensor.fromArray([1, 1, 1], [3], { device });
    opt.step({ skipIf: flag }); // the first step, skipped: the buffer stays zero
    assert.deepEqual(Array.from(p.dataSync()), [1, 2, 3]);
    assert.deepEqual(Array.from(opt.stateDict().get('momentum_buffer.0')!.dataSync()), [0, 0, 0]);
    const zeros = Tensor.zeros([3], { device });
    flag.copyFrom(zeros);
    zeros.dispose();
    opt.step({ skipIf: flag }); // acts as the first step: buf = grad
    assert.deepEqual(Array.from(p.dataSync()), [0.5, 1.5, 2.5]);
    assert.deepEqual(Array.from(opt.stateDict().get('momentum_buffer.0')!.dataSync()), [1, 1, 1]);
    opt.dispose();
    p.dispose();
    flag.dispose();
  });

  it('loadStateDict overwrites existing buffers in place; stateVersion moves only when buffers come or go', () => {
    const a = Tensor.fromArray([1, 2, 3], [3], { device });
    const b = Tensor.fromArray([4, 5], [2], { device });
    const opt = new SGD([a, b], { lr: 0.1, momentum: 0.9 });
    a.grad = Tensor.fromArray([1, 1, 1], [3], { device });
    b.grad = Tensor.fromArray([2, 2], [2], { device });
    opt.step(); // creates both buffers
    const before = opt.stateDict();
    const handles = [...before.values()].map((t) => t.handle);
    const v0 = opt.stateVersion;
    // fp64-exact values in another dtype and on the CPU: converted, then copied into place
    const loaded = new Map([
      ['momentum_buffer.0', Tensor.fromArray([0.5, -1, 2], [3], { dtype: 'bfloat16' })],
      ['momentum_buffer.1', Tensor.fromArray([3, 4], [2])],
    ]);
    opt.loadStateDict(loaded);
    const after = opt.stateDict();
    assert.deepEqual(
      [...after.values()].map((t) => t.handle),
      handles,
      'the same buffer tensors (a graph addresses them)',
    );
    assert.deepEqual(Array.from(after.get('momentum_buffer.0')!.dataSync()), [0.5, -1, 2]);
    assert.deepEqual(Array.from(after.get('momentum_buffer.1')!.dataSync()), [3, 4]);
    assert.equal(opt.stateVersion, v0);
    // the caller's tensors stay the caller's
    assert.deepEqual(Array.from(loaded.get('momentum_buffer.1')!.dataSync()), [3, 4]);
    // leaving a parameter out drops its buffer: the set changed
    opt.loadStateDict(new Map([['momentum_buffer.1', loaded.get('momentum_buffer.1')!]]));
    assert.deepEqual([...opt.stateDict().keys()], ['momentum_buffer.1']);
    assert.notEqual(opt.stateVersion, v0);
    const v1 = opt.stateVersion;
    opt.loadStateDict(loaded); // and bringing it back adds one
    assert.notEqual(opt.stateVersion, v1);
    assert.deepEqual(Array.from(opt.stateDict().get('momentum_buffer.0')!.dataSync()), [0.5, -1, 2]);
    for (const t of loaded.values()) t.dispose();
    opt.dispose();
    a.dispose();
    b.dispose();
  });

  it('skipIf is checked: a tensor, and dampening 0', () => {
    const p = Tensor.fromArray([1], [1], { device });
    p.grad = Tensor.fromArray([1], [1], { device });
    const flag = Tensor.zeros([1], { device });
    const damp = new SGD([p], { lr: 0.1, momentum: 0.9, dampening: 0.1 });
    assertThrowsNamed(() => damp.step({ skipIf: flag }), RangeError, 'skipIf', 'dampening');
    const plain = new SGD([p], { lr: 0.1 });
    assertThrowsNamed(() => plain.step({ skipIf: 1 as never }), TypeError, 'skipIf');
    assert.deepEqual(Array.from(p.dataSync()), [1]);
    damp.dispose();
    plain.dispose();
    flag.dispose();
    p.dispose();
  });
});

describe('SGD from a Module', () => {
  it('names momentum buffers after parameters; excludes BN and biases from decay by rank', () => {
    const m = new Sequential(new Linear(3, 2, { seed: 1 }), new BatchNorm2d(2));
    const opt = new SGD(m, { lr: 0.1, momentum: 0.9, weightDecay: 0.5, excludeBnAndBiasFromDecay: true });
    for (const p of m.parameters()) p.grad = Tensor.zeros(p.shape);
    const before = m.parameters().map((p) => Array.from(p.dataSync()));
    opt.step();
    // Zero gradients: only weight decay moves a parameter, so only the 2-D weight moves.
    m.parameters().forEach((p, i) => {
      const moved = Array.from(p.dataSync()).some((v, j) => v !== before[i][j]);
      assert.equal(moved, p.rank === 2, `parameter ${i} (rank ${p.rank})`);
    });
    assert.deepEqual([...opt.stateDict().keys()], ['momentum_buffer.0.weight', 'momentum_buffer.0.bias', 'momentum_buffer.1.weight', 'momentum_buffer.1.bias']);
    opt.zeroGrad();
    assert.ok(m.parameters().every((p) => p.grad === null));
    opt.dispose();
    m.dispose();
  });

  it('bad options are named', () => {
    assertThrowsNamed(() => new SGD([], { lr: -1 }), RangeError, 'lr');
    assertThrowsNamed(() => new SGD([], { lr: 0.1, nesterov: true }), RangeError, 'nesterov');
    assertThrowsNamed(() => new SGD([], { lr: 0.1, momentum: 0.9, dampening: 0.5, nesterov: true }), RangeError, 'nesterov', 'dampening');
    assertThrowsNamed(() => new SGD([1 as never], { lr: 0.1 }), TypeError, "params['0']");
    assertThrowsNamed(() => new SGD({} as never, { lr: 0.1 }), TypeError, 'params');
    assertThrowsNamed(() => new SGD([], { lr: 0.1, weightDecay: NaN }), TypeError, 'weightDecay');
  });
});

describe('learning-rate schedules', () => {
  it("the paper's CIFAR schedule: 0.1, /10 at 32k and 48k", () => {
    const s = paperCifar();
    assert.deepEqual(
      [0, 31999, 32000, 47999, 48000, 63999].map((i) => +s.lrAt(i).toPrecision(6)),
      [0.1, 0.1, 0.01, 0.01, 0.001, 0.001],
    );
  });

  it('multiStep, stepByEpochs, cosine, warmups', () => {
    const ms = multiStep({ lr: 1, milestones: [2, 4], gamma: 0.5 });
    assert.deepEqual(
      [0, 1, 2, 3, 4, 9].map((i) => ms.lrAt(i)),
      [1, 1, 0.5, 0.5, 0.25, 0.25],
    );
    const se = stepByEpochs({ lr: 1, epochs: [1], itersPerEpoch: 10, gamma: 0.1 });
    assert.deepEqual(
      [9, 10].map((i) => se.lrAt(i)),
      [1, 0.1],
    );
    const c = cosine({ lr: 1, totalIters: 100, minLr: 0.1 });
    assert.equal(c.lrAt(0), 1);
    assert.ok(Math.abs(c.lrAt(50) - 0.55) < 1e-12);
    assert.equal(c.lrAt(100), 0.1);
    const lw = linearWarmup(multiStep({ lr: 0.4, milestones: [] }), { iters: 4 });
    assert.deepEqual(
      [0, 1, 2, 3, 4].map((i) => +lw.lrAt(i).toFixed(10)),
      [0, 0.1, 0.2, 0.3, 0.4],
    );
    const cw = constantWarmup(paperCifar(), { lr: 0.01, iters: 400 });
    assert.deepEqual(
      [0, 399, 400].map((i) => cw.lrAt(i)),
      [0.01, 0.01, 0.1],
    );
  });

  it("ResNet-110's warm-up: 0.01 until the training error is below 80% or 400 iterations pass", () => {
    const a = new ResNet110Warmup();
    assert.equal(a.lrAt(0), 0.01);
    assert.equal(a.lrAt(399), 0.01);
    assert.equal(a.lrAt(400), 0.1);
    const b = new ResNet110Warmup();
    b.observe(100, 0.85);
    assert.equal(b.lrAt(101), 0.01);
    b.observe(150, 0.79);
    assert.equal(b.lrAt(150), 0.01);
    assert.equal(b.lrAt(151), 0.1);
    assert.equal(b.warmupEnd, 151);
    assertThrowsNamed(() => b.observe(1, 1.5), RangeError, 'trainingError');
  });

  it('LRScheduler writes the schedule into the optimizer', () => {
    const opt = new SGD([], { lr: 1 });
    const sched = new LRScheduler(opt, multiStep({ lr: 0.3, milestones: [1] }));
    assert.equal(sched.step(), 0.3);
    assert.equal(opt.lr, 0.3);
    sched.step();
    assert.ok(Math.abs(opt.lr - 0.03) < 1e-15);
    assertThrowsNamed(() => multiStep({ lr: 1, milestones: [5, 3] }), RangeError, 'milestones', 'increase');
    assertThrowsNamed(() => new LRScheduler(opt, {} as never), TypeError, 'schedule');
  });
});

describeDevices('clipGradNorm', ({ device }) => {
  it('rescales to the global norm and returns the norm before clipping', () => {
    tidy(() => {
      const a = Tensor.zeros([2], { device });
      const b = Tensor.zeros([1, 1, 1, 2], { device });
      a.grad = Tensor.fromArray([3, 0], [2], { device });
      b.grad = Tensor.fromArray([0, 0, 0, 4].slice(2), [1, 1, 1, 2], { device });
      const norm = clipGradNorm([a, b], 2.5);
      assert.ok(Math.abs(norm - 5) < 1e-5);
      assertClose(a.grad.dataSync(), [1.5, 0], 1e-5, 'a');
      assertClose(b.grad.dataSync(), [0, 2], 1e-5, 'b');
      const again = clipGradNorm([a, b], 10);
      assert.ok(Math.abs(again - 2.5) < 1e-5);
      assertClose(a.grad.dataSync(), [1.5, 0], 1e-5, 'unchanged below the limit');
      a.grad.dispose();
      b.grad.dispose();
    });
  });
});
