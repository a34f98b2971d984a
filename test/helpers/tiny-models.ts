/**
 * The tiny models the tests build with random weights: one config.json object per family (override
 * any field), its typed config, and the model, so a test states only what it changes.
 *
 *   const model = tinyLlama({ tie_word_embeddings: true }, 10).freeze();
 *   const clf = new BertForSequenceClassification(bertConfig(json), { seed: 2, configJson: json });
 *
 * Configs are parsed by the family's own parser (no cast), without the memory-budget check.
 */
import {
  BERT_ARCHITECTURES,
  DECODER_ARCHITECTURES,
  GPT2_ARCHITECTURES,
  GPT2LMHeadModel,
  LlamaForCausalLM,
  parseBertConfig,
  parseDecoderConfig,
  parseFamilyConfig,
  parseGpt2Config,
  type BertConfig,
  type DecoderConfig,
  type Gpt2Config,
} from '../../src/models/index.js';

/** A 2-layer Llama: vocab 32, hidden 16, 4 heads over 2 key/value heads. */
export const TINY_LLAMA = {
  architectures: ['LlamaForCausalLM'],
  model_type: 'llama',
  vocab_size: 32,
  hidden_size: 16,
  intermediate_size: 24,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  max_position_embeddings: 64,
};

/** A 2-layer GPT-2: vocab 50, n_embd 16, 4 heads, 32 positions. */
export const TINY_GPT2 = {
  architectures: ['GPT2LMHeadModel'],
  model_type: 'gpt2',
  vocab_size: 50,
  n_embd: 16,
  n_head: 4,
  n_layer: 2,
  n_positions: 32,
};

/** A 2-layer BERT body: vocab 60, hidden 16, 4 heads, 24 positions (spread it under a head's `architectures`). */
export const TINY_BERT = {
  model_type: 'bert',
  vocab_size: 60,
  hidden_size: 16,
  num_attention_heads: 4,
  num_hidden_layers: 2,
  intermediate_size: 32,
  max_position_embeddings: 24,
  type_vocab_size: 2,
};

/** A Llama-family config.json object parsed (any of llama, mistral, qwen2, qwen3). */
export function llamaConfig(json: Record<string, unknown>): DecoderConfig {
  return parseFamilyConfig(json, 'config.json', DECODER_ARCHITECTURES, parseDecoderConfig, 'Llama-family', {
    checkSize: false,
  });
}

/** A GPT-2 config.json object parsed. */
export function gpt2Config(json: Record<string, unknown>): Gpt2Config {
  return parseFamilyConfig(json, 'config.json', { gpt2: GPT2_ARCHITECTURES }, parseGpt2Config, 'GPT-2', {
    checkSize: false,
  });
}

/** A BERT config.json object parsed (any Bert* head class). */
export function bertConfig(json: Record<string, unknown>): BertConfig {
  return parseFamilyConfig(json, 'config.json', { bert: BERT_ARCHITECTURES }, parseBertConfig, 'BERT', {
    checkSize: false,
  });
}

/** {@link TINY_LLAMA} with `overrides`, seeded random weights (trainable, train mode as constructed). */
export function tinyLlama(overrides: Record<string, unknown> = {}, seed = 0): LlamaForCausalLM {
  const json = { ...TINY_LLAMA, ...overrides };
  return new LlamaForCausalLM(llamaConfig(json), { seed, configJson: json });
}

/** {@link TINY_GPT2} with `overrides`, seeded random weights (trainable, train mode as constructed). */
export function tinyGpt2(overrides: Record<string, unknown> = {}, seed = 0): GPT2LMHeadModel {
  const json = { ...TINY_GPT2, ...overrides };
  return new GPT2LMHeadModel(gpt2Config(json), { seed, configJson: json });
}
