import assert from 'node:assert/strict';
import { test } from 'node:test';

import { corpusChrf, sentenceChrf, type ChrfOptions } from '../../src/metrics/chrf.js';
import { skipWithoutShared } from '../helpers/shared.js';
import { SACREBLEU_CHRF_CASES } from './sacrebleu-2.6.0-cases.js';
import { tatoebaCorpus } from './tatoeba-corpus.js';
import { assertClose } from '../helpers/close.js';

/** F_β in percent from averaged precision and recall. */
function fBeta(precision: number, recall: number, beta: number): number {
  const b2 = beta * beta;
  return precision + recall === 0 ? 0 : (100 * (1 + b2) * precision * recall) / (b2 * precision + recall);
}

const README_REFS = [
  ['The dog bit the man.', 'It was not unexpected.', 'The man bit him first.'],
  ['The dog had bit the man.', 'No one was surprised.', 'The man had bitten the dog.'],
];
const README_HYPS = ['The dog bit the man.', "It wasn't surprising.", 'The man had just bitten him.'];

test('README example: chrF2 = 59.73 (and chrF2++ 59.15)', () => {
  const chrf = corpusChrf(README_HYPS, README_REFS);
  assert.equal(chrf.format(), 'chrF2 = 59.73');
  assertClose(chrf.score, 59.72751782684763); // sacrebleu 2.6.0
  assert.equal(chrf.signature, 'nrefs:2|case:mixed|eff:yes|nc:6|nw:0|space:no|version:2.6.0-tunekit');
  const chrfpp = corpusChrf(README_HYPS, README_REFS, { wordOrder: 2 });
  assert.equal(chrfpp.name, 'chrF2++');
  assertClose(chrfpp.score, 59.15310444399262); // sacrebleu 2.6.0
  assert.match(
    chrfpp.format({ withSignature: true }),
    /^chrF2\+\+\|nrefs:2\|case:mixed\|eff:yes\|nc:6\|nw:2\|space:no\|version:[^ ]+ = 59\.15$/,
  );
});

// sacrebleu test_chrf.py, all with char_order=6, word_order=0, beta=3 (EPSILON 1e-4).
const EPS_SMOOTHING_CASES: Array<[string[], string[], number]> = [
  [['abcdefg'], ['hijklmnop'], 0.0],
  [['a'], ['b'], 0.0],
  [[''], ['b'], 0.0],
  [[''], ['ref'], 0.0],
  [[''], ['reference'], 0.0],
  [['aa'], ['ab'], 8.3333],
  [['a', 'b'], ['a', 'c'], 8.3333],
  [['a'], ['a'], 16.6667],
  [['a b c'], ['a b c'], 50.0],
  [['a b c'], ['abc'], 50.0],
  [
    [
      ' risk assessment must be made of those who are qualified and expertise in the sector - these are the scientists .',
    ],
    [
      'risk assessment has to be undertaken by those who are qualified and expert in that area - that is the scientists .',
    ],
    63.36173,
  ],
  [
    [' Die    Beziehung zwischen  Obama und Netanjahu ist nicht gerade  freundlich. '],
    ['Das Verhältnis zwischen Obama und Netanyahu ist nicht gerade freundschaftlich.'],
    64.1302698,
  ],
  [['Niemand hat die Absicht, eine Mauer zu errichten'], ['Niemand hat die Absicht, eine Mauer zu errichten'], 100.0],
];
const EFFECTIVE_ORDER_CASES: Array<[string[], string[], number]> = [
  [['a'], ['a'], 100.0],
  [[''], ['reference'], 0.0],
  [['a b c'], ['a b c'], 100.0],
  [['a b c'], ['abc'], 100.0],
  [[''], ['c'], 0.0],
  [['a', 'b'], ['a', 'c'], 50.0],
  [['aa'], ['ab'], 25.0],
];
const KEEP_WHITESPACE_CASES: Array<[string[], string[], number]> = [
  [
    ['Die Beziehung zwischen Obama und Netanjahu ist nicht gerade freundlich.'],
    ['Das Verhältnis zwischen Obama und Netanyahu ist nicht gerade freundschaftlich.'],
    67.3481606,
  ],
  [
    [
      'risk assessment must be made of those who are qualified and expertise in the sector - these are the scientists .',
    ],
    [
      'risk assessment has to be undertaken by those who are qualified and expert in that area - that is the scientists .',
    ],
    65.2414427,
  ],
];

