// The floor counter against figures worked out by hand from the papers' layer tables and
// against torchvision's published counts (ResNet-18 1.81 G, ResNet-50 4.09 G multiply-adds;
// 11,689,512 and 25,557,032 parameters).
import * as assert from 'node:assert/strict';

import { activationBytes, BYTES_PER_PARAMETER, countModel, H100, stepFloor } from '../../bench/flops';
import { create, ResNet } from '../../lib/models/resnet';

const models: ResNet[] = [];
function model(name: string, classes?: number): ResNet {
  const m = create(name, { device: 'cpu', init: false, seed: 0, classes });
  models.push(m);
  return m;
}

/** CIFAR ResNet-(6n+2) multiply-adds per 32x32 image, layer by layer from the paper's section 4.2. */
function cifarMacs(n: number): number {
  const conv = (cin: number, cout: number, hw: number) => cout * hw * hw * cin * 9;
  let macs = conv(3, 16, 32);
  macs += 2 * n * conv(16, 16, 32);
  macs += conv(16, 32, 16) + (2 * n - 1) * conv(32, 32, 16);
  macs += conv(32, 64, 8) + (2 * n - 1) * conv(64, 64, 8);
  return macs + 64 * 10;
}

describe('bench: FLOP and byte counter', () => {
  after(() => models.forEach((m) => m.dispose()));

  it('CIFAR ResNet-20: 40.6 M multiply-adds = 81 MFLOPs forward per image, backward 2x less the stem data gradient', () => {
    const c = countModel(model('resnet20'), 32);
    assert.equal(c.forwardMacs, cifarMacs(3));
    assert.ok(Math.abs(c.forwardMacs - 40.55e6) < 0.05e6, `${c.forwardMacs}`);
    assert.equal(c.forwardFlops, 2 * c.forwardMacs);
    const stem = 2 * 16 * 32 * 32 * 3 * 9;
    assert.equal(c.backwardFlops, 2 * c.forwardFlops - stem);
    assert.equal(c.stepFlops, c.forwardFlops + c.backwardFlops);
    assert.equal(c.layers.filter((l) => l.kind === 'conv').length, 19);
    assert.deepEqual(c.layers[c.layers.length - 1].out, [10, 1, 1]);
    assert.equal(c.parameters, model('resnet20').parameterCount());
  });

  it('CIFAR ResNet-20 activations: input, every conv and BN output, pool and logits', () => {
    const c = countModel(model('resnet20'), 32);
    // stem conv + BN at 16x32x32; 3 stages of 3 blocks x (2 convs + 2 BNs); pool [64]; logits [10]
    const perStage = (ch: number, hw: number) => 3 * 4 * ch * hw * hw;
    const expected = 3 * 32 * 32 + 2 * 16 * 32 * 32 + perStage(16, 32) + perStage(32, 16) + perStage(64, 8) + 64 + 10;
    assert.equal(c.activationElements, expected);
  });

  it('ResNet-56 and plain-56 cost the same (option-A shortcuts have no weights); ResNet-110 follows the formula', () => {
    const r56 = countModel(model('resnet56'), 32);
    const p56 = countModel(model('plain56'), 32);
    assert.equal(r56.forwardMacs, cifarMacs(9));
    assert.equal(p56.forwardMacs, r56.forwardMacs);
    assert.equal(p56.parameters, r56.parameters);
    assert.equal(countModel(model('resnet110'), 32).forwardMacs, cifarMacs(18));
  });

  it('ResNet-50 at 224: 4.09 G multiply-adds = 8.2 GFLOPs forward, 25.56 M parameters', () => {
    const c = countModel(model('resnet50'), 224);
    assert.ok(c.forwardMacs > 4.08e9 && c.forwardMacs < 4.12e9, `${c.forwardMacs}`);
    assert.ok(Math.abs(c.forwardFlops - 8.18e9) < 0.05e9, `${c.forwardFlops}`);
    assert.equal(c.parameters, 25557032);
    assert.equal(c.layers.filter((l) => l.kind === 'conv').length, 53); // 1 + 16 x 3 + 4 projections
    assert.deepEqual(c.layers.find((l) => l.name === 'layer4.2.conv3')?.out, [2048, 7, 7]);
  });

  it('ResNet-18 at 224: 1.81 G multiply-adds, 11.69 M parameters; pre-activation nets count their projections', () => {
    const c = countModel(model('resnet18'), 224);
    assert.ok(Math.abs(c.forwardMacs - 1.814e9) < 0.01e9, `${c.forwardMacs}`);
    assert.equal(c.parameters, 11689512);
    // pre-activation CIFAR nets default to projection shortcuts: two 1x1 convolutions
    const pre = countModel(model('preact-resnet20'), 32);
    assert.equal(pre.forwardMacs, cifarMacs(3) + 32 * 16 * 16 * 16 + 64 * 8 * 8 * 32);
    assert.equal(pre.parameters, model('preact-resnet20').parameterCount());
  });

  it('stepFloor: FLOPs and bytes scale with batch and precision; min time is the larger of compute and memory', () => {
    const c = countModel(model('resnet20'), 32);
    const f32 = stepFloor(c, 128, 'fp32');
    assert.equal(f32.flops, 128 * c.stepFlops);
    assert.equal(f32.parameterBytes, BYTES_PER_PARAMETER * c.parameters);
    assert.equal(f32.activationBytes, 2 * 4 * 128 * c.activationElements);
    assert.equal(f32.peakFlops, H100.fp32);
    assert.equal(f32.minMs, Math.max(f32.computeMs, f32.memoryMs));
    assert.ok(Math.abs(f32.computeMs - (1e3 * f32.flops) / 60e12) < 1e-12);
    assert.ok(Math.abs(f32.memoryMs - (1e3 * f32.bytes) / 3e12) < 1e-12);
    assert.equal(f32.bound, f32.computeMs >= f32.memoryMs ? 'compute' : 'memory');
    assert.ok(Math.abs(f32.maxImagesPerS - 128e3 / f32.minMs) < 1e-6);

    const bf = stepFloor(c, 128, 'bf16');
    assert.equal(bf.activationBytes, f32.activationBytes / 2);
    assert.equal(bf.peakFlops, H100.half);
    assert.equal(stepFloor(c, 128, 'fp32', { tf32: true }).peakFlops, H100.tf32);
    assert.equal(activationBytes('fp16'), 2);
    // ResNet-20 bf16 at 128 moves more bytes than it can hide behind 800 TFLOP/s
    assert.equal(bf.bound, 'memory');
    const custom = stepFloor(c, 1, 'fp32', { ceilings: { name: 'toy', fp32: 1e9, tf32: 1e9, half: 1e9, bandwidth: 1e15 } });
    assert.equal(custom.bound, 'compute');
    assert.ok(Math.abs(custom.minMs - c.stepFlops / 1e6) < 1e-9);
  });

  it('rejects what it cannot count', () => {
    assert.throws(() => countModel({} as ResNet, 32), TypeError);
    assert.throws(() => countModel(model('resnet20'), 0), /imageSize/);
  });
});
