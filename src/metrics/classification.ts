/**
 * Classification metrics that reproduce scikit-learn 1.2.1 (`sklearn.metrics`) number for number,
 * including its errors and zero-division conventions.
 *
 * Naming follows the reference: one function per sklearn function in camelCase, positional
 * `yTrue, yPred` (or `yScore`) and keyword arguments as a trailing options object.
 *
 * Version notes (where sklearn changed after 1.2 and what is followed here):
 * - `zeroDivision: NaN` exists only since sklearn 1.3; when it is chosen, the 1.3+ rules apply:
 *   F is computed as (1+β²)·tp / ((1+β²)·tp + β²·fn + fp) and averages skip NaN entries.
 *   'warn', 0 and 1 follow 1.2.1 (identical results in 1.3+ except that 1.3+ no longer
 *   short-circuits a weighted average whose supports are all zero).
 * - `rocCurve` thresholds start with `Infinity` (sklearn ≥ 1.3) instead of `max(score) + 1` (1.2).
 * - Multilabel targets are indicator matrices (number[][], one column per label, ≥ 2 columns);
 *   sklearn's column vectors (n × 1) are not accepted: pass a 1-D array.
 */
import { average as npAverage, mean, pairwiseSum } from './numeric.js';

/** A class label: sklearn accepts numbers or strings (never a mix of both). */
export type Label = string | number;

/**
 * A label as given: also a boolean, which NumPy stores as 0/1, so `true` equals the label 1 (and
 * the default `posLabel: 1` selects `true`), exactly as in scikit-learn. A boolean mixed with
 * string labels raises (NumPy would turn it into the string "True"; see docs/metrics.md).
 */
export type LabelInput = Label | boolean;

/** Value used when a ratio is 0/0: 'warn' and 0 give 0, 1 gives 1, NaN gives NaN (sklearn ≥ 1.3). */
export type ZeroDivision = 'warn' | number;

/** Averaging modes of precision/recall/F (sklearn's `average`; 'samples' is for multilabel). */
export type Average = 'binary' | 'micro' | 'macro' | 'weighted' | 'samples';

/** A multilabel indicator matrix: row i, column j nonzero when item i has label j. */
export type IndicatorMatrix = readonly (readonly number[])[];

/** Classification targets: one label per item, or a multilabel indicator matrix. */
export type ClassTargets = readonly LabelInput[] | IndicatorMatrix;

/** A label with a boolean read as NumPy does: false → 0, true → 1. */
function asLabel(label: LabelInput): Label {
  return typeof label === 'boolean' ? Number(label) : label;
}

/** Labels with booleans read as 0/1 (the same array when there is none). */
function asLabels(y: readonly LabelInput[]): readonly Label[] {
  return y.some((v) => typeof v === 'boolean') ? y.map(asLabel) : (y as readonly Label[]);
}

/** Targets with boolean labels read as 0/1; indicator matrices are returned as they are. */
function asTargets(y: ClassTargets): readonly Label[] | IndicatorMatrix {
  if (!Array.isArray(y) || y.length === 0 || Array.isArray(y[0])) return y as readonly Label[] | IndicatorMatrix;
  return asLabels(y as readonly LabelInput[]);
}

/** Options with boolean `posLabel` / `labels` read as 0/1. */
function withLabelOptions<O extends { posLabel?: LabelInput; labels?: readonly LabelInput[] }>(options: O): O {
  const out = { ...options };
  if (typeof out.posLabel === 'boolean') out.posLabel = asLabel(out.posLabel);
  if (Array.isArray(out.labels)) out.labels = out.labels.map(asLabel);
  return out;
}

/** Target type as sklearn's `type_of_target` would name it for the inputs supported here. */
type TargetType = 'binary' | 'multiclass' | 'multilabel-indicator';

function isMatrix(y: ClassTargets): y is IndicatorMatrix {
  return y.length > 0 && Array.isArray(y[0]);
}

function isNumberLabel(x: LabelInput): x is number {
  return typeof x === 'number';
}

/** Orders labels as NumPy sorts them: numbers numerically, strings by Unicode code point. */
export function compareLabels(a: Label, b: Label): number {
  if (isNumberLabel(a) && isNumberLabel(b)) return a - b;
  const sa = String(a);
  const sb = String(b);
  // Python compares str by code point; JS `<` compares UTF-16 units, which differs above U+FFFF.
  const ia = sa[Symbol.iterator]();
  const ib = sb[Symbol.iterator]();
  for (;;) {
    const ca = ia.next();
    const cb = ib.next();
    if (ca.done || cb.done) return (ca.done ? 0 : 1) - (cb.done ? 0 : 1);
    const d = ca.value.codePointAt(0)! - cb.value.codePointAt(0)!;
    if (d !== 0) return d;
  }
}

/** Sorted distinct values, like `np.unique`. */
function uniqueSorted(values: readonly Label[]): Label[] {
  return [...new Set(values)].sort(compareLabels);
}

/** sklearn's `check_consistent_length` message. */
function checkConsistentLength(...arrays: (readonly unknown[] | undefined)[]): void {
  const lengths = arrays.filter((a): a is readonly unknown[] => a !== undefined).map((a) => a.length);
  if (new Set(lengths).size > 1) {
    throw new Error(`Found input variables with inconsistent numbers of samples: [${lengths.join(', ')}]`);
  }
}

/** Rejects NaN/±Infinity as sklearn's `check_array` does (`Input <name> contains NaN.`). */
function assertAllFinite(values: readonly number[], name?: string): void {
  const where = name ? `Input ${name} contains` : 'Input contains';
  for (const v of values) {
    if (Number.isNaN(v)) throw new Error(`${where} NaN.`);
    if (!Number.isFinite(v)) throw new Error(`${where} infinity or a value too large for dtype('float64').`);
  }
}

/**
 * `type_of_target`: 'continuous' for non-integral numbers; a matrix is 'multilabel-indicator'
 * when it holds at most two distinct integral values (sklearn's `is_multilabel`).
 */
