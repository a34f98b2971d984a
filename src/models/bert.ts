/**
 * BERT encoders and their task heads as transformers' `modeling_bert.py` runs them (post-LN):
 *
 *   h = LayerNorm(word_embeddings(ids) + position_embeddings(0..T-1) + token_type_embeddings(types))
 *   for each layer:
 *     a = attention.output.LayerNorm(h + dense(attention(query(h), key(h), value(h))))   bidirectional,
 *                                                                                      padding keys masked
 *     h = output.LayerNorm(a + output.dense(gelu(intermediate.dense(a))))
 *   pooled = tanh(pooler.dense(h[:, 0]))                                                the [CLS] token
 *
 * Heads: sequence classification (classifier on the pooled [CLS]), token classification
 * (classifier per token) and extractive question answering (qa_outputs → start/end logits).
 * Module names are transformers' (`bert.encoder.layer.0.attention.self.query.weight`).
 */
import { join } from 'node:path';
import { FieldReader, readJsonObject } from '../io/json.js';
import type { RawTensor } from '../io/safetensors.js';
import { normalEmbedding, normalLinear } from '../nn/init.js';
import { Dropout, LayerNorm, type Embedding, type LinearLike } from '../nn/layers.js';
import { bceWithLogitsLoss, mseLoss } from '../nn/losses.js';
import { Module } from '../nn/module.js';
import * as F from '../tensor/ops.js';
import { Rng } from '../tensor/random.js';
import type { Tensor } from '../tensor/tensor.js';
import { activation } from './activations.js';
import { BERT_ARCHITECTURES, parseBertConfig, type BertConfig, type ProblemType } from './bert-config.js';
import { parseFamilyConfig } from './model-config.js';
import {
  attentionWithDropout,
  checkPrefix,
  withPastKeyValues,
  type AttentionContext,
  type KVPrefix,
} from './attention.js';
import { inputEmbeds } from './causal-lm.js';
import {
  SkipInitRng,
  loadIntoModule,
  moduleToRaw,
  readModelWeights,
  saveModelFolder,
  type WeightDtype,
} from './weights.js';

/** Std of the normal initialisation (`initializer_range`, default 0.02). */
function initializerRange(json: Record<string, unknown>): number {
  return new FieldReader('config.json', json).num('initializer_range', 0.02, true);
}

function probability(value: number, field: string): number {
  if (!(value >= 0 && value < 1))
    throw new Error(`config.json: field "${field}" must be a probability in [0, 1), got ${value}`);
  return value;
}

/** BERT's word, position and token-type embeddings, summed and normalised. */
export class BertEmbeddings extends Module {
  word_embeddings: Embedding;
  position_embeddings: Embedding;
  token_type_embeddings: Embedding;
  LayerNorm: LayerNorm;
  dropout: Dropout;

  constructor(
    readonly config: BertConfig,
    rng: Rng,
    std: number,
  ) {
    super();
    if (config.positionEmbeddingType !== 'absolute') {
      throw new Error(
        `config.json: position_embedding_type "${config.positionEmbeddingType}" is not supported (expected "absolute")`,
      );
    }
    const d = config.hiddenSize;
    this.word_embeddings = normalEmbedding(config.vocabSize, d, rng, std, config.padTokenId);
    this.position_embeddings = normalEmbedding(config.maxPositionEmbeddings, d, rng, std);
    this.token_type_embeddings = normalEmbedding(config.typeVocabSize, d, rng, std);
    this.LayerNorm = new LayerNorm(d, config.layerNormEps);
    this.dropout = new Dropout(probability(config.hiddenDropoutProb, 'hidden_dropout_prob'), rng.nextU32());
  }

  /**
   * words [B, T, d] (looked up, or given as inputs_embeds) + positions `offset`..`offset+T-1` +
   * token types (default all 0).
   */
  forward(words: Tensor, tokenTypeIds: Int32Array | null, offset: number): Tensor {
    const [B, T] = words.shape as [number, number, number];
    const maxPos = this.config.maxPositionEmbeddings;
    if (offset + T > maxPos)
      throw new Error(
        `forward: ${offset + T} positions exceed BERT's ${maxPos} learned positions (max_position_embeddings)`,
      );
    if (tokenTypeIds && tokenTypeIds.length !== B * T)
      throw new Error(`forward: tokenTypeIds has ${tokenTypeIds.length} entries, expected batch*seq = ${B}*${T}`);
    const positions = Int32Array.from({ length: T }, (_, t) => offset + t);
    let h = F.add(words, this.position_embeddings.forward(positions, [1, T]));
    h = F.add(h, this.token_type_embeddings.forward(tokenTypeIds ?? new Int32Array(B * T), [B, T]));
    return this.dropout.forward(this.LayerNorm.forward(h));
  }
}

