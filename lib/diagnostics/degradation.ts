// The degradation experiment of He et al. (CVPR 2016, sec. 4.2 and Figure 6): plain nets
// and ResNets of the same depths trained with identical settings, with training and test
// error against iterations. In the paper the deeper plain net has the higher *training*
// error (degradation, not overfitting) while the deeper ResNet is better.
import { checkOptions, optionNames } from '../checks';
import { EvalMetrics } from '../train/metrics';
import { Trainer, TrainerOptions } from '../train/trainer';
import { DEFAULT_SMALL_BATCH_LR } from './grad-flow';
import { lineChart, Series } from './svg';

export const DEFAULT_DEGRADATION_MODELS = ['plain20', 'plain56', 'resnet20', 'resnet56'];

export interface DegradationOptions {
  models?: string[];
  iterations?: number;
  batchSize?: number;
  /** Evaluate (and record a point) every N iterations. */
  evalEvery?: number;
  /** Default 0.02 (DEFAULT_SMALL_BATCH_LR: the default batch is 32). */
  lr?: number;
  schedule?: string;
  weightDecay?: number;
  momentum?: number;
  seed?: number;
  device?: string;
  /** CIFAR-10 folder or .tar.gz (default: the synthetic dataset). */
  data?: string;
  trainImages?: number;
  testImages?: number;
  /** A run folder per model under here (metrics, checkpoints); none when absent. */
  out?: string;
  onEval?: (model: string, e: EvalMetrics) => void;
  onStart?: (model: string, info: { device: string; totalIterations: number }) => void;
}

export interface DegradationCurve {
  model: string;
  points: EvalMetrics[];
  seconds: number;
}

export interface DegradationResult {
  settings: Required<Omit<DegradationOptions, 'out' | 'onEval' | 'onStart' | 'data' | 'trainImages' | 'testImages'>> & {
    data: string;
    trainImages: number | null;
    testImages: number | null;
  };
  curves: DegradationCurve[];
  seconds: number;
}

const DEGRADATION_OPTIONS = optionNames<DegradationOptions>({
  models: true,
  iterations: true,
  batchSize: true,
  evalEvery: true,
  lr: true,
  schedule: true,
  weightDecay: true,
  momentum: true,
  seed: true,
  device: true,
  data: true,
  trainImages: true,
  testImages: true,
  out: true,
  onEval: true,
  onStart: true,
});

/** Trains each model in turn with the same settings and seed. */
export async function degradation(opts: DegradationOptions = {}): Promise<DegradationResult> {
  checkOptions('degradation', opts, DEGRADATION_OPTIONS);
  const settings: DegradationResult['settings'] = {
    models: opts.models ?? DEFAULT_DEGRADATION_MODELS,
    iterations: opts.iterations ?? 40,
    batchSize: opts.batchSize ?? 32,
    evalEvery: opts.evalEvery ?? 8,
    lr: opts.lr ?? DEFAULT_SMALL_BATCH_LR,
    schedule: opts.schedule ?? 'constant',
    weightDecay: opts.weightDecay ?? 1e-4,
    momentum: opts.momentum ?? 0.9,
    seed: opts.seed ?? 0,
    device: opts.device ?? 'auto',
    data: opts.data ?? 'synthetic',
    trainImages: opts.trainImages ?? null,
    // The synthetic test set is cut to 250 images by default: evaluation dominates a tiny budget.
    testImages: opts.testImages ?? (opts.data === undefined ? 250 : null),
  };
  const t0 = Date.now();
  const curves: DegradationCurve[] = [];
  for (const model of settings.models) {
    const o: TrainerOptions = {
      model,
      iterations: settings.iterations,
      batchSize: settings.batchSize,
      evalEvery: settings.evalEvery,
      lr: settings.lr,
      schedule: settings.schedule,
      weightDecay: settings.weightDecay,
      momentum: settings.momentum,
      seed: settings.seed,
      device: settings.device,
      data: opts.data,
      trainImages: opts.trainImages,
      testImages: settings.testImages ?? undefined,
      out: opts.out ? `${opts.out}/${model}` : undefined,
      overwrite: true, // a rerun of the experiment replaces its run folders, as it does its summary files
    };
    const trainer = new Trainer(o);
    const points: EvalMetrics[] = [];
    trainer.on('eval', (e: EvalMetrics) => {
      points.push(e);
      opts.onEval?.(model, e);
    });
    trainer.on('start', (info) => opts.onStart?.(model, { device: info.device, totalIterations: info.totalIterations }));
    try {
      const r = await trainer.fit();
      curves.push({ model, points, seconds: r.seconds });
    } finally {
      trainer.dispose();
    }
  }
  return { settings, curves, seconds: (Date.now() - t0) / 1000 };
}

