/**
 * The Llama forward against stories260K's reference outputs (an independent float64 numpy forward),
 * the KV cache against the full forward, and save/reload.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LlamaAttention, LlamaForCausalLM } from '../../src/models/llama.js';
import type { AttentionContext } from '../../src/models/attention.js';
import type { DecoderConfig } from '../../src/models/index.js';
import * as F from '../../src/tensor/ops.js';
import { type Tensor, noGrad } from '../../src/tensor/tensor.js';
import { assetPath, skipWithoutShared } from '../helpers/shared.js';
import { assertSaveReloadConformance } from '../helpers/causal-lm-conformance.js';
import { llamaConfig, TINY_LLAMA } from '../helpers/tiny-models.js';

const STORIES = 'stories260K-hf';

interface Reference {
  greedy: { prompt_ids: number[]; new_ids: number[]; last_logits_full: number[] };
  nll: { input_ids: number[]; n_predicted: number; mean_nll_nats: number; perplexity: number };
}

function argmax(a: Float32Array, off: number, n: number): number {
  let best = 0;
  for (let j = 1; j < n; j++) if (a[off + j]! > a[off + best]!) best = j;
  return best;
}

test('stories260K: last-position logits equal the reference within 1e-4', { skip: skipWithoutShared(STORIES) }, () => {
  const dir = assetPath(STORIES)!;
  const ref = JSON.parse(readFileSync(join(dir, 'reference_outputs.json'), 'utf8')) as Reference;
  const model = LlamaForCausalLM.fromPretrained(dir);
  const out = noGrad(() => model.forward({ inputIds: Int32Array.from(ref.greedy.prompt_ids) }));
  const V = model.config.vocabSize;
  const T = ref.greedy.prompt_ids.length;
  const last = out.logits.f32.subarray((T - 1) * V, T * V);
  let maxDiff = 0;
  ref.greedy.last_logits_full.forEach((v, i) => {
    maxDiff = Math.max(maxDiff, Math.abs(v - last[i]!));
  });
  assert.ok(maxDiff < 1e-4, `max |Δlogit| = ${maxDiff}`);
});

test(
  'stories260K: greedy continuation with the KV cache is token-identical',
  { skip: skipWithoutShared(STORIES) },
  () => {
    const dir = assetPath(STORIES)!;
    const ref = JSON.parse(readFileSync(join(dir, 'reference_outputs.json'), 'utf8')) as Reference;
    const model = LlamaForCausalLM.fromPretrained(dir);
    const V = model.config.vocabSize;
    const cache = model.newCache();
    const got: number[] = [];
    noGrad(() => {
      let ids = Int32Array.from(ref.greedy.prompt_ids);
      for (let i = 0; i < ref.greedy.new_ids.length; i++) {
        const { logits } = model.forward({ inputIds: ids, cache, logitsToKeep: 1 });
        const next = argmax(logits.f32, 0, V);
        got.push(next);
        if (next === 2) break; // EOS
        ids = Int32Array.from([next]);
      }
    });
    assert.deepEqual(got, ref.greedy.new_ids.slice(0, got.length));
    assert.equal(got.length, ref.greedy.new_ids.length);
  },
);

test('stories260K: perplexity on the TinyStories sample matches', { skip: skipWithoutShared(STORIES) }, () => {
  const dir = assetPath(STORIES)!;
  const ref = JSON.parse(readFileSync(join(dir, 'reference_outputs.json'), 'utf8')) as Reference;
  const model = LlamaForCausalLM.fromPretrained(dir);
  const ids = Int32Array.from(ref.nll.input_ids);
  const n = ref.nll.n_predicted;
  const loss = noGrad(() => {
    const { logits } = model.forward({ inputIds: ids.subarray(0, n) });
    return F.crossEntropy(logits, ids.slice(1, n + 1)).item();
  });
  assert.ok(Math.abs(loss - ref.nll.mean_nll_nats) < 1e-5, `mean NLL ${loss} vs ${ref.nll.mean_nll_nats}`);
  // transformers' labels convention: the model shifts, and the chunked head gives the same loss.
  const viaLabels = noGrad(() =>
    model.forward({ inputIds: ids.subarray(0, n + 1), labels: ids.subarray(0, n + 1) }).loss!.item(),
  );
  assert.ok(Math.abs(viaLabels - ref.nll.mean_nll_nats) < 1e-5, `labels loss ${viaLabels}`);
  assert.ok(Math.abs(Math.exp(loss) - ref.nll.perplexity) < 1e-4);
});

function tinyConfig(overrides: Record<string, unknown> = {}): DecoderConfig {
  return llamaConfig({
    ...TINY_LLAMA,
    vocab_size: 40,
    rms_norm_eps: 1e-5,
    tie_word_embeddings: false,
    ...overrides,
  });
}

/**
 * The attention as it ran before the copy-free path: heads split to [B, H, T, D], RoPE, attention,
 * heads merged back (what the cache and prefix paths still do).
 */
