/**
 * PeftModel: a base model plus named adapters, with Hugging Face PEFT's verbs
 * (`get_peft_model`, `PeftModel.from_pretrained`, `save_pretrained`, `merge_and_unload`, ...).
 *
 * The base model sits at `base_model.model`, so parameter paths read as PEFT's in-memory names
 * (`base_model.model.model.layers.0.self_attn.q_proj.lora_A.default.weight`). Layer methods change
 * the base model in place (the original object keeps working with the adapters); prompt methods
 * keep their encoder here (`prompt_encoder.<name>`) and feed the model through `forward`.
 *
 * Trainable parameters are exactly the active adapter's (plus its modules_to_save copies and, for
 * LoRA's bias modes, biases): a trainer takes `trainableParameters()` / requiresGrad.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { CausalLM } from '../models/causal-lm.js';
import { Module, ModuleDict } from '../nn/module.js';
import * as F from '../tensor/ops.js';
import { Tensor } from '../tensor/tensor.js';
import {
  ADAPTER_CONFIG,
  readAdapterFolder,
  loadTensorsInto,
  warnUnknownFields,
  writeAdapterFolder,
} from './adapter-folder.js';
import type { PeftConfigBase } from './config.js';
import { LoRALinear, LoRAEmbedding } from './lora/layer.js';
import type { LoraConfig } from './lora/config.js';
import type { InputHook, PeftHost, PeftMethod } from './method.js';
import { methodFor } from './registry.js';
import {
  ModulesToSaveWrapper,
  adapterStateDict,
  markOnlyAdapterTrainable,
  saveWrappers,
  tunerLayers,
  unloadLayers,
} from './tuner.js';

/** Holds the base model at `.model` (PEFT's LoraModel / BaseTuner level of the path). */
export class TunerModel<M extends Module = Module> extends Module {
  constructor(public model: M) {
    super();
  }
}

type ForwardOf<M> = M extends { forward(input: infer I): infer O }
  ? { input: I; output: O }
  : { input: unknown; output: unknown };

/** Options of PeftModel.fromPretrained / loadAdapter. */
export interface LoadAdapterOptions {
  /** Name the adapter gets here (default "default"). */
  adapterName?: string;
  /** Keep the adapter trainable (default false: loaded for inference, everything frozen). */
  isTrainable?: boolean;
  /** Receives warnings (unknown config fields...); default console.warn. */
  onWarning?: (message: string) => void;
}

export class PeftModel<M extends Module = Module> extends Module implements PeftHost {
  base_model: TunerModel<M>;
  prompt_encoder = new ModuleDict();
  /** Configs by adapter name. */
  readonly peftConfig = new Map<string, PeftConfigBase>();
  private active: string;
  private adaptersDisabled = false;
  /** Prompt methods register how they feed the model, by adapter name. */
  readonly inputHooks = new Map<string, InputHook>();
  /** Extra loss terms by adapter name (mixture of experts' load balancing). */
  readonly auxLosses = new Map<string, () => Tensor | null>();

  constructor(model: M, config: PeftConfigBase, adapterName = 'default', opts: { forLoading?: boolean } = {}) {
    super();
    this.base_model = new TunerModel(model);
    this.active = adapterName;
    this.addAdapter(adapterName, config, opts);
  }

  /** The base model (with layer adapters injected). */
  get model(): M {
    return this.base_model.model;
  }

  /** The base model's config (so a PeftModel of a CausalLM is a CausalLM). */
  get config(): M extends { config: infer C } ? C : undefined {
    return (this.model as unknown as { config?: unknown }).config as M extends { config: infer C } ? C : undefined;
  }

  get activeAdapter(): string {
    return this.active;
  }

  /** Config of an adapter (default: the active one). */
  configOf(name = this.active): PeftConfigBase {
    const c = this.peftConfig.get(name);
    if (!c) throw new Error(`no adapter named "${name}" (have: ${[...this.peftConfig.keys()].join(', ') || 'none'})`);
    return c;
  }

