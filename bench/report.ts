// The tables `npm run bench` prints and the JSON document it stores (format:
// bench/results/README.md).
import { BenchEnv } from './env';
import { E2EResult } from './e2e';
import { Best, bestOf, PytorchEnv, PytorchResult } from './pytorch';
import { median, PRECISIONS, Row, rowImageSize, rowKey, TimingOptions } from './protocol';
import { StepResult } from './step';
import { fmtFixed, fmtInt, fmtRatio, fmtSI, formatTable } from './table';

export const SCHEMA = 'cudnn-resnet-bench/1';

export interface Comparison {
  model: string;
  batch: number;
  imageSize: number;
  /** images/s of each precision that ran. */
  ours: Partial<Record<string, number>>;
  oursBest: Best | null;
  pytorchEager: Best | null;
  pytorchCompile: Best | null;
  /** oursBest / pytorchEager. */
  ratioEager: number | null;
  /** oursBest / the best PyTorch mode of all (compiled included). */
  ratioBest: number | null;
  /**
   * CPU runs: process CPU time per step (all threads, median over repeats) of our fp32 step
   * and of PyTorch's fastest eager mode, and PyTorch's / ours: the cost ratio, which a busy
   * machine disturbs less than the wall clock.
   */
  oursCpuMs?: number | null;
  pytorchCpuMs?: number | null;
  ratioCpu?: number | null;
}

export interface BenchDocument {
  schema: string;
  env: BenchEnv;
  protocol: TimingOptions & { sgd: { lr: number; momentum: number; weightDecay: number }; timer: string };
  args: string[];
  rows: StepResult[];
  pytorch: { env: PytorchEnv; unavailable: string | null; results: PytorchResult[] } | null;
  comparison: Comparison[];
  e2e: E2EResult[];
}

const fmtPercent = (x: number) => (x >= 1 ? x.toFixed(1) : Number(x.toPrecision(2)).toString());
const label = (r: StepResult) => (r.tf32 ? 'tf32' : r.precision);

/**
 * Ours (best precision) against PyTorch's best eager and compiled modes, per row. A row
 * measured several times (--repeat) counts with the median of its repeats on both sides.
 */
export function compare(rows: Row[], ours: StepResult[], pytorch: PytorchResult[]): Comparison[] {
  return rows.map((row) => {
    const size = rowImageSize(row);
    const mine = ours.filter((r) => r.model === row.model && r.batch === row.batch && r.imageSize === size && r.imagesPerS !== null);
    const byPrecision: Partial<Record<string, number>> = {};
    let oursBest: Best | null = null;
    for (const p of new Set(mine.map(label))) {
      const ips = median(mine.filter((r) => label(r) === p).map((r) => r.imagesPerS as number));
      byPrecision[p] = ips;
      if (!oursBest || ips > oursBest.imagesPerS) oursBest = { mode: p, imagesPerS: ips };
    }
    const eager = bestOf(pytorch, row, 'eager');
    const compiled = bestOf(pytorch, row, 'compile');
    const best = [eager, compiled].filter((b): b is Best => b !== null).sort((a, b) => b.imagesPerS - a.imagesPerS)[0] ?? null;
    const cpuOurs = mine.filter((r) => r.device === 'cpu' && r.precision === 'fp32' && r.cpuMsPerStep !== null).map((r) => r.cpuMsPerStep as number);
    const cpuTorch = pytorch
      .filter(
        (r) =>
          r.model === row.model &&
          r.batch === row.batch &&
          (r.image_size ?? size) === size &&
          r.mode === (eager?.mode ?? 'eager-fp32') &&
          typeof r.cpu_ms_per_step === 'number',
      )
      .map((r) => r.cpu_ms_per_step as number);
    const oursCpuMs = cpuOurs.length ? median(cpuOurs) : null;
    const pytorchCpuMs = cpuTorch.length ? median(cpuTorch) : null;
    return {
      model: row.model,
      batch: row.batch,
      imageSize: size,
      ours: byPrecision,
      oursBest,
      pytorchEager: eager,
      pytorchCompile: compiled,
      ratioEager: oursBest && eager ? oursBest.imagesPerS / eager.imagesPerS : null,
      ratioBest: oursBest && best ? oursBest.imagesPerS / best.imagesPerS : null,
      ...(oursCpuMs !== null || pytorchCpuMs !== null
        ? { oursCpuMs, pytorchCpuMs, ratioCpu: oursCpuMs && pytorchCpuMs ? pytorchCpuMs / oursCpuMs : null }
        : {}),
    };
  });
}

