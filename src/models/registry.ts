/**
 * The architectures tunekit builds, keyed by config.json `model_type`: for each, its config.json
 * parser, its causal LM class and its task classes. {@link parseModelConfig} and the `Auto*` classes
 * (auto.ts) read this table only, so adding an architecture is its model file and one line here
 * (or one {@link registerArchitecture} call from outside the package). See docs/models.md.
 */
import { readConfigJson } from '../io/hf-config.js';
import { FieldReader } from '../io/json.js';
import { checkModelSize, modelMemoryBudget, type SizeTerm } from '../io/model-size.js';
import type { Module } from '../nn/module.js';
import type { Tensor } from '../tensor/tensor.js';
import {
  BertForQuestionAnswering,
  BertForSequenceClassification,
  BertForTokenClassification,
  BertModel,
  isBertConfig,
  withLabels,
  type BertInput,
  type QuestionAnsweringInput,
  type QuestionAnsweringOutput,
  type SequenceClassificationInput,
} from './bert.js';
import {
  BERT_ARCHITECTURES,
  bertSizeTerms,
  parseBertConfig,
  type BertConfig,
  type ProblemType,
} from './bert-config.js';
import type { CausalLM } from './causal-lm.js';
import { GPT2LMHeadModel } from './gpt2.js';
import { GPT2_ARCHITECTURES, gpt2SizeTerms, parseGpt2Config, type Gpt2Config } from './gpt2-config.js';
import { LlamaForCausalLM } from './llama.js';
import {
  DECODER_ARCHITECTURES,
  decoderSizeTerms,
  parseDecoderConfig,
  type DecoderConfig,
  type DecoderFamily,
} from './llama-config.js';
import { baseFields, type ConfigContext, type ModelConfigBase, type ModelConfigOptions } from './model-config.js';
import {
  GPT2ForSequenceClassification,
  LlamaForSequenceClassification,
  type DecoderClassificationInput,
} from './sequence-classification.js';
import type { WeightDtype } from './weights.js';

/** Any config the built-in architectures parse; switch on `family`. */
export type ModelConfig = DecoderConfig | Gpt2Config | BertConfig;

/** Label options of the task heads (transformers' num_labels / id2label / problem_type kwargs). */
export interface LabelOptions {
  /** Number of labels of the head; overrides config.json (its id2label becomes LABEL_0..). */
  numLabels?: number;
  /** Label names by id; overrides config.json and sets numLabels. */
  id2label?: Record<number, string>;
  /** Loss of sequence classification; overrides config.json's problem_type. */
  problemType?: ProblemType;
  /** Decoder classifiers: the pad id whose last non-pad position is pooled, when config.json has none. */
  padTokenId?: number;
}

/** What every task class's `fromPretrained` takes through the Auto classes. */
export interface TaskLoadOptions extends LabelOptions {
  /** How frozen weights are kept (default 'float32'); heads are always float32. */
  dtype?: WeightDtype;
  /** Seed for freshly initialised weights (default 0). */
  seed?: number;
  /** Receives the "newly initialised" / "not used" messages (default: stderr). */
  onWarning?: (message: string) => void;
}

/** What every `create` (random weights from a parsed config) takes. */
export interface CreateOptions extends LabelOptions {
  /** Seed of the random initialisation. */
  seed: number;
  /** config.json as given (written back by savePretrained). */
  configJson: Record<string, unknown>;
}

/** How one class of an architecture is loaded from a folder and built from a parsed config. */
export interface ModelClass<C extends ModelConfigBase, M, L> {
  /** Load a Hugging Face folder (config.json + safetensors). */
  fromPretrained(dir: string, opts: L): M;
  /** A randomly initialised model from the config this entry's parser returned. */
  create(config: C, opts: CreateOptions): M;
}

/** A model with a savePretrained, the common surface of every task class. */
export interface SavableModel extends Module {
  /** Write config.json and model.safetensors under transformers' key names. */
  savePretrained(dir: string): void;
}

/** An encoder without a head (AutoModel): hidden states per token. */
export interface EncoderModel extends SavableModel {
  /** Hidden states [batch, seq, hidden] and the pooled output (null without a pooler). */
  forward(input: BertInput): { hidden: Tensor; pooled: Tensor | null };
}

