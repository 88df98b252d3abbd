import * as assert from 'node:assert/strict';

import { native } from '../../lib/native';
import { keep, manualSeed, memory, nextSeed, Tensor, tidy } from '../../lib/tensor';
import { describeDevices } from '../helpers/devices';
import { assertThrowsNamed } from '../helpers/reference';

describeDevices('Tensor', ({ device }) => {
  it('builds from arrays and reads back in logical order, in both layouts', () => {
    const vals = Array.from({ length: 2 * 3 * 2 * 2 }, (_, i) => i - 5.5);
    for (const layout of ['NCHW', 'NHWC'] as const) {
      using t = Tensor.fromArray(vals, [2, 3, 2, 2], { device, layout });
      assert.deepEqual(t.shape, [2, 3, 2, 2]);
      assert.equal(t.layout, layout);
      assert.equal(t.device, device);
      assert.equal(t.dtype, 'float32');
      assert.deepEqual(Array.from(t.dataSync()), vals);
    }
    using i = Tensor.fromArray(Int32Array.from([1, -2, 3]), [3], { device });
    assert.equal(i.dtype, 'int32');
    assert.deepEqual(Array.from(i.dataSync()), [1, -2, 3]);
  });

  it('data() resolves to the same values as dataSync()', async () => {
    using t = Tensor.fromArray([1, 2, 3, 4, 5, 6], [1, 2, 3, 1], { device, layout: 'NHWC' });
    assert.deepEqual(Array.from(await t.data()), [1, 2, 3, 4, 5, 6]);
  });

  it('data() reads the value as of the call: later in-place writes and dispose() do not change it', async () => {
    const t = Tensor.fromArray([1, 2, 3, 4], [4], { device });
    const before = t.data();
    native().fillConstant(t.handle, 7);  // queued after the read
    const after = t.data();
    const u = Tensor.fromArray([5, 6], [2], { device });
    const gone = u.data();
    u.dispose();
    assert.deepEqual(Array.from(await before), [1, 2, 3, 4]);
    assert.deepEqual(Array.from(await after), [7, 7, 7, 7]);
    assert.deepEqual(Array.from(await gone), [5, 6]);
    t.dispose();
  });

  it('zeros, ones, full', () => {
    using z = Tensor.zeros([3, 2], { device });
    using o = Tensor.ones([4], { device });
    using f = Tensor.full([2], -2.5, { device });
    assert.deepEqual(Array.from(z.dataSync()), [0, 0, 0, 0, 0, 0]);
    assert.deepEqual(Array.from(o.dataSync()), [1, 1, 1, 1]);
    assert.deepEqual(Array.from(f.dataSync()), [-2.5, -2.5]);
  });

  it('randn and uniform are reproducible from a seed and have the requested moments', () => {
    using a = Tensor.randn([20000], { device, seed: 7, mean: 1, std: 2 });
    using b = Tensor.randn([20000], { device, seed: 7, mean: 1, std: 2 });
    using c = Tensor.randn([20000], { device, seed: 8, mean: 1, std: 2 });
    const av = a.dataSync() as Float32Array;
    assert.deepEqual(av, b.dataSync());
    assert.notDeepEqual(av, c.dataSync());
    const mean = av.reduce((s, v) => s + v, 0) / av.length;
    const sd = Math.sqrt(av.reduce((s, v) => s + (v - mean) ** 2, 0) / av.length);
    assert.ok(Math.abs(mean - 1) < 0.05, `mean ${mean}`);
    assert.ok(Math.abs(sd - 2) < 0.05, `std ${sd}`);
    using u = Tensor.uniform([20000], { device, seed: 3, low: -1, high: 3 });
    const uv = u.dataSync() as Float32Array;
    assert.ok(uv.every((v) => v >= -1 && v < 3));
    assert.ok(Math.abs(uv.reduce((s, v) => s + v, 0) / uv.length - 1) < 0.05);
  });

  it('to() converts device, dtype and layout and returns an independent tensor', () => {
    using t = Tensor.fromArray([1.5, -2, 3.25, 4], [1, 1, 2, 2], { device });
    using h = t.to('bfloat16');
    assert.equal(h.dtype, 'bfloat16');
    assert.deepEqual(Array.from(h.dataSync()), [1.5, -2, 3.25, 4]);
    using n = t.to('NHWC');
    assert.equal(n.layout, 'NHWC');
    assert.deepEqual(Array.from(n.dataSync()), [1.5, -2, 3.25, 4]);
    using c = t.to('cpu');
    assert.equal(c.device, 'cpu');
    using same = t.to({ device });
    same.dispose();
    assert.equal(t.disposed, false);
    using both = t.to({ dtype: 'float16', layout: 'NHWC' });
    assert.equal(both.dtype, 'float16');
    assert.equal(both.layout, 'NHWC');
  });

  it('clone copies, detach shares storage', () => {
    using t = Tensor.fromArray([1, 2], [2], { device });
    using c = t.clone();
    using d = t.detach();
    t.copyFrom(Tensor.fromArray([5, 6], [2], { device }));
    assert.deepEqual(Array.from(c.dataSync()), [1, 2]);
    assert.deepEqual(Array.from(d.dataSync()), [5, 6]);
  });

  it('item() reads a one-element tensor', () => {
    using t = Tensor.full([1], 3, { device });
    assert.equal(t.item(), 3);
    using u = Tensor.zeros([2], { device });
    assertThrowsNamed(() => u.item(), RangeError, 'item', 'one element');
  });
});

