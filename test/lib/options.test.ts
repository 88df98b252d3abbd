// The rest of the public API's options objects (test/lib/checks.test.ts has the first
// ones): schedules, mixed precision, the captured step, the diagnostics and their charts,
// the metrics log, initialisers, freezing, Module methods, ONNX export, image datasets and
// loaders, transforms, blocks and configs. Each refuses a key it does not know with
// ERR_UNKNOWN_OPTION, naming the public function, the key and the known keys.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import * as cr from '../../lib';
import { Tensor, tidy } from '../../lib/tensor';

const BOGUS = { notAnOption: 1 } as never;
const bogus = <T extends object>(o: T): T => ({ ...o, ...(BOGUS as object) });

function assertUnknown(e: unknown, op: string, arg: string): boolean {
  const err = e as TypeError & { code?: string; op?: string; argument?: string };
  assert.ok(err instanceof TypeError, `${op}: expected TypeError, got ${String(e)}`);
  assert.equal(err.code, 'ERR_UNKNOWN_OPTION', `${op}: ${err.message}`);
  assert.equal(err.op, op, err.message);
  assert.equal(err.argument, `${arg}.notAnOption`, err.message);
  assert.match(err.message, new RegExp(`^${op.replace(/\./g, '\\.')}: argument '${arg.replace(/[[\]]/g, '\\$&')}\\.notAnOption' is not an option`));
  assert.match(err.message, /known options: \w/, `${op}: lists the known options`);
  return true;
}

