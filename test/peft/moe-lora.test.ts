/**
 * Mixture of LoRA experts: finite-difference gradients (soft and top-k routing), the
 * load-balancing loss against its float64 formula, and the method's evidence on stories260K.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Linear } from '../../src/nn/layers.js';
import { moeLoraConfig } from '../../src/peft/moe-lora/config.js';
import { MoeLoraLinear, loadBalancingLoss } from '../../src/peft/moe-lora/layer.js';
import * as F from '../../src/tensor/ops.js';
import { Rng } from '../../src/tensor/random.js';
import { gradcheck } from '../helpers/gradcheck.js';
import { assertClose } from '../helpers/close.js';
import { checkMethod } from '../helpers/peft-check.js';
import { skipWithoutShared } from '../helpers/shared.js';

test('MoE LoRA layer: starts as the base; gradients of router, A and B match finite differences (soft and top-2)', () => {
  for (const topK of [null, 2]) {
    const base = new Linear(6, 5, { rng: new Rng(1) }).freeze();
    const layer = new MoeLoraLinear(base, 0);
    layer.addAdapter('default', { r: 2, numExperts: 3, topK, scaling: 2, dropout: 0, seed: 4 });
    layer.setActive(['default']);
    const x = F.randn([4, 6], new Rng(2), 1, { requiresGrad: true });
    assert.deepEqual(layer.forward(x).f32, base.forward(x).f32, 'B = 0: the base layer');
    const m = layer.moe_lora.get('default')!;
    m.router.weight.f32.set(F.randn([3, 6], new Rng(3), 0.8).f32);
    for (const b of m.experts_B) b.weight.f32.set(F.randn(b.weight.shape, new Rng(b.weight.size + 5), 0.5).f32);
    const params = [m.router.weight, ...m.experts_A.map((a) => a.weight), ...m.experts_B.map((b) => b.weight)];
    // Top-k selection is piecewise constant: a small step keeps every token's choice.
    gradcheck(`moe (top_k ${topK})`, (v) => layer.forward(v), [x, ...params], { h: topK ? 2e-3 : 1e-2, atol: 3e-3 });
    assert.equal(base.weight.grad, null);
  }
});

test('MoE LoRA top-k: computing only the routed experts equals the dense path (outputs and every gradient)', () => {
  for (const topK of [1, 2, 3]) {
    const run = (dense: boolean): { y: Float32Array; grads: Float32Array[] } => {
      const base = new Linear(6, 5, { rng: new Rng(1) }).freeze();
      const layer = new MoeLoraLinear(base, 0);
      layer.addAdapter('default', { r: 2, numExperts: 4, topK, scaling: 2, dropout: 0, seed: 4 });
      layer.setActive(['default']);
      layer.denseExperts = dense;
      const m = layer.moe_lora.get('default')!;
      m.router.weight.f32.set(F.randn([4, 6], new Rng(3), 0.8).f32);
      for (const b of m.experts_B) b.weight.f32.set(F.randn(b.weight.shape, new Rng(b.weight.size + 5), 0.5).f32);
      const x = F.randn([2, 5, 6], new Rng(2), 1, { requiresGrad: true });
      const y = layer.forward(x);
      F.sum(F.mul(y, F.randn(y.shape, new Rng(9), 1))).backward();
      const params = [x, m.router.weight, ...m.experts_A.map((a) => a.weight), ...m.experts_B.map((b) => b.weight)];
      return { y: y.f32, grads: params.map((t) => t.grad ?? new Float32Array(t.size)) };
    };
    const sparse = run(false),
      dense = run(true);
    assert.deepEqual(sparse.y.length, 2 * 5 * 5);
    assertClose([...sparse.y], [...dense.y], { atol: 1e-6, message: `top-${topK} output` });
    sparse.grads.forEach((g, i) =>
      assertClose([...g], [...(dense.grads[i] ?? [])], { atol: 1e-5, message: `top-${topK} grad ${i}` }),
    );
  }
});

test('load-balancing loss = E · Σ f_e · mean(p_e) (f from the top expert), gradient by finite differences', () => {
  const logits = F.randn([7, 4], new Rng(8), 1.5, { requiresGrad: true });
  const probs = F.softmax(logits, -1);
  const loss = loadBalancingLoss(probs).item();
  const p = probs.f32;
  let ref = 0;
  for (let e = 0; e < 4; e++) {
    let f = 0,
      mean = 0;
    for (let n = 0; n < 7; n++) {
      const row = Array.from(p.subarray(n * 4, n * 4 + 4));
      if (row.indexOf(Math.max(...row)) === e) f += 1 / 7;
      mean += p[n * 4 + e]! / 7;
    }
    ref += f * mean;
  }
  assert.ok(Math.abs(loss - 4 * ref) < 1e-6, `${loss} vs ${4 * ref}`);
  gradcheck('balance', (l) => loadBalancingLoss(F.softmax(l, -1)), [logits], { h: 1e-3 });
});

test(
  'MoE LoRA on stories260K (top-2 of 4 experts, balancing loss in the objective)',
  { skip: skipWithoutShared('stories260K-hf') },
  () => {
    checkMethod(
      'moe-lora',
      moeLoraConfig({
        targetModules: ['q_proj', 'v_proj'],
        r: 4,
        loraAlpha: 8,
        numExperts: 4,
        topK: 2,
        routerAuxLossCoef: 0.01,
      }),
      { merge: false, expectPrefix: /\.moe_lora\.default\./ },
    );
  },
);
