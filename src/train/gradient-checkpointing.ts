/**
 * Gradient checkpointing (activation recomputation, Chen et al. 2016; transformers'
 * `gradient_checkpointing_enable`): a block's forward runs without recording its graph, keeping only
 * its input; backward runs the block again with recording on and back-propagates through that.
 * Memory for activations drops from every op of every block to one tensor per block, for about one
 * extra forward of compute.
 *
 * Random draws inside a block (dropout) are replayed: the block's generators are snapshotted before
 * the forward and restored for the recomputation (torch's preserve_rng_state), so gradients equal
 * the normal path exactly.
 */
import type { Module } from '../nn/module.js';
import type { Rng } from '../tensor/random.js';
import { Tensor, isGradEnabled, noGrad, result } from '../tensor/tensor.js';
import { moduleRngs } from './checkpoint.js';

/**
 * y = fn(x), recorded as one node whose backward recomputes fn. `params` are the trainable tensors
 * fn reads (so the output joins the graph even when x needs no gradient); `rngs` are replayed.
 */
export function checkpointed(
  fn: (x: Tensor) => Tensor,
  x: Tensor,
  params: readonly Tensor[],
  rngs: readonly Rng[] = [],
): Tensor {
  const trainable = params.filter((p) => p.requiresGrad);
  if (!isGradEnabled() || (!x.requiresGrad && trainable.length === 0)) return fn(x);
  const before = rngs.map((r) => r.state());
  const y = noGrad(() => fn(x));
  const after = rngs.map((r) => r.state());
  const saved = x.f32; // the block's input (x is not modified by later ops: tensors are immutable values)
  return result(y.f32, y.shape, 'checkpoint', [x, ...trainable], (g, ctx) => {
    rngs.forEach((r, i) => r.setState(before[i]!));
    const xin = new Tensor(saved, x.shape, { requiresGrad: x.requiresGrad });
    const out = fn(xin);
    rngs.forEach((r, i) => r.setState(after[i]!));
    if (out.requiresGrad) out.backward(g);
    if (xin.grad) ctx.accumulate(x, xin.grad);
  });
}

/** Block stacks: `layers.N` (Llama, Qwen), `h.N` (GPT-2), `layer.N` (BERT). */
const BLOCK_PATH = /(^|\.)(layers|h|layer)\.\d+$/;

type Forward = (this: Module, x: Tensor, ...rest: unknown[]) => Tensor;

/**
 * Turn on gradient checkpointing for every transformer block of `model` (or the given blocks).
 * Blocks called with a KV cache (generation), a prefix (prompt methods) or outside grad mode run
 * normally. Returns the number
 * of blocks wrapped; `disableGradientCheckpointing` undoes it.
 */
export function enableGradientCheckpointing(model: Module, blocks?: Module[]): number {
  const targets =
    blocks ??
    model
      .namedModules()
      .filter(([path]) => BLOCK_PATH.test(path))
      .map(([, m]) => m);
  if (targets.length === 0)
    throw new Error('gradient checkpointing: no transformer blocks found (layers.N, h.N or layer.N); pass the blocks');
  for (const block of targets) {
    const holder = block as unknown as { forward: Forward; __uncheckpointed?: Forward };
    if (holder.__uncheckpointed) continue;
    const original = holder.forward;
    Object.defineProperty(block, '__uncheckpointed', {
      value: original,
      enumerable: false,
      configurable: true,
      writable: true,
    });
    const wrapped: Forward = function (this: Module, x: Tensor, ...rest: unknown[]): Tensor {
      // A KV cache is appended to in place and a prefix (prompt methods) has its own graph:
      // recomputing either would be wrong, so those calls run normally.
      const usesCache = rest.some(
        (r) =>
          r !== null &&
          typeof r === 'object' &&
          ((r as { cache?: unknown }).cache || (r as { prefix?: unknown }).prefix),
      );
      if (usesCache) return original.call(block, x, ...rest);
      const params = block.parameters();
      const rngs = [...moduleRngs(block).values()];
      return checkpointed((xi) => original.call(block, xi, ...rest), x, params, rngs);
    };
    Object.defineProperty(block, 'forward', { value: wrapped, enumerable: false, configurable: true, writable: true });
  }
  return targets.length;
}

/** Turns gradient checkpointing off again. */
export function disableGradientCheckpointing(model: Module): void {
  for (const [, m] of model.namedModules()) {
    const holder = m as unknown as { __uncheckpointed?: Forward };
    if (holder.__uncheckpointed) {
      delete (m as unknown as { forward?: Forward }).forward;
      delete holder.__uncheckpointed;
    }
  }
}
