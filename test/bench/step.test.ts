// One row of the step benchmark in-process: every precision runs the library's step,
// frees everything it made, and a failing row reports its error instead of throwing.
import * as assert from 'node:assert/strict';

import { benchStep, classesOf, emptyResult } from '../../bench/step';
import { memory } from '../../lib/tensor';

describe('bench: one step row', function () {
  this.timeout(60000);
  const o = { device: 'cpu', timing: { warmup: 1, steps: 2, runs: 2 } };

  for (const p of ['fp32', 'bf16', 'fp16'] as const) {
    it(`${p}: times the step and leaves no live tensors behind`, () => {
      const live = memory().liveTensors;
      const r = benchStep({ model: 'resnet8', batch: 4 }, p, o);
      assert.equal(r.error, null);
      assert.equal(r.runsMs.length, 2);
      assert.ok((r.msPerStep as number) > 0);
      assert.equal(r.layout, p === 'fp32' ? 'NCHW' : 'NHWC');
      // fp16 scales the loss (2^16 to start, as PyTorch's GradScaler); the others do not
      assert.equal(r.lossScale, p === 'fp16' ? 65536 : 1);
      assert.ok((r.cpuMsPerStep as number) > 0);
      // the Trainer's CapturedStep ran it, eagerly here, and says why
      assert.equal(r.stepMode, 'eager');
      assert.match(r.eagerReason ?? '', /CUDA graphs need a cuda device/);
      assert.equal(r.skippedSteps, 0);
      assert.equal(memory().liveTensors, live);
    });
  }

  it('a row that fails at run time reports why and frees what it made; an unknown model throws', () => {
    const live = memory().liveTensors;
    const bad = benchStep({ model: 'resnet8', batch: 2 }, 'fp32', { ...o, device: 'tpu:0' });
    assert.match(bad.error ?? '', /device/);
    assert.equal(bad.msPerStep, null);
    assert.equal(memory().liveTensors, live);
    assert.throws(() => benchStep({ model: 'resnet7', batch: 2 }, 'fp32', o), /unknown model name 'resnet7'/);
  });

  it('skipped rows keep their floor; heads have 10 or 1000 classes', () => {
    const s = emptyResult({ model: 'resnet50', batch: 256 }, 'bf16', o, { skipped: 'budget' });
    assert.equal(s.skipped, 'budget');
    assert.equal(s.imageSize, 224);
    assert.ok(s.floor.flops > 256 * 24e9 && s.floor.flops < 256 * 25e9);
    assert.equal(classesOf('resnet56'), 10);
    assert.equal(classesOf('resnet18'), 1000);
  });
});