const COLORS: Record<string, string> = { 20: '#ff7f0e', 32: '#2ca02c', 44: '#1f77b4', 56: '#d62728', 110: '#9467bd' };
const FALLBACK = ['#8c564b', '#e377c2', '#17becf', '#7f7f7f'];

function colorFor(model: string, i: number): string {
  const d = /(\d+)$/.exec(model)?.[1];
  return (d && COLORS[d]) ?? FALLBACK[i % FALLBACK.length];
}

function label(model: string): string {
  return model.replace(/^plain(\d+)/, 'plain-$1').replace(/^resnet(\d+)/, 'ResNet-$1');
}

/**
 * The Figure 6 form: a panel for the plain nets and one for the ResNets, error (%) against
 * iterations, test error solid and training error dashed, one colour per depth.
 */
export function degradationSvg(r: DegradationResult): string {
  const groups: [string, DegradationCurve[]][] = [
    ['plain networks', r.curves.filter((c) => c.model.startsWith('plain'))],
    ['residual networks', r.curves.filter((c) => !c.model.startsWith('plain'))],
  ].filter(([, cs]) => cs.length > 0) as [string, DegradationCurve[]][];
  const W = 620;
  const H = 420;
  // Shared axes, so the panels compare at a glance.
  const errs = r.curves.flatMap((c) => c.points.flatMap((p) => [p.testError, p.trainError])).filter(Number.isFinite);
  const yTop = Math.min(100, Math.ceil((100 * Math.max(...errs, 0.1)) / 10) * 10);
  const xEnd = Math.max(...r.curves.flatMap((c) => c.points.map((p) => p.iteration)), 1);
  const panels = groups.map(([title, cs], gi) => {
    const series: Series[] = [];
    cs.forEach((c, i) => {
      const color = colorFor(c.model, i);
      series.push({ name: `${label(c.model)} test`, color, points: c.points.map((p) => [p.iteration, 100 * p.testError]) });
      series.push({ name: `${label(c.model)} train`, color, dash: '6 4', points: c.points.map((p) => [p.iteration, 100 * p.trainError]) });
    });
    const svg = lineChart(series, {
      title: `${title}: test (solid), training (dashed)`,
      xLabel: 'iterations',
      yLabel: 'error (%)',
      width: W,
      height: H,
      xRange: [0, xEnd],
      yRange: [0, yTop],
    });
    return svg.trim().replace('<svg ', `<svg x="${gi * W}" y="0" `);
  });
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W * panels.length}" height="${H}" viewBox="0 0 ${W * panels.length} ${H}">`,
    '<title>degradation: plain vs residual networks</title>',
    ...panels,
    '</svg>',
    '',
  ].join('\n');
}

/** A markdown table: final and best errors per model, and wall time. */
export function degradationTable(r: DegradationResult): string {
  const s = r.settings;
  const pct = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? '-' : `${(100 * v).toFixed(2)}%`);
  const lines = [
    `Settings: ${s.iterations} iterations, batch ${s.batchSize}, lr ${s.lr} (${s.schedule}), momentum ${s.momentum}, weight decay ${s.weightDecay}, seed ${s.seed}, data ${s.data}` +
      `${s.trainImages || s.testImages ? ` (${[s.trainImages ? `${s.trainImages} training` : '', s.testImages ? `${s.testImages} test` : ''].filter(Boolean).join(', ')} images)` : ''}; evaluated every ${s.evalEvery} iterations. Training error: mean over the training batches (augmented, train mode) since the previous evaluation.`,
    '',
    '| model | final training error | final test error | best test error | final training loss | wall time |',
    '|---|---|---|---|---|---|',
  ];
  for (const c of r.curves) {
    const last = c.points[c.points.length - 1];
    const best = Math.min(...c.points.map((p) => p.testError));
    lines.push(
      `| ${label(c.model)} | ${pct(last?.trainError)} | ${pct(last?.testError)} | ${pct(best)} | ${last ? last.trainLoss.toFixed(4) : '-'} | ${c.seconds.toFixed(1)} s |`,
    );
  }
  return lines.join('\n') + '\n';
}
