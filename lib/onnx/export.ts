// ONNX export of the ResNet family (opset 13): the model in eval mode (batch norm uses its
// running statistics) as standard operators only, so any ONNX runtime can run it:
//   Conv (batch norm folded into its weights and bias, or a BatchNormalization node),
//   Relu, Add, MaxPool (ImageNet stem), GlobalAveragePool, Flatten, Gemm (fc), and the
//   option-A shortcut as Slice (steps = stride over H and W) + Pad (zero channels).
// Pre-activation nets normalise block inputs that no convolution precedes; those batch
// norms (and bn_final) are always BatchNormalization nodes.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { writeFileAtomic } from '../checkpoint/safetensors';
import { BasicBlock, Bottleneck, PreActBlock, PreActBottleneck } from '../models/blocks';
import { ResNet } from '../models/resnet';
import { BatchNorm2d, Conv2d, Sequential } from '../nn/layers';
import { Module } from '../nn/module';
import { badArg, checkOptions, optionNames } from '../checks';
import { describe } from '../tensor';
import { GraphBuilder } from './graph';
import { DataType, encodeModel, OnnxModel, OnnxValueInfo } from './proto';

export const ONNX_OPSET = 13;
const IR_VERSION = 7;

export interface OnnxExportOptions {
  /** 'dynamic' (default: a symbolic batch dimension) or a fixed batch size. */
  batch?: 'dynamic' | number;
  /** Input height and width (one number for square images). Default 224 for ImageNet models, 32 for CIFAR ones. */
  imageSize?: number | [number, number];
  /** Fold each batch norm that follows a convolution into it (default true); false keeps BatchNormalization nodes. */
  foldBatchNorm?: boolean;
  /** Graph input and output names (default 'input' and 'logits'). */
  inputName?: string;
  outputName?: string;
}

function host(t: { dataSync(): ArrayLike<number> }): Float64Array {
  return Float64Array.from(t.dataSync());
}

function packageVersion(): string {
  for (let dir = __dirname; path.dirname(dir) !== dir; dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    if (!fs.existsSync(file)) continue;
    const pkg = JSON.parse(fs.readFileSync(file, 'utf8')) as { name?: string; version?: string };
    if (pkg.name === 'cudnn-resnet' && pkg.version) return pkg.version;
  }
  return 'unknown';
}

class Exporter {
  readonly g = new GraphBuilder();

  constructor(private readonly fold: boolean) {}

  /** conv -> [bn] -> [relu]; the batch norm folded into the convolution when allowed. */
  conv(x: string, conv: Conv2d, prefix: string, bn: BatchNorm2d | null, bnPrefix: string, relu: boolean): string {
    const [O, I, K] = [conv.outChannels, conv.inChannels, conv.kernelSize];
    let w = host(conv.weight);
    let b: Float64Array | null = conv.bias ? host(conv.bias) : null;
    const attrs = {
      kernel_shape: [K, K],
      strides: [conv.stride, conv.stride],
      pads: Array(4).fill(conv.padding),
      dilations: [conv.dilation, conv.dilation],
      group: 1,
    };
    let name = prefix;
    if (bn && this.fold) {
      // y = gamma (conv(x) + b - mean) / sqrt(var + eps) + beta, per output channel.
      const gamma = host(bn.weight),
        beta = host(bn.bias),
        mean = host(bn.runningMean),
        variance = host(bn.runningVar);
      const per = I * K * K;
      const wf = new Float64Array(w.length);
      const bf = new Float64Array(O);
      for (let o = 0; o < O; o++) {
        const s = gamma[o] / Math.sqrt(variance[o] + bn.eps);
        for (let j = 0; j < per; j++) wf[o * per + j] = w[o * per + j] * s;
        bf[o] = ((b ? b[o] : 0) - mean[o]) * s + beta[o];
      }
      w = wf;
      b = bf;
      name = `${prefix}+${bnPrefix}`;
    }
    const inputs = [x, this.g.floats(`${prefix}.weight`, [O, I, K, K], w)];
    if (b) inputs.push(this.g.floats(bn && this.fold ? `${bnPrefix}.folded_bias` : `${prefix}.bias`, [O], b));
    let y = this.g.node('Conv', inputs, name, attrs);
    if (bn && !this.fold) y = this.batchNorm(y, bn, bnPrefix, false);
    return relu ? this.g.node('Relu', [y], `${name}.relu`) : y;
  }

