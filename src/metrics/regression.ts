/**
 * Regression metrics that reproduce scikit-learn 1.2.1 (`sklearn.metrics`): MAE, MSE, RMSE and R²,
 * single- or multi-output, with sample weights, including sklearn's errors and edge values
 * (R² of fewer than two samples is NaN; constant targets follow `forceFinite`).
 *
 * `rootMeanSquaredError` is sklearn ≥ 1.4's `root_mean_squared_error` (equal to 1.2's
 * `mean_squared_error(..., squared=False)`: the square root is taken per output, then averaged).
 * Sums follow NumPy's reduction order so results agree to the last bits, not just to ~n·ε.
 */
import { average as npAverage, pairwiseSum } from './numeric.js';

/** Targets: one value per sample, or one row of outputs per sample. */
export type RegressionTargets = readonly number[] | readonly (readonly number[])[];

/**
 * How outputs are combined: 'raw_values' returns one score per output, 'uniform_average' their
 * mean, 'variance_weighted' (R² only) weights by each output's variance, an array gives weights.
 */
export type MultiOutput = 'raw_values' | 'uniform_average' | 'variance_weighted' | readonly number[];

/** Options shared by the regression metrics. */
export interface RegressionOptions {
  /** Per-sample weights (default: all 1). */
  sampleWeight?: readonly number[];
  /** Combination of outputs (default 'uniform_average'). */
  multioutput?: MultiOutput;
}

/** Options of {@link r2Score}. */
export interface R2Options extends RegressionOptions {
  /**
   * Replace the NaN/−∞ of a constant y_true by 1 (perfect prediction) or 0 (default true,
   * as sklearn ≥ 1.1).
   */
  forceFinite?: boolean;
}

/** A validated n × k matrix stored by column (one Float64Array per output). */
interface Columns {
  n: number;
  columns: Float64Array[];
}

function toColumns(y: RegressionTargets, name: string): Columns {
  const n = y.length;
  if (n === 0) throw new Error('Found array with 0 sample(s) (shape=(0,)) while a minimum of 1 is required.');
  const rows = (Array.isArray(y[0]) ? y : (y as readonly number[]).map((v) => [v])) as readonly (readonly number[])[];
  const k = rows[0]!.length;
  if (k === 0) throw new Error(`Found array with 0 feature(s) (shape=(${n}, 0)) while a minimum of 1 is required.`);
  const columns = Array.from({ length: k }, () => new Float64Array(n));
  rows.forEach((row, i) => {
    if (!Array.isArray(row) || row.length !== k) {
      throw new Error(`${name}[${i}] must be an array of ${k} numbers like ${name}[0] (rows must have equal length)`);
    }
    row.forEach((v, j) => {
      if (typeof v !== 'number') throw new Error(`${name}[${i}] must contain numbers, got ${typeof v}`);
      if (Number.isNaN(v)) throw new Error('Input contains NaN.');
      if (!Number.isFinite(v)) throw new Error("Input contains infinity or a value too large for dtype('float64').");
      columns[j]![i] = v;
    });
  });
  return { n, columns };
}

