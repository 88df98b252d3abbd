// Dynamic loss scaling ops (ampUnscale, ampUpdateScale): the found-inf flag, the unscaled
// values against 1/scale rounded once, and GradScaler's back-off / growth rules, step by
// step; plus argument checks.
import * as assert from 'node:assert/strict';

import { native } from '../../lib/native';
import { describeDevices } from '../helpers/devices';
import { assertArgError, assertThrowsNamed } from '../helpers/reference';
import { disposeAll, make, normals, readNCHW, rng } from './ops-common';

const f = Math.fround;

describeDevices('loss scaling', (d) => {
  const dev = d.device;
  const nat = () => native();

  it('unscales every gradient by 1/scale and clears the flag when all are finite', () => {
    const r = rng(3);
    const sizes = [1, 7, 20000, 3 * 16385]; // several blocks per tensor on CUDA, odd tails
    const data = sizes.map((n) => Float32Array.from(normals(n, r, 1e3)));
    const gs = data.map((v, k) => make(v, [sizes[k]], dev));
    const scale = make([65536 * 3], [1], dev),
      state = make([1, 4, 2], [3], dev);
    nat().ampUnscale(gs, scale, state);
    const inv = f(1 / (65536 * 3));
    gs.forEach((g, k) =>
      assert.deepEqual(
        readNCHW(g),
        data[k].map((v) => f(v * inv)),
        `grads[${k}]`,
      ),
    );
    assert.deepEqual([...readNCHW(state)], [0, 4, 2]); // only the flag is written
    assert.deepEqual([...readNCHW(scale)], [65536 * 3]);
    disposeAll(...gs, scale, state);
  });

  for (const bad of [Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, Number.NaN]) {
    it(`sets the flag for a ${bad} anywhere in any gradient`, () => {
      const a = new Float32Array(5000).fill(1),
        b = new Float32Array(40000).fill(2);
      b[39999 - 17] = bad;
      const ga = make(a, [5000], dev),
        gb = make(b, [40000], dev);
      const scale = make([4], [1], dev),
        state = make([0, 0, 0], [3], dev);
      nat().ampUnscale([ga, gb], scale, state);
      assert.equal(readNCHW(state)[0], 1);
      assert.equal(readNCHW(ga)[0], 0.25);
      disposeAll(ga, gb, scale, state);
    });
  }

  it('accepts an empty gradient list (flag cleared)', () => {
    const scale = make([2], [1], dev),
      state = make([1, 0, 0], [3], dev);
    nat().ampUnscale([], scale, state);
    assert.equal(readNCHW(state)[0], 0);
    disposeAll(scale, state);
  });

  it("follows GradScaler's policy: back off on overflow, grow after the interval", () => {
    const scale = make([1024], [1], dev);
    let kept = [0, 0]; // good steps, skipped steps: carried from call to call
    const step = (foundInf: number) => {
      const st = make([foundInf, ...kept], [3], dev);
      nat().ampUpdateScale(scale, st, 2, 0.5, 3);
      const out = [...readNCHW(scale), ...readNCHW(st)];
      kept = out.slice(2);
      disposeAll(st);
      return out;
    };
    assert.deepEqual(step(0), [1024, 0, 1, 0]);
    assert.deepEqual(step(0), [1024, 0, 2, 0]);
    assert.deepEqual(step(0), [2048, 0, 0, 0]); // the third good step in a row grows it
    assert.deepEqual(step(1), [1024, 1, 0, 1]); // overflow: halve, restart, count the skip
    assert.deepEqual(step(0), [1024, 0, 1, 1]);
    assert.deepEqual(step(1), [512, 1, 0, 2]);
    disposeAll(scale);
  });

  it('keeps the scale when growing it would overflow fp32', () => {
    const scale = make([3e38], [1], dev),
      state = make([0, 0, 0], [3], dev);
    nat().ampUpdateScale(scale, state, 2, 0.5, 1);
    assert.equal(readNCHW(scale)[0], f(3e38));
    assert.deepEqual([...readNCHW(state)], [0, 0, 0]);
    disposeAll(scale, state);
  });

  it('refuses bad arguments, naming them', () => {
    const g = make([1, 2], [2], dev),
      scale = make([1], [1], dev),
      state = make([0, 0, 0], [3], dev);
    const two = make([1, 1], [2], dev);
    const half = nat().fromTypedArray(new Float32Array(2), [2], 'float16', 'NCHW', dev);
    const un =
      (...o: unknown[]) =>
      () =>
        (nat().ampUnscale as (...a: unknown[]) => unknown)(...o);
    const up =
      (...o: unknown[]) =>
      () =>
        (nat().ampUpdateScale as (...a: unknown[]) => unknown)(...o);
    assertThrowsNamed(un([half], scale, state), TypeError, "'grads[0]'", 'float32');
    assertThrowsNamed(un([g], two, state), RangeError, "'scale'", '[1]');
    assertThrowsNamed(un([g], scale, two), RangeError, "'state'", '[3]');
    assertThrowsNamed(un(g, scale, state), TypeError, "'grads'");
    assertThrowsNamed(up(scale, state, 1, 0.5, 10), RangeError, "'growthFactor'");
    assertThrowsNamed(up(scale, state, 2, 1, 10), RangeError, "'backoffFactor'");
    assertThrowsNamed(up(scale, state, 2, 0, 10), RangeError, "'backoffFactor'");
    assertThrowsNamed(up(scale, state, 2, 0.5, 0), RangeError, "'growthInterval'");
    assertThrowsNamed(up(scale, state, 2, 0.5, 1.5), RangeError, "'growthInterval'");
    assertThrowsNamed(up(scale, state, Number.NaN, 0.5, 10), RangeError, "'growthFactor'");
    assert.deepEqual([...readNCHW(g)], [1, 2]);
    disposeAll(g, scale, state, two, half);
  });

  it('refuses aliased arguments and (on the host) a zero or non-finite scale', () => {
    const g = make([1, 2], [2], dev),
      scale = make([2], [1], dev),
      state = make([0, 0, 0], [3], dev);
    const un =
      (...o: unknown[]) =>
      () =>
        (nat().ampUnscale as (...a: unknown[]) => unknown)(...o);
    const aliased = { code: 'ERR_ALIASED_ARGS', op: 'ampUnscale' };
    assertArgError(un([g, g], scale, state), RangeError, { ...aliased, argument: 'grads[1]' }, "'grads[0]'");
    assertArgError(un([scale], scale, state), RangeError, { ...aliased, argument: 'grads[0]' }, "'scale'");
    assertArgError(() => nat().ampUpdateScale(scale, scale as never, 2, 0.5, 10), RangeError, {
      code: 'ERR_OUT_OF_RANGE',
      op: 'ampUpdateScale',
      argument: 'state',
    });
    if (dev === 'cpu') {
      for (const bad of [0, -1, Infinity, NaN]) {
        const s = make([bad], [1], dev);
        assertArgError(un([g], s, state), RangeError, { code: 'ERR_OUT_OF_RANGE', op: 'ampUnscale', argument: 'scale' }, '> 0');
        disposeAll(s);
      }
    }
    assert.deepEqual([...readNCHW(g)], [1, 2], 'refused calls change nothing');
    disposeAll(g, scale, state);
  });
});
