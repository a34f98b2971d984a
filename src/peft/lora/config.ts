/**
 * LoRA configuration, with PEFT's field names in adapter_config.json (snake_case) and
 * camelCase here. Defaults are PEFT's (LoraConfig): r 8, lora_alpha 8, dropout 0, bias "none".
 */
import { FieldReader } from '../../io/json.js';
import {
  BASE_FIELDS,
  baseFieldsJson,
  TUNER_DEFAULTS,
  readTargetFields,
  namesField,
  patternField,
  readBaseFields,
  requireDefaults,
  sortedJson,
  type PeftConfigBase,
} from '../config.js';
import type { BiasMode, TargetSpec } from '../tuner.js';

/**
 * How A and B start. 'default' (JSON true): A kaiming-uniform(a=√5), B zero. 'gaussian':
 * A ~ N(0, 1/r), B zero. 'none' (JSON false): both random (not the identity). 'pissa' /
 * 'pissa_niter_N': the top-r singular directions of W go into A and B and W keeps the residual.
 */
export type LoraInit = 'default' | 'gaussian' | 'none' | 'pissa' | `pissa_niter_${number}`;

export interface LoraConfig extends PeftConfigBase, TargetSpec {
  peftType: 'LORA';
  /** Rank of the update (default 8). */
  r: number;
  /** Scaling numerator: scaling = alpha / r (or alpha / sqrt(r) with useRslora). Default 8. */
  loraAlpha: number;
  loraDropout: number;
  bias: BiasMode;
  /** True when the targets store W as [in, out] (GPT-2's Conv1D); the layer's own layout decides. */
  fanInFanOut: boolean;
  useRslora: boolean;
  /** DoRA: a learned magnitude per output row on top of the LoRA direction. */
  useDora: boolean;
  initLoraWeights: LoraInit;
  /** Per-module rank by PEFT's key rule (see tuner.patternValue). */
  rankPattern: Record<string, number>;
  alphaPattern: Record<string, number>;
  /** Modules trained in full and saved with the adapter (task heads). */
  modulesToSave: string[] | null;
  /** Seed for A's initialisation and dropout masks (not saved). */
  seed: number;
}

/** Default target modules by model family, as PEFT's TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING. */
export const DEFAULT_LORA_TARGETS: Record<string, string[]> = {
  llama: ['q_proj', 'v_proj'],
  mistral: ['q_proj', 'v_proj'],
  qwen2: ['q_proj', 'v_proj'],
  qwen3: ['q_proj', 'v_proj'],
  gemma: ['q_proj', 'v_proj'],
  gpt2: ['c_attn'],
  bert: ['query', 'value'],
  roberta: ['query', 'value'],
};

/** A full LoRA config from the fields given (PEFT's defaults for the rest), validated. */
/**
 * Largest rank accepted (PEFT sets none). Published LoRA ranks stay at or below a few thousand; the
 * bound stops a corrupt or hostile adapter_config.json from asking for gigabytes per layer.
 */
export const MAX_LORA_RANK = 65536;

export function loraConfig(partial: Partial<LoraConfig> = {}): LoraConfig {
  const c: LoraConfig = {
    ...TUNER_DEFAULTS,
    peftType: 'LORA',
    r: 8,
    loraAlpha: 8,
    loraDropout: 0,
    bias: 'none',
    fanInFanOut: false,
    useRslora: false,
    useDora: false,
    initLoraWeights: 'default',
    rankPattern: {},
    alphaPattern: {},
    modulesToSave: null,
    seed: 0,
    ...partial,
  };
  if (!Number.isInteger(c.r) || c.r <= 0 || c.r > MAX_LORA_RANK)
    throw new Error(`LoRA: r must be an integer in [1, ${MAX_LORA_RANK}], got ${c.r}`);
  if (!(c.loraDropout >= 0 && c.loraDropout < 1))
    throw new Error(`LoRA: lora_dropout must be in [0, 1), got ${c.loraDropout}`);
  if (Array.isArray(c.targetModules) && c.targetModules.length === 0) throw new Error('LoRA: target_modules is empty');
  if (!['none', 'all', 'lora_only'].includes(c.bias))
    throw new Error(`LoRA: bias must be "none", "all" or "lora_only", got ${JSON.stringify(c.bias)}`);
  if (!/^(default|gaussian|none|pissa|pissa_niter_\d+)$/.test(c.initLoraWeights))
    throw new Error(`LoRA: init_lora_weights ${JSON.stringify(c.initLoraWeights)} is not supported`);
  return c;
}

