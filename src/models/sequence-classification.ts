/**
 * Decoder models with a sequence-classification head, as transformers'
 * `LlamaForSequenceClassification`, `Qwen2ForSequenceClassification` and
 * `GPT2ForSequenceClassification`: a bias-free `score` Linear [numLabels, hidden] applied to the
 * hidden state of the last real token of each row. Weight names are transformers' (`model.*` or
 * `transformer.*`, and `score.weight`), so their checkpoints load and ours load in Python.
 *
 * "Last real token" is transformers' rule: the rightmost position whose id is not the pad id (any
 * padding side); without a pad id only batches of one row are accepted. Note that with pad == EOS a
 * trailing EOS counts as padding, exactly as in transformers.
 */
import { Linear } from '../nn/layers.js';
import { bceWithLogitsLoss, crossEntropy, mseLoss } from '../nn/losses.js';
import { Module } from '../nn/module.js';
import * as F from '../tensor/ops.js';
import { Rng } from '../tensor/random.js';
import type { Tensor } from '../tensor/tensor.js';
import type { CausalLMInput } from './causal-lm.js';
import type { ProblemType } from './bert-config.js';
import { GPT2LMHeadModel, readGpt2Config, type GPT2Model } from './gpt2.js';
import type { Gpt2Config } from './gpt2-config.js';
import { LlamaForCausalLM, readLlamaConfig, type LlamaModel } from './llama.js';
import { DECODER_ARCHITECTURES, type DecoderConfig } from './llama-config.js';
import { loadIntoModule, moduleToRaw, readModelWeights, saveModelFolder, type WeightDtype } from './weights.js';

/** Input of a decoder classifier: token ids, attention mask and optional labels. */
export interface DecoderClassificationInput {
  inputIds: Int32Array;
  batchSize?: number;
  attentionMask?: Uint8Array;
  /** Class ids [batch] (Int32Array) or float targets [batch, numLabels] (regression / multi-label). */
  labels?: Int32Array | Float32Array;
}

/** Output of a decoder classifier: logits and, with labels, the loss. */
export interface DecoderClassificationOutput {
  /** [batch, numLabels] */
  logits: Tensor;
  loss?: Tensor;
}

/** Options of the decoder classifiers (labels, problem type, padding token). */
export interface ClassifierOptions {
  numLabels?: number;
  /** Pad id for pooling when config.json has none (stories260K, Llama): transformers reads config.pad_token_id. */
  padTokenId?: number;
  problemType?: ProblemType;
  id2label?: Record<number, string>;
  seed?: number;
}

/** Label settings from options, else config.json (id2label, num_labels, problem_type), else 2 labels. */
function labelSettings(
  json: Record<string, unknown>,
  opts: ClassifierOptions,
): { numLabels: number; problemType: ProblemType | null; id2label: Record<number, string> } {
  const id2 =
    opts.id2label ??
    (json.id2label && typeof json.id2label === 'object'
      ? Object.fromEntries(
          Object.entries(json.id2label as Record<string, string>).map(([k, v]) => [Number(k), String(v)]),
        )
      : null);
  const numLabels =
    opts.numLabels ?? (id2 ? Object.keys(id2).length : typeof json.num_labels === 'number' ? json.num_labels : 2);
  if (!Number.isInteger(numLabels) || numLabels < 1)
    throw new Error(`sequence classification: numLabels must be a positive integer, got ${numLabels}`);
  const pt = opts.problemType ?? (typeof json.problem_type === 'string' ? (json.problem_type as ProblemType) : null);
  if (pt !== null && !['regression', 'single_label_classification', 'multi_label_classification'].includes(pt))
    throw new Error(`sequence classification: unknown problem_type "${pt}"`);
  const id2label = id2 ?? Object.fromEntries(Array.from({ length: numLabels }, (_, i) => [i, `LABEL_${i}`]));
  return { numLabels, problemType: pt, id2label };
}

/** transformers' pooling index: the rightmost non-pad position of each row. */
export function lastNonPadIndex(inputIds: Int32Array, batch: number, padTokenId: number | null): Int32Array {
  const T = inputIds.length / batch;
  const out = new Int32Array(batch);
  if (padTokenId === null) {
    if (batch > 1)
      throw new Error(
        'sequence classification: cannot handle batches of more than one row without a pad token id (set pad_token_id)',
      );
    out[0] = T - 1;
    return out;
  }
  for (let b = 0; b < batch; b++) {
    let last = 0;
    for (let t = 0; t < T; t++) if (inputIds[b * T + t] !== padTokenId) last = t;
    out[b] = last;
  }
  return out;
}

