// A restricted unpickler for PyTorch state dicts. A .pth file's data.pkl is a Python pickle,
// and a general unpickler runs whatever callables the file names (os.system included), so
// this one knows a fixed list of globals, each mapped to a harmless JS value, and refuses
// any other global when it is named, before anything could call it. It implements the
// opcodes that torch.save (protocol 2, and the framing of 4/5) emits for dicts, lists,
// tuples, numbers, strings and tensors; INST, OBJ, NEWOBJ, extension codes and sets are
// refused. Nothing here constructs an object from the file other than plain data, Maps
// for dicts and the storage and tensor descriptors; the whitelist and what each global
// yields live in pickle-globals.ts, so this file is only the opcode machine.

import { allowedGlobal, callGlobal, refuseGlobal, storageRef, typeName } from './pickle-globals';
import { PyGlobal, PyKey, PyTuple, PyValue, StorageRef, UnpicklingError } from './pickle-values';

export { PyGlobal, PyTuple, UnpicklingError } from './pickle-values';
export type { PyKey, PyValue, StorageRef, TensorRef } from './pickle-values';

const MARK = Symbol('mark');
type StackItem = PyValue | typeof MARK;

export interface UnpickleOptions {
  /** Names the source in errors. */
  source?: string;
  /** Receives every storage a persistent id names, by key. */
  storages?: Map<string, StorageRef>;
}

/** Parses a restricted pickle into plain values. Tensors come back as TensorRef descriptors. */
export function unpickle(data: Uint8Array, opts: UnpickleOptions = {}): PyValue {
  return unpickleAt(data, 0, opts).value;
}

