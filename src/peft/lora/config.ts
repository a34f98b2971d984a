/**
 * LoRA configuration, with PEFT's field names in adapter_config.json (snake_case) and
 * camelCase here. Defaults are PEFT's (LoraConfig): r 8, lora_alpha 8, dropout 0.
 */
export interface LoraConfig {
  /** Rank of the update (default 8). */
  r: number;
  /** Scaling numerator: scaling = alpha / r (or alpha / sqrt(r) with useRslora). Default 8. */
  loraAlpha: number;
  loraDropout: number;
  /** Module names to wrap: exact dotted path, or the last path component(s) (PEFT's list rule). */
  targetModules: string[];
  useRslora: boolean;
  /** 'default' (PEFT's): A kaiming-uniform(a=√5), B zero. 'gaussian': A ~ N(0, 1/r), B zero. */
  initLoraWeights: 'default' | 'gaussian';
  /** Seed for A's initialisation and dropout masks. */
  seed: number;
}

/** Default target modules by model family, as PEFT's TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING. */
export const DEFAULT_LORA_TARGETS: Record<string, string[]> = {
  llama: ['q_proj', 'v_proj'], mistral: ['q_proj', 'v_proj'], qwen2: ['q_proj', 'v_proj'], qwen3: ['q_proj', 'v_proj'],
  gpt2: ['c_attn'], bert: ['query', 'value'],
};

export function loraConfig(partial: Partial<LoraConfig> & { targetModules: string[] }): LoraConfig {
  const c: LoraConfig = { r: 8, loraAlpha: 8, loraDropout: 0, useRslora: false, initLoraWeights: 'default', seed: 0, ...partial };
  if (!Number.isInteger(c.r) || c.r <= 0) throw new Error(`LoRA: r must be a positive integer, got ${c.r}`);
  if (!(c.loraDropout >= 0 && c.loraDropout < 1)) throw new Error(`LoRA: lora_dropout must be in [0, 1), got ${c.loraDropout}`);
  if (c.targetModules.length === 0) throw new Error('LoRA: target_modules is empty');
  return c;
}

/** scaling = alpha / r, or alpha / sqrt(r) for rank-stabilised LoRA. */
export function loraScaling(c: Pick<LoraConfig, 'r' | 'loraAlpha' | 'useRslora'>): number {
  return c.useRslora ? c.loraAlpha / Math.sqrt(c.r) : c.loraAlpha / c.r;
}
