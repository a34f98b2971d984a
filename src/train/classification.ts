/**
 * Sequence classification and regression: tokenizing labelled texts (single or pairs), the
 * collator, the loss, and evaluation metrics through the metric registry.
 *
 * Works with any model whose forward takes {inputIds, batchSize, attentionMask, tokenTypeIds?,
 * labels} and returns {logits [B, numLabels], loss}: BertForSequenceClassification (pools [CLS]),
 * Llama/Qwen2/GPT2ForSequenceClassification (score the last real token).
 */
import type { PreTrainedTokenizer } from '../io/tokenizer.js';
import type { Module } from '../nn/module.js';
import type { Tensor } from '../tensor/tensor.js';
import type { Example, Located } from './data.js';
import type { Batch, LossFn } from './trainer.js';

/** A text-classification example: text (or a pair) and its label. */
export interface ClassificationExample {
  inputIds: readonly number[] | Int32Array;
  tokenTypeIds?: readonly number[] | Int32Array;
  /** Class id, or the regression target(s). */
  label: number | readonly number[];
}

export interface ClassificationBatch extends Batch {
  inputIds: Int32Array;
  attentionMask: Uint8Array;
  tokenTypeIds: Int32Array;
  /** Int32Array of class ids (classification) or Float32Array [B, numLabels] (regression). */
  labels: Int32Array | Float32Array;
  batchSize: number;
  seqLen: number;
}

/** A model with a classification head that the classification helpers can train and run. */
export interface ClassifierModel extends Module {
  /** Logits [batch, numLabels] and, with labels, the loss. */
  forward(input: {
    inputIds: Int32Array;
    batchSize: number;
    attentionMask?: Uint8Array;
    tokenTypeIds?: Int32Array;
    labels?: Int32Array | Float32Array;
  }): { logits: Tensor; loss?: Tensor };
}

/**
 * A label mapping for classification: string labels sorted (as datasets' ClassLabel from
 * sorted unique values), numbers and booleans as integers. `regression` keeps numbers as targets.
 */
export function labelMapping(
  examples: ReadonlyArray<Example>,
  kind: 'classification' | 'regression',
): {
  /** The class id of a label (or the number, for regression); errors name `where`. */
  toId: (label: unknown, where: string) => number;
  /** Label names by id. */
  names: string[];
} {
  if (kind === 'regression') {
    return {
      names: ['score'],
      toId: (l, where) => {
        const x = typeof l === 'string' ? Number(l) : l;
        if (typeof x !== 'number' || !Number.isFinite(x))
          throw new Error(`${where}: field "label": expected a number for regression, got ${JSON.stringify(l)}`);
        return x;
      },
    };
  }
  const values = [
    ...new Set(
      examples.map((e) => (e.kind === 'label' ? String(e.label === true ? 1 : e.label === false ? 0 : e.label) : '')),
    ),
  ];
  const numeric = values.every((v) => /^-?\d+$/.test(v));
  const names = numeric
    ? values
        .map(Number)
        .sort((a, b) => a - b)
        .map(String)
    : values.sort();
  const index = new Map(names.map((n, i) => [n, numeric ? Number(n) : i]));
  if (numeric && names.some((n) => Number(n) < 0))
    throw new Error(`classification labels must be non-negative integers, got ${names.join(', ')}`);
  return {
    names,
    toId: (l, where) => {
      const key = String(l === true ? 1 : l === false ? 0 : l);
      const id = index.get(key);
      if (id === undefined)
        throw new Error(`${where}: field "label": "${key}" is not one of the training labels (${names.join(', ')})`);
      return id;
    },
  };
}

/** Tokenize a labelled record ({text, textPair?, label}); truncation to maxLength keeps the end special token. */
export function classificationTokens(
  tok: PreTrainedTokenizer,
  ex: Located<Example> | Example,
  toId: (label: unknown, where: string) => number,
  opts: { maxLength?: number } = {},
): ClassificationExample {
  const where = 'source' in ex ? `${ex.source.file}:${ex.source.line}` : 'example';
  if (ex.kind !== 'label')
    throw new Error(`${where}: a "${ex.kind}" record is not a classification example (expected text and label)`);
  const enc = tok.encodeBatch([ex.text], {
    ...(ex.textPair !== undefined ? { textPairs: [ex.textPair] } : {}),
    ...(opts.maxLength !== undefined ? { truncation: true, maxLength: opts.maxLength } : {}),
  });
  return { inputIds: enc.inputIds[0] ?? [], tokenTypeIds: enc.tokenTypeIds[0] ?? [], label: toId(ex.label, where) };
}

