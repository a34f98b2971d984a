/**
 * Llama-family decoders (Llama, Mistral, Qwen2, Qwen3) as transformers' `modeling_llama.py` runs them:
 *
 *   h = embed_tokens(ids)
 *   for each layer:
 *     h = h + o_proj(attention(rope(q_proj(rms(h))), rope(k_proj(rms(h))), v_proj(rms(h))))
 *     h = h + down_proj(silu(gate_proj(rms(h))) * up_proj(rms(h)))
 *   logits = lm_head(norm(h))            (lm_head = embed_tokens when tied)
 *
 * Module and parameter names are transformers' (`model.layers.0.self_attn.q_proj.weight`), which
 * is what checkpoints and PEFT adapters refer to.
 */
import { normalEmbedding, normalLinear } from '../nn/init.js';
import { type Linear, RMSNorm, type Embedding, type LinearLike } from '../nn/layers.js';
import { Module } from '../nn/module.js';
import * as F from '../tensor/ops.js';
import { Rng } from '../tensor/random.js';
import type { Tensor } from '../tensor/tensor.js';
import { withPastKeyValues, type AttentionContext } from './attention.js';
import { DECODER_ARCHITECTURES, parseDecoderConfig, type DecoderConfig } from './llama-config.js';
import { readFamilyConfig } from './model-config.js';
import { computeRopeInvFreq } from './rope.js';
import { ResidualAdd, type ResidualHook } from './residual.js';
import {
  DecoderForCausalLM,
  lmHeadOutput,
  prepareDecoderInput,
  type CausalLMInput,
  type CausalLMOutput,
} from './causal-lm.js';
import { SkipInitRng, loadIntoModule, readModelWeights, type WeightDtype } from './weights.js';

/** Moved to nn/layers.ts; re-exported for existing imports. */
export type { LinearLike } from '../nn/layers.js';

/** Llama's grouped-query attention with rotary position embeddings. */
export class LlamaAttention extends Module {
  q_proj: LinearLike;
  k_proj: LinearLike;
  v_proj: LinearLike;
  o_proj: LinearLike;
  /** Qwen3 only: RMSNorm over each head of q and k. */
  q_norm: RMSNorm | null = null;
  k_norm: RMSNorm | null = null;

  constructor(
    readonly config: DecoderConfig,
    readonly layerIdx: number,
    rng: Rng,
  ) {
    super();
    const { hiddenSize: d, numAttentionHeads: H, numKeyValueHeads: Hkv, headDim: D } = config;
    const std = 0.02;
    this.q_proj = normalLinear(d, H * D, rng, std, { bias: config.qkvBias });
    this.k_proj = normalLinear(d, Hkv * D, rng, std, { bias: config.qkvBias });
    this.v_proj = normalLinear(d, Hkv * D, rng, std, { bias: config.qkvBias });
    this.o_proj = normalLinear(H * D, d, rng, std, { bias: config.oProjBias });
    if (config.qkNorm) {
      this.q_norm = new RMSNorm(D, config.rmsNormEps);
      this.k_norm = new RMSNorm(D, config.rmsNormEps);
    }
  }

  /** x [B, T, d] -> [B, T, d]. */
  forward(x: Tensor, rope: { cos: Float32Array; sin: Float32Array }, ctx: AttentionContext): Tensor {
    const { numAttentionHeads: H, numKeyValueHeads: Hkv, headDim: D } = this.config;
    // Mistral/Qwen2 sliding window: keys more than `slidingWindow - 1` positions back are not seen.
    const window = this.config.slidingWindow ?? 0;
    const scale = 1 / Math.sqrt(D);
    if (!ctx.cache && !ctx.prefix) {
      // No earlier keys (training, scoring): RoPE and attention work on the projections' own
      // [B, T, heads·D] rows and attention writes [B, T, H·D] for o_proj: no head copies either way.
      const rows = (t: Tensor, norm: RMSNorm | null): Tensor => {
        if (!norm) return t; // Qwen3's per-head RMSNorm over D runs on a [B, T, heads, D] view
        const [B, T, C] = t.shape as [number, number, number];
        return F.reshape(norm.forward(F.reshape(t, [B, T, C / D, D])), [B, T, C]);
      };
      const q = F.rope(rows(this.q_proj.forward(x), this.q_norm), rope.cos, rope.sin, D);
      const k = F.rope(rows(this.k_proj.forward(x), this.k_norm), rope.cos, rope.sin, D);
      const v = this.v_proj.forward(x);
      const o = F.tokenMajorAttention(q, k, v, H, { kvHeads: Hkv, causal: true, keyMask: ctx.keyMask, scale, window });
      return this.o_proj.forward(o);
    }
    const heads = (t: Tensor, n: number, norm: RMSNorm | null): Tensor => {
      const h = F.splitHeads(t, [n], D)[0]!; // [B, n, T, D]
      return norm ? norm.forward(h) : h; // Qwen3's per-head RMSNorm over D
    };
    const q = F.rope(heads(this.q_proj.forward(x), H, this.q_norm), rope.cos, rope.sin);
    const { k, v, kvLength } = withPastKeyValues(
      this.layerIdx,
      F.rope(heads(this.k_proj.forward(x), Hkv, this.k_norm), rope.cos, rope.sin),
      heads(this.v_proj.forward(x), Hkv, null),
      ctx,
    );
    const o = F.scaledDotProductAttention(q, k, v, { causal: true, keyMask: ctx.keyMask, scale, window, kvLength });
    return this.o_proj.forward(F.mergeHeads(o));
  }
}

