import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BootstrapAggregator,
  RougeScorer,
  lcsIndices,
  lcsLength,
  linearPercentile,
  rougeCompute,
  rougeTokenize,
  summaryLevelLcs,
  type RougeScore,
} from '../../src/metrics/rouge.js';
import { assertClose as close } from '../helpers/close.js';

/** Equal within 1e-9 relative (or exactly 0). */

function closeScore(actual: RougeScore | undefined, precision: number, recall: number, message = ''): void {
  assert.ok(actual, `${message}: missing score`);
  close(actual.precision, precision, `${message} precision`);
  close(actual.recall, recall, `${message} recall`);
  const f = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
  close(actual.fmeasure, f, `${message} fmeasure`);
}

// rouge-score's own test data (google-research/rouge/testdata/target.txt and prediction.txt,
// lines 0 and 1; pyrouge_files/target_multi.0.txt and prediction_multi.0.txt): random strings.
const T0 =
  "ZfbCUIUuePaiLVUlCaUXxkpu XPeWing tUHfPMuZ',-Xd Y BrUgVJing M-HV.-DgdDaY.rFDJCRing Ht-LM EKBDXkME,yz'RBr q'wtion wIojNbN wL,b .a-'XdQggyFl jB-RPP'iyOIcUxer tKM L\n";
const T1 =
  "KsJdPByEtAor fE-Qg Dpdbring cw-WeFyu vC MoBL Xdn g wkvcEiGvKtion BDFhrpMtion psing sbKao Q m qiing LMmer HqqLFXe,XPY,J XsurkMer ,ed nB'wH'bWVHjWFEing tQ.saefZwJtKrTlixYpMMsJing UCAPwNHeYVjDing c T BUySKtion gMPfJpwGw p'NvxAoping eu pBwMBKV'I DNxqelhu,PHPxDEq,mtion SN\n";
const P0 = "rFDJCRtion Ht-LM EKtDXkME,yz'RBr q'wer wrojNbN wL,b .a-'XdQggyFl jB-RPP'iyOIcUxi\n";
const P1 =
  "n cw-WeFyu vC MoBL Xdn g wkvcEiGvKtion BDFhrpMer pstion sbKao Q m qier LMmed HqqLFXe,XPY,J XsurkMeo ,ed nB'wH'bWVHjWFEer tQ.saefZwJtKrTlixYpMMNJtion UCAPwNHeYVjD\n";
const TARGET_MULTI =
  T0 +
  T1.trimEnd() +
  "\nNhETebUbBk'er WOvoHMTjSRizKgH'vHiing Xu,hWxfs VkNE QhgKiLHE -HidivzoM.dO anhtion jbLQiSGDTCsuhREebUaKM dv J dVN tmbOT\n" +
  "vMR HDm,xOAetion D,tion HJtodT.mHl UIv-p VjWH'BdyWjnfGU-OjT aEMdFICyLWfQMtion wEMfdOKing AwkeKbO 'DxqNOHBH qKtVvm OYJl mM\n";
const PREDICTION_MULTI =
  P0 +
  P1.trimEnd() +
  '\nxfs VkJE QhgKiLHE -HidivzoM.dO anhing jbLQiSGDTCsuhREebUaKM dv J\n' +
  "VjWH'BdyWjnfGU-OjTNaEMdFICyLWfQMing wEMfdOKijg AwkeKbO 'DxqNO\n";

