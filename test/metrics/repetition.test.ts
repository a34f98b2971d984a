import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  distinctN,
  longestRepeatedSubstring,
  longestTandemRepeat,
  meanRepN,
  ngramCounts,
  repN,
  sentenceDistinctN,
  type SequenceToken,
} from '../../src/metrics/repetition.js';
import { assertClose } from '../helpers/close.js';

const words = (s: string): string[] => s.split(' ').filter(Boolean);

test('distinct-n over a corpus and per sentence, by hand', () => {
  const corpus = [words('the cat sat'), words('the cat ran')];
  // unigrams: the cat sat ran → 4 distinct of 6
  assert.deepEqual(ngramCounts(corpus, 1), { unique: 4, total: 6 });
  assertClose(distinctN(corpus, 1), 4 / 6);
  // bigrams: "the cat" twice, "cat sat", "cat ran" → 3 of 4 (no bigram spans two sentences)
  assertClose(distinctN(corpus, 2), 3 / 4);
  const perSentence = sentenceDistinctN(corpus, 1);
  assert.deepEqual(perSentence.perSequence, [1, 1]);
  assert.equal(perSentence.mean, 1);
  // a string is taken as code points: "abab" has bigrams ab, ba, ab → 2 / 3
  assertClose(distinctN(['abab'], 2), 2 / 3);
  // token ids; 1 and "1" are different tokens
  assertClose(distinctN([[1, 2, 1, '1']], 1), 3 / 4);
  // empty: defined as 0
  assert.equal(distinctN([], 1), 0);
  assert.equal(distinctN([['a']], 2), 0);
  assert.deepEqual(sentenceDistinctN([], 2), { perSequence: [], mean: 0 });
});

test('rep-n (Welleck et al. 2019 seq-rep-n), by hand', () => {
  // "a b a b a b": bigrams ab ba ab ba ab → 2 unique of 5 → 1 − 2/5
  assertClose(repN(words('a b a b a b'), 2), 1 - 2 / 5);
  assert.equal(repN(words('a b c d'), 1), 0);
  // "the the the the": unigram rep = 1 − 1/4
  assertClose(repN(words('the the the the'), 1), 3 / 4);
  assert.equal(repN([], 4), 0);
  assert.equal(repN(words('a b'), 4), 0);
  // rep-n = 1 − distinct-n for one sequence
  const text = words('i think i think i know what i think');
  for (const n of [1, 2, 3]) assertClose(repN(text, n), 1 - distinctN([text], n));
  assertClose(meanRepN([words('a a'), words('a b')], 1), (0.5 + 0) / 2);
  assert.equal(meanRepN([], 2), 0);
  assert.throws(() => repN(['a'], 0), /repN: n must be a positive integer, got 0/);
  assert.throws(() => distinctN([['a']], 1.5), /n must be a positive integer/);
});

/** Brute force: the longest contiguous slice occurring twice (earliest first occurrence on ties). */
function bruteLongestRepeat(
  tokens: readonly SequenceToken[],
): { length: number; start: number; starts: number[] } | null {
  for (let length = tokens.length - 1; length >= 1; length--) {
    for (let start = 0; start + length <= tokens.length; start++) {
      const key = JSON.stringify(tokens.slice(start, start + length));
      const starts: number[] = [];
      for (let s = 0; s + length <= tokens.length; s++)
        if (JSON.stringify(tokens.slice(s, s + length)) === key) starts.push(s);
      if (starts.length >= 2) return { length, start, starts };
    }
  }
  return null;
}

