/**
 * What every decoder-only model offers to generation, training and adapters.
 */
import type { Embedding } from '../nn/layers.js';
import { Module } from '../nn/module.js';
import * as F from '../tensor/ops.js';
import { isGradEnabled, type Tensor } from '../tensor/tensor.js';
import { checkPrefix, type AttentionContext, type KVPrefix } from './attention.js';
import { KVCache } from './kv-cache.js';
import { moduleToRaw, saveModelFolder } from './weights.js';

export { KVCache };

/**
 * What every decoder's forward takes. Give the tokens as `inputIds` or, for prompt tuning and other
 * soft inputs, as `inputsEmbeds` (exactly one of the two); extra keys/values (prefix tuning) go in
 * `prefix`. Prefix, cache and new tokens line up as one sequence: keys [prefix, cached, new],
 * `attentionMask` [batch, P + cached + seq], default positions P + cached + t.
 */
export interface CausalLMInput {
  /** Token ids, row-major [batch, seq]. Omit when giving inputsEmbeds. */
  inputIds?: Int32Array;
  /** Rows in inputIds / inputsEmbeds (default 1). */
  batchSize?: number;
  /**
   * 1 for real tokens, 0 for padding, covering prefix and cached positions too:
   * [batch, P + cached + seq]. Default all ones.
   */
  attentionMask?: Uint8Array;
  /**
   * Positions [batch, seq]; default: the count of real (mask 1) positions before each one,
   * prefix and cache included (left padding safe; P + cached + t without a mask).
   */
  positionIds?: Int32Array;
  /** Earlier keys/values; updated in place with this call's (never with the prefix). */
  cache?: KVCache;
  /**
   * Keys/values every layer attends to before the cache and the new tokens (prefix tuning):
   * one {k, v} per layer, [batch, kv_heads, P, head_dim]. Differentiable. See KVPrefix.
   */
  prefix?: KVPrefix;
  /**
   * Input embeddings [batch, seq, hidden] instead of inputIds (prompt tuning prepends virtual
   * token embeddings to `model.embedTokens(ids)`). Differentiable.
   */
  inputsEmbeds?: Tensor;
  /** Compute logits only for the last n positions (0 = all). Generation needs 1. */
  logitsToKeep?: number;
  /**
   * Next-token targets as in transformers: same layout as inputIds, shifted inside the model
   * (position t is scored against labels[t + 1]); -100 is ignored. Gives `loss`.
   */
  labels?: Int32Array;
}

/** What a {@link CausalLM} forward returns. */
export interface CausalLMOutput {
  /**
   * [batch, seq (or logitsToKeep), vocab]. With labels, computed only when read: the loss is
   * formed chunk by chunk without materialising every logit.
   */
  readonly logits: Tensor;
  /** Mean next-token cross-entropy, when labels were given. */
  loss?: Tensor;
  /** Final hidden states [batch, seq, hidden] (after the last norm). */
  hidden: Tensor;
  cache: KVCache | null;
}

/** A decoder-only language model: token ids in, next-token logits out, with a KV cache. */
export interface CausalLM extends Module {
  readonly config: {
    vocabSize: number;
    hiddenSize: number;
    numHiddenLayers: number;
    eosTokenIds: number[];
    bosTokenId: number | null;
    padTokenId: number | null;
    maxPositionEmbeddings: number;
  };
  /** Next-token logits (and the loss, given labels) for a batch; see {@link CausalLMInput}. */
  forward(input: CausalLMInput): CausalLMOutput;
  /** The token embedding table [vocab, hidden] (prompt tuning, NEFTune, tied heads). */
  inputEmbeddings(): Tensor;
  /**
   * The embeddings the model itself gives token ids [batch, seq] -> [batch, seq, hidden], i.e. what
   * `inputsEmbeds` replaces; prompt tuning concatenates its virtual tokens in front of these.
   */
  embedTokens(inputIds: Int32Array, batchSize?: number): Tensor;
  /** An empty key/value cache for incremental decoding. */
  newCache(): KVCache;
  /** Write config.json and model.safetensors under transformers' key names. */
  savePretrained(dir: string): void;
}

