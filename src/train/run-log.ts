/**
 * The run folder's `run.jsonl` (docs/run-log.md): one JSON object per line, appended and flushed
 * as the run goes, so a killed run leaves every record written before the kill. A non-finite
 * number never reaches the file: writing one is an error.
 *
 * Reading: {@link readRunLog} gives the raw records; {@link readRun} / {@link readRuns} give typed
 * {@link RunData} for reports (unknown record types ignored; a line that is not a JSON object, or a
 * known record whose fields have the wrong types, is an error naming the file and line). This is the
 * one reader of run.jsonl; src/report re-exports it.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import cliProgress from 'cli-progress';

/** The kinds of run.jsonl records. */
export type RunRecordType =
  'config' | 'step' | 'eval' | 'samples' | 'repetition' | 'forgetting' | 'checkpoint' | 'resume' | 'end' | 'error';

type Obj = Record<string, unknown>;

/** The run.jsonl limit: a reader never loads more than this. */
export const MAX_RUN_LOG_BYTES = 256 * 1024 * 1024;

/** One line of a run's run.jsonl log. */
export interface RunRecord {
  type: RunRecordType | (string & {});
  time: string;
  [field: string]: unknown;
}

/** Throws naming the path of the first non-finite number (or non-JSON value) inside `value`. */
export function assertJsonSafe(value: unknown, path = '$'): void {
  if (typeof value === 'number') {
    if (!Number.isFinite(value))
      throw new Error(`run log: ${path} is ${value}; the log never holds a non-finite number`);
  } else if (Array.isArray(value)) value.forEach((v, i) => assertJsonSafe(v, `${path}[${i}]`));
  else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) if (v !== undefined) assertJsonSafe(v, `${path}.${k}`);
  } else if (typeof value === 'bigint' || typeof value === 'function' || typeof value === 'symbol') {
    throw new Error(`run log: ${path} is a ${typeof value}, which JSON cannot hold`);
  }
}

/** Appends records to a run.jsonl file (created with its folder if needed). */
export class RunLog {
  private fd: number | null;

  constructor(readonly path: string) {
    mkdirSync(dirname(path), { recursive: true });
    this.fd = openSync(path, 'a');
  }

  /** Append one record (`time` is added); flushed to disk before returning. */
  write(type: RunRecordType, fields: Record<string, unknown>): RunRecord {
    const record: RunRecord = { type, time: new Date().toISOString(), ...fields };
    assertJsonSafe(record);
    if (this.fd === null) throw new Error(`run log ${this.path} is closed`);
    writeSync(this.fd, JSON.stringify(record) + '\n');
    fsyncSync(this.fd);
    return record;
  }

  /** Flushes and closes run.jsonl. */
  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}

/**
 * Call `fn` for every record of a run.jsonl, in order: every non-empty line must be a JSON object
 * with a string `type`, else an error naming the file and line. `where` is "file:line" for the
 * caller's own field errors. Files over {@link MAX_RUN_LOG_BYTES} are refused.
 */
export function forEachRunRecord(file: string, fn: (rec: RunRecord, where: string) => void): void {
  const size = statSync(file).size;
  if (size > MAX_RUN_LOG_BYTES)
    throw new Error(`${file}: ${size} bytes, over the ${MAX_RUN_LOG_BYTES}-byte limit for a run log`);
  readFileSync(file, 'utf8')
    .split('\n')
    .forEach((line, i) => {
      if (!line.trim()) return;
      const where = `${file}:${i + 1}`;
      let v: unknown;
      try {
        v = JSON.parse(line);
      } catch (e) {
        throw new Error(`${where}: not JSON (${(e as Error).message})`, { cause: e });
      }
      if (v === null || typeof v !== 'object' || Array.isArray(v) || typeof (v as Obj).type !== 'string') {
        throw new Error(`${where}: expected a JSON object with a string "type"`);
      }
      fn(v as RunRecord, where);
    });
}

/** Read a run.jsonl's raw records (each checked to be a JSON object with a string `type`). */
export function readRunLog(path: string): RunRecord[] {
  const out: RunRecord[] = [];
  forEachRunRecord(path, (rec) => out.push(rec));
  return out;
}

// ---- The typed reader (reports, CLI, demo): each known record's fields checked, errors name the line.

