// CUDA availability, versions and the caching allocator, for users and for tests that must
// skip cleanly without a GPU. Nothing here throws for lack of a GPU, driver or cuDNN except
// memoryStats(), which names the device it cannot use.
import { badArg, describe } from './checks';
import { native, type NativeCudaDevice, type NativeCudaInfo, type NativeCudaMemoryStats } from './native';

export type CudaDevice = NativeCudaDevice;
export type CudaMemoryStats = NativeCudaMemoryStats;

export interface CudaVersions {
  /** Highest CUDA version the driver supports, e.g. '13.0'; null without a driver. */
  driver: string | null;
  /** CUDA runtime compiled into the addon, e.g. '13.0'; null in a CPU-only build. */
  runtime: string | null;
  /** Loaded cuDNN, e.g. '9.14.0'; null when not found. */
  cudnn: string | null;
  /** The cuDNN library file that was loaded. */
  cudnnPath: string | null;
}

function cudaVersion(v: number): string | null {
  return v > 0 ? `${Math.floor(v / 1000)}.${Math.floor((v % 1000) / 10)}` : null;
}

// cuDNN 9 encodes its version as major * 10000 + minor * 100 + patch.
function cudnnVersion(v: number): string | null {
  return v > 0 ? `${Math.floor(v / 10000)}.${Math.floor((v % 10000) / 100)}.${v % 100}` : null;
}

function parseDevice(device: number | string | undefined): number {
  if (device === undefined) return 0;
  if (typeof device === 'number') {
    if (!Number.isInteger(device) || device < 0) throw badArg('range', 'cuda.memoryStats: device', `must be a device index >= 0, got ${describe(device)}`);
    return device;
  }
  const m = /^cuda(?::(\d+))?$/.exec(device);
  if (!m) throw badArg('type', 'cuda.memoryStats: device', `must be 'cuda:N' or an index, got ${describe(device)}`);
  return m[1] === undefined ? 0 : Number(m[1]);
}

export const cuda = {
  /** Everything the addon knows: devices, versions, where cuDNN was looked for. */
  info(): NativeCudaInfo {
    return native().cudaInfo();
  },
  /** true when a GPU, its driver and cuDNN 9 are all usable. */
  isAvailable(): boolean {
    return native().cudaInfo().available;
  },
  /** Why CUDA cannot be used (what is missing, and where it was looked for); null when it can. */
  unavailableReason(): string | null {
    const i = native().cudaInfo();
    return i.available ? null : i.reason;
  },
  deviceCount(): number {
    return native().cudaInfo().deviceCount;
  },
  devices(): CudaDevice[] {
    return native().cudaInfo().devices;
  },
  versions(): CudaVersions {
    const i = native().cudaInfo();
    return {
      driver: cudaVersion(i.driverVersion),
      runtime: cudaVersion(i.runtimeVersion),
      cudnn: cudnnVersion(i.cudnnVersion),
      cudnnPath: i.cudnnPath || null,
    };
  },
  /** The caching allocator's counters for one device (default cuda:0), in bytes. */
  memoryStats(device?: number | string): CudaMemoryStats {
    return native().cudaMemoryStats(parseDevice(device));
  },
  /** Returns cached (unused) device memory to the driver. Live tensors are untouched. */
  emptyCache(): void {
    native().cudaEmptyCache();
  },
  /**
   * Times GPU work with CUDA events: records an event on the device's stream now; the
   * returned stop() records another, waits for it and returns the milliseconds between
   * them. Work queued before start() is not counted, however late it runs.
   *
   *   const t = cuda.startTimer('cuda:0'); for (...) step(); const ms = t.stop();
   */
  startTimer(device: string = 'cuda:0'): { stop(): number } {
    const h = native().eventTimerStart(device);
    return { stop: () => native().eventTimerStop(h) };
  },
};
