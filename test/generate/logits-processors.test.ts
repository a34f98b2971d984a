/**
 * Logits processors against values computed by hand from the published formulas (transformers'
 * logits_process.py docstrings, CTRL, OpenAI's penalty formula), and the sampler's distribution.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  argmax,
  frequencyPresencePenalty,
  minP,
  noRepeatNgram,
  processLogits,
  repetitionPenalty,
  sample,
  softmax,
  suppressTokens,
  temperature,
  topK,
  topP,
} from '../../src/generate/logits-processors.js';
import { Rng } from '../../src/tensor/random.js';
import { assertClose } from '../helpers/close.js';

const NEG = -Infinity;
const f32 = (xs: number[]): Float32Array => Float32Array.from(xs);
/** Logits whose softmax is exactly the given probabilities (up to float32 rounding of the logs). */
const fromProbs = (ps: number[]): Float32Array => Float32Array.from(ps.map(Math.log));
/** Ids that survived a filter. */
const kept = (x: Float32Array): number[] => [...x].flatMap((v, i) => (v === NEG ? [] : [i]));

test('repetitionPenalty: divides positive, multiplies negative logits of each distinct seen id', () => {
  const logits = f32([2, -1, 0.5, -3, 4, 0]);
  // ids 1 (twice), 3 and 5 were seen: -1*2, -3*2, 0 stays 0; the repeat of id 1 is penalised once.
  assertClose(repetitionPenalty(logits, [1, 3, 1, 5], 2), [2, -2, 0.5, -6, 4, 0], { atol: 1e-6 });
  // penalty < 1 rewards repetition: 4/0.5 = 8, -3*0.5 = -1.5
  assertClose(repetitionPenalty(logits, [4, 3], 0.5), [2, -1, 0.5, -1.5, 8, 0], { atol: 1e-6 });
  // a penalised negative logit becomes less likely, never more (the CTRL asymmetry)
  const p = softmax(repetitionPenalty(logits, [1], 1.3));
  assert.ok(p[1]! < softmax(logits)[1]!);
  assertClose(logits, [2, -1, 0.5, -3, 4, 0], { atol: 1e-6 }); // input untouched
  assert.throws(() => repetitionPenalty(logits, [0], 0), /repetitionPenalty must be a finite number > 0/);
  assert.throws(() => repetitionPenalty(logits, [6], 1.2), /token id 6 is outside the vocabulary \[0, 6\)/);
});

test('frequencyPresencePenalty: logit -= count*frequency + (count>0)*presence over generated ids', () => {
  const logits = f32([1, 1, 1, 1]);
  // counts: id0 1, id2 2 → 1 - 0.5 - 0.25 = 0.25; 1 - 1.0 - 0.25 = -0.25
  assertClose(frequencyPresencePenalty(logits, [2, 2, 0], 0.5, 0.25), [0.25, 1, -0.25, 1], { atol: 1e-6 });
  // negative values encourage repetition
  assertClose(frequencyPresencePenalty(logits, [3], -1, -0.5), [1, 1, 1, 2.5], { atol: 1e-6 });
});

test('noRepeatNgram: bans tokens completing an n-gram already present', () => {
  const z = new Float32Array(6);
  // bigrams (5,1),(1,2),(2,5),(5,1); prefix [1] → 2 completes (1,2)
  assert.deepEqual(kept(noRepeatNgram(z, [5, 1, 2, 5, 1], 2)), [0, 1, 3, 4, 5]);
  // trigram: prefix [1,2] seen followed by 3
  assert.deepEqual(kept(noRepeatNgram(z, [1, 2, 3, 1, 2], 3)), [0, 1, 2, 4, 5]);
  // n = 1 bans every seen token
  assert.deepEqual(kept(noRepeatNgram(z, [4, 0, 4], 1)), [1, 2, 3, 5]);
  // prefix never seen before → nothing banned; history shorter than n - 1 → nothing banned
  assert.deepEqual(kept(noRepeatNgram(z, [1, 2, 3, 4], 2)), [0, 1, 2, 3, 4, 5]);
  assert.deepEqual(kept(noRepeatNgram(z, [4], 3)), [0, 1, 2, 3, 4, 5]);
  assert.throws(() => noRepeatNgram(z, [1], 0), /noRepeatNgramSize must be an integer >= 1/);
});

