// Runs one op suite per device: 'cpu' always, 'cuda:0' when a GPU and cuDNN are usable. On
// a machine without one the CUDA suite is registered as pending with the reason, so the
// skip is visible in the report rather than a silent pass.
import { smallTestShapes } from '../../lib/env';
import { native } from '../../lib/native';

export interface DeviceUnderTest {
  device: string;
  /** Relative tolerance for comparisons against fp32 references on this device. */
  rtol: number;
}

let cudaReason: string | null | undefined;

/** null when cuda:0 works, else why it does not. */
export function cudaUnavailableReason(): string | null {
  if (cudaReason !== undefined) return cudaReason;
  try {
    native().empty([1], 'float32', 'NCHW', 'cuda:0').dispose();
    cudaReason = null;
  } catch (e) {
    cudaReason = e instanceof Error ? e.message : String(e);
  }
  return cudaReason;
}

/** A suite that needs cuda:0: its body where cuda:0 works, else one pending test that says why. */
export function describeCuda(title: string, body: (this: Mocha.Suite) => void): void {
  const reason = cudaUnavailableReason();
  describe(
    title,
    reason === null
      ? body
      : () => {
          it(`skipped: no usable GPU (${reason.split('\n')[0]})`);
        },
  );
}

export function describeDevices(title: string, body: (d: DeviceUnderTest) => void): void {
  describe(`${title} [cpu]`, () => body({ device: 'cpu', rtol: 1e-4 }));
  describeCuda(`${title} [cuda:0]`, () => body({ device: 'cuda:0', rtol: 1e-4 }));
}

/**
 * The op suites' case lists, shortened to `keep` evenly spaced entries (the first and the last
 * among them) under CUDNN_RESNET_TEST_SHAPES=small: compute-sanitizer slows every kernel by one
 * or two orders of magnitude, and its checks need every code path, not every size.
 */
export function fewer<T>(list: readonly T[], keep = 2): T[] {
  if (!smallTestShapes() || list.length <= keep) return [...list];
  if (keep <= 1) return [list[0]];
  return Array.from({ length: keep }, (_, i) => list[Math.round((i * (list.length - 1)) / (keep - 1))]);
}
