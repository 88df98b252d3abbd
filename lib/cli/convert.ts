// `cudnn-resnet convert in.pth out.safetensors`: a PyTorch checkpoint (or a safetensors
// file) rewritten as safetensors with the same names, dtypes and values. Pure file work:
// the addon is not loaded.
import * as fs from 'node:fs';

import { parseCommandArgs, UsageError, type CliIO } from './args';

export const usage = `cudnn-resnet convert INPUT OUTPUT.safetensors

Writes the state dict of INPUT (a .pth/.pt file saved by torch.save, bare or under
'state_dict' or 'model', 'module.' prefixes stripped; or a safetensors file) to OUTPUT as
safetensors with the same tensor names, dtypes and values. The pickle inside a .pth file
is read by a restricted reader that refuses anything but tensors and plain data.
  --force               overwrite OUTPUT if it exists`;

export async function run(argv: string[], io: CliIO): Promise<number> {
  const { values: v, positionals } = parseCommandArgs({ args: argv, options: { force: { type: 'boolean' } }, allowPositionals: true, strict: true });
  if (positionals.length !== 2) throw new UsageError(`expected INPUT and OUTPUT, got ${positionals.length} argument${positionals.length === 1 ? '' : 's'}`);
  const [input, output] = positionals;
  if (!fs.existsSync(input)) throw new UsageError(`no such file: ${input}`);
  if (fs.existsSync(output) && !v.force) throw new UsageError(`${output} exists (--force overwrites it)`);
  const { readWeightsFile, encodeSafetensors, writeFileAtomic } = await import('../checkpoint');
  let f: ReturnType<typeof readWeightsFile>;
  try {
    f = readWeightsFile(input);
  } catch (e) {
    io.err(`cudnn-resnet convert: ${(e as Error).message}`);
    return 1;
  }
  writeFileAtomic(output, encodeSafetensors(f.tensors, f.metadata));
  const bytes = [...f.tensors.values()].reduce((s, t) => s + t.data.byteLength, 0);
  const dtypes = [...new Set([...f.tensors.values()].map((t) => t.dtype))].join(', ');
  io.out(
    `${output}: ${f.tensors.size} tensors (${dtypes}), ${(bytes / 2 ** 20).toFixed(2)} MiB` +
      (f.metadata['pytorch.state_dict_key'] ? `, taken from '${f.metadata['pytorch.state_dict_key']}'` : '') +
      (f.metadata['pytorch.stripped_prefix'] ? `, '${f.metadata['pytorch.stripped_prefix']}' prefix stripped` : ''),
  );
  return 0;
}
