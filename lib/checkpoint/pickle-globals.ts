// The part of the restricted unpickler (pickle.ts) that decides what a global may be and
// what using one yields. It is kept apart from the opcode loop so the whitelist, the storage
// and dtype tables and the code that turns REDUCE arguments into tensor descriptors can be
// reviewed on their own: this file is the whole of what a pickle can reach beyond plain data.

import { PyGlobal, PyTuple, PyValue, StorageRef, TensorRef, UnpicklingError } from './pickle-values';

// Storage classes torch writes into persistent ids, and the ones refused with a reason.
const STORAGE_TYPES = new Set([
  'FloatStorage',
  'HalfStorage',
  'BFloat16Storage',
  'DoubleStorage',
  'LongStorage',
  'IntStorage',
  'ShortStorage',
  'CharStorage',
  'ByteStorage',
  'BoolStorage',
  'UntypedStorage',
]);
const QUANTIZED_STORAGES = new Set(['QInt8Storage', 'QUInt8Storage', 'QInt32Storage', 'QUInt4x2Storage', 'QUInt2x4Storage']);
const TORCH_DTYPES = new Set([
  'float32',
  'float',
  'float16',
  'half',
  'bfloat16',
  'float64',
  'double',
  'int64',
  'long',
  'int32',
  'int',
  'int16',
  'short',
  'int8',
  'uint8',
  'bool',
]);
const REFUSED_WITH_REASON: Record<string, string> = {
  'torch._utils._rebuild_qtensor': 'quantized tensors are not supported',
  'torch._utils._rebuild_sparse_tensor': 'sparse tensors are not supported',
  'torch._utils._rebuild_sparse_csr_tensor': 'sparse tensors are not supported',
  'torch._utils._rebuild_nested_tensor': 'nested tensors are not supported',
  'torch._utils._rebuild_meta_tensor_no_storage': 'meta tensors hold no data',
  'torch._utils._rebuild_wrapper_subclass': 'tensor subclasses are not supported',
  'torch._utils._rebuild_device_tensor_from_numpy': 'numpy-backed tensors are not supported',
};

/** The globals a state dict may name. Everything else is refused. */
export function allowedGlobal(module: string, name: string): boolean {
  const q = `${module}.${name}`;
  if (q === 'collections.OrderedDict' || q === 'torch._utils._rebuild_tensor_v2' || q === 'torch._utils._rebuild_parameter') return true;
  // torch 2 wraps plain tensors with extra attributes in _rebuild_from_type_v2(func, torch.Tensor, args, {}).
  if (q === 'torch._tensor._rebuild_from_type_v2' || q === 'torch.Tensor' || q === 'torch.nn.parameter.Parameter') return true;
  // Protocol 2 writes Python 3 bytes as _codecs.encode(str, 'latin1').
  if (q === '_codecs.encode') return true;
  if (module === 'torch' && (STORAGE_TYPES.has(name) || TORCH_DTYPES.has(name))) return true;
  return false;
}

export function refuseGlobal(module: string, name: string, where: string): never {
  const q = `${module}.${name}`;
  const why = REFUSED_WITH_REASON[q] ?? (module === 'torch' && QUANTIZED_STORAGES.has(name) ? 'quantized tensors are not supported' : null);
  if (why) throw new UnpicklingError(`${where}: refusing global '${q}': ${why}`);
  throw new UnpicklingError(
    `${where}: refusing global '${q}': only state dicts (tensors, OrderedDict, numbers, strings, lists, tuples, dicts) can be loaded, and loading never calls or constructs anything else`,
  );
}

export function typeName(v: unknown): string {
  if (v === null) return 'None';
  if (v instanceof PyTuple) return 'tuple';
  if (v instanceof PyGlobal) return `global ${v.qualified}`;
  if (v instanceof Map) return 'dict';
  if (Array.isArray(v)) return 'list';
  if (v instanceof Uint8Array) return 'bytes';
  if (typeof v === 'object' && v && 'kind' in v) return String((v as { kind: string }).kind);
  return typeof v;
}

function isInt(v: PyValue): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v);
}

function intList(v: PyValue, what: string, fail: (why: string) => never): number[] {
  const items = v instanceof PyTuple ? v.items : Array.isArray(v) ? v : null;
  if (!items || !items.every((x) => isInt(x) && x >= 0)) fail(`${what} must be a tuple of non-negative integers, got ${typeName(v)}`);
  return items as number[];
}

