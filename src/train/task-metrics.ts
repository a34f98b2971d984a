/**
 * Task metrics with their per-item evidence ({@link EvalMetrics}), so `TrainingArgs.bootstrapSamples`
 * puts a confidence interval on each: registry metrics over predictions and references, and the
 * question-answering evaluation in that form (NER: tokenClassificationEvalMetrics in
 * token-classification.ts). Values equal the plain helpers' (predictClassification +
 * computeMetric, evaluateQa).
 */
import { computeMetrics, type MetricInputs, type MetricOptions } from '../metrics/registry.js';
import { evaluateQa, type QaEvalOptions, type QaModel } from './question-answering.js';
import type { QaExample, QaFeature } from './tasks/extractive-qa.js';
import type { EvalMetrics } from './trainer.js';

/** A registry metric to log: its name, options and the name it is logged under (default its name). */
export interface MetricChoice {
  metric: string;
  options?: MetricOptions;
  as?: string;
}

/**
 * Registry metrics (src/metrics) over one set of predictions and references, each logged under its
 * name (or `as`) with its main score, and each with the evidence to bootstrap its interval.
 * Example: `registryMetrics(['accuracy', { metric: 'f1', options: { average: 'macro' }, as: 'macro_f1' }], predictClassification(...))`.
 */
export function registryMetrics(choices: ReadonlyArray<string | MetricChoice>, inputs: MetricInputs): EvalMetrics {
  const values: Record<string, number> = {};
  const evidence: NonNullable<EvalMetrics['evidence']> = {};
  for (const c of choices) {
    const choice: MetricChoice = typeof c === 'string' ? { metric: c } : c;
    const as = choice.as ?? choice.metric;
    if (as in values) throw new Error(`registryMetrics: "${as}" is chosen twice (give one of them another "as")`);
    const score = computeMetrics([choice.metric], inputs, choice.options ? { [choice.metric]: choice.options } : {})[
      choice.metric
    ];
    if (score === undefined) throw new Error(`registryMetrics: ${choice.metric} gave no score`);
    values[as] = score.score;
    evidence[as] = { metric: choice.metric, inputs, ...(choice.options ? { options: choice.options } : {}) };
  }
  return { values, evidence };
}

/** SQuAD exact_match and f1 (percent; SQuAD v1.1 or CMRC 2018 rules) of a QA model, with evidence. */
export function qaEvalMetrics(
  model: QaModel,
  examples: readonly QaExample[],
  features: readonly QaFeature[],
  opts: QaEvalOptions,
): EvalMetrics {
  const r = evaluateQa(model, examples, features, opts);
  const byId = new Map(r.predictions.map((p) => [p.id, p.predictionText]));
  const inputs: MetricInputs = {
    predictions: examples.map((e) => byId.get(e.id) ?? ''),
    references: examples.map((e) => [...(e.answers?.text ?? [])]),
  };
  const options: MetricOptions = opts.variant === undefined ? {} : { variant: opts.variant };
  return {
    values: { exact_match: r.exact_match, f1: r.f1 },
    evidence: {
      exact_match: { metric: 'exact_match', options, inputs },
      f1: { metric: 'squad', options, inputs },
    },
  };
}
