// Where a tensor feeds several consumers, backward() sums their gradients into one of them in
// place when nobody else can see it. These tests hold that to the same bits as summing into
// new tensors, and check each case where writing in place would corrupt something visible.
import * as assert from 'node:assert/strict';

import * as F from '../../../lib/ops';
import { backward, record } from '../../../lib/autograd/engine';
import { create } from '../../../lib/models/resnet';
import { native, NativeTensor } from '../../../lib/native';
import { memory, Tensor, tidy } from '../../../lib/tensor';

function param(values: number[], shape = [values.length]): Tensor {
  const t = Tensor.fromArray(values, shape);
  t.requiresGrad = true;
  return t;
}

function values(t: Tensor): number[] {
  return Array.from(t.dataSync());
}

type AddonFns = Record<string, (...args: unknown[]) => unknown>;

/** Counts the calls of the addon's functions named in `names` while fn runs. */
function countCalls<T>(names: string[], fn: () => T): { result: T; calls: Map<string, number> } {
  const addon = native() as unknown as AddonFns;
  const saved = names.map((n) => addon[n]);
  const calls = new Map(names.map((n) => [n, 0]));
  names.forEach((n, i) => {
    addon[n] = (...args: unknown[]) => {
      calls.set(n, calls.get(n)! + 1);
      return saved[i](...args);
    };
  });
  try {
    return { result: fn(), calls };
  } finally {
    names.forEach((n, i) => (addon[n] = saved[i]));
  }
}

function isHandle(v: unknown): v is NativeTensor {
  return typeof v === 'object' && v !== null && typeof (v as NativeTensor).storageShared === 'boolean';
}

/**
 * Runs fn while a view of every tensor the addon returns stays alive, so that every storage
 * is shared and backward() has to sum into new tensors, as it did before summing in place.
 */
function withEveryStorageShared<T>(fn: () => T): T {
  const addon = native() as unknown as AddonFns;
  const reshape = addon.reshape;
  const views: NativeTensor[] = [];
  const share = (v: unknown) => {
    if (isHandle(v)) views.push(reshape(v, v.shape) as NativeTensor);
    else if (typeof v === 'object' && v !== null) for (const x of Object.values(v)) if (isHandle(x)) share(x);
  };
  const saved = new Map<string, (...args: unknown[]) => unknown>();
  for (const [name, f] of Object.entries(addon)) {
    if (typeof f !== 'function' || /^[A-Z]/.test(name) || name === 'reshape') continue;
    saved.set(name, f);
    addon[name] = (...args: unknown[]) => {
      const r = f(...args);
      share(r);
      return r;
    };
  }
  try {
    return fn();
  } finally {
    for (const [name, f] of saved) addon[name] = f;
    for (const v of views) v.dispose();
  }
}

