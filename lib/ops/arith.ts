// Elementwise arithmetic with NumPy / PyTorch broadcasting (add, sub, mul, div against a
// tensor or a number) and the unary maps (neg, exp, log, sqrt, abs, pow). Results are NCHW
// in the inputs' dtype; gradients of broadcast inputs are summed back to their shapes.
import { native, NativeTensor } from '../native';
import { asOp } from '../errors';
import { badArg } from '../checks';
import { checkNumber, checkTensor, describe, Tensor } from '../tensor';
import { record } from '../autograd/engine';
import { gradTo, inLayout, sameShape, wrap } from './shared';

type BinaryOp = 'add' | 'sub' | 'mul' | 'div';

function checkOperand(b: unknown, arg: string): Tensor | number {
  if (typeof b === 'number') return checkNumber(b, arg);
  if (b instanceof Tensor) return checkTensor(b, arg);
  throw badArg('type', arg, `must be a Tensor or a number, got ${describe(b)}`);
}

// The native ops' own arguments, renamed to the public ones.
const NAMES = { a: 'a', b: 'b', x: 'a', scalar: 'b' };

/** Frees the native temporaries of a backward as it builds its result. */
function chain(first: NativeTensor, ...steps: ((h: NativeTensor) => NativeTensor)[]): NativeTensor {
  let h = first;
  for (const step of steps) {
    const next = step(h);
    h.dispose();
    h = next;
  }
  return h;
}

/** gradTo for a temporary made by the backward, which it frees once replaced. */
function own(t: Tensor, shape: number[], layout: string): Tensor {
  const r = gradTo(t, shape, layout);
  if (r !== t) t.dispose();
  return r;
}

function binary(op: BinaryOp, a: Tensor, b: Tensor | number): Tensor {
  checkTensor(a, `${op}: a`);
  const other = checkOperand(b, `${op}: b`);
  const aShape = a.shape,
    aLayout = a.layout;
  if (typeof other === 'number') {
    const y = wrap(asOp(op, () => native().arithScalar(a.handle, other, op), NAMES));
    record(op, y, [a], (g) => {
      if (op === 'add' || op === 'sub') return [gradTo(g, aShape, aLayout)];
      const d = native().arithScalar(g.handle, other, op);
      return [wrap(inLayout(d, aLayout, aShape.length))];
    });
    return y;
  }
  // Same shape, dtype and layout: the plain kernel, which keeps the layout (the training path).
  if (op === 'add' && sameShape(a, other) && a.dtype === other.dtype && a.layout === other.layout && a.device === other.device) {
    const y = wrap(asOp('add', () => native().add(a.handle, other.handle)));
    record('add', y, [a, other], (g) => [g, g]);
    return y;
  }
  const bShape = other.shape,
    bLayout = other.layout;
  const y = wrap(asOp(op, () => native().arithBinary(a.handle, other.handle, op), NAMES));
  // Only the gradients an input asks for (requiresGrad at the time of the call) are formed.
  const needA = a.requiresGrad,
    needB = other.requiresGrad;
  const node = record(op, y, [a, other], (g) => {
    const n = native();
    if (op === 'add') return [needA ? gradTo(g, aShape, aLayout) : null, needB ? gradTo(g, bShape, bLayout) : null];
    if (op === 'sub') return [needA ? gradTo(g, aShape, aLayout) : null, needB ? own(wrap(n.arithUnary(g.handle, 'neg')), bShape, bLayout) : null];
    if (op === 'mul')
      return [
        needA ? own(wrap(n.arithBinary(g.handle, other.handle, 'mul')), aShape, aLayout) : null,
        needB ? own(wrap(n.arithBinary(g.handle, a.handle, 'mul')), bShape, bLayout) : null,
      ];
    // d(a / b) = g / b and -g * y / b, with y = a / b the forward's output.
    const ga = needA ? own(wrap(n.arithBinary(g.handle, other.handle, 'div')), aShape, aLayout) : null;
    if (!needB) return [ga, null];
    const gy = n.arithBinary(g.handle, y.handle, 'mul');
    const gb = chain(
      gy,
      (h) => n.arithBinary(h, other.handle, 'div'),
      (h) => n.arithUnary(h, 'neg'),
    );
    return [ga, own(wrap(gb), bShape, bLayout)];
  });
  if (op === 'mul') node?.save(a, other);
  if (op === 'div') node?.save(other, y);
  return y;
}