test('temperature: divides logits; 0 or negative is an error', () => {
  assertClose(temperature(f32([1, 2, -3]), 0.5), [2, 4, -6], { atol: 1e-6 });
  assertClose(temperature(f32([1, 2, -3]), 2), [0.5, 1, -1.5], { atol: 1e-6 });
  assert.throws(() => temperature(f32([1]), 0), /temperature must be a finite number > 0, got 0 \(use greedy/);
  assert.throws(() => temperature(f32([1]), -1), /temperature must be/);
});

test('topK: keeps logits >= the k-th largest (ties kept), k capped at the vocabulary', () => {
  assert.deepEqual(kept(topK(f32([1, 3, 3, 2, 0]), 2)), [1, 2]);
  assert.deepEqual(kept(topK(f32([1, 3, 3, 2, 0]), 3)), [1, 2, 3]);
  // the k-th value (2) is shared by three tokens: all are kept, as `scores < topk(...)[-1]` does
  assert.deepEqual(kept(topK(f32([1, 2, 2, 2, 0]), 2)), [1, 2, 3]);
  // k larger than the vocabulary keeps everything
  assert.deepEqual(kept(topK(f32([1, 2, 0]), 50)), [0, 1, 2]);
  // minTokensToKeep raises k
  assert.deepEqual(kept(topK(f32([5, 1, 4, 3]), 1, 3)), [0, 2, 3]);
  assertClose(topK(f32([5, 1, 4]), 2), [5, NEG, 4], { atol: 1e-6 });
  assert.throws(() => topK(f32([1]), 0), /topK must be an integer >= 1/);
});

test('topP: smallest most-likely set with cumulative probability >= p', () => {
  const logits = fromProbs([0.1, 0.2, 0.3, 0.4]);
  // ascending cumulative: 0.1, 0.3, 0.6, 1.0; removed while <= 1 - p
  assert.deepEqual(kept(topP(logits, 0.65)), [2, 3]); // 0.3 + 0.4 = 0.7 >= 0.65, 0.4 alone is not
  assert.deepEqual(kept(topP(logits, 0.75)), [1, 2, 3]); // 0.9
  assert.deepEqual(kept(topP(logits, 0.3)), [3]);
  assert.deepEqual(kept(topP(logits, 1)), [0, 1, 2, 3]);
  // p = 0 would remove everything: at least minTokensToKeep (1) most likely tokens stay
  assert.deepEqual(kept(topP(logits, 0)), [3]);
  assert.deepEqual(kept(topP(logits, 0, 2)), [2, 3]);
  // kept logits are unchanged (renormalisation happens in the softmax)
  assertClose(topP(logits, 0.65), [NEG, NEG, logits[2]!, logits[3]!], { atol: 1e-6 });
  // equal logits: the stable ascending sort removes lower ids first; 0.25 + 0.25 = 0.5 <= 1 - 0.5
  assert.deepEqual(kept(topP(f32([0, 0, 0, 0]), 0.5)), [2, 3]);
  assert.throws(() => topP(logits, 1.5), /topP must be a number in \[0, 1\]/);
});

test('minP: removes p < minP * p_max', () => {
  const logits = fromProbs([0.5, 0.3, 0.15, 0.05]);
  assert.deepEqual(kept(minP(logits, 0.2)), [0, 1, 2]); // cutoff 0.1
  assert.deepEqual(kept(minP(logits, 0.5)), [0, 1]); // cutoff 0.25
  assert.deepEqual(kept(minP(logits, 0.7)), [0]); // cutoff 0.35
  assert.deepEqual(kept(minP(logits, 0)), [0, 1, 2, 3]);
  assert.deepEqual(kept(minP(logits, 1, 2)), [0, 1]); // minTokensToKeep keeps the runner-up
  assert.throws(() => minP(logits, -0.1), /minP must be a number in \[0, 1\]/);
});

test('softmax, argmax and suppressTokens', () => {
  const p = softmax(f32([0, Math.log(3), NEG]));
  assertClose(p, [0.25, 0.75, 0], { atol: 1e-7 });
  assert.deepEqual([...softmax(f32([NEG, NEG]))], [0, 0]);
  assert.equal(argmax(f32([1, 5, 5, 2])), 1); // first maximum, as torch.argmax
  assert.equal(argmax(f32([NEG, -3, NEG])), 1);
  assert.equal(argmax(f32([2, NaN, 3, 1])), 2); // a NaN never wins (generate rejects NaN logits before)
  assert.equal(argmax(f32([NaN, 3])), 0); // ... nor is it passed: a NaN first entry stays the answer
  assert.deepEqual(kept(suppressTokens(f32([1, 2, 3]), [2])), [0, 1]);
});

test('processLogits: warpers run only when sampling, temperature before top-p, EOS suppressed before minNewTokens', () => {
  const logits = fromProbs([0.1, 0.2, 0.3, 0.4]);
  // temperature 0.5 squares the probabilities: [1, 4, 9, 16] / 30; top-p 0.8 then removes
  // 1/30 and 4/30 (cumulative 5/30 <= 0.2) and keeps 2 tokens. top-p first would keep 3.
  const both = processLogits(logits, [], 0, { doSample: true, temperature: 0.5, topP: 0.8 });
  assert.deepEqual(kept(both), [2, 3]);
  assertClose(softmax(both), [0, 0, 9 / 25, 16 / 25], { atol: 1e-6 });
  assert.deepEqual(kept(processLogits(logits, [], 0, { doSample: true, topP: 0.8 })), [1, 2, 3]);
  // greedy: top-k is a warper and does not apply; repetition penalty does
  assert.deepEqual(kept(processLogits(logits, [], 0, { doSample: false, topK: 1 })), [0, 1, 2, 3]);
  const penalised = processLogits(f32([2, 1]), [0], 1, { repetitionPenalty: 4 });
  assertClose(penalised, [0.5, 1], { atol: 1e-6 });
  // EOS (id 3) suppressed while fewer than 2 tokens were generated
  const history = [0, 1];
  assert.deepEqual(kept(processLogits(logits, history, 1, { minNewTokens: 2, eosTokenIds: [3] })), [0, 1, 2]);
  assert.deepEqual(kept(processLogits(logits, history, 2, { minNewTokens: 2, eosTokenIds: [3] })), [0, 1, 2, 3]);
  // frequency/presence count only the generated part of the history (the last 1 id)
  assertClose(processLogits(f32([0, 0, 0]), [1, 1, 2], 1, { frequencyPenalty: 1 }), [0, 0, -1], { atol: 1e-6 });
  // a top-k larger than the vocabulary is harmless
  assert.deepEqual(kept(processLogits(logits, [], 0, { doSample: true, topK: 1000 })), [0, 1, 2, 3]);
});

test('sample: seeded and reproducible; frequencies match the top-p-renormalised distribution', () => {
  const probs = [0.05, 0.15, 0.2, 0.25, 0.35];
  // top-p 0.9: cumulative ascending 0.05 (<= 0.1, removed), 0.2 (stop) → four tokens, renormalised by 0.95
  const filtered = topP(fromProbs(probs), 0.9);
  assert.deepEqual(kept(filtered), [1, 2, 3, 4]);
  const n = 20000;
  const counts = [0, 0, 0, 0, 0];
  const rng = new Rng(1234);
  for (let i = 0; i < n; i++) counts[sample(filtered, rng)]!++;
  assert.equal(counts[0], 0, 'a removed token is never drawn');
  for (let j = 1; j < 5; j++) {
    const expected = probs[j]! / 0.95;
    const sd = Math.sqrt((expected * (1 - expected)) / n);
    assert.ok(Math.abs(counts[j]! / n - expected) < 4 * sd, `token ${j}: ${counts[j]! / n} vs ${expected}`);
  }
  const draw = (seed: number): number[] => {
    const r = new Rng(seed);
    return Array.from({ length: 50 }, () => sample(filtered, r));
  };
  assert.deepEqual(draw(7), draw(7));
  assert.notDeepEqual(draw(7), draw(8));
  assert.throws(() => sample(f32([NEG, NEG]), new Rng(0)), /every token was filtered out/);
});
