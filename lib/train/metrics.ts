// The metrics a run writes to its output folder: every record as one JSON line in
// metrics.jsonl (type 'step' or 'eval'), and the evaluations as rows of metrics.csv. On
// resume both files are cut back to the checkpoint's iteration, so a run interrupted and
// resumed leaves the same files as one that never stopped (timings aside).
import * as fs from 'node:fs';
import * as path from 'node:path';

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
}

export type MetricsRecord = StepMetrics | EvalMetrics;

const CSV_COLUMNS = ['epoch', 'iteration', 'lr', 'trainLoss', 'trainError', 'testLoss', 'testError', 'imagesPerSec', 'elapsed'] as const;

export class MetricsLog {
  readonly jsonl: string;
  readonly csv: string;

  constructor(dir: string, opts: { resumeAt?: number } = {}) {
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
  return text.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as MetricsRecord);
}
