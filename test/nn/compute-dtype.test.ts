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
import { GPT2LMHeadModel } from '../../src/models/gpt2.js';
import { convertFrozen, setComputeDtype, computeDtypeOf, parseComputeDtype } from '../../src/nn/compute-dtype.js';
import { kernels } from '../../src/native/index.js';
import { getPeftModel } from '../../src/peft/peft-model.js';
import { loraConfig } from '../../src/peft/lora/config.js';
import * as F from '../../src/tensor/ops.js';
import { Rng } from '../../src/tensor/random.js';
import { noGrad, type Tensor } from '../../src/tensor/tensor.js';
import { AdamW } from '../../src/train/optim.js';
import { WType } from '../../src/native/kernels.js';
import { AutoModelForCausalLM } from '../../src/models/auto.js';
import { AutoTokenizer } from '../../src/io/tokenizer.js';
import { quantizeInt8 } from '../../src/nn/compute-dtype.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gradcheck } from '../helpers/gradcheck.js';
import { assetPath, skipWithoutShared } from '../helpers/shared.js';
import { gpt2Config } from '../helpers/tiny-models.js';

const json = {
  architectures: ['GPT2LMHeadModel'],
  model_type: 'gpt2',
  vocab_size: 97,
  n_embd: 48,
  n_head: 4,
  n_layer: 2,
  n_positions: 64,
  resid_pdrop: 0,
  embd_pdrop: 0,
  attn_pdrop: 0,
};

/** A frozen random GPT-2 with LoRA (B randomised so every adapter gradient is non-zero). */
function model(seed = 1): { m: GPT2LMHeadModel; lora: Tensor[] } {
  const m = new GPT2LMHeadModel(gpt2Config(json), { seed, configJson: json });
  m.freeze().eval();
  getPeftModel(m, loraConfig({ targetModules: ['c_attn', 'c_fc'], r: 4, loraAlpha: 8 })); // wraps the layers of m in place
  const rng = new Rng(seed + 10);
  for (const [path, t] of m.namedParameters()) {
    if (/lora_B(\.default)?\.weight$/.test(path))
      m.setParameter(path, F.randn(t.shape, rng, 0.2, { requiresGrad: true }));
  }
  return {
    m,
    lora: m
      .namedParameters()
      .filter(([, t]) => t.requiresGrad)
      .map(([, t]) => t),
  };
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
      const w = F.toF32(t).f32,
        o = old.f32;
      for (let i = 0; i < o.length; i += 97)
        assert.ok(Math.abs(w[i]! - o[i]!) <= Math.abs(o[i]!) * 2 ** -8, `${path}[${i}]`);
    }
  }
  assert.equal(n, converted);
  assert.ok(n >= 7, `converted ${n}`);
  // lm_head is tied to wte: still the same tensor
  assert.equal(m.inputEmbeddings(), m.transformer.wte.weight);
  setComputeDtype(m, 'float32');
  assert.equal(computeDtypeOf(m), 'float32');
  for (const [, t] of m.namedParameters()) assert.equal(t.dtype, 'f32');
  assert.throws(() => parseComputeDtype('int4'), /computeDtype: expected one of 'float32', 'bfloat16', 'int8'.*"int4"/);
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
  let spread = 0,
    worst = 0;
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
      const d = t.f32,
        orig = d[i]!;
      d[i] = orig + h;
      const lp = lossAt();
      d[i] = orig - h;
      const lm = lossAt();
      d[i] = orig;
      const num = (lp - lm) / (2 * h);
      assert.ok(
        Math.abs(num - g[i]!) <= 5e-2 * gmax + 1e-4,
        `adapter ${ti}[${i}]: bf16 analytic ${g[i]} vs float32 numeric ${num} (max |g| ${gmax})`,
      );
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
  const f32 = run('float32'),
    bf = run('bfloat16');
  assert.ok(f32[49]! < f32[0]! * 0.95, `the run must learn: ${f32[0]} -> ${f32[49]}`);
  for (let s = 0; s < 50; s++) {
    const rel = Math.abs(bf[s]! - f32[s]!) / f32[s]!;
    assert.ok(rel <= 5e-3, `step ${s}: bf16 ${bf[s]} vs float32 ${f32[s]} (${(rel * 100).toFixed(3)}%)`);
  }
});

