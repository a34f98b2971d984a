/**
 * Datasets from files: JSONL, JSON, CSV/TSV and Parquet (Hugging Face datasets' format, read with
 * hyparquet), an MLX-LM folder (train.jsonl, valid.jsonl, test.jsonl), the common record shapes,
 * column mapping, and a seeded shuffle and split.
 *
 * Every record keeps where it came from (file and line, or row for Parquet/JSON), so a bad row is an
 * error naming its file, line and field. Files are bounded (bytes, line length, record count) and
 * JSONL/CSV are streamed line by line: the file's text is never held whole, only the records kept.
 */
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { extname, join } from 'node:path';
import { parse as parseCsv } from 'csv-parse';
import { readTextBounded } from '../io/files.js';
import type { ChatMessage } from '../io/tokenizer.js';
import { Rng } from '../tensor/random.js';
import { findDuplicates, removeDuplicates, type DedupOptions, type DedupReport } from './dedup.js';

/** A record id as text: strings and numbers as written, the fallback when absent; never "[object Object]". */
function idText(id: unknown, fallback: number): string {
  if (id === undefined || id === null) return String(fallback);
  return typeof id === 'string' || typeof id === 'number' ? String(id) : JSON.stringify(id);
}

/** A training-data file format. */
export type DataFormat = 'jsonl' | 'json' | 'csv' | 'tsv' | 'parquet';

/** A record as read, with its origin. `line` is 1-based (the row number for Parquet and JSON arrays). */
export interface SourceRecord {
  values: Record<string, unknown>;
  file: string;
  line: number;
}

/** Options of the training-data readers. */
export interface ReadOptions {
  /** Default: from the extension (.jsonl/.ndjson, .json, .csv, .tsv, .parquet). */
  format?: DataFormat;
  /** Largest accepted file (default 2 GiB; JSON, read whole, 512 MiB). */
  maxBytes?: number;
  /** Longest accepted line or CSV record (default 16 MiB). */
  maxLineBytes?: number;
  /** Stop with an error past this many records (default 10 million). */
  maxRecords?: number;
  /** CSV/TSV: the first row names the columns (default true); false uses `columnNames` or "0", "1", ... */
  header?: boolean;
  /** CSV/TSV column names when there is no header row. */
  columnNames?: string[];
  /** CSV/TSV: honour double quotes (default true for CSV, false for TSV, as GLUE's TSVs are unquoted). */
  quoting?: boolean;
  /** CSV/TSV: accept rows with extra or missing fields (default false: such a row is an error). */
  relaxColumnCount?: boolean;
}

const DEFAULT_MAX_BYTES = 2 * 1024 ** 3;
const DEFAULT_MAX_JSON_BYTES = 512 * 1024 ** 2;
const DEFAULT_MAX_LINE = 16 * 1024 ** 2;
const DEFAULT_MAX_RECORDS = 10_000_000;

export function formatOf(path: string): DataFormat {
  const ext = extname(path).toLowerCase();
  switch (ext) {
    case '.jsonl':
    case '.ndjson':
      return 'jsonl';
    case '.json':
      return 'json';
    case '.csv':
      return 'csv';
    case '.tsv':
    case '.tab':
      return 'tsv';
    case '.parquet':
      return 'parquet';
    default:
      throw new Error(
        `${path}: cannot tell the data format from the extension "${ext}"; expected .jsonl, .json, .csv, .tsv or .parquet (or pass format)`,
      );
  }
}

