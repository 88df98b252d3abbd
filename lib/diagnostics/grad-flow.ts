// Gradient flow through depth: for each weight layer the L2 norm of its weight gradient,
// and for each block the L2 norm of the gradient reaching the block's input (read by an
// autograd hook on that input while backward runs), ordered by depth. Comparing a plain net
// with the ResNet of the same depth shows what the shortcuts do to the backward signal.
//
// The numbers are measured, not modelled: with batch norm a deep plain net need not show
// "vanishing" gradients at initialisation (BN rescales every layer's output; what it does
// to the gradient depends on the net), so read the plot rather than the textbook.
import { softmaxCrossEntropy } from '../ops';
import { CifarDataLoader } from '../data/cifar-batches';
import { BatchLoader } from '../data/dataset';
import { Dataset } from '../data/format';
import { syntheticDataset } from '../data/synthetic';
import { BasicBlock, Bottleneck, PreActBlock, PreActBottleneck } from '../models/blocks';
import { create as createModel } from '../models/resnet';
import { native, NativeTensor } from '../native';
import { Module } from '../nn/module';
import { SGD } from '../optim/sgd';
import { badArg, checkOptions, describe, optionNames } from '../checks';
import { Tensor, tidy } from '../tensor';
import { escapeXml, lineChart, Series } from './svg';

/**
 * The default learning rate of the diagnostics, which run at batch 32: the paper's 0.1 is for
 * batch 128 (linear scaling gives 0.025), and 0.1 at batch 32 made ResNet-56's loss jump
 * from 2.7 to ~9 in 3 steps; 0.02 trained all four models of the experiments without that.
 */
export const DEFAULT_SMALL_BATCH_LR = 0.02;

export interface NormEntry {
  /** 1-based position by depth (input side first). */
  depth: number;
  name: string;
  norm: number;
}

export interface GradFlowMeasurement {
  model: string;
  /** SGD steps taken before this measurement (0: at initialisation). */
  step: number;
  loss: number;
  /** Convolution and fully connected weights, in the order the forward uses them. */
  weights: NormEntry[];
  /** The gradient reaching each block's input. */
  blockInputs: NormEntry[];
}

export interface GradFlowOptions {
  models: string[];
  /** Measure after each of these numbers of SGD steps (default [0, 10]). */
  steps?: number[];
  batchSize?: number;
  seed?: number;
  /** Default DEFAULT_SMALL_BATCH_LR (0.02): lr 0.1 at batch 32 sends a 56-layer net's loss from 2.7 to ~9 within 3 steps. */
  lr?: number;
  momentum?: number;
  weightDecay?: number;
  device?: string;
  /**
   * Training images (default: 1024 synthetic CIFAR-10 images), or any BatchLoader (an image
   * folder's DataLoader...), whose batches are used as they come; the caller disposes it.
   */
  data?: Dataset | BatchLoader;
  /** Called after each measurement (progress). */
  onMeasurement?: (m: GradFlowMeasurement) => void;
}

export interface GradFlowResult {
  options: {
    models: string[];
    steps: number[];
    batchSize: number;
    seed: number;
    lr: number;
    momentum: number;
    weightDecay: number;
    device: string;
    data: string;
  };
  measurements: GradFlowMeasurement[];
}

function l2(handles: NativeTensor[]): number[] {
  if (handles.length === 0) return [];
  const t = native().l2Norms(handles);
  try {
    return Array.from(t.read() as Float32Array);
  } finally {
    t.dispose();
  }
}

/** The weight layers whose gradients are reported: 4-D (convolution) and 2-D (linear) parameters. */
export function weightParameters(model: Module): [string, Tensor][] {
  return model.namedParameters().filter(([, p]) => p.rank === 4 || p.rank === 2);
}

/** L2 norms of the weight layers' current .grad (after a backward), ordered by depth. */
export function weightGradNorms(model: Module): NormEntry[] {
  const ps = weightParameters(model).filter(([, p]) => p.grad !== null);
  const norms = l2(ps.map(([, p]) => (p.grad as Tensor).handle));
  return ps.map(([name], i) => ({ depth: i + 1, name, norm: norms[i] }));
}

/** The residual (or plain) blocks of a model with their names, in forward order. */
export function blocksOf(model: Module): [string, Module][] {
  return model
    .namedModules()
    .filter(([, m]) => m instanceof BasicBlock || m instanceof Bottleneck || m instanceof PreActBlock || m instanceof PreActBottleneck);
}

/**
 * Wraps each block's forward so that every backward records the norm of the gradient
 * reaching its input. Returns the latest norms (block name -> norm) and a remover that
 * restores the blocks.
 */
