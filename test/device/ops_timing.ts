// Per-op timings of the CUDA backend at CIFAR ResNet-56 shapes, batch 128: ms per call and,
// for convolutions, the cuDNN algorithm chosen. Run on a GPU machine (test/device/run.sh):
//   node dist/test/device/ops_timing.js [out.json]
// Each op is warmed up, then called `reps` times between two synchronizations; the time
// includes the host-side cost of a call (what an eager training step pays), and results are
// disposed as they come so the caching allocator serves every call from its cache.
import * as fs from 'node:fs';

import { native, type NativeTensor, type DTypeName, type LayoutName } from '../../lib/native';

const dev = 'cuda:0';
const N = 128;
const addon = native();

interface Row {
  op: string;
  shape: string;
  dtype: string;
  layout: string;
  ms: number;
  algo?: string;
}
const rows: Row[] = [];
let seed = 1;

function rand(shape: number[], dtype: DTypeName = 'float32', layout: LayoutName = 'NCHW', std = 1): NativeTensor {
  const t = addon.empty(shape, dtype, layout, dev);
  addon.fillNormal(t, 0, std, seed++);
  return t;
}

function dispose(v: unknown): void {
  if (v && typeof v === 'object') {
    if ('dispose' in v && typeof (v as NativeTensor).dispose === 'function') (v as NativeTensor).dispose();
    else for (const x of Object.values(v as Record<string, unknown>)) dispose(x);
  }
}

function time(fn: () => unknown, reps = 30, warmup = 3): number {
  for (let i = 0; i < warmup; i++) dispose(fn());
  addon.synchronize(dev);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < reps; i++) dispose(fn());
  addon.synchronize(dev);
  return Number(process.hrtime.bigint() - t0) / 1e6 / reps;
}

function record(op: string, shape: number[], dtype: string, layout: string, ms: number, algo?: string): void {
  rows.push({ op, shape: `[${shape.join(',')}]`, dtype, layout, ms, algo });
}

// The algorithm line cuDNN's search left for this shape (see native/cuda/dnn_ops.cu).
// math=3 is CUDNN_FMA_MATH (fp32 without TF32), math=1 CUDNN_TENSOR_OP_MATH.
function algoFor(kind: string, x: number[], w: number[], dtype: string, layout: string, math: number): string | undefined {
  const prefix = `${kind} x[${x.join(',')}] w[${w.join(',')}]`;
  const line = addon.cudaInfo().convAlgorithms.find((l) => l.startsWith(prefix) && l.includes(` ${dtype} ${layout} math=${math}:`));
  return line?.split(': ').pop();
}

function convs(dtype: DTypeName, layout: LayoutName, tf32: boolean): void {
  const shapes: [number, number, number, number][] = [
    // cin, cout, px (input), stride
    [3, 16, 32, 1],
    [16, 16, 32, 1],
    [16, 32, 32, 2],
    [32, 32, 16, 1],
    [32, 64, 16, 2],
    [64, 64, 8, 1],
  ];
  const tag = dtype === 'float32' ? (tf32 ? 'float32+tf32' : 'float32') : dtype;
  for (const [cin, cout, px, s] of shapes) {
    const xs = [N, cin, px, px],
      ws = [cout, cin, 3, 3];
    const x = rand(xs, dtype, layout);
    const w = rand(ws, dtype, layout, 0.1);
    const params = [s, s, 1, 1, 1, 1];
    const y = addon.conv2dForward(x, w, null, params, tf32);
    const dy = rand(y.shape, dtype, layout);
    const kinds: [string, () => unknown][] = [
      ['fwd', () => addon.conv2dForward(x, w, null, params, tf32)],
      ['bwd-data', () => addon.conv2dBackwardData(dy, w, xs, params, tf32)],
      ['bwd-filter', () => addon.conv2dBackwardFilter(dy, x, ws, params, tf32)],
    ];
    for (const [kind, fn] of kinds) {
      const ms = time(fn);
      record(`conv ${kind} ${cin}->${cout} s${s}`, xs, tag, layout, ms, algoFor(kind, xs, ws, dtype, layout, dtype === 'float32' && !tf32 ? 3 : 1));
    }
    dispose([x, w, y, dy]);
  }
}

