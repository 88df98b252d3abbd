// The tensor-math functions through the public API: PyTorch's conventions (negative dims,
// Python slice bounds, max with and without dim, topk options), layouts of results and
// gradients, and errors naming the public op and argument. Values and gradients are checked
// in test/native/{arith,reduce,softmax,index}.test.ts and test/lib/ops/index.test.ts.
import * as assert from 'node:assert/strict';

import * as F from '../../../lib/ops';
import { backward } from '../../../lib/autograd';
import { memory, Tensor, tidy } from '../../../lib/tensor';
import { assertArgError } from '../../helpers/reference';

const vals = (t: Tensor) => Array.from(t.dataSync());
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe('tensor math API', () => {
  it('slice follows Python bounds; narrow follows torch.narrow', () => {
    tidy(() => {
      const x = Tensor.fromArray(range(10), [2, 5]);
      assert.deepEqual(vals(F.slice(x, 1, -3)), [2, 3, 4, 7, 8, 9]);
      assert.deepEqual(vals(F.slice(x, -1, 0, 100, 2)), [0, 2, 4, 5, 7, 9]);
      assert.deepEqual(vals(F.slice(x, 0, -100, 1)), [0, 1, 2, 3, 4]);
      assert.deepEqual(F.slice(x, 1, 1, -1).shape, [2, 3]);
      assert.deepEqual(vals(F.narrow(x, 1, -2, 2)), [3, 4, 8, 9]);
      assert.deepEqual(vals(F.narrow(x, 0, 1, 1)), [5, 6, 7, 8, 9]);
    });
  });

  it('max, argmax and topk as torch.max(x), torch.max(x, dim), argmax and topk', () => {
    tidy(() => {
      const x = Tensor.fromArray([3, 9, 1, 9, 4, 0], [2, 3]);
      const all = F.max(x);
      assert.deepEqual(all.shape, [1]);
      assert.equal(all.item(), 9);
      assert.equal(F.argmax(x).item(), 1); // the first of the two 9s, flattened
      const m = F.max(x, -1);
      assert.deepEqual(m.values.shape, [2]);
      assert.deepEqual(vals(m.values), [9, 9]);
      assert.deepEqual(vals(m.indices), [1, 0]);
      assert.deepEqual(F.max(x, 0, { keepdim: true }).values.shape, [1, 3]);
      assert.deepEqual(vals(F.argmax(x, 0)), [1, 0, 0]);
      const top = F.topk(x, 2);
      assert.deepEqual(vals(top.values), [9, 3, 9, 4]);
      assert.deepEqual(vals(top.indices), [1, 0, 0, 1]);
      assert.deepEqual(vals(F.topk(x, 1, { dim: 0, largest: false }).indices), [0, 1, 1]);
    });
  });

  it('sum and mean take a dim, a list of dims or none', () => {
    tidy(() => {
      const x = Tensor.fromArray(range(24), [2, 3, 4]);
      assert.deepEqual(F.sum(x).shape, [1]);
      assert.equal(F.sum(x).item(), 276);
      assert.deepEqual(vals(F.sum(x, [0, 2])), [60, 92, 124]);
      assert.deepEqual(F.mean(x, -1, { keepdim: true }).shape, [2, 3, 1]);
      assert.deepEqual(
        vals(F.mean(x, 0)),
        range(12).map((i) => i + 6),
      );
    });
  });

  it('add of equal NHWC tensors keeps NHWC; broadcasting results are NCHW and gradients come back in the input layout', () => {
    tidy(() => {
      const a = Tensor.fromArray(range(24), [2, 3, 2, 2], { layout: 'NHWC' });
      a.requiresGrad = true;
      assert.equal(F.add(a, a).layout, 'NHWC');
      const b = Tensor.fromArray([1, 2, 3], [3, 1, 1]);
      b.requiresGrad = true;
      const y = F.mul(a, b);
      assert.equal(y.layout, 'NCHW');
      backward(F.sum(y));
      assert.equal(a.grad!.layout, 'NHWC');
      assert.deepEqual(
        vals(a.grad!),
        range(24).map((i) => (Math.floor(i / 4) % 3) + 1),
      );
      assert.deepEqual(b.grad!.shape, [3, 1, 1]);
    });
  });

  it('frees every temporary of forward and backward', () => {
    const before = memory().liveTensors;
    tidy(() => {
      const x = Tensor.fromArray(range(12), [3, 4]);
      x.requiresGrad = true;
      const y = F.sub(F.div(F.logSoftmax(F.indexSelect(x, 1, Tensor.fromArray(Int32Array.from([0, 0, 3]), [3])), 1), 2), F.mean(x, 1, { keepdim: true }));
      backward(F.sum(F.add(F.topk(y, 2).values, F.max(F.slice(x, 0, 1)))));
      x.grad!.dispose();
    });
    assert.equal(memory().liveTensors, before);
  });

  it('errors name the public op and argument', () => {
    tidy(() => {
      const x = Tensor.zeros([2, 3]);
      const range_ = { code: 'ERR_OUT_OF_RANGE' },
        type_ = { code: 'ERR_INVALID_ARG_TYPE' };
      assertArgError(() => F.sub(x, Tensor.zeros([2])), RangeError, { ...range_, op: 'sub', argument: 'b' }, 'broadcast');
      assertArgError(() => F.mul(x, 'two' as never), TypeError, { ...type_, op: 'mul', argument: 'b' });
      assertArgError(() => F.div(x, Tensor.zeros([3], { dtype: 'float16' })), TypeError, { ...type_, op: 'div', argument: 'b' }, 'dtype');
      assertArgError(() => F.add(Tensor.zeros([3], { dtype: 'int32' }), 1), TypeError, { ...type_, op: 'add', argument: 'a' });
      assertArgError(() => F.pow(x, Infinity), TypeError, { ...type_, op: 'pow', argument: 'exponent' });
      assertArgError(() => F.sum(x, 2), RangeError, { ...range_, op: 'sum', argument: 'dim[0]' });
      assertArgError(() => F.mean(x, 'all' as never), TypeError, { ...type_, op: 'mean', argument: 'dim' });
      assertArgError(() => F.sum(x, 0, { keepDim: true } as never), TypeError, { code: 'ERR_UNKNOWN_OPTION', op: 'sum', argument: 'options.keepDim' });
      assertArgError(() => F.max(x, 5), RangeError, { ...range_, op: 'max', argument: 'dim' });
      assertArgError(() => F.argmax(x, -3), RangeError, { ...range_, op: 'argmax', argument: 'dim' });
      assertArgError(() => F.max(Tensor.zeros([2], { dtype: 'int32' })), TypeError, { ...type_, op: 'max', argument: 'x' });
      assertArgError(() => F.argmax(Tensor.zeros([2], { dtype: 'uint8' })), TypeError, { ...type_, op: 'argmax', argument: 'x' });
      assertArgError(() => F.topk(x, 4), RangeError, { ...range_, op: 'topk', argument: 'k' });
      assertArgError(() => F.topk(x, 1, { dim: 2 }), RangeError, { ...range_, op: 'topk', argument: 'dim' });
      assertArgError(() => F.softmax(x, 2), RangeError, { ...range_, op: 'softmax', argument: 'dim' });
      assertArgError(() => F.logSoftmax(Tensor.zeros([2], { dtype: 'int32' })), TypeError, { ...type_, op: 'logSoftmax', argument: 'x' });
      assertArgError(() => F.slice(x, 1, 3), RangeError, { ...range_, op: 'slice', argument: 'end' });
      assertArgError(() => F.slice(x, 1, 0, 3, 0), RangeError, { ...range_, op: 'slice', argument: 'step' });
      assertArgError(() => F.slice(x, 2), RangeError, { ...range_, op: 'slice', argument: 'dim' });
      assertArgError(() => F.narrow(x, 1, 1, 3), RangeError, { ...range_, op: 'narrow', argument: 'length' });
      assertArgError(() => F.indexSelect(x, 1, Tensor.zeros([2])), TypeError, { ...type_, op: 'indexSelect', argument: 'index' }, 'int32');
      assertArgError(() => F.indexSelect(x, 1, Tensor.fromArray(Int32Array.from([3]), [1])), RangeError, { ...range_, op: 'indexSelect', argument: 'index' });
      const gone = Tensor.zeros([3]);
      gone.dispose();
      assertArgError(() => F.exp(gone), TypeError, { ...type_, op: 'exp', argument: 'x' }, 'disposed');
      assertArgError(() => F.add(x, gone), TypeError, { ...type_, op: 'add', argument: 'b' }, 'disposed');
    });
  });
});
