/**
 * `tunekit eval-metrics`: score a predictions file against a references file with one of the
 * reference-exact metrics of `tunekit/metrics`, optionally with a bootstrap confidence interval,
 * and print the result as JSON on stdout.
 *
 *   tunekit eval-metrics --metric bleu --predictions hyp.txt --references ref.txt --bootstrap 1000
 *   tunekit eval-metrics --metric f1 --predictions pred.jsonl --references gold.jsonl --option average=macro
 *
 * Input files (the format is decided by the file extension):
 * - `.jsonl` / `.ndjson`: one JSON value per line (string, number, array of tokens or tags, or an
 *   array of strings for several references); blank lines are errors.
 * - `.json`: one JSON array whose elements are the items.
 * - anything else: plain text, one item per line (a final newline does not start an item; CRLF is
 *   accepted). For label and numeric metrics a line that is a decimal number is read as that
 *   number (several numbers on a line make a vector); tags (seqeval) and tokens (distinct, rep)
 *   are split on whitespace; METEOR tokenises with NLTK's word_tokenize, as Hugging Face does.
 * - JSON arrays of numbers are multilabel indicator rows for label metrics and score vectors for
 *   roc_auc; for text metrics a reference item that is an array of strings lists several references.
 *
 * `--option key=value` passes a metric option (camelCase, as in the library); the value is read as
 * JSON when it parses (numbers, true/false, null, arrays) and as a string otherwise. Non-finite
 * numbers in the output are written as the strings "NaN", "Infinity", "-Infinity".
 */
import { InvalidArgumentError, type Command } from 'commander';
import { readFileSync, statSync } from 'node:fs';
import { extname } from 'node:path';
import {
  accuracyScore,
  f1Score,
  precisionScore,
  recallScore,
  rocAucScore,
  type ClassTargets,
  type Label,
  type PrfOptions,
  type RocAucOptions,
} from '../metrics/classification.js';
import { meanAbsoluteError, meanSquaredError, r2Score, rootMeanSquaredError, type R2Options } from '../metrics/regression.js';
import { seqevalCompute, type SeqevalComputeOptions } from '../metrics/sequence-labeling.js';
import { bootstrapCi, type BootstrapResult } from '../metrics/significance.js';
import { computeBleu, corpusBleu, sentenceBleu, type BleuOptions } from '../metrics/bleu.js';
import { corpusChrf, type ChrfOptions } from '../metrics/chrf.js';
import { rougeCompute, type RougeComputeOptions } from '../metrics/rouge.js';
import { meteorScore, type MeteorOptions } from '../metrics/meteor.js';
import { squadEvaluate } from '../metrics/squad.js';
import { distinctN, meanRepN } from '../metrics/repetition.js';
import { perplexity } from '../metrics/perplexity.js';
import { nltkWordTokenize } from '../metrics/nltk-word-tokenizer.js';
import { mean } from '../metrics/numeric.js';

/** Largest input file accepted (inputs are read whole into memory). */
const MAX_FILE_BYTES = 512 * 1024 * 1024;

/** One item of an input file with where it came from (for error messages). */
export interface Item {
  value: unknown;
  /** e.g. "refs.jsonl line 3". */
  where: string;
  /** Read from a plain-text line (so "3" may mean the number 3). */
  plainText: boolean;
}

/** Metric options from `--option key=value`. */
type Options = Record<string, unknown>;

/** A metric the CLI can run. */
export interface CliMetric {
  /** One-line description for `--help` and error messages. */
  description: string;
  /** Option names accepted through `--option`. */
  options: readonly string[];
  /** Whether the metric reads references (distinct/rep do not). */
  needsReferences: boolean;
  /** Converts the raw items into the metric's inputs and computes the JSON result. */
  compute(predictions: Item[], references: Item[], options: Options): Record<string, unknown>;
  /** Key of the result that `--bootstrap` resamples (a corpus-level scalar). */
  primary: string | ((options: Options) => string);
  /**
   * Per-item sufficient statistics of the primary score, when it has them: `--bootstrap` then sums
   * resampled rows instead of re-running the metric (sacrebleu's approach), with the same result.
   */
  decompose?(predictions: Item[], references: Item[], options: Options): Decomposition;
}

