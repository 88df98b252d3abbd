// The safetensors format (https://github.com/huggingface/safetensors), written and read
// here without a dependency:
//   bytes 0..8    N, the header length, unsigned 64-bit little-endian
//   bytes 8..8+N  a UTF-8 JSON object: { "<name>": { "dtype": "F32", "shape": [..],
//                 "data_offsets": [begin, end] }, ..., "__metadata__": { "<k>": "<v>" } }
//                 (this writer pads it with spaces to a multiple of 8 bytes, lists tensors
//                 in the order given and puts __metadata__ first when there is any)
//   bytes 8+N..   the tensors' bytes, little-endian, row-major (C order), back to back in
//                 header order; offsets are relative to the start of this section.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { argError, InputFileError } from '../errors';
import { native } from '../native';
import { describe, numel, Tensor, Device, DType } from '../tensor';

export type SafetensorsDType = 'F32' | 'F16' | 'BF16' | 'I32' | 'U8' | 'I64' | 'F64' | 'I8' | 'I16' | 'BOOL';

const ITEM_BYTES: Record<SafetensorsDType, number> = { F64: 8, I64: 8, F32: 4, I32: 4, F16: 2, BF16: 2, I16: 2, U8: 1, I8: 1, BOOL: 1 };

/** One tensor as raw little-endian bytes. */
export interface RawTensor {
  dtype: SafetensorsDType;
  shape: number[];
  data: Uint8Array;
}

export interface SafetensorsFile {
  tensors: Map<string, RawTensor>;
  metadata: Record<string, string>;
}

/** The bytes of a safetensors file holding `tensors` (in iteration order) and `metadata`. */
export function encodeSafetensors(tensors: Iterable<[string, RawTensor]>, metadata: Record<string, string> = {}): Buffer {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) {
    for (const [k, v] of Object.entries(metadata))
      if (typeof v !== 'string') throw new TypeError(`safetensors: metadata['${k}'] must be a string, got ${describe(v)}`);
    header.__metadata__ = metadata;
  }
  const parts: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of tensors) {
    if (name === '__metadata__' || name in header) throw new RangeError(`safetensors: tensor name '${name}' is reserved or repeated`);
    const expected = numel(t.shape) * ITEM_BYTES[t.dtype];
    if (ITEM_BYTES[t.dtype] === undefined) throw new TypeError(`safetensors: tensor '${name}' has unknown dtype ${describe(t.dtype)}`);
    if (t.data.byteLength !== expected)
      throw new RangeError(`safetensors: tensor '${name}' has ${t.data.byteLength} bytes, its dtype and shape need ${expected}`);
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + expected] };
    parts.push(t.data);
    offset += expected;
  }
  let json = Buffer.from(JSON.stringify(header), 'utf8');
  const pad = (8 - (json.length % 8)) % 8;
  if (pad) json = Buffer.concat([json, Buffer.alloc(pad, 0x20)]);
  const out = Buffer.alloc(8 + json.length + offset);
  out.writeBigUInt64LE(BigInt(json.length), 0);
  json.copy(out, 8);
  let at = 8 + json.length;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

/** Parses a safetensors file, checking every offset against the data it describes. */
export function decodeSafetensors(buf: Uint8Array, source = 'safetensors data'): SafetensorsFile {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const bad = (why: string) =>
    Object.assign(new RangeError(`${source}: not a valid safetensors file: ${why}`), { code: 'ERR_INVALID_SAFETENSORS', file: source });
  if (b.length < 8) throw bad(`${b.length} bytes, shorter than the 8-byte header length`);
  const n = b.readBigUInt64LE(0);
  if (n > BigInt(b.length - 8)) throw bad(`header length ${n} exceeds the ${b.length - 8} bytes after it`);
  const hlen = Number(n);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(b.subarray(8, 8 + hlen).toString('utf8'));
  } catch (e) {
    throw bad(`header is not JSON (${(e as Error).message})`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) throw bad('header is not a JSON object');
  const dataStart = 8 + hlen;
  const dataLen = b.length - dataStart;
  const tensors = new Map<string, RawTensor>();
  const spans: { name: string; begin: number; end: number }[] = [];
  let metadata: Record<string, string> = {};
  for (const [name, v] of Object.entries(header)) {
    if (name === '__metadata__') {
      if (v === null || typeof v !== 'object' || Array.isArray(v) || Object.values(v).some((x) => typeof x !== 'string'))
        throw bad('__metadata__ must map names to strings');
      metadata = v as Record<string, string>;
      continue;
    }
    const e = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const dtype = e?.dtype as SafetensorsDType;
    if (typeof dtype !== 'string' || ITEM_BYTES[dtype] === undefined) throw bad(`tensor '${name}' has unsupported dtype ${describe(e?.dtype)}`);
    if (!Array.isArray(e.shape) || e.shape.some((s) => !Number.isInteger(s) || s < 0)) throw bad(`tensor '${name}' has an invalid shape ${describe(e.shape)}`);
    const off = e.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((o) => Number.isInteger(o) && o >= 0) || off[0] > off[1] || off[1] > dataLen)
      throw bad(`tensor '${name}' has invalid data_offsets ${describe(off)} (data section is ${dataLen} bytes)`);
    const shape = e.shape as number[];
    if (off[1] - off[0] !== numel(shape) * ITEM_BYTES[dtype])
      throw bad(`tensor '${name}' spans ${off[1] - off[0]} bytes but ${dtype} [${shape.join(', ')}] needs ${numel(shape) * ITEM_BYTES[dtype]}`);
    spans.push({ name, begin: off[0], end: off[1] });
    // A copy, so typed-array views over it are aligned whatever the offset in the file.
    tensors.set(name, { dtype, shape, data: new Uint8Array(b.subarray(dataStart + off[0], dataStart + off[1])) });
  }
  checkCoverage(spans, dataLen, dataStart, bad);
  return { tensors, metadata };
}

