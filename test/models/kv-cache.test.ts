/**
 * The KV cache with capacity: decoding token by token through its growing buffers equals the
 * uncached forward of the whole sequence (across capacity doublings, beyond a sliding window, with
 * a prefix held in the cache, for a left-padded batch), and the differentiable fallback still
 * carries gradients.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KVPrefix } from '../../src/models/attention.js';
import type { CausalLM } from '../../src/models/causal-lm.js';
import { GPT2LMHeadModel } from '../../src/models/gpt2.js';
import { KVCache } from '../../src/models/kv-cache.js';
import { setComputeDtype } from '../../src/nn/compute-dtype.js';
import { LlamaForCausalLM } from '../../src/models/llama.js';
import * as F from '../../src/tensor/ops.js';
import { Rng } from '../../src/tensor/random.js';
import { noGrad, Tensor } from '../../src/tensor/tensor.js';
import { assertClose } from '../helpers/close.js';
import { gpt2Config, llamaConfig } from '../helpers/tiny-models.js';

const V = 40;

function gpt2(): GPT2LMHeadModel {
  const json = {
    architectures: ['GPT2LMHeadModel'],
    model_type: 'gpt2',
    vocab_size: V,
    n_embd: 16,
    n_head: 4,
    n_layer: 2,
    n_positions: 128,
  };
  return new GPT2LMHeadModel(gpt2Config(json), { seed: 4, configJson: json }).eval();
}

/** Grouped-query attention (4 query heads, 2 kv heads), optionally with a sliding window. */
function mistral(window: number | null): LlamaForCausalLM {
  const json = {
    architectures: ['MistralForCausalLM'],
    model_type: 'mistral',
    vocab_size: V,
    hidden_size: 16,
    intermediate_size: 24,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    max_position_embeddings: 128,
    rms_norm_eps: 1e-5,
    sliding_window: window,
  };
  return new LlamaForCausalLM(llamaConfig(json), { seed: 7, configJson: json }).eval();
}

function tokens(n: number, seed: number): Int32Array {
  const rng = new Rng(seed);
  return Int32Array.from({ length: n }, () => 3 + Math.floor(rng.uniform() * (V - 3)));
}

/**
 * Feed `ids` [B, n] through `cache` in chunks (`first` tokens, then one at a time) and return the
 * logits of every position, [B, n, V], as the full forward lays them out.
 */
function decodeInSteps(
  model: CausalLM,
  ids: Int32Array,
  B: number,
  first: number,
  cache: KVCache,
  mask?: Uint8Array,
  extra: { prefix?: KVPrefix; maskPrefix?: number } = {},
): Float32Array {
  const n = ids.length / B;
  const out = new Float32Array(B * n * V);
  const cols = (a: Int32Array | Uint8Array, from: number, to: number): Int32Array =>
    Int32Array.from(
      { length: B * (to - from) },
      (_, i) => a[Math.floor(i / (to - from)) * n + from + (i % (to - from))]!,
    );
  let t = 0;
  while (t < n) {
    const step = t === 0 ? first : 1;
    const feed = cols(ids, t, t + step);
    const seen = t + step;
    const attentionMask = mask
      ? Uint8Array.from({ length: B * ((extra.maskPrefix ?? 0) + seen) }, (_, i) => {
          const w = (extra.maskPrefix ?? 0) + seen;
          const b = Math.floor(i / w);
          const c = (i % w) - (extra.maskPrefix ?? 0);
          return c < 0 ? 1 : mask[b * n + c]!;
        })
      : undefined;
    const logits = model.forward({
      inputIds: feed,
      batchSize: B,
      cache,
      ...(attentionMask ? { attentionMask } : {}),
      ...(extra.prefix ? { prefix: extra.prefix } : {}),
    }).logits.f32;
    for (let b = 0; b < B; b++) out.set(logits.subarray(b * step * V, (b + 1) * step * V), (b * n + t) * V);
    t = seen;
  }
  return out;
}

