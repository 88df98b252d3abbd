// The captured training step with AdamW and a label-smoothed loss on cuda:0 (pending with the
// reason where no GPU is usable): AdamW's lr and per-parameter step counts live on the device,
// so 20 captured steps must give the eager losses, with fp16 overflow skips (which must not
// advance the step counts) inside the replayed graph as in the eager run.
import * as assert from 'node:assert/strict';

import { describeCuda } from '../../helpers/devices';
import { batches, capturedLosses, eagerLosses, Rig, rig } from './captured-step-rig';

describeCuda('train: captured step with AdamW [cuda:0]', function () {
  this.timeout(120000);
  const dev = 'cuda:0';
  const steps = (r: Rig) => [...r.opt.stateDict()].filter(([k]) => k.startsWith('step.')).map(([, t]) => t.item());

  for (const precision of ['fp32', 'fp16'] as const) {
    it(`${precision}: 20 captured AdamW steps give the eager losses and step counts`, () => {
      const data = batches(20, 27, dev).map((b) => {
        if (precision === 'fp32') return b;
        const x = b.x.to({ dtype: 'float16', layout: 'NHWC' });
        b.x.dispose();
        return { x, y: b.y };
      });
      // fp16 starts at 2^20 so that the first steps overflow and are skipped on the device.
      const make = () => rig(dev, precision, 2 ** 20, 'adamw');
      let eagerSteps: number[] = [];
      try {
        const want = eagerLosses(
          dev,
          data,
          () => 1e-3,
          () => {
            const r = make();
            const dispose = r.dispose;
            return {
              ...r,
              dispose: () => {
                eagerSteps = steps(r);
                dispose();
              },
            };
          },
        );
        const got = capturedLosses(
          dev,
          data,
          () => 1e-3,
          [],
          (cs, r) => {
            assert.equal(cs.mode, 'captured', `fell back: ${cs.eagerReason}`);
            assert.deepEqual(steps(r), eagerSteps, 'step counts of the captured run');
          },
          { make },
        );
        if (precision === 'fp16')
          assert.ok(
            eagerSteps.every((s) => s < 20),
            'the start scale should have overflowed at least once',
          );
        for (let i = 0; i < want.length; i++)
          assert.ok(Math.abs(got[i] - want[i]) <= 2e-3 * Math.abs(want[i]) + 1e-4, `step ${i}: captured ${got[i]} vs eager ${want[i]}`);
      } finally {
        for (const b of data) {
          b.x.dispose();
          b.y.dispose();
        }
      }
    });
  }
});
