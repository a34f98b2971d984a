/**
 * Bottleneck adapters as a method: placements per family (the sub-layers' output projections).
 */
import { Linear } from '../../nn/layers.js';
import type { Module } from '../../nn/module.js';
import type { PeftMethod } from '../method.js';
import { modelFamily, selectTargets } from '../tuner.js';
import {
  BOTTLENECK_FIELDS,
  bottleneckConfigFromJson,
  bottleneckConfigToJson,
  type BottleneckConfig,
} from './config.js';
import { BottleneckLayer } from './layer.js';

/** Output projections of the attention and feed-forward blocks by family (regexes on the module path). */
const LLAMA = {
  attention: '.*\\.layers\\.\\d+\\.self_attn\\.o_proj',
  feedforward: '.*\\.layers\\.\\d+\\.mlp\\.down_proj',
};
const PLACEMENTS: Record<string, { attention: string; feedforward: string }> = {
  llama: LLAMA,
  mistral: LLAMA,
  qwen2: LLAMA,
  qwen3: LLAMA,
  bert: {
    attention: '.*\\.layer\\.\\d+\\.attention\\.output\\.dense',
    feedforward: '.*\\.layer\\.\\d+\\.output\\.dense',
  },
  gpt2: { attention: '.*\\.h\\.\\d+\\.attn\\.c_proj', feedforward: '.*\\.h\\.\\d+\\.mlp\\.c_proj' },
};

/** The modules of a model that bottleneck adapters attach to. */
export function bottleneckTargets(model: Module, architecture: 'houlsby' | 'pfeiffer'): string {
  const family = modelFamily(model);
  const p = family ? PLACEMENTS[family] : undefined;
  if (!p) throw new Error(`BOTTLENECK: no placement for model family "${family}"; set target_modules`);
  return architecture === 'houlsby' ? `(${p.attention})|(${p.feedforward})` : p.feedforward;
}

/** The bottleneck-adapter method as the PEFT registry sees it. */
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
    };
  },
  add(host, config, name) {
    const hits = selectTargets(
      host.model,
      { targetModules: config.targetModules ?? bottleneckTargets(host.model, config.architecture) },
      'BOTTLENECK',
    );
    hits.forEach(([path, m], i) => {
      const opts = {
        reductionFactor: config.reductionFactor,
        act: config.nonLinearity ?? 'relu',
        scaling: config.scaling,
        seed: config.seed * 7919 + i,
      };
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
