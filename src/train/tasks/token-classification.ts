/**
 * Token classification (NER) helpers, as transformers' `run_ner.py` does them: word-level labels
 * aligned to sub-word tokens (the first token of a word carries its label, the other tokens and the
 * special tokens get -100 so the loss ignores them), a label map, and token predictions back to
 * word-level tags for seqeval (`computeMetric('seqeval', ...)`).
 *
 * Words are joined with single spaces and tokenised once; each token belongs to the word its
 * character span starts in ({@link tokenOffsets}), which is what a fast tokenizer's `word_ids()`
 * gives for `is_split_into_words=True` on whitespace-free words.
 */
import type { PreTrainedTokenizer } from '../../io/tokenizer.js';
import { specialTokenLayout, tokenOffsets } from '../../io/token-offsets.js';

/** Label id the loss ignores (PyTorch's CrossEntropyLoss ignore_index). */
export const IGNORE_INDEX = -100;

/** Labels and their ids. */
export interface LabelMap {
  /** Label names by id. */
  readonly labels: readonly string[];
  readonly labelToId: ReadonlyMap<string, number>;
}

/**
 * The label map of a dataset: `labels` in the given order when passed, else the sorted distinct
 * tags of the sequences (run_ner's `get_label_list`: `sorted(set(labels))`, by code point).
 * @throws when `labels` has duplicates or misses a tag of the sequences.
 */
export function buildLabelMap(tagSequences: readonly (readonly string[])[], labels?: readonly string[]): LabelMap {
  const seen = new Set<string>();
  for (const seq of tagSequences) for (const tag of seq) seen.add(tag);
  let list: string[];
  if (labels !== undefined) {
    list = [...labels];
    if (new Set(list).size !== list.length) throw new Error('buildLabelMap: labels has duplicates');
    for (const tag of seen)
      if (!list.includes(tag)) throw new Error(`buildLabelMap: tag ${JSON.stringify(tag)} is not among the labels`);
  } else {
    list = [...seen].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }
  return { labels: list, labelToId: new Map(list.map((l, i) => [l, i])) };
}

/**
 * Token labels from word labels: the first token of each word gets its word's label, every other
 * token (later sub-tokens, special tokens: `wordIds` null) gets {@link IGNORE_INDEX}.
 * @param wordIds the word index of each token, null for special tokens.
 * @param wordLabels one label id per word.
 */
export function alignLabelsWithTokens(wordIds: readonly (number | null)[], wordLabels: readonly number[]): number[] {
  let previous: number | null = null;
  return wordIds.map((word) => {
    if (word === null) {
      previous = null;
      return IGNORE_INDEX;
    }
    const label = word === previous ? IGNORE_INDEX : wordLabels[word];
    previous = word;
    if (label === undefined)
      throw new Error(`alignLabelsWithTokens: token of word ${word} but only ${wordLabels.length} word labels`);
    return label;
  });
}

/** One encoded sentence for token classification. */
export interface TokenClassificationFeature {
  inputIds: number[];
  attentionMask: number[];
  tokenTypeIds: number[];
  /** Word index of each token, null for special tokens. */
  wordIds: (number | null)[];
  /** Label id per token, {@link IGNORE_INDEX} where the loss ignores it; empty without tags. */
  labels: number[];
}

/** Options of {@link encodeTokenClassification}. */
export interface TokenClassificationOptions {
  /** Truncate to this many tokens including special tokens (default: the tokenizer's model_max_length). */
  maxLength?: number;
}

/**
 * Encodes one pre-split sentence with its tags for a token-classification model.
 * @param words the words (e.g. CoNLL tokens, or CLUENER characters); none may be empty.
 * @param tags one tag per word, or null at prediction time.
 * @throws on a word/tag count mismatch, an empty word, or a tag missing from the label map.
 */
export function encodeTokenClassification(
  tokenizer: PreTrainedTokenizer,
  words: readonly string[],
  tags: readonly string[] | null,
  labelMap: LabelMap,
  options: TokenClassificationOptions = {},
): TokenClassificationFeature {
  if (tags !== null && tags.length !== words.length)
    throw new Error(`encodeTokenClassification: ${words.length} words but ${tags.length} tags`);
  const wordStarts: number[] = [];
  let text = '';
  words.forEach((word, i) => {
    if (typeof word !== 'string' || word.trim() === '')
      throw new Error(`encodeTokenClassification: word ${i} is empty or not a string`);
    if (i > 0) text += ' ';
    wordStarts.push(text.length);
    text += word;
  });
  const wordOf = (charIndex: number): number => {
    let lo = 0;
    let hi = wordStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((wordStarts[mid] ?? 0) <= charIndex) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  };
  const layout = specialTokenLayout(tokenizer).single;
  const maxLength = options.maxLength ?? tokenizer.modelMaxLength;
  const budget = maxLength - layout.prefix.length - layout.suffix.length;
  if (budget < 1)
    throw new Error(`encodeTokenClassification: maxLength ${maxLength} leaves no room besides the special tokens`);
  // Tokens with an empty span (a bare space marker) belong to no word and are left out.
  const spans = tokenOffsets(tokenizer, text)
    .filter((s) => s.end > s.start)
    .slice(0, budget);
  const inputIds = [...layout.prefix, ...spans.map((s) => s.id), ...layout.suffix];
  const wordIds: (number | null)[] = [
    ...layout.prefix.map(() => null),
    ...spans.map((s) => wordOf(s.start)),
    ...layout.suffix.map(() => null),
  ];
  const tokenTypeIds = [...layout.prefixTypes, ...spans.map(() => layout.typeId), ...layout.suffixTypes];
  let labels: number[] = [];
  if (tags !== null) {
    const wordLabels = tags.map((tag, i) => {
      const id = labelMap.labelToId.get(tag);
      if (id === undefined)
        throw new Error(`encodeTokenClassification: tag ${JSON.stringify(tag)} of word ${i} is not in the label map`);
      return id;
    });
    labels = alignLabelsWithTokens(wordIds, wordLabels);
  }
  return { inputIds, attentionMask: inputIds.map(() => 1), tokenTypeIds, wordIds, labels };
}

/**
 * Word-level tags from token predictions: each word takes the prediction of its first token.
 * A word without a token (cut by truncation) gets `fallback` (default 'O'), so seqeval counts
 * its entity as missed rather than dropping the word.
 * @param predictions a label id per token (e.g. the argmax of the logits), parallel to `wordIds`.
 * @param numWords how many words the sentence has.
 */
export function wordLevelPredictions(
  wordIds: readonly (number | null)[],
  predictions: readonly number[],
  labelMap: LabelMap,
  numWords: number,
  fallback = 'O',
): string[] {
  if (predictions.length !== wordIds.length)
    throw new Error(`wordLevelPredictions: ${predictions.length} predictions for ${wordIds.length} tokens`);
  const tags = new Array<string>(numWords).fill(fallback);
  const done = new Set<number>();
  wordIds.forEach((word, t) => {
    if (word === null || done.has(word) || word >= numWords) return;
    done.add(word);
    const label = labelMap.labels[predictions[t] ?? -1];
    if (label === undefined)
      throw new Error(`wordLevelPredictions: prediction ${predictions[t]} at token ${t} is not a label id`);
    tags[word] = label;
  });
  return tags;
}
