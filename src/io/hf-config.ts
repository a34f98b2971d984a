/**
 * Hugging Face `config.json` / `generation_config.json` readers, normalised into typed camelCase
 * configs with the defaults of the corresponding transformers configuration classes, plus the RoPE
 * frequency computation of transformers' `modeling_rope_utils.py` (default, linear, dynamic NTK, YaRN,
 * Llama 3, LongRoPE).
 *
 * Supported architectures: LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM,
 * GPT2LMHeadModel, BertModel, BertForSequenceClassification, BertForTokenClassification,
 * BertForQuestionAnswering, and the BERT pre-training classes (BertForMaskedLM, BertForPreTraining)
 * whose encoder loads.
 */
import { join } from 'node:path';
import { existsSync, statSync } from 'node:fs';
import { FieldReader, isPlainObject, readJsonObject } from './json.js';
import { LAYER_OVERHEAD_BYTES, checkModelSize, dtypeBytes, modelMemoryBudget, type SizeTerm } from './model-size.js';

/** Architectures this project can build, by config.json `architectures[0]`. */
export const SUPPORTED_ARCHITECTURES = [
  'LlamaForCausalLM',
  'MistralForCausalLM',
  'Qwen2ForCausalLM',
  'Qwen3ForCausalLM',
  'GPT2LMHeadModel',
  'BertModel',
  'BertForSequenceClassification',
  'BertForTokenClassification',
  'BertForQuestionAnswering',
  // Pre-training checkpoints (bert-base-uncased, bert-base-chinese declare these): the encoder loads.
  'BertForMaskedLM',
  'BertForPreTraining',
] as const;
/** One of {@link SUPPORTED_ARCHITECTURES}. */
export type Architecture = (typeof SUPPORTED_ARCHITECTURES)[number];

/** Architecture assumed from `model_type` when `architectures` is absent (as AutoModelFor... would pick). */
const ARCHITECTURE_BY_MODEL_TYPE: Record<string, Architecture> = {
  llama: 'LlamaForCausalLM',
  mistral: 'MistralForCausalLM',
  qwen2: 'Qwen2ForCausalLM',
  qwen3: 'Qwen3ForCausalLM',
  gpt2: 'GPT2LMHeadModel',
  bert: 'BertModel',
};

/** Decoder task-head classes whose config is their causal LM's (src/models/sequence-classification.ts). */
const DECODER_HEAD_ALIASES: Record<string, Architecture> = {
  LlamaForSequenceClassification: 'LlamaForCausalLM',
  MistralForSequenceClassification: 'MistralForCausalLM',
  Qwen2ForSequenceClassification: 'Qwen2ForCausalLM',
  Qwen3ForSequenceClassification: 'Qwen3ForCausalLM',
  GPT2ForSequenceClassification: 'GPT2LMHeadModel',
};

/** Activation names of transformers' ACT2FN accepted in `hidden_act` / `activation_function`. */
export const ACTIVATIONS = [
  'gelu',
  'gelu_new',
  'gelu_fast',
  'gelu_pytorch_tanh',
  'gelu_python',
  'gelu_accurate',
  'quick_gelu',
  'relu',
  'relu6',
  'silu',
  'swish',
  'tanh',
  'sigmoid',
  'mish',
  'leaky_relu',
  'linear',
] as const;
/** One of {@link ACTIVATIONS}. */
export type Activation = (typeof ACTIVATIONS)[number];

/** RoPE variants of transformers' ROPE_INIT_FUNCTIONS that {@link computeRopeInvFreq} implements. */
export const ROPE_TYPES = ['default', 'linear', 'dynamic', 'yarn', 'llama3', 'longrope'] as const;
/** One of {@link ROPE_TYPES}. */
export type RopeType = (typeof ROPE_TYPES)[number];

/**
 * RoPE parameters after transformers v5's `standardize_rope_params`: the legacy `rope_scaling` and
 * the newer `rope_parameters` are read the same way, `type` is accepted for `rope_type`, `rope_theta` and
 * `partial_rotary_factor` are merged in, and llama3/yarn/longrope get `originalMaxPositionEmbeddings`
 * (top-level `original_max_position_embeddings` first, then the dict's, then `max_position_embeddings`).
 */
export interface RopeParameters {
  ropeType: RopeType;
  /** Base θ; default 10000. */
  ropeTheta: number;
  /** Fraction of head_dim that is rotated; default 1. */
  partialRotaryFactor: number;
  /** linear/dynamic/yarn/llama3 scale factor; longrope: null → max_position_embeddings / original. */
  factor: number | null;
  originalMaxPositionEmbeddings: number | null;
  /** yarn/longrope attention (cos/sin) scaling; null → derived from factor. */
  attentionFactor: number | null;
  /** yarn: default 32 / 1. */
  betaFast: number;
  betaSlow: number;
  /** yarn (DeepSeek style) mscale / mscale_all_dim; null when absent. */
  mscale: number | null;
  mscaleAllDim: number | null;
  /** yarn: floor/ceil the correction range; default true. */
  truncate: boolean;
  /** llama3: defaults none (required). */
  lowFreqFactor: number | null;
  highFreqFactor: number | null;
  /** longrope per-frequency factors (length rotary_dim/2). */
  shortFactor: number[] | null;
  longFactor: number[] | null;
}

