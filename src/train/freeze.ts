/**
 * Partial fine-tuning ("freeze"): train only chosen parts of a model, everything else frozen, as
 * LLaMA-Factory's `finetuning_type: freeze` (the last N blocks) plus named modules (the head, the
 * final norm, ...). The chosen weights train in place; the trainer sees them through requiresGrad.
 *
 * ```ts
 * const trained = freezeExcept(model, { lastLayers: 2, modules: ['norm', 'lm_head'] });
 * train({ model, ... }); // only `trained` change
 * ```
 */
import type { Module } from '../nn/module.js';

/** What {@link freezeExcept} leaves trainable. */
export interface FreezeOptions {
  /** Train the last N transformer blocks (`layers.<i>` for Llama/Qwen2, `h.<i>` for GPT-2, `layer.<i>` for BERT). */
  lastLayers?: number;
  /**
   * Also train these modules or parameters, named as PEFT's target_modules are: a name matches a
   * module path equal to it or ending in `.<name>` ("norm" is `model.norm`, not `input_layernorm`;
   * "lm_head", "score", "model.layers.0.mlp"). Every name must match something.
   */
  modules?: readonly string[];
}

const BLOCK = /^(.*?(?:^|\.)(?:layers|h|layer))\.(\d+)\./;

/**
 * Freeze every parameter of `model`, then unfreeze the chosen blocks and modules. Returns the
 * trainable parameter paths. Bad choices are errors: no blocks found, more blocks asked for than
 * the model has, a module name matching nothing, or nothing chosen. Half-precision (bf16) weights
 * cannot train: choosing one is an error.
 */
export function freezeExcept(model: Module, opts: FreezeOptions): string[] {
  const named = model.namedParameters();
  const chosen = new Set<string>();
  const n = opts.lastLayers ?? 0;
  if (!Number.isInteger(n) || n < 0) throw new Error(`freezeExcept: lastLayers must be an integer >= 0, got ${n}`);
  if (n > 0) {
    // Blocks by their list path (e.g. "model.layers"), the deepest list that holds most parameters.
    const lists = new Map<string, number>();
    for (const [p] of named) {
      const m = BLOCK.exec(p);
      if (m?.[1] !== undefined) lists.set(m[1], Math.max(lists.get(m[1]) ?? 0, Number(m[2]) + 1));
    }
    if (lists.size === 0)
      throw new Error('freezeExcept: lastLayers is set but the model has no numbered blocks (layers.N, h.N, layer.N)');
    if (lists.size > 1)
      throw new Error(
        `freezeExcept: several block lists (${[...lists.keys()].join(', ')}); name the blocks in modules instead`,
      );
    const [list, count] = [...lists][0] ?? ['', 0];
    if (n > count) throw new Error(`freezeExcept: lastLayers ${n} but ${list} has ${count} blocks`);
    for (const [p] of named) {
      const m = BLOCK.exec(p);
      if (m?.[1] === list && Number(m[2]) >= count - n) chosen.add(p);
    }
  }
  for (const name of opts.modules ?? []) {
    const hits = named.filter(([p]) => {
      const segs = p.split('.');
      // Module paths of p: every prefix of its segments, the parameter's own path included.
      for (let k = 1; k <= segs.length; k++) {
        const mod = segs.slice(0, k).join('.');
        if (mod === name || mod.endsWith(`.${name}`)) return true;
      }
      return false;
    });
    if (hits.length === 0)
      throw new Error(
        `freezeExcept: module "${name}" matches no parameter (a tied output head has no lm_head: name embed_tokens)`,
      );
    for (const [p] of hits) chosen.add(p);
  }
  if (chosen.size === 0) throw new Error('freezeExcept: nothing chosen to train (set lastLayers and/or modules)');
  for (const [p, t] of named) {
    if (chosen.has(p) && t.dtype !== 'f32')
      throw new Error(`freezeExcept: ${p} is ${t.dtype}; only float32 weights can train (load the model in float32)`);
    t.requiresGrad = chosen.has(p);
  }
  return named.filter(([p]) => chosen.has(p)).map(([p]) => p);
}
