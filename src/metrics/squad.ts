/**
 * Question-answering metrics.
 *
 * Default: the official SQuAD v1.1 evaluation script, as wrapped by Hugging Face `evaluate`'s
 * `squad` metric — answer normalisation, exact match, bag-of-tokens F1, the maximum over the
 * ground truths, corpus scores in percent.
 *
 * Opt-in (`variant: 'cmrc2018'`): the CMRC 2018 (Chinese machine reading comprehension) script's
 * metrics, which score Chinese answers per character; see {@link cmrc2018F1Score}.
 */
import { nltkWordTokenize } from './nltk-word-tokenizer.js';
import { pySplit, pyStrip } from './pystr.js';
import { isArrayInput } from './guards.js';

/** Python's `string.punctuation`: the 32 ASCII punctuation characters removed by the SQuAD script. */
const ASCII_PUNCTUATION = /[!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]/g;

/**
 * Python's `re.sub(r'\b(a|an|the)\b', ' ', text)`. Python's `\b` is Unicode-aware: a word
 * character is a letter, a number or `_` (JavaScript's `\b` is ASCII-only, so "éa" would differ).
 */
const ARTICLES = /(?<![\p{L}\p{N}_])(?:a|an|the)(?![\p{L}\p{N}_])/gu;

/**
 * The SQuAD v1.1 `normalize_answer`: lowercase, delete ASCII punctuation, replace the whole words
 * "a", "an", "the" by a space, then collapse whitespace (Python's whitespace set) to single spaces.
 */
export function squadNormalizeAnswer(s: string): string {
  const noPunctuation = s.toLowerCase().replace(ASCII_PUNCTUATION, '');
  return pySplit(noPunctuation.replace(ARTICLES, ' ')).join(' ');
}

/** SQuAD v1.1 `exact_match_score`: whether the normalised answers are equal. */
export function squadExactMatch(prediction: string, groundTruth: string): boolean {
  return squadNormalizeAnswer(prediction) === squadNormalizeAnswer(groundTruth);
}

function countTokens(tokens: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const token of tokens) counts.set(token, (counts.get(token) ?? 0) + 1);
  return counts;
}

/**
 * SQuAD v1.1 `f1_score`: with normalised whitespace tokens, common = Σ_t min(count_pred(t),
 * count_gold(t)); P = common/|pred|, R = common/|gold|, F1 = 2PR/(P+R); 0 when nothing is in
 * common — including when both answers normalise to nothing (the v1.1 script returns 0 there,
 * while the exact match is true).
 */
export function squadF1(prediction: string, groundTruth: string): number {
  const predictionTokens = pySplit(squadNormalizeAnswer(prediction));
  const groundTruthTokens = pySplit(squadNormalizeAnswer(groundTruth));
  const goldCounts = countTokens(groundTruthTokens);
  let numSame = 0;
  for (const [token, count] of countTokens(predictionTokens)) numSame += Math.min(count, goldCounts.get(token) ?? 0);
  if (numSame === 0) return 0;
  const precision = (1.0 * numSame) / predictionTokens.length;
  const recall = (1.0 * numSame) / groundTruthTokens.length;
  return (2 * precision * recall) / (precision + recall);
}

/** A prediction in Hugging Face `evaluate`'s squad format. */
export interface SquadPrediction {
  id: string;
  prediction_text: string;
}

/** A reference in Hugging Face `evaluate`'s squad format (`answer_start` is not used). */
export interface SquadReference {
  id: string;
  answers: { text: string[]; answer_start?: number[] };
}

/** Corpus scores in percent, keyed as Hugging Face `evaluate` returns them. */
export interface SquadResult {
  exact_match: number;
  f1: number;
}

/** Options of {@link squadEvaluate}. */
export interface SquadEvaluateOptions {
  /**
   * 'squad-v1.1' (default): the official SQuAD v1.1 script. 'cmrc2018': the CMRC 2018 script's
   * Chinese-aware exact match and character/word-segment LCS F1 ({@link cmrc2018F1Score}).
   */
  variant?: 'squad-v1.1' | 'cmrc2018';
}