/** Fields common to every typed config. */
interface ConfigBase {
  architecture: Architecture;
  modelType: string;
  vocabSize: number;
  hiddenSize: number;
  numHiddenLayers: number;
  numAttentionHeads: number;
  maxPositionEmbeddings: number;
  tieWordEmbeddings: boolean;
  bosTokenId: number | null;
  /** `eos_token_id` normalised to a list (it may be an int or a list in config.json). */
  eosTokenIds: number[];
  padTokenId: number | null;
  /** `torch_dtype` (v4) / `dtype` (v5) as written, e.g. "float32", "bfloat16"; null when absent. */
  dtype: string | null;
}

/** Llama, Mistral, Qwen2 and Qwen3 decoders (pre-norm RMSNorm, RoPE, SwiGLU MLP, GQA). */
export interface DecoderConfig extends ConfigBase {
  family: 'llama' | 'mistral' | 'qwen2' | 'qwen3';
  intermediateSize: number;
  numKeyValueHeads: number;
  headDim: number;
  hiddenAct: Activation;
  rmsNormEps: number;
  rope: RopeParameters;
  /** Bias on q/k/v projections (Qwen2: always true; Llama/Qwen3: `attention_bias`). */
  qkvBias: boolean;
  /** Bias on o_proj (Llama/Qwen3: `attention_bias`; Qwen2/Mistral: false). */
  oProjBias: boolean;
  mlpBias: boolean;
  /** Qwen3: RMSNorm over each head of q and k before RoPE. */
  qkNorm: boolean;
  /** Sliding-window attention size, or null for full attention. */
  slidingWindow: number | null;
}

/** GPT-2 (post-LN-free pre-norm LayerNorm, learned positions, Conv1D weights stored [in, out]). */
export interface Gpt2Config extends ConfigBase {
  family: 'gpt2';
  /** n_inner; default 4 × hidden. */
  intermediateSize: number;
  activationFunction: Activation;
  layerNormEpsilon: number;
  scaleAttnWeights: boolean;
  scaleAttnByInverseLayerIdx: boolean;
}

/** transformers' `problem_type` for sequence classification heads (picks the loss). */
export type ProblemType = 'regression' | 'single_label_classification' | 'multi_label_classification';

/** BERT encoders and their task heads. */
export interface BertConfig extends ConfigBase {
  family: 'bert';
  intermediateSize: number;
  hiddenAct: Activation;
  typeVocabSize: number;
  layerNormEps: number;
  positionEmbeddingType: string;
  hiddenDropoutProb: number;
  attentionProbsDropoutProb: number;
  classifierDropout: number | null;
  /** len(id2label) when given, else `num_labels`, else 2 (PretrainedConfig). */
  numLabels: number;
  id2label: Record<number, string>;
  problemType: ProblemType | null;
}

/** Any supported config; switch on `family`. */
export type ModelConfig = DecoderConfig | Gpt2Config | BertConfig;

/** Options of {@link parseModelConfig} and {@link readModelConfig}. */
export interface ModelConfigOptions {
  /**
   * Check the memory the declared shapes need against `maxModelBytes` (see {@link checkModelConfigSize});
   * default false for {@link parseModelConfig} (inspecting a config), true for {@link readModelConfig}
   * (the loaders' entry point).
   */
  checkSize?: boolean;
  /** The memory budget; default {@link modelMemoryBudget} (TUNEKIT_MAX_MODEL_BYTES, else the machine's memory). */
  maxModelBytes?: number;
}

/**
 * Reads `<dir>/config.json` (or the file itself when given a file) for loading a model: the declared
 * shapes are checked against the memory budget unless `opts.checkSize` is false. See {@link parseModelConfig}.
 */
export function readModelConfig(dirOrFile: string, opts: ModelConfigOptions = {}): ModelConfig {
  const path = existsSync(dirOrFile) && statSync(dirOrFile).isDirectory() ? join(dirOrFile, 'config.json') : dirOrFile;
  return parseModelConfig(readJsonObject(path), path, { ...opts, checkSize: opts.checkSize ?? true });
}

/**
 * Throws when the parameters the config declares (× the declared dtype's size, plus a per-layer
 * overhead) exceed `budget` bytes, or its layers would not fit the JavaScript heap, naming `label`
 * and the fields of the largest part. Nothing is allocated.
 */
export function checkModelConfigSize(config: ModelConfig, label = 'config.json', budget = modelMemoryBudget()): void {
  switch (config.family) {
    case 'gpt2':
      return checkModelSize(label, gpt2SizeTerms(config), config.numHiddenLayers, 'n_layer', budget);
    case 'bert':
      return checkModelSize(label, bertSizeTerms(config), config.numHiddenLayers, 'num_hidden_layers', budget);
    default:
      return checkModelSize(label, decoderSizeTerms(config), config.numHiddenLayers, 'num_hidden_layers', budget);
  }
}

