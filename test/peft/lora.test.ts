import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Linear } from '../../src/nn/layers.js';
import { LoRALinear } from '../../src/peft/lora/layer.js';
import { PeftModel, getPeftModel } from '../../src/peft/peft-model.js';
import { loraConfig } from '../../src/peft/lora/config.js';
import type { LlamaForCausalLM } from '../../src/models/llama.js';
import { AdamW } from '../../src/train/optim.js';
import * as F from '../../src/tensor/ops.js';
import { Rng } from '../../src/tensor/random.js';
import { noGrad } from '../../src/tensor/tensor.js';
import { gradcheck } from '../helpers/gradcheck.js';
import { tinyLlama as tiny } from '../helpers/tiny-models.js';
import { assertClose } from '../helpers/close.js';
import { doraRowNorms, doraWeightNorms } from '../../src/peft/lora/dora.js';

const opts = { r: 4, loraAlpha: 8, loraDropout: 0, useRslora: false, initLoraWeights: 'default' as const };

test('a fresh LoRA layer equals its base; the update is scaling·B·A', () => {
  const base = new Linear(6, 5, { rng: new Rng(1) });
  const lora = LoRALinear.fromBase(base, opts);
  const x = F.randn([3, 6], new Rng(2));
  assert.deepEqual(lora.forward(x).toArray(), base.forward(x).toArray());
  assert.equal(lora.scaling, 2);
  lora.lora_B.get('default')!.weight = F.randn([5, 4], new Rng(3), 0.5, { requiresGrad: true });
  const y = lora.forward(x).f32;
  const A = lora.lora_A.get('default')!.weight.f32,
    B = lora.lora_B.get('default')!.weight.f32,
    W = base.weight.f32,
    b = base.bias!.f32;
  for (let i = 0; i < 3; i++)
    for (let o = 0; o < 5; o++) {
      let ref = b[o]!;
      for (let k = 0; k < 6; k++) {
        let delta = 0;
        for (let r = 0; r < 4; r++) delta += B[o * 4 + r]! * A[r * 6 + k]!;
        ref += x.f32[i * 6 + k]! * (W[o * 6 + k]! + 2 * delta);
      }
      assert.ok(Math.abs(y[i * 5 + o]! - ref) < 1e-5);
    }
});

test('plain adapters run as one fused loraLinear op; dropout in training takes the general path', () => {
  const base = new Linear(6, 5, { rng: new Rng(11) });
  const lora = LoRALinear.fromBase(base, { ...opts, loraDropout: 0.5 });
  lora.lora_B.get('default')!.weight = F.randn([5, 4], new Rng(12), 0.5, { requiresGrad: true });
  const x = F.randn([3, 6], new Rng(13));
  lora.train(false);
  const fused = lora.forward(x);
  assert.equal(fused.node?.op, 'loraLinear');
  lora.train(true);
  const general = lora.forward(x);
  assert.equal(general.node?.op, 'add');
  // Without dropout the general formula gives the fused result.
  const A = lora.lora_A.get('default')!.weight,
    B = lora.lora_B.get('default')!.weight;
  const plain = F.add(base.forward(x), F.linear(F.linear(x, A), B, null, { alpha: lora.scaling }));
  assertClose(fused.f32, plain.f32, { atol: 1e-6, rtol: 1e-5, message: 'fused vs general' });
});

test('LoRA gradients match finite differences; the base gets none', () => {
  const base = new Linear(5, 4, { rng: new Rng(4) });
  const lora = LoRALinear.fromBase(base, { ...opts, r: 2 });
  lora.lora_B.get('default')!.weight = F.randn([4, 2], new Rng(5), 0.5, { requiresGrad: true });
  const x = F.randn([3, 5], new Rng(6), 1, { requiresGrad: true });
  gradcheck(
    'lora',
    (v, a, b) => {
      lora.lora_A.get('default')!.weight = a;
      lora.lora_B.get('default')!.weight = b;
      return lora.forward(v);
    },
    [x, lora.lora_A.get('default')!.weight, lora.lora_B.get('default')!.weight],
  );
  assert.equal(base.weight.grad, null);
  assert.equal(base.weight.requiresGrad, false);
});

test('fuse() gives the same outputs as the LoRA layer, for Linear and Conv1D layouts', () => {
  for (const weightInOut of [false, true]) {
    const base = new Linear(6, 3, { rng: new Rng(7), weightInOut });
    const lora = LoRALinear.fromBase(base, opts);
    lora.lora_B.get('default')!.weight = F.randn([3, 4], new Rng(8), 0.3, { requiresGrad: true });
    const x = F.randn([2, 6], new Rng(9));
    const fused = lora.fuse();
    const a = lora.forward(x).toArray(),
      b = fused.forward(x).toArray();
    a.forEach((v, i) => assert.ok(Math.abs(v - b[i]!) < 1e-5, `${weightInOut}: ${v} vs ${b[i]}`));
  }
});

function tinyLlama(): LlamaForCausalLM {
  return tiny({ tie_word_embeddings: true }, 10).freeze();
}

