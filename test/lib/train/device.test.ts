// The device decisions a run makes before any tensor exists: here, the batch layout per
// precision and device, which must send 16-bit CUDA runs down the NHWC path (tensor-op
// convolutions, fused batch norm) while the CPU and fp32 stay NCHW. Runs without a GPU: the
// decision is a function of the names, and the Trainer is checked to use it on the CPU.
import * as assert from 'node:assert/strict';

import { CifarLoader } from '../../../lib/data/loader';
import { syntheticDataset } from '../../../lib/data/synthetic';
import { activationLayout, describePrecision, PRECISIONS } from '../../../lib/train/device';
import { StartInfo, Trainer } from '../../../lib/train/trainer';
import { cudaUnavailableReason } from '../../helpers/devices';

describe('train: device decisions', () => {
  it('16-bit batches are NHWC on every CUDA device, NCHW on the CPU and for fp32', () => {
    for (const device of ['cpu', 'cuda:0', 'cuda:3']) {
      for (const p of PRECISIONS) {
        const want = p !== 'fp32' && device !== 'cpu' ? 'NHWC' : 'NCHW';
        assert.equal(activationLayout(p, device), want, `${p} on ${device}`);
      }
    }
  });

  it('the CLI description names the NHWC layout for 16-bit on CUDA only', () => {
    assert.match(describePrecision('bf16', 'cuda:0'), /NHWC/);
    assert.match(describePrecision('fp16', 'cuda:1'), /NHWC/);
    assert.doesNotMatch(describePrecision('bf16', 'cpu'), /NHWC/);
    assert.doesNotMatch(describePrecision('fp32', 'cuda:0'), /NHWC/);
  });

  // On a GPU machine cuda:0 joins, where bf16 must come out NHWC.
  const devices = cudaUnavailableReason() === null ? ['cpu', 'cuda:0'] : ['cpu'];
  for (const [device, precision] of devices.flatMap((d) => (['fp32', 'bf16'] as const).map((p) => [d, p] as const))) {
    it(`the Trainer loads ${precision} batches in activationLayout's layout (${device})`, async function () {
      this.timeout(60000);
      const data = { train: syntheticDataset({ count: 32, seed: 3 }), test: syntheticDataset({ split: 'test', count: 16, seed: 3 }) };
      const t = new Trainer({ model: 'resnet8', data, batchSize: 16, device, precision, iterations: 1 });
      let info: StartInfo | undefined;
      t.on('start', (i: StartInfo) => (info = i));
      try {
        await t.setup();
        const want = activationLayout(precision, device);
        assert.equal(info?.layout, want);
        // the loaders themselves, not only what the info says
        const st = (t as unknown as { setupDone: { loader: CifarLoader; test: CifarLoader } }).setupDone;
        assert.equal(st.loader.layout, want);
        assert.equal(st.test.layout, want);
      } finally {
        t.dispose();
      }
    });
  }
});
