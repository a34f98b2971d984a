/** Tiny models and data shared by the trainer tests. */
import type { LlamaForCausalLM } from '../../src/models/llama.js';
import { Rng } from '../../src/tensor/random.js';
import type { LmExample } from '../../src/train/collate.js';
import { tinyLlama as tiny } from '../helpers/tiny-models.js';

export function tinyLlama(seed = 3): LlamaForCausalLM {
  return tiny({ rms_norm_eps: 1e-5, tie_word_embeddings: false, eos_token_id: 2, pad_token_id: 2 }, seed);
}

/** Counting examples of varied lengths (3..12 tokens), some with masked prompts, ending in EOS = 2. */
export function tinyExamples(n: number, seed = 1): LmExample[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, (_, i) => {
    const len = 3 + rng.int(10);
    // A learnable pattern: counting up from a random start.
    const start = rng.int(29);
    const ids = Array.from({ length: len - 1 }, (_, j) => 3 + ((start + j) % 29));
    ids.push(2);
    const prompt = i % 2 === 0 ? Math.min(len - 2, 1 + rng.int(3)) : 0;
    return { inputIds: ids, labels: ids.map((t, j) => (j < prompt ? -100 : t)) };
  });
}

export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return d;
}
