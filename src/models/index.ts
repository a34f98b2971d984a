/**
 * Llama-family and GPT-2 decoders, BERT encoders with task heads, and the `Auto*` classes that
 * load any of them from a Hugging Face folder.
 *
 * @module tunekit/models
 */
export {
  DecoderForCausalLM,
  lmHeadOutput,
  positionsFromMask,
  type CausalLM,
  type CausalLMInput,
  type CausalLMOutput,
} from './causal-lm.js';
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
  decoderClassifierFromConfig,
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
  lastNonPadIndex,
  type DecoderClassificationInput,
  type DecoderClassificationOutput,
  type ClassifierOptions,
} from './sequence-classification.js';
export {
  parseModelConfig,
  readModelConfig,
  checkModelConfigSize,
  registerArchitecture,
  architectureEntry,
  supportedArchitectures,
  SUPPORTED_ARCHITECTURES,
  type ModelConfig,
  type ArchitectureEntry,
  type ModelClass,
  type ModelKind,
  type LabelOptions,
  type TaskLoadOptions,
  type CreateOptions,
  type SavableModel,
  type EncoderModel,
  type SequenceClassifier,
  type TokenClassifier,
  type QuestionAnswerer,
} from './registry.js';
export {
  baseFields,
  parseFamilyConfig,
  readFamilyConfig,
  type ModelConfigBase,
  type ModelConfigOptions,
  type BaseFields,
  type ConfigContext,
} from './model-config.js';
export { parseDecoderConfig, DECODER_ARCHITECTURES, type DecoderConfig, type DecoderFamily } from './llama-config.js';
export { parseGpt2Config, GPT2_ARCHITECTURES, type Gpt2Config } from './gpt2-config.js';
export { parseBertConfig, BERT_ARCHITECTURES, type BertConfig, type ProblemType } from './bert-config.js';
export {
  parseRopeParameters,
  computeRopeInvFreq,
  ROPE_TYPES,
  type RopeType,
  type RopeParameters,
  type RopeConfig,
} from './rope.js';
export { ACTIVATIONS, type Activation } from './activations.js';
export { readLlamaConfig } from './llama.js';
export { readGpt2Config } from './gpt2.js';