function checkSize(path: string, max: number): void {
  if (!existsSync(path)) throw new Error(`${path}: no such file`);
  const size = statSync(path).size;
  if (size > max) throw new Error(`${path}: ${size} bytes is more than the limit of ${max} (raise maxBytes)`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Stream the records of a file, one at a time (JSONL and CSV/TSV never hold the whole text). */
export async function* streamRecords(path: string, opts: ReadOptions = {}): AsyncGenerator<SourceRecord> {
  const format = opts.format ?? formatOf(path);
  const maxRecords = opts.maxRecords ?? DEFAULT_MAX_RECORDS;
  const maxLine = opts.maxLineBytes ?? DEFAULT_MAX_LINE;
  let n = 0;
  const count = (line: number): void => {
    if (++n > maxRecords) throw new Error(`${path}:${line}: more than ${maxRecords} records (raise maxRecords)`);
  };
  if (format === 'jsonl') {
    checkSize(path, opts.maxBytes ?? DEFAULT_MAX_BYTES);
    const rl = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity });
    let line = 0;
    for await (const text of rl) {
      line++;
      if (text.length > maxLine)
        throw new Error(`${path}:${line}: line of ${text.length} characters is longer than the limit of ${maxLine}`);
      const t = line === 1 ? text.replace(/^\uFEFF/, '') : text;
      if (!t.trim()) continue;
      let v: unknown;
      try {
        v = JSON.parse(t);
      } catch (e) {
        throw new Error(`${path}:${line}: not valid JSON (${(e as Error).message})`, { cause: e });
      }
      if (!isObject(v))
        throw new Error(
          `${path}:${line}: expected a JSON object per line, got ${Array.isArray(v) ? 'an array' : typeof v}`,
        );
      count(line);
      yield { values: v, file: path, line };
    }
    return;
  }
  if (format === 'json') {
    checkSize(path, opts.maxBytes ?? DEFAULT_MAX_JSON_BYTES);
    const text = readTextBounded(path, opts.maxBytes ?? DEFAULT_MAX_JSON_BYTES);
    let v: unknown;
    try {
      v = JSON.parse(text.replace(/^\uFEFF/, ''));
    } catch (e) {
      throw new Error(`${path}: not valid JSON (${(e as Error).message})`, { cause: e });
    }
    if (isObject(v) && Array.isArray(v.data) && v.data.every((a) => isObject(a) && Array.isArray(a.paragraphs))) {
      yield* squadRecords(path, v.data as Record<string, unknown>[], count);
      return;
    }
    const rows: unknown[] | null = Array.isArray(v)
      ? v
      : isObject(v) && Array.isArray(v.data)
        ? (v.data as unknown[])
        : null;
    if (!rows)
      throw new Error(`${path}: expected a JSON array of records (or {"data": [...]}, SQuAD's layout included)`);
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i];
      if (!isObject(r))
        throw new Error(`${path}: record ${i + 1}: expected an object, got ${JSON.stringify(r)?.slice(0, 60)}`);
      count(i + 1);
      yield { values: r, file: path, line: i + 1 };
    }
    return;
  }
  if (format === 'csv' || format === 'tsv') {
    checkSize(path, opts.maxBytes ?? DEFAULT_MAX_BYTES);
    const header = opts.header ?? opts.columnNames === undefined;
    const quoting = opts.quoting ?? format === 'csv';
    const parser = createReadStream(path).pipe(
      parseCsv({
        delimiter: format === 'csv' ? ',' : '\t',
        bom: true,
        quote: quoting ? '"' : false,
        relax_column_count: opts.relaxColumnCount ?? false,
        max_record_size: maxLine,
        info: true,
        skip_empty_lines: true,
      }),
    );
    let names: string[] | null = opts.columnNames ?? null;
    try {
      for await (const item of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
        const { record, info } = item;
        if (header && names === null) {
          names = record.map((s) => s.trim());
          continue;
        }
        const cols = names ?? record.map((_, i) => String(i));
        if (!opts.relaxColumnCount && record.length !== cols.length)
          throw new Error(
            `${path}:${info.lines}: ${record.length} fields, expected ${cols.length} (${cols.join(', ')})`,
          );
        const values: Record<string, unknown> = {};
        cols.forEach((c, i) => {
          values[c] = record[i] ?? null;
        });
        count(info.lines);
        yield { values, file: path, line: info.lines };
      }
    } catch (e) {
      const err = e as Error & { lines?: number };
      if (err.message.startsWith(path)) throw err;
      throw new Error(`${path}${err.lines !== undefined ? `:${err.lines}` : ''}: ${err.message}`, { cause: e });
    }
    return;
  }
  if (format === 'parquet') {
    checkSize(path, opts.maxBytes ?? DEFAULT_MAX_BYTES);
    const { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } = await import('hyparquet');
    const file = await asyncBufferFromFile(path);
    const meta = await parquetMetadataAsync(file);
    const rows = Number(meta.num_rows);
    if (rows > maxRecords)
      throw new Error(`${path}: ${rows} rows is more than the limit of ${maxRecords} (raise maxRecords)`);
    // Row group by row group, so a large file is not decoded at once.
    let start = 0;
    for (const rg of meta.row_groups) {
      const end = start + Number(rg.num_rows);
      const objs = await parquetReadObjects({ file, metadata: meta, rowStart: start, rowEnd: end });
      for (let i = 0; i < objs.length; i++) {
        count(start + i + 1);
        yield { values: objs[i] as Record<string, unknown>, file: path, line: start + i + 1 };
      }
      start = end;
    }
    return;
  }
  throw new Error(`${path}: unknown format "${String(format)}"`);
}

