// PyTorch checkpoints (.pth / .pt) as written by torch.save since PyTorch 1.6: a zip archive
// with one top-level folder holding data.pkl (the pickled object), byteorder ('little' or
// 'big'; absent in older files, which are little-endian), version, and data/<key>, the raw
// bytes of each storage. Tensors in the pickle name a storage, an element offset, a size
// and a stride, so views into shared or larger storages are gathered here into contiguous
// row-major bytes. The pickle goes through the restricted unpickler in pickle.ts.
//
// The object may be a state dict itself or a dict holding one under 'state_dict' or
// 'model' (training scripts' checkpoints); keys that all start with 'module.' (saved from
// DataParallel / DistributedDataParallel) lose that prefix.
import * as fs from 'node:fs';

import { numel } from '../tensor';
import { PyKey, PyTuple, PyValue, StorageRef, TensorRef, unpickle } from './pickle';
import { RawTensor, SafetensorsDType, SafetensorsFile } from './safetensors';
import { isZip, openZip } from './zip';

const STORAGE_DTYPES: Record<string, [SafetensorsDType, number]> = {
  FloatStorage: ['F32', 4], HalfStorage: ['F16', 2], BFloat16Storage: ['BF16', 2], DoubleStorage: ['F64', 8],
  LongStorage: ['I64', 8], IntStorage: ['I32', 4], ShortStorage: ['I16', 2], CharStorage: ['I8', 1],
  ByteStorage: ['U8', 1], BoolStorage: ['BOOL', 1], UntypedStorage: ['U8', 1],
};

const WRAPPER_KEYS = ['state_dict', 'model'];
const PARALLEL_PREFIX = 'module.';

function isTensorRef(v: PyValue): v is TensorRef {
  return typeof v === 'object' && v !== null && !(v instanceof PyTuple) && (v as TensorRef).kind === 'tensor';
}

function isStateDict(v: PyValue): v is Map<PyKey, PyValue> {
  return v instanceof Map && v.size > 0 && [...v].every(([k, t]) => typeof k === 'string' && isTensorRef(t));
}

function describeKeys(m: Map<PyKey, PyValue>): string {
  const keys = [...m.keys()].map(String);
  return keys.length > 8 ? `${keys.slice(0, 8).join(', ')}, ... (${keys.length} keys)` : keys.join(', ');
}

/** Finds the state dict in the unpickled object; `where` records which key held it. */
function selectStateDict(root: PyValue, source: string): { dict: Map<string, TensorRef>; where: string } {
  if (isStateDict(root)) return { dict: root as Map<string, TensorRef>, where: '' };
  if (root instanceof Map) {
    for (const k of WRAPPER_KEYS) {
      const v = root.get(k);
      if (v !== undefined && isStateDict(v)) return { dict: v as Map<string, TensorRef>, where: k };
    }
    for (const k of WRAPPER_KEYS) {
      const v = root.get(k);
      if (v instanceof Map) {
        const bad = [...v].find(([, t]) => !isTensorRef(t));
        if (bad) throw new RangeError(`${source}: '${k}' is not a state dict: its entry '${String(bad[0])}' is not a tensor`);
      }
    }
    const bad = [...root].find(([, t]) => !isTensorRef(t));
    throw new RangeError(`${source}: no state dict found: the file holds a dict with keys ${describeKeys(root)}` +
      `${bad ? ` (entry '${String(bad[0])}' is not a tensor)` : ''}, and none of ${WRAPPER_KEYS.map((k) => `'${k}'`).join(', ')} holds a dict of tensors`);
  }
  throw new RangeError(`${source}: no state dict found: the file holds a ${root === null ? 'None' : Array.isArray(root) ? 'list' : typeof root}, not a dict of tensors`);
}

