// PyTorch checkpoints (.pth / .pt) as written by torch.save since PyTorch 1.6: a zip archive
// with one top-level folder holding data.pkl (the pickled object), byteorder ('little' or
// 'big'; absent in older files, which are little-endian), version, and data/<key>, the raw
// bytes of each storage. Tensors in the pickle name a storage, an element offset, a size
// and a stride, so views into shared or larger storages are gathered here into contiguous
// row-major bytes. The pickle goes through the restricted unpickler in pickle.ts. Files in
// the older (pre-1.6) format are read too (decodeLegacy).
//
// The object may be a state dict itself or a dict holding one under 'state_dict' or
// 'model' (training scripts' checkpoints); keys that all start with 'module.' (saved from
// DataParallel / DistributedDataParallel) lose that prefix.
import * as fs from 'node:fs';

import { numel } from '../tensor';
import { PyKey, PyTuple, PyValue, StorageRef, TensorRef, unpickle, UnpickleOptions, unpickleAt } from './pickle';
import { RawTensor, SafetensorsDType, SafetensorsFile } from './safetensors';
import { isZip, openZip } from './zip';

const STORAGE_DTYPES: Record<string, [SafetensorsDType, number]> = {
  FloatStorage: ['F32', 4],
  HalfStorage: ['F16', 2],
  BFloat16Storage: ['BF16', 2],
  DoubleStorage: ['F64', 8],
  LongStorage: ['I64', 8],
  IntStorage: ['I32', 4],
  ShortStorage: ['I16', 2],
  CharStorage: ['I8', 1],
  ByteStorage: ['U8', 1],
  BoolStorage: ['BOOL', 1],
  UntypedStorage: ['U8', 1],
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
    throw new RangeError(
      `${source}: no state dict found: the file holds a dict with keys ${describeKeys(root)}` +
        `${bad ? ` (entry '${String(bad[0])}' is not a tensor)` : ''}, and none of ${WRAPPER_KEYS.map((k) => `'${k}'`).join(', ')} holds a dict of tensors`,
    );
  }
  throw new RangeError(
    `${source}: no state dict found: the file holds a ${root === null ? 'None' : Array.isArray(root) ? 'list' : typeof root}, not a dict of tensors`,
  );
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
      // Byte by byte: a subarray per element costs more than the copy (millions of elements).
      for (let b = 0, o = i * itemBytes, from = src * itemBytes; b < itemBytes; b++) out[o + b] = storage[from + b];
      for (let d = rank - 1; d >= 0; d--) {
        idx[d]++;
        src += t.stride[d];
        if (idx[d] < t.shape[d]) break;
        src -= t.stride[d] * t.shape[d];
        idx[d] = 0;
      }
    }
  }
  if (bigEndian && itemBytes > 1) for (let i = 0; i < out.length; i += itemBytes) out.subarray(i, i + itemBytes).reverse();
  return out;
}

/**
 * Parses a torch.save file (zip archive, or the pre-1.6 format) into the state dict's
 * tensors as raw bytes (with safetensors dtype names). metadata: format 'pytorch', and
 * 'pytorch.state_dict_key' / 'pytorch.stripped_prefix' when the state dict was nested or
 * prefixed, 'pytorch.format' 'legacy' for the pre-1.6 format.
 */