  batchNorm(x: string, bn: BatchNorm2d, prefix: string, relu: boolean): string {
    const C = bn.numFeatures;
    const y = this.g.node(
      'BatchNormalization',
      [
        x,
        this.g.floats(`${prefix}.weight`, [C], host(bn.weight)),
        this.g.floats(`${prefix}.bias`, [C], host(bn.bias)),
        this.g.floats(`${prefix}.running_mean`, [C], host(bn.runningMean)),
        this.g.floats(`${prefix}.running_var`, [C], host(bn.runningVar)),
      ],
      prefix,
      { epsilon: { float: bn.eps } },
    );
    return relu ? this.g.node('Relu', [y], `${prefix}.relu`) : y;
  }

  /** The option-A shortcut: x[:, :, ::s, ::s] with (out - in) / 2 zero channels in front and the rest behind. */
  shortcutA(x: string, inC: number, outC: number, stride: number, prefix: string): string {
    let y = x;
    if (stride !== 1) {
      const big = Number.MAX_SAFE_INTEGER;
      y = this.g.node(
        'Slice',
        [
          y,
          this.g.int64s(`${prefix}.starts`, [0, 0]),
          this.g.int64s(`${prefix}.ends`, [big, big]),
          this.g.int64s(`${prefix}.axes`, [2, 3]),
          this.g.int64s(`${prefix}.steps`, [stride, stride]),
        ],
        `${prefix}.subsample`,
      );
    }
    if (outC !== inC) {
      const front = Math.floor((outC - inC) / 2);
      y = this.g.node('Pad', [y, this.g.int64s(`${prefix}.pads`, [0, front, 0, 0, 0, outC - inC - front, 0, 0])], `${prefix}.pad`, { mode: 'constant' });
    }
    return y;
  }

  shortcut(x: string, block: BasicBlock | Bottleneck | PreActBlock | PreActBottleneck, prefix: string, plain: boolean, withBn: boolean): string | null {
    if (plain) return null;
    const ds = [...block.children()].find(([n]) => n === 'downsample')?.[1] as Sequential | undefined;
    if (ds) {
      const conv = ds.at(0) as Conv2d;
      const bn = withBn ? (ds.at(1) as BatchNorm2d) : null;
      return this.conv(x, conv, `${prefix}.downsample.0`, bn, `${prefix}.downsample.1`, false);
    }
    if (block.stride !== 1 || block.inChannels !== block.outChannels)
      return this.shortcutA(x, block.inChannels, block.outChannels, block.stride, `${prefix}.shortcut`);
    return x;
  }

  block(x: string, block: Module, p: string, plain: boolean): string {
    const add = (a: string, sc: string | null, relu: boolean) => {
      if (sc === null) return relu ? this.g.node('Relu', [a], `${p}.relu`) : a;
      const s = this.g.node('Add', [a, sc], `${p}.add`);
      return relu ? this.g.node('Relu', [s], `${p}.relu`) : s;
    };
    if (block instanceof BasicBlock) {
      const a = this.conv(x, block.conv1, `${p}.conv1`, block.bn1, `${p}.bn1`, true);
      const b = this.conv(a, block.conv2, `${p}.conv2`, block.bn2, `${p}.bn2`, false);
      return add(b, this.shortcut(x, block, p, plain, true), true);
    }
    if (block instanceof Bottleneck) {
      let a = this.conv(x, block.conv1, `${p}.conv1`, block.bn1, `${p}.bn1`, true);
      a = this.conv(a, block.conv2, `${p}.conv2`, block.bn2, `${p}.bn2`, true);
      a = this.conv(a, block.conv3, `${p}.conv3`, block.bn3, `${p}.bn3`, false);
      return add(a, this.shortcut(x, block, p, plain, true), true);
    }
    if (block instanceof PreActBlock || block instanceof PreActBottleneck) {
      const pre = block.bn1 ? this.batchNorm(x, block.bn1, `${p}.bn1`, true) : x;
      let a: string;
      if (block instanceof PreActBlock) {
        a = this.conv(pre, block.conv1, `${p}.conv1`, block.bn2, `${p}.bn2`, true);
        a = this.conv(a, block.conv2, `${p}.conv2`, null, '', false);
      } else {
        a = this.conv(pre, block.conv1, `${p}.conv1`, block.bn2, `${p}.bn2`, true);
        a = this.conv(a, block.conv2, `${p}.conv2`, block.bn3, `${p}.bn3`, true);
        a = this.conv(a, block.conv3, `${p}.conv3`, null, '', false);
      }
      const identity = !plain && block.stride === 1 && block.inChannels === block.outChannels && ![...block.children()].some(([n]) => n === 'downsample');
      return add(a, this.shortcut(identity ? x : pre, block, p, plain, false), false);
    }
    throw new TypeError(`exportOnnx: unsupported block ${describe(block)} at ${p}`);
  }
}

