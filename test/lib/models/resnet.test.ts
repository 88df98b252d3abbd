import * as assert from 'node:assert/strict';

import { backward, noGrad, softmaxCrossEntropy } from '../../../lib/autograd';
import { BasicBlock, Bottleneck, BlockOptions, cifarResNet, create, names, PreActBlock, PreActBottleneck } from '../../../lib/models';
import { Module } from '../../../lib/nn';
import { SGD } from '../../../lib/optim';
import { deriveSeed, memory, Tensor, tidy } from '../../../lib/tensor';
import { assertArgError, assertThrowsNamed, randn, rng } from '../../helpers/reference';
import { assertGradClose, numericGrad, pickIndices, project } from '../helpers';

const IMAGENET = /^(resnet|plain|preact-resnet)(18|34|50|101|152)$/;

describe('models: parameter counts', () => {
  // torchvision's numbers (sum of p.numel() over model.parameters()).
  const torchvision: [string, number][] = [
    ['resnet18', 11_689_512],
    ['resnet34', 21_797_672],
    ['resnet50', 25_557_032],
    ['resnet101', 44_549_160],
    ['resnet152', 60_192_808],
  ];
  // CIFAR, option A: conv and fc weights, fc bias, BN weight and bias.
  const cifar: [string, number][] = [
    ['resnet20', 269_722],
    ['resnet32', 464_154],
    ['resnet44', 658_586],
    ['resnet56', 853_018],
    ['resnet110', 1_727_962],
    ['resnet1202', 19_421_274],
  ];
  for (const [name, count] of [...torchvision, ...cifar]) {
    it(`${name}: ${count.toLocaleString('en')}`, () => {
      const m = create(name, { init: false });
      try {
        assert.equal(m.parameterCount(), count);
      } finally {
        m.dispose();
      }
    });
  }

  it("plain nets have the residual nets' parameters (option A shortcuts have none)", () => {
    for (const d of [20, 56]) {
      const p = create(`plain${d}`, { init: false });
      const r = create(`resnet${d}`, { init: false });
      assert.equal(p.parameterCount(), r.parameterCount());
      p.dispose();
      r.dispose();
    }
  });

  it('shortcut B adds the two projections, C one per block', () => {
    const b = create('resnet20', { shortcut: 'B', init: false });
    // layer2.0: 1x1 conv 16->32 + BN(32); layer3.0: 1x1 conv 32->64 + BN(64)
    assert.equal(b.parameterCount(), 269_722 + (16 * 32 + 64) + (32 * 64 + 128));
    const c = create('resnet20', { shortcut: 'C', init: false });
    const perStage = (inC: number, c2: number) => inC * c2 + 2 * c2;
    assert.equal(c.parameterCount(), 269_722 + 3 * perStage(16, 16) + perStage(16, 32) + 2 * perStage(32, 32) + perStage(32, 64) + 2 * perStage(64, 64));
    b.dispose();
    c.dispose();
  });

  it('classes sets the fc size', () => {
    const m = create('resnet20', { classes: 100, init: false });
    assert.equal(m.parameterCount(), 269_722 + 90 * 65);
    m.dispose();
  });
});

