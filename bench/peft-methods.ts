/**
 * Training-step throughput of every PEFT method on the SMALL workload of bench/lora-step.ts
 * (GPT-2 shape d 256, 4 heads, 4 layers, T 128, B 8, vocab 4096; sizes from
 * shared/bench/pytorch-baseline/sizes.json, built here with transformers' init so no Python is
 * needed), each beside plain LoRA (r 8, alpha 16, on c_attn) measured in the same run.
 *
 * One step = forward with labels, backward, AdamW on the method's trainable parameters.
 */
import { parseModelConfig, type Gpt2Config } from '../src/models/index.js';
import { GPT2LMHeadModel } from '../src/models/gpt2.js';
import type { PeftConfigBase } from '../src/peft/config.js';
import { ia3Config } from '../src/peft/ia3/config.js';
import { moeLoraConfig } from '../src/peft/moe-lora/config.js';
import * as F from '../src/tensor/ops.js';
import { loraConfig } from '../src/peft/lora/config.js';
import { getPeftModel } from '../src/peft/peft-model.js';
import { pTuningConfig, prefixTuningConfig, promptTuningConfig } from '../src/peft/prompt/config.js';
import { Rng } from '../src/tensor/random.js';
import { AdamW } from '../src/train/optim.js';

const SMALL = { d: 256, h: 4, L: 4, T: 128, B: 8, V: 4096, r: 8 };

function model(): GPT2LMHeadModel {
  const json = {
    architectures: ['GPT2LMHeadModel'],
    model_type: 'gpt2',
    vocab_size: SMALL.V,
    n_embd: SMALL.d,
    n_head: SMALL.h,
    n_layer: SMALL.L,
    n_positions: 256,
    resid_pdrop: 0,
    embd_pdrop: 0,
    attn_pdrop: 0,
    activation_function: 'gelu_new',
  };
  return new GPT2LMHeadModel(parseModelConfig(json) as Gpt2Config, { seed: 1, configJson: json }).freeze();
}

/** Median seconds per step (after one warm-up step) and the trainable parameter count. */
function timeSteps(
  config: PeftConfigBase,
  steps: number,
): { median_step_s: number; tokens_per_s: number; trainable: number; loss0: number } {
  const peft = getPeftModel(model(), config);
  peft.train();
  const params = peft.trainableParameters().map(([, t]) => t);
  const opt = new AdamW(params, { lr: 0.01, weightDecay: 0.01 });
  const rng = new Rng(3);
  const ids = Int32Array.from({ length: SMALL.B * SMALL.T }, () => rng.int(SMALL.V));
  const times: number[] = [];
  let loss0 = NaN;
  for (let s = 0; s <= steps; s++) {
    const t0 = performance.now();
    opt.zeroGrad();
    const out = peft.forward({ inputIds: ids, batchSize: SMALL.B, labels: ids });
    const extra = peft.extraLoss();
    const loss = extra ? F.add(out.loss!, extra) : out.loss!;
    loss.backward();
    opt.step();
    if (s === 0) loss0 = loss.item();
    else times.push((performance.now() - t0) / 1000);
  }
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)] ?? NaN;
  return {
    median_step_s: median,
    tokens_per_s: (SMALL.B * SMALL.T) / median,
    trainable: params.reduce((n, t) => n + t.size, 0),
    loss0,
  };
}

export function benchPeftMethods(steps = 4): Record<string, unknown> {
  const methods: Array<[string, PeftConfigBase]> = [
    ['lora', loraConfig({ targetModules: ['c_attn'], r: SMALL.r, loraAlpha: 16 })],
    ['lora-all-linear', loraConfig({ targetModules: 'all-linear', r: SMALL.r, loraAlpha: 16 })],
    ['dora', loraConfig({ targetModules: ['c_attn'], r: SMALL.r, loraAlpha: 16, useDora: true })],
    ['ia3', ia3Config({})],
    ['prompt-tuning', promptTuningConfig({ numVirtualTokens: 16 })],
    ['p-tuning-mlp', pTuningConfig({ numVirtualTokens: 16 })],
    ['prefix-tuning', prefixTuningConfig({ numVirtualTokens: 16 })],
    [
      'moe-lora-4x-top2',
      moeLoraConfig({ targetModules: ['c_attn'], r: SMALL.r, loraAlpha: 16, numExperts: 4, topK: 2 }),
    ],
  ];
  const results: Record<string, unknown> = {};
  let base = NaN;
  for (const [name, config] of methods) {
    const r = timeSteps(config, steps);
    if (name === 'lora') base = r.tokens_per_s;
    const ratio = r.tokens_per_s / base;
    results[name] = { ...r, vs_lora: ratio };
    console.log(
      `  ${name.padEnd(16)} ${r.tokens_per_s.toFixed(0).padStart(7)} tok/s  ${(r.median_step_s * 1000).toFixed(0).padStart(6)} ms/step  x${ratio.toFixed(2)} of LoRA  (${r.trainable} trainable)`,
    );
  }
  return results;
}