test('sacrebleu test_chrf.py: eps smoothing, effective order (default) and keep-whitespace cases', () => {
  const base: ChrfOptions = { charOrder: 6, wordOrder: 0, beta: 3 };
  for (const [hyps, refs, expected] of EPS_SMOOTHING_CASES) {
    const score = corpusChrf(hyps, [refs], { ...base, epsSmoothing: true }).score;
    assert.ok(Math.abs(score - expected) < 1e-4, `${JSON.stringify(hyps)}: ${score} vs ${expected}`);
  }
  for (const [hyps, refs, expected] of EFFECTIVE_ORDER_CASES) {
    const score = corpusChrf(hyps, [refs], { ...base, epsSmoothing: false }).score;
    assert.ok(Math.abs(score - expected) < 1e-4, `${JSON.stringify(hyps)}: ${score} vs ${expected}`);
  }
  for (const [hyps, refs, expected] of KEEP_WHITESPACE_CASES) {
    const score = corpusChrf(hyps, [refs], { ...base, whitespace: true }).score;
    assert.ok(Math.abs(score - expected) < 1e-4, `${JSON.stringify(hyps)}: ${score} vs ${expected}`);
  }
});

test('sacrebleu test_chrf.py sentence level (beta 2, eps smoothing), plus exact 2.6.0 floats for default and chrF++', () => {
  const cases: Array<[string, string, number, number, number, number]> = [
    // hypothesis, reference, test-suite value, 2.6.0 eps float, 2.6.0 default float, 2.6.0 chrF++ float
    [
      'Co nás nejvíc trápí, protože lékaři si vybírají, kdo bude žít a kdo zemře.',
      'Nejvíce smutní jsme z toho, že musíme rozhodovat o tom, kdo bude žít a kdo zemře.',
      39.14078509,
      39.14078509431498,
      39.14081690316369,
      40.3769131075315,
    ],
    [
      'Nebo prostě nemají vybavení, které by jim pomohlo, uvedli lékaři.',
      'A někdy nemáme ani potřebný materiál, abychom jim pomohli, popsali lékaři.',
      31.22557079,
      31.22557078732341,
      31.225641469352972,
      28.927323825104185,
    ],
    [
      'Lapali po dechu, jejich životy skončily dřív, než skutečně začaly.',
      'Lapali po dechu a pak jejich život skončil - dřív, než skutečně mohl začít, připomněli.',
      57.15704367,
      57.15704366556671,
      57.157427512824064,
      54.134581828446215,
    ],
  ];
  for (const [hyp, ref, published, eps, effective, plusPlus] of cases) {
    const withEps = sentenceChrf(hyp, [ref], { epsSmoothing: true }).score;
    assert.ok(Math.abs(withEps - published) < 1e-4);
    assertClose(withEps, eps);
    assertClose(sentenceChrf(hyp, [ref]).score, effective);
    assertClose(sentenceChrf(hyp, [ref], { wordOrder: 2 }).score, plusPlus);
  }
});

test('effective-order averaging worked by hand', () => {
  // "aa" vs "ab": order 1 P = R = 1/2, order 2 ("aa" vs "ab") P = R = 0, orders 3-6 empty.
  // mean P = mean R = 1/4 → F_3 = 25 (sacrebleu's test value); F_2 likewise 25.
  assertClose(corpusChrf(['aa'], [['ab']], { beta: 3 }).score, fBeta(0.25, 0.25, 3));
  // "abcd" vs "abd" (beta 2): order 1: P = 3/4, R = 1; order 2: {ab,bc,cd} vs {ab,bd}: P = 1/3, R = 1/2;
  // order 3: {abc,bcd} vs {abd}: P = R = 0; orders 4..6: the reference has no n-grams → skipped.
  const p = (3 / 4 + 1 / 3 + 0) / 3;
  const r = (1 + 1 / 2 + 0) / 3;
  assertClose(sentenceChrf('abcd', ['abd']).score, fBeta(p, r, 2));
  // eps smoothing instead averages per-order F over all 6 orders (orders 4..6 give ε-ish values)
  const f1 = (5 * (3 / 4) * 1) / (4 * (3 / 4) + 1);
  const f2 = (5 * (1 / 3) * (1 / 2)) / (4 * (1 / 3) + 1 / 2);
  const eps = 1e-16;
  // order 3: P = R = 0 → contributes ε; orders 4..6: the reference is empty, so sacrebleu reports
  // the hypothesis count as 0 too and P = R = ε.
  const fEmpty = (5 * eps * eps) / (4 * eps + eps);
  assertClose(sentenceChrf('abcd', ['abd'], { epsSmoothing: true }).score, (100 * (f1 + f2 + eps + 3 * fEmpty)) / 6);
});

