// Builds a CIFAR ResNet-20, trains a few steps on a synthetic batch and saves a checkpoint.
// In a clone run `npm run build` first; in your own project require('cudnn-resnet').
const { Tensor, tidy, models, optim, autograd, saveCheckpoint } = require('..');

const device = process.env.DEVICE || 'cpu'; // or 'cuda:0'
const model = models.create('resnet20', { classes: 10, seed: 0, device });
const opt = new optim.SGD(model, { lr: 0.1, momentum: 0.9, weightDecay: 1e-4 });
const schedule = new optim.LRScheduler(opt, optim.paperCifar()); // 0.1, /10 at 32k and 48k
const x = Tensor.randn([128, 3, 32, 32], { seed: 1, device }); // real data: the CIFAR loader
const y = Tensor.fromArray(
  Int32Array.from({ length: 128 }, (_, i) => i % 10),
  [128],
  { device },
);
for (let step = 0; step < 5; step++) {
  const loss = tidy(() => {
    // frees every temporary of the step
    opt.zeroGrad();
    const { loss } = autograd.softmaxCrossEntropy(model.forward(x), y);
    loss.backward();
    schedule.step();
    opt.step();
    return loss.item();
  });
  console.log(`step ${step}: loss ${loss.toFixed(4)}`);
}
saveCheckpoint('resnet20.safetensors', model, { optimizer: opt, metadata: { step: 5 } });
