/**
 * Training: the loop (`train`, `evaluate`, {@link TrainingArgs}), datasets and collators,
 * supervised fine-tuning formats, schedules, optimisers, checkpoints and the run log.
 *
 * @module
 */
export {
  train,
  trainAsync,
  evaluate,
  repetitionMetrics,
  l2spRegularizer,
  ewcRegularizer,
  diagonalFisher,
  NonFiniteError,
  type TrainingArgs,
  type TrainOptions,
  type TrainResult,
  type TrainCallbacks,
  type StepInfo,
  type EvalResult,
  type GeneratedSample,
  type Batch,
  type LossFn,
  type LossContext,
  type HasAuxiliaryLoss,
  type Regularizer,
  metricIntervals,
  type MetricEvidence,
  type EvalMetrics,
  type MetricsFn,
  type GeneralSet,
} from './trainer.js';
export { freezeExcept, type FreezeOptions } from './freeze.js';
export { registryMetrics, qaEvalMetrics, type MetricChoice } from './task-metrics.js';
export {
  streamExamples,
  streamingDataset,
  mapStreaming,
  shuffleBuffer,
  isStreamingDataset,
  DEFAULT_SHUFFLE_BUFFER,
  type StreamingDataset,
} from './streaming.js';
export { AdamW, SGD, clipGradNorm, type Optimizer, type AdamWOptions, type SGDOptions } from './optim.js';
export { scheduleFactor, SCHEDULER_TYPES, type SchedulerType, type ScheduleOptions } from './schedule.js';
export { saveCheckpoint, loadCheckpoint, listCheckpoints, type TrainerState } from './checkpoint.js';
export {
  RunLog,
  readRunLog,
  forEachRunRecord,
  readRun,
  readRuns,
  runLogPath,
  MAX_RUN_LOG_BYTES,
  Progress,
  type RunData,
  type StepPoint,
  type EvalPoint,
  type SamplesAt,
  type SampleItem,
  type RepetitionAt,
  type Forgetting,
  type RunEnd,
  type RunRecord,
  type RunRecordType,
  type ProgressMode,
  type ProgressUpdate,
} from './run-log.js';
export {
  loadExamples,
  loadDataFolder,
  readRecords,
  streamRecords,
  toExample,
  splitDataset,
  type DataFormat,
  type SourceRecord,
  type ReadOptions,
  type Example,
  type ExampleKind,
  type Located,
  type ColumnMap,
  exampleText,
  dedupExamples,
  type LocatedDuplicate,
  type LoadDedupOptions,
} from './data.js';
export {
  collateCausalLm,
  packSequences,
  causalLmLossFn,
  neftuneEmbeddings,
  tokenNlls,
  IGNORE_INDEX,
  type TokenIds,
  type LmExample,
  type LmCollateOptions,
  type CausalLmBatch,
} from './collate.js';
export { alpacaPrompt, promptCompletionTokens, chatTokens, sftTokens, type SftOptions } from './sft.js';
export {
  labelMapping,
  classificationTokens,
  collateClassification,
  classificationLogits,
  predictClassification,
  classificationLoss,
  type ClassificationExample,
  type ClassificationBatch,
  type ClassifierModel,
} from './classification.js';
export { enableGradientCheckpointing, disableGradientCheckpointing } from './gradient-checkpointing.js';
export { sampleLmBatch, type LmBatch } from './causal-lm.js';
export { causalLmLoss } from './losses.js';
export {
  collateTokenClassification,
  tokenClassificationLoss,
  predictTokenClassification,
  tokenClassificationMetrics,
  tokenClassificationEvalMetrics,
  type TokenClassificationBatch,
  type TokenClassifierModel,
  type TaggedSentence,
} from './token-classification.js';
export {
  collateQa,
  qaLoss,
  qaLogits,
  evaluateQa,
  type QaBatch,
  type QaEvalOptions,
  type QaModel,
} from './question-answering.js';
/**
 * Task helpers (pure): token classification (encode words with tags, align labels with sub-word
 * tokens, predictions back to word tags) and extractive QA (sliding-window features, n-best answer
 * search, SQuAD/CMRC metrics). `IGNORE_INDEX` (-100) is one constant, defined with these helpers.
 */
export {
  alignLabelsWithTokens,
  buildLabelMap,
  encodeTokenClassification,
  wordLevelPredictions,
  type LabelMap,
  type TokenClassificationFeature,
  type TokenClassificationOptions,
} from './tasks/token-classification.js';
export {
  postprocessQaPredictions,
  prepareQaFeatures,
  qaMetrics,
  type QaCandidate,
  type QaExample,
  type QaFeature,
  type QaFeatureOptions,
  type QaPostprocessOptions,
  type QaPrediction,
} from './tasks/extractive-qa.js';
export { type DedupReport, type Duplicate } from './dedup.js';