/** BERT's multi-head self-attention (query, key, value projections). */
export class BertSelfAttention extends Module {
  query: LinearLike;
  key: LinearLike;
  value: LinearLike;
  /** On the attention probabilities (attention_probs_dropout_prob). */
  dropout: Dropout;

  constructor(
    readonly config: BertConfig,
    readonly layerIdx: number,
    rng: Rng,
    std: number,
  ) {
    super();
    const d = config.hiddenSize;
    this.query = normalLinear(d, d, rng, std);
    this.key = normalLinear(d, d, rng, std);
    this.value = normalLinear(d, d, rng, std);
    this.dropout = new Dropout(
      probability(config.attentionProbsDropoutProb, 'attention_probs_dropout_prob'),
      rng.nextU32(),
    );
  }

  /** x [B, T, d] -> context [B, T, d]; the context's prefix comes before the tokens' keys/values. */
  forward(x: Tensor, ctx: AttentionContext): Tensor {
    const [B, T, d] = x.shape as [number, number, number];
    const H = this.config.numAttentionHeads;
    const D = d / H;
    const dropping = this.dropout.training && this.dropout.p > 0;
    if (!ctx.cache && !ctx.prefix && !dropping) {
      // No prefix and no dropout on the probabilities: attention reads the heads in place from the
      // projections' [B, T, d] rows and writes [B, T, d] (no head copies either way).
      const q = this.query.forward(x);
      return F.tokenMajorAttention(q, this.key.forward(x), this.value.forward(x), H, {
        causal: false,
        keyMask: ctx.keyMask,
        scale: 1 / Math.sqrt(D),
      });
    }
    const heads = (t: Tensor): Tensor => F.transpose(F.reshape(t, [B, T, H, D]), 1, 2); // [B, H, T, D]
    const q = heads(this.query.forward(x));
    const { k, v, kvLength } = withPastKeyValues(
      this.layerIdx,
      heads(this.key.forward(x)),
      heads(this.value.forward(x)),
      ctx,
    );
    const o = attentionWithDropout(q, k, v, {
      kvLength,
      causal: false,
      keyMask: ctx.keyMask,
      scale: 1 / Math.sqrt(D),
      dropout: this.dropout,
    });
    return F.reshape(F.transpose(o, 1, 2), [B, T, d]);
  }
}

/** dense → dropout → LayerNorm(· + residual): closes both the attention and the feed-forward block. */
export class BertSelfOutput extends Module {
  dense: LinearLike;
  LayerNorm: LayerNorm;
  dropout: Dropout;

  constructor(inF: number, config: BertConfig, rng: Rng, std: number) {
    super();
    this.dense = normalLinear(inF, config.hiddenSize, rng, std);
    this.LayerNorm = new LayerNorm(config.hiddenSize, config.layerNormEps);
    this.dropout = new Dropout(probability(config.hiddenDropoutProb, 'hidden_dropout_prob'), rng.nextU32());
  }

  /** Dense, dropout, then LayerNorm over the residual sum. */
  forward(x: Tensor, residual: Tensor): Tensor {
    return this.LayerNorm.forward(F.add(this.dropout.forward(this.dense.forward(x)), residual));
  }
}

/** transformers' BertOutput has the same structure as BertSelfOutput (from the intermediate size). */
export { BertSelfOutput as BertOutput };

/** BERT self-attention followed by its output projection and residual LayerNorm. */
export class BertAttention extends Module {
  self: BertSelfAttention;
  output: BertSelfOutput;

  constructor(config: BertConfig, layerIdx: number, rng: Rng, std: number) {
    super();
    this.self = new BertSelfAttention(config, layerIdx, rng, std);
    this.output = new BertSelfOutput(config.hiddenSize, config, rng, std);
  }

  /** Self-attention and its output block on hidden states [batch, seq, hidden]. */
  forward(h: Tensor, ctx: AttentionContext): Tensor {
    return this.output.forward(this.self.forward(h, ctx), h);
  }
}

/** BERT's feed-forward up-projection and activation. */
export class BertIntermediate extends Module {
  dense: LinearLike;
  private readonly act: (x: Tensor) => Tensor;

  constructor(config: BertConfig, rng: Rng, std: number) {
    super();
    this.act = activation(config.hiddenAct, 'hidden_act');
    this.dense = normalLinear(config.hiddenSize, config.intermediateSize, rng, std);
  }

  /** The feed-forward expansion and activation [batch, seq, intermediate]. */
  forward(x: Tensor): Tensor {
    return this.act(this.dense.forward(x));
  }
}

