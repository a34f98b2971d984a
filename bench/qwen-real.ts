/**
 * A real-size workload: a Qwen2.5-0.5B-shaped model (hidden 896, 24 layers, 14 heads, 2 KV heads,
 * intermediate 4864, vocab 151936, tied embeddings; random weights from a seed), one LoRA step
 * (r 8 on q_proj and v_proj, AdamW) on 512 tokens, then greedy decoding with the KV cache, for a
 * compute dtype of the frozen base. Each dtype runs in its own process so that peak memory is its own:
 *
 *   node dist/bench/qwen-real.js [float32|bfloat16|int8] [STEPS]
 *
 * prints one JSON line. The weights are seeded uniform noise of std 0.02 (transformers' init
 * scale) from a counter hash that bench/torch_qwen.py reproduces with numpy, so PyTorch runs the
 * same model on the same tokens (equal step-0 losses show it).
 */
import { pathToFileURL } from 'node:url';
import { parseModelConfig, type DecoderConfig } from '../src/models/index.js';
import { LlamaForCausalLM } from '../src/models/llama.js';
import { kernels } from '../src/native/index.js';
import type { Module } from '../src/nn/module.js';
import { parseComputeDtype, setComputeDtype, type ComputeDtype } from '../src/nn/compute-dtype.js';
import { loraConfig } from '../src/peft/lora/config.js';
import { getPeftModel } from '../src/peft/peft-model.js';
import { noGrad } from '../src/tensor/tensor.js';
import { AdamW } from '../src/train/optim.js';
import { peakRssMb } from './peak-memory.js';
import { median } from './stats.js';

export const QWEN25_05B = {
  architectures: ['Qwen2ForCausalLM'],
  model_type: 'qwen2',
  vocab_size: 151936,
  hidden_size: 896,
  intermediate_size: 4864,
  num_hidden_layers: 24,
  num_attention_heads: 14,
  num_key_value_heads: 2,
  max_position_embeddings: 32768,
  rms_norm_eps: 1e-6,
  rope_theta: 1000000,
  tie_word_embeddings: true,
  use_sliding_window: false,
};

export interface QwenRealResult {
  computeDtype: ComputeDtype;
  engine: string;
  params: number;
  buildSeconds: number;
  stepTokens: number;
  stepSeconds: number[];
  trainTokensPerS: number;
  losses: number[];
  decodeTokens: number;
  decodeTokensPerS: number;
  maxrssMb: number;
}

/** FNV-1a of a string (the per-tensor seed, so the order parameters are visited in does not matter). */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/**
 * Seeded uniform noise of std 0.02 for every matrix, element i of tensor `name` from a counter
 * hash (murmur3's finaliser of i * golden + fnv1a(name) + seed), which bench/torch_qwen.py
 * computes identically with numpy: both sides hold the same weights.
 */
function randomQwen(seed: number): LlamaForCausalLM {
  const model = new LlamaForCausalLM(parseModelConfig(QWEN25_05B) as DecoderConfig, {
    configJson: QWEN25_05B,
    initWeights: false,
    seed,
  });
  fillCounterHash(model, seed);
  return model.freeze();
}

/**
 * Every matrix of `model` filled with the counter-hash noise (std 0.02) that the bench's PyTorch
 * scripts reproduce with numpy; norm weights 1, other vectors (biases) 0.
 */
export function fillCounterHash(model: Module, seed: number): void {
  const bound = 0.02 * Math.sqrt(3);
  for (const [name, p] of model.namedParameters()) {
    const data = p.f32;
    if (p.ndim < 2) {
      data.fill(/(norm|ln_\w+)\.weight$/.test(name) ? 1 : 0);
      continue;
    }
    const base = (fnv1a(name) + seed) >>> 0;
    for (let i = 0; i < data.length; i++) {
      let x = (Math.imul(i, 0x9e3779b1) + base) >>> 0;
      x ^= x >>> 16;
      x = Math.imul(x, 0x85ebca6b) >>> 0;
      x ^= x >>> 13;
      x = Math.imul(x, 0xc2b2ae35) >>> 0;
      x ^= x >>> 16;
      data[i] = (((x >>> 8) / 16777216) * 2 - 1) * bound;
    }
  }
}

export function runQwenReal(dtype: ComputeDtype, steps: number): QwenRealResult {
  const t0 = performance.now();
  const model = randomQwen(1);
  if (dtype !== 'float32') setComputeDtype(model, dtype);
  getPeftModel(model, loraConfig({ targetModules: ['q_proj', 'v_proj'], r: 8, loraAlpha: 16 }));
  const buildSeconds = (performance.now() - t0) / 1000;
  const lora = model.parameters().filter((t) => t.requiresGrad);
  const opt = new AdamW(lora, { lr: 1e-4 });
  const T = 512;
  const ids = Int32Array.from({ length: T }, (_, i) => 3 + ((i * 7919 + 11) % 151000));
  const stepSeconds: number[] = [];
  const losses: number[] = [];
  model.train();
  for (let s = 0; s < steps; s++) {
    const s0 = performance.now();
    opt.zeroGrad();
    const loss = model.forward({ inputIds: ids, labels: ids }).loss!;
    loss.backward();
    opt.step();
    stepSeconds.push((performance.now() - s0) / 1000);
    losses.push(loss.item());
  }
  model.eval();
  // Decode: a 32-token prompt, then tokens one at a time with the cache (greedy).
  const decodeTokens = 16;
  const decodeTime = noGrad(() => {
    const cache = model.newCache();
    let logits = model.forward({ inputIds: ids.subarray(0, 32), cache, logitsToKeep: 1 }).logits.f32;
    const d0 = performance.now();
    for (let i = 0; i < decodeTokens; i++) {
      let best = 0;
      for (let j = 1; j < logits.length; j++) if (logits[j]! > logits[best]!) best = j;
      logits = model.forward({ inputIds: Int32Array.of(best), cache, logitsToKeep: 1 }).logits.f32;
    }
    return (performance.now() - d0) / 1000;
  });
  const med = median(stepSeconds) ?? NaN; // as bench/torch_qwen.py's np.median
  return {
    computeDtype: dtype,
    engine: `tunekit-${kernels.name}-${kernels.simd}-${kernels.threads}t`,
    params: model.numParameters(),
    buildSeconds,
    stepTokens: T,
    stepSeconds,
    trainTokensPerS: T / med,
    losses,
    decodeTokens,
    decodeTokensPerS: decodeTokens / decodeTime,
    maxrssMb: peakRssMb(),
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const dtype = parseComputeDtype(process.argv[2] ?? 'float32', 'compute dtype');
  console.log(JSON.stringify(runQwenReal(dtype, Number(process.argv[3] ?? 1))));
}