test('quantizeInt8: per-row symmetric codes within half a step; int8 models convert, tie and refuse to save', () => {
  const rng = new Rng(8);
  const w = Float32Array.from({ length: 6 * 50 }, (_, i) => (i < 50 ? 0 : rng.uniform(-1, 1) * (1 + (i % 7))));
  const { q, scales } = quantizeInt8(w, 6, 50);
  assert.equal(scales[0], 1); // an all-zero row
  for (let r = 0; r < 6; r++) {
    let m = 0;
    for (let c = 0; c < 50; c++) m = Math.max(m, Math.abs(w[r * 50 + c]!));
    if (r > 0) assert.ok(Math.abs(scales[r]! - m / 127) <= 1e-6 * m);
    for (let c = 0; c < 50; c++)
      assert.ok(Math.abs(w[r * 50 + c]! - scales[r]! * q[r * 50 + c]!) <= scales[r]! / 2 + 1e-7);
  }
  const { m } = model(6);
  const n = setComputeDtype(m, 'int8');
  assert.ok(n >= 7);
  assert.equal(computeDtypeOf(m), 'int8');
  assert.equal(m.inputEmbeddings().dtype, 'i8');
  assert.equal(m.inputEmbeddings(), m.transformer.wte.weight);
  for (const [, t] of m.namedParameters()) if (t.requiresGrad || t.ndim === 1) assert.equal(t.dtype, 'f32');
  assert.throws(() => m.savePretrained('/nonexistent-int8-model'), /int8-quantised/);
});

test('int8 base: logits near float32, LoRA gradients equal finite differences of the int8 model', () => {
  const { m, lora } = model(7);
  const b = batch(9);
  const logits32 = noGrad(() => m.forward(b).logits.f32.slice());
  setComputeDtype(m, 'int8');
  const logits8 = noGrad(() => m.forward(b).logits.f32);
  let spread = 0,
    worst = 0;
  for (let i = 0; i < logits32.length; i++) {
    spread = Math.max(spread, Math.abs(logits32[i]!));
    worst = Math.max(worst, Math.abs(logits32[i]! - logits8[i]!));
  }
  // Each weight moves by at most half a step (max|row| / 254): a few percent of the spread.
  assert.ok(worst <= 5e-2 * spread, `int8 logits differ by ${worst} (spread ${spread})`);
  assert.ok(worst > 0, 'int8 must differ from float32 at all');
  // The int8 model is a smooth function of the adapters: the usual finite-difference check.
  const [a0, b0] = [lora[0]!, lora[1]!];
  gradcheck('int8 base, LoRA', () => m.forward(b).logits, [a0, b0], { probes: 6 });
});

/**
 * stories260K in float32, bfloat16 and int8, and the two texts: the TinyStories sample of its
 * reference outputs and the first `tokens` tokens of TinyShakespeare's first `chars` characters.
 */
function perplexitySetup(chars: number, tokens: number) {
  const dir = assetPath('stories260K-hf')!;
  const tok = AutoTokenizer.fromPretrained(dir);
  const ref = JSON.parse(readFileSync(join(dir, 'reference_outputs.json'), 'utf8')) as {
    nll: { input_ids: number[] };
  };
  const shakespeare = readFileSync(join(assetPath('tinyshakespeare')!, 'input.txt'), 'utf8').slice(0, chars);
  return {
    texts: {
      tinystories: Int32Array.from(ref.nll.input_ids),
      tinyshakespeare: Int32Array.from(tok.encode(shakespeare).slice(0, tokens)),
    },
    f32: AutoModelForCausalLM.fromPretrained(dir),
    bf: AutoModelForCausalLM.fromPretrained(dir, { computeDtype: 'bfloat16' }),
    i8: AutoModelForCausalLM.fromPretrained(dir, { computeDtype: 'int8' }),
  };
}