export function decodePth(buf: Buffer, source = 'PyTorch checkpoint'): SafetensorsFile {
  if (!isZip(buf)) {
    if (buf.length >= 2 && buf[0] === 0x80) return decodeLegacy(buf, source);
    throw new RangeError(`${source}: not a PyTorch checkpoint (a torch.save zip archive or the pre-1.6 format)`);
  }
  const zip = openZip(buf, source);
  const pkl = zip.names().filter((n) => /^[^/]+\/data\.pkl$/.test(n));
  if (pkl.length !== 1) {
    if (zip.names().some((n) => /\/constants\.pkl$/.test(n) || /\/code\//.test(n)))
      throw new RangeError(`${source}: this is a TorchScript archive (torch.jit.save); save the model's state_dict() with torch.save instead`);
    throw new RangeError(`${source}: expected one <folder>/data.pkl in the archive, found ${pkl.length}`);
  }
  const folder = pkl[0].slice(0, -'data.pkl'.length);
  const byteorder = zip.has(`${folder}byteorder`) ? zip.read(`${folder}byteorder`).toString('latin1').trim() : 'little';
  if (byteorder !== 'little' && byteorder !== 'big') throw new RangeError(`${source}: unknown byteorder '${byteorder}'`);

  const root = unpickle(zip.read(pkl[0]), { source: `${source} (data.pkl)` });
  return toStateDict(root, (key) => zip.read(`${folder}data/${key}`), byteorder === 'big', source);
}

/** The state dict of an unpickled object as raw tensors, reading storages by key. */
function toStateDict(root: PyValue, storage: (key: string) => Buffer, bigEndian: boolean, source: string): SafetensorsFile {
  const { dict, where } = selectStateDict(root, source);
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
    if (!bytes) storages.set(s.key, (bytes = storage(s.key)));
    const name = strip ? k.slice(PARALLEL_PREFIX.length) : k;
    if (tensors.has(name)) throw new RangeError(`${source}: key '${name}' appears twice`);
    tensors.set(name, { dtype: dt[0], shape: t.shape.slice(), data: gather(k, t, bytes, dt[1], bigEndian, source) });
  }
  const metadata: Record<string, string> = { format: 'pytorch' };
  if (where) metadata['pytorch.state_dict_key'] = where;
  if (strip) metadata['pytorch.stripped_prefix'] = PARALLEL_PREFIX;
  return { tensors, metadata };
}

// The pre-1.6 format: pickles back to back (a magic number, the protocol version 1001, the
// writer's sizes and byte order, the object, the list of storage keys), then each storage
// in that order as an int64 element count and its bytes.
const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;

function decodeLegacy(buf: Buffer, source: string): SafetensorsFile {
  const storages = new Map<string, StorageRef>();
  let pos = 0;
  const next = (what: string, opts: UnpickleOptions = {}) => {
    const r = unpickleAt(buf, pos, { source: `${source} (${what})`, ...opts });
    pos = r.end;
    return r.value;
  };
  if (next('magic number') !== LEGACY_MAGIC) throw new RangeError(`${source}: not a PyTorch checkpoint (a pickle without torch.save's magic number)`);
  const version = next('protocol version');
  if (version !== 1001) throw new RangeError(`${source}: unknown torch.save protocol version ${String(version)}`);
  const sys = next('system info');
  if (!(sys instanceof Map) || sys.get('little_endian') !== true)
    throw new RangeError(`${source}: written on a big-endian machine, which the pre-1.6 format reader does not handle`);
  const root = next('data', { storages });
  const keys = next('storage keys');
  if (!Array.isArray(keys) || !keys.every((k) => typeof k === 'string' && storages.has(k))) throw new RangeError(`${source}: malformed storage key list`);
  const data = new Map<string, Buffer>();
  for (const key of keys as string[]) {
    const ref = storages.get(key)!;
    const item = STORAGE_DTYPES[ref.type]?.[1] ?? 1;
    if (pos + 8 > buf.length) throw new RangeError(`${source}: truncated before storage '${key}'`);
    const n = buf.readBigInt64LE(pos);
    if (n !== BigInt(ref.numel)) throw new RangeError(`${source}: storage '${key}' holds ${n} elements, the pickle says ${ref.numel}`);
    pos += 8;
    const bytes = ref.numel * item;
    if (pos + bytes > buf.length) throw new RangeError(`${source}: storage '${key}' is truncated`);
    data.set(key, buf.subarray(pos, pos + bytes));
    pos += bytes;
  }
  const f = toStateDict(
    root,
    (key) => {
      const d = data.get(key);
      if (!d) throw new RangeError(`${source}: no data for storage '${key}'`);
      return d;
    },
    false,
    source,
  );
  f.metadata['pytorch.format'] = 'legacy';
  return f;
}

/** Reads a .pth/.pt file written by torch.save (see decodePth). */
export function readPth(file: string): SafetensorsFile {
  return decodePth(fs.readFileSync(file), file);
}
