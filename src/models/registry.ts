/**
 * Which class serves each causal-LM family of config.json: one line per architecture, read by
 * AutoModelForCausalLM (fromPretrained and fromConfig). Config parsing itself still lives in
 * io/hf-config.ts (parseModelConfig), which gives `family`.
 */
import type { ModelConfig } from '../io/hf-config.js';
import { GPT2LMHeadModel } from './gpt2.js';
import { LlamaForCausalLM } from './llama.js';
import type { WeightDtype } from './weights.js';

export type AutoCausalLM = LlamaForCausalLM | GPT2LMHeadModel;

/** Families of decoder-only language models (every family but the encoders). */
export type CausalLMFamily = Exclude<ModelConfig['family'], 'bert'>;

/** How to load a folder of one family, and how to build it with random weights. */
export interface CausalLMEntry<F extends CausalLMFamily> {
  fromPretrained(dir: string, opts: { dtype: WeightDtype }): AutoCausalLM;
  create(
    config: Extract<ModelConfig, { family: F }>,
    opts: { seed: number; configJson: Record<string, unknown> },
  ): AutoCausalLM;
}

const llama = <F extends 'llama' | 'mistral' | 'qwen2' | 'qwen3'>(): CausalLMEntry<F> => ({
  fromPretrained: (dir, opts) => LlamaForCausalLM.fromPretrained(dir, opts),
  create: (config, opts) => new LlamaForCausalLM(config, opts),
});

export const CAUSAL_LMS: { [F in CausalLMFamily]: CausalLMEntry<F> } = {
  llama: llama(),
  mistral: llama(),
  qwen2: llama(),
  qwen3: llama(),
  gpt2: {
    fromPretrained: (dir, opts) => GPT2LMHeadModel.fromPretrained(dir, opts),
    create: (config, opts) => new GPT2LMHeadModel(config, opts),
  },
};

/** The registry entry of a parsed decoder config (the family picks it; the config type follows). */
export function causalLMEntry(config: Extract<ModelConfig, { family: CausalLMFamily }>): CausalLMEntry<CausalLMFamily> {
  // TypeScript cannot correlate the indexed entry with the config's own family; the map's type does.
  return CAUSAL_LMS[config.family] as CausalLMEntry<CausalLMFamily>;
}
