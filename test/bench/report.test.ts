// The table formatter, the number formats, and the ours-vs-PyTorch comparison.
import * as assert from 'node:assert/strict';

import { bestOf, defaultModes, parsePytorchOutput, PytorchResult } from '../../bench/pytorch';
import { compare, comparisonTable } from '../../bench/report';
import { emptyResult, StepResult } from '../../bench/step';
import { fmtFixed, fmtInt, fmtRatio, fmtSI, formatTable } from '../../bench/table';

describe('bench: tables and comparison', () => {
  it('formatTable pads columns, right-aligns numbers, prints missing values as -', () => {
    const t = formatTable(
      ['model', 'img/s', { header: 'note', align: 'right' }],
      [
        ['resnet20:128', '12,314', 'a'],
        ['resnet110:128', null, 'bb'],
        ['r', 7.5, undefined],
      ],
    ).split('\n');
    assert.equal(t.length, 5);
    assert.equal(t[0], 'model           img/s  note');
    assert.equal(t[1], '-------------  ------  ----');
    assert.equal(t[2], 'resnet20:128   12,314     a');
    assert.equal(t[3], 'resnet110:128       -    bb');
    assert.equal(t[4], 'r                 7.5     -');
    assert.throws(() => formatTable(['a', 'b'], [['x']]), /row 0 has 1 cells/);
  });

  it('number formats', () => {
    assert.equal(fmtInt(12345.6), '12,346');
    assert.equal(fmtInt(0.41234), '0.412');
    assert.equal(fmtInt(null), '-');
    assert.equal(fmtFixed(1.23456, 3), '1.235');
    assert.equal(fmtFixed(NaN), '-');
    assert.equal(fmtRatio(2.345), '2.35x');
    assert.equal(fmtSI(8.2e9), '8.20 G');
    assert.equal(fmtSI(950), '950.00');
  });

  it('parses the reference script output and picks the best eager and compiled modes', () => {
    const out = [
      'some warning',
      '{"model": "resnet20", "batch": 128, "mode": "eager-fp32", "ms_per_step": 10, "images_per_s": 12800}',
      '{"model": "resnet20", "batch": 128, "mode": "eager-bf16", "ms_per_step": 8, "images_per_s": 16000}',
      '{"model": "resnet20", "batch": 128, "mode": "compile-bf16", "ms_per_step": 4, "images_per_s": 32000}',
      '{"model": "resnet20", "batch": 128, "mode": "eager-fp16", "error": "RuntimeError: boom"}',
      '{"broken": ',
    ].join('\n');
    const r = parsePytorchOutput(out);
    assert.equal(r.length, 4);
    const row = { model: 'resnet20', batch: 128 };
    assert.deepEqual(bestOf(r, row, 'eager'), { mode: 'eager-bf16', imagesPerS: 16000 });
    assert.deepEqual(bestOf(r, row, 'compile'), { mode: 'compile-bf16', imagesPerS: 32000 });
    assert.equal(bestOf(r, { model: 'resnet56', batch: 128 }, 'eager'), null);
    assert.deepEqual(defaultModes(['fp32', 'bf16'], true), ['eager-fp32', 'eager-bf16', 'compile-bf16']);
    assert.deepEqual(defaultModes(['fp16'], false), ['eager-fp16']);
    assert.deepEqual(defaultModes(['fp32', 'bf16'], true, 'cpu'), ['eager-fp32', 'eager-heap-fp32']);
  });

  it('compare: our best precision over PyTorch best eager and best overall', () => {
    const o = { device: 'cpu', timing: { warmup: 0, steps: 1, runs: 1 } };
    const row = { model: 'resnet20', batch: 128 };
    const mk = (p: 'fp32' | 'bf16', ips: number): StepResult => ({ ...emptyResult(row, p, o, {}), imagesPerS: ips, msPerStep: 128e3 / ips });
    const failed = { ...emptyResult(row, 'fp16', o, { error: 'x' }) };
    const py: PytorchResult[] = [
      { model: 'resnet20', batch: 128, mode: 'eager-fp32', images_per_s: 10000 },
      { model: 'resnet20', batch: 128, mode: 'compile-bf16', images_per_s: 40000 },
    ];
    const [c] = compare([row], [mk('fp32', 20000), mk('bf16', 30000), failed], py);
    assert.deepEqual(c.oursBest, { mode: 'bf16', imagesPerS: 30000 });
    assert.deepEqual(c.ours, { fp32: 20000, bf16: 30000 });
    assert.equal(c.ratioEager, 3);
    assert.equal(c.ratioBest, 0.75);
    const text = comparisonTable([c]);
    assert.match(text, /ours fp32 +ours bf16/);
    assert.match(text, /30,000 \(bf16\)/);
    assert.match(text, /3\.00x +0\.75x$/m);
    const [none] = compare([row], [], []);
    assert.equal(none.oursBest, null);
    assert.equal(none.ratioEager, null);
  });
});
