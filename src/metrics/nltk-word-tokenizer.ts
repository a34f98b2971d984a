/**
 * NLTK 3.8's `NLTKWordTokenizer` (the improved Penn Treebank tokenizer behind `nltk.word_tokenize`),
 * re-implemented rule for rule. The CMRC 2018 evaluation script word-tokenizes non-Chinese text
 * with it.
 *
 * Python regex semantics are kept where JavaScript differs: `\w`/`\b` are Unicode-aware (letters,
 * numbers, `_`), `\d` is any decimal digit, `\s` is Python's whitespace set, and `$` also matches
 * before a final newline.
 */
import { pySplit } from './pystr.js';

/** Python's `\s` (str.isspace()) as a character-class body. */
const WS = '\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
/** Python's Unicode `\w` as a character-class body. */
const WORD = '\\p{L}\\p{N}_';
/** Python's `$` without MULTILINE: the end, or just before a newline that ends the string. */
const END = '(?=\\n?$)';

type Rule = readonly [RegExp, string];

const rule = (source: string, replacement: string, flags = ''): Rule => [new RegExp(source, `gu${flags}`), replacement];

const STARTING_QUOTES: readonly Rule[] = [
  rule('([«“‘„]|[`]+)', ' $1 '),
  [/^"/u, '``'],
  rule('(``)', ' $1 '),
  rule('([ (\\[{<])("|\'{2})', '$1 `` '),
  // an apostrophe opening a word, unless it starts a clitic ('re 've 'll 'm 't 's 'd 'n)
  rule(`(')(?!re|ve|ll|m|t|s|d|n)([${WORD}])(?![${WORD}])`, '$1 $2', 'i'),
];

const PUNCTUATION: readonly Rule[] = [
  rule(`([^.])(\\.)([\\])}>"'»”’ ]*)[${WS}]*${END}`, '$1 $2 $3 '),
  rule('([:,])([^\\p{Nd}])', ' $1 $2'),
  rule(`([:,])${END}`, ' $1 '),
  rule('\\.{2,}', ' $& '),
  rule('[;@#$%&]', ' $& '),
  rule(`([^.])(\\.)([\\])}>"']*)[${WS}]*${END}`, '$1 $2$3 '),
  rule('[?!]', ' $& '),
  rule("([^'])' ", "$1 ' "),
  rule('[*]', ' $& '),
];

const PARENS_BRACKETS: Rule = rule('[\\][(){}<>]', ' $& ');
const DOUBLE_DASHES: Rule = rule('--', ' -- ');

const ENDING_QUOTES: readonly Rule[] = [
  rule('([»”’])', ' $1 '),
  rule("''", " '' "),
  rule('"', " '' "),
  rule("([^' ])('[sS]|'[mM]|'[dD]|') ", '$1 $2 '),
  rule("([^' ])('ll|'LL|'re|'RE|'ve|'VE|n't|N'T) ", '$1 $2 '),
];

/** Robert MacIntyre's contractions ("cannot" → "can not", "gonna" → "gon na", " 'tis" → " 't is"). */
const CONTRACTIONS: readonly Rule[] = [
  ...['(can)(not)', "(d)('ye)", '(gim)(me)', '(gon)(na)', '(got)(ta)', '(lem)(me)', "(more)('n)"].map((pair) =>
    rule(`(?<![${WORD}])${pair}(?![${WORD}])`, ' $1 $2 ', 'i'),
  ),
  rule(`(?<![${WORD}])(wan)(na)(?=[${WS}])`, ' $1 $2 ', 'i'),
  rule(`[ ]('t)(is)(?![${WORD}])`, ' $1 $2 ', 'i'),
  rule(`[ ]('t)(was)(?![${WORD}])`, ' $1 $2 ', 'i'),
];

function applyRules(text: string, rules: readonly Rule[]): string {
  let out = text;
  for (const [pattern, replacement] of rules) out = out.replace(pattern, replacement);
  return out;
}

/**
 * `nltk.tokenize.NLTKWordTokenizer().tokenize(text)` of NLTK 3.8 (without `convert_parentheses`).
 *
 * `nltk.word_tokenize(text)` first splits the text into sentences with the Punkt model and then
 * applies this to each sentence; this function is `word_tokenize(text, preserve_line=True)`, which
 * differs only when a sentence-final period sits inside the text ("Hi there. Bye" keeps "there.").
 */
export function nltkWordTokenize(text: string): string[] {
  let out = applyRules(text, STARTING_QUOTES);
  out = applyRules(out, PUNCTUATION);
  out = applyRules(out, [PARENS_BRACKETS, DOUBLE_DASHES]);
  out = applyRules(` ${out} `, ENDING_QUOTES);
  out = applyRules(out, CONTRACTIONS);
  return pySplit(out);
}
