/**
 * Perplexity from per-token negative log-likelihoods (the model that produced them is not this
 * module's concern).
 *
 * Hugging Face `evaluate`'s `perplexity` computes, per sequence,
 *
 *   PPL_i = exp( Σ_t m_it · NLL_it / Σ_t m_it )
 *
 * where NLL_it = −ln p(x_{t+1} | x_≤t) is the cross-entropy of the SHIFTED logits/labels
 * (logits[..., :-1, :] against input_ids[..., 1:]) and m_it = attention_mask[..., 1:] is the mask
 * of the PREDICTED token. With its default `add_start_token=True`, a BOS token is prepended so the
 * first real token is predicted too. A caller reproducing HF therefore passes, for each sequence,
 * one NLL per predicted token (sequence length − 1 entries when no BOS is prepended) and the
 * attention mask shifted by one. It reports `mean_perplexity` = the unweighted mean of the PPL_i.
 *
 * The token-weighted corpus perplexity exp(Σ_i Σ_t m_it·NLL_it / Σ_i Σ_t m_it) is what
 * language-modelling papers usually call "perplexity" (and what exp(mean loss) gives when every
 * token is weighted equally); it differs from HF's mean of per-sequence perplexities whenever the
 * sequences differ in length or difficulty, so both are returned, clearly named.
 *
 * Logs are natural (HF's cross-entropy); `base` handles NLLs measured in another base (e.g. bits).
 * HF evaluates in float32; this module sums in float64, so HF's printed values agree to about 1e-6
 * relative, not to the last bit.
 */
import { isArrayInput } from './guards.js';

/** Options of {@link perplexity}. */
export interface PerplexityOptions {
  /**
   * Per-token mask of the same ragged shape as the NLLs: 1/true = scored, 0/false = ignored
   * (padding, prompt tokens). Default: every token is scored. Masked entries are never read, so
   * they may hold anything (even ±Infinity or NaN).
   */
  mask?: ReadonlyArray<ReadonlyArray<number | boolean>>;
  /** Base of the logarithm the NLLs are expressed in; default e (natural log, as HF). 2 for bits. */
  base?: number;
}

/** Result of {@link perplexity}. */
export interface PerplexityResult {
  /** Per-sequence perplexity base^(mean NLL over unmasked tokens); NaN for a sequence with no unmasked token (HF: 0/0). */
  perplexities: number[];
  /** HF `evaluate`'s `mean_perplexity`: the unweighted mean of `perplexities` (NaN if any is NaN or there are none, as numpy's mean). */
  meanPerplexity: number;
  /** Token-weighted corpus perplexity base^(Σ NLL / Σ tokens) over all unmasked tokens; NaN when there are none. */
  corpusPerplexity: number;
  /** Number of unmasked tokens per sequence. */
  tokenCounts: number[];
  /** Per-sequence mean NLL over its unmasked tokens (in the NLLs' base); NaN for a sequence with none. */
  sequenceNlls: number[];
  /**
   * Token-weighted mean NLL Σ NLL / Σ tokens over all unmasked tokens, in the NLLs' base (nats by
   * default): the cross-entropy loss a trainer reports when its loss is normalised by the number of
   * label tokens (transformers ≥ 4.46), and log_base(corpusPerplexity). NaN when there are none.
   */
  meanNll: number;
}

function maskValue(value: unknown, i: number, t: number): boolean {
  if (value === true || value === 1) return true;
  if (value === false || value === 0) return false;
  throw new Error(`perplexity: mask[${i}][${t}] must be 0, 1, true or false, got ${String(value)}`);
}

/**
 * Per-sequence, HF-mean and token-weighted corpus perplexity from token NLLs.
 *
 * @param nll nll[i][t] = −log p(token t+1 of sequence i | its prefix), in log base `base`
 *   (sequences may have different lengths).
 * @param options mask (default all tokens scored), base (default e).
 * @throws on a non-array input, a mask whose shape differs from `nll`, a mask value other than
 *   0/1/true/false, an unmasked NLL that is negative or not a number, or a base that is not > 0
 *   and ≠ 1. An unmasked NaN gives NaN for its sequence, its mean and the corpus, as in HF.
 */
