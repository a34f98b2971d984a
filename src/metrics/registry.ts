/**
 * The metric registry: every metric of `tunekit/metrics` under one name, with the shape of its
 * inputs, its options (type, default, allowed range) and the key of its main score. The
 * `eval-metrics` command, the trainer's evaluation and the reports all go through it, so a metric
 * is named, validated and computed the same way everywhere.
 *
 * ```ts
 * import { computeMetrics } from 'tunekit/metrics';
 * const scores = computeMetrics(['accuracy', 'f1'], { predictions, references }, { f1: { average: 'macro' } });
 * scores.f1.score; // the macro F1
 * ```
 *
 * Inputs are validated item by item (a wrong item is named by its index, or by the caller's
 * `describeItem`), options against their declared type and range before any work is done; the
 * metric functions then apply their reference implementation's own checks. See docs/metrics.md.
 */
import {
  accuracyScore,
  f1Score,
  precisionScore,
  recallScore,
  rocAucScore,
  type Label,
  type PrfOptions,
  type RocAucOptions,
} from './classification.js';
import {
  meanAbsoluteError,
  meanSquaredError,
  r2Score,
  rootMeanSquaredError,
  type R2Options,
  type RegressionOptions,
} from './regression.js';
import { seqevalCompute } from './sequence-labeling.js';
import { bootstrapCi, type BootstrapResult } from './significance.js';
import {
  BLEU_MAX_NGRAM_ORDER,
  BLEU_NGRAM_ORDER_LIMIT,
  computeBleu,
  corpusBleu,
  sentenceBleu,
  type BleuOptions,
} from './bleu.js';
import { CHRF_MAX_ORDER, corpusChrf } from './chrf.js';
import { rougeCompute, type RougeComputeOptions } from './rouge.js';
import { corpusMeteor, type MeteorReferenceItem } from './meteor.js';
import { squadEvaluate, type SquadEvaluateOptions } from './squad.js';
import { distinctN, meanRepN } from './repetition.js';
import { perplexity } from './perplexity.js';
import { SACREBLEU_TOKENIZERS } from './sacrebleu-tokenizers.js';
import { mean } from './numeric.js';

// ---------------------------------------------------------------------------------------------
// public types

/**
 * What one item of `predictions` or `references` holds, per metric:
 * - `labels`: a class label (number, string or boolean), or for multilabel input an indicator row
 *   (array of 0/1); all items of one side have the same form.
 * - `scores`: a number (binary) or one score per class/label (array of numbers).
 * - `values`: a number, or an array of numbers for multi-output regression.
 * - `tags`: a tag sequence (array of strings, e.g. IOB2 tags).
 * - `text`: a string.
 * - `reference-texts`: a string, or a non-empty array of strings (several references).
 * - `meteor-text`: a string (tokenised per the `tokenizer` option) or an array of tokens.
 * - `meteor-references`: a string, an array of strings (several references), or an array of
 *   token arrays (several pre-tokenised references).
 * - `tokens`: a string (split per the `tokenizer` option) or an array of tokens.
 * - `nll`: an array of per-token negative log-likelihoods of one sequence.
 */
export type MetricInputShape =
  | 'labels'
  | 'scores'
  | 'values'
  | 'tags'
  | 'text'
  | 'reference-texts'
  | 'meteor-text'
  | 'meteor-references'
  | 'tokens'
  | 'nll';

/** A metric's inputs: parallel arrays, one item per example (references omitted where not read). */
export interface MetricInputs {
  predictions: readonly unknown[];
  references?: readonly unknown[];
}

/** A JSON-ready result value (NaN and infinities stay numbers; the CLI writes them as strings). */
export type MetricValue =
  number | string | boolean | null | readonly MetricValue[] | { readonly [key: string]: MetricValue };

/** The result of one metric: named values, e.g. `{ accuracy: 0.5 }` or BLEU's score and counts. */
export type MetricResult = Record<string, MetricValue>;

/** Options of one metric, by their library (camelCase) names. */
export type MetricOptions = Readonly<Record<string, unknown>>;

/** One option: its documented default and the values it accepts. */
export interface MetricOptionSpec {
  readonly name: string;
  readonly description: string;
  /** The default in words (as the reference implementation has it). */
  readonly default: string;
  /** The accepted values in words, e.g. "integer in [1, 100]" (shown in errors and docs). */
  readonly accepts: string;
  /** Inclusive numeric bounds, for numeric options. */
  readonly min?: number;
  readonly max?: number;
  /** Checks a value: an error message (without the option name) when it is not accepted. */
  check(value: unknown): string | null;
}

/** A registered metric. */
export interface MetricSpec {
  readonly name: string;
  /** One line: what it computes and which reference it equals. */
  readonly description: string;
  /** Shape of each prediction item. */
  readonly predictions: MetricInputShape;
  /** Shape of each reference item, or null when the metric reads no references. */
  readonly references: MetricInputShape | null;
  readonly options: readonly MetricOptionSpec[];
  /** Whether a larger main score is better (for early stopping and best-checkpoint choice). */
  readonly higherIsBetter: boolean;
  /** Key of the main score in the result (may depend on the options, e.g. ROUGE's first type). */
  primaryKey(options: MetricOptions): string;
}

/** How items are named in errors: e.g. `(side, i) => \`${file} line ${i + 1}\``. */
export interface MetricCallContext {
  /** Names item `i` of the inputs in error messages. */
  describeItem?: (side: 'predictions' | 'references', index: number) => string;
}