describe('options: unknown keys across the rest of the API', () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cr-options2-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('schedules, training helpers, diagnostics, Module, ONNX, blocks and transforms', () => {
    const model = cr.models.cifarResNet(8, { classes: 2, init: false, seed: 1 });
    const mp = new cr.train.MixedPrecision(model, 'fp32');
    const opt = new cr.optim.SGD(model, { lr: 0.1 });
    const parts = { model, mp, opt };
    const inner = cr.optim.multiStep({ lr: 1, milestones: [] });
    const ds = cr.data.syntheticDataset({ count: 4, seed: 1 });
    const samples = { length: 1, get: async () => ({ image: new Uint8Array(3), shape: [3, 1, 1] as [number, number, number], label: 0 }) };
    const chart = { title: 't', xLabel: 'x', yLabel: 'y' };
    // [public name, call, the argument holding the options]
    const calls: [string, () => unknown, string][] = [
      ['multiStep', () => cr.optim.multiStep(bogus({ lr: 1, milestones: [1] })), 'options'],
      ['paperCifar', () => cr.optim.paperCifar(BOGUS), 'options'],
      ['stepByEpochs', () => cr.optim.stepByEpochs(bogus({ lr: 1, epochs: [1], itersPerEpoch: 2 })), 'options'],
      ['cosine', () => cr.optim.cosine(bogus({ lr: 1, totalIters: 2 })), 'options'],
      ['linearWarmup', () => cr.optim.linearWarmup(inner, bogus({ iters: 2 })), 'options'],
      ['constantWarmup', () => cr.optim.constantWarmup(inner, bogus({ lr: 1, iters: 2 })), 'options'],
      ['ResNet110Warmup', () => new cr.optim.ResNet110Warmup(inner, BOGUS), 'options'],
      ['MixedPrecision', () => new cr.train.MixedPrecision(model, 'fp16', BOGUS), 'options'],
      ['CapturedStep', () => new cr.train.CapturedStep(() => [], BOGUS), 'options'],
      ['capturedTrainingStep', () => cr.train.capturedTrainingStep(parts, BOGUS), 'options'],
      ['lineChart', () => cr.diagnostics.lineChart([], bogus(chart)), 'options'],
      ['lineChart', () => cr.diagnostics.lineChart([bogus({ name: 'a', points: [] })], chart), 'series[0]'],
      ['MetricsLog', () => new cr.train.MetricsLog(path.join(dir, 'metrics'), BOGUS), 'options'],
      ['Progress', () => new cr.train.Progress(bogus({ write: () => {}, tty: false, totalIterations: 1, itersPerEpoch: 1 })), 'options'],
      ['kaimingNormal_', () => cr.nn.kaimingNormal_(Tensor.zeros([2, 2, 1, 1]), BOGUS), 'options'],
      ['freeze', () => cr.nn.freeze(model, 'conv1', BOGUS), 'options'],
      ['Module.loadStateDict', () => model.loadStateDict(new Map(), BOGUS), 'options'],
      ['Module.to', () => model.to(bogus({ device: 'cpu' })), 'target'],
      ['toOnnx', () => cr.onnx.toOnnx(model, BOGUS), 'options'],
      ['exportOnnx', () => cr.onnx.exportOnnx(model, path.join(dir, 'm.onnx'), BOGUS), 'options'],
      ['SGD', () => new cr.optim.SGD(model, { lr: 0.1, groups: [bogus({ params: ['fc'] })] }), 'groups[0]'],
      ['ResNet', () => new cr.models.ResNet(bogus({ block: 'basic' as const, layers: [1, 1, 1], stem: 'cifar' as const })), 'config'],
      ['BasicBlock', () => new cr.models.BasicBlock(4, 4, bogus({ seed: () => 1 })), 'o'],
      ['RandomResizedCrop', () => new cr.data.RandomResizedCrop(8, BOGUS), 'options'],
      ['drawAugmentParams', () => cr.data.drawAugmentParams(new cr.data.Rng(1), 1, BOGUS), 'settings'],
      ['CifarLoader', () => new cr.data.CifarLoader(ds, { batchSize: 2, augment: BOGUS }), 'augment'],
      ['CifarDataLoader', () => new cr.data.CifarDataLoader(ds, bogus({ batchSize: 2 })), 'options'],
      ['DataLoader', () => new cr.data.DataLoader(samples, bogus({ batchSize: 1 })), 'options'],
      ['ImageFolder', () => new cr.data.ImageFolder([], ['a'], BOGUS), 'options'],
      ['imageFolder', () => cr.data.imageFolder(path.join(dir, 'nowhere'), BOGUS), 'options'],
      ['imageList', () => cr.data.imageList([], BOGUS), 'options'],
      ['imageCsv', () => cr.data.imageCsv(path.join(dir, 'nowhere.csv'), BOGUS), 'options'],
      ['ImageFolder.with', () => cr.data.imageList([{ path: 'a.png', label: 0 }]).with(BOGUS), 'options'],
    ];
    try {
      for (const [op, call, arg] of calls)
        assert.throws(
          () => tidy(call),
          (e) => assertUnknown(e, op, arg),
          op,
        );
    } finally {
      opt.dispose?.();
      model.dispose();
    }
  });

  it('the async ones reject', async () => {
    const ds = cr.data.syntheticDataset({ count: 4, seed: 1 });
    const rejects: [string, () => Promise<unknown>][] = [
      ['gradFlow', () => cr.diagnostics.gradFlow(bogus({ models: ['resnet8'] }))],
      ['degradation', () => cr.diagnostics.degradation(BOGUS)],
      ['syntheticSource', () => cr.train.syntheticSource('cifar10', BOGUS)],
      ['writeImageFolder', () => cr.data.writeImageFolder(path.join(dir, 'images'), ds, BOGUS)],
      ['decodeImage', () => cr.data.decodeImage(path.join(dir, 'x.png'), cr.data.evalTransform(8), undefined, bogus({ maxPixels: 10 }))],
    ];
    for (const [op, call] of rejects) await assert.rejects(call(), (e) => assertUnknown(e, op, 'options'), op);
    assert.equal(fs.existsSync(path.join(dir, 'images')), false, 'writeImageFolder wrote nothing');
  });

  it('known keys still work', () => {
    assert.equal(cr.optim.cosine({ lr: 1, totalIters: 2, minLr: 0 }).lrAt(2), 0);
    assert.equal(cr.optim.paperCifar({ lr: 0.5 }).lrAt(0), 0.5);
    assert.ok(
      cr.diagnostics.lineChart([{ name: 'a', points: [[0, 1]], dash: '2 2' }], { title: 't', xLabel: 'x', yLabel: 'y', width: 300 }).startsWith('<svg'),
    );
    const m = cr.models.cifarResNet(8, { classes: 2, init: false, seed: 1 });
    try {
      m.to({ device: 'cpu' });
      m.loadStateDict(m.stateDict(), { strict: true });
      assert.deepEqual(cr.nn.freeze(m, 'conv1', { bnEval: false }), ['conv1.weight']);
    } finally {
      m.dispose();
    }
  });
});