for (const [name, make] of [
  ['GPT-2', (): CausalLM => gpt2()],
  ['Mistral (grouped-query)', (): CausalLM => mistral(null)],
] as const) {
  test(`${name}: token-by-token decoding across capacity doublings equals the uncached forward`, () => {
    const model = make();
    const ids = tokens(70, 1);
    noGrad(() => {
      const full = model.forward({ inputIds: ids }).logits.f32;
      const cache = model.newCache();
      const capacities = new Set<number>();
      const got = decodeInSteps(model, ids.subarray(0, 5), 1, 5, cache);
      capacities.add(cache.capacity());
      let t = 5;
      const rest = new Float32Array(full.length);
      rest.set(got);
      for (; t < ids.length; t++) {
        const l = model.forward({ inputIds: ids.subarray(t, t + 1), cache }).logits.f32;
        rest.set(l, t * V);
        capacities.add(cache.capacity());
        assert.equal(cache.length, t + 1);
      }
      assertClose(rest, full, { atol: 2e-5, message: 'cached decode vs full forward' });
      // 70 positions went through 16, 32, 64 and 128: the buffers doubled rather than grew per token.
      assert.deepEqual([...capacities], [16, 32, 64, 128]);
      // What the cache holds is exactly what a fresh prefill of the same tokens holds.
      const fresh = model.newCache();
      model.forward({ inputIds: ids, cache: fresh });
      cache.layers.forEach((l, i) => {
        const f = fresh.layers[i];
        assert.ok(l && f);
        assert.deepEqual(l.k.shape, f.k.shape);
        assertClose(l.k.f32, f.k.f32, { atol: 1e-5, message: `layer ${i} keys` });
        assertClose(l.v.f32, f.v.f32, { atol: 1e-5, message: `layer ${i} values` });
      });
    });
  });
}

test('sliding window: decoding far beyond the window through the cache equals the uncached windowed forward', () => {
  const model = mistral(4);
  const ids = tokens(40, 2);
  noGrad(() => {
    const full = model.forward({ inputIds: ids }).logits.f32;
    const got = decodeInSteps(model, ids, 1, 3, model.newCache());
    assertClose(got, full, { atol: 2e-5, message: 'windowed cached decode' });
    // The window matters here: without it the last position differs.
    const unwindowed = mistral(null).forward({ inputIds: ids }).logits.f32;
    const last = (a: Float32Array): Float32Array => a.subarray((ids.length - 1) * V);
    assert.ok(last(unwindowed).some((x, j) => Math.abs(x - last(full)[j]!) > 1e-4));
  });
});

test('a left-padded batch decodes through the cache as the uncached masked forward', () => {
  const model = mistral(null);
  const B = 2,
    n = 24;
  const ids = tokens(B * n, 3);
  const mask = new Uint8Array(B * n).fill(1);
  for (let i = 0; i < 5; i++) {
    mask[n + i] = 0; // row 1 is left-padded by 5
    ids[n + i] = 0;
  }
  noGrad(() => {
    const full = model.forward({ inputIds: ids, batchSize: B, attentionMask: mask }).logits.f32;
    const got = decodeInSteps(model, ids, B, 7, model.newCache(), mask);
    // Compare the real positions only (padding rows' logits are not meaningful).
    for (let b = 0; b < B; b++)
      for (let t = 0; t < n; t++) {
        if (mask[b * n + t] === 0) continue;
        const at = (b * n + t) * V;
        assertClose(got.subarray(at, at + V), full.subarray(at, at + V), { atol: 2e-5, message: `row ${b} pos ${t}` });
      }
  });
});