/** One metric's entry in {@link computeMetrics}' result. */
export interface MetricScore {
  /** The main score (the value under {@link MetricSpec.primaryKey}). */
  score: number;
  higherIsBetter: boolean;
  /** Every value the metric returns. */
  values: MetricResult;
}

/** Options of {@link bootstrapMetric}. */
export interface MetricBootstrapOptions {
  /** Resamples, an integer in [1, {@link MAX_BOOTSTRAP_SAMPLES}]; default 1000 (sacrebleu's). */
  nSamples?: number;
  /** Coverage of the percentile interval, in (0, 1); default 0.95. */
  confidence?: number;
  /** PRNG seed; default 12345. */
  seed?: number;
}

/** Upper bound of bootstrap resamples: 10,000 resamples of 100k items is already ~10^9 draws. */
export const MAX_BOOTSTRAP_SAMPLES = 10_000;

/** Largest n-gram order of distinct-n and rep-n. */
export const MAX_REPETITION_ORDER = 100;

// ---------------------------------------------------------------------------------------------
// option specs

function describe(value: unknown): string {
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  const json = JSON.stringify(value);
  return json === undefined ? String(value) : json.length > 60 ? `${json.slice(0, 57)}...` : json;
}

function spec(
  name: string,
  description: string,
  defaultText: string,
  accepts: string,
  ok: (value: unknown) => boolean,
  bounds: { min?: number; max?: number } = {},
): MetricOptionSpec {
  return {
    name,
    description,
    default: defaultText,
    accepts,
    ...bounds,
    check: (value) => (ok(value) ? null : `expected ${accepts}, got ${describe(value)}`),
  };
}

function integerOption(
  name: string,
  description: string,
  defaultText: string,
  min: number,
  max: number,
): MetricOptionSpec {
  return spec(
    name,
    description,
    defaultText,
    `an integer in [${min}, ${max}]`,
    (v) => Number.isInteger(v) && (v as number) >= min && (v as number) <= max,
    { min, max },
  );
}

function numberOption(
  name: string,
  description: string,
  defaultText: string,
  min: number,
  max: number,
  accepts?: string,
): MetricOptionSpec {
  return spec(
    name,
    description,
    defaultText,
    accepts ?? `a number in [${min}, ${max}]`,
    (v) => typeof v === 'number' && v >= min && v <= max,
    { min, max },
  );
}

function booleanOption(name: string, description: string, defaultText: string): MetricOptionSpec {
  return spec(name, description, defaultText, 'true or false', (v) => typeof v === 'boolean');
}

function enumOption(
  name: string,
  description: string,
  defaultText: string,
  values: readonly unknown[],
): MetricOptionSpec {
  return spec(name, description, defaultText, `one of ${values.map((v) => describe(v)).join(', ')}`, (v) =>
    values.some((x) => Object.is(x, v)),
  );
}

const isLabel = (v: unknown): boolean =>
  (typeof v === 'number' && Number.isFinite(v)) || typeof v === 'string' || typeof v === 'boolean';

const PRF_OPTIONS: readonly MetricOptionSpec[] = [
  enumOption('average', 'averaging over classes; null gives one score per class', "'binary'", [
    'binary',
    'micro',
    'macro',
    'weighted',
    'samples',
    null,
  ]),
  spec('posLabel', "the positive class when average is 'binary'", '1', 'a label (number, string or boolean)', isLabel),
  spec(
    'labels',
    'classes to include, in this order (per-class output follows it)',
    'every label of references and predictions, sorted',
    'an array of labels',
    (v) => Array.isArray(v) && v.every(isLabel),
  ),
  spec(
    'zeroDivision',
    'value of a 0/0 ratio',
    "'warn' (gives 0)",
    "'warn', 0, 1 or NaN",
    (v) => v === 'warn' || v === 0 || v === 1 || Number.isNaN(v),
  ),
];

const MULTIOUTPUT = spec(
  'multioutput',
  'how the outputs of multi-output regression combine',
  "'uniform_average'",
  "'raw_values', 'uniform_average' or an array of output weights",
  (v) =>
    v === 'raw_values' ||
    v === 'uniform_average' ||
    (Array.isArray(v) && v.every((w) => typeof w === 'number' && Number.isFinite(w))),
);

const BLEU_OPTIONS: readonly MetricOptionSpec[] = [
  enumOption('tokenize', 'sacrebleu tokenizer (zh for Chinese, char for characters)', "'13a'", SACREBLEU_TOKENIZERS),
  enumOption('smoothMethod', 'smoothing of zero n-gram precisions', "'exp'", ['exp', 'floor', 'add-k', 'none']),
  spec(
    'smoothValue',
    "value for 'floor' and 'add-k'",
    "0.1 for 'floor', 1 for 'add-k'",
    'a finite number ≥ 0, or null',
    (v) => v === null || (typeof v === 'number' && Number.isFinite(v) && v >= 0),
  ),
  booleanOption('lowercase', 'lowercase both sides first', 'false'),
  integerOption('maxNgramOrder', 'largest n-gram order', String(BLEU_MAX_NGRAM_ORDER), 1, BLEU_NGRAM_ORDER_LIMIT),
  booleanOption(
    'effectiveOrder',
    'average only over the orders with hypothesis n-grams',
    'false (true for sentence_bleu)',
  ),
];

const TEXT_TOKENIZER = (what: string, values: readonly string[], defaultText: string): MetricOptionSpec =>
  enumOption('tokenizer', `how a string ${what} is split into tokens`, defaultText, values);

// ---------------------------------------------------------------------------------------------
// input validation

type Side = 'predictions' | 'references';

