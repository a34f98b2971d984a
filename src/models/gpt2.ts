/**
 * GPT-2 as transformers' `modeling_gpt2.py` runs it:
 *
 *   h = drop(wte(ids) + wpe(positions))
 *   for each block:
 *     q, k, v = split(c_attn(ln_1(h)))                   causal attention, scale 1/sqrt(head_dim)
 *     h = h + resid_dropout(attn.c_proj(attention(q, k, v)))  (attn_dropout on the probabilities)
 *     h = h + dropout(mlp.c_proj(gelu_new(mlp.c_fc(ln_2(h)))))
 *   logits = ln_f(h) @ wteᵀ                               (lm_head tied to wte)
 *
 * The projections are Conv1D in transformers: weight stored [in, out]. They are Linear layers with
 * `weightInOut`, so checkpoints load unchanged and LoRA can wrap them like any Linear. Module names
 * are transformers' (`transformer.h.0.attn.c_attn.weight`).
 */
import { FieldReader } from '../io/json.js';
import { normalEmbedding, normalLinear } from '../nn/init.js';
import { Dropout, LayerNorm, type Embedding, type Linear, type LinearLike } from '../nn/layers.js';
import { Module } from '../nn/module.js';
import * as F from '../tensor/ops.js';
import { Rng } from '../tensor/random.js';
import type { Tensor } from '../tensor/tensor.js';
import { activation } from './activations.js';
import { GPT2_ARCHITECTURES, parseGpt2Config, type Gpt2Config } from './gpt2-config.js';
import { readFamilyConfig } from './model-config.js';
import { ResidualAdd, type ResidualHook } from './residual.js';
import { attentionWithDropout, withPastKeyValues, type AttentionContext } from './attention.js';
import {
  DecoderForCausalLM,
  lmHeadOutput,
  prepareDecoderInput,
  type CausalLMInput,
  type CausalLMOutput,
} from './causal-lm.js';
import { SkipInitRng, loadIntoModule, readModelWeights, type WeightDtype } from './weights.js';

/** Settings of config.json that the typed Gpt2Config does not carry (transformers' defaults). */
interface Gpt2Extras {
  /** Dropout after the embeddings (`embd_pdrop`, default 0.1). */
  embdPdrop: number;
  /** Dropout on each residual branch (`resid_pdrop`, default 0.1). */
  residPdrop: number;
  /** Dropout on the attention probabilities (`attn_pdrop`, default 0.1). */
  attnPdrop: number;
  /** Std of the normal initialisation (`initializer_range`, default 0.02). */
  initializerRange: number;
}

function readExtras(json: Record<string, unknown>): Gpt2Extras {
  const f = new FieldReader('config.json', json);
  const prob = (field: string): number => {
    const p = f.num(field, 0.1);
    if (p < 0 || p >= 1) f.fail(field, 'a probability in [0, 1)');
    return p;
  };
  return {
    embdPdrop: prob('embd_pdrop'),
    residPdrop: prob('resid_pdrop'),
    attnPdrop: prob('attn_pdrop'),
    initializerRange: f.num('initializer_range', 0.02, true),
  };
}

/** GPT-2's causal self-attention (fused c_attn projection). */
export class GPT2Attention extends Module {
  /** q, k, v projections fused: [hidden, 3 * hidden]. */
  c_attn: LinearLike;
  c_proj: LinearLike;
  attn_dropout: Dropout;
  resid_dropout: Dropout;
  /** Multiplies q·k: 1/sqrt(head_dim) (scale_attn_weights), also / (layer + 1) when scale_attn_by_inverse_layer_idx. */
  readonly scale: number;

  constructor(
    readonly config: Gpt2Config,
    readonly layerIdx: number,
    extras: Gpt2Extras,
    rng: Rng,
  ) {
    super();
    const d = config.hiddenSize;
    const std = extras.initializerRange;
    this.c_attn = normalLinear(d, 3 * d, rng, std, { weightInOut: true });
    // GPT-2 scales residual projections by 1/sqrt(2 * n_layer) at initialisation.
    this.c_proj = normalLinear(d, d, rng, std / Math.sqrt(2 * config.numHiddenLayers), { weightInOut: true });
    this.attn_dropout = new Dropout(extras.attnPdrop, rng.nextU32());
    this.resid_dropout = new Dropout(extras.residPdrop, rng.nextU32());
    const headDim = d / config.numAttentionHeads;
    this.scale =
      (config.scaleAttnWeights ? 1 / Math.sqrt(headDim) : 1) / (config.scaleAttnByInverseLayerIdx ? layerIdx + 1 : 1);
  }