/**
 * Validates and normalises a parsed config.json. Absent fields take the defaults of the transformers
 * configuration class (e.g. Llama: rms_norm_eps 1e-6, rope_theta 10000, num_key_value_heads =
 * num_attention_heads, head_dim = hidden_size / num_attention_heads, tie_word_embeddings false;
 * GPT-2: n_inner 4·n_embd, activation gelu_new, layer_norm_epsilon 1e-5, tie true; BERT: gelu,
 * type_vocab_size 2, layer_norm_eps 1e-12, num_labels from id2label or 2).
 *
 * With `opts.checkSize`, the memory the declared shapes need is checked against the budget
 * ({@link checkModelConfigSize}); the BERT label table (num_labels entries, built here) is always
 * checked before it is built.
 *
 * @param json parsed config.json
 * @param label file name for error messages; default "config.json"
 * @throws Error `config.json: field "hidden_size" must be a positive integer, got "abc"` and the like;
 *   unsupported architectures list the supported ones; shapes over the memory budget name the fields
 */
export function parseModelConfig(
  json: Record<string, unknown>,
  label = 'config.json',
  opts: ModelConfigOptions = {},
): ModelConfig {
  const f = new FieldReader(label, json);
  const budget = opts.maxModelBytes ?? modelMemoryBudget();
  const checkSize = opts.checkSize ?? false;
  const architecture = resolveArchitecture(f);
  const modelType = f.str('model_type', '');
  const base = {
    architecture,
    bosTokenId: null as number | null,
    eosTokenIds: f.idList('eos_token_id'),
    padTokenId: f.optInt('pad_token_id'),
    dtype: f.optStr('dtype') ?? f.optStr('torch_dtype'),
  };
  switch (architecture) {
    case 'LlamaForCausalLM':
    case 'MistralForCausalLM':
    case 'Qwen2ForCausalLM':
    case 'Qwen3ForCausalLM': {
      const c = parseDecoder(f, architecture, modelType, base);
      if (checkSize) checkModelConfigSize(c, label, budget);
      return c;
    }
    case 'GPT2LMHeadModel': {
      const c = parseGpt2(f, modelType, base);
      if (checkSize) checkModelConfigSize(c, label, budget);
      return c;
    }
    default:
      return parseBert(f, architecture, modelType, base, (c) => {
        if (checkSize) checkModelSize(label, bertSizeTerms(c), c.numHiddenLayers, 'num_hidden_layers', budget);
        else checkModelSize(label, [labelTableTerm(c.numLabels)], 0, 'num_hidden_layers', budget, c.numLabels * 128);
      });
  }
}

/** The id2label table parseBert builds: about 64 bytes a label. */
function labelTableTerm(numLabels: number): SizeTerm {
  return { fields: ['num_labels'], bytes: numLabels * 64 };
}

/** Sizes of a Llama-family decoder's parts (weights in the declared dtype; norms and biases omitted). */
function decoderSizeTerms(c: DecoderConfig): SizeTerm[] {
  const b = dtypeBytes(c.dtype);
  const {
    vocabSize: V,
    hiddenSize: H,
    numHiddenLayers: L,
    numAttentionHeads: nH,
    numKeyValueHeads: kv,
    headDim: hd,
    intermediateSize: I,
  } = c;
  return [
    { fields: ['vocab_size', 'hidden_size'], bytes: V * H * b * (c.tieWordEmbeddings ? 1 : 2) },
    { fields: ['num_hidden_layers', 'hidden_size', 'num_attention_heads', 'head_dim'], bytes: L * 2 * H * nH * hd * b },
    { fields: ['num_hidden_layers', 'hidden_size', 'num_key_value_heads', 'head_dim'], bytes: L * 2 * H * kv * hd * b },
    { fields: ['num_hidden_layers', 'hidden_size', 'intermediate_size'], bytes: L * 3 * H * I * b },
    { fields: ['num_hidden_layers'], bytes: L * LAYER_OVERHEAD_BYTES },
  ];
}

function gpt2SizeTerms(c: Gpt2Config): SizeTerm[] {
  const b = dtypeBytes(c.dtype);
  const { vocabSize: V, hiddenSize: H, numHiddenLayers: L, maxPositionEmbeddings: P, intermediateSize: I } = c;
  return [
    { fields: ['vocab_size', 'n_embd'], bytes: V * H * b * (c.tieWordEmbeddings ? 1 : 2) },
    { fields: ['n_positions', 'n_embd'], bytes: P * H * b },
    { fields: ['n_layer', 'n_embd'], bytes: L * 4 * H * H * b },
    { fields: ['n_layer', 'n_embd', 'n_inner'], bytes: L * 2 * H * I * b },
    { fields: ['n_layer'], bytes: L * LAYER_OVERHEAD_BYTES },
  ];
}

/** What the BERT size estimate needs (read before id2label is built). */
type BertShape = Pick<
  BertConfig,
  | 'dtype'
  | 'vocabSize'
  | 'hiddenSize'
  | 'numHiddenLayers'
  | 'maxPositionEmbeddings'
  | 'typeVocabSize'
  | 'intermediateSize'
  | 'numLabels'
