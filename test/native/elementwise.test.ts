// relu (forward and backward), add, scale and axpy against naive references on random odd
// shapes in every float dtype and layout, central finite differences for relu's backward,
// and bad calls that must throw TypeError or RangeError naming the argument.
import * as assert from 'node:assert/strict';

import { DTypeName, LayoutName, native, NativeAddon, NativeTensor } from '../../lib/native';
import { cudaUnavailableReason, describeDevices } from '../helpers/devices';
import { assertThrowsNamed } from '../helpers/reference';
import { checkFiniteDiff, close, disposeAll, dot, make, normals, randInt, readNCHW, rng, rounded, someIndices } from './ops-common';

const FLOATS: DTypeName[] = ['float32', 'float16', 'bfloat16'];

/** One unit in the last place, relative: the kernels compute in fp32 and round once. */
const ULP: Record<string, number> = { float32: 1.2e-7, float16: 9.8e-4, bfloat16: 7.9e-3 };

const numel = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/** Values as the fp32 arithmetic of the kernels gives them, then stored in `dtype`. */
function stored(values: ArrayLike<number>, dtype: DTypeName): Float32Array {
  return rounded(Float32Array.from(values), dtype);
}

function map(n: number, f: (i: number) => number): Float64Array {
  return Float64Array.from({ length: n }, (_, i) => f(i));
}