// The format's rule for the data section: taken in offset order, each tensor starts where
// the previous one ended and the last ends at the end of the file, so no byte belongs to
// two tensors (a tensor aliasing another's weights) and none to no tensor (hidden data).
// Zero-size tensors take no bytes and may sit anywhere in that order.
function checkCoverage(spans: { name: string; begin: number; end: number }[], dataLen: number, dataStart: number, bad: (why: string) => Error): void {
  const sorted = [...spans].sort((x, y) => x.begin - y.begin || x.end - y.end);
  let at = 0;
  let prev: string | undefined;
  for (const s of sorted) {
    if (s.begin < at)
      throw bad(
        `tensor '${s.name}' (data_offsets [${s.begin}, ${s.end}]) overlaps tensor '${prev}', which ends at ${at} (file byte offset ${dataStart + s.begin})`,
      );
    if (s.begin > at)
      throw bad(`bytes [${at}, ${s.begin}) of the data section belong to no tensor (file byte offset ${dataStart + at}); tensors must be back to back`);
    at = s.end;
    if (s.end > s.begin) prev = s.name;
  }
  if (at !== dataLen)
    throw bad(`the tensors cover ${at} bytes but the data section holds ${dataLen} (file byte offset ${dataStart + at}); the file has trailing bytes`);
}

// ---------------------------------------------------------------- Tensor <-> raw

const TO_FILE: Record<DType, SafetensorsDType> = { float32: 'F32', float16: 'F16', bfloat16: 'BF16', int32: 'I32', uint8: 'U8' };

function f32ToBf16Bits(v: Float32Array): Uint16Array {
  // Values read from a bfloat16 tensor are exact bfloat16 values: the high half is the bits.
  const u = new Uint32Array(v.buffer, v.byteOffset, v.length);
  const out = new Uint16Array(v.length);
  for (let i = 0; i < v.length; i++) out[i] = u[i] >>> 16;
  return out;
}

function f32ToF16Bits(v: Float32Array): Uint16Array {
  // Exact for values that came from a float16 tensor (normals, subnormals, inf, nan).
  const u = new Uint32Array(v.buffer, v.byteOffset, v.length);
  const out = new Uint16Array(v.length);
  for (let i = 0; i < v.length; i++) {
    const x = u[i];
    const sign = (x >>> 16) & 0x8000;
    const exp = (x >>> 23) & 0xff;
    const man = x & 0x7fffff;
    if (exp === 0xff) out[i] = sign | 0x7c00 | (man ? 0x200 : 0);
    else if (exp > 112) out[i] = sign | ((exp - 112) << 10) | (man >>> 13);
    else if (exp >= 103) out[i] = sign | ((man | 0x800000) >>> (126 - exp));
    else out[i] = sign;
  }
  return out;
}

