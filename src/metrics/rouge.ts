/**
 * ROUGE as Google's rouge-score 0.1.2 computes it (rouge_scorer.py, tokenize.py, scoring.py):
 * rouge1..rouge9 (n-gram overlap), rougeL (longest common subsequence over the whole text)
 * and rougeLsum (summary-level LCS over newline-separated sentences, with the union-LCS and
 * the ROUGE-1.5.5 guard against counting a token more often than it occurs).
 *
 * The default tokenizer lowercases, replaces every run of characters outside [a-z0-9] with a
 * space and splits, so non-Latin text (Chinese, accented letters) contributes nothing, exactly
 * as in rouge-score. For CJK text pass `tokenizer: 'chars'` or `'jieba'` (see cjk.ts).
 */
import { PorterStemmer } from './porter.js';
import { resolveTokenizer, tokenizeChecked, type TokenizeFunction, type TokenizerOption } from './cjk.js';
import { isArrayInput } from './guards.js';

/** Precision, recall and F1 of one ROUGE type (rouge-score's `Score` tuple). */
export interface RougeScore {
  precision: number;
  recall: number;
  fmeasure: number;
}

/** Scores keyed by ROUGE type, e.g. `{ rouge1: {...}, rougeL: {...} }`. */
export type RougeScores = Record<string, RougeScore>;

/** Options of {@link RougeScorer}. */
export interface RougeScorerOptions {
  /**
   * Stem tokens longer than 3 characters with NLTK's Porter stemmer. Default false. As in
   * rouge-score it applies to the default tokenizer; tunekit also applies it to the [a-z0-9]
   * tokens of the named 'chars' and 'jieba' tokenizers; a custom tokenizer does its own stemming.
   */
  useStemmer?: boolean;
  /**
   * How rougeLsum finds sentences. Default false: split on '\n' (rouge-score's default).
   * rouge-score's `split_summaries=True` uses NLTK's Punkt model, which tunekit does not ship;
   * pass a function (text) => sentences instead.
   */
  splitSummaries?: boolean | ((text: string) => string[]);
  /** Tokenizer: default rouge-score's; or 'chars', 'jieba', a function or an object with `tokenize`. */
  tokenizer?: TokenizerOption;
}

const NON_ALPHANUMERIC = /[^a-z0-9]+/g;
const WHITESPACE = /\s+/;
const VALID_TOKEN = /^[a-z0-9]+$/;
/** Shared so repeated words are stemmed once (stemming is pure). */
const stemmer = new PorterStemmer();

/**
 * rouge-score's default tokenizer (`tokenize.tokenize`): lowercase, replace runs of characters
 * outside [a-z0-9] with a space, split on whitespace, Porter-stem tokens longer than 3
 * characters when `useStemmer` (default false), and drop empty tokens.
 */
export function rougeTokenize(text: string, options: { useStemmer?: boolean } = {}): string[] {
  const { useStemmer = false } = options;
  let tokens = text.toLowerCase().replace(NON_ALPHANUMERIC, ' ').split(WHITESPACE);
  if (useStemmer) tokens = tokens.map((token) => (token.length > 3 ? stemmer.stem(token) : token));
  return tokens.filter((token) => VALID_TOKEN.test(token));
}

/** rouge-score's `scoring.fmeasure`: the harmonic mean, 0 when precision + recall is 0. */
function fmeasure(precision: number, recall: number): number {
  return precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
}

function score(precision: number, recall: number): RougeScore {
  return { precision, recall, fmeasure: fmeasure(precision, recall) };
}

const ZERO: Readonly<RougeScore> = Object.freeze({ precision: 0, recall: 0, fmeasure: 0 });

/** Maps tokens to small integers so n-grams can be keyed cheaply and unambiguously. */
class Vocabulary {
  readonly #ids = new Map<string, number>();

  encode(tokens: readonly string[]): number[] {
    return tokens.map((token) => {
      let id = this.#ids.get(token);
      if (id === undefined) {
        id = this.#ids.size;
        this.#ids.set(token, id);
      }
      return id;
    });
  }
}

