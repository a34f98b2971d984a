/**
 * config.json of the Llama family (LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM,
 * Qwen3ForCausalLM): typed fields with the defaults of each transformers configuration class.
 * Registered per model_type in registry.ts; the model is llama.ts.
 */
import type { FieldReader } from '../io/json.js';
import { LAYER_OVERHEAD_BYTES, checkModelSize, dtypeBytes, type SizeTerm } from '../io/model-size.js';
import { ACTIVATIONS, type Activation } from './activations.js';
import type { ConfigContext, ModelConfigBase } from './model-config.js';
import { parseRopeParameters, type RopeParameters } from './rope.js';

/** Llama, Mistral, Qwen2 and Qwen3 decoders (pre-norm RMSNorm, RoPE, SwiGLU MLP, GQA). */
export interface DecoderConfig extends ModelConfigBase {
  family: 'llama' | 'mistral' | 'qwen2' | 'qwen3';
  intermediateSize: number;
  numKeyValueHeads: number;
  headDim: number;
  hiddenAct: Activation;
  rmsNormEps: number;
  rope: RopeParameters;
  /** Bias on q/k/v projections (Qwen2: always true; Llama/Qwen3: `attention_bias`). */
  qkvBias: boolean;
  /** Bias on o_proj (Llama/Qwen3: `attention_bias`; Qwen2/Mistral: false). */
  oProjBias: boolean;
  mlpBias: boolean;
  /** Qwen3: RMSNorm over each head of q and k before RoPE. */
  qkNorm: boolean;
  /** Sliding-window attention size, or null for full attention. */
  slidingWindow: number | null;
}

/** The Llama-family model types. */
export type DecoderFamily = DecoderConfig['family'];

/**
 * config.json class names of each Llama-family model_type: the causal LM first, then the task
 * heads whose config is the causal LM's (src/models/sequence-classification.ts).
 */
export const DECODER_ARCHITECTURES: { readonly [F in DecoderFamily]: readonly [string, ...string[]] } = {
  llama: ['LlamaForCausalLM', 'LlamaForSequenceClassification'],
  mistral: ['MistralForCausalLM', 'MistralForSequenceClassification'],
  qwen2: ['Qwen2ForCausalLM', 'Qwen2ForSequenceClassification'],
  qwen3: ['Qwen3ForCausalLM', 'Qwen3ForSequenceClassification'],
};

/** Qwen2Config's defaults (Qwen3Config's are the same). */
const QWEN_DEFAULTS = {
  vocab: 151936,
  hidden: 4096,
  inter: 22016,
  layers: 32,
  heads: 32,
  kv: 32,
  maxPos: 32768,
  bos: null,
  eos: [],
} as const;

/** Per-family defaults of the transformers configuration classes. */
const DECODER_DEFAULTS = {
  llama: { vocab: 32000, hidden: 4096, inter: 11008, layers: 32, heads: 32, kv: null, maxPos: 2048, bos: 1, eos: [2] },
  mistral: {
    vocab: 32000,
    hidden: 4096,
    inter: 14336,
    layers: 32,
    heads: 32,
    kv: 8,
    maxPos: 4096 * 32,
    bos: 1,
    eos: [2],
  },
  qwen2: QWEN_DEFAULTS,
  qwen3: QWEN_DEFAULTS,
} as const;

/**
 * Parses a Llama-family config.json (the registry's parser for model_type llama, mistral, qwen2 and
 * qwen3; `ctx.family` picks the defaults). Checks the declared shapes against the memory budget when
 * `ctx.checkSize`.
 */
