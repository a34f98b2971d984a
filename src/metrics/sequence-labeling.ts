/**
 * Entity-level sequence-labelling metrics that reproduce seqeval 1.2.2 exactly, and the output of
 * Hugging Face `evaluate`'s "seqeval" metric.
 *
 * Two chunkers, as in seqeval:
 * - default (lenient, conlleval-compatible) — {@link getEntities}: any B/I/E/S/O-prefixed tag,
 *   an I- after O or after another type starts a chunk, a type change ends one;
 * - `mode: 'strict'` with a `scheme` (IOB1, IOE1, IOB2, IOE2, IOBES, BILOU): only well-formed
 *   chunks of that scheme count; an invalid prefix raises.
 *
 * seqeval's quirks are kept: precision/recall/F1 use strict mode only when BOTH `mode: 'strict'`
 * and `scheme` are given (strict without a scheme silently falls back to lenient), while
 * `classificationReport` in strict mode auto-detects the scheme from y_true. seqeval's
 * `sample_weight` has no effect on any supported average, so it is not offered.
 *
 * The function names equal sklearn's (as in seqeval), so `tunekit/metrics` exposes them through
 * the {@link seqeval} namespace object: `seqeval.f1Score(yTrue, yPred)`.
 */

import { compareLabels } from './classification.js';
import { average as npAverage, mean, pairwiseSum as sumNumpy } from './numeric.js';
import { pyFormatFixed } from './pystr.js';
import { isArrayInput } from './guards.js';

/** Tagging schemes of `seqeval.scheme`. */
export type Scheme = 'IOB1' | 'IOE1' | 'IOB2' | 'IOE2' | 'IOBES' | 'BILOU';

/** seqeval's `zero_division`: 'warn' and 0 give 0; anything else gives 1 (as seqeval does). */
export type SeqevalZeroDivision = 'warn' | 0 | 1;

/** A chunk found by {@link getEntities}: [type, first index, last index] (inclusive). */
export type Chunk = [type: string, start: number, end: number];

/** Options of {@link getEntities}. */
export interface GetEntitiesOptions {
  /** Tags carry the prefix at the end (`PER-B`) instead of the start (`B-PER`). Default false. */
  suffix?: boolean;
}

/** Splits a string into code points, as Python indexes `str`. */
function codePoints(s: string): string[] {
  return Array.from(s);
}

/**
 * `seqeval.metrics.sequence_labeling.get_entities` (lenient chunking). Accepts one sequence or a
 * list of sentences; sentences are concatenated with an 'O' between them, so offsets are global.
 */
export function getEntities(
  seq: readonly string[] | readonly (readonly string[])[],
  options: GetEntitiesOptions = {},
): Chunk[] {
  const { suffix = false } = options;
  const flat: string[] = seq.some((s) => Array.isArray(s))
    ? (seq as readonly (readonly string[])[]).flatMap((sentence) => [...sentence, 'O'])
    : [...(seq as readonly string[])];
  let prevTag = 'O';
  let prevType = '';
  let beginOffset = 0;
  const chunks: Chunk[] = [];
  [...flat, 'O'].forEach((chunk, i) => {
    if (typeof chunk !== 'string' || chunk.length === 0) {
      throw new Error(`tag ${i} must be a non-empty string, got ${JSON.stringify(chunk)}`);
    }
    const cps = codePoints(chunk);
    let tag: string;
    let type: string;
    if (suffix) {
      tag = cps[cps.length - 1]!;
      const body = cps.slice(0, -1).join('');
      const cut = body.lastIndexOf('-');
      type = (cut === -1 ? body : body.slice(0, cut)) || '_';
    } else {
      tag = cps[0]!;
      const body = cps.slice(1).join('');
      const cut = body.indexOf('-');
      type = (cut === -1 ? body : body.slice(cut + 1)) || '_';
    }
    if (endOfChunk(prevTag, tag, prevType, type)) chunks.push([prevType, beginOffset, i - 1]);
    if (startOfChunk(prevTag, tag, prevType, type)) beginOffset = i;
    prevTag = tag;
    prevType = type;
  });
  return chunks;
}

