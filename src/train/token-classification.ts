/**
 * Token classification (NER) in the trainer: the collator over {@link TokenClassificationFeature}s
 * (transformers' DataCollatorForTokenClassification: dynamic right padding, label -100 on padding),
 * the loss (the model's token cross-entropy, a mean over labelled tokens), and evaluation that turns
 * token predictions into word tags ({@link wordLevelPredictions}) scored by seqeval through the
 * metric registry, as run_ner.py's compute_metrics does.
 */
import { computeMetric, type MetricInputs } from '../metrics/registry.js';
import type { Module } from '../nn/module.js';
import { noGrad, type Tensor } from '../tensor/tensor.js';
import {
  IGNORE_INDEX,
  wordLevelPredictions,
  type LabelMap,
  type TokenClassificationFeature,
} from './tasks/token-classification.js';
import type { Batch, EvalMetrics, LossFn } from './trainer.js';

/** A padded token-classification batch; `count` is the number of labelled tokens. */
export interface TokenClassificationBatch extends Batch {
  inputIds: Int32Array;
  attentionMask: Uint8Array;
  tokenTypeIds: Int32Array;
  /** Label id per token, {@link IGNORE_INDEX} on padding, special tokens and later sub-tokens. */
  labels: Int32Array;
  batchSize: number;
  seqLen: number;
}

/** A model with a token-classification head (e.g. BertForTokenClassification). */
export interface TokenClassifierModel extends Module {
  /** Logits [batch, seq, numLabels] and, with labels, the loss. */
  forward(input: {
    inputIds: Int32Array;
    batchSize: number;
    attentionMask?: Uint8Array;
    tokenTypeIds?: Int32Array;
    labels?: Int32Array;
  }): { logits: Tensor; loss?: Tensor };
}

/**
 * Pads features into one batch (right side, to the longest row rounded up to `padToMultipleOf`).
 * Features without labels (prediction) get -100 everywhere.
 * @throws when a feature's labels, mask or token types do not match its ids in length.
 */
export function collateTokenClassification(
  features: readonly TokenClassificationFeature[],
  opts: { padTokenId: number; padToMultipleOf?: number },
): TokenClassificationBatch {
  if (features.length === 0) throw new Error('collateTokenClassification: no features');
  const B = features.length;
  const mult = opts.padToMultipleOf ?? 1;
  if (!Number.isInteger(mult) || mult < 1)
    throw new Error(`collateTokenClassification: padToMultipleOf must be a positive integer, got ${mult}`);
  const longest = Math.max(...features.map((f) => f.inputIds.length));
  const T = Math.max(1, Math.ceil(longest / mult) * mult);
  const inputIds = new Int32Array(B * T).fill(opts.padTokenId);
  const attentionMask = new Uint8Array(B * T);
  const tokenTypeIds = new Int32Array(B * T);
  const labels = new Int32Array(B * T).fill(IGNORE_INDEX);
  let tokens = 0;
  let count = 0;
  features.forEach((f, b) => {
    const n = f.inputIds.length;
    if (f.labels.length !== 0 && f.labels.length !== n)
      throw new Error(`collateTokenClassification: feature ${b} has ${n} ids but ${f.labels.length} labels`);
    if (f.attentionMask.length !== n || f.tokenTypeIds.length !== n)
      throw new Error(
        `collateTokenClassification: feature ${b} has ${n} ids but ${f.attentionMask.length} mask and ${f.tokenTypeIds.length} token type entries`,
      );
    for (let t = 0; t < n; t++) {
      const i = b * T + t;
      inputIds[i] = f.inputIds[t] ?? opts.padTokenId;
      attentionMask[i] = f.attentionMask[t] ?? 0;
      tokenTypeIds[i] = f.tokenTypeIds[t] ?? 0;
      const y = f.labels[t];
      if (y !== undefined) {
        labels[i] = y;
        if (y !== IGNORE_INDEX) count++;
      }
    }
    tokens += n;
  });
  return { inputIds, attentionMask, tokenTypeIds, labels, batchSize: B, seqLen: T, count, tokens };
}

