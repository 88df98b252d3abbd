// Progress output for a run: on a TTY one line redrawn in place (bar, images/s, loss, ETA);
// otherwise (a log file, CI) a plain line every `intervalSec` seconds and at each epoch end.
import { checkOptions, optionNames } from '../checks';
import { evalNote, type EvalMetrics, type StepMetrics } from './metrics';

export interface ProgressOptions {
  write: (text: string) => void;
  tty: boolean;
  totalIterations: number;
  itersPerEpoch: number;
  /** Seconds between plain lines when not a TTY (default 10). */
  intervalSec?: number;
  width?: number;
}

const PROGRESS_OPTIONS = optionNames<ProgressOptions>({ write: true, tty: true, totalIterations: true, itersPerEpoch: true, intervalSec: true, width: true });

export function formatDuration(sec: number): string {
  if (!Number.isFinite(sec) || sec < 0) return '--:--';
  const s = Math.round(sec);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  const mm = String(m).padStart(h > 0 ? 2 : 1, '0');
  return `${h > 0 ? `${h}:` : ''}${mm}:${String(r).padStart(2, '0')}`;
}

export class Progress {
  private lastLine = 0;
  private drawn = false;
  private readonly start = Date.now();
  private startIteration: number | null = null;
  private readonly intervalMs: number;

  constructor(private readonly o: ProgressOptions) {
    checkOptions('Progress', o, PROGRESS_OPTIONS);
    this.intervalMs = (o.intervalSec ?? 10) * 1000;
  }

  private eta(iteration: number): number {
    if (this.startIteration === null) return NaN;
    const done = iteration - this.startIteration;
    const secs = (Date.now() - this.start) / 1000;
    return done > 0 ? (secs / done) * (this.o.totalIterations - iteration) : NaN;
  }

  private status(s: StepMetrics): string {
    const epochs = Math.ceil(this.o.totalIterations / this.o.itersPerEpoch);
    const inEpoch = s.iteration - (s.epoch - 1) * this.o.itersPerEpoch;
    return `epoch ${s.epoch}/${epochs} iter ${inEpoch}/${this.o.itersPerEpoch} | ${s.imagesPerSec.toFixed(0)} img/s | loss ${s.loss.toFixed(4)} | lr ${s.lr.toPrecision(3)} | ETA ${formatDuration(this.eta(s.iteration))}`;
  }

  step(s: StepMetrics): void {
    if (this.startIteration === null) this.startIteration = s.iteration - 1;
    const now = Date.now();
    if (this.o.tty) {
      if (now - this.lastLine < 100 && s.iteration < this.o.totalIterations) return; // redraw at most 10 times a second
      this.lastLine = now;
      const width = this.o.width ?? 24;
      const frac = s.iteration / this.o.totalIterations;
      const fill = Math.round(frac * width);
      const bar = `[${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${(frac * 100).toFixed(0).padStart(3)}%`;
      this.o.write(`\r\x1b[2K${bar} ${this.status(s)}`);
      this.drawn = true;
      return;
    }
    if (now - this.lastLine >= this.intervalMs || this.lastLine === 0) {
      this.lastLine = now;
      this.o.write(`${this.status(s)}\n`);
    }
  }

  eval(e: EvalMetrics): void {
    this.clear();
    this.o.write(
      `epoch ${e.epoch.toFixed(Number.isInteger(e.epoch) ? 0 : 2)} (iter ${e.iteration}): train loss ${e.trainLoss.toFixed(4)} error ${(100 * e.trainError).toFixed(2)}% | ` +
        `test loss ${e.testLoss.toFixed(4)} error ${(100 * e.testError).toFixed(2)}% | ${e.imagesPerSec.toFixed(0)} img/s | ${formatDuration(e.elapsed)} elapsed\n`,
    );
    const note = evalNote(e);
    if (note) this.o.write(`  (${note})\n`);
  }

  /** Ends the redrawn line so that other output starts on a fresh one. */
  clear(): void {
    if (this.o.tty && this.drawn) this.o.write('\r\x1b[2K');
    this.drawn = false;
  }

  message(text: string): void {
    this.clear();
    this.o.write(text.endsWith('\n') ? text : `${text}\n`);
  }
}
