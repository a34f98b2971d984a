/**
 * Fields every PEFT config carries (PEFT's PeftConfig), and strict readers for adapter_config.json
 * fields that name the file and field in every error.
 */
import type { FieldReader } from '../io/json.js';
import type { TargetSpec } from './tuner.js';

/** PEFT's task types (`task_type`). */
export type TaskType = 'CAUSAL_LM' | 'SEQ_CLS' | 'TOKEN_CLS' | 'QUESTION_ANS' | 'FEATURE_EXTRACTION' | 'SEQ_2_SEQ_LM';
/** PEFT's task types. */
export const TASK_TYPES: readonly TaskType[] = [
  'CAUSAL_LM',
  'SEQ_CLS',
  'TOKEN_CLS',
  'QUESTION_ANS',
  'FEATURE_EXTRACTION',
  'SEQ_2_SEQ_LM',
];

/** What every method's config has. */
export interface PeftConfigBase {
  /** "LORA", "IA3", "PROMPT_TUNING", "P_TUNING", "PREFIX_TUNING", "BOTTLENECK" (AdapterHub), "MOE_LORA". */
  peftType: string;
  taskType: TaskType | null;
  baseModelNameOrPath: string | null;
  revision: string | null;
  /** Written true on save; a loaded adapter is frozen unless isTrainable. */
  inferenceMode: boolean;
}

/** The base fields of adapter_config.json. */
export const BASE_FIELDS = [
  'peft_type',
  'task_type',
  'base_model_name_or_path',
  'revision',
  'inference_mode',
  'auto_mapping',
  'peft_version',
] as const;

/** Targeting as every tuner config holds it (PEFT's fields; null = not set). */
export type TargetFields = Required<TargetSpec>;

/**
 * The defaults every tuner config (LoRA, IA3, MoE-LoRA...) starts from: PEFT's base fields
 * (task CAUSAL_LM, not inference mode) and no targeting (the architecture's default modules).
 */
export const TUNER_DEFAULTS: Readonly<Omit<PeftConfigBase, 'peftType'> & TargetFields> = {
  taskType: 'CAUSAL_LM',
  baseModelNameOrPath: null,
  revision: null,
  inferenceMode: false,
  targetModules: null,
  excludeModules: null,
  layersToTransform: null,
  layersPattern: null,
};

/** target_modules, exclude_modules, layers_to_transform and layers_pattern of adapter_config.json. */
export function readTargetFields(f: FieldReader): TargetFields {
  return {
    targetModules: namesField(f, 'target_modules'),
    excludeModules: namesField(f, 'exclude_modules'),
    layersToTransform: intsField(f, 'layers_to_transform'),
    layersPattern: namesField(f, 'layers_pattern'),
  };
}

/** A module-name list as PEFT writes it (sorted, as PEFT's sets), a regex string as is; absent = null. */
export function namesJson(v: string | readonly string[] | null | undefined): string | string[] | null {
  return v === undefined ? null : typeof v === 'string' || v === null ? v : [...v].sort();
}

/** The targeting fields as PEFT writes them (see {@link namesJson}). */
export function targetFieldsJson(c: TargetSpec): Record<string, unknown> {
  return {
    exclude_modules: namesJson(c.excludeModules),
    layers_pattern: c.layersPattern ?? null,
    layers_to_transform: c.layersToTransform ?? null,
    target_modules: namesJson(c.targetModules),
  };
}

export function readBaseFields(f: FieldReader): Omit<PeftConfigBase, 'peftType'> {
  const task = f.has('task_type') ? f.oneOf('task_type', TASK_TYPES, 'CAUSAL_LM') : null;
  return {
    taskType: task,
    baseModelNameOrPath: f.optStr('base_model_name_or_path'),
    revision: f.optStr('revision'),
    inferenceMode: f.bool('inference_mode', false),
  };
}

export function baseFieldsJson(c: PeftConfigBase): Record<string, unknown> {
  return {
    base_model_name_or_path: c.baseModelNameOrPath,
    inference_mode: true,
    peft_type: c.peftType,
    revision: c.revision,
    task_type: c.taskType,
  };
}

/** A list of strings, a string (regex), or null. */
export function namesField(f: FieldReader, field: string, allowRegex = true): string | string[] | null {
  if (!f.has(field)) return null;
  const v = f.obj[field];
  if (typeof v === 'string' && allowRegex) return v;
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return [...v] as string[];
  return f.fail(field, allowRegex ? 'a list of module names or a regex string' : 'a list of module names');
}

/** An integer, a list of integers, or null. */
export function intsField(f: FieldReader, field: string): number | number[] | null {
  if (!f.has(field)) return null;
  const v = f.obj[field];
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return v;
  if (Array.isArray(v) && v.every((x) => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0))
    return [...(v as unknown[])] as number[];
  return f.fail(field, 'a layer index or a list of layer indices');
}

/** A {string: number} object (rank_pattern / alpha_pattern); {} when absent. */
export function patternField(f: FieldReader, field: string, integer: boolean): Record<string, number> {
  if (!f.has(field)) return {};
  const v = f.obj[field];
  if (v === null || typeof v !== 'object' || Array.isArray(v))
    return f.fail(field, 'an object of module-name keys to numbers');
  const out: Record<string, number> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    if (typeof x !== 'number' || !Number.isFinite(x) || (integer && (!Number.isSafeInteger(x) || x < 1))) {
      throw new Error(
        `${f.label}: field "${field}" entry ${JSON.stringify(k)} must be ${integer ? 'a positive integer' : 'a finite number'}, got ${JSON.stringify(x)}`,
      );
    }
    out[k] = x;
  }
  return out;
}

/**
 * Fields PEFT writes that this project reads as their default only: a non-default value would
 * change behaviour we do not implement, so it is an error rather than silently ignored.
 */
export function requireDefaults(f: FieldReader, defaults: Readonly<Record<string, unknown>>): void {
  for (const [field, def] of Object.entries(defaults)) {
    if (!(field in f.obj)) continue;
    const v = f.obj[field];
    const isDefault =
      v === null ||
      v === undefined ||
      JSON.stringify(v) === JSON.stringify(def) ||
      (def === null && (v === false || (typeof v === 'object' && Object.keys(v).length === 0)));
    if (!isDefault)
      throw new Error(
        `${f.label}: field "${field}" = ${JSON.stringify(v)} is not supported (only ${JSON.stringify(def)})`,
      );
  }
}

/** JSON with keys sorted, as PEFT writes adapter_config.json. */
export function sortedJson(obj: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(obj).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