test("rouge-score's unit tests: rouge1, rouge2, rougeL on 'testing one two'", () => {
  // rouge_scorer_test.py testRouge1 / testRouge2 / testRougeLConsecutive / NonConsecutive.
  closeScore(new RougeScorer(['rouge1']).score('testing one two', 'testing').rouge1, 1, 1 / 3, 'rouge1');
  closeScore(new RougeScorer(['rouge2']).score('testing one two', 'testing one').rouge2, 1, 1 / 2, 'rouge2');
  closeScore(new RougeScorer(['rougeL']).score('testing one two', 'testing one').rougeL, 1, 2 / 3, 'rougeL');
  closeScore(new RougeScorer(['rougeL']).score('testing one two', 'testing two').rougeL, 1, 2 / 3, 'rougeL gap');
  const both = new RougeScorer(['rouge1', 'rougeL']).score('testing one two', 'testing one');
  assert.deepEqual(Object.keys(both), ['rouge1', 'rougeL']);
  closeScore(both.rouge1, 1, 2 / 3, 'rouge1');
  assert.deepEqual(Object.keys(new RougeScorer(['rouge9']).score('testing one two', 'testing')), ['rouge9']);
});

test('invalid rouge types throw (rougen, rouge0, rouge10)', () => {
  assert.throws(() => new RougeScorer(['rougen']), /Invalid rouge type/);
  assert.throws(() => new RougeScorer(['rouge0']), /rougen requires positive n/);
  assert.throws(() => new RougeScorer(['rouge10']), /Invalid rouge type/);
  assert.throws(
    () => new RougeScorer(['rouge1']).score(undefined as unknown as string, 'x'),
    /target must be a string/,
  );
});

test('against ROUGE-1.5.5 on rouge-score test data (published 5-digit values, exact token fractions)', () => {
  // rouge_scorer_test.py testRouge1AgainstRouge155 etc. Pair 0 tokenizes to 27 target and 16
  // prediction tokens with 11 unigram / 8 bigram (of 26 and 15) matches; pair 1 to 42 and 26
  // tokens, 17 unigram matches (18 with stemming) and 12 of 41/25 bigrams.
  const plain = new RougeScorer(['rouge1', 'rouge2', 'rougeL']);
  const stemmed = new RougeScorer(['rouge1', 'rouge2', 'rougeL'], { useStemmer: true });
  assert.equal(rougeTokenize(T0).length, 27);
  assert.equal(rougeTokenize(P0).length, 16);
  for (const scorer of [plain, stemmed]) {
    const s0 = scorer.score(T0, P0);
    closeScore(s0.rouge1, 11 / 16, 11 / 27, 'pair 0 rouge1');
    closeScore(s0.rouge2, 8 / 15, 8 / 26, 'pair 0 rouge2');
    closeScore(s0.rougeL, 11 / 16, 11 / 27, 'pair 0 rougeL');
    assert.equal(s0.rouge1!.fmeasure.toFixed(5), '0.51163');
    assert.equal(s0.rouge2!.fmeasure.toFixed(5), '0.39024');
  }
  const p1 = plain.score(T1, P1);
  closeScore(p1.rouge1, 17 / 26, 17 / 42, 'pair 1 rouge1');
  closeScore(p1.rouge2, 12 / 25, 12 / 41, 'pair 1 rouge2');
  closeScore(p1.rougeL, 17 / 26, 17 / 42, 'pair 1 rougeL');
  assert.equal(p1.rouge1!.recall.toFixed(5), '0.40476');
  const s1 = stemmed.score(T1, P1);
  closeScore(s1.rouge1, 18 / 26, 18 / 42, 'pair 1 stemmed rouge1');
  assert.deepEqual(
    [s1.rouge1!.recall, s1.rouge1!.precision, s1.rouge1!.fmeasure].map((x) => x.toFixed(5)),
    ['0.42857', '0.69231', '0.52941'],
  );
});

test('rougeLsum against ROUGE-1.5.5 on target_multi.0 / prediction_multi.0 with stemming', () => {
  // Published: recall 0.36538, precision 0.66667, F 0.47205 = 38/104 and 38/57.
  const result = new RougeScorer(['rougeLsum'], { useStemmer: true }).score(TARGET_MULTI, PREDICTION_MULTI);
  closeScore(result.rougeLsum, 38 / 57, 38 / 104, 'rougeLsum');
  assert.equal(result.rougeLsum!.fmeasure.toFixed(5), '0.47205');
  // Without stemming rouge-score 0.1.2 gives 37/57, 37/104 (computed once with its code).
  closeScore(
    new RougeScorer(['rougeLsum']).score(TARGET_MULTI, PREDICTION_MULTI).rougeLsum,
    37 / 57,
    37 / 104,
    'plain',
  );
});

