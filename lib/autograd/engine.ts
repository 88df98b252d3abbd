// Reverse-mode autograd as a tape: each differentiable op that sees an input requiring a
// gradient records a Node on its output. backward() walks the nodes in reverse topological
// order, calls each node's backward once its output gradient is complete, and frees what
// the node saved as soon as it has run.
//
// Memory rules (why they look like this): gradients in flight are reference-counted because
// some backward functions hand the same tensor to several inputs (add, reshape); a tensor
// saved for backward that an op produced (an intermediate activation) is disposed once every
// node that saved it has run, unless it was passed to keep(); tensors created only for a
// node's backward (batch-norm statistics) are disposed right after it. Where a tensor gets
// gradients from several consumers, they are summed into one of them in place when only
// this call can see it (see `writable`), else into a new tensor.
import { autogradHooks, checkTensor, keep, nextTensorId, Tensor, GradNode } from '../tensor';
import { native } from '../native';
import { badArg, checkOptions, optionNames } from '../checks';

export type BackwardFn = (grad: Tensor) => (Tensor | null)[];

export class Node implements GradNode {
  /** Inputs the backward returns gradients for, in order; null where none is needed. */
  readonly inputs: (Tensor | null)[];
  private saved: Tensor[] = [];
  private privates: Tensor[] = [];
  private fn: BackwardFn | null;

  constructor(
    readonly name: string,
    inputs: (Tensor | null)[],
    fn: BackwardFn,
  ) {
    this.inputs = inputs.map((t) => (t && t.requiresGrad ? t : null));
    this.fn = fn;
  }

  /** Tensors the backward reads that others may also hold (inputs, outputs). */
  save(...ts: Tensor[]): void {
    for (const t of ts) {
      t.savedBy++;
      this.saved.push(t);
    }
  }

  /**
   * Tensors made only for this node's backward; disposed after it runs (or, when backward
   * never runs, by the tidy scope of the forward: run forward and backward in one scope).
   */
  savePrivate(...ts: Tensor[]): void {
    this.privates.push(...ts);
  }

  run(grad: Tensor): (Tensor | null)[] {
    if (!this.fn)
      throw new Error(`backward: the graph through ${this.name} was already freed (backward ran on it before; pass { retainGraph: true } to run it twice)`);
    return this.fn(grad);
  }

  release(): void {
    this.fn = null;
    for (const t of this.privates) t.dispose();
    for (const t of this.saved) {
      t.savedBy--;
      if (t.savedBy === 0 && t.gradFn !== null && !t.kept) t.freeAfterBackward();
    }
    this.saved = [];
    this.privates = [];
  }
}

let gradEnabled = true;

export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Runs fn without recording: no node is made, no activation is saved. */
export function noGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

