// Classification metrics against a naive count on random logits (with ties), and the
// confusion matrix's CSV and SVG.
import * as assert from 'node:assert/strict';

import { ClassificationMetrics, confusionCsv, confusionSvg } from '../../../lib/infer/metrics';
import { topK } from '../../../lib/infer/predict';
import { parseXml, XmlElement } from '../diagnostics/xml';
import { rng } from '../../helpers/reference';

/** Logits with coarse values, so ties happen; labels uniform. */
function randomSet(n: number, classes: number, seed: number): { logits: Float32Array; labels: Int32Array } {
  const r = rng(seed);
  return {
    logits: Float32Array.from({ length: n * classes }, () => Math.round(r() * 8) / 4),
    labels: Int32Array.from({ length: n }, () => Math.floor(r() * classes)),
  };
}

function all(e: XmlElement, name: string): XmlElement[] {
  return [...(e.name === name ? [e] : []), ...e.children.flatMap((c) => all(c, name))];
}

describe('infer: classification metrics', () => {
  for (const [classes, k] of [
    [7, 5],
    [3, 3],
    [1, 1],
    [12, 2],
  ]) {
    it(`${classes} classes, top-${k}: errors, per-class accuracy and confusion match a naive count`, () => {
      const { logits, labels } = randomSet(53, classes, classes * 31 + k);
      const m = new ClassificationMetrics(classes, k);
      // In uneven batches, as a loader hands them out.
      for (let s = 0; s < labels.length; s += 10) m.add(logits.subarray(s * classes, Math.min(labels.length, s + 10) * classes), labels.subarray(s, s + 10));
      const confusion = Array.from({ length: classes }, () => new Array(classes).fill(0));
      let top1 = 0;
      let topk = 0;
      labels.forEach((t, i) => {
        const row = Array.from(logits.subarray(i * classes, (i + 1) * classes));
        const ranked = topK(row, classes, null).map((c) => c.index); // ties: lower index first
        confusion[t][ranked[0]]++;
        if (ranked[0] === t) top1++;
        if (ranked.slice(0, k).includes(t)) topk++;
      });
      assert.deepEqual(m.confusion, confusion);
      assert.equal(m.images, labels.length);
      assert.equal(m.top1Error, 1 - top1 / labels.length);
      assert.equal(m.topkError, 1 - topk / labels.length);
      m.perClass().forEach((c, t) => {
        const n = confusion[t].reduce((a: number, b: number) => a + b, 0);
        assert.equal(c.images, n);
        if (n) assert.equal(c.accuracy, confusion[t][t] / n);
        else assert.ok(Number.isNaN(c.accuracy));
      });
    });
  }

  it('default k is 5, or the number of classes if fewer; bad batches are refused', () => {
    assert.equal(new ClassificationMetrics(10).k, 5);
    assert.equal(new ClassificationMetrics(3).k, 3);
    const m = new ClassificationMetrics(3);
    assert.throws(() => m.add([1, 2, 3, 4], [0]), /4 logits for 1 labels of 3 classes/);
    assert.throws(() => m.add([1, 2, 3], [3]), /label 3 outside \[0, 3\)/);
    assert.throws(() => new ClassificationMetrics(0), RangeError);
  });

  it('CSV: a header of predicted names, one row per true class; names with commas or quotes are quoted', () => {
    const names = ['cat', 'dog, big', 'say "hi"'];
    const csv = confusionCsv(
      [
        [3, 0, 1],
        [0, 2, 0],
        [5, 0, 0],
      ],
      names,
    );
    assert.equal(csv, 'true \\ predicted,cat,"dog, big","say ""hi"""\ncat,3,0,1\n"dog, big",0,2,0\n"say ""hi""",5,0,0\n');
  });

  it('SVG: well-formed, one cell per pair with its count, names escaped', () => {
    const names = ['a<b', 'c&d', 'e'];
    const confusion = [
      [4, 1, 0],
      [0, 0, 0],
      [2, 0, 7],
    ];
    const root = parseXml(confusionSvg(confusion, names));
    assert.equal(root.name, 'svg');
    const cells = all(root, 'rect').filter((r) => all(r, 'title').length === 1);
    assert.equal(cells.length, 9);
    const unescape = (t: string) =>
      t
        .replace(/&lt;/g, '<')
        .replace(/&gt;/g, '>')
        .replace(/&quot;/g, '"')
        .replace(/&amp;/g, '&');
    const titles = cells.map((c) => unescape(all(c, 'title')[0].text));
    assert.ok(titles.includes('a<b predicted as c&d: 1'), titles.join('; '));
    assert.ok(titles.includes('e predicted as e: 7'));
    const labels = all(root, 'text').map((t) => unescape(t.text));
    for (const n of names) assert.ok(labels.includes(n), `label ${n}`);
    for (const v of ['4', '1', '2', '7']) assert.ok(labels.includes(v), `count ${v}`);
  });
});
