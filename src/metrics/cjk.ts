/**
 * Tokenizers for Chinese, Japanese and Korean text, offered as named options of the ROUGE
 * and METEOR functions. They are never the default: rouge-score keeps only [a-z0-9] (so CJK
 * text scores 0 there) and NLTK's METEOR takes pre-tokenised input, and the defaults mirror
 * those references exactly.
 *
 * - 'chars': every CJK character (Han, Hiragana, Katakana, Hangul) is a token; runs of other
 *   letters, marks and digits form word tokens; everything else separates. Lowercased.
 * - 'jieba': Chinese word segmentation with jieba (`@node-rs/jieba`, its bundled dictionary,
 *   HMM for unknown words as Python jieba's default `cut`); tokens without any letter or digit
 *   (spaces, punctuation) are dropped. Lowercased.
 */
import { createRequire } from 'node:module';

/** A function from text to tokens. */
export type TokenizeFunction = (text: string) => string[];

/** An object with a `tokenize` method, like rouge-score's Tokenizer classes. */
export interface TokenizerObject {
  /** Splits a text into tokens. */
  tokenize(text: string): string[];
}

/** The named CJK-aware tokenizers. */
export type CjkTokenizerName = 'chars' | 'jieba';

/** A tokenizer choice accepted by the ROUGE and METEOR options. */
export type TokenizerOption = CjkTokenizerName | TokenizeFunction | TokenizerObject;

const CJK_CHAR = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]/u;
const WORD_CHAR = /[\p{L}\p{M}\p{N}]/u;
const HAS_WORD_CHAR = /[\p{L}\p{N}]/u;

/** Whether `char` (one code point) is a CJK character: Han, Hiragana, Katakana or Hangul. */
export function isCjkChar(char: string): boolean {
  return CJK_CHAR.test(char);
}

/**
 * Character-level CJK tokenization: each CJK character is one token, runs of other letters,
 * combining marks and digits are word tokens (so 'GPT-4' gives 'gpt', '4'), and whitespace,
 * punctuation and symbols separate tokens. Text is lowercased first.
 *
 *   cjkCharTokenize('我爱Python编程!') -> ['我', '爱', 'python', '编', '程']
 */
export function cjkCharTokenize(text: string): string[] {
  const tokens: string[] = [];
  let word = '';
  for (const char of text.toLowerCase()) {
    if (CJK_CHAR.test(char)) {
      if (word) tokens.push(word);
      word = '';
      tokens.push(char);
    } else if (WORD_CHAR.test(char)) {
      word += char;
    } else {
      if (word) tokens.push(word);
      word = '';
    }
  }
  if (word) tokens.push(word);
  return tokens;
}

interface JiebaInstance {
  cut(sentence: string, hmm?: boolean | null): string[];
}

let jieba: JiebaInstance | null = null;

/** Loads jieba and its dictionary on first use (about 0.2 s), then reuses it. */
function getJieba(): JiebaInstance {
  if (jieba === null) {
    // Loaded lazily so that importing the metrics never loads the native addon unless asked.
    const require = createRequire(import.meta.url);
    const { Jieba } = require('@node-rs/jieba') as { Jieba: { withDict(dict: Uint8Array): JiebaInstance } };
    const { dict } = require('@node-rs/jieba/dict') as { dict: Uint8Array };
    jieba = Jieba.withDict(dict);
  }
  return jieba;
}

/** Options of {@link jiebaTokenize}. */
export interface JiebaTokenizeOptions {
  /** Use jieba's HMM to join characters of words missing from the dictionary. Default true (Python jieba's `cut` default). */
  hmm?: boolean;
}

/**
 * Word-segmented tokenization with jieba (`@node-rs/jieba` and its bundled dictionary):
 * lowercased segments, keeping only those with a letter or digit (spaces and punctuation are
 * dropped).
 *
 *   jiebaTokenize('他来到了网易杭研大厦') -> ['他', '来到', '了', '网易', '杭研', '大厦']
 */
export function jiebaTokenize(text: string, options: JiebaTokenizeOptions = {}): string[] {
  const { hmm = true } = options;
  return getJieba()
    .cut(text, hmm)
    .map((token) => token.trim().toLowerCase())
    .filter((token) => HAS_WORD_CHAR.test(token));
}

/**
 * Turns a tokenizer option into a function. `name` is the option's name for error messages.
 * Throws on anything else, naming the accepted values.
 */
export function resolveTokenizer(option: TokenizerOption, name = 'tokenizer'): TokenizeFunction {
  if (option === 'chars') return cjkCharTokenize;
  if (option === 'jieba') return (text) => jiebaTokenize(text);
  if (typeof option === 'function') return option;
  if (option !== null && typeof option === 'object' && typeof option.tokenize === 'function') {
    return (text) => option.tokenize(text);
  }
  throw new TypeError(
    `${name} must be 'chars', 'jieba', a function (text) => tokens or an object with a tokenize(text) method; got ${describe(option)}`,
  );
}

/** Calls a tokenizer and checks that it returned an array of strings. */
export function tokenizeChecked(tokenize: TokenizeFunction, text: string, name = 'tokenizer'): string[] {
  const tokens: unknown = tokenize(text);
  if (!Array.isArray(tokens) || tokens.some((token) => typeof token !== 'string')) {
    throw new TypeError(`${name} must return an array of strings; got ${describe(tokens)}`);
  }
  return tokens as string[];
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return `an array (${value.length} items)`;
  return value === null ? 'null' : typeof value;
}