test('a prefix seeds the cache once: later steps need not pass it, passing it again is accepted, another is refused', () => {
  const model = mistral(null);
  const P = 6;
  const ids = tokens(30, 4);
  noGrad(() => {
    // A prefix built by running P tokens: its keys/values are what the cache of those tokens holds.
    const built = model.newCache();
    model.forward({ inputIds: ids.subarray(0, P), cache: built });
    const prefix: KVPrefix = built.layers.map((l) => {
      if (!l) throw new Error('empty layer');
      return l;
    });
    const full = model.forward({ inputIds: ids }).logits.f32.subarray(P * V);
    const rest = ids.subarray(P);

    const cache = model.newCache();
    const first = model.forward({ inputIds: rest.subarray(0, 3), prefix, cache }).logits.f32;
    assert.equal(cache.prefixLength, P);
    assert.equal(cache.length, 3);
    const got = new Float32Array(full.length);
    got.set(first);
    for (let t = 3; t < rest.length; t++) {
      // Even steps pass the prefix again, odd steps rely on the cache.
      const l = model.forward({ inputIds: rest.subarray(t, t + 1), cache, ...(t % 2 === 0 ? { prefix } : {}) }).logits
        .f32;
      got.set(l, t * V);
    }
    assert.equal(cache.length, rest.length);
    assertClose(got, full, { atol: 2e-5, message: 'prefix held in the cache' });

    // With a mask, which covers the prefix positions too.
    const masked = model.newCache();
    const gm = decodeInSteps(model, rest, 1, 2, masked, new Uint8Array(rest.length).fill(1), {
      prefix,
      maskPrefix: P,
    });
    assertClose(gm, full, { atol: 2e-5, message: 'prefix + mask' });

    // truncate keeps the prefix and the first n cached positions.
    cache.truncate(4);
    assert.equal(cache.length, 4);
    assert.equal(cache.prefixLength, P);
    const again = model.forward({ inputIds: rest.subarray(4, 5), cache }).logits.f32;
    assertClose(again, full.subarray(4 * V, 5 * V), { atol: 2e-5, message: 'after truncate' });

    const other: KVPrefix = prefix.map(({ k, v }) => ({ k: F.scale(k, 2), v }));
    assert.throws(() => model.forward({ inputIds: rest.subarray(5, 6), cache, prefix: other }), /different prefix/);
  });
});

test('appending a tensor that needs a gradient keeps the cache differentiable (concatenation fallback)', () => {
  const cache = new KVCache(1);
  const a = noGrad(
    () =>
      new Tensor(
        Float32Array.from({ length: 8 }, (_, i) => i),
        [1, 1, 4, 2],
      ),
  );
  noGrad(() => cache.update(0, a, a)); // buffer mode
  assert.equal(cache.capacity(), 16);
  const w = new Tensor(Float32Array.from([1, 2, 3, 4]), [1, 1, 2, 2], { requiresGrad: true });
  const { k, v, kvLength } = cache.update(0, w, F.scale(w, 3));
  assert.equal(kvLength, 6);
  assert.deepEqual(k.shape, [1, 1, 6, 2]);
  F.sum(F.add(k, v)).backward();
  // d/dw of sum(w) + sum(3w) = 4 everywhere.
  assert.deepEqual(Array.from(w.grad ?? []), [4, 4, 4, 4]);
  assert.deepEqual(Array.from(k.f32.subarray(0, 8)), Array.from(a.f32));
  assert.throws(() => cache.update(0, new Tensor(new Float32Array(6), [1, 1, 2, 3]), w), /must both be|cannot append/);
});

for (const dtype of ['int8', 'bfloat16'] as const) {
  test(`${dtype} weights: cached decode (one-row products) equals the uncached forward (many-row products)`, () => {
    for (const model of [gpt2(), mistral(null)] as CausalLM[]) {
      assert.ok(setComputeDtype(model.freeze(), dtype) > 0);
      const ids = tokens(20, 5);
      noGrad(() => {
        const full = model.forward({ inputIds: ids }).logits.f32;
        const got = decodeInSteps(model, ids, 1, 1, model.newCache());
        // Same stored weights on both paths. int8: only the summation order differs. bf16: the
        // many-row GEMM also rounds the activations to bf16 (2^-8 relative, WType.BF16Dot) and the
        // one-row product does not; logits here are up to ~0.4, so 4e-3 is ~1% of the largest.
        assertClose(got, full, { atol: dtype === 'int8' ? 1e-5 : 4e-3, message: `${dtype} decode` });
      });
    }
  });
}

