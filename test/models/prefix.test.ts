/**
 * The one hook every model has for extra keys/values (`prefix`) and soft inputs (`inputsEmbeds`):
 * a prefix built by running P tokens gives what the cache of those tokens gives (so positions, masks
 * and grouped-query heads line up), and finite differences reach prefix tensors and input embeddings.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KVPrefix } from '../../src/models/attention.js';
import { BertModel } from '../../src/models/bert.js';
import type { CausalLM } from '../../src/models/causal-lm.js';
import { GPT2LMHeadModel } from '../../src/models/gpt2.js';
import { LlamaForCausalLM } from '../../src/models/llama.js';
import * as F from '../../src/tensor/ops.js';
import { Rng } from '../../src/tensor/random.js';
import { noGrad, type Tensor } from '../../src/tensor/tensor.js';
import { assertClose } from '../helpers/close.js';
import { gradcheck } from '../helpers/gradcheck.js';
import { bertConfig, gpt2Config, llamaConfig, TINY_LLAMA, TINY_GPT2 } from '../helpers/tiny-models.js';

const V = 40;

/** Grouped-query attention: 4 query heads share 2 key/value heads. */
function llama(): LlamaForCausalLM {
  const json = {
    ...TINY_LLAMA,
    vocab_size: V,
    rms_norm_eps: 1e-5,
  };
  return new LlamaForCausalLM(llamaConfig(json), { seed: 3, configJson: json }).eval();
}

function gpt2(): GPT2LMHeadModel {
  const json = {
    ...TINY_GPT2,
    vocab_size: V,
  };
  return new GPT2LMHeadModel(gpt2Config(json), { seed: 4, configJson: json }).eval();
}

function bert(): BertModel {
  const json = {
    architectures: ['BertModel'],
    model_type: 'bert',
    vocab_size: V,
    hidden_size: 16,
    num_attention_heads: 4,
    num_hidden_layers: 2,
    intermediate_size: 32,
    max_position_embeddings: 24,
    type_vocab_size: 2,
  };
  return new BertModel(bertConfig(json), { seed: 5, configJson: json }).eval();
}

/** The per-layer keys/values a model caches for `ids`: a prefix by construction. */
function prefixOf(model: CausalLM, ids: Int32Array, batchSize = 1, attentionMask?: Uint8Array): KVPrefix {
  const cache = model.newCache();
  noGrad(() => model.forward({ inputIds: ids, batchSize, cache, ...(attentionMask ? { attentionMask } : {}) }));
  return cache.layers.map((l, i) => {
    if (!l) throw new Error(`layer ${i} cached nothing`);
    return l;
  });
}

/** Columns [from, to) of a row-major [rows, cols] array. */
function columns<T extends Int32Array | Uint8Array | Float32Array>(a: T, rows: number, from: number, to: number): T {
  const cols = a.length / rows;
  const width = to - from;
  const out = new (a.constructor as new (n: number) => T)(rows * width);
  for (let r = 0; r < rows; r++) out.set(a.subarray(r * cols + from, r * cols + to), r * width);
  return out;
}

for (const [name, make] of [
  ['Llama (grouped-query)', llama],
  ['GPT-2', gpt2],
] as const) {
  test(`${name}: a prefix built by running P tokens equals the cache of those tokens and the full forward`, () => {
    const model = make();
    const ids = Int32Array.from([5, 9, 2, 33, 7, 1, 19]);
    const P = 3;
    noGrad(() => {
      const full = model.forward({ inputIds: ids }).logits.f32.slice(P * V);
      const prefix = prefixOf(model, ids.subarray(0, P));
      assert.equal(prefix[0]!.k.dim(1), name.startsWith('Llama') ? 2 : 4, 'prefix has the key/value heads');
      assertClose(model.forward({ inputIds: ids.subarray(P), prefix }).logits.f32, full, {
        atol: 1e-5,
        message: 'prefix',
      });
      // With a cache as well (generation): the prefix comes first and is never written to the cache.
      const cache = model.newCache();
      const a = model.forward({ inputIds: ids.subarray(P, P + 2), prefix, cache }).logits.f32;
      const b = model.forward({ inputIds: ids.subarray(P + 2), prefix, cache, logitsToKeep: 1 }).logits.f32;
      assert.equal(cache.length, ids.length - P);
      assertClose(a, full.subarray(0, 2 * V), { atol: 1e-5, message: 'prefix + cache, prefill' });
      assertClose(b, full.subarray(full.length - V), { atol: 1e-5, message: 'prefix + cache, decode step' });
    });
  });

  test(`${name}: the attention mask covers the prefix; left padding inside it keeps positions right`, () => {
    const model = make();
    // Row 0 is left-padded by 2, so its prefix holds 2 pads and 1 real token.
    const ids = Int32Array.from([0, 0, 5, 9, 2, 33, 7, /**/ 4, 8, 15, 16, 23, 3, 12]);
    const mask = Uint8Array.from([0, 0, 1, 1, 1, 1, 1, /**/ 1, 1, 1, 1, 1, 1, 1]);
    const P = 3;
    noGrad(() => {
      const full = model.forward({ inputIds: ids, batchSize: 2, attentionMask: mask }).logits.f32;
      const want = columns(full, 2, P * V, 7 * V);
      const prefix = prefixOf(model, columns(ids, 2, 0, P), 2, columns(mask, 2, 0, P));
      const got = model.forward({ inputIds: columns(ids, 2, P, 7), batchSize: 2, attentionMask: mask, prefix }).logits
        .f32;
      assertClose(got, want, { atol: 1e-5, message: 'padded prefix' });
    });
    assert.throws(
      () =>
        model.forward({
          inputIds: Int32Array.from([1, 2]),
          prefix: prefixOf(model, Int32Array.from([3])),
          attentionMask: new Uint8Array(2).fill(1),
        }),
      /attentionMask has 2 entries, expected batch\*\(prefix\+cached\+new\) = 1\*\(1\+0\+2\)/,
    );
  });

  test(`${name}: finite-difference gradients reach the prefix tensors and inputsEmbeds`, () => {
    const model = make();
    const rng = new Rng(9);
    const [kv, D] = name.startsWith('Llama') ? [2, 4] : [4, 4];
    const leaf = (shape: number[]): Tensor => F.randn(shape, rng, 0.5, { requiresGrad: true });
    const inputs = [
      leaf([1, kv, 2, D]),
      leaf([1, kv, 2, D]),
      leaf([1, kv, 2, D]),
      leaf([1, kv, 2, D]),
      leaf([1, 3, 16]),
    ];
    gradcheck(
      `${name} prefix`,
      (k0, v0, k1, v1, emb) =>
        model.forward({
          inputsEmbeds: emb,
          prefix: [
            { k: k0, v: v0 },
            { k: k1, v: v1 },
          ],
        }).logits,
      inputs,
      { probes: 6 },
    );
  });
}

