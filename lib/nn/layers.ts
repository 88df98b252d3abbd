// The layers a ResNet is made of. Initialisation follows He et al. and torchvision:
// convolutions Kaiming normal (fan_out, ReLU gain), BN weight 1 and bias 0, Linear uniform
// in +-1/sqrt(fan_in). Every random initialiser takes a seed (or draws one from the global
// generator, see manualSeed()).
import * as F from '../ops';
import { badArg, checkOptions, optionNames } from '../checks';
import { asOp } from '../errors';
import { checkNumber, checkSeed, describe, nextSeed, Tensor, DType, Device } from '../tensor';
import { kaimingNormal_, uniform_ } from '../ops/fill';
import { Module } from './module';

export interface LayerOptions {
  seed?: number;
  /**
   * false skips the random initialisation of weights (their memory stays uninitialised):
   * only for a model whose state is loaded right after, where a large model's fills would
   * be wasted work.
   */
  init?: boolean;
  device?: Device;
  dtype?: DType;
}

const LAYER_OPTIONS = optionNames<LayerOptions>({ seed: true, init: true, device: true, dtype: true });
const CONV2D_OPTIONS = [
  ...LAYER_OPTIONS,
  ...optionNames<Omit<Conv2dOptions, keyof LayerOptions>>({ stride: true, padding: true, dilation: true, bias: true, allowTf32: true }),
];
const BATCHNORM2D_OPTIONS = [...LAYER_OPTIONS, ...optionNames<Omit<BatchNorm2dOptions, keyof LayerOptions>>({ momentum: true, eps: true, relu: true })];
const LINEAR_OPTIONS = [...LAYER_OPTIONS, 'bias'];

// The seed a layer's initialisers start from, and the options its tensors are made with.
function opts(o: LayerOptions, fn: string): { seed: number; tensor: { device: Device; dtype: DType } } {
  return {
    seed: checkSeed(o.seed ?? nextSeed(), `${fn}: seed`),
    tensor: { device: o.device ?? 'cpu', dtype: o.dtype ?? 'float32' },
  };
}

function int(v: unknown, arg: string, min = 1): number {
  return checkNumber(v, arg, { integer: true, min });
}

// ---------------------------------------------------------------- layers

export interface Conv2dOptions extends LayerOptions {
  stride?: number;
  padding?: number;
  dilation?: number;
  /** Default false (ResNets use BN after every convolution). */
  bias?: boolean;
  /** CUDA only: TF32 tensor-core math for fp32 inputs (default false). */
  allowTf32?: boolean;
}

export class Conv2d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  readonly stride: number;
  readonly padding: number;
  readonly dilation: number;
  /** CUDA only: TF32 tensor-core math for fp32 inputs; may be switched at any time. */
  allowTf32: boolean;

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    readonly kernelSize: number,
    options: Conv2dOptions = {},
  ) {
    super();
    checkOptions('Conv2d', options, CONV2D_OPTIONS);
    int(inChannels, 'Conv2d: inChannels');
    int(outChannels, 'Conv2d: outChannels');
    int(kernelSize, 'Conv2d: kernelSize');
    this.stride = int(options.stride ?? 1, 'Conv2d: stride');
    this.padding = int(options.padding ?? 0, 'Conv2d: padding', 0);
    this.dilation = int(options.dilation ?? 1, 'Conv2d: dilation');
    this.allowTf32 = options.allowTf32 ?? false;
    const o = opts(options, 'Conv2d');
    const w = asOp('Conv2d', () => Tensor.empty([outChannels, inChannels, kernelSize, kernelSize], o.tensor));
    if (options.init !== false) kaimingNormal_(w, { mode: 'fan_out', gain: Math.SQRT2, seed: o.seed });
    this.weight = this.registerParameter('weight', w) as Tensor;
    let b: Tensor | null = null;
    if (options.bias) {
      const bound = 1 / Math.sqrt(inChannels * kernelSize * kernelSize);
      b = Tensor.empty([outChannels], o.tensor);
      if (options.init !== false) uniform_(b, -bound, bound, (o.seed + 1) % Number.MAX_SAFE_INTEGER);
    }
    this.bias = this.registerParameter('bias', b);
  }

  forward(x: Tensor): Tensor {
    const w = F.matchActivation(this.weight, x);
    const b = this.bias ? F.matchActivation(this.bias, x) : null;
    return F.conv2d(x, w, b, { stride: this.stride, padding: this.padding, dilation: this.dilation, allowTf32: this.allowTf32 });
  }
}

