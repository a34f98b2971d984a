/**
 * Text generation with a KV cache, transformers' logits processors, and chat sessions.
 *
 * @module tunekit/generate
 */
export {
  generate,
  generateSteps,
  generateStream,
  TextStream,
  type GenerateOptions,
  type GenerateResult,
  type GenerationTiming,
  type FinishReason,
  type TokenEvent,
  type Detokenizer,
} from './generate.js';
export {
  repetitionPenalty,
  frequencyPresencePenalty,
  noRepeatNgram,
  suppressTokens,
  temperature,
  topK,
  topP,
  minP,
  softmax,
  argmax,
  sample,
  processLogits,
  validateSettings,
  type LogitsSettings,
} from './logits-processors.js';
export { ChatSession, type ChatSessionOptions, type ChatTurn } from './chat.js';
export { cutDegenerateLoop, type DegenerationOptions, type DegenerationResult } from './degeneration.js';
