// Where a CPU training step's time goes: the bench's step (forward, softmax cross-entropy,
// backward, SGD) on synthetic data, with every addon call timed and summed by op (and, for
// convolutions, by shape). CPU ops run synchronously, so a call's wall time is the op's
// time; what is left of the step is JavaScript (autograd tape, module code). Each op's
// process CPU time (all threads) is summed too: on a shared machine wall time also measures
// the neighbours, while CPU time is what the op costs (the pool's idle workers sleep).
//
//   node dist/bench/ops_cpu.js [--model resnet20] [--batch 128] [--size PX] [--warmup 2] [--steps 5] [--json OUT]
//   (CUDNN_RESNET_CPU_THREADS=N sets the thread count)
import * as fs from 'node:fs';
import * as os from 'node:os';

import { create } from '../lib/models/resnet';
import { native, NativeTensor } from '../lib/native';
import { SGD } from '../lib/optim/sgd';
import { keep, Tensor } from '../lib/tensor';
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

/** Which part of the step an addon function belongs to. */
export function phaseOf(op: string): string {
  if (/^sgd|^amp|Scale|^ampUnscale/i.test(op)) return 'sgd';
  if (/CrossEntropy|^loss/i.test(op)) return 'loss';
  if (/backward/i.test(op)) return 'backward';
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
  calls: number;
}

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e3;
}

function main(): void {
  const model = option('model', 'resnet20');
  const batch = intOption('batch', 128);
  const warmup = intOption('warmup', 2);
  const steps = Math.max(1, intOption('steps', 5));
  const json = option('json', '');
  const addon = native() as unknown as Record<string, unknown>;
  const acc = new Map<string, Acc>();
  let on = false;
  for (const name of Object.keys(addon)) {
    const fn = addon[name];
    if (typeof fn !== 'function' || /^[A-Z]/.test(name)) continue;
    addon[name] = function (this: unknown, ...args: unknown[]) {
      if (!on) return (fn as (...a: unknown[]) => unknown).apply(this, args);
      const c0 = cpuMs();
      const t0 = nowMs();
      const r = (fn as (...a: unknown[]) => unknown).apply(this, args);
      const ms = nowMs() - t0;
      const cpu = cpuMs() - c0;
      // Convolutions by (x or dy, w) shapes: the layers differ by an order of magnitude.
      const key = name.startsWith('conv2d') ? `${name} ${shapeOf(args[0])} w${shapeOf(name === 'conv2dBackwardFilter' ? args[2] : args[1])}` : name;
      const a = acc.get(key) ?? { ms: 0, cpuMs: 0, calls: 0 };
      a.ms += ms;
      a.cpuMs += cpu;
      a.calls++;
      acc.set(key, a);
      return r;
    };
  }

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
  on = true;
  const c0 = cpuMs();
  const t0 = nowMs();
  for (let i = 0; i < steps; i++) step.step(x, y);
  const total = (nowMs() - t0) / steps;
  const totalCpu = (cpuMs() - c0) / steps;
  on = false;

  const rows = [...acc.entries()]
    .map(([op, a]) => ({ op, phase: phaseOf(op.split(' ')[0]), msPerStep: a.ms / steps, cpuMsPerStep: a.cpuMs / steps, callsPerStep: a.calls / steps }))
    .sort((p, q) => q.cpuMsPerStep - p.cpuMsPerStep);
  const phases = new Map<string, [number, number]>();
  for (const r of rows) {
    const p = phases.get(r.phase) ?? [0, 0];
    phases.set(r.phase, [p[0] + r.msPerStep, p[1] + r.cpuMsPerStep]);
  }
  phases.set('js (outside ops)', [total - rows.reduce((s, r) => s + r.msPerStep, 0), totalCpu - rows.reduce((s, r) => s + r.cpuMsPerStep, 0)]);
  const info = native().buildInfo();
  console.log(
    `${model} batch ${batch} fp32 on cpu: ${info.cpuThreads} threads, gemm ${info.cpuKernel ?? '?'}, direct conv ${info.cpuDirectConv ?? '?'}, ` +
      `load ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}, ${steps} steps after ${warmup} warm-up`,
  );
  console.log(`step ${total.toFixed(1)} ms wall (${((batch * 1e3) / total).toFixed(1)} img/s), ${totalCpu.toFixed(1)} ms CPU (all threads)\n`);
  console.log('phase                 wall ms   cpu ms  cpu share');
  for (const [p, [ms, cpu]] of [...phases.entries()].sort((a, b) => b[1][1] - a[1][1]))
    console.log(`${p.padEnd(20)} ${ms.toFixed(1).padStart(8)} ${cpu.toFixed(1).padStart(8)} ${((100 * cpu) / totalCpu).toFixed(1).padStart(8)}%`);
  console.log('\nop                                                     phase      wall ms   cpu ms  calls  cpu share');
  for (const r of rows.filter((q) => q.cpuMsPerStep >= 0.05))
    console.log(
      `${r.op.padEnd(54)} ${r.phase.padEnd(9)} ${r.msPerStep.toFixed(1).padStart(8)} ${r.cpuMsPerStep.toFixed(1).padStart(8)} ${String(r.callsPerStep).padStart(6)} ${((100 * r.cpuMsPerStep) / totalCpu).toFixed(1).padStart(8)}%`,
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
          phases: Object.fromEntries([...phases.entries()].map(([p, [ms, cpu]]) => [p, { ms, cpuMs: cpu }])),
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

if (require.main === module) main();
