/**
 * Resampling statistics for any corpus-level metric: bootstrap confidence intervals and paired
 * significance tests between two systems (paired bootstrap and approximate randomization, as in
 * sacrebleu's `--paired-bs` / `--paired-ar`, after Koehn 2004 and Riezler & Maxwell 2005).
 *
 * Every function is deterministic given `seed` (default 12345, sacrebleu's default seed). The
 * random stream is tunekit's own (xoshiro128**), so resamples are not NumPy's: p-values and
 * intervals agree with sacrebleu's statistically, not digit for digit.
 *
 * One deliberate difference from sacrebleu: sacrebleu counts resampled statistics strictly
 * greater than the observed one, so a system compared with itself gets p = 1/(N+1) and looks
 * "significant". Here ties count (≥), so identical systems give p = 1.
 */

/** A corpus-level metric: the score of a whole set of predictions against their references. */
export type CorpusMetric<P, R> = (predictions: P[], references: R[]) => number;

/** A seeded pseudo-random generator (xoshiro128**, seeded through splitmix32). */
export interface SeededRandom {
  /** Next 32-bit unsigned integer. */
  nextUint32(): number;
  /** Uniform integer in [0, n), without modulo bias. */
  integer(n: number): number;
}

/** Creates a deterministic generator from an integer seed. */
export function seededRandom(seed: number): SeededRandom {
  if (!Number.isSafeInteger(seed)) throw new Error(`seed must be an integer, got ${seed}`);
  // splitmix32 expands the seed into the 128-bit state, so nearby seeds give unrelated streams.
  let s = (seed >>> 0) ^ Math.floor(seed / 2 ** 32);
  const splitmix = () => {
    s = (s + 0x9e3779b9) | 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
  const state = new Uint32Array([splitmix(), splitmix(), splitmix(), splitmix()]);
  const rotl = (x: number, k: number) => (x << k) | (x >>> (32 - k));
  const nextUint32 = () => {
    const result = Math.imul(rotl(Math.imul(state[1]!, 5), 7), 9) >>> 0;
    const t = state[1]! << 9;
    state[2]! ^= state[0]!;
    state[3]! ^= state[1]!;
    state[1]! ^= state[2]!;
    state[0]! ^= state[3]!;
    state[2]! ^= t;
    state[3] = rotl(state[3]!, 11);
    return result;
  };
  const integer = (n: number) => {
    if (!Number.isInteger(n) || n <= 0 || n > 2 ** 32) throw new Error(`integer(n) needs 1 ≤ n ≤ 2^32, got ${n}`);
    // Rejection sampling on the largest multiple of n below 2^32.
    const limit = 2 ** 32 - (2 ** 32 % n);
    for (;;) {
      const x = nextUint32();
      if (x < limit) return x % n;
    }
  };
  return { nextUint32, integer };
}

function checkParallel(what: string, n: number, ...others: [string, number][]): void {
  if (n === 0) throw new Error(`${what} needs at least one item`);
  for (const [name, m] of others) {
    if (m !== n) throw new Error(`${what}: ${name} has ${m} items but predictions have ${n}`);
  }
}

function checkSamples(nSamples: number): void {
  if (!Number.isInteger(nSamples) || nSamples < 1)
    throw new Error(`nSamples must be a positive integer, got ${nSamples}`);
}

/** NumPy's default (`linear`) percentile of sorted values, q in [0, 1]. */
function percentileSorted(sorted: readonly number[], q: number): number {
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

/** Options of {@link bootstrapCi}. */
export interface BootstrapOptions {
  /** Number of resamples (default 1000). */
  nSamples?: number;
  /** Coverage of the percentile interval (default 0.95). */
  confidence?: number;
  /** PRNG seed (default 12345). */
  seed?: number;
}

/** Result of {@link bootstrapCi}. */
export interface BootstrapResult {
  /** The metric on the full data. */
  score: number;
  /** Lower and upper percentile bounds of the resampled scores. */
  low: number;
  high: number;
  /** Mean and standard deviation (ddof = 0) of the resampled scores. */
  mean: number;
  std: number;
  nSamples: number;
  confidence: number;
}

/** Draws `n` item indices with replacement. */
function resampleIndices(rng: SeededRandom, n: number): number[] {
  const idx = new Array<number>(n);
  for (let i = 0; i < n; i++) idx[i] = rng.integer(n);
  return idx;
}

/**
 * Bootstrap percentile confidence interval of a corpus metric: resample items (prediction with
 * its reference) with replacement `nSamples` times, score each resample, and report the
 * (1 − confidence)/2 and (1 + confidence)/2 percentiles (NumPy's linear interpolation).
 * Resamples whose score is NaN are dropped from the percentiles (and counted out of nSamples).
 */
export function bootstrapCi<P, R>(
  metricFn: CorpusMetric<P, R>,
  predictions: readonly P[],
  references: readonly R[],
  options: BootstrapOptions = {},
): BootstrapResult {
  const { nSamples = 1000, confidence = 0.95, seed = 12345 } = options;
  checkParallel('bootstrapCi', predictions.length, ['references', references.length]);
  checkSamples(nSamples);
  if (!(confidence > 0 && confidence < 1)) throw new Error(`confidence must be in (0, 1), got ${confidence}`);
  const score = metricFn([...predictions], [...references]);
  const rng = seededRandom(seed);
  const scores: number[] = [];
  for (let s = 0; s < nSamples; s++) {
    const idx = resampleIndices(rng, predictions.length);
    const value = metricFn(
      idx.map((i) => predictions[i]!),
      idx.map((i) => references[i]!),
    );
    if (!Number.isNaN(value)) scores.push(value);
  }
  if (scores.length === 0) throw new Error('bootstrapCi: the metric returned NaN on every resample');
  scores.sort((a, b) => a - b);
  const mean = scores.reduce((a, b) => a + b, 0) / scores.length;
  const std = Math.sqrt(scores.reduce((a, b) => a + (b - mean) ** 2, 0) / scores.length);
  const alpha = (1 - confidence) / 2;
  return {
    score,
    low: percentileSorted(scores, alpha),
    high: percentileSorted(scores, 1 - alpha),
    mean,
    std,
    nSamples: scores.length,
    confidence,
  };
}

/** Options of the paired tests. */
export interface PairedTestOptions {
  /** Resamples (bootstrap, default 1000) or shuffles (randomization, default 10000), as sacrebleu. */
  nSamples?: number;
  /** PRNG seed (default 12345). */
  seed?: number;
}

/** Result of a paired significance test of system B against baseline A. */
export interface PairedTestResult {
  scoreA: number;
  scoreB: number;
  /** scoreB − scoreA on the full data. */
  difference: number;
  /**
   * Two-sided p-value, (count + 1)/(nSamples + 1): the chance of a difference at least this
   * large if the systems were equally good. Identical systems give 1.
   */
  pValue: number;
  nSamples: number;
}

/** Both paired tests start alike: check the inputs, score each system, |B − A|. */
function scorePair<P, R>(
  name: string,
  metricFn: CorpusMetric<P, R>,
  predictionsA: readonly P[],
  predictionsB: readonly P[],
  references: readonly R[],
  nSamples: number,
): { n: number; scoreA: number; scoreB: number; observed: number } {
  const n = predictionsA.length;
  checkParallel(name, n, ['predictionsB', predictionsB.length], ['references', references.length]);
  checkSamples(nSamples);
  const scoreA = metricFn([...predictionsA], [...references]);
  const scoreB = metricFn([...predictionsB], [...references]);
  return { n, scoreA, scoreB, observed: Math.abs(scoreB - scoreA) };
}

/**
 * Paired bootstrap resampling test (sacrebleu `--paired-bs`, replicating Moses'
 * bootstrap-hypothesis-difference-significance.pl): both systems are scored on the same
 * resampled item sets; the statistic |B_s − A_s| − mean_s|B_s − A_s| is compared with the
 * observed |B − A|. Default 1000 resamples.
 */
export function pairedBootstrap<P, R>(
  metricFn: CorpusMetric<P, R>,
  predictionsA: readonly P[],
  predictionsB: readonly P[],
  references: readonly R[],
  options: PairedTestOptions = {},
): PairedTestResult {
  const { nSamples = 1000, seed = 12345 } = options;
  const { n, scoreA, scoreB, observed } = scorePair(
    'pairedBootstrap',
    metricFn,
    predictionsA,
    predictionsB,
    references,
    nSamples,
  );
  const rng = seededRandom(seed);
  const sampleDiffs = new Float64Array(nSamples);
  for (let s = 0; s < nSamples; s++) {
    const idx = resampleIndices(rng, n);
    const refs = idx.map((i) => references[i]!);
    const a = metricFn(
      idx.map((i) => predictionsA[i]!),
      refs,
    );
    const b = metricFn(
      idx.map((i) => predictionsB[i]!),
      refs,
    );
    sampleDiffs[s] = Math.abs(b - a);
  }
  const meanDiff = sampleDiffs.reduce((x, y) => x + y, 0) / nSamples;
  let count = 0;
  for (const d of sampleDiffs) if (d - meanDiff >= observed) count++;
  return { scoreA, scoreB, difference: scoreB - scoreA, pValue: (count + 1) / (nSamples + 1), nSamples };
}

/**
 * Paired approximate randomization test (sacrebleu `--paired-ar`, Riezler & Maxwell 2005): in
 * each trial every item's two outputs are swapped between the systems with probability ½; the
 * statistic is |score(shuffled A) − score(shuffled B)| against the observed |B − A|.
 * Default 10000 trials.
 */
export function approximateRandomization<P, R>(
  metricFn: CorpusMetric<P, R>,
  predictionsA: readonly P[],
  predictionsB: readonly P[],
  references: readonly R[],
  options: PairedTestOptions = {},
): PairedTestResult {
  const { nSamples = 10000, seed = 12345 } = options;
  const { n, scoreA, scoreB, observed } = scorePair(
    'approximateRandomization',
    metricFn,
    predictionsA,
    predictionsB,
    references,
    nSamples,
  );
  const refs = [...references];
  const rng = seededRandom(seed);
  let count = 0;
  const shufA = new Array<P>(n);
  const shufB = new Array<P>(n);
  for (let s = 0; s < nSamples; s++) {
    for (let i = 0; i < n; i++) {
      const swap = (rng.nextUint32() & 1) === 1;
      shufA[i] = swap ? predictionsB[i]! : predictionsA[i]!;
      shufB[i] = swap ? predictionsA[i]! : predictionsB[i]!;
    }
    if (Math.abs(metricFn([...shufA], refs) - metricFn([...shufB], refs)) >= observed) count++;
  }
  return { scoreA, scoreB, difference: scoreB - scoreA, pValue: (count + 1) / (nSamples + 1), nSamples };
}
