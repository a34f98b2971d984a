/**
 * Attention with dropout on the attention probabilities (GPT-2's attn_pdrop, BERT's
 * attention_probs_dropout_prob), which the fused attention kernel does not do.
 */
import type { Dropout } from '../nn/layers.js';
import * as F from '../tensor/ops.js';
import { Tensor } from '../tensor/tensor.js';

/** Additive mask value of transformers' eager attention (torch.finfo(float32).min). */
const MASKED = -3.4028234663852886e38;

export interface AttentionDropoutOptions {
  /** Queries see keys up to their own position (plus any earlier keys). */
  causal: boolean;
  /** [batch, keys] with 0 for padding keys; null: every key is real. */
  keyMask: Uint8Array | null;
  /** Multiplies q·k. */
  scale: number;
  /** Dropout on the probabilities; its training flag and p decide whether anything is dropped. */
  dropout: Dropout;
}

/**
 * q [B, H, T, D], k/v [B, H, S, D] (S ≥ T: earlier keys first) → [B, H, T, D].
 *
 * In training with p > 0 this is transformers' eager attention, softmax(q·kᵀ·scale + mask) →
 * dropout → ·v, with masked scores set to float32's minimum (a row with no visible key becomes
 * uniform rather than NaN, as in transformers). Otherwise the fused kernel computes the same
 * softmax without materialising [B, H, T, S].
 */
export function attentionWithDropout(q: Tensor, k: Tensor, v: Tensor, opts: AttentionDropoutOptions): Tensor {
  const { causal, keyMask, scale, dropout } = opts;
  if (!dropout.training || dropout.p === 0) return F.scaledDotProductAttention(q, k, v, { causal, keyMask, scale });
  const [B, , T] = q.shape as [number, number, number, number];
  const S = k.dim(2);
  let scores = F.scale(F.matmul(q, k, { transB: true }), scale); // [B, H, T, S]
  if (causal || keyMask) {
    const bias = new Float32Array(B * T * S);
    for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) for (let s = 0; s < S; s++) {
      const hidden = (causal && s > t + S - T) || (keyMask !== null && keyMask[b * S + s] === 0);
      if (hidden) bias[(b * T + t) * S + s] = MASKED;
    }
    scores = F.add(scores, new Tensor(bias, [B, 1, T, S]));
  }
  return F.matmul(dropout.forward(F.softmax(scores, -1)), v);
}
