// `npm run bench`: the training-step benchmark (warm-up, timed runs, median), with the floor
// each row could reach on the device measured (an H100's peaks for CUDA; on the CPU its GEMM
// rate and bandwidth, measured at the start), optionally PyTorch's figures from the same
// machine and cores (--pytorch; --repeat alternates the two sides) and one end-to-end
// CIFAR-10 epoch through the data path (--e2e).
//
//   node dist/bench/run.js [--rows resnet20:128,resnet56:512,resnet18@64:32] [--precisions fp32,bf16,fp16]
//     [--device auto|cpu|cuda:N] [--warmup 10] [--steps 50] [--runs 3] [--repeat 1] [--tf32] [--no-capture] [--seed 0]
//     [--budget SECONDS] [--json OUT] [--out-dir bench/results]
//     [--pytorch] [--python python3] [--pytorch-script PATH] [--pytorch-modes eager-fp32,...]
//     [--pytorch-compile all|none|ROWS] [--pytorch-timeout 300]
//     [--e2e] [--e2e-only] [--e2e-images 50000] [--e2e-test-images 10000] [--cache-dir DIR]
//     [--images] [--images-only] [--images-jpegs 1000] [--images-pngs 5000] [--images-cores 1,2] [--images-out FILE.md]
//   node dist/bench/run.js --report FILE.json      (the tables of a stored run)
import * as fs from 'node:fs';
import * as path from 'node:path';

import { resolveDevice } from '../lib/train/device';
import { benchEpoch, E2EResult } from './e2e';
import { imageBench } from './images';
import { collectEnv, describeEnv, finishEnv, timerFor } from './env';
import { measureCpuCeilings } from './cpu_ceilings';
import { Ceilings } from './flops';
import { defaultModes, defaultScript, findPython, pytorchEnv, PytorchResult, pytorchUnavailable, runPytorchRow } from './pytorch';
import { BenchDocument, compare, comparisonTable, e2eTable, floorNote, progressLine, SCHEMA, stepTable } from './report';
import { DEFAULT_ROWS, nowMs, parsePrecisions, parseRows, PROTOCOL, Row, rowImageSize, rowKey, SGD_SETTINGS } from './protocol';
import { benchStep, emptyResult, rowFloor, StepResult } from './step';

const FLAGS = new Set(['pytorch', 'tf32', 'e2e', 'e2e-only', 'no-capture', 'help', 'images', 'images-only', 'no-torchvision']);
const VALUES = new Set([
  'report',
  'rows',
  'precisions',
  'device',
  'warmup',
  'steps',
  'runs',
  'repeat',
  'seed',
  'budget',
  'json',
  'out-dir',
  'python',
  'pytorch-script',
  'pytorch-modes',
  'pytorch-compile',
  'pytorch-timeout',
  'e2e-images',
  'e2e-test-images',
  'cache-dir',
  'images-jpegs',
  'images-pngs',
  'images-cores',
  'images-out',
]);

export type Args = Map<string, string | true>;

/** --name value, --name=value and bare --flag; unknown names are a RangeError. */
export function parseArgs(argv: string[]): Args {
  const out: Args = new Map();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const m = /^--([a-z0-9-]+)(?:=(.*))?$/.exec(a);
    if (!m) throw new RangeError(`unexpected argument '${a}' (options start with --; see --help)`);
    const [, name, inline] = m;
    if (FLAGS.has(name)) {
      if (inline !== undefined) throw new RangeError(`--${name} takes no value`);
      out.set(name, true);
    } else if (VALUES.has(name)) {
      const v = inline ?? argv[++i];
      if (v === undefined || (inline === undefined && v.startsWith('--'))) throw new RangeError(`--${name} needs a value`);
      out.set(name, v);
    } else throw new RangeError(`unknown option --${name} (see --help)`);
  }
  return out;
}

function str(a: Args, name: string, fallback: string): string {
  const v = a.get(name);
  return typeof v === 'string' ? v : fallback;
}

function int(a: Args, name: string, fallback: number, min: number): number {
  const v = Number(str(a, name, String(fallback)));
  if (!Number.isInteger(v) || v < min) throw new RangeError(`--${name} must be an integer >= ${min}, got '${str(a, name, '')}'`);
  return v;
}