  private method(name = this.active): PeftMethod {
    return methodFor(this.configOf(name).peftType);
  }

  /**
   * Add adapter `name` with fresh weights (PEFT's add_adapter). The active adapter stays active;
   * call setAdapter to switch. Prompt methods and layer methods cannot be mixed on one model.
   */
  addAdapter(name: string, config: PeftConfigBase, opts: { forLoading?: boolean } = {}): void {
    if (this.peftConfig.has(name)) throw new Error(`an adapter named "${name}" already exists`);
    if (!/^[A-Za-z0-9_-]+$/.test(name))
      throw new Error(
        `adapter name "${name}" must use letters, digits, "_" or "-" (it becomes part of parameter paths and folder names)`,
      );
    const method = methodFor(config.peftType);
    const others = [...this.peftConfig.values()].map((c) => methodFor(c.peftType));
    if (others.some((m) => (m.stateDict !== undefined) !== (method.stateDict !== undefined))) {
      throw new Error(
        `cannot add a ${config.peftType} adapter next to ${[...this.peftConfig.values()].map((c) => c.peftType).join(', ')} adapters`,
      );
    }
    const resolved = method.resolve ? method.resolve(config, this.model) : config;
    method.add(this, resolved, name, { forLoading: opts.forLoading ?? false });
    this.peftConfig.set(name, resolved);
    this.applyActive();
  }

  /** Make `name` the adapter used in forward and the one that trains (PEFT's set_adapter). */
  setAdapter(name: string): void {
    this.configOf(name);
    this.active = name;
    this.applyActive();
  }

  /** Active flags on every layer and wrapper; requiresGrad on exactly the active adapter's parameters. */
  private applyActive(): void {
    for (const [, layer] of tunerLayers(this.model)) {
      layer.setActive([this.active]);
      layer.disabled = this.adaptersDisabled;
    }
    for (const [, w] of saveWrappers(this.model)) {
      w.activeAdapter = w.modules_to_save.has(this.active) ? this.active : null;
      w.disabled = this.adaptersDisabled;
    }
    const cfg = this.configOf(this.active);
    const method = this.method();
    markOnlyAdapterTrainable(this, method.prefix, this.active, method.bias ? method.bias(cfg) : 'none');
    const encoder = this.prompt_encoder.get(this.active);
    if (encoder) for (const [, t] of encoder.namedParameters()) t.requiresGrad = t.dtype === 'f32';
    for (const t of method.trainable ? method.trainable(this, cfg, this.active) : []) t.requiresGrad = true;
    if (cfg.inferenceMode) for (const [, t] of this.namedParameters()) t.requiresGrad = false;
  }

  /** Remove an adapter (PEFT's delete_adapter); the active one must be switched away from first. */
  deleteAdapter(name: string): void {
    this.configOf(name);
    if (name === this.active && this.peftConfig.size > 1)
      throw new Error(`adapter "${name}" is active; setAdapter to another one before deleting it`);
    if (this.peftConfig.size === 1)
      throw new Error(`adapter "${name}" is the only one; use unload() to get the base model back`);
    for (const [, layer] of tunerLayers(this.model)) if (layer.adapterNames().includes(name)) layer.deleteAdapter(name);
    for (const [, w] of saveWrappers(this.model)) w.modules_to_save.delete(name);
    this.prompt_encoder.delete(name);
    this.inputHooks.delete(name);
    this.auxLosses.delete(name);
    this.peftConfig.delete(name);
  }

  /**
   * Run `fn` with every adapter switched off (the base model's outputs), then switch them back on,
   * also when `fn` throws (PEFT's `with model.disable_adapter():`). Async functions work too.
   */
  disableAdapter<T>(fn: () => T): T {
    const prev = this.adaptersDisabled;
    this.adaptersDisabled = true;
    this.applyActive();
    const restore = (): void => {
      this.adaptersDisabled = prev;
      this.applyActive();
    };
    let out: T;
    try {
      out = fn();
    } catch (err) {
      restore();
      throw err;
    }
    if (out instanceof Promise) return out.finally(restore) as T;
    restore();
    return out;
  }

