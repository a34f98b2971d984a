/**
 * chrF (Popović, 2015) and chrF++ (Popović, 2017) exactly as sacrebleu 2.x computes them
 * (sacrebleu/metrics/chrf.py, checked against sacrebleu 2.6.0).
 *
 * References follow sacrebleu's stream convention (see {@link corpusChrf}). Character n-grams
 * are taken over Unicode code points of the line with whitespace removed (unless
 * `whitespace: true`); chrF++ adds word unigrams and bigrams. Input errors are handled as in
 * bleu.ts (mismatched stream lengths and segments without any reference raise).
 */
import {
  formatSacrebleuScore,
  referencesPerSegment,
  signatureRefCount,
  type ReferenceStreams,
  type SacrebleuScore,
} from './sacrebleu-score.js';
import { pySplit } from './pystr.js';
import { isArrayInput } from './guards.js';

/** Options of {@link corpusChrf} and {@link sentenceChrf} (sacrebleu's `CHRF(...)` arguments). */
export interface ChrfOptions {
  /** Character n-gram order; default 6. */
  charOrder?: number;
  /** Word n-gram order; default 0 (chrF). 2 gives chrF++. */
  wordOrder?: number;
  /** Recall weight β of F_β; default 2. */
  beta?: number;
  /** Lowercase hypotheses and references; default false. */
  lowercase?: boolean;
  /** Keep whitespace inside character n-grams; default false (sacrebleu strips all whitespace first). */
  whitespace?: boolean;
  /**
   * Average per-order F-scores with ε = 1e-16 for empty orders, like chrF++.py, NLTK and Moses;
   * default false: sacrebleu's own averaging of precision and recall over the "effective" orders
   * (those where both hypothesis and reference have n-grams), then one F_β.
   */
  epsSmoothing?: boolean;
}

/** sacrebleu's `CHRFScore`. */
export interface ChrfScore extends SacrebleuScore {
  readonly charOrder: number;
  readonly wordOrder: number;
  readonly beta: number;
}

interface ResolvedChrfOptions {
  charOrder: number;
  wordOrder: number;
  beta: number;
  lowercase: boolean;
  whitespace: boolean;
  epsSmoothing: boolean;
}

const MIRRORED_SACREBLEU_VERSION = '2.6.0';

/**
 * The largest charOrder and wordOrder accepted (sacrebleu has no bound; 6 and 2 are the usual
 * values, and an unbounded order lets `charOrder=1e9` allocate gigabytes).
 */
export const CHRF_MAX_ORDER = 100;

/** Python's `string.punctuation`, which chrF++ splits off word edges. */
const ASCII_PUNCTUATION = new Set('!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~');

function resolveOptions(options: ChrfOptions): ResolvedChrfOptions {
  const resolved = {
    charOrder: options.charOrder ?? 6,
    wordOrder: options.wordOrder ?? 0,
    beta: options.beta ?? 2,
    lowercase: options.lowercase ?? false,
    whitespace: options.whitespace ?? false,
    epsSmoothing: options.epsSmoothing ?? false,
  };
  for (const key of ['charOrder', 'wordOrder'] as const) {
    if (!Number.isInteger(resolved[key]) || resolved[key] < 0 || resolved[key] > CHRF_MAX_ORDER) {
      throw new Error(`chrF ${key} must be an integer in [0, ${CHRF_MAX_ORDER}], got ${resolved[key]}`);
    }
  }
  if (resolved.charOrder + resolved.wordOrder === 0) throw new Error('chrF needs charOrder + wordOrder ≥ 1');
  if (!Number.isFinite(resolved.beta) || resolved.beta < 0)
    throw new Error(`chrF beta must be a finite non-negative number, got ${resolved.beta}`);
  return resolved;
}

function countStrings(items: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(item, (counts.get(item) ?? 0) + 1);
  return counts;
}

/**
 * sacrebleu's `_remove_punctuation`: whitespace tokens, with ONE ASCII punctuation character split
 * off the end of a word, or else off its start (so "(hi)" becomes "(hi" and ")").
 */
