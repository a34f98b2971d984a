/**
 * IA3 configuration (PEFT's IA3Config): learned scaling vectors on keys, values and feed-forward
 * layers (Liu et al. 2022, "(IA)³").
 */
import { FieldReader } from '../../io/json.js';
import {
  BASE_FIELDS,
  baseFieldsJson,
  TUNER_DEFAULTS,
  readTargetFields,
  targetFieldsJson,
  namesJson,
  namesField,
  readBaseFields,
  sortedJson,
  type PeftConfigBase,
} from '../config.js';
import type { TargetSpec } from '../tuner.js';

export interface IA3Config extends PeftConfigBase, TargetSpec {
  peftType: 'IA3';
  /** Targets whose INPUT is scaled (`base(x * l)`); the others scale their output. Must be among the targets. */
  feedforwardModules: string | string[] | null;
  fanInFanOut: boolean;
  /** true: vectors start at 1 (the identity). false: random (for tests). */
  initIa3Weights: boolean;
  modulesToSave: string[] | null;
}

/** PEFT's TRANSFORMERS_MODELS_TO_IA3_TARGET_MODULES_MAPPING. */
export const DEFAULT_IA3_TARGETS: Record<string, string[]> = {
  llama: ['k_proj', 'v_proj', 'down_proj'],
  mistral: ['k_proj', 'v_proj', 'down_proj'],
  qwen2: ['k_proj', 'v_proj', 'down_proj'],
  qwen3: ['k_proj', 'v_proj', 'down_proj'],
  gpt2: ['c_attn', 'mlp.c_proj'],
  bert: ['key', 'value', 'output.dense'],
};

/** PEFT's TRANSFORMERS_MODELS_TO_IA3_FEEDFORWARD_MODULES_MAPPING. */
export const DEFAULT_IA3_FEEDFORWARD: Record<string, string[]> = {
  llama: ['down_proj'],
  mistral: ['down_proj'],
  qwen2: ['down_proj'],
  qwen3: ['down_proj'],
  gpt2: ['mlp.c_proj'],
  bert: ['output.dense'],
};

/** An IA3 config with defaults filled in. */
export function ia3Config(partial: Partial<IA3Config> = {}): IA3Config {
  const c: IA3Config = {
    ...TUNER_DEFAULTS,
    peftType: 'IA3',
    feedforwardModules: null,
    fanInFanOut: false,
    initIa3Weights: true,
    modulesToSave: null,
    ...partial,
  };
  const t = c.targetModules,
    ff = c.feedforwardModules;
  if (Array.isArray(t) && Array.isArray(ff)) {
    const bad = ff.filter((f) => !t.includes(f));
    if (bad.length) throw new Error(`IA3: feedforward_modules ${JSON.stringify(bad)} must also be in target_modules`);
  }
  return c;
}

export const IA3_KNOWN_FIELDS: readonly string[] = [
  ...BASE_FIELDS,
  'target_modules',
  'exclude_modules',
  'feedforward_modules',
  'fan_in_fan_out',
  'init_ia3_weights',
  'modules_to_save',
  'layers_to_transform',
  'layers_pattern',
];

/** Parses and validates an IA3 config read from adapter_config.json. */
export function ia3ConfigFromJson(json: Record<string, unknown>, label: string): IA3Config {
  const f = new FieldReader(label, json);
  return ia3Config({
    ...readBaseFields(f),
    ...readTargetFields(f),
    feedforwardModules: namesField(f, 'feedforward_modules'),
    fanInFanOut: f.bool('fan_in_fan_out', false),
    initIa3Weights: f.bool('init_ia3_weights', true),
    modulesToSave: namesField(f, 'modules_to_save', false) as string[] | null,
  });
}

/** An IA3 config as PEFT writes it. */
export function ia3ConfigToJson(c: IA3Config): Record<string, unknown> {
  return sortedJson({
    ...baseFieldsJson(c),
    ...targetFieldsJson(c),
    fan_in_fan_out: c.fanInFanOut,
    feedforward_modules: namesJson(c.feedforwardModules),
    init_ia3_weights: c.initIa3Weights,
    modules_to_save: c.modulesToSave,
  });
}