function ngramCounts(ids: readonly number[], n: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i + n <= ids.length; i++) {
    const key = ids.slice(i, i + n).join(',');
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

/** rouge-score's `_score_ngrams`: clipped n-gram matches over max(count, 1). */
function scoreNgrams(target: readonly number[], prediction: readonly number[], n: number): RougeScore {
  const targetCounts = ngramCounts(target, n);
  const predictionCounts = ngramCounts(prediction, n);
  let overlap = 0;
  for (const [key, count] of targetCounts) overlap += Math.min(count, predictionCounts.get(key) ?? 0);
  const targetTotal = Math.max(0, target.length - n + 1);
  const predictionTotal = Math.max(0, prediction.length - n + 1);
  return score(overlap / Math.max(predictionTotal, 1), overlap / Math.max(targetTotal, 1));
}

/**
 * Length of the longest common subsequence, exactly as rouge-score's DP table gives it, but
 * bit-parallel (Allison & Dix 1986; Hyyrö 2004): one bit per position of the shorter side, so
 * each token of the longer side costs ⌈n/32⌉ word operations instead of n cells. Common prefixes
 * and suffixes are matched first (exact for an LCS). A single 300k-token line against itself is
 * then linear, and two unrelated 30k-token lines take ~30M word operations instead of 900M cells.
 */
export function lcsLength<T>(a: readonly T[], b: readonly T[]): number {
  let start = 0;
  let endA = a.length;
  let endB = b.length;
  while (start < endA && start < endB && a[start] === b[start]) start++;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) {
    endA--;
    endB--;
  }
  const common = start + (a.length - endA);
  // The pattern (bit side) is the shorter middle part.
  const [pattern, text] =
    endA - start <= endB - start
      ? [a.slice(start, endA), b.slice(start, endB)]
      : [b.slice(start, endB), a.slice(start, endA)];
  const m = pattern.length;
  if (m === 0 || text.length === 0) return common;
  if (m * text.length > LCS_COMPARISON_LIMIT) {
    throw new Error(
      `rougeL: the longest common subsequence of texts of ${a.length} and ${b.length} tokens (${m} × ${text.length} after their common start and end) is over the limit of ${LCS_COMPARISON_LIMIT} token comparisons (seconds of work); ROUGE-L is meant for summaries: score shorter texts or split them`,
    );
  }
  const words = Math.ceil(m / 32);
  // Sparse match masks: for each token of the pattern, its nonzero words (index and bits).
  const masks = new Map<T, { index: number[]; bits: number[] }>();
  pattern.forEach((token, i) => {
    let mask = masks.get(token);
    if (mask === undefined) {
      mask = { index: [], bits: [] };
      masks.set(token, mask);
    }
    const w = i >>> 5;
    const last = mask.index.length - 1;
    if (last >= 0 && mask.index[last] === w) mask.bits[last] = ((mask.bits[last] ?? 0) | (1 << (i & 31))) >>> 0;
    else {
      mask.index.push(w);
      mask.bits.push((1 << (i & 31)) >>> 0);
    }
  });
  // V has a 0 bit at each pattern position in the current LCS; starts all ones.
  const v = new Uint32Array(words).fill(0xffffffff);
  for (const token of text) {
    const mask = masks.get(token);
    if (mask === undefined) continue; // U = 0: V + 0 | V − 0 = V
    const { index, bits } = mask;
    let k = 0;
    let carry = 0;
    let borrow = 0;
    for (let w = 0; w < words; w++) {
      const vw = v[w] ?? 0;
      let u = 0;
      if (k < index.length && index[k] === w) {
        u = (vw & (bits[k] ?? 0)) >>> 0;
        k++;
      } else if (carry === 0 && borrow === 0) {
        if (k >= index.length) break; // nothing left to add or subtract
        continue; // this word is unchanged: (V + 0) | (V − 0) = V
      }
      const sum = vw + u + carry;
      carry = sum > 0xffffffff ? 1 : 0;
      const diff = vw - u - borrow;
      borrow = diff < 0 ? 1 : 0;
      v[w] = ((sum >>> 0) | (diff >>> 0)) >>> 0;
    }
  }
  let zeros = 0;
  for (let i = 0; i < m; i++) if ((((v[i >>> 5] ?? 0) >>> (i & 31)) & 1) === 0) zeros++;
  return common + zeros;
}