function typeOfTarget(
  y: ClassTargets,
  name: string,
): TargetType | 'continuous' | 'multiclass-multioutput' | 'continuous-multioutput' {
  if (isMatrix(y)) {
    const width = y[0]!.length;
    if (width < 2)
      throw new Error(
        `${name} is a matrix with ${width} column(s): pass 1-D labels, or an indicator matrix with ≥ 2 columns`,
      );
    y.forEach((row, i) => {
      if (!Array.isArray(row) || row.length !== width || row.some((v) => typeof v !== 'number')) {
        throw new Error(`${name}[${i}] must be an array of ${width} numbers like ${name}[0]`);
      }
      assertAllFinite(row, name);
    });
    const values = new Set(y.flat());
    if ([...values].some((v) => !Number.isInteger(v))) return 'continuous-multioutput';
    return values.size < 3 ? 'multilabel-indicator' : 'multiclass-multioutput';
  }
  if (y.some((v) => typeof v !== 'number' && typeof v !== 'string')) {
    throw new Error(`${name} must contain only numbers or strings`);
  }
  const numbers = y.filter(isNumberLabel);
  assertAllFinite(numbers, name);
  if (numbers.some((v) => !Number.isInteger(v))) return 'continuous';
  return new Set(y).size > 2 ? 'multiclass' : 'binary';
}

/** sklearn's `unique_labels`: sorted union, refusing a mix of strings and numbers. */
function uniqueLabels(...ys: (readonly Label[])[]): Label[] {
  const all = ys.flat();
  const hasString = all.some((v) => typeof v === 'string');
  const hasNumber = all.some((v) => typeof v === 'number');
  if (hasString && hasNumber) throw new Error('Mix of label input types (string and number)');
  return uniqueSorted(all);
}

/**
 * Refuses a `labels` list mixing strings and numbers. NumPy would turn the numbers into strings,
 * so sklearn silently matches none of the numeric items; an error is more useful than zeros.
 */
function checkLabelTypes(labels: readonly Label[]): readonly Label[] {
  if (labels.some((l) => typeof l === 'string') && labels.some((l) => typeof l === 'number')) {
    throw new Error(`labels mixes strings and numbers: [${labels.map((l) => JSON.stringify(l)).join(', ')}]`);
  }
  return labels;
}

/** sklearn's `_check_targets`: lengths, finiteness, and the common target type. */
function checkTargets(yTrue: ClassTargets, yPred: ClassTargets): TargetType {
  checkConsistentLength(yTrue, yPred);
  const typeTrue = typeOfTarget(yTrue, 'y_true');
  const typePred = typeOfTarget(yPred, 'y_pred');
  // sklearn's union of the labels refuses a string/number mix for every metric, accuracy included.
  const union =
    isMatrix(yTrue) || isMatrix(yPred) ? [] : uniqueLabels(yTrue as readonly Label[], yPred as readonly Label[]);
  const types = new Set([typeTrue, typePred]);
  if (types.size === 2 && types.has('binary') && types.has('multiclass')) return 'multiclass';
  if (types.size > 1) {
    throw new Error(`Classification metrics can't handle a mix of ${typeTrue} and ${typePred} targets`);
  }
  if (typeTrue !== 'binary' && typeTrue !== 'multiclass' && typeTrue !== 'multilabel-indicator') {
    throw new Error(`${typeTrue} is not supported`);
  }
  if (typeTrue === 'multilabel-indicator') {
    if ((yTrue as IndicatorMatrix)[0]!.length !== (yPred as IndicatorMatrix)[0]!.length) {
      throw new Error('Multi-label binary indicator input with different numbers of labels');
    }
    return typeTrue;
  }
  if (typeTrue === 'binary' && union.length > 2) return 'multiclass';
  return typeTrue;
}

function checkSampleWeight(sampleWeight: readonly number[] | undefined, n: number): void {
  if (sampleWeight === undefined) return;
  if (sampleWeight.length !== n) {
    throw new Error(`Found input variables with inconsistent numbers of samples: [${n}, ${n}, ${sampleWeight.length}]`);
  }
  assertAllFinite(sampleWeight, 'sample_weight');
}

// ---------------------------------------------------------------------------------------------
// accuracy

/** Options of {@link accuracyScore}. */
export interface AccuracyOptions {
  /** Return the fraction of correct items (default true) or their (weighted) count. */
  normalize?: boolean;
  /** Per-item weights (default: all 1). */
  sampleWeight?: readonly number[];
}

/**
 * `sklearn.metrics.accuracy_score`: fraction (or count) of items whose prediction equals the truth
 * (for multilabel indicator matrices: whose whole row equals it, i.e. subset accuracy).
 * Empty inputs give NaN when normalized (NumPy's mean of nothing) and 0 otherwise.
 * Labels compare strictly (`1` and `'1'` differ).
 */
export function accuracyScore(yTrue: ClassTargets, yPred: ClassTargets, options: AccuracyOptions = {}): number {
  yTrue = asTargets(yTrue);
  yPred = asTargets(yPred);
  const { normalize = true, sampleWeight } = options;
  const yType = checkTargets(yTrue, yPred);
  checkSampleWeight(sampleWeight, yTrue.length);
  const correct =
    yType === 'multilabel-indicator'
      ? (yTrue as IndicatorMatrix).map((row, i) =>
          row.every((v, j) => v === (yPred as IndicatorMatrix)[i]![j]) ? 1 : 0,
        )
      : (yTrue as readonly Label[]).map((t, i) => (t === yPred[i] ? 1 : 0));
  if (normalize) return npAverage(correct, sampleWeight);
  if (sampleWeight !== undefined) return correct.reduce<number>((s, c, i) => s + c * sampleWeight[i]!, 0);
  return correct.reduce<number>((s, c) => s + c, 0);
}

// ---------------------------------------------------------------------------------------------
// precision / recall / F

/** Options shared by precision, recall, F-beta and their support. */
export interface PrfOptions {
  /** Restrict (and order) the labels reported or averaged; absent labels count as zero. */
  labels?: readonly LabelInput[];
  /** The positive class when `average` is 'binary' (default 1). */
  posLabel?: LabelInput;
  /** Per-item weights (default: all 1). */
  sampleWeight?: readonly number[];
  /** Result of 0/0 (default 'warn', which acts as 0 without printing a warning). */
  zeroDivision?: ZeroDivision;
}

