/**
 * BLEU (Papineni et al., 2002) exactly as sacrebleu 2.x computes it (sacrebleu/metrics/bleu.py,
 * checked against sacrebleu 2.6.0), including its smoothing methods and effective-order quirks.
 *
 * References are given as reference STREAMS, sacrebleu's convention:
 *
 *   references[k][i] = the k-th reference translation of hypotheses[i]
 *
 * so one reference per hypothesis is `[refs]`, two are `[refs1, refs2]`. A reference entry may be
 * `null` when a segment has fewer references than others (sacrebleu's "variable number of
 * references"); an empty string is NOT dropped — it is a reference of length 0, as in sacrebleu.
 *
 * Where this deliberately differs from sacrebleu (input errors only; every score is unchanged):
 * a reference stream whose length differs from the hypotheses raises (sacrebleu silently truncates
 * to the shortest), and so does a segment whose references are all null (sacrebleu raises a
 * TypeError there unless the hypothesis is empty). sacrebleu's `force` only silences a log
 * message and `trg_lang` only picks a default tokenizer, so neither exists here. The signature's
 * version field reads "2.6.0-tunekit": the numbers are sacrebleu 2.6.0's, the code is not.
 */
import { pyFormatFixed, pyRstrip, pySplit } from './pystr.js';
import {
  formatSacrebleuScore,
  referencesPerSegment,
  signatureRefCount,
  type ReferenceStreams,
  type SacrebleuScore,
} from './sacrebleu-score.js';
import { getSacrebleuTokenizer, type SacrebleuTokenizerName } from './sacrebleu-tokenizers.js';
import { isArrayInput } from './guards.js';

export type { SacrebleuFormatOptions, SacrebleuScore } from './sacrebleu-score.js';

/** sacrebleu's BLEU smoothing methods (Chen & Cherry, 2014). */
export type BleuSmoothMethod = 'exp' | 'floor' | 'add-k' | 'none';

/** Default smoothing values: floor 0.1 and add-k 1 (Chen & Cherry, 2014); exp and none take none. */
export const BLEU_SMOOTH_DEFAULTS: Readonly<Record<BleuSmoothMethod, number | null>> = {
  none: null,
  floor: 0.1,
  'add-k': 1,
  exp: null,
};

/** The default maximum n-gram order. */
export const BLEU_MAX_NGRAM_ORDER = 4;

/**
 * The largest maxNgramOrder accepted. sacrebleu has no bound; orders past a few dozen only
 * measure exact copies, and an unbounded one lets `maxNgramOrder=1e9` allocate gigabytes.
 */
export const BLEU_NGRAM_ORDER_LIMIT = 100;

/** The version of sacrebleu whose behaviour this module reproduces (reported in signatures). */
const MIRRORED_SACREBLEU_VERSION = '2.6.0';

/** Options of {@link corpusBleu} and {@link sentenceBleu} (sacrebleu's `BLEU(...)` arguments). */
export interface BleuOptions {
  /** Tokenizer; default '13a'. Use 'zh' for Chinese, 'char' for character-level BLEU. */
  tokenize?: SacrebleuTokenizerName;
  /** Smoothing method; default 'exp'. */
  smoothMethod?: BleuSmoothMethod;
  /** Value for 'floor' (default 0.1) and 'add-k' (default 1); ignored by 'exp' and 'none'. */
  smoothValue?: number | null;
  /** Lowercase hypotheses and references before tokenizing; default false. */
  lowercase?: boolean;
  /** Maximum n-gram order; default 4. */
  maxNgramOrder?: number;
  /**
   * Average only over the n-gram orders the hypothesis side has n-grams for; default false for
   * {@link corpusBleu} and true for {@link sentenceBleu} (sacrebleu's `use_effective_order`).
   */
  effectiveOrder?: boolean;
}

