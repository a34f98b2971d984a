/** Extractive QA in the trainer: collator on hand-made features, a tiny train() whose loss falls, SQuAD evaluation. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BertForQuestionAnswering } from '../../src/models/bert.js';
import {
  collateQa,
  evaluate,
  evaluateQa,
  metricIntervals,
  qaEvalMetrics,
  qaLogits,
  qaLoss,
  registryMetrics,
  train,
  type QaExample,
  type QaFeature,
} from '../../src/train/index.js';
import { bertConfig } from '../helpers/tiny-models.js';

const LETTERS = 'abcdefghijklmnopqrstuvwxyz';

/** `[CLS] q [SEP] context [SEP]` over single-letter words; word k of the context spans chars [2k, 2k+1]. */
function feature(exampleIndex: number, contextIds: number[], answerWord: number | null, firstWord = 0): QaFeature {
  const inputIds = [1, 3, 2, ...contextIds, 2];
  const offsets: ([number, number] | null)[] = [
    null,
    null,
    null,
    ...contextIds.map((_, k): [number, number] => [2 * (firstWord + k), 2 * (firstWord + k) + 1]),
    null,
  ];
  const pos = answerWord === null ? 0 : 3 + answerWord - firstWord;
  return {
    exampleIndex,
    inputIds,
    attentionMask: inputIds.map(() => 1),
    tokenTypeIds: inputIds.map((_, t) => (t < 3 ? 0 : 1)),
    offsets,
    startPosition: pos,
    endPosition: pos,
    clsIndex: 0,
  };
}

test('collateQa: right padding, positions per feature, count = features (hand-made)', () => {
  const b = collateQa([feature(0, [5, 6, 7], 1), feature(1, [8], null)], { padTokenId: 0 });
  assert.equal(b.seqLen, 7);
  assert.deepEqual([...b.inputIds], [1, 3, 2, 5, 6, 7, 2, 1, 3, 2, 8, 2, 0, 0]);
  assert.deepEqual([...b.attentionMask], [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0]);
  assert.deepEqual([...b.tokenTypeIds], [0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 1, 1, 0, 0]);
  assert.deepEqual([...b.startPositions], [4, 0]);
  assert.deepEqual([...b.endPositions], [4, 0]);
  assert.equal(b.count, 2);
  assert.equal(b.tokens, 12);
  assert.equal(collateQa([feature(1, [8], null)], { padTokenId: 0, padToMultipleOf: 8 }).seqLen, 8);
  assert.throws(
    () => collateQa([{ ...feature(0, [5], 0), endPosition: 9 }], { padTokenId: 0 }),
    /feature 0: endPosition 9 is outside its 5 tokens/,
  );
});

function tinyReader(seed = 5): BertForQuestionAnswering {
  const json = {
    architectures: ['BertForQuestionAnswering'],
    model_type: 'bert',
    vocab_size: 30,
    hidden_size: 16,
    num_attention_heads: 2,
    num_hidden_layers: 1,
    intermediate_size: 32,
    max_position_embeddings: 16,
    type_vocab_size: 2,
    hidden_dropout_prob: 0,
    attention_probs_dropout_prob: 0,
    num_labels: 2,
  };
  return new BertForQuestionAnswering(bertConfig(json), { seed, configJson: json });
}

