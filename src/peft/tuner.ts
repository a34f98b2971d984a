/**
 * The one place that every layer-injecting PEFT method (LoRA, DoRA, IA3, LoRA experts) shares,
 * as PEFT's `BaseTuner` / `BaseTunerLayer`:
 *
 * - target matching: exact name, "path ends with .name", a regex string fully matched, "all-linear",
 *   `exclude_modules`, `layers_to_transform` / `layers_pattern`, per-architecture defaults;
 * - injection: wrap each matched module in the method's layer (`inject`);
 * - freezing by the method's parameter prefix (`lora_`, `ia3_`...) and adapter name;
 * - `modules_to_save`: trainable copies of whole modules (task heads);
 * - merge / unmerge / unload over every adapter layer;
 * - the adapter's state dict under PEFT's saved key names.
 *
 * Adapter layers hold one set of weights per adapter name in a ModuleDict/ParamDict, so in-memory
 * parameter paths read as PEFT's (`q_proj.lora_A.default.weight`); saved keys drop the adapter name.
 */
import { type Embedding, Linear } from '../nn/layers.js';
import { Module, ModuleDict } from '../nn/module.js';
import * as F from '../tensor/ops.js';
import { Tensor } from '../tensor/tensor.js';

/** Which modules a method adapts (PEFT's target_modules / exclude_modules / layers_to_transform / layers_pattern). */
export interface TargetSpec {
  /**
   * A list: a module matches when its path equals an entry or ends with ".entry".
   * A string: a regular expression that must match the whole path (Python's re.fullmatch).
   * "all-linear": every Linear except the output head and task heads. null: the architecture default.
   */
  targetModules: string | readonly string[] | null;
  /** Same rules as a target list/regex; matched modules are left alone. */
  excludeModules?: string | readonly string[] | null;
  /** Only layers with these indices (the number after `layers_pattern` in the path). */
  layersToTransform?: number | readonly number[] | null;
  /** Name of the layer list (`layers`, `h`, `layer`...); default: any `<name>.<index>.` in the path. */
  layersPattern?: string | readonly string[] | null;
}

/** Keyword that selects every Linear but the output head. */
export const ALL_LINEAR = 'all-linear';

/** Modules never targeted by "all-linear": language-model and task heads. */
const OUTPUT_HEADS = new Set(['lm_head', 'classifier', 'score', 'qa_outputs']);

/** Python `re.fullmatch(pattern, s)`. */
export function fullMatch(pattern: string, s: string): boolean {
  let re: RegExp;
  try {
    re = new RegExp(`^(?:${pattern})$`);
  } catch (err) {
    throw new Error(
      `target pattern ${JSON.stringify(pattern)} is not a valid regular expression (${(err as Error).message})`,
      { cause: err },
    );
  }
  return re.test(s);
}

/** PEFT's module-name rule: a regex string is fully matched; a list entry matches exactly or as a dotted suffix. */
export function matchesName(path: string, names: string | readonly string[]): boolean {
  if (typeof names === 'string') return fullMatch(names, path);
  return names.some((t) => path === t || path.endsWith(`.${t}`));
}

/** The layer index of a path under PEFT's layers_pattern rule, or null. */
export function layerIndex(path: string, pattern: string | readonly string[] | null | undefined): number | null {
  const patterns =
    pattern === null || pattern === undefined ? [] : typeof pattern === 'string' ? [pattern] : [...pattern];
  // PEFT: re.match(r".*\.[^.]*\.(\d+)\.", key), or r".*\.{pattern}\.(\d+)\." for each pattern.
  const res =
    patterns.length === 0 ? [/^.*\.[^.]*\.(\d+)\./] : patterns.map((p) => new RegExp(`^.*\\.${p}\\.(\\d+)\\.`));
  for (const re of res) {
    const m = re.exec(path);
    if (m?.[1] !== undefined) return Number(m[1]);
  }
  return null;
}

/** Does `path` pass `spec` (names, exclusions, layer indices)? "all-linear" must be expanded first. */
export function matchesTarget(path: string, spec: TargetSpec & { targetModules: string | readonly string[] }): boolean {
  if (!matchesName(path, spec.targetModules)) return false;
  if (spec.excludeModules && matchesName(path, spec.excludeModules)) return false;
  const layers = spec.layersToTransform;
  if (layers !== null && layers !== undefined) {
    const idx = layerIndex(path, spec.layersPattern);
    if (idx === null) return false;
    return typeof layers === 'number' ? idx === layers : layers.includes(idx);
  }
  return true;
}

