/**
 * Putting LoRA layers into a model and taking them out again, and the PEFT adapter folder
 * (adapter_config.json + adapter_model.safetensors) that Python PEFT reads and writes.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { readJsonObject } from '../../io/json.js';
import { readSafetensors, writeSafetensors, type RawTensor } from '../../io/safetensors.js';
import { Linear } from '../../nn/layers.js';
import type { Module } from '../../nn/module.js';
import { writeJsonAtomic } from '../../models/weights.js';
import type { Tensor } from '../../tensor/tensor.js';
import { loraConfig, type LoraConfig } from './config.js';
import { LoRALinear } from './layer.js';

/** PEFT's rule for a list of target names: the full path, or a path ending in ".name". */
export function matchesTarget(path: string, targets: readonly string[]): boolean {
  return targets.some((t) => path === t || path.endsWith(`.${t}`));
}

/**
 * Freeze the base of `model` and wrap every Linear whose path matches `targetModules` in a LoRALinear.
 * Returns the wrapped paths. Throws when nothing matches, or a match is not a Linear.
 */
export function applyLora(model: Module, config: Partial<LoraConfig> & { targetModules: string[] }): string[] {
  const c = loraConfig(config);
  // Freeze the base; adapters added earlier keep training.
  for (const [path, t] of model.namedParameters()) if (!/\.lora_[AB]\.weight$/.test(path)) t.requiresGrad = false;
  const wrapped: string[] = [];
  const targets = model.namedModules().filter(([path]) => path !== '' && matchesTarget(path, c.targetModules));
  targets.forEach(([path, m], i) => {
    if (m instanceof LoRALinear) throw new Error(`applyLora: "${path}" already has a LoRA adapter`);
    if (!(m instanceof Linear)) throw new Error(`applyLora: target "${path}" is a ${m.constructor.name}; LoRA supports Linear layers`);
    model.setModule(path, LoRALinear.fromBase(m, { ...c, seed: c.seed + i }));
    wrapped.push(path);
  });
  if (wrapped.length === 0) throw new Error(`applyLora: no module matches target_modules ${JSON.stringify(c.targetModules)}`);
  return wrapped;
}

/** Replace every LoRALinear by its fused Linear (PEFT's merge_and_unload). */
export function mergeAndUnload(model: Module): void {
  for (const [path, m] of model.namedModules()) if (m instanceof LoRALinear) model.setModule(path, m.fuse());
}

/** The adapter's tensors under PEFT's keys: base_model.model.<path>.lora_A.weight. */
export function loraStateDict(model: Module): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (const [path, t] of model.namedParameters()) {
    if (/\.lora_[AB]\.weight$/.test(path)) out.set(`base_model.model.${path}`, t);
  }
  return out;
}

/** Write a PEFT LoRA adapter folder (atomic files). */
export function saveLoraAdapter(dir: string, model: Module, config: LoraConfig, meta: { baseModelNameOrPath?: string | null; taskType?: string | null } = {}): void {
  const state = loraStateDict(model);
  if (state.size === 0) throw new Error('saveLoraAdapter: the model has no LoRA layers');
  mkdirSync(dir, { recursive: true });
  const tensors = new Map<string, RawTensor>();
  for (const [k, t] of state) tensors.set(k, { dtype: 'F32', shape: [...t.shape], data: t.f32 });
  writeSafetensors(join(dir, 'adapter_model.safetensors'), tensors, { format: 'pt' });
  const json: Record<string, unknown> = {
    base_model_name_or_path: meta.baseModelNameOrPath ?? null,
    bias: 'none',
    fan_in_fan_out: false,
    inference_mode: true,
    init_lora_weights: config.initLoraWeights === 'gaussian' ? 'gaussian' : true,
    lora_alpha: config.loraAlpha,
    lora_dropout: config.loraDropout,
    modules_to_save: null,
    peft_type: 'LORA',
    r: config.r,
    revision: null,
    target_modules: [...config.targetModules].sort(),
    task_type: meta.taskType ?? 'CAUSAL_LM',
    use_dora: false,
    use_rslora: config.useRslora,
  };
  const sorted = Object.fromEntries(Object.entries(json).sort(([a], [b]) => (a < b ? -1 : 1)));
  writeJsonAtomic(join(dir, 'adapter_config.json'), sorted);
}

/** Read a PEFT LoRA adapter folder into `model` (wrapping its targets first). Returns the config. */
export function loadLoraAdapter(model: Module, dir: string): LoraConfig {
  const cfgPath = join(dir, 'adapter_config.json');
  const json = readJsonObject(cfgPath);
  if (json.peft_type !== 'LORA') throw new Error(`${cfgPath}: peft_type is ${JSON.stringify(json.peft_type)}, expected "LORA"`);
  const targets = json.target_modules;
  if (!Array.isArray(targets) || !targets.every((t) => typeof t === 'string')) throw new Error(`${cfgPath}: field "target_modules" must be a list of module names (regex strings are not supported yet)`);
  const num = (k: string, d: number): number => {
    const v = json[k] ?? d;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${cfgPath}: field "${k}" must be a number, got ${JSON.stringify(v)}`);
    return v;
  };
  const config = loraConfig({
    r: num('r', 8), loraAlpha: num('lora_alpha', 8), loraDropout: num('lora_dropout', 0), targetModules: targets as string[],
    useRslora: json.use_rslora === true, initLoraWeights: json.init_lora_weights === 'gaussian' ? 'gaussian' : 'default',
  });
  if (json.use_dora === true) throw new Error(`${cfgPath}: DoRA adapters are not supported yet`);
  applyLora(model, config);
  const file = join(dir, existsSync(join(dir, 'adapter_model.safetensors')) ? 'adapter_model.safetensors' : 'adapter_model.bin');
  if (!file.endsWith('.safetensors')) throw new Error(`${dir}: no adapter_model.safetensors (pickled adapter_model.bin is not supported)`);
  const tensors = readSafetensors(file).tensors;
  const own = loraStateDict(model);
  for (const [key, t] of own) {
    // PEFT files omit the adapter name; older ones may include ".default".
    const raw = tensors.get(key) ?? tensors.get(key.replace(/\.weight$/, '.default.weight'));
    if (!raw) throw new Error(`${file}: missing tensor "${key}"`);
    if (raw.shape.length !== t.shape.length || raw.shape.some((s, i) => s !== t.shape[i])) {
      throw new Error(`${file}: "${key}" has shape [${raw.shape.join(', ')}], the model needs [${t.shape.join(', ')}]`);
    }
    const values = raw.data instanceof Float32Array ? raw.data : null;
    if (!values) throw new Error(`${file}: "${key}" is ${raw.dtype}; float32 adapters are supported`);
    t.f32.set(values);
  }
  return config;
}