/** Per-item statistics whose column sums determine the corpus score. */
export interface Decomposition {
  stats: number[][];
  score: (totals: number[]) => number;
}

/** Corpus score = mean of per-item scores: rows [score, 1]. */
function meanDecomposition(values: number[]): Decomposition {
  return { stats: values.map((v) => [v, 1]), score: (t) => t[0]! / t[1]! };
}

// ---------------------------------------------------------------------------------------------
// item conversion

function describe(value: unknown): string {
  const json = JSON.stringify(value);
  return json === undefined ? String(value) : json.length > 60 ? `${json.slice(0, 57)}...` : json;
}

const DECIMAL = /^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;

function asLabel(item: Item): Label {
  const v = item.value;
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string') return item.plainText && DECIMAL.test(v.trim()) ? Number(v.trim()) : v;
  throw new Error(`${item.where}: expected a class label (number or string), got ${describe(v)}`);
}

function asNumber(item: Item, value: unknown = item.value): number {
  const v = item.plainText && typeof value === 'string' && DECIMAL.test(value.trim()) ? Number(value.trim()) : value;
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  throw new Error(`${item.where}: expected a finite number, got ${describe(value)}`);
}

function asNumberOrVector(item: Item): number | number[] {
  const v = item.value;
  if (Array.isArray(v)) return v.map((x) => asNumber(item, x));
  if (item.plainText && typeof v === 'string' && /\S\s+\S/.test(v)) return v.trim().split(/\s+/).map((x) => asNumber(item, x));
  return asNumber(item);
}

/** Class targets: labels, or (when items are JSON arrays) rows of a multilabel indicator matrix. */
function asTargets(items: Item[]): Label[] | number[][] {
  if (items.some((item) => Array.isArray(item.value))) {
    return items.map((item) => {
      if (!Array.isArray(item.value)) throw new Error(`${item.where}: expected an indicator row (array of 0/1) like the other items`);
      return item.value.map((x) => asNumber(item, x));
    });
  }
  return items.map(asLabel);
}

function asText(item: Item): string {
  if (typeof item.value === 'string') return item.value;
  throw new Error(`${item.where}: expected a string, got ${describe(item.value)}`);
}

/** A reference: one string, or several as a JSON array of strings. */
function asTexts(item: Item): string[] {
  const v = item.value;
  if (typeof v === 'string') return [v];
  if (Array.isArray(v) && v.length > 0 && v.every((s) => typeof s === 'string')) return v as string[];
  throw new Error(`${item.where}: expected a string or a non-empty array of strings, got ${describe(v)}`);
}

/** Tags or tokens: a JSON array of strings, or a line split on whitespace. */
function asTokens(item: Item): string[] {
  const v = item.value;
  if (typeof v === 'string') return v.split(/\s+/).filter((t) => t.length > 0);
  if (Array.isArray(v) && v.every((s) => typeof s === 'string')) return v as string[];
  throw new Error(`${item.where}: expected an array of strings or a whitespace-separated line, got ${describe(v)}`);
}

/** The `--option` values as a library options object (validated by the metric itself). */
function optionsAs<T>(options: Options): T {
  return options as T;
}

/** Per-item reference lists as sacrebleu reference streams (missing entries are null). */
function referenceStreams(refs: string[][]): (string | null)[][] {
  const k = Math.max(...refs.map((r) => r.length));
  return Array.from({ length: k }, (_, j) => refs.map((r) => r[j] ?? null));
}


// ---------------------------------------------------------------------------------------------
// registry

function labelMetric(
  name: string,
  fn: (yTrue: ClassTargets, yPred: ClassTargets, options: Options) => number | number[],
  options: readonly string[],
  description: string,
): CliMetric {
  return {
    description,
    options,
    needsReferences: true,
    primary: name,
    compute(predictions, references, opts) {
      return { [name]: fn(asTargets(references), asTargets(predictions), opts) };
    },
  };
}

