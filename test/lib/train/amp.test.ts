// MixedPrecision's loss scaling, all on the device: the seed, unscaling, the overflow skip
// through SGD.step({ skipIf }), the scale's back-off and growth, and that bf16/fp32 do
// nothing. A Linear model in fp32 keeps the arithmetic exact under power-of-two scales, so
// scaled-then-unscaled gradients must equal unscaled ones bit for bit.
import * as assert from 'node:assert/strict';

import { softmaxCrossEntropy } from '../../../lib/autograd';
import { Linear } from '../../../lib/nn';
import { SGD } from '../../../lib/optim';
import { memory, Tensor, tidy } from '../../../lib/tensor';
import { MixedPrecision } from '../../../lib/train/amp';
import { describeDevices } from '../../helpers/devices';
import { assertThrowsNamed, randn } from '../../helpers/reference';

describeDevices('MixedPrecision', ({ device }) => {
  const setup = (initScale: number, growthInterval = 2000) => {
    const model = new Linear(6, 3, { seed: 4, device });
    const mp = new MixedPrecision(model, 'fp16', { initScale, growthInterval });
    const opt = new SGD(mp.masters, { lr: 0.1, momentum: 0.9 });
    // Large inputs: weight gradients reach |dlogit| * 50, past fp32's range at a scale of 2^127.
    const x = Tensor.fromArray(
      randn(5 * 6, 9).map((v) => v * 50),
      [5, 6],
      { device },
    );
    const y = Tensor.fromArray([0, 1, 2, 1, 0], [5], { device, dtype: 'int32' });
    const backward = (scaled: boolean) =>
      tidy(() => {
        const r = softmaxCrossEntropy(model.forward(x), y);
        r.loss.backward(scaled ? mp.seed(r.loss) : undefined);
      });
    // The Trainer's sequence: scaled backward, unscale, conditional update, scale update.
    const trainStep = () => {
      backward(true);
      opt.step({ skipIf: mp.unscale() });
      mp.update();
      opt.zeroGrad();
    };
    const grads = () => model.parameters().map((p) => Array.from((p.grad as Tensor).dataSync()));
    const params = () => model.parameters().map((p) => Array.from(p.dataSync()));
    const dispose = () => {
      opt.dispose();
      mp.dispose();
      model.dispose();
      x.dispose();
      y.dispose();
    };
    return { model, mp, opt, backward, trainStep, grads, params, dispose };
  };

  it('seeds backward with the scale and unscales to exactly the unscaled gradients', () => {
    const s = setup(2 ** 10);
    s.backward(false);
    const plain = s.grads();
    s.opt.zeroGrad();
    s.backward(true);
    assert.notDeepEqual(s.grads(), plain); // scaled by 1024
    const flag = s.mp.unscale();
    assert.ok(flag !== null);
    assert.deepEqual(s.grads(), plain);
    assert.equal(flag.dataSync()[0], 0);
    s.dispose();
  });

  it('an overflow skips the update, halves the scale and counts the skip; growth after the interval', () => {
    const live = memory().liveTensors;
    const s = setup(2 ** 127, 2); // the seed fits fp32; the weight gradients do not
    const before = s.params();
    s.trainStep();
    assert.deepEqual(s.params(), before);
    assert.equal(s.mp.lossScale, 2 ** 126);
    assert.equal(s.mp.skipped, 1);
    // Drop to a scale that fits, then two good steps grow it once.
    s.mp.lossScale = 2 ** 8;
    s.trainStep();
    s.trainStep();
    assert.notDeepEqual(s.params(), before);
    assert.equal(s.mp.lossScale, 2 ** 9);
    assert.equal(s.mp.skipped, 1);
    s.dispose();
    assert.equal(memory().liveTensors, live);
  });

  it('scalerState() round-trips through loadScalerState(), before and after the device state exists', () => {
    const s = setup(2 ** 127, 3);
    s.trainStep(); // overflow: skipped
    s.mp.lossScale = 2 ** 8;
    s.trainStep(); // good
    const saved = s.mp.scalerState();
    assert.deepEqual(saved, { scale: 2 ** 8, goodSteps: 1, skipped: 1 });
    const t = setup(1, 3);
    t.mp.loadScalerState(saved); // no device state yet: kept until the first step
    assert.deepEqual(t.mp.scalerState(), saved);
    t.trainStep();
    t.trainStep(); // the third good step in a row: grows, as the saved run would have
    assert.deepEqual(t.mp.scalerState(), { scale: 2 ** 9, goodSteps: 0, skipped: 1 });
    t.mp.loadScalerState(saved); // with device state: rewritten in place
    assert.deepEqual(t.mp.scalerState(), saved);
    assertThrowsNamed(() => t.mp.loadScalerState({ scale: 1, goodSteps: -1, skipped: 0 }), RangeError, 'goodSteps');
    s.dispose();
    t.dispose();
  });

  it('loadScalerState rewrites the device scale and counters in place (a captured step addresses them)', () => {
    const s = setup(2 ** 8, 5);
    const loss = Tensor.zeros([1], { device });
    s.trainStep();
    s.backward(true);
    const flag = s.mp.unscale() as Tensor;
    const scale = s.mp.seed(loss) as Tensor;
    const handles = [flag.handle, scale.handle];
    s.opt.zeroGrad();
    s.mp.loadScalerState({ scale: 2 ** 5, goodSteps: 3, skipped: 2 });
    assert.deepEqual(s.mp.scalerState(), { scale: 2 ** 5, goodSteps: 3, skipped: 2 });
    s.backward(true);
    const flag2 = s.mp.unscale() as Tensor;
    const scale2 = s.mp.seed(loss) as Tensor;
    assert.deepEqual([flag2.handle, scale2.handle], handles);
    s.opt.zeroGrad();
    loss.dispose();
    s.dispose();
  });

  it('bf16 and fp32 scale nothing', () => {
    const m = new Linear(2, 2, { device });
    const loss = Tensor.zeros([1], { device });
    for (const p of ['bf16', 'fp32'] as const) {
      const mp = new MixedPrecision(m, p);
      assert.equal(mp.scaling, false);
      assert.equal(mp.seed(loss), undefined);
      assert.equal(mp.unscale(), null);
      mp.update();
      assert.equal(mp.lossScale, 1);
      assert.equal(mp.skipped, 0);
    }
    loss.dispose();
    m.dispose();
  });

  it('checks its options', () => {
    const m = new Linear(2, 2, { device });
    assertThrowsNamed(() => new MixedPrecision(m, 'fp16', { growthFactor: 1 }), RangeError, 'growthFactor');
    assertThrowsNamed(() => new MixedPrecision(m, 'fp16', { backoffFactor: 1 }), RangeError, 'backoffFactor');
    assertThrowsNamed(() => new MixedPrecision(m, 'fp16', { growthInterval: 0.5 }), TypeError, 'growthInterval');
    assertThrowsNamed(() => new MixedPrecision(m, 'fp16', { growthInterval: 0 }), RangeError, 'growthInterval');
    assertThrowsNamed(() => new MixedPrecision(m, 'fp16', { initScale: -1 }), RangeError, 'initScale');
    m.dispose();
  });
});
