// `cudnn-resnet doctor`: what this machine offers the package, and for each missing piece
// what to do. Every probe is guarded: a doctor that crashes on the broken setup it is meant
// to diagnose is no use. The addon's own view (buildInfo(), and cudaInfo() where the
// build has it, through lib/cuda.ts) is preferred; plain file-system and nvidia-smi probes fill in otherwise.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { cuda } from '../cuda';
import { native, nativeAddonFile, packageRoot, readPrebuildRecord, type NativeAddon } from '../native';
import { addonPath } from '../env';
import { packageVersion, parseCommandArgs, type CliIO } from './args';

export const usage = `cudnn-resnet doctor [--json] [--require-gpu]

Reports the platform, Node, the addon build (file, CUDA compiled in, architectures), GPUs,
driver, CUDA runtime and cuDNN, with what to do about each missing piece.
  --json          print the report as JSON
  --require-gpu   exit 1 unless cuda:0 is usable (default: a CPU-only machine passes)
Exit code: 0 when the addon loads (and, with --require-gpu, cuda:0 works), else 1.`;

type Status = 'ok' | 'warn' | 'fail' | 'info';

interface Check {
  section: string;
  name: string;
  status: Status;
  detail: string;
  /** What to do, when status is warn or fail. */
  fix?: string;
}

export interface DoctorReport {
  version: string;
  ok: boolean;
  gpuUsable: boolean;
  checks: Check[];
}

function exec(cmd: string, args: string[]): string | null {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 15000 });
  return r.status === 0 ? r.stdout : null;
}

function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0];
}

// ------------------------------------------------------------------ platform

function platformChecks(): Check[] {
  const checks: Check[] = [];
  const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
  const glibc = header?.glibcVersionRuntime;
  const tuple = `${process.platform}-${process.arch}`;
  checks.push({
    section: 'platform',
    name: 'os',
    status: tuple === 'linux-x64' ? 'ok' : 'warn',
    detail: `${tuple}, kernel ${os.release()}${glibc ? `, glibc ${glibc}` : process.platform === 'linux' ? ', not glibc' : ''}`,
    fix: tuple === 'linux-x64' ? undefined : 'prebuilt binaries are for linux-x64 (glibc); elsewhere build the addon from source',
  });
  const cpus = os.cpus();
  checks.push({ section: 'platform', name: 'cpu', status: 'info', detail: `${cpus[0]?.model?.trim() ?? 'unknown'} x ${cpus.length}` });
  const major = Number(process.versions.node.split('.')[0]);
  checks.push({
    section: 'platform',
    name: 'node',
    status: major >= 20 ? 'ok' : 'fail',
    detail: `${process.version} (Node-API ${process.versions.napi}, ABI ${process.versions.modules})`,
    fix: major >= 20 ? undefined : 'cudnn-resnet needs Node.js 20 or newer',
  });
  return checks;
}

// ------------------------------------------------------------------ addon

function originOf(file: string): string {
  if (addonPath()) return 'CUDNN_RESNET_ADDON';
  const rel = path.relative(packageRoot(), file);
  if (rel.startsWith('prebuilds')) return 'prebuilt, shipped in the package';
  if (rel.startsWith('build')) return 'local build';
  return 'found by node-gyp-build';
}