function regressionMetric(
  name: string,
  fn: (yTrue: number[] | number[][], yPred: number[] | number[][], options: Options) => number | number[],
  options: readonly string[],
  description: string,
): CliMetric {
  return {
    description,
    options,
    needsReferences: true,
    primary: name,
    compute(predictions, references, opts) {
      const yPred = predictions.map(asNumberOrVector) as number[] | number[][];
      const yTrue = references.map(asNumberOrVector) as number[] | number[][];
      return { [name]: fn(yTrue, yPred, opts) };
    },
  };
}

function sentenceBleuScores(predictions: Item[], references: Item[], opts: Options): number[] {
  return predictions.map((item, i) => sentenceBleu(asText(item), asTexts(references[i]!), optionsAs<BleuOptions>(opts)).score);
}

function rouge(predictions: Item[], references: Item[], options: RougeComputeOptions): Record<string, number | number[]> {
  const refs = references.map(asTexts);
  const multi = refs.some((r) => r.length > 1);
  return rougeCompute(predictions.map(asText), multi ? refs : refs.map((r) => r[0]!), options);
}

/** The ROUGE type that `--bootstrap` resamples: the first requested type, else rougeL. */
function rougePrimary(opts: Options): string {
  return Array.isArray(opts.rougeTypes) && typeof opts.rougeTypes[0] === 'string' ? opts.rougeTypes[0] : 'rougeL';
}

/**
 * METEOR of every item, tokenised as Hugging Face evaluate's `meteor` does (NLTK word_tokenize)
 * unless `tokenizer` says 'whitespace', 'chars' or 'jieba'; JSON arrays of token arrays are
 * pre-tokenised references and a JSON array of strings a list of references.
 */
function meteorScores(predictions: Item[], references: Item[], opts: Options): number[] {
  const { tokenizer = 'nltk', ...meteorOptions } = opts;
  if (!['nltk', 'whitespace', 'chars', 'jieba'].includes(tokenizer as string)) {
    throw new Error(`option tokenizer must be 'nltk' (default), 'whitespace', 'chars' or 'jieba', got ${describe(tokenizer)}`);
  }
  const tokenize = (item: Item, text: string): string[] =>
    tokenizer === 'nltk' ? nltkWordTokenize(text) : asTokens({ ...item, value: text });
  const toTokens = (item: Item): readonly string[] | string => {
    if (Array.isArray(item.value)) return asTokens(item);
    const text = asText(item);
    return tokenizer === 'chars' || tokenizer === 'jieba' ? text : tokenize(item, text);
  };
  const options = { ...optionsAs<MeteorOptions>(meteorOptions), ...(tokenizer === 'chars' || tokenizer === 'jieba' ? { tokenizer } : {}) };
  return predictions.map((item, i) => {
    const refItem = references[i]!;
    const refs = Array.isArray(refItem.value) && refItem.value.every((r) => Array.isArray(r))
      ? refItem.value.map((r) => asTokens({ ...refItem, value: r }))
      : asTexts(refItem).map((r) => toTokens({ ...refItem, value: r }));
    return meteorScore(refs, toTokens(item), options as MeteorOptions);
  });
}

/** SQuAD scores of each item on its own (percent), whose mean is the corpus score. */
function squadItemScores(predictions: Item[], references: Item[], opts: Options): { exact_match: number; f1: number }[] {
  return predictions.map((item, i) =>
    squadEvaluate([{ id: '0', prediction_text: asText(item) }], [{ id: '0', answers: { text: asTexts(references[i]!) } }], optionsAs(opts)),
  );
}

const PRF_OPTIONS = ['average', 'posLabel', 'labels', 'zeroDivision'] as const;
const BLEU_OPTIONS = ['tokenize', 'smoothMethod', 'smoothValue', 'lowercase', 'maxNgramOrder', 'effectiveOrder'] as const;