/** Per-label result of {@link precisionRecallFscoreSupport} with `average: null`. */
export interface PerLabelScores {
  precision: number[];
  recall: number[];
  fbetaScore: number[];
  /** Number (or total weight) of true items of each label. */
  support: number[];
}

/** Averaged result of {@link precisionRecallFscoreSupport}; support is null as in sklearn. */
export interface AveragedScores {
  precision: number;
  recall: number;
  fbetaScore: number;
  support: null;
}

function checkZeroDivision(zeroDivision: ZeroDivision): void {
  if (zeroDivision === 'warn' || zeroDivision === 0 || zeroDivision === 1 || Number.isNaN(zeroDivision)) return;
  throw new Error(`Got zero_division=${String(zeroDivision)}. Must be one of ["warn", 0, 1, NaN]`);
}

function zeroDivisionValue(zeroDivision: ZeroDivision): number {
  return zeroDivision === 'warn' ? 0 : zeroDivision;
}

/** sklearn's `_prf_divide`: element-wise ratio with 0/0 replaced by the zero-division value. */
function prfDivide(numerator: readonly number[], denominator: readonly number[], zeroDivision: ZeroDivision): number[] {
  return numerator.map((num, i) => (denominator[i] === 0 ? zeroDivisionValue(zeroDivision) : num / denominator[i]!));
}

/**
 * tp / predicted / true counts as sklearn's `multilabel_confusion_matrix` gives them. 1-D targets:
 * one entry per label (`labels`, when given, selects and orders them). Indicator matrices: one
 * entry per selected column, or per row when `samplewise` (average 'samples'); an entry counts
 * nonzero cells. Weighted sums accumulate in item order, as NumPy's bincount does.
 */
function labelCounts(
  yTrue: ClassTargets,
  yPred: ClassTargets,
  labels: readonly Label[] | undefined,
  sampleWeight: readonly number[] | undefined,
  samplewise: boolean,
): { tp: number[]; pred: number[]; truth: number[] } {
  const weight = (i: number) => (sampleWeight ? sampleWeight[i]! : 1);
  if (isMatrix(yTrue)) {
    const t = yTrue;
    const p = yPred as IndicatorMatrix;
    const width = t[0]!.length;
    const columns =
      labels === undefined ? Array.from({ length: width }, (_, j) => j) : multilabelColumns(labels, width);
    if (samplewise) {
      const count = (row: readonly number[], i: number, f: (j: number) => boolean) =>
        columns.filter(f).length * weight(i);
      return {
        tp: t.map((row, i) => count(row, i, (j) => row[j] !== 0 && p[i]![j] !== 0)),
        pred: t.map((row, i) => count(row, i, (j) => p[i]![j] !== 0)),
        truth: t.map((row, i) => count(row, i, (j) => row[j] !== 0)),
      };
    }
    const sum = (f: (i: number, j: number) => boolean) =>
      columns.map((j) => t.reduce<number>((acc, _, i) => (f(i, j) ? acc + weight(i) : acc), 0));
    return {
      tp: sum((i, j) => t[i]![j] !== 0 && p[i]![j] !== 0),
      pred: sum((i, j) => p[i]![j] !== 0),
      truth: sum((i, j) => t[i]![j] !== 0),
    };
  }
  if (samplewise) throw new Error('Samplewise metrics are not available outside of multilabel classification.');
  const yt = yTrue as readonly Label[];
  const yp = yPred as readonly Label[];
  const rows = labels ?? uniqueLabels(yt, yp);
  const tp = new Map<Label, number>();
  const pred = new Map<Label, number>();
  const truth = new Map<Label, number>();
  const add = (m: Map<Label, number>, k: Label, w: number) => m.set(k, (m.get(k) ?? 0) + w);
  for (let i = 0; i < yt.length; i++) {
    if (yt[i] === yp[i]) add(tp, yt[i]!, weight(i));
    add(pred, yp[i]!, weight(i));
    add(truth, yt[i]!, weight(i));
  }
  return {
    tp: rows.map((l) => tp.get(l) ?? 0),
    pred: rows.map((l) => pred.get(l) ?? 0),
    truth: rows.map((l) => truth.get(l) ?? 0),
  };
}

/** Multilabel `labels` are column indices in [0, width). */
function multilabelColumns(labels: readonly Label[], width: number): number[] {
  if (labels.some((l) => typeof l !== 'number' || !Number.isInteger(l))) {
    throw new Error(
      `labels of multilabel targets are column indices (integers), got [${labels.map((l) => JSON.stringify(l)).join(', ')}]`,
    );
  }
  const columns = labels as readonly number[];
  // A loop, not Math.max(...columns): a spread of a user-sized array can overflow the call stack.
  let max = -Infinity;
  let min = Infinity;
  for (const c of columns) {
    max = Math.max(max, c);
    min = Math.min(min, c);
  }
  if (max > width - 1)
    throw new Error(`All labels must be in [0, n labels) for multilabel targets. Got ${max} > ${width - 1}`);
  if (min < 0) throw new Error(`All labels must be in [0, n labels) for multilabel targets. Got ${min} < 0`);
  return [...columns];
}

/** sklearn's `_check_set_wise_labels`: validates `average` and resolves the binary positive label. */
function setWiseLabels(
  yTrue: ClassTargets,
  yPred: ClassTargets,
  average: Average | null,
  labels: readonly Label[] | undefined,
  posLabel: Label,
): readonly Label[] | undefined {
  const averageOptions = [null, 'micro', 'macro', 'weighted', 'samples'];
  if (!averageOptions.includes(average) && average !== 'binary') {
    throw new Error("average has to be one of (None, 'micro', 'macro', 'weighted', 'samples')");
  }
  const yType = checkTargets(yTrue, yPred);
  const present =
    yType === 'multilabel-indicator'
      ? Array.from({ length: (yTrue as IndicatorMatrix)[0]!.length }, (_, j) => j)
      : uniqueLabels(yTrue as readonly Label[], yPred as readonly Label[]);
  if (average !== 'binary') return labels;
  if (yType === 'multiclass') {
    throw new Error(
      "Target is multiclass but average='binary'. Please choose another average setting, one of [None, 'micro', 'macro', 'weighted'].",
    );
  }
  if (yType === 'multilabel-indicator') {
    throw new Error(
      "Target is multilabel-indicator but average='binary'. Please choose another average setting, one of [None, 'micro', 'macro', 'weighted', 'samples'].",
    );
  }
  if (!present.includes(posLabel) && present.length >= 2) {
    const shown = present.map((l) => (typeof l === 'string' ? `'${l}'` : String(l))).join(', ');
    throw new Error(
      `pos_label=${typeof posLabel === 'string' ? `'${posLabel}'` : posLabel} is not a valid label. It should be one of [${shown}]`,
    );
  }
  return [posLabel];
}

