// softmaxCrossEntropy: the training loss, with the count of correct predictions.
import { native } from '../native';
import { checkOptions, optionNames } from '../checks';
import { asOp } from '../errors';
import { checkNumber, checkTensor, Tensor } from '../tensor';
import { record } from '../autograd/engine';
import { wrap } from './shared';

export interface CrossEntropyResult {
  /** [1] fp32: mean over the batch of -sum(target * log softmax(logits)); differentiable. */
  loss: Tensor;
  /** [1] int32: rows whose argmax equals the label. */
  correct: Tensor;
}

export interface CrossEntropyOptions {
  /**
   * PyTorch's label_smoothing, in [0, 1]: the target is (1 - eps) on the label plus eps / C
   * on every class. Default 0 (the one-hot target).
   */
  labelSmoothing?: number;
}

const CROSS_ENTROPY_OPTIONS = optionNames<CrossEntropyOptions>({ labelSmoothing: true });

/** Softmax cross-entropy of logits [N, C] against int32 labels [N]. */
export function softmaxCrossEntropy(logits: Tensor, labels: Tensor, options: CrossEntropyOptions = {}): CrossEntropyResult {
  checkTensor(logits, 'softmaxCrossEntropy: logits');
  checkTensor(labels, 'softmaxCrossEntropy: labels');
  const o = checkOptions('softmaxCrossEntropy', options, CROSS_ENTROPY_OPTIONS);
  const eps = checkNumber(o.labelSmoothing ?? 0, 'softmaxCrossEntropy: options.labelSmoothing', { min: 0, max: 1 });
  // Ranks, dtypes, shapes and label values are checked natively (docs/errors.md).
  const f = asOp('softmaxCrossEntropy', () => native().softmaxCrossEntropyForward(logits.handle, labels.handle, eps));
  const loss = wrap(f.loss);
  const correct = wrap(f.correct);
  record('softmaxCrossEntropy', loss, [logits], (g) => [wrap(native().softmaxCrossEntropyBackward(logits.handle, labels.handle, g.handle, eps))])?.save(
    logits,
    labels,
  );
  return { loss, correct };
}
