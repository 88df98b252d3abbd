// `cudnn-resnet train`: the Trainer behind a command line, with a progress bar, Ctrl-C that
// saves a checkpoint (exit 130), --resume, and a short demo when run without arguments.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { checkDataArg, checkModelName, floatArg, intArg, parseCommandArgs, UsageError, type CliIO } from './args';
import { IMAGE_OPTIONS, IMAGE_USAGE, imageArgs, isImageFolderArg } from './image-args';

export const usage = `cudnn-resnet train [options]

Trains a ResNet on CIFAR-10/100, on folders of images (JPEG, PNG, WebP), or on the built-in
synthetic CIFAR-format data. Without arguments: a short demo on the synthetic data, on the
GPU if there is one.
  --model NAME          resnet20 (default) ... resnet1202, plain20 ... plain110, resnet18 ... resnet152,
                        preact-resnet20 ... preact-resnet1001 (any CIFAR depth 6n+2 works, e.g. resnet8)
  --data PATH           CIFAR folder (cifar-10-batches-bin, or its parent) or the .tar.gz, or an
                        image folder (see below); default: synthetic data generated into the
                        cache ($CUDNN_RESNET_CACHE)
  --dataset KIND        cifar10 (default) | cifar100
  --train-images N      use only the first N training images (--test-images N likewise)
  --epochs N            epochs to train (default 1)
  --iterations N        iterations to train (instead of --epochs)
  --batch N             batch size (default 128)
  --lr X                base learning rate (default 0.1; 1e-3 with adamw)
  --schedule S          paper (default: /10 at 50% and 75% of the run, i.e. 32k/48k of 64k),
                        multistep:I1,I2 | epochs:E1,E2 | cosine | constant
  --optimizer O         sgd (default) | adamw (torch.optim.AdamW: decoupled weight decay)
  --weight-decay X      (default 1e-4; 1e-2 with adamw)   --no-decay-bn-bias: none on BN and biases
  --momentum X          SGD's (default 0.9)     --nesterov
  --betas B1,B2         AdamW's (default 0.9,0.999)     --eps X  AdamW's (default 1e-8)
  --label-smoothing X   label smoothing of the training loss, in [0, 1] (default 0)
  --device D            auto (default) | cpu | cuda:N
  --precision P         fp32 (default) | bf16 | fp16: 16-bit activations and conv weights with
                        fp32 master weights and fp32 batch norm (fp16 adds loss scaling). Both
                        backends run them; on the CPU the ops compute in fp32 and round between
                        ops, which is slower than fp32 (useful only to check numerics).
  --seed N              seeds initialisation, shuffling and augmentation (default 0)
  --capture, --no-capture  record the training step once as a CUDA graph and replay it
                        (default: on for CUDA, off on the CPU)
  --eval-every N        evaluate every N iterations (default: every epoch)
  --no-augment          no random crop / flip
  --out DIR             metrics.jsonl, metrics.csv, checkpoint.safetensors + checkpoint.json
                        (default runs/<model>-<time>); a folder holding a run is refused
  --overwrite           replace the run already in --out
  --weights FILE        start from these weights: safetensors or a PyTorch .pth/.pt state dict
                        (torchvision key names); a head of another size is replaced
  --classes N           the classifier's classes (checked against the dataset's)
  --freeze LIST         modules not to train, by name or prefix: e.g. conv1,bn1,layer1
  --freeze-bn           also hold the frozen modules' batch norm in eval mode (the frozen
                        part must then be a prefix of the network)
  --lr-scale LIST       learning-rate multipliers by module, e.g. fc=10 or layer4=2,fc=10
  --resume PATH         continue a run (its folder or checkpoint.json) with its settings;
                        flags given override (e.g. --epochs to train longer: the schedule
                        keeps the original run's drop points unless --schedule is given)
  --quiet               only the final summary
${IMAGE_USAGE}
Ctrl-C finishes the current step, saves a checkpoint and exits with code 130.`;