/** seqeval's `end_of_chunk`: did a chunk end between the previous and the current tag? */
export function endOfChunk(prevTag: string, tag: string, prevType: string, type: string): boolean {
  if (prevTag === 'E' || prevTag === 'S') return true;
  if ((prevTag === 'B' || prevTag === 'I') && (tag === 'B' || tag === 'S' || tag === 'O')) return true;
  return prevTag !== 'O' && prevTag !== '.' && prevType !== type;
}

/** seqeval's `start_of_chunk`: did a chunk start between the previous and the current tag? */
export function startOfChunk(prevTag: string, tag: string, prevType: string, type: string): boolean {
  if (tag === 'B' || tag === 'S') return true;
  if ((prevTag === 'E' || prevTag === 'S' || prevTag === 'O') && (tag === 'E' || tag === 'I')) return true;
  return tag !== 'O' && tag !== '.' && prevType !== type;
}

// ---------------------------------------------------------------------------------------------
// strict mode (seqeval.scheme)

type Prefix = 'I' | 'O' | 'B' | 'E' | 'S' | 'U' | 'L';
const PREFIXES: readonly Prefix[] = ['I', 'O', 'B', 'E', 'S', 'U', 'L'];
type TagCondition = 'same' | 'diff' | 'any';
/** (previous prefixes, current prefixes, type condition) — seqeval's pattern triples. */
type Pattern = [readonly Prefix[], readonly Prefix[], TagCondition];

interface SchemeRules {
  allowed: readonly Prefix[];
  start: readonly Pattern[];
  inside: readonly Pattern[];
  end: readonly Pattern[];
}

const ANY = PREFIXES;
const SCHEMES: Record<Scheme, SchemeRules> = {
  IOB1: {
    allowed: ['I', 'O', 'B'],
    start: [
      [['O'], ['I'], 'any'],
      [['I'], ['I'], 'diff'],
      [['B'], ['I'], 'any'],
      [['I'], ['B'], 'same'],
      [['B'], ['B'], 'same'],
    ],
    inside: [
      [['B'], ['I'], 'same'],
      [['I'], ['I'], 'same'],
    ],
    end: [
      [['I'], ['I'], 'diff'],
      [['I'], ['O'], 'any'],
      [['I'], ['B'], 'any'],
      [['B'], ['O'], 'any'],
      [['B'], ['I'], 'diff'],
      [['B'], ['B'], 'same'],
    ],
  },
  IOE1: {
    allowed: ['I', 'O', 'E'],
    start: [
      [['O'], ['I'], 'any'],
      [['I'], ['I'], 'diff'],
      [['E'], ['I'], 'any'],
      [['E'], ['E'], 'same'],
    ],
    inside: [
      [['I'], ['I'], 'same'],
      [['I'], ['E'], 'same'],
    ],
    end: [
      [['I'], ['I'], 'diff'],
      [['I'], ['O'], 'any'],
      [['I'], ['E'], 'diff'],
      [['E'], ['I'], 'same'],
      [['E'], ['E'], 'same'],
    ],
  },
  IOB2: {
    allowed: ['I', 'O', 'B'],
    start: [[ANY, ['B'], 'any']],
    inside: [
      [['B'], ['I'], 'same'],
      [['I'], ['I'], 'same'],
    ],
    end: [
      [['I'], ['O'], 'any'],
      [['I'], ['I'], 'diff'],
      [['I'], ['B'], 'any'],
      [['B'], ['O'], 'any'],
      [['B'], ['I'], 'diff'],
      [['B'], ['B'], 'any'],
    ],
  },
  IOE2: {
    allowed: ['I', 'O', 'E'],
    start: [
      [['O'], ['I'], 'any'],
      [['O'], ['E'], 'any'],
      [['E'], ['I'], 'any'],
      [['E'], ['E'], 'any'],
      [['I'], ['I'], 'diff'],
      [['I'], ['E'], 'diff'],
    ],
    inside: [
      [['I'], ['E'], 'same'],
      [['I'], ['I'], 'same'],
    ],
    end: [[['E'], ANY, 'any']],
  },
  IOBES: {
    allowed: ['I', 'O', 'B', 'E', 'S'],
    start: [
      [ANY, ['B'], 'any'],
      [ANY, ['S'], 'any'],
    ],
    inside: [
      [['B'], ['I'], 'same'],
      [['B'], ['E'], 'same'],
      [['I'], ['I'], 'same'],
      [['I'], ['E'], 'same'],
    ],
    end: [
      [['S'], ANY, 'any'],
      [['E'], ANY, 'any'],
    ],
  },
  BILOU: {
    allowed: ['I', 'O', 'B', 'U', 'L'], // listed in seqeval's Prefix order, as its error message prints them
    start: [
      [ANY, ['B'], 'any'],
      [ANY, ['U'], 'any'],
    ],
    inside: [
      [['B'], ['I'], 'same'],
      [['B'], ['L'], 'same'],
      [['I'], ['I'], 'same'],
      [['I'], ['L'], 'same'],
    ],
    end: [
      [['U'], ANY, 'any'],
      [['L'], ANY, 'any'],
    ],
  },
};

