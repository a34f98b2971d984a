/**
 * Mixture of LoRA experts as a method: targets through the shared tuner (LoRA's defaults),
 * experts per target, and the balancing loss offered to the trainer through PeftModel.extraLoss().
 */
import { Linear } from '../../nn/layers.js';
import type { Module } from '../../nn/module.js';
import * as F from '../../tensor/ops.js';
import type { Tensor } from '../../tensor/tensor.js';
import { DEFAULT_LORA_TARGETS, loraScaling } from '../lora/config.js';
import { withTaskHeads } from '../lora/model.js';
import type { PeftMethod } from '../method.js';
import { addModulesToSave, defaultTargets, selectTargets, tunerLayers } from '../tuner.js';
import { MOE_LORA_FIELDS, moeLoraConfigFromJson, moeLoraConfigToJson, type MoeLoraConfig } from './config.js';
import { MoeLoraLinear, loadBalancingLoss } from './layer.js';

/** Wraps the targeted layers of a model in mixture-of-LoRA-experts layers; returns the wrapped paths. */
export function injectMoeLora(model: Module, config: MoeLoraConfig, name: string): string[] {
  const targets = config.targetModules ?? defaultTargets(model, DEFAULT_LORA_TARGETS, 'MOE_LORA');
  const hits = selectTargets(model, { ...config, targetModules: targets }, 'MOE_LORA', {
    modulesToSave: config.modulesToSave,
  });
  const scaling = loraScaling(config);
  hits.forEach(([path, m], i) => {
    if (/(^|\.)lm_head$/.test(path)) throw new Error(`MOE_LORA: target "${path}" is the output head; not supported`);
    const opts = {
      r: config.r,
      numExperts: config.numExperts,
      topK: config.topK,
      scaling,
      dropout: config.loraDropout,
      seed: config.seed * 7919 + i,
    };
    if (m instanceof MoeLoraLinear) return m.addAdapter(name, opts);
    if (!(m instanceof Linear))
      throw new Error(`MOE_LORA: target "${path}" is a ${m.constructor.name}; experts need Linear layers`);
    const layer = new MoeLoraLinear(m, i);
    layer.addAdapter(name, opts);
    model.setModule(path, layer);
  });
  const { names, optional } = withTaskHeads(config.modulesToSave, config.taskType);
  if (names?.length) addModulesToSave(model, names, name, { optional });
  return hits.map(([p]) => p);
}

/** The mixture-of-LoRA-experts method as the PEFT registry sees it. */
export const MOE_LORA: PeftMethod<MoeLoraConfig> = {
  peftType: 'MOE_LORA',
  prefix: 'moe_',
  knownFields: MOE_LORA_FIELDS,
  fromJson: moeLoraConfigFromJson,
  toJson: moeLoraConfigToJson,
  resolve(config, model) {
    const { names } = withTaskHeads(config.modulesToSave, config.taskType);
    return {
      ...config,
      targetModules: config.targetModules ?? defaultTargets(model, DEFAULT_LORA_TARGETS, 'MOE_LORA'),
      modulesToSave: names,
    };
  },
  add(host, config, name) {
    injectMoeLora(host.model, config, name);
    // The trainer adds coef · mean over layers of the balancing loss of the last forward.
    host.auxLosses.set(name, () => {
      const losses: Tensor[] = [];
      for (const [, layer] of tunerLayers(host.model)) {
        const probs = layer instanceof MoeLoraLinear ? layer.moe_lora.get(name)?.lastProbs : null;
        if (probs) losses.push(loadBalancingLoss(probs));
      }
      if (!losses.length || config.routerAuxLossCoef === 0) return null;
      return F.scale(
        losses.reduce((a, b) => F.add(a, b)),
        config.routerAuxLossCoef / losses.length,
      );
    });
  },
};