/** Mean next-token NLL of stories260K on `ids` in rows of 64 tokens. */
function meanNll(m: ReturnType<typeof AutoModelForCausalLM.fromPretrained>, ids: Int32Array): number {
  const T = 64,
    rows = Math.floor(ids.length / T);
  const inputIds = ids.slice(0, rows * T);
  return noGrad(() => m.forward({ inputIds, batchSize: rows, labels: inputIds }).loss!.item());
}

test(
  'stories260K perplexity (TinyStories sample, TinyShakespeare): bf16 within 1%, int8 within 3% of float32',
  { skip: skipWithoutShared('stories260K-hf') || skipWithoutShared('tinyshakespeare') },
  () => {
    const { texts, f32, bf, i8 } = perplexitySetup(6000, 1024);
    assert.equal(computeDtypeOf(bf), 'bfloat16');
    assert.equal(computeDtypeOf(i8), 'int8');
    for (const [name, ids] of Object.entries(texts)) {
      assert.ok(ids.length >= 128, `${name}: ${ids.length} tokens`);
      const p32 = Math.exp(meanNll(f32, ids)),
        pbf = Math.exp(meanNll(bf, ids)),
        p8 = Math.exp(meanNll(i8, ids));
      assert.ok(Math.abs(pbf / p32 - 1) <= 0.01, `${name}: bf16 perplexity ${pbf} vs float32 ${p32}`);
      assert.ok(Math.abs(p8 / p32 - 1) <= 0.03, `${name}: int8 perplexity ${p8} vs float32 ${p32}`);
    }
  },
);

/**
 * Mean next-token NLL of `m` on `ids` in rows of 64 tokens, decoded one token at a time through the
 * KV cache: every matrix product has one row, so int8 weights take the int8 x int8 path (WType.I8Dot)
 * and bf16 weights the few-row bf16 kernel. Same predictions as {@link meanNll}.
 */
function decodeNll(m: ReturnType<typeof AutoModelForCausalLM.fromPretrained>, ids: Int32Array): number {
  const T = 64,
    rows = Math.floor(ids.length / T);
  let total = 0;
  noGrad(() =>
    F.withInt8Activations(() => {
      for (let r = 0; r < rows; r++) {
        const cache = m.newCache();
        for (let t = 0; t + 1 < T; t++) {
          const logits = m.forward({ inputIds: ids.subarray(r * T + t, r * T + t + 1), cache }).logits.f32;
          let max = -Infinity;
          for (const v of logits) max = Math.max(max, v);
          let sum = 0;
          for (const v of logits) sum += Math.exp(v - max);
          total += max + Math.log(sum) - logits[ids[r * T + t + 1]!]!;
        }
      }
    }),
  );
  return total / (rows * (T - 1));
}

test(
  'stories260K perplexity decoded token by token (int8 x int8 and bf16 decode kernels): bf16 within 1%, int8 within 3% of float32',
  { skip: skipWithoutShared('stories260K-hf') || skipWithoutShared('tinyshakespeare') },
  (t) => {
    const { texts, f32, bf, i8 } = perplexitySetup(3000, 512);
    for (const [name, ids] of Object.entries(texts)) {
      assert.ok(ids.length >= 128, `${name}: ${ids.length} tokens`);
      const p32 = Math.exp(meanNll(f32, ids)),
        d32 = Math.exp(decodeNll(f32, ids)),
        dbf = Math.exp(decodeNll(bf, ids)),
        d8 = Math.exp(decodeNll(i8, ids)),
        p8 = Math.exp(meanNll(i8, ids));
      // The cached float32 decode is the full forward up to float32 rounding.
      assert.ok(Math.abs(d32 / p32 - 1) <= 1e-4, `${name}: float32 decoded ${d32} vs forward ${p32}`);
      assert.ok(Math.abs(dbf / p32 - 1) <= 0.01, `${name}: bf16 decoded perplexity ${dbf} vs float32 ${p32}`);
      assert.ok(Math.abs(d8 / p32 - 1) <= 0.03, `${name}: int8 decoded perplexity ${d8} vs float32 ${p32}`);
      // The activation rounding of the int8 x int8 path on its own (against the weight-only int8
      // forward of the same weights): documented as well under 1%.
      assert.ok(Math.abs(d8 / p8 - 1) <= 0.01, `${name}: int8 decoded ${d8} vs int8 weight-only forward ${p8}`);
      t.diagnostic(
        `${name}: perplexity float32 ${p32.toFixed(4)}, decoded bf16 ${dbf.toFixed(4)}, int8 ${d8.toFixed(4)} (int8 weight-only forward ${p8.toFixed(4)})`,
      );
    }
  },
);

