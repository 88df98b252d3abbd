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

// V8 runs a full collection whenever the external memory reported to it grows by 64 MB. A
// training step holds a few hundred MB of activations and frees them; reported per tensor,
// each step looked like that much new memory (5-6 full collections per ResNet-56 step). This
// holds and frees the same 320 MB ten times, then leaks 1.2 GB of tensors never disposed
// (the event loop turning, so finalizers can run), and prints the full collections of the
// first part and the tensors still alive after the second.
const gcChild = `
const { Tensor, memory } = require(${JSON.stringify(lib)});
const { PerformanceObserver, constants } = require('node:perf_hooks');
let major = 0;
const obs = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) if (e.detail.kind === constants.NODE_PERFORMANCE_GC_MAJOR) major++;
});
obs.observe({ entryTypes: ['gc'] });
const tick = () => new Promise((r) => setImmediate(r));
(async () => {
  for (let step = 0; step < 10; step++) {
    const live = [];
    for (let i = 0; i < 40; i++) live.push(Tensor.zeros([1 << 21]));
    for (const t of live) t.dispose();
    await tick();
  }
  const stepMajor = major;
  for (let i = 0; i < 150; i++) { Tensor.zeros([1 << 21]); await tick(); }
  await tick();
  obs.disconnect();
  process.stdout.write(JSON.stringify({ stepMajor, leakedLive: memory().liveTensors }));
})();
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

  it('memory freed and taken again each step does not look new to V8; leaked tensors are still collected', () => {
    const r = spawnSync(process.execPath, ['-e', gcChild], { encoding: 'utf8', timeout: 280000 });
    assert.equal(r.status, 0, r.stderr);
    const { stepMajor, leakedLive } = JSON.parse(r.stdout) as { stepMajor: number; leakedLive: number };
    // Reported per tensor this measured 31 full collections; reporting what the allocator
    // holds, 4 (while the first step's blocks are new).
    assert.ok(stepMajor <= 8, `${stepMajor} full collections over ten steps of 320 MB held and freed`);
    assert.ok(leakedLive < 100, `${leakedLive} of 150 undisposed 8 MB tensors still alive`);
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