/**
 * Hugging Face `evaluate`'s `squad` metric (official SQuAD v1.1 script): for every reference,
 * the maximum exact match and F1 of its prediction over the reference's answers; a reference
 * whose id has no prediction scores 0 (the script prints "Unanswered question … will receive
 * score 0"); with duplicate prediction ids the last wins. Returns 100 · mean over references.
 *
 * @param predictions `{ id, prediction_text }` items.
 * @param references `{ id, answers: { text: [...] } }` items; their count is the denominator.
 * @param options variant 'squad-v1.1' (default) or 'cmrc2018'.
 * @throws when there are no references (the script divides by zero), a reference has no answer
 *   (Python's max() of an empty list), or a field has the wrong type.
 */
export function squadEvaluate(
  predictions: readonly SquadPrediction[],
  references: readonly SquadReference[],
  options: SquadEvaluateOptions = {},
): SquadResult {
  const variant = options.variant ?? 'squad-v1.1';
  if (variant !== 'squad-v1.1' && variant !== 'cmrc2018') {
    throw new Error(`squadEvaluate: unknown variant ${JSON.stringify(variant)}: expected 'squad-v1.1' or 'cmrc2018'`);
  }
  if (!isArrayInput(predictions))
    throw new TypeError('squadEvaluate: predictions should be an array of { id, prediction_text }');
  if (!isArrayInput(references))
    throw new TypeError('squadEvaluate: references should be an array of { id, answers: { text } }');
  const predictionById = new Map<string, string>();
  predictions.forEach((p, i) => {
    if (typeof p?.id !== 'string') throw new TypeError(`squadEvaluate: predictions[${i}].id should be a string`);
    if (typeof p.prediction_text !== 'string')
      throw new TypeError(`squadEvaluate: predictions[${i}].prediction_text should be a string`);
    predictionById.set(p.id, p.prediction_text);
  });
  if (references.length === 0)
    throw new Error('squadEvaluate: references is empty (the SQuAD script divides by the number of questions)');
  let exactMatch = 0;
  let f1 = 0;
  references.forEach((r, i) => {
    if (typeof r?.id !== 'string') throw new TypeError(`squadEvaluate: references[${i}].id should be a string`);
    const answers = r.answers?.text;
    if (!isArrayInput(answers) || answers.some((a) => typeof a !== 'string')) {
      throw new TypeError(`squadEvaluate: references[${i}].answers.text should be an array of strings`);
    }
    if (answers.length === 0)
      throw new Error(`squadEvaluate: references[${i}] (id ${JSON.stringify(r.id)}) has no answer text`);
    const prediction = predictionById.get(r.id);
    if (prediction === undefined) return;
    if (variant === 'cmrc2018') {
      exactMatch += cmrc2018EmScore(answers, prediction);
      f1 += cmrc2018F1Score(answers, prediction);
    } else {
      exactMatch += answers.some((answer) => squadExactMatch(prediction, answer)) ? 1 : 0;
      let best = -Infinity;
      for (const answer of answers) best = Math.max(best, squadF1(prediction, answer));
      f1 += best;
    }
  });
  return { exact_match: (100.0 * exactMatch) / references.length, f1: (100.0 * f1) / references.length };
}

/**
 * Characters the CMRC 2018 script treats as punctuation. Its list also holds the two-character
 * string "……", which never equals a single character, so a lone "…" is kept — as in the script.
 */
const CMRC_PUNCTUATION = new Set([
  '-',
  ':',
  '_',
  '*',
  '^',
  '/',
  '\\',
  '~',
  '`',
  '+',
  '=',
  '，',
  '。',
  '：',
  '？',
  '！',
  '“',
  '”',
  '；',
  '’',
  '《',
  '》',
  '·',
  '、',
  '「',
  '」',
  '（',
  '）',
  '－',
  '～',
  '『',
  '』',
]);

/** The CMRC 2018 script's Chinese test: `re.search('[\u4e00-\u9fa5]', char)`. */
function isCmrcChineseChar(char: string): boolean {
  const code = char.codePointAt(0)!;
  return code >= 0x4e00 && code <= 0x9fa5;
}

