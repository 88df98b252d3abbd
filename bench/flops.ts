// The floor under a training step: FLOPs and the fewest bytes it must move, from the
// model's own layer shapes, over the H100's measured ceilings.
//
// Conventions (bench/results/README.md repeats them):
// - A multiply-add is 2 FLOPs. Only convolutions and linear layers count (batch norm, ReLU,
//   pooling, the loss and SGD are O(activations), not O(activations x fan-in)). CIFAR
//   ResNet-20's forward is 40.6 M multiply-adds = 81 MFLOPs per 32x32 image; ResNet-50's
//   is 4.09 G multiply-adds = 8.2 GFLOPs per 224x224 image.
// - Backward is 2x forward (data gradient + weight gradient), except the stem
//   convolution's data gradient, which nobody computes (the input needs no gradient).
// - Bytes: parameters, gradients and momentum in fp32 (the master copies), each read once
//   and written once (24 bytes per parameter); activations, at the row's precision (the
//   input, every convolution output, every batch-norm output with its fused add and ReLU,
//   pool outputs, pre-activation adds, the logits), each written once and read once.
//   Activation gradients and batch-norm statistics are left out, so this is a lower bound.
import { BasicBlock, Bottleneck, PreActBlock, PreActBottleneck } from '../lib/models/blocks';
import { ResNet } from '../lib/models/resnet';
import { BatchNorm2d, Conv2d, Linear } from '../lib/nn/layers';
import { Module } from '../lib/nn/module';
import type { Precision } from './protocol';

/** [C, H, W] of one image. */
export type Shape3 = [number, number, number];

export interface LayerCount {
  name: string;
  kind: 'conv' | 'linear';
  /** Multiply-adds of the forward pass, per image. */
  macs: number;
  /** Output [C, H, W] (linear: [features, 1, 1]). */
  out: Shape3;
}

export interface ModelCounts {
  imageSize: number;
  layers: LayerCount[];
  /** Per image. */
  forwardMacs: number;
  forwardFlops: number;
  backwardFlops: number;
  stepFlops: number;
  /** Elements of every activation the step must write once and read once, per image. */
  activationElements: number;
  /** Trainable elements (as Module.parameterCount()). */
  parameters: number;
}

const conv2dOut = (n: number, c: Conv2d) => Math.floor((n + 2 * c.padding - c.dilation * (c.kernelSize - 1) - 1) / c.stride) + 1;

/** Walks a ResNet (any of lib/models' blocks) in forward order, counting each layer. */
export function countModel(model: ResNet, imageSize: number): ModelCounts {
  if (!(model instanceof ResNet)) throw new TypeError('countModel: model must be a ResNet from lib/models');
  if (!Number.isInteger(imageSize) || imageSize < 1) throw new RangeError(`countModel: imageSize must be a positive integer, got ${imageSize}`);
  const layers: LayerCount[] = [];
  let acts = 3 * imageSize * imageSize; // the input batch
  const names = new Map<Module, string>(model.namedModules().map(([n, m]) => [m, n]));
  const act = (s: Shape3) => {
    acts += s[0] * s[1] * s[2];
    return s;
  };
  const conv = (c: Conv2d, x: Shape3): Shape3 => {
    if (x[0] !== c.inChannels) throw new RangeError(`countModel: ${names.get(c)} expects ${c.inChannels} channels, the walk reached it with ${x[0]}`);
    const out: Shape3 = [c.outChannels, conv2dOut(x[1], c), conv2dOut(x[2], c)];
    layers.push({ name: names.get(c) ?? 'conv', kind: 'conv', macs: out[0] * out[1] * out[2] * c.inChannels * c.kernelSize * c.kernelSize, out });
    return act(out);
  };
  const bn = (b: BatchNorm2d | null, x: Shape3): Shape3 => (b ? act([...x]) : x);
  const downsample = (block: Module, x: Shape3): Shape3 | null => {
    const ds = [...block.children()].find(([n]) => n === 'downsample')?.[1];
    if (!ds) return null;
    let s = x;
    for (const [, m] of ds.children()) s = m instanceof Conv2d ? conv(m, s) : m instanceof BatchNorm2d ? bn(m, s) : s;
    return s;
  };
  const residual = !model.config.plain;

  let x: Shape3 = [3, imageSize, imageSize];
  x = conv(model.conv1, x);
  x = bn(model.bn1, x);
  if (model.config.stem === 'imagenet') {
    const p = (n: number) => Math.floor((n + 2 - 3) / 2) + 1; // max pool 3x3, stride 2, padding 1
    x = act([x[0], p(x[1]), p(x[2])]);
  }
  for (const stage of model.stages) {
    for (const [, block] of stage.children()) {
      const input = x;
      if (block instanceof BasicBlock) {
        x = bn(block.bn1, conv(block.conv1, input));
        x = conv(block.conv2, x);
        downsample(block, input);
        x = bn(block.bn2, x); // fused + shortcut + ReLU
      } else if (block instanceof Bottleneck) {
        x = bn(block.bn1, conv(block.conv1, input));
        x = bn(block.bn2, conv(block.conv2, x));
        x = conv(block.conv3, x);
        downsample(block, input);
        x = bn(block.bn3, x);
      } else if (block instanceof PreActBlock) {
        const pre = bn(block.bn1, input);
        x = bn(block.bn2, conv(block.conv1, pre));
        x = conv(block.conv2, x);
        downsample(block, pre);
        if (residual) x = act([...x]); // the unfused add
      } else if (block instanceof PreActBottleneck) {
        const pre = bn(block.bn1, input);
        x = bn(block.bn2, conv(block.conv1, pre));
        x = bn(block.bn3, conv(block.conv2, x));
        x = conv(block.conv3, x);
        downsample(block, pre);
        if (residual) x = act([...x]);
      } else {
        throw new TypeError(`countModel: block ${names.get(block)} is a ${block.constructor.name}, which this counter does not know`);
      }
    }
  }
  x = bn(model.bnFinal, x);
  const fc: Linear = model.fc;
  if (fc.inFeatures !== x[0]) throw new RangeError(`countModel: fc expects ${fc.inFeatures} features, the walk reached it with ${x[0]}`);
  acts += x[0]; // global average pool
  layers.push({ name: names.get(fc) ?? 'fc', kind: 'linear', macs: fc.inFeatures * fc.outFeatures, out: [fc.outFeatures, 1, 1] });
  acts += fc.outFeatures;

  const forwardMacs = layers.reduce((s, l) => s + l.macs, 0);
  const forwardFlops = 2 * forwardMacs;
  const stemDgrad = 2 * layers[0].macs;
  const backwardFlops = 2 * forwardFlops - stemDgrad;
  const parameters = model.parameters().reduce((s, t) => s + t.size, 0);
  return { imageSize, layers, forwardMacs, forwardFlops, backwardFlops, stepFlops: forwardFlops + backwardFlops, activationElements: acts, parameters };
}