export function storageRef(pid: PyValue, fail: (why: string) => never): StorageRef {
  const t = pid instanceof PyTuple ? pid.items : null;
  // The pre-1.6 format adds a sixth element, view metadata, None unless a storage view was saved.
  if (!t || (t.length !== 5 && t.length !== 6) || t[0] !== 'storage') fail(`expected ('storage', type, key, location, numel), got ${typeName(pid)}`);
  const [, type, key, location, numel, view] = t!;
  if (t!.length === 6 && view !== null) fail('storage views (pre-1.6 format) are not supported');
  if (!(type instanceof PyGlobal) || type.module !== 'torch' || !STORAGE_TYPES.has(type.name)) fail(`unknown storage type ${typeName(type)}`);
  if (typeof key !== 'string' || !/^[\w.-]+$/.test(key)) fail(`storage key must be a plain name, got ${typeName(key)}`);
  if (typeof location !== 'string') fail(`storage location must be a string, got ${typeName(location)}`);
  if (!isInt(numel) || numel < 0) fail(`storage size must be an integer >= 0, got ${typeName(numel)}`);
  return { kind: 'storage', type: (type as PyGlobal).name, key: key as string, location: location as string, numel: numel as number };
}

function isStorage(v: PyValue): v is StorageRef {
  return typeof v === 'object' && v !== null && (v as StorageRef).kind === 'storage';
}

function isTensor(v: PyValue): v is TensorRef {
  return typeof v === 'object' && v !== null && (v as TensorRef).kind === 'tensor';
}

/** What REDUCE of a whitelisted global yields: plain data, never a call into anything. */
export function callGlobal(fn: PyGlobal, args: PyValue[], fail: (why: string) => never): PyValue {
  switch (fn.qualified) {
    case 'collections.OrderedDict': {
      if (args.length === 0) return new Map();
      fail('only OrderedDict() with no arguments is supported');
      break;
    }
    case '_codecs.encode': {
      if (args.length === 2 && typeof args[0] === 'string' && args[1] === 'latin1') return new Uint8Array(Buffer.from(args[0], 'latin1'));
      fail("only encode(str, 'latin1') is supported");
      break;
    }
    case 'torch._utils._rebuild_tensor_v2': {
      // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
      if (args.length < 6 || args.length > 7) fail(`expected 6 or 7 arguments, got ${args.length}`);
      const [storage, offset, size, stride] = args;
      if (!isStorage(storage)) fail(`argument 0 must be a storage, got ${typeName(storage)}`);
      if (!isInt(offset) || offset < 0) fail(`storage offset must be an integer >= 0, got ${typeName(offset)}`);
      const shape = intList(size, 'size', fail);
      const strides = intList(stride, 'stride', fail);
      if (shape.length !== strides.length) fail(`size has ${shape.length} dimensions, stride ${strides.length}`);
      return { kind: 'tensor', storage: storage as StorageRef, offset: offset as number, shape, stride: strides };
    }
    case 'torch._utils._rebuild_parameter': {
      // (data, requires_grad, backward_hooks): the tensor itself is all a state dict needs.
      if (args.length !== 3 || !isTensor(args[0])) fail('expected (tensor, requires_grad, backward_hooks)');
      return args[0];
    }
    case 'torch._tensor._rebuild_from_type_v2': {
      // (func, type, args, state): only a plain Tensor/Parameter rebuilt by a whitelisted function, with no extra state.
      const [func, type, inner, state] = args;
      if (args.length !== 4 || !(func instanceof PyGlobal) || !(type instanceof PyGlobal) || !(inner instanceof PyTuple))
        fail('expected (func, type, args, state)');
      if ((type as PyGlobal).qualified !== 'torch.Tensor' && (type as PyGlobal).qualified !== 'torch.nn.parameter.Parameter')
        fail(`refusing tensor type ${(type as PyGlobal).qualified}`);
      if (!(state === null || (state instanceof Map && state.size === 0))) fail('refusing a tensor with extra attributes');
      return callGlobal(func as PyGlobal, (inner as PyTuple).items, fail);
    }
    default:
      fail('is not callable here');
  }
  throw new Error('unreachable');
}