/** `np.average` that ignores NaN entries (sklearn ≥ 1.3 `_nanaverage`). */
function nanAverage(values: readonly number[], weights: readonly number[] | undefined): number {
  const keep = values.map((v) => !Number.isNaN(v));
  const kept = values.filter((_, i) => keep[i]);
  if (kept.length === 0) return NaN;
  if (weights === undefined) return mean(kept);
  const keptWeights = weights.filter((_, i) => keep[i]);
  return pairwiseSum(keptWeights) === 0 ? mean(kept) : npAverage(kept, keptWeights);
}

/** Options of {@link precisionRecallFscoreSupport}. */
export interface PrfsOptions extends PrfOptions {
  /** Weight of recall relative to precision (default 1). */
  beta?: number;
  /** Averaging (default null: one value per label). */
  average?: Average | null;
}

/**
 * `sklearn.metrics.precision_recall_fscore_support`. With `average: null` (the default) returns one
 * value per label, in sorted-label order or in the order of `labels`; otherwise scalar averages:
 * 'binary' reports `posLabel` only, 'micro' pools the counts, 'macro' is the plain mean over labels,
 * 'weighted' weights labels by support.
 */
export function precisionRecallFscoreSupport(
  yTrue: ClassTargets,
  yPred: ClassTargets,
  options?: PrfsOptions & { average?: null },
): PerLabelScores;
export function precisionRecallFscoreSupport(
  yTrue: ClassTargets,
  yPred: ClassTargets,
  options: PrfsOptions & { average: Average },
): AveragedScores;
export function precisionRecallFscoreSupport(
  yTrue: ClassTargets,
  yPred: ClassTargets,
  options?: PrfsOptions,
): PerLabelScores | AveragedScores;
export function precisionRecallFscoreSupport(
  yTrue: ClassTargets,
  yPred: ClassTargets,
  options: PrfsOptions = {},
): PerLabelScores | AveragedScores {
  yTrue = asTargets(yTrue);
  yPred = asTargets(yPred);
  options = withLabelOptions(options);
  const { beta = 1, average = null, sampleWeight, zeroDivision = 'warn' } = options;
  const posLabel = asLabel(options.posLabel ?? 1);
  checkZeroDivision(zeroDivision);
  if (beta < 0) throw new Error('beta should be >=0 in the F-beta score');
  const labels = setWiseLabels(
    yTrue,
    yPred,
    average,
    options.labels && checkLabelTypes(asLabels(options.labels)),
    posLabel,
  );
  checkSampleWeight(sampleWeight, yTrue.length);
  let { tp, pred, truth } = labelCounts(yTrue, yPred, labels, sampleWeight, average === 'samples');
  if (average === 'micro') {
    tp = [pairwiseSum(tp)];
    pred = [pairwiseSum(pred)];
    truth = [pairwiseSum(truth)];
  }
  const beta2 = beta ** 2;
  const precision = prfDivide(tp, pred, zeroDivision);
  const recall = prfDivide(tp, truth, zeroDivision);
  const nanMode = typeof zeroDivision === 'number' && Number.isNaN(zeroDivision);
  let fbeta: number[];
  if (beta === Infinity) {
    fbeta = recall;
  } else if (nanMode) {
    // sklearn ≥ 1.3: F from the counts, ill-defined (0/0) → zero_division.
    fbeta =
      beta === 0
        ? precision
        : prfDivide(
            tp.map((t) => (1 + beta2) * t),
            tp.map((_, i) => beta2 * truth[i]! + pred[i]!),
            zeroDivision,
          );
  } else {
    fbeta = precision.map((p, i) => {
      const r = recall[i]!;
      const denom = beta2 * p + r;
      return ((1 + beta2) * p * r) / (denom === 0 ? 1 : denom);
    });
  }
  if (average === null) return { precision, recall, fbetaScore: fbeta, support: truth };

  let weights: readonly number[] | undefined = average === 'samples' ? sampleWeight : undefined;
  if (average === 'weighted') {
    weights = truth;
    if (!nanMode && pairwiseSum(weights) === 0) {
      // sklearn 1.2: no true items of any requested label.
      const zd = zeroDivisionValue(zeroDivision);
      return pairwiseSum(pred) === 0
        ? { precision: zd, recall: zd, fbetaScore: zd, support: null }
        : { precision: 0, recall: zd, fbetaScore: 0, support: null };
    }
  }
  const avg = nanMode ? nanAverage : npAverage;
  return {
    precision: avg(precision, weights),
    recall: avg(recall, weights),
    fbetaScore: avg(fbeta, weights),
    support: null,
  };
}

/** Options of the single-metric scores (precision, recall, F1). */
export interface ScoreOptions extends PrfOptions {
  /** Averaging (default 'binary'); use the `average: null` overload for per-label values. */
  average?: Average;
}

function scoreOf(
  key: 'precision' | 'recall' | 'fbetaScore',
  yTrue: ClassTargets,
  yPred: ClassTargets,
  options: (PrfOptions & { average?: Average | null; beta?: number }) | undefined,
): number | number[] {
  const result = precisionRecallFscoreSupport(yTrue, yPred, { average: 'binary', ...options });
  return result[key];
}

/**
 * `sklearn.metrics.precision_score`: tp / (tp + fp). Default `average: 'binary'`, `posLabel: 1`,
 * `zeroDivision: 'warn'` (→ 0).
 */
