/**
 * What every model's attention shares: the one hook for extra keys/values (`KVPrefix`, prefix
 * tuning), how the prefix and the KV cache come before a layer's own keys, and attention with
 * dropout on the probabilities (GPT-2's attn_pdrop, BERT's attention_probs_dropout_prob), which the
 * fused attention kernel does not do.
 */
import type { Dropout } from '../nn/layers.js';
import * as F from '../tensor/ops.js';
import { Tensor } from '../tensor/tensor.js';
import type { CachedKeyValues, KVCache } from './kv-cache.js';

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
  /** Keys held in k/v's dim 2 (a cache's buffers have spare capacity after them); default all. */
  kvLength?: number;
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
  const kvLength = opts.kvLength ?? k.dim(2);
  if (!dropout.training || dropout.p === 0)
    return F.scaledDotProductAttention(q, k, v, { causal, keyMask, scale, kvLength });
  if (kvLength !== k.dim(2)) {
    k = F.slice(k, 2, 0, kvLength);
    v = F.slice(v, 2, 0, kvLength);
  }
  const [B, , T] = q.shape as [number, number, number, number];
  const S = k.dim(2);
  let scores = F.scale(F.matmul(q, k, { transB: true }), scale); // [B, H, T, S]
  if (causal || keyMask) {
    const bias = new Float32Array(B * T * S);
    for (let b = 0; b < B; b++)
      for (let t = 0; t < T; t++)
        for (let s = 0; s < S; s++) {
          const hidden = (causal && s > t + S - T) || (keyMask !== null && keyMask[b * S + s] === 0);
          if (hidden) bias[(b * T + t) * S + s] = MASKED;
        }
    scores = F.add(scores, new Tensor(bias, [B, 1, T, S]));
  }
  return F.matmul(dropout.forward(F.softmax(scores, -1)), v);
}

/**
 * Extra keys and values that every attention layer sees before the sequence's own: one entry per
 * layer, `k` and `v` each [batch, kv_heads, P, head_dim] (kv_heads = the model's key/value heads,
 * fewer than the query heads under grouped-query attention; BERT: all heads). The entries are
 * ordinary Tensors, so a trainable prefix (prefix tuning) receives gradients through attention.
 *
 * Every model takes one as `input.prefix` and treats it exactly as if its P positions were already
 * held in a KV cache: keys are ordered [prefix, cached, new]; `attentionMask` covers
 * [batch, P + cached + seq]; default positions continue after the prefix (P + cached + t, as
 * transformers does for `past_key_values`). With a cache in inference, the first call that brings
 * a prefix to an empty cache seeds the cache with it (`KVCache.seedPrefix`; `cache.prefixLength`
 * = P, `cache.length` counts the tokens after it): later calls may omit the prefix or pass the
 * same one again (a different one is refused), and it is no longer concatenated at every step.
 * A prefix that needs a gradient is never written into the cache: pass it on every call.
 */
export type KVPrefix = ReadonlyArray<{ readonly k: Tensor; readonly v: Tensor }>;

/** The attention geometry a prefix must match. */
export interface PrefixShape {
  layers: number;
  batch: number;
  kvHeads: number;
  headDim: number;
}

/** Check a prefix against the model (clear errors instead of a wrong attention) and return its length P. */
export function checkPrefix(prefix: KVPrefix, shape: PrefixShape): number {
  if (prefix.length !== shape.layers)
    throw new Error(`forward: prefix has ${prefix.length} layers, the model has ${shape.layers}`);
  const want = (P: number | string): string => `[${shape.batch}, ${shape.kvHeads}, ${P}, ${shape.headDim}]`;
  let P = -1;
  prefix.forEach(({ k, v }, i) => {
    for (const [name, t] of [
      ['k', k],
      ['v', v],
    ] as const) {
      const ok =
        t.ndim === 4 &&
        t.dim(0) === shape.batch &&
        t.dim(1) === shape.kvHeads &&
        t.dim(3) === shape.headDim &&
        (P < 0 || t.dim(2) === P);
      if (!ok)
        throw new Error(
          `forward: prefix[${i}].${name} must be ${want(P < 0 ? 'P' : P)} (batch, kv_heads, prefix length, head_dim), got ${t.label()}`,
        );
      P = t.dim(2);
    }
  });
  return Math.max(P, 0);
}

/** Per-call attention state every layer receives: padding mask, prefix and cache. */
export interface AttentionContext {
  /** [batch, P + cached + seq] with 0 for padding keys; null when nothing is padded. */
  keyMask: Uint8Array | null;
  prefix: KVPrefix | null;
  cache: KVCache | null;
}

/**
 * This layer's keys/values with everything earlier in front: the cache (which receives this
 * call's k/v) and then the prefix before both. k, v [B, kv_heads, T, D] -> [B, kv_heads, ≥ S, D]
 * where the first `kvLength` = S = P + cached + T positions are keys (a cache's buffers have spare
 * capacity after them; pass kvLength on to attention).
 */
export function withPastKeyValues(layerIdx: number, k: Tensor, v: Tensor, ctx: AttentionContext): CachedKeyValues {
  let kv: CachedKeyValues = { k, v, kvLength: k.dim(2) };
  if (ctx.cache) kv = ctx.cache.update(layerIdx, k, v);
  const p = ctx.prefix?.[layerIdx];
  if (p && p.k.dim(2) > 0) {
    const held = (t: Tensor): Tensor => (t.dim(2) === kv.kvLength ? t : F.slice(t, 2, 0, kv.kvLength));
    kv = { k: F.concat([p.k, held(kv.k)], 2), v: F.concat([p.v, held(kv.v)], 2), kvLength: p.k.dim(2) + kv.kvLength };
  }
  return kv;
}
