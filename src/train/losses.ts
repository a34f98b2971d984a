/**
 * The training losses in one place: the next-token loss of a causal LM batch, and (re-exported from
 * `nn/losses.ts`, where model heads can reach them) the element-wise and cross-entropy losses.
 */
import type { CausalLM } from '../models/causal-lm.js';
import type { Tensor } from '../tensor/tensor.js';
import type { LmBatch } from './causal-lm.js';

export {
  bceWithLogitsLoss,
  crossEntropy,
  linearCrossEntropy,
  mseLoss,
  type CrossEntropyOptions,
} from '../nn/losses.js';

/**
 * Mean next-token cross-entropy of a batch: the model's own shifted loss for `batch.labels`
 * (-100 ignored), computed chunk by chunk without materialising every logit.
 */
export function causalLmLoss(model: CausalLM, batch: LmBatch): Tensor {
  const out = model.forward({
    inputIds: batch.inputIds,
    batchSize: batch.batchSize,
    labels: batch.labels,
    ...(batch.attentionMask ? { attentionMask: batch.attentionMask } : {}),
  });
  if (!out.loss) throw new Error('causalLmLoss: the model returned no loss for the given labels');
  return out.loss;
}
