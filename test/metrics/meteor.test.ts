import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  alignWords,
  corpusMeteor,
  meteorScore,
  singleMeteorScore,
  type WordNetSource,
} from '../../src/metrics/meteor.js';
import { assertClose as close } from '../helpers/close.js';
import { skipWithoutWordNet } from '../helpers/wordnet.js';

/** A WordNet with no synsets: the synonym stage then matches nothing, as NLTK does for these inputs. */
const NO_SYNONYMS: WordNetSource = { synsets: () => [] };

/** METEOR from its formula with NLTK's defaults (alpha 0.9, beta 3, gamma 0.5). */
function meteorFormula(matches: number, hypothesisLength: number, referenceLength: number, chunks: number): number {
  const p = matches / hypothesisLength;
  const r = matches / referenceLength;
  const fmean = (p * r) / (0.9 * p + 0.1 * r);
  return (1 - 0.5 * (chunks / matches) ** 3) * fmean;
}

const words = (text: string): string[] => text.split(' ');

const hypothesis1 = words(
  'It is a guide to action which ensures that the military always obeys the commands of the party',
);
const hypothesis2 = words('It is to insure the troops forever hearing the activity guidebook that party direct');
const reference1 = words('It is a guide to action that ensures that the military will forever heed Party commands');
const reference2 = words(
  'It is the guiding principle which guarantees the military forces always being under the command of the Party',
);
const reference3 = words('It is the practical guide for the army always to heed the directions of the party');

test("NLTK's doctest examples (meteor.doctest, Wikipedia's METEOR examples) from the formula", () => {
  const options = { wordnet: NO_SYNONYMS };
  // Identical: 6 matches in 1 chunk -> 1 - 0.5 (1/6)^3 = 1 - 1/432; NLTK: round(.., 4) ~ 0.9977.
  const same = meteorScore([words('The cat sat on the mat')], words('The cat sat on the mat'), options);
  close(same, 1 - 1 / 432);
  close(same, meteorFormula(6, 6, 6, 1));
  // Every word matched but no two adjacent: 6 chunks, penalty 0.5; NLTK prints exactly 0.5.
  assert.equal(meteorScore([words('The cat sat on the mat')], words('on the mat sat the cat'), options), 0.5);
  // 'was' inserted: 6 matches of 7 / 6, chunks 'The cat' + 'sat on the mat'; NLTK: 0.9654.
  const was = meteorScore([words('The cat sat on the mat')], words('The cat was sat on the mat'), options);
  close(was, (53 / 54) * (60 / 61));
  assert.equal(was.toFixed(4), '0.9654');
  // Issue #2751: stems match creates/create and updates/update; 5 matches in 2 chunks; NLTK: 0.7806.
  const vm = meteorScore(
    [words('create or update a vm set')],
    words('creates or updates a virtual machine scale set'),
    options,
  );
  close(vm, meteorFormula(5, 8, 6, 2));
  assert.equal(vm.toFixed(4), '0.7806');
  // No alignment -> 0.
  assert.equal(
    meteorScore([words('The candidate has no alignment to any of the references')], words('John loves Mary'), options),
    0,
  );
  assert.equal(singleMeteorScore(['this', 'is', 'a', 'cat'], ['non', 'matching', 'hypothesis'], options), 0);
});

test("NLTK's unit test: case-insensitive match, max over references, exactly 0.9921875", () => {
  // nltk/test/unit/translate/test_meteor.py; the second reference is ['this', 'istest'] (a missing comma in NLTK's test).
  const references = [
    ['this', 'is', 'a', 'test'],
    ['this', 'istest'],
  ];
  const score = meteorScore(references, ['THIS', 'Is', 'a', 'tEST'], { wordnet: NO_SYNONYMS });
  assert.equal(score, 0.9921875); // 1 - 0.5 (1/4)^3 = 1 - 1/128
  assert.throws(
    () =>
      meteorScore(
        references.map((r) => r.join(' ')),
        ['THIS', 'Is', 'a', 'tEST'],
        { wordnet: NO_SYNONYMS },
      ),
    TypeError,
  );
  assert.throws(
    () => meteorScore(references, 'THIS Is a tEST', { wordnet: NO_SYNONYMS }),
    /"hypothesis" expects pre-tokenized hypothesis/,
  );
});

test('the single_meteor_score docstring example: 12 matches in 6 chunks (0.6944)', () => {
  // align_words(hypothesis1, reference1) in NLTK 3.8: (0,0)..(5,5), (7,7), (8,8), (10,10),
  // (14,15), (16,9), (17,14) -> 6 chunks; 'party' matches 'Party' after lowercasing.
  const alignment = alignWords(hypothesis1, reference1, { wordnet: NO_SYNONYMS });
  assert.deepEqual(alignment.matches, [
    [0, 0],
    [1, 1],
    [2, 2],
    [3, 3],
    [4, 4],
    [5, 5],
    [7, 7],
    [8, 8],
    [10, 10],
    [14, 15],
    [16, 9],
    [17, 14],
  ]);
  assert.deepEqual(alignment.unmatchedHypothesis, [
    [6, 'which'],
    [9, 'the'],
    [11, 'alway'],
    [12, 'obey'],
    [13, 'the'],
    [15, 'of'],
  ]);
  assert.deepEqual(alignment.unmatchedReference, [
    [6, 'that'],
    [11, 'will'],
    [12, 'forev'],
    [13, 'heed'],
  ]);
  const score = singleMeteorScore(reference1, hypothesis1, { wordnet: NO_SYNONYMS });
  close(score, meteorFormula(12, 18, 16, 6));
  close(score, (1 - 0.5 / 8) * (0.5 / 0.675));
  assert.equal(score.toFixed(4), '0.6944');
});

