import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

import {
  cmrc2018EmScore,
  cmrc2018F1Score,
  cmrc2018MixedSegmentation,
  cmrc2018RemovePunctuation,
  squadEvaluate,
  squadExactMatch,
  squadF1,
  squadNormalizeAnswer,
  type SquadPrediction,
  type SquadReference,
} from '../../src/metrics/squad.js';
import { nltkWordTokenize } from '../../src/metrics/nltk-word-tokenizer.js';
import { assertClose } from '../helpers/close.js';
import { assetPath, skipWithoutShared } from '../helpers/shared.js';
import { NLTK_WORD_TOKENIZER_CASES } from './nltk-3.8-word-tokenizer-cases.js';

test('normalize_answer: lowercase, ASCII punctuation, whole-word articles, Python whitespace', () => {
  // Each expected value is also what the official v1.1 normalize_answer returns (run once with Python 3.11).
  assert.equal(squadNormalizeAnswer('The  Cat,  sat!'), 'cat sat');
  assert.equal(squadNormalizeAnswer('an\u00a0apple\x1cthe'), 'apple');
  // Python's \b is Unicode-aware: "a" inside "éa" is not a whole word
  assert.equal(squadNormalizeAnswer('Éa cat'), 'éa cat');
  assert.equal(squadNormalizeAnswer('théâtre the'), 'théâtre');
  // punctuation goes first, so "A_the" becomes the single word "athe"
  assert.equal(squadNormalizeAnswer('A_the'), 'athe');
  assert.equal(squadNormalizeAnswer('İstanbul the'), 'i̇stanbul');
  assert.equal(squadNormalizeAnswer(''), '');
  // non-ASCII punctuation is kept
  assert.equal(squadNormalizeAnswer('“Quoted” — text'), '“quoted” — text');
});

test('exact match and token F1, by hand', () => {
  // "cat sat on mat" vs "cat on mat": 3 common, P = 3/4, R = 1 → F1 = 6/7 (v1.1 script: 0.8571428571428571)
  assertClose(squadF1('the cat sat on the mat', 'a cat on a mat'), 6 / 7);
  // multiset overlap: min(2,1) + min(1,2) = 2, P = 2/3, R = 2/4 → 4/7
  assertClose(squadF1('cat cat dog', 'cat dog dog bird'), 4 / 7);
  assert.equal(squadExactMatch('The Broncos!', 'broncos'), true);
  // both normalise to "": exact match true but the v1.1 F1 is 0 (num_same == 0)
  assert.equal(squadExactMatch('the', 'a'), true);
  assert.equal(squadF1('the', 'a'), 0);
  assert.equal(squadF1('', ''), 0);
  // accents are not folded: "beyonce" ≠ "beyoncé"
  assert.equal(squadF1('Beyonce', 'Beyoncé and Bruno Mars'), 0);
  // Chinese without spaces is one token in SQuAD v1.1
  assert.equal(squadF1('北京 大学', '北京大学'), 0);
  assert.equal(squadF1('北京大学', '北京大学'), 1);
});

test('HF evaluate squad metric card examples', () => {
  const id = '56e10a3be3433e1400422b22';
  const references = [{ answers: { answer_start: [97], text: ['1976'] }, id }];
  assert.deepEqual(squadEvaluate([{ prediction_text: '1976', id }], references), { exact_match: 100.0, f1: 100.0 });
  assert.deepEqual(squadEvaluate([{ prediction_text: '1999', id }], references), { exact_match: 0.0, f1: 0.0 });
  // "Partial match (2 out of 3 answers correct)": {'exact_match': 66.66666666666667, 'f1': 66.66666666666667}
  const partial = squadEvaluate(
    [
      { prediction_text: '1976', id: '56e10a3be3433e1400422b22' },
      { prediction_text: 'Beyonce', id: '56d2051ce7d4791d0090260b' },
      { prediction_text: 'climate change', id: '5733b5344776f419006610e1' },
    ],
    [
      { answers: { answer_start: [97], text: ['1976'] }, id: '56e10a3be3433e1400422b22' },
      { answers: { answer_start: [233], text: ['Beyoncé and Bruno Mars'] }, id: '56d2051ce7d4791d0090260b' },
      { answers: { answer_start: [891], text: ['climate change'] }, id: '5733b5344776f419006610e1' },
    ],
  );
  assert.deepEqual(partial, { exact_match: 66.66666666666667, f1: 66.66666666666667 });
});