/** The tensor's elements in row-major order as bytes, read through its offset and strides. */
function gather(name: string, t: TensorRef, storage: Buffer, itemBytes: number, bigEndian: boolean, source: string): Uint8Array {
  const n = numel(t.shape);
  const out = new Uint8Array(n * itemBytes);
  if (n === 0) return out;
  let last = t.offset;
  for (let d = 0; d < t.shape.length; d++) last += (t.shape[d] - 1) * t.stride[d];
  if (last >= t.storage.numel || storage.length < t.storage.numel * itemBytes)
    throw new RangeError(`${source}: tensor '${name}' reaches element ${last} of a storage of ${t.storage.numel} elements (${storage.length} bytes)`);
  let contiguous = true;
  for (let d = t.shape.length - 1, s = 1; d >= 0; s *= t.shape[d], d--) if (t.shape[d] !== 1 && t.stride[d] !== s) contiguous = false;
  if (contiguous) {
    out.set(storage.subarray(t.offset * itemBytes, (t.offset + n) * itemBytes));
  } else {
    const rank = t.shape.length;
    const idx = new Array<number>(rank).fill(0);
    let src = t.offset;
    for (let i = 0; i < n; i++) {
      out.set(storage.subarray(src * itemBytes, (src + 1) * itemBytes), i * itemBytes);
      for (let d = rank - 1; d >= 0; d--) {
        idx[d]++;
        src += t.stride[d];
        if (idx[d] < t.shape[d]) break;
        src -= t.stride[d] * t.shape[d];
        idx[d] = 0;
      }
    }
  }
  if (bigEndian && itemBytes > 1)
    for (let i = 0; i < out.length; i += itemBytes) out.subarray(i, i + itemBytes).reverse();
  return out;
}

/**
 * Parses a torch.save zip archive into the state dict's tensors as raw bytes (with
 * safetensors dtype names). metadata: format 'pytorch', and 'pytorch.state_dict_key' /
 * 'pytorch.stripped_prefix' when the state dict was nested or prefixed.
 */
export function decodePth(buf: Buffer, source = 'PyTorch checkpoint'): SafetensorsFile {
  if (!isZip(buf)) {
    if (buf.length >= 2 && buf[0] === 0x80) throw new RangeError(`${source}: this is the legacy (pre-1.6) torch.save format; load it in PyTorch and save it again (torch.save writes the zip format since 1.6), or save it as safetensors`);
    throw new RangeError(`${source}: not a PyTorch checkpoint (a torch.save zip archive)`);
  }
  const zip = openZip(buf, source);
  const pkl = zip.names().filter((n) => /^[^/]+\/data\.pkl$/.test(n));
  if (pkl.length !== 1) {
    if (zip.names().some((n) => /\/constants\.pkl$/.test(n) || /\/code\//.test(n))) throw new RangeError(`${source}: this is a TorchScript archive (torch.jit.save); save the model's state_dict() with torch.save instead`);
    throw new RangeError(`${source}: expected one <folder>/data.pkl in the archive, found ${pkl.length}`);
  }
  const root = pkl[0].slice(0, -'data.pkl'.length);
  const byteorder = zip.has(`${root}byteorder`) ? zip.read(`${root}byteorder`).toString('latin1').trim() : 'little';
  if (byteorder !== 'little' && byteorder !== 'big') throw new RangeError(`${source}: unknown byteorder '${byteorder}'`);

  const { dict, where } = selectStateDict(unpickle(zip.read(pkl[0]), { source: `${source} (data.pkl)` }), source);
  const keys = [...dict.keys()];
  const strip = keys.every((k) => k.startsWith(PARALLEL_PREFIX));
  const tensors = new Map<string, RawTensor>();
  const storages = new Map<string, Buffer>();
  for (const k of keys) {
    const t = dict.get(k)!;
    const s: StorageRef = t.storage;
    const dt = STORAGE_DTYPES[s.type];
    if (!dt) throw new RangeError(`${source}: tensor '${k}' has storage type ${s.type}, which is not supported`);
    let bytes = storages.get(s.key);
    if (!bytes) storages.set(s.key, (bytes = zip.read(`${root}data/${s.key}`)));
    const name = strip ? k.slice(PARALLEL_PREFIX.length) : k;
    if (tensors.has(name)) throw new RangeError(`${source}: key '${name}' appears twice`);
    tensors.set(name, { dtype: dt[0], shape: t.shape.slice(), data: gather(k, t, bytes, dt[1], byteorder === 'big', source) });
  }
  const metadata: Record<string, string> = { format: 'pytorch' };
  if (where) metadata['pytorch.state_dict_key'] = where;
  if (strip) metadata['pytorch.stripped_prefix'] = PARALLEL_PREFIX;
  return { tensors, metadata };
}

/** Reads a .pth/.pt file written by torch.save (see decodePth). */
export function readPth(file: string): SafetensorsFile {
  return decodePth(fs.readFileSync(file), file);
}
