/**
 * transformers-style Auto classes: pick the architecture from config.json (`architectures[0]`, else
 * `model_type`) in the registry (registry.ts), then load a folder (`fromPretrained`) or build
 * seeded random weights (`fromConfig`) with that architecture's class for the task.
 *
 *   const lm = AutoModelForCausalLM.fromPretrained('models/gpt2');
 *   const clf = AutoModelForSequenceClassification.fromPretrained('models/bert-base-uncased', { numLabels: 3 });
 */
import { readConfigJson } from '../io/hf-config.js';
import { setComputeDtype, type ComputeDtype } from '../nn/compute-dtype.js';
import type { CausalLM } from './causal-lm.js';
import {
  entryOf,
  modelTypesWith,
  parseModelConfig,
  type ArchitectureEntry,
  type EncoderModel,
  type ModelClass,
  type ModelKind,
  type QuestionAnswerer,
  type SequenceClassifier,
  type TaskLoadOptions,
  type TokenClassifier,
} from './registry.js';
import { GPT2ForSequenceClassification, LlamaForSequenceClassification } from './sequence-classification.js';
import type { ClassifierOptions } from './sequence-classification.js';
import type { ModelConfigBase } from './model-config.js';
import type { WeightDtype } from './weights.js';

/** Any causal language model the Auto classes can load (every registered architecture's CausalLM). */
export type AutoCausalLM = CausalLM;

/** Options of the `fromConfig` constructors. */
export interface FromConfigOptions {
  /** Seed of the random initialisation (default 0). */
  seed?: number;
}

/** Label options of the head constructors (transformers' num_labels / id2label / problem_type kwargs). */
export type HeadConfigOptions = FromConfigOptions &
  Pick<TaskLoadOptions, 'numLabels' | 'id2label' | 'problemType' | 'padTokenId'>;

/** How each kind is named in messages. */
const TASK_NAMES: Record<ModelKind, string> = {
  causalLM: 'causal language modelling',
  encoder: 'AutoModel',
  sequenceClassification: 'sequence classification',
  tokenClassification: 'token classification',
  questionAnswering: 'question answering',
};

/** The entry's class for `kind`, or an error naming the model types that have one. */
function classFor<K extends ModelKind>(
  config: ModelConfigBase,
  kind: K,
  label: string,
): NonNullable<ArchitectureEntry[K]> {
  const entry = entryOf(config);
  const cls = entry[kind];
  if (cls !== undefined && cls !== null) return cls;
  if (kind === 'causalLM' && entry.encoder)
    throw new Error(`${label}: ${config.architecture} is an encoder, not a causal language model`);
  throw new Error(
    `${label}: ${TASK_NAMES[kind]} is available for ${modelTypesWith(kind).join(', ')} checkpoints only; this config is ${config.architecture}`,
  );
}

/** Parses `<dir>/config.json` without the size check (the class's own fromPretrained checks it). */
function folderConfig(dir: string): ModelConfigBase {
  const { json, path } = readConfigJson(dir);
  return parseModelConfig(json, path, { checkSize: false });
}

/** What every task Auto class does: look the class up, then load the folder or build from a config object. */
const task = {
  load<M>(
    dir: string,
    pick: (c: ModelConfigBase) => ModelClass<ModelConfigBase, M, TaskLoadOptions>,
    opts: TaskLoadOptions,
  ): M {
    return pick(folderConfig(dir)).fromPretrained(dir, opts);
  },
  create<M>(
    configJson: Record<string, unknown>,
    pick: (c: ModelConfigBase) => ModelClass<ModelConfigBase, M, TaskLoadOptions>,
    opts: HeadConfigOptions,
  ): M {
    const config = parseModelConfig(configJson, 'config.json', { checkSize: true });
    const { seed, ...labels } = opts;
    return pick(config).create(config, { ...labels, seed: seed ?? 0, configJson });
  },
};

/** Decoder-only language models: Llama/Mistral/Qwen2/Qwen3 → LlamaForCausalLM, GPT-2 → GPT2LMHeadModel, and registered ones. */
export class AutoModelForCausalLM {
  private constructor() {}

  /**
   * Load a Hugging Face folder (config.json + model.safetensors or a sharded index).
   * Weights are frozen (train adapters); eval mode.
   *
   * @param opts.dtype how frozen weights are kept: 'float32' (default), 'bfloat16', 'float16', 'auto' (as stored)
   * @param opts.computeDtype 'bfloat16': frozen matrices stored as bf16 and multiplied in bf16 with
   *   float32 accumulation; 'int8': int8 with per-row scales (see nn/compute-dtype.ts); overrides
   *   `dtype` for those matrices
   * @throws Error for encoder-only (BERT) or unsupported architectures
   */
  static fromPretrained(dir: string, opts: { dtype?: WeightDtype; computeDtype?: ComputeDtype } = {}): AutoCausalLM {
    const lm = classFor(folderConfig(dir), 'causalLM', dir);
    const compute = opts.computeDtype ?? 'float32';
    // Loading bf16 directly avoids a float32 copy of every matrix on the way.
    const model = lm.fromPretrained(dir, {
      dtype: compute === 'bfloat16' ? 'bfloat16' : (opts.dtype ?? 'float32'),
    });
    if (compute !== 'float32') setComputeDtype(model, compute);
    return model;
  }