test('int8 linear of a few rows: int8 x int8 products only inside withInt8Activations, without input gradient', () => {
  const rng = new Rng(12);
  const K = 300,
    N = 40;
  const w = convertFrozen(F.randn([K, N], rng, 0.05), 'int8');
  for (const rows of [1, 3, 4, 5]) {
    const x = F.randn([rows, K], rng, 1, { requiresGrad: true });
    const kernel = (t: WType): Float32Array => {
      const out = new Float32Array(rows * N);
      kernels.gemm(false, false, rows, N, K, 1, x.f32, 0, K, w.data, 0, N, t, 0, out, 0, N, 1, 0, 0, 0, w.scales);
      return out;
    };
    const weightOnly = kernel(WType.I8),
      dot = kernel(WType.I8Dot);
    if (rows <= 4) assert.notDeepEqual(dot, weightOnly, `${rows} rows: the int8 x int8 path must differ`);
    else assert.deepEqual(dot, weightOnly);
    const lin = (xx: Tensor) => F.linear(xx, w, null, { weightInOut: true }).f32;
    // LoRA's fused product follows the same rule for its base product.
    const lora = (xx: Tensor) => F.loraLinear(xx, w, null, [], { weightInOut: true }).f32;
    // Outside withInt8Activations: weight-only, with or without gradients.
    assert.deepEqual(lin(x), weightOnly, `${rows} rows`);
    assert.deepEqual(
      noGrad(() => lora(x)),
      weightOnly,
      `${rows} rows, loraLinear, no grad`,
    );
    assert.deepEqual(
      noGrad(() => lin(x)),
      weightOnly,
      `${rows} rows, no grad`,
    );
    F.withInt8Activations(() => {
      assert.deepEqual(lin(x), weightOnly, `${rows} rows, input with grad`);
      assert.deepEqual(
        noGrad(() => lin(x)),
        dot,
        `${rows} rows, no grad`,
      );
      assert.deepEqual(
        noGrad(() => F.matmul(x, w).f32),
        dot,
      );
      assert.deepEqual(lin(x.detach()), dot, `${rows} rows, input without grad`);
      assert.deepEqual(lora(x), weightOnly, `${rows} rows, loraLinear, input with grad`);
      assert.deepEqual(
        noGrad(() => lora(x)),
        dot,
        `${rows} rows, loraLinear, no grad`,
      );
    });
  }
  // Gradients through an int8 layer of a few rows: the forward (weight-only) is smooth in x.
  const x = F.randn([2, K], rng, 1, { requiresGrad: true });
  gradcheck('int8 linear, 2 rows', (xx) => F.linear(xx, w, null, { weightInOut: true }), [x], { probes: 6 });
});

test('setComputeDtype refuses a model whose matrices all train (nothing would change)', () => {
  const m = new GPT2LMHeadModel(gpt2Config(json), { seed: 3, configJson: json });
  assert.throws(() => setComputeDtype(m, 'bfloat16'), /every weight matrix of this model is trainable/);
  assert.throws(() => setComputeDtype(m, 'int8'), /freeze the base first/);
  assert.equal(computeDtypeOf(m), 'float32');
  assert.equal(setComputeDtype(m, 'float32'), 0); // float32 is always a no-op-or-restore
  assert.ok(setComputeDtype(m.freeze(), 'bfloat16') > 0);
});
