#!/usr/bin/env node
// `npm run package:prebuilds`: puts a release build of the addon, stripped, where node-gyp-build
// looks for a shipped binary (prebuilds/<platform>-<arch>/), plus a JSON record of what it is.
//
// Why not prebuildify: it only drives node-gyp, and our release build is cmake-js (the CUDA
// backend, the static CUDA runtime and the architecture list live in CMakeLists.txt;
// binding.gyp is the CPU-only fallback). So this script runs scripts/build-native.js, or
// reuses build/Release when that output is current (CI has just built it in `npm ci`, and a
// CUDA build costs minutes on 2 cores), then strips and copies it under prebuildify's naming.
//
//   node scripts/package-prebuilds.js [--from <file.node>] [--out <dir>] [--no-build]
//     --from <file>  package this compiled addon as it is (tests use it); no currency check
//     --out <dir>    package root to write prebuilds/ into (default: this repository)
//     --no-build     fail (exit 3) instead of building when no current build exists
//   CUDNN_RESNET_BUILD_DIR  build folder to reuse or build into (default build/)
//   CUDNN_RESNET_NO_CUDA=1  a CPU-only release is acceptable even where nvcc exists
'use strict';
const { spawnSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const env = require('./env');

const root = path.resolve(__dirname, '..');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));

/** node-gyp-build's tag grammar (see its parseTags): <name>.napi.<libc>.node. The package
 * name comes first as prebuildify@6 writes it; `napi` marks an ABI-stable Node-API build, so
 * every Node version and Electron take it; the libc tag keeps musl (Alpine) from loading a
 * glibc binary and getting a cryptic dlopen error instead of our load-failure message. */
function prebuildName(libc) {
  const tags = [pkg.name.replace(/\//g, '+'), 'napi'];
  if (libc) tags.push(libc);
  return `${tags.join('.')}.node`;
}

function libcFamily() {
  if (process.platform !== 'linux') return null;
  const report = process.report?.getReport?.();
  return report?.header?.glibcVersionRuntime ? 'glibc' : 'musl';
}

function parseArgs(argv) {
  const opts = { from: null, out: root, build: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--from') opts.from = path.resolve(argv[++i] ?? '');
    else if (a === '--out') opts.out = path.resolve(argv[++i] ?? '');
    else if (a === '--no-build') opts.build = false;
    else {
      console.error(`package-prebuilds: unknown argument ${a}\nusage: node scripts/package-prebuilds.js [--from <file.node>] [--out <dir>] [--no-build]`);
      process.exit(2);
    }
  }
  return opts;
}

function which(cmd) {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const p = path.join(dir, cmd);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      // not there or not executable: try the next folder of PATH
    }
  }
  return null;
}

function nvccPath() {
  return which('nvcc') ?? (fs.existsSync('/usr/local/cuda/bin/nvcc') ? '/usr/local/cuda/bin/nvcc' : null);
}

function newestInput() {
  let newest = { file: null, mtime: 0 };
  const visit = (p) => {
    const st = fs.statSync(p);
    if (st.isDirectory()) for (const e of fs.readdirSync(p)) visit(path.join(p, e));
    else if (st.mtimeMs > newest.mtime) newest = { file: path.relative(root, p), mtime: st.mtimeMs };
  };
  for (const p of ['native', 'CMakeLists.txt']) if (fs.existsSync(path.join(root, p))) visit(path.join(root, p));
  return newest;
}

/** buildInfo() of an addon, read in a child so a bad binary cannot take this process down. */
function buildInfoOf(file) {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(JSON.stringify(require(process.argv[1]).buildInfo()))', file], { encoding: 'utf8' });
  if (r.status !== 0) return { error: (r.stderr || `exit ${r.status}`).trim().split('\n')[0] };
  return JSON.parse(r.stdout);
}

/** Why the build in buildDir cannot be shipped as it is, or null when it can. */
function staleReason(buildDir, wantCuda) {
  const file = path.join(buildDir, 'Release', 'cudnn_resnet.node');
  if (!fs.existsSync(file)) return `${file} does not exist`;
  // node-gyp writes a Makefile build of binding.gyp there: CPU only, not our release build.
  if (!fs.existsSync(path.join(buildDir, 'CMakeCache.txt'))) return `${buildDir} is not a cmake-js build`;
  const cache = fs.readFileSync(path.join(buildDir, 'CMakeCache.txt'), 'utf8');
  const type = /^CMAKE_BUILD_TYPE:\w+=(.*)$/m.exec(cache)?.[1] ?? '';
  if (type && type !== 'Release') return `${buildDir} is a ${type} build`;
  const newest = newestInput();
  if (newest.mtime > fs.statSync(file).mtimeMs) return `${newest.file} is newer than ${file}`;
  const info = buildInfoOf(file);
  if (info.error) return `${file} does not load: ${info.error}`;
  if (info.version !== pkg.version) return `${file} is version ${info.version}, package.json says ${pkg.version}`;
  if (wantCuda && !info.cuda) return `${file} was built without CUDA but nvcc is here (set CUDNN_RESNET_NO_CUDA=1 to ship it anyway)`;
  return null;
}