/**
 * The most token comparisons {@link lcsLength} makes after matching common starts and ends
 * (10^10: two unrelated 100k-token texts, a few seconds bit-parallel). rouge-score has no bound;
 * two unrelated 300k-token lines would take minutes there and half a minute here.
 */
export const LCS_COMPARISON_LIMIT = 1e10;

/**
 * The largest DP table {@link lcsIndices} builds (cells, 4 bytes each: 128 MiB). rouge-score builds
 * the full table too; past this a rougeLsum sentence pair fails with an error naming its size
 * instead of exhausting memory (rougeLsum expects one sentence per line).
 */
export const LCS_TABLE_LIMIT = 2 ** 25;

/**
 * Indices into `ref` of one longest common subsequence of `ref` and `candidate`, chosen as
 * rouge-score's `lcs_ind` chooses it (backtracking from the end: on a match take it, else
 * move left in the candidate only when that cell is strictly larger, else up in `ref`).
 * Which LCS is picked changes rougeLsum's union, so the tie-break is part of the reference.
 */
export function lcsIndices<T>(ref: readonly T[], candidate: readonly T[]): number[] {
  const cols = candidate.length + 1;
  if ((ref.length + 1) * cols > LCS_TABLE_LIMIT) {
    throw new Error(
      `rougeLsum: a sentence pair of ${ref.length} × ${candidate.length} tokens needs a ${(ref.length + 1) * cols}-cell LCS table, over the limit of ${LCS_TABLE_LIMIT}; put one sentence per line (rougeLsum splits on newlines), or use rougeL`,
    );
  }
  const table = new Int32Array((ref.length + 1) * cols);
  for (let i = 1; i <= ref.length; i++) {
    for (let j = 1; j <= candidate.length; j++) {
      table[i * cols + j] =
        ref[i - 1] === candidate[j - 1]
          ? table[(i - 1) * cols + j - 1]! + 1
          : Math.max(table[(i - 1) * cols + j]!, table[i * cols + j - 1]!);
    }
  }
  const indices: number[] = [];
  let i = ref.length;
  let j = candidate.length;
  while (i > 0 && j > 0) {
    if (ref[i - 1] === candidate[j - 1]) {
      indices.push(i - 1);
      i--;
      j--;
    } else if (table[i * cols + j - 1]! > table[(i - 1) * cols + j]!) {
      j--;
    } else {
      i--;
    }
  }
  return indices.reverse();
}

/** rouge-score's `_score_lcs` (rougeL). */
function scoreLcs(target: readonly number[], prediction: readonly number[]): RougeScore {
  if (target.length === 0 || prediction.length === 0) return { ...ZERO };
  const length = lcsLength(target, prediction);
  return score(length / prediction.length, length / target.length);
}

/**
 * rouge-score's `_summary_level_lcs` (rougeLsum, ROUGE paper section 3.2): for each reference
 * sentence, the union of its LCS with every candidate sentence; each union token counts as a
 * hit only while both summaries still have an unused occurrence of it.
 */
export function summaryLevelLcs<T>(
  refSentences: readonly (readonly T[])[],
  candidateSentences: readonly (readonly T[])[],
): RougeScore {
  if (refSentences.length === 0 || candidateSentences.length === 0) return { ...ZERO };
  const m = refSentences.reduce((sum, s) => sum + s.length, 0);
  const n = candidateSentences.reduce((sum, s) => sum + s.length, 0);
  if (m === 0 || n === 0) return { ...ZERO };
  const countTokens = (sentences: readonly (readonly T[])[]): Map<T, number> => {
    const counts = new Map<T, number>();
    for (const sentence of sentences) for (const token of sentence) counts.set(token, (counts.get(token) ?? 0) + 1);
    return counts;
  };
  const refCounts = countTokens(refSentences);
  const candidateCounts = countTokens(candidateSentences);
  let hits = 0;
  for (const ref of refSentences) {
    const union = new Set<number>();
    for (const candidate of candidateSentences) for (const index of lcsIndices(ref, candidate)) union.add(index);
    for (const index of [...union].sort((a, b) => a - b)) {
      const token = ref[index]!;
      const inCandidate = candidateCounts.get(token) ?? 0;
      const inRef = refCounts.get(token) ?? 0;
      if (inCandidate > 0 && inRef > 0) {
        hits++;
        candidateCounts.set(token, inCandidate - 1);
        refCounts.set(token, inRef - 1);
      }
    }
  }
  return score(hits / n, hits / m);
}

