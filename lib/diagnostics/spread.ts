// The spread of the diagnostics over seeds. Early training is chaotic: one seed's figures
// can say the opposite of another's, so what the README publishes is the median and the
// range over several seeds (run at a fixed CPU thread count, which fixes the summation
// order), and per-seed tables from which "at every seed" claims can be read off.
import { badArg, describe } from '../checks';
import type { DegradationResult } from './degradation';
import type { GradFlowMeasurement, GradFlowResult } from './grad-flow';

/** '0-4' (a range), '0,2,7' (a list) or '3'; at most 100 distinct non-negative seeds, in the order given. */
export function parseSeeds(spec: string): number[] {
  if (typeof spec !== 'string' || spec.trim() === '') throw badArg('type', 'parseSeeds: spec', `must be a seed list like 0-4 or 0,2,7, got ${describe(spec)}`);
  const out: number[] = [];
  for (const part of spec.split(',')) {
    const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(part);
    if (!m) throw badArg('range', 'parseSeeds: spec', `must be a seed list like 0-4 or 0,2,7, got '${spec}'`);
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (!Number.isSafeInteger(a) || !Number.isSafeInteger(b) || b < a)
      throw badArg('range', 'parseSeeds: spec', `has an empty or invalid range '${part.trim()}'`);
    if (b - a >= 100) throw badArg('range', 'parseSeeds: spec', `lists more than 100 seeds ('${part.trim()}')`);
    for (let s = a; s <= b; s++) if (!out.includes(s)) out.push(s);
  }
  if (out.length > 100) throw badArg('range', 'parseSeeds: spec', `lists ${out.length} seeds; at most 100`);
  return out;
}

/** The median (mean of the middle two for an even count); NaN for none. */
export function median(xs: number[]): number {
  const s = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const h = Math.floor(s.length / 2);
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
}

/** "median (min .. max)" in the given number format. */
export function spreadCell(xs: number[], fmt: (v: number) => string): string {
  if (xs.length === 0) return '-';
  if (xs.length === 1) return fmt(xs[0]);
  return `${fmt(median(xs))} (${fmt(Math.min(...xs))} .. ${fmt(Math.max(...xs))})`;
}

const sig = (v: number) =>
  !Number.isFinite(v) ? String(v) : Math.abs(v) >= 1e4 || (v !== 0 && Math.abs(v) < 1e-2) ? v.toExponential(1) : String(Number(v.toPrecision(2)));
const pct = (v: number) => (Number.isFinite(v) ? `${(100 * v).toFixed(1)}%` : '-');
const fixed2 = (v: number) => (Number.isFinite(v) ? v.toFixed(2) : '-');

const MODEL_LABELS: Record<string, string> = { plain: 'plain', resnet: 'ResNet', preact: 'PreAct-ResNet' };
function label(model: string): string {
  const m = /^([a-z]+)(\d+)$/.exec(model);
  return m && MODEL_LABELS[m[1]] ? `${MODEL_LABELS[m[1]]}-${m[2]}` : model;
}

/** First / last ratios of one measurement: block-input gradients and convolution weight gradients. */
export function gradFlowRatios(m: GradFlowMeasurement): { blockInputs: number; convWeights: number } {
  const convs = m.weights.filter((e) => !e.name.startsWith('fc.'));
  const bi = m.blockInputs;
  return {
    blockInputs: (bi[0]?.norm ?? NaN) / (bi[bi.length - 1]?.norm ?? NaN),
    convWeights: (convs[0]?.norm ?? NaN) / (convs[convs.length - 1]?.norm ?? NaN),
  };
}

function seedsOf(results: { seed: number }[]): string {
  return results.map((r) => r.seed).join(', ');
}

/**
 * Markdown tables of gradFlow results of the same settings over several seeds: per model and
 * step the median and range of the first/last ratios and of the loss, then the loss per seed.
 */
