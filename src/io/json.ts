/**
 * Bounded JSON file reading and field validation for untrusted configuration files
 * (config.json, generation_config.json, tokenizer_config.json, ...).
 */
import { readTextBounded } from './files.js';

/** Default size limit for small JSON configuration files: 10 MB. */
export const MAX_CONFIG_BYTES = 10_000_000;

/**
 * Reads and parses a JSON file of at most `maxBytes` bytes.
 *
 * @param path file to read
 * @param maxBytes size limit; default {@link MAX_CONFIG_BYTES}
 * @param label name used in error messages; default `path`
 * @throws Error naming the file when it is missing, a folder, too large (any file type: pipes and
 *   devices are bounded too), or not valid JSON
 */
export function readJsonFile(path: string, maxBytes = MAX_CONFIG_BYTES, label = path): unknown {
  const text = readTextBounded(path, maxBytes, label);
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new Error(`${label}: not valid JSON (${(err as Error).message})`, { cause: err });
  }
}

/** Reads a JSON file that must hold an object (see {@link readJsonFile}). */
export function readJsonObject(path: string, maxBytes = MAX_CONFIG_BYTES, label = path): Record<string, unknown> {
  const json = readJsonFile(path, maxBytes, label);
  if (!isPlainObject(json)) throw new Error(`${label}: expected a JSON object at the top level`);
  return json;
}

/** True for a JSON object (not null, not an array). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function show(value: unknown): string {
  const text = JSON.stringify(value);
  return text === undefined ? String(value) : text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/**
 * Typed accessors over one JSON object that produce errors of the form
 * `config.json: field "hidden_size" must be a positive integer, got "abc"`.
 * A field that is absent or null takes the given default.
 */
export class FieldReader {
  constructor(
    /** Label of the file (or file + path inside it) used in messages. */
    readonly label: string,
    readonly obj: Record<string, unknown>,
  ) {}

  /** True when the field is present and not null. */
  has(field: string): boolean {
    return this.obj[field] !== undefined && this.obj[field] !== null;
  }

  /** Throws `<label>: field "<field>" must be <expected>, got <value>`. */
  fail(field: string, expected: string): never {
    throw new Error(`${this.label}: field "${field}" must be ${expected}, got ${show(this.obj[field])}`);
  }

  /** An integer ≥ `min` (default 1, i.e. positive). */
  int(field: string, fallback: number, min = 1): number {
    if (!this.has(field)) return fallback;
    const v = this.obj[field];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min)
      this.fail(field, min === 1 ? 'a positive integer' : `an integer >= ${min}`);
    return v;
  }

  /** An integer ≥ `min` (default 0) or null when absent. */
  optInt(field: string, min = 0): number | null {
    return this.has(field) ? this.int(field, 0, min) : null;
  }

  /** A finite number; `positive` additionally requires > 0. */
  num(field: string, fallback: number, positive = false): number {
    if (!this.has(field)) return fallback;
    const v = this.obj[field];
    if (typeof v !== 'number' || !Number.isFinite(v) || (positive && v <= 0))
      this.fail(field, positive ? 'a positive number' : 'a finite number');
    return v;
  }

  /** A finite number, or null when absent. */
  optNum(field: string, positive = false): number | null {
    return this.has(field) ? this.num(field, 0, positive) : null;
  }

  /** A boolean. */
  bool(field: string, fallback: boolean): boolean {
    if (!this.has(field)) return fallback;
    const v = this.obj[field];
    if (typeof v !== 'boolean') this.fail(field, 'true or false');
    return v;
  }

  /** A string. */
  str(field: string, fallback: string): string {
    if (!this.has(field)) return fallback;
    const v = this.obj[field];
    if (typeof v !== 'string') this.fail(field, 'a string');
    return v;
  }

  /** A string, or null when absent. */
  optStr(field: string): string | null {
    return this.has(field) ? this.str(field, '') : null;
  }

  /** One of the listed strings. */
  oneOf<T extends string>(field: string, allowed: readonly T[], fallback: T): T {
    if (!this.has(field)) return fallback;
    const v = this.obj[field];
    if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v))
      this.fail(field, `one of ${allowed.map((a) => `"${a}"`).join(', ')}`);
    return v as T;
  }

  /** A token id or list of token ids (e.g. eos_token_id), normalised to a list; [] when absent. */
  idList(field: string): number[] {
    if (!this.has(field)) return [];
    const v = this.obj[field];
    const list = Array.isArray(v) ? v : [v];
    if (!list.every((x) => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0))
      this.fail(field, 'a token id or a list of token ids');
    return list as number[];
  }

  /** A list of finite numbers, or null when absent. */
  optNumList(field: string, length?: number): number[] | null {
    if (!this.has(field)) return null;
    const v = this.obj[field];
    if (
      !Array.isArray(v) ||
      !v.every((x) => typeof x === 'number' && Number.isFinite(x)) ||
      (length !== undefined && v.length !== length)
    ) {
      this.fail(field, length === undefined ? 'a list of numbers' : `a list of ${length} numbers`);
    }
    return v as number[];
  }
}
