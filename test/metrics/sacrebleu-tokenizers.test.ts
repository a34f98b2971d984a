import assert from 'node:assert/strict';
import { test } from 'node:test';

import { pyFormatFixed, pyRstrip, pySplit, pyStrip } from '../../src/metrics/pystr.js';
import {
  getSacrebleuTokenizer,
  isSacrebleuChineseChar,
  sacrebleuTokenize,
  SACREBLEU_TOKENIZERS,
  tokenize13a,
  tokenizeChar,
  tokenizeIntl,
  tokenizeNone,
  tokenizeZh,
  type SacrebleuTokenizerName,
} from '../../src/metrics/sacrebleu-tokenizers.js';
import { SACREBLEU_TOKENIZER_CASES } from './sacrebleu-2.6.0-cases.js';

test('Python str.split()/strip() whitespace: U+001C and U+0085 split, U+FEFF does not', () => {
  // Python 3.11: 'a\u00a0b\x1cc\ufeffd'.split() == ['a', 'b', 'c\ufeffd']
  assert.deepEqual(pySplit('a\u00a0b\x1cc\ufeffd'), ['a', 'b', 'c\ufeffd']);
  assert.deepEqual(pySplit('  x\u0085y\u3000 '), ['x', 'y']);
  assert.deepEqual(pySplit(''), []);
  assert.deepEqual(pySplit(' \t\n'), []);
  assert.equal(pyStrip('\u2028 a b \x1f'), 'a b');
  assert.equal(pyRstrip(' a \u205f'), ' a');
  assert.equal(pyStrip('\ufeffa'), '\ufeffa');
});

test("Python's round-half-even fixed formatting of exact binary ties", () => {
  // Python: f'{0.125:.2f}' == '0.12', f'{0.375:.2f}' == '0.38', f'{2.5:.0f}' == '2', f'{2.675:.2f}' == '2.67'
  assert.equal(pyFormatFixed(0.125, 2), '0.12');
  assert.equal(pyFormatFixed(0.375, 2), '0.38');
  assert.equal(pyFormatFixed(2.5, 0), '2');
  assert.equal(pyFormatFixed(3.5, 0), '4');
  assert.equal(pyFormatFixed(-0.125, 2), '-0.12');
  assert.equal(pyFormatFixed(2.675, 2), '2.67'); // 2.675 is 2.67499999... in binary: not a tie
  assert.equal(pyFormatFixed(48.530827009929865, 2), '48.53');
  assert.equal(pyFormatFixed(12.25, 1), '12.2');
  assert.equal(pyFormatFixed(100, 3), '100.000');
});

test('13a: mteval-v13a punctuation rules, worked by hand (each also checked with sacrebleu 2.6.0)', () => {
  assert.equal(tokenize13a('Hello, world!'), 'Hello , world !');
  // '.' and ',' between digits stay; '-' after a digit is split, elsewhere kept.
  assert.equal(tokenize13a('It costs 3.5 or 1,000 dollars.'), 'It costs 3.5 or 1,000 dollars .');
  assert.equal(tokenize13a('pages 1-2 of well-known'), 'pages 1 - 2 of well-known');
  // apostrophes are not split by 13a
  assert.equal(tokenize13a("It wasn't surprising."), "It wasn't surprising .");
  // HTML escapes undone, <skipped> removed, '-\n' joined, '\n' a space
  assert.equal(tokenize13a('&quot;Tom &amp; Jerry&quot; &lt;3'), '" Tom & Jerry " < 3');
  assert.equal(tokenize13a('a<skipped>b co-\noperate\nnow'), 'ab cooperate now');
  // a trailing '.' after a number IS split (13a pads the line with spaces; compare intl below)
  assert.equal(tokenize13a('in 1999.'), 'in 1999 .');
  assert.equal(tokenize13a(''), '');
});