test('chrF++ word n-grams split one ASCII punctuation mark off word edges', () => {
  // "hello, world" → words [hello , world]; identical strings score 100 in chrF++
  assertClose(sentenceChrf('hello, world', ['hello, world'], { wordOrder: 2 }).score, 100);
  // char n-grams ignore whitespace, so "ab" vs "a b" is 100 in chrF but not in chrF++ (words differ)
  assertClose(sentenceChrf('ab', ['a b']).score, 100);
  assert.ok(sentenceChrf('ab', ['a b'], { wordOrder: 2 }).score < 100);
  // "(hi)" splits as "(hi" + ")" (sacrebleu issue #124), so it does not match the word "hi"
  const parenthesised = sentenceChrf('(hi)', ['hi'], { charOrder: 0, wordOrder: 1 }).score;
  assert.equal(parenthesised, 0);
});

test('multiple references: the best reference per sentence, first on ties; empty and identical inputs', () => {
  const best = sentenceChrf('the cat sat', ['a dog ran', 'the cat sat']).score;
  assertClose(best, 100);
  const firstOnly = corpusChrf(['the cat sat'], [['the cat sat'], ['a dog ran']]).score;
  assert.equal(best, firstOnly);
  // statistics of the chosen reference are summed over the corpus (not the sentence scores)
  const corpus = corpusChrf(['aa', 'a'], [['ab', 'a']], { beta: 3 }).score;
  // summed order-1 stats: hyp 3, ref 3, match 2; order 2: hyp 1 ("aa"), ref 1 ("ab"), match 0
  assertClose(corpus, fBeta((2 / 3 + 0) / 2, (2 / 3 + 0) / 2, 3));
  assert.equal(sentenceChrf('', ['reference']).score, 0);
  assert.equal(sentenceChrf('', ['']).score, 0);
  assertClose(sentenceChrf('人工智能', ['人工智能']).score, 100);
  // CJK: code-point n-grams (an astral character is one character, not two UTF-16 units)
  assertClose(sentenceChrf('𠀀a', ['𠀀b'], { charOrder: 1 }).score, fBeta(1 / 2, 1 / 2, 2));
  assert.equal(sentenceChrf('ABC', ['abc']).score, 0);
  assertClose(sentenceChrf('ABC', ['abc'], { lowercase: true }).score, 100);
});

test('invalid input raises a clear error', () => {
  assert.throws(() => corpusChrf([], [[]]), /chrF: hypotheses is empty/);
  assert.throws(() => corpusChrf(['a'], [['a', 'b']]), /references\[0\] has 2 segments but there are 1 hypotheses/);
  assert.throws(() => sentenceChrf('a', [null]), /hypothesis 0 has no reference/);
  assert.throws(() => corpusChrf(['a'], [['a']], { charOrder: 0, wordOrder: 0 }), /charOrder \+ wordOrder ≥ 1/);
  assert.throws(
    () => corpusChrf(['a'], [['a']], { charOrder: 1.5 }),
    /charOrder must be an integer in \[0, 100\], got 1.5/,
  );
});

test('equals sacrebleu 2.6.0 on 40 random corpora (orders, beta, case, whitespace, eps, null refs, Unicode)', () => {
  assert.equal(SACREBLEU_CHRF_CASES.length, 40);
  for (const c of SACREBLEU_CHRF_CASES) {
    const label = JSON.stringify(c);
    const chrf = corpusChrf(c.hypotheses, c.references, c.options);
    assertClose(chrf.score, c.expected.score, label);
    assert.equal(chrf.format(), c.expected.formatted, label);
    assert.equal(chrf.signature.replace(/\|version:.*$/, ''), c.expected.signature, label);
  }
});

test(
  'real data (Tatoeba en-zh, 1,000 pairs): chrF and chrF++ equal sacrebleu 2.6.0',
  { skip: skipWithoutShared('tatoeba-cmn-eng', 'cmn.txt') },
  () => {
    // Same corpus and corruptions as the BLEU test (see tatoebaCorpus); values from sacrebleu 2.6.0.
    const { en, zh, hypEn, ref2En, hypZh } = tatoebaCorpus()!;
    assertClose(corpusChrf(hypEn, [en]).score, 64.81434044407209);
    assertClose(corpusChrf(hypEn, [en, ref2En], { wordOrder: 2 }).score, 65.49526895206255);
    assertClose(corpusChrf(hypZh, [zh]).score, 34.85672164678423);
  },
);
