// `cudnn-resnet eval --checkpoint F --data DIR`: top-1 / top-k error and per-class accuracy
// of a trained model on a labelled set (an image folder's validation classes, or a CIFAR
// test split), and with --out the confusion matrix as CSV and SVG plus metrics.json.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { intArg, parseCommandArgs, UsageError, type CliIO } from './args';
import { CHECKPOINT_OPTIONS, describeNormalization, loadCheckpointArg } from './predict';
import type { BatchLoader } from '../data/dataset';
import type { ResNet } from '../models/resnet';

export const usage = `cudnn-resnet eval --checkpoint F --data DIR [options]

Evaluates a trained model on labelled images and prints the top-1 and top-5 error and the
accuracy of each class.
  --checkpoint F        a run folder, its checkpoint.json, a safetensors file or a .pth/.pt
                        state dict (then --model is needed)
  --model NAME          the model, when F does not record it
  --data DIR            an image folder (DIR/val/<class>/... or DIR/<class>/...; classes sorted
                        by name, as torchvision's ImageFolder) or CIFAR-10/100 binaries (test split)
  --out DIR             write confusion.csv, confusion.svg and metrics.json there
  --image-size N        crop size for image folders (default: the run's, else 224 or 32 by model)
  --test-images N       evaluate the first N images only (spread over the classes for folders)
  --batch N             images per forward pass (default 100)
  --device D            auto (default) | cpu | cuda:N`;

const VAL_NAMES = ['val', 'validation', 'test'];

/** The class folder root --data names: DIR/val (or validation, test) when present, else DIR. */
async function imageRoot(data: string): Promise<string | null> {
  const { imageRoots } = await import('../train/loaders');
  for (const n of VAL_NAMES) {
    const sub = path.join(data, n);
    if (imageRoots(sub) !== null && !fs.existsSync(path.join(sub, 'train'))) return sub;
  }
  const r = imageRoots(data);
  return r && !r.val && r.train === data ? data : null;
}

interface EvalSet {
  loader: BatchLoader;
  names: string[];
  source: string;
  images: number;
}

async function evalSet(model: ResNet, data: string, o: { batch: number; imageSize?: number; limit?: number }): Promise<EvalSet> {
  const { inputImageSize, inputNormalization } = await import('../infer/predict');
  const { DataLoader } = await import('../data/data-loader');
  const normalization = inputNormalization(model);
  const device = model.parameters()[0].device;
  const root = await imageRoot(data);
  if (root) {
    const { imageFolder } = await import('../data/image-folder');
    const { evalTransform } = await import('../data/transforms');
    const { limitSamples } = await import('../train/loaders');
    const size = inputImageSize(model, { imageSize: o.imageSize });
    const folder = imageFolder(root, { transform: evalTransform(size) });
    const known = model.meta.classNames;
    if (known && known.join('\n') !== folder.classNames.join('\n'))
      throw new UsageError(
        `--data: the classes of ${root} (${folder.classNames.slice(0, 5).join(', ')}${folder.classes > 5 ? ', ...' : ''}) are not the model's ` +
          `(${known.slice(0, 5).join(', ')}${known.length > 5 ? ', ...' : ''}); labels would not match`,
      );
    if (folder.classes !== model.classes) throw new UsageError(`--data: ${root} has ${folder.classes} classes, the model ${model.classes}`);
    const ds = limitSamples(folder, o.limit);
    const loader = new DataLoader(ds, { batchSize: o.batch, shuffle: false, device, normalization });
    return { loader, names: [...folder.classNames], source: `${root} (${size} x ${size} centre crops)`, images: ds.length };
  }
  if (o.imageSize !== undefined) throw new UsageError(`--image-size applies to image folders; --data ${data} is not one`);
  const { loadCifar } = await import('../data/cifar');
  const { cifarSamples } = await import('../data/cifar-batches');
  const { limitDataset } = await import('../train/data');
  const kind = model.classes === 100 ? 'cifar100' : 'cifar10';
  if (model.classes !== 10 && model.classes !== 100)
    throw new UsageError(`--data: ${data} is no image folder, and the model's ${model.classes} classes fit no CIFAR set`);
  const test = limitDataset(await loadCifar(kind, data, { split: 'test' }), o.limit);
  const loader = new DataLoader(cifarSamples(test, normalization), { batchSize: o.batch, shuffle: false, device, normalization });
  const names = model.meta.classNames ? [...model.meta.classNames] : test.classNames.length === test.classes ? [...test.classNames] : [];
  return { loader, names, source: `${kind} test split of ${data}`, images: test.count };
}