/** A `step` record: training loss, learning rate and throughput at one optimizer step. */
export interface StepPoint {
  step: number;
  epoch: number;
  loss: number;
  lr: number;
  gradNorm: number | null;
  tokensPerSec: number | null;
}
/** An `eval` record: loss and metrics (with bootstrap intervals) on one split at one step. */
export interface EvalPoint {
  step: number;
  split: string;
  loss: number;
  metrics: Record<string, number>;
  ci: Record<string, [number, number]>;
}
/** One generated sample: the prompt, the model's output and the reference when there is one. */
export interface SampleItem {
  prompt: string;
  output: string;
  reference?: string;
}
/** A `samples` record: generations at one step. */
export interface SamplesAt {
  step: number;
  /** The decoding settings these generations used, when the writer compared several (docs/run-log.md). */
  label: string | null;
  items: SampleItem[];
}
/** A `repetition` record: repetition metrics of the generations at one step. */
export interface RepetitionAt {
  step: number;
  /** The decoding settings measured, when the writer compared several; null for the trainer's own. */
  label: string | null;
  metrics: Record<string, number>;
}
/** A `forgetting` record: general-text metrics before and after training. */
export interface Forgetting {
  general: string;
  before: Record<string, number>;
  after: Record<string, number>;
  variants: Array<{ label: string; after: Record<string, number> }>;
}
/** The `end` record: why and where the run stopped, and its best checkpoint. */
export interface RunEnd {
  step: number;
  reason: string;
  best: { step: number; metric: string; value: number } | null;
  elapsedSec: number | null;
}

/** A run folder read back: the records of run.jsonl grouped by kind (docs/run-log.md). */
export interface RunData {
  /** A short name for the run (its folder's name). */
  label: string;
  /** The run folder. */
  dir: string;
  /** The run.jsonl file read. */
  file: string;
  config: Record<string, unknown> | null;
  steps: StepPoint[];
  evals: EvalPoint[];
  samples: SamplesAt[];
  repetition: RepetitionAt[];
  forgetting: Forgetting[];
  checkpoints: Array<{ step: number; path: string; best: boolean }>;
  resumes: Array<{ step: number; path: string }>;
  end: RunEnd | null;
  errors: Array<{ step: number | null; message: string }>;
}

class LineReader {
  constructor(
    private readonly where: string,
    private readonly rec: Obj,
  ) {}
  fail(field: string, expected: string): never {
    throw new Error(`${this.where}: "${String(this.rec.type)}" record: field "${field}" must be ${expected}`);
  }
  num(field: string): number {
    const v = this.rec[field];
    if (typeof v !== 'number' || !Number.isFinite(v)) this.fail(field, 'a finite number');
    return v;
  }
  optNum(field: string): number | null {
    return this.rec[field] === undefined || this.rec[field] === null ? null : this.num(field);
  }
  optStr(field: string): string | null {
    return this.rec[field] === undefined || this.rec[field] === null ? null : this.str(field);
  }
  str(field: string): string {
    const v = this.rec[field];
    if (typeof v !== 'string') this.fail(field, 'a string');
    return v;
  }
  obj(field: string): Obj {
    const v = this.rec[field];
    if (v === null || typeof v !== 'object' || Array.isArray(v)) this.fail(field, 'a JSON object');
    return v as Obj;
  }
  numbers(field: string, v: unknown = this.rec[field]): Record<string, number> {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) this.fail(field, 'an object of numbers');
    const out: Record<string, number> = {};
    for (const [k, x] of Object.entries(v as Obj)) {
      if (x === null || x === undefined) continue; // a metric not measured
      if (typeof x !== 'number' || !Number.isFinite(x)) this.fail(`${field}.${k}`, 'a finite number');
      out[k] = x;
    }
    return out;
  }
}

/** Resolve a run folder or a run.jsonl path to the run.jsonl file. */
export function runLogPath(runDirOrFile: string): string {
  const p = resolve(runDirOrFile);
  if (!existsSync(p)) throw new Error(`${runDirOrFile}: no such run folder or run.jsonl file`);
  if (statSync(p).isDirectory()) {
    const f = join(p, 'run.jsonl');
    if (!existsSync(f)) throw new Error(`${runDirOrFile}: not a run folder (no run.jsonl inside)`);
    return f;
  }
  return p;
}