describeDevices('elementwise ops', ({ device }) => {
  const A = () => native();
  const r = rng(4242);
  // Odd sizes throughout; 4-D shapes exercise NHWC, the others are laid out flat.
  const shapes: number[][] = [
    [1],
    [7],
    [3, 5],
    [1, 1, 1, 1],
    [2, 3, 5, 7],
    ...Array.from({ length: 3 }, () => [randInt(r, 1, 3), randInt(r, 1, 9), randInt(r, 1, 9), randInt(r, 1, 9)]),
    [randInt(r, 1, 40), randInt(r, 1, 40)],
    [3, 17, 33, 65], // more elements than one thread's grain on the CPU
  ];
  const layoutsOf = (shape: number[]): LayoutName[] => (shape.length === 4 ? ['NCHW', 'NHWC'] : ['NCHW']);

  for (const dtype of FLOATS)
    it(`relu forward and backward match the reference (${dtype}, both layouts)`, () => {
      for (const shape of shapes)
        for (const layout of layoutsOf(shape)) {
          const n = numel(shape);
          const x = stored(normals(n, r), dtype);
          x[0] = 0; // relu'(0) is 0: the mask comes from y > 0
          const dy = stored(normals(n, r), dtype);
          const tx = make(x, shape, device, dtype, layout);
          const y = A().reluForward(tx);
          assert.deepEqual([y.shape, y.dtype, y.layout], [shape, dtype, layout]);
          close(
            readNCHW(y),
            map(n, (i) => Math.max(x[i], 0)),
            0,
            `relu ${shape} ${layout}`,
          );
          const tdy = make(dy, shape, device, dtype, layout);
          const dx = A().reluBackward(tdy, y);
          assert.deepEqual([dx.shape, dx.dtype, dx.layout], [shape, dtype, layout]);
          close(
            readNCHW(dx),
            map(n, (i) => (x[i] > 0 ? dy[i] : 0)),
            0,
            `relu backward ${shape} ${layout}`,
          );
          disposeAll(tx, y, tdy, dx);
        }
    });

  for (const dtype of FLOATS)
    it(`add, scale and axpy match the reference (${dtype}, both layouts)`, () => {
      const tol = ULP[dtype];
      for (const shape of shapes)
        for (const layout of layoutsOf(shape)) {
          const n = numel(shape);
          const a = stored(normals(n, r), dtype);
          const b = stored(normals(n, r, 3), dtype);
          const alpha = Math.fround(-1.75 + 4 * r());
          const ta = make(a, shape, device, dtype, layout);
          const tb = make(b, shape, device, dtype, layout);

          const sum = A().add(ta, tb);
          assert.deepEqual([sum.shape, sum.dtype, sum.layout], [shape, dtype, layout]);
          close(
            readNCHW(sum),
            stored(
              map(n, (i) => a[i] + b[i]),
              dtype,
            ),
            tol,
            `add ${shape} ${layout}`,
          );

          const scaled = A().scale(ta, alpha);
          assert.deepEqual([scaled.shape, scaled.dtype, scaled.layout], [shape, dtype, layout]);
          close(
            readNCHW(scaled),
            stored(
              map(n, (i) => alpha * a[i]),
              dtype,
            ),
            tol,
            `scale ${shape} ${layout}`,
          );

          // In place: tb += alpha * ta, with the product rounded to fp32 before the sum.
          A().axpy(alpha, ta, tb);
          const want = stored(
            map(n, (i) => b[i] + Math.fround(alpha * a[i])),
            dtype,
          );
          close(readNCHW(tb), want, tol, `axpy ${shape} ${layout}`);
          close(readNCHW(ta), a, 0, `axpy leaves x alone ${shape} ${layout}`);
          disposeAll(ta, tb, sum, scaled);
        }
    });

  it('axpy accumulates an fp32 x into a 16-bit y and an NHWC y', () => {
    for (const dtype of ['float16', 'bfloat16'] as const)
      for (const layout of ['NCHW', 'NHWC'] as const) {
        const shape = [2, 3, 5, 3];
        const n = numel(shape);
        const x = Float32Array.from(normals(n, r));
        const y = stored(normals(n, r), dtype);
        const tx = make(x, shape, device, 'float32', layout);
        const ty = make(y, shape, device, dtype, layout);
        A().axpy(0.5, tx, ty);
        assert.equal(ty.dtype, dtype);
        close(
          readNCHW(ty),
          stored(
            map(n, (i) => y[i] + Math.fround(0.5 * x[i])),
            dtype,
          ),
          ULP[dtype],
          `axpy ${dtype} ${layout}`,
        );
        disposeAll(tx, ty);
      }
  });

  it('relu backward matches central finite differences of sum(w * relu(x))', () => {
    for (const shape of [
      [3, 5],
      [2, 3, 4, 5],
      [1, 7, 3, 1],
    ]) {
      const n = numel(shape);
      // Kept 0.05 away from the kink, farther than the step h = 1e-2.
      const x = Float64Array.from(Float32Array.from(normals(n, r), (v) => Math.sign(v || 1) * (0.05 + Math.abs(v))));
      const w = normals(n, r);
      const tx = make(x, shape, device);
      const y = A().reluForward(tx);
      const tw = make(w, shape, device);
      const dx = readNCHW(A().reluBackward(tw, y));
      const f = (xv: Float64Array) => {
        const t = make(xv, shape, device);
        const o = A().reluForward(t);
        const v = dot(readNCHW(o), w);
        disposeAll(t, o);
        return v;
      };
      checkFiniteDiff(f, x, dx, someIndices(n, 30, r), `relu dx ${shape}`, 1e-2, 1e-3, 1e-4);
      disposeAll(tx, y, tw);
    }
  });

  describe('bad arguments', () => {
    // The raw addon with its types erased, to make the calls TypeScript would refuse.
    const raw = () => native() as unknown as Record<keyof NativeAddon, (...args: unknown[]) => unknown>;
    let owned: NativeTensor[] = [];
    const t = (shape: number[], dtype: DTypeName = 'float32', layout: LayoutName = 'NCHW', dev = device) => {
      const x = A().empty(shape, dtype, layout, dev);
      owned.push(x);
      return x;
    };
    afterEach(() => {
      disposeAll(...owned);
      owned = [];
    });

    it('integer tensors', () => {
      assertThrowsNamed(() => A().reluForward(t([3], 'int32')), TypeError, 'reluForward', "'x'", 'float32');
      assertThrowsNamed(() => A().reluBackward(t([3], 'uint8'), t([3], 'uint8')), TypeError, 'reluBackward', "'dy'");
      assertThrowsNamed(() => A().add(t([3], 'int32'), t([3], 'int32')), TypeError, 'add', "'a'");
      assertThrowsNamed(() => A().scale(t([3], 'int32'), 2), TypeError, 'scale', "'x'");
      assertThrowsNamed(() => A().axpy(1, t([3]), t([3], 'int32')), TypeError, 'axpy', "'y'");
      assertThrowsNamed(() => A().axpy(1, t([3], 'uint8'), t([3])), TypeError, 'axpy', "'x'");
    });

    it('operands that differ in shape, dtype or layout', () => {
      assertThrowsNamed(() => A().add(t([2, 3]), t([3, 2])), RangeError, 'add', "'b'", '[2, 3]');
      assertThrowsNamed(() => A().add(t([3]), t([3], 'float16')), TypeError, 'add', "'b'");
      assertThrowsNamed(() => A().add(t([1, 2, 3, 3]), t([1, 2, 3, 3], 'float32', 'NHWC')), TypeError, "'b'");
      assertThrowsNamed(() => A().reluBackward(t([4]), t([5])), RangeError, 'reluBackward', "'y'");
      assertThrowsNamed(() => A().reluBackward(t([4]), t([4], 'bfloat16')), TypeError, "'y'");
      assertThrowsNamed(() => A().axpy(1, t([4]), t([5])), RangeError, 'axpy', "'x'");
      assertThrowsNamed(() => A().axpy(1, t([1, 2, 3, 3], 'float32', 'NHWC'), t([1, 2, 3, 3])), TypeError, 'axpy', "'x'", 'layout');
    });

    it('non-finite or non-number scalars, foreign objects and wrong argument counts', () => {
      assertThrowsNamed(() => A().scale(t([3]), NaN), RangeError, 'scale', "'alpha'", 'finite');
      assertThrowsNamed(() => A().axpy(Infinity, t([3]), t([3])), RangeError, 'axpy', "'alpha'");
      assertThrowsNamed(() => raw().scale(t([3]), '2'), TypeError, "'alpha'", 'number');
      assertThrowsNamed(() => raw().reluForward({ shape: [3] }), TypeError, "'x'", 'tensor handle');
      assertThrowsNamed(() => raw().add(t([3])), TypeError, 'add', 'expected 2');
      assertThrowsNamed(() => raw().axpy(1, t([3])), TypeError, 'axpy', 'expected 3');
      const gone = t([3]);
      gone.dispose();
      assertThrowsNamed(() => A().reluForward(gone), TypeError, "'x'", 'disposed');
    });

    it('operands on different devices', function () {
      if (cudaUnavailableReason() !== null) this.skip();
      const other = device === 'cpu' ? 'cuda:0' : 'cpu';
      assertThrowsNamed(() => A().add(t([3]), t([3], 'float32', 'NCHW', other)), TypeError, "'b'", 'device');
      assertThrowsNamed(() => A().axpy(1, t([3], 'float32', 'NCHW', other), t([3])), TypeError, "'x'", 'device');
    });
  });

  it('leaves no live tensors behind', () => {
    const before = A().memoryStats().liveTensors;
    const x = make([1, -2, 3], [3], device);
    const y = A().reluForward(x);
    const out = [A().reluBackward(x, y), A().add(x, y), A().scale(x, 2)];
    A().axpy(1, x, y);
    assert.equal(A().memoryStats().liveTensors, before + 5);
    disposeAll(x, y, ...out);
    assert.equal(A().memoryStats().liveTensors, before);
  });
});
