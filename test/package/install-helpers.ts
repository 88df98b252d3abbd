// Helpers for install.test.ts: staging and packing the package as npm would publish it,
// running npm and node as a user without a compiler would, and installing the tarball into a
// fresh consumer project. They live apart from the test so the test file reads as the claims
// it checks about the published package; this file holds the machinery that sets them up.
import * as assert from 'node:assert/strict';
import { spawnSync, SpawnSyncReturns } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { addonPath } from '../../lib/env';
import { packageRoot } from '../../lib/native';

export const root = packageRoot();
// The compiled tree this test runs from (dist/ in CI, dist-<name>/ in a session): its lib/
// is what gets packed, so the test checks the code it was compiled with.
const distDir = path.resolve(__dirname, '..', '..');
export const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { name: string; version: string };
export const PREBUILT = `prebuilds/${process.platform}-${process.arch}/${pkg.name}.napi.glibc.node`;
export const TOOLS = ['cc', 'gcc', 'g++', 'c++', 'make', 'cmake', 'nvcc', 'python3'];

function addonToPack(): string | null {
  const explicit = addonPath();
  const file = explicit ? path.resolve(explicit) : path.join(root, 'build', 'Release', 'cudnn_resnet.node');
  return fs.existsSync(file) ? file : null;
}

function npmCli(): string | null {
  if (process.env.npm_execpath && /npm-cli\.js$/.test(process.env.npm_execpath)) return process.env.npm_execpath;
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const p = path.join(dir, 'npm');
    if (fs.existsSync(p)) {
      const real = fs.realpathSync(p);
      const cli = path.join(path.dirname(real), 'npm-cli.js');
      if (fs.existsSync(cli)) return cli;
    }
  }
  return null;
}

export function skipReason(): string | null {
  if (process.platform !== 'linux' || process.arch !== 'x64') return `prebuilt binaries are made for linux-x64, this is ${process.platform}-${process.arch}`;
  if (!addonToPack()) return 'no compiled addon to package (run `npm run build:native` or set CUDNN_RESNET_ADDON)';
  if (!npmCli()) return 'npm not found on PATH';
  if (!fs.existsSync(path.join(distDir, 'lib', 'index.js'))) return `${distDir}/lib/index.js is missing`;
  return null;
}

export interface Ctx {
  installLog: string;
  tmp: string;
  tarball: string;
  app: string;
  env: NodeJS.ProcessEnv;
}

/** Environment for the user's side: only node, npm, npx and sh on PATH; npm's own config kept. */
function userEnv(tmp: string): NodeJS.ProcessEnv {
  const bin = path.join(tmp, 'bin');
  fs.mkdirSync(bin, { recursive: true });
  const cli = npmCli()!;
  fs.symlinkSync(process.execPath, path.join(bin, 'node'));
  fs.symlinkSync(cli, path.join(bin, 'npm'));
  fs.symlinkSync(path.join(path.dirname(cli), 'npx-cli.js'), path.join(bin, 'npx'));
  // npm runs lifecycle scripts with `sh` from PATH; a shell is not a build tool.
  fs.symlinkSync('/bin/sh', path.join(bin, 'sh'));
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    // Drop what `npm test` exports for this repository and our own overrides, keep the rest
    // (HOME, proxy settings, the npm cache and registry a CI may configure).
    if (/^npm_/i.test(k) && !/^npm_config_(cache|registry|userconfig|.*proxy)$/i.test(k)) continue;
    if (k.startsWith('CUDNN_RESNET_') || k === 'NODE_OPTIONS') continue;
    env[k] = v;
  }
  env.PATH = bin;
  env.npm_config_update_notifier = 'false';
  env.npm_config_fund = 'false';
  env.npm_config_audit = 'false';
  return env;
}

export function sh(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { cwd, env, encoding: 'utf8', timeout: 180000, maxBuffer: 32 << 20 });
}