/** Read one run (a run folder or its run.jsonl). */
export function readRun(runDirOrFile: string): RunData {
  const file = runLogPath(runDirOrFile);
  const dir = dirname(file);
  const run: RunData = {
    label: basename(dir),
    dir,
    file,
    config: null,
    steps: [],
    evals: [],
    samples: [],
    repetition: [],
    forgetting: [],
    checkpoints: [],
    resumes: [],
    end: null,
    errors: [],
  };
  forEachRunRecord(file, (rec, where) => {
    const r: LineReader = new LineReader(where, rec); // annotated, so r.fail() (never) narrows types
    switch (rec.type) {
      case 'config':
        run.config = rec;
        break;
      case 'step': {
        const step = r.num('step');
        // A resumed run repeats the steps after its checkpoint: the later record wins.
        while (run.steps.length && (run.steps.at(-1)?.step ?? 0) >= step) run.steps.pop();
        run.steps.push({
          step,
          epoch: r.num('epoch'),
          loss: r.num('loss'),
          lr: r.num('lr'),
          gradNorm: r.optNum('gradNorm'),
          tokensPerSec: r.optNum('tokensPerSec'),
        });
        break;
      }
      case 'eval': {
        const ci: Record<string, [number, number]> = {};
        if (rec.ci !== undefined) {
          for (const [k, pair] of Object.entries(r.obj('ci'))) {
            if (
              !Array.isArray(pair) ||
              pair.length !== 2 ||
              !pair.every((x) => typeof x === 'number' && Number.isFinite(x))
            )
              r.fail(`ci.${k}`, 'a [low, high] pair of numbers');
            ci[k] = [pair[0] as number, pair[1] as number];
          }
        }
        const ev = {
          step: r.num('step'),
          split: r.str('split'),
          loss: r.num('loss'),
          metrics: rec.metrics === undefined ? {} : r.numbers('metrics'),
          ci,
        };
        // A later evaluation of the same split and step replaces the earlier one (e.g. the same
        // evaluation logged again with confidence intervals); otherwise evaluations stay in step
        // order, so an evaluation of the starting model (step 0) may be appended after the run.
        run.evals = run.evals.filter((e) => !(e.split === ev.split && e.step === ev.step));
        const at = run.evals.findIndex((e) => e.step > ev.step);
        if (at < 0) run.evals.push(ev);
        else run.evals.splice(at, 0, ev);
        break;
      }
      case 'samples': {
        const items = rec.items;
        if (!Array.isArray(items)) r.fail('items', 'an array');
        run.samples.push({
          step: r.num('step'),
          label: r.optStr('label'),
          items: items.map((it: unknown, j) => {
            const o = (it ?? {}) as Obj;
            if (typeof o.prompt !== 'string' || typeof o.output !== 'string')
              r.fail(`items[${j}]`, 'an object with string "prompt" and "output"');
            const item: SampleItem = { prompt: o.prompt, output: o.output };
            if (typeof o.reference === 'string') item.reference = o.reference;
            return item;
          }),
        });
        break;
      }
      case 'repetition':
        run.repetition.push({ step: r.num('step'), label: r.optStr('label'), metrics: r.numbers('metrics') });
        break;
      case 'forgetting': {
        const variants = rec.variants === undefined ? [] : rec.variants;
        if (!Array.isArray(variants)) r.fail('variants', 'an array');
        run.forgetting.push({
          general: typeof rec.general === 'string' ? rec.general : JSON.stringify(rec.general ?? ''),
          before: r.numbers('before'),
          after: r.numbers('after'),
          variants: variants.map((x: unknown, j) => {
            const o = (x ?? {}) as Obj;
            if (typeof o.label !== 'string') r.fail(`variants[${j}].label`, 'a string');
            return { label: o.label, after: r.numbers(`variants[${j}].after`, o.after) };
          }),
        });
        break;
      }
      case 'checkpoint':
        run.checkpoints.push({ step: r.num('step'), path: r.str('path'), best: rec.best === true });
        break;
      case 'resume': {
        // The run went on from the checkpoint at `step`: what the killed run logged after it is
        // logged again from here on.
        const step = r.num('step');
        run.resumes.push({ step, path: r.str('path') });
        run.steps = run.steps.filter((x) => x.step <= step);
        run.evals = run.evals.filter((x) => x.step <= step);
        run.samples = run.samples.filter((x) => x.step <= step);
        run.repetition = run.repetition.filter((x) => x.step <= step);
        break;
      }
      case 'end': {
        let best: RunEnd['best'] = null;
        if (rec.best !== null && rec.best !== undefined) {
          const b = r.obj('best');
          if (typeof b.step !== 'number' || typeof b.metric !== 'string' || typeof b.value !== 'number')
            r.fail('best', '{ step, metric, value } or null');
          best = { step: b.step, metric: b.metric, value: b.value };
        }
        run.end = { step: r.num('step'), reason: r.str('reason'), best, elapsedSec: r.optNum('elapsedSec') };
        break;
      }
      case 'error':
        run.errors.push({ step: r.optNum('step'), message: r.str('message') });
        break;
      default:
        break; // a record type this reader does not know (docs/run-log.md: readers ignore it)
    }
  });
  return run;
}

