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
 *
 * @module tunekit/metrics
 */
export {
  accuracyScore,
  precisionRecallFscoreSupport,
  precisionScore,
  recallScore,
  f1Score,
  fbetaScore,
  confusionMatrix,
  rocCurve,
  auc,
  rocAucScore,
  type Label,
  type LabelInput,
  type ZeroDivision,
  type Average,
  type IndicatorMatrix,
  type ClassTargets,
  type AccuracyOptions,
  type PrfOptions,
  type PerLabelScores,
  type AveragedScores,
  type PrfsOptions,
  type ScoreOptions,
  type ConfusionMatrixOptions,
  type RocCurveOptions,
  type RocCurve,
  type RocAucOptions,
} from './classification.js';
export {
  meanAbsoluteError,
  meanSquaredError,
  rootMeanSquaredError,
  r2Score,
  type RegressionTargets,
  type MultiOutput,
  type RegressionOptions,
  type R2Options,
} from './regression.js';
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
export {
  seededRandom,
  bootstrapCi,
  pairedBootstrap,
  approximateRandomization,
  type CorpusMetric,
  type SeededRandom,
  type BootstrapOptions,
  type BootstrapResult,
  type PairedTestOptions,
  type PairedTestResult,
} from './significance.js';
export {
  computeBleu,
  corpusBleu,
  sentenceBleu,
  BLEU_SMOOTH_DEFAULTS,
  BLEU_MAX_NGRAM_ORDER,
  BLEU_NGRAM_ORDER_LIMIT,
  type BleuSmoothMethod,
  type BleuOptions,
  type BleuScore,
  type ComputeBleuOptions,
} from './bleu.js';
export { type SacrebleuFormatOptions, type SacrebleuScore, type ReferenceStreams } from './sacrebleu-score.js';
export { corpusChrf, sentenceChrf, CHRF_MAX_ORDER, type ChrfOptions, type ChrfScore } from './chrf.js';
export {
  tokenize13a,
  tokenizeIntl,
  tokenizeZh,
  tokenizeChar,
  tokenizeNone,
  getSacrebleuTokenizer,
  sacrebleuTokenize,
  SACREBLEU_TOKENIZERS,
  type SacrebleuTokenizerName,
} from './sacrebleu-tokenizers.js';
export {
  rougeTokenize,
  rougeCompute,
  RougeScorer,
  BootstrapAggregator,
  type RougeScore,
  type RougeScores,
  type RougeScorerOptions,
  type AggregateScore,
  type BootstrapAggregatorOptions,
  type RougeComputeOptions,
} from './rouge.js';
export { porterStem, PorterStemmer, type Stemmer } from './porter.js';
export {
  alignWords,
  singleMeteorScore,
  meteorScore,
  type WordNetSource,
  type MeteorOptions,
  type MeteorAlignment,
} from './meteor.js';
export {
  WordNet,
  resolveWordNetDir,
  POS_LIST,
  WORDNET_DIR_ENV,
  DEBIAN_WORDNET_DIR,
  type WordNetPos,
  type Synset,
} from './wordnet.js';
export {
  isCjkChar,
  cjkCharTokenize,
  jiebaTokenize,
  type TokenizeFunction,
  type TokenizerObject,
  type CjkTokenizerName,
  type TokenizerOption,
  type JiebaTokenizeOptions,
} from './cjk.js';
export { nltkWordTokenize } from './nltk-word-tokenizer.js';
export {
  squadNormalizeAnswer,
  squadExactMatch,
  squadF1,
  squadEvaluate,
  cmrc2018MixedSegmentation,
  cmrc2018RemovePunctuation,
  cmrc2018F1Score,
  cmrc2018EmScore,
  type SquadPrediction,
  type SquadReference,
  type SquadResult,
  type SquadEvaluateOptions,
} from './squad.js';
export { perplexity, perplexityFromLogProbs, type PerplexityOptions, type PerplexityResult } from './perplexity.js';
export {
  ngramCounts,
  distinctN,
  sentenceDistinctN,
  repN,
  meanRepN,
  longestRepeatedSubstring,
  longestTandemRepeat,
  type SequenceToken,
  type TokenSequence,
  type NgramCounts,
  type RepeatedSubstring,
  type TandemRepeat,
} from './repetition.js';
export {
  MAX_BOOTSTRAP_SAMPLES,
  MAX_REPETITION_ORDER,
  METRIC_NAMES,
  bootstrapMetric,
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