  /** True inside disableAdapter. */
  get adaptersAreDisabled(): boolean {
    return this.adaptersDisabled;
  }

  /** Forward through the base model, with the active prompt method's inputs (virtual tokens, prefixes). */
  forward(input: ForwardOf<M>['input']): ForwardOf<M>['output'] {
    const model = this.model as unknown as { forward(i: unknown): unknown };
    const hook = this.adaptersDisabled ? undefined : this.inputHooks.get(this.active);
    if (!hook) return model.forward(input);
    const { input: changed, finish } = hook(input as Record<string, unknown>);
    const out = model.forward(changed);
    return finish ? finish(out) : out;
  }

  /** Extra loss terms the trainer adds to the task loss (e.g. the experts' load-balancing loss), or null. */
  extraLoss(): Tensor | null {
    if (this.adaptersDisabled) return null;
    const f = this.auxLosses.get(this.active);
    return f ? f() : null;
  }

  /** The token embedding table (CausalLM / BERT). */
  inputEmbeddings(): Tensor {
    return (this.model as unknown as { inputEmbeddings(): Tensor }).inputEmbeddings();
  }

  /** The base model's embeddings of token ids (CausalLM.embedTokens). */
  embedTokens(inputIds: Int32Array, batchSize = 1): Tensor {
    return (this.model as unknown as { embedTokens(ids: Int32Array, b: number): Tensor }).embedTokens(
      inputIds,
      batchSize,
    );
  }

  /** A fresh KV cache of the base model (CausalLM). */
  newCache(): ReturnType<
    M extends {
      /** The base model's own cache constructor. */
      newCache(): infer K;
    }
      ? () => K
      : () => never
  > {
    return (this.model as unknown as { newCache(): never }).newCache();
  }

  /**
   * Merging LoRA into an embedding table that the output head shares would change the head too,
   * while the unmerged model's head reads the base table: refuse rather than change outputs.
   */
  private refuseTiedEmbeddingMerge(): void {
    const tied =
      (this.model as unknown as { config?: { tieWordEmbeddings?: boolean } }).config?.tieWordEmbeddings === true;
    if (!tied || typeof (this.model as unknown as { inputEmbeddings?: unknown }).inputEmbeddings !== 'function') return;
    const table = this.inputEmbeddings();
    for (const [path, layer] of tunerLayers(this.model)) {
      if (
        layer instanceof LoRAEmbedding &&
        layer.base_layer.weight === table &&
        layer.adapterNames().includes(this.active)
      ) {
        throw new Error(
          `cannot merge: "${path}" has LoRA on the input embeddings, which the output head shares (tie_word_embeddings); merging would change the head too. Keep the adapter unmerged`,
        );
      }
    }
  }

  /** Fold the active adapter into the base weights in place (layers stay, marked merged). */
  mergeAdapter(): void {
    this.requireLayerMethod('mergeAdapter');
    this.refuseTiedEmbeddingMerge();
    for (const [, layer] of tunerLayers(this.model)) layer.merge([this.active]);
  }

  /** Undo mergeAdapter (restores the exact previous weights). */
  unmergeAdapter(): void {
    for (const [, layer] of tunerLayers(this.model)) layer.unmerge();
  }

  private requireLayerMethod(what: string): void {
    if (this.method().stateDict) throw new Error(`${what}: ${this.configOf().peftType} adds no layers to merge`);
  }

  /** Merge the active adapter into the base weights and return the plain base model (PEFT's merge_and_unload). */
  mergeAndUnload(): M {
    this.requireLayerMethod('mergeAndUnload');
    this.refuseTiedEmbeddingMerge();
    for (const [, layer] of tunerLayers(this.model)) layer.setActive([this.active]);
    unloadLayers(this.model, true);
    return this.model;
  }

