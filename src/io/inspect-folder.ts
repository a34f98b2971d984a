/**
 * What is in a model folder or a PEFT adapter folder, read from headers and JSON only (no weights
 * loaded): architecture, parameter counts, target modules, config, dtypes, size on disk.
 */
import { existsSync, lstatSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { readJsonObject } from './json.js';
import { readSafetensorsHeader } from './safetensors.js';

export interface WeightsSummary {
  files: string[];
  tensors: number;
  parameters: number;
  /** Parameters per stored dtype, e.g. { F32: 260000 }. */
  dtypes: Record<string, number>;
}

export interface ModelInspection {
  kind: 'model';
  path: string;
  architecture: string | null;
  modelType: string | null;
  /** config.json's torch_dtype / dtype (what the weights are meant to be used in). */
  configDtype: string | null;
  parameters: number;
  trainableParameters: number;
  weights: WeightsSummary;
  sizeBytes: number;
  config: Record<string, unknown>;
}

export interface AdapterInspection {
  kind: 'adapter';
  path: string;
  peftType: string | null;
  taskType: string | null;
  baseModel: string | null;
  /** As configured (a list, or a regex string). */
  targetModules: string[] | string | null;
  /** Module names that hold adapter tensors in the weights file. */
  modulesInWeights: string[];
  /** The adapter's own parameters (what training updates). */
  trainableParameters: number;
  /** Base + adapter when the base model is a local folder (or given), else null. */
  totalParameters: number | null;
  base: ModelInspection | null;
  weights: WeightsSummary;
  sizeBytes: number;
  config: Record<string, unknown>;
}

export type Inspection = ModelInspection | AdapterInspection;

/** A bound on the files walked for the size on disk. */
const MAX_FILES = 100_000;

function folderSize(dir: string): number {
  let total = 0;
  let files = 0;
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      const st = lstatSync(p); // symlinks (Hub cache snapshots) counted by their target below
      if (st.isDirectory()) walk(p);
      else {
        if (++files > MAX_FILES) throw new Error(`${dir}: more than ${MAX_FILES} files; not a model or adapter folder`);
        total += st.isSymbolicLink() ? statSync(p).size : st.size;
      }
    }
  };
  walk(dir);
  return total;
}

function summarizeWeights(dir: string, files: string[]): WeightsSummary {
  const out: WeightsSummary = { files, tensors: 0, parameters: 0, dtypes: {} };
  for (const f of files) {
    for (const info of readSafetensorsHeader(join(dir, f)).tensors.values()) {
      const n = info.shape.reduce((a, b) => a * b, 1);
      out.tensors++;
      out.parameters += n;
      out.dtypes[info.dtype] = (out.dtypes[info.dtype] ?? 0) + n;
    }
  }
  return out;
}

function modelWeightFiles(dir: string): string[] {
  const index = join(dir, 'model.safetensors.index.json');
  if (existsSync(index)) {
    const map = readJsonObject(index).weight_map;
    if (map === null || typeof map !== 'object' || Array.isArray(map))
      throw new Error(`${index}: "weight_map" must be an object of file names`);
    const files = [...new Set(Object.values(map as Record<string, unknown>))];
    if (!files.every((f): f is string => typeof f === 'string' && !f.includes('/') && !f.includes('\\')))
      throw new Error(`${index}: "weight_map" values must be file names in the folder`);
    return files.sort();
  }
  if (existsSync(join(dir, 'model.safetensors'))) return ['model.safetensors'];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.safetensors'))
    .sort();
}

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

export function inspectModelFolder(path: string): ModelInspection {
  const dir = resolve(path);
  const configPath = join(dir, 'config.json');
  if (!existsSync(configPath)) throw new Error(`${path}: no config.json (not a model folder)`);
  const config = readJsonObject(configPath);
  const files = modelWeightFiles(dir);
  if (files.length === 0) throw new Error(`${path}: no .safetensors weights`);
  const weights = summarizeWeights(dir, files);
  const archs = config.architectures;
  return {
    kind: 'model',
    path: dir,
    architecture: Array.isArray(archs) && typeof archs[0] === 'string' ? archs[0] : null,
    modelType: str(config.model_type),
    configDtype: str(config.torch_dtype) ?? str(config.dtype),
    parameters: weights.parameters,
    trainableParameters: weights.parameters,
    weights,
    sizeBytes: folderSize(dir),
    config,
  };
}

/** PEFT tensor names: `...layers.0.self_attn.q_proj.lora_A.weight` -> `q_proj`. */
const ADAPTER_PART = /^(lora_|ia3_|hada_|lokr_|oft_|boft_|vera_|adaption_|adapter_)/;

