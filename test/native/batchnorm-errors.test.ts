// Spatial batch norm's refusals: bad arguments named in the error, running statistics that
// alias each other or an input, and a negative running variance. Kept apart from
// batchnorm.test.ts, whose numeric checks need the float64 reference and random data these
// do not, so each file stays within the project's size limit and reads as one concern.
import * as assert from 'node:assert/strict';

import { native } from '../../lib/native';
import { describeDevices } from '../helpers/devices';
import { assertArgError, assertThrowsNamed } from '../helpers/reference';
import { disposeAll, make, readNCHW } from './ops-common';

describeDevices('batch norm argument checks', (d) => {
  const dev = d.device;
  const nat = () => native();

  it('refuses bad arguments, naming them', () => {
    const shape = [2, 3, 4, 4];
    const x = make(
      new Float32Array(96).map((_, i) => Math.sin(i)),
      shape,
      dev,
    );
    const c3 = () => make([1, 1, 1], [3], dev);
    const [g, b, rm, rv] = [c3(), c3(), c3(), c3()];
    const c4 = make([1, 1, 1, 1], [4], dev);
    const g16 = nat().fromTypedArray(new Float32Array(3), [3], 'float16', 'NCHW', dev);
    const xi = nat().fromTypedArray(new Int32Array(96), shape, 'int32', 'NCHW', dev);
    const x2 = make(new Float32Array(6), [2, 3], dev);
    const one = make([1, 2, 3], [1, 3, 1, 1], dev);
    const nhwc = nat().toLayout(x, 'NHWC');
    const train =
      (...o: unknown[]) =>
      () =>
        (nat().batchNormForwardTraining as (...a: unknown[]) => unknown)(...o);
    assertThrowsNamed(train(x, c4, b, rm, rv, 0.1, 1e-5, null, false), RangeError, "'gamma'", '[3]');
    assertThrowsNamed(train(x, g, b, rm, g16, 0.1, 1e-5, null, false), TypeError, "'runningVar'", 'float32');
    assertThrowsNamed(train(x, g, b, rm, rv, 1.5, 1e-5, null, false), RangeError, "'momentum'");
    assertThrowsNamed(train(x, g, b, rm, rv, -0.1, 1e-5, null, false), RangeError, "'momentum'");
    assertThrowsNamed(train(x, g, b, rm, rv, 0.1, 0, null, false), RangeError, "'eps'");
    assertThrowsNamed(train(xi, g, b, rm, rv, 0.1, 1e-5, null, false), TypeError, "'x'");
    assertThrowsNamed(train(x2, g, b, rm, rv, 0.1, 1e-5, null, false), RangeError, "'x'", '4-D');
    assertThrowsNamed(train(x, g, b, rm, rv, 0.1, 1e-5, nhwc, false), TypeError, "'residual'");
    assertThrowsNamed(train(x, g, b, rm, rv, 0.1, 1e-5, null, 1), TypeError, "'relu'");
    assertThrowsNamed(train(one, g, b, rm, rv, 0.1, 1e-5, null, false), RangeError, "'x'", 'more than 1 value');
    assertThrowsNamed(train(x, g, 'beta', rm, rv, 0.1, 1e-5, null, false), TypeError, "'beta'");
    assertThrowsNamed(() => nat().batchNormForwardInference(x, g, b, rm, c4, 1e-5, null, false), RangeError, "'runningVar'");
    assertThrowsNamed(() => nat().batchNormBackward(x, x, g, rm, rv, 1e-5, null, true, false), TypeError, "'y'", 'relu');
    assertThrowsNamed(() => nat().batchNormBackward(nhwc, x, g, rm, rv, 1e-5, null, false, false), TypeError, "'x'");
    assertThrowsNamed(() => nat().batchNormBackward(x, x, g, rm, c4, 1e-5, null, false, false), RangeError, "'saveInvStd'");
    // beta and reserve: the fused backward's inputs, checked whether or not this backend uses them
    const u8 = nat().fromTypedArray(new Uint8Array(16), [16], 'uint8', 'NCHW', dev);
    const u8x2 = nat().fromTypedArray(new Uint8Array(16), [4, 4], 'uint8', 'NCHW', dev);
    const back =
      (...o: unknown[]) =>
      () =>
        (nat().batchNormBackward as (...a: unknown[]) => unknown)(x, x, g, rm, rv, 1e-5, x, true, false, ...o);
    assertThrowsNamed(back(null, u8), TypeError, "'beta'", 'reserve');
    assertThrowsNamed(back(c4, u8), RangeError, "'beta'", '[3]');
    assertThrowsNamed(back(b, rv), TypeError, "'reserve'", 'uint8');
    assertThrowsNamed(back(b, u8x2), RangeError, "'reserve'");
    assertThrowsNamed(back(b, 'r'), TypeError, "'reserve'");
    disposeAll(u8, u8x2);
    if (dev !== 'cpu') {
      const gc = make([1, 1, 1], [3], 'cpu');
      assertThrowsNamed(train(x, gc, b, rm, rv, 0.1, 1e-5, null, false), TypeError, "'gamma'", 'device');
      gc.dispose();
    }
    disposeAll(x, g, b, rm, rv, c4, g16, xi, x2, one, nhwc);
  });

  it('refuses running statistics that share storage with each other or the input', () => {
    const x = make(
      new Float32Array(2 * 3 * 2 * 2).map((_, i) => Math.cos(i)),
      [2, 3, 2, 2],
      dev,
    );
    const c3 = () => make([1, 1, 1], [3], dev);
    const [g, b, rm, rv] = [c3(), c3(), c3(), c3()];
    const rmView = nat().reshape(rm, [3]);
    const train =
      (...o: unknown[]) =>
      () =>
        (nat().batchNormForwardTraining as (...a: unknown[]) => unknown)(...o);
    const aliased = { code: 'ERR_ALIASED_ARGS', op: 'batchNormForwardTraining' };
    assertArgError(train(x, g, b, rm, rm, 0.1, 1e-5, null, false), RangeError, { ...aliased, argument: 'runningVar' }, "'runningMean'");
    assertArgError(train(x, g, b, rm, rmView, 0.1, 1e-5, null, false), RangeError, { ...aliased, argument: 'runningVar' }, "'runningMean'");
    assertArgError(train(x, g, b, g, rv, 0.1, 1e-5, null, false), RangeError, { ...aliased, argument: 'runningMean' }, "'gamma'");
    assertArgError(train(x, g, rv, rm, rv, 0.1, 1e-5, null, false), RangeError, { ...aliased, argument: 'runningVar' }, "'beta'");
    assert.deepEqual([...readNCHW(rm)], [1, 1, 1], 'refused calls change nothing');
    // Reading gamma as beta too writes nothing through it: allowed.
    const ok = nat().batchNormForwardTraining(x, g, g, rm, rv, 0.1, 1e-5, null, false);
    disposeAll(ok.y, ok.saveMean, ok.saveInvStd, ...(ok.reserve ? [ok.reserve] : []));
    disposeAll(x, g, b, rm, rv, rmView);
  });

  it('inference refuses a negative running variance on the host', function () {
    if (dev !== 'cpu') this.skip(); // not read on a GPU: that would cost a copy per call
    const x = make(new Float32Array(2 * 3 * 2 * 2).fill(1), [2, 3, 2, 2], dev);
    const c3 = (v: number[]) => make(v, [3], dev);
    const [g, b, rm, rv] = [c3([1, 1, 1]), c3([0, 0, 0]), c3([0, 0, 0]), c3([1, -0.5, 1])];
    assertArgError(
      () => nat().batchNormForwardInference(x, g, b, rm, rv, 1e-5, null, false),
      RangeError,
      { code: 'ERR_OUT_OF_RANGE', op: 'batchNormForwardInference', argument: 'runningVar' },
      '>= 0',
      'channel 1',
    );
    disposeAll(x, g, b, rm, rv);
  });
});
