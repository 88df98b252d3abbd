// The degradation experiment on a tiny budget: every model gets the same settings, the
// Figure-6 SVG is well-formed (per panel: a solid test line and a dashed training line per
// model) and the markdown table has one row per model.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { degradation, degradationSvg, degradationTable } from '../../../lib/diagnostics/degradation';
import { findAll, parseXml } from './xml';

describe('diagnostics: degradation', function () {
  this.timeout(90000);
  let tmp: string;
  let saved: string | undefined;
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'degradation-'));
    saved = process.env.CUDNN_RESNET_CACHE;
    process.env.CUDNN_RESNET_CACHE = path.join(tmp, 'cache');
  });
  after(() => {
    if (saved === undefined) delete process.env.CUDNN_RESNET_CACHE;
    else process.env.CUDNN_RESNET_CACHE = saved;
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('trains each model with the same settings and reports curves, an SVG and a table', async () => {
    const seen: string[] = [];
    const r = await degradation({
      models: ['plain8', 'resnet8'],
      iterations: 4,
      evalEvery: 2,
      batchSize: 16,
      trainImages: 64,
      testImages: 32,
      device: 'cpu',
      out: path.join(tmp, 'runs'),
      onEval: (m, e) => seen.push(`${m}@${e.iteration}`),
    });
    assert.deepEqual(seen, ['plain8@2', 'plain8@4', 'resnet8@2', 'resnet8@4']);
    assert.deepEqual(
      r.curves.map((c) => c.model),
      ['plain8', 'resnet8'],
    );
    for (const c of r.curves) {
      assert.deepEqual(
        c.points.map((p) => p.iteration),
        [2, 4],
      );
      for (const p of c.points) assert.ok(p.trainError >= 0 && p.trainError <= 1 && p.testError >= 0 && p.testError <= 1);
      assert.ok(fs.existsSync(path.join(tmp, 'runs', c.model, 'metrics.csv')));
    }
    const root = parseXml(degradationSvg(r));
    const panels = root.children.filter((c) => c.name === 'svg');
    assert.equal(panels.length, 2, 'a plain panel and a residual panel');
    for (const [panel, model] of [
      [panels[0], 'plain-8'],
      [panels[1], 'ResNet-8'],
    ] as const) {
      const paths = findAll(panel, 'path');
      assert.deepEqual(
        paths.map((p) => findAll(p, 'title')[0].text),
        [`${model} test`, `${model} train`],
      );
      assert.equal(paths[0].attrs['stroke-dasharray'], undefined, 'test error solid');
      assert.ok(paths[1].attrs['stroke-dasharray'], 'training error dashed');
      assert.equal(paths[0].attrs.stroke, paths[1].attrs.stroke, 'one colour per model');
    }
    const yTicks = (p: (typeof panels)[0]) =>
      findAll(p, 'text')
        .filter((t) => t.attrs['text-anchor'] === 'end')
        .map((t) => t.text);
    assert.deepEqual(yTicks(panels[0]), yTicks(panels[1]), 'the panels share the y axis');
    const table = degradationTable(r).split('\n');
    assert.ok(table.includes('| model | final training error | final test error | best test error | final training loss | wall time |'));
    assert.equal(table.filter((l) => /^\| (plain-8|ResNet-8) \| \d+\.\d\d% \| \d+\.\d\d% \| \d+\.\d\d% \| \d+\.\d{4} \| [\d.]+ s \|$/.test(l)).length, 2);
  });
});
