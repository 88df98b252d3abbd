// The PyTorch side of the comparison: bench/pytorch_reference.py, run row by row in a child
// python3 (so a slow torch.compile or a crash costs one row, and the budget is checked
// between rows), its JSON lines parsed, and the best eager and compiled modes picked out.
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

import { imageSizeOf, median, Row, rowImageSize, TimingOptions } from './protocol';

export interface PytorchResult {
  model: string;
  batch: number;
  /** Input pixels (set from the row that ran it). */
  image_size?: number;
  mode: string;
  ms_per_step?: number;
  images_per_s?: number;
  runs_ms?: number[];
  /** CPU runs: process CPU time per timed step, all threads. */
  cpu_ms_per_step?: number;
  /** CPU runs: minor page faults per timed step, and the malloc settings it ran under. */
  minor_faults_per_step?: number;
  malloc_env?: Record<string, string>;
  error?: string;
  torch?: string;
  cudnn?: number;
  cuda?: string;
  gpu?: string;
  /** CPU runs: the processor, torch's thread count and its kernels' vector ISA. */
  cpu?: string;
  threads?: number;
  cpu_capability?: string | null;
  date?: string;
}

export interface PytorchEnv {
  torch: string | null;
  cudnn: number | null;
  cuda: string | null;
  gpu: string | null;
  /** CPU runs: torch's intra-op threads. */
  threads?: number | null;
}

export interface PytorchOptions {
  python: string;
  script: string;
  timing: TimingOptions;
  timeoutS: number;
  /** 'cpu' runs the script's CPU mode with `threads` threads; anything else its GPU mode. */
  device?: string;
  threads?: number;
}

/** The script next to this file's source (bench/), found from dist/bench/ as well. */
export function defaultScript(): string {
  const here = __dirname;
  const up = path.basename(path.dirname(here)).startsWith('dist') ? path.join(here, '..', '..', 'bench') : here;
  return path.join(up, 'pytorch_reference.py');
}

/** null when `python` imports torch (and, unless device is 'cpu', has a usable GPU), else why not. */
export function pytorchUnavailable(python: string, device = 'cuda'): string | null {
  const check = device === 'cpu' ? 'import torch, torchvision' : 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 3)';
  const r = spawnSync(python, ['-c', check], { encoding: 'utf8', timeout: 120000 });
  if (r.error) return `${python} could not be started (${r.error.message})`;
  if (r.status === 3) return 'torch imports but torch.cuda.is_available() is false';
  if (r.status !== 0) return `${python} cannot import torch and torchvision (${(r.stderr || '').trim().split('\n').pop() ?? ''})`;
  return null;
}

/**
 * The python to use when none was named: the first of `candidates` that imports torch (a
 * version manager's python3 often lacks the distribution's python3-torch), else the first.
 */
export function findPython(device: string, candidates: readonly string[] = ['python3', '/usr/bin/python3']): string {
  return candidates.find((p) => pytorchUnavailable(p, device) === null) ?? candidates[0];
}

/**
 * glibc malloc settings for the CPU `heap` modes. PyTorch's CPU allocator hands every tensor
 * to malloc, and by default glibc serves large blocks with fresh mmaps and trims freed heap
 * back to the kernel, so a training step can page-fault (and zero) its activations anew each
 * step: on a 2-core EPYC that tripled PyTorch's ResNet-20 step time in some runs and not in
 * others. With both thresholds this high, freed blocks stay in the heap and are reused - what
 * a tuned PyTorch install gets from jemalloc or tcmalloc.
 */
export const HEAP_MALLOC_ENV: Readonly<Record<string, string>> = { MALLOC_MMAP_THRESHOLD_: '4294967296', MALLOC_TRIM_THRESHOLD_: '4294967296' };

/** Whether a mode runs under HEAP_MALLOC_ENV. */
export const isHeapMode = (mode: string): boolean => mode.split('-').includes('heap');