/** One BERT encoder layer: attention, then the feed-forward block. */
export class BertLayer extends Module {
  attention: BertAttention;
  intermediate: BertIntermediate;
  output: BertSelfOutput;

  constructor(config: BertConfig, layerIdx: number, rng: Rng, std: number) {
    super();
    this.attention = new BertAttention(config, layerIdx, rng, std);
    this.intermediate = new BertIntermediate(config, rng, std);
    this.output = new BertSelfOutput(config.intermediateSize, config, rng, std);
  }

  /** One encoder layer: attention, then the feed-forward block. */
  forward(h: Tensor, ctx: AttentionContext): Tensor {
    const a = this.attention.forward(h, ctx);
    return this.output.forward(this.intermediate.forward(a), a);
  }
}

/** The stack of BERT layers. */
export class BertEncoder extends Module {
  layer: BertLayer[];

  constructor(config: BertConfig, rng: Rng, std: number) {
    super();
    this.layer = Array.from({ length: config.numHiddenLayers }, (_, i) => new BertLayer(config, i, rng, std));
  }
}

/** BERT's pooler: a dense layer and tanh on the first token. */
export class BertPooler extends Module {
  dense: LinearLike;

  constructor(config: BertConfig, rng: Rng, std: number) {
    super();
    this.dense = normalLinear(config.hiddenSize, config.hiddenSize, rng, std);
  }

  /** tanh(dense(h[:, 0])): [B, T, d] -> [B, d]. */
  forward(h: Tensor): Tensor {
    const [B, , d] = h.shape as [number, number, number];
    return F.tanh(this.dense.forward(F.reshape(F.slice(h, 1, 0, 1), [B, d])));
  }
}

/**
 * What every BERT forward takes: the same hooks as the decoders' CausalLMInput (tokens as
 * `inputIds` or `inputsEmbeds`, extra keys/values as `prefix`), without a cache.
 */
export interface BertInput {
  /** Token ids, row-major [batch, seq]. Omit when giving inputsEmbeds. */
  inputIds?: Int32Array;
  /** Rows in inputIds / inputsEmbeds (default 1). */
  batchSize?: number;
  /** 1 for real tokens, 0 for padding, [batch, P + seq] (P = prefix length); default all ones. */
  attentionMask?: Uint8Array;
  /** Segment ids [batch, seq]; default all 0. */
  tokenTypeIds?: Int32Array;
  /**
   * Word embeddings [batch, seq, hidden] instead of inputIds (prompt tuning prepends virtual tokens
   * to `embedTokens(ids)`); position and token-type embeddings are still added. Differentiable.
   */
  inputsEmbeds?: Tensor;
  /**
   * Keys/values every layer attends to before the tokens' own (prefix tuning): one {k, v} per
   * layer, [batch, heads, P, head_dim]. Positions of the tokens continue after P. See KVPrefix.
   */
  prefix?: KVPrefix;
}

/** What {@link BertModel.forward} returns. */
export interface BertModelOutput {
  /** Last layer's hidden states [batch, seq, hidden]. */
  hidden: Tensor;
  /** tanh(pooler.dense([CLS])) [batch, hidden]; null without a pooler. */
  pooled: Tensor | null;
}

/** The BERT encoder (transformers' BertModel): embeddings, layers and pooler. */
export class BertModel extends Module {
  embeddings: BertEmbeddings;
  encoder: BertEncoder;
  pooler: BertPooler | null;
  /** config.json as read (written back by savePretrained). */
  readonly configJson: Record<string, unknown>;

  /**
   * A BERT encoder with transformers' initialisation (N(0, initializer_range) weights, zero biases,
   * padding row of the word embeddings zero, LayerNorm 1/0) from the seeded generator (default 0).
   * `addPoolingLayer` (default true) as transformers: the token-level heads build it without one.
   * `initWeights: false` leaves weights zero for a checkpoint to fill; `rng` (instead of `seed`)
   * continues a head model's generator.
   */
  constructor(
    readonly config: BertConfig,
    opts: {
      seed?: number;
      configJson?: Record<string, unknown>;
      addPoolingLayer?: boolean;
      rng?: Rng;
      initWeights?: boolean;
    } = {},
  ) {
    super();
    this.configJson = opts.configJson ?? {};
    const std = initializerRange(this.configJson);
    const rng = opts.rng ?? (opts.initWeights === false ? new SkipInitRng(opts.seed ?? 0) : new Rng(opts.seed ?? 0));
    this.embeddings = new BertEmbeddings(config, rng, std);
    this.encoder = new BertEncoder(config, rng, std);
    this.pooler = (opts.addPoolingLayer ?? true) ? new BertPooler(config, rng, std) : null;
  }

