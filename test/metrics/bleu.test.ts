import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  BLEU_SMOOTH_DEFAULTS,
  computeBleu,
  corpusBleu,
  sentenceBleu,
  type BleuOptions,
} from '../../src/metrics/bleu.js';
import { skipWithoutShared } from '../helpers/shared.js';
import { SACREBLEU_BLEU_CASES } from './sacrebleu-2.6.0-cases.js';
import { tatoebaCorpus } from './tatoeba-corpus.js';
import { assertClose } from '../helpers/close.js';

/** |actual − expected| ≤ 1e-9·|expected| (or ≤ 1e-12 when expected is 0). */

/** BLEU from hand-computed precisions (in %) and lengths: BP · exp(mean log p). */
function bleuFormula(precisions: number[], sysLen: number, refLen: number): number {
  const bp = sysLen < refLen ? Math.exp(1 - refLen / sysLen) : 1;
  return bp * Math.exp(precisions.reduce((s, p) => s + Math.log(p), 0) / precisions.length);
}

// sacrebleu's README example (also test/test_bleu.py's `_refs`/`_hyps`): two reference streams.
const README_REFS: [string[], string[]] = [
  ['The dog bit the man.', 'It was not unexpected.', 'The man bit him first.'],
  ['The dog had bit the man.', 'No one was surprised.', 'The man had bitten the dog.'],
];
const README_HYPS = ['The dog bit the man.', "It wasn't surprising.", 'The man had just bitten him.'];

test('README example: 48.53, statistics and printed form as in sacrebleu README', () => {
  const bleu = corpusBleu(README_HYPS, README_REFS);
  // README: "BLEU = 48.53 82.4/50.0/45.5/37.5 (BP = 0.943 ratio = 0.944 hyp_len = 17 ref_len = 18)"
  assert.equal(bleu.format(), 'BLEU = 48.53 82.4/50.0/45.5/37.5 (BP = 0.943 ratio = 0.944 hyp_len = 17 ref_len = 18)');
  assert.deepEqual(bleu.counts, [14, 7, 5, 3]);
  assert.deepEqual(bleu.totals, [17, 14, 11, 8]);
  assert.equal(bleu.sysLen, 17);
  assert.equal(bleu.refLen, 18);
  assertClose(bleu.bp, Math.exp(1 - 18 / 17));
  assertClose(bleu.score, bleuFormula([1400 / 17, 50, 500 / 11, 37.5], 17, 18));
  // sacrebleu 2.6.0's float, and test_bleu.py's 48.530827 within its EPSILON 1e-8
  assertClose(bleu.score, 48.530827009929865);
  assert.ok(Math.abs(bleu.score - 48.530827) < 1e-8);
  // README signature (version field is ours)
  assert.equal(bleu.signature, 'nrefs:2|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0-tunekit');
  assert.match(
    bleu.format({ withSignature: true }),
    /^BLEU\|nrefs:2\|case:mixed\|eff:no\|tok:13a\|smooth:exp\|version:[^ ]+ = 48\.53 82\.4/,
  );
  assert.equal(bleu.format({ scoreOnly: true, width: 4 }), '48.5308');
});

test('README variable number of references: null drops a reference (nrefs:var), "" is a length-0 reference', () => {
  const withNull = corpusBleu(README_HYPS, [[null, ...README_REFS[0].slice(1)], README_REFS[1]]);
  // README: "BLEU = 29.44 82.4/42.9/27.3/12.5 (BP = 0.889 ratio = 0.895 hyp_len = 17 ref_len = 19)", nrefs:var
  assert.equal(
    withNull.format(),
    'BLEU = 29.44 82.4/42.9/27.3/12.5 (BP = 0.889 ratio = 0.895 hyp_len = 17 ref_len = 19)',
  );
  assert.match(withNull.signature, /^nrefs:var\|/);
  assertClose(withNull.score, 29.443657650964873); // sacrebleu 2.6.0
  const withEmpty = corpusBleu(README_HYPS, [['', ...README_REFS[0].slice(1)], README_REFS[1]]);
  assert.equal(withEmpty.score, withNull.score);
  assert.match(withEmpty.signature, /^nrefs:2\|/); // sacrebleu 2.6.0 only filters None
});

