// The PyTorch side of the comparison: bench/pytorch_reference.py, run row by row in a child
// python3 (so a slow torch.compile or a crash costs one row, and the budget is checked
// between rows), its JSON lines parsed, and the best eager and compiled modes picked out.
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

import { Row, TimingOptions } from './protocol';

export interface PytorchResult {
  model: string;
  batch: number;
  mode: string;
  ms_per_step?: number;
  images_per_s?: number;
  runs_ms?: number[];
  error?: string;
  torch?: string;
  cudnn?: number;
  cuda?: string;
  gpu?: string;
  date?: string;
}

export interface PytorchEnv {
  torch: string | null;
  cudnn: number | null;
  cuda: string | null;
  gpu: string | null;
}

export interface PytorchOptions {
  python: string;
  script: string;
  timing: TimingOptions;
  timeoutS: number;
}

/** The script next to this file's source (bench/), found from dist/bench/ as well. */
export function defaultScript(): string {
  const here = __dirname;
  const up = path.basename(path.dirname(here)).startsWith('dist') ? path.join(here, '..', '..', 'bench') : here;
  return path.join(up, 'pytorch_reference.py');
}

/** null when `python` imports torch with a usable GPU, else why not. */
export function pytorchUnavailable(python: string): string | null {
  const r = spawnSync(python, ['-c', 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 3)'], { encoding: 'utf8', timeout: 120000 });
  if (r.error) return `${python} could not be started (${r.error.message})`;
  if (r.status === 3) return 'torch imports but torch.cuda.is_available() is false';
  if (r.status !== 0) return `${python} cannot import torch (${(r.stderr || '').trim().split('\n').pop() ?? ''})`;
  return null;
}

/** Eager modes for the precisions asked for, plus compile-bf16 (the fastest compiled mode). */
export function defaultModes(precisions: readonly string[], compile: boolean): string[] {
  return [...precisions.map((p) => `eager-${p}`), ...(compile ? ['compile-bf16'] : [])];
}

/** The script's stdout: one JSON object per line (other lines are ignored). */
export function parsePytorchOutput(stdout: string): PytorchResult[] {
  const out: PytorchResult[] = [];
  for (const line of stdout.split('\n')) {
    const t = line.trim();
    if (!t.startsWith('{')) continue;
    try {
      const o = JSON.parse(t) as PytorchResult & { skipped?: string };
      if (typeof o.model === 'string' && typeof o.mode === 'string') out.push(o);
    } catch {
      // a stray line that only looks like JSON
    }
  }
  return out;
}

/** Runs the reference script for one row; a failure comes back as error results, never a throw. */
export function runPytorchRow(row: Row, modes: string[], o: PytorchOptions): PytorchResult[] {
  const args = [o.script, '--rows', `${row.model}:${row.batch}`, '--modes', modes.join(','),
    '--warmup', String(o.timing.warmup), '--steps', String(o.timing.steps), '--runs', String(o.timing.runs)];
  const r = spawnSync(o.python, args, { encoding: 'utf8', timeout: o.timeoutS * 1000, killSignal: 'SIGKILL', maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'pipe'] });
  const got = parsePytorchOutput(r.stdout ?? '');
  if (r.stderr) process.stderr.write(r.stderr.split('\n').filter((l) => l.trim()).slice(-20).map((l) => `  [pytorch] ${l}\n`).join(''));
  const why = r.error ? (r.error.message.includes('ETIMEDOUT') ? `timed out after ${o.timeoutS} s` : r.error.message)
    : r.status !== 0 ? `exit status ${r.status}${r.signal ? ` (${r.signal})` : ''}` : 'no result line';
  for (const m of modes)
    if (!got.some((g) => g.mode === m)) got.push({ model: row.model, batch: row.batch, mode: m, error: `pytorch_reference.py: ${why}` });
  return got;
}

export function pytorchEnv(results: PytorchResult[]): PytorchEnv {
  const r = results.find((x) => x.torch) ?? {};
  const g = r as PytorchResult;
  return { torch: g.torch ?? null, cudnn: g.cudnn ?? null, cuda: g.cuda ?? null, gpu: g.gpu ?? null };
}

export interface Best {
  mode: string;
  imagesPerS: number;
}

/** The fastest successful result among modes with this prefix ('eager', 'compile'), or null. */
export function bestOf(results: PytorchResult[], row: Row, prefix: string): Best | null {
  let best: Best | null = null;
  for (const r of results) {
    if (r.model !== row.model || r.batch !== row.batch || !r.mode.startsWith(prefix) || typeof r.images_per_s !== 'number') continue;
    if (!best || r.images_per_s > best.imagesPerS) best = { mode: r.mode, imagesPerS: r.images_per_s };
  }
  return best;
}
