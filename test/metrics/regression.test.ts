/**
 * sklearn regression metrics. Evidence: sklearn docstring examples, the definitions evaluated in
 * the test, and numbers printed by scikit-learn 1.2.1 (Debian python3-sklearn, run once while
 * developing; marked "sklearn 1.2.1").
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { meanAbsoluteError, meanSquaredError, r2Score, rootMeanSquaredError } from '../../src/metrics/regression.js';
import { assertClose as close } from '../helpers/close.js';

const yTrue = [3, -0.5, 2, 7];
const yPred = [2.5, 0.0, 2, 8];
const mTrue = [
  [0.5, 1],
  [-1, 1],
  [7, -6],
];
const mPred = [
  [0, 2],
  [-1, 2],
  [8, -5],
];

test('sklearn docstring examples (single output)', () => {
  close(meanAbsoluteError(yTrue, yPred), 0.5);
  close(meanSquaredError(yTrue, yPred), 0.375);
  close(rootMeanSquaredError(yTrue, yPred), Math.sqrt(0.375));
  // R² = 1 − SS_res/SS_tot with ȳ = 2.875: SS_res = 1.5, SS_tot = 29.1875
  close(r2Score(yTrue, yPred), 1 - 1.5 / 29.1875);
  close(r2Score(yTrue, yPred), 0.9486081370449679); // sklearn docstring
});

test('sklearn docstring examples (multi-output)', () => {
  close(meanAbsoluteError(mTrue, mPred, { multioutput: 'raw_values' }), [0.5, 1.0]);
  close(meanAbsoluteError(mTrue, mPred), 0.75);
  close(meanAbsoluteError(mTrue, mPred, { multioutput: [0.3, 0.7] }), 0.85);
  close(meanSquaredError(mTrue, mPred), 0.7083333333333334);
  close(meanSquaredError(mTrue, mPred, { multioutput: 'raw_values' }), [0.41666666666666663, 1.0]);
  close(rootMeanSquaredError(mTrue, mPred), (Math.sqrt(0.25 / 0.6) + 1) / 2); // √ per output, then mean
  close(rootMeanSquaredError(mTrue, mPred), 0.8227486121839513);
  close(r2Score(mTrue, mPred, { multioutput: 'variance_weighted' }), 0.9382566585956417);
  close(r2Score(mTrue, mPred), 0.9368005266622779);
  close(r2Score(mTrue, mPred, { multioutput: 'raw_values' }), [0.9654377880184332, 0.9081632653061225]);
});

test('sample weights (sklearn 1.2.1 and the weighted definitions)', () => {
  const t = [1.5, 2.25, -3, 4.125, 10, 0.5, 7];
  const p = [1, 2, -2.5, 5, 9.5, 0, 8];
  const w = [1, 2, 0.5, 1, 3, 1, 0.25];
  const W = w.reduce((a, b) => a + b);
  close(meanAbsoluteError(t, p, { sampleWeight: w }), t.reduce((a, v, i) => a + w[i]! * Math.abs(v - p[i]!), 0) / W);
  close(meanAbsoluteError(t, p, { sampleWeight: w }), 0.5);
  close(meanSquaredError(t, p, { sampleWeight: w }), 0.2875);
  const mean = t.reduce((a, v, i) => a + w[i]! * v, 0) / W;
  const ssRes = t.reduce((a, v, i) => a + w[i]! * (v - p[i]!) ** 2, 0);
  const ssTot = t.reduce((a, v, i) => a + w[i]! * (v - mean) ** 2, 0);
  close(r2Score(t, p, { sampleWeight: w }), 1 - ssRes / ssTot);
  close(r2Score(t, p, { sampleWeight: w }), 0.9838167254931807);
  assert.throws(() => meanSquaredError([1, 2, 3], [1, 2, 5], { sampleWeight: [0, 0, 0] }), /Weights sum to zero/);
  assert.throws(
    () => meanSquaredError([1, 2, 3], [1, 2, 5], { sampleWeight: [1, 1] }),
    /inconsistent numbers of samples/,
  );
});

test('R² edge cases: one sample, constant y_true, forceFinite', () => {
  close(r2Score([1], [2]), NaN);
  close(r2Score([1, 1], [1, 2]), 0);
  close(r2Score([1, 1], [1, 1]), 1);
  close(r2Score([1, 1], [1, 2], { forceFinite: false }), -Infinity);
  close(r2Score([1, 1], [1, 1], { forceFinite: false }), NaN);
  const ct = [
    [1, 2],
    [1, 3],
    [1, 4],
  ];
  const cp = [
    [1, 2],
    [2, 3],
    [1, 5],
  ];
  close(r2Score(ct, cp, { multioutput: 'raw_values' }), [0, 0.5]);
  close(r2Score(ct, cp, { multioutput: 'raw_values', forceFinite: false }), [-Infinity, 0.5]);
  close(r2Score(ct, cp, { multioutput: 'variance_weighted' }), 0.5); // constant output has zero weight
  close(
    r2Score(
      [
        [1, 2],
        [1, 2],
      ],
      [
        [1, 2],
        [1, 3],
      ],
      { multioutput: 'variance_weighted' },
    ),
    0.5,
  ); // all constant → uniform
});

test('input validation mirrors sklearn', () => {
  assert.throws(() => r2Score([], []), /Found array with 0 sample\(s\)/);
  assert.throws(() => meanAbsoluteError([], []), /Found array with 0 sample\(s\)/);
  assert.throws(() => meanSquaredError([1, 2], [1]), /inconsistent numbers of samples: \[2, 1\]/);
  assert.throws(() => r2Score([1, NaN], [1, 2]), /Input contains NaN/);
  assert.throws(() => r2Score([1, Infinity], [1, 2]), /Input contains infinity/);
  assert.throws(
    () =>
      r2Score(
        [
          [1, 2],
          [3, 4],
        ],
        [[1], [2]],
      ),
    /different number of output \(2!=1\)/,
  );
  assert.throws(
    () => r2Score(mTrue, mPred, { multioutput: 'x' as 'raw_values' }),
    /Allowed 'multioutput' string values/,
  );
  assert.throws(
    () => r2Score([1, 2], [1, 2], { multioutput: [1] }),
    /Custom weights are useful only in multi-output cases/,
  );
  assert.throws(
    () => r2Score(mTrue, mPred, { multioutput: [1, 2, 3] }),
    /equally many custom weights \(3\) as outputs \(2\)/,
  );
  assert.throws(
    () =>
      meanSquaredError(
        [[1, 2], [3]],
        [
          [1, 2],
          [3, 4],
        ],
      ),
    /y_true\[1\] must be an array of 2 numbers/,
  );
  assert.throws(
    () => meanAbsoluteError(mTrue, mPred, { multioutput: 'variance_weighted' }),
    /only defined for r2Score/,
  );
});

test('sums follow NumPy pairwise order, not left-to-right', () => {
  // 1e16 + 1 rounds back to 1e16, so a left-to-right sum drops every 1; NumPy's pairwise sum
  // (8 interleaved accumulators) keeps 14 of them: (1e16 + 14) / 16.
  const x = [1e16, ...new Array<number>(15).fill(1)];
  close(
    meanAbsoluteError(
      x,
      x.map(() => 0),
    ),
    (1e16 + 14) / 16,
  );
  assert.notEqual(
    meanAbsoluteError(
      x,
      x.map(() => 0),
    ),
    1e16 / 16,
  );
  close(
    meanAbsoluteError(
      x,
      x.map(() => 0),
    ),
    625000000000000.9,
  ); // sklearn 1.2.1
  // recursive halving above 128 values (sklearn 1.2.1)
  const long = [1e16, ...new Array<number>(300).fill(1)];
  close(
    meanAbsoluteError(
      long,
      long.map(() => 0),
    ),
    33222591362127.215,
    1e-15,
  );
});
