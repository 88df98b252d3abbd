// CapturedStep: one training step recorded once as a CUDA graph and replayed, so a step costs
// one copy of the batch into static input buffers plus one native graphReplay call.
//
//   const cs = new CapturedStep((x, y) => { ...forward, backward, opt.step(), opt.zeroGrad(); return [loss, correct]; },
//                               { onReplay: () => opt.stepCount++, reset: () => opt.zeroGrad() });
//   const [loss, correct] = cs.step(xBatch, yBatch);   // static outputs: read them, do not dispose them
//
// Life cycle: the first `warmup` steps run eagerly on the static buffers (they create what the
// step creates lazily: convolution algorithm choices, the cuDNN workspace, momentum buffers,
// BN reserve space), the next one is captured and replayed at once (a capture only records),
// the rest are replays. On the CPU, with `capture: false`, or when capture fails, every step
// runs eagerly (the reason is logged once and kept in `eagerReason`).
//
// What a replay cannot change: every address, and every scalar passed by value to a kernel
// launch (momentum, weight decay, BN momentum) is baked in at capture time.
// - The learning rate and the fp16 loss scale are not: SGD reads lr from a device tensor
//   that setting `lr` rewrites, and MixedPrecision keeps the scale and the overflow flag on
//   the device, so schedules and loss scaling run inside the replayed graph. `captureKey`
//   remains for values a step function bakes in itself: when it changes, the graph is
//   dropped and the next step re-captured; after `maxRecaptures` the helper runs eagerly.
// - JS side effects of the step function (SGD.stepCount++, BatchNorm2d's num_batches_tracked)
//   happen once per capture, not per replay: `onReplay` replays them, and `reset` undoes
//   them after a failed capture (`onCaptureStart` is the moment to note them).
//
// Memory ownership (why disposing captured intermediates is safe): graphCaptureBegin routes
// every allocation to a private allocator pool owned by the graph. The intermediates of the
// captured step are disposed by the step's tidy scope as usual; their Storage hands the block
// back to *that pool's* cache, not to the driver and not to the default pool, and that pool is
// served only during its own capture, so no eager tensor ever gets those addresses while the
// graph can replay. Blocks of older tensors released during the capture join the pool too
// (the graph may have read them). The pool is freed by the graph's dispose(). The static
// outputs (loss, ...) are pool blocks held by this helper until re-capture or dispose().
// What the graph borrows and does not own: the static inputs (owned here), the parameters,
// gradient-free persistent state (momentum buffers, BN running statistics) and the cuDNN
// workspace (kept alive by the native side while graphs exist). Dispose this helper before
// the model and the optimizer.
import { badArg, checkNumber, checkOptions, optionNames } from '../checks';
import { native, NativeCudaGraph } from '../native';
import { checkTensor, describe, keep, Tensor, tidy } from '../tensor';

export type StepOutputs = Tensor | Tensor[];

export interface CapturedStepOptions {
  /** false: never capture (every step eager, nothing logged). Default true. */
  capture?: boolean;
  /** Eager steps before the capture. Default 2 (the first creates momentum buffers; the second is a plain step). */
  warmup?: number;
  /** A value the step function bakes into the graph; when it changes, the next step re-captures. */
  captureKey?: () => unknown;
  /** Re-captures allowed before falling back to eager for good. Default 8. */
  maxRecaptures?: number;
  /** Called for every step served by a replay alone: the step function's JS side effects. */
  onReplay?: () => void;
  /** Called right before the step function runs to be captured: e.g. to note JS state that `reset` restores. */
  onCaptureStart?: () => void;
  /** Called after a capture failed part-way through the step function (e.g. to drop gradients it recorded but never computed). */
  reset?: () => void;
  /** Where the reason for running eagerly goes (once). Default console.warn. */
  log?: (message: string) => void;
}

type Mode = 'warmup' | 'captured' | 'eager';

