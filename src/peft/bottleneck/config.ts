/**
 * Bottleneck adapters (Houlsby et al. 2019; Pfeiffer et al. 2021), AdapterHub's `double_seq_bn`
 * (Houlsby: after attention and after the feed-forward block, SiLU) and `seq_bn` (Pfeiffer: after
 * the feed-forward block, ReLU), reduction factor 16. PEFT has no such method: tunekit saves them
 * in a PEFT-style folder with `peft_type` "BOTTLENECK" (fields below); AdapterHub's own layout
 * is written and read by adapterhub.ts (BERT, GPT-2, Llama family).
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
  /**
   * Where the adapters go; default per architecture and model family: BERT's sub-layer output
   * modules, decoders' `attention_adapters` / `output_adapters` residual hooks. A custom target on a
   * Linear puts the adapter on its output (original_ln_before false, residual_before_ln true only).
   */
  targetModules: string | string[] | null;
  seed: number;
  /**
   * AdapterHub's `original_ln_before`: the adapter reads the sub-layer output plus its residual
   * input (and, on BERT, the sub-layer's LayerNorm of that sum). Default (null): AdapterHub's,
   * true for Pfeiffer, false for Houlsby. Needs the default placement (see layer.ts).
   */
  originalLnBefore: boolean | null;
  /**
   * AdapterHub's `residual_before_ln`: where the adapter's own skip connection is taken. Other than
   * true it needs the default placement; "post_add" needs a layer norm (BERT only).
   */
  residualBeforeLn: boolean | 'post_add';
}

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
    originalLnBefore: null,
    residualBeforeLn: true,
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
  'original_ln_before',
  'residual_before_ln',
];

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
    originalLnBefore:
      f.has('original_ln_before') && json['original_ln_before'] !== null ? f.bool('original_ln_before', false) : null,
    residualBeforeLn: json['residual_before_ln'] === 'post_add' ? 'post_add' : f.bool('residual_before_ln', true),
  });
}

export function bottleneckConfigToJson(c: BottleneckConfig): Record<string, unknown> {
  return sortedJson({
    ...baseFieldsJson(c),
    architecture: c.architecture,
    non_linearity: c.nonLinearity,
    reduction_factor: c.reductionFactor,
    scaling: c.scaling,
    target_modules: c.targetModules,
    original_ln_before: c.originalLnBefore,
    residual_before_ln: c.residualBeforeLn,
  });
}