/** scaling = alpha / r, or alpha / sqrt(r) for rank-stabilised LoRA. */
export function loraScaling(c: Pick<LoraConfig, 'r' | 'loraAlpha' | 'useRslora'>): number {
  return c.useRslora ? c.loraAlpha / Math.sqrt(c.r) : c.loraAlpha / c.r;
}

/** LoraConfig fields this project implements; others are either PEFT's defaults or warned about. */
const LORA_FIELDS = [
  'r',
  'lora_alpha',
  'lora_dropout',
  'target_modules',
  'exclude_modules',
  'layers_to_transform',
  'layers_pattern',
  'bias',
  'fan_in_fan_out',
  'use_rslora',
  'use_dora',
  'init_lora_weights',
  'rank_pattern',
  'alpha_pattern',
  'modules_to_save',
];

/** PEFT fields accepted only at their default (anything else changes behaviour not implemented here). */
const LORA_DEFAULT_ONLY: Record<string, unknown> = {
  lora_bias: false,
  use_qalora: false,
  layer_replication: null,
  loftq_config: {},
  megatron_config: null,
  target_parameters: null,
  trainable_token_indices: null,
  eva_config: null,
  corda_config: null,
  alora_invocation_tokens: null,
  arrow_config: null,
};

/** Fields PEFT writes that do not affect the model here (runtime or bookkeeping). */
const LORA_IGNORED = [
  'megatron_core',
  'runtime_config',
  'qalora_group_size',
  'ensure_weight_tying',
  'lora_ga_config',
  'use_bdlora',
];

export const LORA_KNOWN_FIELDS: readonly string[] = [
  ...BASE_FIELDS,
  ...LORA_FIELDS,
  ...Object.keys(LORA_DEFAULT_ONLY),
  ...LORA_IGNORED,
];

/** Parse a LoRA adapter_config.json (strict: wrong types name the file and field). */
export function loraConfigFromJson(json: Record<string, unknown>, label: string): LoraConfig {
  const f = new FieldReader(label, json);
  requireDefaults(f, LORA_DEFAULT_ONLY);
  let init: LoraInit = 'default';
  if (f.has('init_lora_weights')) {
    const v = json.init_lora_weights;
    if (v === true) init = 'default';
    else if (v === false) init = 'none';
    else if (typeof v === 'string' && /^(gaussian|pissa|pissa_niter_\d+)$/.test(v)) init = v as LoraInit;
    else f.fail('init_lora_weights', 'true, false, "gaussian", "pissa" or "pissa_niter_<n>"');
  }
  return loraConfig({
    ...readBaseFields(f),
    r: f.int('r', 8),
    loraAlpha: f.num('lora_alpha', 8),
    loraDropout: f.num('lora_dropout', 0),
    ...readTargetFields(f),
    bias: f.oneOf('bias', ['none', 'all', 'lora_only'] as const, 'none'),
    fanInFanOut: f.bool('fan_in_fan_out', false),
    useRslora: f.bool('use_rslora', false),
    useDora: f.bool('use_dora', false),
    initLoraWeights: init,
    rankPattern: patternField(f, 'rank_pattern', true),
    alphaPattern: patternField(f, 'alpha_pattern', false),
    modulesToSave: namesField(f, 'modules_to_save', false) as string[] | null,
  });
}

/** adapter_config.json for a LoRA config (sorted keys, PEFT's field set). */
export function loraConfigToJson(c: LoraConfig): Record<string, unknown> {
  const init = c.initLoraWeights === 'default' ? true : c.initLoraWeights === 'none' ? false : c.initLoraWeights;
  return sortedJson({
    ...baseFieldsJson(c),
    alpha_pattern: c.alphaPattern,
    bias: c.bias,
    exclude_modules: c.excludeModules ?? null,
    fan_in_fan_out: c.fanInFanOut,
    init_lora_weights: init,
    layers_pattern: c.layersPattern ?? null,
    layers_to_transform: c.layersToTransform ?? null,
    lora_alpha: c.loraAlpha,
    lora_bias: false,
    lora_dropout: c.loraDropout,
    modules_to_save: c.modulesToSave,
    r: c.r,
    rank_pattern: c.rankPattern,
    target_modules:
      typeof c.targetModules === 'string' || c.targetModules === null ? c.targetModules : [...c.targetModules].sort(),
    use_dora: c.useDora,
    use_rslora: c.useRslora,
  });
}
