/**
 * Generation throughput with and without the KV cache, prefill and decode separately (greedy,
 * EOS disabled so every run produces the requested number of tokens):
 *  - stories260K (the repository's assets/stories260K, else shared/assets/stories260K-hf):
 *    a 32-token prompt, 64 new tokens;
 *  - a GPT-2-small-shaped model with random weights (d 768, 12 layers, 12 heads, vocab 50257):
 *    a 32-token prompt, 16 new tokens. Its matrices are filled with a cheap seeded uniform
 *    (std 0.02, as transformers' init) instead of the exact Gaussian init, which takes tens of
 *    seconds for 124M parameters and does not change the speed.
 * Without the cache every decode step re-runs the whole sequence, so its "decode tokens/s" counts
 * generated tokens, not positions computed. Each configuration runs once untimed first (warm-up).
 * The GPT-2-small-shaped model then decodes again with its matrices as bfloat16 and as int8
 * (computeDtype), printed as ratios against its float32 decode of the same run: decoding reads
 * every weight once per token, so it is bound by memory bandwidth and the byte width decides.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { generate, type GenerateResult } from '../src/generate/generate.js';
import { parseModelConfig, type Gpt2Config } from '../src/models/index.js';
import { AutoModelForCausalLM } from '../src/models/auto.js';
import type { CausalLM } from '../src/models/causal-lm.js';
import { GPT2LMHeadModel } from '../src/models/gpt2.js';
import { KVCache, type CachedKeyValues } from '../src/models/kv-cache.js';
import * as F from '../src/tensor/ops.js';
import type { Tensor } from '../src/tensor/tensor.js';
import { setComputeDtype } from '../src/nn/compute-dtype.js';
import { assetPath, repoRoot } from '../test/helpers/shared.js';

const PROMPT_TOKENS = 32;

interface Throughput {
  prefillTokensPerSecond: number;
  decodeTokensPerSecond: number;
  prefillMs: number;
  decodeMs: number;
  newTokens: number;
}

/** A deterministic prompt of `n` ids in [3, vocab) (avoiding the usual special ids 0-2). */
function syntheticPrompt(n: number, vocab: number): number[] {
  return Array.from({ length: n }, (_, i) => 3 + ((i * 7919 + 11) % (vocab - 3)));
}

function summarise(r: GenerateResult): Throughput {
  const t = r.timing;
  return {
    prefillTokensPerSecond: round(t.prefillTokensPerSecond),
    decodeTokensPerSecond: round(t.decodeTokensPerSecond),
    prefillMs: round(t.prefillMs),
    decodeMs: round(t.decodeMs),
    newTokens: r.tokens[0]!.length,
  };
}

function round(x: number): number {
  return Math.round(x * 10) / 10;
}

function measure(
  model: CausalLM,
  prompt: number[],
  newTokens: number,
): { cached: Throughput; uncached: Throughput; sameTokens: boolean } {
  const run = (useCache: boolean, n: number): GenerateResult =>
    generate(model, prompt, { maxNewTokens: n, eosTokenIds: [], useCache });
  run(true, 2); // warm-up
  const cached = run(true, newTokens);
  const uncached = run(false, newTokens);
  return {
    cached: summarise(cached),
    uncached: summarise(uncached),
    sameTokens: cached.tokens[0]!.join() === uncached.tokens[0]!.join(),
  };
}

function print(name: string, m: { cached: Throughput; uncached: Throughput; sameTokens: boolean }): void {
  for (const [label, t] of [
    ['KV cache', m.cached],
    ['no cache', m.uncached],
  ] as const) {
    console.log(
      `  ${name.padEnd(24)} ${label.padEnd(9)} prefill ${t.prefillTokensPerSecond.toFixed(1).padStart(8)} tok/s   decode ${t.decodeTokensPerSecond.toFixed(1).padStart(7)} tok/s`,
    );
  }
  const speedup =
    m.uncached.decodeTokensPerSecond > 0 ? m.cached.decodeTokensPerSecond / m.uncached.decodeTokensPerSecond : 0;
  console.log(
    `  ${name.padEnd(24)} decode speed-up from the cache ×${speedup.toFixed(2)}; identical tokens: ${m.sameTokens}`,
  );
}

/** A GPT-2-small-shaped model whose weight matrices hold seeded uniform noise of std 0.02. */
export function randomGpt2Small(): GPT2LMHeadModel {
  const configJson = {
    architectures: ['GPT2LMHeadModel'],
    model_type: 'gpt2',
    vocab_size: 50257,
    n_embd: 768,
    n_layer: 12,
    n_head: 12,
    n_positions: 1024,
  };
  const model = new GPT2LMHeadModel(parseModelConfig(configJson) as Gpt2Config, { configJson, initWeights: false });
  const bound = 0.02 * Math.sqrt(3);
  let x = 0x9e3779b9; // xorshift32 state
  for (const p of model.parameters()) {
    if (p.ndim < 2) continue; // LayerNorm 1/0 and zero biases stay as initialised
    const data = p.f32;
    for (let i = 0; i < data.length; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      data[i] = (((x >>> 0) / 4294967296) * 2 - 1) * bound;
    }
  }
  return model.freeze().eval();
}