  /** x [B, T, d] -> [B, T, d]. */
  forward(x: Tensor, ctx: AttentionContext): Tensor {
    const H = this.config.numAttentionHeads;
    const D = x.dim(-1) / H;
    const qkv = this.c_attn.forward(x);
    const dropping = this.attn_dropout.training && this.attn_dropout.p > 0;
    if (!ctx.cache && !ctx.prefix && !dropping) {
      // No earlier keys and no dropout on the probabilities: attention reads q, k and v in place
      // from c_attn's output and writes [B, T, d] for c_proj (no head copies either way).
      const o = F.packedAttention(qkv, H, { causal: true, keyMask: ctx.keyMask, scale: this.scale });
      return this.resid_dropout.forward(this.c_proj.forward(o));
    }
    // Decoding: the new keys and values go from c_attn's output straight into the cache's buffers,
    // and attention reads q there too (no head copies); a cache holding differentiable tensors, or
    // a qkv that needs a gradient, takes the general path below.
    const cached = ctx.cache && !ctx.prefix && !dropping ? ctx.cache.appendPacked(this.layerIdx, qkv, H, H) : null;
    if (cached) {
      const o = F.cachedPackedAttention(qkv, H, cached, { causal: true, keyMask: ctx.keyMask, scale: this.scale });
      return this.resid_dropout.forward(this.c_proj.forward(o));
    }
    // c_attn's output holds q, k and v side by side: each becomes [B, H, T, D] in one copy.
    const [q, k0, v0] = F.splitHeads(qkv, [H, H, H], D) as [Tensor, Tensor, Tensor];
    const { k, v, kvLength } = withPastKeyValues(this.layerIdx, k0, v0, ctx);
    const o = attentionWithDropout(q, k, v, {
      kvLength,
      causal: true,
      keyMask: ctx.keyMask,
      scale: this.scale,
      dropout: this.attn_dropout,
    });
    return this.resid_dropout.forward(this.c_proj.forward(F.mergeHeads(o)));
  }
}

/** GPT-2's feed-forward block. */
export class GPT2MLP extends Module {
  c_fc: LinearLike;
  c_proj: LinearLike;
  dropout: Dropout;
  private readonly act: (x: Tensor) => Tensor;

  constructor(config: Gpt2Config, extras: Gpt2Extras, rng: Rng) {
    super();
    const { hiddenSize: d, intermediateSize: m } = config;
    this.act = activation(config.activationFunction, 'activation_function');
    this.c_fc = normalLinear(d, m, rng, extras.initializerRange, { weightInOut: true });
    this.c_proj = normalLinear(m, d, rng, extras.initializerRange / Math.sqrt(2 * config.numHiddenLayers), {
      weightInOut: true,
    });
    this.dropout = new Dropout(extras.residPdrop, rng.nextU32());
  }

  /** c_fc, activation, c_proj, dropout. */
  forward(x: Tensor): Tensor {
    return this.dropout.forward(this.c_proj.forward(this.act(this.c_fc.forward(x))));
  }
}

/** One GPT-2 block: attention and MLP with pre-LayerNorm residuals. */
export class GPT2Block extends Module {
  ln_1: LayerNorm;
  attn: GPT2Attention;
  ln_2: LayerNorm;
  mlp: GPT2MLP;
  /** The two residual adds (no parameters); PEFT bottleneck adapters replace them, as AdapterHub does. */
  attention_adapters: ResidualHook = new ResidualAdd();
  output_adapters: ResidualHook = new ResidualAdd();

  constructor(config: Gpt2Config, layerIdx: number, extras: Gpt2Extras, rng: Rng) {
    super();
    this.ln_1 = new LayerNorm(config.hiddenSize, config.layerNormEpsilon);
    this.attn = new GPT2Attention(config, layerIdx, extras, rng);
    this.ln_2 = new LayerNorm(config.hiddenSize, config.layerNormEpsilon);
    this.mlp = new GPT2MLP(config, extras, rng);
  }

  /** One block: pre-norm attention and MLP, each added to the residual stream. */
  forward(h: Tensor, ctx: AttentionContext): Tensor {
    h = this.attention_adapters.forward(this.attn.forward(this.ln_1.forward(h), ctx), h);
    return this.output_adapters.forward(this.mlp.forward(this.ln_2.forward(h)), h);
  }
}

/** The GPT-2 transformer without a head. */
export class GPT2Model extends Module {
  wte: Embedding;
  wpe: Embedding;
  drop: Dropout;
  h: GPT2Block[];
  ln_f: LayerNorm;

  constructor(config: Gpt2Config, extras: Gpt2Extras, rng: Rng) {
    super();
    const std = extras.initializerRange;
    this.wte = normalEmbedding(config.vocabSize, config.hiddenSize, rng, std);
    this.wpe = normalEmbedding(config.maxPositionEmbeddings, config.hiddenSize, rng, std);
    this.drop = new Dropout(extras.embdPdrop, rng.nextU32());
    this.h = Array.from({ length: config.numHiddenLayers }, (_, i) => new GPT2Block(config, i, extras, rng));
    this.ln_f = new LayerNorm(config.hiddenSize, config.layerNormEpsilon);
  }
}