function attentionViaHeadCopies(
  this: LlamaAttention,
  x: Tensor,
  rope: { cos: Float32Array; sin: Float32Array },
  ctx: AttentionContext,
): Tensor {
  const { numAttentionHeads: H, numKeyValueHeads: Hkv, headDim: D } = this.config;
  const heads = (t: Tensor, n: number, norm: { forward(x: Tensor): Tensor } | null): Tensor => {
    const h = F.splitHeads(t, [n], D)[0]!;
    return norm ? norm.forward(h) : h;
  };
  const q = F.rope(heads(this.q_proj.forward(x), H, this.q_norm), rope.cos, rope.sin);
  const k = F.rope(heads(this.k_proj.forward(x), Hkv, this.k_norm), rope.cos, rope.sin);
  const v = heads(this.v_proj.forward(x), Hkv, null);
  const o = F.scaledDotProductAttention(q, k, v, {
    keyMask: ctx.keyMask,
    scale: 1 / Math.sqrt(D),
    window: this.config.slidingWindow ?? 0,
  });
  return this.o_proj.forward(F.mergeHeads(o));
}

test('training forward without head copies equals split heads + attention + merge (loss, logits, gradients)', () => {
  const variants: Array<[string, Record<string, unknown>]> = [
    ['llama gqa', {}],
    ['llama mha, 1 kv head', { num_key_value_heads: 1, num_attention_heads: 2 }],
    ['mistral window', { architectures: ['MistralForCausalLM'], model_type: 'mistral', sliding_window: 3 }],
    ['qwen2 biases', { architectures: ['Qwen2ForCausalLM'], model_type: 'qwen2' }],
    ['qwen3 qk-norm', { architectures: ['Qwen3ForCausalLM'], model_type: 'qwen3', head_dim: 8 }],
    ['rope linear', { rope_scaling: { rope_type: 'linear', factor: 2 } }],
    ['rope dynamic', { rope_scaling: { rope_type: 'dynamic', factor: 2 }, max_position_embeddings: 4 }],
    [
      'rope llama3',
      {
        rope_scaling: {
          rope_type: 'llama3',
          factor: 8,
          low_freq_factor: 1,
          high_freq_factor: 4,
          original_max_position_embeddings: 8,
        },
      },
    ],
    ['rope yarn', { rope_scaling: { rope_type: 'yarn', factor: 4, original_max_position_embeddings: 4 } }],
  ];
  // Two rows of 7: the first left-padded by 2 (its positions shift), labels with an ignored slot.
  const inputIds = Int32Array.from([0, 0, 5, 9, 2, 33, 7, 1, 19, 4, 4, 30, 12, 8]);
  const attentionMask = Uint8Array.from([0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]);
  const labels = Int32Array.from(inputIds, (id, i) => (attentionMask[i] ? id : -100));
  const copyFree = Object.getOwnPropertyDescriptor(LlamaAttention.prototype, 'forward')!;
  for (const [name, overrides] of variants) {
    const model = new LlamaForCausalLM(tinyConfig(overrides), { seed: 11 });
    // Sharper attention than the 0.02-std initialisation gives (near-uniform probabilities hide errors).
    for (const [n, p] of model.namedParameters())
      if (/[qk]_proj\.weight$/.test(n)) p.f32.forEach((v, i, a) => (a[i] = v * 25));
    const run = (): { loss: number; logits: Float32Array; grads: Array<[string, Float32Array]> } => {
      const params = model.namedParameters();
      for (const [, p] of params) p.grad = null;
      const out = model.forward({ inputIds, batchSize: 2, attentionMask, labels });
      out.loss!.backward();
      const grads = params.map(([n, p]): [string, Float32Array] => [n, p.grad ? p.grad.slice() : new Float32Array()]);
      return { loss: out.loss!.item(), logits: out.logits.f32.slice(), grads };
    };
    const got = run();
    try {
      Object.defineProperty(LlamaAttention.prototype, 'forward', { ...copyFree, value: attentionViaHeadCopies });
      const want = run();
      assert.ok(Math.abs(got.loss - want.loss) < 1e-5, `${name}: loss ${got.loss} vs ${want.loss}`);
      got.logits.forEach((v, i) => assert.ok(Math.abs(v - want.logits[i]!) < 1e-5, `${name}: logit ${i}`));
      got.grads.forEach(([n, g], j) => {
        const w = want.grads[j]![1];
        assert.ok(g.length > 0 && g.length === w.length, `${name}: ${n} has a gradient`);
        g.forEach((v, i) => assert.ok(Math.abs(v - w[i]!) < 1e-5 + 1e-4 * Math.abs(w[i]!), `${name}: ${n} [${i}]`));
      });
    } finally {
      Object.defineProperty(LlamaAttention.prototype, 'forward', copyFree);
    }
  }
});