export function precisionScore(
  yTrue: ClassTargets,
  yPred: ClassTargets,
  options: PrfOptions & { average: null },
): number[];
export function precisionScore(yTrue: ClassTargets, yPred: ClassTargets, options?: ScoreOptions): number;
export function precisionScore(
  yTrue: ClassTargets,
  yPred: ClassTargets,
  options?: PrfOptions & { average?: Average | null },
): number | number[] {
  return scoreOf('precision', yTrue, yPred, options);
}

/**
 * `sklearn.metrics.recall_score`: tp / (tp + fn). Default `average: 'binary'`, `posLabel: 1`,
 * `zeroDivision: 'warn'` (→ 0).
 */
export function recallScore(
  yTrue: ClassTargets,
  yPred: ClassTargets,
  options: PrfOptions & { average: null },
): number[];
export function recallScore(yTrue: ClassTargets, yPred: ClassTargets, options?: ScoreOptions): number;
export function recallScore(
  yTrue: ClassTargets,
  yPred: ClassTargets,
  options?: PrfOptions & { average?: Average | null },
): number | number[] {
  return scoreOf('recall', yTrue, yPred, options);
}

/**
 * `sklearn.metrics.f1_score`: harmonic mean of precision and recall. Default `average: 'binary'`,
 * `posLabel: 1`, `zeroDivision: 'warn'` (→ 0).
 */
export function f1Score(yTrue: ClassTargets, yPred: ClassTargets, options: PrfOptions & { average: null }): number[];
export function f1Score(yTrue: ClassTargets, yPred: ClassTargets, options?: ScoreOptions): number;
export function f1Score(
  yTrue: ClassTargets,
  yPred: ClassTargets,
  options?: PrfOptions & { average?: Average | null },
): number | number[] {
  return scoreOf('fbetaScore', yTrue, yPred, { ...options, beta: 1 });
}

/**
 * `sklearn.metrics.fbeta_score`: (1+β²)·P·R / (β²·P + R); `beta` is required (as in sklearn).
 * Default `average: 'binary'`, `posLabel: 1`, `zeroDivision: 'warn'` (→ 0).
 */
export function fbetaScore(
  yTrue: ClassTargets,
  yPred: ClassTargets,
  options: PrfOptions & { beta: number; average: null },
): number[];
export function fbetaScore(yTrue: ClassTargets, yPred: ClassTargets, options: ScoreOptions & { beta: number }): number;
export function fbetaScore(
  yTrue: ClassTargets,
  yPred: ClassTargets,
  options: PrfOptions & { beta: number; average?: Average | null },
): number | number[] {
  return scoreOf('fbetaScore', yTrue, yPred, options);
}

// ---------------------------------------------------------------------------------------------
// confusion matrix

/** Options of {@link confusionMatrix}. */
export interface ConfusionMatrixOptions {
  /** Row/column labels and their order (default: sorted union of both inputs). */
  labels?: readonly LabelInput[];
  /** Per-item weights (default: all 1). */
  sampleWeight?: readonly number[];
  /** Divide by row sums ('true'), column sums ('pred') or the total ('all'); 0/0 becomes 0. */
  normalize?: 'true' | 'pred' | 'all';
}

/**
 * `sklearn.metrics.confusion_matrix`: entry [i][j] counts items of true label i predicted as j.
 * Items whose true or predicted label is outside `labels` are ignored.
 */
export function confusionMatrix(
  yTrueInput: readonly LabelInput[],
  yPredInput: readonly LabelInput[],
  options: ConfusionMatrixOptions = {},
): number[][] {
  const yTrue = asLabels(yTrueInput);
  const yPred = asLabels(yPredInput);
  const { sampleWeight, normalize } = options;
  if (checkTargets(yTrue, yPred) === 'multilabel-indicator') throw new Error('multilabel-indicator is not supported');
  let labels: readonly Label[];
  if (options.labels === undefined) {
    labels = uniqueLabels(yTrue, yPred);
  } else {
    labels = checkLabelTypes(asLabels(options.labels));
    const n = labels.length;
    if (n === 0) throw new Error("'labels' should contains at least one label.");
    if (yTrue.length === 0) return Array.from({ length: n }, () => new Array<number>(n).fill(0));
    if (!yTrue.some((t) => labels.includes(t))) throw new Error('At least one label specified must be in y_true');
  }
  checkSampleWeight(sampleWeight, yTrue.length);
  if (normalize !== undefined && !['true', 'pred', 'all'].includes(normalize)) {
    throw new Error("normalize must be one of {'true', 'pred', 'all', None}");
  }
  // sklearn builds {label: position} with a dict, so a repeated label maps to its LAST position.
  const index = new Map<Label, number>();
  labels.forEach((l, i) => index.set(l, i));
  const n = labels.length;
  const cm = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  for (let i = 0; i < yTrue.length; i++) {
    const r = index.get(yTrue[i]!);
    const c = index.get(yPred[i]!);
    if (r === undefined || c === undefined) continue;
    cm[r]![c]! += sampleWeight ? sampleWeight[i]! : 1;
  }
  if (normalize === undefined) return cm;
  // NumPy: row sums are contiguous (pairwise), column sums accumulate row by row, 'all' is pairwise.
  const nanToZero = (x: number) => (Number.isNaN(x) ? 0 : x);
  if (normalize === 'true') return cm.map((row) => row.map((v) => nanToZero(v / pairwiseSum(row))));
  if (normalize === 'pred') {
    const colSums = cm.reduce((acc, row) => acc.map((s, j) => s + row[j]!), new Array<number>(n).fill(0));
    return cm.map((row) => row.map((v, j) => nanToZero(v / colSums[j]!)));
  }
  const total = pairwiseSum(cm.flat());
  return cm.map((row) => row.map((v) => nanToZero(v / total)));
}

// ---------------------------------------------------------------------------------------------
// ROC

/** Options of {@link rocCurve}. */
export interface RocCurveOptions {
  /** The positive class (default: 1, allowed only when y_true is within {0,1} or {-1,1}). */
  posLabel?: LabelInput;
  /** Per-item weights (default: all 1); zero-weight items are dropped first. */
  sampleWeight?: readonly number[];
  /** Drop thresholds that are collinear on the curve (default true), as sklearn does. */
  dropIntermediate?: boolean;
}

