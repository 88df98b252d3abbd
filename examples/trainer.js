// Trains a CIFAR ResNet-20 with the Trainer: synthetic CIFAR-format data (generated into
// the cache on first use; pass `data: '/path/to/cifar-10-batches-bin'` for the real set),
// metrics and checkpoints in runs/example, progress through events.
// In a clone run `npm run build` first; in your own project require('cudnn-resnet').
const { Trainer } = require('..');

async function main() {
  const trainer = new Trainer({
    model: 'resnet20',
    epochs: 2,
    batchSize: 64,
    trainImages: 512, // a small slice keeps this quick on a CPU; drop it on a GPU
    testImages: 256,
    lr: 0.1,
    momentum: 0.9,
    weightDecay: 1e-4,
    schedule: 'paper',
    device: process.env.DEVICE || 'auto', // cuda:0 when usable, else cpu
    seed: 0,
    out: 'runs/example', // metrics.jsonl, metrics.csv, checkpoint.safetensors + .json
    overwrite: true, // replace the previous run of this example
  });
  trainer.on('start', (info) => console.log(`${info.model} on ${info.device}, ${info.precision}; ${info.totalIterations} iterations`));
  trainer.on('step', (s) => {
    if (s.iteration % 4 === 0) console.log(`  iter ${s.iteration}: loss ${s.loss.toFixed(4)}, ${s.imagesPerSec.toFixed(0)} img/s`);
  });
  // eval is null when evalEvery does not land on the epoch's end
  trainer.on('epoch', ({ epoch, eval: e }) => e && console.log(`epoch ${epoch}: test error ${(100 * e.testError).toFixed(2)}%`));
  process.once('SIGINT', () => trainer.stop()); // Ctrl-C: stop after this step, save a checkpoint
  const result = await trainer.fit();
  trainer.dispose();
  console.log(`${result.stopped ? 'stopped' : 'done'} after ${result.iterations} iterations; checkpoint ${result.checkpoint}`);
  // To train on later, in the same folder: new Trainer({ ...train.resumeOptions('runs/example'), epochs: 4 }).fit()
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