function* squadRecords(
  path: string,
  articles: Record<string, unknown>[],
  count: (line: number) => void,
): Generator<SourceRecord> {
  let row = 0;
  for (const [ai, art] of articles.entries()) {
    for (const [pi, para] of (art.paragraphs as unknown[]).entries()) {
      const where = `${path}: data[${ai}].paragraphs[${pi}]`;
      if (!isObject(para) || typeof para.context !== 'string' || !Array.isArray(para.qas))
        throw new Error(`${where}: expected {context: string, qas: [...]}`);
      for (const [qi, qa] of para.qas.entries()) {
        if (!isObject(qa) || typeof qa.question !== 'string' || !Array.isArray(qa.answers))
          throw new Error(`${where}.qas[${qi}]: expected {id, question, answers: [...]}`);
        const answers = qa.answers as unknown[];
        const text: string[] = [];
        const answerStart: number[] = [];
        answers.forEach((a, k) => {
          if (!isObject(a) || typeof a.text !== 'string' || typeof a.answer_start !== 'number')
            throw new Error(`${where}.qas[${qi}].answers[${k}]: expected {text: string, answer_start: number}`);
          text.push(a.text);
          answerStart.push(a.answer_start);
        });
        row++;
        count(row);
        yield {
          values: {
            id: idText(qa.id, row),
            title: art.title ?? null,
            context: para.context,
            question: qa.question,
            answers: { text, answer_start: answerStart },
          },
          file: path,
          line: row,
        };
      }
    }
  }
}