const HELP = `npm run bench -- [options]   (node dist/bench/run.js)
  --rows R            model[@px]:batch list (default ${DEFAULT_ROWS.map(rowKey).join(',')}); @px sets the input size
  --precisions P      fp32,bf16,fp16 (default all three; fp32 on the CPU); bf16/fp16 = NHWC activations, fp32 master weights
  --device D          auto (default), cpu or cuda:N (CPU threads: CUDNN_RESNET_CPU_THREADS, PyTorch gets the same)
  --warmup/--steps/--runs N   protocol overrides (default ${PROTOCOL.warmup} / ${PROTOCOL.steps} / ${PROTOCOL.runs})
  --repeat N          run each row N times, ours and PyTorch alternating; the comparison takes each side's median
  --tf32              fp32 convolutions on TF32 tensor cores (floor uses 400 TFLOP/s)
  --no-capture        run the step eagerly on CUDA too (default: captured as a CUDA graph after warm-up)
  --budget S          start no new row after S seconds (rows are taken in the order given)
  --json OUT          write the results document to OUT
  --out-dir DIR       also store it as DIR/<date>-<device>.json (e.g. bench/results)
  --pytorch           also run bench/pytorch_reference.py per row (python with torch and a GPU; on --device cpu
                      torch's CPU step on the same number of threads; skipped with a message without torch)
  --python EXE        (default: python3, or /usr/bin/python3 when only that one imports torch)
  --pytorch-script PATH, --pytorch-modes M (default eager-<each precision>,compile-bf16; eager-fp32 on the CPU)
  --pytorch-compile all|none|R   rows that also run the torch.compile mode (default all)
  --pytorch-timeout S seconds per row of the PyTorch script (default 300)
  --e2e               also one CIFAR-10-sized epoch + evaluation per 32-px row, through the data path
  --e2e-only          only that; --e2e-images N (default 50000), --e2e-test-images N (default N/5)
  --cache-dir DIR     where the synthetic CIFAR files are written once (default the library cache)
  --images            also the image-loader bench (bench/images.ts): ours vs torchvision ImageFolder +
                      DataLoader, 224 px from JPEGs and 32 px from PNGs, per core (taskset); --images-only: only that;
                      --images-jpegs N (1000), --images-pngs N (5000), --images-cores 1,2, --images-out FILE.md,
                      --no-torchvision (--python EXE picks the interpreter)
  --report FILE       print the tables of a stored results document and exit`;

/** --report FILE: the tables of a stored results document (a run cut short included). */
function printReport(file: string): number {
  const doc = JSON.parse(fs.readFileSync(file, 'utf8')) as BenchDocument;
  if (doc.schema !== SCHEMA) throw new RangeError(`--report: ${file} is not a ${SCHEMA} document (schema ${String(doc.schema)})`);
  console.log(`${file}: ${describeEnv(doc.env)}`);
  console.log(`protocol: warm-up ${doc.protocol.warmup}, ${doc.protocol.runs} runs of ${doc.protocol.steps} steps; timer: ${doc.protocol.timer}`);
  if (doc.e2e.length) console.log(`\nend to end\n${e2eTable(doc.e2e)}`);
  if (doc.rows.length) console.log(`\n${stepTable(doc.rows)}\n${floorNote(doc.rows)}`);
  if (doc.pytorch) {
    const pe = doc.pytorch.env;
    console.log(
      `\nours vs PyTorch ${pe.torch ?? '(not run)'}${pe.cudnn ? ` (cuDNN ${pe.cudnn})` : ''} on ${pe.gpu ?? doc.env.gpu ?? doc.env.device}` +
        `${doc.pytorch.unavailable ? ` - PyTorch skipped: ${doc.pytorch.unavailable}` : ''}\n${comparisonTable(doc.comparison)}`,
    );
  }
  return 0;
}

function slug(s: string): string {
  return s.replace(/[^A-Za-z0-9.]+/g, '-').replace(/^-|-$/g, '');
}

