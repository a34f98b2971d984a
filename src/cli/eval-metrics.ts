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
import { extname } from 'node:path';
import { readTextBounded } from '../io/files.js';
import {
  MAX_BOOTSTRAP_SAMPLES,
  METRIC_NAMES,
  bootstrapMetric,
  computeMetric,
  getMetricSpec,
  type MetricCallContext,
  type MetricInputShape,
} from '../metrics/registry.js';

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

function describe(value: unknown): string {
  const json = JSON.stringify(value);
  return json === undefined ? String(value) : json.length > 60 ? `${json.slice(0, 57)}...` : json;
}

// ---------------------------------------------------------------------------------------------
// plain-text items: the registry takes typed values; a text line is parsed per the input shape

const DECIMAL = /^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;

function textNumber(item: Item, text: string): number {
  if (DECIMAL.test(text)) return Number(text);
  throw new Error(`${item.where}: expected a finite number, got ${describe(text)}`);
}

/**
 * The value a plain-text line stands for, given the metric's input shape: a decimal label is a
 * number, numeric shapes are numbers (several on a line make a vector), tag sequences are split
 * on whitespace; texts and tokens stay strings (the metric tokenises them).
 */
function plainTextValue(item: Item, line: string, shape: MetricInputShape): unknown {
  const trimmed = line.trim();
  switch (shape) {
    case 'labels':
      return DECIMAL.test(trimmed) ? Number(trimmed) : line;
    case 'scores':
    case 'values':
    case 'nll': {
      const fields = trimmed.split(/\s+/);
      const numbers = fields.map((f) => textNumber(item, f));
      return fields.length > 1 || shape === 'nll' ? numbers : numbers[0];
    }
    case 'tags':
      return trimmed.split(/\s+/).filter((t) => t.length > 0);
    default:
      return line;
  }
}

function itemValues(items: readonly Item[], shape: MetricInputShape): unknown[] {
  return items.map((item) =>
    item.plainText && typeof item.value === 'string' ? plainTextValue(item, item.value, shape) : item.value,
  );
}

// ---------------------------------------------------------------------------------------------
// files and options

/**
 * Reads a predictions/references file into items (format by extension; see the module doc).
 * The read is bounded for any file type (a pipe or a device such as /dev/zero stops at the limit).
 */
export function readItems(path: string, maxBytes = MAX_FILE_BYTES): Item[] {
  let text = readTextBounded(path, maxBytes);
  if (text.startsWith('\ufeff')) text = text.slice(1);
  const ext = extname(path).toLowerCase();
  if (ext === '.json') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (e) {
      throw new Error(`${path}: invalid JSON (${(e as Error).message}); a .json file must hold one array of items`, {
        cause: e,
      });
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
      throw new Error(
        `metric ${metric} has no option ${JSON.stringify(key)}; its options are: ${allowed.join(', ') || '(none)'}`,
      );
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
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v), 2);
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
  const metric = getMetricSpec(args.metric);
  const options = parseOptions(
    args.option ?? [],
    args.metric,
    metric.options.map((o) => o.name),
  );
  const predictions = readItems(args.predictions);
  let references: Item[] = [];
  if (metric.references !== null) {
    if (args.references === undefined) throw new Error(`metric ${args.metric} needs --references`);
    references = readItems(args.references);
    if (references.length !== predictions.length) {
      throw new Error(
        `${args.predictions} has ${predictions.length} items but ${args.references} has ${references.length}; they must be parallel (one reference item per prediction)`,
      );
    }
  }
  if (predictions.length === 0) throw new Error(`${args.predictions} has no items`);
  const inputs = {
    predictions: itemValues(predictions, metric.predictions),
    ...(metric.references === null ? {} : { references: itemValues(references, metric.references) }),
  };
  const context: MetricCallContext = {
    describeItem: (side, i) => (side === 'predictions' ? predictions : references)[i]?.where ?? `${side} item ${i}`,
  };
  const result: Record<string, unknown> = {
    metric: args.metric,
    n: predictions.length,
    ...computeMetric(args.metric, inputs, options, context),
  };
  if (args.bootstrap) {
    const bootstrap = { nSamples: args.bootstrap, seed: args.seed ?? 12345, confidence: args.confidence ?? 0.95 };
    const { of, ...ci } = bootstrapMetric(args.metric, inputs, options, bootstrap, context);
    result.bootstrap = { of, seed: bootstrap.seed, ...ci };
  }
  return result;
}

function integerArg(name: string, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    if (!/^\d+$/.test(value) || Number(value) > max) {
      throw new InvalidArgumentError(`${name} expects an integer in [0, ${max}], got ${JSON.stringify(value)}`);
    }
    return Number(value);
  };
}

/** Registers `tunekit eval-metrics`. */
export function register(program: Command): void {
  program
    .command('eval-metrics')
    .description('score predictions against references with a reference-exact metric; prints JSON')
    .requiredOption('--metric <name>', `metric: ${METRIC_NAMES.join(', ')}`)
    .requiredOption(
      '--predictions <file>',
      'predictions: .jsonl (a JSON value per line), .json (an array) or text (one per line)',
    )
    .option('--references <file>', 'references, parallel to the predictions (same formats)')
    .option(
      '--bootstrap <n>',
      `bootstrap resamples for a confidence interval of the main score (at most ${MAX_BOOTSTRAP_SAMPLES})`,
      integerArg('--bootstrap', MAX_BOOTSTRAP_SAMPLES),
    )
    .option('--seed <s>', 'bootstrap seed (default 12345)', integerArg('--seed'))
    .option('--confidence <c>', 'bootstrap interval coverage (default 0.95)', (v: string) => Number(v))
    .option(
      '--option <key=value>',
      'metric option, repeatable (e.g. average=macro, tokenize=zh)',
      (v: string, prev: string[]) => [...prev, v],
      [] as string[],
    )
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