test('sacrebleu test_bleu.py corpus cases: tokenizers, smoothing, empty hypotheses, max n-gram order', () => {
  // (hyps, refs, kwargs, expected) from test_corpus_bleu_cases (EPSILON 1e-8) and 2.6.0 floats
  assertClose(corpusBleu(['', '', ''], README_REFS).score, 0.0);
  assert.ok(Math.abs(corpusBleu(README_HYPS, README_REFS, { tokenize: 'none' }).score - 49.1919566) < 1e-8);
  assertClose(corpusBleu(README_HYPS, README_REFS, { tokenize: 'none' }).score, 49.19195660047277);
  assert.ok(Math.abs(corpusBleu(README_HYPS, README_REFS, { tokenize: 'intl' }).score - 43.91623493) < 1e-8);
  assertClose(corpusBleu(README_HYPS, README_REFS, { tokenize: 'intl' }).score, 43.91623493336995);
  assertClose(corpusBleu(README_HYPS, README_REFS, { smoothMethod: 'none' }).score, 48.530827009929865);
  // test_bleu_max_order: formatted "77.65", "60.50", "53.93", "48.53", "46.14", "43.28"
  const exact = [
    77.64837655275439, 60.50312757020198, 53.93393139430307, 48.530827009929865, 46.14416643541557, 43.283197812670714,
  ];
  ['77.65', '60.50', '53.93', '48.53', '46.14', '43.28'].forEach((printed, i) => {
    const bleu = corpusBleu(README_HYPS, README_REFS, { maxNgramOrder: i + 1 });
    assert.equal(bleu.format({ scoreOnly: true }), printed);
    assertClose(bleu.score, exact[i] ?? NaN);
    assert.equal(bleu.counts.length, i + 1);
  });
});

/** sacrebleu's `raw_corpus_bleu`: no tokenization, floor smoothing, effective order. */
const raw = (smoothValue: number | null): BleuOptions => ({
  tokenize: 'none',
  smoothMethod: 'floor',
  smoothValue,
  effectiveOrder: true,
});

test('sacrebleu test_bleu.py raw_corpus_bleu cases, each also derived by hand', () => {
  // no overlap → 0 (sacrebleu #141)
  assertClose(corpusBleu(['this is a test', 'another test'], [['ref1', 'ref2']], raw(0.01)).score / 100, 0.0);
  assertClose(corpusBleu(['this is a test'], [['this is a test']], raw(0.01)).score / 100, 1.0);
  // p = 3/4, 2/3, 1/2 and floor 0.01/1 for the unmatched 4-gram: 0.223606797749979
  const fest = corpusBleu(['this is a fest'], [['this is a test']], raw(0.01)).score / 100;
  assertClose(fest, (0.75 * (2 / 3) * 0.5 * 0.01) ** 0.25);
  assert.ok(Math.abs(fest - 0.223606797749979) < 1e-8);
  // effective order: ["test"] vs ["a test"] = e^-1 (only unigrams, BP = exp(1 − 2/1))
  assertClose(corpusBleu(['test'], [['a test']], raw(0.01)).score / 100, 0.3678794411714425);
  assertClose(corpusBleu(['test'], [['a test']], raw(0.01)).score / 100, Math.exp(-1));
  assertClose(corpusBleu(['a test'], [['a test']], raw(0.01)).score / 100, 1.0);
  assertClose(corpusBleu(['a little test'], [['a test']], raw(0.01)).score / 100, 0.03218297948685433);
  // statistics: common [4, 2, 1, 0], total [6, 5, 4, 3]
  const stats = corpusBleu(['am I am a character sequence'], [['I am a symbol string sequence a a']], raw(0.01));
  assert.deepEqual(stats.counts, [4, 2, 1, 0]);
  assert.deepEqual(stats.totals, [6, 5, 4, 3]);
  // test_offset: floor 0 → 0; floor default (null) → 0.1555722182
  assertClose(corpusBleu(['am I am a character sequence'], [['I am a symbol string sequence a a']], raw(0)).score, 0);
  const offset =
    corpusBleu(['am I am a character sequence'], [['I am a symbol string sequence a a']], raw(null)).score / 100;
  assert.ok(Math.abs(offset - 0.1555722182) < 1e-8);
  // BP = exp(1 − 8/6); p = 4/6, 2/5, 1/4, floor 0.1/3
  assertClose(offset, Math.exp(1 - 8 / 6) * ((4 / 6) * (2 / 5) * (1 / 4) * (0.1 / 3)) ** 0.25);
});

