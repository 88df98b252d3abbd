// Building a model from a weights file (safetensors or a PyTorch .pth/.pt state dict with
// torchvision's key names): models.create(name, { weights }). Without `classes` the model
// takes the file's head size; with a different `classes` every tensor but fc is loaded and
// fc is freshly initialised (fine-tuning on a new label set), which onMessage reports.
import { applyCheckpoint, readWeightsFile, SafetensorsFile } from '../checkpoint';
import { Linear } from '../nn/layers';
import { uniform_ } from '../ops/fill';
import { Module } from '../nn/module';
import { badArg } from '../checks';
import { deriveSeed, describe } from '../tensor';

export type MessageHandler = (message: string) => void;

/** Default for onMessage: one line on stderr. */
export const stderrMessage: MessageHandler = (m) => void process.stderr.write(`${m}\n`);

/** Reads options.weights; a bad path is a TypeError naming the option. */
export function readWeightsOption(weights: unknown): SafetensorsFile {
  if (typeof weights !== 'string' || weights === '') throw badArg('type', 'models.create: weights', `must be a file path, got ${describe(weights)}`);
  return readWeightsFile(weights);
}

/** The number of classes of the file's classifier (fc.weight's rows), if it has one. */
export function headClasses(f: SafetensorsFile): number | undefined {
  const w = f.tensors.get('fc.weight');
  return w && w.shape.length === 2 ? w.shape[0] : undefined;
}

/**
 * Loads f into model (strictly: every tensor of the model must be in the file). When the
 * file's fc does not fit model.fc, fc is left out and re-initialised from seed.
 */
export function loadPretrained(model: Module & { fc: Linear }, f: SafetensorsFile, file: string, seed: number, onMessage: MessageHandler): void {
  const w = f.tensors.get('fc.weight');
  const mine = model.fc.weight.shape;
  const replaceHead = w !== undefined && w.shape.join() !== mine.join();
  if (!replaceHead) {
    applyCheckpoint(f, model, {}, file);
    return;
  }
  applyCheckpoint(f, model, { exclude: ['fc'] }, file);
  // torchvision's Linear initialisation, as the constructor would have done it.
  const bound = 1 / Math.sqrt(model.fc.inFeatures);
  uniform_(model.fc.weight, -bound, bound, deriveSeed(seed, 1));
  if (model.fc.bias) uniform_(model.fc.bias, -bound, bound, deriveSeed(seed, 2));
  onMessage(`${file}: loaded every tensor but fc; the file's head has ${w.shape[0]} classes and this model ${mine[0]}, so fc is newly initialised`);
}
