/**
 * Module: a named tree of parameters, like torch.nn.Module, found by walking fields.
 *
 * Fields holding a Tensor are parameters; fields holding a Module (or an array of Modules) are
 * children. Field names are the transformers names (`self_attn`, `q_proj`, `layers`...), so a
 * parameter path here is the key in a Hugging Face checkpoint and in a PEFT adapter file.
 * Non-parameter state (rotary tables, masks) is kept in typed arrays, which the walk ignores.
 */
import { Tensor } from '../tensor/tensor.js';

/** A child by key: Module.child for modules, indexing for arrays. */
function childOf(parent: unknown, key: string): unknown {
  if (parent instanceof Module) return (parent as unknown as { child(k: string): unknown }).child(key);
  if (Array.isArray(parent)) return parent[Number(key)];
  return undefined;
}

function setChildOf(parent: unknown, key: string, value: Module | Tensor): void {
  if (parent instanceof Module)
    (parent as unknown as { setChild(k: string, v: Module | Tensor): void }).setChild(key, value);
  else if (Array.isArray(parent)) parent[Number(key)] = value;
  else throw new Error(`cannot set "${key}": its parent is not a module`);
}

/** Base class of layers and models: named parameters and sub-modules, train/eval mode, freezing. */
export abstract class Module {
  /** Training mode switches dropout on. */
  training = true;

  /** Direct children and parameters, in field order. */
  protected entries(): Array<[string, Tensor | Module]> {
    const out: Array<[string, Tensor | Module]> = [];
    for (const [key, value] of Object.entries(this)) {
      if (value instanceof Tensor || value instanceof Module) out.push([key, value]);
      else if (Array.isArray(value) && value.length > 0 && value.every((v) => v instanceof Module)) {
        value.forEach((m: Module, i) => out.push([`${key}.${i}`, m]));
      }
    }
    return out;
  }

  /** Every parameter with its dotted path, depth first. */
  namedParameters(prefix = ''): Array<[string, Tensor]> {
    const out: Array<[string, Tensor]> = [];
    for (const [key, value] of this.entries()) {
      const path = prefix ? `${prefix}.${key}` : key;
      if (value instanceof Tensor) out.push([path, value]);
      else out.push(...value.namedParameters(path));
    }
    return out;
  }

  /** Every sub-module with its dotted path (this module is ''). */
  namedModules(prefix = ''): Array<[string, Module]> {
    const out: Array<[string, Module]> = [[prefix, this]];
    for (const [key, value] of this.entries()) {
      if (value instanceof Module) out.push(...value.namedModules(prefix ? `${prefix}.${key}` : key));
    }
    return out;
  }

