// Bad calls into the conv2d* and linear* bindings: each must throw TypeError or RangeError
// naming the op and the offending argument, and never reach the backend.
import { native, NativeAddon, NativeTensor } from '../../../lib/native';
import { cudaUnavailableReason, describeDevices } from '../../helpers/devices';
import { assertThrowsNamed } from '../../helpers/reference';

const P1: number[] = [1, 1, 1, 1, 1, 1];

describeDevices('conv2d and linear bindings refuse bad arguments', ({ device }) => {
  const A = native();
  // The raw addon with its types erased, to make the calls TypeScript would refuse.
  const raw = A as unknown as Record<keyof NativeAddon, (...args: unknown[]) => unknown>;
  let owned: NativeTensor[] = [];
  const t = (shape: number[], dtype: 'float32' | 'float16' | 'int32' = 'float32', layout: 'NCHW' | 'NHWC' = 'NCHW', dev = device) => {
    const x = A.empty(shape, dtype, layout, dev);
    owned.push(x);
    return x;
  };
  afterEach(() => {
    for (const x of owned) x.dispose();
    owned = [];
  });

  // x [2, 3, 8, 8], w [4, 3, 3, 3] -> y [2, 4, 8, 8] with padding 1.
  const x = () => t([2, 3, 8, 8]);
  const w = () => t([4, 3, 3, 3]);
  const dy = () => t([2, 4, 8, 8]);

  it('accepts the well-formed calls these tests corrupt', () => {
    for (const r of [
      A.conv2dForward(x(), w(), t([4]), P1, false),
      A.conv2dBackwardData(dy(), w(), [2, 3, 8, 8], P1, false),
      A.conv2dBackwardFilter(dy(), x(), [4, 3, 3, 3], P1, false),
      A.conv2dBackwardBias(dy()),
      A.linearForward(t([5, 7]), t([3, 7]), t([3])),
    ])
      r.dispose();
  });

  it('wrong rank: 3-D x, 1-D w, 2-D dy for the bias gradient', () => {
    assertThrowsNamed(() => A.conv2dForward(t([3, 8, 8]), w(), null, P1, false), RangeError, 'conv2dForward', "'x'", '4-D');
    assertThrowsNamed(() => A.conv2dForward(x(), t([27]), null, P1, false), RangeError, "'w'", '4-D');
    assertThrowsNamed(() => A.conv2dBackwardBias(t([2, 4])), RangeError, 'conv2dBackwardBias', "'dy'");
  });

  it('non-float dtype and mismatched dtypes', () => {
    assertThrowsNamed(() => A.conv2dForward(t([2, 3, 8, 8], 'int32'), w(), null, P1, false), TypeError, "'x'", 'float32');
    assertThrowsNamed(() => A.conv2dForward(x(), t([4, 3, 3, 3], 'float16'), null, P1, false), TypeError, "'w'", 'dtype');
    assertThrowsNamed(() => A.conv2dBackwardFilter(dy(), t([2, 3, 8, 8], 'float16'), [4, 3, 3, 3], P1, false), TypeError, "'x'");
  });

  it('mismatched layouts', () => {
    assertThrowsNamed(() => A.conv2dForward(x(), t([4, 3, 3, 3], 'float32', 'NHWC'), null, P1, false), TypeError, "'w'", 'layout');
    assertThrowsNamed(() => A.conv2dBackwardData(t([2, 4, 8, 8], 'float32', 'NHWC'), w(), [2, 3, 8, 8], P1, false), TypeError, "'w'");
  });

  it('channel mismatch between x and w', () => {
    assertThrowsNamed(() => A.conv2dForward(x(), t([4, 5, 3, 3]), null, P1, false), RangeError, "'w'", 'input channels');
    assertThrowsNamed(() => A.conv2dBackwardData(dy(), w(), [2, 5, 8, 8], P1, false), RangeError, "'xShape'");
    assertThrowsNamed(() => A.conv2dBackwardFilter(dy(), x(), [4, 5, 3, 3], P1, false), RangeError, "'wShape'");
  });

  it('disposed tensors and foreign objects', () => {
    const gone = t([4, 3, 3, 3]);
    gone.dispose();
    assertThrowsNamed(() => A.conv2dForward(x(), gone, null, P1, false), TypeError, "'w'", 'disposed');
    assertThrowsNamed(() => raw.conv2dForward({ shape: [2, 3, 8, 8] }, w(), null, P1, false), TypeError, "'x'", 'tensor handle');
    assertThrowsNamed(() => raw.conv2dBackwardData(dy(), 'w', [2, 3, 8, 8], P1, false), TypeError, "'w'");
    assertThrowsNamed(() => raw.conv2dForward(x(), w(), 0, P1, false), TypeError, "'bias'");
  });

  it('NaN, negative, fractional, huge and zero params', () => {
    const call = (p: unknown[]) => () => raw.conv2dForward(x(), w(), null, p, false);
    assertThrowsNamed(call([1, 1, NaN, 1, 1, 1]), RangeError, "'params[2]'", 'NaN');
    assertThrowsNamed(call([1, 1, -1, 1, 1, 1]), RangeError, "'params[2]'");
    assertThrowsNamed(call([1.5, 1, 1, 1, 1, 1]), RangeError, "'params[0]'");
    assertThrowsNamed(call([1, 1, 1, 1, 1e9, 1]), RangeError, "'params[4]'");
    assertThrowsNamed(call([1, 0, 1, 1, 1, 1]), RangeError, "'params[1]'", 'strideW');
    assertThrowsNamed(call([1, 1, 1, 1, 1, 0]), RangeError, "'params[5]'", 'dilationW');
    assertThrowsNamed(call([1, 1, Infinity, 1, 1, 1]), RangeError, "'params[2]'");
    assertThrowsNamed(call([1, 1, 1, 1]), RangeError, "'params'", '6 entries');
    assertThrowsNamed(call(['1', 1, 1, 1, 1, 1]), TypeError, "'params[0]'");
    assertThrowsNamed(() => raw.conv2dForward(x(), w(), null, 1, false), TypeError, "'params'");
  });

  it('wrong argument count and a non-boolean allowTf32', () => {
    assertThrowsNamed(() => raw.conv2dForward(x(), w(), null, P1), TypeError, 'conv2dForward', 'expected 5 arguments');
    assertThrowsNamed(() => raw.conv2dBackwardBias(), TypeError, 'conv2dBackwardBias', 'expected 1');
    assertThrowsNamed(() => raw.linearForward(t([5, 7]), t([3, 7])), TypeError, 'linearForward', 'expected 3');
    assertThrowsNamed(() => raw.conv2dForward(x(), w(), null, P1, 1), TypeError, "'allowTf32'");
  });

  it('bias of the wrong shape or rank', () => {
    assertThrowsNamed(() => A.conv2dForward(x(), w(), t([5]), P1, false), RangeError, "'bias'", '[4]');
    assertThrowsNamed(() => A.conv2dForward(x(), w(), t([1, 4]), P1, false), RangeError, "'bias'", '1-D');
  });

  it('a kernel that does not fit the padded input, and shapes inconsistent with dy', () => {
    assertThrowsNamed(() => A.conv2dForward(x(), t([4, 3, 11, 3]), null, P1, false), RangeError, "'w'", 'empty output');
    assertThrowsNamed(() => A.conv2dForward(x(), w(), null, [1, 1, 0, 0, 5, 1], false), RangeError, "'w'", 'dilation 5x1');
    assertThrowsNamed(() => A.conv2dBackwardData(dy(), w(), [2, 3, 9, 8], P1, false), RangeError, "'xShape'", "'dy'");
    assertThrowsNamed(() => A.conv2dBackwardData(dy(), w(), [3, 3, 8, 8], P1, false), RangeError, "'xShape'");
    assertThrowsNamed(() => A.conv2dBackwardData(dy(), w(), [2, 3, 8], P1, false), RangeError, "'xShape'", '4 entries');
    assertThrowsNamed(() => A.conv2dBackwardData(dy(), w(), [2, 3, 0, 8], P1, false), RangeError, "'xShape[2]'");
    assertThrowsNamed(() => A.conv2dBackwardFilter(dy(), x(), [5, 3, 3, 3], P1, false), RangeError, "'wShape'", "'dy'");
    assertThrowsNamed(() => A.conv2dBackwardFilter(dy(), x(), [4, 3, 3, 3], [2, 2, 1, 1, 1, 1], false), RangeError, "'wShape'");
  });

  it('linear: wrong ranks, in-features, batch, bias and dtype', () => {
    assertThrowsNamed(() => A.linearForward(t([5, 7, 1]), t([3, 7]), null), RangeError, 'linearForward', "'x'", '2-D');
    assertThrowsNamed(() => A.linearForward(t([5, 7]), t([3, 8]), null), RangeError, "'w'");
    assertThrowsNamed(() => A.linearForward(t([5, 7]), t([3, 7]), t([4])), RangeError, "'bias'");
    assertThrowsNamed(() => A.linearForward(t([5, 7]), t([3, 7], 'float16'), null), TypeError, "'w'", 'dtype');
    assertThrowsNamed(() => A.linearForward(t([5, 7], 'int32'), t([3, 7], 'int32'), null), TypeError, "'x'");
    assertThrowsNamed(() => A.linearBackwardData(t([5, 3]), t([4, 7])), RangeError, 'linearBackwardData', "'w'");
    assertThrowsNamed(() => A.linearBackwardWeight(t([5, 3]), t([6, 7])), RangeError, 'linearBackwardWeight', "'x'");
    assertThrowsNamed(() => A.linearBackwardBias(t([5])), RangeError, 'linearBackwardBias', "'dy'");
    const gone = t([3, 7]);
    gone.dispose();
    assertThrowsNamed(() => A.linearBackwardData(t([5, 3]), gone), TypeError, "'w'", 'disposed');
  });

  it('operands on different devices', function () {
    if (cudaUnavailableReason() !== null) this.skip();
    const other = device === 'cpu' ? 'cuda:0' : 'cpu';
    assertThrowsNamed(() => A.conv2dForward(x(), t([4, 3, 3, 3], 'float32', 'NCHW', other), null, P1, false), TypeError, "'w'", 'device');
    assertThrowsNamed(() => A.conv2dForward(x(), w(), t([4], 'float32', 'NCHW', other), P1, false), TypeError, "'bias'", 'device');
    assertThrowsNamed(() => A.linearForward(t([5, 7]), t([3, 7], 'float32', 'NCHW', other), null), TypeError, "'w'", 'device');
  });
});