/**
 * What every decoder class shares around its own forward: saving the folder, the token embedding
 * table and lookup, and a fresh cache. A decoder names its embedding module (`tokenEmbedding`).
 */
export abstract class DecoderForCausalLM extends Module implements CausalLM {
  abstract readonly config: CausalLM['config'];
  /** config.json as read (written back by savePretrained). */
  abstract readonly configJson: Record<string, unknown>;
  /** Next-token logits (and the loss, given labels) for a batch; see {@link CausalLMInput}. */
  abstract forward(input: CausalLMInput): CausalLMOutput;
  /** The token embedding module (wte, embed_tokens). */
  protected abstract tokenEmbedding(): Embedding;

  /** Write config.json and model.safetensors under transformers' key names. */
  savePretrained(dir: string): void {
    saveModelFolder(dir, this.configJson, moduleToRaw(this));
  }

  inputEmbeddings(): Tensor {
    return this.tokenEmbedding().weight;
  }

  embedTokens(inputIds: Int32Array, batchSize = 1): Tensor {
    return inputEmbeds({ inputIds, batchSize }, this.config.hiddenSize, (ids, shape) => this.lookupTokens(ids, shape));
  }

  /** An empty key/value cache with one slot per layer. */
  newCache(): KVCache {
    return new KVCache(this.config.numHiddenLayers);
  }

  /** Token ids -> embeddings [shape..., hidden], the `embed` argument of prepareDecoderInput. */
  protected lookupTokens(ids: Int32Array, shape: [number, number]): Tensor {
    return this.tokenEmbedding().forward(ids, shape);
  }
}

/** What every decoder's forward needs before its first block. */
export interface DecoderInput extends AttentionContext {
  /** Input embeddings [B, T, hidden] (looked up, or given as inputsEmbeds). */
  h: Tensor;
  B: number;
  T: number;
  /** Positions [B, T] (explicit, from the mask, or after the prefix and cache). */
  pos: Int32Array;
}

/** A decoder's attention geometry, which input checks need. */
export interface DecoderShape {
  hiddenSize: number;
  numLayers: number;
  kvHeads: number;
  headDim: number;
}

/**
 * Token rows as embeddings: `inputsEmbeds` as given, or `inputIds` looked up by `embed`. Exactly one
 * must be present. Shared by every model (decoders and BERT) so they agree on the conventions.
 */
export function inputEmbeds(
  input: { inputIds?: Int32Array; inputsEmbeds?: Tensor; batchSize?: number },
  hiddenSize: number,
  embed: (ids: Int32Array, shape: [number, number]) => Tensor,
): Tensor {
  const B = input.batchSize ?? 1;
  if (!Number.isSafeInteger(B) || B < 1) throw new Error(`forward: batchSize must be a positive integer, got ${B}`);
  if (input.inputsEmbeds) {
    if (input.inputIds) throw new Error('forward: give inputIds or inputsEmbeds, not both');
    const h = input.inputsEmbeds;
    if (h.ndim !== 3 || h.dim(0) !== B || h.dim(2) !== hiddenSize)
      throw new Error(`forward: inputsEmbeds must be [${B}, seq, ${hiddenSize}], got ${h.label()}`);
    return h;
  }
  if (!input.inputIds) throw new Error('forward: give inputIds or inputsEmbeds');
  if (input.inputIds.length % B !== 0)
    throw new Error(`forward: ${input.inputIds.length} input ids do not split into ${B} rows`);
  return embed(input.inputIds, [B, input.inputIds.length / B]);
}

/**
 * Validate a forward's input and derive batch, length, positions and key mask, shared by every
 * decoder so that they agree on the conventions. `embed` looks up token ids.
 */