test('max over ground truths, unanswered questions count 0, last duplicate prediction wins', () => {
  const result = squadEvaluate(
    [
      { id: 'q1', prediction_text: 'Denver Broncos' },
      { id: 'q2', prediction_text: 'the Carolina Panthers' },
      { id: 'q3', prediction_text: 'Santa Clara, California' },
      { id: 'q4', prediction_text: 'Levi Stadium' },
      { id: 'q5', prediction_text: 'silver' },
      { id: 'q5', prediction_text: 'gold' },
    ],
    [
      { id: 'q1', answers: { text: ['Denver Broncos', 'Broncos'] } },
      { id: 'q2', answers: { text: ['Carolina Panthers'] } },
      {
        id: 'q3',
        answers: {
          text: ['Santa Clara, California', "Levi's Stadium in the San Francisco Bay Area at Santa Clara, California."],
        },
      },
      {
        id: 'q4',
        answers: {
          text: ["Levi's Stadium", "Levi's Stadium in the San Francisco Bay Area at Santa Clara, California."],
        },
      },
      { id: 'q5', answers: { text: ['golden anniversary', 'gold-themed', 'gold'] } },
      { id: 'q6', answers: { text: ['February 7, 2016'] } },
    ],
  );
  // q4: "levi stadium" vs "levis stadium": F1 = max(1/2, 2·(1/2)(1/12)/(1/2+1/12) = 2/13) = 1/2
  assertClose(
    squadF1('Levi Stadium', "Levi's Stadium in the San Francisco Bay Area at Santa Clara, California."),
    2 / 13,
  );
  // EM: q1,q2,q3,q5 of 6 → 66.666…; F1: (1+1+1+0.5+1+0)/6 = 75 (v1.1 script: 66.66666666666667, 75.0)
  assert.deepEqual(result, { exact_match: 66.66666666666667, f1: 75.0 });
});

test('squadEvaluate errors where the script fails, and on malformed input', () => {
  assert.throws(() => squadEvaluate([], []), /references is empty/);
  assert.throws(
    () => squadEvaluate([{ id: 'a', prediction_text: 'x' }], [{ id: 'a', answers: { text: [] } }]),
    /references\[0\] \(id "a"\) has no answer text/,
  );
  assert.throws(
    () =>
      squadEvaluate([{ id: 'a', prediction_text: 3 as unknown as string }], [{ id: 'a', answers: { text: ['x'] } }]),
    /predictions\[0\]\.prediction_text should be a string/,
  );
  assert.throws(
    () => squadEvaluate([], [{ id: 'a', answers: { text: 'x' as unknown as string[] } }]),
    /references\[0\]\.answers\.text should be an array of strings/,
  );
  assert.throws(
    () => squadEvaluate([], [{ id: 'a', answers: { text: ['x'] } }], { variant: 'v2' as 'cmrc2018' }),
    /unknown variant "v2"/,
  );
});

test('CMRC 2018 variant: per-character segmentation, contiguous LCS F1, punctuation-free exact match', () => {
  assert.deepEqual(cmrc2018MixedSegmentation(' NBA 总冠军 '), ['nba', '总', '冠', '军']);
  assert.deepEqual(cmrc2018MixedSegmentation('NBA总冠军《2016》'), ['nba', '总', '冠', '军', '《', '2016', '》']);
  assert.deepEqual(cmrc2018MixedSegmentation('NBA总冠军《2016》', true), ['nba', '总', '冠', '军', '2016']);
  // non-Chinese runs go through NLTK's word tokenizer, as in the script
  assert.deepEqual(cmrc2018MixedSegmentation("3.5%的人don't"), ['3.5', '%', '的', '人', 'do', "n't"]);
  // the script's "……" entry is two characters, so a single "…" is not punctuation to it
  assert.equal(cmrc2018RemovePunctuation('《北京…》'), '北京…');
  // "北京大学的" vs "北京大学": LCS 4, P = 4/5, R = 1 → F1 = 8/9
  assertClose(cmrc2018F1Score(['北京大学'], '北京大学的'), 8 / 9);
  // the LCS is contiguous: "大学北京" vs "北京大学" shares at most 2 characters in a row → P = R = 1/2
  assertClose(cmrc2018F1Score(['北京大学'], '大学北京'), 0.5);
  assert.equal(cmrc2018F1Score(['上海', '北京大学'], '北京大学'), 1);
  assert.equal(cmrc2018EmScore(['北京大学'], '《北京大学》'), 1);
  // the script keeps spaces in its exact match
  assert.equal(cmrc2018EmScore(['NBA总冠军'], 'nba 总冠军'), 0);
  assert.equal(cmrc2018F1Score(['NBA总冠军'], 'nba 总冠军'), 1);
  assert.throws(() => cmrc2018F1Score([], 'x'), /answers is empty/);
  // through squadEvaluate: SQuAD v1.1 treats unsegmented Chinese as one token, CMRC per character
  const predictions = [{ id: 'c1', prediction_text: '北京大学的' }];
  const references = [{ id: 'c1', answers: { text: ['北京大学'] } }];
  assert.deepEqual(squadEvaluate(predictions, references), { exact_match: 0, f1: 0 });
  const cmrc = squadEvaluate(predictions, references, { variant: 'cmrc2018' });
  assert.equal(cmrc.exact_match, 0);
  assertClose(cmrc.f1, (100 * 8) / 9);
});

interface SquadFile {
  data: {
    paragraphs: { context: string; qas: { id: string; answers: { text: string; answer_start: number }[] }[] }[];
  }[];
}

/**
 * XQuAD (1,190 SQuAD v1.1 questions, en and zh) with systematic predictions cut from the context
 * around the first answer: 'suffix' = the answer plus the next 10 characters, 'prefix' = the 5
 * characters before it plus the answer (code-point offsets). Expected values: the official
 * SQuAD v1.1 evaluation logic run once on the same predictions with Python 3.11.
 */