/** Deterministic pseudo-random generator (LCG) for reproducible test inputs. */
function lcg(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

test('longest repeated substring, by hand and against brute force', () => {
  assert.deepEqual(longestRepeatedSubstring('banana'), { length: 3, start: 1, starts: [1, 3], value: 'ana' });
  // overlapping occurrences count: "aaaa" repeats "aaa" at 0 and 1
  assert.deepEqual(longestRepeatedSubstring('aaaa'), { length: 3, start: 0, starts: [0, 1], value: 'aaa' });
  assert.equal(longestRepeatedSubstring('abc'), null);
  assert.equal(longestRepeatedSubstring(''), null);
  assert.equal(longestRepeatedSubstring([]), null);
  // code points: an astral character is one token
  assert.deepEqual(longestRepeatedSubstring('😀x😀'), { length: 1, start: 0, starts: [0, 2], value: '😀' });
  const parrot = words('Q : what is it ? A : it is a cat . what is it ? A : it is a cat .');
  const found = longestRepeatedSubstring(parrot)!;
  assert.equal(found.length, 11);
  assert.deepEqual(found.value, words('what is it ? A : it is a cat .'));
  assert.deepEqual(found.starts, [2, 13]);
  const random = lcg(7);
  for (let trial = 0; trial < 200; trial++) {
    const length = Math.floor(random() * 24);
    const alphabet = 1 + Math.floor(random() * 4);
    const tokens = Array.from({ length }, () => Math.floor(random() * alphabet));
    const expected = bruteLongestRepeat(tokens);
    const actual = longestRepeatedSubstring(tokens);
    if (expected === null) {
      assert.equal(actual, null, JSON.stringify(tokens));
    } else {
      assert.equal(actual?.length, expected.length, JSON.stringify(tokens));
      assert.equal(actual?.start, expected.start, JSON.stringify(tokens));
      assert.deepEqual(actual?.starts, expected.starts, JSON.stringify(tokens));
    }
  }
});

/** Brute force: maximise k·p over (start, p, k ≥ 2) with k consecutive copies; ties → smaller p, then earlier start. */
function bruteTandem(tokens: readonly SequenceToken[]): { start: number; period: number; repeats: number } | null {
  let best: { start: number; period: number; repeats: number } | null = null;
  for (let period = 1; 2 * period <= tokens.length; period++) {
    for (let start = 0; start + 2 * period <= tokens.length; start++) {
      let repeats = 1;
      while (start + (repeats + 1) * period <= tokens.length) {
        let same = true;
        for (let t = 0; t < period; t++) if (tokens[start + t] !== tokens[start + repeats * period + t]) same = false;
        if (!same) break;
        repeats++;
      }
      if (repeats >= 2 && (best === null || repeats * period > best.repeats * best.period))
        best = { start, period, repeats };
    }
  }
  return best;
}

test('longest tandem repeat ("the parrot"), by hand and against brute force', () => {
  assert.deepEqual(longestTandemRepeat(words('so I am I am I am done')), {
    start: 1,
    period: 2,
    repeats: 3,
    length: 6,
    unit: ['I', 'am'],
  });
  assert.deepEqual(longestTandemRepeat(words('the the the cat')), {
    start: 0,
    period: 1,
    repeats: 3,
    length: 3,
    unit: ['the'],
  });
  // equal coverage: "a a b b" → period 1 at 0 (first), not at 2
  assert.deepEqual(longestTandemRepeat('aabb'), { start: 0, period: 1, repeats: 2, length: 2, unit: 'a' });
  // a partial trailing copy is not counted: "abcabcab" = 2 whole copies of "abc"
  assert.deepEqual(longestTandemRepeat('abcabcab'), { start: 0, period: 3, repeats: 2, length: 6, unit: 'abc' });
  assert.equal(longestTandemRepeat('abcd'), null);
  assert.equal(longestTandemRepeat([]), null);
  // maxPeriod limits the unit length
  assert.equal(longestTandemRepeat('abcabc', { maxPeriod: 2 }), null);
  assert.throws(() => longestTandemRepeat('aa', { maxPeriod: 0 }), /maxPeriod must be a positive integer/);
  const random = lcg(11);
  for (let trial = 0; trial < 300; trial++) {
    const length = Math.floor(random() * 20);
    const alphabet = 1 + Math.floor(random() * 3);
    const tokens = Array.from({ length }, () => Math.floor(random() * alphabet));
    const expected = bruteTandem(tokens);
    const actual = longestTandemRepeat(tokens);
    if (expected === null) assert.equal(actual, null, JSON.stringify(tokens));
    else
      assert.deepEqual(
        { start: actual?.start, period: actual?.period, repeats: actual?.repeats },
        expected,
        JSON.stringify(tokens),
      );
  }
});