/** Llama's gated feed-forward block (SwiGLU). */
export class LlamaMLP extends Module {
  gate_proj: LinearLike;
  up_proj: LinearLike;
  down_proj: LinearLike;

  constructor(config: DecoderConfig, rng: Rng) {
    super();
    const { hiddenSize: d, intermediateSize: m, mlpBias } = config;
    if (config.hiddenAct !== 'silu' && config.hiddenAct !== 'swish') {
      throw new Error(
        `config.json: hidden_act "${config.hiddenAct}" is not supported for ${config.architecture} (expected "silu")`,
      );
    }
    this.gate_proj = normalLinear(d, m, rng, 0.02, { bias: mlpBias });
    this.up_proj = normalLinear(d, m, rng, 0.02, { bias: mlpBias });
    this.down_proj = normalLinear(m, d, rng, 0.02, { bias: mlpBias });
  }

  /** SwiGLU: down_proj(act(gate_proj(x)) · up_proj(x)). */
  forward(x: Tensor): Tensor {
    return this.down_proj.forward(F.mul(F.silu(this.gate_proj.forward(x)), this.up_proj.forward(x)));
  }
}

/** One Llama decoder layer: RMSNorm, attention, RMSNorm, MLP. */
export class LlamaDecoderLayer extends Module {
  self_attn: LlamaAttention;
  mlp: LlamaMLP;
  input_layernorm: RMSNorm;
  post_attention_layernorm: RMSNorm;
  /** The two residual adds (no parameters); PEFT bottleneck adapters replace them, as AdapterHub does. */
  attention_adapters: ResidualHook = new ResidualAdd();
  output_adapters: ResidualHook = new ResidualAdd();

  constructor(config: DecoderConfig, layerIdx: number, rng: Rng) {
    super();
    this.self_attn = new LlamaAttention(config, layerIdx, rng);
    this.mlp = new LlamaMLP(config, rng);
    this.input_layernorm = new RMSNorm(config.hiddenSize, config.rmsNormEps);
    this.post_attention_layernorm = new RMSNorm(config.hiddenSize, config.rmsNormEps);
  }

  /** One layer: RMSNorm + attention and RMSNorm + MLP, each added to the residual stream. */
  forward(h: Tensor, rope: { cos: Float32Array; sin: Float32Array }, ctx: AttentionContext): Tensor {
    h = this.attention_adapters.forward(this.self_attn.forward(this.input_layernorm.forward(h), rope, ctx), h);
    return this.output_adapters.forward(this.mlp.forward(this.post_attention_layernorm.forward(h)), h);
  }
}

/** The Llama-family transformer without a head. */
export class LlamaModel extends Module {
  embed_tokens: Embedding;
  layers: LlamaDecoderLayer[];
  norm: RMSNorm;

  constructor(config: DecoderConfig, rng: Rng) {
    super();
    this.embed_tokens = normalEmbedding(config.vocabSize, config.hiddenSize, rng, 0.02);
    this.layers = Array.from({ length: config.numHiddenLayers }, (_, i) => new LlamaDecoderLayer(config, i, rng));
    this.norm = new RMSNorm(config.hiddenSize, config.rmsNormEps);
  }
}