test('rougeLsum: the ROUGE paper example and rouge-score edge cases', () => {
  // rouge_scorer_test.py testRougeLsum: union LCS of w1 w2 / w1 w3 w5 gives 4 hits.
  const scorer = new RougeScorer(['rougeLsum']);
  closeScore(scorer.score('w1 w2 w3 w4 w5', 'w1 w2 w6 w7 w8\nw1 w3 w8 w9 w5').rougeLsum, 4 / 10, 4 / 5, 'paper');
  closeScore(scorer.score('w1 w2 w3 w4 w5', '').rougeLsum, 0, 0, 'empty prediction');
  closeScore(scorer.score('', 'w1').rougeLsum, 0, 0, 'empty target');
  closeScore(scorer.score('w1 w2 w3 w4 w5', '/').rougeLsum, 0, 0, 'only punctuation');
  // testSummaryLevelLcs on raw token lists, and an empty candidate sentence.
  closeScore(
    summaryLevelLcs(
      [[1, 2, 3, 4, 5]],
      [
        [1, 2, 6, 7, 8],
        [1, 3, 8, 9, 5],
      ],
    ),
    0.4,
    0.8,
    'ids',
  );
  closeScore(summaryLevelLcs([['reference']], [[]]), 0, 0, 'empty candidate');
});

test('rougeLsum counts each token at most as often as it occurs (hand-computed)', () => {
  // ref sentences: [the cat sat on the mat] [the dog ran]; candidate: [the cat ran] [the mat sat the cat] [the the the].
  // Union LCS of ref 1: {the, cat} U {the, sat, the} U {the, the} = indices 0,1,2,4 -> the cat sat the: 4 hits.
  // Ref 2: {the, ran} U {the} U {the} -> the, ran: 2 hits (3 'the' in ref, 6 in candidate). 6 hits;
  // 9 reference and 11 candidate tokens. rougeL on the whole texts: LCS 5 (e.g. 'the cat the mat the').
  const r = new RougeScorer(['rouge1', 'rouge2', 'rougeL', 'rougeLsum'], { useStemmer: true }).score(
    'the cat sat on the mat\nthe dog ran',
    'the cat ran\nthe mat sat the cat\nthe the the',
  );
  closeScore(r.rougeLsum, 6 / 11, 6 / 9, 'rougeLsum');
  closeScore(r.rougeL, 5 / 11, 5 / 9, 'rougeL');
  // Unigrams: the min(3,6) + cat 1 + sat 1 + mat 1 + ran 1 = 7. Bigrams: 'the cat', 'the mat' -> 2 of 8 and 10.
  closeScore(r.rouge1, 7 / 11, 7 / 9, 'rouge1');
  closeScore(r.rouge2, 2 / 10, 2 / 8, 'rouge2');
  // rouge-score 0.1.2 prints fmeasure 0.7000000000000001 for rouge1 (2*p*r/(p+r) in that order).
  assert.equal(r.rouge1!.fmeasure, 0.7000000000000001);
});

test("the docstring example with stemming ('jumps' -> 'jump', 'lazy' -> 'lazi')", () => {
  assert.deepEqual(rougeTokenize('The quick brown fox jumps over the lazy dog', { useStemmer: true }), [
    'the',
    'quick',
    'brown',
    'fox',
    'jump',
    'over',
    'the',
    'lazi',
    'dog',
  ]);
  const r = new RougeScorer(['rouge1', 'rouge2', 'rougeL'], { useStemmer: true }).score(
    'The quick brown fox jumps over the lazy dog',
    'The quick brown dog jumps on the log.',
  );
  // Unigram matches: the x2, quick, brown, dog, jump = 6 of 8 / 9; bigrams: the quick, quick brown = 2 of 7 / 8;
  // LCS: the quick brown jump the = 5.
  closeScore(r.rouge1, 6 / 8, 6 / 9, 'rouge1');
  closeScore(r.rouge2, 2 / 7, 2 / 8, 'rouge2');
  closeScore(r.rougeL, 5 / 8, 5 / 9, 'rougeL');
});

