// Where a CPU training step's time goes: the bench's step (forward, softmax cross-entropy,
// backward, SGD) on synthetic data, with every addon call timed and summed by op (and, for
// convolutions, by shape). CPU ops run synchronously, so a call's wall time is the op's
// time; what is left of the step is JavaScript (module code and tape recording in the
// forward, the autograd engine in the backward, the optimiser's bookkeeping).
//
// CPU time is billed per thread. An op's CPU time is that of the calling thread plus the
// addon's pool workers (native cpuThreadTimes): the process clock would also bill the op for
// V8's threads (concurrent marking, which the native memory the forward allocates sets off)
// working at the same time. Those threads' time is a row of its own, and the main thread's
// GC events are counted apart.
//
//   node dist/bench/ops_cpu.js [--model resnet20] [--batch 128] [--size PX] [--warmup 2] [--steps 5] [--json OUT]
//   (CUDNN_RESNET_CPU_THREADS=N sets the thread count)
import * as fs from 'node:fs';
import * as os from 'node:os';
import { constants, PerformanceEntry, PerformanceObserver } from 'node:perf_hooks';

import { create } from '../lib/models/resnet';
import { native, NativeTensor } from '../lib/native';
import { SGD } from '../lib/optim/sgd';
import { autogradHooks, keep, Tensor } from '../lib/tensor';
import { MixedPrecision } from '../lib/train/amp';
import { capturedTrainingStep } from '../lib/train/training-step';
import { imageSizeOf, nowMs, SGD_SETTINGS } from './protocol';
import { classesOf } from './step';

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

function intOption(name: string, fallback: number): number {
  const v = Number(option(name, String(fallback)));
  if (!Number.isInteger(v) || v < 0) throw new RangeError(`--${name} must be a non-negative integer, got ${option(name, '')}`);
  return v;
}

/** Which part of the step an addon function belongs to: whatever runs inside backward() is backward. */
export function phaseOf(op: string, inBackward: boolean): string {
  if (inBackward) return 'backward';
  if (/^sgd|^amp|Scale|^ampUnscale/i.test(op)) return 'sgd';
  if (/CrossEntropy|^loss/i.test(op)) return 'loss';
  if (/forward|^relu|^add|^shortcut|^pool|^avgPool|^maxPool|^linear/i.test(op)) return 'forward';
  return 'other';
}

function shapeOf(v: unknown): string | null {
  if (v && typeof v === 'object' && Array.isArray((v as NativeTensor).shape)) return `[${(v as NativeTensor).shape.join(',')}]`;
  if (Array.isArray(v) && v.every((x) => typeof x === 'number')) return `[${v.join(',')}]`;
  return null;
}

interface Acc {
  ms: number;
  cpuMs: number;
  allCpuMs: number;
  calls: number;
  phase: string;
}

function processCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e3;
}

/** CPU time of the calling thread plus the addon's pool workers (clock_gettime of each thread). */
function opThreadsClock(): () => number {
  const addon = native();
  const times = addon.cpuThreadTimes.bind(addon); // the unwrapped function: main() times the rest
  return () => {
    const t = times();
    return t.callerMs + t.poolMs;
  };
}

