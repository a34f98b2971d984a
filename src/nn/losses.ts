/**
 * Loss functions with PyTorch's names and semantics (torch.nn.functional): the element-wise
 * regression and multi-label losses here, and the softmax cross-entropies, which are fused ops of
 * the tensor layer (re-exported so every loss is found in one place).
 *
 * They live in `nn`, not `train`, because model heads compute them inside `forward` (BERT's
 * sequence classification) and models may not depend on `train`; `train/losses.ts` re-exports them
 * beside the training objectives.
 */
import * as F from '../tensor/ops.js';
import { result, type Tensor } from '../tensor/tensor.js';

export { crossEntropy, linearCrossEntropy, type CrossEntropyOptions } from '../tensor/ops.js';

function checkTargets(name: string, input: Tensor, targets: Float32Array): void {
  if (targets.length !== input.size)
    throw new Error(
      `${name}: ${targets.length} targets for ${input.label()} (expected ${input.size}, one per element)`,
    );
}

/**
 * Mean squared error over all elements (torch.nn.functional.mse_loss, reduction 'mean'):
 * mean((input − target)²); gradient 2 (input − target) / n.
 *
 * @param input predictions of any shape
 * @param targets one value per element of `input`, row-major
 */
export function mseLoss(input: Tensor, targets: Float32Array): Tensor {
  checkTargets('mseLoss', input, targets);
  const diff = F.sub(input, F.tensor(targets, input.shape));
  return F.mean(F.mul(diff, diff));
}

/**
 * Mean binary cross-entropy with logits over all elements
 * (torch.nn.functional.binary_cross_entropy_with_logits, reduction 'mean'):
 * max(x, 0) − x·y + log(1 + e^−|x|), the form that stays finite for large |x|;
 * gradient (sigmoid(x) − y) / n. Targets may be soft (any value in [0, 1]).
 *
 * @param logits raw scores of any shape
 * @param targets one probability per element of `logits`, row-major
 */
export function bceWithLogitsLoss(logits: Tensor, targets: Float32Array): Tensor {
  checkTargets('bceWithLogitsLoss', logits, targets);
  const x = logits.f32;
  const n = x.length;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const xi = x[i] ?? 0;
    total += Math.max(xi, 0) - xi * (targets[i] ?? 0) + Math.log1p(Math.exp(-Math.abs(xi)));
  }
  return result(new Float32Array([total / n]), [], 'bceWithLogitsLoss', [logits], (g, ctx) => {
    const gx = new Float32Array(n);
    const s = (g[0] ?? 0) / n;
    for (let i = 0; i < n; i++) gx[i] = (1 / (1 + Math.exp(-(x[i] ?? 0))) - (targets[i] ?? 0)) * s;
    ctx.accumulate(logits, gx);
  });
}