export function parseDecoderConfig(ctx: ConfigContext): DecoderConfig {
  const f: FieldReader = ctx.f;
  const { modelType, base } = ctx;
  const family = decoderFamily(ctx.family);
  const d: {
    vocab: number;
    hidden: number;
    inter: number;
    layers: number;
    heads: number;
    kv: number | null;
    maxPos: number;
    bos: number | null;
    eos: readonly number[];
  } = DECODER_DEFAULTS[family];
  const hiddenSize = f.int('hidden_size', d.hidden);
  const numAttentionHeads = f.int('num_attention_heads', d.heads);
  const numKeyValueHeads = f.int('num_key_value_heads', d.kv ?? numAttentionHeads);
  if (numAttentionHeads % numKeyValueHeads !== 0) {
    f.fail('num_key_value_heads', `a divisor of num_attention_heads (${numAttentionHeads})`);
  }
  const defaultHeadDim = family === 'qwen3' ? 128 : Math.floor(hiddenSize / numAttentionHeads);
  if (!f.has('head_dim') && family !== 'qwen3' && hiddenSize % numAttentionHeads !== 0) {
    f.fail('hidden_size', `divisible by num_attention_heads (${numAttentionHeads}) when head_dim is absent`);
  }
  const headDim = f.int('head_dim', defaultHeadDim);
  const maxPositionEmbeddings = f.int('max_position_embeddings', d.maxPos);
  const attentionBias = f.bool('attention_bias', false);
  const eos = base.eosTokenIds.length > 0 || f.has('eos_token_id') ? base.eosTokenIds : [...d.eos];
  // Sliding windows: Mistral uses `sliding_window` (null disables); Qwen2/3 only when use_sliding_window.
  let slidingWindow: number | null = null;
  if (family === 'mistral') slidingWindow = f.obj.sliding_window === null ? null : f.int('sliding_window', 4096);
  else if ((family === 'qwen2' || family === 'qwen3') && f.bool('use_sliding_window', false))
    slidingWindow = f.int('sliding_window', 4096);
  const config: DecoderConfig = {
    ...base,
    family,
    modelType: modelType || family,
    vocabSize: f.int('vocab_size', d.vocab),
    hiddenSize,
    intermediateSize: f.int('intermediate_size', d.inter),
    numHiddenLayers: f.int('num_hidden_layers', d.layers),
    numAttentionHeads,
    numKeyValueHeads,
    headDim,
    hiddenAct: f.oneOf('hidden_act', ACTIVATIONS, 'silu'),
    maxPositionEmbeddings,
    rmsNormEps: f.num('rms_norm_eps', 1e-6, true),
    rope: parseRopeParameters(f, maxPositionEmbeddings, headDim),
    qkvBias: family === 'qwen2' ? true : family === 'mistral' ? false : attentionBias,
    oProjBias: family === 'llama' || family === 'qwen3' ? attentionBias : false,
    mlpBias: family === 'llama' ? f.bool('mlp_bias', false) : false,
    qkNorm: family === 'qwen3',
    slidingWindow,
    tieWordEmbeddings: f.bool('tie_word_embeddings', false),
    bosTokenId: f.has('bos_token_id') ? f.optInt('bos_token_id') : d.bos,
    eosTokenIds: eos,
  };
  if (ctx.checkSize)
    checkModelSize(f.label, decoderSizeTerms(config), config.numHiddenLayers, 'num_hidden_layers', ctx.budget);
  return config;
}

function decoderFamily(family: string): DecoderFamily {
  if (family === 'llama' || family === 'mistral' || family === 'qwen2' || family === 'qwen3') return family;
  throw new Error(`parseDecoderConfig: "${family}" is not a Llama-family model type`);
}

/** Sizes of a Llama-family decoder's parts (weights in the declared dtype; norms and biases omitted). */
export function decoderSizeTerms(c: DecoderConfig): SizeTerm[] {
  const b = dtypeBytes(c.dtype);
  const {
    vocabSize: V,
    hiddenSize: H,
    numHiddenLayers: L,
    numAttentionHeads: nH,
    numKeyValueHeads: kv,
    headDim: hd,
    intermediateSize: I,
  } = c;
  return [
    { fields: ['vocab_size', 'hidden_size'], bytes: V * H * b * (c.tieWordEmbeddings ? 1 : 2) },
    { fields: ['num_hidden_layers', 'hidden_size', 'num_attention_heads', 'head_dim'], bytes: L * 2 * H * nH * hd * b },
    { fields: ['num_hidden_layers', 'hidden_size', 'num_key_value_heads', 'head_dim'], bytes: L * 2 * H * kv * hd * b },
    { fields: ['num_hidden_layers', 'hidden_size', 'intermediate_size'], bytes: L * 3 * H * I * b },
    { fields: ['num_hidden_layers'], bytes: L * LAYER_OVERHEAD_BYTES },
  ];
}
