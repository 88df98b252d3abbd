// `cudnn-resnet predict --checkpoint F image...`: the top-k classes of each image with their
// probabilities, as text or JSON, through model.predict (the evaluation transform of image
// folders, the run's normalisation statistics).
import * as fs from 'node:fs';

import { intArg, parseCommandArgs, UsageError, type CliIO } from './args';
import type { ResNet } from '../models/resnet';
import type { UsedNormalization } from '../infer/predict';

export const usage = `cudnn-resnet predict --checkpoint F [options] IMAGE...

Prints the most probable classes of each image (JPEG, PNG, WebP...: the shorter side resized,
then the centre crop, as validation images are) with their probabilities.
  --checkpoint F        a run folder, its checkpoint.json, a safetensors file or a .pth/.pt
                        state dict (then --model is needed)
  --model NAME          the model, when F does not record it (e.g. resnet50)
  --classes FILE        class names, one per line (default: the run's, else indices)
  --topk K              classes per image (default 5, or the number of classes if fewer)
  --image-size N        crop size (default: the run's, else 224 or 32 by model)
  --batch N             images per forward pass (default 32)
  --device D            auto (default) | cpu | cuda:N
  --json                one JSON document on stdout instead of text`;

export const CHECKPOINT_OPTIONS = {
  checkpoint: { type: 'string' },
  model: { type: 'string' },
  'image-size': { type: 'string' },
  batch: { type: 'string' },
  device: { type: 'string' },
} as const;

/** Loads --checkpoint (with --model) on --device; a missing model name is a usage error. */
export async function loadCheckpointArg(v: { checkpoint?: string; model?: string; device?: string }, io: CliIO): Promise<ResNet> {
  if (v.checkpoint === undefined) throw new UsageError('--checkpoint is required');
  if (v.model !== undefined) {
    const { checkModelName } = await import('./args');
    await checkModelName(v.model);
  }
  const spec = v.device ?? 'auto';
  if (!/^(auto|cpu|cuda:\d+)$/.test(spec)) throw new UsageError(`--device must be auto, cpu or cuda:N, got '${spec}'`);
  const { resolveDevice } = await import('../train/device');
  let resolved: ReturnType<typeof resolveDevice>;
  try {
    resolved = resolveDevice(spec);
  } catch (e) {
    throw new UsageError(`--device: ${(e as Error).message.split('\n')[0]}`);
  }
  const { device, fallbackReason } = resolved;
  if (fallbackReason) {
    const first = fallbackReason.split('\n')[0].trim().replace(/[.:]$/, '');
    io.err(`no usable GPU (${first.length > 120 ? `${first.slice(0, 117)}...` : first}): running on the CPU; \`cudnn-resnet doctor\` says why`);
  }
  const { load } = await import('../infer/load');
  try {
    return load(v.checkpoint, { model: v.model, device });
  } catch (e) {
    if ((e as { argument?: string }).argument === 'options.model')
      throw new UsageError(`--model is needed: ${v.checkpoint} does not record which model it holds`);
    throw e;
  }
}

/** Reads --classes: one name per line, blank lines at the end ignored. */
export function readClassNames(file: string): string[] {
  if (!fs.existsSync(file)) throw new UsageError(`--classes: no such file: ${file}`);
  const names = fs.readFileSync(file, 'utf8').replace(/\r\n/g, '\n').replace(/\n+$/, '').split('\n');
  if (names.length === 0 || names[0] === '') throw new UsageError(`--classes: ${file} holds no names`);
  return names;
}

/** "the run's training statistics (mean ...)" etc.: which normalisation was used, in words. */
export function describeNormalization(n: UsedNormalization): string {
  const what = {
    option: 'the given statistics',
    checkpoint: "the run's training statistics",
    imagenet: "ImageNet's statistics",
    cifar10: "CIFAR-10's usual statistics",
  }[n.source];
  const f = (a: number[]) => a.map((x) => x.toFixed(4)).join(', ');
  return `${what} (mean ${f(n.mean)}; std ${f(n.std)})`;
}

export async function run(argv: string[], io: CliIO): Promise<number> {
  const { values: v, positionals: images } = parseCommandArgs({
    args: argv,
    options: { ...CHECKPOINT_OPTIONS, classes: { type: 'string' }, topk: { type: 'string' }, json: { type: 'boolean' } },
    allowPositionals: true,
    strict: true,
  });
  if (images.length === 0) throw new UsageError('no images given');
  const topk = v.topk !== undefined ? intArg(v.topk, 'topk') : undefined;
  const batchSize = v.batch !== undefined ? intArg(v.batch, 'batch') : undefined;
  const imageSize = v['image-size'] !== undefined ? intArg(v['image-size'], 'image-size') : undefined;
  const classes = v.classes !== undefined ? readClassNames(v.classes) : undefined;
  const model = await loadCheckpointArg(v, io);
  try {
    if (topk !== undefined && topk > model.classes) throw new UsageError(`--topk ${topk} is more than the model's ${model.classes} classes`);
    if (classes && classes.length !== model.classes)
      throw new UsageError(`--classes: ${v.classes} lists ${classes.length} names, the model has ${model.classes} classes`);
    const r = await model.predict(images, { topk, batchSize, imageSize, classes });
    const norm = r.normalization as UsedNormalization;
    if (v.json) {
      const doc = {
        checkpoint: v.checkpoint,
        imageSize: r.imageSize,
        normalization: norm,
        predictions: images.map((image, i) => ({ image, top: r[i] })),
      };
      io.out(JSON.stringify(doc, null, 2));
      return 0;
    }
    io.err(`${r.imageSize} x ${r.imageSize} crops, normalised with ${describeNormalization(norm)}`);
    images.forEach((image, i) => {
      io.out(image);
      for (const c of r[i]) io.out(`  ${(100 * c.probability).toFixed(2).padStart(6)}%  ${c.name}${c.name === String(c.index) ? '' : ` (${c.index})`}`);
    });
    return 0;
  } finally {
    model.dispose();
  }
}