/** Metrics available to `tunekit eval-metrics`, by name. */
export const CLI_METRICS: Readonly<Record<string, CliMetric>> = {
  accuracy: labelMetric('accuracy', (t, p, o) => accuracyScore(t, p, optionsAs(o)), ['normalize'], 'sklearn accuracy_score'),
  precision: labelMetric('precision', (t, p, o) => precisionScore(t, p, optionsAs<PrfOptions>(o)), PRF_OPTIONS, 'sklearn precision_score (average binary by default)'),
  recall: labelMetric('recall', (t, p, o) => recallScore(t, p, optionsAs<PrfOptions>(o)), PRF_OPTIONS, 'sklearn recall_score (average binary by default)'),
  f1: labelMetric('f1', (t, p, o) => f1Score(t, p, optionsAs<PrfOptions>(o)), PRF_OPTIONS, 'sklearn f1_score (average binary by default)'),
  roc_auc: {
    description: 'sklearn roc_auc_score: predictions are scores (a number, or one score per class/label)',
    options: ['average', 'multiClass', 'maxFpr', 'labels'],
    needsReferences: true,
    primary: 'roc_auc',
    compute(predictions, references, opts) {
      const scores = predictions.map(asNumberOrVector);
      const yTrue = asTargets(references);
      const o = optionsAs<RocAucOptions>(opts);
      const value = Array.isArray(scores[0]) ? rocAucScore(yTrue, scores as number[][], o) : rocAucScore(yTrue as Label[], scores as number[], o);
      return { roc_auc: value };
    },
  },
  mae: regressionMetric('mae', (t, p, o) => meanAbsoluteError(t, p, optionsAs(o)), ['multioutput'], 'sklearn mean_absolute_error'),
  mse: regressionMetric('mse', (t, p, o) => meanSquaredError(t, p, optionsAs(o)), ['multioutput'], 'sklearn mean_squared_error'),
  rmse: regressionMetric('rmse', (t, p, o) => rootMeanSquaredError(t, p, optionsAs(o)), ['multioutput'], 'sklearn root_mean_squared_error'),
  r2: regressionMetric('r2', (t, p, o) => r2Score(t, p, optionsAs<R2Options>(o)), ['multioutput', 'forceFinite'], 'sklearn r2_score'),
  seqeval: {
    description: 'seqeval entity P/R/F1 in the Hugging Face evaluate output shape; items are tag sequences',
    options: ['suffix', 'scheme', 'mode', 'zeroDivision'],
    needsReferences: true,
    primary: 'overall_f1',
    compute(predictions, references, opts) {
      return seqevalCompute(predictions.map(asTokens), references.map(asTokens), optionsAs<SeqevalComputeOptions>(opts));
    },
  },
  bleu: {
    description: 'sacrebleu corpus BLEU (13a tokenizer); a reference item may be an array of references',
    options: BLEU_OPTIONS,
    needsReferences: true,
    primary: 'score',
    compute(predictions, references, opts) {
      const s = corpusBleu(predictions.map(asText), referenceStreams(references.map(asTexts)), optionsAs<BleuOptions>(opts));
      return {
        score: s.score, counts: s.counts, totals: s.totals, precisions: s.precisions, bp: s.bp,
        sys_len: s.sysLen, ref_len: s.refLen, ratio: s.ratio, signature: s.signature, formatted: s.format(),
      };
    },
    decompose(predictions, references, opts) {
      const o = optionsAs<BleuOptions>(opts);
      const order = o.maxNgramOrder ?? 4;
      // Raw per-segment statistics (no smoothing, no effective order): [sysLen, refLen, counts, totals].
      const stats = predictions.map((item, i) => {
        const s = sentenceBleu(asText(item), asTexts(references[i]!), { ...o, smoothMethod: 'none', effectiveOrder: false });
        return [s.sysLen, s.refLen, ...s.counts, ...s.totals];
      });
      const score = (t: number[]) =>
        computeBleu(t.slice(2, 2 + order), t.slice(2 + order), t[0]!, t[1]!, {
          smoothMethod: o.smoothMethod ?? 'exp',
          smoothValue: o.smoothValue ?? null,
          effectiveOrder: o.effectiveOrder ?? false,
          maxNgramOrder: order,
        }).score;
      return { stats, score };
    },
  },
  sentence_bleu: {
    description: 'sacrebleu sentence BLEU of every line (effective order), and their mean',
    options: BLEU_OPTIONS,
    needsReferences: true,
    primary: 'mean',
    compute(predictions, references, opts) {
      const scores = sentenceBleuScores(predictions, references, opts);
      return { mean: mean(scores), scores };
    },
    decompose: (predictions, references, opts) => meanDecomposition(sentenceBleuScores(predictions, references, opts)),
  },
  chrf: {
    description: 'sacrebleu chrF (wordOrder=2 gives chrF++)',
    options: ['charOrder', 'wordOrder', 'beta', 'lowercase', 'whitespace', 'epsSmoothing'],
    needsReferences: true,
    primary: 'score',
    compute(predictions, references, opts) {
      const s = corpusChrf(predictions.map(asText), referenceStreams(references.map(asTexts)), optionsAs<ChrfOptions>(opts));
      return { score: s.score, name: s.name, signature: s.signature, formatted: s.format() };
    },
  },
  rouge: {
    description: 'rouge-score F-measures, Hugging Face evaluate shape (mean over pairs)',
    options: ['rougeTypes', 'useStemmer', 'useAggregator', 'tokenizer'],
    needsReferences: true,
    primary: rougePrimary,
    compute: (predictions, references, opts) => rouge(predictions, references, optionsAs<RougeComputeOptions>(opts)),
    decompose(predictions, references, opts) {
      const perPair = rouge(predictions, references, { ...optionsAs<RougeComputeOptions>(opts), useAggregator: false });
      return meanDecomposition(perPair[rougePrimary(opts)] as number[]);
    },
  },
  meteor: {
    description: 'NLTK meteor_score averaged over items (Hugging Face evaluate: NLTK word_tokenize); a reference item may be several references',
    options: ['alpha', 'beta', 'gamma', 'wordnet', 'tokenizer'],
    needsReferences: true,
    primary: 'meteor',
    compute(predictions, references, opts) {
      return { meteor: mean(meteorScores(predictions, references, opts)) };
    },
    decompose: (predictions, references, opts) => meanDecomposition(meteorScores(predictions, references, opts)),
  },
  squad: {
    description: 'SQuAD v1.1 exact match and F1 in percent; a reference item may list several answers',
    options: ['variant'],
    needsReferences: true,
    primary: 'f1',
    compute(predictions, references, opts) {
      const preds = predictions.map((item, i) => ({ id: String(i), prediction_text: asText(item) }));
      const refs = references.map((item, i) => ({ id: String(i), answers: { text: asTexts(item) } }));
      const r = squadEvaluate(preds, refs, optionsAs(opts));
      return { exact_match: r.exact_match, f1: r.f1 };
    },
    decompose: (predictions, references, opts) => meanDecomposition(squadItemScores(predictions, references, opts).map((r) => r.f1)),
  },
  exact_match: {
    description: 'SQuAD v1.1 normalised exact match in percent (lowercase, no punctuation/articles)',
    options: ['variant'],
    needsReferences: true,
    primary: 'exact_match',
    compute(predictions, references, opts) {
      const preds = predictions.map((item, i) => ({ id: String(i), prediction_text: asText(item) }));
      const refs = references.map((item, i) => ({ id: String(i), answers: { text: asTexts(item) } }));
      return { exact_match: squadEvaluate(preds, refs, optionsAs(opts)).exact_match };
    },
    decompose: (predictions, references, opts) =>
      meanDecomposition(squadItemScores(predictions, references, opts).map((r) => r.exact_match)),
  },
  perplexity: {
    description: 'perplexity from per-token negative log-likelihoods: each prediction item is one sequence\'s NLL array',
    options: ['base'],
    needsReferences: false,
    primary: 'corpus_perplexity',
    compute(predictions, _references, opts) {
      const nll = predictions.map(asNumberOrVector).map((v) => (Array.isArray(v) ? v : [v]));
      const base = opts.base === undefined ? undefined : Number(opts.base);
      const r = perplexity(nll, base === undefined ? {} : { base });
      return { mean_perplexity: r.meanPerplexity, corpus_perplexity: r.corpusPerplexity, perplexities: r.perplexities };
    },
  },
  distinct: {
    description: 'corpus distinct-n of the predictions (tokens: whitespace-split, or tokenizer=chars)',
    options: ['n', 'tokenizer'],
    needsReferences: false,
    primary: 'distinct',
    compute(predictions, _references, opts) {
      const sequences = generatedSequences(predictions, opts);
      const orders = opts.n === undefined ? [1, 2] : [Number(opts.n)];
      const result: Record<string, number> = {};
      for (const n of orders) result[`distinct_${n}`] = distinctN(sequences, n);
      result.distinct = result[`distinct_${orders[orders.length - 1]}`]!;
      return result;
    },
  },
  rep: {
    description: 'mean seq-rep-n of the predictions (fraction of repeated n-grams; default n=2)',
    options: ['n', 'tokenizer'],
    needsReferences: false,
    primary: 'rep',
    compute(predictions, _references, opts) {
      const n = opts.n === undefined ? 2 : Number(opts.n);
      const value = meanRepN(generatedSequences(predictions, opts), n);
      return { rep: value, [`rep_${n}`]: value };
    },
  },
};