test(
  'real data (XQuAD en/zh, 1,190 questions): equals the official SQuAD v1.1 script',
  { skip: skipWithoutShared('xquad', 'xquad.zh.json') },
  () => {
    const expected: Array<['en' | 'zh', 'suffix' | 'prefix', number, number]> = [
      ['en', 'suffix', 3.697478991596639, 69.51401759511633],
      ['en', 'prefix', 14.117647058823529, 78.1811100764248],
      ['zh', 'suffix', 0.08403361344537816, 48.32846378644711],
      ['zh', 'prefix', 3.9495798319327733, 59.64434864854998],
    ];
    for (const [lang, strategy, exactMatch, f1] of expected) {
      const result = squadFileEvaluate(assetPath('xquad', `xquad.${lang}.json`)!, strategy, 'squad-v1.1');
      assertClose(result.exact_match, exactMatch, `${lang} ${strategy} EM`);
      assertClose(result.f1, f1, `${lang} ${strategy} F1`);
    }
  },
);

test('NLTK 3.8 NLTKWordTokenizer (used by the CMRC 2018 script): its docstring example and 150 reference cases', () => {
  // nltk/tokenize/destructive.py docstring
  const s = 'Good muffins cost $3.88 (roughly 3,36 euros)\nin New York.  Please buy me\ntwo of them.\nThanks.';
  assert.deepEqual(nltkWordTokenize(s), [
    'Good',
    'muffins',
    'cost',
    '$',
    '3.88',
    '(',
    'roughly',
    '3,36',
    'euros',
    ')',
    'in',
    'New',
    'York.',
    'Please',
    'buy',
    'me',
    'two',
    'of',
    'them.',
    'Thanks',
    '.',
  ]);
  // checked with NLTK 3.8
  assert.deepEqual(nltkWordTokenize('"Cannot," she said -- "gonna go."'), [
    '``',
    'Can',
    'not',
    ',',
    "''",
    'she',
    'said',
    '--',
    '``',
    'gon',
    'na',
    'go',
    '.',
    "''",
  ]);
  assert.deepEqual(nltkWordTokenize(''), []);
  assert.equal(NLTK_WORD_TOKENIZER_CASES.length, 150);
  for (const c of NLTK_WORD_TOKENIZER_CASES)
    assert.deepEqual(nltkWordTokenize(c.text), c.tokens, JSON.stringify(c.text));
});

/**
 * CMRC 2018 dev (3,219 questions) and XQuAD zh with the same 'suffix'/'prefix' predictions as
 * above. Expected values: the CMRC 2018 evaluation script's logic run once with NLTK 3.8, whose
 * `word_tokenize` was called with preserve_line=True because the Punkt model is not installed here.
 */
function squadFileEvaluate(
  path: string,
  strategy: 'suffix' | 'prefix',
  variant: 'squad-v1.1' | 'cmrc2018',
): ReturnType<typeof squadEvaluate> {
  const dataset = JSON.parse(readFileSync(path, 'utf8')) as SquadFile;
  const predictions: SquadPrediction[] = [];
  const references: SquadReference[] = [];
  for (const article of dataset.data) {
    for (const paragraph of article.paragraphs) {
      const context = Array.from(paragraph.context);
      for (const qa of paragraph.qas) {
        const first = qa.answers[0];
        assert.ok(first, 'every XQuAD question has an answer');
        const { text, answer_start: start } = first;
        const length = Array.from(text).length;
        const span =
          strategy === 'suffix'
            ? context.slice(start, start + length + 10)
            : context.slice(Math.max(0, start - 5), start + length);
        predictions.push({ id: qa.id, prediction_text: span.join('') });
        references.push({ id: qa.id, answers: { text: qa.answers.map((a) => a.text) } });
      }
    }
  }
  return squadEvaluate(predictions, references, { variant });
}

test(
  'real data (CMRC 2018 dev, XQuAD zh): the cmrc2018 variant equals the CMRC 2018 script',
  { skip: skipWithoutShared('cmrc2018', 'cmrc2018_dev.json') || skipWithoutShared('xquad', 'xquad.zh.json') },
  () => {
    const cmrc = assetPath('cmrc2018', 'cmrc2018_dev.json')!;
    const xquad = assetPath('xquad', 'xquad.zh.json')!;
    const expected: Array<[string, 'suffix' | 'prefix', number, number]> = [
      [cmrc, 'suffix', 2.3299161230195713, 60.338578854045075],
      [cmrc, 'prefix', 0.9319664492078286, 72.45198865907967],
      [xquad, 'suffix', 1.4285714285714286, 52.957912158152354],
      [xquad, 'prefix', 3.9495798319327733, 68.87020750501775],
    ];
    for (const [path, strategy, exactMatch, f1] of expected) {
      const result = squadFileEvaluate(path, strategy, 'cmrc2018');
      assertClose(result.exact_match, exactMatch, `${path} ${strategy} EM`);
      assertClose(result.f1, f1, `${path} ${strategy} F1`);
    }
  },
);
