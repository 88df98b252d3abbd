// Which device a run uses, and which precisions that device supports. 'auto' takes cuda:0
// when the addon was built with CUDA and a tensor can actually be made there (a driver, a
// GPU), else the CPU; the reason is kept so the CLI can say why it fell back.
import { cuda } from '../cuda';
import { native, type LayoutName } from '../native';
import { badArg } from '../checks';
import { describe, Tensor } from '../tensor';

export type Precision = 'fp32' | 'bf16' | 'fp16';
export const PRECISIONS: readonly Precision[] = ['fp32', 'bf16', 'fp16'];

export interface ResolvedDevice {
  device: string;
  /** Why 'auto' chose the CPU (no CUDA build, no usable GPU), or null. */
  fallbackReason: string | null;
}

/** Why `device` ('cuda:N') cannot be used (no CUDA build, GPU, driver or cuDNN), or null. */
export function probeDevice(device: string): string | null {
  if (device === 'cpu') return null;
  if (!native().buildInfo().cuda) return 'this build of the addon has no CUDA backend (built without nvcc, or CUDNN_RESNET_NO_CUDA was set)';
  if (typeof native().cudaInfo === 'function') {
    const why = cuda.unavailableReason();
    if (why !== null) return why;
    const index = Number(device.slice('cuda:'.length));
    if (index >= cuda.deviceCount()) return `there is no ${device} (${cuda.deviceCount()} CUDA device(s))`;
  }
  try {
    Tensor.zeros([1], { device }).dispose();
    return null;
  } catch (e) {
    return (e instanceof Error ? e.message : String(e)).split('\n')[0];
  }
}

/** 'auto' | 'cpu' | 'cuda:N' -> a concrete device. Throws RangeError for an unusable explicit device. */
export function resolveDevice(spec: string, op = 'resolveDevice', argument = 'spec'): ResolvedDevice {
  if (spec === 'auto') {
    const why = probeDevice('cuda:0');
    return why === null ? { device: 'cuda:0', fallbackReason: null } : { device: 'cpu', fallbackReason: why };
  }
  if (spec === 'cpu') return { device: 'cpu', fallbackReason: null };
  if (typeof spec !== 'string' || !/^cuda:\d+$/.test(spec))
    throw badArg('type', `${op}: ${argument}`, `must be 'auto', 'cpu' or 'cuda:N', got ${describe(spec)}`);
  const why = probeDevice(spec);
  if (why !== null) throw badArg('range', `${op}: ${argument}`, `names a device that is not usable: ${spec}: ${why}`);
  return { device: spec, fallbackReason: null };
}

/** The tensor dtype of a precision's activations. */
export function activationDType(p: Precision): 'float32' | 'bfloat16' | 'float16' {
  return p === 'fp32' ? 'float32' : p === 'bf16' ? 'bfloat16' : 'float16';
}

/**
 * The memory layout of a precision's batches on a device. 16-bit on CUDA is NHWC: cuDNN's
 * tensor-op convolutions and its fused batch-norm(+add)+ReLU kernel need channels-last data,
 * so NCHW there would leave the fast path to users who know to ask for it. fp32 stays NCHW
 * (cuDNN's FMA engines prefer it), and so does the CPU, whose ops compute in NCHW order.
 */
export function activationLayout(p: Precision, device: string): LayoutName {
  return p !== 'fp32' && device.startsWith('cuda') ? 'NHWC' : 'NCHW';
}

/**
 * What a precision means on a device, in words (the CLI prints it). Every precision runs on
 * both backends: bf16/fp16 feed 16-bit batches; convolution and linear layers cast their
 * fp32 master weights to match per step, batch norm stays fp32. On the CPU the ops compute
 * in fp32 internally (values are rounded to 16 bits between ops), so bf16 and fp16 there
 * are slower than fp32 and only useful to check numerics.
 */
export function describePrecision(p: Precision, device: string): string {
  if (p === 'fp32') return `fp32 on ${device}`;
  const name = p === 'bf16' ? 'bfloat16' : 'float16';
  const scaling = p === 'fp16' ? ', dynamic loss scaling' : '';
  if (device === 'cpu')
    return (
      `${p} on cpu: ${name} activations and conv/linear weights with fp32 master weights${scaling}; ` +
      'the CPU ops compute in fp32 and round to 16 bits between ops, so this is slower than fp32 and meant for checking numerics'
    );
  return `${p} on ${device}: ${name} NHWC activations and conv/linear weights (tensor cores), fp32 master weights and batch norm${scaling}`;
}
