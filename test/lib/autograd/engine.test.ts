import * as assert from 'node:assert/strict';

import * as F from '../../../lib/ops';
import { backward, isGradEnabled, noGrad } from '../../../lib/autograd';
import { create } from '../../../lib/models/resnet';
import { keep, memory, Tensor, tidy } from '../../../lib/tensor';
import { assertThrowsNamed } from '../../helpers/reference';

function param(values: number[], shape = [values.length]): Tensor {
  const t = Tensor.fromArray(values, shape);
  t.requiresGrad = true;
  return t;
}

describe('autograd engine', () => {
  it('sums gradients over every path (a tensor used twice, diamond graph)', () => {
    tidy(() => {
      const x = param([1, -2, 3]);
      const r = F.relu(x); // [1, 0, 3]
      const y = F.add(F.scale(r, 2), F.add(r, x)); // 3 relu(x) + x
      backward(y, Tensor.fromArray([1, 1, 1], [3]));
      assert.deepEqual(Array.from(x.grad!.dataSync()), [4, 1, 4]);
    });
  });

  it('accumulates into .grad across backward calls until it is cleared', () => {
    tidy(() => {
      const x = param([1, 2]);
      backward(F.scale(x, 3), Tensor.fromArray([1, 1], [2]));
      backward(F.scale(x, 3), Tensor.fromArray([1, 2], [2]));
      assert.deepEqual(Array.from(x.grad!.dataSync()), [6, 9]);
    });
  });

  it('a leaf gradient survives the tidy scope of its backward (kept)', () => {
    const x = param([1, 2]);
    tidy(() => backward(F.scale(x, 2), Tensor.fromArray([1, 1], [2])));
    assert.equal(x.grad!.disposed, false);
    assert.deepEqual(Array.from(x.grad!.dataSync()), [2, 2]);
    x.dispose();
    assert.equal(x.grad, null);
  });

  it('a one-element root defaults its gradient to 1; other roots need one', () => {
    tidy(() => {
      const x = param([2], [1]);
      F.scale(x, 5).backward();
      assert.equal(x.grad!.item(), 5);
      const v = param([1, 2]);
      assertThrowsNamed(() => backward(F.scale(v, 1)), TypeError, 'backward', 'grad');
      assertThrowsNamed(() => backward(Tensor.zeros([1])), TypeError, 'backward', 'does not require');
    });
  });

  it('noGrad records nothing', () => {
    tidy(() => {
      const x = param([1]);
      const y = noGrad(() => {
        assert.equal(isGradEnabled(), false);
        return F.scale(x, 2);
      });
      assert.equal(isGradEnabled(), true);
      assert.equal(y.gradFn, null);
      assert.equal(y.requiresGrad, false);
    });
  });

  it('hooks see the complete gradient flowing through a tensor', () => {
    tidy(() => {
      const x = param([1, -1]);
      const h = F.relu(x);
      const seen: number[][] = [];
      const remove = h.registerHook((g) => seen.push(Array.from(g.dataSync())));
      const y = F.add(F.scale(h, 2), h);
      backward(y, Tensor.fromArray([1, 10], [2]));
      assert.deepEqual(seen, [[3, 30]]);
      remove();
      assert.equal(h.hooks.length, 0);
    });
  });

  it('frees saved activations as backward uses them, and refuses a second pass', () => {
    const x = param(
      Array.from({ length: 64 }, (_, i) => i - 30),
      [1, 4, 4, 4],
    );
    const w = param(
      Array.from({ length: 4 * 4 * 9 }, (_, i) => Math.sin(i)),
      [4, 4, 3, 3],
    );
    const start = memory();
    const c1 = F.conv2d(x, w, null, { padding: 1 }); // relu saves its output, not this
    const a = F.relu(c1);
    const b = F.conv2d(a, w, null, { padding: 1 });
    const labels = Tensor.fromArray(Int32Array.from([1]), [1]);
    const { loss, correct } = F.softmaxCrossEntropy(F.flatten(F.globalAvgPool(b)), labels);
    backward(loss);
    assert.equal(a.disposed, true, 'an intermediate saved for backward is freed after it');
    assertThrowsNamed(() => backward(loss), Error, 'already freed');
    // What remains: c1, the loss, the labels and correct count, and the two leaf gradients.
    for (const t of [c1, loss, labels, correct]) t.dispose();
    x.grad!.dispose();
    w.grad!.dispose();
    x.grad = null;
    w.grad = null;
    const end = memory();
    assert.equal(end.liveTensors, start.liveTensors);
    assert.equal(end.cpuBytes, start.cpuBytes);
    x.dispose();
    w.dispose();
  });

  it('reading a model output that backward() freed says so and names the fixes', () => {
    const model = create('resnet8', { classes: 4, seed: 1 });
    try {
      const x = (): Tensor => Tensor.randn([2, 3, 16, 16], { seed: 3 });
      const y = (): Tensor => Tensor.fromArray(Int32Array.from([0, 1]), [2]);
      tidy(() => {
        const kept = keep(model.forward(x()));
        F.softmaxCrossEntropy(kept, y()).loss.backward();
        assert.equal(kept.dataSync().length, 8, 'a kept output survives backward()');
        kept.dispose();
        const logits = model.forward(x());
        F.softmaxCrossEntropy(logits, y()).loss.backward();
        for (const read of [() => logits.dataSync(), () => logits.shape, () => F.relu(logits)]) {
          assert.throws(
            read,
            (e: Error) =>
              e instanceof TypeError &&
              /was freed by backward\(\)/.test(e.message) &&
              /before calling backward\(\)/.test(e.message) &&
              /keep\(\)/.test(e.message),
            'the message names backward() and keep()',
          );
        }
        const gone = Tensor.zeros([2]);
        gone.dispose();
        assert.throws(
          () => gone.dataSync(),
          (e: Error) => e instanceof TypeError && /has been disposed$/.test(e.message),
        );
        assert.equal(String(gone), `Tensor(id=${gone.id}, disposed)`);
      });
      model.zeroGrad();
    } finally {
      model.dispose();
    }
  });

  it('retainGraph keeps saved tensors for a second pass', () => {
    tidy(() => {
      const x = param([1, 2, 3]);
      const y = F.relu(F.scale(x, 2));
      backward(y, Tensor.fromArray([1, 1, 1], [3]), { retainGraph: true });
      backward(y, Tensor.fromArray([1, 1, 1], [3]));
      assert.deepEqual(Array.from(x.grad!.dataSync()), [4, 4, 4]);
    });
  });

  it('eval-mode batchNorm explains that it cannot be differentiated', () => {
    tidy(() => {
      const x = param(
        Array.from({ length: 8 }, (_, i) => i),
        [2, 1, 2, 2],
      );
      const y = F.batchNorm(x, Tensor.ones([1]), Tensor.zeros([1]), Tensor.zeros([1]), Tensor.ones([1]), { training: false });
      assertThrowsNamed(() => backward(y, Tensor.ones([2, 1, 2, 2])), Error, 'eval mode');
    });
  });
});
