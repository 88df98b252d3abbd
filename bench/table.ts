// Plain-text tables for the terminal and the device logs: columns padded to their widest
// cell, numbers right-aligned, a rule under the header. Missing values print as '-'.

export interface Column {
  header: string;
  /** Default: 'right' when every body cell looks like a number, else 'left'. */
  align?: 'left' | 'right';
}

const NUMERIC = /^[-+]?[\d,]*\.?\d+(e[-+]?\d+)?( [kMGT]|x|%| ms| s)?$/;

export function formatTable(columns: (Column | string)[], rows: (string | number | null | undefined)[][]): string {
  const cols: Column[] = columns.map((c) => (typeof c === 'string' ? { header: c } : c));
  const cells = rows.map((r, i) => {
    if (r.length !== cols.length) throw new RangeError(`formatTable: row ${i} has ${r.length} cells, the header ${cols.length}`);
    return r.map((v) => (v === null || v === undefined || (typeof v === 'number' && !Number.isFinite(v)) ? '-' : String(v)));
  });
  const width = cols.map((c, j) => Math.max(c.header.length, ...cells.map((r) => r[j].length)));
  const align = cols.map((c, j) => c.align ?? (cells.length > 0 && cells.every((r) => r[j] === '-' || NUMERIC.test(r[j])) ? 'right' : 'left'));
  const line = (r: string[]) =>
    r
      .map((v, j) => (align[j] === 'right' ? v.padStart(width[j]) : v.padEnd(width[j])))
      .join('  ')
      .trimEnd();
  return [line(cols.map((c) => c.header)), width.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)].join('\n');
}

/** 12345.6 -> '12,346'; below 100, three significant digits (a CPU's 0.412 img/s stays readable). */
export function fmtInt(x: number | null | undefined): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return '-';
  if (Math.abs(x) < 100 && x !== 0) return Number(x.toPrecision(3)).toString();
  return Math.round(x).toLocaleString('en-US');
}

export function fmtFixed(x: number | null | undefined, digits = 2): string {
  return x === null || x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(digits);
}

/** A ratio as '1.23x'. */
export function fmtRatio(x: number | null | undefined): string {
  return x === null || x === undefined || !Number.isFinite(x) ? '-' : `${x.toFixed(2)}x`;
}

/** 8.2e9 -> '8.20 G', with k/M/G/T prefixes. */
export function fmtSI(x: number | null | undefined, digits = 2): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return '-';
  const units: [number, string][] = [
    [1e12, 'T'],
    [1e9, 'G'],
    [1e6, 'M'],
    [1e3, 'k'],
  ];
  for (const [v, u] of units) if (Math.abs(x) >= v) return `${(x / v).toFixed(digits)} ${u}`;
  return x.toFixed(digits);
}