/** Result of {@link rocCurve}. */
export interface RocCurve {
  fpr: number[];
  tpr: number[];
  /** Decreasing score thresholds; the first is Infinity (sklearn ≥ 1.3; 1.2 used max + 1). */
  thresholds: number[];
}

function labelRepr(l: Label): string {
  return typeof l === 'string' ? `'${l}'` : String(l);
}

/** sklearn's `_check_pos_label_consistency`. */
function resolvePosLabel(posLabel: Label | undefined, yTrue: readonly Label[]): Label {
  if (posLabel !== undefined) return posLabel;
  const classes = uniqueSorted(yTrue);
  const allowed = [[0, 1], [-1, 1], [0], [-1], [1]];
  const ok = allowed.some((set) => set.length === classes.length && set.every((v, i) => classes[i] === v));
  if (!ok) {
    const repr = classes.map(labelRepr).join(', ');
    throw new Error(
      `y_true takes value in {${repr}} and pos_label is not specified: either make y_true take value in {0, 1} or {-1, 1} or pass pos_label explicitly.`,
    );
  }
  return 1;
}

/** sklearn's `_binary_clf_curve`: cumulative fp/tp counts at each distinct score, highest first. */
function binaryClfCurve(
  yTrue: readonly Label[],
  yScore: readonly number[],
  posLabel: Label | undefined,
  sampleWeight: readonly number[] | undefined,
): { fps: number[]; tps: number[]; thresholds: number[] } {
  const yType = typeOfTarget(yTrue, 'y_true');
  if (!(yType === 'binary' || (yType === 'multiclass' && posLabel !== undefined))) {
    throw new Error(`${yType} format is not supported`);
  }
  checkConsistentLength(yTrue, yScore, sampleWeight);
  assertAllFinite(yScore);
  let items = yTrue.map((t, i) => ({ t, s: yScore[i]!, w: sampleWeight ? sampleWeight[i]! : 1, i }));
  if (sampleWeight) {
    assertAllFinite(sampleWeight);
    items = items.filter((it) => it.w !== 0);
  }
  const pos = resolvePosLabel(
    posLabel,
    items.map((it) => it.t),
  );
  // Descending score; ties need no particular order since only tie-group boundaries are read.
  items.sort((a, b) => b.s - a.s || b.i - a.i);
  const fps: number[] = [];
  const tps: number[] = [];
  const thresholds: number[] = [];
  let tp = 0;
  let fp = 0;
  for (let k = 0; k < items.length; k++) {
    const it = items[k]!;
    const isPos = it.t === pos ? 1 : 0;
    tp += isPos * it.w;
    fp += (1 - isPos) * it.w;
    if (k === items.length - 1 || items[k + 1]!.s !== it.s) {
      tps.push(tp);
      // Unweighted sklearn derives fps as (index + 1) − tps; identical for integer counts.
      fps.push(sampleWeight ? fp : k + 1 - tp);
      thresholds.push(it.s);
    }
  }
  return { fps, tps, thresholds };
}

/**
 * `sklearn.metrics.roc_curve`: false- and true-positive rates at each distinct score threshold,
 * starting at (0, 0). When y_true has no negatives (or no positives) the corresponding rate is NaN.
 */
export function rocCurve(
  yTrue: readonly LabelInput[],
  yScore: readonly number[],
  options: RocCurveOptions = {},
): RocCurve {
  const { sampleWeight, dropIntermediate = true } = options;
  const posLabel = options.posLabel === undefined ? undefined : asLabel(options.posLabel);
  let { fps, tps, thresholds } = binaryClfCurve(asLabels(yTrue), yScore, posLabel, sampleWeight);
  if (dropIntermediate && fps.length > 2) {
    const keep = fps.map((_, i) => {
      if (i === 0 || i === fps.length - 1) return true;
      const d2 = (x: number[]) => x[i + 1]! - x[i]! - (x[i]! - x[i - 1]!);
      return d2(fps) !== 0 || d2(tps) !== 0;
    });
    fps = fps.filter((_, i) => keep[i]);
    tps = tps.filter((_, i) => keep[i]);
    thresholds = thresholds.filter((_, i) => keep[i]);
  }
  fps = [0, ...fps];
  tps = [0, ...tps];
  thresholds = [Infinity, ...thresholds];
  const lastFp = fps[fps.length - 1]!;
  const lastTp = tps[tps.length - 1]!;
  const fpr = lastFp <= 0 ? fps.map(() => NaN) : fps.map((f) => f / lastFp);
  const tpr = lastTp <= 0 ? tps.map(() => NaN) : tps.map((t) => t / lastTp);
  return { fpr, tpr, thresholds };
}

/**
 * `sklearn.metrics.auc`: trapezoidal area under a curve whose x is monotonic (increasing or
 * decreasing); needs at least 2 points.
 */
export function auc(x: readonly number[], y: readonly number[]): number {
  checkConsistentLength(x, y);
  if (x.length < 2) {
    throw new Error(`At least 2 points are needed to compute area under curve, but x.shape = ${x.length}`);
  }
  const dx = x.slice(1).map((v, i) => v - x[i]!);
  let direction = 1;
  if (dx.some((d) => d < 0)) {
    if (dx.every((d) => d <= 0)) direction = -1;
    else throw new Error(`x is neither increasing nor decreasing : [${x.join(' ')}].`);
  }
  const areas = dx.map((d, i) => (d * (y[i + 1]! + y[i]!)) / 2.0);
  return direction * pairwiseSum(areas);
}