export const CAPTURED_STEP_OPTIONS = optionNames<CapturedStepOptions>({
  capture: true,
  warmup: true,
  captureKey: true,
  maxRecaptures: true,
  onReplay: true,
  onCaptureStart: true,
  reset: true,
  log: true,
});

const sameLayout = (a: Tensor, b: Tensor) => a.shape.join() === b.shape.join() && a.dtype === b.dtype && a.layout === b.layout && a.device === b.device;

const list = <T extends StepOutputs>(o: T): Tensor[] => (Array.isArray(o) ? o : [o]);

export class CapturedStep<T extends StepOutputs> {
  private x: Tensor | null = null;
  private y: Tensor | null = null;
  private graph: NativeCudaGraph | null = null;
  private outputs: T | null = null;
  private key: unknown = undefined;
  private sinceStart = 0;
  private disposedFlag = false;
  private readonly opts: Required<Omit<CapturedStepOptions, 'captureKey' | 'onReplay' | 'onCaptureStart' | 'reset'>> &
    Pick<CapturedStepOptions, 'captureKey' | 'onReplay' | 'onCaptureStart' | 'reset'>;
  /** Why steps run eagerly (null while capture is in use or pending). */
  eagerReason: string | null = null;
  /** Captures made so far (the first one included). */
  captures = 0;
  /** Steps served by a replay. */
  replays = 0;

  constructor(
    private readonly fn: (x: Tensor, y: Tensor) => T,
    options: CapturedStepOptions = {},
  ) {
    if (typeof fn !== 'function') throw badArg('type', 'CapturedStep: fn', `must be a function, got ${describe(fn)}`);
    checkOptions('CapturedStep', options, CAPTURED_STEP_OPTIONS);
    const warmup = checkNumber(options.warmup ?? 2, 'CapturedStep: warmup', { integer: true, min: 1 });
    const maxRecaptures = checkNumber(options.maxRecaptures ?? 8, 'CapturedStep: maxRecaptures', { integer: true, min: 0 });
    for (const k of ['captureKey', 'onReplay', 'onCaptureStart', 'reset', 'log'] as const)
      if (options[k] !== undefined && typeof options[k] !== 'function')
        throw badArg('type', `CapturedStep: ${k}`, `must be a function, got ${describe(options[k])}`);
    this.opts = {
      capture: options.capture ?? true,
      warmup,
      maxRecaptures,
      captureKey: options.captureKey,
      onReplay: options.onReplay,
      onCaptureStart: options.onCaptureStart,
      reset: options.reset,
      log: options.log ?? ((m: string) => console.warn(m)),
    };
    if (!this.opts.capture) this.eagerReason = 'capture disabled';
  }

  /** 'warmup' before the capture, 'captured' while replaying, 'eager' after a fallback or when disabled. */
  get mode(): Mode {
    return this.eagerReason !== null ? 'eager' : this.graph ? 'captured' : 'warmup';
  }

