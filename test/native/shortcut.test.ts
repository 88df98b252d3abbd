// Option-A shortcut: forward against a naive reference (stride subsampling, zero channels
// split (out - in) / 2 in front and the rest behind), backward against the reference,
// finite differences and the adjoint identity, every float dtype and layout, and checks.
import * as assert from 'node:assert/strict';

import { native } from '../../lib/native';
import { describeDevices, fewer } from '../helpers/devices';
import { assertThrowsNamed } from '../helpers/reference';
import { checkFiniteDiff, close, disposeAll, dot, make, normals, randInt, readNCHW, rng, rounded, someIndices } from './ops-common';

function outShape(x: number[], oc: number, s: number): number[] {
  return [x[0], oc, Math.ceil(x[2] / s), Math.ceil(x[3] / s)];
}

function forwardRef(x: ArrayLike<number>, shape: number[], oc: number, s: number): Float64Array {
  const [N, C, H, W] = shape;
  const [, , Ho, Wo] = outShape(shape, oc, s);
  const front = Math.floor((oc - C) / 2);
  const y = new Float64Array(N * oc * Ho * Wo);
  for (let n = 0; n < N; n++)
    for (let c = 0; c < C; c++)
      for (let h = 0; h < Ho; h++) for (let w = 0; w < Wo; w++) y[((n * oc + c + front) * Ho + h) * Wo + w] = x[((n * C + c) * H + h * s) * W + w * s];
  return y;
}

function backwardRef(dy: ArrayLike<number>, shape: number[], oc: number, s: number): Float64Array {
  const [N, C, H, W] = shape;
  const [, , Ho, Wo] = outShape(shape, oc, s);
  const front = Math.floor((oc - C) / 2);
  const dx = new Float64Array(N * C * H * W);
  for (let n = 0; n < N; n++)
    for (let c = 0; c < C; c++)
      for (let h = 0; h < Ho; h++) for (let w = 0; w < Wo; w++) dx[((n * C + c) * H + h * s) * W + w * s] = dy[((n * oc + c + front) * Ho + h) * Wo + w];
  return dx;
}

describeDevices('option-A shortcut', (d) => {
  const dev = d.device;
  const nat = () => native();
  const r = rng(81);
  const cases: [number[], number, number][] = [
    [[2, 16, 32, 32], 32, 2],
    [[3, 3, 7, 5], 8, 2],
    [[1, 5, 9, 9], 6, 3],
    [[2, 4, 5, 6], 4, 1],
    [[1, 1, 1, 1], 4, 2],
    ...Array.from({ length: 4 }, (): [number[], number, number] => {
      const C = randInt(r, 1, 6);
      return [[randInt(r, 1, 3), C, randInt(r, 1, 9), randInt(r, 1, 9)], C + randInt(r, 0, 5), randInt(r, 1, 3)];
    }),
  ];

  for (const layout of ['NCHW', 'NHWC'] as const)
    for (const dtype of ['float32', 'float16', 'bfloat16'] as const)
      it(`forward and backward match the reference (${dtype} ${layout})`, () => {
        for (const [shape, oc, s] of fewer(cases, 3)) {
          const x = rounded(
            normals(
              shape.reduce((a, b) => a * b),
              r,
            ),
            dtype,
          );
          const tx = make(x, shape, dev, dtype, layout);
          const y = nat().shortcutAForward(tx, oc, s);
          assert.deepEqual(y.shape, outShape(shape, oc, s));
          assert.equal(y.layout, layout);
          assert.equal(y.dtype, dtype);
          close(readNCHW(y), forwardRef(x, shape, oc, s), 0, `y ${shape} -> ${oc} stride ${s}`);
          const dy = rounded(
            normals(
              y.shape.reduce((a, b) => a * b),
              r,
            ),
            dtype,
          );
          const tdy = make(dy, y.shape, dev, dtype, layout);
          const dx = nat().shortcutABackward(tdy, shape[1], s, shape);
          assert.deepEqual(dx.shape, shape);
          assert.equal(dx.layout, layout);
          const dxv = readNCHW(dx);
          close(dxv, backwardRef(dy, shape, oc, s), 0, `dx ${shape}`);
          // Adjoint: <shortcut(x), dy> = <x, shortcut^T(dy)>.
          close([dot(readNCHW(y), dy)], [dot(x, dxv)], 1e-6, 'adjoint identity', 1);
          disposeAll(tx, y, tdy, dx);
        }
      });

  it('backward matches finite differences', () => {
    for (const [shape, oc, s] of cases.slice(1, 6)) {
      const n = shape.reduce((a, b) => a * b);
      const x = normals(n, r);
      const tx = make(x, shape, dev);
      const y = nat().shortcutAForward(tx, oc, s);
      const w = normals(
        y.shape.reduce((a, b) => a * b),
        r,
      );
      const tw = make(w, y.shape, dev);
      const dx = readNCHW(nat().shortcutABackward(tw, shape[1], s, shape));
      const f = (xv: Float64Array) => {
        const t = make(xv, shape, dev);
        const o = nat().shortcutAForward(t, oc, s);
        const v = dot(readNCHW(o), w);
        disposeAll(t, o);
        return v;
      };
      checkFiniteDiff(f, Float64Array.from(x), dx, someIndices(n, 30, r), `dx ${shape}`, 1e-2, 1e-3, 1e-4);
      disposeAll(tx, y, tw);
    }
  });

  it('puts (out - in) / 2 zero channels in front and the rest behind', () => {
    const tx = make([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], [1, 3, 2, 2], dev);
    const y = readNCHW(nat().shortcutAForward(tx, 6, 2)); // 1 channel in front, 2 behind
    assert.deepEqual([...y], [0, 1, 5, 9, 0, 0]);
    tx.dispose();
  });

  it('refuses bad arguments, naming them', () => {
    const x = make(new Float32Array(2 * 3 * 5 * 5), [2, 3, 5, 5], dev);
    const dy = make(new Float32Array(2 * 6 * 3 * 3), [2, 6, 3, 3], dev);
    assertThrowsNamed(() => nat().shortcutAForward(x, 2, 2), RangeError, "'outChannels'");
    assertThrowsNamed(() => nat().shortcutAForward(x, 6, 0), RangeError, "'stride'");
    assertThrowsNamed(() => nat().shortcutAForward(x, 6.5, 2), RangeError, "'outChannels'");
    assertThrowsNamed(() => nat().shortcutAForward(make([1, 2], [2], dev), 6, 2), RangeError, "'x'", '4-D');
    assertThrowsNamed(() => nat().shortcutABackward(dy, 4, 2, [2, 3, 5, 5]), RangeError, "'inChannels'");
    assertThrowsNamed(() => nat().shortcutABackward(dy, 3, 2, [2, 3, 7, 5]), RangeError, "'dy'", '[2, 6, 4, 3]');
    assertThrowsNamed(() => nat().shortcutABackward(dy, 3, 2, [2, 3, 5]), RangeError, "'xShape'");
    disposeAll(x, dy);
  });
});
