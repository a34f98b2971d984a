/**
 * computeDtype 'bfloat16' on a whole model: which tensors change, logits and LoRA gradients
 * against the float32 model within stated bounds, and a 50-step LoRA loss curve within 0.5%.
 *
 * Bounds: bf16 compute rounds each matrix input to bf16 (2^-9 relative), so logits move by a
 * few 1e-3 of their spread; LoRA gradients are compared with central finite differences of the
 * float32 model on the same (bf16-valued) weights: 5e-2 relative to the largest gradient entry.
 * Where the CPU lacks AVX512_BF16 (or on the TypeScript backend) bf16 weights are multiplied in
 * float32 and the same bounds hold with room to spare.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseModelConfig, type Gpt2Config } from '../../src/io/hf-config.js';
import { GPT2LMHeadModel } from '../../src/models/gpt2.js';
import { setComputeDtype, computeDtypeOf, parseComputeDtype } from '../../src/nn/compute-dtype.js';
import { loraConfig } from '../../src/peft/lora/config.js';
import { getPeftModel } from '../../src/peft/peft-model.js';
import * as F from '../../src/tensor/ops.js';
import { Rng } from '../../src/tensor/random.js';
import { noGrad, type Tensor } from '../../src/tensor/tensor.js';
import { AdamW } from '../../src/train/optim.js';
import { WType } from '../../src/native/kernels.js';

const json = {
  architectures: ['GPT2LMHeadModel'], model_type: 'gpt2', vocab_size: 97, n_embd: 48, n_head: 4, n_layer: 2,
  n_positions: 64, resid_pdrop: 0, embd_pdrop: 0, attn_pdrop: 0,
};

/** A frozen random GPT-2 with LoRA (B randomised so every adapter gradient is non-zero). */
function model(seed = 1): { m: GPT2LMHeadModel; lora: Tensor[] } {
  const m = new GPT2LMHeadModel(parseModelConfig(json) as Gpt2Config, { seed, configJson: json });
  m.freeze().eval();
  getPeftModel(m, loraConfig({ targetModules: ['c_attn', 'c_fc'], r: 4, loraAlpha: 8, loraDropout: 0 }));
  const rng = new Rng(seed + 10);
  for (const [path, t] of m.namedParameters()) {
    if (/\.lora_B\./.test(path)) m.setParameter(path, F.randn(t.shape, rng, 0.2, { requiresGrad: true }));
  }
  return { m, lora: m.namedParameters().filter(([, t]) => t.requiresGrad).map(([, t]) => t) };
}

/** 2 x 20 tokens: 40 rows, so the bf16 GEMM path (M >= 17) is taken. */
function batch(seed: number): { inputIds: Int32Array; labels: Int32Array; batchSize: number } {
  const rng = new Rng(seed);
  const ids = Int32Array.from({ length: 40 }, () => rng.int(97));
  return { inputIds: ids, labels: ids.slice(), batchSize: 2 };
}

test('setComputeDtype converts frozen matrices only, keeps ties, and can go back', () => {
  const { m } = model();
  const before = new Map(m.namedParameters());
  const n = setComputeDtype(m, 'bfloat16');
  assert.equal(computeDtypeOf(m), 'bfloat16');
  let converted = 0;
  for (const [path, t] of m.namedParameters()) {
    const old = before.get(path)!;
    if (old.requiresGrad || old.ndim < 2) {
      assert.equal(t, old, `${path} must be untouched`);
      assert.equal(t.dtype, 'f32');
    } else {
      converted++;
      assert.equal(t.dtype, 'bf16', path);
      assert.equal(t.wtype, WType.BF16Dot, path);
      // round to nearest: within 2^-9 relative of the float32 value
      const w = F.toF32(t).f32, o = old.f32;
      for (let i = 0; i < o.length; i += 97) assert.ok(Math.abs(w[i]! - o[i]!) <= Math.abs(o[i]!) * 2 ** -8, `${path}[${i}]`);
    }
  }
  assert.equal(n, converted);
  assert.ok(n >= 7, `converted ${n}`);
  // lm_head is tied to wte: still the same tensor
  assert.equal(m.inputEmbeddings(), m.transformer.wte.weight);
  setComputeDtype(m, 'float32');
  assert.equal(computeDtypeOf(m), 'float32');
  for (const [, t] of m.namedParameters()) assert.equal(t.dtype, 'f32');
  assert.throws(() => parseComputeDtype('int4'), /computeDtype: expected one of 'float32', 'bfloat16'.*"int4"/);
});