class ItemReader {
  constructor(
    private readonly context: MetricCallContext,
    readonly metric: string,
  ) {}

  where(side: Side, i: number): string {
    return this.context.describeItem ? this.context.describeItem(side, i) : `${this.metric}: ${side}[${i}]`;
  }

  fail(side: Side, i: number, expected: string, value: unknown): never {
    throw new Error(`${this.where(side, i)}: expected ${expected}, got ${describe(value)}`);
  }

  labels(items: readonly unknown[], side: Side): Label[] | number[][] {
    if (items.some((v) => Array.isArray(v))) {
      return items.map((v, i) => {
        if (!Array.isArray(v) || !v.every((x) => typeof x === 'number'))
          this.fail(side, i, 'an indicator row (array of 0/1) like the other items', v);
        return v;
      });
    }
    return items.map((v, i) =>
      isLabel(v) ? (v as Label) : this.fail(side, i, 'a class label (finite number, string or boolean)', v),
    );
  }

  numbers(items: readonly unknown[], side: Side): number[] | number[][] {
    const vectors = items.some((v) => Array.isArray(v));
    const isFiniteNumber = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);
    return items.map((v, i) => {
      if (vectors) {
        if (!Array.isArray(v) || !v.every(isFiniteNumber))
          this.fail(side, i, 'an array of finite numbers like the other items', v);
        return v;
      }
      return isFiniteNumber(v) ? v : this.fail(side, i, 'a finite number', v);
    }) as number[] | number[][];
  }

  strings(items: readonly unknown[], side: Side): string[] {
    return items.map((v, i) => (typeof v === 'string' ? v : this.fail(side, i, 'a string', v)));
  }

  stringLists(items: readonly unknown[], side: Side, what: string): string[][] {
    return items.map((v, i) =>
      Array.isArray(v) && v.every((s) => typeof s === 'string') ? v : this.fail(side, i, what, v),
    );
  }

  referenceTexts(items: readonly unknown[], side: Side): string[][] {
    return items.map((v, i) => {
      if (typeof v === 'string') return [v];
      if (Array.isArray(v) && v.length > 0 && v.every((s) => typeof s === 'string')) return v;
      return this.fail(side, i, 'a string or a non-empty array of strings', v);
    });
  }
}

function checkOptions(metric: RegisteredMetric, options: MetricOptions): void {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new TypeError(`${metric.name}: options must be an object, got ${describe(options)}`);
  }
  for (const [key, value] of Object.entries(options)) {
    const option = metric.options.find((o) => o.name === key);
    if (option === undefined) {
      const names = metric.options.map((o) => o.name);
      throw new Error(
        `metric ${metric.name} has no option ${JSON.stringify(key)}; its options are: ${names.join(', ') || '(none)'}`,
      );
    }
    if (value === undefined) continue;
    const problem = option.check(value);
    if (problem !== null) throw new Error(`metric ${metric.name}: option ${key}: ${problem}`);
  }
}

/** Drops undefined entries so that `exactOptionalPropertyTypes` option objects stay exact. */
function defined(options: MetricOptions): Record<string, unknown> {
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
}

// ---------------------------------------------------------------------------------------------
// metric definitions

/** Per-item statistics whose column sums determine the corpus score (for fast bootstrap). */
interface Decomposition {
  stats: number[][];
  score: (totals: readonly number[]) => number;
}

interface RegisteredMetric extends MetricSpec {
  compute: (inputs: Required<MetricInputs>, options: MetricOptions, reader: ItemReader) => MetricResult;
  /** Per-item sufficient statistics of the main score, when it has them (sacrebleu's bootstrap). */
  decompose?: (inputs: Required<MetricInputs>, options: MetricOptions, reader: ItemReader) => Decomposition;
}

/** Corpus score = mean of per-item scores: rows [score, 1]. */
function meanDecomposition(values: readonly number[]): Decomposition {
  return { stats: values.map((v) => [v, 1]), score: (t) => (t[0] ?? NaN) / (t[1] ?? NaN) };
}

const constantKey = (key: string) => (): string => key;

function labelMetric(
  name: 'accuracy' | 'precision' | 'recall' | 'f1',
  description: string,
  options: readonly MetricOptionSpec[],
  fn: (yTrue: Label[] | number[][], yPred: Label[] | number[][], options: Record<string, unknown>) => number | number[],
): RegisteredMetric {
  return {
    name,
    description,
    predictions: 'labels',
    references: 'labels',
    options,
    higherIsBetter: true,
    primaryKey: constantKey(name),
    compute: ({ predictions, references }, opts, r) => ({
      [name]: fn(r.labels(references, 'references'), r.labels(predictions, 'predictions'), defined(opts)),
    }),
  };
}

function regressionMetric(
  name: 'mae' | 'mse' | 'rmse' | 'r2',
  description: string,
  options: readonly MetricOptionSpec[],
  higherIsBetter: boolean,
  fn: (
    yTrue: number[] | number[][],
    yPred: number[] | number[][],
    options: Record<string, unknown>,
  ) => number | number[],
): RegisteredMetric {
  return {
    name,
    description,
    predictions: 'values',
    references: 'values',
    options,
    higherIsBetter,
    primaryKey: constantKey(name),
    compute: ({ predictions, references }, opts, r) => ({
      [name]: fn(r.numbers(references, 'references'), r.numbers(predictions, 'predictions'), defined(opts)),
    }),
  };
}

/** Per-item reference lists as sacrebleu reference streams (missing entries are null). */
function referenceStreams(refs: readonly (readonly string[])[]): (string | null)[][] {
  let k = 0;
  for (const r of refs) k = Math.max(k, r.length);
  return Array.from({ length: k }, (_, j) => refs.map((r) => r[j] ?? null));
}