export function perplexity(
  nll: ReadonlyArray<ReadonlyArray<number>>,
  options: PerplexityOptions = {},
): PerplexityResult {
  const base = options.base ?? Math.E;
  if (!(base > 0) || base === 1 || !Number.isFinite(base))
    throw new Error(`perplexity: base must be a finite number > 0 and ≠ 1, got ${base}`);
  if (!isArrayInput(nll)) throw new TypeError('perplexity: nll should be an array of per-sequence arrays of numbers');
  const { mask } = options;
  if (mask !== undefined && (!isArrayInput(mask) || mask.length !== nll.length)) {
    throw new Error(
      `perplexity: mask should have one row per sequence (${nll.length}), got ${Array.isArray(mask) ? mask.length : typeof mask}`,
    );
  }
  // exp(x · ln base) = base^x; for the default base e skip the multiplication so results are bit-exact exp(mean NLL).
  const lnBase = base === Math.E ? 1 : Math.log(base);
  const perplexities: number[] = [];
  const tokenCounts: number[] = [];
  const sequenceNlls: number[] = [];
  let totalNll = 0;
  let totalTokens = 0;
  nll.forEach((row, i) => {
    if (!Array.isArray(row)) throw new TypeError(`perplexity: nll[${i}] should be an array of numbers`);
    const maskRow = mask?.[i];
    if (mask !== undefined && (!Array.isArray(maskRow) || maskRow.length !== row.length)) {
      throw new Error(
        `perplexity: mask[${i}] should have ${row.length} entries like nll[${i}], got ${Array.isArray(maskRow) ? maskRow.length : typeof maskRow}`,
      );
    }
    let sum = 0;
    let count = 0;
    row.forEach((value, t) => {
      if (maskRow !== undefined && !maskValue(maskRow[t], i, t)) return;
      // NaN propagates to NaN as in HF (torch.exp(nan)); a negative NLL is impossible and an error.
      if (typeof value !== 'number' || value < 0) {
        throw new Error(
          `perplexity: nll[${i}][${t}] must be a non-negative number (a negative log-probability), got ${String(value)}`,
        );
      }
      sum += value;
      count += 1;
    });
    perplexities.push(Math.exp((sum / count) * lnBase));
    sequenceNlls.push(sum / count);
    tokenCounts.push(count);
    totalNll += sum;
    totalTokens += count;
  });
  const meanPerplexity =
    perplexities.length === 0 ? NaN : perplexities.reduce((a, b) => a + b, 0) / perplexities.length;
  const meanNll = totalNll / totalTokens;
  return {
    perplexities,
    meanPerplexity,
    corpusPerplexity: Math.exp(meanNll * lnBase),
    tokenCounts,
    sequenceNlls,
    meanNll,
  };
}

/**
 * {@link perplexity} from token log-probabilities (log p, ≤ 0) instead of NLLs: NLL = −log p.
 * @param logProbs logProbs[i][t] = log p(token t+1 of sequence i | its prefix), in log base `base`.
 * @param options as {@link perplexity}.
 */
export function perplexityFromLogProbs(
  logProbs: ReadonlyArray<ReadonlyArray<number>>,
  options: PerplexityOptions = {},
): PerplexityResult {
  if (!Array.isArray(logProbs))
    throw new TypeError('perplexityFromLogProbs: logProbs should be an array of per-sequence arrays of numbers');
  return perplexity(
    logProbs.map((row, i) => {
      if (!Array.isArray(row))
        throw new TypeError(`perplexityFromLogProbs: logProbs[${i}] should be an array of numbers`);
      return row.map((lp) => -lp);
    }),
    options,
  );
}