test('tokenizer: only [a-z0-9] survive, stemming only for tokens longer than 3', () => {
  assert.deepEqual(rougeTokenize("Don't stop-believing, 1990s!"), ['don', 't', 'stop', 'believing', '1990s']);
  assert.deepEqual(rougeTokenize("Don't stop-believing, 1990s!", { useStemmer: true }), [
    'don',
    't',
    'stop',
    'believ',
    '1990',
  ]);
  assert.deepEqual(rougeTokenize('cats are ties'), ['cats', 'are', 'ties']);
  assert.deepEqual(rougeTokenize('cats are ties', { useStemmer: true }), ['cat', 'are', 'tie']);
  assert.deepEqual(rougeTokenize('Café naïve 中文'), ['caf', 'na', 've']);
  assert.deepEqual(rougeTokenize(''), []);
});

test('edge cases: identical, empty, no overlap, CJK scores 0 with the default tokenizer', () => {
  const scorer = new RougeScorer(['rouge1', 'rouge2', 'rougeL', 'rougeLsum']);
  for (const [type, s] of Object.entries(scorer.score('a b c d', 'a b c d'))) closeScore(s, 1, 1, `identical ${type}`);
  for (const [type, s] of Object.entries(scorer.score('', ''))) closeScore(s, 0, 0, `empty ${type}`);
  for (const [type, s] of Object.entries(scorer.score('a b', 'c d'))) closeScore(s, 0, 0, `disjoint ${type}`);
  for (const [type, s] of Object.entries(scorer.score('我爱北京天安门', '我爱北京')))
    closeScore(s, 0, 0, `CJK ${type}`);
  // A single token has no bigrams: rouge2 uses max(count, 1) denominators -> 0, not NaN.
  closeScore(scorer.score('a', 'a').rouge2, 0, 0, 'single token rouge2');
});

test('scoreMulti keeps the first target with the best F-measure per type', () => {
  const scorer = new RougeScorer(['rouge1', 'rouge2']);
  const best = scorer.scoreMulti(['the cat sat on the mat', 'a cat sat', 'the dog'], 'the cat sat');
  // rouge1 ties at F = 2/3 between target 0 (P 1, R 1/2) and target 1 (P 2/3, R 2/3): the first wins.
  closeScore(best.rouge1, 1, 1 / 2, 'rouge1');
  // rouge2: target 0 has 2 of 5 bigrams (F 4/7), target 1 has 'cat sat' only (F 1/2).
  closeScore(best.rouge2, 1, 2 / 5, 'rouge2');
  assert.throws(() => scorer.scoreMulti([], 'x'), /non-empty/);
});

test('LCS helpers follow rouge-score (testLcsTable, testUnionLcs)', () => {
  assert.equal(lcsLength([1, 2, 3, 4, 5], [2, 5, 3, 4]), 3);
  assert.deepEqual(lcsIndices([1, 2, 3, 4, 5], [2, 5, 3, 4]), [1, 2, 3]);
  assert.deepEqual(lcsIndices([1, 2, 3, 4, 5], [8, 9]), []);
  assert.deepEqual(lcsIndices([1, 2, 3, 4, 5], [1, 3, 8, 9, 5]), [0, 2, 4]);
  // Tie-break: 'a b' vs 'b a' -> the backtrack moves up in ref on ties, keeping ref index 0 ('a').
  assert.deepEqual(lcsIndices(['a', 'b'], ['b', 'a']), [0]);
});

