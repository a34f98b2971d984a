/**
 * Repetition and diversity measures for generated text — the "parrot problem" of a fine-tuned
 * model that repeats itself or its prompt.
 *
 * All functions take token sequences (words, characters or model token ids; tokenize first) and
 * compare tokens with `===`. A string given where a sequence is accepted is taken as its Unicode
 * code points, and positions are then code-point indices.
 */

import { at } from './numeric.js';
import { isArrayInput } from './guards.js';

/** A token: a word, a character or a token id. */
export type SequenceToken = string | number;

/** A token sequence, or a string taken as its code points. */
export type TokenSequence = readonly SequenceToken[] | string;

function asTokens(sequence: TokenSequence, what: string): readonly SequenceToken[] {
  if (typeof sequence === 'string') return Array.from(sequence);
  if (!isArrayInput(sequence)) throw new TypeError(`${what} should be an array of tokens or a string`);
  return sequence;
}

function checkOrder(n: number, what: string): void {
  if (!Number.isInteger(n) || n < 1) throw new Error(`${what}: n must be a positive integer, got ${n}`);
}

/** The n-grams of a sequence as unambiguous keys (JSON of the token slice: "1" and 1 differ). */
function ngramKeys(tokens: readonly SequenceToken[], n: number): string[] {
  const keys: string[] = [];
  for (let i = 0; i + n <= tokens.length; i++) keys.push(JSON.stringify(tokens.slice(i, i + n)));
  return keys;
}

/** Distinct and total n-gram counts of one or more sequences. */
export interface NgramCounts {
  /** Number of different n-grams. */
  unique: number;
  /** Number of n-gram occurrences (Σ max(0, length − n + 1)). */
  total: number;
}

/**
 * Counts distinct and total n-grams over the given sequences (n-grams never span two sequences).
 * @param sequences token sequences (strings are taken as code points).
 * @param n n-gram order ≥ 1.
 */
export function ngramCounts(sequences: readonly TokenSequence[], n: number): NgramCounts {
  checkOrder(n, 'ngramCounts');
  if (!isArrayInput(sequences)) throw new TypeError('ngramCounts: sequences should be an array of token sequences');
  const seen = new Set<string>();
  let total = 0;
  sequences.forEach((sequence, i) => {
    for (const key of ngramKeys(asTokens(sequence, `sequences[${i}]`), n)) {
      seen.add(key);
      total += 1;
    }
  });
  return { unique: seen.size, total };
}

/**
 * Corpus distinct-n (Li et al., 2016, "A Diversity-Promoting Objective Function for Neural
 * Conversation Models"): |distinct n-grams over all sequences| / |n-gram occurrences over all
 * sequences|. In (0, 1]; higher = more diverse. Defined as 0 when there is no n-gram at all
 * (empty corpus, or every sequence shorter than n): no text, no diversity.
 * @param sequences generated token sequences.
 * @param n n-gram order ≥ 1 (distinct-1 and distinct-2 are the usual reports).
 */
export function distinctN(sequences: readonly TokenSequence[], n: number): number {
  const { unique, total } = ngramCounts(sequences, n);
  return total === 0 ? 0 : unique / total;
}

/**
 * Sentence-level distinct-n: for each sequence, |distinct n-grams| / |n-grams| (0 for a sequence
 * shorter than n), and their unweighted mean (0 for an empty list). Unlike {@link distinctN} it does
 * not penalise the same phrase recurring ACROSS outputs.
 */
export function sentenceDistinctN(
  sequences: readonly TokenSequence[],
  n: number,
): { perSequence: number[]; mean: number } {
  checkOrder(n, 'sentenceDistinctN');
  if (!Array.isArray(sequences))
    throw new TypeError('sentenceDistinctN: sequences should be an array of token sequences');
  const perSequence = sequences.map((sequence) => distinctN([sequence], n));
  const mean = perSequence.length === 0 ? 0 : perSequence.reduce((a, b) => a + b, 0) / perSequence.length;
  return { perSequence, mean };
}

