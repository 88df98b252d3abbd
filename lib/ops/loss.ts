// softmaxCrossEntropy: the training loss, with the count of correct predictions.
import { native } from '../native';
import { asOp } from '../errors';
import { checkTensor, Tensor } from '../tensor';
import { record } from '../autograd/engine';
import { wrap } from './shared';

export interface CrossEntropyResult {
  /** [1] fp32: mean over the batch of -log softmax(logits)[label]; differentiable. */
  loss: Tensor;
  /** [1] int32: rows whose argmax equals the label. */
  correct: Tensor;
}

/** Softmax cross-entropy of logits [N, C] against int32 labels [N]. */
export function softmaxCrossEntropy(logits: Tensor, labels: Tensor): CrossEntropyResult {
  checkTensor(logits, 'softmaxCrossEntropy: logits');
  checkTensor(labels, 'softmaxCrossEntropy: labels');
  // Ranks, dtypes, shapes and label values are checked natively (docs/errors.md).
  const f = asOp('softmaxCrossEntropy', () => native().softmaxCrossEntropyForward(logits.handle, labels.handle));
  const loss = wrap(f.loss);
  const correct = wrap(f.correct);
  record('softmaxCrossEntropy', loss, [logits], (g) => [wrap(native().softmaxCrossEntropyBackward(logits.handle, labels.handle, g.handle))])?.save(
    logits,
    labels,
  );
  return { loss, correct };
}