interface Token {
  text: string;
  prefix: Prefix;
  type: string;
}

/** seqeval's `Token`: prefix is the first (or, with suffix, last) character; type strips '-'. */
function parseToken(text: string, suffix: boolean): Token {
  const cps = codePoints(text);
  const prefix = (suffix ? cps[cps.length - 1] : cps[0]) as Prefix | undefined;
  if (prefix === undefined || !PREFIXES.includes(prefix)) {
    throw new Error(
      `Tag '${text}' has no valid prefix: expected one of ${PREFIXES.join(', ')} (seqeval raises KeyError)`,
    );
  }
  const body = (suffix ? cps.slice(0, -1) : cps.slice(1)).join('');
  return { text, prefix, type: body.replace(/^-+|-+$/g, '') || '_' };
}

function matches(prev: Token, current: Token, patterns: readonly Pattern[]): boolean {
  return patterns.some(
    ([prevPrefixes, currentPrefixes, cond]) =>
      prevPrefixes.includes(prev.prefix) &&
      currentPrefixes.includes(current.prefix) &&
      (cond === 'any' || (cond === 'same') === (prev.type === current.type)),
  );
}

/** An entity found in strict mode: sentence, type and [start, end) token offsets. */
interface StrictEntity {
  sentence: number;
  type: string;
  start: number;
  end: number;
}

/** seqeval's `Tokens.entities` for one sentence under a scheme (end offsets are exclusive). */
function strictEntities(
  sentence: readonly string[],
  sentenceId: number,
  scheme: Scheme,
  suffix: boolean,
): StrictEntity[] {
  const rules = SCHEMES[scheme];
  const outside = parseToken('O', suffix);
  const tokens = [...sentence.map((t) => parseToken(t, suffix)), outside];
  const nTokens = sentence.length;
  const entities: StrictEntity[] = [];
  let prev = outside;
  let i = 0;
  while (i < tokens.length) {
    const token = tokens[i]!;
    if (!rules.allowed.includes(token.prefix)) {
      throw new Error(`Invalid token is found: ${token.text}. Allowed prefixes are: ${rules.allowed.join('|')}.`);
    }
    if (matches(prev, token, rules.start)) {
      // Walk forward while the chunk continues; the 'O' sentinel always stops the walk.
      let end = nTokens - 1;
      let last = token;
      for (let j = i + 1; j < tokens.length; j++) {
        if (matches(last, tokens[j]!, rules.inside)) last = tokens[j]!;
        else {
          end = j;
          break;
        }
      }
      if (matches(tokens[end - 1]!, tokens[end]!, rules.end)) {
        entities.push({ sentence: sentenceId, type: token.type, start: i, end });
      }
      i = end;
    } else {
      i += 1;
    }
    prev = tokens[i - 1]!;
  }
  return entities;
}

/**
 * seqeval's `auto_detect`: the scheme whose prefix set matches the prefixes used in y_true
 * (IOB2, IOE2, IOBES or BILOU), else an error.
 */
