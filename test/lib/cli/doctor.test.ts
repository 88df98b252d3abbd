// The CLI dispatcher and `cudnn-resnet doctor`, run as a user runs them: in a child process,
// checking what they print and their exit codes (0 fine, 1 a failed check, 2 a usage error).
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { archSupport } from '../../../lib/cli/doctor';
import { main } from '../../../lib/cli/main';
import { native, nativeAddonFile } from '../../../lib/native';
import { cudaUnavailableReason } from '../../helpers/devices';

const cli = path.resolve(__dirname, '..', '..', '..', 'lib', 'cli', 'main.js');
const version = (JSON.parse(fs.readFileSync(path.resolve(__dirname, '..', '..', '..', '..', 'package.json'), 'utf8')) as { version: string }).version;

function cudnnResnet(args: string[], env: NodeJS.ProcessEnv = process.env) {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env, timeout: 60000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface Report {
  version: string;
  ok: boolean;
  gpuUsable: boolean;
  checks: { section: string; name: string; status: string; detail: string; fix?: string }[];
}

describe('cli: dispatcher', () => {
  it('--version prints the package version', () => {
    const r = cudnnResnet(['--version']);
    assert.equal(r.status, 0);
    assert.equal(r.stdout.trim(), version);
  });

  it('--help lists the subcommands and exits 0', () => {
    const r = cudnnResnet(['--help']);
    assert.equal(r.status, 0);
    assert.match(r.stdout, /^usage: cudnn-resnet <command>/m);
    assert.match(r.stdout, /^ {2}doctor {2}/m);
  });

  it('no command, an unknown command or an unknown option: usage on stderr, exit 2', () => {
    for (const args of [[], ['frobnicate'], ['--frobnicate']]) {
      const r = cudnnResnet(args);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, /usage: cudnn-resnet <command>/);
      assert.equal(r.stdout, '');
    }
    assert.match(cudnnResnet(['frobnicate']).stderr, /unknown command 'frobnicate'/);
  });

  it('a subcommand usage error exits 2 and prints that subcommand usage', () => {
    const r = cudnnResnet(['doctor', '--frobnicate']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--frobnicate/);
    assert.match(r.stderr, /usage: cudnn-resnet doctor \[--json\]/);
    const help = cudnnResnet(['doctor', '--help']);
    assert.equal(help.status, 0);
    assert.match(help.stdout, /^usage: cudnn-resnet doctor/);
  });

  it('main() reports through the io it is given', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(['--version'], { out: (t) => out.push(t), err: (t) => err.push(t) });
    assert.equal(code, 0);
    assert.deepEqual(out, [version]);
    assert.equal(await main(['nope'], { out: (t) => out.push(t), err: (t) => err.push(t) }), 2);
    assert.match(err.join(''), /unknown command 'nope'/);
  });
});

describe('cli: doctor', () => {
  it('reports platform, Node, the loaded addon and its build, and the GPU side, exit 0', () => {
    const addon = native();
    const info = addon.buildInfo();
    const r = cudnnResnet(['doctor']);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    for (const section of ['platform:', 'addon:', 'gpu:']) assert.match(r.stdout, new RegExp(`^${section}$`, 'm'));
    assert.ok(r.stdout.includes(process.version), 'names the Node version');
    assert.ok(r.stdout.includes(nativeAddonFile()!), `names the loaded file ${nativeAddonFile()}`);
    assert.match(r.stdout, info.cuda ? /CUDA compiled in \(/ : /CUDA not compiled in/);
    for (const name of ['driver', 'cuda runtime', 'cudnn', 'usable']) assert.match(r.stdout, new RegExp(`\\] ${name} `));
    assert.match(r.stdout, /^summary: the addon works/m);
    // Every warning comes with something to do.
    const warnings = r.stdout.split('\n').filter((l) => l.includes('[warn]')).length;
    assert.equal(r.stdout.split('\n').filter((l) => l.includes('-> ')).length, warnings);
  });

  it('--json: the same report, machine-readable, agreeing with the test suite on the GPU', () => {
    const r = cudnnResnet(['doctor', '--json']);
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout) as Report;
    assert.equal(report.version, version);
    assert.equal(report.ok, true);
    assert.equal(report.gpuUsable, cudaUnavailableReason() === null);
    const build = report.checks.find((c) => c.section === 'addon' && c.name === 'build');
    assert.ok(build);
    assert.ok(build.detail.includes(`version ${native().buildInfo().version}`));
    for (const c of report.checks) {
      assert.ok(['ok', 'warn', 'fail', 'info'].includes(c.status), JSON.stringify(c));
      if (c.status === 'warn' || c.status === 'fail') assert.ok(c.fix, `${c.name} has no fix: ${c.detail}`);
    }
  });

  it('--require-gpu fails (exit 1) exactly when cuda:0 is not usable', () => {
    const r = cudnnResnet(['doctor', '--require-gpu']);
    assert.equal(r.status, cudaUnavailableReason() === null ? 0 : 1, r.stdout);
  });

  it('an addon that does not load: FAIL with what was tried, exit 1', () => {
    const missing = path.join(__dirname, 'no-such-addon.node');
    const r = cudnnResnet(['doctor'], { ...process.env, CUDNN_RESNET_ADDON: missing });
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /\[FAIL\] load/);
    assert.ok(r.stdout.includes(`CUDNN_RESNET_ADDON=${missing}: no such file`), r.stdout);
    assert.match(r.stdout, /-> build it from source: `npm run build:from-source` in node_modules\/cudnn-resnet/);
    assert.match(r.stdout, /^summary: FAILED/m);
    assert.match(r.stdout, /\] usable +no GPU use: the addon did not load/);
  });

  it('says whether the built architectures cover a GPU (SASS by major version, else PTX JIT)', () => {
    const archs = ['80-real', '86-real', '89-real', '90-real', '90-virtual'];
    assert.equal(archSupport('9.0', archs), 'native code (sm_90)');
    assert.equal(archSupport('8.9', archs), 'native code (sm_89)');
    assert.equal(archSupport('8.7', archs), 'native code (sm_86)');
    assert.match(archSupport('12.0', archs), /^PTX compute_90/);
    assert.match(archSupport('10.0', ['80', '90']), /^PTX compute_90/);
    assert.match(archSupport('7.5', archs), /^none/);
  });
});