>;

function bertSizeTerms(c: BertShape): SizeTerm[] {
  const b = dtypeBytes(c.dtype);
  const {
    vocabSize: V,
    hiddenSize: H,
    numHiddenLayers: L,
    maxPositionEmbeddings: P,
    typeVocabSize: T,
    intermediateSize: I,
    numLabels: N,
  } = c;
  return [
    { fields: ['vocab_size', 'hidden_size'], bytes: V * H * b },
    { fields: ['max_position_embeddings', 'hidden_size'], bytes: P * H * b },
    { fields: ['type_vocab_size', 'hidden_size'], bytes: T * H * b },
    { fields: ['num_hidden_layers', 'hidden_size'], bytes: L * 4 * H * H * b + H * H * b },
    { fields: ['num_hidden_layers', 'hidden_size', 'intermediate_size'], bytes: L * 2 * H * I * b },
    // The classifier head, and the id2label table (about 64 bytes a label).
    { fields: ['num_labels', 'hidden_size'], bytes: N * H * b },
    labelTableTerm(N),
    { fields: ['num_hidden_layers'], bytes: L * LAYER_OVERHEAD_BYTES },
  ];
}

function resolveArchitecture(f: FieldReader): Architecture {
  const supported = `supported: ${SUPPORTED_ARCHITECTURES.join(', ')}`;
  if (f.has('architectures')) {
    const list = f.obj.architectures;
    if (!Array.isArray(list) || list.length === 0 || typeof list[0] !== 'string')
      f.fail('architectures', 'a non-empty list of class names');
    const name = list[0];
    const alias = DECODER_HEAD_ALIASES[name];
    if (alias) return alias;
    if (!(SUPPORTED_ARCHITECTURES as readonly string[]).includes(name)) {
      throw new Error(`${f.label}: unsupported architecture "${name}" (${supported})`);
    }
    return name as Architecture;
  }
  const modelType = f.str('model_type', '');
  const arch = ARCHITECTURE_BY_MODEL_TYPE[modelType];
  if (!arch)
    throw new Error(
      `${f.label}: no "architectures" and unsupported model_type ${JSON.stringify(modelType)} (${supported})`,
    );
  return arch;
}

type Base = Pick<ConfigBase, 'architecture' | 'bosTokenId' | 'eosTokenIds' | 'padTokenId' | 'dtype'>;

/** Per-family defaults of the transformers configuration classes. */
const DECODER_DEFAULTS = {
  llama: { vocab: 32000, hidden: 4096, inter: 11008, layers: 32, heads: 32, kv: null, maxPos: 2048, bos: 1, eos: [2] },
  mistral: {
    vocab: 32000,
    hidden: 4096,
    inter: 14336,
    layers: 32,
    heads: 32,
    kv: 8,
    maxPos: 4096 * 32,
    bos: 1,
    eos: [2],
  },
  qwen2: {
    vocab: 151936,
    hidden: 4096,
    inter: 22016,
    layers: 32,
    heads: 32,
    kv: 32,
    maxPos: 32768,
    bos: null,
    eos: [],
  },
  qwen3: {
    vocab: 151936,
    hidden: 4096,
    inter: 22016,
    layers: 32,
    heads: 32,
    kv: 32,
    maxPos: 32768,
    bos: null,
    eos: [],
  },
} as const;