export function autoDetectScheme(sequences: readonly (readonly string[])[], options: GetEntitiesOptions = {}): Scheme {
  const used = new Set<Prefix>();
  for (const sentence of sequences) {
    for (const tag of sentence) {
      const cps = codePoints(tag);
      const prefix = (options.suffix ? cps[cps.length - 1] : cps[0]) as Prefix;
      if (!PREFIXES.includes(prefix)) throw new Error(`This scheme is not supported: ${tag}`);
      used.add(prefix);
    }
  }
  const is = (...sets: string[]) =>
    sets.some((s) => s.length === used.size && [...s].every((p) => used.has(p as Prefix)));
  if (is('IOB', 'IB', 'BO', 'B')) return 'IOB2';
  if (is('IOE', 'IE', 'EO', 'E')) return 'IOE2';
  if (is('IOBES', 'IBES', 'IOBE', 'OBES', 'IBE', 'BES', 'OBE', 'BE', 'S')) return 'IOBES';
  if (is('IOBLU', 'IBLU', 'IOBL', 'OBLU', 'IBL', 'BLU', 'OBL', 'BL', 'U')) return 'BILOU';
  // Python prints the set of enum members, e.g. {<Prefix.O: 2>} (its order is Python's hash order).
  const flag = (p: Prefix) => 2 ** PREFIXES.indexOf(p);
  throw new Error(`This scheme is not supported: {${[...used].map((p) => `<Prefix.${p}: ${flag(p)}>`).join(', ')}}`);
}

// ---------------------------------------------------------------------------------------------
// precision / recall / F

/** Options of the seqeval scores. */
export interface SeqevalOptions {
  /** null: per type; 'micro' pools entities; 'macro' plain mean; 'weighted' by support. */
  average?: 'micro' | 'macro' | 'weighted' | null;
  /** Tags carry the prefix at the end. Default false. */
  suffix?: boolean;
  /** 'strict' (with `scheme`) counts only well-formed chunks of the scheme. Default lenient. */
  mode?: 'strict';
  /** Tagging scheme for strict mode. */
  scheme?: Scheme;
  /** Value of 0/0 (default 'warn' → 0, without printing a warning). */
  zeroDivision?: SeqevalZeroDivision;
}

/** Per-type precision/recall/F and support, sorted by type name (per Python string order). */
export interface SeqevalPerType {
  precision: number[];
  recall: number[];
  fbetaScore: number[];
  support: number[];
}

/** Averaged scores; support is the total number of true entities (seqeval, unlike sklearn). */
export interface SeqevalAveraged {
  precision: number;
  recall: number;
  fbetaScore: number;
  support: number;
}

/** Per-type counts: sorted type names with tp / predicted / true entity counts. */
interface TypeCounts {
  types: string[];
  tp: number[];
  pred: number[];
  truth: number[];
}

/** seqeval's `check_consistent_length`: lists of lists with the same sentence lengths. */
function checkConsistentLength(yTrue: readonly (readonly string[])[], yPred: readonly (readonly string[])[]): void {
  // Python's `set(map(type, y_true)) | set(map(type, y_pred)) == {list}`: also false for no sentences.
  const sentences = [...yTrue, ...yPred];
  if (
    !isArrayInput(yTrue) ||
    !isArrayInput(yPred) ||
    sentences.length === 0 ||
    !sentences.every((s) => Array.isArray(s))
  ) {
    throw new Error('Found input variables without list of list.');
  }
  const lenTrue = yTrue.map((s) => s.length);
  const lenPred = yPred.map((s) => s.length);
  if (lenTrue.length !== lenPred.length || lenTrue.some((n, i) => n !== lenPred[i])) {
    throw new Error(
      `Found input variables with inconsistent numbers of samples:\n[${lenTrue.join(', ')}]\n[${lenPred.join(', ')}]`,
    );
  }
}

function countByType(keysTrue: Map<string, Set<string>>, keysPred: Map<string, Set<string>>): TypeCounts {
  const types = [...new Set([...keysTrue.keys(), ...keysPred.keys()])].sort(compareLabels);
  const tp: number[] = [];
  const pred: number[] = [];
  const truth: number[] = [];
  for (const type of types) {
    const t = keysTrue.get(type) ?? new Set<string>();
    const p = keysPred.get(type) ?? new Set<string>();
    tp.push([...t].filter((k) => p.has(k)).length);
    pred.push(p.size);
    truth.push(t.size);
  }
  return { types, tp, pred, truth };
}