/** a + b: b a tensor that broadcasts with a, or a number. */
export function add(a: Tensor, b: Tensor | number): Tensor {
  return binary('add', a, b);
}

/** a - b: b a tensor that broadcasts with a, or a number. */
export function sub(a: Tensor, b: Tensor | number): Tensor {
  return binary('sub', a, b);
}

/** a * b: b a tensor that broadcasts with a, or a number. */
export function mul(a: Tensor, b: Tensor | number): Tensor {
  return binary('mul', a, b);
}

/** a / b: b a tensor that broadcasts with a, or a number. */
export function div(a: Tensor, b: Tensor | number): Tensor {
  return binary('div', a, b);
}

type UnaryName = 'neg' | 'exp' | 'log' | 'sqrt' | 'abs';

function unary(op: UnaryName, x: Tensor): Tensor {
  checkTensor(x, `${op}: x`);
  const shape = x.shape,
    layout = x.layout;
  const y = wrap(asOp(op, () => native().arithUnary(x.handle, op)));
  const node = record(op, y, [x], (g) => {
    const n = native();
    let d: NativeTensor;
    if (op === 'neg') d = n.arithUnary(g.handle, 'neg');
    else if (op === 'exp') d = n.arithBinary(g.handle, y.handle, 'mul');
    else if (op === 'log') d = n.arithBinary(g.handle, x.handle, 'div');
    else if (op === 'sqrt') d = chain(n.arithBinary(g.handle, y.handle, 'div'), (h) => n.arithScalar(h, 0.5, 'mul'));
    else d = chain(n.arithUnary(x.handle, 'sign'), (h) => n.arithBinary(g.handle, h, 'mul'));
    return [wrap(inLayout(d, layout, shape.length))];
  });
  if (op === 'exp' || op === 'sqrt') node?.save(y);
  if (op === 'log' || op === 'abs') node?.save(x);
  return y;
}

/** -x. */
export function neg(x: Tensor): Tensor {
  return unary('neg', x);
}

/** e^x. */
export function exp(x: Tensor): Tensor {
  return unary('exp', x);
}

/** Natural logarithm. */
export function log(x: Tensor): Tensor {
  return unary('log', x);
}

export function sqrt(x: Tensor): Tensor {
  return unary('sqrt', x);
}

/** |x|; the gradient is sign(x) (0 at 0, as in PyTorch). */
export function abs(x: Tensor): Tensor {
  return unary('abs', x);
}

/** x ** exponent, for a number exponent. */
export function pow(x: Tensor, exponent: number): Tensor {
  checkTensor(x, 'pow: x');
  checkNumber(exponent, 'pow: exponent');
  const shape = x.shape,
    layout = x.layout;
  const y = wrap(asOp('pow', () => native().arithScalar(x.handle, exponent, 'pow'), { scalar: 'exponent' }));
  record('pow', y, [x], (g) => {
    const n = native();
    const d = chain(
      n.arithScalar(x.handle, exponent - 1, 'pow'),
      (h) => n.arithScalar(h, exponent, 'mul'),
      (h) => n.arithBinary(g.handle, h, 'mul'),
    );
    return [wrap(inLayout(d, layout, shape.length))];
  })?.save(x);
  return y;
}

/** x broadcast to `shape` (a copy, NCHW); its gradient sums back. */
export function broadcastTo(x: Tensor, shape: number[]): Tensor {
  checkTensor(x, 'broadcastTo: x');
  const xShape = x.shape,
    layout = x.layout;
  const y = wrap(asOp('broadcastTo', () => native().broadcastTo(x.handle, shape)));
  record('broadcastTo', y, [x], (g) => [gradTo(g, xShape, layout)]);
  return y;
}