/** sacrebleu's `BLEUScore`. */
export interface BleuScore extends SacrebleuScore {
  /**
   * Matched n-grams per order (clipped by the maximum reference count). With 'add-k' smoothing
   * these include the added k for orders ≥ 2, as sacrebleu reports them.
   */
  readonly counts: number[];
  /** Hypothesis n-grams per order (with 'add-k': plus k for orders ≥ 2, as in sacrebleu). */
  readonly totals: number[];
  /** Per-order precisions in percent (smoothed); 0 for orders after the first empty order. */
  readonly precisions: number[];
  /** Brevity penalty: 1 if sysLen ≥ refLen, exp(1 − refLen/sysLen) otherwise, 0 if sysLen = 0 < refLen. */
  readonly bp: number;
  /** Total hypothesis length in tokens. */
  readonly sysLen: number;
  /** Total effective reference length: per segment the closest reference length (ties → shorter). */
  readonly refLen: number;
  /** sysLen / refLen, or 0 when refLen is 0. */
  readonly ratio: number;
}

interface ResolvedBleuOptions {
  tokenize: SacrebleuTokenizerName;
  smoothMethod: BleuSmoothMethod;
  smoothValue: number | null;
  lowercase: boolean;
  maxNgramOrder: number;
  effectiveOrder: boolean;
}

/** Options of {@link computeBleu}. */
export interface ComputeBleuOptions {
  /** Smoothing method; default 'none' (the default of sacrebleu's static `compute_bleu`). */
  smoothMethod?: BleuSmoothMethod;
  /** Value for 'floor'/'add-k'; default from {@link BLEU_SMOOTH_DEFAULTS}. */
  smoothValue?: number | null;
  /** See {@link BleuOptions.effectiveOrder}; default false. */
  effectiveOrder?: boolean;
  /** Maximum n-gram order; default 4. */
  maxNgramOrder?: number;
}

/** sacrebleu's `my_log`: log, with log(0) floored at −9999999999 so that the score becomes 0. */
function flooredLog(x: number): number {
  return x === 0 ? -9999999999 : Math.log(x);
}

function checkSmoothMethod(method: string): asserts method is BleuSmoothMethod {
  if (!Object.prototype.hasOwnProperty.call(BLEU_SMOOTH_DEFAULTS, method)) {
    throw new Error(`unknown BLEU smoothMethod ${JSON.stringify(method)}: expected one of exp, floor, add-k, none`);
  }
}

function checkMaxNgramOrder(order: number): void {
  if (!Number.isInteger(order) || order < 1 || order > BLEU_NGRAM_ORDER_LIMIT) {
    throw new Error(`BLEU maxNgramOrder must be an integer in [1, ${BLEU_NGRAM_ORDER_LIMIT}], got ${order}`);
  }
}

/**
 * BLEU from its sufficient statistics (sacrebleu's static `BLEU.compute_bleu`).
 *
 * BLEU = BP · exp( (1/N) Σ_{n=1..N} log p_n ), p_n = 100 · correct_n / total_n, with
 * BP = 1 if sysLen ≥ refLen else exp(1 − refLen/sysLen) (0 when sysLen = 0).
 * Smoothing of zero-match orders (Chen & Cherry 2014): 'exp' (NIST/mteval-v13a, method 3):
 * p_n = 100 / (2^k · total_n) for the k-th zero order; 'floor' (method 1): p_n = 100·v/total_n;
 * 'add-k' (method 2): correct_n += v and total_n += v for n ≥ 2; 'none': log 0 → score 0.
 * If no n-gram of any order matches, the score is 0. The loop stops at the first order whose
 * total is 0 (later precisions stay 0); with effectiveOrder, N is the last order with a
 * non-zero total, otherwise N = maxNgramOrder.
 *
 * @param correct matched n-gram counts per order (length maxNgramOrder); not modified.
 * @param total hypothesis n-gram counts per order (length maxNgramOrder); not modified.
 * @param sysLen hypothesis length in tokens.
 * @param refLen effective reference length in tokens.
 * @param options smoothMethod 'none', smoothValue per method, effectiveOrder false, maxNgramOrder 4.
 */
