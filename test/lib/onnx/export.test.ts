// ONNX export checked by a real consumer: onnxruntime-node (CPU) runs each exported model
// and its logits must match this package's eval-mode forward.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import * as ort from 'onnxruntime-node';

import { backward, noGrad, softmaxCrossEntropy } from '../../../lib/autograd';
import { onnxAllModels } from '../../../lib/env';
import { create, names, ResNet } from '../../../lib/models';
import { batchNormLayers } from '../../../lib/nn';
import { decodeModel, exportOnnx, toOnnx } from '../../../lib/onnx';
import { SGD } from '../../../lib/optim';
import { Tensor, tidy } from '../../../lib/tensor';
import { rng, assertArgError, assertThrowsNamed } from '../../helpers/reference';
import { fixture } from '../checkpoint/fixtures';

const STANDARD_OPS = new Set(['Conv', 'BatchNormalization', 'Relu', 'Add', 'MaxPool', 'GlobalAveragePool', 'Flatten', 'Gemm', 'Slice', 'Pad']);
// Exported and run numerically by default; the largest nets (same code paths as resnet50,
// preact-resnet50 and resnet110) are only checked when CUDNN_RESNET_ONNX_ALL=1 (env.onnxAllModels()).
const LARGE = new Set(['resnet101', 'resnet152', 'resnet1202', 'preact-resnet101', 'preact-resnet152', 'preact-resnet1001']);

/** Random affine parameters and running statistics in every batch norm, so eval mode is not the identity. */
function randomizeBn(m: ResNet, seed: number): void {
  const r = rng(seed);
  const u = (n: number, lo: number, hi: number) => Float32Array.from({ length: n }, () => lo + (hi - lo) * r());
  tidy(() => {
    for (const bn of batchNormLayers(m)) {
      const c = bn.numFeatures;
      bn.weight.copyFrom(Tensor.fromArray(u(c, 0.5, 1.5), [c]));
      bn.bias.copyFrom(Tensor.fromArray(u(c, -0.2, 0.2), [c]));
      bn.runningMean.copyFrom(Tensor.fromArray(u(c, -0.3, 0.3), [c]));
      bn.runningVar.copyFrom(Tensor.fromArray(u(c, 0.5, 2), [c]));
    }
  });
}

function inputFor(m: ResNet, n: number, size: number, seed: number): { data: Float32Array; dims: number[] } {
  const r = rng(seed);
  const dims = [n, m.conv1.inChannels, size, size];
  return { data: Float32Array.from({ length: dims.reduce((a, b) => a * b) }, () => 2 * r() - 1), dims };
}

function ours(m: ResNet, x: { data: Float32Array; dims: number[] }): Float32Array {
  return tidy(() => Float32Array.from(noGrad(() => m.eval().forward(Tensor.fromArray(x.data, x.dims))).dataSync() as Float32Array));
}

async function theirs(bytes: Uint8Array, x: { data: Float32Array; dims: number[] }): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(bytes);
  try {
    const out = await session.run({ input: new ort.Tensor('float32', x.data, x.dims) });
    return out.logits.data as Float32Array;
  } finally {
    await session.release();
  }
}

function compare(name: string, a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length, `${name}: ${a.length} vs ${b.length} logits`);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  assert.ok(Number.isFinite(diff) && diff <= 1e-4 * Math.max(1, scale), `${name}: logits differ by ${diff} (largest |logit| ${scale})`);
  return diff;
}

