/** tunekit/models: Llama-family and GPT-2 decoders, BERT encoders with task heads, and Auto classes. */
export { KVCache, positionsFromMask, type CausalLM, type CausalLMInput, type CausalLMOutput } from './causal-lm.js';
export { LlamaForCausalLM, LlamaModel, LlamaDecoderLayer, LlamaAttention, LlamaMLP, type LinearLike } from './llama.js';
export { GPT2LMHeadModel, GPT2Model, GPT2Block, GPT2Attention, GPT2MLP } from './gpt2.js';
export {
  BertModel, BertEmbeddings, BertEncoder, BertLayer, BertAttention, BertSelfAttention, BertSelfOutput, BertOutput,
  BertIntermediate, BertPooler, BertForSequenceClassification, BertForTokenClassification, BertForQuestionAnswering,
  loadBertWeights, readBertConfig, withLabels,
  type BertInput, type BertModelOutput, type BertHeadOutput, type BertLoadOptions, type SequenceClassificationInput,
  type TokenClassificationInput, type QuestionAnsweringInput, type QuestionAnsweringOutput, type HeadOptions,
} from './bert.js';
export {
  AutoModel, AutoModelForCausalLM, AutoModelForSequenceClassification, AutoModelForTokenClassification,
  AutoModelForQuestionAnswering, type AutoCausalLM, type FromConfigOptions, type HeadConfigOptions,
} from './auto.js';
export { activation } from './activations.js';
export { attentionWithDropout, checkPrefix, withPastKeyValues, type AttentionDropoutOptions, type AttentionContext, type KVPrefix, type PrefixShape } from './attention.js';
export { SkipInitRng, loadIntoModule, moduleToRaw, rawToTensor, readModelWeights, saveModelFolder, type WeightDtype } from './weights.js';
export {
  LlamaForSequenceClassification, Qwen2ForSequenceClassification, GPT2ForSequenceClassification, decoderClassifierFromConfig, lastNonPadIndex,
  type DecoderClassificationInput, type DecoderClassificationOutput, type ClassifierOptions,
} from './sequence-classification.js';