function chrfWords(sentence: string): string[] {
  const words: string[] = [];
  for (const word of pySplit(sentence)) {
    const chars = Array.from(word);
    const first = chars[0];
    const last = chars[chars.length - 1];
    if (chars.length === 1 || first === undefined || last === undefined) {
      words.push(word);
    } else if (ASCII_PUNCTUATION.has(last)) {
      words.push(chars.slice(0, -1).join(''), last);
    } else if (ASCII_PUNCTUATION.has(first)) {
      words.push(first, chars.slice(1).join(''));
    } else {
      words.push(word);
    }
  }
  return words;
}

/** Character n-gram counts of orders 1..charOrder, then word n-gram counts of orders 1..wordOrder. */
function allNgramCounts(sentence: string, opts: ResolvedChrfOptions): Map<string, number>[] {
  const chars = Array.from(opts.whitespace ? sentence : pySplit(sentence).join(''));
  const counts: Map<string, number>[] = [];
  for (let n = 1; n <= opts.charOrder; n++) {
    const grams: string[] = [];
    for (let i = 0; i + n <= chars.length; i++) grams.push(chars.slice(i, i + n).join(''));
    counts.push(countStrings(grams));
  }
  if (opts.wordOrder > 0) {
    const words = chrfWords(sentence);
    for (let n = 1; n <= opts.wordOrder; n++) {
      const grams: string[] = [];
      for (let i = 0; i + n <= words.length; i++) grams.push(words.slice(i, i + n).join(' '));
      counts.push(countStrings(grams));
    }
  }
  return counts;
}

/**
 * sacrebleu's `_get_match_statistics` for one order: [hypothesis n-grams, reference n-grams,
 * matches]. The hypothesis count is reported as 0 when the reference has no n-gram of that order.
 */
function matchStatistics(hyp: Map<string, number>, ref: Map<string, number>): [number, number, number] {
  let matches = 0;
  let hypCount = 0;
  for (const [gram, count] of hyp) {
    hypCount += count;
    const refCount = ref.get(gram);
    if (refCount !== undefined) matches += Math.min(count, refCount);
  }
  let refCount = 0;
  for (const count of ref.values()) refCount += count;
  return [ref.size > 0 ? hypCount : 0, refCount, matches];
}

/**
 * sacrebleu's `_compute_f_score` on flattened [hyp, ref, match] triples (one per order).
 *
 * Default (effective order): P̄ and R̄ are the means of precision and recall over orders where both
 * the hypothesis and reference counts are positive; chrF = 100·(1+β²)·P̄·R̄ / (β²·P̄ + R̄), or 0.
 * With epsSmoothing: the mean over all orders of per-order F_β, where an empty side's precision or
 * recall is ε = 1e-16 and an order with zero denominator contributes ε.
 */
function chrfFromStatistics(stats: readonly number[], opts: ResolvedChrfOptions): number {
  const eps = 1e-16;
  const order = opts.charOrder + opts.wordOrder;
  const factor = opts.beta ** 2;
  let score = 0.0;
  let effectiveOrder = 0;
  let avgPrec = 0.0;
  let avgRec = 0.0;
  for (let i = 0; i < order; i++) {
    const nHyp = stats[3 * i] ?? 0;
    const nRef = stats[3 * i + 1] ?? 0;
    const nMatch = stats[3 * i + 2] ?? 0;
    const prec = nHyp > 0 ? nMatch / nHyp : eps;
    const rec = nRef > 0 ? nMatch / nRef : eps;
    const denom = factor * prec + rec;
    score += denom > 0 ? ((1 + factor) * prec * rec) / denom : eps;
    if (nHyp > 0 && nRef > 0) {
      avgPrec += prec;
      avgRec += rec;
      effectiveOrder += 1;
    }
  }
  if (opts.epsSmoothing) return (100 * score) / order;
  if (effectiveOrder === 0) {
    avgPrec = 0.0;
    avgRec = 0.0;
  } else {
    avgPrec /= effectiveOrder;
    avgRec /= effectiveOrder;
  }
  if (avgPrec + avgRec === 0) return 0.0;
  return 100 * (((1 + factor) * avgPrec * avgRec) / (factor * avgPrec + avgRec));
}

