/**
 * config.json of GPT-2 (GPT2LMHeadModel): typed fields with the defaults of transformers'
 * GPT2Config. Registered in registry.ts; the model is gpt2.ts.
 */
import type { FieldReader } from '../io/json.js';
import { LAYER_OVERHEAD_BYTES, checkModelSize, dtypeBytes, type SizeTerm } from '../io/model-size.js';
import { ACTIVATIONS, type Activation } from './activations.js';
import type { ConfigContext, ModelConfigBase } from './model-config.js';

/** config.json class names GPT-2 reads: the causal LM, then the task heads whose config is its. */
export const GPT2_ARCHITECTURES: readonly [string, ...string[]] = ['GPT2LMHeadModel', 'GPT2ForSequenceClassification'];

/** GPT-2 (post-LN-free pre-norm LayerNorm, learned positions, Conv1D weights stored [in, out]). */
export interface Gpt2Config extends ModelConfigBase {
  family: 'gpt2';
  /** n_inner; default 4 × hidden. */
  intermediateSize: number;
  activationFunction: Activation;
  layerNormEpsilon: number;
  scaleAttnWeights: boolean;
  scaleAttnByInverseLayerIdx: boolean;
}

/** Parses a GPT-2 config.json (the registry's parser for model_type gpt2). */
export function parseGpt2Config(ctx: ConfigContext): Gpt2Config {
  const f: FieldReader = ctx.f;
  const { modelType, base } = ctx;
  const hiddenSize = f.int('n_embd', 768);
  const numAttentionHeads = f.int('n_head', 12);
  if (hiddenSize % numAttentionHeads !== 0) f.fail('n_embd', `divisible by n_head (${numAttentionHeads})`);
  const config: Gpt2Config = {
    ...base,
    family: 'gpt2',
    modelType: modelType || 'gpt2',
    vocabSize: f.int('vocab_size', 50257),
    hiddenSize,
    numHiddenLayers: f.int('n_layer', 12),
    numAttentionHeads,
    maxPositionEmbeddings: f.int('n_positions', 1024),
    intermediateSize: f.int('n_inner', 4 * hiddenSize),
    activationFunction: f.oneOf('activation_function', ACTIVATIONS, 'gelu_new'),
    layerNormEpsilon: f.num('layer_norm_epsilon', 1e-5, true),
    scaleAttnWeights: f.bool('scale_attn_weights', true),
    scaleAttnByInverseLayerIdx: f.bool('scale_attn_by_inverse_layer_idx', false),
    tieWordEmbeddings: f.bool('tie_word_embeddings', true),
    bosTokenId: f.has('bos_token_id') ? f.optInt('bos_token_id') : 50256,
    eosTokenIds: f.has('eos_token_id') ? base.eosTokenIds : [50256],
  };
  if (ctx.checkSize) checkModelSize(f.label, gpt2SizeTerms(config), config.numHiddenLayers, 'n_layer', ctx.budget);
  return config;
}

/** Sizes of GPT-2's parts (weights in the declared dtype; norms and biases omitted). */
export function gpt2SizeTerms(c: Gpt2Config): SizeTerm[] {
  const b = dtypeBytes(c.dtype);
  const { vocabSize: V, hiddenSize: H, numHiddenLayers: L, maxPositionEmbeddings: P, intermediateSize: I } = c;
  return [
    { fields: ['vocab_size', 'n_embd'], bytes: V * H * b * (c.tieWordEmbeddings ? 1 : 2) },
    { fields: ['n_positions', 'n_embd'], bytes: P * H * b },
    { fields: ['n_layer', 'n_embd'], bytes: L * 4 * H * H * b },
    { fields: ['n_layer', 'n_embd', 'n_inner'], bytes: L * 2 * H * I * b },
    { fields: ['n_layer'], bytes: L * LAYER_OVERHEAD_BYTES },
  ];
}
