// The values the restricted unpickler (pickle.ts) produces: plain data, Maps for dicts,
// and inert descriptors for whitelisted globals, storages and tensors.

/** A Python tuple (kept apart from lists so tensor arguments are checked exactly). */
export class PyTuple {
  constructor(readonly items: PyValue[]) {}
}

/** A whitelisted global, e.g. torch._utils._rebuild_tensor_v2; only REDUCE can use one. */
export class PyGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
  get qualified(): string {
    return `${this.module}.${this.name}`;
  }
}

/** A storage named by a persistent id: ('storage', torch.FloatStorage, key, location, numel). */
export interface StorageRef {
  kind: 'storage';
  /** torch's storage class name, e.g. 'FloatStorage'. */
  type: string;
  key: string;
  location: string;
  numel: number;
}

/** torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...) as data. */
export interface TensorRef {
  kind: 'tensor';
  storage: StorageRef;
  offset: number;
  shape: number[];
  stride: number[];
}

export type PyKey = string | number | bigint | boolean | null;
export type PyValue = null | boolean | number | bigint | string | Uint8Array | PyValue[] | PyTuple | Map<PyKey, PyValue> | PyGlobal | StorageRef | TensorRef;

/** A pickle that is malformed or asks for something this reader will not do. */
export class UnpicklingError extends Error {
  override name = 'UnpicklingError';
}