/** sklearn's `_check_reg_targets` plus the sample-weight length check. */
function checkRegTargets(
  yTrue: RegressionTargets,
  yPred: RegressionTargets,
  options: RegressionOptions,
): { yTrue: Columns; yPred: Columns } {
  if (yTrue.length !== yPred.length) {
    throw new Error(`Found input variables with inconsistent numbers of samples: [${yTrue.length}, ${yPred.length}]`);
  }
  const t = toColumns(yTrue, 'y_true');
  const p = toColumns(yPred, 'y_pred');
  const k = t.columns.length;
  if (k !== p.columns.length) {
    throw new Error(`y_true and y_pred have different number of output (${k}!=${p.columns.length})`);
  }
  const { multioutput = 'uniform_average', sampleWeight } = options;
  if (typeof multioutput === 'string') {
    if (!['raw_values', 'uniform_average', 'variance_weighted'].includes(multioutput)) {
      throw new Error(
        `Allowed 'multioutput' string values are ('raw_values', 'uniform_average', 'variance_weighted'). You provided multioutput='${multioutput}'`,
      );
    }
  } else {
    if (k === 1) throw new Error('Custom weights are useful only in multi-output cases.');
    if (multioutput.length !== k) {
      throw new Error(`There must be equally many custom weights (${multioutput.length}) as outputs (${k}).`);
    }
  }
  if (sampleWeight !== undefined && sampleWeight.length !== t.n) {
    throw new Error(
      `Found input variables with inconsistent numbers of samples: [${t.n}, ${t.n}, ${sampleWeight.length}]`,
    );
  }
  return { yTrue: t, yPred: p };
}

/**
 * Sum over samples of one output as NumPy's `sum(axis=0)` computes it: pairwise when there is a
 * single output (the axis is contiguous), sequential accumulation otherwise.
 */
function sumOverSamples(values: Float64Array, nOutputs: number): number {
  if (nOutputs === 1) return pairwiseSum(values);
  let s = 0;
  for (const v of values) s += v;
  return s;
}

/** `np.average(values, axis=0, weights=sampleWeight)` for each output column. */
function averageOverSamples(columns: Float64Array[], sampleWeight: readonly number[] | undefined): number[] {
  const k = columns.length;
  if (sampleWeight === undefined) return columns.map((c) => sumOverSamples(c, k) / c.length);
  const scale = pairwiseSum(sampleWeight);
  if (scale === 0) throw new Error("Weights sum to zero, can't be normalized");
  return columns.map(
    (c) =>
      sumOverSamples(
        c.map((v, i) => v * sampleWeight[i]!),
        k,
      ) / scale,
  );
}

/** Applies `multioutput` to per-output scores (not 'variance_weighted', which is R²-specific). */
function combineOutputs(outputScores: number[], multioutput: MultiOutput, metric: string): number | number[] {
  if (multioutput === 'raw_values') return outputScores;
  if (multioutput === 'uniform_average') return npAverage(outputScores);
  if (multioutput === 'variance_weighted') {
    throw new Error(`multioutput='variance_weighted' is only defined for r2Score, not ${metric}`);
  }
  return npAverage(outputScores, multioutput);
}

function elementwise(t: Columns, p: Columns, f: (truth: number, pred: number) => number): Float64Array[] {
  return t.columns.map((col, j) => col.map((v, i) => f(v, p.columns[j]![i]!)));
}

/**
 * `sklearn.metrics.mean_absolute_error`: mean of |y_pred − y_true| per output, then combined by
 * `multioutput` (default 'uniform_average'). Returns an array for 'raw_values'.
 */
export function meanAbsoluteError(
  yTrue: RegressionTargets,
  yPred: RegressionTargets,
  options: RegressionOptions & { multioutput: 'raw_values' },
): number[];
export function meanAbsoluteError(
  yTrue: RegressionTargets,
  yPred: RegressionTargets,
  options?: RegressionOptions,
): number;
export function meanAbsoluteError(
  yTrue: RegressionTargets,
  yPred: RegressionTargets,
  options: RegressionOptions = {},
): number | number[] {
  const { yTrue: t, yPred: p } = checkRegTargets(yTrue, yPred, options);
  const errors = averageOverSamples(
    elementwise(t, p, (a, b) => Math.abs(b - a)),
    options.sampleWeight,
  );
  return combineOutputs(errors, options.multioutput ?? 'uniform_average', 'meanAbsoluteError');
}

/**
 * `sklearn.metrics.mean_squared_error`: mean of (y_true − y_pred)² per output, then combined by
 * `multioutput` (default 'uniform_average').
 */
