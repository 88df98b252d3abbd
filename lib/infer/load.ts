// infer.load(checkpoint): a model ready for predict(), from what training left behind: a run
// folder, its checkpoint.json, a safetensors file (a run's, with its metadata, or any with
// torchvision's names) or a PyTorch .pth/.pt state dict. The model name comes from the run
// (or the `model` option), the number of classes from the file's head, and model.meta gets
// the class names, input statistics and crop size the run recorded.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { applyCheckpoint, readWeightsFile } from '../checkpoint';
import { InferenceInfo, readInferenceMetadata, Sidecar, SIDECAR_FILE } from '../checkpoint/run';
import { checkOptions, optionNames } from '../checks';
import { argError, InputFileError } from '../errors';
import { create, ResNet } from '../models/resnet';
import { headClasses } from '../models/pretrained';
import { Device, describe } from '../tensor';

const OP = 'infer.load';

export interface LoadOptions {
  /** The model name (needed when the file does not record it: a .pth or a plain safetensors file). */
  model?: string;
  device?: Device;
}

const LOAD_OPTIONS = optionNames<LoadOptions>({ model: true, device: true });

/** What a checkpoint path resolves to: the weights file, and the run's sidecar when there is one. */
export function resolveCheckpoint(checkpoint: string): { weights: string; sidecar: Sidecar | null; sidecarFile: string | null } {
  let st: fs.Stats;
  try {
    st = fs.statSync(checkpoint);
  } catch (e) {
    throw new InputFileError('ERR_FILE_NOT_FOUND', checkpoint, undefined, 'no such file or folder', { cause: e });
  }
  const readSidecar = (file: string): Sidecar => {
    let s: Sidecar;
    try {
      s = JSON.parse(fs.readFileSync(file, 'utf8')) as Sidecar;
    } catch (e) {
      throw new InputFileError('ERR_INVALID_CHECKPOINT', file, undefined, `cannot read the run's checkpoint sidecar: ${(e as Error).message}`, { cause: e });
    }
    if (s?.format !== 'cudnn-resnet-training-checkpoint' || typeof s.weights !== 'string')
      throw new InputFileError('ERR_INVALID_CHECKPOINT', file, undefined, 'is not a cudnn-resnet training checkpoint');
    return s;
  };
  if (st.isDirectory()) {
    const file = path.join(checkpoint, SIDECAR_FILE);
    if (!fs.existsSync(file))
      throw new InputFileError('ERR_FILE_NOT_FOUND', checkpoint, undefined, `holds no ${SIDECAR_FILE}: not a run folder (give the weights file itself)`);
    const s = readSidecar(file);
    return { weights: path.join(checkpoint, s.weights), sidecar: s, sidecarFile: file };
  }
  if (/\.json$/i.test(checkpoint)) {
    const s = readSidecar(checkpoint);
    return { weights: path.join(path.dirname(checkpoint), s.weights), sidecar: s, sidecarFile: checkpoint };
  }
  // A run's weights file: its sidecar beside it says the model and the data.
  const beside = path.join(path.dirname(checkpoint), SIDECAR_FILE);
  if (/\.safetensors$/i.test(checkpoint) && fs.existsSync(beside)) {
    try {
      const s = readSidecar(beside);
      if (s.weights === path.basename(checkpoint)) return { weights: checkpoint, sidecar: s, sidecarFile: beside };
    } catch {
      /* an unrelated or broken sidecar: the weights file alone */
    }
  }
  return { weights: checkpoint, sidecar: null, sidecarFile: null };
}

/**
 * A model with the checkpoint's weights (every tensor; the head's size from the file) and
 * model.meta from the run: class names, normalisation statistics and crop size.
 */
export function load(checkpoint: string, options: LoadOptions = {}): ResNet {
  if (typeof checkpoint !== 'string' || checkpoint === '') throw argError('type', OP, 'checkpoint', `must be a path, got ${describe(checkpoint)}`);
  checkOptions(OP, options, LOAD_OPTIONS);
  const found = resolveCheckpoint(checkpoint);
  const file = readWeightsFile(found.weights);
  const name = options.model ?? found.sidecar?.spec?.model ?? file.metadata['train.model'];
  if (name === undefined)
    throw argError('range', OP, 'options.model', `is needed: ${found.weights} does not say which model it holds (pass model, e.g. 'resnet50')`);
  const classes = headClasses(file);
  const model = create(name, { classes, init: false, seed: 0, device: options.device });
  try {
    applyCheckpoint(file, model, {}, found.weights);
  } catch (e) {
    model.dispose();
    throw e;
  }
  const recorded: Partial<InferenceInfo> = { ...found.sidecar?.inference, ...readInferenceMetadata(file.metadata) };
  const images = found.sidecar?.spec?.images;
  model.meta = {
    ...(recorded.classNames ? { classNames: recorded.classNames } : {}),
    ...(recorded.normalization ? { normalization: recorded.normalization } : {}),
    ...((recorded.imageSize ?? images?.imageSize) ? { imageSize: recorded.imageSize ?? images?.imageSize } : {}),
  };
  return model;
}
