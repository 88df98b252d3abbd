// The CPU kernels under each kernel switch. CUDNN_RESNET_CPU_CONV and CUDNN_RESNET_CPU_GEMM
// are read once, when the addon loads, so each setting gets its own process: a child reports
// its buildInfo() (which GEMM and which direct kernel it chose), and the conv suite
// (test/native/conv.test.ts, naive references and finite differences) runs again in a child
// under the setting, so every kernel this CPU can run is tested, not just the one it picks.
// The batch-norm plane loops follow the GEMM cap (AVX-512, AVX2, baseline), so the batch-norm
// suite runs again under each cap too, and all three must give the same bits.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

import { NativeBuildInfo } from '../../lib/native';

const nativeModule = path.resolve(__dirname, '..', '..', 'lib', 'native.js');
const convSuite = path.resolve(__dirname, 'conv.test.js');
const batchNormSuite = path.resolve(__dirname, 'batchnorm.test.js');
const poolingSuite = path.resolve(__dirname, 'pooling.test.js');

type Switches = Record<string, string>;

function child(args: string[], switches: Switches) {
  // Unset first: a switch exported in the shell that runs the tests must not leak into a
  // child that is meant to run without it.
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.CUDNN_RESNET_CPU_CONV;
  delete env.CUDNN_RESNET_CPU_GEMM;
  return spawnSync(process.execPath, args, { encoding: 'utf8', env: { ...env, ...switches }, timeout: 280000 });
}

function buildInfoUnder(switches: Switches): NativeBuildInfo {
  const r = child(['-e', `process.stdout.write(JSON.stringify(require(${JSON.stringify(nativeModule)}).native().buildInfo()))`], switches);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as NativeBuildInfo;
}

/** The direct 3x3 kernel a process with these switches must choose, given the GEMM kernel it chose. */
function expectedDirect(switches: Switches, gemmKernel: string): string {
  if (switches.CUDNN_RESNET_CPU_CONV === 'gemm') return 'none';
  return gemmKernel === 'avx512' || gemmKernel === 'avx2-fma' ? gemmKernel : 'none';
}

const SETTINGS: Switches[] = [
  {},
  { CUDNN_RESNET_CPU_CONV: 'gemm' },
  { CUDNN_RESNET_CPU_GEMM: 'avx2' },
  { CUDNN_RESNET_CPU_GEMM: 'avx2', CUDNN_RESNET_CPU_CONV: 'gemm' },
  { CUDNN_RESNET_CPU_GEMM: 'generic' },
];

// Forward and backward data of direct-eligible convolutions (16-pixel and larger planes, odd
// channel counts) on fixed pseudo-random data; prints a digest of the results' bytes.
const directDigest = `
const { native } = require(${JSON.stringify(nativeModule)});
const hash = require('node:crypto').createHash('sha256');
let seed = 12345;
const fill = (n) => Float32Array.from({ length: n }, () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 1073741824 - 1));
const A = native();
for (const [x, w] of [[[3, 13, 16, 16], [11, 13, 3, 3]], [[5, 9, 4, 4], [6, 9, 3, 3]], [[2, 5, 7, 17], [7, 5, 3, 3]]]) {
  const xt = A.fromTypedArray(fill(x.reduce((a, b) => a * b)), x, 'float32', 'NCHW', 'cpu');
  const wt = A.fromTypedArray(fill(w.reduce((a, b) => a * b)), w, 'float32', 'NCHW', 'cpu');
  const y = A.conv2dForward(xt, wt, null, [1, 1, 1, 1, 1, 1], false);
  const dx = A.conv2dBackwardData(y, wt, x, [1, 1, 1, 1, 1, 1], false);
  for (const t of [y, dx]) hash.update(new Uint8Array(t.read().buffer));
  for (const t of [xt, wt, y, dx]) t.dispose();
}
process.stdout.write(JSON.stringify({ kernel: A.buildInfo().cpuDirectConv, digest: hash.digest('hex') }));
`;

