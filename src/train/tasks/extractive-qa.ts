/**
 * Extractive question answering, as transformers' `run_qa.py` and `utils_qa.py` do it (SQuAD v1.1
 * style, question first): long contexts become several features through a sliding window with a
 * stride; training features mark the answer's start and end tokens, or the CLS position when the
 * answer is not inside the window; start/end logits become answer text through the n-best search
 * of `postprocess_qa_predictions`; the metrics are the SQuAD script's (or CMRC 2018's for Chinese).
 */
import type { PreTrainedTokenizer } from '../../io/tokenizer.js';
import { specialTokenLayout, tokenOffsets, type TokenSpan } from '../../io/token-offsets.js';
import { computeMetric } from '../../metrics/registry.js';

/** One question over one context (a SQuAD record). */
export interface QaExample {
  id: string;
  question: string;
  context: string;
  /** Gold answers (training and evaluation); `answerStart` are UTF-16 indices into `context`. */
  answers?: { text: readonly string[]; answerStart: readonly number[] };
}

/** One window of one example. */
export interface QaFeature {
  /** Index of the example in the list given to {@link prepareQaFeatures}. */
  exampleIndex: number;
  inputIds: number[];
  attentionMask: number[];
  tokenTypeIds: number[];
  /** Character span in the context of each token; null for question and special tokens. */
  offsets: ([number, number] | null)[];
  /** Token index of the answer start / end, or `clsIndex` when the window does not hold the whole answer (or there is none). */
  startPosition: number;
  endPosition: number;
  /** Position of the CLS token (0 when the tokenizer has none). */
  clsIndex: number;
}

/** Options of {@link prepareQaFeatures} (run_qa's defaults). */
export interface QaFeatureOptions {
  /** Tokens per feature including special tokens; default 384. */
  maxLength?: number;
  /** Overlap in tokens between consecutive windows of a context; default 128. */
  docStride?: number;
}

/**
 * Features for extractive QA: `[CLS] question [SEP] window [SEP]` with windows of the context
 * overlapping by `docStride` tokens (truncation 'only_second' with overflowing tokens). The
 * question keeps its tokens (left whitespace stripped, as run_qa does); it must leave room for the context.
 * @throws when the question leaves no room for the context, or docStride ≥ the window length.
 */
export function prepareQaFeatures(
  tokenizer: PreTrainedTokenizer,
  examples: readonly QaExample[],
  options: QaFeatureOptions = {},
): QaFeature[] {
  const maxLength = options.maxLength ?? 384;
  const docStride = options.docStride ?? 128;
  if (!Number.isInteger(docStride) || docStride < 0)
    throw new Error(`prepareQaFeatures: docStride must be a non-negative integer, got ${docStride}`);
  const layout = specialTokenLayout(tokenizer).pair;
  const cls = tokenizer.clsTokenId;
  const features: QaFeature[] = [];
  examples.forEach((example, exampleIndex) => {
    const question = tokenizer.encode(example.question.trimStart(), { addSpecialTokens: false });
    const context: TokenSpan[] = tokenOffsets(tokenizer, example.context);
    const windowLength =
      maxLength - question.length - layout.prefix.length - layout.middle.length - layout.suffix.length;
    if (windowLength < 1)
      throw new Error(
        `prepareQaFeatures: example ${example.id}: the question (${question.length} tokens) leaves no room for the context in maxLength ${maxLength}`,
      );
    if (docStride >= windowLength)
      throw new Error(
        `prepareQaFeatures: docStride ${docStride} must be smaller than the context window (${windowLength} tokens)`,
      );
    const answer = example.answers;
    const startChar = answer?.answerStart[0];
    const answerText = answer?.text[0];
    for (let start = 0; ; start += windowLength - docStride) {
      const window = context.slice(start, start + windowLength);
      const inputIds = [...layout.prefix, ...question, ...layout.middle, ...window.map((t) => t.id), ...layout.suffix];
      const tokenTypeIds = [
        ...layout.prefixTypes,
        ...question.map(() => layout.firstTypeId),
        ...layout.middleTypes,
        ...window.map(() => layout.secondTypeId),
        ...layout.suffixTypes,
      ];
      const contextStart = layout.prefix.length + question.length + layout.middle.length;
      const offsets: ([number, number] | null)[] = inputIds.map(() => null);
      window.forEach((t, k) => {
        offsets[contextStart + k] = [t.start, t.end];
      });
      const clsIndex = cls === null ? 0 : Math.max(0, inputIds.indexOf(cls));
      let startPosition = clsIndex;
      let endPosition = clsIndex;
      if (startChar !== undefined && answerText !== undefined && window.length > 0) {
        const endChar = startChar + answerText.length;
        // run_qa: the answer must lie inside the window, else the feature is labelled with CLS.
        let first = contextStart;
        let last = contextStart + window.length - 1;
        if ((offsets[first]?.[0] ?? Infinity) <= startChar && (offsets[last]?.[1] ?? -Infinity) >= endChar) {
          while (first < offsets.length && offsets[first] !== null && (offsets[first]?.[0] ?? Infinity) <= startChar)
            first++;
          startPosition = first - 1;
          while (last >= contextStart && (offsets[last]?.[1] ?? -Infinity) >= endChar) last--;
          endPosition = last + 1;
        }
      }
      features.push({
        exampleIndex,
        inputIds,
        attentionMask: inputIds.map(() => 1),
        tokenTypeIds,
        offsets,
        startPosition,
        endPosition,
        clsIndex,
      });
      if (start + windowLength >= context.length) break;
    }
  });
  return features;
}