test('greedy order: each hypothesis word from the last takes the last free reference word', () => {
  // hyp 'a b a', ref 'a a b': hyp[2]='a' takes ref[1], hyp[1]='b' takes ref[2], hyp[0]='a' takes ref[0].
  const alignment = alignWords(['a', 'b', 'a'], ['a', 'a', 'b'], { wordnet: NO_SYNONYMS });
  assert.deepEqual(alignment.matches, [
    [0, 0],
    [1, 2],
    [2, 1],
  ]);
  // Chunks: (0,0) then (1,2) is not adjacent to it, (2,1) not adjacent to (1,2) -> 3 chunks.
  close(singleMeteorScore(['a', 'a', 'b'], ['a', 'b', 'a'], { wordnet: NO_SYNONYMS }), meteorFormula(3, 3, 3, 3));
});

test('synonym stage sees the stems left by the stem stage, and runs last', () => {
  const calls: string[] = [];
  const fake: WordNetSource = {
    synsets(word) {
      calls.push(word);
      return word === 'larg'
        ? [{ lemmaNames: ['big', 'large_scale'] }]
        : word === 'quick'
          ? [{ lemmaNames: ['fast'] }]
          : [];
    },
  };
  const alignment = alignWords(words('a large dog ran quick'), words('the big dogs ran fast'), { wordnet: fake });
  // Exact: ran; stems: dog/dogs; synonyms looked up for the remaining stems from the last word.
  assert.deepEqual(calls, ['quick', 'larg', 'a']);
  assert.deepEqual(alignment.matches, [
    [1, 1],
    [2, 2],
    [3, 3],
    [4, 4],
  ]);
  assert.deepEqual(alignment.unmatchedHypothesis, [[0, 'a']]);
  assert.deepEqual(alignment.unmatchedReference, [[0, 'the']]);
  // Lemma names containing '_' never match; the word itself always does.
  const underscore: WordNetSource = { synsets: () => [{ lemmaNames: ['big_deal'] }] };
  assert.deepEqual(alignWords(['zzz'], ['big_deal'], { wordnet: underscore }).matches, []);
  // wordnet: false skips the stage.
  assert.deepEqual(alignWords(words('a large dog'), words('the big dog'), { wordnet: false }).matches, [[2, 2]]);
});

test('edge cases: empty inputs, zero denominators, options', () => {
  const options = { wordnet: NO_SYNONYMS };
  assert.equal(singleMeteorScore([], ['a'], options), 0);
  assert.equal(singleMeteorScore(['a'], [], options), 0);
  assert.equal(singleMeteorScore([], [], options), 0);
  assert.throws(() => meteorScore([], ['a'], options), /at least one reference/);
  // alpha 2 with P = 1/2, R = 1: 2 * 1/2 + (1 - 2) * 1 = 0 -> NLTK's ZeroDivisionError -> 0.
  assert.equal(singleMeteorScore(['a'], ['a', 'b'], { ...options, alpha: 2 }), 0);
  // Custom alpha/beta/gamma through the formula: P = R = 1, 2 chunks of 4 matches.
  const custom = singleMeteorScore(words('a b c d'), words('a b d c'), { ...options, alpha: 0.5, beta: 2, gamma: 0.2 });
  // Matches (0,0),(1,1),(2,3),(3,2): chunks 'a b', 'd', 'c' = 3.
  close(custom, 1 - 0.2 * (3 / 4) ** 2);
  // preprocess: identity keeps case, so 'The' and 'the' differ at the exact stage, but NLTK's
  // stemmer lowercases, so they still match at the stem stage (m = 1 in one chunk -> 0.5).
  assert.equal(singleMeteorScore(['The'], ['the'], { ...options, preprocess: (t) => t }), 0.5);
  assert.equal(singleMeteorScore(['cat'], ['cat.'], options), 0);
  assert.equal(singleMeteorScore(['cat'], ['cat.'], { ...options, preprocess: (t) => t.replace(/\.$/, '') }), 0.5);
  assert.throws(
    () => singleMeteorScore(['a'], [1 as unknown as string], options),
    /"hypothesis"\[0\] must be a string/,
  );
  assert.throws(
    () => singleMeteorScore(['a'], ['a'], { ...options, alpha: 'x' as unknown as number }),
    /alpha must be a number/,
  );
  assert.throws(() => singleMeteorScore(['a'], ['a'], { wordnet: 42 as never }), /wordnet must be a WordNet directory/);
});

