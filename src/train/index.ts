/** Training: the loop (TrainingArgs, train, evaluate), data, collators, schedules, checkpoints, losses. */
export * from './optim.js';
export * from './causal-lm.js';
export * from './losses.js';
export * from './schedule.js';
export * from './trainer.js';
export * from './checkpoint.js';
export * from './run-log.js';
export * from './data.js';
export * from './collate.js';
export * from './sft.js';
export * from './classification.js';
export * from './gradient-checkpointing.js';
export * from './token-classification.js';
/**
 * Task helpers (pure): token classification (encode words with tags, align labels with sub-word
 * tokens, predictions back to word tags) and extractive QA (sliding-window features, n-best answer
 * search, SQuAD/CMRC metrics). `IGNORE_INDEX` is the one of collate.ts (-100, the same value).
 */
export { alignLabelsWithTokens, buildLabelMap, encodeTokenClassification, wordLevelPredictions, type LabelMap, type TokenClassificationFeature, type TokenClassificationOptions } from './tasks/token-classification.js';
export { postprocessQaPredictions, prepareQaFeatures, qaMetrics, type QaCandidate, type QaExample, type QaFeature, type QaFeatureOptions, type QaPostprocessOptions, type QaPrediction } from './tasks/extractive-qa.js';
export * from './question-answering.js';