// The weight gradient of direct-eligible convolutions: filter counts that fill no vector (5:
// one part-full 8-filter vector; 11, 13: a full and a part-full one, or one part-full
// 16-filter vector), 24 and 37 (16-filter AVX2 tiles, then an 8-filter one), odd channel
// counts, 4x4 and 7x17 planes, several runs and groups of images (batch 40 at 16x16); a
// digest of dw's bytes.
const filterDigest = `
const { native } = require(${JSON.stringify(nativeModule)});
const hash = require('node:crypto').createHash('sha256');
let seed = 4242;
const fill = (n) => Float32Array.from({ length: n }, () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 1073741824 - 1));
const A = native();
const shapes = [[[3, 13, 16, 16], 11], [[5, 9, 4, 4], 5], [[2, 5, 7, 17], 13], [[7, 3, 4, 4], 37], [[3, 7, 9, 9], 24], [[40, 16, 16, 16], 16], [[4, 16, 32, 32], 32]];
for (const [x, K] of shapes) {
  const xt = A.fromTypedArray(fill(x.reduce((a, b) => a * b)), x, 'float32', 'NCHW', 'cpu');
  const dy = A.fromTypedArray(fill(x[0] * K * x[2] * x[3]), [x[0], K, x[2], x[3]], 'float32', 'NCHW', 'cpu');
  const dw = A.conv2dBackwardFilter(dy, xt, [K, x[1], 3, 3], [1, 1, 1, 1, 1, 1], false);
  hash.update(new Uint8Array(dw.read().buffer));
  for (const t of [xt, dy, dw]) t.dispose();
}
process.stdout.write(JSON.stringify({ kernel: A.buildInfo().cpuDirectConv, digest: hash.digest('hex') }));
`;

// Batch-norm forward (plain, and with residual + ReLU) and backward on odd shapes; a digest of
// every output's bytes.
const batchNormDigest = `
const { native } = require(${JSON.stringify(nativeModule)});
const hash = require('node:crypto').createHash('sha256');
let seed = 777;
const fill = (n, mean) => Float32Array.from({ length: n }, () => mean + ((seed = (seed * 1103515245 + 12345) % 2147483648) / 1073741824 - 1));
const A = native();
const t = (a, shape) => A.fromTypedArray(a, shape, 'float32', 'NCHW', 'cpu');
for (const [N, C, H, W] of [[3, 5, 7, 9], [2, 16, 32, 33], [5, 3, 1, 1]]) {
  const n = N * C * H * W;
  const x = t(fill(n, 3), [N, C, H, W]), res = t(fill(n, 0), [N, C, H, W]), dy = t(fill(n, 0), [N, C, H, W]);
  const g = t(fill(C, 1), [C]), b = t(fill(C, 0), [C]);
  for (const fused of [false, true]) {
    const rm = t(new Float32Array(C), [C]), rv = t(new Float32Array(C).fill(1), [C]);
    const f = A.batchNormForwardTraining(x, g, b, rm, rv, 0.1, 1e-5, fused ? res : null, fused);
    const bw = A.batchNormBackward(dy, x, g, f.saveMean, f.saveInvStd, 1e-5, fused ? f.y : null, fused, fused);
    const outs = [f.y, f.saveMean, f.saveInvStd, rm, rv, bw.dx, bw.dgamma, bw.dbeta, ...(bw.dresidual ? [bw.dresidual] : [])];
    for (const o of outs) hash.update(new Uint8Array(o.read().buffer));
    for (const o of outs) o.dispose();
  }
  for (const o of [x, res, dy, g, b]) o.dispose();
}
process.stdout.write(JSON.stringify({ kernel: A.buildInfo().cpuKernel, digest: hash.digest('hex') }));
`;

function digestUnder(switches: Switches, script = directDigest): { kernel: string; digest: string } {
  const r = child(['-e', script], switches);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as { kernel: string; digest: string };
}

