// Image-loader throughput: decoded + augmented images per second, ours (ImageFolder +
// RandomResizedCrop + flip through the DataLoader: the fast path's worker threads, JPEG by
// libjpeg-turbo in the addon, or sharp; one uint8 upload per batch, normalisation by the
// augment op) next to torchvision's ImageFolder + DataLoader on
// the same files and the same cores (each side in a child process pinned with taskset).
// Two workloads: 224-px crops of photo-sized JPEGs (~500 x 375, like ImageNet's) and 32-px
// crops of 32 x 32 PNGs, each also through sharp alone (decoder: 'sharp'). Also: how many cores would keep a GPU fed at ResNet-50's rate.
//
//   node dist/bench/images.js [--jpegs 1000] [--pngs 5000] [--cores 1,2] [--batch 64] [--runs 3]
//                             [--python EXE (default: python3 or /usr/bin/python3, whichever has torchvision)] [--no-torchvision] [--cache-dir DIR] [--out FILE.md]
//   node dist/bench/images.js --measure --root DIR --size N --workers K [--decoder auto|sharp]   (one child measurement)
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { DataLoader, imageFolder, trainTransform } from '../lib/data';
import { IMAGENET_NORMALIZATION } from '../lib/data/transforms';
import { cacheDir } from '../lib/train/data';

type SharpFactory = typeof import('sharp').default;

/** ResNet-50 training rates one GPU reaches (img/s): eager bf16 and compiled, on an H100. */
const GPU_RATES = [4000, 5600];

function option(argv: string[], name: string, fallback: string): string {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < argv.length ? argv[i + 1] : fallback;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** Smooth colour fields plus noise: JPEG sizes like photos'. */
function photoPixels(w: number, h: number, seed: number): Uint8Array {
  let s = (seed * 2654435761) >>> 0;
  const rand = (): number => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296;
  const waves = Array.from({ length: 9 }, () => [rand() * 0.05, rand() * 0.05, rand() * 6.28, 40 + rand() * 60]);
  const px = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < 3; c++) {
        let v = 128;
        for (let k = c * 3; k < c * 3 + 3; k++) v += waves[k][3] * Math.sin(waves[k][0] * x + waves[k][1] * y + waves[k][2]);
        px[(y * w + x) * 3 + c] = Math.max(0, Math.min(255, v + (rand() - 0.5) * 40));
      }
    }
  }
  return px;
}

/** Writes (once, cached) `count` images in 10 class folders; returns the root. */
async function imageSet(kind: 'jpeg' | 'png32', count: number, cache: string): Promise<string> {
  const root = path.join(cache, `bench-images-${kind}-${count}-v1`);
  if (fs.existsSync(path.join(root, '.complete'))) return root;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const sharp = require('sharp') as SharpFactory;
  const tmp = `${root}.tmp-${process.pid}`;
  for (let i = 0; i < count; i++) {
    const dir = path.join(tmp, `class${i % 10}`);
    fs.mkdirSync(dir, { recursive: true });
    if (kind === 'jpeg') {
      const w = 400 + ((i * 37) % 241),
        h = 300 + ((i * 53) % 181);
      await sharp(photoPixels(w, h, i + 1), { raw: { width: w, height: h, channels: 3 } })
        .jpeg({ quality: 90 })
        .toFile(path.join(dir, `${i}.jpg`));
    } else {
      await sharp(photoPixels(32, 32, i + 1), { raw: { width: 32, height: 32, channels: 3 } })
        .png()
        .toFile(path.join(dir, `${i}.png`));
    }
  }
  fs.writeFileSync(path.join(tmp, '.complete'), '');
  fs.rmSync(root, { recursive: true, force: true });
  fs.renameSync(tmp, root);
  return root;
}

/** Child mode: whole shuffled epochs through our DataLoader; prints {"imagesPerS": ...}. */
async function measure(argv: string[]): Promise<void> {
  const root = option(argv, 'root', '');
  const size = Number(option(argv, 'size', '224'));
  const workers = Number(option(argv, 'workers', '1'));
  const batch = Number(option(argv, 'batch', '64'));
  const runs = Number(option(argv, 'runs', '3'));
  const decoder = option(argv, 'decoder', 'auto') as 'auto' | 'sharp';
  const ds = imageFolder(root, { transform: trainTransform('torchvision', size), decoder });
  const loader = new DataLoader(ds, { batchSize: batch, seed: 1, workers: 2 * workers, prefetch: 2, normalization: IMAGENET_NORMALIZATION });
  const epoch = async (e: number, limit = Infinity): Promise<number> => {
    let n = 0;
    for await (const b of loader.epoch(e)) {
      n += b.size;
      b.dispose();
      if (b.index + 1 >= limit) break;
    }
    return n;
  };
  await epoch(1000, 2); // warm-up
  const rates: number[] = [];
  let images = 0;
  const cpu0 = process.cpuUsage(); // this process's threads: JS, libuv's pool (libvips), the CPU backend
  for (let r = 0; r < runs; r++) {
    const t = process.hrtime.bigint();
    const n = await epoch(r);
    images += n;
    rates.push(n / (Number(process.hrtime.bigint() - t) / 1e9));
  }
  const cpu = process.cpuUsage(cpu0);
  console.log(JSON.stringify({ imagesPerS: median(rates), runs: rates, cpuMsPerImage: (cpu.user + cpu.system) / 1000 / images }));
}