test('intl: Unicode punctuation and symbols (mteval-v14), worked by hand (each also checked with sacrebleu 2.6.0)', () => {
  assert.equal(tokenizeIntl('Hello, world!'), 'Hello , world !');
  assert.equal(tokenizeIntl('«Bonjour» dit-il'), '« Bonjour » dit - il');
  assert.equal(tokenizeIntl('€5 ≥ 3.5'), '€ 5 ≥ 3.5');
  // sacrebleu's docstring: a number followed by a final '.' is NOT split (as in mteval-v14)
  assert.equal(tokenizeIntl('in 1999.'), 'in 1999.');
  assert.equal(tokenizeIntl("It wasn't"), "It wasn ' t");
  // HTML escapes are not undone (sacrebleu issue #138)
  assert.equal(tokenizeIntl('&amp;'), '& amp ;');
  // Unicode categories as Python's `regex` module has them: Nd/No/astral digits keep their
  // separators, Pc '_' and Sk '^' '´', So '😀' are split (sacrebleu 2.6.0 with regex 2026.5.9;
  // every code point's P/S/N membership was also compared: identical to Node 20's tables)
  assert.equal(tokenizeIntl('٣.٤ and 3,5 _x_ ^2 §1 ½,¾ a¹.b'), '٣.٤ and 3,5 _ x _ ^ 2 § 1 ½,¾ a¹ . b');
  assert.equal(tokenizeIntl('𝟘.𝟙 ①.② x😀y \u00b4a'), '𝟘.𝟙 ①.② x 😀 y ´ a');
});

test('zh: CJK characters split, the rest tokenized by the 13a rules', () => {
  assert.equal(tokenizeZh('我爱北京天安门。'), '我 爱 北 京 天 安 门 。');
  assert.equal(tokenizeZh('  GPT-4模型,很好! '), 'GPT-4 模 型 , 很 好 !');
  // Quirk of sacrebleu's ranges (u'\u20000' is "\u2000"+"0" in Python): General Punctuation and
  // symbols U+2001..U+2A6D are split like Chinese, CJK Extension B (U+20000) is not. Checked
  // against sacrebleu 2.6.0: TokenizerZh()('a—b𠀀c€d\u2001e\u2000f⾀g\u2f81h')
  //   == 'a — b𠀀c € d e f ⾀ g ⾁ h'
  assert.equal(tokenizeZh('a—b𠀀c€d\u2001e\u2000f⾀g\u2f81h'), 'a — b𠀀c € d e f ⾀ g ⾁ h');
  assert.equal(isSacrebleuChineseChar(0x2000), false);
  assert.equal(isSacrebleuChineseChar(0x2001), true);
  assert.equal(isSacrebleuChineseChar(0x2a6d), true);
  assert.equal(isSacrebleuChineseChar(0x2a6e), false);
  assert.equal(isSacrebleuChineseChar(0x20000), false);
  assert.equal(isSacrebleuChineseChar(0x4e00), true);
  assert.equal(isSacrebleuChineseChar(0x9fbb), true);
  assert.equal(isSacrebleuChineseChar(0x9fbc), false);
  // zh does not undo HTML escapes (only 13a does); sacrebleu 2.6.0 gives '& amp ;'
  assert.equal(tokenizeZh('&amp;'), '& amp ;');
});

test('char and none', () => {
  assert.equal(tokenizeChar('ab c'), 'a b   c');
  assert.equal(tokenizeChar('𠀀😀'), '𠀀 😀'); // code points, not UTF-16 units
  assert.equal(tokenizeChar(''), '');
  assert.equal(tokenizeNone(' x, y '), ' x, y ');
});

test('tokenizer lookup and defaults', () => {
  assert.equal(sacrebleuTokenize('a,b'), tokenize13a('a,b'));
  assert.deepEqual([...SACREBLEU_TOKENIZERS], ['13a', 'intl', 'zh', 'char', 'none']);
  assert.equal(getSacrebleuTokenizer('intl'), tokenizeIntl);
  assert.throws(
    () => getSacrebleuTokenizer('ja-mecab' as SacrebleuTokenizerName),
    /unknown sacrebleu tokenizer "ja-mecab".*13a, intl, zh, char, none/,
  );
  assert.throws(() => getSacrebleuTokenizer('toString' as SacrebleuTokenizerName), /unknown sacrebleu tokenizer/);
});

test('all tokenizers equal sacrebleu 2.6.0 on 60 random lines (punctuation, escapes, CJK, symbols, odd whitespace)', () => {
  assert.equal(SACREBLEU_TOKENIZER_CASES.length, 60);
  for (const c of SACREBLEU_TOKENIZER_CASES) {
    for (const name of ['13a', 'intl', 'zh', 'char'] as const) {
      assert.equal(sacrebleuTokenize(c.line, name), c[name], `${name} on ${JSON.stringify(c.line)}`);
    }
  }
});