function groupKeys(entries: Iterable<[type: string, key: string]>): Map<string, Set<string>> {
  const byType = new Map<string, Set<string>>();
  for (const [type, key] of entries) {
    if (!byType.has(type)) byType.set(type, new Set());
    byType.get(type)!.add(key);
  }
  return byType;
}

function lenientCounts(
  yTrue: readonly (readonly string[])[],
  yPred: readonly (readonly string[])[],
  suffix: boolean,
): TypeCounts {
  const keys = (y: readonly (readonly string[])[]) =>
    groupKeys(getEntities(y, { suffix }).map(([type, s, e]): [string, string] => [type, `${s},${e}`]));
  return countByType(keys(yTrue), keys(yPred));
}

function strictCounts(
  yTrue: readonly (readonly string[])[],
  yPred: readonly (readonly string[])[],
  scheme: Scheme,
  suffix: boolean,
): TypeCounts {
  const keys = (y: readonly (readonly string[])[]) =>
    groupKeys(
      y
        .flatMap((sentence, id) => strictEntities(sentence, id, scheme, suffix))
        .map((e): [string, string] => [e.type, `${e.sentence},${e.start},${e.end}`]),
    );
  return countByType(keys(yTrue), keys(yPred));
}

/** seqeval's `_precision_recall_fscore_support` on per-type counts. */
function scoresFromCounts(
  counts: TypeCounts,
  average: 'micro' | 'macro' | 'weighted' | null,
  beta: number,
  zeroDivision: SeqevalZeroDivision,
): SeqevalPerType | SeqevalAveraged {
  if (beta < 0) throw new Error('beta should be >=0 in the F-beta score');
  let { tp, pred, truth } = counts;
  if (average === 'micro') {
    tp = [sumNumpy(tp)];
    pred = [sumNumpy(pred)];
    truth = [sumNumpy(truth)];
  }
  const zd = zeroDivision === 'warn' || zeroDivision === 0 ? 0 : 1;
  const divide = (num: number[], den: number[]) => num.map((n, i) => (den[i] === 0 ? zd : n / den[i]!));
  const precision = divide(tp, pred);
  const recall = divide(tp, truth);
  const beta2 = beta ** 2;
  const fbeta =
    beta === Infinity
      ? recall
      : precision.map((p, i) => {
          const r = recall[i]!;
          const denom = beta2 * p + r;
          return ((1 + beta2) * p * r) / (denom === 0 ? 1 : denom);
        });
  const support = truth.reduce((s, n) => s + n, 0);
  if (average === null) return { precision, recall, fbetaScore: fbeta, support: truth };
  if (average === 'weighted') {
    if (support === 0) {
      const noPred = pred.reduce((s, n) => s + n, 0) === 0;
      return { precision: noPred ? zd : 0, recall: zd, fbetaScore: noPred ? zd : 0, support };
    }
    return {
      precision: npAverage(precision, truth),
      recall: npAverage(recall, truth),
      fbetaScore: npAverage(fbeta, truth),
      support,
    };
  }
  return { precision: mean(precision), recall: mean(recall), fbetaScore: mean(fbeta), support };
}

function checkAverage(average: unknown): void {
  if (![null, 'micro', 'macro', 'weighted'].includes(average as string | null)) {
    throw new Error("average has to be one of (None, 'micro', 'macro', 'weighted')");
  }
}

/**
 * `seqeval.metrics.precision_recall_fscore_support` (lenient) or, with `mode: 'strict'` and a
 * `scheme`, `seqeval.metrics.v1.precision_recall_fscore_support`. Default `average: null`
 * (per type), `beta` 1, `zeroDivision` 'warn' (→ 0).
 */
