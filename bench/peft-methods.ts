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
import { getPeftModel, type PeftModel } from '../src/peft/peft-model.js';
import { MoeLoraLinear } from '../src/peft/moe-lora/layer.js';
import { doraRowNorms, doraWeightNorms } from '../src/peft/lora/dora.js';
import { weightOutIn } from '../src/peft/lora/layer.js';
import { Linear } from '../src/nn/layers.js';
import { pTuningConfig, prefixTuningConfig, promptTuningConfig } from '../src/peft/prompt/config.js';
import { Rng } from '../src/tensor/random.js';
import { AdamW } from '../src/train/optim.js';
import { median } from './stats.js';

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
  prepare?: (peft: PeftModel) => void,
): { median_step_s: number; tokens_per_s: number; trainable: number; loss0: number } {
  const peft = getPeftModel(model(), config);
  prepare?.(peft);
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
  const med = median(times) ?? NaN;
  return {
    median_step_s: med,
    tokens_per_s: (SMALL.B * SMALL.T) / med,
    trainable: params.reduce((n, t) => n + t.size, 0),
    loss0,
  };
}

/** Every MoE layer of `peft` on the dense path (every expert on every token, then weighted). */
function denseMoe(peft: PeftModel): void {
  for (const [, m] of peft.model.namedModules()) if (m instanceof MoeLoraLinear) m.denseExperts = true;
}

/**
 * Each method beside plain LoRA; `vs` names another line of the same run that a method is also
 * compared with (top-k MoE computing only the routed experts vs the dense path; DoRA vs LoRA is vs_lora).
 */
export function benchPeftMethods(steps = 4, only?: readonly string[]): Record<string, unknown> {
  const moe = moeLoraConfig({ targetModules: ['c_attn'], r: SMALL.r, loraAlpha: 16, numExperts: 4, topK: 2 });
  const methods: Array<{ name: string; config: PeftConfigBase; prepare?: (p: PeftModel) => void; vs?: string }> = [
    { name: 'lora', config: loraConfig({ targetModules: ['c_attn'], r: SMALL.r, loraAlpha: 16 }) },
    { name: 'lora-all-linear', config: loraConfig({ targetModules: 'all-linear', r: SMALL.r, loraAlpha: 16 }) },
    { name: 'dora', config: loraConfig({ targetModules: ['c_attn'], r: SMALL.r, loraAlpha: 16, useDora: true }) },
    { name: 'ia3', config: ia3Config({}) },
    { name: 'prompt-tuning', config: promptTuningConfig({ numVirtualTokens: 16 }) },
    { name: 'p-tuning-mlp', config: pTuningConfig({ numVirtualTokens: 16 }) },
    { name: 'prefix-tuning', config: prefixTuningConfig({ numVirtualTokens: 16 }) },
    { name: 'moe-lora-4x-top2-dense', config: moe, prepare: denseMoe },
    { name: 'moe-lora-4x-top2', config: moe, vs: 'moe-lora-4x-top2-dense' },
  ];
  const wanted = only
    ? new Set(['lora', ...only, ...methods.filter((m) => only.includes(m.name)).map((m) => m.vs)])
    : null;
  const results: Record<string, Record<string, unknown>> = {};
  let base = NaN;
  for (const { name, config, prepare, vs } of methods) {
    if (wanted && !wanted.has(name)) continue;
    const r = timeSteps(config, steps, prepare);
    if (name === 'lora') base = r.tokens_per_s;
    const ratio = r.tokens_per_s / base;
    const other = vs ? results[vs]?.['tokens_per_s'] : undefined;
    const vsOther = typeof other === 'number' ? r.tokens_per_s / other : undefined;
    results[name] = { ...r, vs_lora: ratio, ...(vs && vsOther !== undefined ? { [`vs_${vs}`]: vsOther } : {}) };
    console.log(
      `  ${name.padEnd(22)} ${r.tokens_per_s.toFixed(0).padStart(7)} tok/s  ${(r.median_step_s * 1000).toFixed(0).padStart(6)} ms/step  x${ratio.toFixed(2)} of LoRA${vsOther !== undefined ? `  x${vsOther.toFixed(2)} of ${vs ?? ''}` : ''}  (${r.trainable} trainable)`,
    );
  }
  if (!wanted || wanted.has('dora')) results['dora-norms'] = benchDoraNorms();
  return results;
}

/**
 * DoRA's per-step weight norms on one SMALL c_attn (Conv1D [256, 768], r 8) and the same shape as
 * a Linear: the native-GEMM path the layer uses against the float64 JS loop (`doraRowNorms` on an
 * [out, in] copy, what the layer did before), in the same run.
 */
function benchDoraNorms(): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const I = SMALL.d,
    O = 3 * SMALL.d,
    r = SMALL.r;
  const b = F.randn([O, r], new Rng(2), 0.1).f32,
    a = F.randn([r, I], new Rng(3), 0.1).f32;
  const time = (f: () => void): number => {
    f();
    const t0 = performance.now();
    for (let i = 0; i < 30; i++) f();
    return (performance.now() - t0) / 30;
  };
  for (const weightInOut of [true, false]) {
    const base = new Linear(I, O, { rng: new Rng(1), weightInOut });
    const loop = time(() => doraRowNorms(weightOutIn(base), b, a, O, I, r, 2));
    const gemm = time(() => doraWeightNorms(base, b, a, r, 2));
    const key = weightInOut ? 'conv1d' : 'linear';
    out[key] = { gemm_ms: gemm, js_loop_ms: loop, speedup: loop / gemm };
    console.log(
      `  dora norms ${key.padEnd(11)} ${gemm.toFixed(2).padStart(7)} ms (GEMM)  ${loop.toFixed(2).padStart(7)} ms (float64 JS loop)  x${(loop / gemm).toFixed(1)}`,
    );
  }
  return out;
}