/** Highest GLIBC_x.y / GLIBCXX_x.y.z symbol versions the binary imports: the oldest C and
 * C++ runtimes it loads with. Measured with objdump -T (binutils); null when that is absent. */
function runtimeRequirements(file) {
  const r = spawnSync('objdump', ['-T', file], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) return { glibc: null, glibcxx: null, measuredWith: null };
  const max = (re) => {
    let best = null;
    for (const m of r.stdout.matchAll(re)) {
      const v = m[1].split('.').map(Number);
      if (!best || cmpVersion(v, best) > 0) best = v;
    }
    return best ? best.join('.') : null;
  };
  return { glibc: max(/\bGLIBC_(\d+(?:\.\d+)+)\b/g), glibcxx: max(/\bGLIBCXX_(\d+(?:\.\d+)+)\b/g), measuredWith: 'objdump -T' };
}

function cmpVersion(a, b) {
  for (let i = 0; i < Math.max(a.length, b.length); i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) - (b[i] ?? 0);
  return 0;
}

function nvccVersion(nvcc) {
  if (!nvcc) return null;
  const r = spawnSync(nvcc, ['--version'], { encoding: 'utf8' });
  return /release ([\d.]+)/.exec(r.stdout ?? '')?.[1] ?? null;
}

function main() {
  const opts = parseArgs(process.argv.slice(2));
  let source = opts.from;
  let how = 'given with --from';
  if (!source) {
    const buildDir = path.resolve(root, env.buildDir() || 'build');
    const nvcc = env.noCuda() ? null : nvccPath();
    const stale = staleReason(buildDir, nvcc !== null);
    source = path.join(buildDir, 'Release', 'cudnn_resnet.node');
    how = `reused ${path.relative(root, source)} (current)`;
    if (stale) {
      if (!opts.build) {
        console.error(`package-prebuilds: no current build to package: ${stale}`);
        process.exit(3);
      }
      console.log(`package-prebuilds: building (${stale})`);
      const env = { ...process.env, CUDNN_RESNET_BUILD_DIR: buildDir };
      if (nvcc) env.PATH = `${path.dirname(nvcc)}${path.delimiter}${env.PATH}`;
      const r = spawnSync(process.execPath, [path.join(__dirname, 'build-native.js')], { cwd: root, env, stdio: 'inherit' });
      if (r.status !== 0) process.exit(r.status ?? 1);
      how = `built by cmake-js into ${path.relative(root, buildDir)}`;
    }
  }
  if (!fs.existsSync(source)) {
    console.error(`package-prebuilds: ${source} does not exist`);
    process.exit(3);
  }
  const info = buildInfoOf(source);
  if (info.error) {
    console.error(`package-prebuilds: ${source} does not load: ${info.error}`);
    process.exit(1);
  }

  const libc = libcFamily();
  const dir = path.join(opts.out, 'prebuilds', `${process.platform}-${process.arch}`);
  fs.mkdirSync(dir, { recursive: true });
  for (const old of fs.readdirSync(dir)) fs.rmSync(path.join(dir, old), { force: true });
  const dest = path.join(dir, prebuildName(libc));
  // Symbols are most of an unstripped addon; a user's stack trace through the addon does
  // not need them, and the package downloads faster without them.
  const strip = spawnSync('strip', ['--strip-unneeded', '-o', dest, source], { encoding: 'utf8' });
  const stripped = strip.status === 0;
  if (!stripped) {
    console.warn(`package-prebuilds: strip failed or is missing (${(strip.stderr || strip.error?.message || '').trim()}); shipping unstripped`);
    fs.copyFileSync(source, dest);
  }
  fs.chmodSync(dest, 0o755);
  const check = buildInfoOf(dest);
  if (check.error) {
    console.error(`package-prebuilds: the stripped binary does not load: ${check.error}`);
    process.exit(1);
  }

  const bytes = fs.readFileSync(dest);
  const record = {
    package: pkg.name,
    version: info.version,
    file: path.basename(dest),
    platform: process.platform,
    arch: process.arch,
    libc,
    napiVersion: info.napiVersion,
    cuda: info.cuda,
    cudaArchitectures: info.cudaArchitectures ? info.cudaArchitectures.split(/[;,\s]+/).filter(Boolean) : [],
    nvcc: info.cuda ? nvccVersion(nvccPath()) : null,
    requires: runtimeRequirements(dest),
    bytes: bytes.length,
    unstrippedBytes: fs.statSync(source).size,
    stripped,
    sha256: crypto.createHash('sha256').update(bytes).digest('hex'),
    source: how,
    builtAt: new Date().toISOString(),
  };
  fs.writeFileSync(dest.replace(/\.node$/, '.json'), `${JSON.stringify(record, null, 2)}\n`);
  const mib = (n) => `${(n / 1048576).toFixed(2)} MiB`;
  console.log(
    `package-prebuilds: ${path.relative(process.cwd(), dest) || dest} (${mib(record.bytes)}, ${how}; ` +
      `CUDA ${record.cuda ? record.cudaArchitectures.join(',') : 'off'}; needs glibc >= ${record.requires.glibc ?? '?'}, ` +
      `libstdc++ GLIBCXX >= ${record.requires.glibcxx ?? '?'})`,
  );
}

main();