export function hookBlockInputs(model: Module): { norms: Map<string, number>; remove: () => void } {
  const norms = new Map<string, number>();
  const restore: (() => void)[] = [];
  for (const [name, block] of blocksOf(model)) {
    const own = Object.getOwnPropertyDescriptor(block, 'forward');
    const impl = block.forward;
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    (block as { forward: (...a: any[]) => Tensor }).forward = (x: Tensor, ...rest: unknown[]) => {
      if (x.requiresGrad) x.registerHook((g) => norms.set(name, l2([g.handle])[0]));
      return (impl as (...a: unknown[]) => Tensor).call(block, x, ...rest);
    };
    restore.push(() => {
      if (own) Object.defineProperty(block, 'forward', own);
      else delete (block as { forward?: unknown }).forward;
    });
  }
  return { norms, remove: () => restore.forEach((r) => r()) };
}

/**
 * One forward and backward of `model` on (x, y), with gradients left in the parameters'
 * .grad (the caller steps or clears them). Returns the loss and both norm profiles.
 */
export function measureGradients(model: Module, x: Tensor, y: Tensor): { loss: number; weights: NormEntry[]; blockInputs: NormEntry[] } {
  const hooks = hookBlockInputs(model);
  try {
    const loss = tidy(() => {
      const r = softmaxCrossEntropy(model.forward(x), y);
      r.loss.backward();
      return r.loss.item();
    });
    const blockInputs = blocksOf(model)
      .filter(([n]) => hooks.norms.has(n))
      .map(([name], i) => ({ depth: i + 1, name, norm: hooks.norms.get(name) as number }));
    return { loss, weights: weightGradNorms(model), blockInputs };
  } finally {
    hooks.remove();
  }
}

const GRAD_FLOW_OPTIONS = optionNames<GradFlowOptions>({
  models: true,
  steps: true,
  batchSize: true,
  seed: true,
  lr: true,
  momentum: true,
  weightDecay: true,
  device: true,
  data: true,
  onMeasurement: true,
});

/** Trains each model from the same seed on the same batches and measures at the given steps. */
export async function gradFlow(opts: GradFlowOptions): Promise<GradFlowResult> {
  opts = checkOptions('gradFlow', opts, GRAD_FLOW_OPTIONS);
  if (!Array.isArray(opts.models) || opts.models.length === 0)
    throw badArg('type', 'gradFlow: models', `must list at least one model name, got ${describe(opts.models)}`);
  if (opts.steps !== undefined && !Array.isArray(opts.steps))
    throw badArg('type', 'gradFlow: steps', `must be an array of step counts, got ${describe(opts.steps)}`);
  const steps = [...new Set(opts.steps ?? [0, 10])].sort((a, b) => a - b);
  if (steps.some((s) => !Number.isInteger(s) || s < 0)) throw badArg('range', 'gradFlow: steps', `must be non-negative integers, got [${steps.join(', ')}]`);
  const given = opts.data !== undefined && typeof (opts.data as BatchLoader).batch === 'function' ? (opts.data as BatchLoader) : null;
  const cifar = given ? null : ((opts.data as Dataset | undefined) ?? null);
  const o = {
    models: opts.models,
    steps,
    batchSize: given ? given.batchSize : (opts.batchSize ?? 32),
    seed: opts.seed ?? 0,
    lr: opts.lr ?? DEFAULT_SMALL_BATCH_LR,
    momentum: opts.momentum ?? 0.9,
    weightDecay: opts.weightDecay ?? 1e-4,
    device: opts.device ?? 'cpu',
    data: given ? `${given.datasetLength} images from the given loader` : cifar ? cifar.source : 'synthetic cifar10, 1024 training images',
  };
  const measurements: GradFlowMeasurement[] = [];
  let loader: BatchLoader;
  let classes: number;
  if (given) {
    loader = given;
    if (given.classes === undefined) throw badArg('type', 'gradFlow: data', 'must be a loader that knows its number of classes (dataset.classes)');
    classes = given.classes;
  } else {
    const data = cifar ?? syntheticDataset({ count: 1024, seed: o.seed });
    loader = new CifarDataLoader(data, { batchSize: o.batchSize, device: o.device, seed: o.seed, dropLast: data.count >= o.batchSize });
    classes = data.classes;
  }
  try {
    for (const name of o.models) {
      const model = createModel(name, { classes, seed: o.seed, device: o.device });
      const sgd = new SGD(model, { lr: o.lr, momentum: o.momentum, weightDecay: o.weightDecay });
      try {
        const last = steps[steps.length - 1];
        const bpe = loader.batchesPerEpoch;
        for (let it = 0; it <= last; it++) {
          const e = Math.floor(it / bpe);
          const b = await loader.batch(e, it % bpe);
          const { x, y } = b;
          try {
            if (steps.includes(it)) {
              const m = { model: name, step: it, ...measureGradients(model, x, y) };
              measurements.push(m);
              opts.onMeasurement?.(m);
            } else {
              tidy(() => softmaxCrossEntropy(model.forward(x), y).loss.backward());
            }
            if (it < last) sgd.step();
            sgd.zeroGrad();
          } finally {
            b.dispose();
          }
          await new Promise<void>((r) => setImmediate(r));
        }
      } finally {
        sgd.dispose();
        model.dispose();
      }
    }
  } finally {
    if (!given) loader.dispose();
  }
  return { options: o, measurements };
}

// ---------------------------------------------------------------- reports