function sentenceBleuScores(inputs: Required<MetricInputs>, opts: MetricOptions, r: ItemReader): number[] {
  const refs = r.referenceTexts(inputs.references, 'references');
  return r
    .strings(inputs.predictions, 'predictions')
    .map((p, i) => sentenceBleu(p, refs[i] ?? [], defined(opts) as BleuOptions).score);
}

function rouge(inputs: Required<MetricInputs>, opts: MetricOptions, r: ItemReader): Record<string, number | number[]> {
  const refs = r.referenceTexts(inputs.references, 'references');
  const multi = refs.some((x) => x.length > 1);
  const options = defined(opts) as RougeComputeOptions;
  const predictions = r.strings(inputs.predictions, 'predictions');
  return multi
    ? rougeCompute(predictions, refs, options)
    : rougeCompute(
        predictions,
        refs.map((x) => x[0] ?? ''),
        options,
      );
}

/** The ROUGE type that is the main score: the first requested type, else rougeL. */
function rougePrimary(opts: MetricOptions): string {
  const types = opts.rougeTypes;
  return Array.isArray(types) && typeof types[0] === 'string' ? types[0] : 'rougeL';
}

function whitespaceTokens(text: string): string[] {
  return text.split(/\s+/).filter((t) => t.length > 0);
}

/**
 * METEOR of every item ({@link corpusMeteor}: Hugging Face evaluate's tokenisation and mean),
 * with the items checked here so that a bad one is named by the caller's `describeItem`.
 */
function meteorScores(inputs: Required<MetricInputs>, opts: MetricOptions, r: ItemReader): number[] {
  const isTokens = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === 'string');
  inputs.predictions.forEach((p, i) => {
    if (typeof p !== 'string' && !isTokens(p)) r.fail('predictions', i, 'a string or an array of tokens', p);
  });
  inputs.references.forEach((ref, i) => {
    const ok =
      typeof ref === 'string' ||
      (Array.isArray(ref) && ref.length > 0 && (ref.every((x) => typeof x === 'string') || ref.every(isTokens)));
    if (!ok) r.fail('references', i, 'a string, a non-empty array of strings, or an array of token arrays', ref);
  });
  return corpusMeteor(
    inputs.predictions as (string | string[])[],
    inputs.references as MeteorReferenceItem[],
    defined(opts),
  ).scores;
}

/** SQuAD scores of each item on its own (percent), whose mean is the corpus score. */
function squadItemScores(
  inputs: Required<MetricInputs>,
  opts: MetricOptions,
  r: ItemReader,
): { exact_match: number; f1: number }[] {
  const refs = r.referenceTexts(inputs.references, 'references');
  const options = defined(opts) as SquadEvaluateOptions;
  return r
    .strings(inputs.predictions, 'predictions')
    .map((p, i) =>
      squadEvaluate([{ id: '0', prediction_text: p }], [{ id: '0', answers: { text: refs[i] ?? [] } }], options),
    );
}

function squad(
  inputs: Required<MetricInputs>,
  opts: MetricOptions,
  r: ItemReader,
): { exact_match: number; f1: number } {
  const preds = r
    .strings(inputs.predictions, 'predictions')
    .map((text, i) => ({ id: String(i), prediction_text: text }));
  const refs = r
    .referenceTexts(inputs.references, 'references')
    .map((text, i) => ({ id: String(i), answers: { text } }));
  return squadEvaluate(preds, refs, defined(opts));
}

function generatedSequences(inputs: Required<MetricInputs>, opts: MetricOptions, r: ItemReader): string[][] {
  const tokenizer = opts.tokenizer ?? 'whitespace';
  return inputs.predictions.map((v, i) => {
    if (Array.isArray(v) && v.every((t) => typeof t === 'string')) return v;
    if (typeof v !== 'string') return r.fail('predictions', i, 'a string or an array of tokens', v);
    return tokenizer === 'chars' ? Array.from(v).filter((c) => !/\s/.test(c)) : whitespaceTokens(v);
  });
}

function perplexityMetric(name: 'perplexity' | 'nll', description: string, primary: string): RegisteredMetric {
  return {
    name,
    description,
    predictions: 'nll',
    references: null,
    options: [
      spec(
        'base',
        'base of the logarithm the NLLs are in (2 for bits)',
        'e (natural log)',
        'a finite number > 0 other than 1',
        (v) => typeof v === 'number' && Number.isFinite(v) && v > 0 && v !== 1,
      ),
    ],
    higherIsBetter: false,
    primaryKey: constantKey(primary),
    compute({ predictions }, opts, r) {
      const nll = predictions.map((v, i) =>
        Array.isArray(v) && v.every((x) => typeof x === 'number')
          ? v
          : typeof v === 'number'
            ? [v]
            : r.fail('predictions', i, 'an array of per-token NLLs', v),
      );
      const result = perplexity(nll, defined(opts));
      return {
        mean_perplexity: result.meanPerplexity,
        corpus_perplexity: result.corpusPerplexity,
        mean_nll: result.meanNll,
        perplexities: result.perplexities,
        token_counts: result.tokenCounts,
      };
    },
  };
}

const SQUAD_VARIANT = enumOption(
  'variant',
  "the official script's rules: SQuAD v1.1, or CMRC 2018 for Chinese",
  "'squad-v1.1'",
  ['squad-v1.1', 'cmrc2018'],
);
const REPETITION_TOKENIZER = TEXT_TOKENIZER('prediction', ['whitespace', 'chars'], "'whitespace'");