export interface BatchNorm2dOptions extends LayerOptions {
  momentum?: number;
  eps?: number;
  /** Fuse a ReLU into every forward. */
  relu?: boolean;
}

/**
 * Batch normalisation over [N, C, H, W]. forward(x, { residual, relu }) is the fused form
 * act(bn(x) + residual) that residual blocks use.
 */
export class BatchNorm2d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor;
  readonly runningMean: Tensor;
  readonly runningVar: Tensor;
  readonly momentum: number;
  readonly eps: number;
  readonly relu: boolean;

  constructor(
    readonly numFeatures: number,
    options: BatchNorm2dOptions = {},
  ) {
    super();
    checkOptions('BatchNorm2d', options, BATCHNORM2D_OPTIONS);
    int(numFeatures, 'BatchNorm2d: numFeatures');
    this.momentum = checkNumber(options.momentum ?? 0.1, 'BatchNorm2d: momentum', { min: 0, max: 1 });
    this.eps = checkNumber(options.eps ?? 1e-5, 'BatchNorm2d: eps', { min: 0 });
    this.relu = options.relu ?? false;
    const o = { device: options.device ?? 'cpu', dtype: 'float32' as const };
    this.weight = this.registerParameter('weight', Tensor.ones([numFeatures], o)) as Tensor;
    this.bias = this.registerParameter('bias', Tensor.zeros([numFeatures], o)) as Tensor;
    this.runningMean = Tensor.zeros([numFeatures], o);
    this.runningVar = Tensor.ones([numFeatures], o);
    this.registerBuffer('running_mean', this.runningMean);
    this.registerBuffer('running_var', this.runningVar);
    this.registerBuffer('num_batches_tracked', 0n);
  }

  // The native batch-norm ops take fp32 statistics and parameters whatever x's dtype.
  protected override keepsFp32(): boolean {
    return true;
  }

  get numBatchesTracked(): bigint {
    return this.getBuffer('num_batches_tracked') as bigint;
  }

  /**
   * Sets the counter forward() advances in training mode. A replayed CUDA graph runs no JS,
   * so the Trainer advances it for each replay (and puts it back after a failed capture).
   */
  set numBatchesTracked(v: bigint) {
    if (typeof v !== 'bigint' || v < 0n) throw badArg('type', 'BatchNorm2d.numBatchesTracked: v', `must be a bigint >= 0, got ${describe(v)}`);
    this.setBuffer('num_batches_tracked', v);
  }

  forward(x: Tensor, fused: { residual?: Tensor | null; relu?: boolean } = {}): Tensor {
    if (this.training) this.setBuffer('num_batches_tracked', this.numBatchesTracked + 1n);
    return F.batchNorm(x, this.weight, this.bias, this.runningMean, this.runningVar, {
      training: this.training,
      momentum: this.momentum,
      eps: this.eps,
      residual: fused.residual ?? null,
      relu: fused.relu ?? this.relu,
    });
  }
}

export class ReLU extends Module {
  forward(x: Tensor): Tensor {
    return F.relu(x);
  }
}

export class Identity extends Module {
  forward(x: Tensor): Tensor {
    return x;
  }
}

export interface LinearOptions extends LayerOptions {
  /** Default true. */
  bias?: boolean;
}

