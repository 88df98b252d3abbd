// CPU convolution throughput on one ResNet layer (default: CIFAR ResNet-20's first stage,
// batch 128, 16 -> 16 channels, 32x32, 3x3, padding 1). Times forward, backward data and
// backward filter separately: one warm-up call each, then the median of --runs calls.
// Each pass counts 2 * N * K * C * R * S * P * Q flops. Besides wall time it prints the
// process CPU time per call (all threads): on a shared machine, wall time also measures
// the neighbours, and CPU time / threads is what the pass costs on an idle one.
//
//   node dist/bench/conv_cpu.js [--batch 128] [--channels 16] [--size 32] [--kernel 3]
//                               [--stride 1] [--runs 5] [--dtype float32] [--layout NCHW]
import * as os from 'node:os';

import { DTypeName, LayoutName, native, NativeTensor } from '../lib/native';

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

function intOption(name: string, fallback: number): number {
  const v = Number(option(name, String(fallback)));
  if (!Number.isInteger(v) || v < 1) throw new RangeError(`--${name} must be a positive integer, got ${option(name, '')}`);
  return v;
}

function randomTensor(shape: number[], seed: number, dtype: DTypeName, layout: LayoutName): NativeTensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    data[i] = s / 4294967296 - 0.5;
  }
  // Memory order does not matter for timing, so the data go in as they are.
  return native().fromTypedArray(data, shape, dtype, layout, 'cpu');
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function main(): void {
  const A = native();
  const N = intOption('batch', 128),
    C = intOption('channels', 16),
    H = intOption('size', 32);
  const R = intOption('kernel', 3),
    stride = intOption('stride', 1),
    runs = intOption('runs', 5);
  const dtype = option('dtype', 'float32') as DTypeName;
  const layout = option('layout', 'NCHW') as LayoutName;
  const pad = Math.floor(R / 2);
  const params = [stride, stride, pad, pad, 1, 1];
  const P = Math.floor((H + 2 * pad - R) / stride) + 1;
  const flops = 2 * N * C * C * R * R * P * P;

  const live0 = A.memoryStats().liveTensors;
  console.log(
    `conv2d on cpu (${A.buildInfo().cpuThreads} threads): x [${N}, ${C}, ${H}, ${H}] ${dtype} ${layout}, ` +
      `w [${C}, ${C}, ${R}, ${R}], stride ${stride}, padding ${pad}; ${(flops / 1e9).toFixed(3)} GFLOP per pass`,
  );
  console.log(`live tensors before: ${live0}`);

  const x = randomTensor([N, C, H, H], 1, dtype, layout);
  const w = randomTensor([C, C, R, R], 2, dtype, layout);
  const dy = randomTensor([N, C, P, P], 3, dtype, layout);
  const passes: [string, () => NativeTensor][] = [
    ['forward', () => A.conv2dForward(x, w, null, params, false)],
    ['backward data', () => A.conv2dBackwardData(dy, w, [N, C, H, H], params, false)],
    ['backward filter', () => A.conv2dBackwardFilter(dy, x, [C, C, R, R], params, false)],
  ];
  console.log(
    `load average ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')} on ${os.cpus().length} CPUs`,
  );
  let totalMs = 0,
    totalCpuMs = 0;
  for (const [name, run] of passes) {
    run().dispose(); // warm-up: thread pool, pack buffers, page faults
    const times: number[] = [],
      cpuTimes: number[] = [];
    for (let i = 0; i < runs; i++) {
      const c0 = process.cpuUsage();
      const t0 = process.hrtime.bigint();
      const out = run();
      times.push(Number(process.hrtime.bigint() - t0) / 1e6);
      const c = process.cpuUsage(c0);
      cpuTimes.push((c.user + c.system) / 1e3);
      out.dispose();
    }
    const ms = median(times),
      cpuMs = median(cpuTimes);
    totalMs += ms;
    totalCpuMs += cpuMs;
    console.log(
      `${name.padEnd(16)} ${ms.toFixed(2).padStart(9)} ms  ${(flops / ms / 1e6).toFixed(1).padStart(7)} GFLOP/s` +
        `  (min ${Math.min(...times).toFixed(2)}, max ${Math.max(...times).toFixed(2)} ms over ${runs} runs;` +
        ` CPU ${cpuMs.toFixed(2)} ms)`,
    );
  }
  console.log(
    `${'all three'.padEnd(16)} ${totalMs.toFixed(2).padStart(9)} ms  ${((3 * flops) / totalMs / 1e6).toFixed(1).padStart(7)} GFLOP/s` +
      `  (CPU ${totalCpuMs.toFixed(2)} ms: ${((3 * flops) / totalCpuMs / 1e6).toFixed(1)} GFLOP per CPU-second)`,
  );
  for (const t of [x, w, dy]) t.dispose();
  console.log(`live tensors after: ${A.memoryStats().liveTensors}`);
}

main();
