/**
 * Bootstrap confidence intervals and paired significance tests: determinism, statistical sanity,
 * and agreement with closed forms where they exist.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  approximateRandomization,
  bootstrapCi,
  pairedBootstrap,
  seededRandom,
} from '../../src/metrics/significance.js';
import { accuracyScore } from '../../src/metrics/classification.js';

const accuracy = (p: number[], r: number[]) => accuracyScore(r, p);

/** A reference of n labels and a system that gets a `rate` fraction right (deterministic). */
function system(n: number, rate: number, seed: number): { refs: number[]; preds: number[] } {
  const rng = seededRandom(seed);
  const refs = Array.from({ length: n }, () => rng.integer(2));
  const preds = refs.map((r) => (rng.nextUint32() / 2 ** 32 < rate ? r : 1 - r));
  return { refs, preds };
}

test('seededRandom: deterministic, uniform enough, unbiased range', () => {
  const a = seededRandom(7);
  const b = seededRandom(7);
  const c = seededRandom(8);
  const xs = Array.from({ length: 5 }, () => a.nextUint32());
  assert.deepEqual(
    xs,
    Array.from({ length: 5 }, () => b.nextUint32()),
  );
  assert.notDeepEqual(
    xs,
    Array.from({ length: 5 }, () => c.nextUint32()),
  );
  const counts = new Array<number>(6).fill(0);
  const rng = seededRandom(1);
  for (let i = 0; i < 60000; i++) counts[rng.integer(6)]!++;
  // each face within 5 standard deviations of 10000 (σ ≈ 91)
  for (const k of counts) assert.ok(Math.abs(k - 10000) < 460, `count ${k}`);
  assert.throws(() => seededRandom(1.5), /seed must be an integer/);
  assert.throws(() => rng.integer(0), /integer\(n\) needs/);
});

test('bootstrapCi: contains the point estimate, deterministic given the seed, width ~ binomial', () => {
  const { refs, preds } = system(400, 0.8, 3);
  const ci = bootstrapCi(accuracy, preds, refs, { seed: 42 });
  assert.equal(ci.score, accuracy(preds, refs));
  assert.ok(ci.low <= ci.score && ci.score <= ci.high, JSON.stringify(ci));
  assert.deepEqual(bootstrapCi(accuracy, preds, refs, { seed: 42 }), ci);
  assert.notDeepEqual(bootstrapCi(accuracy, preds, refs, { seed: 43 }), ci);
  // the bootstrap distribution of a mean has sd ≈ √(p(1−p)/n); the 95% interval ≈ ±1.96 sd
  const sd = Math.sqrt((ci.score * (1 - ci.score)) / 400);
  assert.ok(Math.abs(ci.std - sd) < 0.15 * sd, `std ${ci.std} vs ${sd}`);
  assert.ok(Math.abs(ci.high - ci.low - 2 * 1.96 * sd) < 0.2 * 2 * 1.96 * sd);
  assert.equal(ci.nSamples, 1000);
  // a wider confidence gives a wider interval
  const ci99 = bootstrapCi(accuracy, preds, refs, { seed: 42, confidence: 0.99 });
  assert.ok(ci99.low <= ci.low && ci99.high >= ci.high);
  // constant metric → degenerate interval
  const allRight = bootstrapCi(accuracy, refs, refs, { nSamples: 50 });
  assert.deepEqual([allRight.low, allRight.high, allRight.std], [1, 1, 0]);
});

test('bootstrapCi: NaN resamples are dropped, all-NaN raises', () => {
  const values = [0, 1, 2, 3, 4];
  // NaN whenever item 0 is drawn: P(no 0 in 5 draws) = (4/5)^5 ≈ 0.33 of the resamples remain
  const ci = bootstrapCi(
    (p: number[]) => (p.includes(0) ? NaN : p.reduce((a, b) => a + b) / p.length),
    values,
    values,
    { nSamples: 1000 },
  );
  assert.ok(ci.nSamples > 250 && ci.nSamples < 420, `kept ${ci.nSamples}`);
  assert.ok(ci.low >= 1 && ci.high <= 4);
  assert.throws(() => bootstrapCi(() => NaN, values, values, { nSamples: 10 }), /NaN on every resample/);
});