interface Cell {
  ours: number | null;
  torchvision: number | null;
  tvMode: string | null;
  /** CPU time per image, all threads (torchvision: its num_workers=0 run, where one process does everything). */
  oursCpuMs: number | null;
  tvCpuMs: number | null;
  note?: string;
}

function pinned(cores: number): string[] {
  const ok = spawnSync('taskset', ['-c', '0', 'true']).status === 0;
  return ok ? ['taskset', '-c', Array.from({ length: cores }, (_, i) => i).join(',')] : [];
}

function runJson(cmd: string[], env: NodeJS.ProcessEnv, timeoutS: number): Record<string, unknown> | string {
  const r = spawnSync(cmd[0], cmd.slice(1), { encoding: 'utf8', env, timeout: timeoutS * 1000, maxBuffer: 1 << 24 });
  const line = (r.stdout ?? '').trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return `exit ${r.status}${r.signal ? ` (${r.signal})` : ''}: ${(r.stderr || r.stdout || '').trim().split('\n').slice(-2).join(' ')}`;
  }
}

/** The first of python3 and the system's /usr/bin/python3 that imports torchvision (else python3). */
function findPython(): string {
  for (const py of ['python3', '/usr/bin/python3']) if (spawnSync(py, ['-c', 'import torchvision'], { stdio: 'ignore' }).status === 0) return py;
  return 'python3';
}

function loadavg(): string {
  return os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
}