const OPTIONS = {
  model: { type: 'string' },
  data: { type: 'string' },
  dataset: { type: 'string' },
  'train-images': { type: 'string' },
  'test-images': { type: 'string' },
  epochs: { type: 'string' },
  iterations: { type: 'string' },
  batch: { type: 'string' },
  lr: { type: 'string' },
  schedule: { type: 'string' },
  'weight-decay': { type: 'string' },
  momentum: { type: 'string' },
  nesterov: { type: 'boolean' },
  device: { type: 'string' },
  precision: { type: 'string' },
  seed: { type: 'string' },
  'eval-every': { type: 'string' },
  'no-augment': { type: 'boolean' },
  capture: { type: 'boolean' },
  'no-capture': { type: 'boolean' },
  out: { type: 'string' },
  overwrite: { type: 'boolean' },
  resume: { type: 'string' },
  weights: { type: 'string' },
  classes: { type: 'string' },
  freeze: { type: 'string' },
  'freeze-bn': { type: 'boolean' },
  'lr-scale': { type: 'string' },
  optimizer: { type: 'string' },
  betas: { type: 'string' },
  eps: { type: 'string' },
  'no-decay-bn-bias': { type: 'boolean' },
  'label-smoothing': { type: 'string' },
  quiet: { type: 'boolean' },
  ...IMAGE_OPTIONS,
} as const;

/**
 * The one line a run prints when --device auto falls back to the CPU: the reason's first
 * line only (the full report, e.g. every place cuDNN was looked for, is doctor's job).
 */
export function noGpuLine(reason: string): string {
  const first = reason.split('\n')[0].trim().replace(/[.:]$/, '');
  const short = first.length > 120 ? `${first.slice(0, 117)}...` : first;
  return `no usable GPU (${short}): training on the CPU; \`cudnn-resnet doctor\` says why`;
}

/** --optimizer, --betas, --eps, --no-decay-bn-bias, --label-smoothing into opts (over a resumed run's). */
function optimizerArgs(v: { [k: string]: string | boolean | undefined }, opts: import('../train/trainer').TrainerOptions): void {
  const str = (k: string) => v[k] as string | undefined;
  const optimizer = str('optimizer');
  if (optimizer !== undefined) {
    if (optimizer !== 'sgd' && optimizer !== 'adamw') throw new UsageError(`--optimizer must be sgd or adamw, got '${optimizer}'`);
    opts.optimizer = optimizer;
  }
  const adamw = opts.optimizer === 'adamw';
  const betas = str('betas');
  if (betas !== undefined) {
    const parts = betas.split(',');
    if (parts.length !== 2) throw new UsageError(`--betas takes B1,B2 (e.g. 0.9,0.999), got '${betas}'`);
    opts.betas = [floatArg(parts[0], 'betas'), floatArg(parts[1], 'betas')];
    if (opts.betas.some((b) => b >= 1)) throw new UsageError(`--betas must each be < 1, got '${betas}'`);
  }
  if (str('eps') !== undefined) opts.eps = floatArg(str('eps') as string, 'eps');
  if (!adamw && (betas !== undefined || str('eps') !== undefined)) throw new UsageError(`--${betas !== undefined ? 'betas' : 'eps'} needs --optimizer adamw`);
  if (!adamw) {
    delete opts.betas;
    delete opts.eps;
  }
  if (v['no-decay-bn-bias']) opts.excludeBnAndBiasFromDecay = true;
  const ls = str('label-smoothing');
  if (ls !== undefined) {
    opts.labelSmoothing = floatArg(ls, 'label-smoothing');
    if (opts.labelSmoothing > 1) throw new UsageError(`--label-smoothing must lie in [0, 1], got '${ls}'`);
  }
}

/** The no-argument demo's run folder, under the cache folder (replaced by each demo). */
export const DEMO_FOLDER = 'demo-run';

