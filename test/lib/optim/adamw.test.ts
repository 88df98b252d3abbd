// AdamW against torch.optim.AdamW itself (test/fixtures/optim/adamw-smoothing.json, made by
// make_fixtures.py with PyTorch 1.13): two parameter groups, weight decay, AMSGrad, the state
// after four steps; label-smoothed cross-entropy and its gradient against
// F.cross_entropy(label_smoothing=eps); then state dict round trips, skipIf, decay exclusion
// and option errors.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { softmaxCrossEntropy } from '../../../lib/ops';
import { AdamW } from '../../../lib/optim';
import { Tensor } from '../../../lib/tensor';
import { describeDevices } from '../../helpers/devices';
import { assertArgError, assertClose, assertThrowsNamed, randn } from '../../helpers/reference';

interface AdamwCase {
  amsgrad: boolean;
  lr: number;
  betas: [number, number];
  eps: number;
  groups: Record<string, { lr: number; weight_decay: number }>;
  shapes: Record<string, number[]>;
  init: Record<string, number[]>;
  grads: Record<string, number[]>[];
  after: Record<string, number[]>[];
  state: Record<string, { step: number; exp_avg: number[]; exp_avg_sq: number[]; max_exp_avg_sq?: number[] }>;
}

function readFixture(): {
  adamw: AdamwCase[];
  smoothing: { shape: number[]; logits: number[]; labels: number[]; cases: { eps: number; loss: number; grad: number[] }[] };
} {
  for (let dir = __dirname; path.dirname(dir) !== dir; dir = path.dirname(dir)) {
    const f = path.join(dir, 'test', 'fixtures', 'optim', 'adamw-smoothing.json');
    if (fs.existsSync(f)) return JSON.parse(fs.readFileSync(f, 'utf8'));
  }
  throw new Error(`test/fixtures/optim not found above ${__dirname}`);
}

const setGrad = (p: Tensor, data: ArrayLike<number>) => {
  if (p.grad) p.grad.dispose();
  p.grad = Tensor.fromArray(Float32Array.from(data), p.shape, { device: p.device });
};

