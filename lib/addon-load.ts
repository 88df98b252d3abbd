// Finding the addon's binary, and the report when none loads: every place looked at, why
// each did not fit (platform, libc, glibc version, Node ABI), and what to do about it.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { addonPath } from './env';

/** The package root (where package.json lives), found from this compiled file's folder. */
export function packageRoot(): string {
  let dir = __dirname;
  for (;;) {
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'native'))) return dir;
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'prebuilds'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) return path.resolve(__dirname, '..', '..');
    dir = up;
  }
}

interface GypBuild {
  (dir: string): unknown;
  resolve(dir: string): string;
  parseTags(file: string): { file: string; napi?: boolean; libc?: string; runtime?: string; abi?: string } | undefined;
}

export function nodeGypBuild(): GypBuild {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('node-gyp-build') as GypBuild;
}

function listDir(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

/** The C library this process runs on, as node-gyp-build names it, and glibc's version. */
function runtimeLibc(): { family: 'glibc' | 'musl' | null; glibc: string | null } {
  if (process.platform !== 'linux') return { family: null, glibc: null };
  const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
  const glibc = header?.glibcVersionRuntime ?? null;
  return { family: glibc || !fs.existsSync('/etc/alpine-release') ? 'glibc' : 'musl', glibc };
}

function versionBelow(have: string, need: string): boolean {
  const a = have.split('.').map(Number);
  const b = need.split('.').map(Number);
  for (let i = 0; i < Math.max(a.length, b.length); i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) < (b[i] ?? 0);
  return false;
}

/** One line per place the loader looked, saying what it found there. */
function candidatesTried(root: string, failedFile: string | undefined): string[] {
  const lines: string[] = [];
  const explicit = addonPath();
  if (explicit) {
    const f = path.resolve(explicit);
    lines.push(`CUDNN_RESNET_ADDON=${explicit}: ${fs.existsSync(f) ? 'exists but did not load' : 'no such file'}`);
    return lines;
  }
  for (const sub of ['build/Release', 'build/Debug']) {
    const found = listDir(path.join(root, sub)).filter((f) => f.endsWith('.node'));
    const failed = failedFile && path.dirname(failedFile) === path.join(root, sub) ? ' (a local build comes first; it did not load)' : '';
    lines.push(`${path.join(root, sub)}: ${found.length ? found.join(', ') + failed : 'no local build'}`);
  }
  const tuple = `${process.platform}-${process.arch}`;
  const prebuilds = path.join(root, 'prebuilds');
  const dirs = listDir(prebuilds);
  if (dirs.length === 0) lines.push(`${prebuilds}: absent (this copy ships no prebuilt binaries)`);
  for (const d of dirs) {
    if (d !== tuple) {
      lines.push(`${path.join(prebuilds, d)}: for ${d}, not ${tuple}`);
      continue;
    }
    const libc = runtimeLibc();
    for (const f of listDir(path.join(prebuilds, d))) {
      if (!f.endsWith('.node')) continue;
      const full = path.join(prebuilds, d, f);
      const tags = nodeGypBuild().parseTags(f);
      let verdict = 'fits';
      if (tags?.libc && libc.family && tags.libc !== libc.family) verdict = `built for ${tags.libc}, this system uses ${libc.family}`;
      else if (tags?.abi && !tags.napi) verdict = `built for Node ABI ${tags.abi}, this is ${process.versions.modules}`;
      else if (full === failedFile) verdict = 'fits, but did not load';
      const need = readPrebuildRecord(full)?.requires?.glibc;
      if (need && libc.glibc && versionBelow(libc.glibc, need)) verdict += ` (needs glibc >= ${need}, this system has ${libc.glibc})`;
      lines.push(`${full}: ${verdict}`);
    }
  }
  return lines;
}

/** The JSON that scripts/package-prebuilds.js writes beside a shipped binary, if there is one. */
export function readPrebuildRecord(file: string): PrebuildRecord | null {
  try {
    return JSON.parse(fs.readFileSync(file.replace(/\.node$/, '.json'), 'utf8')) as PrebuildRecord;
  } catch {
    return null;
  }
}

/** What scripts/package-prebuilds.js recorded about a binary it packaged. */
export interface PrebuildRecord {
  package: string;
  version: string;
  file: string;
  libc: string | null;
  cuda: boolean;
  cudaArchitectures: string[];
  nvcc: string | null;
  requires: { glibc: string | null; glibcxx: string | null; measuredWith: string | null };
  bytes: number;
  sha256: string;
  builtAt: string;
}

export function loadFailure(root: string, failedFile: string | undefined, cause: unknown): Error {
  const reason = cause instanceof Error ? cause.message.trim() : String(cause);
  const here = `${process.platform}-${process.arch}`;
  const lines = [
    `cudnn-resnet: could not load its native addon (${here}, Node ${process.version}, Node-API ${process.versions.napi}).`,
    '  Tried:',
    ...candidatesTried(root, failedFile).map((l) => `  - ${l}`),
    `  Loader said: ${reason
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean)
      .slice(0, 3)
      .join(' ')}`,
    '  What to do:',
  ];
  if (here !== 'linux-x64') lines.push(`  - Prebuilt binaries ship for linux-x64 (glibc) only; on ${here} the addon must be built from source.`);
  lines.push(
    '  - Build it from source (the package has no install script, so npm never builds it by itself):',
    '    `cd node_modules/cudnn-resnet && npm run build:from-source` (CPU backend; needs python3, make and a',
    '    C++17 compiler). The build in build/Release comes before the prebuilt binaries.',
    '  - Or build it with CUDA where nvcc is found: in a clone of the repository, `npm install` then',
    '    `npm run build:native`, and set CUDNN_RESNET_ADDON to its build/Release/cudnn_resnet.node.',
    `  - \`npx cudnn-resnet doctor\` prints this report with the platform, GPU and cuDNN details.`,
  );
  const err = new Error(lines.join('\n'));
  (err as Error & { code: string }).code = 'ERR_CUDNN_RESNET_ADDON';
  (err as Error & { cause: unknown }).cause = cause;
  return err;
}
