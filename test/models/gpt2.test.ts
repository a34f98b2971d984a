/**
 * GPT-2 against an independent float64 implementation written here with plain loops (from the
 * model's own weights), the KV cache against the full forward, left padding, and checkpoint
 * layouts (with/without the `transformer.` prefix, mask buffers, tied lm_head).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Gpt2Config } from '../../src/models/index.js';
import { readSafetensors, writeSafetensors, type RawTensor } from '../../src/io/safetensors.js';
import type { Linear } from '../../src/nn/layers.js';
import { Dropout } from '../../src/nn/layers.js';
import { attentionWithDropout } from '../../src/models/attention.js';
import { GPT2LMHeadModel, type GPT2Block } from '../../src/models/gpt2.js';
import { writeJsonAtomic } from '../../src/io/files.js';
import * as F from '../../src/tensor/ops.js';
import { Rng } from '../../src/tensor/random.js';
import { noGrad } from '../../src/tensor/tensor.js';
import { assertClose } from '../helpers/close.js';
import { assertSaveReloadConformance } from '../helpers/causal-lm-conformance.js';
import { arr, layerNormRef, type Vec } from '../helpers/reference.js';
import { gpt2Config, TINY_GPT2 } from '../helpers/tiny-models.js';

const CONFIG_JSON = {
  ...TINY_GPT2,
  n_inner: 40,
  layer_norm_epsilon: 1e-5,
  activation_function: 'gelu_new',
};

function tinyModel(seed = 1, overrides: Record<string, unknown> = {}): GPT2LMHeadModel {
  const json = { ...CONFIG_JSON, ...overrides };
  return new GPT2LMHeadModel(gpt2Config(json), { seed, configJson: json }).eval();
}

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'tunekit-gpt2-'));
}

// ---------------------------------------------------------------------------------------------
// Reference GPT-2 in float64, one token row at a time.

/** Conv1D: y[j] = b[j] + Σ_i x[i]·W[i][j] with W stored [in, out]. */
function conv1dRef(x: Vec, layer: Linear): Vec {
  const W = arr(layer.weight);
  const b = arr(layer.bias!);
  const out = W.length / x.length;
  const y = b.slice();
  for (let i = 0; i < x.length; i++) for (let j = 0; j < out; j++) y[j]! += x[i]! * W[i * out + j]!;
  return y;
}

const geluNew = (x: number): number => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));

/**
 * One block: x + c_proj(attn(LN1 x)), then + c_proj(gelu_new(c_fc(LN2 ·))). `real[u]` says whether
 * key u may be attended to; `past` holds earlier (k, v) rows per head for cached decoding tests.
 */
function blockRef(
  block: GPT2Block,
  x: Vec[],
  real: boolean[],
  cfg: Gpt2Config,
  layerIdx: number,
  scaleByLayer = false,
): Vec[] {
  const d = cfg.hiddenSize;
  const H = cfg.numAttentionHeads;
  const D = d / H;
  const eps = cfg.layerNormEpsilon;
  const scale = 1 / Math.sqrt(D) / (scaleByLayer ? layerIdx + 1 : 1);
  const qkv = x.map((row) => conv1dRef(layerNormRef(row, block.ln_1, eps), block.attn.c_attn as Linear));
  const attnOut = x.map((_, t) => {
    const o = new Array<number>(d).fill(0);
    for (let h = 0; h < H; h++) {
      const scores: Array<[number, number]> = [];
      for (let u = 0; u <= t; u++) {
        if (!real[u]) continue;
        let dot = 0;
        for (let i = 0; i < D; i++) dot += qkv[t]![h * D + i]! * qkv[u]![d + h * D + i]!;
        scores.push([u, dot * scale]);
      }
      if (scores.length === 0) continue;
      const m = Math.max(...scores.map(([, s]) => s));
      const z = scores.reduce((s, [, v]) => s + Math.exp(v - m), 0);
      for (const [u, s] of scores) {
        const p = Math.exp(s - m) / z;
        for (let i = 0; i < D; i++) o[h * D + i]! += p * qkv[u]![2 * d + h * D + i]!;
      }
    }
    return o;
  });
  const h1 = x.map((row, t) => conv1dRef(attnOut[t]!, block.attn.c_proj as Linear).map((v, i) => v + row[i]!));
  return h1.map((row) => {
    const m = conv1dRef(layerNormRef(row, block.ln_2, eps), block.mlp.c_fc as Linear).map(geluNew);
    return conv1dRef(m, block.mlp.c_proj as Linear).map((v, i) => v + row[i]!);
  });
}

