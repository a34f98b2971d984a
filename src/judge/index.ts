/**
 * tunekit judge: human evaluation of two systems' generations in a local web app. Lives apart from
 * the core library and uses only its public API (src/index.ts); the HTTP code stays here.
 */
export {
  JudgeStore,
  LIMITS,
  aOnLeft,
  checkName,
  hashToken,
  type Preference,
  type StudyRow,
  type ItemRow,
  type RaterRow,
  type JudgementInput,
  type JudgementRow,
} from './store.js';
export { createStudyFromGenerations, createStudyFromSystems, readGenerations, readPrompts } from './study.js';
export {
  EMBEDDED_MODEL_DIR,
  DEFAULT_GENERATION,
  generateOutputs,
  loadAdapter,
  loadSource,
  resolveSource,
  type GenerationSettings,
  type ResolvedSource,
} from './sources.js';
export {
  computeResults,
  formatResults,
  judgementsCsv,
  resultsJson,
  studyResults,
  type Rate,
  type StudyResults,
  type SystemRatings,
} from './results.js';
export {
  createApp,
  isLoopback,
  startServer,
  type AppOptions,
  type RunningServer,
  type ServeOptions,
} from './server.js';
export * from './stats.js';
