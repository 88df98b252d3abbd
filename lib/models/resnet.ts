// The ResNet family: the ImageNet models of He et al. with torchvision's structure and
// state-dict names, the CIFAR ResNet-(6n+2) and plain nets of the paper's section 4.2, and
// the pre-activation variants of "Identity Mappings in Deep Residual Networks".
import * as F from '../ops';
import { BatchNorm2d, Conv2d, Linear, Sequential } from '../nn/layers';
import { Module } from '../nn/module';
import { badArg, checkOptions, optionNames } from '../checks';
import { asOp } from '../errors';
import { checkNumber, checkSeed, deriveSeed, describe, nextSeed, Device, Tensor } from '../tensor';
import { BasicBlock, Bottleneck, BlockOptions, PreActBlock, PreActBottleneck, ShortcutOption } from './blocks';
import { headClasses, loadPretrained, MessageHandler, readWeightsOption, stderrMessage } from './pretrained';

export type BlockKind = 'basic' | 'bottleneck';

export interface ResNetConfig {
  block: BlockKind;
  /** Blocks per stage. */
  layers: number[];
  /** Stem: 'imagenet' (7x7/2 conv + 3x3/2 max pool, stages of 64..512) or 'cifar' (3x3 conv, stages of 16/32/64). */
  stem: 'imagenet' | 'cifar';
  preact?: boolean;
  /** No shortcuts (the paper's plain baselines). */
  plain?: boolean;
}

export interface ModelOptions {
  /** Output classes (default 1000 for ImageNet models, 10 for CIFAR ones). */
  classes?: number;
  /** Input channels (default 3). */
  inChannels?: number;
  /** Default 'A' for the CIFAR ResNets (the paper's choice), 'B' otherwise. */
  shortcut?: ShortcutOption;
  /** Zero-init the last BN of each residual branch (post-activation blocks). */
  zeroInitResidual?: boolean;
  /** Seed for every initialiser (default: drawn from the global generator). */
  seed?: number;
  device?: Device;
  /**
   * false leaves convolution and fc weights uninitialised (BN is still 1 / 0): for a model
   * whose weights are loaded right after (saves seconds of fills for ResNet-152 on a CPU).
   */
  init?: boolean;
  /**
   * models.create only: a weights file to load, safetensors or a PyTorch .pth/.pt state
   * dict with torchvision's key names. classes defaults to the file's; a different classes
   * loads everything but fc and initialises a new fc.
   */
  weights?: string;
  /** Reports what loading weights did (a replaced head); default: a line on stderr. */
  onMessage?: MessageHandler;
}

const MODEL_OPTIONS = optionNames<ModelOptions>({
  classes: true,
  inChannels: true,
  shortcut: true,
  zeroInitResidual: true,
  seed: true,
  device: true,
  init: true,
  weights: true,
  onMessage: true,
});
const CIFAR_OPTIONS = [...MODEL_OPTIONS, 'plain', 'preact'];
const RESNET_CONFIG_KEYS = optionNames<ResNetConfig>({ block: true, layers: true, stem: true, preact: true, plain: true });

export class ResNet extends Module {
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d | null;
  readonly stages: Sequential[] = [];
  readonly bnFinal: BatchNorm2d | null;
  readonly fc: Linear;
  readonly classes: number;

