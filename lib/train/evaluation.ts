// The test-set pass the Trainer runs at every evaluation point. It lives apart from the loop
// so the loop reads as scheduling (when to evaluate) and this as the one thing an evaluation
// must get right: eval mode for the pass, train mode restored even when a batch throws, and
// every batch freed whether or not its forward pass succeeded.
import { noGrad, softmaxCrossEntropy } from '../autograd';
import { BatchLoader } from '../data/dataset';
import { Module } from '../nn/module';
import { tidy } from '../tensor';
import { bnInitialShare, EvalMetrics } from './metrics';

/** Mean test loss and error of `model` over one pass of `test`. */
export async function evaluateModel(model: Module, test: BatchLoader): Promise<{ loss: number; error: number }> {
  model.eval();
  let loss = 0;
  let correct = 0;
  let n = 0;
  try {
    for await (const b of test.epoch(0)) {
      try {
        noGrad(() =>
          tidy(() => {
            const r = softmaxCrossEntropy(model.forward(b.x), b.y);
            loss += r.loss.item() * b.size;
            correct += r.correct.item();
          }),
        );
      } finally {
        b.dispose();
      }
      n += b.size;
    }
  } finally {
    model.train();
  }
  return { loss: loss / n, error: 1 - correct / n };
}

/** Running training totals since the last evaluation; the loop resets them after each one. */
export interface RunningTotals {
  loss: number;
  wrong: number;
  images: number;
}

/**
 * The 'eval' record: the test result next to the training loss and error averaged since the
 * previous evaluation, so the two describe the same stretch of the run.
 */
export function evalRecord(
  model: Module,
  at: { iteration: number; itersPerEpoch: number; lr: number; elapsed: number; imagesPerSec: number },
  running: RunningTotals,
  test: { loss: number; error: number },
): EvalMetrics {
  return {
    type: 'eval',
    epoch: Number((at.iteration / at.itersPerEpoch).toFixed(4)),
    iteration: at.iteration,
    lr: at.lr,
    trainLoss: running.images ? running.loss / running.images : NaN,
    trainError: running.images ? running.wrong / running.images : NaN,
    testLoss: test.loss,
    testError: test.error,
    imagesPerSec: at.imagesPerSec,
    elapsed: at.elapsed,
    bnInitialShare: Number(bnInitialShare(model).toPrecision(4)),
  };
}