/** Read several runs; labels made unique (a folder name seen twice gets " (2)", ...). */
export function readRuns(paths: readonly string[]): RunData[] {
  if (paths.length === 0) throw new Error('report: give at least one run folder or run.jsonl');
  const runs = paths.map(readRun);
  const seen = new Map<string, number>();
  for (const run of runs) {
    const n = (seen.get(run.label) ?? 0) + 1;
    seen.set(run.label, n);
    if (n > 1) run.label = `${run.label} (${n})`;
  }
  return runs;
}

/** How training progress is shown. */
export type ProgressMode = 'auto' | 'bar' | 'lines' | 'none';

/** What the progress display shows after each optimizer step. */
export interface ProgressUpdate {
  step: number;
  totalSteps: number;
  loss: number;
  lr: number;
  tokensPerSec: number;
  elapsedSec: number;
}

/**
 * A progress bar (cli-progress: loss, learning rate, tokens/s, ETA) on a terminal, plain lines
 * every `every` steps otherwise (logs, CI), or nothing.
 */
export class Progress {
  private bar: cliProgress.SingleBar | null = null;
  private readonly mode: 'bar' | 'lines' | 'none';

  constructor(
    mode: ProgressMode,
    private readonly every: number,
    private readonly print: (line: string) => void = (l) => process.stderr.write(l + '\n'),
  ) {
    this.mode = mode === 'auto' ? (process.stderr.isTTY ? 'bar' : 'lines') : mode;
  }

  /** Shows the progress after a step. */
  update(u: ProgressUpdate): void {
    const eta = u.step > 0 ? (u.elapsedSec / u.step) * (u.totalSteps - u.step) : 0;
    const fields = {
      loss: u.loss.toFixed(4),
      lr: u.lr.toExponential(2),
      tps: u.tokensPerSec.toFixed(0),
      etaText: formatSeconds(eta),
    };
    if (this.mode === 'bar') {
      if (!this.bar) {
        this.bar = new cliProgress.SingleBar(
          {
            format: 'train |{bar}| {value}/{total} | loss {loss} | lr {lr} | {tps} tok/s | ETA {etaText}',
            stream: process.stderr,
            hideCursor: true,
          },
          cliProgress.Presets.shades_classic,
        );
        this.bar.start(u.totalSteps, 0, fields);
      }
      this.bar.update(u.step, fields);
    } else if (this.mode === 'lines' && (u.step === 1 || u.step % this.every === 0 || u.step === u.totalSteps)) {
      this.print(
        `step ${u.step}/${u.totalSteps}  loss ${fields.loss}  lr ${fields.lr}  ${fields.tps} tok/s  ETA ${fields.etaText}`,
      );
    }
  }

  /** A message between updates (evaluation results), without breaking the bar. */
  note(line: string): void {
    if (this.mode === 'none') return;
    if (this.bar) process.stderr.write('\n');
    this.print(line);
  }

  /** Ends the progress display. */
  stop(): void {
    this.bar?.stop();
    this.bar = null;
  }
}

function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const m = Math.floor(s / 60);
  return m > 0 ? `${m}m${String(Math.round(s % 60)).padStart(2, '0')}s` : `${Math.round(s)}s`;
}