/** One candidate answer. */
export interface QaCandidate {
  text: string;
  /** start logit + end logit. */
  score: number;
  startLogit: number;
  endLogit: number;
  /** Softmax of the scores over the n-best list. */
  probability: number;
}

/** The answer of one example. */
export interface QaPrediction {
  id: string;
  predictionText: string;
  nBest: QaCandidate[];
}

/** Options of {@link postprocessQaPredictions} (utils_qa's defaults). */
export interface QaPostprocessOptions {
  /** Start and end indexes tried per feature, and answers kept; default 20. */
  nBestSize?: number;
  /** Longest answer in tokens; default 30. */
  maxAnswerLength?: number;
}

/** Indices of the `n` largest values, largest first; equal values: the later index first (numpy's reversed argsort of a stable sort). */
function topIndices(values: readonly number[], n: number): number[] {
  return values
    .map((v, i) => [v, i] as const)
    .sort((a, b) => b[0] - a[0] || b[1] - a[1])
    .slice(0, n)
    .map(([, i]) => i);
}

/**
 * transformers' `postprocess_qa_predictions` (SQuAD v1.1: no null answer): for every feature of an
 * example, the `nBestSize` best start and end tokens; pairs inside the context, in order, at most
 * `maxAnswerLength` tokens long, scored by the sum of their logits; the best over all features is
 * the answer, its text cut from the context by character offsets. With no valid pair the answer is
 * "empty", as utils_qa writes it.
 * @param startLogits one row per feature (its token count), parallel to `features`.
 */
export function postprocessQaPredictions(
  examples: readonly QaExample[],
  features: readonly QaFeature[],
  startLogits: readonly (readonly number[])[],
  endLogits: readonly (readonly number[])[],
  options: QaPostprocessOptions = {},
): QaPrediction[] {
  const nBestSize = options.nBestSize ?? 20;
  const maxAnswerLength = options.maxAnswerLength ?? 30;
  if (startLogits.length !== features.length || endLogits.length !== features.length) {
    throw new Error(
      `postprocessQaPredictions: ${features.length} features but ${startLogits.length} start and ${endLogits.length} end logit rows`,
    );
  }
  const byExample = new Map<number, number[]>();
  features.forEach((f, i) => {
    const list = byExample.get(f.exampleIndex);
    if (list === undefined) byExample.set(f.exampleIndex, [i]);
    else list.push(i);
  });
  return examples.map((example, exampleIndex) => {
    const candidates: { offsets: [number, number]; score: number; startLogit: number; endLogit: number }[] = [];
    for (const fi of byExample.get(exampleIndex) ?? []) {
      const feature = features[fi];
      const starts = startLogits[fi];
      const ends = endLogits[fi];
      if (feature === undefined || starts === undefined || ends === undefined) continue;
      if (starts.length !== feature.offsets.length || ends.length !== feature.offsets.length) {
        throw new Error(
          `postprocessQaPredictions: feature ${fi} has ${feature.offsets.length} tokens but ${starts.length}/${ends.length} logits`,
        );
      }
      for (const s of topIndices(starts, nBestSize)) {
        for (const e of topIndices(ends, nBestSize)) {
          const so = feature.offsets[s];
          const eo = feature.offsets[e];
          if (so === null || so === undefined || eo === null || eo === undefined) continue;
          if (e < s || e - s + 1 > maxAnswerLength) continue;
          const startLogit = starts[s] ?? NaN;
          const endLogit = ends[e] ?? NaN;
          candidates.push({ offsets: [so[0], eo[1]], score: startLogit + endLogit, startLogit, endLogit });
        }
      }
    }
    // Python's sorted(..., reverse=True) is stable: equal scores keep their order.
    const best = candidates
      .map((c, i) => [c, i] as const)
      .sort((a, b) => b[0].score - a[0].score || a[1] - b[1])
      .slice(0, nBestSize)
      .map(([c]) => ({
        text: example.context.slice(c.offsets[0], c.offsets[1]),
        score: c.score,
        startLogit: c.startLogit,
        endLogit: c.endLogit,
        probability: 0,
      }));
    if (best.length === 0 || (best.length === 1 && best[0]?.text === ''))
      best.unshift({ text: 'empty', score: 0, startLogit: 0, endLogit: 0, probability: 0 });
    let maxScore = -Infinity;
    for (const c of best) maxScore = Math.max(maxScore, c.score);
    const exps = best.map((c) => Math.exp(c.score - maxScore));
    const total = exps.reduce((a, b) => a + b, 0);
    best.forEach((c, i) => {
      c.probability = (exps[i] ?? 0) / total;
    });
    return { id: example.id, predictionText: best[0]?.text ?? 'empty', nBest: best };
  });
}

/**
 * SQuAD metrics of predicted answers against the examples' gold answers (exact match and F1 in
 * percent), with the SQuAD v1.1 script's rules or, with `variant: 'cmrc2018'`, CMRC 2018's for Chinese.
 * @throws when an example has no gold answer.
 */
export function qaMetrics(
  examples: readonly QaExample[],
  predictions: readonly QaPrediction[],
  options: { variant?: 'squad-v1.1' | 'cmrc2018' } = {},
): { exact_match: number; f1: number } {
  const byId = new Map(predictions.map((p) => [p.id, p.predictionText]));
  const references = examples.map((e) => {
    if (!e.answers || e.answers.text.length === 0) throw new Error(`qaMetrics: example ${e.id} has no gold answer`);
    return [...e.answers.text];
  });
  const result = computeMetric(
    'squad',
    { predictions: examples.map((e) => byId.get(e.id) ?? ''), references },
    options.variant === undefined ? {} : { variant: options.variant },
  );
  return { exact_match: Number(result.exact_match), f1: Number(result.f1) };
}