function valueInfo(name: string, dims: (number | string)[]): OnnxValueInfo {
  return {
    name,
    type: { tensorType: { elemType: DataType.FLOAT, shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) } } },
  };
}

/** The ONNX model (protobuf bytes) of a ResNet in eval mode. Reads every weight to the host. */
export function toOnnx(model: ResNet, opts: OnnxExportOptions = {}): Uint8Array {
  return onnxBytes('toOnnx', model, opts);
}

const ONNX_EXPORT_OPTIONS = optionNames<OnnxExportOptions>({ batch: true, imageSize: true, foldBatchNorm: true, inputName: true, outputName: true });

// toOnnx under the name of the public function that was called (errors name it).
function onnxBytes(op: string, model: ResNet, opts: OnnxExportOptions): Uint8Array {
  if (!(model instanceof ResNet)) throw badArg('type', `${op}: model`, `must be a ResNet (models.create), got ${describe(model)}`);
  checkOptions(op, opts, ONNX_EXPORT_OPTIONS);
  const batch = opts.batch ?? 'dynamic';
  if (batch !== 'dynamic' && !(Number.isSafeInteger(batch) && batch >= 1))
    throw badArg('range', `${op}: batch`, `must be 'dynamic' or an integer >= 1, got ${describe(batch)}`);
  const cifar = model.config.stem === 'cifar';
  const size = opts.imageSize ?? (cifar ? 32 : 224);
  const [H, W] = Array.isArray(size) ? size : [size, size];
  for (const [v, arg] of [
    [H, 'height'],
    [W, 'width'],
  ] as const)
    if (!Number.isSafeInteger(v) || v < 1) throw badArg('range', `${op}: imageSize`, `(${arg}) must be an integer >= 1, got ${describe(v)}`);
  const fold = opts.foldBatchNorm ?? true;
  if (typeof fold !== 'boolean') throw badArg('type', `${op}: foldBatchNorm`, `must be a boolean, got ${describe(fold)}`);
  const inputName = opts.inputName ?? 'input';
  const outputName = opts.outputName ?? 'logits';
  if (typeof inputName !== 'string' || typeof outputName !== 'string' || !inputName || !outputName || inputName === outputName)
    throw badArg(
      'type',
      `${op}: ${typeof inputName === 'string' && inputName ? 'outputName' : 'inputName'}`,
      `must be a non-empty string, inputName and outputName different, got ${describe(inputName)} and ${describe(outputName)}`,
    );

  const e = new Exporter(fold);
  const g = e.g;
  g.name(inputName);
  g.name(outputName);
  let h = model.bn1 ? e.conv(inputName, model.conv1, 'conv1', model.bn1, 'bn1', true) : e.conv(inputName, model.conv1, 'conv1', null, '', false);
  if (!cifar) h = g.node('MaxPool', [h], 'maxpool', { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] });
  model.stages.forEach((stage, s) => {
    for (let b = 0; b < stage.length; b++) h = e.block(h, stage.at(b), `layer${s + 1}.${b}`, model.config.plain ?? false);
  });
  if (model.bnFinal) h = e.batchNorm(h, model.bnFinal, 'bn_final', true);
  h = g.node('GlobalAveragePool', [h], 'avgpool');
  h = g.node('Flatten', [h], 'flatten', { axis: 1 });
  const fcIn = [h, g.floats('fc.weight', model.fc.weight.shape, host(model.fc.weight))];
  if (model.fc.bias) fcIn.push(g.floats('fc.bias', model.fc.bias.shape, host(model.fc.bias)));
  g.node('Gemm', fcIn, 'fc', { transB: 1 }, outputName);

  const N = batch === 'dynamic' ? 'batch' : batch;
  const onnx: OnnxModel = {
    irVersion: IR_VERSION,
    opsetImport: [{ domain: '', version: ONNX_OPSET }],
    producerName: 'cudnn-resnet',
    producerVersion: packageVersion(),
    graph: {
      name: 'resnet',
      node: g.nodes,
      initializer: g.initializers,
      input: [valueInfo(inputName, [N, model.conv1.inChannels, H, W])],
      output: [valueInfo(outputName, [N, model.classes])],
    },
    metadataProps: [{ key: 'batch_norm', value: fold ? 'folded' : 'nodes' }],
  };
  return encodeModel(onnx);
}

/** Writes the ONNX model of a ResNet (eval mode) to `file`, atomically. See toOnnx. */
export function exportOnnx(model: ResNet, file: string, opts: OnnxExportOptions = {}): void {
  if (typeof file !== 'string' || file === '') throw badArg('type', 'exportOnnx: file', `must be a path, got ${describe(file)}`);
  writeFileAtomic(file, onnxBytes('exportOnnx', model, opts));
}