test('computeBleu: test_bleu.py test_scoring and degenerate statistics', () => {
  // compute_bleu([9,7,5,3], [10,8,6,4], 11, 11) = 0.8375922397 (default smoothing 'none')
  const scoring = computeBleu([9, 7, 5, 3], [10, 8, 6, 4], 11, 11).score / 100;
  assert.ok(Math.abs(scoring - 0.8375922397) < 1e-8);
  assertClose(scoring, (0.9 * (7 / 8) * (5 / 6) * (3 / 4)) ** 0.25);
  // test_case_degenerate_stats with floor smoothing: all exactly 0
  const degenerate: Array<[number[], number[], number, number, number]> = [
    [[0, 0, 0, 0], [4, 4, 2, 1], 0, 1, 0.0],
    [[0, 0, 0, 0], [10, 11, 12, 0], 14, 10, 0.0],
    [[0, 0, 0, 0], [0, 0, 0, 0], 0, 0, 0.0],
    [[6, 5, 4, 0], [6, 5, 4, 3], 6, 6, 0.0],
    [[0, 0, 0, 0], [0, 0, 0, 0], 0, 0, 0.1],
    [[0, 0, 0, 0], [0, 0, 0, 0], 1, 5, 0.01],
  ];
  for (const [common, total, sysLen, refLen, offset] of degenerate) {
    assert.equal(computeBleu(common, total, sysLen, refLen, { smoothMethod: 'floor', smoothValue: offset }).score, 0);
  }
});

test('computeBleu: every smoothing method on an order with zero matches, by hand', () => {
  const correct = [3, 1, 0, 0];
  const total = [4, 3, 2, 1];
  // exp (mteval NIST): the k-th zero order gets 100 / (2^k · total)
  const exp = computeBleu(correct, total, 4, 4, { smoothMethod: 'exp' });
  assert.deepEqual(exp.precisions, [75, 100 / 3, 100 / (2 * 2), 100 / (4 * 1)]);
  assertClose(exp.score, bleuFormula([75, 100 / 3, 25, 25], 4, 4));
  // floor: 100 · v / total, default v = 0.1
  const floor = computeBleu(correct, total, 4, 4, { smoothMethod: 'floor' });
  assert.deepEqual(floor.precisions, [75, 100 / 3, 5, 10]);
  assertClose(floor.score, bleuFormula([75, 100 / 3, 5, 10], 4, 4));
  assertClose(
    computeBleu(correct, total, 4, 4, { smoothMethod: 'floor', smoothValue: 0.5 }).score,
    bleuFormula([75, 100 / 3, 25, 50], 4, 4),
  );
  // add-k: k = 1 added to counts and totals of orders ≥ 2, reported in counts/totals as sacrebleu does
  const addK = computeBleu(correct, total, 4, 4, { smoothMethod: 'add-k' });
  assert.deepEqual(addK.counts, [3, 2, 1, 1]);
  assert.deepEqual(addK.totals, [4, 4, 3, 2]);
  assertClose(addK.score, bleuFormula([75, 50, 100 / 3, 50], 4, 4));
  assert.deepEqual(correct, [3, 1, 0, 0], 'inputs are not mutated');
  // none: log 0 is floored at −9999999999 → exactly 0
  assert.equal(computeBleu(correct, total, 4, 4, { smoothMethod: 'none' }).score, 0);
  assert.equal(BLEU_SMOOTH_DEFAULTS.floor, 0.1);
  assert.equal(BLEU_SMOOTH_DEFAULTS['add-k'], 1);
  // no match at all: 0 for every method, precisions all 0 (sacrebleu #141)
  for (const smoothMethod of ['exp', 'floor', 'add-k', 'none'] as const) {
    const zero = computeBleu([0, 0, 0, 0], [4, 3, 2, 1], 4, 4, { smoothMethod });
    assert.equal(zero.score, 0);
    assert.deepEqual(zero.precisions, [0, 0, 0, 0]);
    assert.deepEqual(zero.counts, [0, 0, 0, 0]);
  }
});

test('computeBleu: effective order stops at the first order with no hypothesis n-grams', () => {
  // 2-token hypothesis matching perfectly: only orders 1-2 exist
  assertClose(computeBleu([2, 1, 0, 0], [2, 1, 0, 0], 2, 2, { effectiveOrder: true }).score, 100);
  // without effective order the missing orders count as log 0 → 0
  assert.equal(computeBleu([2, 1, 0, 0], [2, 1, 0, 0], 2, 2).score, 0);
  // effective order counts orders with n-grams, matched or not: p3 is exp-smoothed
  assertClose(
    computeBleu([3, 1, 0, 0], [3, 2, 1, 0], 3, 3, { effectiveOrder: true, smoothMethod: 'exp' }).score,
    bleuFormula([100, 50, 50], 3, 3),
  );
  // brevity penalty with zero-length hypothesis is 0
  assert.equal(computeBleu([0, 0, 0, 0], [0, 0, 0, 0], 0, 5).bp, 0);
  assert.throws(() => computeBleu([1], [1], 1, 1), /computeBleu: correct and total need 4 entries/);
  assert.throws(
    () => computeBleu([1, 0, 0, 0], [1, 0, 0, 0], 1, 1, { smoothMethod: 'laplace' as 'exp' }),
    /unknown BLEU smoothMethod "laplace"/,
  );
});