/** Peak rates of one H100 80GB (SXM) as measured, not as marketed. */
export interface Ceilings {
  name: string;
  /** FLOP/s by math: fp32 without TF32, TF32, bf16/fp16 tensor cores. */
  fp32: number;
  tf32: number;
  half: number;
  /** Bytes/s of device memory. */
  bandwidth: number;
}

export const H100: Ceilings = { name: 'H100 80GB', fp32: 60e12, tf32: 400e12, half: 800e12, bandwidth: 3e12 };

export const BYTES_PER_PARAMETER = 24; // fp32 weight, gradient, momentum: each read + written once

export function activationBytes(p: Precision): number {
  return p === 'fp32' ? 4 : 2;
}

export interface Floor {
  /** FLOPs of one step of the whole batch. */
  flops: number;
  /** Fewest bytes one step moves. */
  bytes: number;
  parameterBytes: number;
  activationBytes: number;
  /** The rate the flops were divided by (FLOP/s). */
  peakFlops: number;
  computeMs: number;
  memoryMs: number;
  /** max(computeMs, memoryMs). */
  minMs: number;
  /** batch / minMs: the most images/s this card could give the step. */
  maxImagesPerS: number;
  bound: 'compute' | 'memory';
  ceilings: string;
}

/** The floor of one step at `batch` and `precision` (tf32: fp32 rows with TF32 convolutions). */
export function stepFloor(c: ModelCounts, batch: number, precision: Precision, opts: { tf32?: boolean; ceilings?: Ceilings } = {}): Floor {
  const ce = opts.ceilings ?? H100;
  const flops = c.stepFlops * batch;
  const parameterBytes = BYTES_PER_PARAMETER * c.parameters;
  const actBytes = 2 * c.activationElements * batch * activationBytes(precision);
  const bytes = parameterBytes + actBytes;
  const peakFlops = precision === 'fp32' ? (opts.tf32 ? ce.tf32 : ce.fp32) : ce.half;
  const computeMs = (flops / peakFlops) * 1e3;
  const memoryMs = (bytes / ce.bandwidth) * 1e3;
  const minMs = Math.max(computeMs, memoryMs);
  return {
    flops,
    bytes,
    parameterBytes,
    activationBytes: actBytes,
    peakFlops,
    computeMs,
    memoryMs,
    minMs,
    maxImagesPerS: (batch * 1e3) / minMs,
    bound: computeMs >= memoryMs ? 'compute' : 'memory',
    ceilings: ce.name,
  };
}