  /**
   * One training step on this batch. The returned tensors belong to this helper and stay
   * valid until the next step() or dispose(): read them, do not dispose or keep them.
   */
  step(xBatch: Tensor, yBatch: Tensor): T {
    if (this.disposedFlag) throw new Error('CapturedStep.step: the helper is disposed');
    checkTensor(xBatch, 'CapturedStep.step: xBatch');
    checkTensor(yBatch, 'CapturedStep.step: yBatch');
    if (this.eagerReason === null && !xBatch.device.startsWith('cuda')) this.fallBack(`device ${xBatch.device}: CUDA graphs need a cuda device`);
    if (this.eagerReason !== null) return this.runEager(xBatch, yBatch);

    if (this.x && this.y && !(sameLayout(this.x, xBatch) && sameLayout(this.y, yBatch))) {
      // A new shape needs new buffers, a new warm-up and a new graph.
      this.dropGraph();
      this.x.dispose();
      this.y.dispose();
      this.x = this.y = null;
      this.sinceStart = 0;
    }
    if (!this.x || !this.y) {
      this.x = keep(new Tensor(native().empty(xBatch.shape, xBatch.dtype, xBatch.layout, xBatch.device)));
      this.y = keep(new Tensor(native().empty(yBatch.shape, yBatch.dtype, yBatch.layout, yBatch.device)));
    }
    this.x.copyFrom(xBatch);
    this.y.copyFrom(yBatch);

    const key = this.opts.captureKey?.();
    if (this.graph && !Object.is(key, this.key)) {
      this.dropGraph();
      if (this.captures > this.opts.maxRecaptures) {
        this.fallBack(`the captured step's key changed ${this.captures} times; ` + 'a value that changes every step would re-capture every step');
        return this.runEager(this.x, this.y);
      }
    }
    this.sinceStart++;
    if (!this.graph && this.sinceStart > this.opts.warmup && this.tryCapture(key)) return this.outputs as T;
    if (this.graph) {
      native().graphReplay(this.graph);
      this.replays++;
      this.opts.onReplay?.();
      return this.outputs as T;
    }
    return this.runEager(this.x, this.y);
  }

  /** Drops the graph (the next step captures again after no further warm-up). */
  invalidate(): void {
    this.dropGraph();
  }

  /** Frees the graph, its memory, the static buffers and outputs. Call before disposing the model. */
  dispose(): void {
    if (this.disposedFlag) return;
    this.disposedFlag = true;
    this.dropGraph();
    this.x?.dispose();
    this.y?.dispose();
    this.x = this.y = null;
  }

  private fallBack(reason: string): void {
    if (this.eagerReason !== null) return;
    this.eagerReason = reason;
    this.opts.log(`cudnn-resnet: training step not captured as a CUDA graph, running eagerly: ${reason}`);
    this.dropGraph();
  }

  private disposeOutputs(): void {
    if (this.outputs) for (const t of list(this.outputs)) t.dispose();
    this.outputs = null;
  }

  // Outputs first: their pool blocks go back to the pool, which dispose() then frees whole.
  private dropGraph(): void {
    this.disposeOutputs();
    this.graph?.dispose();
    this.graph = null;
  }

  private runEager(x: Tensor, y: Tensor): T {
    this.disposeOutputs();
    const out = tidy(() => this.fn(x, y));
    for (const t of list(out)) keep(t);
    this.outputs = out;
    return out;
  }

  // Records one step and replays it (which runs it). False, with the reason logged, when
  // anything fails; the capture is then discarded and the step has not run.
  private tryCapture(key: unknown): boolean {
    const x = this.x as Tensor;
    const y = this.y as Tensor;
    const dev = x.device;
    this.disposeOutputs();
    let out: T;
    this.opts.onCaptureStart?.();
    try {
      native().graphCaptureBegin(dev);
    } catch (e) {
      this.fallBack(`graphCaptureBegin failed: ${(e as Error).message}`);
      return false;
    }
    try {
      out = tidy(() => this.fn(x, y));
    } catch (e) {
      native().graphCaptureAbort(dev);
      this.opts.reset?.();
      this.fallBack(`the step failed while being captured: ${(e as Error).message}`);
      return false;
    }
    let graph: NativeCudaGraph;
    try {
      graph = native().graphCaptureEnd(dev);
    } catch (e) {
      native().graphCaptureAbort(dev); // graphCaptureEnd discards on its own failures; this covers the rest
      for (const t of list(out)) t.dispose();
      this.opts.reset?.();
      this.fallBack(`graphCaptureEnd failed: ${(e as Error).message}`);
      return false;
    }
    for (const t of list(out)) keep(t);
    this.outputs = out;
    this.graph = graph;
    this.key = key;
    this.captures++;
    native().graphReplay(graph); // the capture only recorded: this runs the step
    return true;
  }
}
