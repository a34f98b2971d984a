/**
 * transformers-style Auto classes: pick the model class from config.json's architecture (or
 * model_type), then load a folder (`fromPretrained`) or build seeded random weights (`fromConfig`).
 *
 *   const lm = AutoModelForCausalLM.fromPretrained('models/gpt2');
 *   const clf = AutoModelForSequenceClassification.fromPretrained('models/bert-base-uncased', { numLabels: 3 });
 */
import { join } from 'node:path';
import { parseModelConfig, readModelConfig, type BertConfig, type ModelConfig } from '../io/hf-config.js';
import { readJsonObject } from '../io/json.js';
import {
  BertForQuestionAnswering,
  BertForSequenceClassification,
  BertForTokenClassification,
  BertModel,
  isBertConfig,
  withLabels,
  type BertLoadOptions,
} from './bert.js';
import { causalLMEntry, type AutoCausalLM } from './registry.js';
import type { WeightDtype } from './weights.js';
import { setComputeDtype, type ComputeDtype } from '../nn/compute-dtype.js';

/** Any causal language model the Auto classes can load. */
export type { AutoCausalLM } from './registry.js';

/** Options of the `fromConfig` constructors. */
export interface FromConfigOptions {
  /** Seed of the random initialisation (default 0). */
  seed?: number;
}

function requireBert(config: ModelConfig, task: string, label: string): BertConfig {
  if (config.family !== 'bert')
    throw new Error(`${label}: ${task} is available for BERT checkpoints only; this config is ${config.architecture}`);
  return config;
}

/** A BERT config.json object parsed (any Bert* head class), or an error naming the task. */
function parseBertJson(json: Record<string, unknown>, task: string): BertConfig {
  if (!isBertConfig(json))
    return requireBert(parseModelConfig(json, 'config.json', { checkSize: true }), task, 'config.json');
  return parseModelConfig({ ...json, architectures: null }, 'config.json', { checkSize: true }) as BertConfig;
}

/** Checks that `dir` holds a BERT checkpoint (whatever head class its config.json names). */
function requireBertFolder(dir: string, task: string): void {
  const json = readJsonObject(join(dir, 'config.json'));
  if (!isBertConfig(json)) {
    const what = Array.isArray(json.architectures)
      ? String(json.architectures[0])
      : `model_type ${JSON.stringify(json.model_type)}`;
    throw new Error(`${dir}: ${task} is available for BERT checkpoints only; this config is ${what}`);
  }
}

/**
 * What every BERT Auto class does: check the folder is BERT, then load the task's class;
 * or parse a config.json object as BERT, apply the label options and build seeded random weights.
 */
const bertTask = {
  load<M, O>(dir: string, task: string, fromPretrained: (dir: string, opts: O) => M, opts: O): M {
    requireBertFolder(dir, task);
    return fromPretrained(dir, opts);
  },
  create<M>(
    configJson: Record<string, unknown>,
    task: string,
    make: (config: BertConfig, opts: { seed: number; configJson: Record<string, unknown> }) => M,
    labels: Pick<BertLoadOptions, 'numLabels' | 'id2label' | 'problemType'>,
    seed = 0,
  ): M {
    return make(withLabels(parseBertJson(configJson, task), labels), { seed, configJson });
  },
};

/** Decoder-only language models: Llama/Mistral/Qwen2/Qwen3 → LlamaForCausalLM, GPT-2 → GPT2LMHeadModel. */
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
    const config = readModelConfig(dir);
    if (config.family === 'bert')
      throw new Error(`${dir}: ${config.architecture} is an encoder, not a causal language model`);
    const compute = opts.computeDtype ?? 'float32';
    // Loading bf16 directly avoids a float32 copy of every matrix on the way.
    const load = { dtype: compute === 'bfloat16' ? ('bfloat16' as const) : (opts.dtype ?? 'float32') };
    const model = causalLMEntry(config).fromPretrained(dir, load);
    if (compute !== 'float32') setComputeDtype(model, compute);
    return model;
  }

  /** A randomly initialised model from a config.json object (kept for savePretrained). Trainable, train mode. */
  static fromConfig(configJson: Record<string, unknown>, opts: FromConfigOptions = {}): AutoCausalLM {
    const config = parseModelConfig(configJson, 'config.json', { checkSize: true });
    if (config.family === 'bert')
      throw new Error(`config.json: ${config.architecture} is an encoder, not a causal language model`);
    return causalLMEntry(config).create(config, { seed: opts.seed ?? 0, configJson });
  }
}

