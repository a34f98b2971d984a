/**
 * The metric registry: names, input shapes, option checks, and results equal to the metric
 * functions it wraps (whose own tests pin them to the references).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  MAX_BOOTSTRAP_SAMPLES,
  METRIC_NAMES,
  bootstrapMetric,
  computeMetric,
  computeMetrics,
  getMetricSpec,
  listMetrics,
  validateMetricOptions,
} from '../../src/metrics/registry.js';
import { accuracyScore, f1Score, rocAucScore } from '../../src/metrics/classification.js';
import { r2Score } from '../../src/metrics/regression.js';
import { seqevalCompute } from '../../src/metrics/sequence-labeling.js';
import { corpusBleu, sentenceBleu } from '../../src/metrics/bleu.js';
import { corpusChrf } from '../../src/metrics/chrf.js';
import { rougeCompute } from '../../src/metrics/rouge.js';
import { squadEvaluate } from '../../src/metrics/squad.js';
import { perplexity } from '../../src/metrics/perplexity.js';
import { distinctN, meanRepN } from '../../src/metrics/repetition.js';
import { bootstrapCi } from '../../src/metrics/significance.js';
import { assertClose } from '../helpers/close.js';

test('computeMetrics: a task evaluation in one call (sklearn docstring values)', () => {
  // sklearn: accuracy_score([0, 1, 2, 0, 1, 2], [0, 2, 1, 0, 0, 1]) = 1/3; f1 macro = 0.2666…
  const references = [0, 1, 2, 0, 1, 2];
  const predictions = [0, 2, 1, 0, 0, 1];
  const scores = computeMetrics(['accuracy', 'f1'], { predictions, references }, { f1: { average: 'macro' } });
  assert.deepEqual(Object.keys(scores), ['accuracy', 'f1']);
  assertClose(scores.accuracy?.score ?? NaN, 1 / 3);
  assertClose(scores.f1?.score ?? NaN, 0.26666666666666666);
  assert.deepEqual(scores.f1?.values, { f1: f1Score(references, predictions, { average: 'macro' }) });
  assert.equal(scores.f1?.higherIsBetter, true);
  // lower-is-better metrics say so (early stopping reads it)
  assert.equal(computeMetrics(['mse'], { predictions: [1, 2], references: [1, 4] }).mse?.higherIsBetter, false);
  assertClose(computeMetrics(['mse'], { predictions: [1, 2], references: [1, 4] }).mse?.score ?? NaN, 2);
  // options for a metric that is not computed are a mistake, not silently ignored
  assert.throws(
    () => computeMetrics(['accuracy'], { predictions, references }, { f1: { average: 'macro' } }),
    /options given for "f1", which is not among/,
  );
  // a per-class main score cannot be one number
  assert.throws(
    () => computeMetrics(['f1'], { predictions, references }, { f1: { average: null } }),
    /f1: the main score f1 is not a single number/,
  );
});

test('every registered metric equals the function it wraps', () => {
  const labelsTrue = ['cat', 'dog', 'cat', 'bird'];
  const labelsPred = ['cat', 'cat', 'cat', 'bird'];
  assert.deepEqual(computeMetric('accuracy', { predictions: labelsPred, references: labelsTrue }), {
    accuracy: accuracyScore(labelsTrue, labelsPred),
  });
  assert.deepEqual(
    computeMetric('accuracy', { predictions: labelsPred, references: labelsTrue }, { normalize: false }),
    { accuracy: 3 },
  );
  assert.deepEqual(computeMetric('roc_auc', { predictions: [0.1, 0.4, 0.35, 0.8], references: [0, 0, 1, 1] }), {
    roc_auc: rocAucScore([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]),
  });
  assertClose(computeMetric('roc_auc', { predictions: [0.1, 0.4, 0.35, 0.8], references: [0, 0, 1, 1] }).roc_auc, 0.75); // sklearn docstring
  const yTrue = [3, -0.5, 2, 7];
  const yPred = [2.5, 0.0, 2, 8];
  assertClose(computeMetric('r2', { predictions: yPred, references: yTrue }).r2, r2Score(yTrue, yPred));
  assertClose(
    computeMetric(
      'rmse',
      {
        predictions: [
          [0.5, 1],
          [-1, 1],
          [7, -6],
        ],
        references: [
          [0, 2],
          [-1, 2],
          [8, -5],
        ],
      },
      { multioutput: 'raw_values' },
    ).rmse,
    [Math.sqrt(1.25 / 3), 1],
  ); // sklearn docstring's MSE [0.41666667, 1], rooted
  const tagsTrue = [
    ['O', 'B-PER', 'I-PER'],
    ['B-LOC', 'O'],
  ];
  const tagsPred = [
    ['O', 'B-PER', 'O'],
    ['B-LOC', 'O'],
  ];
  assert.deepEqual(
    computeMetric('seqeval', { predictions: tagsPred, references: tagsTrue }),
    seqevalCompute(tagsPred, tagsTrue),
  );
  const hyps = ['The dog bit the man.', "It wasn't surprising."];
  const refs = [['The dog bit the man.', 'The dog had bit the man.'], 'It was not unexpected.'];
  const streams = [
    ['The dog bit the man.', 'It was not unexpected.'],
    ['The dog had bit the man.', null],
  ];
  const bleu = computeMetric('bleu', { predictions: hyps, references: refs }, { tokenize: 'intl' });
  assert.equal(bleu.score, corpusBleu(hyps, streams, { tokenize: 'intl' }).score);
  assert.equal(bleu.signature, corpusBleu(hyps, streams, { tokenize: 'intl' }).signature);
  const sentence = computeMetric('sentence_bleu', { predictions: hyps, references: refs });
  assert.deepEqual(sentence.scores, [
    sentenceBleu(hyps[0] ?? '', ['The dog bit the man.', 'The dog had bit the man.']).score,
    sentenceBleu(hyps[1] ?? '', ['It was not unexpected.']).score,
  ]);
  assert.equal(
    computeMetric('chrf', { predictions: hyps, references: refs }, { wordOrder: 2 }).score,
    corpusChrf(hyps, streams, { wordOrder: 2 }).score,
  );
  assert.deepEqual(
    computeMetric('rouge', { predictions: hyps, references: ['The dog bit a man', 'surprising'] }),
    rougeCompute(hyps, ['The dog bit a man', 'surprising']),
  );
  const squad = computeMetric('squad', {
    predictions: ['Denver Broncos', 'x'],
    references: [['Broncos', 'the Denver Broncos'], 'y'],
  });
  assert.deepEqual(
    squad,
    squadEvaluate(
      [
        { id: '0', prediction_text: 'Denver Broncos' },
        { id: '1', prediction_text: 'x' },
      ],
      [
        { id: '0', answers: { text: ['Broncos', 'the Denver Broncos'] } },
        { id: '1', answers: { text: ['y'] } },
      ],
    ),
  );
  assert.deepEqual(
    computeMetric('exact_match', {
      predictions: ['Denver Broncos', 'x'],
      references: [['Broncos', 'the Denver Broncos'], 'y'],
    }),
    { exact_match: 50 },
  );
  const nll = [[1, 2], [0.5]];
  const ppl = perplexity(nll);
  const out = computeMetric('perplexity', { predictions: nll });
  assert.equal(out.corpus_perplexity, ppl.corpusPerplexity);
  assert.equal(out.mean_perplexity, ppl.meanPerplexity);
  assert.equal(out.mean_nll, ppl.meanNll);
  const nllScore = computeMetrics(['nll'], { predictions: nll }).nll;
  assert.equal(nllScore?.score, 3.5 / 3);
  assert.equal(nllScore?.higherIsBetter, false);
  const texts = ['a b a b a b', 'c d e'];
  const tokens = texts.map((t) => t.split(' '));
  assert.deepEqual(computeMetric('distinct', { predictions: texts }), {
    distinct_1: distinctN(tokens, 1),
    distinct_2: distinctN(tokens, 2),
    distinct: distinctN(tokens, 2),
  });
  assert.deepEqual(computeMetric('rep', { predictions: tokens }, { n: 3 }), {
    rep: meanRepN(tokens, 3),
    rep_3: meanRepN(tokens, 3),
  });
  // METEOR with WordNet off (a documented option): identical 6-token sentences give 1 − 0.5·(1/6)³
  assertClose(
    computeMetric(
      'meteor',
      { predictions: ['the cat sat on the mat'], references: ['the cat sat on the mat'] },
      { wordnet: false },
    ).meteor,
    1 - 0.5 / 216,
  );
});

test('specs: every metric documents its inputs, options, defaults and ranges', () => {
  assert.deepEqual(
    listMetrics().map((m) => m.name),
    METRIC_NAMES,
  );
  for (const metric of listMetrics()) {
    assert.ok(metric.description.length > 10, metric.name);
    for (const option of metric.options) {
      assert.ok(option.description && option.default && option.accepts, `${metric.name}.${option.name}`);
      // declared bounds are the accepted range: inside accepted, just outside refused
      if (option.min !== undefined) assert.equal(option.check(option.min), null, `${metric.name}.${option.name} min`);
      if (option.max !== undefined) {
        assert.equal(option.check(option.max), null, `${metric.name}.${option.name} max`);
        assert.notEqual(option.check(option.max + 1), null, `${metric.name}.${option.name} max + 1`);
      }
    }
  }
  const bleu = getMetricSpec('bleu');
  assert.equal(bleu.predictions, 'text');
  assert.equal(bleu.references, 'reference-texts');
  const order = bleu.options.find((o) => o.name === 'maxNgramOrder');
  assert.deepEqual([order?.min, order?.max, order?.default], [1, 100, '4']);
  assert.equal(getMetricSpec('perplexity').references, null);
  assert.equal(getMetricSpec('rouge').primaryKey({ rougeTypes: ['rouge2'] }), 'rouge2');
  assert.throws(() => getMetricSpec('bleu4'), /unknown metric "bleu4"; known metrics: accuracy, precision/);
});

test('options are checked against type and range before any work', () => {
  assert.throws(
    () => validateMetricOptions('bleu', { maxNgramOrder: 1e9 }),
    /metric bleu: option maxNgramOrder: expected an integer in \[1, 100\], got 1000000000/,
  );
  assert.throws(
    () => validateMetricOptions('chrf', { charOrder: 1e9 }),
    /metric chrf: option charOrder: expected an integer in \[0, 100\]/,
  );
  assert.throws(
    () => validateMetricOptions('chrf', { beta: -1 }),
    /option beta: expected a number in \[0, 1e6\], got -1/,
  );
  assert.throws(
    () => validateMetricOptions('f1', { average: 'mean' }),
    /option average: expected one of "binary", "micro", "macro", "weighted", "samples", null, got "mean"/,
  );
  assert.throws(
    () => validateMetricOptions('accuracy', { average: 'macro' }),
    /metric accuracy has no option "average"; its options are: normalize/,
  );
  assert.throws(() => validateMetricOptions('rouge', { rougeTypes: ['rouge10'] }), /option rougeTypes/);
  assert.throws(() => validateMetricOptions('distinct', { n: 0 }), /option n: expected an integer in \[1, 100\]/);
  assert.throws(() => validateMetricOptions('perplexity', { base: 1 }), /option base/);
  // the check comes first: a huge order fails fast even on a big input
  const big = Array.from({ length: 1000 }, () => 'a b c');
  assert.throws(
    () => computeMetric('bleu', { predictions: big, references: big }, { maxNgramOrder: 1e9 }),
    /maxNgramOrder/,
  );
  validateMetricOptions('bleu', { maxNgramOrder: 100, smoothMethod: 'floor', smoothValue: 0.2 });
});

test('inputs: parallel arrays, typed items named by index or by the caller', () => {
  assert.throws(
    () => computeMetric('accuracy', { predictions: [1, 0], references: [1] }),
    /accuracy: 2 predictions but 1 references/,
  );
  assert.throws(
    () => computeMetric('accuracy', { predictions: [1, 0] }),
    /accuracy: inputs.references must be an array/,
  );
  assert.throws(
    () => computeMetric('rep', { predictions: ['a'], references: ['a'] }),
    /rep: this metric reads no references/,
  );
  assert.throws(
    () => computeMetric('accuracy', { predictions: [1, null], references: [1, 0] }),
    /accuracy: predictions\[1\]: expected a class label \(finite number, string or boolean\), got null/,
  );
  assert.throws(
    () => computeMetric('mae', { predictions: [1, NaN], references: [1, 0] }),
    /mae: predictions\[1\]: expected a finite number, got NaN/,
  );
  assert.throws(
    () => computeMetric('seqeval', { predictions: [['O'], 'O'], references: [['O'], ['O']] }),
    /seqeval: predictions\[1\]: expected a tag sequence/,
  );
  assert.throws(
    () =>
      computeMetric(
        'bleu',
        { predictions: ['a', 'b'], references: ['a', []] },
        {},
        { describeItem: (side, i) => `refs.jsonl line ${i + 1} (${side})` },
      ),
    /refs.jsonl line 2 \(references\): expected a string or a non-empty array of strings, got \[\]/,
  );
});

test('bootstrapMetric: summed statistics equal rescoring; resamples are bounded', () => {
  const predictions = ['Denver Broncos', 'Carolina', 'the Panthers', 'Santa Clara', 'Levi Stadium'];
  const references = [
    ['Denver Broncos'],
    ['Carolina Panthers'],
    ['Panthers'],
    ['Santa Clara, California'],
    ['Stadium'],
  ];
  const viaRegistry = bootstrapMetric('squad', { predictions, references }, {}, { nSamples: 200, seed: 3 });
  const direct = bootstrapCi(
    (p: string[], r: string[][]) =>
      squadEvaluate(
        p.map((t, i) => ({ id: String(i), prediction_text: t })),
        r.map((text, i) => ({ id: String(i), answers: { text } })),
      ).f1,
    predictions,
    references,
    { nSamples: 200, seed: 3 },
  );
  assert.equal(viaRegistry.of, 'f1');
  for (const key of ['score', 'low', 'high', 'mean', 'std'] as const) assertClose(viaRegistry[key], direct[key]);
  // a metric without sufficient statistics is rescored: same seed, same draws
  const labels = bootstrapMetric(
    'f1',
    { predictions: [1, 0, 1, 1, 0], references: [1, 0, 0, 1, 1] },
    {},
    { nSamples: 50, seed: 9 },
  );
  const labelsDirect = bootstrapCi((p: number[], r: number[]) => f1Score(r, p), [1, 0, 1, 1, 0], [1, 0, 0, 1, 1], {
    nSamples: 50,
    seed: 9,
  });
  for (const key of ['score', 'low', 'high', 'mean'] as const) assertClose(labels[key], labelsDirect[key]);
  assert.throws(
    () => bootstrapMetric('squad', { predictions, references }, {}, { nSamples: MAX_BOOTSTRAP_SAMPLES + 1 }),
    /bootstrap nSamples must be an integer in \[1, 10000\], got 10001/,
  );
  assert.throws(
    () => bootstrapMetric('squad', { predictions, references }, {}, { nSamples: 1e12 }),
    /bootstrap nSamples/,
  );
});
