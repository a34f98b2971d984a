/**
 * Making a study: from a prompts file and two systems (generating both outputs), or from two files
 * of generations. Files are bounded and validated; errors name the file and line.
 */
import { readFileSync, statSync } from 'node:fs';
import { DEFAULT_GENERATION, generateOutputs, resolveSource, type GenerationSettings } from './sources.js';
import { LIMITS, type JudgeStore, type StudyRow } from './store.js';

const MAX_FILE_BYTES = 64 * 1024 * 1024;

function readBounded(path: string): string {
  let size: number;
  try {
    size = statSync(path).size;
  } catch {
    throw new Error(`${path}: no such file`);
  }
  if (size > MAX_FILE_BYTES) throw new Error(`${path}: ${size} bytes, at most ${MAX_FILE_BYTES}`);
  return readFileSync(path, 'utf8');
}

function jsonLines(path: string): { line: number; value: Record<string, unknown> }[] {
  const out: { line: number; value: Record<string, unknown> }[] = [];
  readBounded(path)
    .split('\n')
    .forEach((text, i) => {
      if (text.trim() === '') return;
      let v: unknown;
      try {
        v = JSON.parse(text);
      } catch {
        throw new Error(`${path}:${i + 1}: not valid JSON`);
      }
      if (v === null || typeof v !== 'object' || Array.isArray(v))
        throw new Error(`${path}:${i + 1}: expected a JSON object`);
      out.push({ line: i + 1, value: v as Record<string, unknown> });
    });
  return out;
}

function stringField(path: string, line: number, obj: Record<string, unknown>, key: string, max: number): string {
  const v = obj[key];
  if (typeof v !== 'string') throw new Error(`${path}:${line}: field "${key}" must be a string`);
  if (v.length > max) throw new Error(`${path}:${line}: field "${key}" has ${v.length} characters, at most ${max}`);
  return v;
}

/**
 * Prompts: a .jsonl file of objects with a "prompt" string, or any other file with one prompt per
 * non-empty line.
 */
export function readPrompts(path: string): string[] {
  let prompts: string[];
  if (path.endsWith('.jsonl'))
    prompts = jsonLines(path).map(({ line, value }) => stringField(path, line, value, 'prompt', LIMITS.prompt));
  else {
    prompts = [];
    readBounded(path)
      .split('\n')
      .forEach((l, i) => {
        const p = l.replace(/\r$/, '');
        if (p.trim() === '') return;
        if (p.length > LIMITS.prompt)
          throw new Error(`${path}:${i + 1}: the prompt has ${p.length} characters, at most ${LIMITS.prompt}`);
        prompts.push(p);
      });
  }
  if (prompts.length === 0) throw new Error(`${path}: no prompts`);
  if (prompts.length > LIMITS.items) throw new Error(`${path}: ${prompts.length} prompts, at most ${LIMITS.items}`);
  return prompts;
}

/** A generations file: JSONL objects {"prompt": string, "output": string} (the shape of run.jsonl samples items). */
export function readGenerations(path: string): { prompt: string; output: string }[] {
  const rows = jsonLines(path).map(({ line, value }) => ({
    prompt: stringField(path, line, value, 'prompt', LIMITS.prompt),
    output: stringField(path, line, value, 'output', LIMITS.output),
  }));
  if (rows.length === 0) throw new Error(`${path}: no generations`);
  return rows;
}

/** A study from two generation files whose prompts match line by line. */
export function createStudyFromGenerations(store: JudgeStore, name: string, fileA: string, fileB: string): StudyRow {
  const a = readGenerations(fileA);
  const b = readGenerations(fileB);
  if (a.length !== b.length)
    throw new Error(
      `${fileA} has ${a.length} generations and ${fileB} has ${b.length}; they must answer the same prompts in the same order`,
    );
  a.forEach((x, i) => {
    if (x.prompt !== (b[i] as { prompt: string }).prompt)
      throw new Error(
        `generation ${i + 1}: the prompts of ${fileA} and ${fileB} differ; they must answer the same prompts in the same order`,
      );
  });
  return store.createStudy(
    name,
    fileA,
    fileB,
    { from: 'generations' },
    a.map((x, i) => ({ prompt: x.prompt, outputA: x.output, outputB: (b[i] as { output: string }).output })),
  );
}

/** A study whose outputs are generated now by two systems (model folders, run folders or `default`). */
export function createStudyFromSystems(
  store: JudgeStore,
  name: string,
  specA: string,
  specB: string,
  promptsFile: string,
  settings: Partial<GenerationSettings> = {},
  log: (line: string) => void = () => {},
): StudyRow {
  if (store.study(name)) throw new Error(`study "${name}" already exists in ${store.path}`);
  const s: GenerationSettings = { ...DEFAULT_GENERATION, ...settings };
  const prompts = readPrompts(promptsFile);
  const srcA = resolveSource(specA);
  const srcB = resolveSource(specB);
  log(`generating ${prompts.length} outputs with A = ${specA}`);
  const outA = generateOutputs(srcA, prompts, s);
  log(`generating ${prompts.length} outputs with B = ${specB}`);
  const outB = generateOutputs(srcB, prompts, s);
  return store.createStudy(
    name,
    specA,
    specB,
    { from: 'systems', prompts: promptsFile, generation: s, a: srcA, b: srcB },
    prompts.map((p, i) => ({ prompt: p, outputA: outA[i] ?? '', outputB: outB[i] ?? '' })),
  );
}