/** The n of 'rouge1'..'rouge9' (Python's `re.match(r"rouge[0-9]$")` also accepts a trailing newline). */
const ROUGE_N = /^rouge([0-9])\n?$/;

function checkRougeType(rougeType: unknown): void {
  if (typeof rougeType !== 'string')
    throw new TypeError(`Invalid rouge type: ${String(rougeType)} (expected a string)`);
  if (rougeType === 'rougeL' || rougeType === 'rougeLsum') return;
  const match = ROUGE_N.exec(rougeType);
  if (match === null) {
    throw new RangeError(
      `Invalid rouge type: ${JSON.stringify(rougeType)} (expected rouge1..rouge9, rougeL or rougeLsum)`,
    );
  }
  if (match[1] === '0') throw new RangeError(`rougen requires positive n: ${rougeType}`);
}

function stemmedTokenizer(tokenize: TokenizeFunction): TokenizeFunction {
  return (text) =>
    tokenize(text).map((token) => (token.length > 3 && VALID_TOKEN.test(token) ? stemmer.stem(token) : token));
}

/**
 * rouge-score's `RougeScorer`. Scores a prediction against a target (note the order: target
 * first, as in rouge-score) for each requested type.
 *
 *   new RougeScorer(['rouge1', 'rougeL'], { useStemmer: true }).score(target, prediction)
 *
 * Defaults: `useStemmer` false, `splitSummaries` false (rougeLsum splits on '\n'), the
 * rouge-score tokenizer. Invalid types throw at construction ('rouge0' and 'rouge10' included,
 * as rouge-score raises ValueError for them when scoring).
 */
export class RougeScorer {
  readonly rougeTypes: readonly string[];
  readonly #tokenize: TokenizeFunction;
  readonly #splitSentences: (text: string) => string[];

  constructor(rougeTypes: readonly string[], options: RougeScorerOptions = {}) {
    if (!isArrayInput(rougeTypes)) throw new TypeError('rougeTypes must be an array such as ["rouge1", "rougeL"]');
    rougeTypes.forEach(checkRougeType);
    this.rougeTypes = [...rougeTypes];
    const { useStemmer = false, splitSummaries = false, tokenizer } = options;
    if (tokenizer === undefined) {
      this.#tokenize = (text) => rougeTokenize(text, { useStemmer });
    } else {
      const tokenize = resolveTokenizer(tokenizer, 'RougeScorer option tokenizer');
      const named = tokenizer === 'chars' || tokenizer === 'jieba';
      this.#tokenize = named && useStemmer ? stemmedTokenizer(tokenize) : tokenize;
    }
    if (splitSummaries === true) {
      throw new Error(
        "RougeScorer option splitSummaries: true needs NLTK's Punkt sentence tokenizer, which tunekit does not ship; " +
          'pass a function (text) => sentences, or separate sentences with "\\n" and leave splitSummaries false',
      );
    }
    this.#splitSentences = typeof splitSummaries === 'function' ? splitSummaries : (text) => text.split('\n');
  }

