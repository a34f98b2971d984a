/**
 * Collators: tokenized examples -> padded batches with labels, and the losses that go with them.
 *
 * Conventions (transformers'): labels are aligned with input ids and shifted inside the model;
 * -100 is ignored. Padding is dynamic (to the longest row, optionally rounded up) and on the right.
 * Padding is found from the attention mask, never by comparing ids with the pad id, so an EOS
 * token stays a learned label even when pad == EOS (the cause of endless generations otherwise).
 */
import type { CausalLM } from '../models/causal-lm.js';
import * as F from '../tensor/ops.js';
import { noGrad, type Tensor } from '../tensor/tensor.js';
import type { Batch, LossContext, LossFn } from './trainer.js';
import { IGNORE_INDEX } from './tasks/token-classification.js';

/** Label value that the loss skips (transformers' -100): the task helpers' constant, one for the whole trainer. */
export { IGNORE_INDEX };

/** One tokenized causal-LM example. `labels` default to the ids (every token learned). */
/** Token ids as a typed array or a plain list. */
export type TokenIds = Int32Array | readonly number[];

/** A tokenised language-modelling example: ids and which positions count in the loss. */
export interface LmExample {
  inputIds: TokenIds;
  /** Same length as inputIds; -100 marks tokens that are context only (prompts). */
  labels?: TokenIds;
}

export interface CausalLmBatch extends Batch {
  inputIds: Int32Array;
  attentionMask: Uint8Array;
  labels: Int32Array;
  batchSize: number;
  seqLen: number;
}

/** Options of {@link collateCausalLm}. */
export interface LmCollateOptions {
  padTokenId: number;
  /** Truncate longer examples (from the right) to this many tokens. */
  maxLength?: number;
  /** Round the padded length up to a multiple (default 1). */
  padToMultipleOf?: number;
}

/** Label tokens the shifted loss scores: labels[t] != -100 for t >= 1 of each row. */
export function countShiftedLabels(labels: Int32Array, rows: number, seqLen: number): number {
  let n = 0;
  for (let b = 0; b < rows; b++) for (let t = 1; t < seqLen; t++) if (labels[b * seqLen + t] !== IGNORE_INDEX) n++;
  return n;
}

/** Pad examples into one batch: right padding, attention mask 0 and label -100 on padding. */
export function collateCausalLm(examples: readonly LmExample[], opts: LmCollateOptions): CausalLmBatch {
  if (examples.length === 0) throw new Error('collateCausalLm: no examples');
  const max = opts.maxLength ?? Infinity;
  const lens = examples.map((e, i) => {
    if (e.labels && e.labels.length !== e.inputIds.length)
      throw new Error(`collateCausalLm: example ${i} has ${e.inputIds.length} ids but ${e.labels.length} labels`);
    return Math.min(e.inputIds.length, max);
  });
  const mult = opts.padToMultipleOf ?? 1;
  const T = Math.max(1, Math.ceil(Math.max(...lens) / mult) * mult);
  const B = examples.length;
  const inputIds = new Int32Array(B * T).fill(opts.padTokenId);
  const attentionMask = new Uint8Array(B * T);
  const labels = new Int32Array(B * T).fill(IGNORE_INDEX);
  let tokens = 0;
  examples.forEach((e, b) => {
    const n = lens[b]!;
    tokens += n;
    for (let t = 0; t < n; t++) {
      const id = e.inputIds[t]!;
      inputIds[b * T + t] = id;
      attentionMask[b * T + t] = 1;
      labels[b * T + t] = e.labels ? e.labels[t]! : id;
    }
  });
  return { inputIds, attentionMask, labels, batchSize: B, seqLen: T, count: countShiftedLabels(labels, B, T), tokens };
}

/**
 * Packing (run_clm's group_texts): concatenate documents (each followed by `separatorId`, e.g.
 * EOS, when given) and cut the stream into rows of `seqLen` tokens; a final partial row is dropped.
 * Attention crosses document boundaries within a row, as in run_clm.py.
 */
export function packSequences(docs: readonly TokenIds[], seqLen: number, separatorId?: number): LmExample[] {
  if (!Number.isInteger(seqLen) || seqLen < 2)
    throw new Error(`packSequences: seqLen must be an integer >= 2, got ${seqLen}`);
  const stream: number[] = [];
  for (const d of docs) {
    for (let i = 0; i < d.length; i++) stream.push(d[i]!);
    if (separatorId !== undefined) stream.push(separatorId);
  }
  const out: LmExample[] = [];
  for (let i = 0; i + seqLen <= stream.length; i += seqLen)
    out.push({ inputIds: Int32Array.from(stream.slice(i, i + seqLen)) });
  return out;
}

/** NEFTune (Jain et al. 2023): uniform noise of magnitude alpha / sqrt(L · d) on input embeddings. */
export function neftuneEmbeddings(model: CausalLM, batch: CausalLmBatch, alpha: number, ctx: LossContext): Tensor {
  const emb = model.embedTokens(batch.inputIds, batch.batchSize);
  const d = emb.dim(2);
  const mag = alpha / Math.sqrt(batch.seqLen * d);
  const noise = ctx.rng.fillUniform(new Float32Array(emb.size), -mag, mag);
  return F.add(emb, F.tensor(noise, emb.shape));
}

/**
 * The causal-LM loss: mean next-token cross-entropy over the batch's label tokens. With
 * `neftuneAlpha`, training calls add NEFTune noise to the input embeddings (evaluation does not).
 */
export function causalLmLossFn(opts: { neftuneAlpha?: number } = {}): LossFn<CausalLM, CausalLmBatch> {
  const alpha = opts.neftuneAlpha ?? 0;
  if (!(alpha >= 0)) throw new Error(`neftuneAlpha must be >= 0, got ${alpha}`);
  return (model, batch, ctx) => {
    const out = model.forward({
      ...(alpha > 0 && ctx.training
        ? { inputsEmbeds: neftuneEmbeddings(model, batch, alpha, ctx) }
        : { inputIds: batch.inputIds }),
      batchSize: batch.batchSize,
      attentionMask: batch.attentionMask,
      labels: batch.labels,
    });
    if (!out.loss) throw new Error('causal LM loss: the model returned no loss');
    return out.loss;
  };
}

/**
 * Per-token NLLs of each example's label tokens: the shifted causal-LM loss, one value per scored
 * token, each example scored alone (no padding). What perplexity and mean NLL are computed from.
 */
export function tokenNlls(
  model: Pick<CausalLM, 'forward'>,
  examples: readonly LmExample[],
  padTokenId: number,
): number[][] {
  return noGrad(() =>
    examples.map((ex) => {
      const b = collateCausalLm([ex], { padTokenId });
      const logits = model.forward({ inputIds: b.inputIds, batchSize: 1, attentionMask: b.attentionMask }).logits;
      const V = logits.dim(logits.shape.length - 1);
      const L = logits.size / V;
      const offset = L - b.seqLen; // prompt methods put virtual tokens in front
      const lp = F.logSoftmax(logits, -1).f32;
      const out: number[] = [];
      for (let t = 1; t < b.seqLen; t++) {
        const label = b.labels[t] ?? -100;
        if (label === -100) continue;
        out.push(-(lp[(offset + t - 1) * V + label] ?? NaN));
      }
      return out;
    }),
  );
}
