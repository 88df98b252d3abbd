// The captured training step: the native capture API's refusals and state errors, and
// CapturedStep against plain eager steps from the same start. The CPU suite checks the
// refusal (ERR_CAPTURE_UNSUPPORTED) and the eager fallback, which must give exactly the
// eager losses; the cuda:0 suite (pending with the reason where no GPU is usable) checks
// that 20 captured steps track 20 eager ones (fp32, and fp16 NHWC with loss scaling and
// overflow skips inside the graph), that an lr schedule needs no re-capture while a
// captureKey change does, and that an op which would synchronise during a capture throws
// the named error and leaves the stream usable.
import * as assert from 'node:assert/strict';

import { native } from '../../../lib/native';
import { Tensor, tidy } from '../../../lib/tensor';
import { MixedPrecision } from '../../../lib/train/amp';
import { CapturedStep } from '../../../lib/train/captured-step';
import { Trainer } from '../../../lib/train/trainer';
import { capturedTrainingStep } from '../../../lib/train/training-step';
import { cudaUnavailableReason, describeCuda } from '../../helpers/devices';
import { batches, capturedLosses, eagerLosses, rig } from './captured-step-rig';

const codeOf = (e: unknown) => (e as { code?: string }).code;

describe('train: captured step [cpu]', function () {
  this.timeout(60000);

  it('the capture API refuses the CPU with ERR_CAPTURE_UNSUPPORTED naming the function', () => {
    for (const fn of ['graphCaptureBegin', 'graphCaptureEnd', 'graphCaptureAbort'] as const) {
      assert.throws(
        () => native()[fn]('cpu'),
        (e: unknown) => {
          assert.ok(e instanceof Error);
          assert.equal(codeOf(e), 'ERR_CAPTURE_UNSUPPORTED');
          assert.match(e.message, new RegExp(`^${fn}: .*cuda device`));
          return true;
        },
      );
    }
    assert.throws(
      () => native().graphCaptureBegin('tpu:0'),
      (e: unknown) => e instanceof TypeError && /device/.test(e.message),
    );
  });

  it('graphReplay refuses anything but a graph handle, with or without the CUDA backend', () => {
    const t = Tensor.zeros([1]);
    try {
      for (const bad of [{}, null, t.handle, { device: 'cuda:0', disposed: false, dispose() {} }]) {
        assert.throws(
          () => native().graphReplay(bad as never),
          (e: unknown) => e instanceof TypeError && /graphReplay: argument 'graph' must be a graph handle/.test(e.message),
        );
      }
    } finally {
      t.dispose();
    }
  });

  it('without a usable GPU, capture on cuda:0 fails with a clear error instead of capturing', function () {
    if (cudaUnavailableReason() === null) this.skip();
    assert.throws(
      () => native().graphCaptureBegin('cuda:0'),
      (e: unknown) => ['ERR_CAPTURE_UNSUPPORTED', 'ERR_CUDA_UNAVAILABLE'].includes(codeOf(e) ?? '') && /cuda:0|CUDA/.test((e as Error).message),
    );
  });

  it('falls back to eager on the CPU (logged once) with exactly the eager losses', () => {
    const data = batches(5, 11, 'cpu');
    try {
      const lrAt = (i: number) => (i < 3 ? 0.1 : 0.01);
      const want = eagerLosses('cpu', data, lrAt);
      const log: string[] = [];
      let mode = '';
      const got = capturedLosses('cpu', data, lrAt, log, (cs) => {
        mode = cs.mode;
        assert.equal(cs.captures, 0);
      });
      assert.deepEqual(got, want); // the same ops in the same order: bit for bit
      assert.equal(mode, 'eager');
      assert.equal(log.length, 1);
      assert.match(log[0], /running eagerly: device cpu/);
    } finally {
      for (const b of data) {
        b.x.dispose();
        b.y.dispose();
      }
    }
  });

  it('capture: false runs eagerly without logging; outputs are owned by the helper', () => {
    const data = batches(3, 12, 'cpu');
    const r = rig('cpu');
    const log: string[] = [];
    const cs = new CapturedStep(r.fn, { capture: false, log: (m) => log.push(m) });
    try {
      const first = cs.step(data[0].x, data[0].y);
      const loss0 = first[0].item();
      assert.ok(Number.isFinite(loss0));
      // Outputs survive an enclosing tidy (kept), and are replaced by the next step.
      tidy(() => cs.step(data[1].x, data[1].y));
      assert.equal(first[0].disposed, true);
      assert.equal(log.length, 0);
      assert.equal(cs.mode, 'eager');
    } finally {
      cs.dispose();
      r.dispose();
      for (const b of data) {
        b.x.dispose();
        b.y.dispose();
      }
    }
    assert.throws(() => cs.step(data[2].x, data[2].y), /disposed/);
  });

  it('checks its options', () => {
    assert.throws(
      () => new CapturedStep(42 as never),
      (e: unknown) => e instanceof TypeError && /fn/.test((e as Error).message),
    );
    assert.throws(
      () => new CapturedStep(() => [], { warmup: 0 }),
      (e: unknown) => e instanceof RangeError && /warmup/.test((e as Error).message),
    );
    assert.throws(
      () => new CapturedStep(() => [], { maxRecaptures: -1 }),
      (e: unknown) => e instanceof RangeError && /maxRecaptures/.test((e as Error).message),
    );
    assert.throws(
      () => new Trainer({ capture: 'yes' as never }),
      (e: unknown) => e instanceof TypeError && /capture/.test((e as Error).message),
    );
  });
});

