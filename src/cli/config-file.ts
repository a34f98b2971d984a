/**
 * Config files for commands (`--config run.yaml` or `.json`): the keys are the command's flag names
 * (camelCase or kebab-case), the values what the flag would take. Flags given on the command line
 * override the file. An unknown key or a value the flag would refuse is one error naming the key and
 * what was expected. Also the flag parsers the commands share.
 */
import { extname } from 'node:path';
import { InvalidArgumentError, type Command, type Option } from 'commander';
import { parse as parseYaml } from 'yaml';
import { readTextBounded } from '../io/files.js';

/** Largest config file read (a config is a few hundred bytes; this bounds a wrong path). */
const MAX_CONFIG_BYTES = 1024 * 1024;

/** A number flag parser: `flag expects <expected>, got "<value>"` on a bad value. */
export function numberFlag(flag: string, ok: (v: number) => boolean, expected: string): (value: string) => number {
  return (value: string) => {
    const v = Number(value);
    if (value.trim() === '' || !Number.isFinite(v) || !ok(v))
      throw new InvalidArgumentError(`${flag} expects ${expected}, got "${value}"`);
    return v;
  };
}
export const intAtLeast = (flag: string, min: number): ((value: string) => number) =>
  numberFlag(flag, (v) => Number.isInteger(v) && v >= min, `an integer >= ${min}`);
export const nonNegative = (flag: string): ((value: string) => number) =>
  numberFlag(flag, (v) => v >= 0, 'a number >= 0');
export const positive = (flag: string): ((value: string) => number) => numberFlag(flag, (v) => v > 0, 'a number > 0');
export const fraction = (flag: string): ((value: string) => number) =>
  numberFlag(flag, (v) => v >= 0 && v <= 1, 'a number in [0, 1]');
/** A flag taking one of `values`. */
export function oneOf<T extends string>(flag: string, values: readonly T[]): (value: string) => T {
  return (value: string) => {
    if (!(values as readonly string[]).includes(value))
      throw new InvalidArgumentError(`${flag} expects one of ${values.join('|')}, got "${value}"`);
    return value as T;
  };
}

/** Reads a YAML or JSON config file into a plain object (bounded; a top-level mapping required). */
export function readConfigFile(path: string): Record<string, unknown> {
  const text = readTextBounded(path, MAX_CONFIG_BYTES, `--config ${path}`);
  let value: unknown;
  try {
    value = extname(path).toLowerCase() === '.json' ? JSON.parse(text) : parseYaml(text);
  } catch (e) {
    const msg = (e as Error).message.split('\n')[0] ?? '';
    throw new Error(
      `--config ${path}: not valid ${extname(path).toLowerCase() === '.json' ? 'JSON' : 'YAML'} (${msg})`,
      {
        cause: e,
      },
    );
  }
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value))
    throw new Error(`--config ${path}: expected a mapping of flag names to values at the top level`);
  return value as Record<string, unknown>;
}

const camel = (key: string): string => key.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/** The option of `cmd` a config key names (camelCase attribute or kebab-case flag), or undefined. */
function optionFor(cmd: Command, key: string): Option | undefined {
  const attr = camel(key);
  return (
    cmd.options.find((o) => o.attributeName() === attr && !o.negate) ??
    cmd.options.find((o) => o.attributeName() === attr)
  );
}

/** A config value as the option's parser would take it, or an error naming the key. */
function convert(option: Option, key: string, value: unknown, file: string): unknown {
  const where = `--config ${file}: key "${key}"`;
  const expects = option.flags;
  if (option.isBoolean() || option.negate) {
    if (typeof value !== 'boolean')
      throw new Error(`${where}: expected true or false (flag ${expects}), got ${JSON.stringify(value)}`);
    return value;
  }
  const scalar = (v: unknown): string => {
    if (typeof v === 'string') return v;
    if (typeof v === 'number' && Number.isFinite(v)) return String(v);
    if (typeof v === 'boolean') return String(v);
    throw new Error(`${where}: expected a value for ${expects}, got ${JSON.stringify(v)}`);
  };
  const parse = (v: unknown, previous: unknown): unknown => {
    const text = scalar(v);
    const parser = option.parseArg;
    if (option.argChoices && !option.argChoices.includes(text))
      throw new Error(`${where}: expected one of ${option.argChoices.join('|')}, got "${text}"`);
    if (!parser) return text;
    try {
      return parser(text, previous);
    } catch (e) {
      throw new Error(`${where}: ${(e as Error).message.replace(/^error: /, '')}`, { cause: e });
    }
  };
  if (option.variadic) {
    const list = Array.isArray(value) ? value : [value];
    let acc: unknown = undefined;
    const out: unknown[] = [];
    for (const v of list) {
      acc = parse(v, acc);
      out.push(option.parseArg ? acc : scalar(v));
    }
    return option.parseArg ? acc : out;
  }
  if (Array.isArray(value)) throw new Error(`${where}: expected one value for ${expects}, got a list`);
  return parse(value, undefined);
}

/**
 * Merges a config file's values into `cmd`'s options: keys not set on the command line take the
 * file's value; flags given on the command line win. Returns the merged options.
 * @throws Error naming the key for an unknown key or a bad value
 */
export function applyConfigFile<T>(
  cmd: Command,
  values: Record<string, unknown>,
  file: string,
  skip: readonly string[] = [],
): T {
  for (const [key, value] of Object.entries(values)) {
    const option = optionFor(cmd, key);
    if (!option || skip.includes(camel(key))) {
      const known = cmd.options
        .map((o) => o.long?.replace(/^--(no-)?/, ''))
        .filter((n): n is string => n !== undefined && !skip.includes(camel(n)));
      throw new Error(
        `--config ${file}: unknown key "${key}" (expected one of the flags of this command: ${[...new Set(known)].join(', ')})`,
      );
    }
    const attr = option.attributeName();
    if (cmd.getOptionValueSource(attr) === 'cli') continue;
    cmd.setOptionValueWithSource(attr, convert(option, key, value, file), 'config');
  }
  return cmd.opts() as T;
}

/** The options of `cmd` whose value came from the command line or a config file (not defaults), by name. */
export function explicitOptions(cmd: Command): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const opts = cmd.opts<Record<string, unknown>>();
  for (const [k, v] of Object.entries(opts)) {
    const src = cmd.getOptionValueSource(k);
    if (src === 'cli' || src === 'config') out[k] = v;
  }
  return out;
}

/** Throws `--flag is required` for the first listed option without a value. */
export function requireOptions(opts: Record<string, unknown>, names: readonly string[], hint = ''): void {
  for (const n of names) {
    if (opts[n] === undefined) {
      const flag = `--${n.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
      throw new Error(`${flag} is required (on the command line or in --config)${hint}`);
    }
  }
}