describeDevices('AdamW', ({ device }) => {
  const fx = readFixture();

  for (const c of fx.adamw) {
    it(`matches torch.optim.AdamW over two groups${c.amsgrad ? ' with amsgrad' : ''}`, () => {
      const names = ['weight', 'bias'];
      const params: [string, Tensor][] = names.map((n) => [n, Tensor.fromArray(Float32Array.from(c.init[n]), c.shapes[n], { device })]);
      const opt = new AdamW(params, {
        lr: c.lr,
        betas: c.betas,
        eps: c.eps,
        weightDecay: c.groups.weight.weight_decay,
        amsgrad: c.amsgrad,
        groups: [{ params: ['bias'], lrScale: c.groups.bias.lr / c.lr, weightDecay: c.groups.bias.weight_decay }],
      });
      c.grads.forEach((g, k) => {
        params.forEach(([n, p]) => setGrad(p, g[n]));
        opt.step();
        for (const [n, p] of params) assertClose(p.dataSync(), c.after[k][n], 1e-5, `${n} after step ${k + 1}`);
      });
      const state = opt.stateDict();
      for (const n of names) {
        const want = c.state[n];
        assert.deepEqual([...(state.get(`step.${n}`) as Tensor).dataSync()], [want.step]);
        assertClose((state.get(`exp_avg.${n}`) as Tensor).dataSync(), want.exp_avg, 1e-5, `exp_avg.${n}`);
        assertClose((state.get(`exp_avg_sq.${n}`) as Tensor).dataSync(), want.exp_avg_sq, 1e-5, `exp_avg_sq.${n}`);
        if (c.amsgrad) assertClose((state.get(`max_exp_avg_sq.${n}`) as Tensor).dataSync(), want.max_exp_avg_sq as number[], 1e-5, `max_exp_avg_sq.${n}`);
        else assert.equal(state.has(`max_exp_avg_sq.${n}`), false);
      }
      opt.zeroGrad();
      opt.dispose();
      for (const [, p] of params) p.dispose();
    });
  }

  it('label-smoothed cross-entropy and its gradient match F.cross_entropy(label_smoothing=eps)', () => {
    const s = fx.smoothing;
    for (const c of s.cases) {
      const x = Tensor.fromArray(Float32Array.from(s.logits), s.shape, { device });
      x.requiresGrad = true;
      const y = Tensor.fromArray(Int32Array.from(s.labels), [s.labels.length], { device });
      const { loss, correct } = softmaxCrossEntropy(x, y, { labelSmoothing: c.eps });
      assertClose(loss.dataSync(), [c.loss], 1e-5, `loss, eps ${c.eps}`);
      loss.backward();
      assertClose((x.grad as Tensor).dataSync(), c.grad, 1e-5, `gradient, eps ${c.eps}`);
      for (const t of [x.grad as Tensor, x, y, loss, correct]) t.dispose();
    }
  });

  const makeParams = (): [string, Tensor][] => [
    ['conv.weight', Tensor.fromArray(randn(24, 1), [2, 3, 2, 2], { device })],
    ['bn.weight', Tensor.fromArray(randn(2, 2), [2], { device })],
    ['fc.bias', Tensor.fromArray(randn(3, 3), [3], { device })],
  ];
  const grads = (k: number, ps: [string, Tensor][]) => ps.forEach(([, p], i) => setGrad(p, randn(p.size, 100 + 10 * k + i)));

  it('resumes exactly from its state dict (fresh optimizer, loaded state, same next steps)', () => {
    const opts = { lr: 0.01, weightDecay: 0.05, amsgrad: true, groups: [{ params: ['fc'], lrScale: 3 }] };
    const a = makeParams();
    const optA = new AdamW(a, opts);
    for (let k = 0; k < 3; k++) {
      grads(k, a);
      optA.step();
    }
    const b: [string, Tensor][] = a.map(([n, p]) => [n, Tensor.fromArray(p.dataSync(), p.shape, { device })]);
    const optB = new AdamW(b, opts);
    const saved = new Map([...optA.stateDict()].map(([k, t]) => [k, Tensor.fromArray(t.dataSync(), t.shape)])); // via the host, as a file would
    optB.loadStateDict(saved, optA.stepCount);
    assert.equal(optB.stepCount, 3);
    for (let k = 3; k < 5; k++) {
      grads(k, a);
      grads(k, b);
      optA.step();
      optB.step();
    }
    a.forEach(([n, p], i) => assert.deepEqual(b[i][1].dataSync(), p.dataSync(), n));
    const versionBefore = optB.stateVersion;
    optB.loadStateDict(saved); // into existing tensors: the version stays
    assert.equal(optB.stateVersion, versionBefore);
    optB.loadStateDict(new Map([...saved].filter(([k]) => !k.endsWith('fc.bias'))));
    assert.notEqual(optB.stateVersion, versionBefore, 'dropping state changes the version');
    assertThrowsNamed(() => optB.loadStateDict(new Map([['momentum_buffer.fc.bias', saved.get('exp_avg.fc.bias') as Tensor]])), RangeError, 'unexpected keys');
    assertThrowsNamed(() => optB.loadStateDict(new Map([['step.fc.bias', saved.get('exp_avg.fc.bias') as Tensor]])), RangeError, 'wrong shapes');
    for (const t of saved.values()) t.dispose();
    for (const [o, ps] of [[optA, a] as const, [optB, b] as const]) {
      o.zeroGrad();
      o.dispose();
      for (const [, p] of ps) p.dispose();
    }
  });

  it('skipIf leaves parameters and state alone; excludeBnAndBiasFromDecay spares 1-D parameters', () => {
    const ps = makeParams();
    const before = ps.map(([, p]) => p.dataSync());
    const opt = new AdamW(ps, { lr: 0.1, weightDecay: 0.5, excludeBnAndBiasFromDecay: true });
    ps.forEach(([, p]) => setGrad(p, new Float32Array(p.size)));
    const flag = Tensor.fromArray([1], [1], { device });
    opt.step({ skipIf: flag });
    ps.forEach(([n, p], i) => assert.deepEqual(p.dataSync(), before[i], `${n} moved on a skipped step`));
    assert.deepEqual([...(opt.stateDict().get('step.conv.weight') as Tensor).dataSync()], [0]);
    // A zero gradient leaves only the decay: conv.weight shrinks by 1 - lr * wd, the 1-D ones stay.
    opt.step({ skipIf: null });
    assertClose(
      ps[0][1].dataSync(),
      Float32Array.from(before[0], (v) => v * Math.fround(1 - 0.1 * 0.5)),
      1e-7,
      'decayed weight',
    );
    assert.deepEqual(ps[1][1].dataSync(), before[1]);
    assert.deepEqual(ps[2][1].dataSync(), before[2]);
    flag.dispose();
    opt.zeroGrad();
    opt.dispose();
    for (const [, p] of ps) p.dispose();
  });

  it('refuses bad options, naming them', () => {
    const p = Tensor.fromArray([1, 2], [2], { device });
    const make = (o: unknown) => () => new AdamW([['w', p]], o as never);
    assertArgError(make({ betas: [0.9, 1] }), RangeError, { op: 'AdamW', argument: 'betas[1]' });
    assertArgError(make({ betas: [-0.1, 0.9] }), RangeError, { op: 'AdamW', argument: 'betas[0]' });
    assertArgError(make({ betas: 0.9 }), TypeError, { op: 'AdamW', argument: 'betas' });
    assertArgError(make({ eps: -1 }), RangeError, { op: 'AdamW', argument: 'eps' });
    assertArgError(make({ lr: -1 }), RangeError, { op: 'AdamW', argument: 'lr' });
    assertArgError(make({ weightDecay: Number.NaN }), TypeError, { op: 'AdamW', argument: 'weightDecay' });
    assertArgError(make({ momentum: 0.9 }), TypeError, { op: 'AdamW', argument: 'options.momentum', code: 'ERR_UNKNOWN_OPTION' });
    assertArgError(make({ amsgrad: 'yes' }), TypeError, { op: 'AdamW', argument: 'amsgrad' });
    assertArgError(make({ groups: [{ params: ['nothing'] }] }), RangeError, { op: 'AdamW', argument: 'groups[0].params' });
    assertArgError(make({ groups: [{ params: ['w'], lrscale: 2 }] }), TypeError, { op: 'AdamW', argument: 'groups[0].lrscale', code: 'ERR_UNKNOWN_OPTION' });
    assertArgError(
      () =>
        new AdamW([
          ['a', p],
          ['b', p],
        ]),
      RangeError,
      { op: 'AdamW', argument: 'params', code: 'ERR_ALIASED_ARGS' },
    );
    const opt = new AdamW([['w', p]]);
    assert.equal(opt.lr, 1e-3);
    assert.equal(opt.weightDecay, 1e-2);
    assertArgError(() => opt.step({ skipIf: 1 as never }), TypeError, { op: 'AdamW.step', argument: 'skipIf' });
    opt.dispose();
    p.dispose();
  });
});
