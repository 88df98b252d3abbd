// softmaxCrossEntropy: the training loss, with the count of correct predictions.
import { native } from '../native';
import { badArg } from '../checks';
import { checkTensor, Tensor } from '../tensor';
import { record } from '../autograd/engine';
import { wrap, expectRank, expectFloat } from './shared';

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
  expectRank(logits, 2, 'softmaxCrossEntropy: logits');
  expectFloat(logits, 'softmaxCrossEntropy: logits');
  if (labels.dtype !== 'int32') throw badArg('type', `softmaxCrossEntropy: labels`, `must be int32, got ${labels.dtype}`);
  if (labels.rank !== 1 || labels.shape[0] !== logits.shape[0])
    throw badArg('range', `softmaxCrossEntropy: labels`, `must have shape [${logits.shape[0]}], got [${labels.shape.join(', ')}]`);
  const f = native().softmaxCrossEntropyForward(logits.handle, labels.handle);
  const loss = wrap(f.loss);
  const correct = wrap(f.correct);
  record('softmaxCrossEntropy', loss, [logits], (g) => [wrap(native().softmaxCrossEntropyBackward(logits.handle, labels.handle, g.handle))])?.save(logits, labels);
  return { loss, correct };
}