export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;

  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    options: LinearOptions = {},
  ) {
    super();
    checkOptions('Linear', options, LINEAR_OPTIONS);
    int(inFeatures, 'Linear: inFeatures');
    int(outFeatures, 'Linear: outFeatures');
    const o = opts(options, 'Linear');
    // torchvision: kaiming_uniform(a = sqrt(5)) for the weight, which is U(+-1/sqrt(fan_in)); the bias the same.
    const bound = 1 / Math.sqrt(inFeatures);
    const init = (t: Tensor, seed: number) => (options.init === false ? t : uniform_(t, -bound, bound, seed));
    this.weight = this.registerParameter(
      'weight',
      init(
        asOp('Linear', () => Tensor.empty([outFeatures, inFeatures], o.tensor)),
        o.seed,
      ),
    ) as Tensor;
    this.bias = this.registerParameter(
      'bias',
      options.bias === false ? null : init(Tensor.empty([outFeatures], o.tensor), (o.seed + 1) % Number.MAX_SAFE_INTEGER),
    );
  }

  forward(x: Tensor): Tensor {
    return F.linear(x, F.matchActivation(this.weight, x), this.bias ? F.matchActivation(this.bias, x) : null);
  }
}

export class MaxPool2d extends Module {
  constructor(
    readonly kernelSize: number,
    readonly stride = kernelSize,
    readonly padding = 0,
  ) {
    super();
    int(kernelSize, 'MaxPool2d: kernelSize');
    int(stride, 'MaxPool2d: stride');
    int(padding, 'MaxPool2d: padding', 0);
  }

  forward(x: Tensor): Tensor {
    return F.maxPool2d(x, { kernelSize: this.kernelSize, stride: this.stride, padding: this.padding });
  }
}

export class AvgPool2d extends Module {
  constructor(
    readonly kernelSize: number,
    readonly stride = kernelSize,
    readonly padding = 0,
  ) {
    super();
    int(kernelSize, 'AvgPool2d: kernelSize');
    int(stride, 'AvgPool2d: stride');
    int(padding, 'AvgPool2d: padding', 0);
  }

  forward(x: Tensor): Tensor {
    return F.avgPool2d(x, { kernelSize: this.kernelSize, stride: this.stride, padding: this.padding });
  }
}

/** Mean over H and W to [N, C, 1, 1] (torchvision's AdaptiveAvgPool2d((1, 1))). */
export class GlobalAvgPool2d extends Module {
  forward(x: Tensor): Tensor {
    return F.globalAvgPool(x);
  }
}

/** [N, ...] -> [N, rest]. */
export class Flatten extends Module {
  forward(x: Tensor): Tensor {
    return F.flatten(x);
  }
}

/** Children named '0', '1', ... run in order (PyTorch's nn.Sequential naming). */
export class Sequential extends Module {
  private readonly layers: Module[] = [];

  constructor(...layers: Module[]) {
    super();
    for (const l of layers) this.append(l);
  }

  append(m: Module): this {
    if (!(m instanceof Module)) throw badArg('type', `Sequential.append: m`, `must be a Module (layer ${this.layers.length}), got ${describe(m)}`);
    this.registerModule(String(this.layers.length), m);
    this.layers.push(m);
    return this;
  }

  get length(): number {
    return this.layers.length;
  }

  at(i: number): Module {
    const m = this.layers[i];
    if (!m) throw badArg('range', 'Sequential.at: i', `is out of range: ${describe(i)} (length ${this.layers.length})`);
    return m;
  }

  forward(x: Tensor): Tensor {
    for (const l of this.layers) x = l.forward(x);
    return x;
  }
}

/** Every BatchNorm2d under `model` (itself included), in module order. */
export function batchNormLayers(model: Module): BatchNorm2d[] {
  return model
    .namedModules()
    .map(([, m]) => m)
    .filter((m): m is BatchNorm2d => m instanceof BatchNorm2d);
}