/** Read every record of a file (bounded by maxRecords). */
export async function readRecords(path: string, opts: ReadOptions = {}): Promise<SourceRecord[]> {
  const out: SourceRecord[] = [];
  for await (const r of streamRecords(path, opts)) out.push(r);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Record shapes

/** One training example after reading and checking its record. */
export type Example =
  | { kind: 'text'; text: string }
  | { kind: 'prompt-completion'; prompt: string; completion: string }
  | { kind: 'messages'; messages: ChatMessage[] }
  | { kind: 'instruction'; instruction: string; input: string; output: string }
  | { kind: 'label'; text: string; textPair?: string; label: number | string | boolean }
  | { kind: 'tokens-tags'; tokens: string[]; tags: Array<string | number> }
  | {
      kind: 'squad';
      id: string;
      question: string;
      context: string;
      answers: { text: string[]; answerStart: number[] };
    };

/** The kind of a training example (text, prompt/completion, chat, ...). */
export type ExampleKind = Example['kind'];

/** An example with its origin (file and line), for error messages later on (collation, tokenizing). */
export type Located<T> = T & { source: { file: string; line: number } };

/**
 * Column mapping: canonical field -> the record's field name, e.g. `{ text: 'review' }` or
 * `{ text: 'sentence1', textPair: 'sentence2', label: 'score' }`.
 */
export type ColumnMap = Partial<
  Record<
    | 'text'
    | 'textPair'
    | 'prompt'
    | 'completion'
    | 'messages'
    | 'instruction'
    | 'input'
    | 'output'
    | 'label'
    | 'tokens'
    | 'tags'
    | 'question'
    | 'context'
    | 'answers'
    | 'id',
    string
  >
>;

/** The shape of a record from its fields (after mapping), or null when none fits. */
export function detectKind(v: Record<string, unknown>): ExampleKind | null {
  const has = (k: string): boolean => v[k] !== undefined && v[k] !== null;
  if (has('messages')) return 'messages';
  if (has('question') && has('context') && has('answers')) return 'squad';
  if (has('tokens') && (has('tags') || has('ner_tags'))) return 'tokens-tags';
  if (has('instruction') && has('output')) return 'instruction';
  if (has('prompt') && has('completion')) return 'prompt-completion';
  if (has('label') && (has('text') || has('sentence') || has('sentence1'))) return 'label';
  if (has('text')) return 'text';
  return null;
}

/**
 * Turn a record into a typed example, checking every field it uses. `kind` forces a shape
 * (default: detected). Errors name file, line and field.
 */
export function toExample(rec: SourceRecord, opts: { kind?: ExampleKind; columns?: ColumnMap } = {}): Located<Example> {
  const v: Record<string, unknown> = { ...rec.values };
  for (const [canon, src] of Object.entries(opts.columns ?? {})) {
    if (src === undefined) continue;
    if (!(src in rec.values))
      throw new Error(
        `${rec.file}:${rec.line}: column mapping ${canon} <- "${src}": the record has no field "${src}" (fields: ${Object.keys(rec.values).join(', ')})`,
      );
    v[canon] = rec.values[src];
  }
  const at = `${rec.file}:${rec.line}`;
  const kind = opts.kind ?? detectKind(v);
  if (!kind)
    throw new Error(
      `${at}: cannot tell the record's shape from its fields (${Object.keys(rec.values).join(', ')}); expected text; prompt/completion; messages; instruction/input/output; label with text; tokens/tags; or question/context/answers (map columns if named otherwise)`,
    );
  const str = (k: string, optional = false): string => {
    const x = v[k];
    if ((x === undefined || x === null) && optional) return '';
    if (typeof x !== 'string')
      throw new Error(
        `${at}: field "${k}": expected a string, got ${x === undefined ? 'nothing' : JSON.stringify(x)?.slice(0, 40)}`,
      );
    return x;
  };
  const source = { file: rec.file, line: rec.line };
  switch (kind) {
    case 'text':
      return { kind, text: str('text'), source };
    case 'prompt-completion':
      return { kind, prompt: str('prompt'), completion: str('completion'), source };
    case 'instruction':
      return { kind, instruction: str('instruction'), input: str('input', true), output: str('output'), source };
    case 'messages': {
      const m = v.messages;
      if (!Array.isArray(m) || m.length === 0)
        throw new Error(`${at}: field "messages": expected a non-empty list of {role, content}`);
      m.forEach((x, i) => {
        if (!isObject(x) || typeof x.role !== 'string' || typeof x.content !== 'string')
          throw new Error(`${at}: field "messages[${i}]": expected {role: string, content: string}`);
      });
      return { kind, messages: m as ChatMessage[], source };
    }
    case 'label': {
      const text = v.text ?? v.sentence ?? v.sentence1;
      if (typeof text !== 'string') throw new Error(`${at}: field "text": expected a string`);
      const pair = v.textPair ?? v.sentence2;
      if (pair !== undefined && pair !== null && typeof pair !== 'string')
        throw new Error(`${at}: field "textPair": expected a string`);
      const label = v.label;
      if (typeof label !== 'number' && typeof label !== 'string' && typeof label !== 'boolean')
        throw new Error(`${at}: field "label": expected a number, string or boolean, got ${JSON.stringify(label)}`);
      if (typeof label === 'number' && !Number.isFinite(label))
        throw new Error(`${at}: field "label": ${label} is not finite`);
      return { kind, text, ...(typeof pair === 'string' ? { textPair: pair } : {}), label, source };
    }
    case 'tokens-tags': {
      const tokens = v.tokens;
      const tags = v.tags ?? v.ner_tags;
      if (!Array.isArray(tokens) || !tokens.every((t) => typeof t === 'string'))
        throw new Error(`${at}: field "tokens": expected a list of strings`);
      if (
        !Array.isArray(tags) ||
        !tags.every((t) => typeof t === 'string' || (typeof t === 'number' && Number.isInteger(t)))
      )
        throw new Error(`${at}: field "tags": expected a list of strings or integers`);
      if (tags.length !== tokens.length)
        throw new Error(`${at}: field "tags": ${tags.length} tags for ${tokens.length} tokens`);
      return { kind, tokens: tokens, tags: tags as Array<string | number>, source };
    }
    case 'squad': {
      const a = v.answers;
      if (!isObject(a) || !Array.isArray(a.text) || !Array.isArray(a.answer_start ?? a.answerStart))
        throw new Error(`${at}: field "answers": expected {text: [...], answer_start: [...]}`);
      const text = a.text as unknown[];
      const starts = (a.answer_start ?? a.answerStart) as unknown[];
      if (
        !text.every((t) => typeof t === 'string') ||
        !starts.every((s) => Number.isInteger(s)) ||
        text.length !== starts.length
      )
        throw new Error(
          `${at}: field "answers": text and answer_start must be equal-length lists of strings and integers`,
        );
      const context = str('context');
      starts.forEach((s, i) => {
        const t = text[i] as string;
        if ((s as number) < 0 || context.slice(s as number, (s as number) + t.length) !== t)
          throw new Error(`${at}: field "answers": answer ${i} "${t}" is not found in the context at ${String(s)}`);
      });
      return {
        kind,
        id: idText(v.id, rec.line),
        question: str('question'),
        context,
        answers: { text: text, answerStart: starts as number[] },
        source,
      };
    }
    default:
      throw new Error(`${at}: unknown record shape "${String(kind)}"`);
  }
}

/**
 * The text of an example that deduplication compares: every field the model reads, joined by
 * newlines (a SQuAD record's question and context, a chat's message contents, tokens by spaces).
 */
export function exampleText(ex: Example): string {
  switch (ex.kind) {
    case 'text':
      return ex.text;
    case 'prompt-completion':
      return `${ex.prompt}\n${ex.completion}`;
    case 'messages':
      return ex.messages.map((m) => (typeof m.content === 'string' ? m.content : JSON.stringify(m.content))).join('\n');
    case 'instruction':
      return `${ex.instruction}\n${ex.input}\n${ex.output}`;
    case 'label':
      return ex.textPair === undefined ? ex.text : `${ex.text}\n${ex.textPair}`;
    case 'tokens-tags':
      return ex.tokens.join(' ');
    case 'squad':
      return `${ex.question}\n${ex.context}`;
  }
}

/** One duplicate found while loading: the record at `at` repeats the kept record at `of`. */
export interface LocatedDuplicate {
  at: { file: string; line: number };
  of: { file: string; line: number };
  kind: 'exact' | 'near';
  jaccard: number;
}

/** Deduplication while loading: `findDuplicates`' options, plus what to do with what it finds. */
export interface LoadDedupOptions extends DedupOptions {
  /** Drop the duplicates (the earliest record of each group is kept); default false: report only. */
  remove?: boolean;
  /** Receives every duplicate found (called once per file, also when there are none). */
  onReport: (duplicates: LocatedDuplicate[], report: DedupReport) => void;
}

/**
 * Finds exact and near-duplicate examples ({@link exampleText} compared by `findDuplicates`),
 * reports them with their file and line, and removes them when `remove` is set.
 */
export function dedupExamples<E extends Located<Example>>(examples: readonly E[], opts: LoadDedupOptions): E[] {
  const { remove, onReport, ...find } = opts;
  const report = findDuplicates(examples.map(exampleText), find);
  const where = (i: number): { file: string; line: number } => {
    const ex = examples[i];
    if (ex === undefined) throw new Error(`dedupExamples: the report names example ${i} of ${examples.length}`);
    return { file: ex.source.file, line: ex.source.line };
  };
  onReport(
    report.duplicates.map((d) => ({ at: where(d.index), of: where(d.of), kind: d.kind, jaccard: d.jaccard })),
    report,
  );
  return remove === true ? removeDuplicates(examples, report) : [...examples];
}

/** Read a file's examples (streamed; only the examples are kept), optionally deduplicated ({@link dedupExamples}; after `limit`). */
export async function loadExamples(
  path: string,
  opts: ReadOptions & { kind?: ExampleKind; columns?: ColumnMap; limit?: number; dedup?: LoadDedupOptions } = {},
): Promise<Array<Located<Example>>> {
  const out: Array<Located<Example>> = [];
  for await (const r of streamRecords(path, opts)) {
    out.push(toExample(r, opts));
    if (opts.limit !== undefined && out.length >= opts.limit) break;
  }
  return opts.dedup ? dedupExamples(out, opts.dedup) : out;
}

/** An MLX-LM data folder: train.jsonl (required), valid.jsonl and test.jsonl (optional); `dedup` works within each file, not across them. */
export async function loadDataFolder(
  dir: string,
  opts: Omit<ReadOptions, 'format'> & { kind?: ExampleKind; columns?: ColumnMap; dedup?: LoadDedupOptions } = {},
): Promise<{ train: Array<Located<Example>>; valid: Array<Located<Example>>; test: Array<Located<Example>> }> {
  const file = (name: string): string | null =>
    existsSync(join(dir, `${name}.jsonl`)) ? join(dir, `${name}.jsonl`) : null;
  const train = file('train');
  if (!train)
    throw new Error(`${dir}: no train.jsonl (an MLX-LM data folder holds train.jsonl, valid.jsonl, test.jsonl)`);
  const valid = file('valid');
  const test = file('test');
  return {
    train: await loadExamples(train, opts),
    valid: valid ? await loadExamples(valid, opts) : [],
    test: test ? await loadExamples(test, opts) : [],
  };
}

/** A seeded shuffle (Fisher-Yates) of a copy. */
export function shuffled<T>(items: readonly T[], seed: number): T[] {
  return new Rng(seed).shuffle([...items]);
}

/**
 * A seeded split into train/valid/test by fractions (the remainder is train). With the same seed
 * and data, the same split on every machine.
 */
export function splitDataset<T>(
  items: readonly T[],
  opts: { valid?: number; test?: number; seed: number },
): { train: T[]; valid: T[]; test: T[] } {
  const fv = opts.valid ?? 0;
  const ft = opts.test ?? 0;
  if (!(fv >= 0 && ft >= 0 && fv + ft < 1))
    throw new Error(`splitDataset: valid and test fractions must be >= 0 and sum to less than 1 (got ${fv} and ${ft})`);
  const s = shuffled(items, opts.seed);
  const nv = Math.round(fv * s.length);
  const nt = Math.round(ft * s.length);
  return { valid: s.slice(0, nv), test: s.slice(nv, nv + nt), train: s.slice(nv + nt) };
}