/** Sentence-level classification or regression (AutoModelForSequenceClassification). */
export interface SequenceClassifier extends SavableModel {
  readonly numLabels: number;
  /**
   * logits [batch, numLabels]; with labels, the loss of the config's problem type. `tokenTypeIds`,
   * `inputsEmbeds` and `prefix` are BERT's (decoder classifiers take `inputIds` and a mask).
   */
  forward(input: DecoderClassificationInput & SequenceClassificationInput): { logits: Tensor; loss?: Tensor };
}

/** Per-token tagging (AutoModelForTokenClassification). */
export interface TokenClassifier extends SavableModel {
  readonly numLabels: number;
  /** logits [batch, seq, numLabels]; with labels [batch * seq] (-100 ignored), the loss. */
  forward(input: BertInput & { labels?: Int32Array }): { logits: Tensor; loss?: Tensor };
}

/** Extractive question answering (AutoModelForQuestionAnswering). */
export interface QuestionAnswerer extends SavableModel {
  /** Start and end logits per token; with positions, the span loss. */
  forward(input: QuestionAnsweringInput): QuestionAnsweringOutput;
}

/**
 * One architecture: which config.json files it reads, how it parses them, and its classes. Every
 * class is optional; an Auto class asked for a class an architecture lacks names the architectures
 * that have it.
 */
export interface ArchitectureEntry<C extends ModelConfigBase = ModelConfigBase> {
  /** config.json `model_type` of its checkpoints (the registry key, and the parsed config's `family`). */
  readonly modelType: string;
  /**
   * Class names of config.json `architectures[0]` this entry reads, as `config.architecture`;
   * the first is assumed when config.json has only a model_type.
   */
  readonly architectures: readonly string[];
  /** Task-head class names whose config is this family's first architecture's (e.g. LlamaForSequenceClassification). */
  readonly headArchitectures?: readonly string[];
  /**
   * Other class names read as the first architecture when this returns true for the config
   * (BERT: any Bert* class of a `model_type: "bert"` checkpoint, e.g. BertForNextSentencePrediction).
   */
  acceptsOther?(name: string, json: Record<string, unknown>): boolean;
  /** Validates and normalises config.json (error messages name the file and the field). */
  parseConfig(ctx: ConfigContext): C;
  /** The declared shapes' memory terms, the layer count and its field, for {@link checkModelConfigSize}. */
  sizeTerms(config: C): { terms: SizeTerm[]; layers: number; layersField: string };
  causalLM?: ModelClass<C, CausalLM, { dtype: WeightDtype }>;
  encoder?: ModelClass<C, EncoderModel, TaskLoadOptions>;
  sequenceClassification?: ModelClass<C, SequenceClassifier, TaskLoadOptions>;
  tokenClassification?: ModelClass<C, TokenClassifier, TaskLoadOptions>;
  questionAnswering?: ModelClass<C, QuestionAnswerer, TaskLoadOptions>;
}

/** The class kinds an entry may provide, by the name the Auto classes use in messages. */
export type ModelKind = 'causalLM' | 'encoder' | 'sequenceClassification' | 'tokenClassification' | 'questionAnswering';

/** One Llama-family model_type: the same classes, the family's defaults in the parser. */
function llamaFamily(modelType: DecoderFamily): ArchitectureEntry<DecoderConfig> {
  const [causalLM, ...heads] = DECODER_ARCHITECTURES[modelType];
  return {
    modelType,
    architectures: [causalLM],
    headArchitectures: heads,
    parseConfig: parseDecoderConfig,
    sizeTerms: (c) => ({ terms: decoderSizeTerms(c), layers: c.numHiddenLayers, layersField: 'num_hidden_layers' }),
    causalLM: {
      fromPretrained: (dir, opts) => LlamaForCausalLM.fromPretrained(dir, opts),
      create: (config, opts) => new LlamaForCausalLM(config, opts),
    },
    sequenceClassification: {
      fromPretrained: (dir, opts) => LlamaForSequenceClassification.fromPretrained(dir, opts),
      create: (config, opts) => new LlamaForSequenceClassification(config, opts),
    },
  };
}

/** BERT refuses the decoder-only padTokenId option rather than ignoring it. */
function refusePadTokenId(opts: LabelOptions): void {
  if (opts.padTokenId !== undefined)
    throw new Error('padTokenId applies to decoder classifiers (last-token pooling); BERT pools [CLS]');
}

