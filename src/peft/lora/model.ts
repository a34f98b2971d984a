/**
 * LoRA as a PEFT method: which layers get an update (through the shared tuner), with which rank
 * and alpha (rank_pattern / alpha_pattern), and how it is saved (PEFT's keys).
 */
import { Embedding, Linear } from '../../nn/layers.js';
import type { Module } from '../../nn/module.js';
import type { PeftMethod } from '../method.js';
import {
  ALL_LINEAR,
  addModulesToSave,
  defaultTargets,
  expandAllLinear,
  markOnlyAdapterTrainable,
  patternValue,
  saveWrappers,
  selectTargets,
  tunerLayers,
} from '../tuner.js';
import {
  DEFAULT_LORA_TARGETS,
  MAX_LORA_RANK,
  LORA_KNOWN_FIELDS,
  loraConfig,
  loraConfigFromJson,
  loraConfigToJson,
  type LoraConfig,
} from './config.js';
import { LoRAEmbedding, LoRALinear } from './layer.js';

/** Heads PEFT adds to modules_to_save for each task type. */
export const TASK_HEADS: Record<string, string[]> = {
  SEQ_CLS: ['classifier', 'score'],
  TOKEN_CLS: ['classifier', 'score'],
  QUESTION_ANS: ['qa_outputs'],
};

/** modules_to_save with the task's heads added (PEFT does this for SEQ_CLS / TOKEN_CLS / QUESTION_ANS). */
export function withTaskHeads(
  names: readonly string[] | null,
  taskType: string | null,
): { names: string[] | null; optional: string[] } {
  const heads = taskType ? (TASK_HEADS[taskType] ?? []) : [];
  if (!heads.length) return { names: names ? [...names] : null, optional: [] };
  return { names: [...new Set([...(names ?? []), ...heads])], optional: heads };
}

/**
 * Wrap every module of `model` that `config` targets in a LoRA layer and add adapter `name`.
 * Linear and Embedding layers are supported; anything else, or an output head whose weight the
 * model reads directly (lm_head), is an error naming the path. Returns the wrapped paths.
 */
export function injectLora(
  model: Module,
  config: LoraConfig,
  name: string,
  opts: { forLoading?: boolean } = {},
): string[] {
  const targets = config.targetModules ?? defaultTargets(model, DEFAULT_LORA_TARGETS, 'LoRA');
  const hits = selectTargets(model, { ...config, targetModules: targets }, 'LoRA', {
    modulesToSave: config.modulesToSave,
  });
  const init = opts.forLoading && config.initLoraWeights.startsWith('pissa') ? 'default' : config.initLoraWeights;
  hits.forEach(([path, m], i) => {
    const r = patternValue(path, config.rankPattern, config.r);
    if (r > MAX_LORA_RANK)
      throw new Error(`LoRA: rank_pattern gives "${path}" rank ${r}, above the largest accepted rank ${MAX_LORA_RANK}`);
    const loraAlpha = patternValue(path, config.alphaPattern, config.loraAlpha);
    const layerOpts = {
      r,
      loraAlpha,
      useRslora: config.useRslora,
      loraDropout: config.loraDropout,
      initLoraWeights: init,
      useDora: config.useDora,
      seed: config.seed * 7919 + i,
    };
    if (/(^|\.)lm_head$/.test(path))
      throw new Error(
        `LoRA: target "${path}" is the output head, which the model multiplies by its weight directly; LoRA on lm_head is not supported`,
      );
    if (m instanceof LoRALinear || m instanceof LoRAEmbedding) {
      m.addAdapter(name, layerOpts);
      return;
    }
    if (m instanceof Linear) {
      const layer = new LoRALinear(m, config.seed + i);
      layer.addAdapter(name, layerOpts);
      model.setModule(path, layer);
    } else if (m instanceof Embedding) {
      const layer = new LoRAEmbedding(m);
      layer.addAdapter(name, layerOpts);
      model.setModule(path, layer);
    } else {
      throw new Error(
        `LoRA: target "${path}" is a ${m.constructor.name}; LoRA supports Linear (incl. GPT-2 Conv1D) and Embedding layers`,
      );
    }
  });
  const { names, optional } = withTaskHeads(config.modulesToSave, config.taskType);
  if (names?.length) addModulesToSave(model, names, name, { optional });
  return hits.map(([p]) => p);
}

/** The LoRA method (PEFT layout) for getPeftModel and adapter folders. */
export const LORA: PeftMethod<LoraConfig> = {
  peftType: 'LORA',
  prefix: 'lora_',
  knownFields: LORA_KNOWN_FIELDS,
  fromJson: loraConfigFromJson,
  toJson: loraConfigToJson,
  resolve(config, model) {
    // Record what "all-linear" and null targets meant, as PEFT saves the resolved list.
    let targetModules = config.targetModules;
    if (targetModules === ALL_LINEAR) targetModules = expandAllLinear(model, config.modulesToSave);
    if (targetModules === null) targetModules = defaultTargets(model, DEFAULT_LORA_TARGETS, 'LoRA');
    const fanInFanOut =
      config.fanInFanOut ||
      selectTargets(model, { ...config, targetModules }, 'LoRA').some(([, m]) => m instanceof Linear && m.weightInOut);
    const { names } = withTaskHeads(config.modulesToSave, config.taskType);
    return { ...config, targetModules, fanInFanOut, modulesToSave: names };
  },
  add(host, config, name, opts) {
    injectLora(host.model, config, name, opts);
  },
  bias: (c) => c.bias,
};

/**
 * LoRA on `model` in place without a PeftModel (MLX-LM's style): wrap the targets with adapter
 * "default", freeze everything else. Returns the wrapped paths. Use getPeftModel for saving,
 * several adapters and the rest of PEFT's API.
 */
export function applyLora(model: Module, config: Partial<LoraConfig>): string[] {
  const c = loraConfig(config);
  const paths = injectLora(model, c, 'default');
  for (const [, layer] of tunerLayers(model)) layer.setActive(['default']);
  for (const [, w] of saveWrappers(model)) w.activeAdapter = 'default';
  markOnlyAdapterTrainable(model, 'lora_', 'default', c.bias);
  return paths;
}