/**
 * The CMRC 2018 script's `mixed_segmentation`: lowercase and strip, then every Chinese character
 * (U+4E00..U+9FA5) and every CMRC punctuation character is its own segment (punctuation is dropped
 * when `removePunctuation`), and each run of other characters is word-tokenized with NLTK's
 * tokenizer ({@link nltkWordTokenize}: "3.5%" → "3.5" "%", "don't" → "do" "n't").
 *
 * The script calls `nltk.word_tokenize`, which first splits sentences with NLTK's Punkt model; that
 * model is not reproduced, so a run is tokenized as one sentence. The result differs only when a
 * run of non-Chinese text contains a sentence-final period followed by more text.
 */
export function cmrc2018MixedSegmentation(s: string, removePunctuation = false): string[] {
  const segments: string[] = [];
  let run = '';
  for (const char of pyStrip(s.toLowerCase())) {
    if (removePunctuation && CMRC_PUNCTUATION.has(char)) continue;
    if (isCmrcChineseChar(char) || CMRC_PUNCTUATION.has(char)) {
      if (run !== '') for (const token of nltkWordTokenize(run)) segments.push(token);
      run = '';
      segments.push(char);
    } else {
      run += char;
    }
  }
  if (run !== '') for (const token of nltkWordTokenize(run)) segments.push(token);
  return segments;
}

/** The CMRC 2018 script's `remove_punctuation`: lowercase, strip, delete CMRC punctuation characters. */
export function cmrc2018RemovePunctuation(s: string): string {
  return Array.from(pyStrip(s.toLowerCase()))
    .filter((char) => !CMRC_PUNCTUATION.has(char))
    .join('');
}

/** Length of the longest common contiguous run of equal segments (the script's `find_lcs`). */
function longestCommonRunLength(a: readonly string[], b: readonly string[]): number {
  let best = 0;
  let previous = new Array<number>(b.length + 1).fill(0);
  for (let i = 0; i < a.length; i++) {
    const current = new Array<number>(b.length + 1).fill(0);
    for (let j = 0; j < b.length; j++) {
      if (a[i] === b[j]) {
        const run = (previous[j] ?? 0) + 1;
        current[j + 1] = run;
        if (run > best) best = run;
      }
    }
    previous = current;
  }
  return best;
}

/**
 * The CMRC 2018 script's `calc_f1_score` (argument order as in the script): for each answer,
 * segments = {@link cmrc2018MixedSegmentation}(·, removePunctuation = true) — one segment per
 * Chinese character — and L = the longest common CONTIGUOUS run of segments between answer and
 * prediction; P = L/|prediction|, R = L/|answer|, F1 = 2PR/(P+R) (0 when L = 0). Returns the
 * maximum over the answers, as a fraction in [0, 1].
 */
export function cmrc2018F1Score(answers: readonly string[], prediction: string): number {
  if (answers.length === 0) throw new Error('cmrc2018F1Score: answers is empty');
  const predictionSegments = cmrc2018MixedSegmentation(prediction, true);
  let best = -Infinity;
  for (const answer of answers) {
    const answerSegments = cmrc2018MixedSegmentation(answer, true);
    const common = longestCommonRunLength(answerSegments, predictionSegments);
    let f1 = 0;
    if (common > 0) {
      const precision = (1.0 * common) / predictionSegments.length;
      const recall = (1.0 * common) / answerSegments.length;
      f1 = (2 * precision * recall) / (precision + recall);
    }
    best = Math.max(best, f1);
  }
  return best;
}

/**
 * The CMRC 2018 script's `calc_em_score`: 1 if the prediction equals any answer after
 * {@link cmrc2018RemovePunctuation}, else 0.
 */
export function cmrc2018EmScore(answers: readonly string[], prediction: string): number {
  const normalizedPrediction = cmrc2018RemovePunctuation(prediction);
  return answers.some((answer) => cmrc2018RemovePunctuation(answer) === normalizedPrediction) ? 1 : 0;
}
