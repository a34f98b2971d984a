/**
 * Mistral/Qwen2 sliding-window attention (transformers: query q sees key k iff q - window < k <= q),
 * beyond the window, with and without the KV cache.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LlamaForCausalLM } from '../../src/models/llama.js';
import { noGrad } from '../../src/tensor/tensor.js';
import { llamaConfig } from '../helpers/tiny-models.js';

const W = 5;
function mistral(layers: number, window: number | null): LlamaForCausalLM {
  const json = {
    architectures: ['MistralForCausalLM'],
    model_type: 'mistral',
    vocab_size: 40,
    hidden_size: 16,
    intermediate_size: 24,
    num_hidden_layers: layers,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    max_position_embeddings: 64,
    rms_norm_eps: 1e-5,
    tie_word_embeddings: false,
    sliding_window: window,
  };
  return new LlamaForCausalLM(llamaConfig(json), { seed: 7, configJson: json });
}

const ids = Int32Array.from([5, 9, 2, 33, 7, 1, 19, 4, 4, 30, 12, 8, 3, 22, 17, 6]);
const V = 40;

test('one layer: each position equals full attention over exactly its last `window` tokens', () => {
  const windowed = mistral(1, W),
    full = mistral(1, null);
  assert.equal(windowed.config.slidingWindow, W);
  noGrad(() => {
    const all = windowed.forward({ inputIds: ids }).logits.f32;
    let differs = false;
    for (let t = 0; t < ids.length; t++) {
      const from = Math.max(0, t - W + 1);
      const sub = ids.subarray(from, t + 1);
      const positionIds = Int32Array.from(sub, (_, i) => from + i);
      const ref = full.forward({ inputIds: sub, positionIds }).logits.f32.subarray((sub.length - 1) * V);
      for (let j = 0; j < V; j++) assert.ok(Math.abs(all[t * V + j]! - ref[j]!) < 1e-5, `position ${t} logit ${j}`);
      if (t >= W) {
        const unwindowed = full.forward({ inputIds: ids.subarray(0, t + 1) }).logits.f32.subarray(t * V);
        if (unwindowed.some((x, j) => Math.abs(x - ref[j]!) > 1e-4)) differs = true;
      }
    }
    assert.ok(differs, 'beyond the window the result must differ from full attention');
  });
});

test('two layers: KV-cache decoding beyond the window equals the full windowed forward', () => {
  const model = mistral(2, W);
  noGrad(() => {
    const full = model.forward({ inputIds: ids }).logits.f32;
    const cache = model.newCache();
    const parts = [model.forward({ inputIds: ids.subarray(0, 3), cache }).logits.f32];
    for (let t = 3; t < ids.length; t++)
      parts.push(model.forward({ inputIds: ids.subarray(t, t + 1), cache }).logits.f32);
    const stitched = Float32Array.from(parts.flatMap((p) => [...p]));
    stitched.forEach((v, i) => assert.ok(Math.abs(v - full[i]!) < 1e-5, `logit ${i}: ${v} vs ${full[i]}`));
    assert.equal(cache.length, ids.length);
  });
});

test('Qwen2 applies its window only with use_sliding_window', () => {
  const base = {
    architectures: ['Qwen2ForCausalLM'],
    model_type: 'qwen2',
    vocab_size: 40,
    hidden_size: 16,
    intermediate_size: 24,
    num_hidden_layers: 1,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    max_position_embeddings: 64,
    sliding_window: 4,
  };
  assert.equal(llamaConfig(base).slidingWindow, null);
  assert.equal(llamaConfig({ ...base, use_sliding_window: true }).slidingWindow, 4);
});