/** Main-thread GC events by kind while observed (Node's 'gc' entries arrive after an event-loop turn). */
function gcEvents(): { byKind: Map<string, { count: number; ms: number }>; observer: PerformanceObserver } {
  const kinds: Record<number, string> = {
    [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
    [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
    [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
    [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weak callbacks',
  };
  const byKind = new Map<string, { count: number; ms: number }>();
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = kinds[(e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind ?? 0] ?? 'other';
      const k = byKind.get(kind) ?? { count: 0, ms: 0 };
      k.count++;
      k.ms += e.duration;
      byKind.set(kind, k);
    }
  });
  return { byKind, observer };
}

async function main(): Promise<void> {
  const model = option('model', 'resnet20');
  const batch = intOption('batch', 128);
  const warmup = intOption('warmup', 2);
  const steps = Math.max(1, intOption('steps', 5));
  const json = option('json', '');
  const cpuMs = opThreadsClock();
  const addon = native() as unknown as Record<string, unknown>;
  const acc = new Map<string, Acc & { op: string }>();
  let on = false;
  let inBackward = false;
  for (const name of Object.keys(addon)) {
    const fn = addon[name];
    if (typeof fn !== 'function' || /^[A-Z]/.test(name) || name === 'cpuThreadTimes') continue;
    addon[name] = function (this: unknown, ...args: unknown[]) {
      if (!on) return (fn as (...a: unknown[]) => unknown).apply(this, args);
      const a0 = processCpuMs();
      const c0 = cpuMs();
      const t0 = nowMs();
      const r = (fn as (...a: unknown[]) => unknown).apply(this, args);
      const ms = nowMs() - t0;
      const cpu = cpuMs() - c0;
      const all = processCpuMs() - a0;
      // Convolutions by (x or dy, w) shapes: the layers differ by an order of magnitude.
      const op = name.startsWith('conv2d') ? `${name} ${shapeOf(args[0])} w${shapeOf(name === 'conv2dBackwardFilter' ? args[2] : args[1])}` : name;
      const phase = phaseOf(name, inBackward);
      const a = acc.get(`${phase} ${op}`) ?? { op, phase, ms: 0, cpuMs: 0, allCpuMs: 0, calls: 0 };
      a.ms += ms;
      a.cpuMs += cpu;
      a.allCpuMs += all;
      a.calls++;
      acc.set(`${phase} ${op}`, a);
      return r;
    };
  }
  const engineBackward = autogradHooks.backward!;
  const bwd = { ms: 0, cpuMs: 0, allCpuMs: 0 };
  autogradHooks.backward = (t, g) => {
    if (!on) return engineBackward(t, g);
    const a0 = processCpuMs();
    const c0 = cpuMs();
    const t0 = nowMs();
    inBackward = true;
    try {
      engineBackward(t, g);
    } finally {
      inBackward = false;
      bwd.ms += nowMs() - t0;
      bwd.cpuMs += cpuMs() - c0;
      bwd.allCpuMs += processCpuMs() - a0;
    }
  };

  const size = intOption('size', imageSizeOf(model));
  const m = create(model, { classes: classesOf(model), device: 'cpu', seed: 0 });
  m.train();
  const mp = new MixedPrecision(m, 'fp32');
  const opt = new SGD(mp.masters, { ...SGD_SETTINGS });
  const x = keep(Tensor.randn([batch, 3, size, size], { device: 'cpu', seed: 1 }));
  const labels = new Int32Array(batch).map((_, i) => (i * 7919 + 13) % classesOf(model));
  const y = keep(Tensor.fromArray(labels, [batch], { dtype: 'int32', device: 'cpu' }));
  const step = capturedTrainingStep({ model: m, mp, opt }, { capture: false, log: () => undefined });
  for (let i = 0; i < warmup; i++) step.step(x, y);
  const gc = gcEvents();
  gc.observer.observe({ entryTypes: ['gc'] });
  on = true;
  const a0 = processCpuMs();
  const c0 = cpuMs();
  const t0 = nowMs();
  for (let i = 0; i < steps; i++) step.step(x, y);
  const total = (nowMs() - t0) / steps;
  const totalCpu = (cpuMs() - c0) / steps;
  const totalAllCpu = (processCpuMs() - a0) / steps;
  on = false;
  await new Promise((resolve) => setTimeout(resolve, 50)); // GC entries are delivered on a later turn
  gc.observer.disconnect();

  const info = native().buildInfo();
  const rows = [...acc.values()]
    .map((a) => ({
      op: a.op,
      phase: a.phase,
      msPerStep: a.ms / steps,
      cpuMsPerStep: a.cpuMs / steps,
      allCpuMsPerStep: a.allCpuMs / steps,
      callsPerStep: a.calls / steps,
    }))
    .sort((p, q) => q.cpuMsPerStep - p.cpuMsPerStep);
  const phases = new Map<string, { ms: number; cpuMs: number; allCpuMs: number }>();
  const addPhase = (p: string, ms: number, cpu: number, all: number) => {
    const v = phases.get(p) ?? { ms: 0, cpuMs: 0, allCpuMs: 0 };
    phases.set(p, { ms: v.ms + ms, cpuMs: v.cpuMs + cpu, allCpuMs: v.allCpuMs + all });
  };
  for (const r of rows) addPhase(r.phase, r.msPerStep, r.cpuMsPerStep, r.allCpuMsPerStep);
  const sum = (rs: typeof rows, f: (r: (typeof rows)[number]) => number) => rs.reduce((t, r) => t + f(r), 0);
  const inB = rows.filter((r) => r.phase === 'backward');
  const outB = rows.filter((r) => r.phase !== 'backward');
  addPhase(
    'js in backward()',
    bwd.ms / steps - sum(inB, (r) => r.msPerStep),
    bwd.cpuMs / steps - sum(inB, (r) => r.cpuMsPerStep),
    bwd.allCpuMs / steps - sum(inB, (r) => r.allCpuMsPerStep),
  );
  addPhase(
    'js elsewhere',
    total - bwd.ms / steps - sum(outB, (r) => r.msPerStep),
    totalCpu - bwd.cpuMs / steps - sum(outB, (r) => r.cpuMsPerStep),
    totalAllCpu - bwd.allCpuMs / steps - sum(outB, (r) => r.allCpuMsPerStep),
  );
  addPhase('other threads', 0, totalAllCpu - totalCpu, totalAllCpu - totalCpu);
  console.log(
    `${model} batch ${batch} fp32 on cpu: ${info.cpuThreads} threads, gemm ${info.cpuKernel ?? '?'}, direct conv ${info.cpuDirectConv ?? '?'}, ` +
      `load ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}, ${steps} steps after ${warmup} warm-up`,
  );
  console.log(
    `step ${total.toFixed(1)} ms wall (${((batch * 1e3) / total).toFixed(1)} img/s), ${totalAllCpu.toFixed(1)} ms CPU (all threads), ` +
      `${totalCpu.toFixed(1)} ms on the main thread and the ${info.cpuThreads - 1} pool worker(s)`,
  );
  const gcRows = [...gc.byKind.entries()].map(([k, v]) => `${(v.count / steps).toFixed(1)} ${k} ${(v.ms / steps).toFixed(1)} ms`);
  console.log(`main-thread GC events per step (count, kind, duration as Node reports it; inside the rows below): ${gcRows.join(', ') || 'none'}`);
  console.log(
    '"cpu ms": main thread + pool workers; "all thr": process CPU over the same time, which also holds\n' +
      "V8's helper threads (concurrent marking, ...); 'other threads' is the difference over the whole step.\n",
  );
  console.log('phase                 wall ms   cpu ms  all thr  cpu share');
  for (const [p, v] of [...phases.entries()].sort((a, b) => b[1].cpuMs - a[1].cpuMs))
    console.log(
      `${p.padEnd(20)} ${v.ms.toFixed(1).padStart(8)} ${v.cpuMs.toFixed(1).padStart(8)} ${v.allCpuMs.toFixed(1).padStart(8)} ${((100 * v.cpuMs) / totalAllCpu).toFixed(1).padStart(8)}%`,
    );
  console.log('\nop                                                     phase      wall ms   cpu ms  all thr  calls  cpu share');
  for (const r of rows.filter((q) => q.cpuMsPerStep >= 0.05))
    console.log(
      `${r.op.padEnd(54)} ${r.phase.padEnd(9)} ${r.msPerStep.toFixed(1).padStart(8)} ${r.cpuMsPerStep.toFixed(1).padStart(8)} ${r.allCpuMsPerStep.toFixed(1).padStart(8)} ${String(r.callsPerStep).padStart(6)} ${((100 * r.cpuMsPerStep) / totalAllCpu).toFixed(1).padStart(8)}%`,
    );
  if (json)
    fs.writeFileSync(
      json,
      `${JSON.stringify(
        {
          model,
          batch,
          threads: info.cpuThreads,
          gemmKernel: info.cpuKernel,
          directConv: info.cpuDirectConv ?? null,
          load: os.loadavg(),
          msPerStep: total,
          cpuMsPerStep: totalCpu,
          allThreadsCpuMsPerStep: totalAllCpu,
          gcEventsPerStep: Object.fromEntries([...gc.byKind.entries()].map(([k, v]) => [k, { count: v.count / steps, ms: v.ms / steps }])),
          phases: Object.fromEntries(phases.entries()),
          rows,
        },
        null,
        1,
      )}\n`,
    );
  step.dispose();
  mp.dispose();
  opt.dispose();
  m.dispose();
}

if (require.main === module)
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