// sacrebleu test_sentence_bleu.py (issue #98): expected values at the suite's EPSILON 1e-3, and
// the exact floats sacrebleu 2.6.0 returns for the same calls.
const REF = 'producţia de zahăr brut se exprimă în zahăr alb;';
const SYS = 'Producția de zahăr primă va fi exprimată în ceea ce privește zahărul alb;';
const SENTENCE_CASES: Array<[BleuOptions, number, number]> = [
  [{ smoothMethod: 'exp' }, 8.493, 8.493098745313148],
  [{ smoothMethod: 'none' }, 0.0, 0.0],
  [{ smoothMethod: 'floor' }, 4.51688, 4.516881220954753],
  [{ smoothMethod: 'floor', smoothValue: 0.1 }, 4.51688, 4.516881220954753],
  [{ smoothMethod: 'floor', smoothValue: 0.5 }, 10.1, 10.100053456347073],
  [{ smoothMethod: 'add-k' }, 14.882, 14.882560178972215],
  [{ smoothMethod: 'add-k', smoothValue: 1 }, 14.882, 14.882560178972215],
  [{ smoothMethod: 'add-k', smoothValue: 2 }, 21.389, 21.389460275371086],
  [{ tokenize: 'none' }, 7.347, 7.347053125977879],
  [{ tokenize: 'intl' }, 8.493, 8.493098745313148],
  [{ tokenize: 'char' }, 40.8759, 40.875973647629166],
  [{ tokenize: 'char', lowercase: true }, 42.0267, 42.02678206410298],
];

test('sentenceBleu: sacrebleu test_sentence_bleu.py cases (effective order on by default)', () => {
  for (const [options, published, exact] of SENTENCE_CASES) {
    const score = sentenceBleu(SYS, [REF], options).score;
    assert.ok(Math.abs(score - published) < 1e-3, `${JSON.stringify(options)}: ${score} vs ${published}`);
    assertClose(score, exact, JSON.stringify(options));
  }
  // issue #141: no overlap → 0 for every smoothing method
  for (const smoothMethod of ['exp', 'none', 'floor', 'add-k'] as const) {
    assert.equal(sentenceBleu('this is a cat', ['okay thanks'], { smoothMethod }).score, 0);
  }
  assert.match(sentenceBleu(SYS, [REF]).signature, /^nrefs:1\|case:mixed\|eff:yes\|tok:13a\|smooth:exp\|/);
  assert.match(
    sentenceBleu(SYS, [REF], { smoothMethod: 'floor', smoothValue: 0.5 }).signature,
    /smooth:floor\[0\.50\]/,
  );
});

test('identical strings give 100, empty hypothesis 0, and the closest reference length (ties → shorter)', () => {
  const same = corpusBleu(['The cat is on the mat.'], [['The cat is on the mat.']]);
  assertClose(same.score, 100); // sacrebleu 2.6.0: 100.00000000000004
  assertClose(sentenceBleu('hello world', ['hello world']).score, 100);
  const empty = sentenceBleu('', ['a reference']);
  assert.equal(empty.score, 0);
  assert.equal(empty.bp, 0);
  assert.equal(empty.sysLen, 0);
  // hypothesis of 3 tokens; references of 2 and 4 tokens are equally close → the shorter (2)
  const tie = sentenceBleu('a b c', ['a b', 'a b c d']);
  assert.equal(tie.refLen, 2);
  assert.equal(tie.bp, 1);
  // clipping: "the the the" against max count 2 over references
  const clipped = sentenceBleu('the the the', ['the cat', 'the the dog'], {
    tokenize: 'none',
    smoothMethod: 'none',
    maxNgramOrder: 1,
  });
  assert.deepEqual(clipped.counts, [2]);
  assertClose(clipped.score, 100 * (2 / 3));
});

