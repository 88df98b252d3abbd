// One row of the step benchmark: a model, its optimizer and a synthetic batch already on
// the device, then the protocol's timed loop over the library's own training step
// (forward, softmax cross-entropy, backward, SGD), with the precision applied the way the
// Trainer applies it: bf16/fp16 activations (here NHWC) meet fp32 master weights that
// Conv2d and Linear cast per step (F.matchActivation), batch norm stays fp32, and fp16
// scales the loss dynamically (MixedPrecision). On CUDA the step is the Trainer's
// CapturedStep (one CUDA graph replay per step after its warm-up) unless capture is off;
// the result says which mode ran and, when capture failed, why.
import { cuda } from '../lib/cuda';
import { create } from '../lib/models/resnet';
import { native } from '../lib/native';
import { Conv2d } from '../lib/nn/layers';
import { SGD } from '../lib/optim/sgd';
import { keep, Tensor } from '../lib/tensor';
import { activationDType } from '../lib/train/device';
import { MixedPrecision } from '../lib/train/amp';
import { capturedTrainingStep } from '../lib/train/training-step';
import { Ceilings, countModel, Floor, stepFloor } from './flops';
import { imageSizeOf, nowMs, Precision, Row, rowImageSize, RunTimer, SGD_SETTINGS, timeSteps, TimingOptions } from './protocol';

export interface StepResult {
  model: string;
  batch: number;
  imageSize: number;
  precision: Precision;
  /** fp32 rows only: convolutions used TF32 tensor cores. */
  tf32: boolean;
  layout: 'NCHW' | 'NHWC';
  device: string;
  timing: TimingOptions;
  /** Median ms per step over the timed runs (null when the row failed or was skipped). */
  msPerStep: number | null;
  imagesPerS: number | null;
  runsMs: number[];
  warmupMs: number | null;
  /** Process CPU time (all threads) per step, over warm-up and timed runs. */
  cpuMsPerStep: number | null;
  /** CPU rows: minor page faults per timed step (memory handed back to the kernel and taken again). */
  minorFaultsPerStep: number | null;
  parameters: number;
  floor: Floor;
  /** fp16: the loss scale at the end and the steps skipped for overflow. */
  lossScale: number;
  skippedSteps: number;
  /** How the timed steps ran: replays of a captured CUDA graph, or eager op by op. */
  stepMode: 'captured' | 'eager' | null;
  /** Why the step ran eagerly (CPU, capture disabled, capture failed), or null. */
  eagerReason: string | null;
  /** CUDA: bytes the caching allocator held after the timed runs (emptied before the row). */
  reservedDeviceBytes: number | null;
  /** CUDA: cuDNN fused batch-norm calls during the row (forward, backward) and qualifying calls that fell back. */
  fusedBatchNorm: { forward: number; backward: number; fallbacks: number } | null;
  error: string | null;
  skipped: string | null;
}

export interface StepOptions {
  device: string;
  /** The peaks the floor columns divide by (default: one H100). */
  ceilings?: Ceilings;
  timing: TimingOptions;
  tf32?: boolean;
  seed?: number;
  /** Capture the step as a CUDA graph on CUDA devices. Default true. */
  capture?: boolean;
}

/** Classes of a model's head: 10 for the CIFAR nets, 1000 for the ImageNet ones. */
export function classesOf(model: string): number {
  return imageSizeOf(model) === 32 ? 10 : 1000;
}

/** FLOPs and bytes of a row, from an uninitialised CPU copy of the model. */
export function rowFloor(row: Row, precision: Precision, tf32 = false, ceilings?: Ceilings): { floor: Floor; parameters: number } {
  const m = create(row.model, { classes: classesOf(row.model), device: 'cpu', init: false, seed: 0 });
  try {
    const c = countModel(m, rowImageSize(row));
    return { floor: stepFloor(c, row.batch, precision, { tf32, ceilings }), parameters: c.parameters };
  } finally {
    m.dispose();
  }
}

/** A result for a row that did not run (budget, error before the loop). */
export function emptyResult(row: Row, precision: Precision, o: StepOptions, why: { error?: string; skipped?: string }): StepResult {
  const { floor, parameters } = rowFloor(row, precision, o.tf32 && precision === 'fp32', o.ceilings);
  return {
    model: row.model,
    batch: row.batch,
    imageSize: rowImageSize(row),
    precision,
    tf32: !!o.tf32 && precision === 'fp32',
    layout: precision === 'fp32' ? 'NCHW' : 'NHWC',
    device: o.device,
    timing: o.timing,
    msPerStep: null,
    imagesPerS: null,
    runsMs: [],
    warmupMs: null,
    cpuMsPerStep: null,
    minorFaultsPerStep: null,
    parameters,
    floor,
    lossScale: 1,
    skippedSteps: 0,
    stepMode: null,
    eagerReason: null,
    reservedDeviceBytes: null,
    fusedBatchNorm: null,
    error: why.error ?? null,
    skipped: why.skipped ?? null,
  };
}

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e3;
}