/** A Llama-family decoder with its language-modelling head (Llama, Mistral, Qwen2, ...). */
export class LlamaForCausalLM extends DecoderForCausalLM {
  model: LlamaModel;
  /** Output projection; null when tied to model.embed_tokens. */
  lm_head: Linear | null;
  /** config.json as read (written back by savePretrained). */
  readonly configJson: Record<string, unknown>;
  private invFreqCache: { invFreq: Float64Array; attentionScaling: number } | null = null;

  constructor(
    readonly config: DecoderConfig,
    opts: { seed?: number; configJson?: Record<string, unknown>; initWeights?: boolean } = {},
  ) {
    super();
    if (config.rope.partialRotaryFactor !== 1)
      throw new Error('config.json: partial_rotary_factor other than 1 is not supported for Llama-family models');
    // Loading a checkpoint overwrites every weight: skip drawing random ones.
    const rng = opts.initWeights === false ? new SkipInitRng(opts.seed ?? 0) : new Rng(opts.seed ?? 0);
    this.model = new LlamaModel(config, rng);
    this.lm_head = config.tieWordEmbeddings
      ? null
      : normalLinear(config.hiddenSize, config.vocabSize, rng, 0.02, { bias: false });
    this.configJson = opts.configJson ?? {};
  }

  /** Load a Hugging Face folder (config.json + safetensors). Weights are frozen; train adapters. */
  static fromPretrained(dir: string, opts: { dtype?: WeightDtype } = {}): LlamaForCausalLM {
    const { config, configJson } = readLlamaConfig(dir);
    const model = new LlamaForCausalLM(config, { configJson, initWeights: false });
    loadIntoModule(model, readModelWeights(dir), {
      dtype: opts.dtype ?? 'float32',
      label: dir,
      // Tied checkpoints sometimes still carry lm_head.weight; rotary buffers are recomputed.
      rename: (k) => (config.tieWordEmbeddings && k === 'lm_head.weight' ? null : k),
      ignoreUnexpected: /rotary_emb\.inv_freq$/,
    });
    return model.freeze().eval();
  }

  protected tokenEmbedding(): Embedding {
    return this.model.embed_tokens;
  }

  /** cos/sin tables [B, T, D/2] for the given positions (HF: attention scaling multiplies both). */
  private ropeTables(pos: Int32Array, maxPos: number): { cos: Float32Array; sin: Float32Array } {
    const dynamic = this.config.rope.ropeType === 'dynamic' || this.config.rope.ropeType === 'longrope';
    let freq = this.invFreqCache;
    if (!freq || dynamic) {
      freq = computeRopeInvFreq(this.config, dynamic ? maxPos + 1 : undefined);
      if (!dynamic) this.invFreqCache = freq;
    }
    const half = freq.invFreq.length;
    const cos = new Float32Array(pos.length * half);
    const sin = new Float32Array(pos.length * half);
    const sc = freq.attentionScaling;
    for (let i = 0; i < pos.length; i++) {
      for (let j = 0; j < half; j++) {
        // float32 angle as transformers computes it (position * inv_freq in float32)
        const angle = Math.fround(pos[i]! * Math.fround(freq.invFreq[j]!));
        cos[i * half + j] = Math.cos(angle) * sc;
        sin[i * half + j] = Math.sin(angle) * sc;
      }
    }
    return { cos, sin };
  }

  /** Next-token logits (and the loss, given labels); see {@link CausalLMInput}. */
  forward(input: CausalLMInput): CausalLMOutput {
    const { hiddenSize, numHiddenLayers: numLayers, numKeyValueHeads: kvHeads, headDim } = this.config;
    const prepared = prepareDecoderInput(input, { hiddenSize, numLayers, kvHeads, headDim }, (ids, shape) =>
      this.lookupTokens(ids, shape),
    );
    const { pos } = prepared;
    let h = prepared.h;
    let maxPos = 0;
    for (const p of pos) if (p > maxPos) maxPos = p;
    const rope = this.ropeTables(pos, maxPos);
    for (const layer of this.model.layers) h = layer.forward(h, rope, prepared);
    h = this.model.norm.forward(h);
    return lmHeadOutput(h, this.lm_head ? this.lm_head.weight : this.model.embed_tokens.weight, input, prepared.cache);
  }
}

/**
 * `<dir>/config.json` of a Llama-family checkpoint, parsed (shapes checked against the memory
 * budget), and the JSON as read.
 *
 * @throws Error naming the file when it is another family's config
 */
export function readLlamaConfig(dir: string): { config: DecoderConfig; configJson: Record<string, unknown> } {
  return readFamilyConfig(dir, DECODER_ARCHITECTURES, parseDecoderConfig, 'Llama-family');
}
