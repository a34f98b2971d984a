/**
 * The run folder's `run.jsonl` (docs/run-log.md): one JSON object per line, appended and flushed
 * as the run goes, so a killed run leaves every record written before the kill. A non-finite
 * number never reaches the file: writing one is an error.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import cliProgress from 'cli-progress';

/** The kinds of run.jsonl records. */
export type RunRecordType =
  'config' | 'step' | 'eval' | 'samples' | 'repetition' | 'forgetting' | 'checkpoint' | 'resume' | 'end' | 'error';

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

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}

/** Read a run.jsonl: every line a JSON object with a string `type`, else an error naming the line. */
export function readRunLog(path: string): RunRecord[] {
  const out: RunRecord[] = [];
  readFileSync(path, 'utf8')
    .split('\n')
    .forEach((line, i) => {
      if (!line.trim()) return;
      let v: unknown;
      try {
        v = JSON.parse(line);
      } catch (e) {
        throw new Error(`${path}:${i + 1}: not JSON (${(e as Error).message})`, { cause: e });
      }
      if (
        v === null ||
        typeof v !== 'object' ||
        Array.isArray(v) ||
        typeof (v as Record<string, unknown>).type !== 'string'
      ) {
        throw new Error(`${path}:${i + 1}: expected a JSON object with a string "type"`);
      }
      out.push(v as RunRecord);
    });
  return out;
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