export function ok(r: SpawnSyncReturns<string>, what: string): string {
  assert.equal(r.status, 0, `${what} failed (status ${r.status}${r.error ? `, ${r.error.message}` : ''}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

function copyTree(from: string, to: string, keep: (rel: string) => boolean): void {
  for (const rel of fs.readdirSync(from, { recursive: true }) as string[]) {
    const src = path.join(from, rel);
    if (!fs.statSync(src).isFile() || !keep(rel)) continue;
    fs.mkdirSync(path.dirname(path.join(to, rel)), { recursive: true });
    fs.copyFileSync(src, path.join(to, rel));
  }
}

export interface PackResult {
  filename: string;
  size: number;
  unpackedSize: number;
  entryCount: number;
  files: { path: string; size: number }[];
}

/** The package folder as npm would pack it from the repository, with lib/ from distDir. */
function stage(tmp: string): string {
  const staging = path.join(tmp, 'staging');
  const dry = JSON.parse(
    ok(
      spawnSync(process.execPath, [npmCli()!, 'pack', '--dry-run', '--json', '--ignore-scripts'], {
        cwd: root,
        encoding: 'utf8',
        env: { ...process.env, npm_config_loglevel: 'error' },
      }),
      'npm pack --dry-run',
    ),
  ) as PackResult[];
  for (const f of dry[0].files) {
    if (/^(dist|prebuilds)\//.test(f.path)) continue;
    fs.mkdirSync(path.dirname(path.join(staging, f.path)), { recursive: true });
    fs.copyFileSync(path.join(root, f.path), path.join(staging, f.path));
  }
  copyTree(path.join(distDir, 'lib'), path.join(staging, 'dist', 'lib'), (rel) => /\.(js|d\.ts)$/.test(rel));
  ok(
    spawnSync(process.execPath, [path.join(root, 'scripts', 'package-prebuilds.js'), '--from', addonToPack()!, '--out', staging], {
      cwd: root,
      encoding: 'utf8',
    }),
    'scripts/package-prebuilds.js',
  );
  return staging;
}

/** Stages and packs the package into `tmp`; prints its size so the log shows what shipped. */
export function packTarball(tmp: string): PackResult {
  const staging = stage(tmp);
  // --ignore-scripts: prepack would compile TypeScript, and staging has lib/ compiled already
  // (the prepack check itself is tested in install.test.ts).
  const out = ok(
    spawnSync(process.execPath, [npmCli()!, 'pack', '--json', '--ignore-scripts', '--pack-destination', tmp], {
      cwd: staging,
      encoding: 'utf8',
      env: { ...process.env, npm_config_loglevel: 'error' },
    }),
    'npm pack',
  );
  const packed = (JSON.parse(out) as PackResult[])[0];
  console.log(
    `      packed ${packed.filename}: ${(packed.size / 1024).toFixed(0)} KiB, unpacked ` +
      `${(packed.unpackedSize / 1024).toFixed(0)} KiB, ${packed.entryCount} files`,
  );
  return packed;
}

/** Installs ctx.tarball into a fresh consumer project at ctx.app, as the user's environment would. */
export function installIntoApp(ctx: Ctx): void {
  ctx.env = userEnv(ctx.tmp);
  ctx.app = path.join(ctx.tmp, 'app');
  fs.mkdirSync(ctx.app);
  fs.writeFileSync(path.join(ctx.app, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }));
  const install = sh('npm', ['install', ctx.tarball, '--prefer-offline'], ctx.app, ctx.env);
  ok(install, 'npm install <tarball>');
  // npm 11.x before blocking prints its script policy here; shown so the log says which mode ran.
  ctx.installLog = `${install.stdout}${install.stderr}`;
  const policy = ctx.installLog.split('\n').find((l) => /install.scripts/i.test(l));
  const npmVersion = sh('npm', ['--version'], ctx.app, ctx.env).stdout.trim();
  console.log(`      npm ${npmVersion}: ${policy?.replace(/^npm warn\s*/, '').trim() ?? 'no install-script notice'}`);
}