const METRIC_LIST: readonly RegisteredMetric[] = [
  labelMetric(
    'accuracy',
    'scikit-learn accuracy_score (subset accuracy for multilabel rows)',
    [booleanOption('normalize', 'fraction of correct items (true) or their count', 'true')],
    (t, p, o) => accuracyScore(t, p, o),
  ),
  labelMetric('precision', 'scikit-learn precision_score', PRF_OPTIONS, (t, p, o) =>
    precisionScore(t, p, o as PrfOptions),
  ),
  labelMetric('recall', 'scikit-learn recall_score', PRF_OPTIONS, (t, p, o) => recallScore(t, p, o as PrfOptions)),
  labelMetric('f1', 'scikit-learn f1_score', PRF_OPTIONS, (t, p, o) => f1Score(t, p, o as PrfOptions)),
  {
    name: 'roc_auc',
    description: 'scikit-learn roc_auc_score: predictions are scores (a number, or one score per class/label)',
    predictions: 'scores',
    references: 'labels',
    options: [
      enumOption('average', 'averaging over classes (multiclass/multilabel); null gives one AUC per class', "'macro'", [
        'micro',
        'macro',
        'weighted',
        'samples',
        null,
      ]),
      enumOption(
        'multiClass',
        "multiclass strategy: one-vs-rest or one-vs-one ('raise' refuses multiclass input)",
        "'raise'",
        ['raise', 'ovr', 'ovo'],
      ),
      spec(
        'maxFpr',
        'partial AUC up to this false-positive rate (McClish-standardised, binary only)',
        'none (full AUC)',
        'a number in (0, 1]',
        (v) => typeof v === 'number' && v > 0 && v <= 1,
        { max: 1 },
      ),
      spec(
        'labels',
        'class of each score column',
        'the sorted labels of the references',
        'an array of labels',
        (v) => Array.isArray(v) && v.every(isLabel),
      ),
    ],
    higherIsBetter: true,
    primaryKey: constantKey('roc_auc'),
    compute({ predictions, references }, opts, r) {
      const scores = r.numbers(predictions, 'predictions');
      const yTrue = r.labels(references, 'references');
      const o = defined(opts) as RocAucOptions;
      const isMatrix = (s: number[] | number[][]): s is number[][] => Array.isArray(s[0]);
      if (isMatrix(scores)) return { roc_auc: rocAucScore(yTrue, scores, o) };
      if (yTrue.some((v) => Array.isArray(v)))
        throw new Error('roc_auc: indicator-row references need one score per label in each prediction');
      return { roc_auc: rocAucScore(yTrue as Label[], scores, o) };
    },
  },
  regressionMetric('mae', 'scikit-learn mean_absolute_error', [MULTIOUTPUT], false, (t, p, o) =>
    meanAbsoluteError(t, p, o as RegressionOptions),
  ),
  regressionMetric('mse', 'scikit-learn mean_squared_error', [MULTIOUTPUT], false, (t, p, o) =>
    meanSquaredError(t, p, o as RegressionOptions),
  ),
  regressionMetric('rmse', 'scikit-learn root_mean_squared_error', [MULTIOUTPUT], false, (t, p, o) =>
    rootMeanSquaredError(t, p, o as RegressionOptions),
  ),
  regressionMetric(
    'r2',
    'scikit-learn r2_score',
    [
      spec(
        'multioutput',
        'how the outputs combine',
        "'uniform_average'",
        "'raw_values', 'uniform_average', 'variance_weighted' or an array of output weights",
        (v) => v === 'variance_weighted' || MULTIOUTPUT.check(v) === null,
      ),
      booleanOption('forceFinite', 'replace the NaN/-Infinity of a constant target by 1 or 0', 'true'),
    ],
    true,
    (t, p, o) => r2Score(t, p, o as R2Options),
  ),
  {
    name: 'seqeval',
    description:
      'seqeval entity precision/recall/F1 in the Hugging Face evaluate output shape; items are tag sequences',
    predictions: 'tags',
    references: 'tags',
    options: [
      booleanOption('suffix', 'tags carry their prefix at the end (PER-B)', 'false'),
      enumOption('scheme', 'tagging scheme for strict mode', 'none (lenient CoNLL chunking)', [
        'IOB1',
        'IOE1',
        'IOB2',
        'IOE2',
        'IOBES',
        'BILOU',
      ]),
      enumOption('mode', "'strict': entities must follow the scheme exactly", 'none (lenient)', ['strict']),
      spec(
        'zeroDivision',
        'value of a 0/0 ratio',
        "'warn' (gives 0)",
        "'warn', 0 or 1",
        (v) => v === 'warn' || v === 0 || v === 1,
      ),
    ],
    higherIsBetter: true,
    primaryKey: constantKey('overall_f1'),
    compute: ({ predictions, references }, opts, r) =>
      seqevalCompute(
        r.stringLists(predictions, 'predictions', 'a tag sequence (array of strings)'),
        r.stringLists(references, 'references', 'a tag sequence (array of strings)'),
        defined(opts),
      ) as MetricResult,
  },
  {
    name: 'bleu',
    description: 'sacrebleu corpus BLEU (13a tokenizer by default); a reference item may be an array of references',
    predictions: 'text',
    references: 'reference-texts',
    options: BLEU_OPTIONS,
    higherIsBetter: true,
    primaryKey: constantKey('score'),
    compute({ predictions, references }, opts, r) {
      const s = corpusBleu(
        r.strings(predictions, 'predictions'),
        referenceStreams(r.referenceTexts(references, 'references')),
        defined(opts),
      );
      return {
        score: s.score,
        counts: s.counts,
        totals: s.totals,
        precisions: s.precisions,
        bp: s.bp,
        sys_len: s.sysLen,
        ref_len: s.refLen,
        ratio: s.ratio,
        signature: s.signature,
        formatted: s.format(),
      };
    },
    decompose({ predictions, references }, opts, r) {
      const o = defined(opts) as BleuOptions;
      const order = o.maxNgramOrder ?? BLEU_MAX_NGRAM_ORDER;
      const refs = r.referenceTexts(references, 'references');
      // Raw per-segment statistics (no smoothing, no effective order): [sysLen, refLen, counts, totals].
      const stats = r.strings(predictions, 'predictions').map((p, i) => {
        const s = sentenceBleu(p, refs[i] ?? [], { ...o, smoothMethod: 'none', effectiveOrder: false });
        return [s.sysLen, s.refLen, ...s.counts, ...s.totals];
      });
      const score = (t: readonly number[]): number =>
        computeBleu(t.slice(2, 2 + order), t.slice(2 + order), t[0] ?? 0, t[1] ?? 0, {
          smoothMethod: o.smoothMethod ?? 'exp',
          smoothValue: o.smoothValue ?? null,
          effectiveOrder: o.effectiveOrder ?? false,
          maxNgramOrder: order,
        }).score;
      return { stats, score };
    },
  },
  {
    name: 'sentence_bleu',
    description: 'sacrebleu sentence BLEU of every item (effective order), and their mean',
    predictions: 'text',
    references: 'reference-texts',
    options: BLEU_OPTIONS,
    higherIsBetter: true,
    primaryKey: constantKey('mean'),
    compute(inputs, opts, r) {
      const scores = sentenceBleuScores(inputs, opts, r);
      return { mean: mean(scores), scores };
    },
    decompose: (inputs, opts, r) => meanDecomposition(sentenceBleuScores(inputs, opts, r)),
  },
  {
    name: 'chrf',
    description: 'sacrebleu chrF (wordOrder=2 gives chrF++)',
    predictions: 'text',
    references: 'reference-texts',
    options: [
      integerOption('charOrder', 'character n-gram order', '6', 0, CHRF_MAX_ORDER),
      integerOption('wordOrder', 'word n-gram order (2 gives chrF++)', '0', 0, CHRF_MAX_ORDER),
      numberOption('beta', 'recall weight of F-beta', '2', 0, 1e6, 'a number in [0, 1e6]'),
      booleanOption('lowercase', 'lowercase both sides first', 'false'),
      booleanOption('whitespace', 'keep whitespace inside character n-grams', 'false'),
      booleanOption(
        'epsSmoothing',
        'average per-order F-scores with epsilon for empty orders (chrF++.py, NLTK)',
        'false',
      ),
    ],
    higherIsBetter: true,
    primaryKey: constantKey('score'),
    compute({ predictions, references }, opts, r) {
      const s = corpusChrf(
        r.strings(predictions, 'predictions'),
        referenceStreams(r.referenceTexts(references, 'references')),
        defined(opts),
      );
      return { score: s.score, name: s.name, signature: s.signature, formatted: s.format() };
    },
  },
  {
    name: 'rouge',
    description: 'rouge-score F-measures in the Hugging Face evaluate shape (mean over pairs)',
    predictions: 'text',
    references: 'reference-texts',
    options: [
      spec(
        'rougeTypes',
        'ROUGE types to compute',
        "['rouge1', 'rouge2', 'rougeL', 'rougeLsum']",
        "a non-empty array of 'rouge1'..'rouge9', 'rougeL', 'rougeLsum'",
        (v) =>
          Array.isArray(v) &&
          v.length > 0 &&
          v.every((t) => typeof t === 'string' && /^(rouge[1-9]|rougeL|rougeLsum)$/.test(t)),
      ),
      booleanOption('useStemmer', 'Porter-stem tokens longer than 3 characters', 'false'),
      booleanOption('useAggregator', 'one mean F-measure per type (false: one per pair)', 'true'),
      enumOption('tokenizer', 'tokenizer for Chinese text', "rouge-score's (ASCII letters and digits only)", [
        'chars',
        'jieba',
      ]),
    ],
    higherIsBetter: true,
    primaryKey: rougePrimary,
    compute: (inputs, opts, r) => rouge(inputs, opts, r),
    decompose(inputs, opts, r) {
      const perPair = rouge(inputs, { ...opts, useAggregator: false }, r)[rougePrimary(opts)];
      if (!Array.isArray(perPair)) throw new Error('rouge: internal error, no per-pair scores');
      return meanDecomposition(perPair);
    },
  },
  {
    name: 'meteor',
    description: 'NLTK meteor_score averaged over items, as Hugging Face evaluate (NLTK word_tokenize)',
    predictions: 'meteor-text',
    references: 'meteor-references',
    options: [
      numberOption('alpha', 'relative weight of precision and recall', '0.9', 0, 1),
      numberOption('beta', 'shape of the fragmentation penalty', '3', 0, 1e6, 'a number in [0, 1e6]'),
      numberOption('gamma', 'weight of the fragmentation penalty', '0.5', 0, 1),
      spec(
        'wordnet',
        'WordNet dict directory for the synonym stage, or false to skip it',
        '$TUNEKIT_WORDNET_DIR, else /usr/share/wordnet',
        'a directory path or false',
        (v) => v === false || (typeof v === 'string' && v.length > 0),
      ),
      TEXT_TOKENIZER(
        'item',
        ['nltk', 'whitespace', 'chars', 'jieba'],
        "'nltk' (word_tokenize, as Hugging Face evaluate)",
      ),
    ],
    higherIsBetter: true,
    primaryKey: constantKey('meteor'),
    compute: (inputs, opts, r) => ({ meteor: mean(meteorScores(inputs, opts, r)) }),
    decompose: (inputs, opts, r) => meanDecomposition(meteorScores(inputs, opts, r)),
  },
  {
    name: 'squad',
    description: 'SQuAD v1.1 exact match and F1 in percent; a reference item may list several answers',
    predictions: 'text',
    references: 'reference-texts',
    options: [SQUAD_VARIANT],
    higherIsBetter: true,
    primaryKey: constantKey('f1'),
    compute: (inputs, opts, r) => squad(inputs, opts, r),
    decompose: (inputs, opts, r) => meanDecomposition(squadItemScores(inputs, opts, r).map((x) => x.f1)),
  },
  {
    name: 'exact_match',
    description: 'SQuAD v1.1 normalised exact match in percent (lowercase, no punctuation/articles)',
    predictions: 'text',
    references: 'reference-texts',
    options: [SQUAD_VARIANT],
    higherIsBetter: true,
    primaryKey: constantKey('exact_match'),
    compute: (inputs, opts, r) => ({ exact_match: squad(inputs, opts, r).exact_match }),
    decompose: (inputs, opts, r) => meanDecomposition(squadItemScores(inputs, opts, r).map((x) => x.exact_match)),
  },
  perplexityMetric(
    'perplexity',
    "perplexity (Hugging Face evaluate's per-sequence mean, and the token-weighted corpus value) from per-token NLLs",
    'corpus_perplexity',
  ),
  perplexityMetric(
    'nll',
    "token-weighted mean negative log-likelihood (a trainer's evaluation loss) from per-token NLLs",
    'mean_nll',
  ),
  {
    name: 'distinct',
    description: 'corpus distinct-n of the predictions (distinct n-grams / all n-grams)',
    predictions: 'tokens',
    references: null,
    options: [
      integerOption('n', 'n-gram order', 'reports n = 1 and n = 2 (main score: 2)', 1, MAX_REPETITION_ORDER),
      REPETITION_TOKENIZER,
    ],
    higherIsBetter: true,
    primaryKey: constantKey('distinct'),
    compute(inputs, opts, r) {
      const sequences = generatedSequences(inputs, opts, r);
      const orders = typeof opts.n === 'number' ? [opts.n] : [1, 2];
      const result: Record<string, number> = {};
      let last = NaN;
      for (const n of orders) {
        last = distinctN(sequences, n);
        result[`distinct_${n}`] = last;
      }
      result.distinct = last;
      return result;
    },
  },
  {
    name: 'rep',
    description: 'mean seq-rep-n of the predictions (fraction of repeated n-grams)',
    predictions: 'tokens',
    references: null,
    options: [integerOption('n', 'n-gram order', '2', 1, MAX_REPETITION_ORDER), REPETITION_TOKENIZER],
    higherIsBetter: false,
    primaryKey: constantKey('rep'),
    compute(inputs, opts, r) {
      const n = typeof opts.n === 'number' ? opts.n : 2;
      const value = meanRepN(generatedSequences(inputs, opts, r), n);
      return { rep: value, [`rep_${n}`]: value };
    },
  },
];