  /** Load a BERT folder (any BERT checkpoint: base, pretraining or task head). Frozen, eval mode. */
  static fromPretrained(dir: string, opts: BertLoadOptions = {}): BertModel {
    const { config, configJson } = readBertConfig(dir, opts);
    const model = new BertModel(config, { configJson, seed: opts.seed ?? 0, initWeights: false });
    loadBertWeights(model, dir, opts);
    return model.freeze().eval();
  }

  /** Write config.json and model.safetensors under transformers' key names. */
  savePretrained(dir: string): void {
    saveModelFolder(dir, bertConfigJson(this.configJson, 'BertModel', this.config), moduleToRaw(this));
  }

  /** The word embedding table [vocab, hidden]. */
  inputEmbeddings(): Tensor {
    return this.embeddings.word_embeddings.weight;
  }

  /** Word embeddings of token ids [batch, seq] -> [batch, seq, hidden]: what `inputsEmbeds` replaces. */
  embedTokens(inputIds: Int32Array, batchSize = 1): Tensor {
    return inputEmbeds({ inputIds, batchSize }, this.config.hiddenSize, (ids, shape) =>
      this.embeddings.word_embeddings.forward(ids, shape),
    );
  }

  /** Hidden states of every token and the pooled [CLS] (see {@link BertInput}). */
  forward(input: BertInput): BertModelOutput {
    const B = input.batchSize ?? 1;
    const { hiddenSize: d, numAttentionHeads: H, numHiddenLayers } = this.config;
    const words = inputEmbeds(input, d, (ids, shape) => this.embeddings.word_embeddings.forward(ids, shape));
    const T = words.dim(1);
    const prefix = input.prefix ?? null;
    const P = prefix ? checkPrefix(prefix, { layers: numHiddenLayers, batch: B, kvHeads: H, headDim: d / H }) : 0;
    const mask = input.attentionMask ?? null;
    if (mask && mask.length !== B * (P + T))
      throw new Error(
        `forward: attentionMask has ${mask.length} entries, expected batch*(prefix+seq) = ${B}*(${P}+${T})`,
      );
    const ctx: AttentionContext = { keyMask: mask && mask.some((m) => m === 0) ? mask : null, prefix, cache: null };
    // Positions continue after a prefix, as transformers' past_key_values_length offset does.
    let h = this.embeddings.forward(words, input.tokenTypeIds ?? null, P);
    for (const layer of this.encoder.layer) h = layer.forward(h, ctx);
    return { hidden: h, pooled: this.pooler ? this.pooler.forward(h) : null };
  }
}

// ---------------------------------------------------------------------------------------------
// Task heads

/** Labels and loss of the heads; loss is present only when labels were given. */
export interface BertHeadOutput {
  /** Classification: [batch, numLabels]; token classification: [batch, seq, numLabels]; QA: [batch, seq, 2]. */
  logits: Tensor;
  loss?: Tensor;
  /** Last hidden states [batch, seq, hidden]. */
  hidden: Tensor;
}

export interface SequenceClassificationInput extends BertInput {
  /**
   * single_label_classification: class ids [batch] (Int32Array); regression: targets [batch, numLabels]
   * (Float32Array); multi_label_classification: 0/1 targets [batch, numLabels] (Float32Array).
   */
  labels?: Int32Array | Float32Array;
}

/** Constructor options of the task heads. */
export interface HeadOptions {
  /** Seed of the random initialisation (default 0). */
  seed?: number;
  /** config.json as read (written back by savePretrained). */
  configJson?: Record<string, unknown>;
  /** false: leave the encoder's weights zero for a checkpoint to fill (the head is still initialised). */
  initWeights?: boolean;
}

/** The encoder's generator: the head's own, or a non-drawing one when a checkpoint fills the encoder. */
function encoderRng(rng: Rng, opts: HeadOptions): Rng {
  return opts.initWeights === false ? new SkipInitRng(rng.nextU32()) : rng;
}

/** The problem type transformers infers when config.problem_type is unset. */
function inferProblemType(numLabels: number, labels: Int32Array | Float32Array): ProblemType {
  if (numLabels === 1) return 'regression';
  return labels instanceof Int32Array ? 'single_label_classification' : 'multi_label_classification';
}

/**
 * What the three task models share: an encoder (`bert`), a task head that stays trainable when
 * loaded, saving with the class name in config.json, and the encoder's embedding table.
 */
export abstract class BertWithHead extends Module {
  abstract readonly config: BertConfig;
  abstract bert: BertModel;
  /** The class name written to config.json `architectures`. */
  protected abstract readonly architecture: string;
  /** The task head: trainable (float32) after fromPretrained. */
  protected abstract head(): Module;

