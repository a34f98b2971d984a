/**
 * NLTK's Porter stemmer (nltk.stem.porter.PorterStemmer, NLTK 3.8) in its default
 * NLTK_EXTENSIONS mode: Porter (1980) plus Martin Porter's later amendments plus NLTK's own
 * changes (irregular-forms pool, 'ies'/'ied' on 4-letter words, the y->i rule only after a
 * consonant, 'alli' handled before 'bli', 'fulli' and 'logi' rules, the two-letter *o
 * condition, words of one or two characters left alone).
 *
 * Words are processed as arrays of Unicode code points so that lengths and positions match
 * Python's `str` (which counts code points, unlike JavaScript's UTF-16 `length`).
 */

type Chars = readonly string[];

/** Irregular forms NLTK looks up before running the algorithm (form -> stem). */
const IRREGULAR_FORMS: ReadonlyMap<string, string> = new Map(
  Object.entries({
    sky: ['sky', 'skies'],
    die: ['dying'],
    lie: ['lying'],
    tie: ['tying'],
    news: ['news'],
    inning: ['innings', 'inning'],
    outing: ['outings', 'outing'],
    canning: ['cannings', 'canning'],
    howe: ['howe'],
    proceed: ['proceed'],
    exceed: ['exceed'],
    succeed: ['succeed'],
  }).flatMap(([stem, forms]) => forms.map((form): [string, string] => [form, stem])),
);

const VOWELS = new Set(['a', 'e', 'i', 'o', 'u']);

function isConsonant(word: Chars, i: number): boolean {
  // A letter other than a, e, i, o, u; 'y' is a consonant only at the start or after a vowel.
  // Walk back over a run of 'y' instead of recursing: each 'y' flips its predecessor's class.
  let k = i;
  while (k >= 0 && word[k] === 'y') k--;
  const runLength = i - k;
  if (k < 0) return runLength % 2 === 1; // the word starts with the run: y(0) is a consonant
  const base = !VOWELS.has(word[k]!);
  return runLength % 2 === 0 ? base : !base;
}

/** Porter's m: the number of vowel-consonant transitions in the stem. */
function measure(stem: Chars): number {
  let m = 0;
  let previousIsVowel = false;
  for (let i = 0; i < stem.length; i++) {
    const consonant = isConsonant(stem, i);
    if (consonant && previousIsVowel) m++;
    previousIsVowel = !consonant;
  }
  return m;
}

function containsVowel(stem: Chars): boolean {
  for (let i = 0; i < stem.length; i++) if (!isConsonant(stem, i)) return true;
  return false;
}

/** Condition *d: ends with a double consonant. */
function endsDoubleConsonant(word: Chars): boolean {
  const n = word.length;
  return n >= 2 && word[n - 1] === word[n - 2] && isConsonant(word, n - 1);
}

/** Condition *o (consonant-vowel-consonant, last not w/x/y), plus NLTK's two-letter vowel-consonant case. */
function endsCvc(word: Chars): boolean {
  const n = word.length;
  return (
    (n >= 3 &&
      isConsonant(word, n - 3) &&
      !isConsonant(word, n - 2) &&
      isConsonant(word, n - 1) &&
      word[n - 1] !== 'w' &&
      word[n - 1] !== 'x' &&
      word[n - 1] !== 'y') ||
    (n === 2 && !isConsonant(word, 0) && isConsonant(word, 1))
  );
}

function endsWith(word: Chars, suffix: string): boolean {
  // Suffixes are ASCII, so one code point per UTF-16 unit.
  if (suffix.length > word.length) return false;
  const offset = word.length - suffix.length;
  for (let i = 0; i < suffix.length; i++) if (word[offset + i] !== suffix[i]) return false;
  return true;
}

function withoutSuffix(word: Chars, suffixLength: number): string[] {
  return word.slice(0, word.length - suffixLength);
}

function withSuffix(stem: Chars, replacement: string): string[] {
  return [...stem, ...replacement];
}

/** A rule: suffix to remove (or '*d' for any double consonant), replacement, condition on the stem. */
type Rule = readonly [suffix: string, replacement: string, condition: ((stem: Chars) => boolean) | null];

/**
 * Applies the first rule whose suffix matches; when its condition fails the word is returned
 * unchanged and no later rule is tried (as NLTK's `_apply_rule_list`).
 */
