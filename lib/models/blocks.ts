// Residual blocks of He et al. (CVPR 2016) and the pre-activation blocks of He et al.,
// "Identity Mappings in Deep Residual Networks" (ECCV 2016), with the shortcut options of
// the first paper:
//   A: identity; where the shape changes, a strided subsample zero-padded in channels
//      (no parameters; the native shortcutA op).
//   B: a projection (1x1 convolution, + BN in post-activation blocks) only where the shape
//      changes, identity elsewhere (torchvision's choice).
//   C: a projection in every block.
// Post-activation blocks end in the fused BN + residual add + ReLU; their inner BN+ReLU
// pairs are fused too. Module names follow torchvision (conv1, bn1, ..., downsample.0/1).
import * as F from '../ops';
import { BatchNorm2d, Conv2d, Sequential } from '../nn/layers';
import { constant_ } from '../ops/fill';
import { Module } from '../nn/module';
import { badArg, checkOptions, describe, optionNames } from '../checks';
import { Device, Tensor } from '../tensor';

export type ShortcutOption = 'A' | 'B' | 'C';

export interface BlockOptions {
  stride?: number;
  shortcut?: ShortcutOption;
  /** No shortcut at all: the "plain" baselines of the paper. */
  plain?: boolean;
  /** Zero the last BN weight of the residual branch, so the block starts as the identity. */
  zeroInitResidual?: boolean;
  /** Pre-activation blocks only: leave out the first BN-ReLU (its input is already normalised and activated). */
  skipFirstPreact?: boolean;
  /** Draws the seed for each initialiser in turn. */
  seed: () => number;
  device?: Device;
  /** false: leave convolution weights uninitialised (see LayerOptions.init). */
  init?: boolean;
}

type ShortcutKind = 'identity' | 'A' | 'projection' | 'none';

const BLOCK_OPTIONS = optionNames<BlockOptions>({
  stride: true,
  shortcut: true,
  plain: true,
  zeroInitResidual: true,
  skipFirstPreact: true,
  seed: true,
  device: true,
  init: true,
});

function shortcutKind(op: string, inC: number, outC: number, stride: number, o: BlockOptions): ShortcutKind {
  if (o.plain) return 'none';
  const changes = stride !== 1 || inC !== outC;
  const opt = o.shortcut ?? 'B';
  if (opt !== 'A' && opt !== 'B' && opt !== 'C') throw badArg('type', `${op}: shortcut`, `must be 'A', 'B' or 'C', got ${describe(opt)}`);
  if (opt === 'C') return 'projection';
  if (!changes) return 'identity';
  return opt === 'A' ? 'A' : 'projection';
}

function conv(inC: number, outC: number, k: number, stride: number, o: BlockOptions): Conv2d {
  return new Conv2d(inC, outC, k, { stride, padding: (k - 1) >> 1, seed: o.seed(), device: o.device, init: o.init });
}

function bn(c: number, o: BlockOptions): BatchNorm2d {
  return new BatchNorm2d(c, { device: o.device });
}

/** Shared shortcut handling: registers 'downsample' when it is a projection. */
abstract class ResidualBlock extends Module {
  protected readonly kind: ShortcutKind;
  protected downsample: Sequential | null = null;

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    readonly stride: number,
    o: BlockOptions,
  ) {
    super();
    const op = new.target.name;
    checkOptions(op, o, BLOCK_OPTIONS, 'o');
    if (typeof o.seed !== 'function') throw badArg('type', `${op}: seed`, `must be a function returning each initialiser's seed, got ${describe(o.seed)}`);
    this.kind = shortcutKind(op, inChannels, outChannels, stride, o);
  }

  /** Registers the projection after the branch, as torchvision does (state-dict order). */
  protected makeDownsample(o: BlockOptions, withBn: boolean): Sequential | null {
    if (this.kind !== 'projection') return null;
    const seq = new Sequential(conv(this.inChannels, this.outChannels, 1, this.stride, o));
    if (withBn) seq.append(bn(this.outChannels, o));
    return this.registerModule('downsample', seq);
  }

  protected shortcut(x: Tensor): Tensor | null {
    switch (this.kind) {
      case 'none':
        return null;
      case 'identity':
        return x;
      case 'A':
        return F.shortcutA(x, this.outChannels, this.stride);
      case 'projection':
        return (this.downsample as Sequential).forward(x);
    }
  }
}

/** Two 3x3 convolutions (ResNet-18/34 and the CIFAR ResNets). */
export class BasicBlock extends ResidualBlock {
  static readonly expansion = 1;
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm2d;

  constructor(inChannels: number, planes: number, o: BlockOptions) {
    const stride = o.stride ?? 1;
    super(inChannels, planes, stride, o);
    this.conv1 = this.registerModule('conv1', conv(inChannels, planes, 3, stride, o));
    this.bn1 = this.registerModule('bn1', bn(planes, o));
    this.conv2 = this.registerModule('conv2', conv(planes, planes, 3, 1, o));
    this.bn2 = this.registerModule('bn2', bn(planes, o));
    this.downsample = this.makeDownsample(o, true);
    if (o.zeroInitResidual && !o.plain) constant_(this.bn2.weight, 0);
  }

