// Classification metrics of a labelled set: top-1 and top-k error, per-class accuracy and the
// confusion matrix (rows: true class, columns: predicted), accumulated batch by batch from
// logits on the host, with the matrix as CSV and as an SVG heat map. evaluate() runs a model
// over a BatchLoader (image folder or CIFAR) in eval mode without a tape.
import { noGrad } from '../autograd/engine';
import { BatchLoader } from '../data/dataset';
import { escapeXml } from '../diagnostics/svg';
import { tidy } from '../tensor';
import { inEvalMode } from './predict';
import type { Module } from '../nn/module';

/** Counts of a classification pass; add() takes one batch of logits and labels. */
export class ClassificationMetrics {
  /** confusion[t][p]: images of true class t predicted as p. */
  readonly confusion: number[][];
  images = 0;
  top1Correct = 0;
  topkCorrect = 0;

  constructor(
    readonly classes: number,
    /** The k of the top-k error (5 by default, fewer when there are fewer classes). */
    readonly k = Math.min(5, classes),
  ) {
    if (!Number.isInteger(classes) || classes < 1) throw new RangeError(`ClassificationMetrics: classes must be a positive integer, got ${classes}`);
    this.confusion = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  }

  /** One batch: logits [n, classes] row by row, labels [n]. */
  add(logits: ArrayLike<number>, labels: ArrayLike<number>): void {
    const c = this.classes;
    if (logits.length !== labels.length * c)
      throw new RangeError(`ClassificationMetrics.add: ${logits.length} logits for ${labels.length} labels of ${c} classes`);
    for (let i = 0; i < labels.length; i++) {
      const t = labels[i];
      if (!Number.isInteger(t) || t < 0 || t >= c) throw new RangeError(`ClassificationMetrics.add: label ${t} outside [0, ${c})`);
      const row = i * c;
      // Rank of the true class: classes scoring higher, ties going to the lower index (as argmax).
      let best = 0;
      let above = 0;
      for (let j = 0; j < c; j++) {
        const v = logits[row + j];
        if (v > logits[row + best]) best = j;
        if (v > logits[row + t] || (v === logits[row + t] && j < t)) above++;
      }
      this.confusion[t][best]++;
      this.images++;
      if (best === t) this.top1Correct++;
      if (above < this.k) this.topkCorrect++;
    }
  }

  get top1Error(): number {
    return this.images ? 1 - this.top1Correct / this.images : NaN;
  }

  get topkError(): number {
    return this.images ? 1 - this.topkCorrect / this.images : NaN;
  }

  /** Per class: its images and the share of them predicted right (NaN for a class without images). */
  perClass(): { images: number; accuracy: number }[] {
    return this.confusion.map((row, t) => {
      const n = row.reduce((a, b) => a + b, 0);
      return { images: n, accuracy: n ? row[t] / n : NaN };
    });
  }
}

function csvField(s: string): string {
  return /[",\n\r]/.test(s) || s !== s.trim() ? `"${s.replace(/"/g, '""')}"` : s;
}

/** The matrix as CSV: a header of predicted class names, then one row per true class. */
export function confusionCsv(confusion: number[][], names: readonly string[]): string {
  const lines = [['true \\ predicted', ...names].map(csvField).join(',')];
  confusion.forEach((row, t) => lines.push([csvField(names[t]), ...row.map(String)].join(',')));
  return lines.join('\n') + '\n';
}

/** The matrix as an SVG heat map, each cell shaded by its share of the true class's images, with its count. */
export function confusionSvg(confusion: number[][], names: readonly string[], title = 'Confusion matrix'): string {
  const n = confusion.length;
  const cell = Math.max(8, Math.min(48, Math.floor(640 / n)));
  const label = Math.min(160, 12 + 7 * Math.max(...names.map((s) => Math.min(s.length, 20))));
  const left = label + 30;
  const top = 60 + label;
  const W = left + n * cell + 20;
  const H = top + n * cell + 40;
  const short = (s: string) => (s.length > 20 ? `${s.slice(0, 19)}…` : s);
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`);
  parts.push(`<rect x="0" y="0" width="${W}" height="${H}" fill="white"/>`);
  parts.push(`<text x="${W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(title)}</text>`);
  parts.push(`<text x="${left + (n * cell) / 2}" y="42" text-anchor="middle">predicted class</text>`);
  parts.push(`<text x="14" y="${top + (n * cell) / 2}" text-anchor="middle" transform="rotate(-90 14 ${top + (n * cell) / 2})">true class</text>`);
  for (let j = 0; j < n; j++) {
    const x = left + j * cell + cell / 2;
    parts.push(`<text x="${x}" y="${top - 6}" transform="rotate(-90 ${x} ${top - 6})" dominant-baseline="middle">${escapeXml(short(names[j]))}</text>`);
  }
  confusion.forEach((row, t) => {
    const total = row.reduce((a, b) => a + b, 0);
    const y = top + t * cell;
    parts.push(`<text x="${left - 6}" y="${y + cell / 2}" text-anchor="end" dominant-baseline="middle">${escapeXml(short(names[t]))}</text>`);
    row.forEach((count, p) => {
      const share = total ? count / total : 0;
      // White to blue by share; the diagonal in the same scale, so a good model shows a dark diagonal.
      const shade = Math.round(255 * (1 - share));
      const fill = `rgb(${shade},${Math.round(255 - 0.6 * (255 - shade))},255)`;
      const x = left + p * cell;
      parts.push(
        `<rect x="${x}" y="${y}" width="${cell}" height="${cell}" fill="${fill}" stroke="#ddd"><title>${escapeXml(`${names[t]} predicted as ${names[p]}: ${count}`)}</title></rect>`,
      );
      if (cell >= 20 && count > 0)
        parts.push(
          `<text x="${x + cell / 2}" y="${y + cell / 2}" text-anchor="middle" dominant-baseline="middle" fill="${share > 0.5 ? 'white' : 'black'}">${count}</text>`,
        );
    });
  });
  parts.push(`<rect x="${left}" y="${top}" width="${n * cell}" height="${n * cell}" fill="none" stroke="#333"/>`);
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}

/** Runs `model` over one pass of `loader` (eval mode, no tape; each module's mode restored) and counts. */
export async function evaluate(model: Module, loader: BatchLoader, classes: number, k = Math.min(5, classes)): Promise<ClassificationMetrics> {
  const m = new ClassificationMetrics(classes, k);
  await inEvalMode(model, async () => {
    for await (const b of loader.epoch(0)) {
      try {
        const [logits, labels] = noGrad(() =>
          tidy(() => {
            const y = model.forward(b.x);
            return [(y.dtype === 'float32' ? y : y.to('float32')).dataSync(), b.y.dataSync()];
          }),
        );
        m.add(logits, labels);
      } finally {
        b.dispose();
      }
    }
  });
  return m;
}
