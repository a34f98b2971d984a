/**
 * tunekit: fine-tune and evaluate transformer language models on a CPU.
 *
 * Data flows one way: files (io) -> model (models) -> adapters (peft) -> trainer (train) ->
 * metrics (`tunekit/metrics`, also re-exported here as the `metrics` namespace).
 */
export * from './tensor/index.js';
export * from './nn/index.js';
export * from './models/index.js';
export * from './io/index.js';
export * from './peft/index.js';
export * from './train/index.js';
export {
  generate, generateStream, TextStream, ChatSession,
  type GenerateOptions, type GenerateResult, type GenerationTiming, type FinishReason, type TokenEvent, type ChatSessionOptions, type ChatTurn,
} from './generate/index.js';
/** The logits processors (repetitionPenalty, topP, ...) by name; `softmax` there works on plain rows. */
export * as logitsProcessors from './generate/logits-processors.js';
export * as metrics from './metrics/index.js';
export { backend, setBackend, nativeKernels } from './native/index.js';