  /** config.json (architectures, num_labels, id2label/label2id) + model.safetensors. */
  savePretrained(dir: string): void {
    saveModelFolder(dir, bertConfigJson(this.bert.configJson, this.architecture, this.config), moduleToRaw(this));
  }

  /** The encoder's word embedding table [vocab, hidden]. */
  inputEmbeddings(): Tensor {
    return this.bert.inputEmbeddings();
  }

  /**
   * Every head's fromPretrained: read the config, build the model without drawing encoder weights,
   * load the checkpoint, then freeze the encoder, keep the head trainable and switch to eval mode.
   */
  protected static loadHeadModel<M extends BertWithHead>(
    make: (config: BertConfig, opts: HeadOptions) => M,
    dir: string,
    opts: BertLoadOptions,
    configOpts: BertLoadOptions = opts,
  ): M {
    const { config, configJson } = readBertConfig(dir, configOpts);
    const model = make(config, { configJson, seed: opts.seed ?? 0, initWeights: false });
    loadBertWeights(model, dir, opts);
    model.freeze();
    model.head().freeze(false);
    return model.eval();
  }
}

/**
 * The two classifier heads (sequence and token classification) share one shape: the encoder, a
 * dropout (classifier_dropout, else hidden_dropout_prob) and a `classifier` Linear [numLabels, hidden]
 * initialised N(0, initializer_range) with zero bias; they differ in what they classify.
 */
export abstract class BertWithClassifier extends BertWithHead {
  bert: BertModel;
  dropout: Dropout;
  classifier: LinearLike;
  readonly numLabels: number;

  /** Random init from the seed; `addPoolingLayer` as transformers (token-level heads have none). */
  protected constructor(
    readonly config: BertConfig,
    opts: HeadOptions,
    addPoolingLayer: boolean,
  ) {
    super();
    const rng = new Rng(opts.seed ?? 0);
    const configJson = opts.configJson ?? {};
    this.bert = new BertModel(config, { configJson, rng: encoderRng(rng, opts), addPoolingLayer });
    this.numLabels = config.numLabels;
    this.dropout = new Dropout(
      probability(config.classifierDropout ?? config.hiddenDropoutProb, 'classifier_dropout'),
      rng.nextU32(),
    );
    this.classifier = normalLinear(config.hiddenSize, config.numLabels, rng, initializerRange(configJson));
  }

  protected head(): Module {
    return this.classifier;
  }
}

/** BERT with a classification or regression head on the pooled output. */
export class BertForSequenceClassification extends BertWithClassifier {
  /** Random init; the classifier is N(0, initializer_range) with zero bias. */
  constructor(config: BertConfig, opts: HeadOptions = {}) {
    super(config, opts, true);
  }

  /**
   * Load a BERT folder. Missing pooler/classifier weights (e.g. from a BertModel or pretraining
   * checkpoint) are freshly initialised, with a warning listing them. The encoder is frozen; the
   * classifier stays trainable (float32). Eval mode.
   */
  static fromPretrained(dir: string, opts: BertLoadOptions = {}): BertForSequenceClassification {
    return BertWithHead.loadHeadModel((c, o) => new BertForSequenceClassification(c, o), dir, opts);
  }

  protected readonly architecture = 'BertForSequenceClassification';

  /**
   * logits [batch, numLabels] from the pooled [CLS]. With labels, the loss follows
   * config.problem_type, or as transformers infers it: numLabels 1 → regression (MSE), integer
   * labels → single-label cross-entropy, float labels → multi-label BCE with logits.
   */
  forward(input: SequenceClassificationInput): BertHeadOutput {
    const { hidden, pooled } = this.bert.forward(input);
    const logits = this.classifier.forward(this.dropout.forward(pooled!));
    if (!input.labels) return { logits, hidden };
    const B = logits.dim(0);
    const L = this.numLabels;
    const labels = input.labels;
    const problem = this.config.problemType ?? inferProblemType(L, labels);
    let loss: Tensor;
    if (problem === 'single_label_classification') {
      if (!(labels instanceof Int32Array) || labels.length !== B)
        throw new Error(
          `forward: single-label classification needs ${B} integer class ids (Int32Array), got ${labels.length} ${labels.constructor.name}`,
        );
      loss = F.crossEntropy(logits, labels);
    } else {
      if (labels.length !== B * L)
        throw new Error(`forward: ${problem} needs batch*numLabels = ${B}*${L} targets, got ${labels.length}`);
      const targets = labels instanceof Float32Array ? labels : Float32Array.from(labels);
      loss = problem === 'regression' ? mseLoss(logits, targets) : bceWithLogitsLoss(logits, targets);
    }
    return { logits, loss, hidden };
  }
}

