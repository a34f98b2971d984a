/**
 * METEOR exactly as NLTK 3.8 computes it (nltk/translate/meteor_score.py): unigram alignment
 * in three greedy stages — exact words, then Porter stems, then WordNet synonyms — each
 * scanning the hypothesis from its last word to its first and taking, for each word, the last
 * still-unmatched reference word that fits; then
 *
 *   P = m / |hypothesis|, R = m / |reference|, Fmean = P R / (alpha P + (1 - alpha) R),
 *   penalty = gamma (chunks / m)^beta, score = (1 - penalty) Fmean,
 *
 * with chunks counted over the matches sorted by hypothesis position, and 0 wherever NLTK
 * divides by zero (empty hypothesis or reference, no match). Two NLTK details are kept on
 * purpose: the synonym stage looks up the *stems* left over by the stem stage, and the
 * multi-reference score is the maximum over references.
 */
import { PorterStemmer, type Stemmer } from './porter.js';
import { WordNet } from './wordnet.js';
import { resolveTokenizer, tokenizeChecked, type TokenizerOption } from './cjk.js';
import { nltkWordTokenize } from './nltk-word-tokenizer.js';
import { mean } from './numeric.js';

/** What METEOR needs from WordNet: NLTK's `wordnet.synsets(word)` and each synset's lemma names. */
export interface WordNetSource {
  /** The synsets of a word form, in WordNet order. */
  synsets(word: string): readonly { readonly lemmaNames: readonly string[] }[];
}

/** Options of {@link meteorScore} and {@link singleMeteorScore}, with NLTK's defaults. */
export interface MeteorOptions {
  /** Applied to every token before matching. Default: lowercase (Python `str.lower`). */
  preprocess?: (token: string) => string;
  /** Stemmer for the second stage. Default: NLTK's PorterStemmer (NLTK_EXTENSIONS). */
  stemmer?: Stemmer;
  /**
   * WordNet for the synonym stage: a dict directory, a reader ({@link WordNet} or any
   * {@link WordNetSource}), or false to skip the stage (not NLTK's behaviour: a named
   * deviation for machines without WordNet). Default: {@link WordNet.open}() — the directory
   * in $TUNEKIT_WORDNET_DIR, else /usr/share/wordnet (Debian/Ubuntu package wordnet-base).
   */
  wordnet?: string | WordNetSource | false;
  /** Relative weight of precision vs recall. Default 0.9. */
  alpha?: number;
  /** Shape of the fragmentation penalty. Default 3. */
  beta?: number;
  /** Weight of the fragmentation penalty. Default 0.5. */
  gamma?: number;
  /**
   * Tokenizer for inputs given as strings ('chars', 'jieba', a function or an object with
   * `tokenize`). Default none: like NLTK 3.8, a string input throws a TypeError.
   */
  tokenizer?: TokenizerOption;
}

/** A word with its position: NLTK's enumerated token lists. */
type Enumerated = [index: number, word: string];

/** Alignment of hypothesis to reference: NLTK's `align_words` result. */
export interface MeteorAlignment {
  /** (hypothesis index, reference index) pairs sorted by hypothesis index. */
  matches: [number, number][];
  /** Hypothesis words left unmatched, as (index, word after the stages that transformed it). */
  unmatchedHypothesis: [number, string][];
  /** Reference words left unmatched, likewise. */
  unmatchedReference: [number, string][];
}

interface ResolvedOptions {
  preprocess: (token: string) => string;
  stemmer: Stemmer;
  wordnet: WordNetSource | null;
  alpha: number;
  beta: number;
  gamma: number;
  tokenize: ((text: string) => string[]) | null;
}

const defaultStemmer = new PorterStemmer();