function applyRuleList(word: Chars, rules: readonly Rule[]): Chars {
  for (const [suffix, replacement, condition] of rules) {
    if (suffix === '*d' && endsDoubleConsonant(word)) {
      const stem = withoutSuffix(word, 2);
      return condition === null || condition(stem) ? withSuffix(stem, replacement) : word;
    }
    // NLTK then also tests '*d' as a literal suffix (only reachable for words containing '*').
    if (endsWith(word, suffix)) {
      const stem = withoutSuffix(word, suffix.length);
      return condition === null || condition(stem) ? withSuffix(stem, replacement) : word;
    }
  }
  return word;
}

const hasPositiveMeasure = (stem: Chars): boolean => measure(stem) > 0;
const measureGreaterThanOne = (stem: Chars): boolean => measure(stem) > 1;

function step1a(word: Chars): Chars {
  // NLTK: 'dies' -> 'die' (4-letter words), while 'flies' -> 'fli'.
  if (endsWith(word, 'ies') && word.length === 4) return withSuffix(withoutSuffix(word, 3), 'ie');
  return applyRuleList(word, [
    ['sses', 'ss', null],
    ['ies', 'i', null],
    ['ss', 'ss', null],
    ['s', '', null],
  ]);
}

function step1b(word: Chars): Chars {
  // NLTK: 'died' -> 'die', 'spied' -> 'spi'.
  if (endsWith(word, 'ied')) {
    return withSuffix(withoutSuffix(word, 3), word.length === 4 ? 'ie' : 'i');
  }
  if (endsWith(word, 'eed')) {
    const stem = withoutSuffix(word, 3);
    return measure(stem) > 0 ? withSuffix(stem, 'ee') : word;
  }
  let intermediate: Chars | null = null;
  for (const suffix of ['ed', 'ing']) {
    if (endsWith(word, suffix)) {
      const candidate = withoutSuffix(word, suffix.length);
      if (containsVowel(candidate)) {
        intermediate = candidate;
        break;
      }
    }
  }
  if (intermediate === null) return word;
  const last = intermediate[intermediate.length - 1] ?? '';
  return applyRuleList(intermediate, [
    ['at', 'ate', null],
    ['bl', 'ble', null],
    ['iz', 'ize', null],
    ['*d', last, () => last !== 'l' && last !== 's' && last !== 'z'],
    ['', 'e', (stem) => measure(stem) === 1 && endsCvc(stem)],
  ]);
}

function step1c(word: Chars): Chars {
  // NLTK: y -> i only after a consonant that is not the whole stem ('happy' -> 'happi', 'enjoy' stays).
  return applyRuleList(word, [['y', 'i', (stem) => stem.length > 1 && isConsonant(stem, stem.length - 1)]]);
}

function step2(word: Chars): Chars {
  // NLTK applies 'alli' -> 'al' first and re-runs step 2 on the result.
  if (endsWith(word, 'alli') && hasPositiveMeasure(withoutSuffix(word, 4))) {
    return step2(withSuffix(withoutSuffix(word, 4), 'al'));
  }
  return applyRuleList(word, [
    ['ational', 'ate', hasPositiveMeasure],
    ['tional', 'tion', hasPositiveMeasure],
    ['enci', 'ence', hasPositiveMeasure],
    ['anci', 'ance', hasPositiveMeasure],
    ['izer', 'ize', hasPositiveMeasure],
    ['bli', 'ble', hasPositiveMeasure],
    ['alli', 'al', hasPositiveMeasure],
    ['entli', 'ent', hasPositiveMeasure],
    ['eli', 'e', hasPositiveMeasure],
    ['ousli', 'ous', hasPositiveMeasure],
    ['ization', 'ize', hasPositiveMeasure],
    ['ation', 'ate', hasPositiveMeasure],
    ['ator', 'ate', hasPositiveMeasure],
    ['alism', 'al', hasPositiveMeasure],
    ['iveness', 'ive', hasPositiveMeasure],
    ['fulness', 'ful', hasPositiveMeasure],
    ['ousness', 'ous', hasPositiveMeasure],
    ['aliti', 'al', hasPositiveMeasure],
    ['iviti', 'ive', hasPositiveMeasure],
    ['biliti', 'ble', hasPositiveMeasure],
    ['fulli', 'ful', hasPositiveMeasure],
    // The 'l' of 'logi' stays with the stem for the measure, so 'geology' -> 'geolog'.
    ['logi', 'log', () => hasPositiveMeasure(withoutSuffix(word, 3))],
  ]);
}

