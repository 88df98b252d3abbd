import * as assert from 'node:assert/strict';

import { backward, softmaxCrossEntropy } from '../../../lib/autograd';
import { cifarResNet, ResNet } from '../../../lib/models';
import { BatchNorm2d, freeze, frozenParameters, unfreeze } from '../../../lib/nn';
import { SGD } from '../../../lib/optim';
import { Tensor, tidy } from '../../../lib/tensor';
import { assertThrowsNamed } from '../../helpers/reference';

/** Each parameter's and running statistic's values by name (host copies). */
function snapshot(m: ResNet): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const [k, v] of m.stateDict()) if (v instanceof Tensor) out.set(k, Float32Array.from(v.dataSync() as Float32Array));
  return out;
}

function trainStep(m: ResNet, opt: SGD, seed: number): void {
  tidy(() => {
    m.train();
    const { loss } = softmaxCrossEntropy(m.forward(Tensor.randn([4, 3, 8, 8], { seed })), Tensor.fromArray(Int32Array.from([0, 1, 2, 3]), [4]));
    backward(loss);
    opt.step();
    opt.zeroGrad();
  });
}

function changed(before: Map<string, Float32Array>, after: Map<string, Float32Array>): Set<string> {
  const out = new Set<string>();
  for (const [k, v] of before) if (!after.get(k)!.every((x, i) => x === v[i])) out.add(k);
  return out;
}

describe('nn.freeze', () => {
  it('frozen parameters get no gradient and the optimizer leaves them unchanged', () => {
    const m = cifarResNet(8, { seed: 1 });
    const opt = new SGD(m, { lr: 0.1, momentum: 0.9, weightDecay: 1e-4 });
    try {
      const names = freeze(m, ['layer1', 'conv1']);
      assert.deepEqual(names.sort(), frozenParameters(m).sort());
      assert.ok(names.includes('conv1.weight') && names.includes('layer1.0.bn2.bias'));
      assert.ok(!names.includes('bn1.weight') && !names.includes('layer2.0.conv1.weight'));
      const before = snapshot(m);
      trainStep(m, opt, 7);
      const moved = changed(before, snapshot(m));
      for (const n of names) assert.ok(!moved.has(n), `${n} changed`);
      for (const n of ['bn1.weight', 'layer2.0.conv1.weight', 'fc.bias']) assert.ok(moved.has(n), `${n} did not change`);
      // Not frozen with bnEval: their running statistics still follow the batches.
      assert.ok(moved.has('layer1.0.bn1.running_mean'));
    } finally {
      opt.dispose();
      m.dispose();
    }
  });

  it("bnEval holds the frozen part's batch norm in eval mode through model.train()", () => {
    const m = cifarResNet(8, { seed: 2 });
    const opt = new SGD(m, { lr: 0.1 });
    try {
      freeze(m, 'conv1,bn1,layer1', { bnEval: true });
      m.train();
      const held = m
        .namedModules()
        .filter(([, x]) => x instanceof BatchNorm2d && !x.training)
        .map(([n]) => n);
      assert.deepEqual(held, ['bn1', 'layer1.0.bn1', 'layer1.0.bn2']);
      const before = snapshot(m);
      trainStep(m, opt, 8);
      const moved = changed(before, snapshot(m));
      assert.ok(!moved.has('bn1.running_mean') && !moved.has('layer1.0.bn2.running_var'));
      assert.ok(moved.has('layer2.0.bn1.running_mean') && moved.has('layer2.0.conv1.weight'));
      unfreeze(m);
      m.train();
      assert.ok(m.namedModules().every(([, x]) => x.training));
      assert.deepEqual(frozenParameters(m), []);
    } finally {
      opt.dispose();
      m.dispose();
    }
  });

  it('refuses bnEval on a part with trainable layers before it, and unknown names', () => {
    const m = cifarResNet(8, { seed: 3 });
    try {
      assertThrowsNamed(() => freeze(m, ['layer2'], { bnEval: true }), RangeError, 'bnEval', 'conv1.weight');
      assert.deepEqual(frozenParameters(m), []);
      assertThrowsNamed(() => freeze(m, ['layer9']), RangeError, "'layer9'", 'layer1, layer2, layer3, fc');
      assertThrowsNamed(() => freeze(m, ['layer1.0.conv']), RangeError, 'layer1.0.conv');
      assertThrowsNamed(() => freeze(m, []), RangeError, 'no module names');
      assertThrowsNamed(() => freeze(m, [3] as unknown as string[]), TypeError, 'modules');
      assertThrowsNamed(() => freeze(m, 'fc', { bnEval: 'yes' as unknown as boolean }), TypeError, 'bnEval');
      assert.deepEqual(freeze(m, 'fc.bias'), ['fc.bias']);
    } finally {
      m.dispose();
    }
  });
});
