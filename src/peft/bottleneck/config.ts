/**
 * Bottleneck adapters (Houlsby et al. 2019; Pfeiffer et al. 2021), AdapterHub's `double_seq_bn`
 * (Houlsby: after attention and after the feed-forward block, SiLU) and `seq_bn` (Pfeiffer: after
 * the feed-forward block, ReLU), reduction factor 16. PEFT has no such method: tunekit saves them
 * in a PEFT-style folder with `peft_type` "BOTTLENECK" (fields below); AdapterHub's own layout is
 * not written or read yet.
 */
import { FieldReader } from '../../io/json.js';
import { BASE_FIELDS, baseFieldsJson, namesField, readBaseFields, sortedJson, type PeftConfigBase } from '../config.js';

export interface BottleneckConfig extends PeftConfigBase {
  peftType: 'BOTTLENECK';
  /** "houlsby": adapters after the attention and the feed-forward output projections; "pfeiffer": feed-forward only. */
  architecture: 'houlsby' | 'pfeiffer';
  reductionFactor: number;
  /** Default: "swish" (SiLU) for Houlsby, "relu" for Pfeiffer, as AdapterHub. */
  nonLinearity: 'relu' | 'swish' | 'gelu' | 'tanh' | null;
  scaling: number;
  /** Regex of the output projections; default per architecture and model family. */
  targetModules: string | string[] | null;
  seed: number;
}

/** A bottleneck-adapter config with defaults filled in. */
export function bottleneckConfig(partial: Partial<BottleneckConfig> = {}): BottleneckConfig {
  const c: BottleneckConfig = {
    peftType: 'BOTTLENECK',
    taskType: 'CAUSAL_LM',
    baseModelNameOrPath: null,
    revision: null,
    inferenceMode: false,
    architecture: 'pfeiffer',
    reductionFactor: 16,
    nonLinearity: null,
    scaling: 1,
    targetModules: null,
    seed: 0,
    ...partial,
  };
  if (!(c.reductionFactor > 0))
    throw new Error(`BOTTLENECK: reduction_factor must be positive, got ${c.reductionFactor}`);
  return c;
}

export const BOTTLENECK_FIELDS = [
  ...BASE_FIELDS,
  'architecture',
  'reduction_factor',
  'non_linearity',
  'scaling',
  'target_modules',
];

/** Parses and validates a bottleneck-adapter config read from a file. */
export function bottleneckConfigFromJson(json: Record<string, unknown>, label: string): BottleneckConfig {
  const f = new FieldReader(label, json);
  return bottleneckConfig({
    ...readBaseFields(f),
    architecture: f.oneOf('architecture', ['houlsby', 'pfeiffer'] as const, 'pfeiffer'),
    reductionFactor: f.num('reduction_factor', 16, true),
    nonLinearity: f.has('non_linearity')
      ? f.oneOf('non_linearity', ['relu', 'swish', 'gelu', 'tanh'] as const, 'relu')
      : null,
    scaling: f.num('scaling', 1),
    targetModules: namesField(f, 'target_modules'),
  });
}

/** A bottleneck-adapter config as it is written to adapter_config.json. */
export function bottleneckConfigToJson(c: BottleneckConfig): Record<string, unknown> {
  return sortedJson({
    ...baseFieldsJson(c),
    architecture: c.architecture,
    non_linearity: c.nonLinearity,
    reduction_factor: c.reductionFactor,
    scaling: c.scaling,
    target_modules: c.targetModules,
  });
}
