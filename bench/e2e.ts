// End-to-end: one CIFAR-10-sized epoch through the library's Trainer, so the data path is
// timed too: synthetic CIFAR-10 files in the real binary format (written once into the
// cache folder, reused afterwards), read by the CIFAR reader, uploaded, augmented per batch
// (pad + crop + flip) on the device, trained with the same step as the step benchmark plus
// the Trainer's per-step loss/accuracy readback, then the evaluation of the test split.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { syntheticDir, syntheticSource } from '../lib/train/data';
import { StepMetrics, EvalMetrics } from '../lib/train/metrics';
import { StartInfo, Trainer } from '../lib/train/trainer';
import { imageSizeOf, nowMs, Precision, Row } from './protocol';

export interface E2EResult {
  model: string;
  batch: number;
  precision: Precision;
  device: string;
  trainImages: number;
  testImages: number;
  /** Images the epoch trained on (whole batches only). */
  imagesTrained: number;
  dataDir: string;
  /** Seconds to write the synthetic files; null when the cache already held them. */
  writeS: number | null;
  /** Read + decode + upload + model and optimizer creation (Trainer.setup). */
  setupS: number | null;
  /** The first step alone (algorithm search, first allocations). */
  firstStepS: number | null;
  /** All training steps, the first included. */
  trainS: number | null;
  evalS: number | null;
  /** fit() from start to end: setup + training + evaluation. */
  totalS: number | null;
  trainImagesPerS: number | null;
  /** Training throughput without the first step. */
  steadyImagesPerS: number | null;
  evalImagesPerS: number | null;
  testError: number | null;
  error: string | null;
}

export interface E2EOptions {
  device: string;
  trainImages: number;
  testImages: number;
  seed?: number;
  /** Where the synthetic files live (default: the library's cache folder). */
  cacheDir?: string;
}

/** One epoch of `row` at `precision`; 32x32 models only. Errors come back in `error`. */
export async function benchEpoch(row: Row, precision: Precision, o: E2EOptions): Promise<E2EResult> {
  const res: E2EResult = {
    model: row.model,
    batch: row.batch,
    precision,
    device: o.device,
    trainImages: o.trainImages,
    testImages: o.testImages,
    imagesTrained: 0,
    dataDir: '',
    writeS: null,
    setupS: null,
    firstStepS: null,
    trainS: null,
    evalS: null,
    totalS: null,
    trainImagesPerS: null,
    steadyImagesPerS: null,
    evalImagesPerS: null,
    testError: null,
    error: null,
  };
  if (imageSizeOf(row.model) !== 32) {
    res.error = `${row.model} takes 224x224 images; the end-to-end epoch uses the 32x32 CIFAR data`;
    return res;
  }
  const prevCache = process.env.CUDNN_RESNET_CACHE;
  let trainer: Trainer | null = null;
  try {
    if (o.cacheDir) process.env.CUDNN_RESNET_CACHE = o.cacheDir;
    const seed = o.seed ?? 0;
    const expected = syntheticDir('cifar10', { train: o.trainImages, test: o.testImages, seed });
    const cached = fs.existsSync(path.join(expected, '.complete'));
    let t = nowMs();
    res.dataDir = await syntheticSource('cifar10', { train: o.trainImages, test: o.testImages, seed });
    res.writeS = cached ? null : (nowMs() - t) / 1e3;

    trainer = new Trainer({
      model: row.model,
      data: res.dataDir,
      epochs: 1,
      batchSize: row.batch,
      device: o.device,
      precision,
      seed,
      augment: true,
    });
    const stepTimes: number[] = [];
    let evalAt: number | null = null;
    let evalDone: EvalMetrics | null = null;
    let info: StartInfo | null = null;
    trainer.on('step', (_s: StepMetrics) => stepTimes.push(nowMs()));
    trainer.on('eval', (e: EvalMetrics) => {
      evalAt = nowMs();
      evalDone = e;
    });
    t = nowMs();
    info = await trainer.setup();
    const setupEnd = nowMs();
    res.setupS = (setupEnd - t) / 1e3;
    await trainer.fit();
    const end = nowMs();
    res.totalS = (end - t) / 1e3;
    const n = stepTimes.length;
    res.imagesTrained = n * row.batch;
    if (n > 0) {
      const lastStep = stepTimes[n - 1];
      res.firstStepS = (stepTimes[0] - setupEnd) / 1e3;
      res.trainS = (lastStep - setupEnd) / 1e3;
      res.trainImagesPerS = res.imagesTrained / res.trainS;
      if (n > 1) res.steadyImagesPerS = ((n - 1) * row.batch) / ((lastStep - stepTimes[0]) / 1e3);
      if (evalAt !== null) {
        res.evalS = (evalAt - lastStep) / 1e3;
        res.evalImagesPerS = info.testImages / res.evalS;
      }
    }
    res.testError = (evalDone as EvalMetrics | null)?.testError ?? null;
  } catch (e) {
    res.error = (e instanceof Error ? e.message : String(e)).split('\n')[0];
  } finally {
    trainer?.dispose();
    if (o.cacheDir) {
      if (prevCache === undefined) delete process.env.CUDNN_RESNET_CACHE;
      else process.env.CUDNN_RESNET_CACHE = prevCache;
    }
  }
  return res;
}