/** Pad a batch (right side); labels as class ids or float targets (regression). */
export function collateClassification(
  examples: readonly ClassificationExample[],
  opts: { padTokenId: number; regression?: boolean; padToMultipleOf?: number },
): ClassificationBatch {
  if (examples.length === 0) throw new Error('collateClassification: no examples');
  const B = examples.length;
  const mult = opts.padToMultipleOf ?? 1;
  const T = Math.max(1, Math.ceil(Math.max(...examples.map((e) => e.inputIds.length)) / mult) * mult);
  const inputIds = new Int32Array(B * T).fill(opts.padTokenId);
  const attentionMask = new Uint8Array(B * T);
  const tokenTypeIds = new Int32Array(B * T);
  let tokens = 0;
  const flat: number[] = [];
  examples.forEach((e, b) => {
    for (let t = 0; t < e.inputIds.length; t++) {
      inputIds[b * T + t] = e.inputIds[t]!;
      attentionMask[b * T + t] = 1;
      tokenTypeIds[b * T + t] = e.tokenTypeIds?.[t] ?? 0;
    }
    tokens += e.inputIds.length;
    if (typeof e.label === 'number') flat.push(e.label);
    else flat.push(...e.label);
  });
  let labels: Int32Array | Float32Array;
  if (opts.regression) labels = Float32Array.from(flat);
  else {
    if (flat.length !== B || flat.some((l) => !Number.isInteger(l) || l < 0))
      throw new Error('collateClassification: class labels must be one non-negative integer per example');
    labels = Int32Array.from(flat);
  }
  return { inputIds, attentionMask, tokenTypeIds, labels, batchSize: B, seqLen: T, count: B, tokens };
}

/** The loss: the model's own (cross-entropy, MSE or BCE by problem type), a mean over examples. */
export const classificationLoss: LossFn<ClassifierModel, ClassificationBatch> = (model, b) => {
  const out = model.forward({
    inputIds: b.inputIds,
    batchSize: b.batchSize,
    attentionMask: b.attentionMask,
    tokenTypeIds: b.tokenTypeIds,
    labels: b.labels,
  });
  if (!out.loss) throw new Error('classification loss: the model returned no loss');
  return out.loss;
};

/** Logits [B, numLabels] for a batch, as plain arrays (inference mode is the caller's). */
export function classificationLogits(model: ClassifierModel, b: ClassificationBatch): Float32Array {
  return model.forward({
    inputIds: b.inputIds,
    batchSize: b.batchSize,
    attentionMask: b.attentionMask,
    tokenTypeIds: b.tokenTypeIds,
  }).logits.f32;
}

/** Predictions (argmax class, or the regression value) and references over examples. */
export function predictClassification(
  model: ClassifierModel,
  examples: readonly ClassificationExample[],
  opts: { padTokenId: number; regression?: boolean; batchSize?: number },
): { predictions: number[]; references: number[] } {
  const predictions: number[] = [];
  const references: number[] = [];
  const bs = opts.batchSize ?? 16;
  for (let i = 0; i < examples.length; i += bs) {
    const b = collateClassification(examples.slice(i, i + bs), opts);
    const logits = classificationLogits(model, b);
    const L = logits.length / b.batchSize;
    for (let r = 0; r < b.batchSize; r++) {
      if (opts.regression) predictions.push(logits[r * L]!);
      else {
        let best = 0;
        for (let j = 1; j < L; j++) if (logits[r * L + j]! > logits[r * L + best]!) best = j;
        predictions.push(best);
      }
      references.push(b.labels[r * (opts.regression ? L : 1)]!);
    }
  }
  return { predictions, references };
}
