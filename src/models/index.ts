/**
 * Llama-family and GPT-2 decoders, BERT encoders with task heads, and the `Auto*` classes that
 * load any of them from a Hugging Face folder.
 *
 * @module tunekit/models
 */
export { positionsFromMask, type CausalLM, type CausalLMInput, type CausalLMOutput } from './causal-lm.js';
export { KVCache, type CachedKeyValues } from './kv-cache.js';
export { LlamaForCausalLM, LlamaModel, LlamaDecoderLayer, LlamaAttention, LlamaMLP } from './llama.js';
export { GPT2LMHeadModel, GPT2Model, GPT2Block, GPT2Attention, GPT2MLP } from './gpt2.js';
export {
  BertModel,
  BertEmbeddings,
  BertEncoder,
  BertLayer,
  BertAttention,
  BertSelfAttention,
  BertSelfOutput,
  BertOutput,
  BertIntermediate,
  BertPooler,
  BertForSequenceClassification,
  BertForTokenClassification,
  BertForQuestionAnswering,
  type BertInput,
  type BertModelOutput,
  type BertHeadOutput,
  type BertLoadOptions,
  type SequenceClassificationInput,
  type TokenClassificationInput,
  type QuestionAnsweringInput,
  type QuestionAnsweringOutput,
  type HeadOptions,
} from './bert.js';
export {
  AutoModel,
  AutoModelForCausalLM,
  AutoModelForSequenceClassification,
  AutoModelForTokenClassification,
  AutoModelForQuestionAnswering,
  type AutoCausalLM,
  type FromConfigOptions,
  type HeadConfigOptions,
} from './auto.js';
export { type KVPrefix, type PrefixShape, type AttentionContext } from './attention.js';
export { readModelWeights, loadIntoModule, saveModelFolder, type WeightDtype } from './weights.js';
export {
  LlamaForSequenceClassification,
  Qwen2ForSequenceClassification,
  GPT2ForSequenceClassification,
  decoderClassifierFromConfig,
  lastNonPadIndex,
  type DecoderClassificationInput,
  type DecoderClassificationOutput,
  type ClassifierOptions,
} from './sequence-classification.js';