/** sklearn's `_binary_roc_auc_score` (with McClish-corrected partial AUC when maxFpr < 1). */
function binaryRocAuc(
  yTrue: readonly Label[],
  yScore: readonly number[],
  sampleWeight: readonly number[] | undefined,
  maxFpr: number | undefined,
): number {
  if (new Set(yTrue).size !== 2) {
    throw new Error('Only one class present in y_true. ROC AUC score is not defined in that case.');
  }
  const { fpr, tpr } = rocCurve(yTrue, yScore, sampleWeight === undefined ? {} : { sampleWeight });
  if (maxFpr === undefined || maxFpr === 1) return auc(fpr, tpr);
  if (maxFpr <= 0 || maxFpr > 1) throw new Error(`Expected max_fpr in range (0, 1], got: ${maxFpr}`);
  // np.searchsorted(fpr, maxFpr, 'right'): first index with fpr > maxFpr (NaN sorts last).
  let stop = fpr.findIndex((f) => !(f <= maxFpr));
  if (stop === -1) stop = fpr.length;
  const x0 = fpr[stop - 1]!;
  const x1 = fpr[stop]!;
  const y0 = tpr[stop - 1]!;
  const y1 = tpr[stop]!;
  // np.interp between the two bracketing points.
  const slope = (y1 - y0) / (x1 - x0);
  let yAtMax = slope * (maxFpr - x0) + y0;
  if (Number.isNaN(yAtMax)) yAtMax = slope * (maxFpr - x1) + y1;
  if (Number.isNaN(yAtMax) && y0 === y1) yAtMax = y0;
  const partial = auc([...fpr.slice(0, stop), maxFpr], [...tpr.slice(0, stop), yAtMax]);
  const minArea = 0.5 * maxFpr ** 2;
  const maxArea = maxFpr;
  return 0.5 * (1 + (partial - minArea) / (maxArea - minArea));
}

/** Options of {@link rocAucScore}. */
export interface RocAucOptions {
  /**
   * Averaging over classes for multiclass input (default 'macro'): one-vs-rest allows 'micro',
   * 'macro', 'weighted' and null (per class); one-vs-one allows 'macro' and 'weighted'
   * (prevalence-weighted pairs). Multilabel input also allows 'samples' (mean over rows).
   * Ignored (but validated) for binary input.
   */
  average?: 'micro' | 'macro' | 'weighted' | 'samples' | null;
  /** Per-item weights (default: all 1); not supported for one-vs-one. */
  sampleWeight?: readonly number[];
  /** Partial AUC up to this false-positive rate, McClish-standardised (binary only). */
  maxFpr?: number;
  /** Multiclass strategy: 'ovr' or 'ovo' (default 'raise': multiclass input must choose). */
  multiClass?: 'raise' | 'ovr' | 'ovo';
  /** Class of each score column, sorted and unique (default: sorted labels of y_true). */
  labels?: readonly LabelInput[];
}

/**
 * `sklearn.metrics.roc_auc_score`. Binary: `yScore` is the score of the greater label (1-D);
 * ties count half through the trapezoid over the ROC curve. Multiclass: `yScore` is
 * n_samples × n_classes probabilities (rows summing to 1) and `multiClass` must be 'ovr' or 'ovo'.
 * Multilabel: `yTrue` is an indicator matrix and `yScore` has the same shape.
 */
export function rocAucScore(yTrue: readonly LabelInput[], yScore: readonly number[], options?: RocAucOptions): number;
export function rocAucScore(
  yTrue: ClassTargets,
  yScore: readonly (readonly number[])[],
  options: RocAucOptions & { average: null },
): number[];
export function rocAucScore(
  yTrue: ClassTargets,
  yScore: readonly (readonly number[])[],
  options?: RocAucOptions,
): number;
export function rocAucScore(
  yTrue: ClassTargets,
  yScore: readonly number[] | readonly (readonly number[])[],
  options: RocAucOptions = {},
): number | number[] {
  yTrue = asTargets(yTrue);
  const { average = 'macro', sampleWeight, maxFpr, multiClass = 'raise' } = options;
  const labels = options.labels === undefined ? undefined : asLabels(options.labels);
  if (yTrue.length === 0 || yScore.length === 0) {
    throw new Error('Found array with 0 sample(s) (shape=(0,)) while a minimum of 1 is required.');
  }
  const yType = typeOfTarget(yTrue, 'y_true');
  const is2d = Array.isArray(yScore[0]);
  const scores2d = is2d ? (yScore as readonly (readonly number[])[]) : undefined;
  if (scores2d) scores2d.forEach((row) => assertAllFinite(row));
  else assertAllFinite(yScore as readonly number[]);
  checkConsistentLength(yTrue, yScore, sampleWeight);

  if (yType === 'multiclass' || (yType === 'binary' && scores2d !== undefined && scores2d[0]!.length > 2)) {
    if (maxFpr !== undefined && maxFpr !== 1) {
      throw new Error(
        `Partial AUC computation not available in multiclass setting, 'max_fpr' must be set to \`None\`, received \`max_fpr=${maxFpr}\` instead`,
      );
    }
    if (multiClass === 'raise') throw new Error("multi_class must be in ('ovo', 'ovr')");
    if (scores2d === undefined) {
      throw new Error('Multiclass y_true needs y_score of shape (n_samples, n_classes): one probability per class');
    }
    return multiclassRocAuc(yTrue as readonly Label[], scores2d, labels, multiClass, average, sampleWeight);
  }
  if (yType === 'multilabel-indicator') {
    if (scores2d === undefined || scores2d[0]!.length !== (yTrue as IndicatorMatrix)[0]!.length) {
      throw new Error('Multilabel y_true needs y_score of the same shape (one score per label)');
    }
    checkAverageBinary(average);
    return averageBinaryScore(yTrue as IndicatorMatrix, scores2d, average, sampleWeight, maxFpr);
  }
  if (yType !== 'binary') throw new Error(`${yType} format is not supported`);
  if (scores2d !== undefined) {
    throw new Error(
      `y should be a 1d array, got an array of shape (${scores2d.length}, ${scores2d[0]!.length}) instead.`,
    );
  }
  checkAverageBinary(average);
  // label_binarize: the greater of the (at most two) labels is the positive class.
  const labels1d = yTrue as readonly Label[];
  const classes = uniqueLabels(labels1d);
  const binary = labels1d.map((t) => (classes.length === 2 && t === classes[1] ? 1 : 0));
  return binaryRocAuc(binary, yScore as readonly number[], sampleWeight, maxFpr);
}

function checkAverageBinary(average: unknown): void {
  if (![null, 'micro', 'macro', 'weighted', 'samples'].includes(average as string | null)) {
    throw new Error("average has to be one of (None, 'micro', 'macro', 'weighted', 'samples')");
  }
}