function stamp(): string {
  return new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
}

export async function run(argv: string[], io: CliIO): Promise<number> {
  const { values: v } = parseCommandArgs({ args: argv, options: OPTIONS, allowPositionals: false, strict: true });
  const demo = argv.length === 0;
  const { Trainer, resumeOptions } = await import('../train/trainer');
  const { resolveDevice } = await import('../train/device');
  const { Progress, formatDuration } = await import('../train/progress');
  const { cacheDir } = await import('../train/data');
  type Opts = import('../train/trainer').TrainerOptions;

  let opts: Opts = {};
  if (v.resume !== undefined) {
    try {
      opts = resumeOptions(v.resume);
    } catch (e) {
      throw new UsageError(`--resume: ${(e as Error).message.replace(/^resume: /, '')}`);
    }
  }
  if (v.dataset !== undefined) {
    if (v.dataset !== 'cifar10' && v.dataset !== 'cifar100') throw new UsageError(`--dataset must be cifar10 or cifar100, got '${v.dataset}'`);
    opts.dataset = v.dataset;
  }
  if (v.model !== undefined) opts.model = await checkModelName(v.model);
  const dataArg = v.data ?? (typeof opts.data === 'string' ? opts.data : undefined);
  const images = dataArg !== undefined && (await isImageFolderArg(dataArg, v['val-data'] ?? opts.valData));
  if (v.data !== undefined) {
    if (!images) await checkDataArg(opts.dataset ?? 'cifar10', v.data);
    opts.data = v.data;
  }
  Object.assign(opts, imageArgs(v, images));
  if (v['train-images'] !== undefined) opts.trainImages = intArg(v['train-images'], 'train-images');
  if (v['test-images'] !== undefined) opts.testImages = intArg(v['test-images'], 'test-images');
  if (v.epochs !== undefined) {
    opts.epochs = intArg(v.epochs, 'epochs');
    if (v.iterations === undefined) opts.iterations = undefined;
  }
  if (v.iterations !== undefined) opts.iterations = intArg(v.iterations, 'iterations');
  if (v.batch !== undefined) opts.batchSize = intArg(v.batch, 'batch');
  if (v.lr !== undefined) opts.lr = floatArg(v.lr, 'lr');
  if (v['weight-decay'] !== undefined) opts.weightDecay = floatArg(v['weight-decay'], 'weight-decay');
  if (v.momentum !== undefined) opts.momentum = floatArg(v.momentum, 'momentum');
  if (v.nesterov) opts.nesterov = true;
  if (v.seed !== undefined) opts.seed = intArg(v.seed, 'seed', 0);
  if (v['eval-every'] !== undefined) opts.evalEvery = intArg(v['eval-every'], 'eval-every');
  if (v['no-augment']) opts.augment = false;
  if (v.capture && v['no-capture']) throw new UsageError('--capture and --no-capture contradict each other');
  if (v.capture) opts.capture = true;
  if (v['no-capture']) opts.capture = false;
  if (v.precision !== undefined) {
    if (!['fp32', 'bf16', 'fp16'].includes(v.precision)) throw new UsageError(`--precision must be fp32, bf16 or fp16, got '${v.precision}'`);
    opts.precision = v.precision as Opts['precision'];
  }
  if (v.schedule !== undefined) {
    const { parseSchedule } = await import('../optim/schedules');
    try {
      parseSchedule(v.schedule, 0.1, 100, 10);
    } catch (e) {
      throw new UsageError(`--schedule ${(e as Error).message.replace(/^parseSchedule: argument 'spec' /, '')}`);
    }
    opts.schedule = v.schedule;
    delete opts.scheduleIterations; // a schedule asked for afresh spans this run
  }
  if (v.weights !== undefined) {
    if (!fs.existsSync(v.weights)) throw new UsageError(`--weights: no such file: ${v.weights}`);
    opts.weights = v.weights;
  }
  if (v.classes !== undefined) opts.classes = intArg(v.classes, 'classes');
  if (v.freeze !== undefined) {
    const list = v.freeze
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean);
    if (list.length === 0) throw new UsageError(`--freeze needs module names such as conv1,bn1,layer1, got '${v.freeze}'`);
    opts.freeze = list;
  }
  if (v['freeze-bn']) {
    if (!opts.freeze) throw new UsageError('--freeze-bn needs --freeze');
    opts.freezeBn = true;
  }
  if (v['lr-scale'] !== undefined) {
    const scales: Record<string, number> = {};
    for (const part of v['lr-scale'].split(',')) {
      const m = /^\s*([\w.]+)\s*=\s*(\S+)\s*$/.exec(part);
      if (!m) throw new UsageError(`--lr-scale takes MODULE=X[,MODULE=X], got '${v['lr-scale']}'`);
      scales[m[1]] = floatArg(m[2], 'lr-scale');
    }
    opts.lrScale = scales;
  }
  optimizerArgs(v, opts);
  const deviceSpec = v.device ?? 'auto';
  if (!/^(auto|cpu|cuda:\d+)$/.test(deviceSpec)) throw new UsageError(`--device must be auto, cpu or cuda:N, got '${deviceSpec}'`);
  if (opts.nesterov && (opts.momentum ?? 0.9) === 0) throw new UsageError('--nesterov needs --momentum > 0');

  let device: string;
  let fallback: string | null = null;
  try {
    ({ device, fallbackReason: fallback } = resolveDevice(deviceSpec));
  } catch (e) {
    io.err(`cudnn-resnet train: ${(e as Error).message}`);
    return 1;
  }
  opts.device = device;
  if (demo) {
    const gpu = device !== 'cpu';
    opts = {
      ...opts,
      model: 'resnet20',
      epochs: gpu ? 5 : 1,
      batchSize: gpu ? 128 : 64,
      trainImages: gpu ? undefined : 512,
      testImages: gpu ? undefined : 256,
    };
    io.out(
      `No arguments: running a short demo, resnet20 on synthetic CIFAR-10-format data on ${device}` +
        `${gpu ? '' : ' (no usable GPU; 512 training images, 1 epoch)'}. \`cudnn-resnet train --help\` lists the options.`,
    );
  }
  const { existingRun, sidecarPath } = await import('../checkpoint/run');
  const defaultOut = demo ? path.join(cacheDir(), DEMO_FOLDER) : path.join('runs', `${String(opts.model ?? 'resnet20')}-${stamp()}`);
  const out = v.out ?? opts.out ?? (v.resume !== undefined ? path.dirname(sidecarPath(v.resume)) : defaultOut);
  if (fs.existsSync(out) && !fs.statSync(out).isDirectory())
    throw new UsageError(`--out: ${out} exists and is not a folder; name a folder for the run's checkpoint and metrics`);
  opts.out = out;
  if (v.resume === undefined && !v.overwrite && !demo) {
    const found = existingRun(out);
    if (found) {
      throw new UsageError(
        `--out ${out} already holds a run (${found}); continue it with \`cudnn-resnet train --resume ${out}\` ` +
          '(add --epochs N to train longer) or pass --overwrite to replace it',
      );
    }
  }
  if (demo || v.overwrite) opts.overwrite = true; // the demo's folder in the cache is scratch space

  const trainer = new Trainer(opts);
  const tty = Boolean(process.stdout.isTTY) && !v.quiet;
  const write = tty ? (t: string) => void process.stdout.write(t) : (t: string) => io.out(t.replace(/\n$/, ''));
  let progress: InstanceType<typeof Progress> | null = null;
  trainer.on('start', (info: import('../train/trainer').StartInfo) => {
    progress = v.quiet ? null : new Progress({ write, tty, totalIterations: info.totalIterations, itersPerEpoch: info.itersPerEpoch });
    if (v.quiet) return;
    const lines = [
      `model ${info.model} (${(info.parameters / 1e6).toFixed(2)}M parameters) on ${info.device}`,
      fallback ? noGpuLine(fallback) : '',
      `precision: ${info.precision}`,
      `data: ${info.dataSource}: ${info.trainImages} training, ${info.testImages} test images; ${info.itersPerEpoch} iterations per epoch, ${info.totalIterations} in all`,
      `schedule: ${info.schedule}`,
      `optimizer: ${info.optimizer}`,
      info.startIteration > 0
        ? `resuming at iteration ${info.startIteration} (epoch ${+(info.startIteration / info.itersPerEpoch).toFixed(2)}) with lr ${+info.lr.toPrecision(6)}`
        : '',
      `output: ${path.resolve(out)}`,
    ].filter(Boolean);
    io.out(lines.join('\n'));
  });
  trainer.on('message', (m: string) => {
    const p = progress as InstanceType<typeof Progress> | null;
    if (p) p.message(m);
    else if (!v.quiet) io.out(m);
  });
  trainer.on('step', (s) => progress?.step(s));
  trainer.on('eval', (e) => progress?.eval(e));
  trainer.on('skip', (k: { reason: string; skipped: number }) => {
    const line = `skipped an unreadable image (${k.skipped} so far): ${k.reason}`;
    const p = progress as InstanceType<typeof Progress> | null;
    if (p) p.message(line);
    else io.err(line);
  });

  let interrupts = 0;
  const onSigint = () => {
    interrupts++;
    if (interrupts > 1) {
      io.err('cudnn-resnet train: interrupted again; exiting without saving');
      process.exit(130);
    }
    const p = progress as InstanceType<typeof Progress> | null;
    if (p) p.message('interrupt: finishing this step and saving a checkpoint (Ctrl-C again to quit without saving)');
    else io.err('interrupt: finishing this step and saving a checkpoint');
    trainer.stop();
  };
  process.on('SIGINT', onSigint);
  let result: Awaited<ReturnType<typeof trainer.fit>>;
  try {
    result = await trainer.fit();
  } catch (e) {
    if (e instanceof RangeError && /^(resume|freeze): /.test(e.message)) throw new UsageError(e.message);
    if (e instanceof RangeError && /^Trainer: argument 'classes' /.test(e.message))
      throw new UsageError(`--classes ${e.message.replace(/^Trainer: argument 'classes' /, '')}`);
    if (e instanceof RangeError && /^groups\[\d+\]\.params$/.test((e as Error & { argument?: string }).argument ?? ''))
      throw new UsageError(`--lr-scale: ${e.message.replace(/^(SGD|AdamW): argument 'groups\[\d+\]\.params' /, '')}`);
    if (v.weights !== undefined && e instanceof Error && e.message.includes(v.weights)) {
      io.err(`cudnn-resnet train: --weights: ${e.message}`);
      return 1;
    }
    throw e;
  } finally {
    process.off('SIGINT', onSigint);
    trainer.dispose();
  }
  (progress as InstanceType<typeof Progress> | null)?.clear();
  if (result.stopped) {
    io.err(`interrupted at iteration ${result.iterations}; checkpoint saved to ${result.checkpoint}\n` + `continue with: cudnn-resnet train --resume ${out}`);
    return 130;
  }
  const f = result.final;
  io.out(
    `done: ${result.iterations} iterations in ${formatDuration(result.seconds)}` +
      (f ? `; test error ${(100 * f.testError).toFixed(2)}%, train error ${(100 * f.trainError).toFixed(2)}%` : '') +
      (result.skippedImages ? `; ${result.skippedImages} unreadable images skipped` : '') +
      `\nmetrics: ${path.join(out, 'metrics.jsonl')} and metrics.csv; checkpoint: ${result.checkpoint}`,
  );
  return 0;
}