export interface TokenClassificationInput extends BertInput {
  /** Tag id per token [batch, seq]; -100 is ignored (special tokens, continuation pieces, padding). */
  labels?: Int32Array;
}

/** BERT with a per-token classification head (NER and other tagging). */
export class BertForTokenClassification extends BertWithClassifier {
  /** Random init, without a pooler; the classifier is N(0, initializer_range) with zero bias. */
  constructor(config: BertConfig, opts: HeadOptions = {}) {
    super(config, opts, false);
  }

  /** As BertForSequenceClassification.fromPretrained (no pooler). */
  static fromPretrained(dir: string, opts: BertLoadOptions = {}): BertForTokenClassification {
    return BertWithHead.loadHeadModel((c, o) => new BertForTokenClassification(c, o), dir, opts);
  }

  protected readonly architecture = 'BertForTokenClassification';

  /** logits [batch, seq, numLabels]; loss = cross-entropy over tokens whose label is not -100. */
  forward(input: TokenClassificationInput): BertHeadOutput {
    const { hidden } = this.bert.forward(input);
    const logits = this.classifier.forward(this.dropout.forward(hidden));
    if (!input.labels) return { logits, hidden };
    const [B, T] = hidden.shape as [number, number, number];
    if (input.labels.length !== B * T)
      throw new Error(`forward: token classification needs batch*seq = ${B}*${T} labels, got ${input.labels.length}`);
    return { logits, loss: F.crossEntropy(logits, input.labels, { ignoreIndex: -100 }), hidden };
  }
}

export interface QuestionAnsweringInput extends BertInput {
  /** Token index of each answer's start [batch]; clamped to [0, seq], and seq is ignored (as transformers). */
  startPositions?: Int32Array;
  endPositions?: Int32Array;
}

export interface QuestionAnsweringOutput extends BertHeadOutput {
  /** [batch, seq] */
  startLogits: Tensor;
  endLogits: Tensor;
}

/** BERT with a span head: start and end logits per token (extractive QA). */
export class BertForQuestionAnswering extends BertWithHead {
  bert: BertModel;
  qa_outputs: LinearLike;
  readonly numLabels: number;

  constructor(
    readonly config: BertConfig,
    opts: HeadOptions = {},
  ) {
    super();
    if (config.numLabels !== 2)
      throw new Error(`BertForQuestionAnswering: num_labels must be 2 (start and end), got ${config.numLabels}`);
    const rng = new Rng(opts.seed ?? 0);
    const configJson = opts.configJson ?? {};
    this.bert = new BertModel(config, { configJson, rng: encoderRng(rng, opts), addPoolingLayer: false });
    this.numLabels = 2;
    this.qa_outputs = normalLinear(config.hiddenSize, 2, rng, initializerRange(configJson));
  }

  /** As BertForSequenceClassification.fromPretrained (no pooler; qa_outputs trainable). */
  static fromPretrained(dir: string, opts: BertLoadOptions = {}): BertForQuestionAnswering {
    return BertWithHead.loadHeadModel((c, o) => new BertForQuestionAnswering(c, o), dir, opts, {
      ...opts,
      numLabels: 2,
    });
  }

  protected readonly architecture = 'BertForQuestionAnswering';

  protected head(): Module {
    return this.qa_outputs;
  }

  /**
   * start/end logits [batch, seq]. With positions, loss = (CE(start) + CE(end)) / 2 where
   * positions are clamped to [0, seq] and seq (an answer outside the window) is ignored.
   */
  forward(input: QuestionAnsweringInput): QuestionAnsweringOutput {
    const { hidden } = this.bert.forward(input);
    const [B, T] = hidden.shape as [number, number, number];
    const logits = this.qa_outputs.forward(hidden);
    const [s, e] = F.split(logits, 1, 2) as [Tensor, Tensor];
    const startLogits = F.reshape(s, [B, T]);
    const endLogits = F.reshape(e, [B, T]);
    const out: QuestionAnsweringOutput = { logits, startLogits, endLogits, hidden };
    if (!input.startPositions && !input.endPositions) return out;
    out.loss = spanLoss(startLogits, endLogits, input.startPositions, input.endPositions);
    return out;
  }
}

/**
 * Extractive QA loss (transformers' BertForQuestionAnswering): (CE(start) + CE(end)) / 2 over the
 * T positions of [B, T] logits, positions clamped to [0, T] and T (an answer outside the window)
 * ignored. Exported so that prompt methods can apply it to the real tokens' logits.
 */