test('bf16 compute: logits and LoRA gradients within bf16 bounds of float32 (finite differences)', () => {
  const { m, lora } = model(2);
  setComputeDtype(m, 'bfloat16');
  const b = batch(3);
  // Analytic gradients under bf16 compute.
  const out = m.forward(b);
  out.loss!.backward();
  const grads = lora.map((t) => t.grad!.slice());
  const logitsBf = noGrad(() => m.forward(b).logits.f32.slice());
  // The float32 function of the same weights (bf16 values widened): the finite-difference reference.
  setComputeDtype(m, 'float32');
  const logits32 = noGrad(() => m.forward(b).logits.f32);
  let spread = 0, worst = 0;
  for (let i = 0; i < logits32.length; i++) {
    spread = Math.max(spread, Math.abs(logits32[i]!));
    worst = Math.max(worst, Math.abs(logits32[i]! - logitsBf[i]!));
  }
  assert.ok(worst <= 1e-2 * spread, `logits differ by ${worst} (spread ${spread})`);
  const lossAt = (): number => noGrad(() => m.forward(b).loss!.item());
  const rng = new Rng(5);
  const h = 1e-2;
  lora.forEach((t, ti) => {
    const g = grads[ti]!;
    let gmax = 0;
    for (const v of g) gmax = Math.max(gmax, Math.abs(v));
    assert.ok(gmax > 0, `adapter ${ti} has a zero gradient`);
    for (let p = 0; p < 6; p++) {
      const i = rng.int(t.size);
      const d = t.f32, orig = d[i]!;
      d[i] = orig + h; const lp = lossAt();
      d[i] = orig - h; const lm = lossAt();
      d[i] = orig;
      const num = (lp - lm) / (2 * h);
      assert.ok(Math.abs(num - g[i]!) <= 5e-2 * gmax + 1e-4, `adapter ${ti}[${i}]: bf16 analytic ${g[i]} vs float32 numeric ${num} (max |g| ${gmax})`);
    }
  });
});

test('50 LoRA steps: the bf16 loss curve stays within 0.5% of float32', () => {
  const run = (compute: 'float32' | 'bfloat16'): number[] => {
    const { m, lora } = model(4);
    // Both runs start from the same bf16-valued weights, so only the compute differs.
    setComputeDtype(m, 'bfloat16');
    if (compute === 'float32') setComputeDtype(m, 'float32');
    const opt = new AdamW(lora, { lr: 1e-2, weightDecay: 0 });
    const losses: number[] = [];
    for (let s = 0; s < 50; s++) {
      opt.zeroGrad();
      const loss = m.forward(batch(100 + (s % 4))).loss!;
      loss.backward();
      opt.step();
      losses.push(loss.item());
    }
    return losses;
  };
  const f32 = run('float32'), bf = run('bfloat16');
  assert.ok(f32[49]! < f32[0]! * 0.95, `the run must learn: ${f32[0]} -> ${f32[49]}`);
  for (let s = 0; s < 50; s++) {
    const rel = Math.abs(bf[s]! - f32[s]!) / f32[s]!;
    assert.ok(rel <= 5e-3, `step ${s}: bf16 ${bf[s]} vs float32 ${f32[s]} (${(rel * 100).toFixed(3)}%)`);
  }
});