/** Logits of one row: wte + wpe(positions) → blocks → ln_f → wteᵀ. */
function modelRef(
  model: GPT2LMHeadModel,
  ids: number[],
  real: boolean[],
  positions: number[],
  scaleByLayer = false,
): Vec[] {
  const cfg = model.config;
  const d = cfg.hiddenSize;
  const wte = arr(model.transformer.wte.weight);
  const wpe = arr(model.transformer.wpe.weight);
  let h = ids.map((id, t) => Array.from({ length: d }, (_, i) => wte[id * d + i]! + wpe[positions[t]! * d + i]!));
  model.transformer.h.forEach((block, l) => {
    h = blockRef(block, h, real, cfg, l, scaleByLayer);
  });
  return h.map((row) => {
    const n = layerNormRef(row, model.transformer.ln_f, cfg.layerNormEpsilon);
    return Array.from({ length: cfg.vocabSize }, (_, v) => n.reduce((s, x, i) => s + x * wte[v * d + i]!, 0));
  });
}

function randomIds(rng: Rng, n: number, vocab: number): number[] {
  return Array.from({ length: n }, () => rng.int(vocab));
}

// ---------------------------------------------------------------------------------------------

test("module names and shapes are transformers' (Conv1D weights [in, out], lm_head tied)", () => {
  const model = tinyModel();
  const names = new Map(model.namedParameters().map(([k, t]) => [k, t.shape.join('x')]));
  assert.equal(names.get('transformer.wte.weight'), '50x16');
  assert.equal(names.get('transformer.wpe.weight'), '32x16');
  assert.equal(names.get('transformer.h.0.ln_1.weight'), '16');
  assert.equal(names.get('transformer.h.0.attn.c_attn.weight'), '16x48');
  assert.equal(names.get('transformer.h.0.attn.c_attn.bias'), '48');
  assert.equal(names.get('transformer.h.1.attn.c_proj.weight'), '16x16');
  assert.equal(names.get('transformer.h.1.mlp.c_fc.weight'), '16x40');
  assert.equal(names.get('transformer.h.1.mlp.c_proj.weight'), '40x16');
  assert.equal(names.get('transformer.ln_f.bias'), '16');
  assert.equal(names.size, 4 + 2 * 12, 'wte, wpe, ln_f (2) + 12 tensors per block; no separate lm_head');
  assert.equal(model.inputEmbeddings(), model.transformer.wte.weight);
});

test('each block equals the float64 loop implementation (LN → c_attn → causal attention → c_proj → LN → c_fc → gelu_new → c_proj)', () => {
  const model = tinyModel(2);
  const rng = new Rng(11);
  const T = 6;
  const d = 16;
  const x = Array.from({ length: T }, () => Array.from({ length: d }, () => rng.normal(0, 1)));
  model.transformer.h.forEach((block, l) => {
    const got = noGrad(() =>
      block.forward(F.tensor(x.flat(), [1, T, d]), { keyMask: null, prefix: null, cache: null }),
    ).f32;
    const want = blockRef(block, x, new Array(T).fill(true), model.config, l).flat();
    assertClose(got, want, { atol: 2e-5, message: `block ${l}` });
  });
});

test('full logits equal the reference; scale_attn_by_inverse_layer_idx divides the scores by layer + 1', () => {
  const rng = new Rng(5);
  const ids = randomIds(rng, 7, 50);
  const positions = ids.map((_, t) => t);
  const real = ids.map(() => true);
  for (const scaleByLayer of [false, true]) {
    const model = tinyModel(3, { scale_attn_by_inverse_layer_idx: scaleByLayer });
    const got = noGrad(() => model.forward({ inputIds: Int32Array.from(ids) })).logits.f32;
    assertClose(got, modelRef(model, ids, real, positions, scaleByLayer).flat(), {
      atol: 5e-5,
      message: `logits (scale by layer: ${scaleByLayer})`,
    });
  }
});

