/**
 * `tunekit/metrics`: evaluation metrics that give the same numbers as the reference
 * implementations researchers publish with (see docs/metrics.md in the repository).
 *
 * - classification and regression: scikit-learn (`accuracyScore`, `f1Score`, `rocAucScore`,
 *   `r2Score`, ...), exported by their sklearn names in camelCase;
 * - sequence labelling: seqeval 1.2.2 through the `seqeval` namespace (its functions share
 *   sklearn's names: `seqeval.f1Score`), plus `seqevalCompute` (Hugging Face evaluate's shape);
 * - BLEU / chrF: sacrebleu 2.x; ROUGE: rouge-score 0.1.2; METEOR: NLTK 3.8; SQuAD: the official
 *   v1.1 script; perplexity: Hugging Face evaluate's formula; repetition: distinct-n, rep-n;
 * - significance: bootstrap confidence intervals and paired tests for any corpus metric;
 * - the registry: every metric by name with its input shapes and checked options
 *   (`computeMetric`, `computeMetrics`, `bootstrapMetric`, `getMetricSpec`), shared by the
 *   `eval-metrics` command, the trainer's evaluation and the reports.
 */
export * from './classification.js';
export * from './regression.js';
export {
  seqeval,
  seqevalCompute,
  getEntities,
  type Chunk,
  type ClassificationReportOptions,
  type GetEntitiesOptions,
  type PerformanceMeasure,
  type ReportRow,
  type Scheme,
  type SeqevalAveraged,
  type SeqevalComputeOptions,
  type SeqevalComputeResult,
  type SeqevalOptions,
  type SeqevalPerType,
  type SeqevalTypeScores,
  type SeqevalZeroDivision,
} from './sequence-labeling.js';
export * from './significance.js';
export * from './bleu.js';
export * from './sacrebleu-score.js';
export * from './chrf.js';
export * from './sacrebleu-tokenizers.js';
export * from './rouge.js';
export * from './porter.js';
export * from './meteor.js';
export * from './wordnet.js';
export * from './cjk.js';
export * from './nltk-word-tokenizer.js';
export * from './squad.js';
export * from './perplexity.js';
export * from './repetition.js';
export {
  MAX_BOOTSTRAP_SAMPLES,
  MAX_REPETITION_ORDER,
  METRIC_NAMES,
  bootstrapMetric,
  checkBootstrapOptions,
  computeMetric,
  computeMetrics,
  getMetricSpec,
  listMetrics,
  validateMetricOptions,
  type MetricBootstrapOptions,
  type MetricCallContext,
  type MetricInputShape,
  type MetricInputs,
  type MetricOptionSpec,
  type MetricOptions,
  type MetricResult,
  type MetricScore,
  type MetricSpec,
  type MetricValue,
} from './registry.js';
