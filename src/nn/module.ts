/**
 * Module: a named tree of parameters, like torch.nn.Module, found by walking fields.
 *
 * Fields holding a Tensor are parameters; fields holding a Module (or an array of Modules) are
 * children. Field names are the transformers names (`self_attn`, `q_proj`, `layers`...), so a
 * parameter path here is the key in a Hugging Face checkpoint and in a PEFT adapter file.
 * Non-parameter state (rotary tables, masks) is kept in typed arrays, which the walk ignores.
 */
import { Tensor } from '../tensor/tensor.js';

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

  train(flag = true): this {
    for (const [, m] of this.namedModules()) m.training = flag;
    return this;
  }

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
  loadStateDict(state: Map<string, Tensor>, opts: { strict?: boolean } = {}): { missing: string[]; unexpected: string[] } {
    const own = new Map(this.namedParameters());
    const missing = [...own.keys()].filter((k) => !state.has(k));
    const unexpected = [...state.keys()].filter((k) => !own.has(k));
    if ((opts.strict ?? true) && (missing.length || unexpected.length)) {
      throw new Error(`loadStateDict: ${missing.length ? `missing keys: ${missing.slice(0, 10).join(', ')}${missing.length > 10 ? ', ...' : ''}` : ''}${missing.length && unexpected.length ? '; ' : ''}${unexpected.length ? `unexpected keys: ${unexpected.slice(0, 10).join(', ')}${unexpected.length > 10 ? ', ...' : ''}` : ''}`);
    }
    for (const [key, src] of state) {
      const dst = own.get(key);
      if (!dst) continue;
      if (src.shape.length !== dst.shape.length || src.shape.some((s, i) => s !== dst.shape[i])) {
        throw new Error(`loadStateDict: "${key}" has shape [${src.shape.join(', ')}] but the model expects [${dst.shape.join(', ')}]`);
      }
      this.setParameter(key, new Tensor(src.data, dst.shape, { dtype: src.dtype, requiresGrad: dst.requiresGrad && src.dtype === 'f32', name: key }));
    }
    return { missing, unexpected };
  }

  /** The sub-module at a dotted path. */
  getModule(path: string): Module {
    if (path === '') return this;
    let cur: unknown = this;
    for (const part of path.split('.')) {
      cur = (cur as Record<string, unknown>)?.[part];
      if (cur === undefined) throw new Error(`no module at "${path}"`);
    }
    if (!(cur instanceof Module)) throw new Error(`"${path}" is not a module`);
    return cur;
  }

  /** Replace the sub-module at a dotted path (how adapters wrap layers). */
  setModule(path: string, module: Module): void {
    const { parent, key } = this.resolveParent(path);
    if (!(parent[key] instanceof Module)) throw new Error(`"${path}" is not a module`);
    parent[key] = module;
  }

  /** Replace the parameter at a dotted path. */
  setParameter(path: string, t: Tensor): void {
    const { parent, key } = this.resolveParent(path);
    if (!(parent[key] instanceof Tensor)) throw new Error(`"${path}" is not a parameter`);
    parent[key] = t;
  }

  private resolveParent(path: string): { parent: Record<string, unknown>; key: string } {
    const parts = path.split('.');
    const key = parts.pop()!;
    let cur: unknown = this;
    for (const part of parts) {
      cur = (cur as Record<string, unknown>)?.[part];
      if (cur === undefined) throw new Error(`no module at "${path}"`);
    }
    return { parent: cur as Record<string, unknown>, key };
  }

  /** Total number of parameter elements (optionally only trainable ones). */
  numParameters(trainableOnly = false): number {
    return this.namedParameters().reduce((s, [, t]) => s + (!trainableOnly || t.requiresGrad ? t.size : 0), 0);
  }
}