function parseDecoder(f: FieldReader, architecture: Architecture, modelType: string, base: Base): DecoderConfig {
  const families: Record<string, DecoderConfig['family']> = {
    LlamaForCausalLM: 'llama',
    MistralForCausalLM: 'mistral',
    Qwen2ForCausalLM: 'qwen2',
    Qwen3ForCausalLM: 'qwen3',
  };
  const family = families[architecture]!;
  const d: {
    vocab: number;
    hidden: number;
    inter: number;
    layers: number;
    heads: number;
    kv: number | null;
    maxPos: number;
    bos: number | null;
    eos: readonly number[];
  } = DECODER_DEFAULTS[family];
  const hiddenSize = f.int('hidden_size', d.hidden);
  const numAttentionHeads = f.int('num_attention_heads', d.heads);
  const numKeyValueHeads = f.int('num_key_value_heads', d.kv ?? numAttentionHeads);
  if (numAttentionHeads % numKeyValueHeads !== 0) {
    f.fail('num_key_value_heads', `a divisor of num_attention_heads (${numAttentionHeads})`);
  }
  const defaultHeadDim = family === 'qwen3' ? 128 : Math.floor(hiddenSize / numAttentionHeads);
  if (!f.has('head_dim') && family !== 'qwen3' && hiddenSize % numAttentionHeads !== 0) {
    f.fail('hidden_size', `divisible by num_attention_heads (${numAttentionHeads}) when head_dim is absent`);
  }
  const headDim = f.int('head_dim', defaultHeadDim);
  const maxPositionEmbeddings = f.int('max_position_embeddings', d.maxPos);
  const attentionBias = f.bool('attention_bias', false);
  const eos = base.eosTokenIds.length > 0 || f.has('eos_token_id') ? base.eosTokenIds : [...d.eos];
  // Sliding windows: Mistral uses `sliding_window` (null disables); Qwen2/3 only when use_sliding_window.
  let slidingWindow: number | null = null;
  if (family === 'mistral') slidingWindow = f.obj.sliding_window === null ? null : f.int('sliding_window', 4096);
  else if ((family === 'qwen2' || family === 'qwen3') && f.bool('use_sliding_window', false))
    slidingWindow = f.int('sliding_window', 4096);
  const config: DecoderConfig = {
    ...base,
    family,
    modelType: modelType || family,
    vocabSize: f.int('vocab_size', d.vocab),
    hiddenSize,
    intermediateSize: f.int('intermediate_size', d.inter),
    numHiddenLayers: f.int('num_hidden_layers', d.layers),
    numAttentionHeads,
    numKeyValueHeads,
    headDim,
    hiddenAct: f.oneOf('hidden_act', ACTIVATIONS, 'silu'),
    maxPositionEmbeddings,
    rmsNormEps: f.num('rms_norm_eps', 1e-6, true),
    rope: parseRopeParameters(f, maxPositionEmbeddings, headDim),
    qkvBias: family === 'qwen2' ? true : family === 'mistral' ? false : attentionBias,
    oProjBias: family === 'llama' || family === 'qwen3' ? attentionBias : false,
    mlpBias: family === 'llama' ? f.bool('mlp_bias', false) : false,
    qkNorm: family === 'qwen3',
    slidingWindow,
    tieWordEmbeddings: f.bool('tie_word_embeddings', false),
    bosTokenId: f.has('bos_token_id') ? f.optInt('bos_token_id') : d.bos,
    eosTokenIds: eos,
  };
  return config;
}

function parseGpt2(f: FieldReader, modelType: string, base: Base): Gpt2Config {
  const hiddenSize = f.int('n_embd', 768);
  const numAttentionHeads = f.int('n_head', 12);
  if (hiddenSize % numAttentionHeads !== 0) f.fail('n_embd', `divisible by n_head (${numAttentionHeads})`);
  return {
    ...base,
    family: 'gpt2',
    modelType: modelType || 'gpt2',
    vocabSize: f.int('vocab_size', 50257),
    hiddenSize,
    numHiddenLayers: f.int('n_layer', 12),
    numAttentionHeads,
    maxPositionEmbeddings: f.int('n_positions', 1024),
    intermediateSize: f.int('n_inner', 4 * hiddenSize),
    activationFunction: f.oneOf('activation_function', ACTIVATIONS, 'gelu_new'),
    layerNormEpsilon: f.num('layer_norm_epsilon', 1e-5, true),
    scaleAttnWeights: f.bool('scale_attn_weights', true),
    scaleAttnByInverseLayerIdx: f.bool('scale_attn_by_inverse_layer_idx', false),
    tieWordEmbeddings: f.bool('tie_word_embeddings', true),
    bosTokenId: f.has('bos_token_id') ? f.optInt('bos_token_id') : 50256,
    eosTokenIds: f.has('eos_token_id') ? base.eosTokenIds : [50256],
  };
}

const PROBLEM_TYPES = ['regression', 'single_label_classification', 'multi_label_classification'] as const;

function parseBert(
  f: FieldReader,
  architecture: Architecture,
  modelType: string,
  base: Base,
  checkSize: (shape: BertShape) => void,
): BertConfig {
  const hiddenSize = f.int('hidden_size', 768);
  const numAttentionHeads = f.int('num_attention_heads', 12);
  if (hiddenSize % numAttentionHeads !== 0)
    f.fail('hidden_size', `divisible by num_attention_heads (${numAttentionHeads})`);
  const shape = {
    dtype: base.dtype,
    vocabSize: f.int('vocab_size', 30522),
    hiddenSize,
    numHiddenLayers: f.int('num_hidden_layers', 12),
    maxPositionEmbeddings: f.int('max_position_embeddings', 512),
    typeVocabSize: f.int('type_vocab_size', 2),
    intermediateSize: f.int('intermediate_size', 3072),
  };
  // PretrainedConfig: id2label (keys are strings in JSON) wins over num_labels; default 2 labels.
  let id2label: Record<number, string> = {};
  if (f.has('id2label')) {
    const raw = f.obj.id2label;
    if (!isPlainObject(raw)) f.fail('id2label', 'an object {"0": "LABEL_0", ...}');
    for (const [k, v] of Object.entries(raw)) {
      const id = Number(k);
      if (!Number.isSafeInteger(id) || id < 0 || typeof v !== 'string')
        f.fail('id2label', 'an object mapping integer ids to label strings');
      id2label[id] = v;
    }
  }
  let numLabels = Object.keys(id2label).length;
  if (numLabels === 0) {
    numLabels = f.int('num_labels', 2);
    checkSize({ ...shape, numLabels }); // before the label table is built
    id2label = Object.fromEntries(Array.from({ length: numLabels }, (_, i) => [i, `LABEL_${i}`]));
  } else {
    if (f.has('num_labels') && f.int('num_labels', numLabels) !== numLabels)
      f.fail('num_labels', `equal to the number of id2label entries (${numLabels})`);
    checkSize({ ...shape, numLabels });
  }
  const problemType = f.has('problem_type') ? f.oneOf('problem_type', PROBLEM_TYPES, 'regression') : null;
  return {
    ...base,
    family: 'bert',
    modelType: modelType || 'bert',
    ...shape,
    numAttentionHeads,
    hiddenAct: f.oneOf('hidden_act', ACTIVATIONS, 'gelu'),
    layerNormEps: f.num('layer_norm_eps', 1e-12, true),
    positionEmbeddingType: f.str('position_embedding_type', 'absolute'),
    hiddenDropoutProb: f.num('hidden_dropout_prob', 0.1),
    attentionProbsDropoutProb: f.num('attention_probs_dropout_prob', 0.1),
    classifierDropout: f.optNum('classifier_dropout'),
    numLabels,
    id2label,
    problemType,
    tieWordEmbeddings: f.bool('tie_word_embeddings', true),
    bosTokenId: f.optInt('bos_token_id'),
    padTokenId: f.has('pad_token_id') ? base.padTokenId : 0,
  };
}