  /** All parameters of this module and its sub-modules. */
  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }

  /** Parameters that currently receive gradients. */
  trainableParameters(): Array<[string, Tensor]> {
    return this.namedParameters().filter(([, t]) => t.requiresGrad);
  }

  /** Stop (or start) every parameter of this module from receiving gradients. */
  freeze(frozen = true): this {
    for (const [, t] of this.namedParameters()) {
      if (!frozen && t.dtype !== 'f32') continue; // half-precision weights stay frozen
      t.requiresGrad = !frozen;
    }
    return this;
  }

  /** Sets training mode (dropout active) here and in every sub-module. */
  train(flag = true): this {
    for (const [, m] of this.namedModules()) m.training = flag;
    return this;
  }

  /** Sets evaluation mode (no dropout): `train(false)`. */
  eval(): this {
    return this.train(false);
  }

  /** Parameters by path. */
  stateDict(): Map<string, Tensor> {
    return new Map(this.namedParameters());
  }

  /**
   * Copy tensors into parameters by path. `strict` (default) requires exactly the same keys.
   * Shapes must match; the stored dtype is adopted (a bf16 checkpoint keeps bf16 weights).
   */
  loadStateDict(
    state: Map<string, Tensor>,
    opts: { strict?: boolean } = {},
  ): { missing: string[]; unexpected: string[] } {
    const own = new Map(this.namedParameters());
    const missing = [...own.keys()].filter((k) => !state.has(k));
    const unexpected = [...state.keys()].filter((k) => !own.has(k));
    if ((opts.strict ?? true) && (missing.length || unexpected.length)) {
      throw new Error(
        `loadStateDict: ${missing.length ? `missing keys: ${missing.slice(0, 10).join(', ')}${missing.length > 10 ? ', ...' : ''}` : ''}${missing.length && unexpected.length ? '; ' : ''}${unexpected.length ? `unexpected keys: ${unexpected.slice(0, 10).join(', ')}${unexpected.length > 10 ? ', ...' : ''}` : ''}`,
      );
    }
    for (const [key, src] of state) {
      const dst = own.get(key);
      if (!dst) continue;
      if (src.shape.length !== dst.shape.length || src.shape.some((s, i) => s !== dst.shape[i])) {
        throw new Error(
          `loadStateDict: "${key}" has shape [${src.shape.join(', ')}] but the model expects [${dst.shape.join(', ')}]`,
        );
      }
      this.setParameter(
        key,
        new Tensor(src.data, dst.shape, {
          dtype: src.dtype,
          requiresGrad: dst.requiresGrad && src.dtype === 'f32',
          name: key,
        }),
      );
    }
    return { missing, unexpected };
  }

  /** The direct child (module, parameter or array) under `key`; dictionaries override. */
  protected child(key: string): unknown {
    return (this as unknown as Record<string, unknown>)[key];
  }

  /** Replace the direct child under `key`; dictionaries override. */
  protected setChild(key: string, value: Module | Tensor): void {
    (this as unknown as Record<string, unknown>)[key] = value;
  }

  /** The sub-module at a dotted path. */
  getModule(path: string): Module {
    if (path === '') return this;
    const { parent, key } = this.resolveParent(path);
    const cur = childOf(parent, key);
    if (cur === undefined) throw new Error(`no module at "${path}"`);
    if (!(cur instanceof Module)) throw new Error(`"${path}" is not a module`);
    return cur;
  }

  /** Replace the sub-module at a dotted path (how adapters wrap layers). */
  setModule(path: string, module: Module): void {
    const { parent, key } = this.resolveParent(path);
    const cur = childOf(parent, key);
    if (!(cur instanceof Module)) throw new Error(`"${path}" is not a module`);
    setChildOf(parent, key, module);
  }

  /** Replace the parameter at a dotted path. */
  setParameter(path: string, t: Tensor): void {
    const { parent, key } = this.resolveParent(path);
    if (!(childOf(parent, key) instanceof Tensor)) throw new Error(`"${path}" is not a parameter`);
    setChildOf(parent, key, t);
  }

  private resolveParent(path: string): { parent: unknown; key: string } {
    const parts = path.split('.');
    const key = parts.pop() ?? '';
    let cur: unknown = this;
    for (const part of parts) {
      cur = childOf(cur, part);
      if (cur === undefined || cur === null) throw new Error(`no module at "${path}"`);
    }
    return { parent: cur, key };
  }

  /** Total number of parameter elements (optionally only trainable ones). */
  numParameters(trainableOnly = false): number {
    return this.namedParameters().reduce((s, [, t]) => s + (!trainableOnly || t.requiresGrad ? t.size : 0), 0);
  }
}

/**
 * A string-keyed map of children (modules or tensors) that paths walk through: the shared body of
 * {@link ModuleDict} and {@link ParamDict}, which differ only in what they hold.
 */
abstract class KeyedChildren<V extends Module | Tensor> extends Module {
  private readonly items = new Map<string, V>();

  /** Whether `value` is what this container holds (checked on every path assignment). */
  protected abstract holds(value: Module | Tensor): value is V;
  /** The class name and what it holds, for the error when a path assigns something else. */
  protected abstract readonly expected: string;

  protected override entries(): Array<[string, Tensor | Module]> {
    return [...this.items];
  }

  protected override child(key: string): unknown {
    return this.items.get(key);
  }

  protected override setChild(key: string, value: Module | Tensor): void {
    if (!this.holds(value)) throw new Error(`${this.expected.replace('%s', key)}`);
    this.items.set(key, value);
  }

  /** The child under `key`, or undefined. */
  get(key: string): V | undefined {
    return this.items.get(key);
  }

  /** Adds or replaces the child under `key`. */
  set(key: string, value: V): void {
    this.items.set(key, value);
  }

  /** Removes the child under `key`. */
  delete(key: string): boolean {
    return this.items.delete(key);
  }

  /** Whether a child is held under `key`. */
  has(key: string): boolean {
    return this.items.has(key);
  }

  /** The keys, in insertion order. */
  keys(): string[] {
    return [...this.items.keys()];
  }

  /** How many children are held. */
  get size(): number {
    return this.items.size;
  }
}

/**
 * Named children keyed by a string (torch.nn.ModuleDict): how adapter layers hold one sub-module
 * per adapter, so parameter paths read `q_proj.lora_A.default.weight` as in PEFT.
 */
export class ModuleDict<M extends Module = Module> extends KeyedChildren<M> {
  protected readonly expected = 'ModuleDict: "%s" must be a module';
  protected holds(value: Module | Tensor): value is M {
    return value instanceof Module;
  }
}

/**
 * Named parameters keyed by a string (torch.nn.ParameterDict): path `ia3_l.default`,
 * `lora_magnitude_vector.default`.
 */
export class ParamDict extends KeyedChildren<Tensor> {
  protected readonly expected = 'ParamDict: "%s" must be a tensor';
  protected holds(value: Module | Tensor): value is Tensor {
    return value instanceof Tensor;
  }
}