describe('models: every name builds and maps images to logits', () => {
  for (const name of names()) {
    const imagenet = IMAGENET.test(name);
    const skipForward = name === 'resnet1202' || name === 'preact-resnet1001';
    it(`${name}${skipForward ? ' (parameters only: its forward is too slow for the CPU suite)' : ''}`, () => {
      const m = create(name, { classes: 7, init: imagenet || skipForward ? false : undefined, seed: 1 });
      try {
        assert.ok(m.parameterCount() > 0);
        if (skipForward) return;
        const size = imagenet ? (name.endsWith('18') || name.endsWith('50') ? 64 : 32) : 16;
        tidy(() =>
          noGrad(() => {
            const y = m.forward(Tensor.randn([2, 3, size, size], { seed: 3 }));
            assert.deepEqual(y.shape, [2, 7]);
            if (!imagenet) assert.ok((y.dataSync() as Float32Array).every(Number.isFinite));
          }),
        );
      } finally {
        m.dispose();
      }
    });
  }

  it('create accepts any CIFAR depth 6n+2, underscores, and refuses unknown names clearly', () => {
    const m = create('ResNet8', { init: false });
    assert.equal(m.stages.length, 3);
    assert.equal(m.stages[0].length, 1);
    m.dispose();
    create('preact_resnet20', { init: false }).dispose();
    assertThrowsNamed(() => create('resnet21'), RangeError, "'resnet21'", 'resnet20');
    assertThrowsNamed(() => create('vgg16'), RangeError, 'unknown model');
    assertThrowsNamed(() => create('resnet20', { classes: 0 }), RangeError, 'classes');
    assertThrowsNamed(() => create('resnet20', { shortcut: 'D' as never }), TypeError, 'shortcut');
    assertThrowsNamed(() => cifarResNet(21), RangeError, 'depth', '6n + 2');
  });

  it('errors name models.create and the option, not an internal op', () => {
    assertArgError(() => create('resnet20', { classes: 2 ** 40 }), RangeError, { code: 'ERR_OUT_OF_RANGE', op: 'models.create', argument: 'classes' }, '<=');
    assertArgError(() => create('resnet20', { classes: 0 }), RangeError, { code: 'ERR_OUT_OF_RANGE', op: 'models.create', argument: 'classes' });
    assertArgError(
      () => create('resnet18', { weigths: 'f.pth' } as never),
      TypeError,
      { code: 'ERR_UNKNOWN_OPTION', op: 'models.create', argument: 'options.weigths' },
      'classes',
      'seed',
    );
    assertArgError(
      () => cifarResNet(20, { clases: 3 } as never),
      TypeError,
      { code: 'ERR_UNKNOWN_OPTION', op: 'cifarResNet', argument: 'options.clases' },
      "did you mean 'classes'",
    );
    assertArgError(() => create('vgg16'), RangeError, { code: 'ERR_OUT_OF_RANGE', op: 'models.create', argument: 'name' }, 'unknown model name');
  });
});

describe('models: torchvision state-dict names', () => {
  it('resnet18: keys, order and count', () => {
    const m = create('resnet18', { init: false });
    const keys = [...m.stateDict().keys()];
    assert.equal(keys.length, 122);
    assert.deepEqual(keys.slice(0, 8), [
      'conv1.weight',
      'bn1.weight',
      'bn1.bias',
      'bn1.running_mean',
      'bn1.running_var',
      'bn1.num_batches_tracked',
      'layer1.0.conv1.weight',
      'layer1.0.bn1.weight',
    ]);
    for (const k of ['layer2.0.downsample.0.weight', 'layer2.0.downsample.1.running_var', 'layer4.1.bn2.num_batches_tracked']) assert.ok(keys.includes(k), k);
    assert.ok(!keys.includes('layer1.0.downsample.0.weight'));
    assert.deepEqual(keys.slice(-2), ['fc.weight', 'fc.bias']);
    assert.equal(m.stateDict().get('bn1.num_batches_tracked'), 0n);
    m.dispose();
  });

  it('resnet50: bottleneck names, 320 entries', () => {
    const m = create('resnet50', { init: false });
    const keys = [...m.stateDict().keys()];
    assert.equal(keys.length, 320);
    for (const k of ['layer1.0.conv3.weight', 'layer1.0.bn3.bias', 'layer1.0.downsample.0.weight', 'layer3.5.conv2.weight']) assert.ok(keys.includes(k), k);
    assert.deepEqual(
      m.stateDict().get('layer1.0.conv3.weight') instanceof Tensor && (m.stateDict().get('layer1.0.conv3.weight') as Tensor).shape,
      [256, 64, 1, 1],
    );
    m.dispose();
  });
});

