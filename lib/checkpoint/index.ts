// Checkpoints: a model's state dict (torchvision's key names: conv1.weight, bn1.running_mean,
// bn1.num_batches_tracked as an I64 scalar, layer1.0.conv1.weight, ..., fc.bias) and, when
// given, the optimizer's state under 'optimizer.<state>.<param name>' (SGD's momentum_buffer,
// AdamW's exp_avg, exp_avg_sq, max_exp_avg_sq and step), in one safetensors file. A file holding only model keys loads into torchvision with
// safetensors.torch.load_file + load_state_dict.
import { Module, StateValue } from '../nn/module';
import { Optimizer } from '../optim/optimizer';
import { badArg, checkOptions, optionNames } from '../checks';
import { describe, Tensor } from '../tensor';

import { decodePth } from './pth';
import { decodeSafetensors, rawToTensor, readInput, saveSafetensors, SafetensorsFile } from './safetensors';
import { isZip } from './zip';

export * from './safetensors';
export { decodePth, readPth } from './pth';
export { UnpicklingError } from './pickle';

/**
 * Reads a weights file by its content: a torch.save zip archive (.pth/.pt) or safetensors.
 * No tensors are made.
 */
export function readWeightsFile(file: string): SafetensorsFile {
  if (typeof file !== 'string' || file === '') throw badArg('type', 'readWeightsFile: file', `must be a path, got ${describe(file)}`);
  const buf = readInput(file);
  if (isZip(buf) || /\.(pth|pt)$/i.test(file)) return decodePth(buf, file);
  return decodeSafetensors(buf, file);
}

const OPT_PREFIX = 'optimizer.';

export interface SaveCheckpointOptions {
  optimizer?: Optimizer;
  /** Extra string metadata (numbers and booleans are converted). */
  metadata?: Record<string, string | number | boolean>;
}

/** Saves model (and optimizer) state to a safetensors file, atomically. */
export function saveCheckpoint(file: string, model: Module, opts: SaveCheckpointOptions = {}): void {
  if (!(model instanceof Module)) throw badArg('type', 'saveCheckpoint: model', `must be a Module, got ${describe(model)}`);
  if (typeof file !== 'string' || file === '') throw badArg('type', 'saveCheckpoint: file', `must be a path, got ${describe(file)}`);
  checkOptions('saveCheckpoint', opts, optionNames<SaveCheckpointOptions>({ optimizer: true, metadata: true }));
  const entries: [string, Tensor | bigint][] = [...model.stateDict()];
  const metadata: Record<string, string> = { format: 'cudnn-resnet' };
  if (opts.optimizer) {
    for (const [k, t] of opts.optimizer.stateDict()) entries.push([OPT_PREFIX + k, t]);
    metadata['optimizer.type'] = opts.optimizer.name;
    metadata['optimizer.step'] = String(opts.optimizer.stepCount);
    metadata['optimizer.lr'] = String(opts.optimizer.lr);
  }
  for (const [k, v] of Object.entries(opts.metadata ?? {})) metadata[k] = String(v);
  saveSafetensors(file, entries, metadata);
}

export interface LoadCheckpointOptions {
  optimizer?: Optimizer;
  /** Fail on missing or unexpected model keys (default true); wrong shapes always fail. */
  strict?: boolean;
  /**
   * Model keys to leave as they are (not loaded, not missing), e.g. a classifier head being
   * replaced: a predicate, or a list of module names / prefixes ('fc' matches fc.weight).
   */
  exclude?: string[] | ((key: string) => boolean);
}

/** A key filter from module names or prefixes ('layer1' matches 'layer1' and 'layer1.*'). */
export function matchesModules(patterns: string[]): (key: string) => boolean {
  const ps = patterns.map((p) => p.trim().replace(/\.$/, '')).filter((p) => p !== '');
  return (key) => ps.some((p) => key === p || key.startsWith(`${p}.`));
}

