/**
 * Fixed-length causal-LM batches sampled from a token stream (benchmarks). The training loop is
 * trainer.ts; padded and packed batches from examples are collate.ts.
 */
import type { Rng } from '../tensor/random.js';

/** A batch of token ids for next-token training. */
export interface LmBatch {
  /** [batch, seq] row-major. */
  inputIds: Int32Array;
  batchSize: number;
  /** transformers' convention: aligned with inputIds, shifted inside the model; -100 = ignore. */
  labels: Int32Array;
  attentionMask?: Uint8Array;
}

/** Moved to losses.ts with the other losses; re-exported here for existing imports. */
export { causalLmLoss } from './losses.js';

/**
 * Random windows of `seqLen` tokens from a token stream, each its own labels (seqLen - 1
 * predictions per row). Every window lies inside the stream; a shorter stream is an error.
 */
export function sampleLmBatch(tokens: Int32Array, batchSize: number, seqLen: number, rng: Rng): LmBatch {
  if (tokens.length < seqLen)
    throw new Error(`sampleLmBatch: ${tokens.length} tokens cannot fill a window of ${seqLen}`);
  const inputIds = new Int32Array(batchSize * seqLen);
  for (let b = 0; b < batchSize; b++) {
    const start = rng.int(tokens.length - seqLen + 1);
    inputIds.set(tokens.subarray(start, start + seqLen), b * seqLen);
  }
  return { inputIds, batchSize, labels: inputIds.slice() };
}