function addonChecks(): { checks: Check[]; addon: NativeAddon | null } {
  let addon: NativeAddon;
  try {
    addon = native();
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    return {
      addon: null,
      checks: [
        {
          section: 'addon',
          name: 'load',
          status: 'fail',
          detail: msg.split('\n  What to do:')[0],
          fix:
            'build it from source: `npm run build:from-source` in node_modules/cudnn-resnet (needs python3, make, a C++17 compiler), ' +
            'or `npm run build:native` in a clone and set CUDNN_RESNET_ADDON to the built file',
        },
      ],
    };
  }
  const file = nativeAddonFile() ?? '(unknown)';
  const checks: Check[] = [{ section: 'addon', name: 'file', status: 'ok', detail: `${file} (${originOf(file)})` }];
  try {
    const info = addon.buildInfo();
    const archs = info.cudaArchitectures
      ? info.cudaArchitectures
          .split(/[;,\s]+/)
          .filter(Boolean)
          .join(', ')
      : '';
    checks.push({
      section: 'addon',
      name: 'build',
      status: info.cuda ? 'ok' : 'warn',
      detail: `version ${info.version}, Node-API ${info.napiVersion}, ${info.cpuThreads} CPU threads, CUDA ${info.cuda ? `compiled in (${archs})` : 'not compiled in'}`,
      fix: info.cuda
        ? undefined
        : `this ${originOf(file).startsWith('prebuilt') ? 'prebuilt binary was made' : 'build was made'} without CUDA, so it runs on the CPU only; ` +
          'for the GPU, build with nvcc on PATH (`npm run build:native` in a clone) and set CUDNN_RESNET_ADDON to it',
    });
  } catch (e) {
    checks.push({ section: 'addon', name: 'build', status: 'fail', detail: `buildInfo() failed: ${firstLine(e)}` });
  }
  const record = readPrebuildRecord(file);
  if (record) {
    checks.push({
      section: 'addon',
      name: 'prebuilt',
      status: 'info',
      detail:
        `built ${record.builtAt}${record.nvcc ? ` with nvcc ${record.nvcc}` : ''}; needs glibc >= ${record.requires.glibc ?? '?'}, ` +
        `GLIBCXX >= ${record.requires.glibcxx ?? '?'}; sha256 ${record.sha256.slice(0, 16)}`,
    });
  }
  return { checks, addon };
}

// ------------------------------------------------------------------ GPU, driver, CUDA, cuDNN

interface GpuProbe {
  driver: string | null;
  driverSource: string;
  gpus: string[];
}

function probeDriver(): GpuProbe {
  const smi = exec('nvidia-smi', ['--query-gpu=index,name,memory.total,compute_cap,driver_version', '--format=csv,noheader']);
  if (smi) {
    const rows = smi
      .trim()
      .split('\n')
      .map((l) => l.split(',').map((s) => s.trim()));
    return {
      driver: rows[0]?.[4] ?? null,
      driverSource: 'nvidia-smi',
      gpus: rows.map((r) => `${r[0]}: ${r[1]}, ${r[2]}, sm_${(r[3] ?? '').replace('.', '')}`),
    };
  }
  try {
    const v = fs.readFileSync('/proc/driver/nvidia/version', 'utf8');
    const m = /Kernel Module(?: for \S+)?\s+([\d.]+)/.exec(v);
    return { driver: m?.[1] ?? v.split('\n')[0], driverSource: '/proc/driver/nvidia/version', gpus: [] };
  } catch {
    return { driver: null, driverSource: '', gpus: [] };
  }
}

/** Folders where libcudnn.so.9 commonly lives; the addon's own loader is authoritative. */
function cudnnSearchDirs(): string[] {
  const dirs = (process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean);
  if (process.env.CUDNN_PATH) dirs.push(path.join(process.env.CUDNN_PATH, 'lib'), path.join(process.env.CUDNN_PATH, 'lib64'));
  dirs.push('/usr/lib/x86_64-linux-gnu', '/usr/lib64', '/usr/lib', '/usr/local/cuda/lib64', '/usr/local/cudnn/lib64', '/usr/local/cudnn/lib');
  for (const base of ['/usr/lib', '/usr/local/lib', path.join(os.homedir(), '.local', 'lib')]) {
    let entries: string[] = [];
    try {
      entries = fs.readdirSync(base).filter((e) => /^python3/.test(e));
    } catch {
      // no such folder, or unreadable: nothing to search there
    }
    for (const py of entries) for (const kind of ['site-packages', 'dist-packages']) dirs.push(path.join(base, py, kind, 'nvidia', 'cudnn', 'lib'));
  }
  return [...new Set(dirs)];
}

