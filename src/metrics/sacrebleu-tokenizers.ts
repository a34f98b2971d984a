/**
 * sacrebleu 2.x tokenizers, re-implemented rule for rule (sacrebleu/tokenizers/*.py).
 *
 * Every tokenizer returns a single string whose tokens are separated by one space, which BLEU
 * then splits on (Python) whitespace. All of them work on Unicode code points, as Python does.
 */
import { pySplit, pyStrip } from './pystr.js';

/** Names of the sacrebleu tokenizers available here ('13a' is sacrebleu's default). */
export type SacrebleuTokenizerName = '13a' | 'intl' | 'zh' | 'char' | 'none';

/** The tokenizer names accepted by {@link sacrebleuTokenize}, in sacrebleu's spelling. */
export const SACREBLEU_TOKENIZERS: readonly SacrebleuTokenizerName[] = ['13a', 'intl', 'zh', 'char', 'none'];

/**
 * mteval-v13a's language-dependent rules (sacrebleu's `TokenizerRegexp`), applied in order:
 * 1. space out the ASCII symbols `{|}~ [\]^_` space..& (..+ :..@ /` — i.e. all ASCII punctuation
 *    except `'`, `,`, `-`, `.`;
 * 2. space out `.`/`,` unless preceded by a digit;
 * 3. space out `.`/`,` unless followed by a digit;
 * 4. space out `-` when preceded by a digit.
 */
