/**
 * Prompt-learning configs (PEFT's PromptTuningConfig, PromptEncoderConfig for P-tuning,
 * PrefixTuningConfig) with PEFT's field names and defaults.
 */
import { FieldReader } from '../../io/json.js';
import { BASE_FIELDS, baseFieldsJson, readBaseFields, sortedJson, type PeftConfigBase } from '../config.js';

/** Fields every prompt-learning config has; the model's geometry is filled in when added. */
export interface PromptLearningFields extends PeftConfigBase {
  numVirtualTokens: number;
  /** Hidden size (prefix tuning on grouped-query models: head_dim * num_key_value_heads). */
  tokenDim: number | null;
  numTransformerSubmodules: number | null;
  numAttentionHeads: number | null;
  numLayers: number | null;
  /** Seed for random initialisation (not saved). */
  seed: number;
}

export interface PromptTuningConfig extends PromptLearningFields {
  peftType: 'PROMPT_TUNING';
  promptTuningInit: 'RANDOM' | 'TEXT' | 'SAMPLE_VOCAB';
  promptTuningInitText: string | null;
  tokenizerNameOrPath: string | null;
  /** Tokenizer for TEXT init (else tokenizerNameOrPath is loaded); not saved. */
  tokenizer?: {
    /** Token ids of a text. */
    encode(text: string): number[];
  };
}

export interface PTuningConfig extends PromptLearningFields {
  peftType: 'P_TUNING';
  encoderReparameterizationType: 'MLP' | 'LSTM';
  /** Defaults to tokenDim. */
  encoderHiddenSize: number | null;
  encoderNumLayers: number;
  encoderDropout: number;
}

export interface PrefixTuningConfig extends PromptLearningFields {
  peftType: 'PREFIX_TUNING';
  /** Run the prefix through Linear(d, h) -> tanh -> Linear(h, 2·L·d) (dropped at save: the output is stored). */
  prefixProjection: boolean;
  encoderHiddenSize: number | null;
}

/** The config of any prompt-learning method. */
export type PromptConfig = PromptTuningConfig | PTuningConfig | PrefixTuningConfig;

const BASE = (peftType: string) => ({
  peftType,
  taskType: 'CAUSAL_LM' as const,
  baseModelNameOrPath: null,
  revision: null,
  inferenceMode: false,
  numVirtualTokens: 8,
  tokenDim: null,
  numTransformerSubmodules: null,
  numAttentionHeads: null,
  numLayers: null,
  seed: 0,
});

function check(c: PromptLearningFields): void {
  if (!Number.isSafeInteger(c.numVirtualTokens) || c.numVirtualTokens < 1)
    throw new Error(`${c.peftType}: num_virtual_tokens must be a positive integer, got ${c.numVirtualTokens}`);
}

/** A prompt-tuning config with defaults filled in. */
export function promptTuningConfig(partial: Partial<PromptTuningConfig> = {}): PromptTuningConfig {
  const c: PromptTuningConfig = {
    ...BASE('PROMPT_TUNING'),
    promptTuningInit: 'RANDOM',
    promptTuningInitText: null,
    tokenizerNameOrPath: null,
    ...partial,
    peftType: 'PROMPT_TUNING',
  };
  check(c);
  if (c.promptTuningInit === 'TEXT' && !c.promptTuningInitText)
    throw new Error('PROMPT_TUNING: prompt_tuning_init "TEXT" needs prompt_tuning_init_text');
  return c;
}

/** A P-tuning config with defaults filled in. */
export function pTuningConfig(partial: Partial<PTuningConfig> = {}): PTuningConfig {
  const c: PTuningConfig = {
    ...BASE('P_TUNING'),
    encoderReparameterizationType: 'MLP',
    encoderHiddenSize: null,
    encoderNumLayers: 2,
    encoderDropout: 0,
    ...partial,
    peftType: 'P_TUNING',
  };
  check(c);
  return c;
}

/** A prefix-tuning config with defaults filled in. */
export function prefixTuningConfig(partial: Partial<PrefixTuningConfig> = {}): PrefixTuningConfig {
  const c: PrefixTuningConfig = {
    ...BASE('PREFIX_TUNING'),
    prefixProjection: false,
    encoderHiddenSize: null,
    ...partial,
    peftType: 'PREFIX_TUNING',
  };
  check(c);
  return c;
}