test('Chinese: strings need a tokenizer option; chars and jieba tokenizers', () => {
  const options = { wordnet: NO_SYNONYMS };
  assert.throws(() => singleMeteorScore('我爱北京', '我爱北京', options), /expects pre-tokenized/);
  // chars: 我 爱 北 京 vs 我 爱 北 京 天 安 门 -> 4 matches in one chunk.
  close(singleMeteorScore('我爱北京天安门', '我爱北京', { ...options, tokenizer: 'chars' }), meteorFormula(4, 4, 7, 1));
  // jieba: 我 / 爱 / 北京 vs 我 / 爱 / 北京 / 天安门 -> 3 matches in one chunk.
  close(singleMeteorScore('我爱北京天安门', '我爱北京', { ...options, tokenizer: 'jieba' }), meteorFormula(3, 3, 4, 1));
  // Pre-tokenised arrays are used as given even when a tokenizer is set.
  close(singleMeteorScore(['北京'], ['北京'], { ...options, tokenizer: 'chars' }), meteorFormula(1, 1, 1, 1));
});

test('with WordNet 3.0: NLTK 3.8 docstring and synonym values', { skip: skipWithoutWordNet }, () => {
  // Printed by NLTK 3.8 (Debian python3-nltk, WordNetCorpusReader on the same files);
  // NLTK's docs show round(meteor_score([reference1, reference2, reference3], hypothesis1), 4) == 0.6944.
  assert.equal(meteorScore([reference1, reference2, reference3], hypothesis1), 0.6944444444444445);
  assert.equal(singleMeteorScore(reference2, hypothesis1), 0.625);
  close(singleMeteorScore(reference3, hypothesis1), 0.5114197530864197);
  close(meteorScore([reference1, reference2, reference3], hypothesis2), 0.3035391371738569);
  close(singleMeteorScore(reference2, hypothesis2), 0.21136363636363634);
  // NLTK aligns hypothesis2 to reference3 with 7 matches (the synonym stage adds none here).
  assert.deepEqual(alignWords(hypothesis2, reference3).matches, [
    [0, 0],
    [1, 1],
    [2, 9],
    [4, 11],
    [8, 14],
    [12, 15],
    [13, 12],
  ]);
  // 'hound' ~ 'dog' through WordNet, but 'large' (stem 'larg') never reaches 'big': 1 match -> 0.0980...
  const bigDog = meteorScore([words('the big dog ran quickly')], words('a large hound was running fast'));
  close(bigDog, meteorFormula(1, 6, 5, 1));
  assert.deepEqual(alignWords(words('a large hound was running fast'), words('the big dog ran quickly')).matches, [
    [2, 2],
  ]);
  // 'car' ~ 'automobile' would need the stem 'automobil'; only 'he' matches (NLTK: 0.125).
  close(meteorScore([words('he bought a car')], words('he purchased an automobile')), 0.125);
});

test("corpusMeteor: Hugging Face evaluate's meteor (word_tokenize, max over references, np.mean)", () => {
  const options = { wordnet: NO_SYNONYMS };
  const prediction = hypothesis1.join(' ');
  // evaluate's docstring: one reference -> 0.6944 (12 matches in 6 chunks, as single_meteor_score)
  const one = corpusMeteor([prediction], [reference1.join(' ')], options);
  close(one.meteor, meteorFormula(12, 18, 16, 6));
  // several references per item: the best one; as strings (tokenised) or pre-tokenised
  const three = [reference1, reference2, reference3];
  const several = corpusMeteor([prediction], [three.map((r) => r.join(' '))], options);
  const best = Math.max(...three.map((r) => singleMeteorScore(r, hypothesis1, options)));
  close(several.meteor, best);
  assert.deepEqual(corpusMeteor([hypothesis1], [three], options), several);
  // the corpus value is the mean of the items; word_tokenize splits the final period (7 tokens)
  const corpus = corpusMeteor(
    [prediction, 'The cat sat on the mat.'],
    [reference1.join(' '), 'the cat sat on the mat.'],
    options,
  );
  close(corpus.scores, [meteorFormula(12, 18, 16, 6), 1 - 0.5 / 343]);
  close(corpus.meteor, (meteorFormula(12, 18, 16, 6) + 1 - 0.5 / 343) / 2);
  // whitespace tokenisation keeps "mat." whole: 6 tokens, all matched
  close(
    corpusMeteor(['The cat sat on the mat.'], ['the cat sat on the mat.'], { ...options, tokenizer: 'whitespace' })
      .meteor,
    1 - 0.5 / 216,
  );
  assert.ok(Number.isNaN(corpusMeteor([], [], options).meteor)); // np.mean([]) is NaN
  assert.throws(() => corpusMeteor(['a'], [], options), /1 predictions but 0 references/);
  assert.throws(() => corpusMeteor(['a'], [[]], options), /references\[0\] must be a string, a non-empty array/);
});
