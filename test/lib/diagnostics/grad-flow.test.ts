// Gradient-flow diagnostics: the reported norms equal norms computed directly from the
// parameters' .grad tensors and from an independent module hook; the CLI writes a
// well-formed SVG with one line per model and chart, and JSON holding the same numbers.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { CifarLoader } from '../../../lib/data/loader';
import { syntheticDataset } from '../../../lib/data/synthetic';
import {
  blocksOf,
  DEFAULT_SMALL_BATCH_LR,
  gradFlow,
  GradFlowResult,
  gradFlowSvg,
  measureGradients,
  weightParameters,
} from '../../../lib/diagnostics/grad-flow';
import { create } from '../../../lib/models/resnet';
import { Tensor } from '../../../lib/tensor';
import { findAll, parseXml } from './xml';

const cli = path.resolve(__dirname, '..', '..', '..', 'lib', 'cli', 'main.js');

function norm(t: Tensor): number {
  let s = 0;
  for (const v of t.dataSync()) s += v * v;
  return Math.sqrt(s);
}

function close(a: number, b: number, what: string): void {
  assert.ok(Math.abs(a - b) <= 1e-5 * Math.max(Math.abs(b), 1e-12), `${what}: reported ${a}, direct ${b}`);
}

describe('diagnostics: grad-flow', function () {
  this.timeout(60000);

  for (const name of ['plain8', 'resnet8']) {
    it(`${name}: weight norms equal the .grad norms, block-input norms the gradient at the previous block's output`, () => {
      const model = create(name, { seed: 3 });
      const ds = syntheticDataset({ count: 16, seed: 1 });
      const loader = new CifarLoader(ds, { batchSize: 8, seed: 2 });
      const b = loader.makeBatch(0, 0, loader.epochOrder(0), loader.epochParams(0));
      const { x, y } = b;
      // An independent measurement through Module.registerGradHook on each block's output.
      const blocks = blocksOf(model);
      const outputNorms = new Map<string, number>();
      const removers = blocks.map(([n, m]) => m.registerGradHook((g) => outputNorms.set(n, norm(g))));
      try {
        const r = measureGradients(model, x, y);
        assert.ok(Number.isFinite(r.loss) && r.loss > 0);
        const params = weightParameters(model);
        assert.equal(r.weights.length, params.length);
        assert.deepEqual(
          r.weights.map((e) => e.depth),
          params.map((_, i) => i + 1),
        );
        params.forEach(([pn, p], i) => {
          assert.equal(r.weights[i].name, pn);
          assert.ok(p.grad, `${pn} has a gradient`);
          close(r.weights[i].norm, norm(p.grad as Tensor), pn);
        });
        assert.deepEqual(
          r.blockInputs.map((e) => e.name),
          blocks.map(([n]) => n),
        );
        for (let k = 1; k < blocks.length; k++) close(r.blockInputs[k].norm, outputNorms.get(blocks[k - 1][0]) as number, `input of ${blocks[k][0]}`);
        // The hooks were removed: another backward records nothing new.
        model.zeroGrad();
      } finally {
        removers.forEach((r) => r());
        x.dispose();
        y.dispose();
        loader.dispose();
        model.dispose();
      }
    });
  }

  it('the CLI prints a table and writes JSON and a well-formed SVG with one line per model in each chart', () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'grad-flow-'));
    try {
      const r = spawnSync(process.execPath, [cli, 'grad-flow', '--models', 'plain8,resnet8', '--steps', '1', '--batch', '8', '--out', out], {
        encoding: 'utf8',
        env: process.env,
        timeout: 60000,
      });
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /weight-gradient L2 norm by layer/);
      assert.match(r.stdout, /depth\s+layer\s+plain8\s+resnet8/);
      const result = JSON.parse(fs.readFileSync(path.join(out, 'grad-flow.json'), 'utf8')) as GradFlowResult;
      assert.deepEqual(
        result.measurements.map((m) => [m.model, m.step]),
        [
          ['plain8', 1],
          ['resnet8', 1],
        ],
      );
      for (const m of result.measurements) {
        assert.equal(m.weights.length, 8); // conv1, 3 x 2 block convs, fc
        assert.equal(m.blockInputs.length, 3);
        for (const e of [...m.weights, ...m.blockInputs]) assert.ok(Number.isFinite(e.norm) && e.norm > 0, `${m.model} ${e.name}: ${e.norm}`);
      }
      const svg = fs.readFileSync(path.join(out, 'grad-flow.svg'), 'utf8');
      assert.equal(svg, gradFlowSvg(result));
      const root = parseXml(svg);
      assert.equal(root.name, 'svg');
      const charts = root.children.filter((c) => c.name === 'svg');
      assert.equal(charts.length, 2);
      for (const chart of charts) {
        const paths = findAll(chart, 'path');
        assert.deepEqual(
          paths.map((p) => findAll(p, 'title')[0]?.text),
          ['plain8', 'resnet8'],
        );
        // One vertex per layer (or block), log-scale labels on the y axis.
        const vertices = paths.map((p) => (p.attrs.d.match(/[ML]/g) ?? []).length);
        assert.ok(vertices[0] === 8 || vertices[0] === 3, `vertices ${vertices}`);
        assert.equal(vertices[0], vertices[1]);
        assert.ok(
          findAll(chart, 'text').some((t) => /^1e-?\d+$/.test(t.text)),
          'log-scale tick labels',
        );
      }
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });

  it('the default learning rate trains a 56-layer ResNet at batch 32 without blowing up its loss', async function () {
    this.timeout(600000); // four ResNet-56 steps: seconds on an idle machine, minutes on a loaded one
    // At lr 0.1 (the old default) ResNet-56's loss went from 2.7 to ~9 by the third step.
    const r = await gradFlow({ models: ['resnet56'], steps: [0, 3] });
    assert.equal(r.options.lr, DEFAULT_SMALL_BATCH_LR);
    const [first, third] = r.measurements.map((m) => m.loss);
    assert.ok(Number.isFinite(third) && third < 1.5 * first, `loss ${first} at step 0, ${third} at step 3`);
  });

  it('the XML check rejects malformed documents', () => {
    assert.throws(() => parseXml('<svg><g></svg>'), /closes/);
    assert.throws(() => parseXml('<svg a="1" a="2"/>'), /duplicate/);
    assert.throws(() => parseXml('<svg>a & b</svg>'), /stray/);
    assert.throws(() => parseXml('<svg/><svg/>'), /more than one root/);
    assert.equal(parseXml('<svg><path d="M1,2"><title>x &amp; y</title></path></svg>').children[0].name, 'path');
  });
});
