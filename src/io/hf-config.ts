/**
 * Hugging Face `config.json` / `generation_config.json` reading: the bounded, validated file read
 * every model loader starts from, and generation_config.json normalised into a typed camelCase
 * config with transformers' GenerationConfig defaults.
 *
 * Each architecture's config.json fields are parsed beside its model (src/models/llama-config.ts,
 * gpt2-config.ts, bert-config.ts), picked by src/models/registry.ts (`parseModelConfig`).
 */
import { join } from 'node:path';
import { existsSync, statSync } from 'node:fs';
import { FieldReader, readJsonObject } from './json.js';

/** `<dir>/config.json` when given a folder, else the path itself. */
export function configJsonPath(dirOrFile: string): string {
  return existsSync(dirOrFile) && statSync(dirOrFile).isDirectory() ? join(dirOrFile, 'config.json') : dirOrFile;
}

/**
 * Reads `<dir>/config.json` (or the file itself when given a file): bounded in size, a JSON object
 * at the top level, or an error naming the file.
 *
 * @returns the parsed object and the path it was read from (the label for field errors)
 */
export function readConfigJson(dirOrFile: string): { json: Record<string, unknown>; path: string } {
  const path = configJsonPath(dirOrFile);
  return { json: readJsonObject(path), path };
}

/** Normalised generation_config.json with transformers' GenerationConfig defaults. */
export interface GenerationConfig {
  bosTokenId: number | null;
  /** int or list in the file; always a list here ([] when absent). */
  eosTokenIds: number[];
  padTokenId: number | null;
  /** default 20 */
  maxLength: number;
  maxNewTokens: number | null;
  /** default 0 */
  minLength: number;
  minNewTokens: number | null;
  /** default false */
  doSample: boolean;
  /** default 1.0 */
  temperature: number;
  /** default 50 */
  topK: number;
  /** default 1.0 */
  topP: number;
  minP: number | null;
  /** default 1.0 */
  typicalP: number;
  /** default 1.0 */
  repetitionPenalty: number;
  /** default 0 */
  noRepeatNgramSize: number;
  /** default 1 */
  numBeams: number;
  /** default 1 */
  numReturnSequences: number;
  /** default 1.0 */
  lengthPenalty: number;
  /** default true */
  useCache: boolean;
}

/**
 * Reads `<dir>/generation_config.json` (or the given file); returns the defaults when a folder has
 * none. See {@link parseGenerationConfig}.
 */
export function readGenerationConfig(dirOrFile: string): GenerationConfig {
  const isDir = existsSync(dirOrFile) && statSync(dirOrFile).isDirectory();
  const path = isDir ? join(dirOrFile, 'generation_config.json') : dirOrFile;
  if (isDir && !existsSync(path)) return parseGenerationConfig({});
  return parseGenerationConfig(readJsonObject(path), path);
}

/**
 * Validates a parsed generation_config.json. Defaults are those of transformers' GenerationConfig
 * (max_length 20, do_sample false, temperature 1, top_k 50, top_p 1, repetition_penalty 1, ...).
 *
 * @param label file name for error messages; default "generation_config.json"
 */
export function parseGenerationConfig(
  json: Record<string, unknown>,
  label = 'generation_config.json',
): GenerationConfig {
  const f = new FieldReader(label, json);
  const probability = (field: string, fallback: number): number => {
    const v = f.num(field, fallback);
    if (v < 0 || v > 1) f.fail(field, 'a number in [0, 1]');
    return v;
  };
  const minP = f.has('min_p') ? probability('min_p', 0) : null;
  return {
    bosTokenId: f.optInt('bos_token_id'),
    eosTokenIds: f.idList('eos_token_id'),
    padTokenId: f.optInt('pad_token_id'),
    maxLength: f.int('max_length', 20),
    maxNewTokens: f.optInt('max_new_tokens', 1),
    minLength: f.int('min_length', 0, 0),
    minNewTokens: f.optInt('min_new_tokens', 0),
    doSample: f.bool('do_sample', false),
    temperature: f.num('temperature', 1, true),
    topK: f.int('top_k', 50, 0),
    topP: probability('top_p', 1),
    minP,
    typicalP: probability('typical_p', 1),
    repetitionPenalty: f.num('repetition_penalty', 1, true),
    noRepeatNgramSize: f.int('no_repeat_ngram_size', 0, 0),
    numBeams: f.int('num_beams', 1),
    numReturnSequences: f.int('num_return_sequences', 1),
    lengthPenalty: f.num('length_penalty', 1),
    useCache: f.bool('use_cache', true),
  };
}
