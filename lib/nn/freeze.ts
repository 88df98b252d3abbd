// Freezing parts of a model for fine-tuning: parameters under the named modules stop
// requiring gradients, so autograd computes none for them and the optimizers (which update
// only parameters with a gradient) leave them as they are. Batch norm inside the frozen
// part can also be held in eval mode (running statistics used and not updated), which
// model.train() then respects.
import { badArg, checkOptions, optionNames } from '../checks';
import { describe } from '../tensor';
import { BatchNorm2d } from './layers';
import { Module } from './module';

export interface FreezeOptions {
  /**
   * Hold the frozen part's BatchNorm2d layers in eval mode (default false). Eval-mode batch
   * norm has no backward, so every parameter before such a layer must be frozen too (a
   * frozen prefix of the network, e.g. conv1, bn1, layer1, layer2).
   */
  bnEval?: boolean;
}

function patternsOf(modules: string | string[], fn: string): string[] {
  const list = typeof modules === 'string' ? modules.split(',') : modules;
  if (!Array.isArray(list) || !list.every((p) => typeof p === 'string'))
    throw badArg('type', `${fn}: modules`, `must be a name or a list of names, got ${describe(modules)}`);
  const ps = list.map((p) => p.trim().replace(/\.$/, '')).filter((p) => p !== '');
  if (ps.length === 0) throw badArg('range', `${fn}: modules`, 'has no module names given');
  return ps;
}

const under = (name: string, p: string) => name === p || name.startsWith(`${p}.`);

/** The parameter names under each pattern; a pattern matching nothing is a RangeError listing the top-level modules. */
function resolve(model: Module, patterns: string[], fn: string): string[] {
  const names = model.namedParameters().map(([n]) => n);
  const unknown = patterns.filter((p) => !names.some((n) => under(n, p)));
  if (unknown.length) {
    const top = [...model.children()].map(([n]) => n);
    throw badArg(
      'range',
      `${fn}: modules`,
      `names no module with parameters: ${unknown.map((p) => `'${p}'`).join(', ')}; top-level modules: ${top.join(', ')} (name a module, e.g. layer1 or layer2.0.conv1, or a parameter)`,
    );
  }
  return names.filter((n) => patterns.some((p) => under(n, p)));
}

/**
 * Freezes the parameters under each named module or prefix ('layer1', 'layer2.0', 'conv1',
 * 'fc.bias'; a comma-separated string works too). Their gradients are dropped. Returns the
 * frozen parameter names.
 */
export function freeze(model: Module, modules: string | string[], opts: FreezeOptions = {}): string[] {
  if (!(model instanceof Module)) throw badArg('type', 'freeze: model', `must be a Module, got ${describe(model)}`);
  const bnEval = checkOptions('freeze', opts, optionNames<FreezeOptions>({ bnEval: true })).bnEval ?? false;
  if (typeof bnEval !== 'boolean') throw badArg('type', 'freeze: bnEval', `must be a boolean, got ${describe(bnEval)}`);
  const patterns = patternsOf(modules, 'freeze');
  const frozen = new Set(resolve(model, patterns, 'freeze'));
  const params = model.namedParameters();
  const bns = model.namedModules().filter(([n, m]) => m instanceof BatchNorm2d && patterns.some((p) => under(n, p)));
  if (bnEval && bns.length) {
    // The last parameter of the last held BN: everything registered up to it must be frozen.
    const lastBn = bns[bns.length - 1][0];
    const end = params.findIndex(([n]) => n === `${lastBn}.bias`);
    const trainable = params
      .slice(0, end + 1)
      .filter(([n, t]) => t.requiresGrad && !frozen.has(n))
      .map(([n]) => n);
    if (trainable.length)
      throw badArg(
        'range',
        'freeze: bnEval',
        `holds ${lastBn} in eval mode, which has no backward, but ${trainable.slice(0, 4).join(', ')}${trainable.length > 4 ? ', ...' : ''} before it would still train; freeze those too or leave bnEval off`,
      );
  }
  for (const [n, t] of params) {
    if (!frozen.has(n)) continue;
    t.requiresGrad = false;
    if (t.grad) t.grad.dispose();
    t.grad = null;
  }
  if (bnEval)
    for (const [, m] of bns) {
      m.evalOnly = true;
      m.training = false;
    }
  return [...frozen];
}

/** Makes the parameters under the named modules (default: all) trainable again and releases held BN layers. */
export function unfreeze(model: Module, modules?: string | string[]): string[] {
  if (!(model instanceof Module)) throw badArg('type', 'unfreeze: model', `must be a Module, got ${describe(model)}`);
  const patterns = modules === undefined ? null : patternsOf(modules, 'unfreeze');
  const names = patterns ? resolve(model, patterns, 'unfreeze') : model.namedParameters().map(([n]) => n);
  const set = new Set(names);
  for (const [n, t] of model.namedParameters()) if (set.has(n)) t.requiresGrad = true;
  for (const [n, m] of model.namedModules()) if (!patterns || patterns.some((p) => under(n, p))) m.evalOnly = false;
  return names;
}

/** Names of the parameters that do not require gradients. */
export function frozenParameters(model: Module): string[] {
  return model
    .namedParameters()
    .filter(([, t]) => !t.requiresGrad)
    .map(([n]) => n);
}