describe('models: blocks against finite differences', () => {
  const blockCases: [string, (o: BlockOptions) => Module, number][] = [
    ['BasicBlock, option B projection, stride 2', (o) => new BasicBlock(3, 6, { ...o, stride: 2, shortcut: 'B' }), 3],
    ['BasicBlock, option A, stride 2', (o) => new BasicBlock(3, 6, { ...o, stride: 2, shortcut: 'A' }), 3],
    ['BasicBlock, identity', (o) => new BasicBlock(4, 4, { ...o, shortcut: 'B' }), 4],
    ['Bottleneck, projection, stride 2', (o) => new Bottleneck(4, 2, { ...o, stride: 2, shortcut: 'B' }), 4],
    ['PreActBlock, projection, stride 2', (o) => new PreActBlock(3, 6, { ...o, stride: 2, shortcut: 'B' }), 3],
    ['PreActBottleneck, identity', (o) => new PreActBottleneck(8, 2, { ...o }), 8],
  ];
  for (const [title, make, inC] of blockCases) {
    it(`${title}: input and parameter gradients`, () => {
      let n = 0;
      const block = make({ seed: () => deriveSeed(11, n++) });
      try {
        tidy(() => {
          const x = Tensor.fromArray(randn(2 * inC * 5 * 5, 21), [2, inC, 5, 5]);
          x.requiresGrad = true;
          const y = block.forward(x);
          const w = randn(y.size, 22);
          backward(y, Tensor.fromArray(w, y.shape));
          const f = () => project(block.forward(x), w);
          const check = (t: Tensor, what: string, seed: number) => {
            const idx = pickIndices(t.size, 12, seed);
            const g = t.grad!.dataSync();
            assertGradClose(
              idx.map((i) => g[i]),
              numericGrad(t, f, idx, 5e-4),
              3e-2,
              `${title}: ${what}`,
            );
          };
          check(x, 'input', 1);
          const params = block.namedParameters();
          const pick = params.filter(([k]) => /conv1\.weight|bn1\.weight|bn2\.bias|downsample\.0\.weight|conv3\.weight|conv2\.weight/.test(k));
          assert.ok(pick.length >= 3);
          pick.forEach(([k, p], i) => check(p, k, 10 + i));
        });
      } finally {
        block.dispose();
      }
    });
  }
});

// A learnable task: each class is a fixed random image; samples are it plus noise.
function syntheticData(count: number, classes: number, size: number, seed: number): { x: Float32Array; y: Int32Array } {
  const templates = Array.from({ length: classes }, (_, c) => randn(3 * size * size, seed + c));
  const r = rng(seed + 100);
  const noise = randn(count * 3 * size * size, seed + 200, 0.8);
  const x = new Float32Array(count * 3 * size * size);
  const y = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    y[i] = Math.floor(r() * classes);
    const t = templates[y[i]];
    for (let j = 0; j < t.length; j++) x[i * t.length + j] = t[j] + noise[i * t.length + j];
  }
  return { x, y };
}

function trainStep(model: Module, opt: SGD, x: Tensor, y: Tensor): number {
  return tidy(() => {
    opt.zeroGrad();
    const { loss } = softmaxCrossEntropy(model.forward(x), y);
    backward(loss);
    opt.step();
    return loss.item();
  });
}