describe('autograd: gradients summed in place', () => {
  it('a ResNet training step gets the same gradient bits as with sums into new tensors', () => {
    const model = create('resnet8', { classes: 5, seed: 3 });
    try {
      model.train();
      const x = Tensor.randn([3, 3, 12, 12], { seed: 4 });
      const y = Tensor.fromArray(Int32Array.from([0, 4, 2]), [3], { dtype: 'int32' });
      const step = (): Float32Array[] => {
        model.zeroGrad();
        tidy(() => F.softmaxCrossEntropy(model.forward(x), y).loss.backward());
        return model.parameters().map((p) => p.grad!.dataSync() as Float32Array);
      };
      const before = memory().liveTensors;
      const inPlace = countCalls(['add', 'axpy'], step);
      const leaked = memory().liveTensors - before - model.parameters().length; // the new .grad tensors
      const copies = countCalls(['add', 'axpy'], () => withEveryStorageShared(step));
      // resnet8 has three residual blocks: each block's input has two consumers.
      assert.equal(inPlace.calls.get('axpy'), 3, 'sums in place');
      assert.equal(inPlace.calls.get('add'), 0);
      assert.equal(copies.calls.get('axpy'), 0, 'with every storage shared nothing is written in place');
      assert.equal(copies.calls.get('add'), 3);
      assert.equal(leaked, 0, 'no tensor leaked');
      assert.equal(inPlace.result.length, copies.result.length);
      inPlace.result.forEach((g, i) => assert.deepEqual(g, copies.result[i], `gradient of parameter ${i}`));
      x.dispose();
      y.dispose();
    } finally {
      model.dispose();
    }
  });

  it("never writes into the caller's gradient, even where it flows into a sum", () => {
    tidy(() => {
      const x = param([1, -2, 3]);
      const h = F.relu(x);
      const seed = Tensor.fromArray([1, 2, 3], [3]);
      // h gets the seed itself (add passes it through) and, once the relu has let the seed
      // go, 3 * seed where 3h > 0.
      backward(F.add(h, F.relu(F.scale(h, 3))), seed);
      assert.deepEqual(values(seed), [1, 2, 3]);
      assert.deepEqual(values(x.grad!), [4, 0, 12]);
      // h + h: the same tensor twice into one sum.
      const x2 = param([2, 5]);
      const seed2 = Tensor.fromArray([1, 10], [2]);
      backward(F.add(F.relu(x2), F.relu(x2)), seed2);
      assert.deepEqual(values(seed2), [1, 10]);
      assert.deepEqual(values(x2.grad!), [2, 20]);
    });
  });

  // Which of a tensor's gradients arrives first depends on the graph's order, so the cases
  // below build each graph both ways round.
  for (const flip of [false, true]) {
    const both = (p: Tensor, q: Tensor) => (flip ? F.add(q, p) : F.add(p, q));

    it(`never writes into a gradient a hook was given (${flip ? 'flipped' : 'as written'})`, () => {
      tidy(() => {
        const x = param([1, 2]);
        const a = F.scale(x, 1);
        const h = F.add(a, Tensor.fromArray([5, 5], [2])); // passes its gradient on to a as is
        const seen: Tensor[] = [];
        h.registerHook((g) => seen.push(g));
        // a's gradient is complete once both paths have added theirs: the tensor h's hook saw
        // then holds what it held, or it has been disposed, but never a's sum.
        const later: (number[] | string)[] = [];
        a.registerHook(() => later.push(seen[0].disposed ? 'disposed' : values(seen[0])));
        backward(both(F.scale(h, 2), F.scale(a, 5)), Tensor.fromArray([1, 1], [2]));
        assert.equal(later.length, 1);
        if (later[0] !== 'disposed') assert.deepEqual(later[0], [2, 2], 'the tensor the hook saw still holds what it saw');
        assert.deepEqual(values(x.grad!), [7, 7]);
      });
    });

    it(`never writes into a gradient handed to two inputs (${flip ? 'flipped' : 'as written'})`, () => {
      tidy(() => {
        const x = param([1, 2]);
        const a = F.scale(x, 1);
        const b = F.scale(x, 10);
        // add hands its (new) gradient to a and to b; each also gets one of its own.
        const out = both(F.scale(F.add(a, b), 2), both(F.scale(a, 3), F.scale(b, 4)));
        backward(out, Tensor.fromArray([1, 1], [2]));
        assert.deepEqual(values(x.grad!), [65, 65]); // (2 + 3) + 10 (2 + 4)
      });
    });
  }

  it('never writes into a gradient that a live view shares', () => {
    tidy(() => {
      const x = param([1, 2, 3]);
      const a = F.scale(x, 1);
      const b = F.scale(x, 10);
      // An op whose backward hands one input its gradient and the other a view of it.
      const y = Tensor.fromArray([0, 0, 0], [3]);
      record('viewTwice', y, [a, b], (g) => [g, g.detach()]);
      const out = F.add(F.add(y, F.scale(a, 2)), F.scale(b, 3));
      backward(out, Tensor.fromArray([1, 1, 1], [3]));
      // da = 1 + 2, db = 1 + 3, dx = da + 10 db
      assert.deepEqual(values(x.grad!), [43, 43, 43]);
    });
  });

  it('sums a leaf gradient in place and still accumulates into an existing .grad across passes', () => {
    tidy(() => {
      const x = param([1, -1, 2]);
      const h = F.relu(x);
      const y = F.add(F.scale(h, 2), F.add(h, F.scale(x, 4))); // x feeds relu and scale
      const seed = Tensor.fromArray([1, 2, 3], [3]);
      const { calls } = countCalls(['add', 'axpy'], () => {
        backward(y, seed, { retainGraph: true });
        backward(y, seed);
      });
      assert.deepEqual(values(x.grad!), [14, 16, 42]); // 2 * (3 relu'(x) + 4) * seed
      assert.deepEqual(values(seed), [1, 2, 3]);
      // Each pass sums h's and x's two gradients in place; the second also adds into .grad.
      assert.equal(calls.get('add'), 0);
      assert.equal(calls.get('axpy'), 5);
    });
  });
});