export async function imageBench(argv: string[]): Promise<string> {
  const jpegs = Number(option(argv, 'jpegs', '1000'));
  const pngs = Number(option(argv, 'pngs', '5000'));
  const cores = option(argv, 'cores', `1,${os.availableParallelism()}`)
    .split(',')
    .map(Number)
    .filter((c, i, a) => c >= 1 && a.indexOf(c) === i);
  const batch = option(argv, 'batch', '64');
  const runs = option(argv, 'runs', '3');
  const python = option(argv, 'python', '') || findPython();
  const cache = option(argv, 'cache-dir', cacheDir());
  const withTv = !argv.includes('--no-torchvision');
  const loadStart = loadavg();
  console.log(
    `image loader bench: ${jpegs} JPEGs (~500 x 375) -> 224 px, ${pngs} PNGs (32 x 32) -> 32 px; RandomResizedCrop + flip + normalise; ` +
      `batch ${batch}, median of ${runs} epochs; cores ${cores.join(', ')}; load ${loadStart}`,
  );
  const pngRoot = await imageSet('png32', pngs, cache);
  const jpegRoot = await imageSet('jpeg', jpegs, cache);
  // The 'sharp' rows: the same files through libvips, what the fast path replaces; ours only.
  const sets: [string, number, string, 'auto' | 'sharp'][] = [
    ['224 px from ~500 x 375 JPEG', 224, jpegRoot, 'auto'],
    ['32 px from 32 x 32 PNG', 32, pngRoot, 'auto'],
    ["224 px from ~500 x 375 JPEG, decoder: 'sharp'", 224, jpegRoot, 'sharp'],
    ["32 px from 32 x 32 PNG, decoder: 'sharp'", 32, pngRoot, 'sharp'],
  ];
  const tvAvailable = withTv && spawnSync(python, ['-c', 'import torchvision'], { stdio: 'ignore' }).status === 0;
  if (withTv && !tvAvailable)
    console.log(`torchvision comparison skipped: ${python} cannot import torchvision (apt-get install python3-torch python3-torchvision)`);
  const cells: { set: string; cores: number; cell: Cell }[] = [];
  let versions = '';
  for (const [name, size, root, decoder] of sets) {
    for (const k of cores) {
      const env = { ...process.env, UV_THREADPOOL_SIZE: String(k), CUDNN_RESNET_CPU_THREADS: String(k), OMP_NUM_THREADS: '1' };
      const args = ['--root', root, '--size', String(size), '--workers', String(k), '--batch', batch, '--runs', runs];
      const ours = runJson([...pinned(k), process.execPath, __filename, '--measure', ...args, '--decoder', decoder], env, 1800);
      const cell: Cell = {
        ours: typeof ours === 'string' ? null : (ours.imagesPerS as number),
        torchvision: null,
        tvMode: null,
        oursCpuMs: typeof ours === 'string' ? null : (ours.cpuMsPerImage as number),
        tvCpuMs: null,
      };
      if (typeof ours === 'string') cell.note = `ours failed: ${ours}`;
      if (tvAvailable && decoder === 'auto') {
        const tv = runJson([...pinned(k), python, path.join(__dirname, '..', '..', 'bench', 'torchvision_loader.py'), ...args], env, 3600);
        if (typeof tv === 'string' || tv.error) cell.note = `${cell.note ?? ''} torchvision failed: ${typeof tv === 'string' ? tv : String(tv.error)}`.trim();
        else {
          const modes = tv.modes as Record<string, number>;
          const best = Object.entries(modes).sort((a, b) => b[1] - a[1])[0];
          [cell.tvMode, cell.torchvision] = best;
          cell.tvCpuMs = (tv.cpu_ms_per_image as number | undefined) ?? null;
          versions = `torch ${tv.torch}, torchvision ${tv.torchvision}`;
        }
      }
      cells.push({ set: name, cores: k, cell });
      console.log(
        `  ${name}, ${k} core(s): ours ${cell.ours?.toFixed(0) ?? '-'} img/s, torchvision ${cell.torchvision?.toFixed(0) ?? '-'} img/s${cell.tvMode ? ` (${cell.tvMode})` : ''}  [load ${loadavg()}]`,
      );
    }
  }
  const fmt = (x: number | null): string => (x === null ? '-' : Math.round(x).toLocaleString('en-US'));
  const ms = (x: number | null): string => (x === null ? '-' : x.toFixed(2));
  const lines = [
    '| workload | cores | ours img/s | ours per core | torchvision img/s | torchvision per core | ratio | CPU ms/img ours | CPU ms/img torchvision (1 process) |',
    '|---|---|---|---|---|---|---|---|---|',
    ...cells.map(
      ({ set, cores: k, cell: c }) =>
        `| ${set} | ${k} | ${fmt(c.ours)} | ${fmt(c.ours && c.ours / k)} | ${fmt(c.torchvision)}${c.tvMode ? ` (${c.tvMode})` : ''} | ` +
        `${fmt(c.torchvision && c.torchvision / k)} | ${c.ours && c.torchvision ? `${(c.ours / c.torchvision).toFixed(2)}x` : '-'} | ${ms(c.oursCpuMs)} | ${ms(c.tvCpuMs)} |`,
    ),
  ];
  const perCore224 = Math.max(
    ...cells.filter((c) => c.set.startsWith('224') && !c.set.includes('decoder') && c.cell.ours).map((c) => (c.cell.ours as number) / c.cores),
  );
  const cpu224 = Math.min(
    ...cells.filter((c) => c.set.startsWith('224') && !c.set.includes('decoder') && c.cell.oursCpuMs).map((c) => c.cell.oursCpuMs as number),
  );
  const feed =
    Number.isFinite(cpu224) && cpu224 > 0
      ? `Cores to keep one GPU fed at ResNet-50's ${GPU_RATES.map((r) => r.toLocaleString('en-US')).join(' / ')} img/s (224 px): ` +
        `${GPU_RATES.map((r) => Math.ceil((r * cpu224) / 1000)).join(' / ')} cores at the CPU time measured here (${cpu224.toFixed(2)} ms per image, all threads), ` +
        `which the machine's load does not inflate; at the wall-clock rate per core measured here (${fmt(perCore224)} img/s, on a shared machine) it would be ` +
        `${GPU_RATES.map((r) => Math.ceil(r / perCore224)).join(' / ')}.`
      : '';
  const notes = cells.filter((c) => c.cell.note).map((c) => `- ${c.set}, ${c.cores} core(s): ${c.cell.note}`);
  const doc = [
    `Machine: ${os.cpus()[0]?.model ?? 'cpu'}, ${os.availableParallelism()} cores, ${os.hostname()}; node ${process.version}${versions ? `; ${versions}` : ''}; ` +
      `${new Date().toISOString()}. Load average (1, 5, 15 min) at start ${loadStart}, at end ${loadavg()}.`,
    `Command: node dist/bench/images.js ${argv.filter((x) => x !== '--measure').join(' ')}`.trim(),
    '',
    ...lines,
    '',
    feed,
    ...notes,
  ].join('\n');
  console.log(`\n${doc}`);
  const out = option(argv, 'out', '');
  if (out) fs.writeFileSync(out, doc + '\n');
  return doc;
}

if (require.main === module) {
  const argv = process.argv.slice(2);
  (argv.includes('--measure') ? measure(argv) : imageBench(argv).then(() => undefined)).catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