test('appendPacked + cachedPackedAttention equal splitHeads + update + attention (GQA, growth, padding, window); fallbacks and refusals', () => {
  const rng = new Rng(21);
  const [B, H, Hkv, D] = [2, 4, 2, 3];
  const C = (H + 2 * Hkv) * D;
  const packed = new KVCache(1);
  const split = new KVCache(1);
  let S = 0;
  // A 5-token prefill, then single tokens: 5 + 14 positions cross the 16-position first capacity.
  for (const T of [5, ...new Array<number>(14).fill(1)]) {
    const qkv = F.tensor(
      Array.from({ length: B * T * C }, () => rng.normal()),
      [B, T, C],
    );
    S += T;
    const keyMask = Uint8Array.from({ length: B * S }, (_, i) => (i === 1 || i === S + 3 ? 0 : 1));
    for (const window of [0, 6]) {
      // Only the first pass appends; the second attends again over the same keys with a window.
      const got =
        window === 0 ? packed.appendPacked(0, qkv, H, Hkv) : { ...packed.layers[0]!, kvLength: packed.length };
      assert.ok(got);
      assert.equal(got.kvLength, S);
      const [q, k, v] = F.splitHeads(qkv, [H, Hkv, Hkv], D) as [Tensor, Tensor, Tensor];
      const want = window === 0 ? split.update(0, k, v) : { ...split.layers[0]!, kvLength: split.length };
      const opts = { causal: true, keyMask, scale: 0.7, window };
      const out = F.cachedPackedAttention(qkv, H, got, { ...opts, kvHeads: Hkv });
      const ref = F.mergeHeads(F.scaledDotProductAttention(q, want.k, want.v, { ...opts, kvLength: want.kvLength }));
      assertClose(out.f32, ref.f32, { atol: 1e-6, message: `T ${T}, S ${S}, window ${window}` });
    }
  }
  assert.equal(packed.capacity(0), 32);
  assert.deepEqual(packed.layers[0]!.k.f32, split.layers[0]!.k.f32);
  assert.deepEqual(packed.layers[0]!.v.f32, split.layers[0]!.v.f32);

  // Not in place: a qkv that needs a gradient while recording, or a layer of differentiable tensors.
  const trainable = F.tensor(new Array<number>(C).fill(0.5), [1, 1, C]);
  trainable.requiresGrad = true;
  assert.equal(new KVCache(1).appendPacked(0, trainable, H, Hkv), null);
  assert.throws(() => F.cachedPackedAttention(trainable, H, got0(), { kvHeads: Hkv }), /needs a gradient/);
  const graph = new KVCache(1);
  const part = F.tensor(new Array<number>(Hkv * D).fill(1), [1, Hkv, 1, D]);
  part.requiresGrad = true;
  graph.update(0, part, part);
  assert.equal(graph.appendPacked(0, F.tensor(new Array<number>(C).fill(1), [1, 1, C]), H, Hkv), null);
  // Bad shapes name what was expected.
  assert.throws(() => new KVCache(1).appendPacked(0, F.tensor([1, 2, 3], [1, 1, 3]), H, Hkv), /qkv must be/);
  assert.throws(
    () => packed.appendPacked(0, F.tensor(new Array<number>(C).fill(1), [1, 1, C]), H, Hkv),
    /holds \[2, 2/,
  );
  assert.throws(() => packed.appendPacked(1, trainable, H, Hkv), /layer 1 is out of range/);
  // A subclass that keeps its appends in its own storage (overriding update) gets every one of them,
  // also from GPT-2's decoding, and decodes what the base cache decodes.
  class Counting extends KVCache {
    updates = 0;
    override update(i: number, k: Tensor, v: Tensor): ReturnType<KVCache['update']> {
      this.updates++;
      return super.update(i, k, v);
    }
  }
  const counting = new Counting(2);
  assert.equal(counting.appendPacked(0, F.tensor(new Array<number>(C).fill(1), [1, 1, C]), H, Hkv), null);
  const model = gpt2();
  const ids = [3, 9, 4, 1];
  const viaSubclass = noGrad(() => {
    model.forward({ inputIds: Int32Array.from(ids.slice(0, 3)), cache: counting });
    return model.forward({ inputIds: Int32Array.of(ids[3]!), cache: counting }).logits.f32;
  });
  const base = new KVCache(2);
  const viaBase = noGrad(() => {
    model.forward({ inputIds: Int32Array.from(ids.slice(0, 3)), cache: base });
    return model.forward({ inputIds: Int32Array.of(ids[3]!), cache: base }).logits.f32;
  });
  assert.equal(counting.updates, 4); // two layers, two calls
  assertClose(viaSubclass, viaBase, { atol: 1e-6 });

  function got0(): { k: Tensor; v: Tensor; kvLength: number } {
    return { ...packed.layers[0]!, kvLength: 1 };
  }
});
