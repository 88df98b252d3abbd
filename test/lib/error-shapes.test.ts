// Argument errors raised in TypeScript follow docs/errors.md: a TypeError or RangeError with
// `code`, `op` (the public function called) and `argument`, and a message starting
// "<op>: argument '<argument>'". These were plain errors with free-form messages before.
import * as assert from 'node:assert/strict';

import * as cr from '../../lib';
import { Tensor, tidy } from '../../lib/tensor';

type Want = [TypeErrorConstructor | RangeErrorConstructor, string, string];

function assertShape(e: unknown, [type, op, argument]: Want, what: string): boolean {
  const err = e as Error & { code?: string; op?: string; argument?: string };
  assert.ok(err instanceof type, `${what}: expected ${type.name}, got ${String(e)}`);
  assert.equal(err.code, type === TypeError ? 'ERR_INVALID_ARG_TYPE' : 'ERR_OUT_OF_RANGE', `${what}: ${err.message}`);
  assert.equal(err.op, op, `${what}: ${err.message}`);
  assert.equal(err.argument, argument, `${what}: ${err.message}`);
  assert.ok(err.message.startsWith(`${op}: argument '${argument}' `), `${what}: ${err.message}`);
  return true;
}

describe('error shapes: code, op and argument on every TypeScript argument error', () => {
  it('optimisers, schedules, models, modules, training helpers and data', () => {
    const model = cr.models.cifarResNet(8, { classes: 2, init: false, seed: 1 });
    const inner = cr.optim.multiStep({ lr: 1, milestones: [] });
    const ds = cr.data.syntheticDataset({ count: 4, seed: 1 });
    const cases: [string, () => unknown, Want][] = [
      ['SGD params', () => new cr.optim.SGD({} as never, { lr: 0.1 }), [TypeError, 'SGD', 'params']],
      ['SGD param', () => new cr.optim.SGD([1 as never], { lr: 0.1 }), [TypeError, 'SGD', "params['0']"]],
      ['SGD options', () => new cr.optim.SGD([], null as never), [TypeError, 'SGD', 'options']],
      ['SGD nesterov', () => new cr.optim.SGD([], { lr: 0.1, nesterov: true }), [RangeError, 'SGD', 'nesterov']],
      [
        'SGD state',
        () => new cr.optim.SGD(model, { lr: 0.1 }).loadStateDict(new Map([['nope', Tensor.zeros([1])]])),
        [RangeError, 'SGD.loadStateDict', 'state'],
      ],
      ['ResNet layers', () => new cr.models.ResNet({ block: 'basic', layers: [1, 1], stem: 'cifar' }), [RangeError, 'ResNet', 'config.layers']],
      ['ResNet block', () => new cr.models.ResNet({ block: 'huge' as never, layers: [1, 1, 1], stem: 'cifar' }), [RangeError, 'ResNet', 'config.block']],
      ['ResNet stem', () => new cr.models.ResNet({ block: 'basic', layers: [1, 1, 1], stem: 'tiny' as never }), [RangeError, 'ResNet', 'config.stem']],
      ['block shortcut', () => new cr.models.BasicBlock(4, 8, { seed: () => 1, shortcut: 'D' as never }), [TypeError, 'BasicBlock', 'shortcut']],
      ['weights', () => cr.models.create('resnet8', { weights: 7 as never }), [TypeError, 'models.create', 'weights']],
      ['Module.train', () => model.train('yes' as never), [TypeError, 'Module.train', 'mode']],
      ['Module.registerModule', () => model.registerModule('a.b', new cr.nn.ReLU()), [TypeError, 'Module.registerModule', 'name']],
      ['Sequential.at', () => new cr.nn.Sequential().at(3), [RangeError, 'Sequential.at', 'i']],
      ['freeze model', () => cr.nn.freeze({} as never, 'fc'), [TypeError, 'freeze', 'model']],
      ['freeze modules', () => cr.nn.freeze(model, 'layer9'), [RangeError, 'freeze', 'modules']],
      ['multiStep milestones', () => cr.optim.multiStep({ lr: 1, milestones: [5, 3] }), [RangeError, 'multiStep', 'milestones']],
      ['stepByEpochs epochs', () => cr.optim.stepByEpochs({ lr: 1, epochs: 3 as never, itersPerEpoch: 2 }), [TypeError, 'stepByEpochs', 'epochs']],
      ['paperCifar milestones', () => cr.optim.paperCifar({ milestones: [2, 1] }), [RangeError, 'paperCifar', 'milestones']],
      ['linearWarmup inner', () => cr.optim.linearWarmup({} as never, { iters: 2 }), [TypeError, 'linearWarmup', 'inner']],
      ['LRScheduler schedule', () => new cr.optim.LRScheduler({ lr: 1 }, {} as never), [TypeError, 'LRScheduler', 'schedule']],
      ['ResNet110Warmup.observe', () => new cr.optim.ResNet110Warmup(inner).observe(1, 2), [RangeError, 'ResNet110Warmup.observe', 'trainingError']],
      ['parseSchedule', () => cr.train.parseSchedule('warp', 0.1, 10, 2), [RangeError, 'parseSchedule', 'spec']],
      ['MixedPrecision growthFactor', () => new cr.train.MixedPrecision(model, 'fp16', { growthFactor: 1 }), [RangeError, 'MixedPrecision', 'growthFactor']],
      ['MixedPrecision precision', () => new cr.train.MixedPrecision(model, 'fp8' as never), [RangeError, 'MixedPrecision', 'precision']],
      ['CapturedStep fn', () => new cr.train.CapturedStep(3 as never), [TypeError, 'CapturedStep', 'fn']],
      ['CapturedStep warmup', () => new cr.train.CapturedStep(() => [], { warmup: 0 }), [RangeError, 'CapturedStep', 'warmup']],
      ['trainingStepFn parts', () => cr.train.trainingStepFn({ model, mp: {} as never, opt: {} as never }), [TypeError, 'trainingStepFn', 'parts.mp']],
      ['resolveDevice', () => cr.train.resolveDevice('gpu'), [TypeError, 'resolveDevice', 'spec']],
      [
        'lineChart series',
        () => cr.diagnostics.lineChart([{ name: 'a' } as never], { title: '', xLabel: '', yLabel: '' }),
        [TypeError, 'lineChart', 'series[0].points'],
      ],
      ['CifarLoader batchSize', () => new cr.data.CifarLoader(ds, { batchSize: 0 }), [RangeError, 'CifarLoader', 'batchSize']],
      ['CifarDataLoader rank', () => new cr.data.CifarDataLoader(ds, { batchSize: 1, rank: 2, worldSize: 2 }), [RangeError, 'CifarDataLoader', 'rank']],
      ['drawAugmentParams pad', () => cr.data.drawAugmentParams(new cr.data.Rng(1), 1, { pad: 99 }), [RangeError, 'drawAugmentParams', 'pad']],
      ['Rng seed', () => new cr.data.Rng(-1), [RangeError, 'Rng', 'seed']],
      ['syntheticDataset count', () => cr.data.syntheticDataset({ count: 0 }), [RangeError, 'syntheticDataset', 'count']],
      ['imageList entries', () => cr.data.imageList(3 as never), [TypeError, 'imageList', 'entries']],
      [
        'imageList label',
        () => cr.data.imageList([{ path: 'a.png', label: 0 }], { classNames: ['a'], onError: 'ignore' as never }),
        [RangeError, 'imageList', 'onError'],
      ],
      ['Tensor.item', () => Tensor.zeros([2]).item(), [RangeError, 'Tensor.item', 'this']],
      ['tidy', () => tidy(3 as never), [TypeError, 'tidy', 'fn']],
      ['backward', () => cr.backward(Tensor.zeros([1])), [TypeError, 'backward', 'root']],
      ['cuda.memoryStats', () => cr.cuda.memoryStats('gpu0'), [TypeError, 'cuda.memoryStats', 'device']],
      ['saveCheckpoint', () => cr.saveCheckpoint('', model), [TypeError, 'saveCheckpoint', 'file']],
    ];
    try {
      for (const [what, call, want] of cases)
        assert.throws(
          () => tidy(call),
          (e) => assertShape(e, want, what),
          what,
        );
    } finally {
      model.dispose();
    }
  });

  it('async: the data loaders and the diagnostics', async () => {
    const samples = { length: 2, get: async () => ({ image: new Uint8Array(3), shape: [3, 1, 1] as [number, number, number], label: 0 }) };
    const loader = new cr.data.DataLoader(samples, { batchSize: 1 });
    try {
      await assert.rejects(loader.batch(0, 5), (e) => assertShape(e, [RangeError, 'DataLoader.batch', 'index'], 'DataLoader.batch'));
      assert.throws(
        () => loader.epoch(0, 9),
        (e) => assertShape(e, [RangeError, 'DataLoader.epoch', 'from'], 'DataLoader.epoch'),
      );
    } finally {
      loader.dispose();
    }
    const trainer = new cr.Trainer({ device: 'gpu' });
    try {
      await assert.rejects(trainer.setup(), (e) => assertShape(e, [TypeError, 'Trainer', 'device'], 'Trainer device'));
    } finally {
      trainer.dispose();
    }
    await assert.rejects(cr.diagnostics.gradFlow({ models: [] }), (e) => assertShape(e, [TypeError, 'gradFlow', 'models'], 'gradFlow'));
    await assert.rejects(cr.diagnostics.gradFlow({ models: ['resnet8'], steps: [-1] }), (e) =>
      assertShape(e, [RangeError, 'gradFlow', 'steps'], 'gradFlow steps'),
    );
  });
});