/**
 * sklearn's `_average_binary_score` for an indicator matrix: ROC AUC of every column ('macro',
 * 'weighted' by column support, null: per column), of every row ('samples', weighted by
 * `sampleWeight`), or of all cells pooled ('micro').
 */
function averageBinaryScore(
  yTrue: IndicatorMatrix,
  yScore: readonly (readonly number[])[],
  average: 'micro' | 'macro' | 'weighted' | 'samples' | null,
  sampleWeight: readonly number[] | undefined,
  maxFpr: number | undefined,
): number | number[] {
  if (average === 'micro') {
    const width = yTrue[0]!.length;
    const flatWeight = sampleWeight?.flatMap((w) => new Array<number>(width).fill(w));
    return binaryRocAuc(yTrue.flat(), yScore.flat(), flatWeight, maxFpr);
  }
  if (average === 'samples') {
    const scores = yTrue.map((row, i) => binaryRocAuc(row, yScore[i]!, undefined, maxFpr));
    const w = sampleWeight;
    return npAverage(w === undefined ? scores : scores.map((s, i) => (w[i] === 0 ? 0 : s)), w);
  }
  const width = yTrue[0]!.length;
  const column = (m: readonly (readonly number[])[], c: number) => m.map((row) => row[c]!);
  let averageWeight: number[] | undefined;
  if (average === 'weighted') {
    averageWeight = Array.from({ length: width }, (_, c) =>
      yTrue.reduce<number>((s, row, i) => s + row[c]! * (sampleWeight ? sampleWeight[i]! : 1), 0),
    );
    if (Math.abs(pairwiseSum(averageWeight)) <= 1e-8) return 0; // np.isclose(sum, 0)
  }
  const scores = Array.from({ length: width }, (_, c) =>
    binaryRocAuc(column(yTrue, c), column(yScore, c), sampleWeight, maxFpr),
  );
  if (average === null) return scores;
  if (averageWeight !== undefined) {
    const w = averageWeight;
    return npAverage(
      scores.map((s, c) => (w[c] === 0 ? 0 : s)),
      w,
    );
  }
  return npAverage(scores);
}

function multiclassRocAuc(
  yTrue: readonly Label[],
  yScore: readonly (readonly number[])[],
  labels: readonly Label[] | undefined,
  multiClass: 'ovr' | 'ovo',
  average: 'micro' | 'macro' | 'weighted' | 'samples' | null,
  sampleWeight: readonly number[] | undefined,
): number | number[] {
  // np.allclose(1, row sums): |1 − s| ≤ 1e-8 + 1e-5·|s|.
  if (!yScore.every((row) => Math.abs(1 - pairwiseSum(row)) <= 1e-8 + 1e-5 * Math.abs(pairwiseSum(row)))) {
    throw new Error(
      'Target scores need to be probabilities for multiclass roc_auc, i.e. they should sum up to 1.0 over classes',
    );
  }
  const averageOptions = multiClass === 'ovr' ? ['micro', 'macro', 'weighted', null] : ['macro', 'weighted', null];
  if (!averageOptions.includes(average)) {
    const shown = averageOptions.map((a) => (a === null ? 'None' : `'${a}'`)).join(', ');
    throw new Error(`average must be one of (${shown}) for multiclass problems`);
  }
  if (multiClass !== 'ovr' && multiClass !== 'ovo') {
    throw new Error(
      `multi_class='${String(multiClass)}' is not supported for multiclass ROC AUC, multi_class must be in ('ovo', 'ovr')`,
    );
  }
  if (multiClass === 'ovo' && average === null) {
    throw new Error("average=None is not implemented for multi_class='ovo'.");
  }
  const nColumns = yScore[0]!.length;
  let classes: Label[];
  if (labels !== undefined) {
    classes = uniqueLabels(labels);
    if (classes.length !== labels.length) throw new Error("Parameter 'labels' must be unique");
    if (!classes.every((c, i) => c === labels[i])) throw new Error("Parameter 'labels' must be ordered");
    if (classes.length !== nColumns) {
      throw new Error(
        `Number of given labels, ${classes.length}, not equal to the number of columns in 'y_score', ${nColumns}`,
      );
    }
    if (yTrue.some((t) => !classes.includes(t))) throw new Error("'y_true' contains labels not in parameter 'labels'");
  } else {
    classes = uniqueLabels(yTrue);
    if (classes.length !== nColumns) {
      throw new Error("Number of classes in y_true not equal to the number of columns in 'y_score'");
    }
  }

  if (multiClass === 'ovo') {
    if (sampleWeight !== undefined) {
      throw new Error(
        "sample_weight is not supported for multiclass one-vs-one ROC AUC, 'sample_weight' must be None in this case.",
      );
    }
    const encoded = yTrue.map((t) => classes.indexOf(t));
    const present = [...new Set(encoded)].sort((a, b) => a - b);
    const pairScores: number[] = [];
    const prevalence: number[] = [];
    for (let ai = 0; ai < present.length; ai++) {
      for (let bi = ai + 1; bi < present.length; bi++) {
        const a = present[ai]!;
        const b = present[bi]!;
        const idx = encoded.map((e, i) => (e === a || e === b ? i : -1)).filter((i) => i >= 0);
        prevalence.push(idx.length / encoded.length);
        const aTrue = idx.map((i) => (encoded[i] === a ? 1 : 0));
        const bTrue = idx.map((i) => (encoded[i] === b ? 1 : 0));
        const aScore = binaryRocAuc(
          aTrue,
          idx.map((i) => yScore[i]![a]!),
          undefined,
          undefined,
        );
        const bScore = binaryRocAuc(
          bTrue,
          idx.map((i) => yScore[i]![b]!),
          undefined,
          undefined,
        );
        pairScores.push((aScore + bScore) / 2);
      }
    }
    return npAverage(pairScores, average === 'weighted' ? prevalence : undefined);
  }

  // One-vs-rest: label_binarize y_true, then score every column as a binary problem.
  const indicator = yTrue.map((t) => classes.map((c) => (t === c ? 1 : 0)));
  return averageBinaryScore(indicator, yScore, average, sampleWeight, undefined);
}