export async function main(argv: string[]): Promise<number> {
  const a = parseArgs(argv);
  if (a.has('help')) {
    console.log(HELP);
    return 0;
  }
  if (a.has('report')) return printReport(str(a, 'report', ''));
  const imageArgs = (): string[] => [
    ...(['images-jpegs', 'images-pngs', 'images-cores', 'images-out'] as const).flatMap((k) =>
      a.has(k) ? [`--${k.replace('images-', '')}`, str(a, k, '')] : [],
    ),
    ...(a.has('python') ? ['--python', str(a, 'python', '')] : []),
    ...(a.has('cache-dir') ? ['--cache-dir', str(a, 'cache-dir', '')] : []),
    ...(a.has('no-torchvision') ? ['--no-torchvision'] : []),
  ];
  if (a.has('images-only')) {
    await imageBench(imageArgs());
    return 0;
  }
  const rows: Row[] = a.has('rows') ? parseRows(str(a, 'rows', '')) : DEFAULT_ROWS.slice();
  const onCpu = str(a, 'device', 'auto') === 'cpu';
  const precisions = parsePrecisions(str(a, 'precisions', onCpu ? 'fp32' : 'fp32,bf16,fp16'));
  const repeat = int(a, 'repeat', 1, 1);
  const timing = { warmup: int(a, 'warmup', PROTOCOL.warmup, 0), steps: int(a, 'steps', PROTOCOL.steps, 1), runs: int(a, 'runs', PROTOCOL.runs, 1) };
  const tf32 = a.has('tf32');
  const capture = !a.has('no-capture');
  const seed = int(a, 'seed', 0, 0);
  const budgetS = a.has('budget') ? int(a, 'budget', 0, 1) : Infinity;
  const e2eOnly = a.has('e2e-only');
  const e2eImages = int(a, 'e2e-images', 50000, 1);
  const e2eTest = int(a, 'e2e-test-images', Math.max(1, Math.round(e2eImages / 5)), 1);
  for (const row of rows) rowFloor(row, 'fp32'); // an unknown model name fails here, before any timing
  const { device, fallbackReason } = resolveDevice(str(a, 'device', 'auto'));
  const t0 = nowMs();
  const overBudget = () => (nowMs() - t0) / 1e3 >= budgetS;

  const env = collectEnv(device);
  // The CPU's floor divides by its own measured peaks, not a GPU's.
  const ceilings: Ceilings | undefined = device === 'cpu' ? measureCpuCeilings() : undefined;
  console.log(`cudnn-resnet bench  ${describeEnv(env)}`);
  if (fallbackReason) console.log(`device auto -> cpu: ${fallbackReason}`);
  console.log(
    `protocol: forward + softmax cross-entropy + backward + SGD (lr ${SGD_SETTINGS.lr}, momentum ${SGD_SETTINGS.momentum}, ` +
      `weight decay ${SGD_SETTINGS.weightDecay}) on synthetic data on ${device}; warm-up ${timing.warmup}, ${timing.runs} runs of ${timing.steps} steps, median` +
      `${timing.warmup !== PROTOCOL.warmup || timing.steps !== PROTOCOL.steps || timing.runs !== PROTOCOL.runs ? ' (REDUCED: not the protocol)' : ''}`,
  );
  console.log(`timer: ${timerFor(device)}`);
  if (ceilings)
    console.log(
      `floor peaks (measured now): ${(ceilings.fp32 / 1e9).toFixed(1)} GFLOP/s fp32 GEMM, ${(ceilings.bandwidth / 1e9).toFixed(1)} GB/s (${ceilings.name})`,
    );

  let pyUnavailable: string | null = null;
  const pyResults: PytorchResult[] = [];
  const wantPy = a.has('pytorch') && !e2eOnly;
  const python = a.has('python') ? str(a, 'python', 'python3') : wantPy ? findPython(device) : 'python3';
  const script = str(a, 'pytorch-script', defaultScript());
  if (wantPy) {
    pyUnavailable = pytorchUnavailable(python, device);
    if (pyUnavailable) console.log(`pytorch: skipped, ${pyUnavailable}`);
  }
  const compileSpec = str(a, 'pytorch-compile', 'all');
  const compileRows = compileSpec === 'all' || compileSpec === 'none' ? null : new Set(parseRows(compileSpec).map(rowKey));
  const modesFor = (row: Row) => {
    if (a.has('pytorch-modes'))
      return str(a, 'pytorch-modes', '')
        .split(',')
        .map((m) => m.trim())
        .filter(Boolean);
    const compile = compileSpec === 'all' || (compileRows?.has(rowKey(row)) ?? false);
    return defaultModes(precisions, compile, device);
  };

  const results: StepResult[] = [];
  const e2e: E2EResult[] = [];
  const json = a.get('json');
  const outDir = a.get('out-dir');
  const stored = typeof outDir === 'string' ? path.join(outDir, `${env.date.slice(0, 19).replace(/:/g, '')}-${slug(env.gpu ?? env.device)}.json`) : null;
  // Written after every row too, so a run cut short by its caller's time limit keeps what it measured.
  const save = (): BenchDocument => {
    const doc: BenchDocument = {
      schema: SCHEMA,
      env,
      protocol: { ...timing, sgd: { ...SGD_SETTINGS }, timer: timerFor(device) },
      args: argv,
      rows: results,
      pytorch: wantPy ? { env: pytorchEnv(pyResults), unavailable: pyUnavailable, results: pyResults } : null,
      comparison: compare(rows, results, pyResults),
      e2e,
    };
    const text = `${JSON.stringify(doc, null, 1)}\n`;
    for (const file of [typeof json === 'string' ? json : null, stored]) {
      if (file === null) continue;
      fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
      fs.writeFileSync(file, text);
    }
    return doc;
  };
  if (!e2eOnly) {
    console.log();
    for (const row of rows)
      for (let rep = 0; rep < repeat; rep++) {
        for (const p of precisions) {
          const r = overBudget()
            ? emptyResult(row, p, { device, timing, tf32, ceilings }, { skipped: `budget of ${budgetS} s spent` })
            : benchStep(row, p, { device, timing, tf32, seed, capture, ceilings });
          results.push(r);
          console.log(progressLine(r));
          save();
        }
        if (wantPy && !pyUnavailable) {
          if (overBudget()) {
            console.log(`${rowKey(row).padEnd(15)} pytorch skipped: budget of ${budgetS} s spent`);
            continue;
          }
          const got = runPytorchRow(row, modesFor(row), {
            python,
            script,
            timing,
            timeoutS: int(a, 'pytorch-timeout', 300, 1),
            device,
            threads: env.cpuThreads,
          });
          pyResults.push(...got);
          save();
          for (const g of got)
            console.log(
              `${rowKey(row).padEnd(15)} pytorch ${g.mode.padEnd(16)} ${
                g.error
                  ? `FAILED: ${g.error}`
                  : `${(g.ms_per_step ?? NaN).toFixed(3).padStart(9)} ms/step  ${Math.round(g.images_per_s ?? NaN)
                      .toLocaleString('en-US')
                      .padStart(8)} img/s${g.minor_faults_per_step === undefined ? '' : `  (${Math.round(g.minor_faults_per_step)} page faults/step)`}`
              }`,
            );
        }
      }
  }

  if (a.has('e2e') || e2eOnly) {
    console.log();
    for (const row of rows.filter((r) => rowImageSize(r) === 32)) {
      for (const p of precisions) {
        if (overBudget()) {
          console.log(`e2e ${rowKey(row)} ${p}: skipped, budget of ${budgetS} s spent`);
          continue;
        }
        const r = await benchEpoch(row, p, {
          device,
          trainImages: e2eImages,
          testImages: e2eTest,
          seed,
          cacheDir: a.has('cache-dir') ? str(a, 'cache-dir', '') : undefined,
        });
        e2e.push(r);
        save();
        console.log(
          `e2e ${rowKey(row)} ${p}: ${r.error ? `FAILED: ${r.error}` : `${r.totalS?.toFixed(2)} s total, train ${Math.round(r.trainImagesPerS ?? 0)} img/s, eval ${Math.round(r.evalImagesPerS ?? 0)} img/s`}`,
        );
      }
    }
  }
  finishEnv(env);
  const doc = save();

  if (results.length) console.log(`\n${stepTable(results)}\n${floorNote(results)}`);
  if (e2e.length) console.log(`\nend to end (one epoch + evaluation, synthetic CIFAR-10 files, augmentation on ${device})\n${e2eTable(e2e)}`);
  if (wantPy && results.length) {
    const pe = doc.pytorch?.env;
    console.log(
      `\nours vs PyTorch ${pe?.torch ?? '(not run)'}${pe?.cudnn ? ` (cuDNN ${pe.cudnn})` : ''} on ${pe?.gpu ?? env.gpu ?? device}` +
        `${device === 'cpu' ? ` (${env.cpuThreads} threads each; load ${env.loadStart.join(' ')} -> ${env.loadEnd?.join(' ')})` : ''}` +
        `${pyUnavailable ? ` - PyTorch skipped: ${pyUnavailable}` : ''}\n${comparisonTable(doc.comparison)}`,
    );
  }
  for (const file of [typeof json === 'string' ? json : null, stored]) if (file) console.log(`wrote ${file}`);
  if (a.has('images')) await imageBench(imageArgs());
  const failed = results.filter((r) => r.error).length + e2e.filter((r) => r.error).length;
  if (failed) console.log(`${failed} row(s) failed`);
  return failed ? 1 : 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e) => {
      console.error(e instanceof Error ? `bench: ${e.message}` : e);
      process.exitCode = 2;
    },
  );
}