/**
 * GPT-2 with its language-modelling head (tied to the token embedding). Saves keys with the
 * `transformer.` prefix, as transformers' GPT2LMHeadModel does.
 */
export class GPT2LMHeadModel extends DecoderForCausalLM {
  transformer: GPT2Model;
  /** Output projection [vocab, hidden]; null when tied to transformer.wte (every released GPT-2). */
  lm_head: Linear | null;
  /** config.json as read (written back by savePretrained). */
  readonly configJson: Record<string, unknown>;

  /**
   * A GPT-2 with transformers' initialisation (N(0, initializer_range), residual projections
   * scaled by 1/sqrt(2·n_layer), LayerNorm 1/0) from the seeded generator (default seed 0).
   * Dropout probabilities come from `configJson` (embd_pdrop / resid_pdrop / attn_pdrop, default
   * 0.1). `initWeights: false` leaves weights zero for a checkpoint to fill.
   */
  constructor(
    readonly config: Gpt2Config,
    opts: { seed?: number; configJson?: Record<string, unknown>; initWeights?: boolean } = {},
  ) {
    super();
    this.configJson = opts.configJson ?? {};
    const extras = readExtras(this.configJson);
    // fromPretrained overwrites every weight: skip drawing them (initWeights false).
    const rng = opts.initWeights === false ? new SkipInitRng(opts.seed ?? 0) : new Rng(opts.seed ?? 0);
    this.transformer = new GPT2Model(config, extras, rng);
    this.lm_head = null;
    if (!config.tieWordEmbeddings) {
      this.lm_head = normalLinear(config.hiddenSize, config.vocabSize, rng, extras.initializerRange, { bias: false });
    }
  }

  /**
   * Load a Hugging Face GPT-2 folder (config.json + safetensors). Keys may carry the `transformer.`
   * prefix or not (both exist on the Hub); the causal-mask buffers `attn.bias` / `attn.masked_bias`
   * and a tied `lm_head.weight` are ignored. Weights are frozen (train adapters); eval mode.
   *
   * @param opts.dtype how frozen weights are kept (default 'float32')
   */
  static fromPretrained(dir: string, opts: { dtype?: WeightDtype } = {}): GPT2LMHeadModel {
    const { config, configJson } = readGpt2Config(dir);
    const model = new GPT2LMHeadModel(config, { configJson, initWeights: false });
    model.loadWeights(dir, opts.dtype ?? 'float32');
    return model.freeze().eval();
  }

  private loadWeights(dir: string, dtype: WeightDtype): void {
    const tied = this.config.tieWordEmbeddings;
    loadIntoModule(this, readModelWeights(dir), {
      dtype,
      label: dir,
      rename: (key) => {
        if (/(^|\.)attn\.(bias|masked_bias)$/.test(key)) return null;
        if (key === 'lm_head.weight') return tied ? null : key;
        return key.startsWith('transformer.') ? key : `transformer.${key}`;
      },
    });
  }

  protected tokenEmbedding(): Embedding {
    return this.transformer.wte;
  }

  /** Next-token logits (and the loss, given labels); positions beyond n_positions are an error. */
  forward(input: CausalLMInput): CausalLMOutput {
    const { hiddenSize, numHiddenLayers: numLayers, numAttentionHeads: heads } = this.config;
    const prepared = prepareDecoderInput(
      input,
      { hiddenSize, numLayers, kvHeads: heads, headDim: hiddenSize / heads },
      (ids, shape) => this.lookupTokens(ids, shape),
    );
    const { B, T, pos } = prepared;
    const maxPos = this.config.maxPositionEmbeddings;
    for (const p of pos)
      if (p >= maxPos)
        throw new Error(`forward: position ${p} is beyond GPT-2's ${maxPos} learned positions (n_positions)`);
    let h = this.transformer.drop.forward(F.add(prepared.h, this.transformer.wpe.forward(pos, [B, T])));
    for (const block of this.transformer.h) h = block.forward(h, prepared);
    h = this.transformer.ln_f.forward(h);
    return lmHeadOutput(h, this.lm_head ? this.lm_head.weight : this.transformer.wte.weight, input, prepared.cache);
  }
}

/**
 * `<dir>/config.json` of a GPT-2 checkpoint, parsed (shapes checked against the memory budget),
 * and the JSON as read.
 *
 * @throws Error naming the file when it is another family's config
 */
export function readGpt2Config(dir: string): { config: Gpt2Config; configJson: Record<string, unknown> } {
  return readFamilyConfig(dir, { gpt2: GPT2_ARCHITECTURES }, parseGpt2Config, 'GPT-2');
}
