/**
 * Every method on the real stories260K model: a short run lowers the loss, the base weights stay
 * bit-for-bit, only the method's parameters get gradients, save -> load gives identical logits,
 * merged equals unmerged within 1e-5 (layer methods). Plus finite-difference checks per new layer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Embedding, Linear } from '../../src/nn/layers.js';
import { LlamaForCausalLM } from '../../src/models/llama.js';
import { ia3Config } from '../../src/peft/ia3/config.js';
import { IA3Linear } from '../../src/peft/ia3/layer.js';
import { loraConfig } from '../../src/peft/lora/config.js';
import { LoRAEmbedding, LoRALinear } from '../../src/peft/lora/layer.js';
import { getPeftModel } from '../../src/peft/peft-model.js';
import * as F from '../../src/tensor/ops.js';
import { Rng } from '../../src/tensor/random.js';
import { gradcheck } from '../helpers/gradcheck.js';
import { assetPath, skipWithoutShared } from '../helpers/shared.js';
import { maxDiff } from '../helpers/peft-folder.js';
import { checkMethod } from '../helpers/peft-check.js';

const STORIES = 'stories260K-hf';

test('LoRA on stories260K (rsLoRA, dropout, all-linear)', { skip: skipWithoutShared(STORIES) }, () => {
  checkMethod(
    'lora',
    loraConfig({ targetModules: 'all-linear', r: 4, loraAlpha: 8, useRslora: true, loraDropout: 0.05 }),
    { merge: true, expectPrefix: /\.lora_[AB]\.default\.weight$/ },
  );
});

test('DoRA on stories260K', { skip: skipWithoutShared(STORIES) }, () => {
  checkMethod(
    'dora',
    loraConfig({ targetModules: ['q_proj', 'v_proj', 'down_proj'], r: 4, loraAlpha: 8, useDora: true }),
    { merge: true, expectPrefix: /\.lora_([AB]\.default\.weight|magnitude_vector\.default)$/ },
  );
});

test(
  'IA3 on stories260K (default targets k/v/down_proj, down_proj feed-forward)',
  { skip: skipWithoutShared(STORIES) },
  () => {
    checkMethod('ia3', ia3Config({}), { merge: true, lr: 0.05, expectPrefix: /\.ia3_l\.default$/ });
  },
);

test('LoRA on the embedding table (tied head keeps the base table)', { skip: skipWithoutShared(STORIES) }, () => {
  checkMethod('lora-embed', loraConfig({ targetModules: ['embed_tokens', 'q_proj'], r: 4, loraAlpha: 4 }), {
    merge: false,
    expectPrefix: /\.lora_(embedding_[AB]|[AB])\.default(\.weight)?$/,
  });
  const model = LlamaForCausalLM.fromPretrained(assetPath(STORIES)!);
  const peft = getPeftModel(model, loraConfig({ targetModules: ['embed_tokens'], r: 2 }));
  assert.throws(
    () => peft.mergeAndUnload(),
    /"model\.embed_tokens" has LoRA on the input embeddings, which the output head shares/,
  );
});

test('finite differences: DoRA (magnitude and A/B; the norm is a constant), IA3 both placements, LoRA embedding', () => {
  for (const weightInOut of [false, true]) {
    const base = new Linear(5, 4, { rng: new Rng(1), weightInOut });
    const dora = LoRALinear.fromBase(base, { r: 2, loraAlpha: 4, useRslora: false, useDora: true });
    const A = dora.lora_A.get('default')!,
      B = dora.lora_B.get('default')!;
    B.weight = F.randn([4, 2], new Rng(2), 0.5, { requiresGrad: true });
    const m = dora.lora_magnitude_vector.get('default')!;
    const x = F.randn([3, 5], new Rng(3), 1, { requiresGrad: true });
    // With n detached, d/dB and d/dA are those of a function whose norm is frozen at the current
    // weights: compare against finite differences of that function.
    const n = Float32Array.from({ length: 4 }, (_, o) => {
      let s = 0;
      for (let i = 0; i < 5; i++) {
        let ba = 0;
        for (let k = 0; k < 2; k++) ba += B.weight.f32[o * 2 + k]! * A.weight.f32[k * 5 + i]!;
        const w = weightInOut ? base.weight.f32[i * 4 + o]! : base.weight.f32[o * 5 + i]!;
        s += (w + 2 * ba) ** 2;
      }
      return Math.sqrt(s);
    });
    gradcheck(
      `dora magnitude (${weightInOut})`,
      (v, mm) => {
        dora.lora_magnitude_vector.set('default', mm);
        return dora.forward(v);
      },
      [x, m],
    );
    const frozenNorm = (
      v: ReturnType<typeof F.randn>,
      a: ReturnType<typeof F.randn>,
      b: ReturnType<typeof F.randn>,
    ): ReturnType<typeof F.randn> => {
      const scale = F.div(m.detach(), F.tensor(n, [4]));
      const wx = F.linear(v, base.weight, null, { weightInOut });
      const lora = F.linear(F.linear(v, a), b);
      return F.add(base.forward(v), F.add(F.mul(wx, F.addScalar(scale, -1)), F.mul(lora, F.scale(scale, 2))));
    };
    const a0 = A.weight,
      b0 = B.weight;
    x.grad = null;
    a0.grad = null;
    b0.grad = null;
    const out = dora.forward(x);
    const w = F.randn(out.shape, new Rng(9), 1).f32;
    out.backward(w);
    const gA = Float32Array.from(a0.grad!),
      gB = Float32Array.from(b0.grad!);
    a0.grad = null;
    b0.grad = null;
    frozenNorm(x, a0, b0).backward(w);
    assert.ok(maxDiff(gA, a0.grad!) < 1e-5 && maxDiff(gB, b0.grad!) < 1e-5, 'DoRA A/B gradients treat n as a constant');
    gradcheck(`dora frozen-norm function (${weightInOut})`, frozenNorm, [x, a0, b0]);
  }
  for (const ff of [false, true]) {
    const base = new Linear(5, 4, { rng: new Rng(4) });
    const layer = new IA3Linear(base.freeze(), ff);
    layer.addAdapter('default', { init: false, seed: 3 });
    layer.setActive(['default']);
    const x = F.randn([2, 5], new Rng(5), 1, { requiresGrad: true });
    gradcheck(
      `ia3 (feedforward ${ff})`,
      (v, l) => {
        layer.ia3_l.set('default', l);
        return layer.forward(v);
      },
      [x, layer.ia3_l.get('default')!],
    );
    assert.equal(base.weight.grad, null);
  }
  const emb = new Embedding(7, 3, { rng: new Rng(6) });
  const le = new LoRAEmbedding(emb.freeze());
  le.addAdapter('default', { r: 2, loraAlpha: 4, useRslora: false, initLoraWeights: 'none', seed: 7 });
  le.setActive(['default']);
  const ids = Int32Array.from([1, 4, 4, 6]);
  gradcheck(
    'lora embedding',
    (a, b) => {
      le.lora_embedding_A.set('default', a);
      le.lora_embedding_B.set('default', b);
      return le.forward(ids, [2, 2]);
    },
    [le.lora_embedding_A.get('default')!, le.lora_embedding_B.get('default')!],
  );
});