export function spanLoss(
  startLogits: Tensor,
  endLogits: Tensor,
  startPositions: Int32Array | undefined,
  endPositions: Int32Array | undefined,
): Tensor {
  if (!startPositions || !endPositions)
    throw new Error('forward: question answering needs both startPositions and endPositions');
  const [B, T] = startLogits.shape as [number, number];
  const clamp = (p: Int32Array, name: string): Int32Array => {
    if (p.length !== B) throw new Error(`forward: ${name} has ${p.length} entries, expected one per row (${B})`);
    return p.map((x) => Math.min(Math.max(x, 0), T));
  };
  const startLoss = F.crossEntropy(startLogits, clamp(startPositions, 'startPositions'), { ignoreIndex: T });
  const endLoss = F.crossEntropy(endLogits, clamp(endPositions, 'endPositions'), { ignoreIndex: T });
  return F.scale(F.add(startLoss, endLoss), 0.5);
}

// ---------------------------------------------------------------------------------------------
// Loading and saving

/** Options of every BERT `fromPretrained`. */
export interface BertLoadOptions {
  /** How frozen encoder weights are kept (default 'float32'); heads are always float32. */
  dtype?: WeightDtype;
  /** Number of labels of the head; overrides config.json (its id2label becomes LABEL_0..). */
  numLabels?: number;
  /** Label names by id; overrides config.json and sets numLabels. */
  id2label?: Record<number, string>;
  /** Loss of sequence classification; overrides config.json's problem_type. */
  problemType?: ProblemType;
  /** Seed for freshly initialised weights (default 0). */
  seed?: number;
  /** Receives the "newly initialised" / "not used" messages (default console.warn). */
  onWarning?: (message: string) => void;
}

/**
 * config.json with the label overrides applied, parsed; the JSON is kept for saving. Any
 * `model_type: "bert"` checkpoint is accepted whatever its head class (bert-base-uncased says
 * BertForMaskedLM, others BertForPreTraining or BertForNextSentencePrediction): the encoder is the same.
 */
export function readBertConfig(
  dir: string,
  opts: Pick<BertLoadOptions, 'numLabels' | 'id2label' | 'problemType'> = {},
): { config: BertConfig; configJson: Record<string, unknown> } {
  const path = join(dir, 'config.json');
  const configJson = readJsonObject(path);
  return { config: withLabels(parseBertJson(configJson, path), opts), configJson };
}

/**
 * A BERT config.json object parsed (shapes checked against the memory budget), whatever head class
 * it names when its model_type is "bert".
 *
 * @throws Error `<label>: GPT2LMHeadModel is not a BERT model` for another family's config
 */
export function parseBertJson(configJson: Record<string, unknown>, label = 'config.json'): BertConfig {
  const json = isBertConfig(configJson) ? { ...configJson, architectures: null } : configJson;
  return parseFamilyConfig(json, label, { bert: BERT_ARCHITECTURES }, parseBertConfig, 'BERT');
}

/** True for a BERT config.json: model_type "bert", or no model_type and a Bert* architecture. */
export function isBertConfig(json: Record<string, unknown>): boolean {
  if (json.model_type !== undefined) return json.model_type === 'bert';
  const arch: unknown = Array.isArray(json.architectures) ? json.architectures[0] : undefined;
  return typeof arch === 'string' && arch.startsWith('Bert');
}

/**
 * The config with `numLabels` / `id2label` / `problemType` overrides (transformers' from_pretrained
 * kwargs): a new label count resets the names to LABEL_i.
 */
export function withLabels(
  config: BertConfig,
  opts: Pick<BertLoadOptions, 'numLabels' | 'id2label' | 'problemType'>,
): BertConfig {
  let { numLabels, id2label } = config;
  if (opts.id2label) {
    id2label = { ...opts.id2label };
    numLabels = Object.keys(id2label).length;
    for (let i = 0; i < numLabels; i++)
      if (id2label[i] === undefined) throw new Error(`id2label: ids must be 0..${numLabels - 1}; ${i} is missing`);
    if (opts.numLabels !== undefined && opts.numLabels !== numLabels)
      throw new Error(`numLabels ${opts.numLabels} disagrees with the ${numLabels} entries of id2label`);
  } else if (opts.numLabels !== undefined && opts.numLabels !== numLabels) {
    if (!Number.isSafeInteger(opts.numLabels) || opts.numLabels < 1)
      throw new Error(`numLabels must be a positive integer, got ${opts.numLabels}`);
    numLabels = opts.numLabels;
    id2label = Object.fromEntries(Array.from({ length: numLabels }, (_, i) => [i, `LABEL_${i}`]));
  }
  return { ...config, numLabels, id2label, problemType: opts.problemType ?? config.problemType };
}