const METRICS = new Map<string, RegisteredMetric>(METRIC_LIST.map((m) => [m.name, m]));

// ---------------------------------------------------------------------------------------------
// public functions

/** The names of every registered metric, in registry order. */
export const METRIC_NAMES: readonly string[] = METRIC_LIST.map((m) => m.name);

function lookup(name: string): RegisteredMetric {
  const metric = METRICS.get(name);
  if (metric === undefined)
    throw new Error(`unknown metric ${JSON.stringify(name)}; known metrics: ${METRIC_NAMES.join(', ')}`);
  return metric;
}

/** The registry entry of a metric (inputs, options, main score); throws for an unknown name. */
export function getMetricSpec(name: string): MetricSpec {
  const { compute: _compute, decompose: _decompose, ...specOnly } = lookup(name);
  return specOnly;
}

/** Every registry entry, in registry order. */
export function listMetrics(): MetricSpec[] {
  return METRIC_NAMES.map(getMetricSpec);
}

/**
 * Checks a metric's options against the registry without computing anything: unknown names and
 * values outside the declared type or range throw an error naming the metric and the option.
 */
export function validateMetricOptions(name: string, options: MetricOptions = {}): void {
  checkOptions(lookup(name), options);
}

function prepare(
  name: string,
  inputs: MetricInputs,
  options: MetricOptions,
): { metric: RegisteredMetric; full: Required<MetricInputs> } {
  const metric = lookup(name);
  checkOptions(metric, options);
  if (inputs === null || typeof inputs !== 'object' || !Array.isArray(inputs.predictions)) {
    throw new TypeError(`${name}: inputs.predictions must be an array`);
  }
  let references: readonly unknown[] = [];
  if (metric.references !== null) {
    if (!Array.isArray(inputs.references))
      throw new TypeError(`${name}: inputs.references must be an array (the metric compares against references)`);
    if (inputs.references.length !== inputs.predictions.length) {
      throw new Error(
        `${name}: ${inputs.predictions.length} predictions but ${inputs.references.length} references; they must be parallel`,
      );
    }
    references = inputs.references;
  } else if (inputs.references !== undefined) {
    throw new Error(`${name}: this metric reads no references; leave inputs.references out`);
  }
  return { metric, full: { predictions: inputs.predictions, references } };
}