  /** A randomly initialised model from a config.json object (kept for savePretrained). Trainable, train mode. */
  static fromConfig(configJson: Record<string, unknown>, opts: FromConfigOptions = {}): AutoCausalLM {
    const config = parseModelConfig(configJson, 'config.json', { checkSize: true });
    return classFor(config, 'causalLM', 'config.json').create(config, { seed: opts.seed ?? 0, configJson });
  }
}

/** The bare encoder (BertModel): hidden states and the pooled [CLS]. */
export class AutoModel {
  private constructor() {}

  /** Load any BERT checkpoint's encoder (task heads and pretraining heads are skipped). Frozen, eval mode. */
  static fromPretrained(dir: string, opts: Pick<TaskLoadOptions, 'dtype' | 'seed' | 'onWarning'> = {}): EncoderModel {
    return task.load(dir, (c) => classFor(c, 'encoder', dir), opts);
  }

  /** A randomly initialised encoder from a config.json object. Trainable, train mode. */
  static fromConfig(configJson: Record<string, unknown>, opts: FromConfigOptions = {}): EncoderModel {
    return task.create(configJson, (c) => classFor(c, 'encoder', 'config.json'), opts);
  }
}

/**
 * Sentence-level classification or regression: BertForSequenceClassification, Llama/Mistral/Qwen2/
 * Qwen3ForSequenceClassification (last non-pad token) or GPT2ForSequenceClassification. From a
 * checkpoint without a head (BertModel, pretraining, a causal LM), the head is initialised with a
 * warning.
 */
export class AutoModelForSequenceClassification {
  private constructor() {}

  /** Body frozen, head trainable, eval mode. `numLabels` / `id2label` override config.json. */
  static fromPretrained(dir: string, opts: TaskLoadOptions = {}): SequenceClassifier {
    return task.load(dir, (c) => classFor(c, 'sequenceClassification', dir), opts);
  }

  /** Randomly initialised, trainable, train mode. */
  static fromConfig(configJson: Record<string, unknown>, opts: HeadConfigOptions = {}): SequenceClassifier {
    return task.create(configJson, (c) => classFor(c, 'sequenceClassification', 'config.json'), opts);
  }
}

/** Per-token tagging (NER, POS): BertForTokenClassification. */
export class AutoModelForTokenClassification {
  private constructor() {}

  /** Encoder frozen, classifier trainable, eval mode. `numLabels` / `id2label` override config.json. */
  static fromPretrained(dir: string, opts: TaskLoadOptions = {}): TokenClassifier {
    return task.load(dir, (c) => classFor(c, 'tokenClassification', dir), opts);
  }

  /** Randomly initialised, trainable, train mode. */
  static fromConfig(configJson: Record<string, unknown>, opts: HeadConfigOptions = {}): TokenClassifier {
    return task.create(configJson, (c) => classFor(c, 'tokenClassification', 'config.json'), opts);
  }
}

/** Extractive question answering (span start/end): BertForQuestionAnswering. */
export class AutoModelForQuestionAnswering {
  private constructor() {}

  /** Encoder frozen, qa_outputs trainable, eval mode. */
  static fromPretrained(
    dir: string,
    opts: Omit<TaskLoadOptions, 'numLabels' | 'id2label' | 'problemType'> = {},
  ): QuestionAnswerer {
    return task.load(dir, (c) => classFor(c, 'questionAnswering', dir), opts);
  }

  /** Randomly initialised (2 labels: start and end), trainable, train mode. */
  static fromConfig(configJson: Record<string, unknown>, opts: FromConfigOptions = {}): QuestionAnswerer {
    return task.create(configJson, (c) => classFor(c, 'questionAnswering', 'config.json'), { ...opts, numLabels: 2 });
  }
}

/** A randomly initialised decoder classifier (Llama family or GPT-2) from a config.json object. */
export function decoderClassifierFromConfig(
  configJson: Record<string, unknown>,
  opts: ClassifierOptions = {},
): LlamaForSequenceClassification | GPT2ForSequenceClassification {
  const model = AutoModelForSequenceClassification.fromConfig(configJson, opts);
  if (model instanceof LlamaForSequenceClassification || model instanceof GPT2ForSequenceClassification) return model;
  throw new Error('config.json: not a decoder (Llama family or GPT-2); BERT has its own BertForSequenceClassification');
}