test('KV cache: prefill + decode equals one full forward, also with left padding', () => {
  const model = new LlamaForCausalLM(tinyConfig(), { seed: 3 });
  const V = 40;
  const ids = Int32Array.from([5, 9, 2, 33, 7, 1, 19]);
  noGrad(() => {
    const full = model.forward({ inputIds: ids }).logits.f32;
    const cache = model.newCache();
    const a = model.forward({ inputIds: ids.subarray(0, 4), cache }).logits.f32;
    const b = model.forward({ inputIds: ids.subarray(4), cache }).logits.f32;
    const stitched = new Float32Array([...a, ...b]);
    stitched.forEach((v, i) => assert.ok(Math.abs(v - full[i]!) < 1e-5, `logit ${i}: ${v} vs ${full[i]}`));
    assert.equal(cache.length, 7);
    // Row 0 left-padded by 2: its real tokens must give the same logits as the unpadded sequence.
    const padded = Int32Array.from([0, 0, ...ids.subarray(0, 5), ...ids.subarray(0, 7)]);
    const mask = Uint8Array.from([0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]);
    const batch = model.forward({ inputIds: padded, batchSize: 2, attentionMask: mask }).logits.f32;
    const short = model.forward({ inputIds: ids.subarray(0, 5) }).logits.f32;
    for (let t = 0; t < 5; t++)
      for (let j = 0; j < V; j++) {
        assert.ok(Math.abs(batch[(2 + t) * V + j]! - short[t * V + j]!) < 1e-5, 'left-padded row');
        assert.ok(Math.abs(batch[(7 + t) * V + j]! - full[t * V + j]!) < 1e-5, 'unpadded row');
      }
  });
});

test('savePretrained then fromPretrained gives identical logits (float32 and bf16 weights)', () => {
  const model = new LlamaForCausalLM(
    tinyConfig({ architectures: ['Qwen3ForCausalLM'], model_type: 'qwen3', head_dim: 8 }),
    {
      seed: 4,
      configJson: {
        architectures: ['Qwen3ForCausalLM'],
        model_type: 'qwen3',
        vocab_size: 40,
        hidden_size: 16,
        intermediate_size: 24,
        num_hidden_layers: 2,
        num_attention_heads: 4,
        num_key_value_heads: 2,
        head_dim: 8,
        max_position_embeddings: 64,
        rms_norm_eps: 1e-5,
        tie_word_embeddings: false,
      },
    },
  );
  assert.ok(model.model.layers[0]!.self_attn.q_norm, 'Qwen3 has q/k norms');
  assertSaveReloadConformance(model, (dir, opts) => LlamaForCausalLM.fromPretrained(dir, opts));
});