export function computeBleu(
  correct: readonly number[],
  total: readonly number[],
  sysLen: number,
  refLen: number,
  options: ComputeBleuOptions = {},
): BleuScore {
  const smoothMethod = options.smoothMethod ?? 'none';
  checkSmoothMethod(smoothMethod);
  const maxNgramOrder = options.maxNgramOrder ?? BLEU_MAX_NGRAM_ORDER;
  checkMaxNgramOrder(maxNgramOrder);
  if (correct.length < maxNgramOrder || total.length < maxNgramOrder) {
    throw new Error(
      `computeBleu: correct and total need ${maxNgramOrder} entries (one per n-gram order), got ${correct.length} and ${total.length}`,
    );
  }
  const effectiveOrder = options.effectiveOrder ?? false;
  const smoothValue = options.smoothValue ?? null;
  return bleuFromStatistics(correct, total, sysLen, refLen, smoothMethod, smoothValue, effectiveOrder, maxNgramOrder, {
    smoothMethod,
    smoothValue,
    effectiveOrder,
  });
}

/** {@link computeBleu} with validated arguments and the signature fields known to the caller. */
function bleuFromStatistics(
  correct: readonly number[],
  total: readonly number[],
  sysLen: number,
  refLen: number,
  smoothMethod: BleuSmoothMethod,
  requestedSmoothValue: number | null,
  effectiveOrder: boolean,
  maxNgramOrder: number,
  signatureArgs: BleuSignatureArgs,
): BleuScore {
  const smoothValue = requestedSmoothValue ?? BLEU_SMOOTH_DEFAULTS[smoothMethod];
  const counts = correct.slice(0, maxNgramOrder);
  const totals = total.slice(0, maxNgramOrder);

  let bp = 1.0;
  if (sysLen < refLen) bp = sysLen > 0 ? Math.exp(1 - refLen / sysLen) : 0.0;

  const precisions = new Array<number>(maxNgramOrder).fill(0.0);
  // sacrebleu returns 0 outright when nothing matches (sacrebleu issue #141).
  if (!counts.some((c) => c !== 0)) {
    return makeBleuScore(0.0, counts, totals, precisions, bp, sysLen, refLen, signatureArgs);
  }

  let smoothMteval = 1.0;
  let effOrder = maxNgramOrder;
  for (let n = 1; n <= maxNgramOrder; n++) {
    let count = counts[n - 1] ?? 0;
    let totalN = totals[n - 1] ?? 0;
    if (smoothMethod === 'add-k' && n > 1) {
      // BLEU_SMOOTH_DEFAULTS gives add-k a number, so smoothValue is never null here.
      count += smoothValue ?? 0;
      totalN += smoothValue ?? 0;
      counts[n - 1] = count;
      totals[n - 1] = totalN;
    }
    if (totalN === 0) break;
    if (effectiveOrder) effOrder = n;
    if (count === 0) {
      if (smoothMethod === 'exp') {
        smoothMteval *= 2;
        precisions[n - 1] = 100.0 / (smoothMteval * totalN);
      } else if (smoothMethod === 'floor') {
        precisions[n - 1] = (100.0 * (smoothValue ?? 0)) / totalN;
      }
    } else {
      precisions[n - 1] = (100.0 * count) / totalN;
    }
  }

  let logSum = 0;
  for (const p of precisions.slice(0, effOrder)) logSum += flooredLog(p);
  const score = bp * Math.exp(logSum / effOrder);
  return makeBleuScore(score, counts, totals, precisions, bp, sysLen, refLen, signatureArgs);
}

interface BleuSignatureArgs {
  smoothMethod: BleuSmoothMethod;
  smoothValue: number | null;
  effectiveOrder: boolean;
  numRefs?: number | 'var';
  lowercase?: boolean;
  tokenize?: SacrebleuTokenizerName;
}

