import * as assert from 'node:assert/strict';

import { backward, noGrad } from '../../../lib/autograd';
import { BatchNorm2d, Conv2d, Flatten, GlobalAvgPool2d, Linear, MaxPool2d, AvgPool2d, ReLU, Sequential } from '../../../lib/nn';
import { Tensor, tidy } from '../../../lib/tensor';
import { assertArgError, assertThrowsNamed } from '../../helpers/reference';

function stats(t: Tensor): { mean: number; std: number; min: number; max: number } {
  const v = t.dataSync() as Float32Array;
  const mean = v.reduce((s, x) => s + x, 0) / v.length;
  const std = Math.sqrt(v.reduce((s, x) => s + (x - mean) ** 2, 0) / v.length);
  return { mean, std, min: Math.min(...v), max: Math.max(...v) };
}

describe('nn layers', () => {
  it('Conv2d: Kaiming normal (fan_out, ReLU gain), seeded, no bias by default', () => {
    const a = new Conv2d(32, 64, 3, { seed: 5 });
    const b = new Conv2d(32, 64, 3, { seed: 5 });
    const s = stats(a.weight);
    const expected = Math.sqrt(2 / (64 * 9));
    assert.ok(Math.abs(s.mean) < 0.04 * expected, `mean ${s.mean}`);
    assert.ok(Math.abs(s.std / expected - 1) < 0.03, `std ${s.std} vs ${expected}`);
    assert.deepEqual(a.weight.dataSync(), b.weight.dataSync());
    assert.equal(a.bias, null);
    assert.deepEqual(
      a.namedParameters().map(([n]) => n),
      ['weight'],
    );
    const c = new Conv2d(3, 4, 3, { seed: 6, bias: true });
    assert.deepEqual(
      c.namedParameters().map(([n]) => n),
      ['weight', 'bias'],
    );
    const bs = stats(c.bias!);
    assert.ok(bs.max <= 1 / Math.sqrt(27) && bs.min >= -1 / Math.sqrt(27));
    for (const m of [a, b, c]) m.dispose();
  });

  it('Linear: weight and bias uniform in +-1/sqrt(fan_in)', () => {
    const l = new Linear(400, 300, { seed: 9 });
    const bound = 1 / 20;
    const s = stats(l.weight);
    assert.ok(s.min >= -bound && s.max <= bound);
    assert.ok(Math.abs(s.std - bound / Math.sqrt(3)) < 0.02 * bound, `std ${s.std}`);
    const b = stats(l.bias!);
    assert.ok(b.min >= -bound && b.max <= bound && b.std > 0);
    l.dispose();
  });

  it('BatchNorm2d: weight 1, bias 0, running stats 0 / 1; counts batches in training only', () => {
    const bn = new BatchNorm2d(3);
    assert.deepEqual([...bn.stateDict().keys()], ['weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked']);
    assert.deepEqual(Array.from(bn.weight.dataSync()), [1, 1, 1]);
    assert.deepEqual(Array.from(bn.bias.dataSync()), [0, 0, 0]);
    assert.deepEqual(Array.from(bn.runningVar.dataSync()), [1, 1, 1]);
    assert.equal(bn.parameterCount(), 6);
    tidy(() => {
      const x = Tensor.fromArray(
        Array.from({ length: 2 * 3 * 2 * 2 }, (_, i) => i % 5),
        [2, 3, 2, 2],
      );
      bn.forward(x);
      assert.equal(bn.numBatchesTracked, 1n);
      // running_mean moved 10% of the way to the batch mean
      assert.ok((bn.runningMean.dataSync() as Float32Array).some((v) => v > 0));
      bn.eval();
      noGrad(() => bn.forward(x));
      assert.equal(bn.numBatchesTracked, 1n);
    });
    bn.dispose();
  });

  it('Sequential names children 0, 1, ... and runs them in order', () => {
    const seq = new Sequential(
      new Conv2d(2, 4, 3, { padding: 1, seed: 1 }),
      new BatchNorm2d(4),
      new ReLU(),
      new MaxPool2d(2),
      new AvgPool2d(1),
      new GlobalAvgPool2d(),
      new Flatten(),
      new Linear(4, 3, { seed: 2 }),
    );
    assert.deepEqual(
      seq.namedParameters().map(([n]) => n),
      ['0.weight', '1.weight', '1.bias', '7.weight', '7.bias'],
    );
    assert.deepEqual(
      seq.namedModules().map(([n]) => n),
      ['', '0', '1', '2', '3', '4', '5', '6', '7'],
    );
    assert.equal(seq.buffers().length, 2);
    tidy(() => {
      const y = seq.forward(Tensor.randn([2, 2, 6, 6], { seed: 1 }));
      assert.deepEqual(y.shape, [2, 3]);
      backward(y, Tensor.ones([2, 3]));
      for (const p of seq.parameters()) assert.ok(p.grad && p.grad.shape.join() === p.shape.join());
    });
    seq.zeroGrad();
    assert.ok(seq.parameters().every((p) => p.grad === null));
    seq.eval();
    assert.ok(seq.namedModules().every(([, m]) => !m.training));
    seq.train();
    assert.ok(seq.namedModules().every(([, m]) => m.training));
    seq.dispose();
  });

  it('stateDict / loadStateDict round trip; errors list every problem', () => {
    const a = new Sequential(new Conv2d(2, 3, 3, { seed: 1 }), new BatchNorm2d(3));
    const b = new Sequential(new Conv2d(2, 3, 3, { seed: 2 }), new BatchNorm2d(3));
    tidy(() => a.forward(Tensor.randn([2, 2, 4, 4], { seed: 3 })));
    b.loadStateDict(a.stateDict());
    for (const [k, v] of a.stateDict()) {
      const w = b.stateDict().get(k)!;
      if (v instanceof Tensor) assert.deepEqual((w as Tensor).dataSync(), v.dataSync(), k);
      else assert.equal(w, v, k);
    }
    assert.equal(b.stateDict().get('1.num_batches_tracked'), 1n);
    // The copy is a copy: changing a leaves b alone.
    tidy(() => (a.stateDict().get('0.weight') as Tensor).copyFrom(Tensor.zeros([3, 2, 3, 3])));
    assert.ok((b.stateDict().get('0.weight') as Tensor).dataSync().some((v) => v !== 0));

    tidy(() => {
      const bad = new Map(a.stateDict());
      bad.delete('1.running_var');
      bad.set('extra.weight', Tensor.zeros([1]));
      bad.set('0.weight', Tensor.zeros([3, 2, 1, 1]));
      assertThrowsNamed(() => b.loadStateDict(bad), RangeError, 'missing keys: 1.running_var', 'unexpected keys: extra.weight', '0.weight: shape [3, 2, 1, 1]');
      bad.set('0.weight', Tensor.zeros([3, 2, 3, 3]));
      bad.set('1.running_var', Tensor.ones([3]));
      b.loadStateDict(bad, { strict: false });
    });
    a.dispose();
    b.dispose();
  });

  it('to(dtype) keeps parameter identity and converts values', () => {
    const l = new Linear(3, 2, { seed: 1 });
    const w = l.weight;
    const before = Array.from(w.dataSync());
    l.to('bfloat16');
    assert.equal(l.weight, w);
    assert.equal(w.dtype, 'bfloat16');
    Array.from(w.dataSync()).forEach((v, i) => assert.ok(Math.abs(v - before[i]) <= Math.abs(before[i]) / 128));
    l.to({ dtype: 'float32', device: 'cpu' });
    assert.equal(w.dtype, 'float32');
    l.dispose();
    const seq = new Sequential(new Conv2d(2, 2, 1, { seed: 1 }), new BatchNorm2d(2)).to('float16');
    assert.deepEqual(
      seq.namedParameters().map(([n, t]) => `${n}:${t.dtype}`),
      ['0.weight:float16', '1.weight:float32', '1.bias:float32'],
    );
    assert.ok(
      seq.buffers().every((b) => b.dtype === 'float32'),
      'BN running statistics stay fp32',
    );
    seq.dispose();
  });

  it('argument checks name the argument', () => {
    assertArgError(() => new Conv2d(0, 3, 3), RangeError, { code: 'ERR_OUT_OF_RANGE', op: 'Conv2d', argument: 'inChannels' });
    assertArgError(() => new Conv2d(3, 3, 3, { stride: 1.5 }), TypeError, { code: 'ERR_INVALID_ARG_TYPE', op: 'Conv2d', argument: 'stride' });
    assertArgError(() => new Linear(3, 2, { seed: -4 }), RangeError, { code: 'ERR_OUT_OF_RANGE', op: 'Linear', argument: 'seed' });
    assertThrowsNamed(() => new BatchNorm2d(4, { momentum: 2 }), RangeError, 'momentum');
    assertArgError(() => new Sequential({} as never), TypeError, { code: 'ERR_INVALID_ARG_TYPE', op: 'Sequential.append', argument: 'm' }, 'layer 0');
    const bn = new BatchNorm2d(2);
    assertArgError(() => bn.train('yes' as never), TypeError, { code: 'ERR_INVALID_ARG_TYPE', op: 'Module.train', argument: 'mode' });
    assertArgError(() => bn.registerGradHook(3 as never), TypeError, { code: 'ERR_INVALID_ARG_TYPE', op: 'Module.registerGradHook', argument: 'fn' });
    assertArgError(
      () => bn.loadStateDict({ nope: 1 } as never),
      RangeError,
      { code: 'ERR_OUT_OF_RANGE', op: 'Module.loadStateDict', argument: 'state' },
      'unexpected keys: nope',
    );
    assertArgError(() => bn.to({ device: 'gpu' } as never), TypeError, { op: 'Module.to', argument: 'target.device' });
    bn.dispose();
  });
});