/**
 * Computes one metric.
 * @param name a registered name ({@link METRIC_NAMES}), e.g. 'f1', 'bleu', 'seqeval'.
 * @param inputs `predictions` (and `references` unless the metric reads none), parallel arrays
 *   whose items have the metric's {@link MetricSpec.predictions} / `references` shapes.
 * @param options the metric's options (see {@link getMetricSpec}); defaults are the reference's.
 * @param context how to name an item in errors (default `predictions[i]`).
 * @returns every value the metric reports, e.g. `{ f1: 0.8 }` or seqeval's per-type table.
 */
export function computeMetric(
  name: string,
  inputs: MetricInputs,
  options: MetricOptions = {},
  context: MetricCallContext = {},
): MetricResult {
  const { metric, full } = prepare(name, inputs, options);
  return metric.compute(full, options, new ItemReader(context, name));
}

/** The main score of a result, checked to be a number. */
function primaryScore(metric: MetricSpec, result: MetricResult, options: MetricOptions): number {
  const key = metric.primaryKey(options);
  const value = result[key];
  if (typeof value !== 'number') {
    throw new Error(
      `${metric.name}: the main score ${key} is not a single number (${describe(value)}); choose an averaging option`,
    );
  }
  return value;
}

/**
 * Computes several metrics on the same inputs, e.g. a task's evaluation:
 * `computeMetrics(['accuracy', 'f1'], { predictions, references }, { f1: { average: 'macro' } })`.
 * @param options per metric name, that metric's options (a metric left out uses its defaults).
 * @returns per metric name its main score (a number: an option giving per-class arrays is an
 *   error here), whether higher is better, and all its values.
 */