  /** Remove every adapter layer without merging and return the base model as it was (PEFT's unload). */
  unload(): M {
    unloadLayers(this.model, false);
    return this.model;
  }

  /** [trainable, all] parameter counts (PEFT's get_nb_trainable_parameters). */
  trainableParameterCounts(): [number, number] {
    let trainable = 0;
    let all = 0;
    for (const [, t] of this.namedParameters()) {
      all += t.size;
      if (t.requiresGrad) trainable += t.size;
    }
    return [trainable, all];
  }

  /** PEFT's line: `trainable params: 4,096 || all params: 264,192 || trainable%: 1.5504`. */
  printTrainableParameters(log: (line: string) => void = console.log): string {
    const [trainable, all] = this.trainableParameterCounts();
    const fmt = (n: number): string => n.toLocaleString('en-US');
    const line = `trainable params: ${fmt(trainable)} || all params: ${fmt(all)} || trainable%: ${((100 * trainable) / all).toFixed(4)}`;
    log(line);
    return line;
  }

  /** Adapter `name`'s tensors under PEFT's saved keys. */
  adapterStateDict(name = this.active): Map<string, Tensor> {
    const cfg = this.configOf(name);
    const method = methodFor(cfg.peftType);
    if (method.stateDict) return method.stateDict(this, cfg, name);
    const state = adapterStateDict(this.model, method.prefix, name, method.bias ? method.bias(cfg) : 'none');
    if (state.size === 0) throw new Error(`adapter "${name}" has no parameters to save`);
    return state;
  }

  /**
   * Write the adapters in PEFT's format (default: every adapter): "default" into `dir`, others
   * into `dir/<name>` as PEFT does. Each folder is written whole or not at all.
   */
  savePretrained(dir: string, opts: { selectedAdapters?: readonly string[] } = {}): void {
    const names = opts.selectedAdapters ?? [...this.peftConfig.keys()];
    const ordered = [...names].sort((a, b) => (a === 'default' ? -1 : b === 'default' ? 1 : 0));
    for (const name of ordered) {
      const cfg = this.configOf(name);
      const method = methodFor(cfg.peftType);
      const target = name === 'default' ? dir : join(dir, name);
      writeAdapterFolder(target, method.toJson(cfg), this.adapterStateDict(name), (tmp) =>
        method.extraFiles?.(this, cfg, name, tmp),
      );
    }
  }

  /**
   * Load an adapter folder written by Python PEFT or by savePretrained onto `model` (PEFT's
   * PeftModel.from_pretrained). The method comes from `peft_type`.
   */
  static fromPretrained<M extends Module>(model: M, dir: string, opts: LoadAdapterOptions = {}): PeftModel<M> {
    const name = opts.adapterName ?? 'default';
    const { config, files } = readConfig(dir, opts, !(opts.isTrainable ?? false));
    return namingFolder(dir, () => {
      const peft = new PeftModel(model, config, name, { forLoading: true });
      peft.fillAdapter(name, files, dir, opts.onWarning ?? ((m) => console.warn(m)));
      if (!(opts.isTrainable ?? false)) peft.eval();
      return peft;
    });
  }

  /** Load another adapter folder under `adapterName` (PEFT's load_adapter). */
  loadAdapter(dir: string, opts: LoadAdapterOptions & { adapterName: string }): void {
    const { config, files } = readConfig(dir, opts, !(opts.isTrainable ?? false));
    namingFolder(dir, () => {
      this.addAdapter(opts.adapterName, config, { forLoading: true });
      this.fillAdapter(opts.adapterName, files, dir, opts.onWarning ?? ((m) => console.warn(m)));
    });
  }

  private fillAdapter(
    name: string,
    files: ReturnType<typeof readAdapterFolder>,
    dir: string,
    warn: (m: string) => void,
  ): void {
    const cfg = this.configOf(name);
    const method = methodFor(cfg.peftType);
    const targets = method.loadTargets ? method.loadTargets(this, cfg, name) : this.adapterStateDict(name);
    loadTensorsInto(targets, files, name);
    method.afterLoad?.(this, cfg, name, dir, warn);
    this.applyActive();
  }