function probeCudnn(): { file: string; version: string | null } | null {
  const fromLdconfig = exec('/sbin/ldconfig', ['-p']) ?? exec('ldconfig', ['-p']);
  const listed = fromLdconfig ? /libcudnn\.so\.9 \(.*?\) => (\S+)/.exec(fromLdconfig)?.[1] : undefined;
  const candidates = [...cudnnSearchDirs().map((d) => path.join(d, 'libcudnn.so.9')), ...(listed ? [listed] : [])];
  for (const file of candidates) {
    if (!fs.existsSync(file)) continue;
    let version: string | null = null;
    try {
      version = /libcudnn\.so\.(\d+\.\d+\.\d+)/.exec(fs.realpathSync(file))?.[1] ?? null;
    } catch {
      // a dangling link: the file is reported, its version stays unknown
    }
    return { file, version };
  }
  return null;
}

/** Whether the built kernels run on a GPU of compute capability cc ('9.0'): SASS for the
 * same major version and a lower or equal minor, else PTX of a lower or equal version. */
export function archSupport(cc: string, archs: string[]): string {
  const [major, minor] = cc.split('.').map(Number);
  const dev = major * 10 + minor;
  const real = archs.filter((a) => !a.endsWith('-virtual')).map((a) => parseInt(a, 10));
  const ptx = archs.filter((a) => !a.endsWith('-real')).map((a) => parseInt(a, 10));
  const sass = real.filter((r) => Math.floor(r / 10) === major && r % 10 <= minor);
  if (sass.length) return `native code (sm_${Math.max(...sass)})`;
  const jit = ptx.filter((p) => p <= dev);
  if (jit.length) return `PTX compute_${Math.max(...jit)}, compiled by the driver on first use`;
  return 'none: this build has no kernels for it';
}

function gib(bytes: number): string {
  return `${(bytes / 2 ** 30).toFixed(1)} GiB`;
}

function gpuChecks(addon: NativeAddon | null): { checks: Check[]; gpuUsable: boolean } {
  const checks: Check[] = [];
  const add = (name: string, status: Status, detail: string, fix?: string) => checks.push({ section: 'gpu', name, status, detail, fix });
  let build: { cuda: boolean; archs: string[] } = { cuda: false, archs: [] };
  try {
    const b = addon?.buildInfo();
    if (b) build = { cuda: b.cuda, archs: b.cudaArchitectures.split(/[;,\s]+/).filter(Boolean) };
  } catch {
    // an addon that loads but cannot describe its build: the report says the build is unknown
  }
  const smi = probeDriver();
  // The addon's own view, when this build has cudaInfo() (an older binary may not).
  const hasInfo = addon !== null && typeof (addon as Partial<NativeAddon>).cudaInfo === 'function';
  const info = hasInfo ? cuda.info() : null;
  const versions = hasInfo ? cuda.versions() : null;

  const driverParts = [smi.driver && `${smi.driver} (${smi.driverSource})`, versions?.driver && `supports CUDA ${versions.driver}`].filter(Boolean);
  if (driverParts.length) add('driver', 'ok', driverParts.join(', '));
  else
    add(
      'driver',
      'warn',
      'no NVIDIA driver found (no nvidia-smi, no /proc/driver/nvidia, the CUDA runtime reports none)',
      'install the NVIDIA driver (580 or newer for CUDA 13) to train on a GPU; the CPU backend works without it',
    );

  if (info && info.devices.length) {
    for (const d of info.devices) {
      const support = build.cuda ? archSupport(d.computeCapability, build.archs) : 'no CUDA in this build';
      add(
        `cuda:${d.index}`,
        support.startsWith('none') ? 'fail' : 'ok',
        `${d.name}, ${gib(d.totalMemory)}, compute ${d.computeCapability}; kernels: ${support}`,
        support.startsWith('none') ? `rebuild with CR_CUDA_ARCHITECTURES including ${d.computeCapability.replace('.', '')}` : undefined,
      );
    }
  } else if (smi.gpus.length) {
    for (const g of smi.gpus) add('gpu', 'info', `${g} (nvidia-smi)`);
  } else if (smi.driver || versions?.driver) {
    add('gpu', 'warn', 'the driver is present but no GPU is visible', 'check CUDA_VISIBLE_DEVICES and that the GPU is not held by MIG or a container limit');
  }

  if (!build.cuda)
    add(
      'cuda runtime',
      'warn',
      'not in this build',
      'use a CUDA-enabled build: the prebuilt binary of the package, or `npm run build:native` with nvcc on PATH',
    );
  else add('cuda runtime', 'ok', `${versions?.runtime ?? 'version unknown'}, linked statically into the addon`);

  if (versions?.cudnn) add('cudnn', 'ok', `${versions.cudnn} at ${versions.cudnnPath}`);
  else {
    const onDisk = probeCudnn();
    const searched = info?.searched.length ? `; the addon looked in:\n${info.searched.map((l) => `- ${l}`).join('\n')}` : '';
    if (onDisk && !hasInfo)
      add('cudnn', 'ok', `${onDisk.version ?? 'version unknown'} at ${onDisk.file} (found on disk; this addon cannot report what it loads)`);
    else
      add(
        'cudnn',
        'warn',
        `cuDNN 9 not ${build.cuda ? 'loaded' : 'found'}${onDisk ? ` (a copy is at ${onDisk.file})` : ''}${searched}`,
        'install cuDNN 9 for CUDA 13 (e.g. the libcudnn9-cuda-13 package, or `pip install nvidia-cudnn-cu13`), ' +
          'or set CUDNN_LIBRARY_PATH to libcudnn.so.9 or its folder',
      );
  }

  let gpuUsable = false;
  if (addon && build.cuda) {
    try {
      addon.empty([1], 'float32', 'NCHW', 'cuda:0').dispose();
      gpuUsable = true;
      add('usable', 'ok', 'cuda:0: a tensor was allocated on it');
    } catch (e) {
      // The reason's details (where cuDNN was looked for) are on the lines above already.
      const why = (info?.reason || firstLine(e)).split('\n')[0].replace(/\s*Looked in:$/, '');
      add('usable', 'warn', `cuda:0 is not usable: ${why}`, 'see the lines above; training runs on the CPU until cuda:0 works');
    }
  } else {
    add(
      'usable',
      'warn',
      addon ? 'no GPU use: CUDA is not compiled into this build' : 'no GPU use: the addon did not load',
      addon ? 'use a CUDA-enabled build' : 'fix the addon load first (see above)',
    );
  }
  return { checks, gpuUsable };
}

