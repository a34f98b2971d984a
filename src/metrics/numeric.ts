/**
 * Floating-point reductions that reproduce NumPy's results bit for bit, so that metrics summing
 * thousands of values agree with the Python references to the last digit rather than to ~n·ε.
 * Internal to the metrics family (not re-exported from `tunekit/metrics`).
 */

/** NumPy's block size for pairwise summation (`PW_BLOCKSIZE` in numpy/core/src/umath/loops). */
const PAIRWISE_BLOCK = 128;

/**
 * Sum of `values[start, start + n)` in NumPy's pairwise order (what `np.sum` / `np.add.reduce` does
 * over a contiguous float64 axis): plain loop below 8 items, 8 interleaved accumulators up to 128,
 * recursive halving (on a multiple of 8) above.
 */
function pairwiseRange(values: ArrayLike<number>, start: number, n: number): number {
  if (n < 8) {
    let res = 0;
    for (let i = 0; i < n; i++) res += values[start + i]!;
    return res;
  }
  if (n <= PAIRWISE_BLOCK) {
    const r = [0, 0, 0, 0, 0, 0, 0, 0];
    for (let j = 0; j < 8; j++) r[j] = values[start + j]!;
    let i = 8;
    for (; i < n - (n % 8); i += 8) {
      for (let j = 0; j < 8; j++) r[j]! += values[start + i + j]!;
    }
    let res = r[0]! + r[1]! + (r[2]! + r[3]!) + (r[4]! + r[5]! + (r[6]! + r[7]!));
    for (; i < n; i++) res += values[start + i]!;
    return res;
  }
  let half = Math.floor(n / 2);
  half -= half % 8;
  return pairwiseRange(values, start, half) + pairwiseRange(values, start + half, n - half);
}

/** `np.sum` of a 1-D float64 array (pairwise summation). */
export function pairwiseSum(values: ArrayLike<number>): number {
  return pairwiseRange(values, 0, values.length);
}

/** `np.mean` of a 1-D array: pairwise sum over the count; NaN for an empty array, as NumPy. */
export function mean(values: ArrayLike<number>): number {
  return values.length === 0 ? NaN : pairwiseSum(values) / values.length;
}

/**
 * `np.average(values, weights=weights)`: Σ(v·w)/Σw with pairwise sums, the plain mean when
 * `weights` is undefined. Throws NumPy's ZeroDivisionError text when the weights sum to zero.
 */
export function average(values: ArrayLike<number>, weights?: ArrayLike<number>): number {
  if (weights === undefined) return mean(values);
  if (weights.length !== values.length) {
    throw new Error(`Length of weights (${weights.length}) not compatible with values (${values.length}).`);
  }
  const scale = pairwiseSum(weights);
  if (scale === 0) throw new Error("Weights sum to zero, can't be normalized");
  const products = new Float64Array(values.length);
  for (let i = 0; i < values.length; i++) products[i] = values[i]! * weights[i]!;
  return pairwiseSum(products) / scale;
}

/**
 * `values[i]` for an index the caller's loop bounds already keep in range: a typed read under
 * `noUncheckedIndexedAccess` that throws (instead of yielding `undefined`, then NaN) if they don't.
 */
export function at(values: ArrayLike<number>, i: number): number {
  const value = values[i];
  if (value === undefined) throw new RangeError(`index ${i} out of range [0, ${values.length})`);
  return value;
}