/**
 * seq-rep-n of one sequence (Welleck et al., 2019, "Neural Text Degeneration with Unlikelihood
 * Training", §6): 1 − |unique n-grams| / |n-grams|, the fraction of n-gram occurrences that repeat
 * an earlier n-gram of the same sequence. 0 = no repetition; "a b a b a b" has rep-2 = 1 − 2/5.
 * 0 for a sequence shorter than n (nothing can repeat).
 * @param sequence one generated sequence (a string is taken as code points).
 * @param n n-gram order ≥ 1 (Welleck et al. report seq-rep-4).
 */
export function repN(sequence: TokenSequence, n: number): number {
  checkOrder(n, 'repN');
  const keys = ngramKeys(asTokens(sequence, 'sequence'), n);
  return keys.length === 0 ? 0 : 1 - new Set(keys).size / keys.length;
}

/** Mean of {@link repN} over sequences (Welleck et al. average seq-rep-n over continuations); 0 for an empty list. */
export function meanRepN(sequences: readonly TokenSequence[], n: number): number {
  checkOrder(n, 'meanRepN');
  if (!isArrayInput(sequences)) throw new TypeError('meanRepN: sequences should be an array of token sequences');
  if (sequences.length === 0) return 0;
  return sequences.reduce((sum: number, sequence) => sum + repN(sequence, n), 0) / sequences.length;
}

/** A substring that occurs more than once. */
export interface RepeatedSubstring {
  /** Its length in tokens (code points for a string). */
  length: number;
  /** Start of its first occurrence. */
  start: number;
  /** Starts of all its occurrences, ascending (occurrences may overlap). */
  starts: number[];
  /** The repeated tokens (joined into a string when the input was a string). */
  value: SequenceToken[] | string;
}

/**
 * Suffix array by prefix doubling: ranks of 2^k-prefixes, sorted by (rank, rank at +2^k).
 * O(n log² n) with the built-in sort, fast enough for generated texts of thousands of tokens.
 */
function suffixArray(ids: readonly number[]): number[] {
  const n = ids.length;
  if (n === 0) return [];
  const sa = Array.from({ length: n }, (_, i) => i);
  let rank = ids.slice();
  const next = new Array<number>(n).fill(0);
  for (let k = 1; ; k *= 2) {
    const key = (i: number): number => (i + k < n ? at(rank, i + k) : -1);
    sa.sort((a, b) => at(rank, a) - at(rank, b) || key(a) - key(b));
    next[at(sa, 0)] = 0;
    for (let i = 1; i < n; i++) {
      const a = at(sa, i - 1);
      const b = at(sa, i);
      next[b] = at(next, a) + (at(rank, a) !== at(rank, b) || key(a) !== key(b) ? 1 : 0);
    }
    rank = next.slice();
    if (at(rank, at(sa, n - 1)) === n - 1 || k >= n) return sa;
  }
}

/** Kasai et al. (2001): lcp[i] = longest common prefix of suffixes sa[i−1] and sa[i] (lcp[0] = 0). */
function lcpArray(ids: readonly number[], sa: readonly number[]): number[] {
  const n = ids.length;
  const rank = new Array<number>(n).fill(0);
  sa.forEach((suffix, i) => {
    rank[suffix] = i;
  });
  const lcp = new Array<number>(n).fill(0);
  let h = 0;
  for (let i = 0; i < n; i++) {
    const r = at(rank, i);
    if (r > 0) {
      const j = at(sa, r - 1);
      while (i + h < n && j + h < n && ids[i + h] === ids[j + h]) h++;
      lcp[r] = h;
      if (h > 0) h--;
    } else {
      h = 0;
    }
  }
  return lcp;
}

/**
 * The longest repeated substring: the longest contiguous token run occurring at least twice
 * (occurrences may overlap: "aaa" repeats "aa"). Among equally long ones, the one whose first
 * occurrence starts earliest. Suffix array + LCP array, O(n log² n).
 * @param sequence tokens, or a string (code points).
 * @returns the repeat, or null when no token occurs twice.
 */