const MTEVAL_RULES: ReadonlyArray<readonly [RegExp, string]> = [
  [/([{-~[-\x60 -&(-+:-@/])/gu, ' $1 '],
  [/([^0-9])([.,])/gu, '$1 $2 '],
  [/([.,])([^0-9])/gu, ' $1 $2'],
  [/([0-9])(-)/gu, '$1 $2 '],
];

/** sacrebleu's `TokenizerRegexp`: the mteval rules, then whitespace normalised to single spaces. */
function mtevalRegexpTokenize(line: string): string {
  let out = line;
  for (const [pattern, replacement] of MTEVAL_RULES) out = out.replace(pattern, replacement);
  return pySplit(out).join(' ');
}

/**
 * sacrebleu's default `13a` tokenizer (mteval-v13a.pl as used by WMT).
 *
 * Removes `<skipped>`, joins `-\n` hyphenations, turns newlines into spaces, unescapes
 * `&quot;` `&amp;` `&lt;` `&gt;` (in that order, so `&amp;lt;` becomes `<`), pads the line with
 * one space on each side and applies the mteval punctuation rules.
 */
export function tokenize13a(line: string): string {
  let out = line.replaceAll('<skipped>', '').replaceAll('-\n', '').replaceAll('\n', ' ');
  if (out.includes('&')) {
    out = out.replaceAll('&quot;', '"').replaceAll('&amp;', '&').replaceAll('&lt;', '<').replaceAll('&gt;', '>');
  }
  return mtevalRegexpTokenize(` ${out} `);
}

/**
 * mteval-v14 "international" rules (sacrebleu's `intl`), with Unicode general categories:
 * punctuation (\p{P}) is spaced out unless it sits between digits (\p{N}), symbols (\p{S}) always.
 */
const INTERNATIONAL_RULES: ReadonlyArray<readonly [RegExp, string]> = [
  [/(\P{N})(\p{P})/gu, '$1 $2 '],
  [/(\p{P})(\P{N})/gu, ' $1 $2'],
  [/(\p{S})/gu, ' $1 '],
];

/**
 * sacrebleu's `intl` tokenizer (mteval-v14 `--international-tokenization`).
 *
 * As in mteval-v14 (and unlike 13a) the line is not padded, so a final `.` after a number stays
 * attached ("1999." is one token), and HTML escapes are not undone.
 */
export function tokenizeIntl(line: string): string {
  let out = line;
  for (const [pattern, replacement] of INTERNATIONAL_RULES) out = out.replace(pattern, replacement);
  return pySplit(out).join(' ');
}

/**
 * Code-point ranges that sacrebleu's `zh` tokenizer treats as Chinese characters.
 *
 * sacrebleu writes the supplementary-plane ranges as `u'\u20000'`..`u'\u2a6d6'` and
 * `u'\u2f800'`..`u'\u2fa1d'`, which Python reads as the TWO-character strings "\u2000" + "0" and
 * "\u2a6d" + "6" (`\u` takes exactly four hex digits). Comparing a one-character string `c` with
 * them lexicographically gives "\u2000" + "0" < c <= "\u2a6d" + "6" ⇔ U+2001 <= c <= U+2A6D, and
 * likewise U+2F81..U+2FA1. So sacrebleu splits General Punctuation, currency, arrows, maths
 * symbols... (U+2001..U+2A6D) as if they were Chinese, and does NOT split CJK Extension B
 * (U+20000..). Those effective ranges are reproduced here, since they define the published scores.
 */
const ZH_CHAR_RANGES: ReadonlyArray<readonly [number, number]> = [
  [0x3400, 0x4db5], // CJK Unified Ideographs Extension A
  [0x4e00, 0x9fa5], // CJK Unified Ideographs
  [0x9fa6, 0x9fbb], // CJK Unified Ideographs, Unicode 4.1 additions
  [0xf900, 0xfa2d], // CJK Compatibility Ideographs
  [0xfa30, 0xfa6a], // CJK Compatibility Ideographs, Unicode 3.2 additions
  [0xfa70, 0xfad9], // CJK Compatibility Ideographs, Unicode 4.1 additions
  [0x2001, 0x2a6d], // sacrebleu's "Extension B" range, as Python actually compares it (see above)
  [0x2f81, 0x2fa1], // sacrebleu's "Compatibility Supplement" range, likewise
  [0xff00, 0xffef], // full-width ASCII and punctuation, half-width kana, Hangul
  [0x2e80, 0x2eff], // CJK Radicals Supplement
  [0x3000, 0x303f], // CJK symbols and punctuation
  [0x31c0, 0x31ef], // CJK strokes
  [0x2f00, 0x2fdf], // Kangxi radicals
  [0x2ff0, 0x2fff], // ideographic description characters
  [0x3100, 0x312f], // Bopomofo
  [0x31a0, 0x31bf], // Bopomofo extended
  [0xfe10, 0xfe1f], // vertical forms
  [0xfe30, 0xfe4f], // CJK compatibility forms
  [0x2600, 0x26ff], // miscellaneous symbols
  [0x2700, 0x27bf], // dingbats
  [0x3200, 0x32ff], // enclosed CJK letters and months
  [0x3300, 0x33ff], // CJK compatibility
];

/** Whether sacrebleu's `zh` tokenizer splits this code point out as a Chinese character. */
export function isSacrebleuChineseChar(codePoint: number): boolean {
  return ZH_CHAR_RANGES.some(([start, end]) => codePoint >= start && codePoint <= end);
}

/**
 * sacrebleu's `zh` tokenizer: strips the line, surrounds every "Chinese" code point (see
 * `isSacrebleuChineseChar`) with spaces, then applies the mteval-v13a punctuation rules to
 * the result — without 13a's HTML unescaping and line padding, exactly as sacrebleu does.
 */
export function tokenizeZh(line: string): string {
  let spaced = '';
  for (const char of pyStrip(line)) {
    spaced += isSacrebleuChineseChar(char.codePointAt(0)!) ? ` ${char} ` : char;
  }
  return mtevalRegexpTokenize(spaced);
}

/** sacrebleu's `char` tokenizer: every code point (whitespace included) joined by single spaces. */
export function tokenizeChar(line: string): string {
  return Array.from(line).join(' ');
}

/** sacrebleu's `none` tokenizer: the line unchanged (BLEU then splits it on whitespace). */
export function tokenizeNone(line: string): string {
  return line;
}

const TOKENIZERS: Readonly<Record<SacrebleuTokenizerName, (line: string) => string>> = {
  '13a': tokenize13a,
  intl: tokenizeIntl,
  zh: tokenizeZh,
  char: tokenizeChar,
  none: tokenizeNone,
};

/**
 * The sacrebleu tokenizer called `name`.
 * @throws Error naming the accepted tokenizers when `name` is unknown.
 */
export function getSacrebleuTokenizer(name: SacrebleuTokenizerName): (line: string) => string {
  if (!Object.prototype.hasOwnProperty.call(TOKENIZERS, name)) {
    throw new Error(
      `unknown sacrebleu tokenizer ${JSON.stringify(name)}: expected one of ${SACREBLEU_TOKENIZERS.join(', ')}`,
    );
  }
  return TOKENIZERS[name];
}

/**
 * Tokenize `line` like sacrebleu's tokenizer `name`.
 * @param name tokenizer name; default '13a' (sacrebleu's default).
 */
export function sacrebleuTokenize(line: string, name: SacrebleuTokenizerName = '13a'): string {
  return getSacrebleuTokenizer(name)(line);
}