export function precisionRecallFscoreSupport(
  yTrue: readonly (readonly string[])[],
  yPred: readonly (readonly string[])[],
  options?: SeqevalOptions & { beta?: number; average?: null },
): SeqevalPerType;
export function precisionRecallFscoreSupport(
  yTrue: readonly (readonly string[])[],
  yPred: readonly (readonly string[])[],
  options: SeqevalOptions & { beta?: number; average: 'micro' | 'macro' | 'weighted' },
): SeqevalAveraged;
export function precisionRecallFscoreSupport(
  yTrue: readonly (readonly string[])[],
  yPred: readonly (readonly string[])[],
  options?: SeqevalOptions & { beta?: number },
): SeqevalPerType | SeqevalAveraged;
export function precisionRecallFscoreSupport(
  yTrue: readonly (readonly string[])[],
  yPred: readonly (readonly string[])[],
  options: SeqevalOptions & { beta?: number } = {},
): SeqevalPerType | SeqevalAveraged {
  const { average = null, beta = 1, suffix = false, mode, scheme, zeroDivision = 'warn' } = options;
  if (beta < 0) throw new Error('beta should be >=0 in the F-beta score');
  checkAverage(average);
  checkConsistentLength(yTrue, yPred);
  const counts =
    mode === 'strict' && scheme !== undefined
      ? strictCounts(yTrue, yPred, scheme, suffix)
      : lenientCounts(yTrue, yPred, suffix);
  return scoresFromCounts(counts, average, beta, zeroDivision);
}

type Sequences = readonly (readonly string[])[];

function scoreOf(
  key: 'precision' | 'recall' | 'fbetaScore',
  yTrue: Sequences,
  yPred: Sequences,
  options: SeqevalOptions | undefined,
): number | number[] {
  return precisionRecallFscoreSupport(yTrue, yPred, { average: 'micro', ...options })[key];
}

/** seqeval `precision_score`: correct entities / predicted entities. Default `average: 'micro'`. */
export function precisionScore(
  yTrue: Sequences,
  yPred: Sequences,
  options: SeqevalOptions & { average: null },
): number[];
export function precisionScore(
  yTrue: Sequences,
  yPred: Sequences,
  options?: SeqevalOptions & { average?: 'micro' | 'macro' | 'weighted' },
): number;
export function precisionScore(yTrue: Sequences, yPred: Sequences, options?: SeqevalOptions): number | number[] {
  return scoreOf('precision', yTrue, yPred, options);
}

/** seqeval `recall_score`: correct entities / true entities. Default `average: 'micro'`. */
export function recallScore(yTrue: Sequences, yPred: Sequences, options: SeqevalOptions & { average: null }): number[];
export function recallScore(
  yTrue: Sequences,
  yPred: Sequences,
  options?: SeqevalOptions & { average?: 'micro' | 'macro' | 'weighted' },
): number;
export function recallScore(yTrue: Sequences, yPred: Sequences, options?: SeqevalOptions): number | number[] {
  return scoreOf('recall', yTrue, yPred, options);
}

/** seqeval `f1_score`: harmonic mean of entity precision and recall. Default `average: 'micro'`. */
export function f1Score(yTrue: Sequences, yPred: Sequences, options: SeqevalOptions & { average: null }): number[];
export function f1Score(
  yTrue: Sequences,
  yPred: Sequences,
  options?: SeqevalOptions & { average?: 'micro' | 'macro' | 'weighted' },
): number;
export function f1Score(yTrue: Sequences, yPred: Sequences, options?: SeqevalOptions): number | number[] {
  return scoreOf('fbetaScore', yTrue, yPred, options);
}

/**
 * seqeval `accuracy_score`: token-level accuracy over all sentences (nested input is flattened).
 * As seqeval, items are paired up to the shorter input but divided by y_true's length; empty
 * y_true raises (Python's ZeroDivisionError).
 */
export function accuracyScore(yTrue: readonly string[] | Sequences, yPred: readonly string[] | Sequences): number {
  const nested = yTrue.some((s) => Array.isArray(s));
  const flatTrue = nested ? (yTrue as Sequences).flat() : (yTrue as readonly string[]);
  const flatPred = nested ? (yPred as Sequences).flat() : (yPred as readonly string[]);
  if (flatTrue.length === 0) throw new Error('division by zero (seqeval accuracy_score of an empty y_true)');
  let correct = 0;
  for (let i = 0; i < Math.min(flatTrue.length, flatPred.length); i++) if (flatTrue[i] === flatPred[i]) correct++;
  return correct / flatTrue.length;
}

/** Token-level counts of seqeval's `performance_measure`. */
export interface PerformanceMeasure {
  TP: number;
  FP: number;
  FN: number;
  TN: number;
}