/**
 * Loads a checkpoint (safetensors, or a PyTorch .pth/.pt state dict) into model (and
 * optimizer). Checks the file's names and shapes against the model before any tensor is
 * made, and fails listing every missing, unexpected and wrongly shaped tensor. Returns the
 * file's metadata.
 */
export function loadCheckpoint(file: string, model: Module, opts: LoadCheckpointOptions = {}): Record<string, string> {
  if (!(model instanceof Module)) throw badArg('type', 'loadCheckpoint: model', `must be a Module, got ${describe(model)}`);
  checkOptions('loadCheckpoint', opts, optionNames<LoadCheckpointOptions>({ optimizer: true, strict: true, exclude: true }));
  return applyCheckpoint(readWeightsFile(file), model, opts, file);
}

/** loadCheckpoint for a file already read (readWeightsFile); `file` names it in errors. */
export function applyCheckpoint(f: SafetensorsFile, model: Module, opts: LoadCheckpointOptions = {}, file = 'checkpoint'): Record<string, string> {
  if (!(model instanceof Module)) throw badArg('type', 'applyCheckpoint: model', `must be a Module, got ${describe(model)}`);
  const ex = opts.exclude;
  if (ex !== undefined && typeof ex !== 'function' && !(Array.isArray(ex) && ex.every((p) => typeof p === 'string')))
    throw badArg('type', 'loadCheckpoint: exclude', `must be a list of module names or a function, got ${describe(ex)}`);
  const excluded = ex === undefined ? () => false : typeof ex === 'function' ? ex : matchesModules(ex);
  const own = new Map([...model.stateDict()].filter(([k]) => !excluded(k)));
  const strict = opts.strict ?? true;
  const modelKeys = [...f.tensors.keys()].filter((k) => !k.startsWith(OPT_PREFIX) && !excluded(k));
  const missing = [...own.keys()].filter((k) => !f.tensors.has(k));
  const unexpected = modelKeys.filter((k) => !own.has(k));
  const wrong: string[] = [];
  for (const k of modelKeys) {
    const mine = own.get(k);
    if (mine === undefined) continue;
    const r = f.tensors.get(k)!;
    const want = mine instanceof Tensor ? mine.shape : [];
    if (r.shape.join() !== want.join()) wrong.push(`${k}: [${r.shape.join(', ')}] in the file, [${want.join(', ')}] in the model`);
    else if (!(mine instanceof Tensor) && r.dtype !== 'I64') wrong.push(`${k}: dtype ${r.dtype} in the file, I64 in the model`);
  }
  const problems: string[] = [];
  if (strict && missing.length) problems.push(`missing tensors: ${missing.join(', ')}`);
  if (strict && unexpected.length) problems.push(`unexpected tensors: ${unexpected.join(', ')}`);
  if (wrong.length) problems.push(`wrongly shaped tensors: ${wrong.join('; ')}`);
  if (problems.length) throw new RangeError(`loadCheckpoint(${file}): ${problems.join('\n  ')}`);

  const state = new Map<string, StateValue>();
  try {
    for (const k of modelKeys) if (own.has(k)) state.set(k, rawToTensor(k, f.tensors.get(k)!, 'cpu'));
    model.loadStateDict(state, { strict: strict && ex === undefined });
  } finally {
    for (const v of state.values()) if (v instanceof Tensor) v.dispose();
  }
  if (opts.optimizer) {
    const bufs = new Map<string, Tensor>();
    try {
      for (const [k, r] of f.tensors) {
        if (!k.startsWith(OPT_PREFIX)) continue;
        const t = rawToTensor(k, r, 'cpu');
        if (!(t instanceof Tensor)) throw new RangeError(`loadCheckpoint(${file}): ${k} must be a tensor, found an int64 scalar`);
        bufs.set(k.slice(OPT_PREFIX.length), t);
      }
      const step = f.metadata['optimizer.step'];
      opts.optimizer.loadStateDict(bufs, step !== undefined ? Number(step) : undefined);
    } finally {
      for (const t of bufs.values()) t.dispose();
    }
  }
  return f.metadata;
}