  constructor(
    readonly config: ResNetConfig,
    options: ModelOptions = {},
  ) {
    super();
    checkOptions('ResNet', config, RESNET_CONFIG_KEYS, 'config');
    if (config === undefined) throw badArg('type', 'ResNet: config', 'must be an object { block, layers, stem }, got undefined');
    if (config.block !== 'basic' && config.block !== 'bottleneck')
      throw badArg('range', 'ResNet: config.block', `must be 'basic' or 'bottleneck', got ${describe(config.block)}`);
    if (config.stem !== 'imagenet' && config.stem !== 'cifar')
      throw badArg('range', 'ResNet: config.stem', `must be 'imagenet' or 'cifar', got ${describe(config.stem)}`);
    for (const k of ['preact', 'plain'] as const)
      if (config[k] !== undefined && typeof config[k] !== 'boolean')
        throw badArg('type', `ResNet: config.${k}`, `must be a boolean, got ${describe(config[k])}`);
    checkOptions('ResNet', options, MODEL_OPTIONS);
    const cifar = config.stem === 'cifar';
    // Bounds that keep every tensor of the model within what a tensor can hold (the fc
    // weight is classes x up to 2048 features; a tensor holds at most 2^36 elements).
    this.classes = checkNumber(options.classes ?? (cifar ? 10 : 1000), 'ResNet: classes', { integer: true, min: 1, max: 2 ** 24 });
    const inChannels = checkNumber(options.inChannels ?? 3, 'ResNet: inChannels', { integer: true, min: 1, max: 2 ** 16 });
    const shortcut = options.shortcut ?? (cifar && !config.preact ? 'A' : 'B');
    if (shortcut !== 'A' && shortcut !== 'B' && shortcut !== 'C')
      throw badArg('type', 'ResNet: shortcut', `must be 'A', 'B' or 'C', got ${describe(shortcut)}`);
    const base = checkSeed(options.seed ?? nextSeed(), 'ResNet: seed');
    let n = 0;
    const seed = () => deriveSeed(base, n++);
    const device = options.device ?? 'cpu';

    const widths = cifar ? [16, 32, 64] : [64, 128, 256, 512];
    if (!Array.isArray(config.layers) || config.layers.length !== widths.length || config.layers.some((l) => !Number.isInteger(l) || l < 1))
      throw badArg('range', 'ResNet: config.layers', `must list ${widths.length} positive block counts, got ${describe(config.layers)}`);
    const preact = config.preact ?? false;
    const Block = config.block === 'bottleneck' ? (preact ? PreActBottleneck : Bottleneck) : preact ? PreActBlock : BasicBlock;
    const expansion = Block.expansion;

    this.conv1 = this.registerModule(
      'conv1',
      cifar
        ? new Conv2d(inChannels, 16, 3, { stride: 1, padding: 1, seed: seed(), device, init: options.init })
        : new Conv2d(inChannels, 64, 7, { stride: 2, padding: 3, seed: seed(), device, init: options.init }),
    );
    // CIFAR pre-activation nets start their first block with its own BN-ReLU; the others normalise the stem.
    this.bn1 = cifar && preact ? null : this.registerModule('bn1', new BatchNorm2d(widths[0], { device }));
    let inC = widths[0];
    config.layers.forEach((count, s) => {
      const stage = new Sequential();
      for (let b = 0; b < count; b++) {
        const o: BlockOptions = {
          stride: b === 0 && s > 0 ? 2 : 1,
          shortcut,
          plain: config.plain,
          zeroInitResidual: options.zeroInitResidual,
          skipFirstPreact: preact && !cifar && s === 0 && b === 0,
          seed,
          device,
          init: options.init,
        };
        stage.append(new Block(inC, widths[s], o));
        inC = widths[s] * expansion;
      }
      this.stages.push(this.registerModule(`layer${s + 1}`, stage));
    });
    this.bnFinal = preact ? this.registerModule('bn_final', new BatchNorm2d(inC, { device })) : null;
    this.fc = this.registerModule('fc', new Linear(inC, this.classes, { seed: seed(), device, init: options.init }));
  }

  /** Images [N, C, H, W] -> logits [N, classes]. */
  forward(x: Tensor): Tensor {
    let h = this.conv1.forward(x);
    if (this.bn1) h = this.bn1.forward(h, { relu: true });
    if (this.config.stem === 'imagenet') h = F.maxPool2d(h, { kernelSize: 3, stride: 2, padding: 1 });
    for (const s of this.stages) h = s.forward(h);
    if (this.bnFinal) h = this.bnFinal.forward(h, { relu: true });
    return this.fc.forward(F.flatten(F.globalAvgPool(h)));
  }
}

// ---------------------------------------------------------------- the catalogue

const IMAGENET: Record<number, [BlockKind, number[]]> = {
  18: ['basic', [2, 2, 2, 2]],
  34: ['basic', [3, 4, 6, 3]],
  50: ['bottleneck', [3, 4, 6, 3]],
  101: ['bottleneck', [3, 4, 23, 3]],
  152: ['bottleneck', [3, 8, 36, 3]],
};
const CIFAR_DEPTHS = [20, 32, 44, 56, 110, 1202];
const PLAIN_DEPTHS = [20, 32, 44, 56, 110];
const PREACT_CIFAR_BASIC = [20, 32, 44, 56, 110];
const PREACT_CIFAR_BOTTLENECK = [164, 1001];