describe('models: training', () => {
  it('a CIFAR ResNet-8 learns a synthetic task: mean loss of the last 5 steps < 1/4 of the first 5', () => {
    const size = 12;
    const per = 3 * size * size;
    const data = syntheticData(256, 4, size, 5);
    const model = cifarResNet(8, { classes: 4, seed: 3 });
    const opt = new SGD(model, { lr: 0.05, momentum: 0.9, weightDecay: 1e-4 });
    const losses: number[] = [];
    try {
      for (let step = 0; step < 40; step++) {
        const b = (step * 32) % 256;
        tidy(() => {
          const x = Tensor.fromArray(data.x.subarray(b * per, (b + 32) * per), [32, 3, size, size]);
          const y = Tensor.fromArray(data.y.subarray(b, b + 32), [32]);
          losses.push(trainStep(model, opt, x, y));
        });
      }
    } finally {
      model.dispose();
      opt.dispose();
    }
    const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;
    const first = mean(losses.slice(0, 5));
    const last = mean(losses.slice(-5));
    assert.ok(last < first / 4, `loss went from ${first.toFixed(3)} to ${last.toFixed(3)}`);
  });

  it('no leaks: live tensors and bytes return to their values after 10 more steps', () => {
    const model = cifarResNet(8, { classes: 4, seed: 4 });
    const opt = new SGD(model, { lr: 0.01, momentum: 0.9, nesterov: true, weightDecay: 5e-4 });
    const x = Tensor.randn([8, 3, 8, 8], { seed: 1 });
    const y = Tensor.fromArray(Int32Array.from([0, 1, 2, 3, 0, 1, 2, 3]), [8]);
    try {
      trainStep(model, opt, x, y); // creates the gradients and momentum buffers
      const start = memory();
      for (let i = 0; i < 10; i++) trainStep(model, opt, x, y);
      const end = memory();
      assert.equal(end.liveTensors, start.liveTensors);
      assert.equal(end.cpuBytes, start.cpuBytes);
      assert.equal(end.cudaBytes, start.cudaBytes);
    } finally {
      model.dispose();
      opt.dispose();
      x.dispose();
      y.dispose();
    }
  });

  it('an fp32 model trains on bfloat16 NHWC inputs (fp32 master weights, fp32 NCHW gradients)', () => {
    const model = cifarResNet(8, { classes: 4, seed: 6 });
    const opt = new SGD(model, { lr: 0.1, momentum: 0.9 });
    const x = tidy(() => Tensor.randn([8, 3, 8, 8], { seed: 7 }).to({ dtype: 'bfloat16', layout: 'NHWC' }));
    const y = Tensor.fromArray(Int32Array.from([0, 1, 2, 3, 0, 1, 2, 3]), [8]);
    try {
      const losses = Array.from({ length: 6 }, () => trainStep(model, opt, x, y));
      assert.ok(losses.every(Number.isFinite));
      assert.ok(losses[5] < losses[0], `loss ${losses[0]} -> ${losses[5]}`);
      const g = model.conv1.weight.grad!;
      assert.equal(g.dtype, 'float32');
      assert.equal(g.layout, 'NCHW');
      assert.equal(model.conv1.weight.dtype, 'float32');
    } finally {
      for (const t of [model, opt, x, y]) t.dispose();
    }
  });

  it('an NHWC model on NHWC input gives the NCHW loss and gradients', () => {
    const run = (layout: 'NCHW' | 'NHWC') =>
      tidy(() => {
        const m = cifarResNet(8, { classes: 4, seed: 8 });
        if (layout === 'NHWC') m.toLayout('NHWC');
        const x = Tensor.randn([4, 3, 8, 8], { seed: 9 }).to(layout);
        const { loss } = softmaxCrossEntropy(m.forward(x), Tensor.fromArray(Int32Array.from([0, 1, 2, 3]), [4]));
        backward(loss);
        const w = m.stages[1].at(0) as BasicBlock;
        assert.equal(w.conv1.weight.grad!.layout, layout);
        const out = { loss: loss.item(), grad: Array.from(w.conv1.weight.grad!.dataSync()), bn: Array.from(w.bn2.weight.grad!.dataSync()) };
        m.dispose();
        return out;
      });
    const a = run('NCHW');
    const b = run('NHWC');
    assert.ok(Math.abs(a.loss - b.loss) < 1e-5);
    a.grad.forEach((v, i) => assert.ok(Math.abs(v - b.grad[i]) <= 1e-4 * (1 + Math.abs(v)), `conv grad ${i}`));
    a.bn.forEach((v, i) => assert.ok(Math.abs(v - b.bn[i]) <= 1e-4 * (1 + Math.abs(v)), `bn grad ${i}`));
  });

  it("grad hooks on modules see each block output's gradient", () => {
    const model = cifarResNet(8, { classes: 3, seed: 5 });
    const seen: [string, number[]][] = [];
    for (const [name, m] of model.namedModules()) {
      if (/^layer\d\.\d$/.test(name)) m.registerGradHook((g) => seen.push([name, g.shape]));
    }
    tidy(() => {
      const { loss } = softmaxCrossEntropy(model.forward(Tensor.randn([2, 3, 8, 8], { seed: 2 })), Tensor.fromArray(Int32Array.from([0, 2]), [2]));
      backward(loss);
    });
    assert.deepEqual(seen, [
      ['layer3.0', [2, 64, 2, 2]],
      ['layer2.0', [2, 32, 4, 4]],
      ['layer1.0', [2, 16, 8, 8]],
    ]);
    model.dispose();
  });

  it('zeroInitResidual zeroes the last BN weight of each residual branch', () => {
    const m = create('resnet20', { zeroInitResidual: true, seed: 1 });
    const sd = m.stateDict();
    assert.ok((sd.get('layer1.0.bn2.weight') as Tensor).dataSync().every((v) => v === 0));
    assert.ok((sd.get('layer1.0.bn1.weight') as Tensor).dataSync().every((v) => v === 1));
    m.dispose();
  });
});
