// The CUDA availability API. On a machine without a GPU (or without cuDNN) it must report
// unavailable with a reason naming what is missing, and a cuda:0 tensor must fail with
// ERR_CUDA_UNAVAILABLE; on a GPU machine the allocator's bookkeeping is checked instead.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { cuda } from '../../lib/cuda';
import { batchNormPath } from '../../lib/env';
import { native, type DTypeName, type LayoutName, type NativeTensor } from '../../lib/native';

const MiB = 1024 * 1024;

function codeOf(fn: () => unknown): { code?: string; message: string } {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof Error, 'expected an Error');
    return { code: (e as Error & { code?: string }).code, message: e.message };
  }
  assert.fail('expected a throw');
}

describe('cuda', () => {
  it('reports its state without throwing, with consistent fields', () => {
    const info = cuda.info();
    assert.equal(typeof info.compiled, 'boolean');
    assert.equal(typeof info.available, 'boolean');
    assert.equal(info.deviceCount, info.devices.length);
    assert.equal(cuda.isAvailable(), info.available);
    assert.equal(cuda.deviceCount(), info.deviceCount);
    for (const d of info.devices) {
      assert.match(d.computeCapability, /^\d+\.\d+$/);
      assert.ok(d.totalMemory > 0);
    }
    assert.equal(info.compiled, native().buildInfo().cuda);
    if (info.compiled) {
      assert.match(cuda.versions().runtime ?? '', /^\d+\.\d+$/);
      assert.ok(info.searched.length > 0, 'the cuDNN search is recorded');
    }
  });

  it('a cuDNN path from CUDNN_LIBRARY_PATH is tried first and recorded', function () {
    if (!cuda.info().compiled) this.skip();
    const script = `const {cuda} = require(${JSON.stringify(require.resolve('../../lib/cuda'))});` + 'process.stdout.write(JSON.stringify(cuda.info()))';
    const r = spawnSync(process.execPath, ['-e', script], {
      env: { ...process.env, CUDNN_LIBRARY_PATH: '/nonexistent/cudnn-here' },
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
    const info = JSON.parse(r.stdout) as ReturnType<typeof cuda.info>;
    assert.match(info.searched[0], /CUDNN_LIBRARY_PATH=\/nonexistent\/cudnn-here: no such file or folder/);
    if (!info.available && info.deviceCount > 0) assert.match(info.reason, /nonexistent\/cudnn-here/);
  });

  // A stand-in libcudnn.so.9 built from the entry-point list of native/cuda/cudnn_api.h
  // exercises the loader's dlopen/dlsym/version checks on a machine without cuDNN.
  describe('cuDNN loader (with a stand-in library)', () => {
    let dir = '';
    const header = path.join(__dirname, '..', '..', '..', 'native', 'cuda', 'cudnn_api.h');
    const names = (): string[] => {
      const text = fs.readFileSync(header, 'utf8');
      const block = text.slice(text.indexOf('#define CR_CUDNN_FUNCTIONS(X)'));
      return [...block.slice(0, block.indexOf('struct Api')).matchAll(/X\((\w+)\)/g)].map((m) => m[1]);
    };
    function build(file: string, version: number, skip: string[] = []): void {
      const src = names()
        .filter((n) => !skip.includes(n))
        .map((n) => (n === 'cudnnGetVersion' ? `unsigned long ${n}(void) { return ${version}; }` : `int ${n}(void) { return 0; }`));
      const c = path.join(dir, 'stub.c');
      fs.writeFileSync(c, src.join('\n') + '\n');
      const r = spawnSync('cc', ['-shared', '-fPIC', '-o', file, c], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
    }
    function infoWith(libPath: string): ReturnType<typeof cuda.info> {
      const script = `const {cuda} = require(${JSON.stringify(require.resolve('../../lib/cuda'))});` + 'process.stdout.write(JSON.stringify(cuda.info()))';
      const r = spawnSync(process.execPath, ['-e', script], { env: { ...process.env, CUDNN_LIBRARY_PATH: libPath }, encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      return JSON.parse(r.stdout) as ReturnType<typeof cuda.info>;
    }
    before(function () {
      if (!cuda.info().compiled || !fs.existsSync(header) || spawnSync('cc', ['--version']).status !== 0) this.skip();
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cr-cudnn-'));
    });
    after(() => {
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    it('loads a folder given by CUDNN_LIBRARY_PATH and reports version and path', () => {
      fs.mkdirSync(path.join(dir, 'ok'));
      build(path.join(dir, 'ok', 'libcudnn.so.9'), 91400);
      const info = infoWith(path.join(dir, 'ok'));
      assert.equal(info.cudnnVersion, 91400);
      assert.equal(info.cudnnPath, path.join(dir, 'ok', 'libcudnn.so.9'));
      assert.match(info.searched[0], /loaded .*libcudnn\.so\.9 \(cuDNN 91400\)/);
    });

    it('refuses a library that lacks an entry point or is not cuDNN 9, saying so', () => {
      const lacking = path.join(dir, 'lacking.so');
      build(lacking, 91400, ['cudnnConvolutionForward']);
      const a = infoWith(lacking);
      assert.equal(a.cudnnVersion, 0);
      assert.match(a.searched[0], /lacks cudnnConvolutionForward/);
      const old = path.join(dir, 'old.so');
      build(old, 8907);
      const b = infoWith(old);
      assert.equal(b.cudnnVersion, 0);
      assert.match(b.searched[0], /is cuDNN 8907, need 9\.x/);
      if (b.deviceCount > 0 && !b.available) assert.match(b.reason, /old\.so/);
    });
  });

  describe('without a usable GPU', () => {
    before(function () {
      if (cuda.isAvailable()) this.skip();
    });

    it('says why, naming what is missing', () => {
      const reason = cuda.unavailableReason();
      assert.ok(reason && reason.length > 10, 'a reason is given');
      if (cuda.info().compiled) {
        // Either the GPU/driver or cuDNN is missing; the reason says which.
        assert.match(reason, /GPU|driver|device|libcudnn\.so\.9/);
        if (cuda.deviceCount() > 0) assert.match(reason, /libcudnn\.so\.9[\s\S]*Looked in/);
      } else {
        assert.match(reason, /no CUDA backend/);
      }
    });

    it('refuses a cuda:0 tensor with ERR_CUDA_UNAVAILABLE and the reason', () => {
      const e = codeOf(() => native().empty([2, 3], 'float32', 'NCHW', 'cuda:0'));
      assert.equal(e.code, 'ERR_CUDA_UNAVAILABLE');
      assert.match(e.message, /cuda:0 is unavailable/);
      const e2 = codeOf(() => native().fromTypedArray(new Float32Array(4), [4], 'float32', 'NCHW', 'cuda:1'));
      assert.equal(e2.code, 'ERR_CUDA_UNAVAILABLE');
    });

    it('memoryStats names the device; emptyCache is harmless', () => {
      const e = codeOf(() => cuda.memoryStats('cuda:0'));
      assert.equal(e.code, 'ERR_CUDA_UNAVAILABLE');
      assert.doesNotThrow(() => cuda.emptyCache());
    });

    it('the event timer refuses an unusable cuda device with ERR_CUDA_UNAVAILABLE', () => {
      assert.equal(codeOf(() => cuda.startTimer('cuda:0')).code, 'ERR_CUDA_UNAVAILABLE');
    });
  });

  it('the event timer names its bad arguments', () => {
    const e = codeOf(() => native().eventTimerStart('cpu'));
    assert.ok(/eventTimerStart/.test(e.message) && /'device'/.test(e.message) && /cuda device/.test(e.message), e.message);
    assert.throws(() => native().eventTimerStart('gpu7' as never), TypeError);
    assert.throws(
      () => native().eventTimerStop({ device: 'cuda:0', stopped: false }),
      (x: unknown) => x instanceof TypeError && /'timer'/.test((x as Error).message),
    );
  });

  describe('with a GPU', () => {
    before(function () {
      if (!cuda.isAvailable()) this.skip();
    });

    it('times GPU work with CUDA events: once per timer, refused during a capture', () => {
      const x = native().full([1 << 22], 'float32', 'NCHW', 'cuda:0', 1);
      const t0 = process.hrtime.bigint();
      const t = native().eventTimerStart('cuda:0');
      for (let i = 0; i < 20; i++) native().axpy(0.5, x, x);
      const ms = native().eventTimerStop(t);
      const hostMs = Number(process.hrtime.bigint() - t0) / 1e6;
      assert.ok(ms > 0 && ms <= hostMs + 0.5, `event time ${ms} ms vs host ${hostMs} ms`);
      assert.equal(t.stopped, true);
      assert.throws(() => native().eventTimerStop(t), /already stopped/);
      native().graphCaptureBegin('cuda:0');
      try {
        assert.equal(codeOf(() => native().eventTimerStart('cuda:0')).code, 'ERR_CAPTURE_FORBIDDEN');
      } finally {
        native().graphCaptureAbort('cuda:0');
      }
      x.dispose();
    });

    it('reports versions and devices', () => {
      const v = cuda.versions();
      assert.match(v.cudnn ?? '', /^9\.\d+\.\d+$/);
      assert.match(v.driver ?? '', /^\d+\.\d+$/);
      assert.ok(v.cudnnPath && v.cudnnPath.includes('libcudnn'));
      assert.ok(cuda.devices()[0].name.length > 0);
    });

    it('caches freed blocks and reuses them without cudaMalloc', () => {
      const t0 = native().empty([4, MiB / 4], 'float32', 'NCHW', 'cuda:0'); // 4 MiB
      const s1 = cuda.memoryStats(0);
      assert.ok(s1.allocated >= 4 * MiB);
      assert.ok(s1.reserved >= s1.allocated);
      assert.ok(s1.peakAllocated >= s1.allocated);
      t0.dispose();
      const s2 = cuda.memoryStats(0);
      assert.ok(s2.allocated <= s1.allocated - 4 * MiB, 'the block left the allocated count'); // <=: a GC may free others
      assert.equal(s2.reserved, s1.reserved, 'the block stays reserved in the cache');
      const t1 = native().empty([4, MiB / 4], 'float32', 'NCHW', 'cuda:0');
      const s3 = cuda.memoryStats(0);
      assert.equal(s3.mallocCalls, s2.mallocCalls, 'served from the cache');
      assert.equal(s3.cacheHits, s2.cacheHits + 1);
      t1.dispose();
      cuda.emptyCache();
      const s4 = cuda.memoryStats(0);
      assert.ok(s4.reserved <= s3.reserved - 4 * MiB, 'emptyCache returned the block');
      assert.equal(s4.cachedBlocks, 0);
    });

    it('moves data host -> device -> device -> host exactly', () => {
      const src = Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i) * 1e3);
      const a = native().fromTypedArray(src, [10, 100], 'float32', 'NCHW', 'cuda:0');
      const b = native().empty([10, 100], 'float32', 'NCHW', 'cuda:0');
      native().copyInto(b, a);
      native().synchronize('cuda:0');
      assert.deepEqual(b.read(), src);
      const h = native().toDevice(b, 'cpu');
      assert.deepEqual(h.read(), src);
      for (const t of [a, b, h]) t.dispose();
    });

    it('fails an impossible allocation with ERR_CUDA_OOM naming the size', () => {
      const before = cuda.memoryStats(0).oomRetries;
      // 2^36 float32 = 256 GiB (the largest tensor allowed): more than any single GPU.
      const e = codeOf(() => native().empty([64, 1024, 1024, 1024], 'float32', 'NCHW', 'cuda:0'));
      assert.equal(e.code, 'ERR_CUDA_OOM');
      assert.match(e.message, /tried to allocate 262144\.0 MiB/);
      assert.match(e.message, /in use/);
      assert.equal(cuda.memoryStats(0).oomRetries, before + 1);
      // The device still works afterwards.
      const t = native().full([3], 'float32', 'NCHW', 'cuda:0', 2.5);
      assert.deepEqual(Array.from(t.read()), [2.5, 2.5, 2.5]);
      t.dispose();
    });

    // The CUDA-only paths of batch norm against the CPU reference on identical inputs: plain
    // cuDNN (fp32 NCHW), the fused cuDNN Ex kernel (bf16 NHWC + residual + ReLU), and our
    // kernels (eps below cuDNN's minimum).
    it('batch norm: cuDNN, fused cuDNN and kernel paths agree with the CPU', () => {
      const a = native();
      const asF32 = (t: NativeTensor): Float32Array => {
        const h = a.toDevice(t, 'cpu');
        const c = a.cast(h, 'float32');
        const n = c.shape.length === 4 ? a.toLayout(c, 'NCHW') : c;
        const v = Float32Array.from(n.read() as Float32Array);
        for (const u of new Set([h, c, n])) u.dispose();
        return v;
      };
      const maxRel = (x: Float32Array, y: Float32Array): number => {
        let m = 0,
          s = 1e-3;
        for (const v of y) s = Math.max(s, Math.abs(v));
        for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i] - y[i]) / s);
        return m;
      };
      const shape = [6, 8, 5, 7];
      const n = shape.reduce((p, q) => p * q, 1);
      const xs = Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37) * 2 + 0.3);
      const rs = Float32Array.from({ length: n }, (_, i) => Math.cos(i * 0.11));
      const gs = Float32Array.from({ length: 8 }, (_, i) => 0.5 + i * 0.1);
      const bs = Float32Array.from({ length: 8 }, (_, i) => i * 0.05 - 0.2);
      const cases: [DTypeName, LayoutName, number, boolean, number][] = [
        ['float32', 'NCHW', 1e-5, false, 1e-4],
        ['float32', 'NHWC', 1e-5, true, 1e-4],
        ['bfloat16', 'NHWC', 1e-5, true, 3e-2],
        ['float16', 'NHWC', 1e-5, true, 5e-3],
        ['float32', 'NCHW', 1e-7, true, 1e-4],
      ];
      for (const [dtype, layout, eps, fused, tol] of cases) {
        const out: Record<string, Float32Array[]> = {};
        for (const dev of ['cpu', 'cuda:0']) {
          const mk = (v: Float32Array, sh: number[], dt: DTypeName = dtype, ly: LayoutName = 'NCHW') => {
            const t = a.fromTypedArray(v, sh, dt, 'NCHW', dev);
            if (ly === 'NCHW') return t;
            const u = a.toLayout(t, ly);
            t.dispose();
            return u;
          };
          const x = mk(xs, shape, dtype, layout),
            res = mk(rs, shape, dtype, layout);
          const g = mk(gs, [8], 'float32'),
            b = mk(bs, [8], 'float32');
          const rm = a.full([8], 'float32', 'NCHW', dev, 0),
            rv = a.full([8], 'float32', 'NCHW', dev, 1);
          const counts0 = a.cudaInfo().fusedBatchNorm;
          const f = a.batchNormForwardTraining(x, g, b, rm, rv, 0.1, eps, fused ? res : null, fused);
          const dy = mk(
            rs.map((v) => v * 0.5 - 0.1),
            shape,
            dtype,
            layout,
          );
          // With the forward's reserve (cuDNN's fused backward where the forward was fused) and
          // without it (mask from y, plain backward): the same gradients either way.
          const bw = a.batchNormBackward(dy, x, g, f.saveMean, f.saveInvStd, eps, fused ? f.y : null, fused, fused, b, f.reserve);
          const bw2 = a.batchNormBackward(dy, x, g, f.saveMean, f.saveInvStd, eps, fused ? f.y : null, fused, fused);
          if (dev === 'cpu') assert.equal(f.reserve, null);
          else if (fused && layout === 'NHWC' && dtype === 'float16' && batchNormPath() === 'auto') {
            // cuDNN documents its fused NHWC kernels for fp16 (bf16 may fall back: counted, not asserted)
            const counts = a.cudaInfo().fusedBatchNorm;
            assert.ok(f.reserve !== null, `float16 NHWC: cuDNN's fused Ex forward did not run (fallbacks ${counts.fallbacks - counts0.fallbacks})`);
            assert.equal(counts.forward - counts0.forward, 1, 'one fused forward');
            assert.equal(counts.backward - counts0.backward, 1, 'one fused backward: the call given the reserve');
          }
          const grads = (r: typeof bw) => [r.dx, r.dgamma, r.dbeta, ...(r.dresidual ? [r.dresidual] : [])];
          out[dev] = [f.y, f.saveMean, f.saveInvStd, rm, rv, ...grads(bw), ...grads(bw2)].map(asF32);
          for (const t of [x, res, g, b, rm, rv, f.y, f.saveMean, f.saveInvStd, dy, ...grads(bw), ...grads(bw2)]) t.dispose();
          f.reserve?.dispose();
        }
        const gradNames = ['dx', 'dgamma', 'dbeta', ...(fused ? ['dresidual'] : [])];
        const names = ['y', 'saveMean', 'saveInvStd', 'runningMean', 'runningVar', ...gradNames, ...gradNames.map((n) => `${n} (no reserve)`)];
        names.forEach((name, k) => {
          const e = maxRel(out['cuda:0'][k], out.cpu[k]);
          assert.ok(e <= tol, `${dtype} ${layout} eps=${eps} fused=${fused}: ${name} max rel err ${e.toExponential(2)} > ${tol}`);
        });
      }
    });

    it('records the convolution algorithm it chose', () => {
      const x = native().full([2, 3, 8, 8], 'float32', 'NCHW', 'cuda:0', 1);
      const w = native().full([4, 3, 3, 3], 'float32', 'NCHW', 'cuda:0', 0.5);
      const y = native().conv2dForward(x, w, null, [1, 1, 1, 1, 1, 1], false);
      const center = y.read()[4 * 8 + 4];
      assert.ok(Math.abs(center - 13.5) < 1e-4, `center ${center}`); // 27 taps of 1 * 0.5
      assert.ok(cuda.info().convAlgorithms.some((l) => l.startsWith('fwd x[2,3,8,8] w[4,3,3,3]')));
      for (const t of [x, w, y]) t.dispose();
    });
  });
});
