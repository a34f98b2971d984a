/**
 * tunekit: fine-tune and evaluate transformer language models on a CPU.
 *
 * Data flows one way: files (io) -> model (models) -> adapters (peft) -> trainer (train) ->
 * metrics. This entry point gathers the public API of each layer; `tunekit/metrics` is here as the
 * `metrics` namespace, and the logits processors are in `tunekit/generate`. Every name below is
 * also exported by its own entry point (`tunekit/tensor`, `tunekit/models`, ...), except nn and
 * train, which are published only here.
 *
 * @module tunekit
 */
export * from './tensor/index.js';
export * from './nn/index.js';
export * from './models/index.js';
export * from './io/index.js';
export * from './peft/index.js';
export * from './train/index.js';
export {
  generate,
  generateSteps,
  generateStream,
  TextStream,
  ChatSession,
  cutDegenerateLoop,
  type GenerateOptions,
  type GenerateResult,
  type GenerationTiming,
  type FinishReason,
  type TokenEvent,
  type Detokenizer,
  type ChatSessionOptions,
  type ChatTurn,
  type DegenerationOptions,
  type DegenerationResult,
} from './generate/index.js';
export * as metrics from './metrics/index.js';
export { backend, setBackend, setNativeThreads, nativeUnavailableReason, type Backend } from './native/index.js';