function resolveOptions(options: MeteorOptions): ResolvedOptions {
  const {
    preprocess = (token: string) => token.toLowerCase(),
    stemmer = defaultStemmer,
    wordnet,
    alpha = 0.9,
    beta = 3,
    gamma = 0.5,
    tokenizer,
  } = options;
  for (const [name, value] of [
    ['alpha', alpha],
    ['beta', beta],
    ['gamma', gamma],
  ] as const) {
    if (typeof value !== 'number' || Number.isNaN(value))
      throw new TypeError(`METEOR option ${name} must be a number; got ${String(value)}`);
  }
  if (typeof preprocess !== 'function')
    throw new TypeError('METEOR option preprocess must be a function (token) => string');
  if (stemmer === null || typeof stemmer !== 'object' || typeof stemmer.stem !== 'function') {
    throw new TypeError('METEOR option stemmer must be an object with a stem(word) method');
  }
  let source: WordNetSource | null;
  if (wordnet === false) source = null;
  else if (wordnet === undefined || typeof wordnet === 'string') source = WordNet.open(wordnet);
  else if (typeof wordnet === 'object' && wordnet !== null && typeof wordnet.synsets === 'function') source = wordnet;
  else throw new TypeError('METEOR option wordnet must be a WordNet directory, a reader with synsets(word), or false');
  return {
    preprocess,
    stemmer,
    wordnet: source,
    alpha,
    beta,
    gamma,
    tokenize: tokenizer === undefined ? null : resolveTokenizer(tokenizer, 'METEOR option tokenizer'),
  };
}

/** NLTK's `_generate_enums` type checks: pre-tokenised input, or a string when a tokenizer is set. */
function toTokens(input: unknown, name: 'hypothesis' | 'reference', tokenize: ResolvedOptions['tokenize']): string[] {
  if (typeof input === 'string') {
    if (tokenize === null) {
      throw new TypeError(
        `"${name}" expects pre-tokenized ${name} (an array of strings), or set the tokenizer option: ${input}`,
      );
    }
    return tokenizeChecked(tokenize, input, 'METEOR option tokenizer');
  }
  if (!Array.isArray(input))
    throw new TypeError(
      `"${name}" expects pre-tokenized ${name} (an array of strings); got ${input === null ? 'null' : typeof input}`,
    );
  input.forEach((token, i) => {
    if (typeof token !== 'string')
      throw new TypeError(`"${name}"[${i}] must be a string; got ${token === null ? 'null' : typeof token}`);
  });
  return input as string[];
}

function enumerate(tokens: readonly string[], preprocess: (token: string) => string): Enumerated[] {
  return tokens.map((token, i) => {
    const word = preprocess(token);
    if (typeof word !== 'string')
      throw new TypeError(
        `METEOR option preprocess must return a string; got ${typeof word} for ${JSON.stringify(token)}`,
      );
    return [i, word];
  });
}

/**
 * NLTK's `_match_enums` loop: for each hypothesis word from last to first, the last remaining
 * reference word accepted by `matches` is paired with it and both leave their lists.
 */
function greedyMatch(
  hypothesis: Enumerated[],
  reference: Enumerated[],
  matcher: (hypothesisWord: string) => (referenceWord: string) => boolean,
): [number, number][] {
  const pairs: [number, number][] = [];
  for (let i = hypothesis.length - 1; i >= 0; i--) {
    if (reference.length === 0) break;
    const accepts = matcher(hypothesis[i]![1]);
    for (let j = reference.length - 1; j >= 0; j--) {
      if (accepts(reference[j]![1])) {
        pairs.push([hypothesis[i]![0], reference[j]![0]]);
        hypothesis.splice(i, 1);
        reference.splice(j, 1);
        break;
      }
    }
  }
  return pairs;
}

/** METEOR's synonym set of a word: lemma names without '_' of its synsets, plus the word. */
function synonymsOf(wordnet: WordNetSource, word: string): Set<string> {
  const names = new Set<string>();
  for (const synset of wordnet.synsets(word))
    for (const name of synset.lemmaNames) if (!name.includes('_')) names.add(name);
  names.add(word);
  return names;
}