test('bootstrapCi: input validation', () => {
  assert.throws(() => bootstrapCi(accuracy, [], []), /needs at least one item/);
  assert.throws(() => bootstrapCi(accuracy, [1, 0], [1]), /references has 1 items but predictions have 2/);
  assert.throws(() => bootstrapCi(accuracy, [1], [1], { nSamples: 0 }), /nSamples must be a positive integer/);
  assert.throws(() => bootstrapCi(accuracy, [1], [1], { confidence: 1 }), /confidence must be in \(0, 1\)/);
});

test('pairedBootstrap and approximateRandomization: identical systems give p = 1', () => {
  const { refs, preds } = system(200, 0.7, 5);
  const bs = pairedBootstrap(accuracy, preds, preds, refs, { nSamples: 200 });
  assert.equal(bs.pValue, 1);
  assert.equal(bs.difference, 0);
  const ar = approximateRandomization(accuracy, preds, preds, refs, { nSamples: 200 });
  assert.equal(ar.pValue, 1);
});

test('paired tests: a much better system is significant, p ≥ 1/(N+1)', () => {
  const { refs, preds: weak } = system(300, 0.55, 11);
  const strong = refs.map((r, i) => (i % 20 === 0 ? 1 - r : r)); // 95% right
  const bs = pairedBootstrap(accuracy, weak, strong, refs, { nSamples: 500, seed: 1 });
  assert.ok(bs.pValue < 0.01, `p = ${bs.pValue}`);
  assert.equal(bs.pValue, 1 / 501); // no resample reaches the observed gap
  assert.ok(bs.difference > 0.3);
  const ar = approximateRandomization(accuracy, weak, strong, refs, { nSamples: 500, seed: 1 });
  assert.ok(ar.pValue < 0.01, `p = ${ar.pValue}`);
  assert.equal(ar.scoreB, accuracy(strong, refs));
});

test('paired tests: systems differing on one item are not significant; results are seeded', () => {
  const { refs, preds: a } = system(300, 0.7, 13);
  const b = [...a];
  b[0] = 1 - b[0]!;
  const bs = pairedBootstrap(accuracy, a, b, refs, { nSamples: 300, seed: 9 });
  assert.ok(bs.pValue > 0.2, `p = ${bs.pValue}`);
  assert.deepEqual(pairedBootstrap(accuracy, a, b, refs, { nSamples: 300, seed: 9 }), bs);
  const ar = approximateRandomization(accuracy, a, b, refs, { nSamples: 1000, seed: 9 });
  // Exact answer: only the flip of item 0 matters, |diff| keeps the observed size in every trial
  assert.equal(ar.pValue, 1);
  assert.deepEqual(approximateRandomization(accuracy, a, b, refs, { nSamples: 1000, seed: 9 }), ar);
  assert.throws(
    () => pairedBootstrap(accuracy, a, b.slice(1), refs),
    /predictionsB has 299 items but predictions have 300/,
  );
});

test('approximateRandomization: p-value matches the exact permutation test on a tiny case', () => {
  // 3 items where A is right and B wrong, 1 the other way, 2 ties. Under the null each of the 4
  // discordant items swaps independently, so the count difference S is a sum of 4 random signs:
  // P(|S| ≥ 2) = P(S = ±2) + P(S = ±4) = (4 + 4 + 1 + 1)/16 = 0.625.
  const refs = [1, 1, 1, 1, 1, 1];
  const a = [1, 1, 1, 0, 1, 0];
  const b = [0, 0, 0, 1, 1, 0];
  const ar = approximateRandomization(accuracy, a, b, refs, { nSamples: 20000, seed: 3 });
  assert.ok(Math.abs(ar.pValue - 0.625) < 0.015, `p = ${ar.pValue}`);
});