function step3(word: Chars): Chars {
  return applyRuleList(word, [
    ['icate', 'ic', hasPositiveMeasure],
    ['ative', '', hasPositiveMeasure],
    ['alize', 'al', hasPositiveMeasure],
    ['iciti', 'ic', hasPositiveMeasure],
    ['ical', 'ic', hasPositiveMeasure],
    ['ful', '', hasPositiveMeasure],
    ['ness', '', hasPositiveMeasure],
  ]);
}

function step4(word: Chars): Chars {
  return applyRuleList(word, [
    ['al', '', measureGreaterThanOne],
    ['ance', '', measureGreaterThanOne],
    ['ence', '', measureGreaterThanOne],
    ['er', '', measureGreaterThanOne],
    ['ic', '', measureGreaterThanOne],
    ['able', '', measureGreaterThanOne],
    ['ible', '', measureGreaterThanOne],
    ['ant', '', measureGreaterThanOne],
    ['ement', '', measureGreaterThanOne],
    ['ment', '', measureGreaterThanOne],
    ['ent', '', measureGreaterThanOne],
    ['ion', '', (stem) => measure(stem) > 1 && (stem[stem.length - 1] === 's' || stem[stem.length - 1] === 't')],
    ['ou', '', measureGreaterThanOne],
    ['ism', '', measureGreaterThanOne],
    ['ate', '', measureGreaterThanOne],
    ['iti', '', measureGreaterThanOne],
    ['ous', '', measureGreaterThanOne],
    ['ive', '', measureGreaterThanOne],
    ['ize', '', measureGreaterThanOne],
  ]);
}

function step5a(word: Chars): Chars {
  // Both 'E' rules are tried (unlike the first-match rule lists).
  if (endsWith(word, 'e')) {
    const stem = withoutSuffix(word, 1);
    const m = measure(stem);
    if (m > 1) return stem;
    if (m === 1 && !endsCvc(stem)) return stem;
  }
  return word;
}

function step5b(word: Chars): Chars {
  return applyRuleList(word, [['ll', 'l', () => measure(withoutSuffix(word, 1)) > 1]]);
}

/**
 * Stems one word exactly as NLTK 3.8's `PorterStemmer().stem(word)` (mode NLTK_EXTENSIONS,
 * `to_lowercase=True`): the word is lowercased with full Unicode case mapping (Python's
 * `str.lower`); irregular forms come from NLTK's pool (looked up on the word as given, so
 * 'Skies' is not pooled, as in NLTK); words of at most two code points are only lowercased.
 */
export function porterStem(word: string): string {
  const lower = word.toLowerCase();
  const pooled = IRREGULAR_FORMS.get(word);
  if (pooled !== undefined) return pooled;
  const original = Array.from(word);
  if (original.length <= 2) return lower;
  let chars: Chars = Array.from(lower);
  chars = step1a(chars);
  chars = step1b(chars);
  chars = step1c(chars);
  chars = step2(chars);
  chars = step3(chars);
  chars = step4(chars);
  chars = step5a(chars);
  chars = step5b(chars);
  return chars.join('');
}

/** A stemmer: maps a word to its stem (NLTK's StemmerI interface). */
export interface Stemmer {
  /** The stem of one word. */
  stem(word: string): string;
}

/**
 * NLTK's `PorterStemmer()` (default mode NLTK_EXTENSIONS) as an object, with a per-instance
 * cache: stemming is pure, so repeated words cost one Map lookup.
 */
export class PorterStemmer implements Stemmer {
  readonly #cache = new Map<string, string>();

  /** The NLTK 3.8 Porter stem of `word` (see {@link porterStem}). */
  stem(word: string): string {
    let stem = this.#cache.get(word);
    if (stem === undefined) {
      stem = porterStem(word);
      if (this.#cache.size < 1_000_000) this.#cache.set(word, stem);
    }
    return stem;
  }
}