test('left padding: positions come from the attention mask, padded keys are masked (reference per row)', () => {
  const model = tinyModel(4);
  const rng = new Rng(6);
  const V = 50;
  const short = randomIds(rng, 4, V);
  const long = randomIds(rng, 6, V);
  const ids = Int32Array.from([0, 0, ...short, ...long]);
  const mask = Uint8Array.from([0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]);
  const got = noGrad(() => model.forward({ inputIds: ids, batchSize: 2, attentionMask: mask })).logits.f32;
  // Row 0: real tokens at slots 2..5 with positions 0..3; the two pads are never attended to.
  const ref0 = modelRef(model, [0, 0, ...short], [false, false, true, true, true, true], [1, 1, 0, 1, 2, 3]);
  for (let t = 2; t < 6; t++)
    assertClose(got.subarray(t * V, (t + 1) * V), ref0[t]!, { atol: 5e-5, message: `padded row, slot ${t}` });
  const ref1 = modelRef(
    model,
    long,
    long.map(() => true),
    long.map((_, t) => t),
  ).flat();
  assertClose(got.subarray(6 * V), ref1, { atol: 5e-5, message: 'unpadded row' });
  // And the padded row's real tokens give exactly what the sequence alone gives.
  const alone = noGrad(() => model.forward({ inputIds: Int32Array.from(short) })).logits.f32;
  assertClose(got.subarray(2 * V, 6 * V), alone, { atol: 1e-5, message: 'padded row vs alone' });
});

test('KV cache: prefill + one-token decode steps equal the full forward, also for a left-padded batch', () => {
  const model = tinyModel(5);
  const V = 50;
  const rng = new Rng(8);
  const ids = Int32Array.from(randomIds(rng, 9, V));
  noGrad(() => {
    const full = model.forward({ inputIds: ids }).logits.f32;
    const cache = model.newCache();
    const parts = [model.forward({ inputIds: ids.subarray(0, 5), cache }).logits.f32];
    for (let t = 5; t < 9; t++)
      parts.push(model.forward({ inputIds: ids.subarray(t, t + 1), cache, logitsToKeep: 1 }).logits.f32);
    assert.equal(cache.length, 9);
    assertClose(Float32Array.from(parts.flatMap((p) => [...p])), full, { atol: 1e-5, message: 'cached decode' });

    // Batch: row 0 = [pad, pad, a0..a2], row 1 = b0..b4; then two decode steps appending c/d tokens.
    const a = ids.subarray(0, 3);
    const b = ids.subarray(3, 8);
    const extra = [
      [7, 9],
      [11, 13],
    ];
    const batchCache = model.newCache();
    let mask = Uint8Array.from([0, 0, 1, 1, 1, 1, 1, 1, 1, 1]);
    const prefill = model.forward({
      inputIds: Int32Array.from([0, 0, ...a, ...b]),
      batchSize: 2,
      attentionMask: mask,
      cache: batchCache,
      logitsToKeep: 1,
    }).logits.f32;
    const steps = [prefill];
    for (const [x0, x1] of extra) {
      mask = Uint8Array.from([...mask.subarray(0, mask.length / 2), 1, ...mask.subarray(mask.length / 2), 1]);
      steps.push(
        model.forward({ inputIds: Int32Array.from([x0!, x1!]), batchSize: 2, attentionMask: mask, cache: batchCache })
          .logits.f32,
      );
    }
    const row0 = model.forward({ inputIds: Int32Array.from([...a, 7, 11]) }).logits.f32;
    const row1 = model.forward({ inputIds: Int32Array.from([...b, 9, 13]) }).logits.f32;
    steps.forEach((s, k) => {
      assertClose(s.subarray(0, V), row0.subarray((2 + k) * V, (3 + k) * V), {
        atol: 1e-5,
        message: `padded row, step ${k}`,
      });
      assertClose(s.subarray(V, 2 * V), row1.subarray((4 + k) * V, (5 + k) * V), {
        atol: 1e-5,
        message: `unpadded row, step ${k}`,
      });
    });
  });
});