export function longestRepeatedSubstring(sequence: TokenSequence): RepeatedSubstring | null {
  const tokens = asTokens(sequence, 'sequence');
  const idOf = new Map<string, number>();
  const ids = tokens.map((token) => {
    const key = JSON.stringify(token);
    let id = idOf.get(key);
    if (id === undefined) {
      id = idOf.size;
      idOf.set(key, id);
    }
    return id;
  });
  const sa = suffixArray(ids);
  const lcp = lcpArray(ids, sa);
  const longest = lcp.reduce((a, b) => Math.max(a, b), 0);
  if (longest === 0) return null;
  // Suffixes sharing the longest prefix are adjacent in the suffix array: collect each such group.
  let best: number[] | null = null;
  let bestStart = Infinity;
  for (let i = 1; i < sa.length; i++) {
    if (lcp[i] !== longest || lcp[i - 1] === longest) continue;
    const group = [at(sa, i - 1)];
    for (let j = i; j < sa.length && lcp[j] === longest; j++) group.push(at(sa, j));
    group.sort((a, b) => a - b);
    const groupStart = at(group, 0);
    if (best === null || groupStart < bestStart) {
      best = group;
      bestStart = groupStart;
    }
  }
  // longest > 0 means some adjacent pair shares it, so a group was found.
  if (best === null) throw new Error('longestRepeatedSubstring: internal error, no group for the longest LCP');
  const slice = tokens.slice(bestStart, bestStart + longest);
  return {
    length: longest,
    start: bestStart,
    starts: best,
    value: typeof sequence === 'string' ? slice.join('') : slice,
  };
}

/** A run of back-to-back copies of one unit, e.g. "I am I am I am". */
export interface TandemRepeat {
  /** Start of the first copy. */
  start: number;
  /** Length of the repeated unit (1 for "the the the"). */
  period: number;
  /** Number of consecutive whole copies (≥ 2). */
  repeats: number;
  /** Tokens covered by the whole copies: period · repeats. */
  length: number;
  /** The repeated unit (joined into a string when the input was a string). */
  unit: SequenceToken[] | string;
}

/**
 * The longest run of immediately repeated units (a tandem repeat): the start s, period p ≥ 1 and
 * count k ≥ 2 maximising k·p such that tokens[s..s+k·p) is k consecutive copies of
 * tokens[s..s+p). Ties go to the smaller period, then the earlier start. This is the
 * "parrot" signature of degenerate generation ("the the the", "I am I am I am").
 * For each period a single pass counts consecutive positions with tokens[i] = tokens[i+p]:
 * O(n · maxPeriod).
 * @param sequence tokens, or a string (code points).
 * @param options maxPeriod: longest unit considered; default ⌊n/2⌋ (all).
 * @returns the run, or null when no unit is immediately repeated.
 */
export function longestTandemRepeat(
  sequence: TokenSequence,
  options: { maxPeriod?: number } = {},
): TandemRepeat | null {
  const tokens = asTokens(sequence, 'sequence');
  const n = tokens.length;
  const maxPeriod = Math.min(options.maxPeriod ?? Math.floor(n / 2), Math.floor(n / 2));
  if (options.maxPeriod !== undefined && (!Number.isInteger(options.maxPeriod) || options.maxPeriod < 1)) {
    throw new Error(`longestTandemRepeat: maxPeriod must be a positive integer, got ${options.maxPeriod}`);
  }
  let best: { start: number; period: number; repeats: number } | null = null;
  for (let period = 1; period <= maxPeriod; period++) {
    // run = number of consecutive i (ending here) with tokens[i] === tokens[i + period]; a run of r
    // such positions starting at s makes tokens[s..s+r+period) periodic with this period.
    let run = 0;
    for (let i = 0; i + period <= n; i++) {
      const matches = i + period < n && tokens[i] === tokens[i + period];
      if (matches) {
        run += 1;
        continue;
      }
      if (run >= period) {
        const start = i - run;
        const repeats = Math.floor((run + period) / period);
        if (best === null || repeats * period > best.repeats * best.period) best = { start, period, repeats };
      }
      run = 0;
    }
  }
  if (best === null) return null;
  const unit = tokens.slice(best.start, best.start + best.period);
  return {
    ...best,
    length: best.period * best.repeats,
    unit: typeof sequence === 'string' ? unit.join('') : unit,
  };
}
