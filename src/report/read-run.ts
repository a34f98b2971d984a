/**
 * The report's view of a run folder's run.jsonl: the reader lives with the writer in
 * src/train/run-log.ts (one reader for the trainer, CLI, demo and report); re-exported here.
 */
export {
  MAX_RUN_LOG_BYTES,
  readRun,
  readRuns,
  runLogPath,
  type EvalPoint,
  type Forgetting,
  type RepetitionAt,
  type RunData,
  type RunEnd,
  type SampleItem,
  type SamplesAt,
  type StepPoint,
} from '../train/run-log.js';