test('getPeftModel on a Llama: PEFT key names, only adapters train, the loss falls', () => {
  const model = tinyLlama();
  // A unit-scale (tied) embedding, so that the logits can move far from uniform at all.
  model.model.embed_tokens.weight.f32.set(F.randn([32, 16], new Rng(11)).f32);
  const peft = getPeftModel(model, loraConfig({ targetModules: ['q_proj', 'v_proj'], r: 4, loraAlpha: 8 }));
  assert.deepEqual([...peft.adapterStateDict().keys()].slice(0, 2), [
    'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight',
    'base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight',
  ]);
  assert.equal(peft.adapterStateDict().size, 8);
  assert.equal(model.trainableParameters().length, 8);
  assert.deepEqual(
    peft.trainableParameters()[0]![0],
    'base_model.model.model.layers.0.self_attn.q_proj.lora_A.default.weight',
  );
  const trainable = model.trainableParameters();
  assert.ok(trainable.every(([p]) => /lora_[AB]\.default/.test(p)));
  const ids = Int32Array.from({ length: 24 }, (_, i) => (i * 7) % 32);
  const opt = new AdamW(
    trainable.map(([, t]) => t),
    { lr: 0.1, weightDecay: 0 },
  );
  const losses: number[] = [];
  for (let s = 0; s < 40; s++) {
    opt.zeroGrad();
    const { logits } = model.forward({ inputIds: ids.subarray(0, 23) });
    const loss = F.crossEntropy(logits, ids.slice(1));
    loss.backward();
    opt.step();
    losses.push(loss.item());
  }
  assert.ok(losses[39]! < losses[0]! * 0.5, `loss ${losses[0]} -> ${losses[39]}`);
  assert.ok(
    model
      .namedParameters()
      .filter(([p]) => !/lora_/.test(p))
      .every(([, t]) => t.grad === null),
    'frozen base has no gradients',
  );
  assert.throws(
    () => getPeftModel(tinyLlama(), loraConfig({ targetModules: ['nope'] })),
    /LoRA: no module of the model matches target_modules \["nope"\]/,
  );
  assert.throws(
    () => getPeftModel(tinyLlama(), loraConfig({ targetModules: ['mlp'] })),
    /target "model.layers.0.mlp" is a LlamaMLP; LoRA supports Linear/,
  );
});

test('gradients through a whole Llama with LoRA match finite differences', () => {
  const model = tinyLlama();
  getPeftModel(model, loraConfig({ targetModules: ['q_proj', 'o_proj', 'down_proj'], r: 2, loraAlpha: 4 }));
  const params = model.trainableParameters().map(([, t]) => t);
  for (const t of params) t.f32.set(F.randn(t.shape, new Rng(t.size + 1), 0.3).f32);
  const ids = Int32Array.from([3, 8, 1, 30, 12, 7]);
  gradcheck(
    'llama+lora',
    (...ps) => {
      ps.forEach((p, i) => assert.equal(p, params[i]));
      return model.forward({ inputIds: ids }).logits;
    },
    params,
    { probes: 4 },
  );
});

test('adapter folder: PEFT format, reload gives identical logits, merge keeps them', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tunekit-lora-'));
  try {
    const model = tinyLlama();
    const peft = getPeftModel(
      model,
      loraConfig({ targetModules: ['q_proj', 'v_proj'], r: 4, loraAlpha: 16, baseModelNameOrPath: 'stories260K' }),
    );
    for (const [, t] of model.trainableParameters()) t.f32.set(F.randn(t.shape, new Rng(t.size), 0.1).f32);
    peft.savePretrained(dir);
    const cfg = JSON.parse(readFileSync(join(dir, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
    assert.deepEqual(Object.keys(cfg), [...Object.keys(cfg)].sort(), 'keys sorted as PEFT writes them');
    assert.equal(cfg.peft_type, 'LORA');
    assert.equal(cfg.r, 4);
    assert.equal(cfg.lora_alpha, 16);
    assert.equal(cfg.inference_mode, true);
    const other = tinyLlama();
    const loaded = PeftModel.fromPretrained(other, dir);
    assert.equal(loaded.trainableParameterCounts()[0], 0, 'loaded for inference: nothing trains');
    const ids = Int32Array.from([1, 5, 9, 3]);
    const a = noGrad(() => model.forward({ inputIds: ids }).logits.toArray());
    const b = noGrad(() => other.forward({ inputIds: ids }).logits.toArray());
    assert.deepEqual(a, b);
    const merged = loaded.mergeAndUnload();
    assert.equal(merged.namedParameters().filter(([p]) => p.includes('lora_')).length, 0);
    const c = noGrad(() => merged.forward({ inputIds: ids }).logits.toArray());
    c.forEach((v, i) => assert.ok(Math.abs(v - a[i]!) < 1e-4));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('DoRA weight norms by native GEMM equal the float64 per-row reference (Linear and Conv1D layouts); W untouched', () => {
  const O = 7,
    I = 9,
    r = 3,
    s = 1.7;
  const rng = new Rng(21);
  const b = F.randn([O, r], rng, 0.5).f32,
    a = F.randn([r, I], rng, 0.5).f32;
  for (const weightInOut of [false, true]) {
    const base = new Linear(I, O, { rng: new Rng(22), weightInOut });
    const before = Float32Array.from(base.weight.f32);
    // [out, in] float64 copy of W for the reference.
    const w = new Float32Array(O * I);
    for (let o = 0; o < O; o++)
      for (let i = 0; i < I; i++) w[o * I + i] = before[weightInOut ? i * O + o : o * I + i] ?? NaN;
    assertClose([...doraWeightNorms(base, b, a, r, s)], [...doraRowNorms(w, b, a, O, I, r, s)], {
      rtol: 1e-6,
      message: `weightInOut ${weightInOut}`,
    });
    assert.deepEqual(base.weight.f32, before);
  }
});