export function inspectAdapterFolder(path: string, opts: { base?: string } = {}): AdapterInspection {
  const dir = resolve(path);
  const configPath = join(dir, 'adapter_config.json');
  if (!existsSync(configPath)) throw new Error(`${path}: no adapter_config.json (not a PEFT adapter folder)`);
  const config = readJsonObject(configPath);
  const weightsFile = 'adapter_model.safetensors';
  if (!existsSync(join(dir, weightsFile))) throw new Error(`${path}: no ${weightsFile}`);
  const weights = summarizeWeights(dir, [weightsFile]);
  const modules = new Set<string>();
  for (const name of readSafetensorsHeader(join(dir, weightsFile)).tensors.keys()) {
    const parts = name.split('.');
    const i = parts.findIndex((p) => ADAPTER_PART.test(p));
    const module = i > 0 ? parts[i - 1] : undefined;
    if (module !== undefined) modules.add(module);
  }
  const tm = config.target_modules;
  const targetModules =
    typeof tm === 'string' ? tm : Array.isArray(tm) ? tm.filter((x): x is string => typeof x === 'string') : null;
  const baseModel = str(config.base_model_name_or_path);
  const basePath =
    opts.base ?? (baseModel !== null && existsSync(join(baseModel, 'config.json')) ? baseModel : undefined);
  const base = basePath !== undefined ? inspectModelFolder(basePath) : null;
  return {
    kind: 'adapter',
    path: dir,
    peftType: str(config.peft_type),
    taskType: str(config.task_type),
    baseModel,
    targetModules,
    modulesInWeights: [...modules].sort(),
    trainableParameters: weights.parameters,
    totalParameters: base ? base.parameters + weights.parameters : null,
    base,
    weights,
    sizeBytes: folderSize(dir),
    config,
  };
}

/** A model folder or an adapter folder (one with adapter_config.json). */
export function inspectFolder(path: string, opts: { base?: string } = {}): Inspection {
  if (!existsSync(path) || !statSync(path).isDirectory()) throw new Error(`${path}: not a folder`);
  if (existsSync(join(path, 'adapter_config.json'))) return inspectAdapterFolder(path, opts);
  if (existsSync(join(path, 'config.json'))) return inspectModelFolder(path);
  throw new Error(`${path}: neither a model folder (config.json) nor a PEFT adapter folder (adapter_config.json)`);
}

function count(n: number): string {
  return n >= 1e9
    ? `${(n / 1e9).toFixed(2)}B`
    : n >= 1e6
      ? `${(n / 1e6).toFixed(2)}M`
      : n >= 1e3
        ? `${(n / 1e3).toFixed(1)}K`
        : String(n);
}

function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i] ?? 'B'}`;
}

function dtypes(w: WeightsSummary): string {
  return Object.entries(w.dtypes)
    .map(([d, n]) => `${d} (${count(n)})`)
    .join(', ');
}

/** Human-readable lines for `tunekit inspect`. */
export function formatInspection(x: Inspection): string {
  const lines: string[] = [];
  if (x.kind === 'model') {
    lines.push(
      `model folder   ${x.path}`,
      `architecture   ${x.architecture ?? '?'} (model_type ${x.modelType ?? '?'})`,
      `parameters     ${x.parameters.toLocaleString('en-US')} (${count(x.parameters)}), all trainable in full fine-tuning`,
      `dtype          stored ${dtypes(x.weights)}; config ${x.configDtype ?? 'unset'}`,
      `weights        ${x.weights.files.join(', ')} (${x.weights.tensors} tensors)`,
      `size on disk   ${bytes(x.sizeBytes)} (${x.sizeBytes} bytes)`,
    );
  } else {
    const pct = x.totalParameters
      ? ` = ${((100 * x.trainableParameters) / x.totalParameters).toFixed(4)}% of ${x.totalParameters.toLocaleString('en-US')} total`
      : ' (total unknown: base model folder not found; pass --base)';
    lines.push(
      `adapter folder ${x.path}`,
      `method         ${x.peftType ?? '?'} (task ${x.taskType ?? '?'})`,
      `base model     ${x.baseModel ?? '?'}${x.base ? ` (${x.base.architecture ?? '?'}, ${x.base.parameters.toLocaleString('en-US')} parameters)` : ''}`,
      `trainable      ${x.trainableParameters.toLocaleString('en-US')}${pct}`,
      `target modules ${x.targetModules === null ? 'none' : Array.isArray(x.targetModules) ? x.targetModules.join(', ') : `regex ${x.targetModules}`}`,
      `in weights     ${x.modulesInWeights.join(', ') || '(no per-module tensors)'}`,
      `dtype          ${dtypes(x.weights)}`,
      `size on disk   ${bytes(x.sizeBytes)} (${x.sizeBytes} bytes)`,
    );
  }
  lines.push(
    'config',
    ...JSON.stringify(x.config, null, 2)
      .split('\n')
      .map((l) => `  ${l}`),
  );
  return lines.join('\n');
}