test('custom and named tokenizers; splitSummaries', () => {
  const byComma = new RougeScorer(['rouge1'], { tokenizer: (text: string) => text.split(',') });
  closeScore(byComma.score('a b,c', 'a b,d').rouge1, 1 / 2, 1 / 2, 'function tokenizer');
  const object = new RougeScorer(['rouge1'], { tokenizer: { tokenize: (text: string) => [...text] } });
  closeScore(object.score('ab', 'ba').rouge1, 1, 1, 'object tokenizer');
  // 我 爱 北 京 天 安 门 vs 我 爱 北 京: 4 matches, P 4/4, R 4/7.
  closeScore(
    new RougeScorer(['rouge1'], { tokenizer: 'chars' }).score('我爱北京天安门', '我爱北京').rouge1,
    1,
    4 / 7,
    'chars',
  );
  // jieba: 我 / 爱 / 北京 / 天安门 vs 我 / 爱 / 北京: P 3/3, R 3/4.
  closeScore(
    new RougeScorer(['rouge1', 'rougeL'], { tokenizer: 'jieba' }).score('我爱北京天安门', '我爱北京').rougeL,
    1,
    3 / 4,
    'jieba',
  );
  // Stemming applies to the [a-z0-9] tokens of the named tokenizers.
  closeScore(
    new RougeScorer(['rouge1'], { tokenizer: 'chars', useStemmer: true }).score('跑 running', '跑 runs').rouge1,
    1,
    1,
    'chars+stem',
  );
  assert.throws(
    () => new RougeScorer(['rouge1'], { tokenizer: 'words' as never }),
    /tokenizer must be 'chars', 'jieba'/,
  );
  assert.throws(
    () => new RougeScorer(['rouge1'], { tokenizer: () => 'x' as never }).score('a', 'b'),
    /must return an array of strings/,
  );
  assert.throws(() => new RougeScorer(['rougeLsum'], { splitSummaries: true }), /Punkt/);
  const split = new RougeScorer(['rougeLsum'], { splitSummaries: (text: string) => text.split('. ') });
  closeScore(split.score('w1 w2 w3 w4 w5', 'w1 w2 w6 w7 w8. w1 w3 w8 w9 w5').rougeLsum, 4 / 10, 4 / 5, 'custom split');
});

test('rougeCompute: HF evaluate shape, multi-reference, aggregation by mean', () => {
  const predictions = ['testing one', 'the cat sat'];
  const per = rougeCompute(predictions, ['testing one two', 'the cat sat on the mat'], {
    useAggregator: false,
  }) as Record<string, number[]>;
  assert.deepEqual(Object.keys(per), ['rouge1', 'rouge2', 'rougeL', 'rougeLsum']);
  close(per.rouge1![0]!, 4 / 5);
  close(per.rouge1![1]!, 2 / 3);
  const mean = rougeCompute(predictions, ['testing one two', 'the cat sat on the mat']) as Record<string, number>;
  close(mean.rouge1!, (4 / 5 + 2 / 3) / 2);
  const multi = rougeCompute(['the cat sat'], [['the dog', 'a cat sat']], { rougeTypes: ['rouge1'] }) as Record<
    string,
    number
  >;
  close(multi.rouge1!, 2 / 3);
  assert.throws(() => rougeCompute(['a'], ['a', 'b']), /same length/);
  assert.throws(() => rougeCompute([], []), /at least one/);
});