/** Shared head logic: pool, score, loss by problem type (as BertForSequenceClassification). */
abstract class DecoderForSequenceClassification extends Module {
  score: Linear;
  readonly numLabels: number;
  readonly problemType: ProblemType | null;
  readonly id2label: Record<number, string>;
  readonly padTokenId: number | null;
  abstract readonly configJson: Record<string, unknown>;
  protected abstract readonly architecture: string;

  constructor(hiddenSize: number, padTokenId: number | null, json: Record<string, unknown>, opts: ClassifierOptions) {
    super();
    const s = labelSettings(json, opts);
    this.numLabels = s.numLabels;
    this.problemType = s.problemType;
    this.id2label = s.id2label;
    this.padTokenId = padTokenId;
    const rng = new Rng(opts.seed ?? 0);
    this.score = new Linear(hiddenSize, s.numLabels, { bias: false, rng });
    // transformers' _init_weights: normal(0, initializer_range)
    const std = typeof json.initializer_range === 'number' ? json.initializer_range : 0.02;
    this.score.weight = F.randn([s.numLabels, hiddenSize], rng, std, { requiresGrad: true });
  }

  /** Final hidden states [B, T, hidden] of the decoder body. */
  protected abstract body(input: CausalLMInput): Tensor;

  /** The token embedding table [vocab, hidden] (NEFTune, prompt tuning). */
  abstract inputEmbeddings(): Tensor;

  /** Logits [batch, numLabels] from the last non-pad token; with labels, the loss of the problem type. */
  forward(input: DecoderClassificationInput): DecoderClassificationOutput {
    const B = input.batchSize ?? 1;
    const h = this.body({
      inputIds: input.inputIds,
      batchSize: B,
      ...(input.attentionMask ? { attentionMask: input.attentionMask } : {}),
    });
    const T = h.dim(1);
    const d = h.dim(2);
    const idx = lastNonPadIndex(input.inputIds, B, this.padTokenId);
    const rows = Int32Array.from(idx, (t, b) => b * T + t);
    const pooled = F.embedding(F.reshape(h, [B * T, d]), rows, [B]);
    const logits = this.score.forward(pooled);
    if (!input.labels) return { logits };
    const labels = input.labels;
    const L = this.numLabels;
    const problem =
      this.problemType ??
      (L === 1
        ? 'regression'
        : labels instanceof Int32Array
          ? 'single_label_classification'
          : 'multi_label_classification');
    if (problem === 'single_label_classification') {
      if (!(labels instanceof Int32Array) || labels.length !== B)
        throw new Error(`forward: single-label classification needs ${B} integer class ids (Int32Array)`);
      return { logits, loss: crossEntropy(logits, labels) };
    }
    if (labels.length !== B * L)
      throw new Error(`forward: ${problem} needs batch*numLabels = ${B}*${L} targets, got ${labels.length}`);
    const targets = labels instanceof Float32Array ? labels : Float32Array.from(labels);
    return { logits, loss: problem === 'regression' ? mseLoss(logits, targets) : bceWithLogitsLoss(logits, targets) };
  }

  /** config.json (architectures, num_labels via id2label, problem_type) + model.safetensors. */
  savePretrained(dir: string): void {
    const json: Record<string, unknown> = {
      ...this.configJson,
      architectures: [this.architecture],
      id2label: Object.fromEntries(Object.entries(this.id2label).map(([k, v]) => [String(k), v])),
      label2id: Object.fromEntries(Object.entries(this.id2label).map(([k, v]) => [v, Number(k)])),
      ...(this.problemType ? { problem_type: this.problemType } : {}),
    };
    saveModelFolder(dir, json, moduleToRaw(this));
  }
}

function withHiddenLm<T extends object>(target: T, lm: object): void {
  // The causal LM runs the body; kept out of the parameter walk (its `model`/`transformer` is ours).
  Object.defineProperty(target, 'lm', { value: lm, enumerable: false });
}

/** Llama / Mistral / Qwen2 / Qwen3 body (`model.*`) with a `score` head. */
export class LlamaForSequenceClassification extends DecoderForSequenceClassification {
  model: LlamaModel;
  readonly configJson: Record<string, unknown>;
  protected readonly architecture: string;
  declare private readonly lm: LlamaForCausalLM;

  constructor(
    readonly config: DecoderConfig,
    opts: ClassifierOptions & { configJson?: Record<string, unknown>; initWeights?: boolean } = {},
  ) {
    const json = opts.configJson ?? {};
    super(config.hiddenSize, opts.padTokenId ?? config.padTokenId, json, opts);
    const lm = new LlamaForCausalLM(
      { ...config, tieWordEmbeddings: true },
      { seed: opts.seed ?? 0, configJson: json, ...(opts.initWeights === false ? { initWeights: false } : {}) },
    );
    withHiddenLm(this, lm);
    this.model = lm.model;
    this.configJson = json;
    // The family's task-head class name (LlamaForSequenceClassification, Qwen2ForSequenceClassification...).
    this.architecture = DECODER_ARCHITECTURES[config.family][1] ?? 'LlamaForSequenceClassification';
  }