/** Runs fn with recording switched on or off. */
export function withGrad<T>(enabled: boolean, fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = enabled;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

/**
 * Wraps an op's output: when recording and some input needs a gradient, attaches a Node
 * and returns it so the op can save what its backward needs; otherwise returns null.
 */
export function record(name: string, output: Tensor, inputs: (Tensor | null)[], fn: BackwardFn): Node | null {
  if (!gradEnabled || !inputs.some((t) => t !== null && t.requiresGrad)) return null;
  const node = new Node(name, inputs, fn);
  output.gradFn = node;
  output.requiresGrad = true;
  return node;
}

export interface BackwardOptions {
  /** Keep saved tensors so backward can run through the graph again. */
  retainGraph?: boolean;
}

/**
 * Accumulates d(root)/d(leaf) into every leaf's `.grad` (kept, so tidy scopes leave it).
 * `grad` is the gradient of the root (required unless the root has one element: then 1).
 * Hooks registered on tensors run with their complete gradient before it flows on; a hook
 * must not dispose or keep the tensor it is given (clone it to retain it).
 */
export function backward(root: Tensor, grad?: Tensor, opts: BackwardOptions = {}): void {
  checkTensor(root, 'backward: root');
  checkOptions('backward', opts, optionNames<BackwardOptions>({ retainGraph: true }));
  // Tensors from here on are made by this call: no caller can hold one yet.
  const firstOwnId = nextTensorId();
  if (!root.requiresGrad) throw badArg('type', 'backward: root', 'does not require a gradient (no recorded op produced it; was it computed under noGrad()?)');
  let seed: Tensor;
  if (grad === undefined) {
    if (root.size !== 1)
      throw badArg('type', 'backward: grad', `is required for a root of shape [${root.shape.join(', ')}] (only one-element roots default to 1)`);
    seed = new Tensor(native().full(root.shape, root.dtype, root.layout, root.device, 1));
  } else {
    checkTensor(grad, 'backward: grad');
    if (grad.shape.join() !== root.shape.join() || grad.dtype !== root.dtype || grad.device !== root.device)
      throw badArg('type', 'backward: grad', `must match root (${root}), got ${grad}`);
    seed = grad;
  }

  // Reference counts for gradients in flight; the caller's seed is never disposed.
  const refs = new Map<Tensor, number>();
  const hold = (t: Tensor) => refs.set(t, (refs.get(t) ?? 0) + 1);
  const drop = (t: Tensor) => {
    const n = (refs.get(t) ?? 0) - 1;
    if (n > 0) refs.set(t, n);
    else {
      refs.delete(t);
      if (t !== grad) t.dispose();
    }
  };

  // Reverse post-order of a depth-first search from the root: every tensor comes after
  // all the tensors computed from it, so its gradient is complete when it is reached.
  const order: Tensor[] = [];
  if (root.gradFn) {
    const visited = new Set<Tensor>([root]);
    const stack: { t: Tensor; i: number }[] = [{ t: root, i: 0 }];
    while (stack.length > 0) {
      const top = stack[stack.length - 1];
      const node = top.t.gradFn as Node;
      if (top.i < node.inputs.length) {
        const inp = node.inputs[top.i++];
        if (inp && inp.gradFn && !visited.has(inp)) {
          visited.add(inp);
          stack.push({ t: inp, i: 0 });
        }
      } else {
        stack.pop();
        order.push(top.t);
      }
    }
    order.reverse();
  }

  const grads = new Map<Tensor, Tensor>();
  const leafGrads = new Map<Tensor, Tensor>();
  const seenByHooks = new Set<Tensor>();
  // Whether a sum may overwrite t: a gradient this call made, held by one slot only, that
  // no caller, hook, saved tensor, leaf's .grad or live view can see.
  const writable = (t: Tensor) =>
    t !== grad && t.id >= firstOwnId && refs.get(t) === 1 && t.savedBy === 0 && !t.kept && !seenByHooks.has(t) && !t.handle.storageShared;
  const accumulate = (into: Map<Tensor, Tensor>, key: Tensor, g: Tensor) => {
    hold(g);
    const prev = into.get(key);
    if (!prev) {
      into.set(key, g);
      return;
    }
    // A residual block's input gets two gradients: summing into one of them saves an
    // allocation and a pass over memory, with the same bits as add (y + 1 * x is y + x).
    if (prev.dtype === g.dtype && prev.layout === g.layout) {
      if (writable(prev)) {
        native().axpy(1, g.handle, prev.handle);
        drop(g);
        return;
      }
      if (writable(g)) {
        native().axpy(1, prev.handle, g.handle);
        into.set(key, g);
        drop(prev);
        return;
      }
    }
    const sum = new Tensor(native().add(prev.handle, g.handle));
    hold(sum);
    into.set(key, sum);
    drop(prev);
    drop(g);
  };

  hold(seed);
  (root.gradFn ? grads : leafGrads).set(root, seed);
  try {
    for (const t of order) {
      const node = t.gradFn as Node;
      const g = grads.get(t);
      grads.delete(t);
      if (!g) continue; // no path carried a gradient here
      if (t.hooks.length > 0) seenByHooks.add(g);
      for (const h of t.hooks) h(g);
      const inGrads = node.run(g);
      if (!opts.retainGraph) node.release();
      for (let i = 0; i < node.inputs.length; i++) {
        const inp = node.inputs[i];
        const gi = inGrads[i];
        if (!inp || !gi) continue;
        accumulate(inp.gradFn ? grads : leafGrads, inp, gi);
      }
      // Gradients a backward computed but nobody needs (inputs without requiresGrad).
      for (const gi of inGrads) if (gi && !refs.has(gi) && gi !== g && gi !== grad) gi.dispose();
      drop(g);
    }
    for (const [leaf, g] of leafGrads) {
      for (const h of leaf.hooks) h(g);
      if (leaf.grad && !leaf.grad.disposed) {
        native().axpy(1, g.handle, leaf.grad.handle);
        drop(g);
      } else {
        // The leaf may keep g itself only when nothing else holds it and it is ours.
        leaf.grad = (refs.get(g) ?? 0) > 1 || g === grad ? g.clone() : g;
        if (leaf.grad !== g) drop(g);
        else refs.delete(g);
        keep(leaf.grad);
      }
    }
  } finally {
    // After an error, whatever is still in flight is garbage (on success nothing is left).
    for (const t of refs.keys()) if (t !== grad) t.dispose();
    refs.clear();
  }
}

autogradHooks.backward = (t, g) => backward(t, g);