  /** Scores `prediction` against `target` for every type: `{ [type]: { precision, recall, fmeasure } }`. */
  score(target: string, prediction: string): RougeScores {
    checkText(target, 'target');
    checkText(prediction, 'prediction');
    const vocabulary = new Vocabulary();
    const tokenize = (text: string): number[] => vocabulary.encode(tokenizeChecked(this.#tokenize, text));
    const needsWholeText = this.rougeTypes.some((type) => type !== 'rougeLsum');
    const targetIds = needsWholeText ? tokenize(target) : [];
    const predictionIds = needsWholeText ? tokenize(prediction) : [];
    const result: RougeScores = {};
    for (const rougeType of this.rougeTypes) {
      if (rougeType === 'rougeL') {
        result[rougeType] = scoreLcs(targetIds, predictionIds);
      } else if (rougeType === 'rougeLsum') {
        const sentences = (text: string): number[][] =>
          this.#splitSentences(text)
            .filter((sentence) => sentence.length > 0)
            .map(tokenize);
        result[rougeType] = summaryLevelLcs(sentences(target), sentences(prediction));
      } else {
        result[rougeType] = scoreNgrams(targetIds, predictionIds, Number(ROUGE_N.exec(rougeType)![1]));
      }
    }
    return result;
  }

  /**
   * rouge-score's `score_multi`: scores against each target and keeps, per type, the score of
   * the first target with the highest F-measure. Throws on an empty list (numpy's argmax does).
   */
  scoreMulti(targets: readonly string[], prediction: string): RougeScores {
    if (!isArrayInput(targets) || targets.length === 0) {
      throw new RangeError('scoreMulti: targets must be a non-empty array of strings');
    }
    const all = targets.map((target) => this.score(target, prediction));
    const best: RougeScores = {};
    for (const rougeType of this.rougeTypes) {
      let bestIndex = 0;
      for (let i = 1; i < all.length; i++)
        if (all[i]![rougeType]!.fmeasure > all[bestIndex]![rougeType]!.fmeasure) bestIndex = i;
      best[rougeType] = all[bestIndex]![rougeType]!;
    }
    return best;
  }
}

function checkText(text: unknown, name: string): void {
  if (typeof text !== 'string')
    throw new TypeError(`${name} must be a string; got ${text === null ? 'null' : typeof text}`);
}

/** A confidence interval on the mean of a score: rouge-score's `AggregateScore`. */
export interface AggregateScore {
  low: RougeScore;
  mid: RougeScore;
  high: RougeScore;
}

/** Options of {@link BootstrapAggregator}. */
export interface BootstrapAggregatorOptions {
  /** Width of the interval. Default 0.95 (2.5th and 97.5th percentiles). */
  confidenceInterval?: number;
  /** Number of bootstrap resamples. Default 1000. */
  nSamples?: number;
  /** Seed of the resampling generator. Default 0. */
  seed?: number;
}

/**
 * rouge-score's `BootstrapAggregator`: resamples the per-pair scores with replacement
 * `nSamples` times and reports the percentiles of the resampled means (numpy's linear
 * percentile). rouge-score draws from numpy's global generator, so its low/mid/high vary run to
 * run; here the draws come from a seeded generator (reproducible, not numpy's stream). `mean`
 * is the exact mean, which `mid` estimates.
 */
export class BootstrapAggregator {
  readonly #confidenceInterval: number;
  readonly #nSamples: number;
  readonly #seed: number;
  readonly #scores = new Map<string, RougeScore[]>();

  constructor(options: BootstrapAggregatorOptions = {}) {
    const { confidenceInterval = 0.95, nSamples = 1000, seed = 0 } = options;
    if (!(confidenceInterval >= 0 && confidenceInterval <= 1))
      throw new RangeError('confidenceInterval must be in range [0, 1]');
    if (!(Number.isInteger(nSamples) && nSamples > 0)) throw new RangeError('nSamples must be a positive integer');
    this.#confidenceInterval = confidenceInterval;
    this.#nSamples = nSamples;
    this.#seed = seed;
  }

  /** Adds one pair's scores (the output of `RougeScorer.score` or `scoreMulti`). */
  addScores(scores: RougeScores): void {
    for (const [type, value] of Object.entries(scores)) {
      const list = this.#scores.get(type) ?? [];
      list.push(value);
      this.#scores.set(type, list);
    }
  }

  /** The exact mean of each measure per type. */
  mean(): RougeScores {
    const result: RougeScores = {};
    for (const [type, scores] of this.#scores) {
      const column = (key: keyof RougeScore): number => scores.reduce((sum, s) => sum + s[key], 0) / scores.length;
      result[type] = { precision: column('precision'), recall: column('recall'), fmeasure: column('fmeasure') };
    }
    return result;
  }

  /** Bootstrap confidence intervals per type: `{ [type]: { low, mid, high } }`. */
  aggregate(): Record<string, AggregateScore> {
    const random = mulberry32(this.#seed);
    const delta = (1 - this.#confidenceInterval) / 2;
    const result: Record<string, AggregateScore> = {};
    for (const [type, scores] of this.#scores) {
      const means: Record<keyof RougeScore, number[]> = { precision: [], recall: [], fmeasure: [] };
      for (let s = 0; s < this.#nSamples; s++) {
        let precision = 0;
        let recall = 0;
        let f = 0;
        for (let k = 0; k < scores.length; k++) {
          const pick = scores[Math.floor(random() * scores.length)]!;
          precision += pick.precision;
          recall += pick.recall;
          f += pick.fmeasure;
        }
        means.precision.push(precision / scores.length);
        means.recall.push(recall / scores.length);
        means.fmeasure.push(f / scores.length);
      }
      const at = (q: number): RougeScore => ({
        precision: linearPercentile(means.precision, q),
        recall: linearPercentile(means.recall, q),
        fmeasure: linearPercentile(means.fmeasure, q),
      });
      result[type] = { low: at(delta), mid: at(0.5), high: at(1 - delta) };
    }
    return result;
  }
}

/** numpy's default ('linear') percentile, with q as a fraction. */
export function linearPercentile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const position = q * (sorted.length - 1);
  const below = Math.floor(position);
  const above = Math.min(below + 1, sorted.length - 1);
  const weight = position - below;
  return sorted[below]! + (sorted[above]! - sorted[below]!) * weight;
}

/** A small seeded PRNG (mulberry32) for reproducible resampling. */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Options of {@link rougeCompute}. */
export interface RougeComputeOptions {
  /** Types to compute. Default ['rouge1', 'rouge2', 'rougeL', 'rougeLsum'] (HF evaluate's). */
  rougeTypes?: readonly string[];
  /** Porter-stem tokens longer than 3 characters. Default false. */
  useStemmer?: boolean;
  /** Return one number per type (the mean F-measure) instead of one list per type. Default true. */
  useAggregator?: boolean;
  /** Tokenizer (see {@link RougeScorerOptions.tokenizer}). Default rouge-score's. */
  tokenizer?: TokenizerOption;
}

/**
 * Hugging Face evaluate's `rouge` metric shape: F-measures for predictions against references
 * (one string each, or a list of strings each for several references, scored with
 * `scoreMulti`). With `useAggregator` (default) each type maps to the mean F-measure over pairs;
 * HF reports the bootstrap median of means instead (random, within sampling noise of this mean).
 * Without it, each type maps to the list of per-pair F-measures.
 */
export function rougeCompute(
  predictions: readonly string[],
  references: readonly string[] | readonly (readonly string[])[],
  options: RougeComputeOptions = {},
): Record<string, number> | Record<string, number[]> {
  const {
    rougeTypes = ['rouge1', 'rouge2', 'rougeL', 'rougeLsum'],
    useStemmer = false,
    useAggregator = true,
    tokenizer,
  } = options;
  if (!isArrayInput(predictions) || !isArrayInput(references))
    throw new TypeError('predictions and references must be arrays');
  if (predictions.length !== references.length) {
    throw new RangeError(
      `predictions and references must have the same length; got ${predictions.length} and ${references.length}`,
    );
  }
  if (predictions.length === 0) throw new RangeError('rougeCompute needs at least one prediction');
  const scorer = new RougeScorer(rougeTypes, tokenizer === undefined ? { useStemmer } : { useStemmer, tokenizer });
  const multiReference = Array.isArray(references[0]);
  const perPair = predictions.map((prediction, i) => {
    const reference = references[i]!;
    if (Array.isArray(reference) !== multiReference) {
      throw new TypeError(
        `references[${i}] must be ${multiReference ? 'an array of strings' : 'a string'} like references[0]`,
      );
    }
    return multiReference
      ? scorer.scoreMulti(reference as readonly string[], prediction)
      : scorer.score(reference as string, prediction);
  });
  const result: Record<string, number[]> = {};
  for (const type of scorer.rougeTypes) result[type] = perPair.map((scores) => scores[type]!.fmeasure);
  if (!useAggregator) return result;
  const means: Record<string, number> = {};
  for (const type of scorer.rougeTypes) means[type] = result[type]!.reduce((sum, f) => sum + f, 0) / perPair.length;
  return means;
}