/** The bare encoder (BertModel): hidden states and the pooled [CLS]. */
export class AutoModel {
  private constructor() {}

  /** Load any BERT checkpoint's encoder (task heads and pretraining heads are skipped). Frozen, eval mode. */
  static fromPretrained(dir: string, opts: Pick<BertLoadOptions, 'dtype' | 'seed' | 'onWarning'> = {}): BertModel {
    return bertTask.load(dir, 'AutoModel', (d, o) => BertModel.fromPretrained(d, o), opts);
  }

  /** A randomly initialised encoder from a config.json object. Trainable, train mode. */
  static fromConfig(configJson: Record<string, unknown>, opts: FromConfigOptions = {}): BertModel {
    return bertTask.create(configJson, 'AutoModel', (c, o) => new BertModel(c, o), {}, opts.seed);
  }
}

/** Label options of the head constructors (transformers' num_labels / id2label / problem_type kwargs). */
export type HeadConfigOptions = FromConfigOptions & Pick<BertLoadOptions, 'numLabels' | 'id2label' | 'problemType'>;

/**
 * Sentence-level classification or regression: BertForSequenceClassification. From a checkpoint
 * without a classifier (BertModel, pretraining), the classifier (and a missing pooler) are
 * initialised N(0, initializer_range) with a warning listing them.
 */
export class AutoModelForSequenceClassification {
  private constructor() {}

  /** Encoder frozen, classifier trainable, eval mode. `numLabels` / `id2label` override config.json. */
  static fromPretrained(dir: string, opts: BertLoadOptions = {}): BertForSequenceClassification {
    return bertTask.load(
      dir,
      'sequence classification',
      (d, o) => BertForSequenceClassification.fromPretrained(d, o),
      opts,
    );
  }

  /** Randomly initialised, trainable, train mode. */
  static fromConfig(configJson: Record<string, unknown>, opts: HeadConfigOptions = {}): BertForSequenceClassification {
    return bertTask.create(
      configJson,
      'sequence classification',
      (c, o) => new BertForSequenceClassification(c, o),
      opts,
      opts.seed,
    );
  }
}

/** Per-token tagging (NER, POS): BertForTokenClassification. */
export class AutoModelForTokenClassification {
  private constructor() {}

  /** Encoder frozen, classifier trainable, eval mode. `numLabels` / `id2label` override config.json. */
  static fromPretrained(dir: string, opts: BertLoadOptions = {}): BertForTokenClassification {
    return bertTask.load(dir, 'token classification', (d, o) => BertForTokenClassification.fromPretrained(d, o), opts);
  }

  static fromConfig(configJson: Record<string, unknown>, opts: HeadConfigOptions = {}): BertForTokenClassification {
    return bertTask.create(
      configJson,
      'token classification',
      (c, o) => new BertForTokenClassification(c, o),
      opts,
      opts.seed,
    );
  }
}

/** Extractive question answering (span start/end): BertForQuestionAnswering. */
export class AutoModelForQuestionAnswering {
  private constructor() {}

  /** Encoder frozen, qa_outputs trainable, eval mode. */
  static fromPretrained(
    dir: string,
    opts: Omit<BertLoadOptions, 'numLabels' | 'id2label' | 'problemType'> = {},
  ): BertForQuestionAnswering {
    return bertTask.load(dir, 'question answering', (d, o) => BertForQuestionAnswering.fromPretrained(d, o), opts);
  }

  static fromConfig(configJson: Record<string, unknown>, opts: FromConfigOptions = {}): BertForQuestionAnswering {
    return bertTask.create(
      configJson,
      'question answering',
      (c, o) => new BertForQuestionAnswering(c, o),
      { numLabels: 2 },
      opts.seed,
    );
  }
}