function align(hypothesis: Enumerated[], reference: Enumerated[], options: ResolvedOptions): MeteorAlignment {
  const exact = greedyMatch(hypothesis, reference, (h) => (r) => h === r);
  // NLTK replaces the remaining words by their stems, and the synonym stage then sees the stems.
  const stemmedHypothesis: Enumerated[] = hypothesis.map(([i, word]) => [i, options.stemmer.stem(word)]);
  const stemmedReference: Enumerated[] = reference.map(([i, word]) => [i, options.stemmer.stem(word)]);
  const stemmed = greedyMatch(stemmedHypothesis, stemmedReference, (h) => (r) => h === r);
  const wordnet = options.wordnet;
  const synonyms =
    wordnet === null
      ? []
      : greedyMatch(stemmedHypothesis, stemmedReference, (h) => {
          const names = synonymsOf(wordnet, h);
          return (r) => names.has(r);
        });
  const matches = [...exact, ...stemmed, ...synonyms].sort((a, b) => a[0] - b[0]);
  return { matches, unmatchedHypothesis: stemmedHypothesis, unmatchedReference: stemmedReference };
}

/** NLTK's `_count_chunks`: runs of matches adjacent in both hypothesis and reference (1 when there are none). */
function countChunks(matches: readonly [number, number][]): number {
  let chunks = 1;
  for (let i = 0; i + 1 < matches.length; i++) {
    const [h, r] = matches[i]!;
    const [nextH, nextR] = matches[i + 1]!;
    if (!(nextH === h + 1 && nextR === r + 1)) chunks++;
  }
  return chunks;
}

/**
 * NLTK 3.8 `align_words(hypothesis, reference)`: the exact, stem and synonym alignment with
 * the sorted matches and the unmatched words (defaults as {@link MeteorOptions}).
 */
export function alignWords(
  hypothesis: readonly string[] | string,
  reference: readonly string[] | string,
  options: MeteorOptions = {},
): MeteorAlignment {
  const resolved = resolveOptions(options);
  const h = toTokens(hypothesis, 'hypothesis', resolved.tokenize);
  const r = toTokens(reference, 'reference', resolved.tokenize);
  return align(enumerate(h, resolved.preprocess), enumerate(r, resolved.preprocess), resolved);
}

function score(reference: unknown, hypothesis: unknown, options: ResolvedOptions): number {
  const hypothesisTokens = toTokens(hypothesis, 'hypothesis', options.tokenize);
  const referenceTokens = toTokens(reference, 'reference', options.tokenize);
  const enumHypothesis = enumerate(hypothesisTokens, options.preprocess);
  const enumReference = enumerate(referenceTokens, options.preprocess);
  const translationLength = enumHypothesis.length;
  const referenceLength = enumReference.length;
  const { matches } = align(enumHypothesis, enumReference, options);
  const matchCount = matches.length;
  // Each division NLTK guards with `except ZeroDivisionError: return 0.0`.
  if (translationLength === 0 || referenceLength === 0) return 0;
  const precision = matchCount / translationLength;
  const recall = matchCount / referenceLength;
  const denominator = options.alpha * precision + (1 - options.alpha) * recall;
  if (denominator === 0 || matchCount === 0) return 0;
  const fmean = (precision * recall) / denominator;
  const fragmentation = countChunks(matches) / matchCount;
  const penalty = options.gamma * fragmentation ** options.beta;
  return (1 - penalty) * fmean;
}

/**
 * NLTK 3.8 `single_meteor_score(reference, hypothesis)`: METEOR of one pre-tokenised
 * hypothesis against one pre-tokenised reference. Defaults: alpha 0.9, beta 3, gamma 0.5,
 * lowercasing, NLTK's Porter stemmer, WordNet from $TUNEKIT_WORDNET_DIR or /usr/share/wordnet.
 *
 *   singleMeteorScore(['this', 'is', 'a', 'cat'], ['non', 'matching', 'hypothesis']) === 0
 */
export function singleMeteorScore(
  reference: readonly string[] | string,
  hypothesis: readonly string[] | string,
  options: MeteorOptions = {},
): number {
  return score(reference, hypothesis, resolveOptions(options));
}

/**
 * NLTK 3.8 `meteor_score(references, hypothesis)`: the best {@link singleMeteorScore} over the
 * references (same defaults). Throws on an empty reference list, as Python's max() does.
 */
