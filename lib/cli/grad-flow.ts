// `cudnn-resnet grad-flow`: per-layer gradient norms of several models on the same batches,
// as a table, JSON and an SVG plot.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { checkDataArg, checkModelName, floatArg, intArg, parseCommandArgs, UsageError, type CliIO } from './args';
import { IMAGE_OPTIONS, imageArgs, isImageFolderArg } from './image-args';

export const usage = `cudnn-resnet grad-flow [options]

Measures, at initialisation and/or after a few SGD steps, the L2 norm of every layer's
weight gradient and of the gradient reaching every block's input, for each model on the
same batches (same seed). Prints a table; writes grad-flow.json and grad-flow.svg.
  --models A,B,...   models to compare (default plain56,resnet56)
  --steps N[,M...]   measure after these numbers of SGD steps (default 0,10; 0 = at initialisation)
  --batch N          batch size (default 32)
  --lr X             learning rate of the steps (default 0.02; momentum 0.9, weight decay 1e-4)
  --seed N           (default 0)
  --seeds LIST       run every seed of LIST (0-4, or 0,2,7) and print the spread over them
                     (median, min .. max; markdown); each seed's files go to --out/seed-N.
                     Fix the thread count (CUDNN_RESNET_CPU_THREADS) for figures that rerun
  --data PATH        CIFAR-10 folder or .tar.gz, or an image folder (its train/ class folders,
                     with --image-size N, --augment torchvision|paper|none, --workers N as for train)
                     (default: 1024 synthetic images)
  --train-images N   use only the first N training images of --data
  --device D         cpu (default) | cuda:N | auto
  --out DIR          where to write grad-flow.json and grad-flow.svg (default .)`;

const OPTIONS = {
  models: { type: 'string' },
  steps: { type: 'string' },
  batch: { type: 'string' },
  lr: { type: 'string' },
  seed: { type: 'string' },
  seeds: { type: 'string' },
  data: { type: 'string' },
  'train-images': { type: 'string' },
  device: { type: 'string' },
  out: { type: 'string' },
  'image-size': IMAGE_OPTIONS['image-size'],
  augment: IMAGE_OPTIONS.augment,
  workers: IMAGE_OPTIONS.workers,
} as const;

export async function run(argv: string[], io: CliIO): Promise<number> {
  const { values: v } = parseCommandArgs({ args: argv, options: OPTIONS, allowPositionals: false, strict: true });
  const models = (v.models ?? 'plain56,resnet56')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (models.length === 0) throw new UsageError('--models needs at least one model name');
  for (const m of models) await checkModelName(m, 'models');
  const steps = (v.steps ?? '0,10').split(',').map((s) => intArg(s, 'steps', 0));
  const batchSize = v.batch !== undefined ? intArg(v.batch, 'batch') : 32;
  const lr = v.lr !== undefined ? floatArg(v.lr, 'lr') : undefined;
  if (v.seed !== undefined && v.seeds !== undefined) throw new UsageError('give --seed or --seeds, not both');
  const { parseSeeds, gradFlowSpreadTable } = await import('../diagnostics/spread');
  let seeds: number[];
  try {
    seeds = v.seeds !== undefined ? parseSeeds(v.seeds) : [v.seed !== undefined ? intArg(v.seed, 'seed', 0) : 0];
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`--seeds ${(e as Error).message.replace(/^parseSeeds: argument 'spec' /, '')}`);
  }
  const trainImages = v['train-images'] !== undefined ? intArg(v['train-images'], 'train-images') : undefined;
  const images = v.data !== undefined && (await isImageFolderArg(v.data));
  const imageOpts = imageArgs(v, images);
  if (v.data !== undefined && !images) await checkDataArg('cifar10', v.data);
  const deviceSpec = v.device ?? 'cpu';
  if (!/^(auto|cpu|cuda:\d+)$/.test(deviceSpec)) throw new UsageError(`--device must be auto, cpu or cuda:N, got '${deviceSpec}'`);
  const out = v.out ?? '.';

  const { resolveDevice } = await import('../train/device');
  const { gradFlow, gradFlowSvg, gradFlowTable } = await import('../diagnostics/grad-flow');
  const { loadCifar } = await import('../data/cifar');
  const { limitDataset } = await import('../train/data');
  let device: string;
  try {
    device = resolveDevice(deviceSpec).device;
  } catch (e) {
    io.err(`cudnn-resnet grad-flow: ${(e as Error).message}`);
    return 1;
  }
  type Data = import('../diagnostics/grad-flow').GradFlowOptions['data'];
  const cifar = !images && v.data !== undefined ? limitDataset(await loadCifar('cifar10', v.data, { split: 'train' }), trainImages) : undefined;
  const dataFor = async (seed: number): Promise<Data> => {
    if (!images) return cifar;
    const { imageFolder, DataLoader, trainTransform } = await import('../data');
    const { imageRoots, limitSamples, defaultImageSize } = await import('../train/loaders');
    const { IMAGENET_NORMALIZATION } = await import('../data/transforms');
    const root = (imageRoots(v.data as string) as { train: string }).train;
    const size = imageOpts.imageSize ?? defaultImageSize(models[0]);
    const ds = limitSamples(imageFolder(root, { transform: trainTransform(imageOpts.augment ?? 'torchvision', size) }), trainImages);
    return new DataLoader(ds, { batchSize, seed, device, workers: imageOpts.workers, normalization: IMAGENET_NORMALIZATION, dropLast: ds.length >= batchSize });
  };
  const { native } = await import('../native');
  const threads = device === 'cpu' ? native().buildInfo().cpuThreads : null;
  io.out(
    `grad-flow: ${models.join(', ')} on ${device}${threads === null ? '' : ` (${threads} CPU thread${threads > 1 ? 's' : ''})`}, batch ${batchSize}, ` +
      `measured after ${steps.join(', ')} SGD steps, seed${seeds.length > 1 ? 's' : ''} ${seeds.join(', ')}`,
  );
  const results: Awaited<ReturnType<typeof gradFlow>>[] = [];
  for (const seed of seeds) {
    const t0 = Date.now();
    const data = await dataFor(seed);
    const tag = seeds.length > 1 ? `seed ${seed}: ` : '';
    let result: Awaited<ReturnType<typeof gradFlow>>;
    try {
      result = await gradFlow({
        models,
        steps,
        batchSize,
        lr,
        seed,
        device,
        data,
        onMeasurement: (m) => io.out(`  ${tag}measured ${m.model} at step ${m.step} (loss ${m.loss.toFixed(4)}, ${((Date.now() - t0) / 1000).toFixed(1)} s)`),
      });
    } finally {
      if (data && 'dispose' in data) data.dispose();
    }
    results.push(result);
    const dir = v.seeds !== undefined ? path.join(out, `seed-${seed}`) : out;
    if (v.seeds === undefined) io.out(`\n${gradFlowTable(result)}\n`);
    fs.mkdirSync(dir, { recursive: true });
    const json = path.join(dir, 'grad-flow.json');
    const svg = path.join(dir, 'grad-flow.svg');
    fs.writeFileSync(json, JSON.stringify(result, null, 2) + '\n');
    fs.writeFileSync(svg, gradFlowSvg(result));
    io.out(`wrote ${json} and ${svg}`);
  }
  if (v.seeds !== undefined) {
    const table = gradFlowSpreadTable(results, threads);
    const md = path.join(out, 'grad-flow-seeds.md');
    fs.writeFileSync(md, table);
    io.out(`\n${table}\nwrote ${md}`);
  }
  return 0;
}
