// Run by .device-kit/package/check.sh (see scripts/gpu-package-kit.sh) inside a project that
// installed the packed tarball: a few ResNet-20 steps on cuda:0 must follow the CPU's losses
// (same seeds; Philox fills agree across devices), then a short timing on the GPU.
'use strict';
const { Tensor, models, optim, nn, tidy, native } = require('cudnn-resnet');

function losses(device, batch, steps) {
  const model = models.create('resnet20', { seed: 1, device });
  const opt = new optim.SGD(model, { lr: 0.1, momentum: 0.9, weightDecay: 1e-4 });
  const x = Tensor.randn([batch, 3, 32, 32], { seed: 2, device });
  const y = Tensor.fromArray(
    Array.from({ length: batch }, (_, i) => i % 10),
    [batch],
    { dtype: 'int32', device },
  );
  const out = [];
  for (let s = 0; s < steps; s++) {
    out.push(
      tidy(() => {
        opt.zeroGrad();
        const { loss } = nn.functional.softmaxCrossEntropy(model.forward(x), y);
        loss.backward();
        opt.step();
        return loss.item();
      }),
    );
  }
  return out;
}

const cpu = losses('cpu', 16, 3);
const gpu = losses('cuda:0', 16, 3);
console.log(`cpu ${cpu.map((l) => l.toFixed(5)).join(' ')}\ngpu ${gpu.map((l) => l.toFixed(5)).join(' ')}`);
// TF32 convolutions on the GPU round more than the CPU's fp32: 1e-2 relative over 3 steps.
const worst = Math.max(...cpu.map((c, i) => Math.abs(gpu[i] - c) / Math.abs(c)));
if (!(worst <= 1e-2)) throw new Error(`GPU losses differ from the CPU's by ${worst}`);

const t0 = process.hrtime.bigint();
const timed = losses('cuda:0', 128, 25);
native().synchronize('cuda:0');
const ms = Number(process.hrtime.bigint() - t0) / 1e6 / 25;
console.log(`resnet20 batch 128 eager on cuda:0: ${ms.toFixed(2)} ms/step (incl. setup), last loss ${timed[24].toFixed(4)}`);