/** One line per finished row, printed as the run goes. */
export function progressLine(r: StepResult): string {
  const head = `${rowKey(r).padEnd(15)} ${label(r).padEnd(4)}`;
  if (r.skipped) return `${head}  skipped: ${r.skipped}`;
  if (r.error) return `${head}  FAILED: ${r.error}`;
  return (
    `${head}  ${fmtFixed(r.msPerStep, 3).padStart(9)} ms/step  ${fmtInt(r.imagesPerS).padStart(8)} img/s` +
    `  (${r.stepMode ?? 'eager'}; runs ${r.runsMs.map((v) => v.toFixed(2)).join(' / ')} ms; warm-up ${fmtInt(r.warmupMs)} ms` +
    `${r.minorFaultsPerStep === null || r.minorFaultsPerStep === undefined ? '' : `; ${Math.round(r.minorFaultsPerStep)} page faults/step`})` +
    (r.eagerReason && r.device !== 'cpu' ? `\n${''.padEnd(21)}eager because: ${r.eagerReason}` : '')
  );
}

export function stepTable(results: StepResult[]): string {
  const cols = [
    'model:batch',
    'prec',
    'mode',
    'ms/step',
    'img/s',
    'cpu ms/step',
    'GFLOP/step',
    'MB/step',
    'floor ms',
    'bound',
    'ceiling img/s',
    '% of ceiling',
  ];
  const rows = results.map((r) => [
    rowKey(r),
    label(r),
    r.stepMode,
    r.skipped ? 'skipped' : r.error ? 'FAILED' : fmtFixed(r.msPerStep, 3),
    fmtInt(r.imagesPerS),
    fmtFixed(r.cpuMsPerStep, 1),
    fmtFixed(r.floor.flops / 1e9, 1),
    fmtFixed(r.floor.bytes / 1e6, 0),
    fmtFixed(r.floor.minMs, 3),
    r.floor.bound,
    fmtInt(r.floor.maxImagesPerS),
    r.msPerStep ? `${fmtPercent((100 * r.floor.minMs) / r.msPerStep)}%` : null,
  ]);
  return formatTable(cols, rows);
}

export function comparisonTable(c: Comparison[]): string {
  const prec = PRECISIONS.filter((p) => c.some((x) => x.ours[p] !== undefined)).concat(c.some((x) => x.ours.tf32 !== undefined) ? ['tf32' as never] : []);
  const cols = ['model:batch', ...prec.map((p) => `ours ${p}`), 'ours best', 'PyTorch eager (best)', 'torch.compile', 'ours/eager', 'ours/PyTorch best'];
  const best = (b: Best | null) => (b ? `${fmtInt(b.imagesPerS)} (${b.mode})` : '-');
  const cpu = c.some((x) => x.ratioCpu !== undefined);
  if (cpu) cols.push('ours cpu ms/step', 'PyTorch cpu ms/step', 'PyTorch/ours cpu time');
  const rows = c.map((x) => [
    rowKey(x),
    ...prec.map((p) => fmtInt(x.ours[p])),
    best(x.oursBest),
    best(x.pytorchEager),
    best(x.pytorchCompile),
    fmtRatio(x.ratioEager),
    fmtRatio(x.ratioBest),
    ...(cpu ? [fmtFixed(x.oursCpuMs ?? null, 0), fmtFixed(x.pytorchCpuMs ?? null, 0), fmtRatio(x.ratioCpu ?? null)] : []),
  ]);
  return `images/s, higher is better; ratios use our best precision${cpu ? '; cpu time = process CPU time per step, all threads' : ''}\n${formatTable(cols, rows)}`;
}

export function e2eTable(results: E2EResult[]): string {
  const cols = [
    'model:batch',
    'prec',
    'train imgs',
    'write s',
    'setup s',
    'first step s',
    'train s',
    'train img/s',
    'steady img/s',
    'eval s',
    'eval img/s',
    'total s',
    'note',
  ];
  const f = (x: number | null) => fmtFixed(x, 2);
  const rows = results.map((r) => [
    `${r.model}:${r.batch}`,
    r.precision,
    fmtInt(r.imagesTrained),
    r.writeS === null ? 'cached' : f(r.writeS),
    f(r.setupS),
    f(r.firstStepS),
    f(r.trainS),
    fmtInt(r.trainImagesPerS),
    fmtInt(r.steadyImagesPerS),
    f(r.evalS),
    fmtInt(r.evalImagesPerS),
    f(r.totalS),
    r.error ? `FAILED: ${r.error}` : '',
  ]);
  return formatTable(cols, rows);
}

export function floorNote(results: StepResult[]): string {
  const r = results[0];
  const ce = r ? r.floor.ceilings : 'H100';
  const peaks =
    r && r.device === 'cpu'
      ? `${ce}: ${fmtSI(r.floor.peakFlops)}FLOP/s, ${fmtSI(r.floor.bytes / (r.floor.memoryMs / 1e3))}B/s`
      : `one ${ce} (peaks: fp32 60, tf32 400, bf16/fp16 800 TFLOP/s, 3 TB/s)`;
  return (
    `floor: min ms = max(FLOPs / peak, bytes / bandwidth) on ${peaks}; ` +
    `FLOPs = conv + linear, 2 per multiply-add, backward 2x forward; bytes = 24 per parameter + every activation written and read once. ` +
    `e.g. ${r ? `${rowKey(r)}: ${fmtSI(r.floor.flops)}FLOP, ${fmtSI(r.floor.bytes)}B per step` : ''}`
  );
}
