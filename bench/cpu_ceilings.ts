// The floor columns' peaks for a CPU run, measured on the spot with the backend's own
// kernels at the thread count in use: FLOP/s of a large square GEMM (linearForward,
// 1024 x 1024 x 1024, best of a few calls) and bytes/s of a large elementwise add (two
// 64 MiB operands read, one written). Measured, not marketed: on a shared machine they sink
// with the load, like the step itself, so the "% of ceiling" column stays comparable.
import { native, NativeTensor } from '../lib/native';
import { Ceilings } from './flops';
import { nowMs } from './protocol';

function bestMs(fn: () => NativeTensor, calls: number): number {
  let best = Infinity;
  for (let i = 0; i < calls; i++) {
    const t0 = nowMs();
    const r = fn();
    best = Math.min(best, nowMs() - t0);
    r.dispose();
  }
  return best;
}

export function measureCpuCeilings(): Ceilings {
  const A = native();
  const owned: NativeTensor[] = [];
  try {
    const n = 1024;
    const x = A.empty([n, n], 'float32', 'NCHW', 'cpu');
    const w = A.empty([n, n], 'float32', 'NCHW', 'cpu');
    owned.push(x, w);
    A.fillNormal(x, 0, 1, 1);
    A.fillNormal(w, 0, 1, 2);
    const gemmFlops = (2 * n * n * n) / (bestMs(() => A.linearForward(x, w, null), 5) / 1e3);
    const m = 16 << 20; // floats: 64 MiB per operand, far past the caches
    const a = A.empty([m], 'float32', 'NCHW', 'cpu');
    const b = A.empty([m], 'float32', 'NCHW', 'cpu');
    owned.push(a, b);
    A.fillNormal(a, 0, 1, 3);
    A.fillNormal(b, 0, 1, 4);
    const bandwidth = (3 * 4 * m) / (bestMs(() => A.add(a, b), 3) / 1e3);
    const info = A.buildInfo();
    const name = `CPU (${info.cpuThreads} threads, ${info.cpuKernel} GEMM, measured)`;
    // The CPU has no separate TF32 / half-precision math: every rate is the fp32 GEMM's.
    return { name, fp32: gemmFlops, tf32: gemmFlops, half: gemmFlops, bandwidth };
  } finally {
    for (const t of owned) t.dispose();
  }
}
