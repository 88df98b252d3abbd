// Fills: constant (every dtype), uniform, normal and Kaiming normal. Random fills are checked
// for determinism by seed, independence across seeds, their moments, the Kaiming formula,
// and value by value against an independent BigInt Philox4x32-10 written here (itself
// checked on Random123's known-answer vectors), so the generator is the real Philox.
import * as assert from 'node:assert/strict';

import { DTypeName, native, NativeTensor } from '../../lib/native';
import { describeDevices } from '../helpers/devices';
import { assertThrowsNamed } from '../helpers/reference';
import { disposeAll } from './ops-common';

const M32 = 0xffffffffn;

/** Philox4x32-10 (Salmon et al., SC'11) on BigInt: counter [c0..c3], key [k0, k1]. */
function philox(ctr: number[], key: number[]): number[] {
  let [c0, c1, c2, c3] = ctr.map(BigInt);
  let [k0, k1] = key.map(BigInt);
  for (let round = 0; round < 10; round++) {
    const p0 = 0xd2511f53n * c0,
      p1 = 0xcd9e8d57n * c2;
    const hi0 = p0 >> 32n,
      lo0 = p0 & M32,
      hi1 = p1 >> 32n,
      lo1 = p1 & M32;
    [c0, c1, c2, c3] = [hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0];
    k0 = (k0 + 0x9e3779b9n) & M32;
    k1 = (k1 + 0xbb67ae85n) & M32;
  }
  return [c0, c1, c2, c3].map(Number);
}

const split = (v: bigint) => [Number(v & M32), Number(v >> 32n)];

/** Element i of a uniform fill: block i / 4 of the (seed) stream, word i % 4, top 24 bits. */
function uniformAt(seed: bigint, i: bigint): number {
  const [lo, hi] = split(i >> 2n);
  return (philox([lo, hi, 0, 0], split(seed))[Number(i & 3n)] >>> 8) / 16777216;
}

/** Element i of a normal fill: Box-Muller on block i / 2 of the stream with c2 = 1. */
function normalAt(seed: bigint, i: bigint): number {
  const [lo, hi] = split(i >> 1n);
  const r = philox([lo, hi, 1, 0], split(seed));
  const u1 = ((r[0] >>> 8) + 1) / 16777216,
    u2 = (r[1] >>> 8) / 16777216;
  const radius = Math.sqrt(-2 * Math.log(u1)),
    angle = 6.283185307179586 * u2;
  return Math.fround(i & 1n ? radius * Math.sin(angle) : radius * Math.cos(angle));
}

function moments(v: ArrayLike<number>): { mean: number; std: number } {
  let s = 0,
    ss = 0;
  for (let i = 0; i < v.length; i++) s += v[i];
  const mean = s / v.length;
  for (let i = 0; i < v.length; i++) ss += (v[i] - mean) ** 2;
  return { mean, std: Math.sqrt(ss / v.length) };
}

describe('Philox4x32-10 test implementation', () => {
  it('reproduces Random123 known-answer vectors', () => {
    assert.deepEqual(philox([0, 0, 0, 0], [0, 0]), [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]);
    assert.deepEqual(philox([0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff]), [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd]);
    assert.deepEqual(philox([0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0]), [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1]);
  });
});