/** A BERT class for the registry: label options applied to the parsed config, padTokenId refused. */
function bertClass<M>(
  load: (dir: string, opts: TaskLoadOptions) => M,
  make: (config: BertConfig, opts: CreateOptions) => M,
): ModelClass<BertConfig, M, TaskLoadOptions> {
  return {
    fromPretrained: (dir, opts) => {
      refusePadTokenId(opts);
      return load(dir, opts);
    },
    create: (config, opts) => {
      refusePadTokenId(opts);
      return make(withLabels(config, opts), opts);
    },
  };
}

const BERT: ArchitectureEntry<BertConfig> = {
  modelType: 'bert',
  architectures: BERT_ARCHITECTURES,
  acceptsOther: (_name, json) => isBertConfig(json),
  parseConfig: parseBertConfig,
  sizeTerms: (c) => ({ terms: bertSizeTerms(c), layers: c.numHiddenLayers, layersField: 'num_hidden_layers' }),
  encoder: bertClass(
    (dir, opts) => BertModel.fromPretrained(dir, opts),
    (config, opts) => new BertModel(config, opts),
  ),
  sequenceClassification: bertClass(
    (dir, opts) => BertForSequenceClassification.fromPretrained(dir, opts),
    (config, opts) => new BertForSequenceClassification(config, opts),
  ),
  tokenClassification: bertClass(
    (dir, opts) => BertForTokenClassification.fromPretrained(dir, opts),
    (config, opts) => new BertForTokenClassification(config, opts),
  ),
  questionAnswering: bertClass(
    (dir, opts) => BertForQuestionAnswering.fromPretrained(dir, opts),
    (config, opts) => new BertForQuestionAnswering(config, opts),
  ),
};

/** The built-in architectures, one line each (the order is the order of SUPPORTED_ARCHITECTURES). */
const BUILTIN: ArchitectureEntry[] = [
  llamaFamily('llama'),
  llamaFamily('mistral'),
  llamaFamily('qwen2'),
  llamaFamily('qwen3'),
  {
    modelType: 'gpt2',
    architectures: GPT2_ARCHITECTURES.slice(0, 1),
    headArchitectures: GPT2_ARCHITECTURES.slice(1),
    parseConfig: parseGpt2Config,
    sizeTerms: (c: Gpt2Config) => ({ terms: gpt2SizeTerms(c), layers: c.numHiddenLayers, layersField: 'n_layer' }),
    causalLM: {
      fromPretrained: (dir, opts) => GPT2LMHeadModel.fromPretrained(dir, opts),
      create: (config: Gpt2Config, opts) => new GPT2LMHeadModel(config, opts),
    },
    sequenceClassification: {
      fromPretrained: (dir, opts) => GPT2ForSequenceClassification.fromPretrained(dir, opts),
      create: (config: Gpt2Config, opts) => new GPT2ForSequenceClassification(config, opts),
    },
  } satisfies ArchitectureEntry<Gpt2Config>,
  BERT,
];

const byModelType = new Map<string, ArchitectureEntry>();
/** Class name -> [entry, the architecture it resolves to]. */
const byArchitecture = new Map<string, [ArchitectureEntry, string]>();

/**
 * Adds an architecture: its model_type and class names must be new. From then on
 * {@link parseModelConfig}, {@link readModelConfig} and the `Auto*` classes handle its checkpoints.
 *
 * @throws Error when the model_type or a class name is already registered, or the entry lists no architecture
 */
export function registerArchitecture<C extends ModelConfigBase>(entry: ArchitectureEntry<C>): void {
  const [first] = entry.architectures;
  if (first === undefined) throw new Error(`registerArchitecture: "${entry.modelType}" lists no architectures`);
  if (byModelType.has(entry.modelType))
    throw new Error(`registerArchitecture: model_type "${entry.modelType}" is already registered`);
  const names = [...entry.architectures, ...(entry.headArchitectures ?? [])];
  for (const name of names)
    if (byArchitecture.has(name)) throw new Error(`registerArchitecture: "${name}" is already registered`);
  byModelType.set(entry.modelType, entry);
  for (const name of entry.architectures) byArchitecture.set(name, [entry, name]);
  for (const name of entry.headArchitectures ?? []) byArchitecture.set(name, [entry, first]);
}

for (const entry of BUILTIN) registerArchitecture(entry);

