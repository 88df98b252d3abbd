// The timing loop and the argument helpers of bench/protocol.ts, with a fake clock so the
// figures are exact.
import * as assert from 'node:assert/strict';

import { DEFAULT_ROWS, imageSizeOf, median, parsePrecisions, parseRows, PROTOCOL, rowImageSize, rowKey, timeSteps } from '../../bench/protocol';

describe('bench: protocol helpers', () => {
  it('median of odd, even and unsorted lists; none is an error', () => {
    assert.equal(median([3]), 3);
    assert.equal(median([5, 1, 3]), 3);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    const xs = [9, 7, 8];
    median(xs);
    assert.deepEqual(xs, [9, 7, 8], 'the input is not sorted in place');
    assert.throws(() => median([]), RangeError);
  });

  it('timeSteps: warm-up untimed, each run between synchronisations, median ms/step', () => {
    let clock = 0;
    const events: string[] = [];
    // step i costs 1 ms during warm-up; the three timed runs cost 2, 6 and 3 ms per step
    const cost = (i: number) => (i < 4 ? 1 : i < 14 ? 2 : i < 24 ? 6 : 3);
    const t = timeSteps(
      (i) => {
        events.push(`s${i}`);
        clock += cost(i);
      },
      () => events.push('sync'),
      { warmup: 4, steps: 10, runs: 3 },
      () => clock,
    );
    assert.deepEqual(t.runsMs, [2, 6, 3]);
    assert.equal(t.msPerStep, 3);
    assert.equal(t.warmupMs, 4);
    assert.equal(events.filter((e) => e !== 'sync').length, 34);
    // a sync closes the warm-up, and every run starts and ends with one
    assert.deepEqual(events.slice(0, 6), ['s0', 's1', 's2', 's3', 'sync', 'sync']);
    assert.equal(events[16], 'sync');
    assert.equal(events[events.length - 1], 'sync');
  });

  it('timeSteps with a run timer: each run timed by it (after a sync), not by the clock', () => {
    const events: string[] = [];
    const perRun = [20, 60, 30];
    let run = 0;
    const t = timeSteps(
      (i) => events.push(`s${i}`),
      () => events.push('sync'),
      { warmup: 1, steps: 10, runs: 3 },
      () => 0,
      () => {
        events.push('start');
        return { stop: () => (events.push('stop'), perRun[run++]) };
      },
    );
    assert.deepEqual(t.runsMs, [2, 6, 3]);
    assert.equal(t.msPerStep, 3);
    assert.deepEqual(events.slice(0, 4), ['s0', 'sync', 'sync', 'start']);
    assert.equal(events[events.length - 1], 'stop');
    assert.equal(events.filter((e) => e === 'start').length, 3);
  });

  it('timeSteps checks its counts and measures real time by default', () => {
    assert.throws(
      () =>
        timeSteps(
          () => {},
          () => {},
          { warmup: -1, steps: 1, runs: 1 },
        ),
      /warmup/,
    );
    assert.throws(
      () =>
        timeSteps(
          () => {},
          () => {},
          { warmup: 0, steps: 0, runs: 1 },
        ),
      /steps/,
    );
    assert.throws(
      () =>
        timeSteps(
          () => {},
          () => {},
          { warmup: 0, steps: 1, runs: 1.5 },
        ),
      /runs/,
    );
    const t = timeSteps(
      () => {
        const end = Date.now() + 2;
        while (Date.now() < end);
      },
      () => {},
      { warmup: 0, steps: 3, runs: 1 },
    );
    assert.ok(t.msPerStep >= 1.5 && t.msPerStep < 200, `${t.msPerStep}`);
  });

  it('rows and precisions parse; bad ones name the option', () => {
    assert.deepEqual(parseRows('resnet20:128, ResNet56:512,plain56'), [
      { model: 'resnet20', batch: 128 },
      { model: 'resnet56', batch: 512 },
      { model: 'plain56', batch: 128 },
    ]);
    assert.throws(() => parseRows('resnet20:0'), /--rows/);
    assert.throws(() => parseRows('resnet20:12:3'), /--rows/);
    assert.throws(() => parseRows(''), /--rows/);
    assert.deepEqual(parseRows('resnet18@64:32'), [{ model: 'resnet18', batch: 32, size: 64 }]);
    assert.throws(() => parseRows('resnet18@x:32'), /--rows/);
    assert.throws(() => parseRows('resnet18@4:32'), /--rows/);
    assert.throws(() => parseRows('resnet18@64@32:8'), /--rows/);
    assert.equal(rowKey({ model: 'resnet18', batch: 32, size: 64 }), 'resnet18@64:32');
    assert.equal(rowKey({ model: 'resnet18', batch: 32, imageSize: 64 }), 'resnet18@64:32');
    assert.equal(rowKey({ model: 'resnet18', batch: 32, imageSize: 224 }), 'resnet18:32');
    assert.equal(rowImageSize({ model: 'resnet18', batch: 32, size: 64 }), 64);
    assert.equal(rowImageSize({ model: 'resnet20', batch: 32 }), 32);
    assert.deepEqual(parsePrecisions('bf16,fp32,bf16'), ['bf16', 'fp32']);
    assert.throws(() => parsePrecisions('fp8'), /--precisions/);
  });

  it('the rows, ResNet-20/56 first; image sizes by model family', () => {
    assert.deepEqual(
      DEFAULT_ROWS.slice(0, 2).map((r) => r.model),
      ['resnet20', 'resnet56'],
    );
    assert.equal(DEFAULT_ROWS.length, 7);
    assert.deepEqual(PROTOCOL, { warmup: 10, steps: 50, runs: 3 });
    assert.equal(imageSizeOf('resnet56'), 32);
    assert.equal(imageSizeOf('plain110'), 32);
    assert.equal(imageSizeOf('resnet50'), 224);
    assert.equal(imageSizeOf('resnet18'), 224);
  });
});