function generatedSequences(predictions: Item[], options: Options): string[][] {
  const { tokenizer } = options;
  if (tokenizer !== undefined && tokenizer !== 'chars' && tokenizer !== 'whitespace') {
    throw new Error(`option tokenizer must be 'whitespace' (default) or 'chars', got ${describe(tokenizer)}`);
  }
  return predictions.map((item) =>
    tokenizer === 'chars' ? Array.from(asText(item)).filter((c) => !/\s/.test(c)) : asTokens(item),
  );
}

// ---------------------------------------------------------------------------------------------
// files and options

/** Reads a predictions/references file into items (format by extension; see the module doc). */
export function readItems(path: string): Item[] {
  let size: number;
  try {
    size = statSync(path).size;
  } catch {
    throw new Error(`cannot read ${path}: no such file`);
  }
  if (size > MAX_FILE_BYTES) throw new Error(`${path} is ${size} bytes; the limit is ${MAX_FILE_BYTES} bytes`);
  let text = readFileSync(path, 'utf8');
  if (text.startsWith('\ufeff')) text = text.slice(1);
  const ext = extname(path).toLowerCase();
  if (ext === '.json') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (e) {
      throw new Error(`${path}: invalid JSON (${(e as Error).message}); a .json file must hold one array of items`, { cause: e });
    }
    if (!Array.isArray(parsed)) throw new Error(`${path}: expected a JSON array of items, got ${describe(parsed)}`);
    return parsed.map((value: unknown, i) => ({ value, where: `${path} item ${i}`, plainText: false }));
  }
  const lines = text.split(/\r?\n/);
  if (lines[lines.length - 1] === '') lines.pop();
  if (ext === '.jsonl' || ext === '.ndjson') {
    return lines.map((line, i) => {
      const where = `${path} line ${i + 1}`;
      if (line.trim() === '') throw new Error(`${where}: empty line (each line of a JSONL file must be a JSON value)`);
      try {
        return { value: JSON.parse(line) as unknown, where, plainText: false };
      } catch (e) {
        throw new Error(`${where}: invalid JSON (${(e as Error).message})`, { cause: e });
      }
    });
  }
  return lines.map((value, i) => ({ value, where: `${path} line ${i + 1}`, plainText: true }));
}

