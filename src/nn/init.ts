/**
 * transformers' `_init_weights` for the layers models are built from: weights drawn from
 * N(0, std) (`initializer_range`, usually 0.02), biases zero, an embedding's padding row zero.
 * Every model initialises through these, so a seed gives the same weights whichever model draws them.
 */
import * as F from '../tensor/ops.js';
import type { Rng } from '../tensor/random.js';
import { Embedding, Linear } from './layers.js';

/** Options of {@link normalLinear}. */
export interface NormalLinearOptions {
  /** With a bias (default true), initialised to zero. */
  bias?: boolean;
  /** Weight stored [in, out] as GPT-2's Conv1D (default false: [out, in]). */
  weightInOut?: boolean;
}

/**
 * A Linear with weight ~ N(0, std) and zero bias.
 *
 * @param rng draws the weights (the Linear's own uniform draw happens first, as before, so seeds
 *   reproduce earlier weights; a SkipInitRng makes both free when a checkpoint overwrites them)
 */
export function normalLinear(
  inFeatures: number,
  outFeatures: number,
  rng: Rng,
  std: number,
  opts: NormalLinearOptions = {},
): Linear {
  const bias = opts.bias ?? true;
  const l = new Linear(inFeatures, outFeatures, { bias, rng, weightInOut: opts.weightInOut ?? false });
  l.weight = F.randn(l.weight.shape, rng, std, { requiresGrad: true });
  if (l.bias) l.bias = F.zeros(l.bias.shape, { requiresGrad: true });
  return l;
}

/**
 * An Embedding [num, dim] with weights ~ N(0, std); the `paddingIdx` row (if given and in range)
 * is zero, as transformers initialises `padding_idx`.
 */
export function normalEmbedding(
  num: number,
  dim: number,
  rng: Rng,
  std: number,
  paddingIdx: number | null = null,
): Embedding {
  const e = new Embedding(num, dim, { rng });
  e.weight = F.randn([num, dim], rng, std, { requiresGrad: true });
  if (paddingIdx !== null && paddingIdx >= 0 && paddingIdx < num)
    e.weight.f32.fill(0, paddingIdx * dim, (paddingIdx + 1) * dim);
  return e;
}