function batchnorm(dtype: DTypeName, layout: LayoutName): void {
  for (const [c, px] of [
    [16, 32],
    [32, 16],
    [64, 8],
  ]) {
    const xs = [N, c, px, px];
    const x = rand(xs, dtype, layout);
    const res = rand(xs, dtype, layout);
    const g = addon.full([c], 'float32', 'NCHW', dev, 1);
    const b = addon.full([c], 'float32', 'NCHW', dev, 0);
    const rm = addon.full([c], 'float32', 'NCHW', dev, 0);
    const rv = addon.full([c], 'float32', 'NCHW', dev, 1);
    record(
      'bn fwd',
      xs,
      dtype,
      layout,
      time(() => addon.batchNormForwardTraining(x, g, b, rm, rv, 0.1, 1e-5, null, false)),
    );
    record(
      'bn fwd +res+relu',
      xs,
      dtype,
      layout,
      time(() => addon.batchNormForwardTraining(x, g, b, rm, rv, 0.1, 1e-5, res, true)),
    );
    const f = addon.batchNormForwardTraining(x, g, b, rm, rv, 0.1, 1e-5, res, true);
    const dy = rand(xs, dtype, layout);
    record(
      'bn bwd',
      xs,
      dtype,
      layout,
      time(() => addon.batchNormBackward(dy, x, g, f.saveMean, f.saveInvStd, 1e-5, null, false, false)),
    );
    record(
      'bn bwd +res+relu',
      xs,
      dtype,
      layout,
      time(() => addon.batchNormBackward(dy, x, g, f.saveMean, f.saveInvStd, 1e-5, f.y, true, true)),
    );
    if (f.reserve)
      // the forward ran cuDNN's fused kernel: its fused backward
      record(
        'bn bwd +res+relu fused',
        xs,
        dtype,
        layout,
        time(() => addon.batchNormBackward(dy, x, g, f.saveMean, f.saveInvStd, 1e-5, f.y, true, true, b, f.reserve)),
      );
    record(
      'bn inference',
      xs,
      dtype,
      layout,
      time(() => addon.batchNormForwardInference(x, g, b, rm, rv, 1e-5, null, true)),
    );
    if (c === 16) {
      record(
        'relu fwd',
        xs,
        dtype,
        layout,
        time(() => addon.reluForward(x)),
      );
      record(
        'relu bwd',
        xs,
        dtype,
        layout,
        time(() => addon.reluBackward(dy, f.y)),
      );
      record(
        'add',
        xs,
        dtype,
        layout,
        time(() => addon.add(x, res)),
      );
      record(
        'shortcutA fwd 16->32',
        xs,
        dtype,
        layout,
        time(() => addon.shortcutAForward(x, 32, 2)),
      );
    }
    if (c === 64) {
      record(
        'avgpool 8x8 fwd',
        xs,
        dtype,
        layout,
        time(() => addon.pool2dForward(x, 'avg', [8, 8, 8, 8, 0, 0], true)),
      );
      const p = addon.pool2dForward(x, 'avg', [8, 8, 8, 8, 0, 0], true);
      const dp = rand(p.shape, dtype, layout);
      record(
        'avgpool 8x8 bwd',
        xs,
        dtype,
        layout,
        time(() => addon.pool2dBackward(dp, x, p, 'avg', [8, 8, 8, 8, 0, 0], true)),
      );
      record(
        'maxpool 2x2 fwd',
        xs,
        dtype,
        layout,
        time(() => addon.pool2dForward(x, 'max', [2, 2, 2, 2, 0, 0], true)),
      );
      dispose([p, dp]);
    }
    dispose([x, res, g, b, rm, rv, f, dy]);
  }
}

// ResNet-56 (CIFAR): conv1, 3 stages x 9 blocks x 2 convs, a BN (gamma, beta) per conv, fc.
function resnet56Params(): number[][] {
  const shapes: number[][] = [[16, 3, 3, 3], [16], [16]];
  let cin = 16;
  for (const cout of [16, 32, 64])
    for (let b = 0; b < 9; b++) {
      shapes.push([cout, cin, 3, 3], [cout], [cout], [cout, cout, 3, 3], [cout], [cout]);
      cin = cout;
    }
  shapes.push([10, 64], [10]);
  return shapes;
}