/**
 * Reads RoPE settings from `rope_parameters` (transformers v5) or `rope_scaling` (legacy), with
 * `rope_theta` / `partial_rotary_factor` from the dict or the top level (default 10000 / 1).
 * Layer-type-nested dicts (Gemma-style) are rejected.
 */
export function parseRopeParameters(f: FieldReader, maxPositionEmbeddings: number, headDim: number): RopeParameters {
  const key = f.has('rope_parameters') ? 'rope_parameters' : 'rope_scaling';
  const raw = f.has(key) ? f.obj[key] : {};
  if (!isPlainObject(raw)) f.fail(key, 'an object');
  if (Object.values(raw).some(isPlainObject)) {
    throw new Error(`${f.label}: field "${key}" holds per-layer-type RoPE settings, which are not supported`);
  }
  const r = new FieldReader(`${f.label}: ${key}`, raw);
  const typeField = r.has('rope_type') ? 'rope_type' : 'type';
  const ropeType = r.oneOf(typeField, ROPE_TYPES, 'default');
  const ropeTheta = r.has('rope_theta') ? r.num('rope_theta', 10000, true) : f.num('rope_theta', 10000, true);
  const partialRotaryFactor = r.has('partial_rotary_factor')
    ? r.num('partial_rotary_factor', 1, true)
    : f.num('partial_rotary_factor', 1, true);
  if (partialRotaryFactor > 1)
    (r.has('partial_rotary_factor') ? r : f).fail('partial_rotary_factor', 'a number in (0, 1]');
  const rotaryDim = Math.floor(headDim * partialRotaryFactor);
  // transformers' standardize_rope_params: a top-level original_max_position_embeddings (Phi-3) wins.
  let originalMaxPositionEmbeddings: number | null = null;
  if (ropeType === 'llama3' || ropeType === 'yarn' || ropeType === 'longrope') {
    originalMaxPositionEmbeddings = f.has('original_max_position_embeddings')
      ? f.int('original_max_position_embeddings', maxPositionEmbeddings)
      : r.int('original_max_position_embeddings', maxPositionEmbeddings);
  }
  const needFactor = ropeType === 'linear' || ropeType === 'dynamic' || ropeType === 'yarn' || ropeType === 'llama3';
  if (needFactor && !r.has('factor')) r.fail('factor', `present for rope_type "${ropeType}"`);
  const factor = r.optNum('factor', true);
  const params: RopeParameters = {
    ropeType,
    ropeTheta,
    partialRotaryFactor,
    factor,
    originalMaxPositionEmbeddings,
    attentionFactor: r.optNum('attention_factor'),
    betaFast: r.num('beta_fast', 32, true),
    betaSlow: r.num('beta_slow', 1, true),
    mscale: r.optNum('mscale'),
    mscaleAllDim: r.optNum('mscale_all_dim'),
    truncate: r.bool('truncate', true),
    lowFreqFactor: null,
    highFreqFactor: null,
    shortFactor: null,
    longFactor: null,
  };
  if (params.attentionFactor !== null && params.attentionFactor < 0) r.fail('attention_factor', 'a number >= 0');
  if (ropeType === 'llama3') {
    for (const k of ['low_freq_factor', 'high_freq_factor']) if (!r.has(k)) r.fail(k, 'present for rope_type "llama3"');
    params.lowFreqFactor = r.num('low_freq_factor', 1, true);
    params.highFreqFactor = r.num('high_freq_factor', 4, true);
    if (params.highFreqFactor <= params.lowFreqFactor)
      r.fail('high_freq_factor', `greater than low_freq_factor (${params.lowFreqFactor})`);
  }
  if (ropeType === 'yarn' && params.betaFast < params.betaSlow)
    r.fail('beta_fast', `>= beta_slow (${params.betaSlow})`);
  if (ropeType === 'longrope') {
    for (const k of ['short_factor', 'long_factor']) if (!r.has(k)) r.fail(k, `a list of ${rotaryDim / 2} numbers`);
    params.shortFactor = r.optNumList('short_factor', Math.floor(rotaryDim / 2));
    params.longFactor = r.optNumList('long_factor', Math.floor(rotaryDim / 2));
  }
  return params;
}