/**
 * The cache as it was before it had capacity (the baseline of the long-sequence figures): every
 * append concatenates everything held with the new positions, O(held) per layer and token.
 */
class ConcatKVCache extends KVCache {
  private readonly held: Array<{ k: Tensor; v: Tensor } | null>;
  constructor(layers: number) {
    super(layers);
    this.held = new Array<{ k: Tensor; v: Tensor } | null>(layers).fill(null);
  }
  override get length(): number {
    return this.held[0]?.k.dim(2) ?? 0;
  }
  override update(i: number, k: Tensor, v: Tensor): CachedKeyValues {
    const prev = this.held[i];
    const next = prev ? { k: F.concat([prev.k, k], 2), v: F.concat([prev.v, v], 2) } : { k, v };
    this.held[i] = next;
    return { ...next, kvLength: next.k.dim(2) };
  }
}

/**
 * Decode tokens/s at long contexts, the capacity cache against the concatenating one, alternated
 * in the same run (each config twice, the best of two kept).
 */
export function benchLongContext(gpt2: GPT2LMHeadModel): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const newTokens = 16;
  for (const promptLen of [64, 512, 896]) {
    const prompt = syntheticPrompt(promptLen, 50257);
    const best = { capacity: 0, concat: 0 };
    for (let rep = 0; rep < 2; rep++) {
      for (const kind of ['concat', 'capacity'] as const) {
        const cache = kind === 'capacity' ? gpt2.newCache() : new ConcatKVCache(gpt2.config.numHiddenLayers);
        const r = generate(gpt2, prompt, { maxNewTokens: newTokens, eosTokenIds: [], useCache: true, cache });
        best[kind] = Math.max(best[kind], r.timing.decodeTokensPerSecond);
      }
    }
    const ratio = best.capacity / best.concat;
    console.log(
      `  GPT-2 small shape, context ${String(promptLen).padStart(4)}+${newTokens}: decode ${best.capacity.toFixed(1).padStart(6)} tok/s with the capacity cache, ${best.concat.toFixed(1).padStart(6)} concatenating  ×${ratio.toFixed(2)} (same run)`,
    );
    out[`context${promptLen}`] = {
      capacity: round(best.capacity),
      concat: round(best.concat),
      ratio: Math.round(ratio * 100) / 100,
    };
  }
  return out;
}

/** Runs the generation benchmark; prints a table and returns the figures. */
export function benchGenerate(): Record<string, unknown> {
  const results: Record<string, unknown> = { promptTokens: PROMPT_TOKENS };
  const inRepo = join(repoRoot, 'assets/stories260K');
  const storiesDir = existsSync(join(inRepo, 'config.json')) ? inRepo : assetPath('stories260K-hf');
  if (storiesDir) {
    const model = AutoModelForCausalLM.fromPretrained(storiesDir);
    const m = measure(model, syntheticPrompt(PROMPT_TOKENS, model.config.vocabSize), 64);
    print('stories260K', m);
    results.stories260K = { source: storiesDir, ...m };
  } else {
    console.log('  stories260K: absent (neither assets/stories260K nor shared/assets/stories260K-hf)');
    results.stories260K = 'absent';
  }

  const t0 = performance.now();
  const gpt2 = randomGpt2Small();
  const buildSeconds = round((performance.now() - t0) / 1000);
  const m = measure(gpt2, syntheticPrompt(PROMPT_TOKENS, 50257), 16);
  print('GPT-2 small shape (rand)', m);
  console.log(`  (building the random GPT-2-small-shaped model took ${buildSeconds} s, not included above)`);
  const longContext = benchLongContext(gpt2);
  const byDtype: Record<string, Throughput & { ratioToFloat32: number }> = {};
  const prompt = syntheticPrompt(PROMPT_TOKENS, 50257);
  const decodeOnly = (): Throughput => {
    generate(gpt2, prompt, { maxNewTokens: 2, eosTokenIds: [], useCache: true }); // warm-up
    return summarise(generate(gpt2, prompt, { maxNewTokens: 24, eosTokenIds: [], useCache: true }));
  };
  const base = decodeOnly();
  for (const dtype of ['float32', 'bfloat16', 'int8'] as const) {
    if (dtype !== 'float32') setComputeDtype(gpt2, dtype);
    const t = dtype === 'float32' ? base : decodeOnly();
    const ratio = base.decodeTokensPerSecond > 0 ? t.decodeTokensPerSecond / base.decodeTokensPerSecond : 0;
    byDtype[dtype] = { ...t, ratioToFloat32: round(ratio * 100) / 100 };
    console.log(
      `  GPT-2 small shape ${dtype.padEnd(8)} KV cache decode ${t.decodeTokensPerSecond.toFixed(1).padStart(7)} tok/s  ×${ratio.toFixed(2)} of float32 (same run)`,
    );
  }
  results.gpt2SmallRandom = {
    config: { d: 768, layers: 12, heads: 12, vocab: 50257 },
    buildSeconds,
    ...m,
    longContext,
    decodeByComputeDtype: byDtype,
  };
  return results;
}
