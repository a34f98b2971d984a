/**
 * sklearn classification metrics. Evidence: (1) sklearn's own docstring examples, (2) values
 * derived in the test from the definitions (confusion counts, Mann–Whitney pair counting for
 * ROC AUC), (3) numbers printed by scikit-learn 1.2.1 (Debian python3-sklearn, run once while
 * developing; marked "sklearn 1.2.1").
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  accuracyScore,
  auc,
  confusionMatrix,
  f1Score,
  fbetaScore,
  precisionRecallFscoreSupport,
  precisionScore,
  recallScore,
  rocAucScore,
  rocCurve,
} from '../../src/metrics/classification.js';
import { assertClose as close } from '../helpers/close.js';

/** ROC AUC by definition: P(score_pos > score_neg) + ½·P(equal), over weighted pairs. */
function mannWhitneyAuc(y: number[], s: number[], w: number[] = y.map(() => 1)): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < y.length; i++) {
    for (let j = 0; j < y.length; j++) {
      if (y[i] !== 1 || y[j] !== 0) continue;
      const pw = w[i]! * w[j]!;
      den += pw;
      num += pw * (s[i]! > s[j]! ? 1 : s[i] === s[j] ? 0.5 : 0);
    }
  }
  return num / den;
}

test('accuracyScore: sklearn docstring, weights, empty input', () => {
  close(accuracyScore([0, 2, 1, 3], [0, 1, 2, 3]), 0.5);
  close(accuracyScore([0, 2, 1, 3], [0, 1, 2, 3], { normalize: false }), 2);
  // hand: correct items weigh 0.5 + 1 out of 3.5
  close(accuracyScore([1, 2, 3], [1, 2, 2], { sampleWeight: [0.5, 1, 2] }), 1.5 / 3.5);
  close(accuracyScore([1, 2, 3], [1, 2, 2], { sampleWeight: [0.5, 1, 2], normalize: false }), 1.5);
  close(accuracyScore([], []), NaN); // NumPy mean of nothing (sklearn 1.2.1 returns nan)
  close(accuracyScore([], [], { normalize: false }), 0);
  assert.throws(() => accuracyScore([1, 2], [1, 2], { sampleWeight: [0, 0] }), /Weights sum to zero/);
  assert.throws(() => accuracyScore([1, 2], [1]), /inconsistent numbers of samples: \[2, 1\]/);
  assert.throws(() => accuracyScore([1.5, 2], [1, 2]), /can't handle a mix of continuous and binary targets/);
  assert.throws(() => accuracyScore([1, NaN], [1, 2]), /Input y_true contains NaN/);
});

test('precision/recall/F: sklearn docstring examples (multiclass)', () => {
  const yTrue = [0, 1, 2, 0, 1, 2];
  const yPred = [0, 2, 1, 0, 0, 1];
  close(precisionScore(yTrue, yPred, { average: 'macro' }), 2 / 9);
  close(precisionScore(yTrue, yPred, { average: 'micro' }), 1 / 3);
  close(precisionScore(yTrue, yPred, { average: 'weighted' }), 2 / 9);
  close(precisionScore(yTrue, yPred, { average: null }), [2 / 3, 0, 0]);
  close(recallScore(yTrue, yPred, { average: 'macro' }), 1 / 3);
  close(recallScore(yTrue, yPred, { average: null }), [1, 0, 0]);
  close(f1Score(yTrue, yPred, { average: 'macro' }), 0.26666666666666666);
  close(f1Score(yTrue, yPred, { average: 'micro' }), 0.3333333333333333);
  close(f1Score(yTrue, yPred, { average: null }), [0.8, 0, 0]);
  close(fbetaScore(yTrue, yPred, { beta: 0.5, average: 'macro' }), 0.23809523809523805);
  close(fbetaScore(yTrue, yPred, { beta: 0.5, average: null }), [(1.25 * (2 / 3)) / (0.25 * (2 / 3) + 1), 0, 0]);
  // zero_division docstring: class 1 and 2 are never predicted
  const allZero = [0, 0, 0, 0, 0, 0];
  close(precisionScore(yTrue, allZero, { average: null }), [1 / 3, 0, 0]);
  close(precisionScore(yTrue, allZero, { average: null, zeroDivision: 1 }), [1 / 3, 1, 1]);
  close(precisionScore(yTrue, allZero, { average: null, zeroDivision: NaN }), [1 / 3, NaN, NaN]); // sklearn ≥ 1.3 docstring
  // ≥ 1.3: NaN entries are skipped when averaging
  close(precisionScore(yTrue, allZero, { average: 'macro', zeroDivision: NaN }), 1 / 3);
});

test('precisionRecallFscoreSupport: string labels, labels order, support', () => {
  const yTrue = ['cat', 'dog', 'pig', 'cat', 'dog', 'pig'];
  const yPred = ['cat', 'pig', 'dog', 'cat', 'cat', 'dog'];
  const macro = precisionRecallFscoreSupport(yTrue, yPred, { average: 'macro' });
  close(
    [macro.precision, macro.recall, macro.fbetaScore],
    [0.22222222222222221, 0.3333333333333333, 0.26666666666666666],
  );
  assert.equal(macro.support, null);
  const perLabel = precisionRecallFscoreSupport(yTrue, yPred, { labels: ['pig', 'dog', 'cat'] });
  close(perLabel.precision, [0, 0, 2 / 3]);
  close(perLabel.recall, [0, 0, 1]);
  close(perLabel.fbetaScore, [0, 0, 0.8]);
  assert.deepEqual(perLabel.support, [2, 2, 2]);
  // labels not present count as zero rows (sklearn 1.2.1: ([.5,0,1],[.5,0,1],[.5,0,1],[2,0,1]))
  const absent = precisionRecallFscoreSupport([0, 1, 2, 2], [0, 2, 2, 1], { labels: [2, 5, 0] });
  close(absent.precision, [0.5, 0, 1]);
  assert.deepEqual(absent.support, [2, 0, 1]);
  close(
    precisionRecallFscoreSupport([0, 1, 2, 2], [0, 2, 2, 1], { labels: [2, 0], average: 'micro' }).precision,
    2 / 3,
  );
});

test('precisionRecallFscoreSupport: sample weights and Unicode labels (sklearn 1.2.1)', () => {
  const yTrue = ['a', 'b', 'c', 'a', 'b', 'c', 'ä', '中', 'ä', 'a'];
  const yPred = ['a', 'c', 'c', 'a', 'a', 'b', 'ä', 'ä', '中', 'ä'];
  const sampleWeight = [1, 0.5, 2, 1, 3, 1, 0.25, 1, 2, 1.5];
  const none = precisionRecallFscoreSupport(yTrue, yPred, { sampleWeight });
  close(none.precision, [0.4, 0.0, 0.8, 0.09090909090909091, 0.0]);
  close(none.recall, [0.5714285714285714, 0.0, 0.6666666666666666, 0.1111111111111111, 0.0]);
  close(none.fbetaScore, [0.47058823529411764, 0.0, 0.7272727272727272, 0.09999999999999999, 0.0]);
  close(none.support, [3.5, 3.5, 3.0, 2.25, 1.0]);
  const w = precisionRecallFscoreSupport(yTrue, yPred, { sampleWeight, average: 'weighted', beta: 2 });
  close([w.precision, w.recall, w.fbetaScore], [0.3022298456260721, 0.32075471698113206, 0.3132401873605232]);
  const m = precisionRecallFscoreSupport(yTrue, yPred, { sampleWeight, average: 'macro' });
  close([m.precision, m.recall, m.fbetaScore], [0.2581818181818182, 0.2698412698412699, 0.259572192513369]);
  // micro P = R = F = weighted accuracy for single-label multiclass
  const micro = precisionRecallFscoreSupport(yTrue, yPred, { sampleWeight, average: 'micro' });
  close(micro.precision, accuracyScore(yTrue, yPred, { sampleWeight }));
  close(micro.fbetaScore, 0.32075471698113206);
});

test('binary average: posLabel, one class, empty, zero division, errors', () => {
  close(f1Score(['a', 'b', 'b'], ['a', 'b', 'a'], { posLabel: 'a' }), 2 / 3);
  // tp=1, fp=1, fn=1 for class 1 → P = R = F = 1/2
  close(f1Score([0, 1, 1, 0], [1, 1, 0, 0]), 0.5);
  close(f1Score([0, 0], [0, 0]), 0); // no positive anywhere → zero_division 'warn' → 0
  close(f1Score([0, 0], [0, 0], { zeroDivision: 1 }), 1);
  close(f1Score([], []), 0); // sklearn 1.2.1
  close(f1Score([], [], { average: 'macro' }), NaN); // sklearn 1.2.1: mean over no labels
  close(f1Score([], [], { average: 'micro' }), 0);
  // weighted average with zero total support (sklearn 1.2.1 short-circuit)
  const zeroSupport = precisionRecallFscoreSupport([0, 1], [0, 2], { labels: [2], average: 'weighted' });
  close([zeroSupport.precision, zeroSupport.recall, zeroSupport.fbetaScore], [0, 0, 0]);
  const zd1 = precisionRecallFscoreSupport([0, 1], [0, 1], { labels: [2], average: 'weighted', zeroDivision: 1 });
  close([zd1.precision, zd1.recall, zd1.fbetaScore], [1, 1, 1]);
  assert.throws(() => f1Score([0, 1, 2], [0, 1, 2]), /Target is multiclass but average='binary'/);
  assert.throws(
    () => f1Score([0, 1], [0, 1], { posLabel: 2 }),
    /pos_label=2 is not a valid label. It should be one of \[0, 1\]/,
  );
  assert.throws(
    () => f1Score(['a', 'b'], ['a', 'b']),
    /pos_label=1 is not a valid label. It should be one of \['a', 'b'\]/,
  );
  assert.throws(() => f1Score([0, 1], [0, 1], { average: 'foo' as 'macro' }), /average has to be one of/);
  assert.throws(() => f1Score([0, 1], [0, 1], { zeroDivision: 2 }), /zero_division/);
  assert.throws(() => f1Score([1, 2], ['a', 'b'], { average: 'macro' }), /Mix of label input types/);
  assert.throws(() => fbetaScore([0, 1], [0, 1], { beta: -1 }), /beta should be >=0/);
});

test('confusionMatrix: docstring, weights, normalize, labels, Unicode order', () => {
  assert.deepEqual(confusionMatrix([2, 0, 2, 2, 0, 1], [0, 0, 2, 2, 0, 2]), [
    [2, 0, 0],
    [0, 0, 1],
    [1, 0, 2],
  ]);
  assert.deepEqual(
    confusionMatrix(['cat', 'ant', 'cat', 'cat', 'ant', 'bird'], ['ant', 'ant', 'cat', 'cat', 'ant', 'cat'], {
      labels: ['ant', 'bird', 'cat'],
    }),
    [
      [2, 0, 0],
      [0, 0, 1],
      [1, 0, 2],
    ],
  );
  assert.deepEqual(confusionMatrix([0, 1, 0, 1], [1, 1, 1, 0]).flat(), [0, 2, 1, 1]); // tn, fp, fn, tp
  const yTrue = ['a', 'b', 'c', 'a', 'b', 'c', 'ä', '中', 'ä', 'a'];
  const yPred = ['a', 'c', 'c', 'a', 'a', 'b', 'ä', 'ä', '中', 'ä'];
  const sampleWeight = [1, 0.5, 2, 1, 3, 1, 0.25, 1, 2, 1.5];
  const cm = confusionMatrix(yTrue, yPred, { sampleWeight });
  assert.deepEqual(cm, [
    [2, 0, 0, 1.5, 0],
    [3, 0, 0.5, 0, 0],
    [0, 1, 2, 0, 0],
    [0, 0, 0, 0.25, 2],
    [0, 0, 0, 1, 0],
  ]);
  // normalize='true' divides each row by its sum
  close(
    confusionMatrix(yTrue, yPred, { sampleWeight, normalize: 'true' }),
    cm.map((row) => row.map((v) => v / row.reduce((a, b) => a + b))),
  );
  close(confusionMatrix([1, 2, 2], [1, 2, 1], { labels: [1, 2, 3], normalize: 'true' }), [
    [1, 0, 0],
    [0.5, 0.5, 0],
    [0, 0, 0],
  ]);
  close(confusionMatrix([1, 2, 2], [1, 2, 1], { normalize: 'pred' }), [
    [0.5, 0],
    [0.5, 1],
  ]);
  close(confusionMatrix([1, 2, 2], [1, 2, 1], { normalize: 'all', sampleWeight: [1, 2, 3] }), [
    [1 / 6, 0],
    [0.5, 1 / 3],
  ]);
  close(confusionMatrix(yTrue, yPred, { labels: ['中', 'a', 'zz'], normalize: 'pred' }), [
    [0, 0, 0],
    [0, 1, 0],
    [0, 0, 0],
  ]);
  // Python orders str by code point: U+FF5E before U+1F600 (UTF-16 order would swap them)
  assert.deepEqual(confusionMatrix(['😀', '～', '😀'], ['～', '～', '😀']), [
    [1, 0],
    [1, 1],
  ]);
  // a repeated label takes its last position (sklearn 1.2.1: [[0,0,0],[0,1,1],[0,0,1]])
  assert.deepEqual(confusionMatrix([1, 2, 2], [1, 2, 1], { labels: [1, 2, 1] }), [
    [0, 0, 0],
    [0, 1, 1],
    [0, 0, 1],
  ]);
  assert.throws(() => confusionMatrix([1, 2], [1, 2], { labels: ['a', 1] }), /labels mixes strings and numbers/);
  assert.deepEqual(confusionMatrix([], []), []);
  assert.deepEqual(confusionMatrix([], [], { labels: [1, 2] }), [
    [0, 0],
    [0, 0],
  ]);
  assert.throws(
    () => confusionMatrix([1, 2], [1, 2], { labels: [3] }),
    /At least one label specified must be in y_true/,
  );
  assert.throws(() => confusionMatrix([1, 2], [1, 2], { labels: [] }), /'labels' should contains at least one label/);
  assert.throws(() => confusionMatrix([1, 2], [1, 2], { normalize: 'x' as 'all' }), /normalize must be one of/);
});

test('rocCurve and auc: sklearn docstring, drop_intermediate', () => {
  const { fpr, tpr, thresholds } = rocCurve([1, 1, 2, 2], [0.1, 0.4, 0.35, 0.8], { posLabel: 2 });
  close(fpr, [0, 0, 0.5, 0.5, 1]);
  close(tpr, [0, 0.5, 0.5, 1, 1]);
  close(thresholds, [Infinity, 0.8, 0.4, 0.35, 0.1]); // sklearn ≥ 1.3 (1.2 printed 1.8 first)
  close(auc(fpr, tpr), 0.75);
  close(auc([2, 1, 0], [1, 2, 1]), 3); // decreasing x: direction −1
  const y = [0, 0, 1, 1, 0, 1, 1, 0, 1, 0];
  const s = [0.1, 0.4, 0.35, 0.8, 0.7, 0.2, 0.7, 0.7, 0.9, 0.05];
  const dropped = rocCurve(y, s); // sklearn 1.2.1
  close(dropped.fpr, [0.0, 0.0, 0.0, 0.4, 0.6, 0.6, 1.0]);
  close(dropped.tpr, [0.0, 0.2, 0.4, 0.6, 0.6, 1.0, 1.0]);
  const full = rocCurve(y, s, { dropIntermediate: false });
  close(full.fpr, [0.0, 0.0, 0.0, 0.4, 0.6, 0.6, 0.6, 0.8, 1.0]);
  close(full.thresholds.slice(1), [0.9, 0.8, 0.7, 0.4, 0.35, 0.2, 0.1, 0.05]);
  close(rocCurve([1, 1], [0.1, 0.4]).fpr, [NaN, NaN, NaN]); // no negatives
  assert.throws(() => rocCurve(['a', 'b'], [0.1, 0.4]), /pos_label is not specified/);
  assert.throws(() => auc([0], [1]), /At least 2 points are needed/);
  assert.throws(() => auc([0, 2, 1], [1, 1, 1]), /x is neither increasing nor decreasing : \[0 2 1\]/);
});

test('rocAucScore binary: equals Mann–Whitney pair counting (ties count half)', () => {
  const y = [0, 0, 1, 1, 0, 1, 1, 0, 1, 0];
  const s = [0.1, 0.4, 0.35, 0.8, 0.7, 0.2, 0.7, 0.7, 0.9, 0.05];
  const w = [1, 2, 1, 0.5, 1, 1, 3, 1, 1, 0];
  close(rocAucScore(y, s), mannWhitneyAuc(y, s));
  close(rocAucScore(y, s), 0.72); // sklearn 1.2.1
  close(rocAucScore(y, s, { sampleWeight: w }), mannWhitneyAuc(y, s, w));
  close(rocAucScore(y, s, { sampleWeight: w }), 0.6615384615384615); // sklearn 1.2.1
  close(rocAucScore([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.9]), 0.75);
  close(rocAucScore([0, 1], [0.5, 0.5]), 0.5);
  // string labels: the greater label is positive
  close(rocAucScore(['a', 'b', 'b'], [0.2, 0.3, 0.1]), 0.5);
  close(
    rocAucScore(['no', 'yes', 'yes', 'no'], [0.1, 0.8, 0.6, 0.7]),
    mannWhitneyAuc([0, 1, 1, 0], [0.1, 0.8, 0.6, 0.7]),
  );
});

test('rocAucScore maxFpr: McClish-standardised partial AUC', () => {
  const y = [0, 0, 1, 1, 0, 1, 1, 0, 1, 0];
  const s = [0.1, 0.4, 0.35, 0.8, 0.7, 0.2, 0.7, 0.7, 0.9, 0.05];
  // By hand: the ROC curve passes (0, 0.4) → (0.4, 0.6); at fpr 0.3 the interpolated tpr is 0.55,
  // so the partial area is 0.3·(0.4 + 0.55)/2 = 0.1425; McClish: ½(1 + (A − 0.045)/(0.3 − 0.045)).
  close(rocAucScore(y, s, { maxFpr: 0.3 }), 0.5 * (1 + ((0.3 * (0.4 + 0.55)) / 2 - 0.045) / (0.3 - 0.045)));
  close(rocAucScore(y, s, { maxFpr: 0.3 }), 0.6911764705882353); // sklearn 1.2.1
  close(rocAucScore(y, s, { maxFpr: 0.5, sampleWeight: [1, 2, 1, 0.5, 1, 1, 3, 1, 1, 0] }), 0.6717948717948717); // sklearn 1.2.1
  close(rocAucScore([0, 0, 1, 1, 0, 1], [0.1, 0.4, 0.35, 0.8, 0.7, 0.2], { maxFpr: 0.5 }), 0.5555555555555556); // sklearn 1.2.1
  close(rocAucScore(y, s, { maxFpr: 1 }), rocAucScore(y, s));
  assert.throws(
    () => rocAucScore([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], { maxFpr: 0 }),
    /Expected max_fpr in range \(0, 1\], got: 0/,
  );
});

test('rocAucScore binary errors: one class, empty, NaN', () => {
  assert.throws(() => rocAucScore([1, 1], [0.2, 0.3]), {
    message: 'Only one class present in y_true. ROC AUC score is not defined in that case.',
  });
  assert.throws(() => rocAucScore([], []), /Found array with 0 sample\(s\)/);
  assert.throws(() => rocAucScore([0, 1], [0.1, NaN]), /Input contains NaN/);
  assert.throws(() => rocAucScore([0.5, 1], [0.1, 0.2]), /continuous format is not supported/);
});

test('rocAucScore multiclass: ovr / ovo against per-class pair counting', () => {
  const y = [0, 1, 2, 2, 1, 0, 2, 1, 0, 1];
  const P = [
    [0.7, 0.2, 0.1],
    [0.2, 0.5, 0.3],
    [0.1, 0.3, 0.6],
    [0.3, 0.3, 0.4],
    [0.4, 0.4, 0.2],
    [0.5, 0.1, 0.4],
    [0.2, 0.2, 0.6],
    [0.3, 0.6, 0.1],
    [0.3, 0.3, 0.4],
    [0.1, 0.8, 0.1],
  ];
  const col = (c: number, rows: number[]) => rows.map((i) => P[i]![c]!);
  const all = y.map((_, i) => i);
  const perClass = [0, 1, 2].map((c) =>
    mannWhitneyAuc(
      y.map((t) => (t === c ? 1 : 0)),
      col(c, all),
    ),
  );
  close(rocAucScore(y, P, { multiClass: 'ovr', average: null }), perClass);
  close(rocAucScore(y, P, { multiClass: 'ovr' }), perClass.reduce((a, b) => a + b) / 3);
  const prevalence = [3, 4, 3];
  close(
    rocAucScore(y, P, { multiClass: 'ovr', average: 'weighted' }),
    perClass.reduce((a, v, c) => a + v * prevalence[c]!, 0) / 10,
  );
  const pairs: [number, number][] = [
    [0, 1],
    [0, 2],
    [1, 2],
  ];
  const pairScores = pairs.map(([a, b]) => {
    const rows = all.filter((i) => y[i] === a || y[i] === b);
    const aucA = mannWhitneyAuc(
      rows.map((i) => (y[i] === a ? 1 : 0)),
      col(a, rows),
    );
    const aucB = mannWhitneyAuc(
      rows.map((i) => (y[i] === b ? 1 : 0)),
      col(b, rows),
    );
    return { score: (aucA + aucB) / 2, prevalence: rows.length / y.length };
  });
  close(rocAucScore(y, P, { multiClass: 'ovo' }), pairScores.reduce((a, p) => a + p.score, 0) / 3);
  close(
    rocAucScore(y, P, { multiClass: 'ovo', average: 'weighted' }),
    pairScores.reduce((a, p) => a + p.score * p.prevalence, 0) / pairScores.reduce((a, p) => a + p.prevalence, 0),
  );
  // sklearn 1.2.1
  close(rocAucScore(y, P, { multiClass: 'ovr' }), 0.9523809523809522);
  close(rocAucScore(y, P, { multiClass: 'ovr', average: 'weighted' }), 0.957142857142857);
  close(rocAucScore(y, P, { multiClass: 'ovo' }), 0.9513888888888888);
  close(rocAucScore(y, P, { multiClass: 'ovo', average: 'weighted' }), 0.953125);
  close(rocAucScore(y, P, { multiClass: 'ovr', average: 'micro' }), 0.9550000000000001);
  close(
    rocAucScore(y, P, { multiClass: 'ovr', average: 'weighted', sampleWeight: [1, 2, 1, 1, 0.5, 1, 1, 3, 1, 1] }),
    0.9705263157894737,
  );
  const ys = y.map((c) => ['x', 'y', 'z'][c]!);
  close(rocAucScore(ys, P, { multiClass: 'ovo', labels: ['x', 'y', 'z'] }), 0.9513888888888888);
});

test('rocAucScore multiclass errors mirror sklearn', () => {
  const P3 = [
    [0.2, 0.3, 0.5],
    [0.2, 0.3, 0.5],
    [0.2, 0.3, 0.5],
  ];
  assert.throws(() => rocAucScore([0, 1, 2], P3), /multi_class must be in \('ovo', 'ovr'\)/);
  assert.throws(
    () =>
      rocAucScore(
        [0, 1, 2],
        [
          [0.5, 0.5, 0.5],
          [0.5, 0.5, 0.5],
          [0.5, 0.5, 0.5],
        ],
        { multiClass: 'ovr' },
      ),
    /need to be probabilities/,
  );
  assert.throws(
    () =>
      rocAucScore(
        [0, 1, 2],
        [
          [0.5, 0.5],
          [0.5, 0.5],
          [0.5, 0.5],
        ],
        { multiClass: 'ovr' },
      ),
    /Number of classes in y_true not equal/,
  );
  assert.throws(
    () => rocAucScore([0, 1, 2], P3, { multiClass: 'ovr', maxFpr: 0.5 }),
    /Partial AUC computation not available in multiclass setting/,
  );
  assert.throws(
    () => rocAucScore([0, 1, 2], P3, { multiClass: 'ovo', average: null }),
    /average=None is not implemented for multi_class='ovo'/,
  );
  assert.throws(
    () => rocAucScore([0, 1, 2], P3, { multiClass: 'ovr', labels: [2, 1, 0] }),
    /Parameter 'labels' must be ordered/,
  );
  assert.throws(
    () => rocAucScore([0, 1, 2], P3, { multiClass: 'ovr', labels: [0, 1, 3] }),
    /'y_true' contains labels not in parameter 'labels'/,
  );
  assert.throws(
    () => rocAucScore([0, 1, 1], P3, { multiClass: 'ovr', labels: [0, 1, 2] }),
    /Only one class present in y_true/,
  );
  assert.throws(
    () => rocAucScore([0, 1, 2], P3, { multiClass: 'ovo', sampleWeight: [1, 1, 1] }),
    /sample_weight is not supported for multiclass one-vs-one/,
  );
  // ovo with a class absent from y_true still scores the present pair (sklearn 1.2.1: 0.8125)
  close(
    rocAucScore(
      [0, 1, 1, 0],
      [
        [0.2, 0.3, 0.5],
        [0.1, 0.6, 0.3],
        [0.3, 0.3, 0.4],
        [0.5, 0.2, 0.3],
      ],
      { multiClass: 'ovo', labels: [0, 1, 2] },
    ),
    0.8125,
  );
});

test('multilabel indicator matrices: subset accuracy, per-label and samples averages', () => {
  // sklearn docstrings
  close(
    accuracyScore(
      [
        [0, 1],
        [1, 1],
      ],
      [
        [1, 1],
        [1, 1],
      ],
    ),
    0.5,
  );
  const yTrue = [
    [0, 0, 0],
    [1, 1, 1],
    [0, 1, 1],
  ];
  const yPred = [
    [0, 0, 0],
    [1, 1, 1],
    [1, 1, 0],
  ];
  close(f1Score(yTrue, yPred, { average: null }), [2 / 3, 1, 2 / 3]);
  // by hand: per-column tp/pred/true = (1,2,1), (2,2,2), (1,1,2) → micro P = 4/5
  close(precisionScore(yTrue, yPred, { average: 'micro' }), 0.8);
  close(recallScore(yTrue, yPred, { average: 'weighted' }), (1 * 1 + 2 * 1 + 2 * 0.5) / 5);
  // samples: row 0 has no true and no predicted label (0/0 → zeroDivision), rows 1, 2 F1 = 1, 1/2
  close(f1Score(yTrue, yPred, { average: 'samples' }), (0 + 1 + 0.5) / 3);
  close(f1Score(yTrue, yPred, { average: 'samples', zeroDivision: 1 }), (1 + 1 + 0.5) / 3);
  const weighted = precisionRecallFscoreSupport(yTrue, yPred, { average: 'samples', sampleWeight: [1, 2, 0.5] });
  close(
    [weighted.precision, weighted.recall, weighted.fbetaScore],
    [0.6428571428571429, 0.6428571428571429, 0.6428571428571429],
  ); // sklearn 1.2.1
  // labels pick (and order) columns
  const picked = precisionRecallFscoreSupport(yTrue, yPred, { labels: [2, 0] });
  close(picked.precision, [1, 0.5]);
  close(picked.recall, [0.5, 1]);
  assert.deepEqual(picked.support, [2, 1]);
  assert.throws(() => f1Score(yTrue, yPred), /Target is multilabel-indicator but average='binary'/);
  assert.throws(
    () => f1Score(yTrue, yPred, { labels: [3], average: 'macro' }),
    /All labels must be in \[0, n labels\) for multilabel targets. Got 3 > 2/,
  );
  assert.throws(
    () => f1Score([0, 1], [0, 1], { average: 'samples' }),
    /Samplewise metrics are not available outside of multilabel classification/,
  );
  assert.throws(() => accuracyScore(yTrue, [0, 1, 1]), /can't handle a mix of multilabel-indicator and binary targets/);
  assert.throws(
    () =>
      accuracyScore(
        [
          [0, 1, 2],
          [2, 1, 0],
        ],
        [
          [0, 1, 2],
          [2, 1, 0],
        ],
      ),
    /multiclass-multioutput is not supported/,
  );
  assert.throws(
    () =>
      accuracyScore(yTrue, [
        [0, 0],
        [1, 1],
        [1, 1],
      ]),
    /different numbers of labels/,
  );
  assert.throws(
    () => confusionMatrix(yTrue as unknown as number[], yPred as unknown as number[]),
    /multilabel-indicator is not supported/,
  );
});

test('rocAucScore multilabel: per column, pooled, per row (Mann–Whitney and sklearn 1.2.1)', () => {
  const y = [
    [0, 1, 1],
    [1, 1, 0],
    [1, 0, 1],
    [0, 0, 0],
  ];
  const s = [
    [0.1, 0.9, 0.8],
    [0.8, 0.7, 0.9],
    [0.6, 0.2, 0.3],
    [0.3, 0.4, 0.1],
  ];
  const col = (m: number[][], c: number) => m.map((r) => r[c]!);
  const perColumn = [0, 1, 2].map((c) => mannWhitneyAuc(col(y, c), col(s, c)));
  close(rocAucScore(y, s, { average: null }), perColumn);
  close(rocAucScore(y, s, { average: null }), [1, 1, 0.5]);
  close(rocAucScore(y, s), 0.8333333333333334);
  close(rocAucScore(y, s, { average: 'weighted' }), 0.8333333333333334);
  close(rocAucScore(y, s, { average: 'micro' }), mannWhitneyAuc(y.flat(), s.flat()));
  close(rocAucScore(y, s, { average: 'micro' }), 0.8055555555555556);
  close(rocAucScore(y, s, { average: 'weighted', sampleWeight: [1, 2, 1, 0.5] }), 0.8);
  assert.throws(() => rocAucScore(y, s, { average: 'samples' }), /Only one class present in y_true/); // last row has no label
  const y5 = [
    [0, 1, 1],
    [1, 1, 0],
    [1, 0, 1],
    [0, 1, 0],
  ];
  close(rocAucScore(y5, s, { average: 'samples' }), (1 + 0 + 1 + 1) / 4);
  close(rocAucScore(y5, s, { average: 'samples', sampleWeight: [1, 0, 2, 1] }), 1);
});

test('boolean labels are read as NumPy reads them (False = 0, True = 1), wherever sklearn takes labels', () => {
  const yTrue = [true, false, true, true];
  const yPred = [true, true, false, true];
  const asNumbers = (y: boolean[]): number[] => y.map(Number);
  // sklearn: f1_score([True, False, True, True], [True, True, False, True]) = 2/3 (pos_label=1 is True)
  close(f1Score(yTrue, yPred), 2 / 3);
  close(accuracyScore(yTrue, yPred), 0.5);
  close(precisionScore(yTrue, yPred, { posLabel: false }), 0);
  assert.deepEqual(
    recallScore(yTrue, yPred, { average: null, labels: [true, false] }),
    recallScore(asNumbers(yTrue), asNumbers(yPred), { average: null, labels: [1, 0] }),
  );
  assert.deepEqual(
    precisionRecallFscoreSupport(yTrue, yPred),
    precisionRecallFscoreSupport(asNumbers(yTrue), asNumbers(yPred)),
  );
  // confusion_matrix: rows/columns in the order [False, True]
  assert.deepEqual(confusionMatrix(yTrue, yPred), [
    [0, 1],
    [1, 2],
  ]);
  assert.deepEqual(
    rocCurve([false, false, true, true], [0.1, 0.4, 0.35, 0.8]),
    rocCurve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]),
  );
  close(rocAucScore([false, false, true, true], [0.1, 0.4, 0.35, 0.8]), 0.75); // sklearn docstring with bools
  // True == 1 in NumPy: a bool mixed with ints is an int label
  close(accuracyScore([true, 0, 1], [1, false, 1]), 1);
  // a bool mixed with strings: NumPy would make it the string "True"; refused (docs/metrics.md)
  assert.throws(() => f1Score([true, 'a'], ['a', 'a']), /Mix of label input types \(string and number\)/);
});

test('issue 12: accuracy refuses a mix of string and number labels, as f1 does (sklearn unique_labels)', () => {
  // Before: accuracyScore([1, '1', 0], [1, 1, 0]) returned 2/3 while f1Score raised.
  assert.throws(() => f1Score([1, '1', 0], [1, 1, 0]), /Mix of label input types \(string and number\)/);
  assert.throws(() => accuracyScore([1, '1', 0], [1, 1, 0]), /Mix of label input types \(string and number\)/);
  assert.throws(() => accuracyScore([1, 0], ['1', '0']), /Mix of label input types \(string and number\)/);
  assert.throws(() => confusionMatrix(['a', 'b'], [1, 'b']), /Mix of label input types/);
  // one type per call is fine, strings and numbers alike
  close(accuracyScore(['1', '0'], ['1', '1']), 0.5);
});