export async function run(argv: string[], io: CliIO): Promise<number> {
  const { values: v, positionals } = parseCommandArgs({
    args: argv,
    options: { ...CHECKPOINT_OPTIONS, data: { type: 'string' }, out: { type: 'string' }, 'test-images': { type: 'string' } },
    allowPositionals: true,
    strict: true,
  });
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
  if (v.data === undefined) throw new UsageError('--data is required');
  if (!fs.existsSync(v.data)) throw new UsageError(`--data: no such file or folder: ${v.data}`);
  if (v.out !== undefined && fs.existsSync(v.out) && !fs.statSync(v.out).isDirectory()) throw new UsageError(`--out: ${v.out} is not a folder`);
  const batch = v.batch !== undefined ? intArg(v.batch, 'batch') : 100;
  const imageSize = v['image-size'] !== undefined ? intArg(v['image-size'], 'image-size') : undefined;
  const limit = v['test-images'] !== undefined ? intArg(v['test-images'], 'test-images') : undefined;
  const model = await loadCheckpointArg(v, io);
  let set: EvalSet | null = null;
  try {
    set = await evalSet(model, v.data, { batch, imageSize, limit });
    const { evaluate, confusionCsv, confusionSvg, inputNormalization } = await import('../infer');
    const m = await evaluate(model, set.loader, model.classes);
    const names = set.names.length === model.classes ? set.names : Array.from({ length: model.classes }, (_, i) => String(i));
    const pct = (x: number) => `${(100 * x).toFixed(2)}%`;
    io.out(`${set.images} images: ${set.source}`);
    io.out(`normalised with ${describeNormalization(inputNormalization(model))}`);
    io.out(`top-1 error ${pct(m.top1Error)} (${m.images - m.top1Correct} of ${m.images} wrong)`);
    io.out(`top-${m.k} error ${pct(m.topkError)} (${m.images - m.topkCorrect} of ${m.images} wrong)`);
    io.out('per-class accuracy:');
    const width = Math.max(...names.map((n) => n.length));
    m.perClass().forEach((c, t) => {
      io.out(`  ${names[t].padEnd(width)}  ${c.images ? pct(c.accuracy).padStart(7) : '      -'}  (${m.confusion[t][t]}/${c.images})`);
    });
    if (v.out !== undefined) {
      fs.mkdirSync(v.out, { recursive: true });
      const files = ['confusion.csv', 'confusion.svg', 'metrics.json'].map((f) => path.join(v.out as string, f));
      fs.writeFileSync(files[0], confusionCsv(m.confusion, names));
      fs.writeFileSync(files[1], confusionSvg(m.confusion, names, `Confusion matrix: ${path.basename(path.resolve(v.checkpoint as string))}`));
      const perClass = m.perClass().map((c, t) => ({ name: names[t], images: c.images, accuracy: c.images ? c.accuracy : null }));
      const doc = {
        checkpoint: v.checkpoint,
        data: v.data,
        images: m.images,
        top1Error: m.top1Error,
        k: m.k,
        topkError: m.topkError,
        perClass,
        confusion: m.confusion,
      };
      fs.writeFileSync(files[2], JSON.stringify(doc, null, 2) + '\n');
      io.out(`wrote ${files.join(', ')}`);
    }
    return 0;
  } finally {
    set?.loader.dispose();
    model.dispose();
  }
}