describeDevices('fills', (d) => {
  const dev = d.device;
  const nat = () => native();
  const empty = (shape: number[], dtype: DTypeName = 'float32') => nat().empty(shape, dtype, 'NCHW', dev);
  const values = (t: NativeTensor) => t.read() as Float32Array;

  it('fillConstant writes every dtype', () => {
    for (const [dtype, v, want] of [
      ['float32', 0.1, Math.fround(0.1)],
      ['float16', 0.1, 0.0999755859375],
      ['bfloat16', 0.1, 0.10009765625],
      ['int32', -2147483648, -2147483648],
      ['int32', 16777217, 16777217],
      ['uint8', 255, 255],
    ] as [DTypeName, number, number][]) {
      const t = empty([3, 5, 7], dtype);
      nat().fillConstant(t, v);
      assert.ok(
        [...t.read()].every((x) => x === want),
        `${dtype} ${v}`,
      );
      t.dispose();
    }
  });

  it('fillUniform and fillNormal give exactly the Philox values at fixed (seed, index)', () => {
    const cases: [number, number[]][] = [
      [0, [0, 1, 2, 3, 4, 7, 1001]],
      [42, [0, 5, 6, 99]],
      [2 ** 53 - 1, [3, 17, 64]],
      [0x123456789ab, [0, 1, 2, 3, 8191]],
    ];
    for (const [seed, idx] of cases) {
      const u = empty([8192]),
        n = empty([8192]);
      nat().fillUniform(u, 0, 1, seed);
      nat().fillNormal(n, 0, 1, seed);
      for (const i of idx) {
        assert.equal(values(u)[i], uniformAt(BigInt(seed), BigInt(i)), `uniform seed ${seed} index ${i}`);
        const want = normalAt(BigInt(seed), BigInt(i));
        assert.ok(Math.abs(values(n)[i] - want) <= 1e-6 * Math.max(1, Math.abs(want)), `normal seed ${seed} index ${i}`);
      }
      disposeAll(u, n);
    }
  });

  it('is deterministic by seed, differs across seeds, and agrees across dtypes and layouts', () => {
    const a = empty([4, 3, 5, 5]),
      b = empty([4, 3, 5, 5]),
      c = empty([4, 3, 5, 5]);
    nat().fillNormal(a, 0, 1, 7);
    nat().fillNormal(b, 0, 1, 7);
    nat().fillNormal(c, 0, 1, 8);
    assert.deepEqual(values(a), values(b));
    const va = values(a),
      vc = values(c);
    assert.ok(va.filter((v, i) => v === vc[i]).length < 3, 'seeds 7 and 8 give different streams');
    // Element i in memory order, converted on store: a bf16 NHWC fill is the f32 fill, rounded.
    const h = nat().empty([4, 3, 5, 5], 'bfloat16', 'NHWC', dev);
    nat().fillNormal(h, 0, 1, 7);
    const ref = nat().cast(a, 'bfloat16');
    assert.deepEqual(values(h), values(ref));
    const u32 = empty([1000]),
      u16 = empty([1000], 'float16');
    nat().fillUniform(u32, -2, 3, 9);
    nat().fillUniform(u16, -2, 3, 9);
    const conv = nat().cast(u32, 'float16');
    assert.deepEqual(values(u16), values(conv));
    disposeAll(a, b, c, h, ref, u32, u16, conv);
  });

  it('uniform and normal fills have the requested moments', () => {
    const n = 200000;
    for (const [low, high, seed] of [
      [0, 1, 1],
      [-3, 5, 2],
      [10, 10.5, 3],
    ]) {
      const t = empty([n]);
      nat().fillUniform(t, low, high, seed);
      const v = values(t);
      assert.ok(
        v.every((x) => x >= low && x <= high),
        'within [low, high]',
      );
      const m = moments(v),
        sd = (high - low) / Math.sqrt(12);
      assert.ok(Math.abs(m.mean - (low + high) / 2) < (5 * sd) / Math.sqrt(n), `uniform mean ${m.mean}`);
      assert.ok(Math.abs(m.std / sd - 1) < 0.01, `uniform std ${m.std} vs ${sd}`);
      t.dispose();
    }
    for (const [mean, std, seed] of [
      [0, 1, 4],
      [2.5, 0.1, 5],
      [-1, 3, 6],
    ]) {
      const t = empty([n]);
      nat().fillNormal(t, mean, std, seed);
      const m = moments(values(t));
      assert.ok(Math.abs(m.mean - mean) < (5 * std) / Math.sqrt(n), `normal mean ${m.mean} vs ${mean}`);
      assert.ok(Math.abs(m.std / std - 1) < 0.01, `normal std ${m.std} vs ${std}`);
      t.dispose();
    }
  });

  it('fillKaimingNormal has std = gain / sqrt(fan) for conv and linear weights', () => {
    const cases: [number[], 'fan_in' | 'fan_out', number, number][] = [
      [[64, 32, 3, 3], 'fan_in', Math.SQRT2, 32 * 9],
      [[64, 32, 3, 3], 'fan_out', Math.SQRT2, 64 * 9],
      [[128, 256], 'fan_in', 1, 256],
      [[100, 300], 'fan_out', 2, 100],
      [[16, 3, 7, 5], 'fan_in', Math.SQRT2, 3 * 35],
    ];
    cases.forEach(([shape, mode, gain, fan], k) => {
      const t = empty(shape);
      nat().fillKaimingNormal(t, mode, gain, 100 + k);
      const m = moments(values(t)),
        want = gain / Math.sqrt(fan),
        n = values(t).length;
      assert.ok(Math.abs(m.std / want - 1) < 4 / Math.sqrt(2 * n) + 0.005, `${shape} ${mode}: std ${m.std} vs ${want}`);
      assert.ok(Math.abs(m.mean) < (5 * want) / Math.sqrt(n), `${shape} ${mode}: mean ${m.mean}`);
      // The same stream as fillNormal(0, std) with that seed.
      const r = empty(shape);
      nat().fillNormal(r, 0, want, 100 + k);
      const vr = values(r),
        vt = values(t);
      assert.ok(
        vt.every((v, i) => Math.abs(v - vr[i]) <= 1e-6 * Math.abs(vr[i]) + 1e-12),
        `${shape} equals the normal stream`,
      );
      disposeAll(t, r);
    });
  });

  it('refuses bad arguments, naming them', () => {
    const t = empty([4, 3]);
    const i32 = empty([3], 'int32'),
      u8 = empty([3], 'uint8'),
      f16 = empty([3], 'float16'),
      t3 = empty([2, 3, 4]);
    const call =
      (fn: string, ...o: unknown[]) =>
      () =>
        (nat() as unknown as Record<string, (...a: unknown[]) => unknown>)[fn](...o);
    assertThrowsNamed(call('fillUniform', t, 0, 1, -1), RangeError, "'seed'");
    assertThrowsNamed(call('fillUniform', t, 0, 1, 2 ** 53), RangeError, "'seed'");
    assertThrowsNamed(call('fillUniform', t, 0, 1, 1.5), RangeError, "'seed'");
    assertThrowsNamed(call('fillNormal', t, 0, 1, '3'), TypeError, "'seed'");
    assertThrowsNamed(call('fillUniform', t, 1, 0, 3), RangeError, "'high'");
    assertThrowsNamed(call('fillUniform', i32, 0, 1, 3), TypeError, "'t'", 'float');
    assertThrowsNamed(call('fillNormal', t, 0, -1, 3), RangeError, "'std'");
    assertThrowsNamed(call('fillKaimingNormal', t, 'fan_avg', 1, 3), TypeError, "'mode'");
    assertThrowsNamed(call('fillKaimingNormal', t3, 'fan_in', 1, 3), RangeError, "'t'", '2-D');
    assertThrowsNamed(call('fillKaimingNormal', t, 'fan_in', -1, 3), RangeError, "'gain'");
    assertThrowsNamed(call('fillConstant', i32, 1.5), RangeError, "'value'");
    assertThrowsNamed(call('fillConstant', i32, 2 ** 31), RangeError, "'value'");
    assertThrowsNamed(call('fillConstant', u8, 256), RangeError, "'value'");
    assertThrowsNamed(call('fillConstant', f16, 70000), RangeError, "'value'", 'float16');
    assertThrowsNamed(call('fillConstant', t, Infinity), RangeError, "'value'");
    disposeAll(t, i32, u8, f16, t3);
  });
});
