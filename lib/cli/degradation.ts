// `cudnn-resnet degradation`: plain-20/56 vs ResNet-20/56 with identical settings; an SVG of
// training and test error against iterations (the paper's Figure 6) and a markdown summary.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { checkDataArg, checkModelName, floatArg, intArg, parseCommandArgs, UsageError, type CliIO } from './args';

export const usage = `cudnn-resnet degradation [options]

Trains plain-20, plain-56, ResNet-20 and ResNet-56 with identical settings and writes
degradation.svg (error vs iterations: test solid, training dashed; plain and residual
panels), degradation.md (summary table) and degradation.json to --out. The default budget
(40 iterations of batch 32 on the synthetic data, 250 test images) finishes on a CPU in
minutes; it shows the early phase only, the README has the paper's full recipe.
  --models A,B,...    (default plain20,plain56,resnet20,resnet56)
  --iterations N      (default 40)         --batch N        (default 32)
  --eval-every N      (default 8)          --lr X           (default 0.02)
  --schedule S        constant (default) | paper | multistep:I1,I2 | epochs:E1,E2 | cosine
  --weight-decay X    (default 1e-4)       --momentum X     (default 0.9)
  --seed N            (default 0)          --device D       auto (default) | cpu | cuda:N
  --seeds LIST        run every seed of LIST (0-4, or 0,2,7) into --out/seed-N and print the
                      spread over them (median, min .. max; markdown). Fix the thread count
                      (CUDNN_RESNET_CPU_THREADS) for figures that rerun
  --data PATH         CIFAR-10 folder or .tar.gz (default: synthetic)
  --train-images N    --test-images N      use only the first N images (synthetic default: 250 test)
  --out DIR           (default degradation-out)
The paper's recipe on real CIFAR-10 (a GPU): --data PATH --iterations 64000 --batch 128
  --schedule multistep:32000,48000 --eval-every 1000`;

const OPTIONS = {
  models: { type: 'string' },
  iterations: { type: 'string' },
  batch: { type: 'string' },
  'eval-every': { type: 'string' },
  lr: { type: 'string' },
  schedule: { type: 'string' },
  'weight-decay': { type: 'string' },
  momentum: { type: 'string' },
  seed: { type: 'string' },
  seeds: { type: 'string' },
  device: { type: 'string' },
  data: { type: 'string' },
  'train-images': { type: 'string' },
  'test-images': { type: 'string' },
  out: { type: 'string' },
} as const;

export async function run(argv: string[], io: CliIO): Promise<number> {
  const { values: v } = parseCommandArgs({ args: argv, options: OPTIONS, allowPositionals: false, strict: true });
  const models =
    v.models !== undefined
      ? v.models
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean)
      : undefined;
  if (models) {
    if (models.length === 0) throw new UsageError('--models needs at least one model name');
    for (const m of models) await checkModelName(m, 'models');
  }
  const n = (x: string | undefined, flag: string, min = 1) => (x === undefined ? undefined : intArg(x, flag, min));
  const f = (x: string | undefined, flag: string) => (x === undefined ? undefined : floatArg(x, flag));
  const opts = {
    models,
    iterations: n(v.iterations, 'iterations'),
    batchSize: n(v.batch, 'batch'),
    evalEvery: n(v['eval-every'], 'eval-every'),
    lr: f(v.lr, 'lr'),
    weightDecay: f(v['weight-decay'], 'weight-decay'),
    momentum: f(v.momentum, 'momentum'),
    seed: n(v.seed, 'seed', 0),
    trainImages: n(v['train-images'], 'train-images'),
    testImages: n(v['test-images'], 'test-images'),
    schedule: v.schedule,
    device: v.device,
    data: v.data,
  };
  if (opts.schedule !== undefined) {
    const { parseSchedule } = await import('../optim/schedules');
    try {
      parseSchedule(opts.schedule, 0.1, 100, 10);
    } catch (e) {
      throw new UsageError(`--schedule ${(e as Error).message.replace(/^parseSchedule: argument 'spec' /, '')}`);
    }
  }
  if (opts.device !== undefined && !/^(auto|cpu|cuda:\d+)$/.test(opts.device))
    throw new UsageError(`--device must be auto, cpu or cuda:N, got '${opts.device}'`);
  if (opts.data !== undefined) await checkDataArg('cifar10', opts.data);
  const out = v.out ?? 'degradation-out';
  if (v.seed !== undefined && v.seeds !== undefined) throw new UsageError('give --seed or --seeds, not both');
  const { parseSeeds, degradationSpreadTable } = await import('../diagnostics/spread');
  let seeds: number[] | null = null;
  try {
    if (v.seeds !== undefined) seeds = parseSeeds(v.seeds);
  } catch (e) {
    throw new UsageError(`--seeds ${(e as Error).message.replace(/^parseSeeds: argument 'spec' /, '')}`);
  }
  if (seeds) {
    const { resolveDevice } = await import('../train/device');
    const { native } = await import('../native');
    const device = resolveDevice(opts.device ?? 'auto').device;
    const threads = device === 'cpu' ? native().buildInfo().cpuThreads : null;
    const results = [];
    for (const seed of seeds) {
      io.out(`seed ${seed}:`);
      results.push(await runOne({ ...opts, seed, device }, path.join(out, `seed-${seed}`), io));
    }
    const table = degradationSpreadTable(results, threads);
    const md = path.join(out, 'degradation-seeds.md');
    fs.writeFileSync(md, table);
    io.out(`\n${table}\nwrote ${md}`);
    return 0;
  }
  await runOne(opts, out, io);
  return 0;
}

type Settings = import('../diagnostics/degradation').DegradationOptions;

async function runOne(opts: Settings, out: string, io: CliIO): Promise<import('../diagnostics/degradation').DegradationResult> {
  const { degradation, degradationSvg, degradationTable } = await import('../diagnostics/degradation');
  const { evalNote } = await import('../train/metrics');
  const t0 = Date.now();
  const result = await degradation({
    ...opts,
    out,
    onStart: (m, info) => io.out(`${m}: ${info.totalIterations} iterations on ${info.device}`),
    onEval: (m, e) => {
      const note = evalNote(e);
      io.out(
        `  ${m} iter ${e.iteration}: train error ${(100 * e.trainError).toFixed(2)}%, test error ${(100 * e.testError).toFixed(2)}%` +
          ` (${((Date.now() - t0) / 1000).toFixed(0)} s)${note ? `; ${note}` : ''}`,
      );
    },
  });
  fs.mkdirSync(out, { recursive: true });
  const table = degradationTable(result);
  fs.writeFileSync(path.join(out, 'degradation.svg'), degradationSvg(result));
  fs.writeFileSync(path.join(out, 'degradation.md'), `# Degradation experiment\n\n${table}\nTotal wall time: ${result.seconds.toFixed(1)} s.\n`);
  fs.writeFileSync(path.join(out, 'degradation.json'), JSON.stringify(result, null, 2) + '\n');
  io.out(`\n${table}\ntotal wall time ${result.seconds.toFixed(1)} s; wrote ${path.join(out, 'degradation.svg')}, degradation.md, degradation.json`);
  return result;
}
