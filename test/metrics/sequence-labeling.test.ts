/**
 * seqeval 1.2.2 metrics and the Hugging Face `evaluate` "seqeval" output. Evidence: seqeval's
 * README/docstring examples, counts derived by hand in the test, and numbers printed by seqeval
 * 1.2.2 (git tag v1.2.2 of chakki-works/seqeval run with Debian's python3-sklearn/numpy once
 * while developing; marked "seqeval 1.2.2").
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  accuracyScore,
  autoDetectScheme,
  classificationReport,
  f1Score,
  getEntities,
  performanceMeasure,
  precisionRecallFscoreSupport,
  precisionScore,
  recallScore,
  seqeval,
  seqevalCompute,
} from '../../src/metrics/sequence-labeling.js';
import { assertClose as close } from '../helpers/close.js';

const docTrue = [
  ['O', 'O', 'B-MISC', 'I-MISC', 'B-MISC', 'O', 'O'],
  ['B-PER', 'I-PER', 'O'],
];
const docPred = [
  ['O', 'O', 'B-MISC', 'I-MISC', 'B-MISC', 'I-MISC', 'O'],
  ['B-PER', 'I-PER', 'O'],
];
const readmeTrue = [
  ['O', 'O', 'O', 'B-MISC', 'I-MISC', 'I-MISC', 'O'],
  ['B-PER', 'I-PER', 'O'],
];
const readmePred = [
  ['O', 'O', 'B-MISC', 'I-MISC', 'I-MISC', 'I-MISC', 'O'],
  ['B-PER', 'I-PER', 'O'],
];

test('getEntities: docstring and conlleval-style quirks', () => {
  assert.deepEqual(getEntities(['B-PER', 'I-PER', 'O', 'B-LOC']), [
    ['PER', 0, 1],
    ['LOC', 3, 3],
  ]);
  // nested input: sentences joined with an 'O', offsets are global (seqeval 1.2.2)
  assert.deepEqual(
    getEntities([
      ['B-PER', 'I-PER', 'O', 'B-LOC'],
      ['I-MISC', 'I-MISC', 'O', 'B-ORG', 'E-ORG'],
      ['S-LOC', 'O', 'I-PER', 'B-PER', 'I-LOC'],
    ]),
    [
      ['PER', 0, 1],
      ['LOC', 3, 3],
      ['MISC', 5, 6],
      ['ORG', 8, 9],
      ['LOC', 11, 11],
      ['PER', 13, 13],
      ['PER', 14, 14],
      ['LOC', 15, 15],
    ],
  );
  // I- after O starts a chunk, a type change splits, E- closes, '.' does not start (seqeval 1.2.2)
  assert.deepEqual(getEntities(['I-PER', 'I-LOC', 'B-LOC', 'I-LOC', 'O', 'E-PER', 'E-PER', 'S-X', 'I-X', '.', 'I-X']), [
    ['PER', 0, 0],
    ['LOC', 1, 1],
    ['LOC', 2, 3],
    ['PER', 5, 5],
    ['PER', 6, 6],
    ['X', 7, 7],
    ['X', 8, 8],
    ['X', 10, 10],
  ]);
  assert.deepEqual(getEntities(['PER-B', 'PER-I', 'O', 'LOC-S', 'MISC-I', 'MISC-E'], { suffix: true }), [
    ['PER', 0, 1],
    ['LOC', 3, 3],
    ['MISC', 4, 5],
  ]);
  // bare prefixes get type '_', the type is everything after the first '-'
  assert.deepEqual(getEntities(['B', 'I', 'O', 'BPER', 'B-PER-X', 'I-PER-X', 'X-FOO']), [
    ['_', 0, 1],
    ['PER', 3, 3],
    ['PER-X', 4, 5],
    ['FOO', 6, 6],
  ]);
  assert.deepEqual(getEntities(['B-人名', 'I-人名', 'O']), [['人名', 0, 1]]);
  assert.deepEqual(getEntities([]), []);
});

test('scores: seqeval docstring examples', () => {
  close(f1Score(docTrue, docPred), 0.6666666666666666);
  close(f1Score(docTrue, docPred, { average: 'macro' }), 0.75);
  close(f1Score(docTrue, docPred, { average: 'weighted' }), 0.6666666666666666);
  close(f1Score(docTrue, docPred, { average: null }), [0.5, 1]);
  close(precisionScore(docTrue, docPred, { average: null }), [0.5, 1]);
  close(recallScore(docTrue, docPred, { average: 'macro' }), 0.75);
  const macro = precisionRecallFscoreSupport(readmeTrue, readmePred, { average: 'macro' });
  assert.deepEqual(macro, { precision: 0.5, recall: 0.5, fbetaScore: 0.5, support: 2 });
  assert.deepEqual(precisionRecallFscoreSupport(readmeTrue, readmePred), {
    precision: [0, 1],
    recall: [0, 1],
    fbetaScore: [0, 1],
    support: [1, 1],
  });
  close(accuracyScore(readmeTrue, readmePred), 0.8);
  assert.deepEqual(
    performanceMeasure(
      [
        ['O', 'O', 'O', 'B-MISC', 'I-MISC', 'O', 'B-ORG'],
        ['B-PER', 'I-PER', 'O', 'B-PER'],
      ],
      [
        ['O', 'O', 'B-MISC', 'I-MISC', 'I-MISC', 'O', 'O'],
        ['B-PER', 'I-PER', 'O', 'B-MISC'],
      ],
    ),
    { TP: 3, FP: 3, FN: 1, TN: 4 },
  );
});

test('strict mode: README example and IOBES / IOB1 / IOE2 / BILOU', () => {
  // README: I-NP after O is an entity in default mode, not in strict IOB2
  close(f1Score([['B-NP', 'I-NP', 'O']], [['I-NP', 'I-NP', 'O']]), 1);
  close(f1Score([['B-NP', 'I-NP', 'O']], [['I-NP', 'I-NP', 'O']], { mode: 'strict', scheme: 'IOB2' }), 0);
  const t = [
    ['O', 'B-PER', 'I-PER', 'E-PER', 'O', 'S-LOC'],
    ['B-ORG', 'E-ORG', 'S-PER', 'O'],
  ];
  const p = [
    ['O', 'B-PER', 'I-PER', 'I-PER', 'O', 'S-LOC'],
    ['B-ORG', 'E-ORG', 'B-PER', 'O'],
  ];
  // lenient: B-PER I-PER I-PER is still a PER chunk, a lone B-PER too → all correct
  assert.deepEqual(precisionRecallFscoreSupport(t, p), {
    precision: [1, 1, 1],
    recall: [1, 1, 1],
    fbetaScore: [1, 1, 1],
    support: [1, 1, 2],
  });
  // strict IOBES: neither unterminated PER counts (types LOC, ORG, PER)
  assert.deepEqual(precisionRecallFscoreSupport(t, p, { mode: 'strict', scheme: 'IOBES' }), {
    precision: [1, 1, 0],
    recall: [1, 1, 0],
    fbetaScore: [1, 1, 0],
    support: [1, 1, 2],
  });
  // seqeval quirk: strict without a scheme silently uses the lenient chunker in the scores…
  close(f1Score(t, p, { mode: 'strict' }), 1);
  // …but the classification report auto-detects IOBES (seqeval 1.2.2)
  const report = classificationReport(t, p, { mode: 'strict', outputDict: true });
  assert.deepEqual(report['micro avg'], { precision: 1, recall: 0.5, 'f1-score': 0.6666666666666666, support: 4 });
  assert.deepEqual(report['weighted avg'], { precision: 0.5, recall: 0.5, 'f1-score': 0.5, support: 4 });
  close(report['macro avg']!.precision, 2 / 3);
  assert.equal(autoDetectScheme(t), 'IOBES');
  assert.equal(autoDetectScheme([['B-A', 'I-A', 'O']]), 'IOB2');
  assert.throws(() => autoDetectScheme([['O', 'O']]), /This scheme is not supported/);
  // seqeval 1.2.2 per-type (P, R, F1, support)
  const ioe2 = precisionRecallFscoreSupport([['I-A', 'E-A', 'E-B', 'O', 'I-A']], [['I-A', 'E-A', 'I-B', 'O', 'E-A']], {
    mode: 'strict',
    scheme: 'IOE2',
  });
  close(ioe2.precision, [0.5, 0]);
  close(ioe2.fbetaScore, [2 / 3, 0]);
  const bilou = precisionRecallFscoreSupport(
    [['B-A', 'L-A', 'U-B', 'O', 'B-A', 'I-A', 'L-A']],
    [['B-A', 'L-A', 'U-B', 'O', 'B-A', 'I-A', 'I-A']],
    { mode: 'strict', scheme: 'BILOU' },
  );
  close(bilou.recall, [0.5, 1]);
  assert.deepEqual(bilou.support, [2, 1]);
  const iob1 = precisionRecallFscoreSupport(
    [['I-A', 'I-A', 'B-A', 'I-B', 'O', 'I-A']],
    [['I-A', 'I-A', 'I-A', 'I-B', 'O', 'B-A']],
    { mode: 'strict', scheme: 'IOB1' },
  );
  close(iob1.precision, [0, 1]);
  assert.deepEqual(iob1.support, [3, 1]);
});

test('invalid tag sequences and inputs raise like seqeval', () => {
  assert.throws(() => f1Score([['B-A', 'E-A']], [['B-A', 'O']], { mode: 'strict', scheme: 'IOB2' }), {
    message: 'Invalid token is found: E-A. Allowed prefixes are: I|O|B.',
  });
  assert.throws(() => f1Score([['B-A', 'X-A']], [['B-A', 'O']], { mode: 'strict', scheme: 'IOB2' }), /no valid prefix/);
  assert.throws(() => f1Score([['O', 'O']], [['O']]), {
    message: 'Found input variables with inconsistent numbers of samples:\n[2]\n[1]',
  });
  assert.throws(() => f1Score([['O']], [['O']], { average: 'samples' as 'micro' }), /average has to be one of/);
  assert.throws(() => accuracyScore([], []), /division by zero/);
  assert.throws(() => classificationReport([['O']], [['O']]), /empty sequence/);
});

test('zero division and no entities (seqeval 1.2.2)', () => {
  // no sentences at all: seqeval's list-of-lists check fails; empty sentences are fine
  assert.throws(() => f1Score([], []), /Found input variables without list of list/);
  close(f1Score([[]], [[]]), 0);
  assert.deepEqual(getEntities([[], []]), []);
  close(f1Score([['O', 'O']], [['O', 'O']]), 0);
  close(f1Score([['O', 'O']], [['O', 'O']], { zeroDivision: 1 }), 1);
  close(f1Score([['O', 'O']], [['O', 'O']], { average: 'macro' }), NaN);
  close(f1Score([['O', 'O']], [['O', 'O']], { average: 'weighted', zeroDivision: 1 }), 1);
  assert.deepEqual(f1Score([['O', 'O']], [['O', 'O']], { average: null }), []);
  // predicted type never true: precision 0, recall 0/0 → zeroDivision
  const r = precisionRecallFscoreSupport([['B-A', 'O']], [['B-A', 'B-B']], { zeroDivision: 1 });
  assert.deepEqual(r, { precision: [1, 0], recall: [1, 1], fbetaScore: [1, 0], support: [1, 0] });
});

test('classificationReport text: seqeval layout, digits, Unicode names, Python rounding', () => {
  const expected = [
    '              precision    recall  f1-score   support',
    '',
    '        MISC       0.00      0.00      0.00         1',
    '         PER       1.00      1.00      1.00         1',
    '',
    '   micro avg       0.50      0.50      0.50         2',
    '   macro avg       0.50      0.50      0.50         2',
    'weighted avg       0.50      0.50      0.50         2',
    '',
  ].join('\n');
  assert.equal(classificationReport(readmeTrue, readmePred), expected); // seqeval README
  // seqeval 1.2.2, digits=4 and CJK type names (padding counts code points, as Python)
  assert.equal(
    classificationReport(
      [
        ['B-人名', 'I-人名', 'O', 'B-地名'],
        ['O', 'B-地名', 'I-地名'],
      ],
      [
        ['B-人名', 'I-人名', 'O', 'O'],
        ['O', 'B-地名', 'I-地名'],
      ],
      { digits: 4 },
    ),
    '              precision    recall  f1-score   support\n\n          人名     1.0000    1.0000    1.0000         1\n          地名     1.0000    0.5000    0.6667         2\n\n   micro avg     1.0000    0.6667    0.8000         3\n   macro avg     1.0000    0.7500    0.8333         3\nweighted avg     1.0000    0.6667    0.7778         3\n',
  );
  // Python's format rounds exact ties to even (JavaScript's toFixed would print 0.13 here).
  // 1 of 8 predicted A entities is right: precision 0.125 prints as 0.12
  const t = [['B-A', 'O', 'O', 'O', 'O', 'O', 'O', 'O', 'O', 'O', 'O', 'O', 'O', 'O', 'O']];
  const p = [['B-A', 'O', 'B-A', 'O', 'B-A', 'O', 'B-A', 'O', 'B-A', 'O', 'B-A', 'O', 'B-A', 'O', 'B-A']];
  assert.match(classificationReport(t, p), /\n {11}A {7}0\.12 {6}1\.00 {6}0\.22 {9}1\n/);
});

test('seqevalCompute: Hugging Face evaluate output shape and docstring values', () => {
  const result = seqevalCompute(readmePred, readmeTrue);
  assert.deepEqual(Object.keys(result), [
    'MISC',
    'PER',
    'overall_precision',
    'overall_recall',
    'overall_f1',
    'overall_accuracy',
  ]);
  assert.equal(result.overall_f1, 0.5);
  assert.deepEqual(result.PER, { precision: 1, recall: 1, f1: 1, number: 1 });
  assert.deepEqual(result.MISC, { precision: 0, recall: 0, f1: 0, number: 1 });
  close(result.overall_accuracy, 0.8);
  const strict = seqevalCompute([['I-NP', 'I-NP', 'O']], [['B-NP', 'I-NP', 'O']], { mode: 'strict', scheme: 'IOB2' });
  assert.equal(strict.overall_f1, 0);
  assert.equal(seqeval.f1Score, f1Score);
  assert.equal(seqeval.compute, seqevalCompute);
});

test('tunekit/metrics exposes seqeval under a namespace, beside sklearn names', async () => {
  const metrics = await import('../../src/metrics/index.js');
  assert.equal(metrics.seqeval.f1Score, f1Score);
  assert.notEqual(metrics.f1Score, f1Score); // sklearn's f1Score
  close(metrics.f1Score([0, 1, 1], [0, 1, 0]), 2 / 3);
  close(metrics.seqeval.f1Score(docTrue, docPred), 0.6666666666666666);
  assert.equal(metrics.seqevalCompute, seqevalCompute);
});