export function computeMetrics(
  names: readonly string[],
  inputs: MetricInputs,
  options: Readonly<Record<string, MetricOptions>> = {},
  context: MetricCallContext = {},
): Record<string, MetricScore> {
  for (const key of Object.keys(options)) {
    if (!names.includes(key))
      throw new Error(
        `options given for ${JSON.stringify(key)}, which is not among the metrics computed (${names.join(', ')})`,
      );
  }
  const scores: Record<string, MetricScore> = {};
  for (const name of names) {
    const metricOptions = options[name] ?? {};
    const metric = lookup(name);
    checkOptions(metric, metricOptions);
    const values = computeMetric(name, inputs, metricOptions, context);
    scores[name] = {
      score: primaryScore(metric, values, metricOptions),
      higherIsBetter: metric.higherIsBetter,
      values,
    };
  }
  return scores;
}

/** Checks bootstrap options (resample count bounded by {@link MAX_BOOTSTRAP_SAMPLES}). */
export function checkBootstrapOptions(options: MetricBootstrapOptions): void {
  const { nSamples = 1000, confidence = 0.95, seed = 12345 } = options;
  if (!Number.isInteger(nSamples) || nSamples < 1 || nSamples > MAX_BOOTSTRAP_SAMPLES) {
    throw new Error(
      `bootstrap nSamples must be an integer in [1, ${MAX_BOOTSTRAP_SAMPLES}], got ${describe(nSamples)}`,
    );
  }
  if (!(typeof confidence === 'number' && confidence > 0 && confidence < 1))
    throw new Error(`bootstrap confidence must be in (0, 1), got ${describe(confidence)}`);
  if (!Number.isSafeInteger(seed)) throw new Error(`bootstrap seed must be an integer, got ${describe(seed)}`);
}

/**
 * Bootstrap percentile confidence interval of a metric's main score: items (prediction with its
 * reference) resampled with replacement. Metrics with per-item sufficient statistics (BLEU, the
 * averaged ones) sum resampled rows instead of rescoring, as sacrebleu does; the result is the same.
 * @returns the interval and `of`, the key of the score it is about.
 */
export function bootstrapMetric(
  name: string,
  inputs: MetricInputs,
  options: MetricOptions = {},
  bootstrap: MetricBootstrapOptions = {},
  context: MetricCallContext = {},
): BootstrapResult & { of: string } {
  checkBootstrapOptions(bootstrap);
  const { metric, full } = prepare(name, inputs, options);
  const reader = new ItemReader(context, name);
  const of = metric.primaryKey(options);
  const settings = {
    nSamples: bootstrap.nSamples ?? 1000,
    confidence: bootstrap.confidence ?? 0.95,
    seed: bootstrap.seed ?? 12345,
  };
  if (metric.decompose) {
    const { stats, score } = metric.decompose(full, options, reader);
    const width = stats[0]?.length ?? 0;
    const sumRows = (rows: readonly (readonly number[])[]): number[] => {
      const totals = new Array<number>(width).fill(0);
      for (const row of rows) for (let j = 0; j < width; j++) totals[j] = (totals[j] ?? 0) + (row[j] ?? 0);
      return totals;
    };
    return { of, ...bootstrapCi((rows: (readonly number[])[]) => score(sumRows(rows)), stats, stats, settings) };
  }
  const indices = full.predictions.map((_, i) => i);
  const scoreOf = (idx: number[]): number =>
    primaryScore(
      metric,
      metric.compute(
        {
          predictions: idx.map((i) => full.predictions[i]),
          references: metric.references === null ? [] : idx.map((i) => full.references[i]),
        },
        options,
        reader,
      ),
      options,
    );
  return { of, ...bootstrapCi((idx: number[]) => scoreOf(idx), indices, indices, settings) };
}
