// SGD parameter groups: each group's lr multiplier and weight decay against torch.optim.SGD's
// update written out in float64, a schedule moving every group, and argument errors.
import * as assert from 'node:assert/strict';

import { SGD } from '../../../lib/optim';
import { Tensor } from '../../../lib/tensor';
import { describeDevices } from '../../helpers/devices';
import { assertArgError, assertClose, assertThrowsNamed, randn } from '../../helpers/reference';

/** Momentum SGD with decay added to the gradient (torch.optim.SGD, dampening 0), in float64. */
function reference(p0: Float32Array, grads: Float32Array[], lrs: number[], momentum: number, wd: number): Float64Array {
  const p = Float64Array.from(p0);
  let buf: Float64Array | null = null;
  grads.forEach((g0, k) => {
    const g = Float64Array.from(g0, (v, i) => v + wd * p[i]);
    if (!buf) buf = Float64Array.from(g);
    else for (let i = 0; i < g.length; i++) buf[i] = momentum * buf[i] + g[i];
    for (let i = 0; i < p.length; i++) p[i] -= lrs[k] * buf[i];
  });
  return p;
}

describeDevices('SGD parameter groups', ({ device, rtol }) => {
  it("applies each group's lr multiplier and weight decay, first match winning, through lr changes", () => {
    const names = ['layer1.0.conv1.weight', 'layer1.0.bn1.bias', 'fc.weight', 'fc.bias'];
    const shapes = [[4, 3, 3, 3], [4], [5, 4], [5]];
    const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
    const init = shapes.map((s, i) => randn(size(s), 20 + i));
    const grads = shapes.map((s, i) => [0, 1, 2].map((k) => randn(size(s), 200 + 10 * i + k)));
    const params: [string, Tensor][] = names.map((n, i) => [n, Tensor.fromArray(init[i], shapes[i], { device })]);
    const opt = new SGD(params, {
      lr: 0.1,
      momentum: 0.9,
      weightDecay: 1e-3,
      groups: [
        { params: ['fc.bias'], lrScale: 2, weightDecay: 0 },
        { params: ['fc'], lrScale: 10 },
        { params: (n) => n.endsWith('.bias'), weightDecay: 0 },
      ],
    });
    const lrs = [0.1, 0.1, 0.02]; // the schedule lowers lr before the third step
    for (let k = 0; k < 3; k++) {
      opt.lr = lrs[k];
      params.forEach(([, p], i) => {
        if (p.grad) p.grad.dispose();
        p.grad = Tensor.fromArray(grads[i][k], shapes[i], { device });
      });
      opt.step();
    }
    const expect: [number, number][] = [
      [1, 1e-3],
      [1, 0],
      [10, 1e-3],
      [2, 0],
    ]; // [lr scale, decay] per parameter
    params.forEach(([n, p], i) => {
      const [scale, wd] = expect[i];
      assertClose(
        p.dataSync(),
        reference(
          init[i],
          grads[i],
          lrs.map((l) => l * scale),
          0.9,
          wd,
        ),
        rtol * 10,
        n,
      );
    });
    opt.dispose();
    for (const [, p] of params) p.dispose();
  });

  it('argument errors name the group and field', () => {
    const p = Tensor.fromArray([1, 2], [2], { device });
    const make = (groups: unknown) => () => new SGD([['w', p]], { lr: 0.1, groups: groups as never });
    assertArgError(make({}), TypeError, { op: 'SGD', argument: 'groups' }, 'must be an array');
    assertThrowsNamed(make([null]), TypeError, 'groups[0]');
    assertThrowsNamed(make([{ params: [] }]), TypeError, 'groups[0].params');
    assertThrowsNamed(make([{ params: ['w'], lrScale: -1 }]), RangeError, 'groups[0].lrScale');
    assertThrowsNamed(make([{ params: ['w'], weightDecay: 'x' }]), TypeError, 'groups[0].weightDecay');
    assertArgError(make([{ params: ['w'] }, { params: ['fc'] }]), RangeError, { op: 'SGD', argument: 'groups[1].params' }, '(fc) matches no parameter');
    assert.doesNotThrow(make([{ params: ['w'], lrScale: 0 }]));
    p.dispose();
  });
});
