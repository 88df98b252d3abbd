import * as assert from 'node:assert/strict';

import { native } from '../../lib/native';
import { keep, manualSeed, memory, nextSeed, Tensor, tidy } from '../../lib/tensor';
import { describeDevices } from '../helpers/devices';
import { assertArgError, assertThrowsNamed } from '../helpers/reference';

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
    native().fillConstant(t.handle, 7); // queued after the read
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
    assert.throws(
      () =>
        tidy(() => {
          Tensor.zeros([3]);
          throw new Error('boom');
        }),
      /boom/,
    );
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
  it('names the function called and the argument, with a code', () => {
    const T = 'ERR_INVALID_ARG_TYPE',
      R = 'ERR_OUT_OF_RANGE';
    assertArgError(() => Tensor.zeros([2, 0]), RangeError, { code: R, op: 'Tensor.zeros', argument: 'shape[1]' }, '>= 1');
    assertArgError(() => Tensor.zeros([-1]), RangeError, { code: R, op: 'Tensor.zeros', argument: 'shape[0]' }, '>= 1');
    assertArgError(() => Tensor.ones([2.5]), RangeError, { code: R, op: 'Tensor.ones', argument: 'shape[0]' }, 'integer');
    assertArgError(() => Tensor.zeros('3' as unknown as number[]), TypeError, { code: T, op: 'Tensor.zeros', argument: 'shape' });
    assertArgError(() => Tensor.empty([2], { dtype: 'float64' as never }), TypeError, { code: T, op: 'Tensor.empty', argument: 'dtype' }, 'float64');
    assertArgError(() => Tensor.zeros([2], { device: 'gpu' }), TypeError, { code: T, op: 'Tensor.zeros', argument: 'device' }, "'gpu'");
    assertArgError(() => Tensor.zeros([1, 1, 1, 1], { layout: 'NWHC' as never }), TypeError, { code: T, op: 'Tensor.zeros', argument: 'layout' });
    assertArgError(() => Tensor.fromArray([1, 2, 3], [2, 2]), RangeError, { code: R, op: 'Tensor.fromArray', argument: 'data' }, '3 elements', '4');
    assertArgError(() => Tensor.randn([2], { seed: -1 }), RangeError, { code: R, op: 'Tensor.randn', argument: 'seed' });
    assertArgError(() => Tensor.randn([2], { seed: 1.5 }), TypeError, { code: T, op: 'Tensor.randn', argument: 'seed' });
    assertArgError(() => Tensor.randn([0, 2]), RangeError, { code: R, op: 'Tensor.randn', argument: 'shape[0]' });
    assertArgError(() => Tensor.randn([2], { dtype: 'int32' }), TypeError, { code: T, op: 'Tensor.randn', argument: 'dtype' }, 'float');
    assertArgError(() => Tensor.uniform([2], { low: 1, high: 0 }), RangeError, { code: R, op: 'Tensor.uniform', argument: 'high' }, 'low');
    assertArgError(() => Tensor.full([2], NaN), RangeError, { code: R, op: 'Tensor.full', argument: 'value' });
    assertArgError(() => Tensor.full([2], 300, { dtype: 'uint8' }), RangeError, { code: R, op: 'Tensor.full', argument: 'value' });
    using t = Tensor.zeros([2]);
    assertArgError(() => t.to('gpu' as string), TypeError, { code: T, op: 'Tensor.to', argument: 'device' });
    assertThrowsNamed(() => t.copyFrom(Tensor.zeros([3])), RangeError, 'src');
    assertArgError(() => keep(42 as unknown as Tensor), TypeError, { code: T, op: 'keep', argument: 't' });
  });

  it('refuses NHWC for tensors that are not 4-D instead of dropping it', () => {
    const liveBefore = memory().liveTensors;
    const want = { code: 'ERR_OUT_OF_RANGE', argument: 'layout' };
    assertArgError(() => Tensor.zeros([2, 3], { layout: 'NHWC' }), RangeError, { ...want, op: 'Tensor.zeros' }, '2-D');
    assertArgError(() => Tensor.empty([5], { layout: 'NHWC' }), RangeError, { ...want, op: 'Tensor.empty' });
    assertArgError(() => Tensor.fromArray([1, 2], [2], { layout: 'NHWC' }), RangeError, { ...want, op: 'Tensor.fromArray' });
    assertArgError(() => Tensor.randn([2, 2, 2], { layout: 'NHWC' }), RangeError, { ...want, op: 'Tensor.randn' });
    using t = Tensor.zeros([6]);
    assertArgError(() => t.to('NHWC'), RangeError, { ...want, op: 'Tensor.to' });
    assertArgError(() => t.to({ layout: 'NHWC', dtype: 'bfloat16' }), RangeError, { ...want, op: 'Tensor.to' });
    using four = Tensor.zeros([1, 2, 2, 2], { layout: 'NHWC' });
    assert.equal(four.layout, 'NHWC');
    assert.equal(memory().liveTensors, liveBefore + 2, 'a refused conversion leaks nothing');
  });

  it('out of memory names the function that allocated', () => {
    let t: Tensor | undefined;
    try {
      t = Tensor.empty([2 ** 36]); // 256 GiB of float32
    } catch (e) {
      const err = e as Error & { code?: string; op?: string };
      assert.equal(err.code, 'ERR_CPU_OOM', err.message);
      assert.equal(err.op, 'Tensor.empty');
      assert.match(err.message, /^Tensor\.empty: .*out of memory/);
      return;
    }
    t.dispose(); // a system that overcommits without limit hands out the address space
  });

  it('refuses unknown option names, naming the key and the known ones', () => {
    assertArgError(
      () => Tensor.zeros([2], { dtyp: 'float32' } as never),
      TypeError,
      { code: 'ERR_UNKNOWN_OPTION', op: 'Tensor.zeros', argument: 'options.dtyp' },
      "did you mean 'dtype'",
      'dtype, device, layout',
    );
    assertArgError(() => Tensor.randn([2], { sd: 3 } as never), TypeError, { code: 'ERR_UNKNOWN_OPTION', op: 'Tensor.randn', argument: 'options.sd' }, 'seed');
    using t = Tensor.zeros([2]);
    assertArgError(() => t.to({ devic: 'cpu' } as never), TypeError, { code: 'ERR_UNKNOWN_OPTION', op: 'Tensor.to', argument: 'target.devic' });
  });
});
