/**
 * Mixture of LoRA experts (tunekit's own method; PEFT has none, so `peft_type` is "MOE_LORA"):
 * several LoRA experts per target and a learned router, as in MoLoRA / LoRAMoE (a remedy for
 * catastrophic forgetting: experts specialise, the router keeps old behaviour reachable).
 *
 * adapter_config.json: PEFT's base fields plus r, lora_alpha, lora_dropout, target_modules,
 * exclude_modules, layers_to_transform, layers_pattern, modules_to_save, use_rslora, and
 * `num_experts` (default 4), `top_k` (null: soft routing over all experts; k: the k best, renormalised),
 * `router_aux_loss_coef` (default 0.01, weight of the load-balancing loss).
 * adapter_model.safetensors, per target `<path>` (no adapter name, PEFT's convention):
 *   base_model.model.<path>.moe_lora.router.weight        [num_experts, in]
 *   base_model.model.<path>.moe_lora.experts_A.<e>.weight [r, in]
 *   base_model.model.<path>.moe_lora.experts_B.<e>.weight [out, r]
 */
import { FieldReader } from '../../io/json.js';
import {
  BASE_FIELDS,
  baseFieldsJson,
  TUNER_DEFAULTS,
  readTargetFields,
  targetFieldsJson,
  namesField,
  readBaseFields,
  sortedJson,
  type PeftConfigBase,
} from '../config.js';
import type { TargetSpec } from '../tuner.js';

export interface MoeLoraConfig extends PeftConfigBase, TargetSpec {
  peftType: 'MOE_LORA';
  r: number;
  loraAlpha: number;
  loraDropout: number;
  useRslora: boolean;
  numExperts: number;
  /** null: soft routing (every expert, softmax weights); k: only the k highest-scoring experts. */
  topK: number | null;
  routerAuxLossCoef: number;
  modulesToSave: string[] | null;
  seed: number;
}

/** A mixture-of-LoRA-experts config with defaults filled in. */
export function moeLoraConfig(partial: Partial<MoeLoraConfig> = {}): MoeLoraConfig {
  const c: MoeLoraConfig = {
    ...TUNER_DEFAULTS,
    peftType: 'MOE_LORA',
    r: 8,
    loraAlpha: 8,
    loraDropout: 0,
    useRslora: false,
    numExperts: 4,
    topK: null,
    routerAuxLossCoef: 0.01,
    modulesToSave: null,
    seed: 0,
    ...partial,
  };
  if (!Number.isSafeInteger(c.r) || c.r < 1) throw new Error(`MOE_LORA: r must be a positive integer, got ${c.r}`);
  if (!Number.isSafeInteger(c.numExperts) || c.numExperts < 2)
    throw new Error(`MOE_LORA: num_experts must be an integer >= 2, got ${c.numExperts}`);
  if (c.topK !== null && (!Number.isSafeInteger(c.topK) || c.topK < 1 || c.topK > c.numExperts))
    throw new Error(`MOE_LORA: top_k must be null or an integer in [1, num_experts], got ${c.topK}`);
  if (!(c.loraDropout >= 0 && c.loraDropout < 1))
    throw new Error(`MOE_LORA: lora_dropout must be in [0, 1), got ${c.loraDropout}`);
  return c;
}

export const MOE_LORA_FIELDS: readonly string[] = [
  ...BASE_FIELDS,
  'r',
  'lora_alpha',
  'lora_dropout',
  'use_rslora',
  'target_modules',
  'exclude_modules',
  'layers_to_transform',
  'layers_pattern',
  'modules_to_save',
  'num_experts',
  'top_k',
  'router_aux_loss_coef',
];

/** Parses and validates a mixture-of-LoRA-experts config read from a file. */
export function moeLoraConfigFromJson(json: Record<string, unknown>, label: string): MoeLoraConfig {
  const f = new FieldReader(label, json);
  return moeLoraConfig({
    ...readBaseFields(f),
    r: f.int('r', 8),
    loraAlpha: f.num('lora_alpha', 8),
    loraDropout: f.num('lora_dropout', 0),
    useRslora: f.bool('use_rslora', false),
    ...readTargetFields(f),
    modulesToSave: namesField(f, 'modules_to_save', false) as string[] | null,
    numExperts: f.int('num_experts', 4),
    topK: f.optInt('top_k', 1),
    routerAuxLossCoef: f.num('router_aux_loss_coef', 0.01),
  });
}

/** A mixture-of-LoRA-experts config as it is written to adapter_config.json. */
export function moeLoraConfigToJson(c: MoeLoraConfig): Record<string, unknown> {
  return sortedJson({
    ...baseFieldsJson(c),
    ...targetFieldsJson(c),
    lora_alpha: c.loraAlpha,
    lora_dropout: c.loraDropout,
    modules_to_save: c.modulesToSave,
    num_experts: c.numExperts,
    r: c.r,
    router_aux_loss_coef: c.routerAuxLossCoef,
    top_k: c.topK,
    use_rslora: c.useRslora,
  });
}