describeCuda('train: captured step [cuda:0]', function () {
  this.timeout(120000);
  const dev = 'cuda:0';

  it('20 captured steps give the eager losses from the same start', () => {
    const data = batches(20, 21, dev);
    try {
      const lrAt = () => 0.1;
      const want = eagerLosses(dev, data, lrAt);
      const log: string[] = [];
      const got = capturedLosses(dev, data, lrAt, log, (cs) => {
        assert.equal(cs.mode, 'captured', `fell back: ${cs.eagerReason}`);
        assert.equal(cs.captures, 1);
        assert.equal(cs.replays, 20 - 2 - 1); // 2 warm-up steps, 1 captured (and replayed at once)
      });
      assert.deepEqual(log, []);
      for (let i = 0; i < want.length; i++)
        assert.ok(Math.abs(got[i] - want[i]) <= 1e-3 * Math.abs(want[i]) + 1e-5, `step ${i}: captured ${got[i]} vs eager ${want[i]}`);
    } finally {
      for (const b of data) {
        b.x.dispose();
        b.y.dispose();
      }
    }
  });

  it('follows an lr schedule without re-capturing (lr is read on the device), and still matches eager', () => {
    const data = batches(10, 22, dev);
    try {
      const lrAt = (i: number) => (i < 5 ? 0.1 : i < 8 ? 0.01 : 0.001);
      const want = eagerLosses(dev, data, lrAt);
      const got = capturedLosses(dev, data, lrAt, [], (cs) => {
        assert.equal(cs.mode, 'captured', `fell back: ${cs.eagerReason}`);
        assert.equal(cs.captures, 1);
      });
      for (let i = 0; i < want.length; i++)
        assert.ok(Math.abs(got[i] - want[i]) <= 1e-3 * Math.abs(want[i]) + 1e-5, `step ${i}: captured ${got[i]} vs eager ${want[i]}`);
    } finally {
      for (const b of data) {
        b.x.dispose();
        b.y.dispose();
      }
    }
  });

  it('re-captures when its captureKey changes', () => {
    const data = batches(8, 24, dev);
    try {
      const got = capturedLosses(
        dev,
        data,
        () => 0.1,
        [],
        (cs) => {
          assert.equal(cs.mode, 'captured', `fell back: ${cs.eagerReason}`);
          assert.equal(cs.captures, 2);
        },
        { keyAt: (i) => (i < 5 ? 'a' : 'b') },
      );
      const want = eagerLosses(dev, data, () => 0.1);
      for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i] - want[i]) <= 1e-3 * Math.abs(want[i]) + 1e-5, `step ${i}`);
    } finally {
      for (const b of data) {
        b.x.dispose();
        b.y.dispose();
      }
    }
  });

  it('fp16 NHWC: 20 captured steps with loss scaling and overflow skips in the graph match eager', () => {
    // A start of 2^20 overflows the fp16 gradients (2^20 / batch > 65504): the first steps are skipped on the device,
    // halving the scale each time, inside the replayed graph as in the eager run.
    const data = batches(20, 25, dev).map((b) => {
      const x = b.x.to({ dtype: 'float16', layout: 'NHWC' });
      b.x.dispose();
      return { x, y: b.y };
    });
    try {
      const make = () => rig(dev, 'fp16', 2 ** 20);
      let eagerSkips = 0;
      const want = eagerLosses(
        dev,
        data,
        () => 0.1,
        () => {
          const r = make();
          const dispose = r.dispose;
          return {
            ...r,
            dispose: () => {
              eagerSkips = r.mp.skipped;
              dispose();
            },
          };
        },
      );
      const got = capturedLosses(
        dev,
        data,
        () => 0.1,
        [],
        (cs, r) => {
          assert.equal(cs.mode, 'captured', `fell back: ${cs.eagerReason}`);
          assert.equal(cs.captures, 1);
          assert.equal(r.mp.skipped, eagerSkips);
        },
        { make },
      );
      assert.ok(eagerSkips > 0, 'the start scale should have overflowed at least once');
      for (let i = 0; i < want.length; i++)
        assert.ok(Math.abs(got[i] - want[i]) <= 2e-3 * Math.abs(want[i]) + 1e-4, `step ${i}: captured ${got[i]} vs eager ${want[i]}`);
    } finally {
      for (const b of data) {
        b.x.dispose();
        b.y.dispose();
      }
    }
  });

  it('optimizer and scaler state loaded into a live graph is what its replays use; a new buffer set re-captures', () => {
    const data = batches(10, 26, dev).map((b) => {
      const x = b.x.to({ dtype: 'float16', layout: 'NHWC' });
      b.x.dispose();
      return { x, y: b.y };
    });
    // The state of step 2 (momentum buffers, scaler) is loaded back after step 5, eagerly and
    // into a captured step whose graph (captured at step 2) addresses the buffers it overwrites.
    const run = (captured: boolean) => {
      const r = rig(dev, 'fp16', 2 ** 10);
      const cs = captured ? capturedTrainingStep(r, { log: () => undefined }) : null;
      let saved: { bufs: Map<string, Tensor>; scaler: ReturnType<MixedPrecision['scalerState']> } | null = null;
      try {
        const losses = data.map((b, i) => {
          if (i === 6 && saved) {
            r.opt.loadStateDict(saved.bufs);
            r.mp.loadScalerState(saved.scaler);
          }
          const loss = cs ? cs.step(b.x, b.y)[0].item() : tidy(() => r.fn(b.x, b.y)[0].item());
          if (i === 2) saved = { bufs: new Map([...r.opt.stateDict()].map(([k, t]) => [k, t.clone()])), scaler: r.mp.scalerState() };
          return loss;
        });
        if (cs) {
          assert.equal(cs.mode, 'captured', `fell back: ${cs.eagerReason}`);
          assert.equal(cs.captures, 1, 'loading values into existing buffers keeps the graph');
          const bufs = (saved as unknown as { bufs: Map<string, Tensor> }).bufs;
          const first = [...bufs.keys()][0];
          r.opt.loadStateDict(new Map([...bufs].filter(([k]) => k !== first))); // drops a buffer
          cs.step(data[0].x, data[0].y);
          assert.equal(cs.captures, 2, 'a dropped buffer must not be replayed into');
        }
        return losses;
      } finally {
        if (saved) for (const t of (saved as { bufs: Map<string, Tensor> }).bufs.values()) t.dispose();
        cs?.dispose();
        r.dispose();
      }
    };
    try {
      const want = run(false);
      const got = run(true);
      for (let i = 0; i < want.length; i++)
        assert.ok(Math.abs(got[i] - want[i]) <= 2e-3 * Math.abs(want[i]) + 1e-4, `step ${i}: captured ${got[i]} vs eager ${want[i]}`);
    } finally {
      for (const b of data) {
        b.x.dispose();
        b.y.dispose();
      }
    }
  });

  it('an op that would synchronise during a capture throws the named error; the stream stays usable', () => {
    const t = Tensor.full([4], 2, { device: dev });
    try {
      native().graphCaptureBegin(dev);
      try {
        assert.throws(
          () => t.dataSync(),
          (e: unknown) => codeOf(e) === 'ERR_CAPTURE_FORBIDDEN' && /copyToHost/.test((e as Error).message),
        );
        assert.throws(
          () => native().synchronize(dev as never),
          (e: unknown) => codeOf(e) === 'ERR_CAPTURE_FORBIDDEN' && /synchronize/.test((e as Error).message),
        );
        assert.throws(
          () => native().graphCaptureBegin(dev),
          (e: unknown) => codeOf(e) === 'ERR_CAPTURE_STATE',
        );
      } finally {
        native().graphCaptureAbort(dev);
      }
      assert.deepEqual(Array.from(t.dataSync()), [2, 2, 2, 2]);
      assert.throws(
        () => native().graphCaptureEnd(dev),
        (e: unknown) => codeOf(e) === 'ERR_CAPTURE_STATE',
      );
    } finally {
      t.dispose();
    }
  });

  it('a graph handle replays, reports disposal and refuses replay after dispose()', () => {
    const t = Tensor.full([16], 1, { device: dev });
    try {
      native().graphCaptureBegin(dev);
      native().axpy(1, t.handle, t.handle); // t += t: recorded, not run
      const g = native().graphCaptureEnd(dev);
      assert.equal(g.device, dev);
      assert.equal(g.disposed, false);
      assert.deepEqual(Array.from(t.dataSync()), new Array(16).fill(1));
      native().graphReplay(g);
      native().graphReplay(g);
      assert.deepEqual(Array.from(t.dataSync()), new Array(16).fill(4));
      g.dispose();
      g.dispose();
      assert.equal(g.disposed, true);
      assert.throws(
        () => native().graphReplay(g),
        (e: unknown) => e instanceof TypeError && /disposed/.test((e as Error).message),
      );
    } finally {
      t.dispose();
    }
  });

  it('a step that reads a value on the host falls back to eager with the reason, and its losses stay right', () => {
    const data = batches(5, 23, dev);
    const r = rig(dev);
    const log: string[] = [];
    const seen: number[] = [];
    const cs = new CapturedStep(
      (x, y) => {
        const out = r.fn(x, y);
        seen.push(out[0].item()); // a host read: forbidden in a capture
        return out;
      },
      { reset: () => r.opt.zeroGrad(), log: (m) => log.push(m) },
    );
    try {
      const got = data.map((b) => cs.step(b.x, b.y)[0].item());
      assert.equal(cs.mode, 'eager');
      assert.equal(log.length, 1);
      assert.match(log[0], /copyToHost/);
      const want = eagerLosses(dev, data, () => 0.1);
      for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i] - want[i]) <= 1e-3 * Math.abs(want[i]) + 1e-5);
    } finally {
      cs.dispose();
      r.dispose();
      for (const b of data) {
        b.x.dispose();
        b.y.dispose();
      }
    }
  });
});