const COLORS = ['#d62728', '#1f77b4', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];
const DASHES = [undefined, '7 4', '2 3', '10 3 2 3'];

function series(r: GradFlowResult, pick: (m: GradFlowMeasurement) => NormEntry[]): Series[] {
  const multiStep = r.options.steps.length > 1;
  return r.measurements.map((m) => {
    const mi = r.options.models.indexOf(m.model);
    const si = r.options.steps.indexOf(m.step);
    return {
      name: multiStep ? `${m.model}, step ${m.step}` : m.model,
      points: pick(m).map((e) => [e.depth, e.norm] as [number, number]),
      color: COLORS[mi % COLORS.length],
      // Later measurements solid, the earliest (initialisation) dashed.
      dash: multiStep ? DASHES[(r.options.steps.length - 1 - si) % DASHES.length] : undefined,
    };
  });
}

/** Two SVG charts (log-scale y, one line per model and step): weight gradients and block-input gradients. */
export function gradFlowCharts(r: GradFlowResult): { weights: string; blockInputs: string } {
  const when = r.options.steps.length > 1 ? `after ${r.options.steps.join(' / ')} SGD steps` : `after ${r.options.steps[0]} SGD steps`;
  const sub = `batch ${r.options.batchSize}, ${when}`;
  return {
    weights: lineChart(
      series(r, (m) => m.weights),
      {
        title: `Weight-gradient norm by layer (${sub})`,
        xLabel: 'layer (input side to output side)',
        yLabel: '||dL/dW||',
        logY: true,
        width: 860,
      },
    ),
    blockInputs: lineChart(
      series(r, (m) => m.blockInputs),
      {
        title: `Gradient norm reaching each block's input (${sub})`,
        xLabel: 'block (input side to output side)',
        yLabel: '||dL/dx||',
        logY: true,
        width: 860,
      },
    ),
  };
}

/** Both charts stacked in one SVG document. */
export function gradFlowSvg(r: GradFlowResult): string {
  const c = gradFlowCharts(r);
  const inner = (s: string, y: number) => s.replace('<svg ', `<svg x="0" y="${y}" `);
  return [
    '<svg xmlns="http://www.w3.org/2000/svg" width="860" height="880" viewBox="0 0 860 880">',
    `<title>${escapeXml(`gradient flow: ${r.options.models.join(' vs ')}`)}</title>`,
    inner(c.weights.trim(), 0),
    inner(c.blockInputs.trim(), 440),
    '</svg>',
    '',
  ].join('\n');
}

function fmt(v: number | undefined): string {
  return v === undefined ? '' : v.toExponential(3);
}

/** A plain-text table per quantity: one row per depth, one column per (model, step). */
export function gradFlowTable(r: GradFlowResult): string {
  const out: string[] = [];
  const head = r.measurements.map((m) => (r.options.steps.length > 1 ? `${m.model}@${m.step}` : m.model));
  for (const [title, pick] of [
    ['weight-gradient L2 norm by layer', (m: GradFlowMeasurement) => m.weights],
    ['gradient L2 norm at each block input', (m: GradFlowMeasurement) => m.blockInputs],
  ] as const) {
    const rows = Math.max(...r.measurements.map((m) => pick(m).length));
    const first = r.measurements.map(pick).find((l) => l.length === rows) ?? [];
    const nameW = Math.max(5, ...first.map((e) => e.name.length));
    const colW = Math.max(11, ...head.map((h) => h.length));
    out.push(title);
    out.push(`${'depth'.padStart(5)}  ${'layer'.padEnd(nameW)}  ${head.map((h) => h.padStart(colW)).join('  ')}`);
    for (let i = 0; i < rows; i++)
      out.push(
        `${String(i + 1).padStart(5)}  ${(first[i]?.name ?? '').padEnd(nameW)}  ${r.measurements.map((m) => fmt(pick(m)[i]?.norm).padStart(colW)).join('  ')}`,
      );
    out.push('');
  }
  out.push(gradFlowSummary(r));
  return out.join('\n');
}

/** One line per measurement: loss, first / last layer norms and their ratio. */
export function gradFlowSummary(r: GradFlowResult): string {
  const lines = ['summary (ratio = first layer / last layer; > 1 means the gradient grows towards the input):'];
  for (const m of r.measurements) {
    const convs = m.weights.filter((e) => !e.name.startsWith('fc.'));
    const a = convs[0]?.norm ?? NaN;
    const b = convs[convs.length - 1]?.norm ?? NaN;
    const bi = m.blockInputs;
    const ba = bi[0]?.norm ?? NaN;
    const bb = bi[bi.length - 1]?.norm ?? NaN;
    lines.push(
      `  ${m.model} step ${m.step}: loss ${m.loss.toFixed(4)}; conv weight grads ${fmt(a)} (first) .. ${fmt(b)} (last), ratio ${(a / b).toPrecision(3)}; ` +
        `block-input grads ${fmt(ba)} (first block) .. ${fmt(bb)} (last), ratio ${(ba / bb).toPrecision(3)}`,
    );
  }
  return lines.join('\n');
}
