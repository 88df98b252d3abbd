// The native tensor handle: whether its storage is shared, and its memory over a long run. Node runs the finalizers of collected
// wrapped objects only when the event loop turns, so a handle whose dispose() left its
// wrapper to the finalizer cost ~200 bytes of RSS per tensor for as long as a synchronous
// training loop ran. This runs such a loop in a child process (its own heap, --expose-gc)
// and bounds the RSS growth per tensor created and disposed.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

import { native } from '../../lib/native';

const lib = path.resolve(__dirname, '..', '..', 'lib', 'index.js');

// Creates `per` tensors in a tidy scope, `iters` times per window, without yielding to the
// event loop, and prints the native growth per tensor (RSS less the V8 heap's committed
// size, which grows for a while to the loop's working size: JS objects are not the
// question here) of two windows after a warm-up. A leak grows both windows alike; noise
// shows in one at most, so the test bounds the smaller.
const child = `
const { Tensor, tidy, memory } = require(${JSON.stringify(lib)});
const [warm, iters, per] = [100, 200, 1000];
const step = () => tidy(() => { for (let i = 0; i < per; i++) Tensor.zeros([4]); });
const window = () => {
  const native = () => { gc(); const m = process.memoryUsage(); return m.rss - m.heapTotal; };
  const r0 = native();
  for (let i = 0; i < iters; i++) { step(); if (i % 50 === 0) gc(); }
  return (native() - r0) / (iters * per);
};
for (let i = 0; i < warm; i++) step();
const windows = [window(), window()];
process.stdout.write(JSON.stringify({ windows, live: memory().liveTensors }));
`;

describe('native tensor handle memory', function () {
  this.timeout(300000);

  it('a synchronous loop of tensors created and disposed keeps RSS flat', () => {
    const r = spawnSync(process.execPath, ['--expose-gc', '-e', child], { encoding: 'utf8', timeout: 280000 });
    assert.equal(r.status, 0, r.stderr);
    const { windows, live } = JSON.parse(r.stdout) as { windows: number[]; live: number };
    assert.equal(live, 0, 'every tensor was disposed');
    const bytesPerTensor = Math.min(...windows);
    // A wrapper left to the finalizer costs ~200 bytes per tensor in every window; without
    // one it measured below 4.
    assert.ok(bytesPerTensor < 64, `native memory grew ${windows.map((w) => w.toFixed(1)).join(' and ')} bytes per tensor created and disposed`);
  });

  it('storageShared says whether a view (or pending work) holds the storage too', () => {
    const t = native().full([2, 3], 'float32', 'NCHW', 'cpu', 1);
    assert.equal(t.storageShared, false);
    const v = native().reshape(t, [3, 2]);
    assert.equal(t.storageShared, true);
    assert.equal(v.storageShared, true);
    t.dispose();
    assert.equal(v.storageShared, false, 'the view alone holds it now');
    const c = native().toDevice(v, 'cpu');
    assert.equal(c.storageShared, false, 'a copy has its own storage');
    v.dispose();
    assert.throws(
      () => v.storageShared,
      (e: Error) => e instanceof TypeError && /storageShared/.test(e.message) && /disposed/.test(e.message),
    );
    c.dispose();
  });
});