/** Parses the pickle that starts at byte `start`; `end` is the byte after its STOP (files may hold several). */
export function unpickleAt(data: Uint8Array, start: number, opts: UnpickleOptions = {}): { value: PyValue; end: number } {
  const where = opts.source ?? 'pickle';
  const b = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const fail = (why: string): never => {
    throw new UnpicklingError(`${where}: ${why}`);
  };
  let pos = start;
  const need = (n: number) => {
    if (pos + n > b.length) fail(`truncated at byte ${pos} (needs ${n} more)`);
  };
  const u8 = () => (need(1), b[pos++]);
  const u16 = () => (need(2), (pos += 2), b.readUInt16LE(pos - 2));
  const u32 = () => (need(4), (pos += 4), b.readUInt32LE(pos - 4));
  const i32 = () => (need(4), (pos += 4), b.readInt32LE(pos - 4));
  const u64 = () => {
    need(8);
    const v = b.readBigUInt64LE(pos);
    pos += 8;
    if (v > BigInt(b.length)) fail(`length ${v} at byte ${pos - 8} exceeds the data`);
    return Number(v);
  };
  const bytes = (n: number) => (need(n), (pos += n), b.subarray(pos - n, pos));
  const line = () => {
    const end = b.indexOf(0x0a, pos);
    if (end < 0) fail(`unterminated text argument at byte ${pos}`);
    const s = b.toString('latin1', pos, end);
    pos = end + 1;
    return s;
  };

  const stack: StackItem[] = [];
  const metaStack: StackItem[][] = [];
  const memo = new Map<number, PyValue>();
  const pop = (): PyValue => {
    if (stack.length === 0) fail(`stack underflow at byte ${pos}`);
    const v = stack.pop()!;
    if (v === MARK) fail(`unexpected mark at byte ${pos}`);
    return v as PyValue;
  };
  const top = (): PyValue => {
    const v = stack[stack.length - 1];
    if (v === undefined || v === MARK) fail(`stack underflow at byte ${pos}`);
    return v as PyValue;
  };
  const popMark = (): PyValue[] => {
    const prev = metaStack.pop();
    if (!prev) fail(`no mark at byte ${pos}`);
    const items = stack.splice(0) as PyValue[];
    for (const v of prev!) stack.push(v);
    return items;
  };
  const dictSet = (d: PyValue, k: PyValue, v: PyValue) => {
    if (!(d instanceof Map)) fail(`SETITEM on a ${typeName(d)} at byte ${pos}`);
    if (k !== null && typeof k === 'object') fail(`unsupported dict key type ${typeName(k)} at byte ${pos}`);
    (d as Map<PyKey, PyValue>).set(k as PyKey, v);
  };
  const intOf = (v: bigint): number | bigint => (v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v);
  const long = (raw: Uint8Array): number | bigint => {
    if (raw.length === 0) return 0;
    let v = 0n;
    for (let i = raw.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(raw[i]);
    if (raw[raw.length - 1] & 0x80) v -= 1n << BigInt(8 * raw.length);
    return intOf(v);
  };
  const global = (module: string, name: string): PyGlobal => {
    if (!allowedGlobal(module, name)) refuseGlobal(module, name, where);
    return new PyGlobal(module, name);
  };

  for (;;) {
    const at = pos;
    const op = u8();
    switch (op) {
      case 0x80: {
        // PROTO
        const v = u8();
        if (v > 5) fail(`pickle protocol ${v} is newer than 5`);
        break;
      }
      case 0x95:
        u64();
        break; // FRAME: only a read-ahead hint
      case 0x2e: {
        // STOP
        const v = pop();
        if (stack.length !== 0 || metaStack.length !== 0) fail('stack not empty at STOP');
        return { value: v, end: pos };
      }
      case 0x28:
        metaStack.push(stack.splice(0));
        break; // MARK
      case 0x30:
        pop();
        break; // POP
      case 0x31:
        popMark();
        break; // POP_MARK
      case 0x32:
        stack.push(top());
        break; // DUP
      case 0x4e:
        stack.push(null);
        break; // NONE
      case 0x88:
        stack.push(true);
        break; // NEWTRUE
      case 0x89:
        stack.push(false);
        break; // NEWFALSE
      case 0x4a:
        stack.push(i32());
        break; // BININT
      case 0x4b:
        stack.push(u8());
        break; // BININT1
      case 0x4d:
        stack.push(u16());
        break; // BININT2
      case 0x49: {
        // INT (text); protocol 0 writes booleans as 00/01
        const s = line().trim();
        if (s === '00' || s === '01') stack.push(s === '01');
        else if (/^-?\d+$/.test(s)) stack.push(intOf(BigInt(s)));
        else fail(`bad INT '${s}' at byte ${at}`);
        break;
      }
      case 0x4c: {
        // LONG (text)
        const s = line().trim().replace(/L$/, '');
        if (!/^-?\d+$/.test(s)) fail(`bad LONG '${s}' at byte ${at}`);
        stack.push(intOf(BigInt(s)));
        break;
      }
      case 0x8a:
        stack.push(long(bytes(u8())));
        break; // LONG1
      case 0x8b: {
        // LONG4
        const n = i32();
        if (n < 0) fail(`negative LONG4 length at byte ${at}`);
        stack.push(long(bytes(n)));
        break;
      }
      case 0x47:
        need(8);
        stack.push(b.readDoubleBE(pos));
        pos += 8;
        break; // BINFLOAT
      case 0x46: {
        // FLOAT (text)
        const x = Number(line());
        if (Number.isNaN(x)) fail(`bad FLOAT at byte ${at}`);
        stack.push(x);
        break;
      }
      case 0x58:
        stack.push(bytes(u32()).toString('utf8'));
        break; // BINUNICODE
      case 0x8c:
        stack.push(bytes(u8()).toString('utf8'));
        break; // SHORT_BINUNICODE
      case 0x8d:
        stack.push(bytes(u64()).toString('utf8'));
        break; // BINUNICODE8
      case 0x55:
        stack.push(bytes(u8()).toString('latin1'));
        break; // SHORT_BINSTRING (Python 2 str)
      case 0x54: {
        // BINSTRING
        const n = i32();
        if (n < 0) fail(`negative BINSTRING length at byte ${at}`);
        stack.push(bytes(n).toString('latin1'));
        break;
      }
      case 0x43:
        stack.push(new Uint8Array(bytes(u8())));
        break; // SHORT_BINBYTES
      case 0x42:
        stack.push(new Uint8Array(bytes(u32())));
        break; // BINBYTES
      case 0x8e:
        stack.push(new Uint8Array(bytes(u64())));
        break; // BINBYTES8
      case 0x29:
        stack.push(new PyTuple([]));
        break; // EMPTY_TUPLE
      case 0x74:
        stack.push(new PyTuple(popMark()));
        break; // TUPLE
      case 0x85:
        stack.push(new PyTuple([pop()]));
        break; // TUPLE1
      case 0x86: {
        const y = pop();
        const x = pop();
        stack.push(new PyTuple([x, y]));
        break;
      } // TUPLE2
      case 0x87: {
        const z = pop();
        const y = pop();
        const x = pop();
        stack.push(new PyTuple([x, y, z]));
        break;
      } // TUPLE3
      case 0x5d:
        stack.push([]);
        break; // EMPTY_LIST
      case 0x6c:
        stack.push(popMark());
        break; // LIST
      case 0x61: {
        // APPEND
        const v = pop();
        const l = top();
        if (!Array.isArray(l)) fail(`APPEND to a ${typeName(l)} at byte ${at}`);
        (l as PyValue[]).push(v);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark();
        const l = top();
        if (!Array.isArray(l)) fail(`APPENDS to a ${typeName(l)} at byte ${at}`);
        for (const v of items) (l as PyValue[]).push(v);
        break;
      }
      case 0x7d:
        stack.push(new Map());
        break; // EMPTY_DICT
      case 0x64: {
        // DICT
        const items = popMark();
        if (items.length % 2) fail(`odd number of DICT items at byte ${at}`);
        const d = new Map<PyKey, PyValue>();
        for (let i = 0; i < items.length; i += 2) dictSet(d, items[i], items[i + 1]);
        stack.push(d);
        break;
      }
      case 0x73: {
        const v = pop();
        const k = pop();
        dictSet(top(), k, v);
        break;
      } // SETITEM
      case 0x75: {
        // SETITEMS
        const items = popMark();
        if (items.length % 2) fail(`odd number of SETITEMS items at byte ${at}`);
        const d = top();
        for (let i = 0; i < items.length; i += 2) dictSet(d, items[i], items[i + 1]);
        break;
      }
      case 0x68:
        memoGet(u8());
        break; // BINGET
      case 0x6a:
        memoGet(u32());
        break; // LONG_BINGET
      case 0x67:
        memoGet(Number(line()));
        break; // GET
      case 0x71:
        memo.set(u8(), top());
        break; // BINPUT
      case 0x72:
        memo.set(u32(), top());
        break; // LONG_BINPUT
      case 0x70:
        memo.set(Number(line()), top());
        break; // PUT
      case 0x94:
        memo.set(memo.size, top());
        break; // MEMOIZE
      case 0x63: {
        // GLOBAL "module\nname\n"
        const module = line();
        const name = line();
        stack.push(global(module, name));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail(`STACK_GLOBAL needs two strings at byte ${at}`);
        stack.push(global(module as string, name as string));
        break;
      }
      case 0x52: {
        // REDUCE
        const args = pop();
        const fn = pop();
        if (!(fn instanceof PyGlobal)) fail(`REDUCE of a ${typeName(fn)} at byte ${at}`);
        if (!(args instanceof PyTuple)) fail(`REDUCE with ${typeName(args)} arguments at byte ${at}`);
        stack.push(callGlobal(fn as PyGlobal, (args as PyTuple).items, (why) => fail(`${(fn as PyGlobal).qualified}: ${why} (byte ${at})`)));
        break;
      }
      case 0x62: {
        // BUILD: only OrderedDict's instance attributes (a state dict's _metadata), which are dropped
        const state = pop();
        const obj = top();
        if (!(obj instanceof Map) || !(state === null || state instanceof Map))
          fail(`refusing BUILD on a ${typeName(obj)} at byte ${at}: only dicts may carry attributes`);
        break;
      }
      case 0x51: {
        // BINPERSID
        const pid = pop();
        const ref = storageRef(pid, (why) => fail(`persistent id at byte ${at}: ${why}`));
        opts.storages?.set(ref.key, ref);
        stack.push(ref);
        break;
      }
      case 0x50:
        fail(`refusing PERSID at byte ${at}: torch.save writes binary persistent ids`);
        break;
      case 0x69:
        fail(`refusing INST '${line()}.${line()}' at byte ${at}: loading never constructs objects`);
        break;
      case 0x6f:
        fail(`refusing OBJ at byte ${at}: loading never constructs objects`);
        break;
      case 0x81:
        fail(`refusing NEWOBJ at byte ${at}: loading never constructs objects`);
        break;
      case 0x92:
        fail(`refusing NEWOBJ_EX at byte ${at}: loading never constructs objects`);
        break;
      case 0x82:
      case 0x83:
      case 0x84:
        fail(`refusing extension code at byte ${at}: only state dicts can be loaded`);
        break;
      default:
        fail(`unsupported pickle opcode 0x${op.toString(16).padStart(2, '0')} at byte ${at}`);
    }
  }

  function memoGet(i: number): void {
    if (!memo.has(i)) fail(`memo key ${i} is not set (byte ${pos})`);
    stack.push(memo.get(i)!);
  }
}