test('question answering: a tiny train() lowers the loss; evaluateQa finds the answers across windows (exact match)', () => {
  // The answer is the word with id 20 ("the marker"); contexts of 5..8 single-letter words.
  const examples: QaExample[] = [];
  const features: QaFeature[] = [];
  let s = 11;
  const rand = (n: number): number => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s % n;
  };
  for (let i = 0; i < 24; i++) {
    const n = 5 + rand(4);
    const at = rand(n);
    const ids = Array.from({ length: n }, (_, k) => (k === at ? 20 : 5 + rand(14)));
    const context = ids.map((_, k) => LETTERS[(i + k) % 26]).join(' ');
    examples.push({
      id: `q${i}`,
      question: '?',
      context,
      answers: { text: [context.slice(2 * at, 2 * at + 1)], answerStart: [2 * at] },
    });
    features.push(feature(i, ids, at));
  }
  const model = tinyReader();
  model.freeze(false);
  const collate = (f: QaFeature[]) => collateQa(f, { padTokenId: 0 });
  const before = evaluate(model, features, { collate, loss: qaLoss, batchSize: 8 }).loss;
  const untrained = evaluateQa(model, examples, features, { padTokenId: 0 });
  train({
    model,
    args: { batchSize: 8, maxSteps: 60, learningRate: 3e-3, progress: 'none' },
    train: features,
    collate,
    loss: qaLoss,
  });
  const after = evaluate(model, features, { collate, loss: qaLoss, batchSize: 8 }).loss;
  assert.ok(after < before / 4, `loss ${before} -> ${after}`);
  model.train();
  const r = evaluateQa(model, examples, features, { padTokenId: 0, batchSize: 5 });
  assert.equal(model.training, true, 'evaluateQa restores training mode');
  assert.ok(
    r.exact_match > 95 && r.exact_match > untrained.exact_match + 30,
    `EM ${untrained.exact_match} -> ${r.exact_match}`,
  );
  assert.equal(r.predictions[0]?.predictionText, examples[0]?.answers?.text[0]);
  // One example split into two windows: the answer comes from the window that holds the marker.
  const ex = examples[0]!;
  const ids = features[0]!.inputIds.slice(3, -1);
  const at = ex.answers!.answerStart[0]! / 2;
  const cut = at > 1 ? at - 1 : at + 1;
  const split =
    at < cut
      ? [feature(0, ids.slice(0, cut), at), feature(0, ids.slice(cut), null, cut)]
      : [feature(0, ids.slice(0, cut), null), feature(0, ids.slice(cut), at, cut)];
  const windows = evaluateQa(model, [ex], split, { padTokenId: 0, variant: 'cmrc2018' });
  assert.equal(windows.predictions[0]?.predictionText, ex.answers!.text[0]);
  assert.equal(windows.exact_match, 100);
  // Logit rows are cut to each feature's own length.
  assert.deepEqual(
    qaLogits(model, split, { padTokenId: 0 }).startLogits.map((row) => row.length),
    split.map((f) => f.inputIds.length),
  );
  assert.throws(
    () => evaluateQa(model, [ex], [feature(3, ids, at)], { padTokenId: 0 }),
    /feature 0 points at example 3, but there are 1/,
  );
});

test('qaEvalMetrics and registryMetrics: the plain values plus evidence that reproduces them (bootstrap intervals around them)', () => {
  const examples: QaExample[] = [];
  const features: QaFeature[] = [];
  for (let i = 0; i < 12; i++) {
    const ids = [5 + (i % 7), 20, 6, 7 + (i % 3), 8];
    const context = ids.map((_, k) => LETTERS[(i + k) % 26]).join(' ');
    examples.push({ id: `q${i}`, question: '?', context, answers: { text: [context.slice(2, 3)], answerStart: [2] } });
    features.push(feature(i, ids, 1));
  }
  const model = tinyReader(9);
  const plain = evaluateQa(model, examples, features, { padTokenId: 0, variant: 'cmrc2018' });
  const withEvidence = qaEvalMetrics(model, examples, features, { padTokenId: 0, variant: 'cmrc2018' });
  assert.deepEqual(withEvidence.values, { exact_match: plain.exact_match, f1: plain.f1 });
  const ci = metricIntervals(withEvidence.values, withEvidence.evidence ?? {}, {
    nSamples: 200,
    confidence: 0.95,
    seed: 1,
  });
  for (const k of ['exact_match', 'f1'] as const) {
    const [lo, hi] = ci[k] ?? [NaN, NaN];
    const v = withEvidence.values[k] ?? NaN;
    assert.ok(lo <= v && v <= hi, `${k}: ${lo} <= ${v} <= ${hi}`);
  }
  // Evidence that does not reproduce the logged value is refused.
  assert.throws(
    () => metricIntervals({ f1: 99 }, { f1: withEvidence.evidence!.f1! }, { nSamples: 10, confidence: 0.95, seed: 1 }),
    /logged 99, but its evidence \(squad\) scores/,
  );
  const labels = registryMetrics(['accuracy', { metric: 'f1', options: { average: 'macro' }, as: 'macro_f1' }], {
    predictions: [0, 1, 1, 0, 2],
    references: [0, 1, 0, 0, 2],
  });
  assert.equal(labels.values.accuracy, 4 / 5);
  // macro F1 by hand: class 0 P 1 R 2/3 -> 0.8; class 1 P 1/2 R 1 -> 2/3; class 2 -> 1.
  assert.ok(Math.abs((labels.values.macro_f1 ?? NaN) - (0.8 + 2 / 3 + 1) / 3) < 1e-12);
  assert.equal(labels.evidence?.macro_f1?.metric, 'f1');
});
