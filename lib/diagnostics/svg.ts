// A dependency-free SVG line chart, enough for gradient-norm profiles and training curves:
// linear or log-scale y, one polyline per series, axes with round-number ticks, a legend.
import { badArg, checkOptions, describe, optionNames } from '../checks';

export interface Series {
  name: string;
  /** [x, y] pairs; non-finite y (and y <= 0 on a log axis) are skipped, breaking the line. */
  points: Array<[number, number]>;
  /** Stroke colour (default: the palette, by position). */
  color?: string;
  /** SVG stroke-dasharray, e.g. '6 4' for a dashed line (default solid). */
  dash?: string;
}

export interface ChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  logY?: boolean;
  /** Fixed axis ranges (y in data units, linear axes only), e.g. to share axes between panels. */
  xRange?: [number, number];
  yRange?: [number, number];
  width?: number;
  height?: number;
}

const CHART_OPTIONS = optionNames<ChartOptions>({ title: true, xLabel: true, yLabel: true, logY: true, xRange: true, yRange: true, width: true, height: true });
const SERIES_KEYS = optionNames<Series>({ name: true, points: true, color: true, dash: true });

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];

export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Ticks at 1, 2, 5 x 10^k spacing covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, target = 6): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / target;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

function formatTick(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e4 || a < 1e-3) return v.toExponential(0).replace('e+', 'e');
  return String(Number(v.toPrecision(4)));
}

export function lineChart(series: Series[], opts: ChartOptions): string {
  if (!Array.isArray(series)) throw badArg('type', 'lineChart: series', `must be an array of { name, points }, got ${describe(series)}`);
  series.forEach((s, i) => {
    checkOptions('lineChart', s, SERIES_KEYS, `series[${i}]`);
    if (!Array.isArray(s?.points)) throw badArg('type', `lineChart: series[${i}].points`, `must be an array of [x, y] pairs, got ${describe(s?.points)}`);
  });
  checkOptions('lineChart', opts, CHART_OPTIONS);
  const W = opts.width ?? 720;
  const H = opts.height ?? 440;
  const m = { left: 78, right: 170, top: 40, bottom: 56 };
  const pw = W - m.left - m.right;
  const ph = H - m.top - m.bottom;
  const logY = opts.logY ?? false;
  const usable = (y: number) => Number.isFinite(y) && (!logY || y > 0);

  let xmin = Infinity,
    xmax = -Infinity,
    ymin = Infinity,
    ymax = -Infinity;
  for (const s of series)
    for (const [x, y] of s.points) {
      if (!Number.isFinite(x) || !usable(y)) continue;
      const ty = logY ? Math.log10(y) : y;
      xmin = Math.min(xmin, x);
      xmax = Math.max(xmax, x);
      ymin = Math.min(ymin, ty);
      ymax = Math.max(ymax, ty);
    }
  if (!Number.isFinite(xmin)) {
    xmin = 0;
    xmax = 1;
    ymin = 0;
    ymax = 1;
  }
  if (xmax === xmin) {
    xmin -= 0.5;
    xmax += 0.5;
  }
  if (logY) {
    ymin = Math.floor(ymin);
    ymax = Math.ceil(ymax);
    if (ymax === ymin) ymax = ymin + 1;
  } else {
    const pad = (ymax - ymin) * 0.05 || 0.5;
    ymin -= pad;
    ymax += pad;
  }
  if (opts.xRange && opts.xRange[1] > opts.xRange[0]) [xmin, xmax] = opts.xRange;
  if (opts.yRange && !logY && opts.yRange[1] > opts.yRange[0]) [ymin, ymax] = opts.yRange;

  const sx = (x: number) => m.left + ((x - xmin) / (xmax - xmin)) * pw;
  const sy = (ty: number) => m.top + ph - ((ty - ymin) / (ymax - ymin)) * ph;
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  parts.push(`<rect x="0" y="0" width="${W}" height="${H}" fill="white"/>`);
  parts.push(`<text x="${m.left + pw / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(opts.title)}</text>`);

  // grid and y ticks
  const yTicks = logY ? Array.from({ length: ymax - ymin + 1 }, (_, i) => ymin + i) : niceTicks(ymin, ymax);
  for (const t of yTicks) {
    const y = sy(t).toFixed(1);
    parts.push(`<line x1="${m.left}" y1="${y}" x2="${m.left + pw}" y2="${y}" stroke="#e5e5e5"/>`);
    const label = logY ? `1e${t}` : formatTick(t);
    parts.push(`<text x="${m.left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${escapeXml(label)}</text>`);
  }
  for (const t of niceTicks(xmin, xmax)) {
    const x = sx(t).toFixed(1);
    parts.push(`<line x1="${x}" y1="${m.top}" x2="${x}" y2="${m.top + ph}" stroke="#f0f0f0"/>`);
    parts.push(`<text x="${x}" y="${m.top + ph + 16}" text-anchor="middle">${escapeXml(formatTick(t))}</text>`);
  }
  parts.push(`<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`);
  parts.push(`<text x="${m.left + pw / 2}" y="${H - 14}" text-anchor="middle">${escapeXml(opts.xLabel)}</text>`);
  parts.push(
    `<text x="18" y="${m.top + ph / 2}" text-anchor="middle" transform="rotate(-90 18 ${m.top + ph / 2})">${escapeXml(opts.yLabel + (logY ? ' (log scale)' : ''))}</text>`,
  );

  series.forEach((s, i) => {
    const color = s.color ?? PALETTE[i % PALETTE.length];
    const dash = s.dash ? ` stroke-dasharray="${escapeXml(s.dash)}"` : '';
    let d = '';
    let pen = false;
    for (const [x, y] of s.points) {
      if (!Number.isFinite(x) || !usable(y)) {
        pen = false;
        continue;
      }
      d += `${pen ? 'L' : 'M'}${sx(x).toFixed(1)},${sy(logY ? Math.log10(y) : y).toFixed(1)} `;
      pen = true;
    }
    if (d) parts.push(`<path d="${d.trim()}" fill="none" stroke="${color}" stroke-width="2"${dash}><title>${escapeXml(s.name)}</title></path>`);
    const ly = m.top + 10 + i * 20;
    parts.push(`<line x1="${m.left + pw + 14}" y1="${ly}" x2="${m.left + pw + 38}" y2="${ly}" stroke="${color}" stroke-width="3"${dash}/>`);
    parts.push(`<text x="${m.left + pw + 44}" y="${ly}" dominant-baseline="middle">${escapeXml(s.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}