// ------------------------------------------------------------------ report

export function diagnose(): DoctorReport {
  const addon = addonChecks();
  const gpu = gpuChecks(addon.addon);
  const checks = [...platformChecks(), ...addon.checks, ...gpu.checks];
  return { version: packageVersion(), ok: !checks.some((c) => c.status === 'fail'), gpuUsable: gpu.gpuUsable, checks };
}

const MARK: Record<Status, string> = { ok: 'ok  ', warn: 'warn', fail: 'FAIL', info: '    ' };

export function formatReport(r: DoctorReport): string {
  const lines = [`cudnn-resnet ${r.version} doctor`];
  let section = '';
  const width = Math.max(...r.checks.map((c) => c.name.length));
  for (const c of r.checks) {
    if (c.section !== section) lines.push('', `${(section = c.section)}:`);
    const [head, ...more] = c.detail.split('\n');
    lines.push(`  [${MARK[c.status]}] ${c.name.padEnd(width)}  ${head}`, ...more.map((l) => `${' '.repeat(11 + width)}${l}`));
    if (c.fix && c.status !== 'ok') lines.push(`         ${' '.repeat(width)}  -> ${c.fix}`);
  }
  lines.push(
    '',
    r.ok
      ? `summary: the addon works${r.gpuUsable ? '; cuda:0 is usable' : '; training will run on the CPU (no usable GPU)'}`
      : 'summary: FAILED; see the FAIL lines above',
  );
  return lines.join('\n');
}

export function run(argv: string[], io: CliIO): number {
  const { values } = parseCommandArgs({
    args: argv,
    options: { json: { type: 'boolean' }, 'require-gpu': { type: 'boolean' } },
  });
  const report = diagnose();
  io.out(values.json ? JSON.stringify(report, null, 2) : formatReport(report));
  if (!report.ok) return 1;
  return values['require-gpu'] && !report.gpuUsable ? 1 : 0;
}
