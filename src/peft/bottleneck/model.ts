/**
 * Bottleneck adapters as a method: placements per family (the sub-layers' output projections).
 */
import { Linear } from '../../nn/layers.js';
import type { Module } from '../../nn/module.js';
import { ResidualAdd } from '../../models/residual.js';
import type { PeftMethod } from '../method.js';
import { modelFamily, selectTargets } from '../tuner.js';
import {
  BOTTLENECK_FIELDS,
  bottleneckConfigFromJson,
  bottleneckConfigToJson,
  type BottleneckConfig,
} from './config.js';
import { BottleneckBlockLayer, BottleneckLayer, DecoderBottleneckLayer, isResidualOutputModule } from './layer.js';

/**
 * Where the adapters go by family (regexes on the module path). Decoders: the residual adds that
 * close each sub-layer (models/residual.ts), AdapterHub's `attention_adapters` / `output_adapters`.
 */
const LLAMA = {
  attention: '.*\\.layers\\.\\d+\\.attention_adapters',
  feedforward: '.*\\.layers\\.\\d+\\.output_adapters',
};
const PLACEMENTS: Record<string, { attention: string; feedforward: string }> = {
  llama: LLAMA,
  mistral: LLAMA,
  qwen2: LLAMA,
  qwen3: LLAMA,
  // BERT: the whole sub-layer output module (dense, dropout, LayerNorm), as AdapterHub hooks it.
  bert: { attention: '.*\\.layer\\.\\d+\\.attention\\.output', feedforward: '.*\\.layer\\.\\d+\\.output' },
  gpt2: { attention: '.*\\.h\\.\\d+\\.attention_adapters', feedforward: '.*\\.h\\.\\d+\\.output_adapters' },
};

/** The default placement of a Houlsby or Pfeiffer adapter on this model (a regex over module paths). */
export function bottleneckTargets(model: Module, architecture: 'houlsby' | 'pfeiffer'): string {
  const family = modelFamily(model);
  const p = family ? PLACEMENTS[family] : undefined;
  if (!p) throw new Error(`BOTTLENECK: no placement for model family "${family}"; set target_modules`);
  return architecture === 'houlsby' ? `(${p.attention})|(${p.feedforward})` : p.feedforward;
}

/** The bottleneck-adapter method (AdapterHub layout) for getPeftModel and adapter folders. */
export const BOTTLENECK: PeftMethod<BottleneckConfig> = {
  peftType: 'BOTTLENECK',
  prefix: 'adapters',
  knownFields: BOTTLENECK_FIELDS,
  fromJson: bottleneckConfigFromJson,
  toJson: bottleneckConfigToJson,
  resolve(config, model) {
    return {
      ...config,
      targetModules: config.targetModules ?? bottleneckTargets(model, config.architecture),
      nonLinearity: config.nonLinearity ?? (config.architecture === 'houlsby' ? 'swish' : 'relu'),
      originalLnBefore: config.originalLnBefore ?? config.architecture === 'pfeiffer',
    };
  },
  add(host, config, name) {
    const hits = selectTargets(
      host.model,
      { targetModules: config.targetModules ?? bottleneckTargets(host.model, config.architecture) },
      'BOTTLENECK',
    );
    const originalLnBefore = config.originalLnBefore ?? config.architecture === 'pfeiffer';
    hits.forEach(([path, m], i) => {
      const opts = {
        reductionFactor: config.reductionFactor,
        act: config.nonLinearity ?? 'relu',
        scaling: config.scaling,
        seed: config.seed * 7919 + i,
      };
      const block = { ...opts, originalLnBefore, residualBeforeLn: config.residualBeforeLn };
      if (m instanceof BottleneckBlockLayer) return m.addAdapter(name, block);
      if (m instanceof DecoderBottleneckLayer) return m.addAdapter(name, block);
      if (m instanceof ResidualAdd) {
        const hidden = (host.model as unknown as { config?: { hiddenSize?: unknown } }).config?.hiddenSize;
        if (typeof hidden !== 'number') throw new Error(`BOTTLENECK: the model has no config.hiddenSize for "${path}"`);
        const layer = new DecoderBottleneckLayer(m, hidden);
        layer.addAdapter(name, block);
        host.model.setModule(path, layer);
        return;
      }
      if (isResidualOutputModule(m)) {
        const layer = new BottleneckBlockLayer(m);
        layer.addAdapter(name, block);
        host.model.setModule(path, layer);
        return;
      }
      // A custom target on a bare Linear (e.g. an output projection): the adapter sees h alone,
      // AdapterHub's original_ln_before = false with the skip taken at h (residual_before_ln = true).
      // Anything else needs the residual input, which only the default placements see.
      if (originalLnBefore) {
        throw new Error(
          `BOTTLENECK: original_ln_before = true (AdapterHub's Pfeiffer input, sub-layer output + residual) needs the default placement (target_modules null), not the Linear "${path}"; set original_ln_before: false to put the adapter on this Linear's output`,
        );
      }
      if (config.residualBeforeLn !== true)
        throw new Error(
          `BOTTLENECK: residual_before_ln = ${JSON.stringify(config.residualBeforeLn)} needs the default placement (target_modules null), not the Linear "${path}"`,
        );
      if (m instanceof BottleneckLayer) return m.addAdapter(name, opts);
      if (!(m instanceof Linear))
        throw new Error(
          `BOTTLENECK: target "${path}" is a ${m.constructor.name}; adapters wrap output projections (Linear)`,
        );
      const layer = new BottleneckLayer(m);
      layer.addAdapter(name, opts);
      host.model.setModule(path, layer);
    });
  },
};