test('savePretrained → fromPretrained gives identical logits; keys carry the transformer. prefix', () => {
  assertSaveReloadConformance(tinyModel(6), (dir, opts) => GPT2LMHeadModel.fromPretrained(dir, opts), {
    ids: Int32Array.from([3, 1, 4, 1, 5, 9, 2, 6]),
    inspect: (dir) => {
      const keys = [...readSafetensors(join(dir, 'model.safetensors')).tensors.keys()];
      assert.ok(keys.includes('transformer.h.1.attn.c_attn.weight'));
      assert.ok(!keys.includes('lm_head.weight'), 'tied head is not saved');
      assert.deepEqual(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')), CONFIG_JSON);
    },
  });
});

test('Hub layout: keys without prefix, attn.bias / attn.masked_bias buffers and a tied lm_head.weight load', () => {
  const dir = tempDir();
  try {
    const model = tinyModel(7);
    const hub = new Map<string, RawTensor>();
    for (const [k, t] of model.namedParameters())
      hub.set(k.slice('transformer.'.length), { dtype: 'F32', shape: [...t.shape], data: t.f32 });
    for (let l = 0; l < 2; l++) {
      hub.set(`h.${l}.attn.bias`, { dtype: 'F32', shape: [1, 1, 32, 32], data: new Float32Array(32 * 32).fill(1) });
      hub.set(`h.${l}.attn.masked_bias`, { dtype: 'F32', shape: [], data: new Float32Array([-1e4]) });
    }
    hub.set('lm_head.weight', { dtype: 'F32', shape: [50, 16], data: model.transformer.wte.weight.f32 });
    writeSafetensors(join(dir, 'model.safetensors'), hub, { format: 'pt' });
    writeJsonAtomic(join(dir, 'config.json'), CONFIG_JSON);
    const loaded = GPT2LMHeadModel.fromPretrained(dir);
    const ids = Int32Array.from([10, 20, 30]);
    assert.deepEqual(
      noGrad(() => loaded.forward({ inputIds: ids }).logits.toArray()),
      noGrad(() => model.forward({ inputIds: ids }).logits.toArray()),
    );

    hub.delete('h.1.mlp.c_fc.bias');
    hub.set('h.0.attn.q_proj.weight', { dtype: 'F32', shape: [1], data: new Float32Array(1) });
    writeSafetensors(join(dir, 'model.safetensors'), hub, { format: 'pt' });
    assert.throws(
      () => GPT2LMHeadModel.fromPretrained(dir),
      /missing: transformer\.h\.1\.mlp\.c_fc\.bias.*unexpected: h\.0\.attn\.q_proj\.weight/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('positions beyond n_positions and malformed inputs give clear errors', () => {
  const model = tinyModel();
  assert.throws(
    () => model.forward({ inputIds: new Int32Array(33) }),
    /position 32 is beyond GPT-2's 32 learned positions/,
  );
  assert.throws(
    () => model.forward({ inputIds: new Int32Array(5), batchSize: 2 }),
    /5 input ids do not split into 2 rows/,
  );
  assert.throws(
    () => model.forward({ inputIds: new Int32Array(4), attentionMask: new Uint8Array(3) }),
    /attentionMask has 3 entries/,
  );
  assert.throws(() => tinyModel(0, { activation_function: 'mish' }), /activation_function "mish" is not supported/);
  assert.throws(() => tinyModel(0, { resid_pdrop: 1.5 }), /"resid_pdrop" must be a probability/);
});

test('training: dropout (resid/embd/attn 0.1) is active only in train mode; the LM loss reaches every weight', () => {
  const model = tinyModel(9);
  const ids = Int32Array.from([1, 2, 3, 4, 5, 6]);
  const evalOut = noGrad(() => model.eval().forward({ inputIds: ids }).logits.toArray());
  assert.deepEqual(
    noGrad(() => model.forward({ inputIds: ids }).logits.toArray()),
    evalOut,
    'eval is deterministic',
  );
  model.train();
  const { logits } = model.forward({ inputIds: ids });
  assert.notDeepEqual(logits.toArray(), evalOut, 'dropout changes the train-mode output');
  const loss = F.crossEntropy(F.slice(logits, 1, 0, 5), ids.slice(1));
  loss.backward();
  for (const [name, t] of model.namedParameters())
    assert.ok(t.grad && t.grad.some((g) => g !== 0), `${name} got a gradient`);
  // Without dropout, the Conv1D weight gradient matches a finite difference of the loss.
  const det = tinyModel(9, { resid_pdrop: 0, embd_pdrop: 0, attn_pdrop: 0 }).train();
  const w = (det.transformer.h[1]!.attn.c_attn as Linear).weight;
  const lossAt = (): number =>
    F.crossEntropy(F.slice(det.forward({ inputIds: ids }).logits, 1, 0, 5), ids.slice(1)).item();
  F.crossEntropy(F.slice(det.forward({ inputIds: ids }).logits, 1, 0, 5), ids.slice(1)).backward();
  for (const i of [0, 17, 40, 300, 700]) {
    const orig = w.f32[i]!;
    const h = 1e-2;
    w.f32[i] = orig + h;
    const up = noGrad(lossAt);
    w.f32[i] = orig - h;
    const down = noGrad(lossAt);
    w.f32[i] = orig;
    const fd = (up - down) / (2 * h);
    assert.ok(
      Math.abs(fd - w.grad![i]!) < 2e-3 + 2e-2 * Math.abs(fd),
      `c_attn.weight[${i}]: analytic ${w.grad![i]} vs finite difference ${fd}`,
    );
  }
});

test('attention dropout: softmax(q·kᵀ·scale + mask) → inverted dropout → ·v, masks drawn in order from the seeded generator', () => {
  const rng = new Rng(12);
  const [B, H, T, S, D] = [2, 2, 3, 5, 4];
  const rand = (n: number): number[] => Array.from({ length: n }, () => rng.normal(0, 1));
  const q = rand(B * H * T * D);
  const k = rand(B * H * S * D);
  const v = rand(B * H * S * D);
  const keyMask = Uint8Array.from([1, 0, 1, 1, 1, 1, 1, 1, 1, 1]);
  const p = 0.3;
  const run = (training: boolean): Float32Array => {
    const dropout = new Dropout(p, 99);
    dropout.training = training;
    return noGrad(() =>
      attentionWithDropout(F.tensor(q, [B, H, T, D]), F.tensor(k, [B, H, S, D]), F.tensor(v, [B, H, S, D]), {
        causal: true,
        keyMask,
        scale: 0.5,
        dropout,
      }),
    ).f32;
  };
  // The same stream the Dropout module draws from: one uniform per probability, row-major [B, H, T, S].
  const uniforms = new Rng(99).fillUniform(new Float32Array(B * H * T * S));
  let drawn = 0;
  const want: number[] = [];
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++)
      for (let t = 0; t < T; t++) {
        const visible = (s: number): boolean => s <= t + S - T && keyMask[b * S + s] === 1;
        const scores = Array.from({ length: S }, (_, s) => {
          let dot = 0;
          for (let i = 0; i < D; i++) dot += q[((b * H + h) * T + t) * D + i]! * k[((b * H + h) * S + s) * D + i]!;
          return dot * 0.5;
        });
        const m = Math.max(...scores.filter((_, s) => visible(s)));
        const e = scores.map((x, s) => (visible(s) ? Math.exp(x - m) : 0));
        const z = e.reduce((a, c) => a + c, 0);
        const keep = e.map(() => (uniforms[drawn++]! < p ? 0 : 1 / (1 - p)));
        for (let i = 0; i < D; i++)
          want.push(e.reduce((acc, es, s) => acc + (es / z) * keep[s]! * v[((b * H + h) * S + s) * D + i]!, 0));
      }
  assertClose(run(true), want, { atol: 1e-5, message: 'train mode' });
  const fused = noGrad(() =>
    F.scaledDotProductAttention(F.tensor(q, [B, H, T, D]), F.tensor(k, [B, H, S, D]), F.tensor(v, [B, H, S, D]), {
      causal: true,
      keyMask,
      scale: 0.5,
    }),
  ).f32;
  assert.deepEqual(run(false), fused, 'eval mode is the fused kernel');
});

test('labels give the shifted next-token loss, equal to cross-entropy of the logits', () => {
  const model = tinyModel(7).eval();
  const ids = Int32Array.from([3, 1, 4, 1, 5, 9, 2, 6]);
  const out = noGrad(() => model.forward({ inputIds: ids, batchSize: 2, labels: ids }));
  const logits = out.logits; // computed lazily from the same hidden states
  const V = logits.dim(-1);
  let total = 0;
  for (let b = 0; b < 2; b++)
    for (let t = 0; t < 3; t++) {
      const row = logits.f32.subarray((b * 4 + t) * V, (b * 4 + t + 1) * V);
      const mx = Math.max(...row);
      const lse = mx + Math.log(row.reduce((s, v) => s + Math.exp(v - mx), 0));
      total += lse - row[ids[b * 4 + t + 1]!]!;
    }
  assert.ok(Math.abs(out.loss!.item() - total / 6) < 1e-5, `${out.loss!.item()} vs ${total / 6}`);
});