describe('Tensor lifetime', () => {
  it('dispose frees native memory and is idempotent; using disposes at block end', () => {
    const before = memory();
    const t = Tensor.zeros([1000]);
    assert.equal(memory().liveTensors, before.liveTensors + 1);
    assert.equal(memory().cpuBytes, before.cpuBytes + 4000);
    t.dispose();
    t.dispose();
    assert.equal(t.disposed, true);
    assert.equal(memory().liveTensors, before.liveTensors);
    assert.equal(memory().cpuBytes, before.cpuBytes);
    {
      using u = Tensor.zeros([10]);
      assert.equal(u.disposed, false);
    }
    assert.equal(memory().liveTensors, before.liveTensors);
    assertThrowsNamed(() => t.dataSync(), TypeError, 'disposed');
  });

  it('tidy disposes what it made, except returned and kept tensors', () => {
    const before = memory().liveTensors;
    let inner!: Tensor;
    let kept!: Tensor;
    const out = tidy(() => {
      inner = Tensor.zeros([2]);
      kept = keep(Tensor.ones([2]));
      return { a: Tensor.full([2], 3), list: [Tensor.full([1], 4)] };
    });
    assert.equal(inner.disposed, true);
    assert.equal(kept.disposed, false);
    assert.equal(out.a.disposed, false);
    assert.equal(out.list[0].disposed, false);
    assert.equal(memory().liveTensors, before + 3);
    kept.dispose();
    out.a.dispose();
    out.list[0].dispose();
    assert.equal(memory().liveTensors, before);
  });

  it('nested scopes: a returned tensor moves to the outer scope and dies with it', () => {
    let fromInner!: Tensor;
    let outerOnly!: Tensor;
    const before = memory().liveTensors;
    tidy(() => {
      outerOnly = Tensor.zeros([1]);
      fromInner = tidy(() => {
        Tensor.zeros([1]);
        return Tensor.ones([1]);
      });
      assert.equal(fromInner.disposed, false);
      assert.equal(memory().tidyDepth, 1);
    });
    assert.equal(fromInner.disposed, true);
    assert.equal(outerOnly.disposed, true);
    assert.equal(memory().liveTensors, before);
  });

  it('tidy cleans up when fn throws, and refuses async functions', () => {
    const before = memory().liveTensors;
    assert.throws(() => tidy(() => {
      Tensor.zeros([3]);
      throw new Error('boom');
    }), /boom/);
    assert.equal(memory().liveTensors, before);
    assertThrowsNamed(() => tidy((async () => Tensor.zeros([1])) as unknown as () => Tensor), TypeError, 'tidy', 'synchronous');
    assert.equal(memory().tidyDepth, 0);
    assertThrowsNamed(() => tidy(42 as unknown as () => void), TypeError, 'tidy', 'fn');
  });

  it('seeds: manualSeed makes the global sequence repeat', () => {
    manualSeed(123);
    const a = [nextSeed(), nextSeed()];
    manualSeed(123);
    assert.deepEqual([nextSeed(), nextSeed()], a);
    assert.notEqual(a[0], a[1]);
    assert.ok(a.every((s) => Number.isSafeInteger(s) && s >= 0));
  });
});

describe('Tensor argument checks', () => {
  it('names the argument in TypeError / RangeError', () => {
    assertThrowsNamed(() => Tensor.zeros([2, 0]), RangeError, 'shape[1]', '>= 1');
    assertThrowsNamed(() => Tensor.zeros([2.5]), TypeError, 'shape[0]', 'integer');
    assertThrowsNamed(() => Tensor.zeros('3' as unknown as number[]), TypeError, 'shape');
    assertThrowsNamed(() => Tensor.zeros([2], { dtype: 'float64' as never }), TypeError, 'dtype', 'float64');
    assertThrowsNamed(() => Tensor.zeros([2], { device: 'gpu' }), TypeError, 'device', "'gpu'");
    assertThrowsNamed(() => Tensor.zeros([1, 1, 1, 1], { layout: 'NWHC' as never }), TypeError, 'layout');
    assertThrowsNamed(() => Tensor.fromArray([1, 2, 3], [2, 2]), RangeError, 'data', '3 elements', '4');
    assertThrowsNamed(() => Tensor.randn([2], { seed: -1 }), RangeError, 'seed');
    assertThrowsNamed(() => Tensor.randn([2], { seed: 1.5 }), TypeError, 'seed');
    assertThrowsNamed(() => Tensor.randn([2], { dtype: 'int32' }), TypeError, 'dtype', 'float');
    assertThrowsNamed(() => Tensor.uniform([2], { low: 1, high: 0 }), RangeError, 'high', 'low');
    assertThrowsNamed(() => Tensor.full([2], NaN), TypeError, 'value');
    using t = Tensor.zeros([2]);
    assertThrowsNamed(() => t.to('cuda' as string), TypeError, 'target');
    assertThrowsNamed(() => t.copyFrom(Tensor.zeros([3])), RangeError, 'src');
    assertThrowsNamed(() => keep(42 as unknown as Tensor), TypeError, 'keep');
  });
});
