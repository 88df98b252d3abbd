// End to end on the CPU: synthetic CIFAR-10 files -> reader -> augmenting loader -> a
// CIFAR ResNet-8 trained with SGD for a few epochs. The synthetic classes are learnable
// (shape + colour), so held-out accuracy must end far above the 10% of chance; this is the
// check that the pipeline hands the model correctly paired, correctly normalised images.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import * as F from '../../../lib/autograd';
import { CifarLoader, evalLoader, loadCifar10, writeSyntheticCifar } from '../../../lib/data';
import { cifarResNet } from '../../../lib/models';
import { SGD } from '../../../lib/optim';
import { tidy } from '../../../lib/tensor';

describe('data: synthetic CIFAR-10 trains a ResNet-8 on the CPU', function () {
  this.timeout(180000);
  let tmp: string;
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cr-train-'));
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('reaches held-out accuracy far above chance within four short epochs', async () => {
    const written = await writeSyntheticCifar(tmp, { train: 300, test: 200, seed: 1 });
    const train = await loadCifar10(written.folder!, 'train');
    const test = await loadCifar10(written.folder!, 'test');
    const model = cifarResNet(8, { seed: 1 });
    const opt = new SGD(model, { lr: 0.05, momentum: 0.9, weightDecay: 1e-4 });
    const loader = new CifarLoader(train, { batchSize: 25, seed: 3 });
    const evaluate = evalLoader(test, { batchSize: 100, normalization: loader.normalization });
    const epochs = 4;
    const losses: number[] = [];
    try {
      for (let epoch = 0; epoch < epochs; epoch++) {
        opt.lr = epoch === epochs - 1 ? 0.005 : 0.05;
        model.train();
        let sum = 0;
        for (const b of loader.epoch(epoch)) {
          using batch = b;
          tidy(() => {
            const { loss } = F.softmaxCrossEntropy(model.forward(batch.x), batch.y);
            opt.zeroGrad();
            loss.backward();
            opt.step();
            sum += loss.item() * batch.size;
          });
        }
        losses.push(sum / train.count);
      }
      model.eval();
      let correct = 0;
      F.noGrad(() => {
        for (const b of evaluate.epoch(0)) {
          using batch = b;
          tidy(() => {
            correct += F.softmaxCrossEntropy(model.forward(batch.x), batch.y).correct.item();
          });
        }
      });
      const accuracy = correct / test.count;
      assert.ok(losses[epochs - 1] < 0.6 * losses[0], `training loss did not fall: ${losses.map((l) => l.toFixed(3))}`);
      assert.ok(accuracy >= 0.6, `held-out accuracy ${accuracy} (chance is 0.1); losses ${losses.map((l) => l.toFixed(3))}`);
    } finally {
      loader.dispose();
      evaluate.dispose();
      model.dispose();
      opt.dispose();
    }
  });
});