  inputEmbeddings(): Tensor {
    return this.model.embed_tokens.weight;
  }

  protected body(input: CausalLMInput): Tensor {
    this.lm.model = this.model;
    return this.lm.forward({ ...input, logitsToKeep: 1 }).hidden;
  }

  /**
   * Load a folder: a *ForSequenceClassification checkpoint, or a causal-LM one (its lm_head is
   * dropped and `score` freshly initialised, as transformers does with a warning). The body is
   * frozen, the score head trainable; eval mode.
   */
  static fromPretrained(
    dir: string,
    opts: ClassifierOptions & { dtype?: WeightDtype; onWarning?: (m: string) => void } = {},
  ): LlamaForSequenceClassification {
    const { config, configJson } = readLlamaConfig(dir);
    const model = new LlamaForSequenceClassification(config, { ...opts, configJson, initWeights: false });
    loadDecoderHead(model, dir, opts, (k) => (k === 'lm_head.weight' ? null : k));
    return model;
  }
}

/** Qwen2 is a Llama-family model here; the class name is transformers'. */
export class Qwen2ForSequenceClassification extends LlamaForSequenceClassification {}

/** GPT-2 body (`transformer.*`) with a `score` head. */
export class GPT2ForSequenceClassification extends DecoderForSequenceClassification {
  transformer: GPT2Model;
  readonly configJson: Record<string, unknown>;
  protected readonly architecture = 'GPT2ForSequenceClassification';
  declare private readonly lm: GPT2LMHeadModel;

  constructor(
    readonly config: Gpt2Config,
    opts: ClassifierOptions & { configJson?: Record<string, unknown>; initWeights?: boolean } = {},
  ) {
    const json = opts.configJson ?? {};
    super(config.hiddenSize, opts.padTokenId ?? config.padTokenId, json, opts);
    const lm = new GPT2LMHeadModel(
      { ...config, tieWordEmbeddings: true },
      { seed: opts.seed ?? 0, configJson: json, ...(opts.initWeights === false ? { initWeights: false } : {}) },
    );
    withHiddenLm(this, lm);
    this.transformer = lm.transformer;
    this.configJson = json;
  }

  inputEmbeddings(): Tensor {
    return this.transformer.wte.weight;
  }

  protected body(input: CausalLMInput): Tensor {
    this.lm.transformer = this.transformer;
    return this.lm.forward({ ...input, logitsToKeep: 1 }).hidden;
  }

  /** Load a GPT-2 folder (a classifier or a causal-LM checkpoint, whose score head is then newly initialised); body frozen, score trainable, eval mode. */
  static fromPretrained(
    dir: string,
    opts: ClassifierOptions & { dtype?: WeightDtype; onWarning?: (m: string) => void } = {},
  ): GPT2ForSequenceClassification {
    const { config, configJson } = readGpt2Config(dir);
    const model = new GPT2ForSequenceClassification(config, { ...opts, configJson, initWeights: false });
    loadDecoderHead(model, dir, opts, (k) => {
      if (/(^|\.)attn\.(bias|masked_bias)$/.test(k) || k === 'lm_head.weight') return null;
      if (k === 'score.weight') return k;
      return k.startsWith('transformer.') ? k : `transformer.${k}`;
    });
    return model;
  }
}

/** Load body (+ score when present), freeze the body, keep score trainable, eval mode. */
function loadDecoderHead(
  model: DecoderForSequenceClassification,
  dir: string,
  opts: { dtype?: WeightDtype; onWarning?: (m: string) => void },
  rename: (k: string) => string | null,
): void {
  const file = readModelWeights(dir);
  const hasScore = file.has('score.weight');
  const freshScore = model.score.weight;
  if (!hasScore) {
    file.set('score.weight', { dtype: 'F32', shape: [...freshScore.shape], data: freshScore.f32 });
    (opts.onWarning ?? ((m: string) => process.stderr.write(`warning: ${m}\n`)))(
      `${dir}: no score.weight in the checkpoint; the classification head is newly initialised (train it)`,
    );
  }
  loadIntoModule(model, file, {
    dtype: opts.dtype ?? 'float32',
    label: dir,
    rename,
    ignoreUnexpected: /rotary_emb\.inv_freq$/,
  });
  model.freeze();
  model.score.freeze(false);
  model.eval();
}