/** PEFT's rank_pattern / alpha_pattern rule: the first key k with re.match(r"(.*\.)?(k)$", path). */
export function patternValue(path: string, pattern: Readonly<Record<string, number>>, fallback: number): number {
  for (const [k, v] of Object.entries(pattern)) {
    if (new RegExp(`^(.*\\.)?(${k})$`).test(path)) return v;
  }
  return fallback;
}

/** The model family ("llama", "gpt2", "bert"...) from its config, or null. */
export function modelFamily(model: Module): string | null {
  const cfg = (model as unknown as { config?: { family?: unknown } }).config;
  return typeof cfg?.family === 'string' ? cfg.family : null;
}

/** Default targets when target_modules is null, by family (PEFT's per-architecture mappings). */
export function defaultTargets(
  model: Module,
  table: Readonly<Record<string, readonly string[]>>,
  method: string,
): string[] {
  const family = modelFamily(model);
  const t = family ? table[family] : undefined;
  if (!t)
    throw new Error(
      `${method}: target_modules is null and there is no default for ${family ? `model family "${family}"` : 'this model'}; set target_modules`,
    );
  return [...t];
}

// ---------------------------------------------------------------------------------------------
// Adapter layers

/**
 * What every injected adapter layer is: a wrapper around `base_layer` holding per-adapter weights
 * whose parameter names start with `prefix`, able to merge them into the base and out again.
 */
export abstract class TunerLayer extends Module {
  /** The wrapped (frozen) layer. */
  base_layer: Module;
  /** Adapters applied in forward, in order. */
  activeAdapters: string[] = [];
  /** Adapters currently folded into base_layer's weight. */
  merged: string[] = [];
  /** True inside PeftModel.disableAdapter(): forward is the base layer alone. */
  disabled = false;

  constructor(base: Module) {
    super();
    this.base_layer = base;
    // A layer injected into a model in eval mode stays in eval mode (no dropout).
    this.training = base.training;
  }

  /** Parameter-name prefix of this method (`lora_`, `ia3_`). */
  abstract readonly prefix: string;
  /** Names of the adapters this layer holds. */
  abstract adapterNames(): string[];
  /** Remove one adapter's weights. */
  protected abstract removeAdapter(name: string): void;
  /** Add this adapter's update into base_layer's weights. */
  protected abstract mergeAdapter(name: string): void;
  /** Take this adapter's update back out of base_layer's weights. */
  protected abstract unmergeAdapter(name: string): void;

  /** Adapters that act in forward now (none when disabled; merged ones act through the base). */
  protected liveAdapters(): string[] {
    return this.disabled ? [] : this.activeAdapters.filter((a) => !this.merged.includes(a));
  }

  /** Makes `names` the adapters applied in forward. */
  setActive(names: readonly string[]): void {
    this.activeAdapters = names.filter((n) => this.adapterNames().includes(n));
  }

  /** Removes adapter `name` and its parameters. */
  deleteAdapter(name: string): void {
    if (this.merged.includes(name))
      throw new Error(`cannot delete adapter "${name}" while it is merged; unmerge first`);
    this.removeAdapter(name);
    this.activeAdapters = this.activeAdapters.filter((a) => a !== name);
  }

  /** Fold the given adapters (default: the active ones) into the base weights. */
  merge(names: readonly string[] = this.activeAdapters): void {
    for (const n of names) {
      if (this.merged.includes(n) || !this.adapterNames().includes(n)) continue;
      this.mergeAdapter(n);
      this.merged.push(n);
    }
  }

  /** Undo every merge, last first. */
  unmerge(): void {
    while (this.merged.length) {
      const n = this.merged.pop();
      if (n !== undefined) this.unmergeAdapter(n);
    }
  }

  /** Base layer's forward (a Linear, or an Embedding). */
  protected baseForward(x: Tensor): Tensor {
    return (this.base_layer as unknown as { forward(x: Tensor): Tensor }).forward(x);
  }
}

/** A base weight as float64-free float32 values, widened from half precision when needed. */
export function weightF32(t: Tensor): Float32Array {
  return t.dtype === 'f32' ? t.f32 : F.toF32(t).f32;
}

/** Replace a (possibly half-precision) base weight with new float32 values, frozen. */
export function setBaseWeight(layer: Linear | Embedding, values: Float32Array): void {
  const old = layer.weight;
  layer.weight = new Tensor(values, old.shape, { name: old.name ?? 'weight' });
}

// ---------------------------------------------------------------------------------------------
// modules_to_save

/**
 * PEFT's ModulesToSaveWrapper: the original module plus one trainable float32 copy per adapter.
 * Forward runs the active adapter's copy (the original when none or disabled). Saved under the
 * module's own path: `classifier.modules_to_save.default.weight` is written as `classifier.weight`.
 */
export class ModulesToSaveWrapper extends Module {
  original_module: Module;
  modules_to_save = new ModuleDict();
  activeAdapter: string | null = null;
  disabled = false;