/** Runs the protocol for one (row, precision). Errors while running come back in `error`; an unknown model name throws. */
export function benchStep(row: Row, precision: Precision, o: StepOptions): StepResult {
  const res = emptyResult(row, precision, o, {});
  const { device } = o;
  const size = res.imageSize;
  const onCuda = device.startsWith('cuda');
  const owned: { dispose(): void }[] = [];
  try {
    const model = create(row.model, { classes: classesOf(row.model), device, seed: o.seed ?? 0 });
    owned.push(model);
    if (res.tf32) for (const [, m] of model.namedModules()) if (m instanceof Conv2d) m.allowTf32 = true;
    model.train();
    const mp = new MixedPrecision(model, precision);
    const opt = new SGD(mp.masters, { ...SGD_SETTINGS });
    owned.push(opt);
    const dtype = activationDType(precision);
    // Drawn in fp32 NCHW and converted with the same cast/toLayout ops the step itself uses.
    const x32 = Tensor.randn([row.batch, 3, size, size], { device, seed: (o.seed ?? 0) + 1 });
    owned.push(x32);
    const x = keep(precision === 'fp32' ? x32 : x32.to({ dtype, layout: res.layout }));
    if (x !== x32) owned.push(x);
    const labels = new Int32Array(row.batch);
    for (let i = 0; i < labels.length; i++) labels[i] = (i * 7919 + 13) % classesOf(row.model);
    const y = keep(Tensor.fromArray(labels, [row.batch], { dtype: 'int32', device }));
    owned.push(y);

    // The Trainer's step, with the same device-side lr, loss scale and overflow skip.
    const captured = capturedTrainingStep({ model, mp, opt }, { capture: o.capture ?? true, log: () => undefined });
    owned.push(captured, mp);
    const step = () => {
      captured.step(x, y);
    };
    const sync = () => native().synchronize(device);
    if (onCuda) cuda.emptyCache();
    const f0 = native().cudaInfo().fusedBatchNorm;
    const c0 = cpuMs();
    // On the CPU the runs are timed by the wall clock as before, and their CPU time is
    // summed too (warm-up left out: its first steps allocate and fault pages in).
    let timedCpuMs = 0;
    let timedFaults = 0;
    const cpuTimer: RunTimer = () => {
      const cpu0 = cpuMs(),
        f0 = process.resourceUsage().minorPageFault,
        t0 = nowMs();
      return {
        stop: () => {
          timedCpuMs += cpuMs() - cpu0;
          timedFaults += process.resourceUsage().minorPageFault - f0;
          return nowMs() - t0;
        },
      };
    };
    const t = timeSteps(step, sync, o.timing, undefined, onCuda ? () => cuda.startTimer(device) : cpuTimer);
    const stepsRun = o.timing.warmup + o.timing.steps * o.timing.runs;
    res.cpuMsPerStep = onCuda ? (cpuMs() - c0) / stepsRun : timedCpuMs / (o.timing.steps * o.timing.runs);
    if (!onCuda) res.minorFaultsPerStep = timedFaults / (o.timing.steps * o.timing.runs);
    res.msPerStep = t.msPerStep;
    res.imagesPerS = (row.batch * 1e3) / t.msPerStep;
    res.runsMs = t.runsMs;
    res.warmupMs = t.warmupMs;
    res.lossScale = mp.lossScale;
    res.skippedSteps = mp.skipped;
    res.stepMode = captured.mode === 'captured' ? 'captured' : 'eager';
    res.eagerReason = captured.eagerReason;
    if (onCuda) {
      res.reservedDeviceBytes = cuda.memoryStats(device).reserved;
      const f1 = native().cudaInfo().fusedBatchNorm;
      res.fusedBatchNorm = { forward: f1.forward - f0.forward, backward: f1.backward - f0.backward, fallbacks: f1.fallbacks - f0.fallbacks };
    }
  } catch (e) {
    res.error = (e instanceof Error ? e.message : String(e)).split('\n')[0];
  } finally {
    for (const d of owned.reverse()) {
      try {
        d.dispose();
      } catch {
        // a failed row must not stop the next one
      }
    }
    if (onCuda) {
      try {
        cuda.emptyCache();
      } catch {
        // idem
      }
    }
  }
  return res;
}