describe('CPU kernels under each kernel switch', function () {
  this.timeout(300000);

  // The plane loops add in 16 lanes in a fixed order and never contract to FMA.
  it('batch norm gives the same bits with its AVX-512, AVX2 and baseline loops', () => {
    const wide = digestUnder({}, batchNormDigest);
    for (const cap of ['avx2', 'generic']) {
      const capped = digestUnder({ CUDNN_RESNET_CPU_GEMM: cap }, batchNormDigest);
      assert.equal(capped.digest, wide.digest, `CUDNN_RESNET_CPU_GEMM=${cap} (kernel ${capped.kernel})`);
    }
  });

  // Both direct kernels sum each output over input channels, then taps, one FMA at a time.
  it('the AVX-512 and AVX2 direct kernels give the same bits (where the CPU has both)', function () {
    const wide = digestUnder({});
    if (wide.kernel !== 'avx512') this.skip();
    const narrow = digestUnder({ CUDNN_RESNET_CPU_GEMM: 'avx2' });
    assert.equal(narrow.kernel, 'avx2-fma');
    assert.equal(narrow.digest, wide.digest);
    // The unfolded path rounds differently: the comparison above can tell kernels apart.
    assert.notEqual(digestUnder({ CUDNN_RESNET_CPU_CONV: 'gemm' }).digest, wide.digest);
  });

  // Both weight-gradient kernels sum each (filter, channel, tap) over the pixels in order, one
  // FMA at a time, in the same groups of images, and add the runs in order.
  it('the AVX-512 and AVX2 weight-gradient kernels give the same bits (where the CPU has both)', function () {
    const wide = digestUnder({}, filterDigest);
    if (wide.kernel !== 'avx512') this.skip();
    const narrow = digestUnder({ CUDNN_RESNET_CPU_GEMM: 'avx2' }, filterDigest);
    assert.equal(narrow.kernel, 'avx2-fma');
    assert.equal(narrow.digest, wide.digest);
    // Unfold + GEMM rounds differently, so the comparison can tell the paths apart, and the
    // switches that turn the direct kernels off turn this one off too.
    const offSwitches: Switches[] = [
      { CUDNN_RESNET_CPU_CONV: 'gemm' },
      { CUDNN_RESNET_CPU_GEMM: 'avx2', CUDNN_RESNET_CPU_CONV: 'gemm' },
      { CUDNN_RESNET_CPU_GEMM: 'generic' },
    ];
    for (const off of offSwitches) assert.notEqual(digestUnder(off, filterDigest).digest, wide.digest, JSON.stringify(off));
  });

  for (const switches of SETTINGS) {
    const label = Object.entries(switches)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ');
    describe(label || 'no switch', () => {
      it('chooses the direct kernel the switches allow', () => {
        const info = buildInfoUnder(switches);
        if (switches.CUDNN_RESNET_CPU_GEMM === 'generic') assert.equal(info.cpuKernel, 'generic');
        if (switches.CUDNN_RESNET_CPU_GEMM === 'avx2') assert.notEqual(info.cpuKernel, 'avx512');
        assert.equal(info.cpuDirectConv, expectedDirect(switches, info.cpuKernel));
      });

      // The whole setting list costs a few seconds; the default setting is the parent's own run.
      // Batch norm and max pooling read only the GEMM cap.
      const suites = [convSuite, ...(switches.CUDNN_RESNET_CPU_GEMM ? [batchNormSuite, poolingSuite] : [])];
      if (label)
        it(`passes the ${suites.length > 1 ? 'conv, batch-norm and pooling suites' : 'conv suite'}`, () => {
          const r = child([require.resolve('mocha/bin/mocha.js'), '--no-config', '--timeout', '300000', '--reporter', 'dot', ...suites], switches);
          assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
          assert.match(r.stdout, /\d+ passing/);
          assert.doesNotMatch(r.stdout, /failing/);
        });
    });
  }
});