/** Parses `key=value` strings: JSON values when they parse, strings otherwise. */
export function parseOptions(pairs: readonly string[], metric: string, allowed: readonly string[]): Options {
  const options: Options = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new Error(`--option expects key=value, got ${JSON.stringify(pair)}`);
    const key = pair.slice(0, eq);
    const raw = pair.slice(eq + 1);
    if (!allowed.includes(key)) {
      throw new Error(`metric ${metric} has no option ${JSON.stringify(key)}; its options are: ${allowed.join(', ') || '(none)'}`);
    }
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      value = raw;
    }
    // Python spellings of the usual constants.
    if (raw === 'None') value = null;
    else if (raw === 'True') value = true;
    else if (raw === 'False') value = false;
    else if (raw === 'nan' || raw === 'NaN') value = NaN;
    options[key] = value;
  }
  return options;
}

/** Replaces non-finite numbers by strings so that the output stays valid JSON. */
function toJson(value: unknown): string {
  return JSON.stringify(
    value,
    (_key, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v),
    2,
  );
}

/** Arguments of {@link evalMetrics}. */
export interface EvalMetricsArgs {
  metric: string;
  predictions: string;
  references?: string;
  /** Number of bootstrap resamples (0 or undefined: none). */
  bootstrap?: number;
  /** Bootstrap seed (default 12345). */
  seed?: number;
  /** Bootstrap interval coverage (default 0.95). */
  confidence?: number;
  /** `key=value` metric options. */
  option?: string[];
}