export function meanSquaredError(
  yTrue: RegressionTargets,
  yPred: RegressionTargets,
  options: RegressionOptions & { multioutput: 'raw_values' },
): number[];
export function meanSquaredError(
  yTrue: RegressionTargets,
  yPred: RegressionTargets,
  options?: RegressionOptions,
): number;
export function meanSquaredError(
  yTrue: RegressionTargets,
  yPred: RegressionTargets,
  options: RegressionOptions = {},
): number | number[] {
  const { yTrue: t, yPred: p } = checkRegTargets(yTrue, yPred, options);
  const errors = averageOverSamples(
    elementwise(t, p, (a, b) => (a - b) * (a - b)),
    options.sampleWeight,
  );
  return combineOutputs(errors, options.multioutput ?? 'uniform_average', 'meanSquaredError');
}

/**
 * `sklearn.metrics.root_mean_squared_error` (sklearn ≥ 1.4): √MSE per output, then combined by
 * `multioutput` (default 'uniform_average').
 */
export function rootMeanSquaredError(
  yTrue: RegressionTargets,
  yPred: RegressionTargets,
  options: RegressionOptions & { multioutput: 'raw_values' },
): number[];
export function rootMeanSquaredError(
  yTrue: RegressionTargets,
  yPred: RegressionTargets,
  options?: RegressionOptions,
): number;
export function rootMeanSquaredError(
  yTrue: RegressionTargets,
  yPred: RegressionTargets,
  options: RegressionOptions = {},
): number | number[] {
  const perOutput = meanSquaredError(yTrue, yPred, { ...options, multioutput: 'raw_values' }).map(Math.sqrt);
  return combineOutputs(perOutput, options.multioutput ?? 'uniform_average', 'rootMeanSquaredError');
}

/**
 * `sklearn.metrics.r2_score`: 1 − Σw(y − ŷ)² / Σw(y − ȳ)² per output. Fewer than two samples give
 * NaN. A constant y_true gives 1 (perfect) or 0 with `forceFinite` (default true), else NaN / −∞.
 * `multioutput` defaults to 'uniform_average'; 'variance_weighted' weights outputs by Σw(y − ȳ)².
 */
export function r2Score(
  yTrue: RegressionTargets,
  yPred: RegressionTargets,
  options: R2Options & { multioutput: 'raw_values' },
): number[];
export function r2Score(yTrue: RegressionTargets, yPred: RegressionTargets, options?: R2Options): number;
export function r2Score(
  yTrue: RegressionTargets,
  yPred: RegressionTargets,
  options: R2Options = {},
): number | number[] {
  const { sampleWeight, multioutput = 'uniform_average', forceFinite = true } = options;
  const { yTrue: t, yPred: p } = checkRegTargets(yTrue, yPred, options);
  if (t.n < 2) return NaN;
  const k = t.columns.length;
  const weight = (i: number) => (sampleWeight === undefined ? 1.0 : sampleWeight[i]!);
  const numerator = elementwise(t, p, (a, b) => (a - b) * (a - b)).map((c) =>
    sumOverSamples(
      c.map((v, i) => weight(i) * v),
      k,
    ),
  );
  const means = averageOverSamples(t.columns, sampleWeight);
  const denominator = t.columns.map((c, j) =>
    sumOverSamples(
      c.map((v, i) => weight(i) * ((v - means[j]!) * (v - means[j]!))),
      k,
    ),
  );
  const scores = numerator.map((num, j) => {
    const den = denominator[j]!;
    if (!forceFinite) return 1 - num / den;
    if (num !== 0 && den !== 0) return 1 - num / den;
    return num !== 0 ? 0.0 : 1.0;
  });
  if (multioutput === 'variance_weighted') {
    // All outputs constant: NumPy would divide by zero, sklearn falls back to uniform weights.
    return denominator.some((d) => d !== 0) ? npAverage(scores, denominator) : npAverage(scores);
  }
  return combineOutputs(scores, multioutput, 'r2Score');
}