/** Class names of config.json `architectures[0]` the built-in architectures read (task-head aliases aside). */
export const SUPPORTED_ARCHITECTURES: readonly string[] = BUILTIN.flatMap((e) => e.architectures);

/** Every registered architecture class name (built-in and registered), for error messages. */
export function supportedArchitectures(): string[] {
  return [...byModelType.values()].flatMap((e) => e.architectures);
}

/** The registry entry of a config.json `model_type`, or undefined. */
export function architectureEntry(modelType: string): ArchitectureEntry | undefined {
  return byModelType.get(modelType);
}

/** The entry of a parsed config (its `family` is the registry key). */
export function entryOf(config: ModelConfigBase): ArchitectureEntry {
  const entry = byModelType.get(config.family);
  if (!entry) throw new Error(`${config.architecture}: no registered architecture has model_type "${config.family}"`);
  return entry;
}

/** model_types whose entry provides `kind` (for "available for ... only" messages). */
export function modelTypesWith(kind: ModelKind): string[] {
  return [...byModelType.values()].filter((e) => e[kind] !== undefined).map((e) => e.modelType);
}

function otherArchitecture(name: string, json: Record<string, unknown>): [ArchitectureEntry, string] | undefined {
  for (const entry of byModelType.values()) {
    const [first] = entry.architectures;
    if (first !== undefined && entry.acceptsOther?.(name, json)) return [entry, first];
  }
  return undefined;
}

function resolveArchitecture(f: FieldReader): [ArchitectureEntry, string] {
  const supported = `supported: ${supportedArchitectures().join(', ')}`;
  if (f.has('architectures')) {
    const list = f.obj.architectures;
    if (!Array.isArray(list) || list.length === 0 || typeof list[0] !== 'string')
      f.fail('architectures', 'a non-empty list of class names');
    const name: string = list[0];
    const found = byArchitecture.get(name) ?? otherArchitecture(name, f.obj);
    if (!found) throw new Error(`${f.label}: unsupported architecture "${name}" (${supported})`);
    return found;
  }
  const modelType = f.str('model_type', '');
  const entry = byModelType.get(modelType);
  const first = entry?.architectures[0];
  if (!entry || first === undefined)
    throw new Error(
      `${f.label}: no "architectures" and unsupported model_type ${JSON.stringify(modelType)} (${supported})`,
    );
  return [entry, first];
}

/**
 * Validates and normalises a parsed config.json with the parser of its architecture
 * (`architectures[0]`, else `model_type`). Absent fields take the defaults of the transformers
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
 * @returns a built-in architecture's config is one of {@link ModelConfig} (switch on `family`)
 * @throws Error `config.json: field "hidden_size" must be a positive integer, got "abc"` and the like;
 *   unsupported architectures list the supported ones; shapes over the memory budget name the fields
 */
export function parseModelConfig(
  json: Record<string, unknown>,
  label = 'config.json',
  opts: ModelConfigOptions = {},
): ModelConfigBase {
  const f: FieldReader = new FieldReader(label, json);
  const [entry, architecture] = resolveArchitecture(f);
  return entry.parseConfig({
    f,
    architecture,
    modelType: f.str('model_type', ''),
    family: entry.modelType,
    base: baseFields(f, architecture),
    checkSize: opts.checkSize ?? false,
    budget: opts.maxModelBytes ?? modelMemoryBudget(),
  });
}

/**
 * Reads `<dir>/config.json` (or the file itself when given a file) for loading a model: the declared
 * shapes are checked against the memory budget unless `opts.checkSize` is false. See {@link parseModelConfig}.
 */
export function readModelConfig(dirOrFile: string, opts: ModelConfigOptions = {}): ModelConfigBase {
  const { json, path } = readConfigJson(dirOrFile);
  return parseModelConfig(json, path, { ...opts, checkSize: opts.checkSize ?? true });
}

/**
 * Throws when the parameters the config declares (× the declared dtype's size, plus a per-layer
 * overhead) exceed `budget` bytes, or its layers would not fit the JavaScript heap, naming `label`
 * and the fields of the largest part. Nothing is allocated.
 */
export function checkModelConfigSize(
  config: ModelConfigBase,
  label = 'config.json',
  budget = modelMemoryBudget(),
): void {
  const { terms, layers, layersField } = entryOf(config).sizeTerms(config);
  checkModelSize(label, terms, layers, layersField, budget);
}