test('BootstrapAggregator: seeded, numpy-style percentiles around the exact mean', () => {
  // numpy.percentile([1, 2, 3, 4], 25) = 1.75 (linear interpolation).
  close(linearPercentile([4, 1, 3, 2], 0.25), 1.75);
  close(linearPercentile([4, 1, 3, 2], 0.5), 2.5);
  const scorer = new RougeScorer(['rouge1']);
  const aggregator = new BootstrapAggregator({ nSamples: 200, seed: 1 });
  aggregator.addScores(scorer.score('one two three', 'one two'));
  aggregator.addScores(scorer.score('one two five six', 'seven eight'));
  close(aggregator.mean().rouge1!.fmeasure, (4 / 5 + 0) / 2);
  const interval = aggregator.aggregate().rouge1!;
  // Each bootstrap mean is 0, 0.4 or 0.8, so the 95% interval spans the extremes.
  close(interval.low.fmeasure, 0);
  close(interval.high.fmeasure, 0.8);
  assert.ok([0, 0.4, 0.8].some((v) => Math.abs(interval.mid.fmeasure - v) < 1e-12));
  assert.deepEqual(new BootstrapAggregator({ nSamples: 200, seed: 1 }).aggregate(), {});
  assert.throws(() => new BootstrapAggregator({ confidenceInterval: 2 }), /range \[0, 1\]/);
});

test('lcsLength (bit-parallel) equals the LCS dynamic programme on random sequences', () => {
  // The textbook DP, written out independently (rouge-score's _lcs_table).
  const dp = (a: readonly number[], b: readonly number[]): number => {
    const table = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
    for (let i = 1; i <= a.length; i++) {
      for (let j = 1; j <= b.length; j++) {
        const row = table[i] ?? [];
        const above = table[i - 1] ?? [];
        row[j] = a[i - 1] === b[j - 1] ? (above[j - 1] ?? 0) + 1 : Math.max(above[j] ?? 0, row[j - 1] ?? 0);
      }
    }
    return table[a.length]?.[b.length] ?? NaN;
  };
  let seed = 20261203;
  const random = (): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  for (let trial = 0; trial < 300; trial++) {
    const alphabet = 1 + Math.floor(random() * 6);
    const seq = (): number[] =>
      Array.from({ length: Math.floor(random() * 150) }, () => Math.floor(random() * alphabet));
    const a = seq();
    const b = trial % 5 === 0 ? [...a.slice(0, 20), ...seq(), ...a.slice(-20)] : seq();
    assert.equal(lcsLength(a, b), dp(a, b), `trial ${trial}`);
    assert.equal(lcsLength(b, a), dp(a, b), `trial ${trial} swapped`);
  }
  assert.equal(lcsLength([], [1]), 0);
  // word boundaries: 32, 33 and 64 positions
  for (const n of [31, 32, 33, 63, 64, 65]) {
    const a = Array.from({ length: n }, (_, i) => i % 3);
    const b = Array.from({ length: n + 7 }, (_, i) => (i * 7) % 4);
    assert.equal(lcsLength(a, b), dp(a, b), `n = ${n}`);
  }
});

test('issue 12: ROUGE on one very long line: linear when the lines agree, bounded otherwise', () => {
  // Before: a full n × n DP (300k words: over a minute for rougeL; rougeLsum's table cannot be allocated).
  const n = 120_000;
  const words = Array.from({ length: n }, (_, i) => `w${i % 5000}`);
  const line = words.join(' ');
  const edited = [...words.slice(0, n / 2), 'inserted', ...words.slice(n / 2)].join(' ');
  const scores = rougeCompute([edited], [line], { rougeTypes: ['rougeL'] });
  const precision = n / (n + 1);
  close(scores.rougeL ?? NaN, (2 * precision) / (precision + 1));
  assert.throws(
    () => rougeCompute([line], [line], { rougeTypes: ['rougeLsum'] }),
    /rougeLsum: a sentence pair of 120000 × 120000 tokens needs a \d+-cell LCS table, over the limit of 33554432; put one sentence per line/,
  );
  // two unrelated long texts: an error naming the sizes instead of minutes of work
  const other = Array.from({ length: n }, (_, i) => `v${i % 7}`);
  const mixed = words.map((w, i) => (i % 2 === 0 ? w : (other[i] ?? '')));
  assert.throws(
    () => lcsLength(mixed, [...other].reverse()),
    /rougeL: the longest common subsequence of texts of 120000 and 120000 tokens \(\d+ × \d+ after their common start and end\) is over the limit of 10000000000 token comparisons/,
  );
});