/** CIFAR ResNet of depth 6n + 2 (three stages of n basic blocks). */
export function cifarResNet(depth: number, options: ModelOptions & { plain?: boolean; preact?: boolean } = {}): ResNet {
  checkNumber(depth, 'cifarResNet: depth', { integer: true, min: 8 });
  if ((depth - 2) % 6 !== 0) throw badArg('range', 'cifarResNet: depth', `must be 6n + 2 for a CIFAR ResNet, got ${depth}`);
  const { plain, preact, ...rest } = checkOptions('cifarResNet', options, CIFAR_OPTIONS);
  const n = (depth - 2) / 6;
  return asOp('cifarResNet', () => new ResNet({ block: 'basic', layers: [n, n, n], stem: 'cifar', plain, preact }, rest));
}

/** Resolves a model name to its configuration, or null. */
function configFor(name: string): ResNetConfig | null {
  let m = /^resnet(\d+)$/.exec(name);
  if (m) {
    const d = Number(m[1]);
    if (IMAGENET[d]) return { block: IMAGENET[d][0], layers: IMAGENET[d][1], stem: 'imagenet' };
    if (d >= 8 && (d - 2) % 6 === 0) return { block: 'basic', layers: Array(3).fill((d - 2) / 6), stem: 'cifar' };
    return null;
  }
  m = /^plain(\d+)$/.exec(name);
  if (m) {
    const d = Number(m[1]);
    if (IMAGENET[d]) return { block: IMAGENET[d][0], layers: IMAGENET[d][1], stem: 'imagenet', plain: true };
    if (d >= 8 && (d - 2) % 6 === 0) return { block: 'basic', layers: Array(3).fill((d - 2) / 6), stem: 'cifar', plain: true };
    return null;
  }
  m = /^preact-resnet(\d+)$/.exec(name);
  if (m) {
    const d = Number(m[1]);
    if (IMAGENET[d]) return { block: IMAGENET[d][0], layers: IMAGENET[d][1], stem: 'imagenet', preact: true };
    if (d >= 8 && (d - 2) % 6 === 0 && !PREACT_CIFAR_BOTTLENECK.includes(d))
      return { block: 'basic', layers: Array(3).fill((d - 2) / 6), stem: 'cifar', preact: true };
    if (d >= 11 && (d - 2) % 9 === 0) return { block: 'bottleneck', layers: Array(3).fill((d - 2) / 9), stem: 'cifar', preact: true };
    return null;
  }
  return null;
}

/**
 * The canonical model names. create() also accepts any CIFAR depth 6n + 2 as resnetN,
 * plainN or preact-resnetN (resnet50 and resnet152 are the ImageNet models), 9n + 2 as
 * preact-resnetN with bottlenecks, and '_' for '-'.
 */
export function names(): string[] {
  return [
    ...Object.keys(IMAGENET).map((d) => `resnet${d}`),
    ...CIFAR_DEPTHS.map((d) => `resnet${d}`),
    ...PLAIN_DEPTHS.map((d) => `plain${d}`),
    ...Object.keys(IMAGENET).map((d) => `preact-resnet${d}`),
    ...PREACT_CIFAR_BASIC.map((d) => `preact-resnet${d}`),
    ...PREACT_CIFAR_BOTTLENECK.map((d) => `preact-resnet${d}`),
  ];
}

export function create(name: string, options: ModelOptions = {}): ResNet {
  if (typeof name !== 'string') throw badArg('type', 'models.create: name', `must be a string, got ${describe(name)}`);
  const key = name
    .toLowerCase()
    .replace(/_/g, '-')
    .replace(/^preactresnet/, 'preact-resnet');
  const config = configFor(key);
  if (!config) throw badArg('range', 'models.create: name', `is an unknown model name '${name}'; known: ${names().join(', ')}`);
  if (options?.weights === undefined) return asOp('models.create', () => new ResNet(config, options));
  const file = readWeightsOption(options.weights);
  const seed = checkSeed(options.seed ?? nextSeed(), 'seed');
  const model = asOp('models.create', () => new ResNet(config, { ...options, seed, classes: options.classes ?? headClasses(file), init: false }));
  try {
    loadPretrained(model, file, options.weights, seed, options.onMessage ?? stderrMessage);
  } catch (e) {
    model.dispose();
    throw e;
  }
  return model;
}
