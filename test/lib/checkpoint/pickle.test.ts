import * as assert from 'node:assert/strict';

import { PyGlobal, PyTuple, unpickle, UnpicklingError } from '../../../lib/checkpoint/pickle';
import { assertThrowsNamed } from '../../helpers/reference';

// Pickles written opcode by opcode, as Python's pickle module (protocol 2) writes them.
const PROTO2 = [0x80, 0x02];
const STOP = 0x2e;
function str(s: string): number[] {
  const b = Buffer.from(s, 'utf8');
  return [0x58, ...[0, 8, 16, 24].map((sh) => (b.length >> sh) & 0xff), ...b]; // BINUNICODE
}
function global(module: string, name: string): number[] {
  return [0x63, ...Buffer.from(`${module}\n${name}\n`, 'latin1')];
}
type Ops = number | Ops[];
function flat(ops: Ops[]): number[] {
  return ops.flatMap((o) => (Array.isArray(o) ? flat(o) : [o]));
}
const pk = (...ops: Ops[]) => Uint8Array.from([...PROTO2, ...flat(ops), STOP]);
// assertThrowsNamed takes the built-in constructors' type; the check is an instanceof.
const UE = UnpicklingError as unknown as ErrorConstructor;

describe('restricted unpickler', () => {
  it('reads the plain values a state dict holds', () => {
    // {'a': [1, -2, 300, 70000, 2**70, 1.5, None, True], 'b': ('x', b'\x01')}
    const long70 = [0x8a, 9, ...Array(8).fill(0), 0x40];
    const v = unpickle(
      pk(
        0x7d,
        0x28,
        str('a'),
        0x5d,
        0x28,
        [0x4b, 1],
        [0x4a, 0xfe, 0xff, 0xff, 0xff],
        [0x4d, 0x2c, 0x01],
        [0x4a, 0x70, 0x11, 0x01, 0x00],
        long70,
        [0x47, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0],
        0x4e,
        0x88,
        0x65,
        str('b'),
        str('x'),
        [0x43, 1, 1],
        0x86,
        0x75,
      ),
    );
    assert.ok(v instanceof Map);
    assert.deepEqual(v.get('a'), [1, -2, 300, 70000, 2n ** 70n, 1.5, null, true]);
    const t = v.get('b') as PyTuple;
    assert.ok(t instanceof PyTuple);
    assert.equal(t.items[0], 'x');
    assert.deepEqual(t.items[1], Uint8Array.from([1]));
  });

  it('reads negative LONG1 values and memo references', () => {
    // [-129, <memo 0>] with -129 put in the memo
    const v = unpickle(pk(0x5d, 0x28, [0x8a, 2, 0x7f, 0xff], [0x71, 0], [0x68, 0], 0x65));
    assert.deepEqual(v, [-129, -129]);
  });

  it('builds OrderedDict() and drops its _metadata attribute', () => {
    const v = unpickle(pk(global('collections', 'OrderedDict'), 0x29, 0x52, 0x28, str('k'), [0x4b, 3], 0x75, 0x7d, str('_metadata'), 0x7d, 0x73, 0x62));
    assert.ok(v instanceof Map);
    assert.deepEqual([...(v as Map<string, unknown>)], [['k', 3]]);
  });

  it('turns _rebuild_tensor_v2 on a persistent storage into a tensor descriptor', () => {
    const pid = [0x28, str('storage'), global('torch', 'HalfStorage'), str('0'), str('cpu'), [0x4b, 12], 0x74, 0x51];
    const v = unpickle(
      pk(
        global('torch._utils', '_rebuild_tensor_v2'),
        0x28,
        pid,
        [0x4b, 2],
        [0x4b, 3],
        [0x4b, 2],
        0x86,
        [0x4b, 1],
        [0x4b, 3],
        0x86,
        0x89,
        global('collections', 'OrderedDict'),
        0x29,
        0x52,
        0x74,
        0x52,
      ),
    );
    assert.deepEqual(v, {
      kind: 'tensor',
      storage: { kind: 'storage', type: 'HalfStorage', key: '0', location: 'cpu', numel: 12 },
      offset: 2,
      shape: [3, 2],
      stride: [1, 3],
    });
  });

  for (const [module, name] of [
    ['os', 'system'],
    ['posix', 'system'],
    ['builtins', 'eval'],
    ['subprocess', 'Popen'],
    ['torch', 'load'],
    ['numpy.core.multiarray', '_reconstruct'],
  ]) {
    it(`refuses the global ${module}.${name} when it is named, before any call`, () => {
      assertThrowsNamed(() => unpickle(pk(global(module, name), str('echo x'), 0x85, 0x52)), UE, `refusing global '${module}.${name}'`);
      // STACK_GLOBAL (protocol 4) is checked the same way.
      assertThrowsNamed(() => unpickle(pk(str(module), str(name), 0x93)), UE, `'${module}.${name}'`);
    });
  }

  it('refuses object construction opcodes and BUILD on anything but a dict', () => {
    assertThrowsNamed(() => unpickle(pk(0x28, [0x69, ...Buffer.from('os\nsystem\n')])), UE, 'INST', 'os.system');
    assertThrowsNamed(() => unpickle(pk(global('collections', 'OrderedDict'), 0x29, 0x81)), UE, 'NEWOBJ');
    assertThrowsNamed(() => unpickle(pk(0x28, global('collections', 'OrderedDict'), 0x6f)), UE, 'OBJ');
    assertThrowsNamed(() => unpickle(pk(0x5d, 0x7d, 0x62)), UE, 'BUILD on a list');
    assertThrowsNamed(() => unpickle(pk([0x82, 1])), UE, 'extension');
  });

  it('refuses REDUCE of whitelisted globals with unexpected arguments', () => {
    assertThrowsNamed(() => unpickle(pk(global('collections', 'OrderedDict'), str('x'), 0x85, 0x52)), UE, 'OrderedDict() with no arguments');
    assertThrowsNamed(() => unpickle(pk(global('torch', 'FloatStorage'), 0x29, 0x52)), UE, 'torch.FloatStorage', 'not callable');
    assertThrowsNamed(() => unpickle(pk(global('torch._utils', '_rebuild_tensor_v2'), 0x29, 0x52)), UE, '6 or 7 arguments');
    assertThrowsNamed(() => unpickle(pk(0x4e, 0x29, 0x52)), UE, 'REDUCE of a None');
  });

  it('names sparse and quantized rebuild functions in its refusal', () => {
    assertThrowsNamed(() => unpickle(pk(global('torch._utils', '_rebuild_sparse_tensor'))), UE, 'sparse tensors are not supported');
    assertThrowsNamed(() => unpickle(pk(global('torch._utils', '_rebuild_qtensor'))), UE, 'quantized tensors are not supported');
    assertThrowsNamed(() => unpickle(pk(global('torch', 'QInt8Storage'))), UE, 'quantized');
  });

  it('reports truncated and malformed input as UnpicklingError', () => {
    assertThrowsNamed(() => unpickle(Uint8Array.from([0x80, 2, 0x58, 9, 0, 0, 0, 0x61])), UE, 'truncated');
    assertThrowsNamed(() => unpickle(Uint8Array.from([0x80, 2, 0x4e])), UE, 'truncated');
    assertThrowsNamed(() => unpickle(Uint8Array.from([0x80, 2, 0x4e, 0x4e, STOP])), UE, 'stack not empty');
    assertThrowsNamed(() => unpickle(Uint8Array.from([0x80, 2, 0x68, 5, STOP])), UE, 'memo key 5');
    assertThrowsNamed(() => unpickle(Uint8Array.from([0x80, 2, 0xff, STOP])), UE, 'opcode 0xff');
    assertThrowsNamed(() => unpickle(Uint8Array.from([0x80, 2, 0x73, STOP])), UE, 'underflow');
  });

  it('keeps whitelisted globals as inert markers', () => {
    const v = unpickle(pk(global('torch', 'float16')));
    assert.ok(v instanceof PyGlobal);
    assert.equal(v.qualified, 'torch.float16');
  });
});