/** Runs one evaluation and returns the JSON-ready result (the command prints it). */
export function evalMetrics(args: EvalMetricsArgs): Record<string, unknown> {
  const metric = CLI_METRICS[args.metric];
  if (metric === undefined) {
    throw new Error(`unknown metric ${JSON.stringify(args.metric)}; known metrics: ${Object.keys(CLI_METRICS).join(', ')}`);
  }
  const options = parseOptions(args.option ?? [], args.metric, metric.options);
  const predictions = readItems(args.predictions);
  let references: Item[] = [];
  if (metric.needsReferences) {
    if (args.references === undefined) throw new Error(`metric ${args.metric} needs --references`);
    references = readItems(args.references);
    if (references.length !== predictions.length) {
      throw new Error(
        `${args.predictions} has ${predictions.length} items but ${args.references} has ${references.length}; they must be parallel (one reference item per prediction)`,
      );
    }
  }
  if (predictions.length === 0) throw new Error(`${args.predictions} has no items`);
  const result: Record<string, unknown> = { metric: args.metric, n: predictions.length, ...metric.compute(predictions, references, options) };
  if (args.bootstrap) {
    const key = typeof metric.primary === 'string' ? metric.primary : metric.primary(options);
    const bootstrapOptions = { nSamples: args.bootstrap, seed: args.seed ?? 12345, confidence: args.confidence ?? 0.95 };
    let ci: BootstrapResult;
    if (metric.decompose) {
      const { stats, score } = metric.decompose(predictions, references, options);
      const sumRows = (rows: number[][]) => rows.reduce((acc, row) => acc.map((v, j) => v + row[j]!), new Array<number>(stats[0]!.length).fill(0));
      ci = bootstrapCi((rows: number[][]) => score(sumRows(rows)), stats, stats, bootstrapOptions);
    } else {
      const score = (p: Item[], r: Item[]) => {
        const value = metric.compute(p, r, options)[key];
        if (typeof value !== 'number') throw new Error(`--bootstrap needs a scalar ${key}; use an averaging option`);
        return value;
      };
      ci = bootstrapCi(score, predictions, metric.needsReferences ? references : predictions, bootstrapOptions);
    }
    result.bootstrap = { of: key, seed: bootstrapOptions.seed, ...ci };
  }
  return result;
}

function integerArg(name: string) {
  return (value: string): number => {
    if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`${name} expects a non-negative integer, got ${JSON.stringify(value)}`);
    return Number(value);
  };
}

/** Registers `tunekit eval-metrics`. */
export function register(program: Command): void {
  program
    .command('eval-metrics')
    .description('score predictions against references with a reference-exact metric; prints JSON')
    .requiredOption('--metric <name>', `metric: ${Object.keys(CLI_METRICS).join(', ')}`)
    .requiredOption('--predictions <file>', 'predictions: .jsonl (a JSON value per line), .json (an array) or text (one per line)')
    .option('--references <file>', 'references, parallel to the predictions (same formats)')
    .option('--bootstrap <n>', 'bootstrap resamples for a confidence interval of the main score', integerArg('--bootstrap'))
    .option('--seed <s>', 'bootstrap seed (default 12345)', integerArg('--seed'))
    .option('--confidence <c>', 'bootstrap interval coverage (default 0.95)', (v: string) => Number(v))
    .option('--option <key=value>', 'metric option, repeatable (e.g. average=macro, tokenize=zh)', (v: string, prev: string[]) => [...prev, v], [] as string[])
    .addHelpText(
      'after',
      `
Input formats, by extension: .jsonl/.ndjson one JSON value per line; .json one JSON array of items;
anything else plain text, one item per line (numbers parsed for label and numeric metrics, tags and
tokens split on whitespace). A reference item may be a JSON array of strings (several references).
Output: JSON on stdout; NaN and infinities are written as the strings "NaN", "Infinity", "-Infinity".`,
    )
    .action((opts: EvalMetricsArgs) => {
      process.stdout.write(`${toJson(evalMetrics(opts))}\n`);
    });
}