/** What {@link computeRopeInvFreq} needs from a config. */
export interface RopeConfig {
  headDim: number;
  maxPositionEmbeddings: number;
  rope: RopeParameters;
}

/**
 * Inverse frequencies of the rotary embedding and the attention (cos/sin) scaling, as transformers'
 * `ROPE_INIT_FUNCTIONS[rope_type](config, device, seq_len)` computes them:
 *
 * - default: `inv_freq[i] = 1 / θ^(2i/d)`, d = floor(head_dim × partial_rotary_factor).
 * - linear: default / factor.
 * - dynamic (NTK): θ' = θ·((factor·L/max_pos) − (factor − 1))^(d/(d−2)) with L = max(seqLen, max_pos).
 * - yarn: blend of interpolated (÷factor) and extrapolated frequencies with a linear ramp over the
 *   correction range of beta_fast/beta_slow rotations at original_max_position_embeddings; attention
 *   scaling `0.1·ln(factor)+1` (or the mscale/mscale_all_dim ratio, or attention_factor).
 * - llama3: wavelengths above original/low_freq_factor are ÷factor, below original/high_freq_factor
 *   unchanged, smoothly interpolated in between.
 * - longrope: `1 / (ext·θ^(2i/d))` with ext = long_factor when seqLen > original, else short_factor;
 *   attention scaling `sqrt(1 + ln(factor)/ln(original))` (factor default max_pos/original).
 *
 * Computed in float64 (transformers computes in float32, so values agree to float32 rounding).
 *
 * @param config head_dim, max_position_embeddings and RoPE parameters (e.g. a {@link DecoderConfig})
 * @param seqLen current sequence length (only dynamic and longrope depend on it); default none
 * @returns `invFreq` of length d/2 and `attentionScaling` (1 for default/linear/dynamic/llama3)
 */
export function computeRopeInvFreq(
  config: RopeConfig,
  seqLen?: number,
): { invFreq: Float64Array; attentionScaling: number } {
  const p = config.rope;
  const dim = Math.floor(config.headDim * p.partialRotaryFactor);
  const half = Math.floor((dim + 1) / 2); // arange(0, dim, 2) has ceil(dim/2) entries
  const defaultInvFreq = (base: number): Float64Array => {
    const out = new Float64Array(half);
    for (let i = 0; i < half; i++) out[i] = 1 / base ** ((2 * i) / dim);
    return out;
  };
  const maxPos = config.maxPositionEmbeddings;
  switch (p.ropeType) {
    case 'default':
      return { invFreq: defaultInvFreq(p.ropeTheta), attentionScaling: 1 };
    case 'linear': {
      const invFreq = defaultInvFreq(p.ropeTheta).map((v) => v / p.factor!);
      return { invFreq, attentionScaling: 1 };
    }
    case 'dynamic': {
      const factor = p.factor!;
      const len = Math.max(seqLen ?? maxPos, maxPos);
      const base = p.ropeTheta * ((factor * len) / maxPos - (factor - 1)) ** (dim / (dim - 2));
      return { invFreq: defaultInvFreq(base), attentionScaling: 1 };
    }
    case 'yarn':
      return yarnInvFreq(p, dim, half, maxPos);
    case 'llama3': {
      const factor = p.factor!;
      const low = p.lowFreqFactor!;
      const high = p.highFreqFactor!;
      const oldContext = p.originalMaxPositionEmbeddings ?? maxPos;
      const lowFreqWavelen = oldContext / low;
      const highFreqWavelen = oldContext / high;
      const invFreq = defaultInvFreq(p.ropeTheta).map((f) => {
        const wavelen = (2 * Math.PI) / f;
        if (wavelen < highFreqWavelen) return f;
        if (wavelen > lowFreqWavelen) return f / factor;
        const smooth = (oldContext / wavelen - low) / (high - low);
        return ((1 - smooth) * f) / factor + smooth * f;
      });
      return { invFreq, attentionScaling: 1 };
    }
    case 'longrope': {
      const original = p.originalMaxPositionEmbeddings ?? maxPos;
      const factor = p.factor ?? maxPos / original;
      const attentionScaling =
        p.attentionFactor ?? (factor <= 1 ? 1 : Math.sqrt(1 + Math.log(factor) / Math.log(original)));
      const ext = seqLen !== undefined && seqLen > original ? p.longFactor! : p.shortFactor!;
      const invFreq = new Float64Array(half);
      for (let i = 0; i < half; i++) invFreq[i] = 1 / (ext[i]! * p.ropeTheta ** ((2 * i) / dim));
      return { invFreq, attentionScaling };
    }
  }
}