function bytesOf(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** A tensor's values as safetensors bytes in logical (NCHW) order; reads it to the host. */
export function tensorToRaw(t: Tensor | bigint): RawTensor {
  if (typeof t === 'bigint') {
    const data = new Uint8Array(8);
    new DataView(data.buffer).setBigInt64(0, t, true);
    return { dtype: 'I64', shape: [], data };
  }
  const values = t.dataSync();
  let data: Uint8Array;
  if (t.dtype === 'bfloat16') data = bytesOf(f32ToBf16Bits(values as Float32Array));
  else if (t.dtype === 'float16') data = bytesOf(f32ToF16Bits(values as Float32Array));
  else data = bytesOf(values);
  // Typed arrays are in the platform's byte order; every supported Node target is little-endian.
  return { dtype: TO_FILE[t.dtype], shape: t.shape.slice(), data };
}

/**
 * A raw tensor as a Tensor (NCHW, on `device`), or a bigint for an I64 scalar. I64 arrays
 * become int32 when every value fits.
 */
export function rawToTensor(name: string, r: RawTensor, device: Device = 'cpu'): Tensor | bigint {
  const dv = new DataView(r.data.buffer, r.data.byteOffset, r.data.byteLength);
  const shape = r.shape.length === 0 ? [1] : r.shape;
  if (numel(shape) === 0) throw new RangeError(`safetensors: tensor '${name}' is empty ([${r.shape.join(', ')}]), which Tensor cannot hold`);
  const u8 = new Uint8Array(r.data); // aligned copy
  switch (r.dtype) {
    case 'F32':
      return new Tensor(native().fromTypedArray(new Float32Array(u8.buffer), shape, 'float32', 'NCHW', device));
    case 'F16':
      return new Tensor(native().fromTypedArray(new Uint16Array(u8.buffer), shape, 'float16', 'NCHW', device));
    case 'BF16':
      return new Tensor(native().fromTypedArray(new Uint16Array(u8.buffer), shape, 'bfloat16', 'NCHW', device));
    case 'I32':
      return new Tensor(native().fromTypedArray(new Int32Array(u8.buffer), shape, 'int32', 'NCHW', device));
    case 'U8':
      return new Tensor(native().fromTypedArray(u8, shape, 'uint8', 'NCHW', device));
    case 'F64': {
      const f = new Float32Array(numel(shape));
      for (let i = 0; i < f.length; i++) f[i] = dv.getFloat64(i * 8, true);
      return new Tensor(native().fromTypedArray(f, shape, 'float32', 'NCHW', device));
    }
    case 'I64': {
      if (r.shape.length === 0) return dv.getBigInt64(0, true);
      const v = new Int32Array(numel(shape));
      for (let i = 0; i < v.length; i++) {
        const x = dv.getBigInt64(i * 8, true);
        if (x > 2147483647n || x < -2147483648n) throw new RangeError(`safetensors: tensor '${name}' holds int64 value ${x}, outside int32`);
        v[i] = Number(x);
      }
      return new Tensor(native().fromTypedArray(v, shape, 'int32', 'NCHW', device));
    }
    default:
      throw new TypeError(`safetensors: tensor '${name}' has dtype ${r.dtype}, which Tensor cannot hold`);
  }
}

// ---------------------------------------------------------------- files

/**
 * Writes `data` to `file` atomically: a temporary file in the same folder, fsync, rename
 * (so a crash leaves the old file or the new one, never half of one), then an fsync of the
 * folder so the rename itself is durable.
 */
export function writeFileAtomic(file: string, data: Uint8Array): void {
  const dir = path.dirname(path.resolve(file));
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${Date.now()}.tmp`);
  const fd = fs.openSync(tmp, 'w', 0o644);
  try {
    let at = 0;
    while (at < data.byteLength) at += fs.writeSync(fd, data, at, data.byteLength - at);
    fs.fsyncSync(fd);
  } catch (e) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  fs.closeSync(fd);
  try {
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  try {
    const dfd = fs.openSync(dir, 'r');
    try {
      fs.fsyncSync(dfd);
    } finally {
      fs.closeSync(dfd);
    }
  } catch {
    // Some filesystems refuse fsync on a directory; the rename has still happened.
  }
}

/** Saves tensors (and int64 scalars given as bigint) to a safetensors file, atomically. */
export function saveSafetensors(file: string, tensors: Iterable<[string, Tensor | bigint]>, metadata: Record<string, string> = {}): void {
  const raw: [string, RawTensor][] = [];
  for (const [k, t] of tensors) raw.push([k, tensorToRaw(t)]);
  writeFileAtomic(file, encodeSafetensors(raw, metadata));
}

/** Reads a safetensors file's header and bytes (no tensors are made). */
export function readSafetensors(file: string): SafetensorsFile {
  if (typeof file !== 'string' || file === '') throw argError('type', 'readSafetensors', 'file', `must be a path, got ${describe(file)}`);
  return decodeSafetensors(readInput(file), file);
}

// fs.readFileSync with the failures a user can fix said in words, with the path.
export function readInput(file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new InputFileError('ERR_FILE_NOT_FOUND', file, undefined, 'no such file', { cause: e });
    if (code === 'EISDIR') throw new InputFileError('ERR_FILE_NOT_FOUND', file, undefined, 'is a folder, not a file', { cause: e });
    if (code === 'EACCES') throw new InputFileError('ERR_FILE_NOT_FOUND', file, undefined, 'cannot be read (permission denied)', { cause: e });
    throw e;
  }
}

/** Loads every tensor of a safetensors file onto a device. */
export function loadSafetensors(file: string, device: Device = 'cpu'): { tensors: Map<string, Tensor | bigint>; metadata: Record<string, string> } {
  const f = readSafetensors(file);
  const tensors = new Map<string, Tensor | bigint>();
  for (const [k, r] of f.tensors) tensors.set(k, rawToTensor(k, r, device));
  return { tensors, metadata: f.metadata };
}