/**
 * seqeval `performance_measure`: token-level TP (equal and not both 'O'), FP (differs, predicted
 * not 'O'), FN (true not 'O', predicted 'O') and TN (both 'O').
 */
export function performanceMeasure(
  yTrue: readonly string[] | Sequences,
  yPred: readonly string[] | Sequences,
): PerformanceMeasure {
  const nested = yTrue.some((s) => Array.isArray(s));
  const t = nested ? (yTrue as Sequences).flat() : (yTrue as readonly string[]);
  const p = nested ? (yPred as Sequences).flat() : (yPred as readonly string[]);
  const result: PerformanceMeasure = { TP: 0, FP: 0, FN: 0, TN: 0 };
  for (let i = 0; i < Math.min(t.length, p.length); i++) {
    const yt = t[i]!;
    const yp = p[i]!;
    if (yt === yp && (yt !== 'O' || yp !== 'O')) result.TP++;
    if (yt !== yp && yp !== 'O') result.FP++;
    if (yt !== 'O' && yp === 'O') result.FN++;
    if (yt === 'O' && yp === 'O') result.TN++;
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// classification report

/** One row of the dictionary report. */
export interface ReportRow {
  precision: number;
  recall: number;
  'f1-score': number;
  support: number;
}

/** Options of `classificationReport` (seqeval.classificationReport). */
export interface ClassificationReportOptions {
  /** Decimals in the text report (default 2). */
  digits?: number;
  /** Tags carry the prefix at the end. Default false. */
  suffix?: boolean;
  /** Return `{type: row, 'micro avg': row, 'macro avg': row, 'weighted avg': row}` (default false). */
  outputDict?: boolean;
  /** 'strict': well-formed chunks only; the scheme is auto-detected from y_true when absent. */
  mode?: 'strict';
  /** Tagging scheme for strict mode. */
  scheme?: Scheme;
  /** Value of 0/0 (default 'warn' → 0). */
  zeroDivision?: SeqevalZeroDivision;
}

function padStartCodePoints(s: string, width: number): string {
  const n = codePoints(s).length;
  return n >= width ? s : ' '.repeat(width - n) + s;
}

/**
 * seqeval `classification_report`: per-type precision, recall, F1 and support, then micro, macro
 * and weighted averages, as seqeval's aligned text (default) or a dictionary (`outputDict`).
 * The text report of inputs without any entity raises, as seqeval does.
 */
export function classificationReport(
  yTrue: Sequences,
  yPred: Sequences,
  options: ClassificationReportOptions & { outputDict: true },
): Record<string, ReportRow>;
export function classificationReport(
  yTrue: Sequences,
  yPred: Sequences,
  options?: ClassificationReportOptions & { outputDict?: false },
): string;
export function classificationReport(
  yTrue: Sequences,
  yPred: Sequences,
  options?: ClassificationReportOptions,
): string | Record<string, ReportRow>;
export function classificationReport(
  yTrue: Sequences,
  yPred: Sequences,
  options: ClassificationReportOptions = {},
): string | Record<string, ReportRow> {
  const { digits = 2, suffix = false, outputDict = false, mode, zeroDivision = 'warn' } = options;
  let counts: TypeCounts;
  if (mode === 'strict') {
    checkConsistentLength(yTrue, yPred);
    const scheme = options.scheme ?? autoDetectScheme(yTrue, { suffix });
    counts = strictCounts(yTrue, yPred, scheme, suffix);
  } else {
    counts = lenientCounts(yTrue, yPred, suffix);
    checkConsistentLength(yTrue, yPred);
  }
  const rows: [string, ReportRow][] = [];
  const perType = scoresFromCounts(counts, null, 1, zeroDivision) as SeqevalPerType;
  counts.types.forEach((type, i) => {
    rows.push([
      type,
      {
        precision: perType.precision[i]!,
        recall: perType.recall[i]!,
        'f1-score': perType.fbetaScore[i]!,
        support: perType.support[i]!,
      },
    ]);
  });
  const averages: [string, ReportRow][] = (['micro', 'macro', 'weighted'] as const).map((avg) => {
    const s = scoresFromCounts(counts, avg, 1, zeroDivision) as SeqevalAveraged;
    return [`${avg} avg`, { precision: s.precision, recall: s.recall, 'f1-score': s.fbetaScore, support: s.support }];
  });
  if (outputDict) return Object.fromEntries([...rows, ...averages]);

  if (counts.types.length === 0) throw new Error('max() arg is an empty sequence (no entity in y_true or y_pred)');
  let width = Math.max('weighted avg'.length, digits);
  for (const t of counts.types) width = Math.max(width, codePoints(t).length);
  const line = (name: string, r: ReportRow) =>
    `${padStartCodePoints(name, width)} ` +
    [r.precision, r.recall, r['f1-score']].map((v) => ` ${pyFormatFixed(v, digits).padStart(9)}`).join('') +
    ` ${String(r.support).padStart(9)}`;
  const header =
    `${' '.repeat(width)} ` + ['precision', 'recall', 'f1-score', 'support'].map((h) => ` ${h.padStart(9)}`).join('');
  const body = [...rows.map(([n, r]) => line(n, r)), '', ...averages.map(([n, r]) => line(n, r)), ''];
  return `${header}\n\n${body.join('\n')}`;
}

// ---------------------------------------------------------------------------------------------
// Hugging Face evaluate "seqeval"

/** Per-type entry of {@link seqevalCompute}. */
export interface SeqevalTypeScores {
  precision: number;
  recall: number;
  f1: number;
  /** Number of true entities of the type. */
  number: number;
}

/** Output of {@link seqevalCompute}: one entry per entity type plus the overall scores. */
export type SeqevalComputeResult = {
  overall_precision: number;
  overall_recall: number;
  overall_f1: number;
  overall_accuracy: number;
} & { [type: string]: SeqevalTypeScores | number };

/** Options of {@link seqevalCompute} (the `evaluate` metric's config). */
export interface SeqevalComputeOptions {
  suffix?: boolean;
  scheme?: Scheme;
  mode?: 'strict';
  zeroDivision?: SeqevalZeroDivision;
}

/**
 * Hugging Face `evaluate.load("seqeval").compute(predictions, references)`: the classification
 * report's per-type rows as {precision, recall, f1, number}, micro averages as overall_precision /
 * overall_recall / overall_f1, and token accuracy as overall_accuracy. Note the argument order
 * (predictions first), as in `evaluate`.
 */
export function seqevalCompute(
  predictions: Sequences,
  references: Sequences,
  options: SeqevalComputeOptions = {},
): SeqevalComputeResult {
  const report = classificationReport(references, predictions, { ...options, outputDict: true });
  const result: Record<string, SeqevalTypeScores | number> = {};
  for (const [name, row] of Object.entries(report)) {
    if (['micro avg', 'macro avg', 'weighted avg'].includes(name)) continue;
    result[name] = { precision: row.precision, recall: row.recall, f1: row['f1-score'], number: row.support };
  }
  const overall = report['micro avg']!;
  result.overall_precision = overall.precision;
  result.overall_recall = overall.recall;
  result.overall_f1 = overall['f1-score'];
  result.overall_accuracy = accuracyScore(references, predictions);
  return result as SeqevalComputeResult;
}

/**
 * The seqeval functions under one name, because they share sklearn's names:
 * `import { seqeval } from 'tunekit/metrics'; seqeval.f1Score(yTrue, yPred, { mode: 'strict', scheme: 'IOB2' })`.
 */
export const seqeval = {
  /** seqeval.metrics.sequence_labeling.get_entities: (type, start, end) chunks of a tag sequence. */
  getEntities,
  /** Per-type (or averaged) precision, recall, F-score and support. */
  precisionRecallFscoreSupport,
  /** Entity-level precision. */
  precisionScore,
  /** Entity-level recall. */
  recallScore,
  /** Entity-level F1. */
  f1Score,
  /** Token-level accuracy. */
  accuracyScore,
  /** Token-level TP/FP/FN/TN counts. */
  performanceMeasure,
  /** seqeval's classification_report (text or dict). */
  classificationReport,
  /** The IOB2/IOE2/IOBES/BILOU scheme a tag set uses. */
  autoDetectScheme,
  /** Hugging Face evaluate's "seqeval" compute. */
  compute: seqevalCompute,
} as const;