/** sacrebleu's `BLEUSignature.format()`; fields unknown to {@link computeBleu} are left out. */
function bleuSignature(args: BleuSignatureArgs): string {
  const parts: string[] = [];
  if (args.numRefs !== undefined) parts.push(`nrefs:${args.numRefs}`);
  if (args.lowercase !== undefined) parts.push(`case:${args.lowercase ? 'lc' : 'mixed'}`);
  parts.push(`eff:${args.effectiveOrder ? 'yes' : 'no'}`);
  if (args.tokenize !== undefined) parts.push(`tok:${args.tokenize}`);
  let smooth: string = args.smoothMethod;
  const smoothDefault = BLEU_SMOOTH_DEFAULTS[args.smoothMethod];
  if (smoothDefault !== null) smooth += `[${pyFormatFixed(args.smoothValue ?? smoothDefault, 2)}]`;
  parts.push(`smooth:${smooth}`);
  parts.push(`version:${MIRRORED_SACREBLEU_VERSION}-tunekit`);
  return parts.join('|');
}

function makeBleuScore(
  score: number,
  counts: number[],
  totals: number[],
  precisions: number[],
  bp: number,
  sysLen: number,
  refLen: number,
  signatureArgs: BleuSignatureArgs,
): BleuScore {
  const ratio = refLen ? sysLen / refLen : 0;
  const signature = bleuSignature(signatureArgs);
  const verbose =
    `${precisions.map((p) => pyFormatFixed(p, 1)).join('/')} (BP = ${pyFormatFixed(bp, 3)} ` +
    `ratio = ${pyFormatFixed(ratio, 3)} hyp_len = ${sysLen} ref_len = ${refLen})`;
  return {
    name: 'BLEU',
    score,
    counts,
    totals,
    precisions,
    bp,
    sysLen,
    refLen,
    ratio,
    signature,
    format: (options) => formatSacrebleuScore('BLEU', score, signature, verbose, options),
  };
}

function resolveOptions(options: BleuOptions, defaultEffectiveOrder: boolean): ResolvedBleuOptions {
  const smoothMethod = options.smoothMethod ?? 'exp';
  checkSmoothMethod(smoothMethod);
  const maxNgramOrder = options.maxNgramOrder ?? BLEU_MAX_NGRAM_ORDER;
  checkMaxNgramOrder(maxNgramOrder);
  const tokenize = options.tokenize ?? '13a';
  getSacrebleuTokenizer(tokenize); // validates the name
  return {
    tokenize,
    smoothMethod,
    smoothValue: options.smoothValue ?? null,
    lowercase: options.lowercase ?? false,
    maxNgramOrder,
    effectiveOrder: options.effectiveOrder ?? defaultEffectiveOrder,
  };
}

/**
 * sacrebleu's `extract_all_word_ngrams`: counts of the n-grams of orders 1..maxOrder of a line split
 * on whitespace, one map per order (index n−1). Tokens contain no whitespace, so joining them with
 * a space is an unambiguous key.
 */
