// Options objects across the public API: every function that takes one refuses a key it
// does not know (a typo must not be ignored), naming the function, the key and the known
// keys, with code ERR_UNKNOWN_OPTION.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import * as cr from '../../lib';
import { checkOptions } from '../../lib/checks';
import { SGD } from '../../lib/optim';
import { Tensor, tidy } from '../../lib/tensor';

const BOGUS = { notAnOption: 1 } as never;

function assertUnknown(e: unknown, op: string, arg = 'options'): boolean {
  const err = e as TypeError & { code?: string; op?: string; argument?: string };
  assert.ok(err instanceof TypeError, `${op}: expected TypeError, got ${String(e)}`);
  assert.equal(err.code, 'ERR_UNKNOWN_OPTION', `${op}: ${err.message}`);
  assert.equal(err.op, op);
  assert.equal(err.argument, `${arg}.notAnOption`);
  assert.match(err.message, /known options: \w/, `${op}: lists the known options`);
  return true;
}

describe('checks: unknown options', () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cr-options-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('every option-taking function of the public API refuses an unknown key', async () => {
    const model = cr.models.cifarResNet(8, { classes: 2, init: false, seed: 1 });
    const x = Tensor.zeros([1, 3, 8, 8]);
    const ds = cr.data.syntheticDataset({ count: 4, seed: 1 });
    const file = path.join(dir, 'm.safetensors');
    cr.saveCheckpoint(file, model);
    // [public name, call with BOGUS options, the argument holding the options]
    const sync: [string, () => unknown, string?][] = [
      ['Tensor.empty', () => Tensor.empty([1], BOGUS)],
      ['Tensor.zeros', () => Tensor.zeros([1], BOGUS)],
      ['Tensor.ones', () => Tensor.ones([1], BOGUS)],
      ['Tensor.full', () => Tensor.full([1], 2, BOGUS)],
      ['Tensor.fromArray', () => Tensor.fromArray([1], [1], BOGUS)],
      ['Tensor.from', () => Tensor.from([1], [1], BOGUS)],
      ['Tensor.randn', () => Tensor.randn([1], BOGUS)],
      ['Tensor.uniform', () => Tensor.uniform([1], BOGUS)],
      ['Tensor.to', () => x.to(BOGUS), 'target'],
      ['models.create', () => cr.models.create('resnet8', BOGUS)],
      ['cifarResNet', () => cr.models.cifarResNet(8, BOGUS)],
      ['Conv2d', () => new cr.nn.Conv2d(1, 1, 1, BOGUS)],
      ['BatchNorm2d', () => new cr.nn.BatchNorm2d(1, BOGUS)],
      ['Linear', () => new cr.nn.Linear(1, 1, BOGUS)],
      ['conv2d', () => cr.autograd.conv2d(x, Tensor.zeros([1, 3, 1, 1]), null, BOGUS)],
      ['maxPool2d', () => cr.autograd.maxPool2d(x, { kernelSize: 2, ...(BOGUS as object) })],
      ['SGD', () => new SGD(model, { lr: 0.1, ...(BOGUS as object) })],
      ['SGD.step', () => new SGD(model, { lr: 0.1 }).step(BOGUS)],
      ['Trainer', () => new cr.Trainer(BOGUS)],
      ['CifarLoader', () => new cr.data.CifarLoader(ds, { batchSize: 2, ...(BOGUS as object) })],
      ['evalLoader', () => cr.data.evalLoader(ds, { batchSize: 2, ...(BOGUS as object) })],
      ['syntheticDataset', () => cr.data.syntheticDataset(BOGUS)],
      ['saveCheckpoint', () => cr.saveCheckpoint(file, model, BOGUS)],
      ['loadCheckpoint', () => cr.loadCheckpoint(file, model, BOGUS)],
    ];
    for (const [op, call, arg] of sync)
      assert.throws(
        () => tidy(call),
        (e) => assertUnknown(e, op, arg),
        op,
      );
    await assert.rejects(cr.data.writeSyntheticCifar(dir, BOGUS), (e) => assertUnknown(e, 'writeSyntheticCifar'));
    await assert.rejects(cr.data.loadCifar('cifar10', dir, BOGUS), (e) => assertUnknown(e, 'loadCifar'));
    x.dispose();
    model.dispose();
  });

  it('suggests the nearest known name and accepts the known ones', () => {
    assert.throws(() => checkOptions('f', { weigths: 1 }, ['weights', 'seed']), /did you mean 'weights'/);
    assert.throws(
      () => checkOptions('f', { zzz: 1 }, ['weights']),
      (e: Error) => !/did you mean/.test(e.message),
    );
    assert.throws(() => checkOptions('f', [] as never, ['a']), { code: 'ERR_INVALID_ARG_TYPE', argument: 'options' } as never);
    assert.deepEqual(checkOptions('f', { a: 1 }, ['a', 'b']), { a: 1 });
    assert.deepEqual(checkOptions('f', undefined, ['a']), {});
  });
});
