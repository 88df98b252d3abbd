// readAsync: pending reads wait on one thread of their own (bindings/tensor_handle.cpp), not
// one libuv worker each. Many reads in flight at once must all settle, each with the value its
// tensor held at call time, including tensors disposed right after the call.
import * as assert from 'node:assert/strict';

import { native } from '../../lib/native';
import { describeDevices } from '../helpers/devices';

const A = native();

describeDevices('readAsync', ({ device }) => {
  it("settles 64 reads in flight at once, each with its own tensor's values", async () => {
    const n = 64;
    const expected = Array.from({ length: n }, (_, i) => Float32Array.from({ length: 37 + i }, (_, j) => Math.fround(Math.sin(i * 101 + j))));
    const tensors = expected.map((v) => A.fromTypedArray(v, [v.length], 'float32', 'NCHW', device));
    const pending = tensors.map((t) => t.readAsync());
    for (const t of tensors.filter((_, i) => i % 2 === 0)) t.dispose(); // the read holds its own reference
    const got = await Promise.all(pending);
    for (let i = 0; i < n; i++) assert.deepEqual(Array.from(got[i]), Array.from(expected[i]), `read ${i}`);
    for (const t of tensors) if (!t.disposed) t.dispose();
  });

  it('keeps int32 and uint8 reads typed', async () => {
    const i32 = A.fromTypedArray(Int32Array.from([-3, 0, 7, 2147483647]), [4], 'int32', 'NCHW', device);
    const u8 = A.fromTypedArray(Uint8Array.from([0, 1, 255]), [3], 'uint8', 'NCHW', device);
    const [a, b] = await Promise.all([i32.readAsync(), u8.readAsync()]);
    assert.ok(a instanceof Int32Array);
    assert.ok(b instanceof Uint8Array);
    assert.deepEqual(Array.from(a), [-3, 0, 7, 2147483647]);
    assert.deepEqual(Array.from(b), [0, 1, 255]);
    i32.dispose();
    u8.dispose();
  });
});