  /**
   * A new LoRA adapter `name` combining existing LoRA adapters (PEFT's add_weighted_adapter):
   * "linear": A = Σ √w_i·s_i·A_i, B = Σ √w_i·B_i (same ranks required; its scaling is 1);
   * "cat": A = [√(w_i·s_i)·A_i] stacked, B = [√(w_i·s_i)·B_i] side by side, so B·A = Σ w_i·s_i·B_i·A_i exactly.
   * Linear layers and LoRA on Embeddings alike (lora_embedding_A/B, the same orientation).
   */
  addWeightedAdapter(
    adapters: readonly string[],
    weights: readonly number[],
    name: string,
    combinationType: 'linear' | 'cat' = 'cat',
  ): void {
    if (adapters.length === 0 || adapters.length !== weights.length)
      throw new Error('addWeightedAdapter: give one weight per adapter');
    const cfgs = adapters.map((a) => this.configOf(a));
    if (cfgs.some((c) => c.peftType !== 'LORA'))
      throw new Error('addWeightedAdapter: only LoRA adapters can be combined');
    const lora = cfgs as LoraConfig[];
    if (lora.some((c) => c.useDora)) throw new Error('addWeightedAdapter: DoRA adapters cannot be combined');
    const first = lora[0];
    if (!first) throw new Error('addWeightedAdapter: no adapters given');
    if (this.peftConfig.has(name)) throw new Error(`an adapter named "${name}" already exists`);
    const layers = tunerLayers(this.model);
    const rankOf = (l: LoRALinear | LoRAEmbedding, a: string): number =>
      l instanceof LoRALinear ? l.adapterSettings(a).r : (l.lora_embedding_A.get(a)?.dim(0) ?? 0);
    let newR = 0;
    for (const [, l] of layers) {
      if (!(l instanceof LoRALinear || l instanceof LoRAEmbedding)) continue;
      const ranks = adapters.filter((a) => l.adapterNames().includes(a)).map((a) => rankOf(l, a));
      if (combinationType === 'linear' && new Set(ranks).size > 1)
        throw new Error(`addWeightedAdapter: "linear" needs equal ranks; layer ranks are ${ranks.join(', ')}`);
      newR = Math.max(newR, combinationType === 'cat' ? ranks.reduce((s, r) => s + r, 0) : (ranks[0] ?? 0));
    }
    const targets = [
      ...new Set(
        layers
          .filter(([, l]) => adapters.some((a) => l.adapterNames().includes(a)))
          .map(([p]) => p.split('.').pop() ?? p),
      ),
    ].sort();
    const config: LoraConfig = {
      ...first,
      r: newR,
      loraAlpha: newR,
      useRslora: false,
      rankPattern: {},
      alphaPattern: {},
      targetModules: targets,
      initLoraWeights: 'default',
      layersToTransform: null,
      modulesToSave: null,
    };
    this.peftConfig.set(name, config);
    for (const [, l] of layers) {
      const present = adapters
        .map((a, i) => ({ a, w: weights[i] ?? 0 }))
        .filter(({ a }) => l.adapterNames().includes(a));
      if (!present.length) continue;
      if (!(l instanceof LoRALinear || l instanceof LoRAEmbedding)) continue;
      // PEFT's factors, the same for Linear (lora_A [r, in], lora_B [out, r]) and Embedding
      // (lora_embedding_A [r, num], lora_embedding_B [dim, r]): cat √(w·s) on both; linear √w·s on A and √w on B.
      const parts = present.map(({ a, w }) => {
        const s = l.scalingOf(a);
        if (w < 0 && combinationType === 'cat')
          throw new Error(`addWeightedAdapter: "cat" needs non-negative weights (√(w·scaling)), got ${w} for "${a}"`);
        const fa = combinationType === 'cat' ? Math.sqrt(w * s) : Math.sqrt(Math.abs(w)) * s * Math.sign(w);
        const fb = combinationType === 'cat' ? Math.sqrt(w * s) : Math.sqrt(Math.abs(w));
        const a0 = l instanceof LoRALinear ? l.lora_A.get(a)?.weight : l.lora_embedding_A.get(a);
        const b0 = l instanceof LoRALinear ? l.lora_B.get(a)?.weight : l.lora_embedding_B.get(a);
        if (!a0 || !b0) throw new Error(`addWeightedAdapter: layer has no adapter "${a}"`);
        return { A: F.scale(a0.detach(), fa), B: F.scale(b0.detach(), fb) };
      });
      let A: Tensor, B: Tensor;
      if (combinationType === 'cat') {
        A = F.concat(
          parts.map((p) => p.A),
          0,
        );
        B = F.concat(
          parts.map((p) => p.B),
          1,
        );
      } else {
        A = parts.map((p) => p.A).reduce((x, y) => F.add(x, y));
        B = parts.map((p) => p.B).reduce((x, y) => F.add(x, y));
      }
      l.setAdapterWeights(
        name,
        new Tensor(A.f32, A.shape, { requiresGrad: true }),
        new Tensor(B.f32, B.shape, { requiresGrad: true }),
        1,
      );
    }
    for (const [, w] of saveWrappers(this.model)) {
      const src = adapters.find((a) => w.modules_to_save.has(a));
      if (src) w.addAdapter(name);
    }
    this.applyActive();
  }
}