test('decoders: embedTokens is what inputIds look up; prompt tuning prepends to it through inputsEmbeds', () => {
  for (const model of [llama(), gpt2()]) {
    const ids = Int32Array.from([5, 9, 2, 33]);
    noGrad(() => {
      const byIds = model.forward({ inputIds: ids }).logits.f32;
      assertClose(model.forward({ inputsEmbeds: model.embedTokens(ids) }).logits.f32, byIds, {
        atol: 0,
        message: 'inputsEmbeds = embedTokens(ids)',
      });
      // Virtual tokens (here: the embeddings of two real tokens) shift the real ones by two positions.
      const virtual = model.embedTokens(Int32Array.from([7, 1]));
      const joined = model.forward({ inputsEmbeds: F.concat([virtual, model.embedTokens(ids)], 1) }).logits.f32;
      assertClose(joined, model.forward({ inputIds: Int32Array.from([7, 1, ...ids]) }).logits.f32, {
        atol: 1e-6,
        message: 'prepended embeddings',
      });
    });
    assert.throws(
      () => model.forward({ inputIds: ids, inputsEmbeds: model.embedTokens(ids) }),
      /inputIds or inputsEmbeds, not both/,
    );
    assert.throws(() => model.forward({}), /give inputIds or inputsEmbeds/);
    assert.throws(() => model.forward({ inputIds: ids, prefix: [] }), /prefix has 0 layers, the model has 2/);
  }
  const g = gpt2();
  const bad = [0, 1].map(() => ({ k: F.zeros([1, 2, 3, 4]), v: F.zeros([1, 2, 3, 4]) }));
  assert.throws(
    () => g.forward({ inputIds: Int32Array.from([1]), prefix: bad }),
    /prefix\[0\]\.k must be \[1, 4, P, 4\] \(batch, kv_heads, prefix length, head_dim\)/,
  );
});

test('BERT: a prefix of keys/values is attended to like extra tokens, and gradients reach prefix and inputsEmbeds', () => {
  const model = bert();
  const rng = new Rng(12);
  const leaf = (shape: number[]): Tensor => F.randn(shape, rng, 0.5, { requiresGrad: true });
  // An empty prefix changes nothing; a fully masked one changes nothing either.
  const ids = Int32Array.from([2, 30, 31, 3]);
  noGrad(() => {
    const plain = model.forward({ inputIds: ids }).hidden.f32;
    const empty = [0, 1].map(() => ({ k: F.zeros([1, 4, 0, 4]), v: F.zeros([1, 4, 0, 4]) }));
    assertClose(model.forward({ inputIds: ids, prefix: empty }).hidden.f32, plain, {
      atol: 0,
      message: 'empty prefix',
    });
    assertClose(model.embedTokens(ids).f32, F.embedding(model.inputEmbeddings(), ids, [1, 4]).f32, {
      atol: 0,
      message: 'embedTokens',
    });
  });
  const inputs = [leaf([1, 4, 2, 4]), leaf([1, 4, 2, 4]), leaf([1, 4, 2, 4]), leaf([1, 4, 2, 4]), leaf([1, 3, 16])];
  const mask = Uint8Array.from([1, 0, 1, 1, 1]); // the second prefix position is padding
  gradcheck(
    'BERT prefix',
    (k0, v0, k1, v1, emb) =>
      model.forward({
        inputsEmbeds: emb,
        prefix: [
          { k: k0, v: v0 },
          { k: k1, v: v1 },
        ],
        attentionMask: mask,
      }).hidden,
    inputs,
    { probes: 6 },
  );
  // The masked prefix position gets no gradient: it is not attended to.
  for (const t of inputs.slice(0, 4)) {
    const g = t.grad!;
    for (let h = 0; h < 4; h++)
      for (let d = 0; d < 4; d++) assert.equal(g[(h * 2 + 1) * 4 + d], 0, 'masked prefix slot');
  }
});