/** config.json to save: the original with this class's architecture and current labels. */
function bertConfigJson(
  json: Record<string, unknown>,
  architecture: string,
  config: BertConfig,
): Record<string, unknown> {
  const out: Record<string, unknown> = {
    ...json,
    architectures: [architecture],
    model_type: json.model_type ?? 'bert',
  };
  if (architecture !== 'BertModel') {
    out.id2label = Object.fromEntries(Object.entries(config.id2label).map(([k, v]) => [String(k), v]));
    out.label2id = Object.fromEntries(Object.entries(config.id2label).map(([k, v]) => [v, Number(k)]));
    // id2label defines the count; a num_labels field the original carried is kept consistent.
    if ('num_labels' in out) out.num_labels = Object.keys(config.id2label).length;
    if (config.problemType) out.problem_type = config.problemType;
  }
  return out;
}

type AnyBert = BertModel | BertWithHead;

/** Task-head modules: the field name is also the checkpoint key prefix. */
const HEADS = ['classifier', 'qa_outputs'] as const;

/**
 * Load a BERT checkpoint into any of the BERT classes. Accepted layouts: keys with the `bert.`
 * prefix (task heads, BertForPreTraining) or without (BertModel), and the legacy LayerNorm
 * `gamma`/`beta` names. The `position_ids` / `token_type_ids` buffers are skipped; pretraining
 * heads (`cls.*`) and heads the model does not have are skipped and listed in the warning. Pooler
 * and head weights missing from the file are freshly initialised, with a warning; any other
 * missing weight is an error.
 */
export function loadBertWeights(model: AnyBert, dir: string, opts: BertLoadOptions = {}): void {
  const encoder = model instanceof BertModel ? model : model.bert;
  const file = readModelWeights(dir);
  const body = new Map<string, RawTensor>();
  const head = new Map<string, RawTensor>();
  const unused: string[] = [];
  const headName = HEADS.find((h) => h in model) ?? null;
  for (const [key, raw] of file) {
    const k = (key.startsWith('bert.') ? key.slice(5) : key)
      .replace(/LayerNorm\.gamma$/, 'LayerNorm.weight')
      .replace(/LayerNorm\.beta$/, 'LayerNorm.bias');
    if (k === 'embeddings.position_ids' || k === 'embeddings.token_type_ids') continue; // buffers
    if (k.startsWith('pooler.') && !encoder.pooler) unused.push(key);
    else if (/^(embeddings|encoder|pooler)\./.test(k)) body.set(k, raw);
    else if (headName && k.startsWith(`${headName}.`)) head.set(k.slice(headName.length + 1), raw);
    else if (/^(cls|classifier|qa_outputs)\./.test(k)) unused.push(key);
    else body.set(key, raw); // reported as unexpected by loadIntoModule
  }
  const fresh: string[] = [];
  const prefix = model instanceof BertModel ? '' : 'bert.';
  if (encoder.pooler && ![...body.keys()].some((k) => k.startsWith('pooler.'))) {
    encoder.pooler = new BertPooler(encoder.config, new Rng(opts.seed ?? 0), initializerRange(encoder.configJson));
    for (const [k, raw] of moduleToRaw(encoder.pooler, (p) => `pooler.${p}`)) body.set(k, raw);
    fresh.push(...encoder.pooler.namedParameters('pooler').map(([p]) => prefix + p));
  }
  loadIntoModule(encoder, body, { dtype: opts.dtype ?? 'float32', label: dir });
  if (headName) {
    const headModule = (model as unknown as Record<string, Module>)[headName]!;
    if (head.size === 0) {
      fresh.push(...headModule.namedParameters(headName).map(([p]) => p));
    } else {
      const w = head.get('weight');
      if (w && w.shape[0] !== model.config.numLabels) {
        throw new Error(
          `${dir}: ${headName}.weight has ${w.shape[0]} labels but the model was built with numLabels = ${model.config.numLabels}; load with the checkpoint's label count, or start from the encoder without this head`,
        );
      }
      loadIntoModule(headModule, head, { dtype: 'float32', label: `${dir} (${headName})` });
    }
  }
  if (fresh.length || unused.length) {
    const name = model.constructor.name;
    const parts: string[] = [];
    if (fresh.length)
      parts.push(
        `Some weights of ${name} were not initialized from the checkpoint at ${dir} and are newly initialized: ${fresh.join(', ')}. Train this model on a down-stream task before using it for predictions.`,
      );
    if (unused.length)
      parts.push(
        `Some weights of the checkpoint at ${dir} were not used by ${name}: ${unused.slice(0, 10).join(', ')}${unused.length > 10 ? ` (+${unused.length - 10} more)` : ''}.`,
      );
    (opts.onWarning ?? console.warn)(parts.join('\n'));
  }
}