  forward(x: Tensor): Tensor {
    const out = this.conv2.forward(this.bn1.forward(this.conv1.forward(x), { relu: true }));
    return this.bn2.forward(out, { residual: this.shortcut(x), relu: true });
  }
}

/** 1x1 reduce, 3x3 (carrying the stride, torchvision's "v1.5"), 1x1 expand by 4 (ResNet-50/101/152). */
export class Bottleneck extends ResidualBlock {
  static readonly expansion = 4;
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm2d;
  readonly conv3: Conv2d;
  readonly bn3: BatchNorm2d;

  constructor(inChannels: number, planes: number, o: BlockOptions) {
    const stride = o.stride ?? 1;
    super(inChannels, planes * 4, stride, o);
    this.conv1 = this.registerModule('conv1', conv(inChannels, planes, 1, 1, o));
    this.bn1 = this.registerModule('bn1', bn(planes, o));
    this.conv2 = this.registerModule('conv2', conv(planes, planes, 3, stride, o));
    this.bn2 = this.registerModule('bn2', bn(planes, o));
    this.conv3 = this.registerModule('conv3', conv(planes, planes * 4, 1, 1, o));
    this.bn3 = this.registerModule('bn3', bn(planes * 4, o));
    this.downsample = this.makeDownsample(o, true);
    if (o.zeroInitResidual && !o.plain) constant_(this.bn3.weight, 0);
  }

  forward(x: Tensor): Tensor {
    let out = this.bn1.forward(this.conv1.forward(x), { relu: true });
    out = this.bn2.forward(this.conv2.forward(out), { relu: true });
    return this.bn3.forward(this.conv3.forward(out), { residual: this.shortcut(x), relu: true });
  }
}

/**
 * Pre-activation basic block: x + conv2(relu(bn2(conv1(relu(bn1(x)))))). A projection or
 * option-A shortcut reads the pre-activated input (as in the paper's code); projections
 * have no BN. zeroInitResidual does not apply (the branch ends in a convolution).
 */
export class PreActBlock extends ResidualBlock {
  static readonly expansion = 1;
  readonly bn1: BatchNorm2d | null;
  readonly conv1: Conv2d;
  readonly bn2: BatchNorm2d;
  readonly conv2: Conv2d;

  constructor(inChannels: number, planes: number, o: BlockOptions) {
    const stride = o.stride ?? 1;
    super(inChannels, planes, stride, o);
    this.bn1 = o.skipFirstPreact ? null : this.registerModule('bn1', bn(inChannels, o));
    this.conv1 = this.registerModule('conv1', conv(inChannels, planes, 3, stride, o));
    this.bn2 = this.registerModule('bn2', bn(planes, o));
    this.conv2 = this.registerModule('conv2', conv(planes, planes, 3, 1, o));
    this.downsample = this.makeDownsample(o, false);
  }

  forward(x: Tensor): Tensor {
    const pre = this.bn1 ? this.bn1.forward(x, { relu: true }) : x;
    const out = this.conv2.forward(this.bn2.forward(this.conv1.forward(pre), { relu: true }));
    const sc = this.shortcut(this.kind === 'identity' ? x : pre);
    return sc ? F.add(out, sc) : out;
  }
}

/** Pre-activation bottleneck (the paper's ResNet-164 and ResNet-1001). */
export class PreActBottleneck extends ResidualBlock {
  static readonly expansion = 4;
  readonly bn1: BatchNorm2d | null;
  readonly conv1: Conv2d;
  readonly bn2: BatchNorm2d;
  readonly conv2: Conv2d;
  readonly bn3: BatchNorm2d;
  readonly conv3: Conv2d;

  constructor(inChannels: number, planes: number, o: BlockOptions) {
    const stride = o.stride ?? 1;
    super(inChannels, planes * 4, stride, o);
    this.bn1 = o.skipFirstPreact ? null : this.registerModule('bn1', bn(inChannels, o));
    this.conv1 = this.registerModule('conv1', conv(inChannels, planes, 1, 1, o));
    this.bn2 = this.registerModule('bn2', bn(planes, o));
    this.conv2 = this.registerModule('conv2', conv(planes, planes, 3, stride, o));
    this.bn3 = this.registerModule('bn3', bn(planes, o));
    this.conv3 = this.registerModule('conv3', conv(planes, planes * 4, 1, 1, o));
    this.downsample = this.makeDownsample(o, false);
  }

  forward(x: Tensor): Tensor {
    const pre = this.bn1 ? this.bn1.forward(x, { relu: true }) : x;
    let out = this.bn2.forward(this.conv1.forward(pre), { relu: true });
    out = this.bn3.forward(this.conv2.forward(out), { relu: true });
    out = this.conv3.forward(out);
    const sc = this.shortcut(this.kind === 'identity' ? x : pre);
    return sc ? F.add(out, sc) : out;
  }
}

export type BlockClass = typeof BasicBlock | typeof Bottleneck | typeof PreActBlock | typeof PreActBottleneck;
