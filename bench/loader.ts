// CIFAR data pipeline throughput: writing and reading the synthetic dataset (folder and
// .tar.gz), then the loader alone (shuffle, crop/flip parameters, two small uploads and one
// augmentBatch + gatherLabels per batch), for training and evaluation batches; optionally
// (--train-steps N > 0) a short CIFAR ResNet training loop fed by the loader, to show the
// loader's share of a step. Every figure is images per second (median of --runs epochs).
//
//   node dist/bench/loader.js [--images 50000] [--batch 128] [--device cpu] [--runs 3]
//                             [--dtype float32] [--layout NCHW] [--train-steps 0] [--depth 20]
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { CifarLoader, evalLoader, loadCifar10, writeSyntheticCifar } from '../lib/data';
import { DTypeName, LayoutName, native } from '../lib/native';

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

function intOption(name: string, fallback: number, min = 1): number {
  const v = Number(option(name, String(fallback)));
  if (!Number.isInteger(v) || v < min) throw new RangeError(`--${name} must be an integer >= ${min}, got ${option(name, '')}`);
  return v;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function seconds(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e9;
}

function fmt(x: number): string {
  return Math.round(x).toLocaleString('en-US');
}

/** Images per second of whole epochs through `loader`, synchronising so GPU work is counted. */
function epochRate(loader: CifarLoader, runs: number): number {
  const rates: number[] = [];
  for (const b of loader.epoch(1000)) b.dispose(); // warm-up epoch
  for (let r = 0; r < runs; r++) {
    const t = process.hrtime.bigint();
    let n = 0;
    for (const b of loader.epoch(r)) {
      n += b.size;
      b.dispose();
    }
    native().synchronize(loader.device);
    rates.push(n / seconds(t));
  }
  return median(rates);
}

async function trainingLoop(loader: CifarLoader, steps: number, depth: number): Promise<void> {
  // The training stack is optional here: the bench runs on the loader alone without it.
  let stack: {
    models: typeof import('../lib/models');
    optim: typeof import('../lib/optim');
    F: typeof import('../lib/autograd');
    tensor: typeof import('../lib/tensor');
  };
  try {
    stack = {
      models: await import('../lib/models'),
      optim: await import('../lib/optim'),
      F: await import('../lib/autograd'),
      tensor: await import('../lib/tensor'),
    };
  } catch (e) {
    console.log(`training loop: skipped, the training stack is not available (${(e as Error).message.split('\n')[0]})`);
    return;
  }
  const { models, optim, F, tensor } = stack;
  const model = models.cifarResNet(depth, { seed: 1, device: loader.device });
  const opt = new optim.SGD(model, { lr: 0.1, momentum: 0.9, weightDecay: 1e-4 });
  model.train();
  let loaderTime = 0,
    stepTime = 0,
    images = 0,
    step = 0;
  try {
    for (let epoch = 0; step < steps; epoch++) {
      const it = loader.epoch(epoch);
      for (;;) {
        let t = process.hrtime.bigint();
        const r = it.next();
        loaderTime += seconds(t);
        if (r.done) break;
        const b = r.value;
        t = process.hrtime.bigint();
        tensor.tidy(() => {
          const { loss } = F.softmaxCrossEntropy(model.forward(b.x), b.y);
          opt.zeroGrad();
          loss.backward();
          opt.step();
          if (step === steps - 1) loss.item(); // one sync at the end so the time is complete
        });
        b.dispose();
        stepTime += seconds(t);
        images += b.size;
        if (++step === steps) {
          it.return?.();
          break;
        }
      }
    }
  } finally {
    model.dispose();
    opt.dispose();
  }
  const total = loaderTime + stepTime;
  console.log(
    `training loop (resnet${depth}, ${steps} steps of ${loader.batchSize}): ${fmt(images / total)} img/s; ` +
      `loader ${((100 * loaderTime) / total).toFixed(2)}% of the time (${((1000 * loaderTime) / steps).toFixed(3)} ms/step)`,
  );
}

async function main(): Promise<void> {
  const images = intOption('images', 50000, 5);
  const batch = intOption('batch', 128);
  const runs = intOption('runs', 3);
  const trainSteps = intOption('train-steps', 0, 0);
  const depth = intOption('depth', 20, 8);
  const device = option('device', 'cpu');
  const dtype = option('dtype', 'float32') as Extract<DTypeName, 'float32' | 'float16' | 'bfloat16'>;
  const layout = option('layout', 'NCHW') as LayoutName;
  const info = native().buildInfo();
  console.log(
    `loader bench: ${images} synthetic CIFAR-10 images, batch ${batch}, ${dtype} ${layout} on ${device} ` +
      `(${os.cpus()[0]?.model ?? 'cpu'}, ${info.cpuThreads} threads, addon ${info.version}${info.cuda ? ' with CUDA' : ''})`,
  );

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cr-loader-bench-'));
  try {
    let t = process.hrtime.bigint();
    const w = await writeSyntheticCifar(tmp, { container: 'both', train: images, test: Math.min(10000, images), seed: 1 });
    console.log(`write synthetic (folder + tar.gz): ${fmt((images + Math.min(10000, images)) / seconds(t))} img/s`);
    t = process.hrtime.bigint();
    const train = await loadCifar10(w.folder!, 'train');
    console.log(`read folder:  ${fmt(train.count / seconds(t))} img/s`);
    t = process.hrtime.bigint();
    const fromArchive = await loadCifar10(w.archive!, 'train');
    console.log(`read tar.gz:  ${fmt(fromArchive.count / seconds(t))} img/s (streamed gunzip + tar)`);

    const opts = { batchSize: batch, device, dtype, layout };
    const trainLoader = new CifarLoader(train, { ...opts, seed: 1 });
    const evaluation = evalLoader(train, { ...opts, normalization: trainLoader.normalization });
    try {
      console.log(`loader, training batches (shuffle + pad/crop/flip + normalise): ${fmt(epochRate(trainLoader, runs))} img/s`);
      console.log(`loader, evaluation batches (normalise only):                   ${fmt(epochRate(evaluation, runs))} img/s`);
      if (trainSteps > 0) await trainingLoop(trainLoader, trainSteps, depth);
    } finally {
      trainLoader.dispose();
      evaluation.dispose();
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
