/**
 * Extractive question answering in the trainer, as run_qa.py: the collator over
 * {@link prepareQaFeatures} features (dynamic right padding, start/end positions), the loss (the
 * model's (CE(start) + CE(end)) / 2, a mean over features), and evaluation that runs the model over
 * every window, {@link postprocessQaPredictions} and {@link qaMetrics} (SQuAD v1.1, or CMRC 2018 for Chinese).
 */
import type { Module } from '../nn/module.js';
import { noGrad, type Tensor } from '../tensor/tensor.js';
import {
  postprocessQaPredictions,
  qaMetrics,
  type QaExample,
  type QaFeature,
  type QaPostprocessOptions,
  type QaPrediction,
} from './tasks/extractive-qa.js';
import type { Batch, LossFn } from './trainer.js';

/** A padded QA batch; `count` is the number of features (the loss is a mean over them). */
export interface QaBatch extends Batch {
  inputIds: Int32Array;
  attentionMask: Uint8Array;
  tokenTypeIds: Int32Array;
  startPositions: Int32Array;
  endPositions: Int32Array;
  batchSize: number;
  seqLen: number;
}

/** A model with a span head (e.g. BertForQuestionAnswering). */
export interface QaModel extends Module {
  /** Start/end logits and, with positions, the span loss. */
  forward(input: {
    inputIds: Int32Array;
    batchSize: number;
    attentionMask?: Uint8Array;
    tokenTypeIds?: Int32Array;
    startPositions?: Int32Array;
    endPositions?: Int32Array;
  }): { startLogits: Tensor; endLogits: Tensor; loss?: Tensor };
}

/**
 * Pads features into one batch (right side, to the longest row rounded up to `padToMultipleOf`).
 * @throws when a feature's mask or token types differ in length from its ids, or a position is outside it.
 */
export function collateQa(
  features: readonly QaFeature[],
  opts: { padTokenId: number; padToMultipleOf?: number },
): QaBatch {
  if (features.length === 0) throw new Error('collateQa: no features');
  const B = features.length;
  const mult = opts.padToMultipleOf ?? 1;
  if (!Number.isInteger(mult) || mult < 1)
    throw new Error(`collateQa: padToMultipleOf must be a positive integer, got ${mult}`);
  const T = Math.max(1, Math.ceil(Math.max(...features.map((f) => f.inputIds.length)) / mult) * mult);
  const inputIds = new Int32Array(B * T).fill(opts.padTokenId);
  const attentionMask = new Uint8Array(B * T);
  const tokenTypeIds = new Int32Array(B * T);
  const startPositions = new Int32Array(B);
  const endPositions = new Int32Array(B);
  let tokens = 0;
  features.forEach((f, b) => {
    const n = f.inputIds.length;
    if (f.attentionMask.length !== n || f.tokenTypeIds.length !== n)
      throw new Error(
        `collateQa: feature ${b} has ${n} ids but ${f.attentionMask.length} mask and ${f.tokenTypeIds.length} token type entries`,
      );
    for (const [name, p] of [
      ['startPosition', f.startPosition],
      ['endPosition', f.endPosition],
    ] as const) {
      if (!Number.isInteger(p) || p < 0 || p >= n)
        throw new Error(`collateQa: feature ${b}: ${name} ${p} is outside its ${n} tokens`);
    }
    for (let t = 0; t < n; t++) {
      inputIds[b * T + t] = f.inputIds[t] ?? opts.padTokenId;
      attentionMask[b * T + t] = f.attentionMask[t] ?? 0;
      tokenTypeIds[b * T + t] = f.tokenTypeIds[t] ?? 0;
    }
    startPositions[b] = f.startPosition;
    endPositions[b] = f.endPosition;
    tokens += n;
  });
  return {
    inputIds,
    attentionMask,
    tokenTypeIds,
    startPositions,
    endPositions,
    batchSize: B,
    seqLen: T,
    count: B,
    tokens,
  };
}

/** The loss: the model's (CE(start) + CE(end)) / 2, each a mean over the batch's features (transformers' BertForQuestionAnswering). */
export const qaLoss: LossFn<QaModel, QaBatch> = (model, b) => {
  const out = model.forward({
    inputIds: b.inputIds,
    batchSize: b.batchSize,
    attentionMask: b.attentionMask,
    tokenTypeIds: b.tokenTypeIds,
    startPositions: b.startPositions,
    endPositions: b.endPositions,
  });
  if (!out.loss) throw new Error('question answering loss: the model returned no loss');
  return out.loss;
};

/** Start and end logits of each feature, one row per feature of its own token count (padding cut off). */
export function qaLogits(
  model: QaModel,
  features: readonly QaFeature[],
  opts: { padTokenId: number; batchSize?: number },
): { startLogits: number[][]; endLogits: number[][] } {
  const bs = opts.batchSize ?? 16;
  const startLogits: number[][] = [];
  const endLogits: number[][] = [];
  for (let i = 0; i < features.length; i += bs) {
    const chunk = features.slice(i, i + bs);
    const b = collateQa(chunk, { padTokenId: opts.padTokenId });
    const out = noGrad(() =>
      model.forward({
        inputIds: b.inputIds,
        batchSize: b.batchSize,
        attentionMask: b.attentionMask,
        tokenTypeIds: b.tokenTypeIds,
      }),
    );
    const s = out.startLogits.f32;
    const e = out.endLogits.f32;
    if (s.length !== b.batchSize * b.seqLen || e.length !== s.length)
      throw new Error(
        `qaLogits: expected batch*seq = ${b.batchSize}*${b.seqLen} start and end logits, got ${s.length} and ${e.length}`,
      );
    chunk.forEach((f, r) => {
      startLogits.push(Array.from(s.subarray(r * b.seqLen, r * b.seqLen + f.inputIds.length)));
      endLogits.push(Array.from(e.subarray(r * b.seqLen, r * b.seqLen + f.inputIds.length)));
    });
  }
  return { startLogits, endLogits };
}

/** How {@link evaluateQa} batches the features, scores the answers (SQuAD v1.1 or CMRC 2018 rules) and picks spans. */
export interface QaEvalOptions {
  padTokenId: number;
  batchSize?: number;
  variant?: 'squad-v1.1' | 'cmrc2018';
  postprocess?: QaPostprocessOptions;
}

/**
 * Answers and SQuAD metrics (exact_match, f1 in percent) of the examples, from the model's logits
 * over their features. The model is put in eval mode for the call and restored after.
 * @param features the features of exactly these examples (their `exampleIndex` into `examples`).
 */
export function evaluateQa(
  model: QaModel,
  examples: readonly QaExample[],
  features: readonly QaFeature[],
  opts: QaEvalOptions,
): { exact_match: number; f1: number; predictions: QaPrediction[] } {
  for (const [i, f] of features.entries()) {
    if (!Number.isInteger(f.exampleIndex) || f.exampleIndex < 0 || f.exampleIndex >= examples.length)
      throw new Error(`evaluateQa: feature ${i} points at example ${f.exampleIndex}, but there are ${examples.length}`);
  }
  const wasTraining = model.training;
  model.eval();
  try {
    const { startLogits, endLogits } = qaLogits(model, features, opts);
    const predictions = postprocessQaPredictions(examples, features, startLogits, endLogits, opts.postprocess ?? {});
    const m = qaMetrics(examples, predictions, opts.variant === undefined ? {} : { variant: opts.variant });
    return { ...m, predictions };
  } finally {
    if (wasTraining) model.train();
  }
}
