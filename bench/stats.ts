/** Small statistics shared by the benchmarks. */

/**
 * The median as numpy computes it (the PyTorch baselines use `np.median`): the middle value, or
 * the mean of the middle two for an even count; null for no values.
 */
export function median(xs: readonly number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}