export function prepareDecoderInput(
  input: CausalLMInput,
  shape: DecoderShape,
  embed: (ids: Int32Array, shape: [number, number]) => Tensor,
): DecoderInput {
  const B = input.batchSize ?? 1;
  const h = inputEmbeds(input, shape.hiddenSize, embed);
  const T = h.dim(1);
  const cache = input.cache ?? null;
  let prefix = input.prefix ?? null;
  let P = prefix
    ? checkPrefix(prefix, { layers: shape.numLayers, batch: B, kvHeads: shape.kvHeads, headDim: shape.headDim })
    : 0;
  if (cache && cache.prefixLength > 0) {
    // The cache was seeded with a prefix: the same prefix may come again (it is not attended twice).
    if (prefix && !cache.holdsPrefix(prefix))
      throw new Error(
        `forward: the cache holds a different prefix of ${cache.prefixLength} positions; pass the same prefix or none`,
      );
    P = cache.prefixLength;
    prefix = null;
  } else if (cache && prefix && P > 0 && cache.length === 0 && !needsGrad(prefix)) {
    // First call with a prefix and an empty cache (generation): hold the prefix in the cache once
    // instead of concatenating it in front of the cache at every step.
    cache.seedPrefix(prefix);
    prefix = null;
  }
  const past = P + (cache?.length ?? 0);
  const total = past + T;
  const mask = input.attentionMask;
  if (mask && mask.length !== B * total) {
    throw new Error(
      `forward: attentionMask has ${mask.length} entries, expected batch*(prefix+cached+new) = ${B}*(${P}+${past - P}+${T})`,
    );
  }
  const pos =
    input.positionIds ??
    (mask ? positionsFromMask(mask, B, total, T) : Int32Array.from({ length: B * T }, (_, i) => past + (i % T)));
  if (pos.length !== B * T) throw new Error(`forward: positionIds has ${pos.length} entries, expected ${B * T}`);
  const keyMask = mask && mask.some((m) => m === 0) ? mask : null;
  return { h, B, T, pos, keyMask, prefix, cache };
}

/** True when a prefix would receive gradients in this call (it then stays a differentiable input). */
function needsGrad(prefix: KVPrefix): boolean {
  return isGradEnabled() && prefix.some((p) => p.k.requiresGrad || p.v.requiresGrad);
}

/**
 * Positions for each token: the number of real (mask = 1) tokens before it in its row, so left
 * padding does not shift positions (what transformers' generate derives from the attention mask).
 * Padding positions get 1, as HF's `masked_fill_(attention_mask == 0, 1)`.
 */
export function positionsFromMask(mask: Uint8Array, batch: number, total: number, seq: number): Int32Array {
  const pos = new Int32Array(batch * seq);
  for (let b = 0; b < batch; b++) {
    let count = 0;
    for (let s = 0; s < total; s++) {
      const real = mask[b * total + s] !== 0;
      const t = s - (total - seq);
      if (t >= 0) pos[b * seq + t] = real ? count : 1;
      if (real) count++;
    }
  }
  return pos;
}

/**
 * The language-model head's outputs: logits for the kept positions (lazily, when labels make them
 * optional) and, with labels, the shifted next-token loss computed by the chunked
 * linear + cross-entropy (see ops.linearCrossEntropy).
 */
export function lmHeadOutput(
  hidden: Tensor,
  headWeight: Tensor,
  input: CausalLMInput,
  cache: KVCache | null,
): CausalLMOutput {
  const T = hidden.dim(1);
  const keep = input.logitsToKeep ?? 0;
  let logits: Tensor | null = null;
  const computeLogits = (): Tensor => {
    logits ??= F.linear(keep > 0 && keep < T ? F.slice(hidden, 1, T - keep, T) : hidden, headWeight);
    return logits;
  };
  if (!input.labels) return { logits: computeLogits(), hidden, cache };
  const labels = input.labels;
  if (labels.length !== hidden.size / hidden.dim(-1))
    throw new Error(
      `forward: labels has ${labels.length} entries, expected batch*seq = ${hidden.size / hidden.dim(-1)}`,
    );
  const targets = new Int32Array(labels.length);
  for (let i = 0; i < labels.length; i++) targets[i] = (i + 1) % T === 0 ? -100 : labels[i + 1]!;
  const loss = F.linearCrossEntropy(hidden, headWeight, targets, { ignoreIndex: -100 });
  return {
    get logits() {
      return computeLogits();
    },
    loss,
    hidden,
    cache,
  };
}