const COMMON = [
  ...BASE_FIELDS,
  'num_virtual_tokens',
  'token_dim',
  'num_transformer_submodules',
  'num_attention_heads',
  'num_layers',
  'modules_to_save',
];
export const PROMPT_TUNING_FIELDS = [
  ...COMMON,
  'prompt_tuning_init',
  'prompt_tuning_init_text',
  'tokenizer_name_or_path',
  'tokenizer_kwargs',
];
export const P_TUNING_FIELDS = [
  ...COMMON,
  'encoder_reparameterization_type',
  'encoder_hidden_size',
  'encoder_num_layers',
  'encoder_dropout',
];
export const PREFIX_TUNING_FIELDS = [...COMMON, 'encoder_hidden_size', 'prefix_projection'];

function common(f: FieldReader): Omit<PromptLearningFields, 'peftType' | 'seed'> {
  if (f.has('modules_to_save'))
    f.fail('modules_to_save', 'null (modules_to_save with prompt learning is not supported)');
  return {
    ...readBaseFields(f),
    numVirtualTokens: f.int('num_virtual_tokens', 8),
    tokenDim: f.optInt('token_dim', 1),
    numTransformerSubmodules: f.optInt('num_transformer_submodules', 1),
    numAttentionHeads: f.optInt('num_attention_heads', 1),
    numLayers: f.optInt('num_layers', 1),
  };
}

/** Parses and validates a prompt-learning config read from adapter_config.json. */
export function promptConfigFromJson(json: Record<string, unknown>, label: string): PromptConfig {
  const f = new FieldReader(label, json);
  const type = json.peft_type;
  if (type === 'PROMPT_TUNING') {
    return promptTuningConfig({
      ...common(f),
      promptTuningInit: f.oneOf('prompt_tuning_init', ['RANDOM', 'TEXT', 'SAMPLE_VOCAB'] as const, 'RANDOM'),
      promptTuningInitText: f.optStr('prompt_tuning_init_text'),
      tokenizerNameOrPath: f.optStr('tokenizer_name_or_path'),
    });
  }
  if (type === 'P_TUNING') {
    return pTuningConfig({
      ...common(f),
      encoderReparameterizationType: f.oneOf('encoder_reparameterization_type', ['MLP', 'LSTM'] as const, 'MLP'),
      encoderHiddenSize: f.optInt('encoder_hidden_size', 1),
      encoderNumLayers: f.int('encoder_num_layers', 2),
      encoderDropout: f.num('encoder_dropout', 0),
    });
  }
  return prefixTuningConfig({
    ...common(f),
    prefixProjection: f.bool('prefix_projection', false),
    encoderHiddenSize: f.optInt('encoder_hidden_size', 1),
  });
}

/** A prompt-learning config as PEFT writes it. */
export function promptConfigToJson(c: PromptConfig): Record<string, unknown> {
  const out: Record<string, unknown> = {
    ...baseFieldsJson(c),
    modules_to_save: null,
    num_attention_heads: c.numAttentionHeads,
    num_layers: c.numLayers,
    num_transformer_submodules: c.numTransformerSubmodules,
    num_virtual_tokens: c.numVirtualTokens,
    token_dim: c.tokenDim,
  };
  if (c.peftType === 'PROMPT_TUNING')
    Object.assign(out, {
      prompt_tuning_init: c.promptTuningInit,
      prompt_tuning_init_text: c.promptTuningInitText,
      tokenizer_kwargs: null,
      tokenizer_name_or_path: c.tokenizerNameOrPath,
    });
  else if (c.peftType === 'P_TUNING')
    Object.assign(out, {
      encoder_dropout: c.encoderDropout,
      encoder_hidden_size: c.encoderHiddenSize,
      encoder_num_layers: c.encoderNumLayers,
      encoder_reparameterization_type: c.encoderReparameterizationType,
    });
  else Object.assign(out, { encoder_hidden_size: c.encoderHiddenSize, prefix_projection: c.prefixProjection });
  return sortedJson(out);
}