function wordNgramCounts(line: string, maxOrder: number): { ngrams: Map<string, number>[]; length: number } {
  const tokens = pySplit(line);
  const ngrams: Map<string, number>[] = [];
  for (let n = 1; n <= maxOrder; n++) {
    const counts = new Map<string, number>();
    for (let i = 0; i + n <= tokens.length; i++) {
      const key = tokens.slice(i, i + n).join(' ');
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    ngrams.push(counts);
  }
  return { ngrams, length: tokens.length };
}

/** sacrebleu's `_get_closest_ref_len`: the reference length closest to hypLen; ties go to the shorter. */
function closestRefLength(hypLen: number, refLens: readonly number[]): number {
  let closestDiff = -1;
  let closestLen = -1;
  for (const refLen of refLens) {
    const diff = Math.abs(hypLen - refLen);
    if (closestDiff === -1 || diff < closestDiff) {
      closestDiff = diff;
      closestLen = refLen;
    } else if (diff === closestDiff && refLen < closestLen) {
      closestLen = refLen;
    }
  }
  return closestLen;
}

function scoreCorpus(
  hypotheses: readonly string[],
  references: ReferenceStreams,
  opts: ResolvedBleuOptions,
): BleuScore {
  const refsPerSegment = referencesPerSegment('BLEU', hypotheses, references);
  const tokenizer = getSacrebleuTokenizer(opts.tokenize);
  const preprocess = (s: string): string => tokenizer(pyRstrip(opts.lowercase ? s.toLowerCase() : s));
  const order = opts.maxNgramOrder;
  const correct = new Array<number>(order).fill(0);
  const total = new Array<number>(order).fill(0);
  let sysLen = 0;
  let refLen = 0;

  hypotheses.forEach((hypothesis, i) => {
    // Clip counts: the maximum count of each n-gram over this segment's references.
    const maxRefCounts = Array.from({ length: order }, () => new Map<string, number>());
    const refLens: number[] = [];
    for (const ref of refsPerSegment[i] ?? []) {
      const { ngrams, length } = wordNgramCounts(preprocess(ref), order);
      refLens.push(length);
      ngrams.forEach((counts, n) => {
        const maxCounts = maxRefCounts[n];
        if (maxCounts === undefined) return;
        for (const [ngram, count] of counts) maxCounts.set(ngram, Math.max(maxCounts.get(ngram) ?? 0, count));
      });
    }
    const { ngrams, length } = wordNgramCounts(preprocess(hypothesis), order);
    sysLen += length;
    refLen += closestRefLength(length, refLens);
    ngrams.forEach((counts, n) => {
      const maxCounts = maxRefCounts[n];
      for (const [ngram, count] of counts) {
        total[n] = (total[n] ?? 0) + count;
        correct[n] = (correct[n] ?? 0) + Math.min(count, maxCounts?.get(ngram) ?? 0);
      }
    });
  });

  return bleuFromStatistics(
    correct,
    total,
    sysLen,
    refLen,
    opts.smoothMethod,
    opts.smoothValue,
    opts.effectiveOrder,
    order,
    {
      numRefs: signatureRefCount(refsPerSegment),
      lowercase: opts.lowercase,
      tokenize: opts.tokenize,
      smoothMethod: opts.smoothMethod,
      smoothValue: opts.smoothValue,
      effectiveOrder: opts.effectiveOrder,
    },
  );
}

/**
 * Corpus BLEU as sacrebleu's `corpus_bleu` / `BLEU().corpus_score`: n-gram statistics are summed
 * over the corpus, then combined once by {@link computeBleu}.
 *
 * @param hypotheses system outputs, one string per segment (at least one).
 * @param references reference STREAMS: `references[k][i]` is the k-th reference of
 *   `hypotheses[i]`; every stream has one entry per hypothesis; `null` marks a missing reference.
 * @param options tokenize '13a', smoothMethod 'exp', smoothValue (floor 0.1, add-k 1),
 *   lowercase false, maxNgramOrder 4, effectiveOrder false.
 * @throws on an empty corpus, non-string input, a stream whose length differs from the
 *   hypotheses, or a segment with no reference.
 */
export function corpusBleu(
  hypotheses: readonly string[],
  references: ReferenceStreams,
  options: BleuOptions = {},
): BleuScore {
  return scoreCorpus(hypotheses, references, resolveOptions(options, false));
}

/**
 * Sentence BLEU as sacrebleu's `sentence_bleu` / `BLEU(effective_order=True).sentence_score`.
 *
 * @param hypothesis one system output.
 * @param references its references (one or more strings; `null` entries are ignored).
 * @param options as {@link corpusBleu}, except effectiveOrder defaults to true.
 */
export function sentenceBleu(
  hypothesis: string,
  references: ReadonlyArray<string | null>,
  options: BleuOptions = {},
): BleuScore {
  if (typeof hypothesis !== 'string') throw new TypeError('BLEU: hypothesis should be a string');
  if (!isArrayInput(references) || typeof references === 'string') {
    throw new TypeError('BLEU: references should be an array of strings');
  }
  return scoreCorpus(
    [hypothesis],
    references.map((r) => [r]),
    resolveOptions(options, true),
  );
}