  constructor(original: Module) {
    super();
    this.original_module = original;
    this.training = original.training;
  }

  /** Adds a trainable copy of the original module for adapter `name`. */
  addAdapter(name: string): void {
    this.modules_to_save.set(name, cloneTrainable(this.original_module));
    this.activeAdapter ??= name;
  }

  /** The module forward uses. */
  current(): Module {
    if (this.disabled || this.activeAdapter === null) return this.original_module;
    return this.modules_to_save.get(this.activeAdapter) ?? this.original_module;
  }

  /** The active adapter's copy, or the original module when none is active. */
  forward(...args: unknown[]): unknown {
    return (this.current() as unknown as { forward(...a: unknown[]): unknown }).forward(...args);
  }

  /** Linear-like access for code that reads `.weight` / `.bias` of a head. */
  get weight(): unknown {
    return (this.current() as unknown as { weight?: unknown }).weight;
  }
}

/** A deep copy of a module with float32 trainable parameters (everything else shared). */
export function cloneTrainable<M extends Module>(m: M): M {
  const copy = Object.create(Object.getPrototypeOf(m) as object) as M;
  for (const [k, v] of Object.entries(m)) {
    let out: unknown = v;
    if (v instanceof Tensor) {
      const f = v.dtype === 'f32' ? v.f32.slice() : F.toF32(v).f32.slice();
      out = new Tensor(f, v.shape, { requiresGrad: true, ...(v.name !== undefined ? { name: v.name } : {}) });
    } else if (v instanceof Module) out = cloneTrainable(v);
    else if (Array.isArray(v) && v.length > 0 && v.every((x) => x instanceof Module))
      out = v.map((x: Module) => cloneTrainable(x));
    (copy as unknown as Record<string, unknown>)[k] = out;
  }
  return copy;
}

// ---------------------------------------------------------------------------------------------
// Walking a model

/** Modules that may be targeted: everything except the insides of adapter layers and head wrappers. */
export function candidateModules(model: Module): Array<[string, Module]> {
  const out: Array<[string, Module]> = [];
  const blocked: string[] = [];
  // namedModules is depth-first pre-order: a wrapper is seen before its insides.
  for (const [p, m] of model.namedModules()) {
    if (p === '' || blocked.some((b) => p.startsWith(`${b}.`))) continue;
    out.push([p, m]);
    if (m instanceof TunerLayer || m instanceof ModulesToSaveWrapper) blocked.push(p);
  }
  return out;
}

/** Every adapter layer of a model with its path. */
export function tunerLayers(model: Module): Array<[string, TunerLayer]> {
  return model.namedModules().filter((e): e is [string, TunerLayer] => e[1] instanceof TunerLayer);
}

/** Every modules_to_save wrapper of a model with its path. */
export function saveWrappers(model: Module): Array<[string, ModulesToSaveWrapper]> {
  return model.namedModules().filter((e): e is [string, ModulesToSaveWrapper] => e[1] instanceof ModulesToSaveWrapper);
}

/** A Linear as a target, or the base Linear of an adapter layer already there. */
function baseOf(m: Module): Module {
  return m instanceof TunerLayer ? baseOf(m.base_layer) : m;
}

/**
 * The module paths a spec selects. "all-linear" means every Linear except output/task heads and
 * `modules_to_save`. Throws (naming the spec) when nothing matches.
 */
export function selectTargets(
  model: Module,
  spec: TargetSpec & { targetModules: string | readonly string[] },
  method: string,
  opts: { modulesToSave?: readonly string[] | null } = {},
): Array<[string, Module]> {
  const all = candidateModules(model);
  let names = spec.targetModules;
  if (names === ALL_LINEAR) {
    const skip = new Set([...OUTPUT_HEADS, ...(opts.modulesToSave ?? [])]);
    const linear = all.filter(([p, m]) => baseOf(m) instanceof Linear && !skip.has(p.split('.').pop() ?? ''));
    names = [...new Set(linear.map(([p]) => p.split('.').pop() ?? p))].sort();
  }
  const s = { ...spec, targetModules: names };
  const hits = all.filter(([p]) => matchesTarget(p, s));
  if (hits.length === 0) {
    const parts = [`target_modules ${JSON.stringify(spec.targetModules)}`];
    if (spec.layersToTransform !== null && spec.layersToTransform !== undefined)
      parts.push(`layers_to_transform ${JSON.stringify(spec.layersToTransform)}`);
    if (spec.excludeModules) parts.push(`exclude_modules ${JSON.stringify(spec.excludeModules)}`);
    throw new Error(`${method}: no module of the model matches ${parts.join(', ')}`);
  }
  return hits;
}

