import assert from 'node:assert/strict';
import { test } from 'node:test';

import { perplexity, perplexityFromLogProbs } from '../../src/metrics/perplexity.js';
import { assertClose } from '../helpers/close.js';

test('per-sequence, HF mean and token-weighted corpus perplexity, by hand', () => {
  const result = perplexity(
    [
      [1, 2, 3],
      [0.5, 0.5],
    ],
    {
      mask: [
        [1, 1, 0],
        [true, true],
      ],
    },
  );
  assertClose(result.perplexities[0], Math.exp(1.5));
  assertClose(result.perplexities[1], Math.exp(0.5));
  assert.deepEqual(result.tokenCounts, [2, 2]);
  assertClose(result.meanPerplexity, (Math.exp(1.5) + Math.exp(0.5)) / 2);
  // Σ NLL = 1 + 2 + 0.5 + 0.5 = 4 over 4 tokens
  assertClose(result.corpusPerplexity, Math.exp(1));
  // the two aggregates differ (Jensen): mean of exps ≥ exp of mean
  assert.ok(result.meanPerplexity > result.corpusPerplexity);
  // unequal lengths: the corpus value weights by tokens, HF's mean by sequences
  const unequal = perplexity([[2], [0, 0, 0]]);
  assertClose(unequal.meanPerplexity, (Math.exp(2) + 1) / 2);
  assertClose(unequal.corpusPerplexity, Math.exp(2 / 4));
});

test("reproduces HF evaluate's pipeline: shifted logits/labels and the shifted attention mask", () => {
  // Two padded sequences over a 3-token vocabulary; logits[b][t] predict input_ids[b][t + 1].
  const logits = [
    [
      [2.0, 0.5, -1.0],
      [0.1, 0.2, 0.3],
      [1.0, 1.0, 1.0],
      [0.0, 3.0, 0.0],
    ],
    [
      [0.3, -0.2, 1.5],
      [2.5, 0.0, 0.5],
      [9.0, 9.0, 9.0],
      [9.0, 9.0, 9.0],
    ],
  ];
  const inputIds = [
    [0, 1, 2, 1],
    [2, 0, 0, 0],
  ];
  const attentionMask = [
    [1, 1, 1, 1],
    [1, 1, 1, 0],
  ];
  const logSoftmax = (row: number[]): number[] => {
    const max = Math.max(...row);
    const logZ = max + Math.log(row.reduce((s, x) => s + Math.exp(x - max), 0));
    return row.map((x) => x - logZ);
  };
  // HF: loss(shift_logits = logits[:, :-1], shift_labels = input_ids[:, 1:]) * attention_mask[:, 1:]
  const label = (b: number, t: number): number => inputIds[b]?.[t] ?? NaN;
  const nll = logits.map((seq, b) => seq.slice(0, -1).map((row, t) => -(logSoftmax(row)[label(b, t + 1)] ?? NaN)));
  const mask = attentionMask.map((row) => row.slice(1));
  const result = perplexity(nll, { mask });
  // Independent form: perplexity = (Π p)^(−1/N) with p = softmax probability of each scored label.
  const softmax = (row: number[]): number[] => {
    const exps = row.map((x) => Math.exp(x));
    const z = exps.reduce((a, b) => a + b, 0);
    return exps.map((e) => e / z);
  };
  const expected = logits.map((seq, b) => {
    let product = 1;
    let count = 0;
    seq.slice(0, -1).forEach((row, t) => {
      if (!attentionMask[b]?.[t + 1]) return;
      product *= softmax(row)[label(b, t + 1)] ?? NaN;
      count += 1;
    });
    return product ** (-1 / count);
  });
  assert.equal(result.perplexities.length, 2);
  assertClose(result.perplexities, expected);
  assert.deepEqual(result.tokenCounts, [3, 2]);
  assertClose(result.meanPerplexity, ((expected[0] ?? NaN) + (expected[1] ?? NaN)) / 2);
});

test('log-probabilities and other log bases', () => {
  const fromLogProbs = perplexityFromLogProbs([[Math.log(0.5), Math.log(0.25)]]);
  // (0.5 · 0.25)^(−1/2) = √8
  assertClose(fromLogProbs.perplexities[0], Math.sqrt(8));
  // NLLs in bits: 1 bit per token → perplexity 2
  assertClose(perplexity([[1, 1, 1]], { base: 2 }).perplexities[0], 2);
  assertClose(perplexity([[Math.LN2]]).perplexities[0], 2);
  assert.equal(perplexity([[0, 0]]).perplexities[0], 1);
});