/** The loss: the model's token cross-entropy, a mean over the batch's labelled tokens. */
export const tokenClassificationLoss: LossFn<TokenClassifierModel, TokenClassificationBatch> = (model, b) => {
  const out = model.forward({
    inputIds: b.inputIds,
    batchSize: b.batchSize,
    attentionMask: b.attentionMask,
    tokenTypeIds: b.tokenTypeIds,
    labels: b.labels,
  });
  if (!out.loss) throw new Error('token classification loss: the model returned no loss');
  return out.loss;
};

/**
 * Word-level tag predictions of each feature (argmax per token, the first token of each word).
 * @param numWords per feature, its sentence's word count.
 */
export function predictTokenClassification(
  model: TokenClassifierModel,
  features: readonly TokenClassificationFeature[],
  numWords: readonly number[],
  labelMap: LabelMap,
  opts: { padTokenId: number; batchSize?: number },
): string[][] {
  if (numWords.length !== features.length)
    throw new Error(`predictTokenClassification: ${features.length} features but ${numWords.length} word counts`);
  const bs = opts.batchSize ?? 16;
  const out: string[][] = [];
  for (let i = 0; i < features.length; i += bs) {
    const chunk = features.slice(i, i + bs);
    const b = collateTokenClassification(chunk, { padTokenId: opts.padTokenId });
    const logits = noGrad(
      () =>
        model.forward({
          inputIds: b.inputIds,
          batchSize: b.batchSize,
          attentionMask: b.attentionMask,
          tokenTypeIds: b.tokenTypeIds,
        }).logits,
    );
    const L = labelMap.labels.length;
    if (logits.size !== b.batchSize * b.seqLen * L)
      throw new Error(
        `predictTokenClassification: logits have ${logits.size} values, expected batch*seq*labels = ${b.batchSize}*${b.seqLen}*${L}`,
      );
    const v = logits.f32;
    chunk.forEach((f, r) => {
      const preds: number[] = [];
      for (let t = 0; t < f.inputIds.length; t++) {
        const base = (r * b.seqLen + t) * L;
        let best = 0;
        for (let j = 1; j < L; j++) if ((v[base + j] ?? -Infinity) > (v[base + best] ?? -Infinity)) best = j;
        preds.push(best);
      }
      out.push(wordLevelPredictions(f.wordIds, preds, labelMap, numWords[i + r] ?? 0));
    });
  }
  return out;
}

/** A sentence with its gold tags, and its encoded feature. */
export interface TaggedSentence {
  words: readonly string[];
  tags: readonly string[];
  feature: TokenClassificationFeature;
}

/**
 * seqeval over sentences (run_ner's compute_metrics): overall precision, recall, F1 and accuracy.
 * The model is put in eval mode for the call and restored after.
 */
export function tokenClassificationMetrics(
  model: TokenClassifierModel,
  sentences: readonly TaggedSentence[],
  labelMap: LabelMap,
  opts: { padTokenId: number; batchSize?: number },
): Record<string, number> {
  return tokenClassificationEvalMetrics(model, sentences, labelMap, opts).values;
}

/** seqeval's overall precision, recall, F1 and accuracy of a token classifier with the evidence for overall_f1's bootstrap interval (TrainingArgs.bootstrapSamples). */
export function tokenClassificationEvalMetrics(
  model: TokenClassifierModel,
  sentences: readonly TaggedSentence[],
  labelMap: LabelMap,
  opts: { padTokenId: number; batchSize?: number },
): EvalMetrics {
  if (sentences.length === 0) throw new Error('tokenClassificationMetrics: no sentences');
  const wasTraining = model.training;
  model.eval();
  try {
    const predictions = predictTokenClassification(
      model,
      sentences.map((s) => s.feature),
      sentences.map((s) => s.words.length),
      labelMap,
      opts,
    );
    const inputs: MetricInputs = { predictions, references: sentences.map((s) => [...s.tags]) };
    const r = computeMetric('seqeval', inputs);
    const values: Record<string, number> = {};
    const evidence: NonNullable<EvalMetrics['evidence']> = {};
    for (const key of ['overall_precision', 'overall_recall', 'overall_f1', 'overall_accuracy']) {
      values[key] = Number(r[key]);
      // seqeval's bootstrap is about its main score, overall_f1: the other values get no interval.
      if (key === 'overall_f1') evidence[key] = { metric: 'seqeval', inputs };
    }
    return { values, evidence };
  } finally {
    model.train(wasTraining);
  }
}
