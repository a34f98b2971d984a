/**
 * IA3 as a PEFT method: targets and feed-forward placement (PEFT's per-architecture defaults and
 * its suffix rule), injection through the shared tuner, PEFT's keys (`...k_proj.ia3_l`).
 */
import { Linear } from '../../nn/layers.js';
import type { Module } from '../../nn/module.js';
import type { PeftMethod } from '../method.js';
import { withTaskHeads } from '../lora/model.js';
import { addModulesToSave, defaultTargets, fullMatch, selectTargets } from '../tuner.js';
import {
  DEFAULT_IA3_FEEDFORWARD,
  DEFAULT_IA3_TARGETS,
  IA3_KNOWN_FIELDS,
  ia3ConfigFromJson,
  ia3ConfigToJson,
  type IA3Config,
} from './config.js';
import { IA3Linear } from './layer.js';

/** PEFT's feed-forward test: a regex string fully matched, or the path ends with an entry (no dot required). */
export function isFeedforward(path: string, ff: string | readonly string[] | null): boolean {
  if (ff === null) return false;
  if (typeof ff === 'string') return fullMatch(ff, path);
  return ff.some((f) => path.endsWith(f));
}

/** Wraps the targeted layers of a model in IA3 layers and adds the adapter; returns the wrapped paths. */
export function injectIA3(model: Module, config: IA3Config, name: string): string[] {
  const targets = config.targetModules ?? defaultTargets(model, DEFAULT_IA3_TARGETS, 'IA3');
  const ff =
    config.feedforwardModules ??
    (config.targetModules === null ? defaultTargets(model, DEFAULT_IA3_FEEDFORWARD, 'IA3') : null);
  const hits = selectTargets(model, { ...config, targetModules: targets }, 'IA3', {
    modulesToSave: config.modulesToSave,
  });
  hits.forEach(([path, m], i) => {
    if (/(^|\.)lm_head$/.test(path))
      throw new Error(
        `IA3: target "${path}" is the output head, which the model multiplies by its weight directly; IA3 on lm_head is not supported`,
      );
    const feed = isFeedforward(path, ff);
    if (m instanceof IA3Linear) {
      if (m.isFeedforward !== feed)
        throw new Error(`IA3: "${path}" already has an adapter with the other feed-forward placement`);
      m.addAdapter(name, { init: config.initIa3Weights, seed: i });
      return;
    }
    if (!(m instanceof Linear))
      throw new Error(
        `IA3: target "${path}" is a ${m.constructor.name}; IA3 supports Linear layers (incl. GPT-2 Conv1D)`,
      );
    const layer = new IA3Linear(m, feed);
    layer.addAdapter(name, { init: config.initIa3Weights, seed: i });
    model.setModule(path, layer);
  });
  const { names, optional } = withTaskHeads(config.modulesToSave, config.taskType);
  if (names?.length) addModulesToSave(model, names, name, { optional });
  return hits.map(([p]) => p);
}

/** The IA3 method as the PEFT registry sees it. */
export const IA3: PeftMethod<IA3Config> = {
  peftType: 'IA3',
  prefix: 'ia3_',
  knownFields: IA3_KNOWN_FIELDS,
  fromJson: ia3ConfigFromJson,
  toJson: ia3ConfigToJson,
  resolve(config, model) {
    const defaults = config.targetModules === null;
    const targetModules = config.targetModules ?? defaultTargets(model, DEFAULT_IA3_TARGETS, 'IA3');
    const feedforwardModules =
      config.feedforwardModules ?? (defaults ? defaultTargets(model, DEFAULT_IA3_FEEDFORWARD, 'IA3') : null);
    const fanInFanOut =
      config.fanInFanOut ||
      selectTargets(model, { ...config, targetModules }, 'IA3').some(([, m]) => m instanceof Linear && m.weightInOut);
    const { names } = withTaskHeads(config.modulesToSave, config.taskType);
    return { ...config, targetModules, feedforwardModules, fanInFanOut, modulesToSave: names };
  },
  add(host, config, name) {
    injectIA3(host.model, config, name);
  },
};