describe('ONNX export (checked with onnxruntime-node)', function () {
  this.timeout(600000);
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cr-onnx-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  const all = onnxAllModels();
  for (const name of names()) {
    const large = LARGE.has(name);
    it(`${name}: random weights give onnxruntime's logits${large && !all ? ' (export and structure only)' : ''}`, async () => {
      // Structure-only exports skip the (slow) weight fills: their values are not looked at.
      const m = create(name, { classes: 7, seed: 11, init: all || !large });
      try {
        randomizeBn(m, 12);
        const cifar = m.config.stem === 'cifar';
        const size = cifar ? 8 : 32;
        const bytes = toOnnx(m, { imageSize: size });
        const decoded = decodeModel(bytes);
        for (const n of decoded.graph.node) assert.ok(STANDARD_OPS.has(n.opType), `${name}: op ${n.opType}`);
        const convs = m.namedModules().filter(([, x]) => x.constructor.name === 'Conv2d').length;
        assert.equal(decoded.graph.node.filter((n) => n.opType === 'Conv').length, convs);
        if (large && !all) return;
        const x = inputFor(m, 2, size, 13);
        compare(name, await theirs(bytes, x), ours(m, x));
      } finally {
        m.dispose();
      }
    });
  }

  it('BatchNormalization nodes (foldBatchNorm false) give the same logits as folding', async () => {
    for (const name of ['resnet20', 'resnet18', 'preact-resnet20']) {
      const m = create(name, { classes: 5, seed: 21 });
      try {
        randomizeBn(m, 22);
        const size = m.config.stem === 'cifar' ? 8 : 32;
        const bytes = toOnnx(m, { imageSize: size, foldBatchNorm: false });
        const ops = decodeModel(bytes).graph.node.map((n) => n.opType);
        assert.equal(ops.filter((o) => o === 'BatchNormalization').length, batchNormLayers(m).length);
        const x = inputFor(m, 2, size, 23);
        compare(`${name} (BN nodes)`, await theirs(bytes, x), ours(m, x));
      } finally {
        m.dispose();
      }
    }
  });

  it('option-A shortcuts become Slice (steps) + Pad', () => {
    const m = create('resnet8', { seed: 1 });
    try {
      const ops = decodeModel(toOnnx(m)).graph.node.map((n) => n.opType);
      assert.equal(ops.filter((o) => o === 'Slice').length, 2);
      assert.equal(ops.filter((o) => o === 'Pad').length, 2);
      const b = create('resnet20', { seed: 1, shortcut: 'B' });
      assert.ok(!decodeModel(toOnnx(b)).graph.node.some((n) => n.opType === 'Slice' || n.opType === 'Pad'));
      b.dispose();
    } finally {
      m.dispose();
    }
  });

  it('trained weights: the .pth fixture after a few SGD steps, written to a file', async () => {
    const m = create('resnet8', { weights: fixture('resnet8.pth'), seed: 2 });
    const opt = new SGD(m, { lr: 0.05, momentum: 0.9 });
    try {
      for (let s = 0; s < 3; s++) {
        tidy(() => {
          m.train();
          const x = Tensor.randn([8, 3, 16, 16], { seed: 30 + s });
          const { loss } = softmaxCrossEntropy(m.forward(x), Tensor.fromArray(Int32Array.from([0, 1, 2, 3, 4, 5, 6, 7]), [8]));
          backward(loss);
          opt.step();
          opt.zeroGrad();
        });
      }
      const file = path.join(dir, 'resnet8.onnx');
      exportOnnx(m, file, { imageSize: 16 });
      const x = inputFor(m, 3, 16, 31);
      compare('resnet8 trained', await theirs(fs.readFileSync(file), x), ours(m, x));
    } finally {
      opt.dispose();
      m.dispose();
    }
  });

  it('a dynamic batch runs any batch size; a fixed one is declared in the graph', async () => {
    const m = create('resnet8', { seed: 3 });
    try {
      randomizeBn(m, 4);
      const dynamic = toOnnx(m, { imageSize: 8 });
      for (const n of [1, 5]) {
        const x = inputFor(m, n, 8, 40 + n);
        compare(`batch ${n}`, await theirs(dynamic, x), ours(m, x));
      }
      const fixed = decodeModel(toOnnx(m, { batch: 4, imageSize: [8, 12] }));
      assert.deepEqual(fixed.graph.input[0].type.tensorType.shape.dim, [{ dimValue: 4 }, { dimValue: 3 }, { dimValue: 8 }, { dimValue: 12 }]);
      assert.deepEqual(fixed.graph.output[0].type.tensorType.shape.dim, [{ dimValue: 4 }, { dimValue: 10 }]);
      assert.deepEqual(decodeModel(dynamic).graph.input[0].type.tensorType.shape.dim[0], { dimParam: 'batch' });
      const session = await ort.InferenceSession.create(toOnnx(m, { batch: 2, imageSize: 8 }));
      try {
        const x = inputFor(m, 3, 8, 50);
        await assert.rejects(session.run({ input: new ort.Tensor('float32', x.data, x.dims) }));
      } finally {
        await session.release();
      }
    } finally {
      m.dispose();
    }
  });

  it('argument errors name the argument', () => {
    const m = create('resnet8', { seed: 5 });
    try {
      assertArgError(() => toOnnx({} as ResNet), TypeError, { op: 'toOnnx', argument: 'model' }, 'must be a ResNet');
      assertThrowsNamed(() => toOnnx(m, { batch: 0 }), RangeError, 'batch');
      assertThrowsNamed(() => toOnnx(m, { batch: 'auto' as 'dynamic' }), RangeError, 'batch');
      assertArgError(() => toOnnx(m, { imageSize: 0 }), RangeError, { op: 'toOnnx', argument: 'imageSize' }, 'height');
      assertArgError(() => toOnnx(m, { imageSize: [8, 2.5] }), RangeError, { op: 'toOnnx', argument: 'imageSize' }, 'width');
      assertThrowsNamed(() => toOnnx(m, { foldBatchNorm: 1 as unknown as boolean }), TypeError, 'foldBatchNorm');
      assertThrowsNamed(() => toOnnx(m, { inputName: 'x', outputName: 'x' }), TypeError, 'inputName');
      assertArgError(() => exportOnnx(m, ''), TypeError, { op: 'exportOnnx', argument: 'file' });
      assertArgError(() => exportOnnx(m, 'm.onnx', { batch: 0 }), RangeError, { op: 'exportOnnx', argument: 'batch' });
    } finally {
      m.dispose();
    }
  });
});
