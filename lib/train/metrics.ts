// The metrics a run writes to its output folder: every record as one JSON line in
// metrics.jsonl (type 'step' or 'eval'), and the evaluations as rows of metrics.csv. On
// resume both files are cut back to the checkpoint's iteration, so a run interrupted and
// resumed leaves the same files as one that never stopped (timings aside).
import * as fs from 'node:fs';
import * as path from 'node:path';

import { badArg, checkNumber, checkOptions, describe, optionNames } from '../checks';
import { BatchNorm2d } from '../nn/layers';
import { Module } from '../nn/module';

export interface StepMetrics {
  type: 'step';
  epoch: number;
  /** Iterations completed, this one included (1-based). */
  iteration: number;
  lr: number;
  /** Mean cross-entropy of this batch. */
  loss: number;
  /** Fraction of this batch misclassified (in training mode, on the augmented images). */
  error: number;
  /** Throughput since the previous step record. */
  imagesPerSec: number;
  /** Seconds since the run (or the resumed run) started. */
  elapsed: number;
}

export interface EvalMetrics {
  type: 'eval';
  /** Epochs completed (fractional when evaluating inside an epoch). */
  epoch: number;
  iteration: number;
  lr: number;
  /** Mean loss and error of the training batches since the previous evaluation. */
  trainLoss: number;
  trainError: number;
  testLoss: number;
  testError: number;
  imagesPerSec: number;
  elapsed: number;
  /**
   * The share of the batch-norm running statistics that still comes from their initial
   * values (mean 0, variance 1): (1 - momentum)^updates, the largest over the layers. Test
   * figures mean little while it is large (see evalNote); absent in older files.
   */
  bnInitialShare?: number;
}

export type MetricsRecord = StepMetrics | EvalMetrics;

const CSV_COLUMNS = ['epoch', 'iteration', 'lr', 'trainLoss', 'trainError', 'testLoss', 'testError', 'imagesPerSec', 'elapsed'] as const;

export class MetricsLog {
  readonly jsonl: string;
  readonly csv: string;

  constructor(dir: string, opts: { resumeAt?: number } = {}) {
    if (typeof dir !== 'string' || dir === '') throw badArg('type', 'MetricsLog: dir', `must be a folder path, got ${describe(dir)}`);
    checkOptions('MetricsLog', opts, optionNames<{ resumeAt?: number }>({ resumeAt: true }));
    if (opts.resumeAt !== undefined) checkNumber(opts.resumeAt, 'MetricsLog: resumeAt', { integer: true, min: 0 });
    fs.mkdirSync(dir, { recursive: true });
    this.jsonl = path.join(dir, 'metrics.jsonl');
    this.csv = path.join(dir, 'metrics.csv');
    if (opts.resumeAt === undefined) {
      fs.writeFileSync(this.jsonl, '');
      fs.writeFileSync(this.csv, CSV_COLUMNS.join(',') + '\n');
      return;
    }
    // Keep what the checkpointed part of the run wrote; drop records after it.
    const kept = readMetrics(this.jsonl).filter((r) => r.iteration <= (opts.resumeAt as number));
    fs.writeFileSync(this.jsonl, kept.map((r) => JSON.stringify(r) + '\n').join(''));
    fs.writeFileSync(this.csv, CSV_COLUMNS.join(',') + '\n' + kept.filter(isEval).map(csvRow).join(''));
  }

  write(r: MetricsRecord): void {
    fs.appendFileSync(this.jsonl, JSON.stringify(r) + '\n');
    if (r.type === 'eval') fs.appendFileSync(this.csv, csvRow(r));
  }
}

function isEval(r: MetricsRecord): r is EvalMetrics {
  return r.type === 'eval';
}

function csvRow(r: EvalMetrics): string {
  return CSV_COLUMNS.map((c) => String(r[c])).join(',') + '\n';
}

/** The records of a metrics.jsonl (missing file: none). */
export function readMetrics(file: string): MetricsRecord[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as MetricsRecord);
}

/** Above this share of initial values in the BN running statistics, an evaluation is flagged. */
export const UNSETTLED_SHARE = 0.05;

/** bnInitialShare for a model now: (1 - momentum)^(batches tracked), the largest over its BatchNorm2d layers. */
export function bnInitialShare(model: Module): number {
  let share = 0;
  for (const [, m] of model.namedModules()) {
    if (m instanceof BatchNorm2d) share = Math.max(share, (1 - m.momentum) ** Number(m.numBatchesTracked));
  }
  return share;
}

/**
 * Why an evaluation's test figures are not meaningful yet, or null: evaluation normalises with
 * the batch-norm running statistics, which start at mean 0 / variance 1 and move towards the
 * data's by the BN momentum per training step, so early on test losses can be far above
 * the training loss for no fault of the model.
 */
export function evalNote(e: Pick<EvalMetrics, 'bnInitialShare'>): string | null {
  const share = e.bnInitialShare;
  if (share === undefined || share <= UNSETTLED_SHARE) return null;
  return `test figures not meaningful yet: the batch-norm running statistics are still ${(100 * share).toFixed(0)}% their initial values`;
}
