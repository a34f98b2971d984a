/**
 * Statistics for pairwise human evaluation, each a pure function with documented defaults:
 * Wilson score intervals, the exact two-sided sign (binomial) test, Cohen's kappa, Fleiss' kappa and
 * Krippendorff's alpha (nominal, ordinal, interval; missing data allowed).
 */

/** z for a two-sided 95% interval. */
export const Z95 = 1.959963984540054;

/**
 * Wilson score interval for k successes in n trials (Wilson 1927; Newcombe 1998, method 3).
 * n = 0 gives [0, 1] (nothing is known).
 */
export function wilsonInterval(k: number, n: number, z = Z95): [number, number] {
  if (!Number.isInteger(k) || !Number.isInteger(n) || k < 0 || n < 0 || k > n)
    throw new Error(`wilsonInterval: need integers 0 <= k <= n, got k=${k}, n=${n}`);
  if (n === 0) return [0, 1];
  const p = k / n;
  const z2 = z * z;
  const denom = 1 + z2 / n;
  const centre = (p + z2 / (2 * n)) / denom;
  const half = (z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / denom;
  // Clamp the rounding error at the ends (k = 0 or k = n give exactly 0 or 1).
  return [Math.max(0, centre - half), Math.min(1, centre + half)];
}

/** log of n choose k. */
function logChoose(n: number, k: number): number {
  let s = 0;
  for (let i = 1; i <= k; i++) s += Math.log(n - k + i) - Math.log(i);
  return s;
}

/**
 * Exact two-sided sign test: p-value of `wins` against `losses` under H0 "each non-tie is a fair
 * coin" (ties are dropped, as in the classical sign test). p = min(1, 2 P(X <= min(wins, losses))).
 * No non-ties gives p = 1.
 */
export function signTest(wins: number, losses: number): number {
  if (!Number.isInteger(wins) || !Number.isInteger(losses) || wins < 0 || losses < 0)
    throw new Error(`signTest: need counts >= 0, got ${wins}, ${losses}`);
  const n = wins + losses;
  if (n === 0) return 1;
  const m = Math.min(wins, losses);
  let tail = 0;
  for (let i = 0; i <= m; i++) tail += Math.exp(logChoose(n, i) - n * Math.LN2);
  return Math.min(1, 2 * tail);
}

/**
 * Cohen's kappa (1960) for two raters who labelled the same items: (po - pe) / (1 - pe), with pe
 * from each rater's own marginals. Labels are any strings. Returns NaN when pe = 1 (both raters
 * used a single, identical label: agreement is undefined).
 */
export function cohenKappa(a: readonly string[], b: readonly string[]): number {
  if (a.length !== b.length)
    throw new Error(
      `cohenKappa: the two raters labelled ${a.length} and ${b.length} items; they must label the same items`,
    );
  const n = a.length;
  if (n === 0) return NaN;
  const ca = new Map<string, number>();
  const cb = new Map<string, number>();
  let agree = 0;
  for (let i = 0; i < n; i++) {
    const x = a[i] as string;
    const y = b[i] as string;
    if (x === y) agree++;
    ca.set(x, (ca.get(x) ?? 0) + 1);
    cb.set(y, (cb.get(y) ?? 0) + 1);
  }
  const po = agree / n;
  let pe = 0;
  for (const [label, count] of ca) pe += (count / n) * ((cb.get(label) ?? 0) / n);
  return pe === 1 ? NaN : (po - pe) / (1 - pe);
}

/**
 * Fleiss' kappa (1971). `counts[i][j]` = how many raters put item i in category j; every item must
 * have the same number of raters (>= 2). Returns NaN when the expected agreement is 1.
 */
export function fleissKappa(counts: readonly (readonly number[])[]): number {
  const N = counts.length;
  if (N === 0) return NaN;
  const k = (counts[0] as readonly number[]).length;
  const n = (counts[0] as readonly number[]).reduce((s, v) => s + v, 0);
  if (n < 2) throw new Error('fleissKappa: every item needs at least two ratings');
  const colTotals = new Array<number>(k).fill(0);
  let sumP = 0;
  counts.forEach((row, i) => {
    if (row.length !== k) throw new Error(`fleissKappa: item ${i} has ${row.length} categories, expected ${k}`);
    const ni = row.reduce((s, v) => s + v, 0);
    if (ni !== n)
      throw new Error(
        `fleissKappa: item ${i} has ${ni} ratings, expected ${n} (every item needs the same number of raters)`,
      );
    let sq = 0;
    row.forEach((c, j) => {
      sq += c * c;
      colTotals[j] = (colTotals[j] ?? 0) + c;
    });
    sumP += (sq - n) / (n * (n - 1));
  });
  const pBar = sumP / N;
  const peBar = colTotals.reduce((s, t) => s + (t / (N * n)) ** 2, 0);
  return peBar === 1 ? NaN : (pBar - peBar) / (1 - peBar);
}

export type AlphaLevel = 'nominal' | 'ordinal' | 'interval';

/**
 * Krippendorff's alpha (Krippendorff 2011, "Computing Krippendorff's Alpha-Reliability").
 * `data[rater][unit]` is a numeric value or null (missing). Units with fewer than two values are not
 * pairable and are dropped. alpha = 1 - Do/De from the coincidence matrix; the ordinal metric is
 * delta^2(c,k) = (sum_{g=c..k} n_g - (n_c + n_k)/2)^2 over the sorted values that occur.
 * Returns NaN when there is no disagreement to expect (a single value overall).
 */
export function krippendorffAlpha(data: readonly (readonly (number | null)[])[], level: AlphaLevel): number {
  const units = data.reduce((m, row) => Math.max(m, row.length), 0);
  const values = [...new Set(data.flatMap((row) => row.filter((v): v is number => v !== null)))].sort((x, y) => x - y);
  for (const v of values)
    if (!Number.isFinite(v)) throw new Error(`krippendorffAlpha: values must be finite numbers, got ${v}`);
  const index = new Map(values.map((v, i) => [v, i]));
  const V = values.length;
  const o: number[][] = Array.from({ length: V }, () => new Array<number>(V).fill(0));
  for (let u = 0; u < units; u++) {
    const vals: number[] = [];
    for (const row of data) {
      const v = row[u];
      if (v !== null && v !== undefined) vals.push(index.get(v) as number);
    }
    const mu = vals.length;
    if (mu < 2) continue;
    for (let i = 0; i < mu; i++) {
      for (let j = 0; j < mu; j++) {
        if (i === j) continue;
        const r = o[vals[i] as number] as number[];
        r[vals[j] as number] = (r[vals[j] as number] ?? 0) + 1 / (mu - 1);
      }
    }
  }
  const nc = o.map((row) => row.reduce((s, x) => s + x, 0));
  const n = nc.reduce((s, x) => s + x, 0);
  if (n === 0) return NaN;
  const delta2 = (c: number, k: number): number => {
    if (c === k) return 0;
    if (level === 'nominal') return 1;
    if (level === 'interval') return ((values[c] as number) - (values[k] as number)) ** 2;
    const lo = Math.min(c, k);
    const hi = Math.max(c, k);
    let s = 0;
    for (let g = lo; g <= hi; g++) s += nc[g] as number;
    return (s - ((nc[c] as number) + (nc[k] as number)) / 2) ** 2;
  };
  let dObs = 0;
  let dExp = 0;
  for (let c = 0; c < V; c++) {
    for (let k = 0; k < V; k++) {
      const d = delta2(c, k);
      dObs += ((o[c] as number[])[k] as number) * d;
      dExp += (nc[c] as number) * (nc[k] as number) * d;
    }
  }
  if (dExp === 0) return NaN;
  return 1 - ((n - 1) * dObs) / dExp;
}

/** Mean of the finite values, NaN when there are none. */
export function mean(xs: readonly number[]): number {
  return xs.length === 0 ? NaN : xs.reduce((s, x) => s + x, 0) / xs.length;
}