function yarnInvFreq(
  p: RopeParameters,
  dim: number,
  half: number,
  maxPos: number,
): { invFreq: Float64Array; attentionScaling: number } {
  const original = p.originalMaxPositionEmbeddings ?? maxPos;
  const factor = p.factor ?? maxPos / original;
  const mscale = (scale: number, m = 1): number => (scale <= 1 ? 1 : 0.1 * m * Math.log(scale) + 1);
  let attentionScaling = p.attentionFactor;
  if (attentionScaling === null) {
    // transformers tests truthiness: a 0 mscale counts as absent.
    attentionScaling =
      p.mscale && p.mscaleAllDim ? mscale(factor, p.mscale) / mscale(factor, p.mscaleAllDim) : mscale(factor);
  }
  // Dimension index at which a frequency completes `rotations` turns over the original context.
  const correctionDim = (rotations: number): number =>
    (dim * Math.log(original / (rotations * 2 * Math.PI))) / (2 * Math.log(p.ropeTheta));
  let low = correctionDim(p.betaFast);
  let high = correctionDim(p.betaSlow);
  if (p.truncate) {
    low = Math.floor(low);
    high = Math.ceil(high);
  }
  low = Math.max(low, 0);
  high = Math.min(high, dim - 1);
  if (low === high) high += 0.001; // avoid a zero-width ramp, as the reference does
  const invFreq = new Float64Array(half);
  for (let i = 0; i < half; i++) {
    const posFreq = p.ropeTheta ** ((2 * i) / dim);
    const extrapolation = 1 / posFreq;
    const interpolation = 1 / (factor * posFreq);
    const ramp = Math.min(1, Math.max(0, (i - low) / (high - low)));
    const extrapolationWeight = 1 - ramp;
    invFreq[i] = interpolation * (1 - extrapolationWeight) + extrapolation * extrapolationWeight;
  }
  return { invFreq, attentionScaling };
}

/** Normalised generation_config.json with transformers' GenerationConfig defaults. */
export interface GenerationConfig {
  bosTokenId: number | null;
  /** int or list in the file; always a list here ([] when absent). */
  eosTokenIds: number[];
  padTokenId: number | null;
  /** default 20 */
  maxLength: number;
  maxNewTokens: number | null;
  /** default 0 */
  minLength: number;
  minNewTokens: number | null;
  /** default false */
  doSample: boolean;
  /** default 1.0 */
  temperature: number;
  /** default 50 */
  topK: number;
  /** default 1.0 */
  topP: number;
  minP: number | null;
  /** default 1.0 */
  typicalP: number;
  /** default 1.0 */
  repetitionPenalty: number;
  /** default 0 */
  noRepeatNgramSize: number;
  /** default 1 */
  numBeams: number;
  /** default 1 */
  numReturnSequences: number;
  /** default 1.0 */
  lengthPenalty: number;
  /** default true */
  useCache: boolean;
}

/**
 * Reads `<dir>/generation_config.json` (or the given file); returns the defaults when a folder has
 * none. See {@link parseGenerationConfig}.
 */
export function readGenerationConfig(dirOrFile: string): GenerationConfig {
  const isDir = existsSync(dirOrFile) && statSync(dirOrFile).isDirectory();
  const path = isDir ? join(dirOrFile, 'generation_config.json') : dirOrFile;
  if (isDir && !existsSync(path)) return parseGenerationConfig({});
  return parseGenerationConfig(readJsonObject(path), path);
}

/**
 * Validates a parsed generation_config.json. Defaults are those of transformers' GenerationConfig
 * (max_length 20, do_sample false, temperature 1, top_k 50, top_p 1, repetition_penalty 1, ...).
 *
 * @param label file name for error messages; default "generation_config.json"
 */
export function parseGenerationConfig(
  json: Record<string, unknown>,
  label = 'generation_config.json',
): GenerationConfig {
  const f = new FieldReader(label, json);
  const probability = (field: string, fallback: number): number => {
    const v = f.num(field, fallback);
    if (v < 0 || v > 1) f.fail(field, 'a number in [0, 1]');
    return v;
  };
  const minP = f.has('min_p') ? probability('min_p', 0) : null;
  return {
    bosTokenId: f.optInt('bos_token_id'),
    eosTokenIds: f.idList('eos_token_id'),
    padTokenId: f.optInt('pad_token_id'),
    maxLength: f.int('max_length', 20),
    maxNewTokens: f.optInt('max_new_tokens', 1),
    minLength: f.int('min_length', 0, 0),
    minNewTokens: f.optInt('min_new_tokens', 0),
    doSample: f.bool('do_sample', false),
    temperature: f.num('temperature', 1, true),
    topK: f.int('top_k', 50, 0),
    topP: probability('top_p', 1),
    minP,
    typicalP: probability('typical_p', 1),
    repetitionPenalty: f.num('repetition_penalty', 1, true),
    noRepeatNgramSize: f.int('no_repeat_ngram_size', 0, 0),
    numBeams: f.int('num_beams', 1),
    numReturnSequences: f.int('num_return_sequences', 1),
    lengthPenalty: f.num('length_penalty', 1),
    useCache: f.bool('use_cache', true),
  };
}