/** The expanded target list that a saved config records for "all-linear". */
export function expandAllLinear(model: Module, modulesToSave: readonly string[] | null): string[] {
  const skip = new Set([...OUTPUT_HEADS, ...(modulesToSave ?? [])]);
  return [
    ...new Set(
      candidateModules(model)
        .filter(([p, m]) => baseOf(m) instanceof Linear && !skip.has(p.split('.').pop() ?? ''))
        .map(([p]) => p.split('.').pop() ?? p),
    ),
  ].sort();
}

/**
 * Wrap modules_to_save (exact path or dotted suffix) in ModulesToSaveWrapper and give `adapter`
 * its trainable copy. Returns the wrapped paths; names matching nothing are an error unless
 * `optional` (PEFT adds `classifier` and `score` for sequence classification, one of which exists).
 */
export function addModulesToSave(
  model: Module,
  names: readonly string[],
  adapter: string,
  opts: { optional?: readonly string[] } = {},
): string[] {
  const done: string[] = [];
  for (const name of names) {
    const hits = model
      .namedModules()
      .filter(([p]) => p !== '' && (p === name || p.endsWith(`.${name}`)))
      .filter(([p]) => !/(^|\.)(modules_to_save|original_module|base_layer)(\.|$)/.test(p));
    if (hits.length === 0) {
      if (opts.optional?.includes(name)) continue;
      throw new Error(`modules_to_save: no module of the model is named "${name}"`);
    }
    for (const [path, m] of hits) {
      let w: ModulesToSaveWrapper;
      if (m instanceof ModulesToSaveWrapper) w = m;
      else {
        w = new ModulesToSaveWrapper(m);
        model.setModule(path, w);
      }
      w.addAdapter(adapter);
      done.push(path);
    }
  }
  return done;
}

/** How biases train (PEFT's `bias`): none, every bias of the model, or the biases of adapted layers. */
export type BiasMode = 'none' | 'all' | 'lora_only';

/** Is `path` a parameter of adapter `name` of a method with this prefix (or of a modules_to_save copy)? */
export function adapterKeyOf(path: string, prefix: string, name: string): string | null {
  const parts = path.split('.');
  for (let i = 0; i + 1 < parts.length; i++) {
    const seg = parts[i] ?? '';
    if (parts[i + 1] !== name) continue;
    if (seg.startsWith(prefix)) return [...parts.slice(0, i + 1), ...parts.slice(i + 2)].join('.');
    if (seg === 'modules_to_save') return [...parts.slice(0, i), ...parts.slice(i + 2)].join('.');
  }
  return null;
}

/**
 * Freeze everything but adapter `name`'s parameters (found by the method's prefix) and its
 * modules_to_save copies; `bias` additionally trains all biases or those of adapted layers.
 */
export function markOnlyAdapterTrainable(model: Module, prefix: string, name: string, bias: BiasMode = 'none'): void {
  const adaptedBias = new Set(tunerLayers(model).map(([p]) => `${p}.base_layer.bias`));
  for (const [path, t] of model.namedParameters()) {
    let train = adapterKeyOf(path, prefix, name) !== null;
    if (bias === 'all' && /(^|\.)bias$/.test(path) && !path.includes('.original_module.')) train = true;
    if (bias === 'lora_only' && adaptedBias.has(path)) train = true;
    t.requiresGrad = train && t.dtype === 'f32';
  }
}

/**
 * Adapter `name`'s tensors under PEFT's saved keys (`base_model.model.<path>` without the adapter
 * name), plus trained biases for bias "all" / "lora_only".
 */
export function adapterStateDict(
  model: Module,
  prefix: string,
  name: string,
  bias: BiasMode = 'none',
): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  const adaptedBias = new Set(tunerLayers(model).map(([p]) => `${p}.base_layer.bias`));
  for (const [path, t] of model.namedParameters()) {
    const key = adapterKeyOf(path, prefix, name);
    if (key !== null) out.set(`base_model.model.${key}`, t);
    else if (
      (bias === 'all' && /(^|\.)bias$/.test(path) && !/\.(original_module|modules_to_save)\./.test(path)) ||
      (bias === 'lora_only' && adaptedBias.has(path))
    ) {
      out.set(`base_model.model.${path}`, t);
    }
  }
  return out;
}

/** Replace every adapter layer by its base (merging the active adapters first when `merge`) and every head wrapper by the module in use. */
export function unloadLayers(model: Module, merge: boolean): void {
  for (const [path, layer] of tunerLayers(model).reverse()) {
    if (merge) layer.merge();
    else layer.unmerge();
    model.setModule(path, layer.base_layer);
  }
  for (const [path, w] of saveWrappers(model)) model.setModule(path, merge ? w.current() : w.original_module);
}