test('Chinese with the zh tokenizer (13a treats an unsegmented sentence as one token)', () => {
  // 我 爱 北 京 vs 我 爱 上 海: p = 2/4, 1/3, exp-smoothed 100/(2·2), 100/(4·1)
  const zh = sentenceBleu('我爱北京', ['我爱上海'], { tokenize: 'zh' });
  assert.deepEqual(zh.counts, [2, 1, 0, 0]);
  assertClose(zh.score, bleuFormula([50, 100 / 3, 25, 25], 4, 4));
  assertClose(zh.score, 31.947155212313625); // sacrebleu 2.6.0
  assert.equal(sentenceBleu('我爱北京', ['我爱上海']).score, 0);
});

test('invalid input raises a clear error', () => {
  assert.throws(() => corpusBleu([], [[]]), /BLEU: hypotheses is empty/);
  assert.throws(() => corpusBleu(['a', 'b'], [['a']]), /references\[0\] has 1 segments but there are 2 hypotheses/);
  assert.throws(() => corpusBleu(['a'], []), /non-empty array of reference streams/);
  assert.throws(() => corpusBleu(['a'], [[null]]), /hypothesis 0 has no reference/);
  assert.throws(() => corpusBleu([null as unknown as string], [['a']]), /hypotheses\[0\] should be a string, got null/);
  assert.throws(() => sentenceBleu('a', []), /non-empty array/);
  assert.throws(() => sentenceBleu('a', 'a' as unknown as string[]), /references should be an array/);
  assert.throws(
    () => corpusBleu(['a'], [['a']], { maxNgramOrder: 0 }),
    /maxNgramOrder must be an integer in \[1, 100\], got 0/,
  );
  assert.throws(() => corpusBleu(['a'], [['a']], { tokenize: 'spm' as 'zh' }), /unknown sacrebleu tokenizer "spm"/);
});

test('equals sacrebleu 2.6.0 on 60 random corpus/sentence cases (all tokenizers, smoothings, orders, null refs)', () => {
  assert.equal(SACREBLEU_BLEU_CASES.length, 60);
  for (const c of SACREBLEU_BLEU_CASES) {
    const label = JSON.stringify(c);
    const bleu =
      c.kind === 'corpus'
        ? corpusBleu(c.hypotheses, c.references as (string | null)[][], c.options)
        : sentenceBleu(c.hypotheses[0] ?? '', c.references as string[], c.options);
    assertClose(bleu.score, c.expected.score, label);
    assert.deepEqual(bleu.counts, c.expected.counts, label);
    assert.deepEqual(bleu.totals, c.expected.totals, label);
    assertClose(bleu.precisions, c.expected.precisions, label);
    assertClose(bleu.bp, c.expected.bp, label);
    assert.equal(bleu.sysLen, c.expected.sysLen, label);
    assert.equal(bleu.refLen, c.expected.refLen, label);
    assert.equal(bleu.format(), c.expected.formatted, label);
    assert.equal(bleu.signature.replace(/\|version:.*$/, ''), c.expected.signature, label);
  }
});

// Real data: see tatoeba-corpus.ts for the corpus and how the expected values were obtained.
test(
  'real data (Tatoeba en-zh, 1,000 pairs): corpus and sentence BLEU equal sacrebleu 2.6.0',
  { skip: skipWithoutShared('tatoeba-cmn-eng', 'cmn.txt') },
  () => {
    const { en, zh, hypEn, ref2En, hypZh } = tatoebaCorpus()!;
    assertClose(corpusBleu(hypEn, [en]).score, 26.848600565666388);
    assertClose(corpusBleu(hypEn, [en], { tokenize: 'intl' }).score, 32.262345206475246);
    const twoRefs = corpusBleu(hypEn, [en, ref2En]);
    assertClose(twoRefs.score, 52.47596440371691);
    assert.equal(
      twoRefs.format(),
      'BLEU = 52.48 100.0/78.1/50.9/19.1 (BP = 1.000 ratio = 1.124 hyp_len = 10517 ref_len = 9356)',
    );
    assertClose(corpusBleu(hypZh, [zh], { tokenize: 'zh' }).score, 43.01715674998051);
    assertClose(corpusBleu(hypZh, [zh], { tokenize: 'char' }).score, 43.24791006153258);
    // 13a leaves unsegmented Chinese as whole-sentence tokens: a near-meaningless 2.84
    assertClose(corpusBleu(hypZh, [zh]).score, 2.843777978141496);
    const meanSentence = (tokenize: 'zh' | '13a'): number =>
      hypZh.reduce((sum, h, i) => sum + sentenceBleu(h, [zh[i] ?? null], { tokenize }).score, 0) / zh.length;
    assertClose(meanSentence('13a'), 0.7561464225882921);
    assertClose(meanSentence('zh'), 42.88986350920712);
  },
);
