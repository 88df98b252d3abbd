// The CPU convolution under each kernel switch. CUDNN_RESNET_CPU_CONV and CUDNN_RESNET_CPU_GEMM
// are read once, when the addon loads, so each setting gets its own process: a child reports
// its buildInfo() (which GEMM and which direct kernel it chose), and the conv suite
// (test/native/conv.test.ts, naive references and finite differences) runs again in a child
// under the setting, so every kernel this CPU can run is tested, not just the one it picks.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

import { NativeBuildInfo } from '../../lib/native';

const nativeModule = path.resolve(__dirname, '..', '..', 'lib', 'native.js');
const convSuite = path.resolve(__dirname, 'conv.test.js');

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
  return gemmKernel === 'avx512' ? gemmKernel : 'none';
}

const SETTINGS: Switches[] = [
  {},
  { CUDNN_RESNET_CPU_CONV: 'gemm' },
  { CUDNN_RESNET_CPU_GEMM: 'avx2' },
  { CUDNN_RESNET_CPU_GEMM: 'avx2', CUDNN_RESNET_CPU_CONV: 'gemm' },
  { CUDNN_RESNET_CPU_GEMM: 'generic' },
];

describe('conv2d under each CPU kernel switch', function () {
  this.timeout(300000);

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
      if (label)
        it('passes the conv suite', () => {
          const r = child([require.resolve('mocha/bin/mocha.js'), '--no-config', '--timeout', '300000', '--reporter', 'dot', convSuite], switches);
          assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
          assert.match(r.stdout, /\d+ passing/);
          assert.doesNotMatch(r.stdout, /failing/);
        });
    });
  }
});
