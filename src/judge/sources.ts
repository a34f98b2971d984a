/**
 * The two systems of a study: a Hugging Face model folder, a training run folder (docs/run-log.md:
 * the adapter in `adapter/`, the base model named in run.jsonl's config record), or `default` (the
 * embedded assets/stories260K). Uses only tunekit's public API.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  AutoModelForCausalLM,
  AutoTokenizer,
  PeftModel,
  generate,
  readJsonObject,
  type CausalLM,
  type PreTrainedTokenizer,
} from '../index.js';

/** assets/stories260K in the installed package (this file is dist/src/judge/sources.js). */
export const EMBEDDED_MODEL_DIR = fileURLToPath(new URL('../../../assets/stories260K/', import.meta.url));

export interface ResolvedSource {
  /** What the user gave. */
  spec: string;
  kind: 'model' | 'run';
  /** The model folder the weights come from (the base model for a run with an adapter). */
  modelDir: string;
  /** The PEFT adapter folder, or null. */
  adapterDir: string | null;
}

const isDir = (p: string): boolean => existsSync(p) && statSync(p).isDirectory();

/** The base model a run was trained from: run.jsonl's config record, else the adapter's base_model_name_or_path. */
function runBaseModel(runDir: string, adapterDir: string): string {
  const candidates: string[] = [];
  const log = join(runDir, 'run.jsonl');
  if (existsSync(log)) {
    const first = readFileSync(log, 'utf8').split('\n', 1)[0] ?? '';
    let rec: unknown;
    try {
      rec = JSON.parse(first);
    } catch {
      throw new Error(`${log}: line 1 is not JSON (expected the config record)`);
    }
    const model = (rec as { type?: unknown; model?: { path?: unknown } }).model;
    if ((rec as { type?: unknown }).type !== 'config') throw new Error(`${log}: line 1 is not a "config" record`);
    if (typeof model?.path === 'string') candidates.push(model.path);
  }
  const cfg = readJsonObject(join(adapterDir, 'adapter_config.json'));
  if (typeof cfg.base_model_name_or_path === 'string') candidates.push(cfg.base_model_name_or_path);
  for (const c of candidates) {
    for (const p of isAbsolute(c) ? [c] : [resolve(runDir, c), resolve(c)])
      if (isDir(p) && existsSync(join(p, 'config.json'))) return p;
    if (c === 'stories260K' || c === 'default') return EMBEDDED_MODEL_DIR;
  }
  throw new Error(
    `${runDir}: cannot find the base model (run.jsonl config model.path / adapter_config.json base_model_name_or_path: ${candidates.map((c) => JSON.stringify(c)).join(', ') || 'none'})`,
  );
}

/** Resolves `--a` / `--b`: `default`, a model folder, or a run folder. */
export function resolveSource(spec: string): ResolvedSource {
  if (spec === 'default') return { spec, kind: 'model', modelDir: EMBEDDED_MODEL_DIR, adapterDir: null };
  if (!isDir(spec))
    throw new Error(
      `${spec}: no such folder (expected a Hugging Face model folder, a run folder with adapter/, or "default")`,
    );
  if (existsSync(join(spec, 'config.json'))) return { spec, kind: 'model', modelDir: spec, adapterDir: null };
  const adapter = join(spec, 'adapter');
  if (isDir(adapter)) {
    if (existsSync(join(adapter, 'adapter_config.json')))
      return { spec, kind: 'run', modelDir: runBaseModel(spec, adapter), adapterDir: adapter };
    if (existsSync(join(adapter, 'config.json'))) return { spec, kind: 'run', modelDir: adapter, adapterDir: null };
    throw new Error(`${adapter}: neither adapter_config.json (PEFT adapter) nor config.json (full model)`);
  }
  throw new Error(`${spec}: not a model folder (no config.json) nor a run folder (no adapter/)`);
}

/** Loads a PEFT adapter folder (any method) onto a base model; generation goes through the result. */
export function loadAdapter(model: CausalLM, adapterDir: string): CausalLM {
  return PeftModel.fromPretrained(model, adapterDir);
}

export function loadSource(src: ResolvedSource): { model: CausalLM; tokenizer: PreTrainedTokenizer } {
  let model: CausalLM = AutoModelForCausalLM.fromPretrained(src.modelDir);
  if (src.adapterDir) model = loadAdapter(model, src.adapterDir);
  model.eval();
  return { model, tokenizer: AutoTokenizer.fromPretrained(src.modelDir) };
}

export interface GenerationSettings {
  maxNewTokens: number;
  /** Sample (with this seed) instead of greedy decoding. */
  sample: boolean;
  seed: number;
  temperature: number;
  topP: number;
}

export const DEFAULT_GENERATION: GenerationSettings = {
  maxNewTokens: 64,
  sample: false,
  seed: 0,
  temperature: 1,
  topP: 1,
};

/** Continues every prompt with one system; returns the continuations (prompt excluded). */
export function generateOutputs(
  src: ResolvedSource,
  prompts: readonly string[],
  settings: GenerationSettings,
): string[] {
  const { model, tokenizer } = loadSource(src);
  return prompts.map((p, i) => {
    const ids = tokenizer.encode(p);
    const r = generate(model, ids, {
      maxNewTokens: settings.maxNewTokens,
      doSample: settings.sample,
      seed: settings.seed + i,
      temperature: settings.temperature,
      topP: settings.topP,
      tokenizer,
    });
    return r.texts?.[0] ?? '';
  });
}