/** Read and parse an adapter folder's config (method from peft_type, one warning for unknown fields). */
/**
 * Run `build` (injecting a loaded adapter's layers); an error that does not name the adapter folder
 * (a config value the layers reject, a target that matches nothing) gets it in front, so every
 * failure to load says which adapter it was.
 */
function namingFolder<T>(dir: string, build: () => T): T {
  try {
    return build();
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    if (message.includes(dir)) throw err;
    throw new Error(`${join(dir, ADAPTER_CONFIG)}: ${message}`, { cause: err });
  }
}

function readConfig(
  dir: string,
  opts: LoadAdapterOptions,
  inferenceMode: boolean,
): { config: PeftConfigBase; files: ReturnType<typeof readAdapterFolder> } {
  const files = readAdapterFolder(dir);
  const peftType = files.config.peft_type;
  if (typeof peftType !== 'string')
    throw new Error(`${files.configPath}: field "peft_type" must be a string, got ${JSON.stringify(peftType)}`);
  const method = methodFor(peftType, files.configPath);
  warnUnknownFields(files.config, method.knownFields, files.configPath, opts.onWarning ?? ((m) => console.warn(m)));
  const config = { ...namingFolder(dir, () => method.fromJson(files.config, files.configPath)), inferenceMode };
  if ((config as Partial<LoraConfig>).initLoraWeights?.startsWith('pissa')) {
    (opts.onWarning ?? console.warn)(
      `${files.configPath}: this PiSSA adapter was trained on a residual base (W minus its top-r part); load it on that residual model`,
    );
  }
  return { config, files };
}

/** Wrap `model` with a new adapter (PEFT's get_peft_model): base frozen, only the adapter trains. */
export function getPeftModel<M extends Module>(
  model: M,
  config: PeftConfigBase,
  adapterName = 'default',
): PeftModel<M> {
  return new PeftModel(model, { ...config, inferenceMode: false }, adapterName);
}

/**
 * `model` with the adapter folder `dir` applied, as a CausalLM (for generation and chat): layer
 * methods change the model in place, prompt methods feed it through the PeftModel.
 */
export function withAdapter(model: CausalLM, dir: string, label = 'adapter'): CausalLM {
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    throw new Error(`${label} ${dir}: no such folder (expected a PEFT adapter folder)`);
  const peft = PeftModel.fromPretrained(model, dir);
  return peft;
}

export { ModulesToSaveWrapper };