export function meteorScore(
  references: readonly (readonly string[] | string)[],
  hypothesis: readonly string[] | string,
  options: MeteorOptions = {},
): number {
  const resolved = resolveOptions(options);
  if (typeof references === 'string' || !Array.isArray(references)) {
    throw new TypeError('"references" expects a list of pre-tokenized references (an array of arrays of strings)');
  }
  if (references.length === 0)
    throw new RangeError('meteorScore needs at least one reference (max() of an empty sequence)');
  let best = -Infinity;
  for (const reference of references) best = Math.max(best, score(reference, hypothesis, resolved));
  return best;
}

/** Options of {@link corpusMeteor}: {@link MeteorOptions}, with the tokenizer for string items. */
export interface CorpusMeteorOptions extends Omit<MeteorOptions, 'tokenizer'> {
  /**
   * How string items become tokens: 'nltk' (default: NLTK's `word_tokenize`, as Hugging Face
   * evaluate's `meteor` does), 'whitespace', or a {@link MeteorOptions.tokenizer} ('chars',
   * 'jieba', a function or an object with `tokenize`). Token arrays are used as given.
   */
  tokenizer?: 'nltk' | 'whitespace' | TokenizerOption;
}

/** One reference item of {@link corpusMeteor}. */
export type MeteorReferenceItem = string | readonly string[] | readonly (readonly string[])[];

function isTokenArray(value: unknown): value is readonly string[] {
  return Array.isArray(value) && value.every((t) => typeof t === 'string');
}

/**
 * Hugging Face evaluate's `meteor` metric: NLTK METEOR of every prediction against its
 * references, and their mean (NumPy's pairwise mean, as `np.mean`). evaluate tokenises every
 * string with `word_tokenize`, scores one reference with `single_meteor_score` and several with
 * `meteor_score` (the maximum), with alpha 0.9, beta 3, gamma 0.5.
 *
 * @param predictions one string (tokenised per `tokenizer`) or token array per item.
 * @param references per item: a string (one reference), an array of strings (several references,
 *   each tokenised, as evaluate's list of lists), or an array of token arrays (several
 *   pre-tokenised references). A single pre-tokenised reference is `[tokens]`.
 * @returns `meteor` (the mean; NaN for no items, as np.mean) and the per-item `scores`.
 */
export function corpusMeteor(
  predictions: readonly (string | readonly string[])[],
  references: readonly MeteorReferenceItem[],
  options: CorpusMeteorOptions = {},
): { meteor: number; scores: number[] } {
  if (!Array.isArray(predictions) || !Array.isArray(references))
    throw new TypeError('corpusMeteor: predictions and references must be arrays');
  if (predictions.length !== references.length) {
    throw new Error(
      `corpusMeteor: ${predictions.length} predictions but ${references.length} references; they must be parallel`,
    );
  }
  const { tokenizer = 'nltk', ...rest } = options;
  const ownTokenizer = tokenizer === 'nltk' || tokenizer === 'whitespace';
  const meteorOptions: MeteorOptions = ownTokenizer ? rest : { ...rest, tokenizer };
  const tokens = (text: string): readonly string[] | string =>
    tokenizer === 'nltk'
      ? nltkWordTokenize(text)
      : tokenizer === 'whitespace'
        ? text.split(/\s+/).filter((t) => t.length > 0)
        : text;
  const scores = predictions.map((prediction, i) => {
    let hypothesis: readonly string[] | string;
    if (typeof prediction === 'string') hypothesis = tokens(prediction);
    else if (isTokenArray(prediction)) hypothesis = prediction;
    else throw new TypeError(`corpusMeteor: predictions[${i}] must be a string or an array of tokens`);
    const reference: unknown = references[i];
    let refs: readonly (readonly string[] | string)[];
    if (typeof reference === 'string') refs = [tokens(reference)];
    else if (Array.isArray(reference) && reference.length > 0 && reference.every(isTokenArray)) refs = reference;
    else if (isTokenArray(reference) && reference.length > 0) refs = reference.map(tokens);
    else
      throw new TypeError(
        `corpusMeteor: references[${i}] must be a string, a non-empty array of strings, or an array of token arrays`,
      );
    return meteorScore(refs, hypothesis, meteorOptions);
  });
  return { meteor: mean(scores), scores };
}