test('edge cases: fully masked sequence and empty input give NaN, masked entries are never read', () => {
  const masked = perplexity([[1, 2], [3]], { mask: [[0, 0], [1]] });
  // HF: 0 / 0 → exp(nan) = nan, and np.mean propagates it
  assert.ok(Number.isNaN(masked.perplexities[0]));
  assert.ok(Number.isNaN(masked.meanPerplexity));
  assertClose(masked.corpusPerplexity, Math.exp(3));
  const empty = perplexity([]);
  assert.deepEqual(empty.perplexities, []);
  assert.ok(Number.isNaN(empty.meanPerplexity));
  assert.ok(Number.isNaN(empty.corpusPerplexity));
  // padding positions may hold -Infinity log-probs when masked
  assertClose(perplexityFromLogProbs([[-1, -Infinity]], { mask: [[1, 0]] }).perplexities[0], Math.E);
  // an unmasked NaN propagates like torch.exp(nan)
  assert.ok(Number.isNaN(perplexity([[Number.NaN, 1]]).perplexities[0]));
  // a zero-probability token gives infinite perplexity
  assert.equal(perplexity([[Infinity]]).perplexities[0], Infinity);
});

test('invalid input raises a clear error', () => {
  assert.throws(() => perplexity([[1, 2]], { mask: [[1]] }), /mask\[0\] should have 2 entries like nll\[0\], got 1/);
  assert.throws(() => perplexity([[1]], { mask: [] }), /mask should have one row per sequence \(1\), got 0/);
  assert.throws(() => perplexity([[1]], { mask: [[0.5]] }), /mask\[0\]\[0\] must be 0, 1, true or false, got 0.5/);
  assert.throws(() => perplexity([[1, -0.1]]), /nll\[0\]\[1\] must be a non-negative number/);
  assert.throws(() => perplexity([[1]], { base: 1 }), /base must be a finite number > 0 and ≠ 1/);
  assert.throws(() => perplexity('x' as unknown as number[][]), /nll should be an array/);
});

test("meanNll: the token-weighted mean NLL (a trainer's eval loss), beside perplexity", () => {
  // torch CrossEntropyLoss(reduction='mean', ignore_index=-100) over the flattened, shifted labels
  // is Σ −log softmax(logits)[label] / (number of labels ≠ −100): written out here as a float64 loop.
  const logits = [
    [
      [2.0, 0.5, -1.0],
      [0.1, 0.2, 0.3],
      [1.0, 1.0, 1.0],
    ],
    [
      [0.3, -0.2, 1.5],
      [2.5, 0.0, 0.5],
      [9.0, 9.0, 9.0],
    ],
  ];
  const labels = [
    [1, 2, -100],
    [0, -100, -100],
  ];
  let lossSum = 0;
  let lossCount = 0;
  const nll: number[][] = [];
  const mask: number[][] = [];
  logits.forEach((seq, b) => {
    nll.push([]);
    mask.push([]);
    seq.forEach((row, t) => {
      const label = labels[b]?.[t] ?? -100;
      let z = 0;
      for (const x of row) z += Math.exp(x);
      const value = label === -100 ? 0 : Math.log(z) - (row[label] ?? NaN);
      nll[b]?.push(value);
      mask[b]?.push(label === -100 ? 0 : 1);
      if (label !== -100) {
        lossSum += value;
        lossCount += 1;
      }
    });
  });
  const result = perplexity(nll, { mask });
  assertClose(result.meanNll, lossSum / lossCount);
  assertClose(result.corpusPerplexity, Math.exp(lossSum / lossCount));
  assertClose(result.sequenceNlls, [((nll[0]?.[0] ?? NaN) + (nll[0]?.[1] ?? NaN)) / 2, nll[1]?.[0] ?? NaN]);
  assert.deepEqual(result.tokenCounts, [2, 1]);
  // in bits: the NLLs' own base, and 2^meanNll is the corpus perplexity
  const bits = perplexity([[1, 3]], { base: 2 });
  assert.equal(bits.meanNll, 2);
  assertClose(bits.corpusPerplexity, 4);
  // no scored token: NaN, as the perplexities
  assert.ok(Number.isNaN(perplexity([[5]], { mask: [[0]] }).meanNll));
});