function sgd(): void {
  const shapes = resnet56Params();
  const params = shapes.map((s) => rand(s, 'float32', 'NCHW', 0.1));
  const grads = shapes.map((s) => rand(s, 'float32', 'NCHW', 0.01));
  const bufs = shapes.map((s) => addon.full(s, 'float32', 'NCHW', dev, 0));
  const count = shapes.reduce((a, s) => a + s.reduce((x, y) => x * y, 1), 0);
  const ms = time(() => addon.sgdUpdate(params, grads, bufs, 0.1, 0.9, 0, 1e-4, false, false), 50);
  record(`sgd ${shapes.length} tensors`, [count], 'float32', '-', ms);
  record(
    `l2Norms ${shapes.length} tensors`,
    [count],
    'float32',
    '-',
    time(() => addon.l2Norms(grads), 50),
  );
  dispose([params, grads, bufs]);
}

function lossAndData(): void {
  const logits = rand([N, 10]);
  const labels = addon.fromTypedArray(
    Int32Array.from({ length: N }, (_, i) => i % 10),
    [N],
    'int32',
    'NCHW',
    dev,
  );
  const gl = addon.full([1], 'float32', 'NCHW', dev, 1);
  record(
    'softmax-xent fwd',
    [N, 10],
    'float32',
    '-',
    time(() => addon.softmaxCrossEntropyForward(logits, labels)),
  );
  record(
    'softmax-xent bwd',
    [N, 10],
    'float32',
    '-',
    time(() => addon.softmaxCrossEntropyBackward(logits, labels, gl)),
  );
  const images = addon.fromTypedArray(
    Uint8Array.from({ length: 1000 * 3 * 32 * 32 }, (_, i) => (i * 7) % 256),
    [1000, 3, 32, 32],
    'uint8',
    'NCHW',
    dev,
  );
  const idx = addon.fromTypedArray(
    Int32Array.from({ length: N }, (_, i) => (i * 13) % 1000),
    [N],
    'int32',
    'NCHW',
    dev,
  );
  const prm = addon.fromTypedArray(
    Int32Array.from({ length: N * 3 }, (_, i) => (i % 3 === 2 ? i % 2 : i % 9)),
    [N, 3],
    'int32',
    'NCHW',
    dev,
  );
  for (const [dt, ly] of [
    ['float32', 'NCHW'],
    ['bfloat16', 'NHWC'],
  ] as [DTypeName, LayoutName][])
    record(
      'augmentBatch',
      [N, 3, 32, 32],
      dt,
      ly,
      time(() => addon.augmentBatch(images, idx, prm, [0.49, 0.48, 0.45], [0.25, 0.24, 0.26], 4, dt, ly)),
    );
  dispose([logits, labels, gl, images, idx, prm]);
}

function main(): void {
  const out = process.argv[2] ?? 'ops.json';
  const info = addon.cudaInfo();
  if (!info.available) {
    console.error(`CUDA unavailable: ${info.reason}`);
    process.exit(1);
  }
  const t0 = Date.now();
  convs('float32', 'NCHW', false);
  convs('float32', 'NCHW', true);
  convs('bfloat16', 'NHWC', false);
  batchnorm('float32', 'NCHW');
  batchnorm('bfloat16', 'NHWC');
  sgd();
  lossAndData();
  const mem = addon.cudaMemoryStats(0);
  const report = {
    device: info.devices[0],
    versions: { driver: info.driverVersion, runtime: info.runtimeVersion, cudnn: info.cudnnVersion, cudnnPath: info.cudnnPath },
    batch: N,
    seconds: (Date.now() - t0) / 1000,
    memory: mem,
    ops: rows,
    convAlgorithms: addon.cudaInfo().convAlgorithms,
    fusedBatchNorm: addon.cudaInfo().fusedBatchNorm,
  };
  fs.writeFileSync(out, JSON.stringify(report, null, 2));
  const w = Math.max(...rows.map((r) => r.op.length));
  console.log(`${'op'.padEnd(w)}  ${'shape'.padEnd(16)} ${'dtype'.padEnd(13)} ${'layout'.padEnd(6)} ${'ms'.padStart(8)}  algorithm`);
  for (const r of rows)
    console.log(`${r.op.padEnd(w)}  ${r.shape.padEnd(16)} ${r.dtype.padEnd(13)} ${r.layout.padEnd(6)} ${r.ms.toFixed(4).padStart(8)}  ${r.algo ?? ''}`);
  console.log(
    `${rows.length} timings in ${report.seconds.toFixed(1)} s; peak allocated ${(mem.peakAllocated / 2 ** 20).toFixed(1)} MiB, ` +
      `${mem.mallocCalls} cudaMalloc calls, ${mem.cacheHits} cache hits; fused BN calls ${JSON.stringify(report.fusedBatchNorm)} -> ${out}`,
  );
}

main();