function scoreCorpus(
  hypotheses: readonly string[],
  references: ReferenceStreams,
  opts: ResolvedChrfOptions,
): ChrfScore {
  const refsPerSegment = referencesPerSegment('chrF', hypotheses, references);
  const preprocess = (s: string): string => (opts.lowercase ? s.toLowerCase() : s);
  const order = opts.charOrder + opts.wordOrder;
  const totals = new Array<number>(3 * order).fill(0);
  hypotheses.forEach((hypothesis, i) => {
    const hypNgrams = allNgramCounts(preprocess(hypothesis), opts);
    // Keep the statistics of the reference with the best sentence-level score (first one on ties).
    let bestStats: number[] = [];
    let bestScore = -1.0;
    for (const ref of refsPerSegment[i] ?? []) {
      const refNgrams = allNgramCounts(preprocess(ref), opts);
      const stats = hypNgrams.flatMap((h, n) => matchStatistics(h, refNgrams[n] ?? new Map<string, number>()));
      const score = chrfFromStatistics(stats, opts);
      if (score > bestScore) {
        bestScore = score;
        bestStats = stats;
      }
    }
    bestStats.forEach((value, j) => {
      totals[j] = (totals[j] ?? 0) + value;
    });
  });
  const score = chrfFromStatistics(totals, opts);
  const name = `chrF${opts.beta}${'+'.repeat(opts.wordOrder)}`;
  const signature = [
    `nrefs:${signatureRefCount(refsPerSegment)}`,
    `case:${opts.lowercase ? 'lc' : 'mixed'}`,
    `eff:${opts.epsSmoothing ? 'no' : 'yes'}`,
    `nc:${opts.charOrder}`,
    `nw:${opts.wordOrder}`,
    `space:${opts.whitespace ? 'yes' : 'no'}`,
    `version:${MIRRORED_SACREBLEU_VERSION}-tunekit`,
  ].join('|');
  return {
    name,
    score,
    signature,
    charOrder: opts.charOrder,
    wordOrder: opts.wordOrder,
    beta: opts.beta,
    format: (options) => formatSacrebleuScore(name, score, signature, '', options),
  };
}

/**
 * Corpus chrF / chrF++ as sacrebleu's `CHRF().corpus_score`: per segment the statistics of the
 * best-scoring reference are kept, summed over the corpus and turned into one score.
 *
 * @param hypotheses system outputs, one per segment (at least one).
 * @param references reference STREAMS: `references[k][i]` is the k-th reference of
 *   `hypotheses[i]`; `null` marks a missing reference.
 * @param options charOrder 6, wordOrder 0 (2 = chrF++), beta 2, lowercase false,
 *   whitespace false, epsSmoothing false.
 * @throws on an empty corpus, non-string input, a stream whose length differs from the
 *   hypotheses, or a segment with no reference.
 */
export function corpusChrf(
  hypotheses: readonly string[],
  references: ReferenceStreams,
  options: ChrfOptions = {},
): ChrfScore {
  return scoreCorpus(hypotheses, references, resolveOptions(options));
}

/**
 * Sentence chrF / chrF++ as sacrebleu's `CHRF().sentence_score` (the best reference is used).
 * @param hypothesis one system output.
 * @param references its references (`null` entries are ignored).
 * @param options as {@link corpusChrf}.
 */
export function sentenceChrf(
  hypothesis: string,
  references: ReadonlyArray<string | null>,
  options: ChrfOptions = {},
): ChrfScore {
  if (typeof hypothesis !== 'string') throw new TypeError('chrF: hypothesis should be a string');
  if (!isArrayInput(references)) throw new TypeError('chrF: references should be an array of strings');
  return scoreCorpus(
    [hypothesis],
    references.map((r) => [r]),
    resolveOptions(options),
  );
}
