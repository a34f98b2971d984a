/** Token classification in the trainer: collator on hand-made features, a tiny train() whose loss falls, seqeval evaluation. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BertForTokenClassification } from '../../src/models/bert.js';
import {
  collateTokenClassification,
  evaluate,
  predictTokenClassification,
  tokenClassificationLoss,
  tokenClassificationMetrics,
  train,
  type TaggedSentence,
} from '../../src/train/index.js';
import {
  alignLabelsWithTokens,
  buildLabelMap,
  type TokenClassificationFeature,
} from '../../src/train/tasks/token-classification.js';
import { bertConfig } from '../helpers/tiny-models.js';

const feature = (
  ids: number[],
  wordIds: (number | null)[],
  wordLabels: number[] | null,
): TokenClassificationFeature => ({
  inputIds: ids,
  attentionMask: ids.map(() => 1),
  tokenTypeIds: ids.map(() => 0),
  wordIds,
  labels: wordLabels === null ? [] : alignLabelsWithTokens(wordIds, wordLabels),
});

test('collateTokenClassification: right padding, -100 on pads and later sub-tokens, count = labelled tokens (hand-made)', () => {
  const a = feature([101, 7, 8, 9, 102], [null, 0, 0, 1, null], [2, 0]); // word 0 split in two
  const b = feature([101, 5, 102], [null, 0, null], [1]);
  const batch = collateTokenClassification([a, b], { padTokenId: 0 });
  assert.equal(batch.seqLen, 5);
  assert.deepEqual([...batch.inputIds], [101, 7, 8, 9, 102, 101, 5, 102, 0, 0]);
  assert.deepEqual([...batch.attentionMask], [1, 1, 1, 1, 1, 1, 1, 1, 0, 0]);
  assert.deepEqual([...batch.labels], [-100, 2, -100, 0, -100, -100, 1, -100, -100, -100]);
  assert.equal(batch.count, 3);
  assert.equal(batch.tokens, 8);
  assert.equal(collateTokenClassification([b], { padTokenId: 0, padToMultipleOf: 4 }).seqLen, 4);
  // Prediction-time features (no labels): all -100, nothing counted.
  const p = collateTokenClassification([feature([101, 5, 102], [null, 0, null], null)], { padTokenId: 0 });
  assert.deepEqual([...p.labels], [-100, -100, -100]);
  assert.equal(p.count, 0);
  assert.throws(
    () => collateTokenClassification([{ ...a, labels: [1, 2] }], { padTokenId: 0 }),
    /feature 0 has 5 ids but 2 labels/,
  );
  assert.throws(() => collateTokenClassification([], { padTokenId: 0 }), /no features/);
});

function tinyTagger(numLabels: number, seed = 3): BertForTokenClassification {
  const id2label = Object.fromEntries(Array.from({ length: numLabels }, (_, i) => [i, `L${i}`]));
  const json = {
    architectures: ['BertForTokenClassification'],
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
    id2label,
  };
  return new BertForTokenClassification(bertConfig(json), { seed, configJson: json });
}

test('token classification: a tiny train() lowers the loss and seqeval reaches F1 1 on a learnable rule', () => {
  // Rule: words with ids 10..14 are PER entities (B-PER, then I-PER for a following id 10..14), others O.
  const labelMap = buildLabelMap([['O', 'B-PER', 'I-PER']], ['O', 'B-PER', 'I-PER']);
  const sentences: TaggedSentence[] = [];
  let s = 7;
  const rand = (n: number): number => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s % n;
  };
  for (let k = 0; k < 24; k++) {
    const n = 3 + rand(4);
    const ids: number[] = [];
    const tags: string[] = [];
    for (let w = 0; w < n; w++) {
      const id = 5 + rand(15);
      ids.push(id);
      tags.push(id >= 10 && id <= 14 ? (tags[w - 1] === 'O' || w === 0 ? 'B-PER' : 'I-PER') : 'O');
    }
    const wordIds = [null, ...ids.map((_, i) => i), null];
    const f = feature(
      [1, ...ids, 2],
      wordIds,
      tags.map((t) => labelMap.labelToId.get(t) ?? 0),
    );
    sentences.push({ words: ids.map(String), tags, feature: f });
  }
  const model = tinyTagger(3);
  model.freeze(false);
  const collate = (e: TaggedSentence[]) =>
    collateTokenClassification(
      e.map((x) => x.feature),
      { padTokenId: 0 },
    );
  const before = evaluate(model, sentences, { collate, loss: tokenClassificationLoss, batchSize: 8 }).loss;
  const r = train({
    model,
    args: { batchSize: 8, maxSteps: 60, learningRate: 3e-3, progress: 'none' },
    train: sentences,
    collate,
    loss: tokenClassificationLoss,
  });
  const after = evaluate(model, sentences, { collate, loss: tokenClassificationLoss, batchSize: 8 }).loss;
  assert.equal(r.steps, 60);
  assert.ok(after < before / 4, `loss ${before} -> ${after}`);
  model.train();
  const m = tokenClassificationMetrics(model, sentences, labelMap, { padTokenId: 0 });
  assert.ok(m.overall_f1! > 0.95, `f1 ${m.overall_f1}`);
  assert.equal(model.training, true, 'metrics restore training mode');
  // Predictions go back to word tags: the first token of each word.
  const preds = predictTokenClassification(
    model.eval(),
    sentences.slice(0, 2).map((x) => x.feature),
    [sentences[0]!.words.length, sentences[1]!.words.length],
    labelMap,
    { padTokenId: 0, batchSize: 1 },
  );
  assert.deepEqual(
    preds.map((p) => p.length),
    [sentences[0]!.words.length, sentences[1]!.words.length],
  );
});