export function gradFlowSpreadTable(results: GradFlowResult[], threads: number | null): string {
  if (results.length === 0) return '';
  const o = results[0].options;
  const lines = [
    `${results.length} seeds (${seedsOf(results.map((r) => r.options))}), ${threads === null ? o.device : `${o.device}, ${threads} CPU thread${threads > 1 ? 's' : ''}`}; ` +
      `batch ${o.batchSize}, lr ${o.lr}, momentum ${o.momentum}, weight decay ${o.weightDecay}; data: ${o.data}. ` +
      'Each cell: median (min .. max) over the seeds; ratio = norm at the first block input (or convolution) / norm at the last.',
    '',
    '| model, SGD steps | block input, first / last | conv weight gradient, first / last | loss |',
    '|---|---|---|---|',
  ];
  const perSeed: string[] = [
    `| model, SGD steps | ${results.map((r) => `seed ${r.options.seed}`).join(' | ')} |`,
    `|---|${results.map(() => '---|').join('')}`,
  ];
  for (const model of o.models) {
    for (const step of o.steps) {
      const ms = results.map((r) => r.measurements.find((m) => m.model === model && m.step === step)).filter((m): m is GradFlowMeasurement => m !== undefined);
      const ratios = ms.map(gradFlowRatios);
      const row = `${label(model)}, ${step}`;
      lines.push(
        `| ${row} | ${spreadCell(
          ratios.map((r) => r.blockInputs),
          sig,
        )} | ${spreadCell(
          ratios.map((r) => r.convWeights),
          sig,
        )} | ${spreadCell(
          ms.map((m) => m.loss),
          fixed2,
        )} |`,
      );
      perSeed.push(`| ${row} | ${ms.map((m) => `${fixed2(m.loss)} / ${sig(gradFlowRatios(m).blockInputs)}`).join(' | ')} |`);
    }
  }
  return [...lines, '', 'Per seed: loss / block-input ratio.', '', ...perSeed, ''].join('\n');
}

/**
 * Markdown tables of degradation results of the same settings over several seeds: per model
 * the median and range of the final figures, then the final training error per seed. No wall
 * times: they depend on the machine and its load, the figures only on seed and thread count.
 */
export function degradationSpreadTable(results: DegradationResult[], threads: number | null): string {
  if (results.length === 0) return '';
  const s = results[0].settings;
  const lines = [
    `${results.length} seeds (${seedsOf(results.map((r) => r.settings))}), ${threads === null ? 'GPU' : `${threads} CPU thread${threads > 1 ? 's' : ''}`}; ` +
      `${s.iterations} iterations of batch ${s.batchSize}, lr ${s.lr} (${s.schedule}), momentum ${s.momentum}, weight decay ${s.weightDecay}, ` +
      `evaluated every ${s.evalEvery} iterations; data: ${s.data}${s.testImages ? ` (${s.testImages} test images)` : ''}. Each cell: median (min .. max) over the seeds.`,
    '',
    '| model | final training error | final test error | best test error | final training loss |',
    '|---|---|---|---|---|',
  ];
  const perSeed: string[] = [`| model | ${results.map((r) => `seed ${r.settings.seed}`).join(' | ')} |`, `|---|${results.map(() => '---|').join('')}`];
  for (const model of s.models) {
    const curves = results.map((r) => r.curves.find((c) => c.model === model)).filter((c) => c !== undefined && c.points.length > 0);
    const last = curves.map((c) => c!.points[c!.points.length - 1]);
    const best = curves.map((c) => Math.min(...c!.points.map((p) => p.testError)));
    lines.push(
      `| ${label(model)} | ${spreadCell(
        last.map((p) => p.trainError),
        pct,
      )} | ${spreadCell(
        last.map((p) => p.testError),
        pct,
      )} | ${spreadCell(best, pct)} | ${spreadCell(
        last.map((p) => p.trainLoss),
        fixed2,
      )} |`,
    );
    perSeed.push(`| ${label(model)} | ${last.map((p) => pct(p.trainError)).join(' | ')} |`);
  }
  return [...lines, '', 'Final training error per seed.', '', ...perSeed, ''].join('\n');
}