/**
 * Eager modes for the precisions asked for, plus compile-bf16 (the fastest compiled mode);
 * on the CPU eager-fp32 as installed and under HEAP_MALLOC_ENV (PyTorch's CPU step in other
 * precisions is no reference), so the comparison is against the faster of the two.
 */
export function defaultModes(precisions: readonly string[], compile: boolean, device = 'cuda'): string[] {
  if (device === 'cpu') return ['eager-fp32', 'eager-heap-fp32'];
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

/**
 * Runs the reference script for one row (heap modes in a child of their own, started under
 * HEAP_MALLOC_ENV); a failure comes back as error results, never a throw.
 */
export function runPytorchRow(row: Row, modes: string[], o: PytorchOptions): PytorchResult[] {
  const plain = modes.filter((m) => !isHeapMode(m));
  const heap = modes.filter(isHeapMode);
  return [...(plain.length ? runChild(row, plain, o, {}) : []), ...(heap.length ? runChild(row, heap, o, HEAP_MALLOC_ENV) : [])];
}

function runChild(row: Row, modes: string[], o: PytorchOptions, extraEnv: Readonly<Record<string, string>>): PytorchResult[] {
  const size = rowImageSize(row);
  const args = [
    o.script,
    '--rows',
    `${row.model}:${row.batch}`,
    '--modes',
    modes.join(','),
    '--warmup',
    String(o.timing.warmup),
    '--steps',
    String(o.timing.steps),
    '--runs',
    String(o.timing.runs),
    ...(row.size !== undefined ? ['--image-size', String(row.size)] : []),
    ...(o.device === 'cpu' ? ['--device', 'cpu', '--threads', String(o.threads ?? 0)] : []),
  ];
  const r = spawnSync(o.python, args, {
    encoding: 'utf8',
    timeout: o.timeoutS * 1000,
    killSignal: 'SIGKILL',
    maxBuffer: 64 << 20,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...extraEnv },
  });
  const got = parsePytorchOutput(r.stdout ?? '');
  if (r.stderr)
    process.stderr.write(
      r.stderr
        .split('\n')
        .filter((l) => l.trim())
        .slice(-20)
        .map((l) => `  [pytorch] ${l}\n`)
        .join(''),
    );
  const why = r.error
    ? r.error.message.includes('ETIMEDOUT')
      ? `timed out after ${o.timeoutS} s`
      : r.error.message
    : r.status !== 0
      ? `exit status ${r.status}${r.signal ? ` (${r.signal})` : ''}`
      : 'no result line';
  for (const m of modes) if (!got.some((g) => g.mode === m)) got.push({ model: row.model, batch: row.batch, mode: m, error: `pytorch_reference.py: ${why}` });
  for (const g of got) g.image_size = size;
  return got;
}

export function pytorchEnv(results: PytorchResult[]): PytorchEnv {
  const r = results.find((x) => x.torch) ?? {};
  const g = r as PytorchResult;
  return { torch: g.torch ?? null, cudnn: g.cudnn ?? null, cuda: g.cuda ?? null, gpu: g.gpu ?? null, threads: g.threads ?? null };
}

export interface Best {
  mode: string;
  imagesPerS: number;
}

/**
 * The fastest successful mode among those with this prefix ('eager', 'compile'), or null;
 * a mode run several times (--repeat) counts with its median.
 */
export function bestOf(results: PytorchResult[], row: Row, prefix: string): Best | null {
  const size = rowImageSize(row);
  const byMode = new Map<string, number[]>();
  for (const r of results) {
    if (r.model !== row.model || r.batch !== row.batch || (r.image_size ?? imageSizeOf(r.model)) !== size) continue;
    if (!r.mode.startsWith(prefix) || typeof r.images_per_s !== 'number') continue;
    byMode.set(r.mode, [...(byMode.get(r.mode) ?? []), r.images_per_s]);
  }
  let best: Best | null = null;
  for (const [mode, xs] of byMode) {
    const ips = median(xs);
    if (!best || ips > best.imagesPerS) best = { mode, imagesPerS: ips };
  }
  return best;
}
