// What a stored figure was measured on: date, host, GPU, driver, CUDA runtime, cuDNN (from
// lib/cuda.ts), plus the host's load, which on a shared CPU machine explains a slow run.
import { spawnSync } from 'node:child_process';
import * as os from 'node:os';

import { cuda } from '../lib/cuda';
import { native } from '../lib/native';

export interface BenchEnv {
  date: string;
  hostname: string;
  node: string;
  addon: string;
  addonCuda: boolean;
  cpu: string;
  cpuThreads: number;
  /** 1-, 5- and 15-minute load averages when the run started and when it ended. */
  loadStart: number[];
  loadEnd: number[] | null;
  device: string;
  gpu: string | null;
  computeCapability: string | null;
  /** The NVIDIA driver (nvidia-smi), e.g. '580.65.06'. */
  driver: string | null;
  /** Highest CUDA version the driver supports, e.g. '13.0'. */
  cudaDriver: string | null;
  cudaRuntime: string | null;
  cudnn: string | null;
  /** How the step loop is timed. */
  timer: string;
}

/** How the step loop is timed on a device (see timeSteps in protocol.ts). */
export function timerFor(device: string): string {
  return device.startsWith('cuda')
    ? 'CUDA events on the device stream around each run (cuda.startTimer), after a synchronize'
    : 'process.hrtime around each run';
}

function nvidiaDriver(): string | null {
  try {
    const r = spawnSync('nvidia-smi', ['--query-gpu=driver_version', '--format=csv,noheader'], { encoding: 'utf8', timeout: 10000 });
    const v = r.status === 0 ? r.stdout.split('\n')[0].trim() : '';
    return v || null;
  } catch {
    return null;
  }
}

export function collectEnv(device: string): BenchEnv {
  const info = native().buildInfo();
  const env: BenchEnv = {
    date: new Date().toISOString(),
    hostname: os.hostname(),
    node: process.version,
    addon: info.version,
    addonCuda: info.cuda,
    cpu: os.cpus()[0]?.model?.trim() ?? 'unknown',
    cpuThreads: info.cpuThreads,
    loadStart: os.loadavg().map((v) => Number(v.toFixed(2))),
    loadEnd: null,
    device,
    gpu: null,
    computeCapability: null,
    driver: null,
    cudaDriver: null,
    cudaRuntime: null,
    cudnn: null,
    timer: timerFor(device),
  };
  if (info.cuda && typeof native().cudaInfo === 'function') {
    const v = cuda.versions();
    env.cudaDriver = v.driver;
    env.cudaRuntime = v.runtime;
    env.cudnn = v.cudnn;
    const index = device.startsWith('cuda:') ? Number(device.slice(5)) : 0;
    const d = cuda.devices()[index];
    if (d) {
      env.gpu = d.name;
      env.computeCapability = d.computeCapability;
    }
    if (env.gpu) env.driver = nvidiaDriver();
  }
  return env;
}

export function finishEnv(env: BenchEnv): void {
  env.loadEnd = os.loadavg().map((v) => Number(v.toFixed(2)));
}

/** One line for the header of a run. */
export function describeEnv(env: BenchEnv): string {
  const where = env.gpu
    ? `${env.gpu} (sm ${env.computeCapability}), driver ${env.driver ?? '?'} (CUDA ${env.cudaDriver ?? '?'}), runtime ${env.cudaRuntime ?? '?'}, cuDNN ${env.cudnn ?? 'not loaded'}`
    : `${env.cpu}, ${env.cpuThreads} threads, load ${env.loadStart.join(' ')}`;
  return `${env.date}  ${env.device}: ${where}; node ${env.node}, addon ${env.addon}${env.addonCuda ? ' (CUDA build)' : ' (CPU build)'}`;
}