test('rope scaling from config.json is applied: linear factor 2 at even positions = unscaled at half', () => {
  const plain = new LlamaForCausalLM(tinyConfig(), { seed: 5 });
  const scaled = new LlamaForCausalLM(tinyConfig({ rope_scaling: { rope_type: 'linear', factor: 2 } }), { seed: 5 });
  const ids = Int32Array.from([4, 8, 15, 16]);
  const a = noGrad(() => plain.forward({ inputIds: ids, positionIds: Int32Array.from([0, 1, 2, 3]) }).logits.toArray());
  const b = noGrad(() =>
    scaled.forward({ inputIds: ids, positionIds: Int32Array.from([0, 2, 4, 6]) }).logits.toArray(),
  );
  b.forEach((v, i) => assert.ok(Math.abs(v - a[i]!) < 1e-5));
  const c = noGrad(() => scaled.forward({ inputIds: ids }).logits.toArray());
  assert.ok(
    c.some((v, i) => Math.abs(v - a[i]!) > 1e-6),
    'positions 0..3 differ once scaled',
  );
  // The newer rope_parameters key (transformers v5) is read the same way.
  const v5 = new LlamaForCausalLM(
    tinyConfig({ rope_parameters: { rope_type: 'linear', factor: 2, rope_theta: 10000 } }),
    { seed: 5 },
  );
  const d = noGrad(() => v5.forward({ inputIds: ids }).logits.toArray());
  assert.deepEqual(d, c);
});

test('checkpoints stored in BF16 and F16 load widened to float32, or kept half with dtype auto', async () => {
  const { readSafetensors, writeSafetensors, f32ToBf16, f32ToF16, bf16ToF32, f16ToF32 } =
    await import('../../src/io/safetensors.js');
  const dir = mkdtempSync(join(tmpdir(), 'tunekit-llama-half-'));
  try {
    const model = new LlamaForCausalLM(tinyConfig(), {
      seed: 6,
      configJson: {
        architectures: ['LlamaForCausalLM'],
        vocab_size: 40,
        hidden_size: 16,
        intermediate_size: 24,
        num_hidden_layers: 2,
        num_attention_heads: 4,
        num_key_value_heads: 2,
        max_position_embeddings: 64,
        rms_norm_eps: 1e-5,
        tie_word_embeddings: false,
      },
    });
    model.savePretrained(dir);
    const file = join(dir, 'model.safetensors');
    const f32 = readSafetensors(file).tensors;
    const ids = Int32Array.from([2, 7, 1, 8]);
    for (const [dtype, narrow, widen] of [
      ['BF16', f32ToBf16, bf16ToF32],
      ['F16', f32ToF16, f16ToF32],
    ] as const) {
      const half = new Map(
        [...f32].map(([k, t]) => [k, { dtype, shape: t.shape, data: narrow(t.data as Float32Array) }]),
      );
      writeSafetensors(file, half, { format: 'pt' });
      // Expected: the float32 model with every weight rounded through the half type.
      const rounded = new LlamaForCausalLM(model.config, { seed: 6 });
      const state = new Map([...half].map(([k, t]) => [k, F.tensor(widen(t.data), t.shape)]));
      rounded.loadStateDict(state);
      const want = noGrad(() => rounded.forward({ inputIds: ids }).logits.toArray());
      const widened = LlamaForCausalLM.fromPretrained(dir);
      assert.equal(widened.model.layers[0]!.self_attn.q_proj.parameters()[0]!.dtype, 'f32');
      assert.deepEqual(
        noGrad(() => widened.forward({ inputIds: ids }).logits.toArray()),
        want,
      );
      const kept = LlamaForCausalLM.fromPretrained(dir, { dtype: 'auto' });
      assert.equal(kept.model.layers[0]!.self_attn.q_proj.parameters()[0]!.dtype, dtype === 'BF16' ? 'bf16' : 'f16');
      const got = noGrad(() => kept.forward({ inputIds: ids }).logits.toArray());
      got.forEach((v, i) => assert.ok(Math.abs(v - want[i]!) < 1e-5, `${dtype} kept half: ${v} vs ${want[i]}`));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
