/**
 * PeftModel's verbs: several adapters, switching, disabling as a scope, deleting, combining
 * (linear and cat), printTrainableParameters' exact line, bias modes, modules_to_save training and
 * saving, and the init variants (gaussian, PiSSA).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readSafetensors } from '../../src/io/safetensors.js';
import { Linear } from '../../src/nn/layers.js';
import { BertForSequenceClassification } from '../../src/models/bert.js';
import type { LlamaForCausalLM } from '../../src/models/llama.js';
import { loraConfig } from '../../src/peft/lora/config.js';
import { type LoRAEmbedding, LoRALinear } from '../../src/peft/lora/layer.js';
import { PeftModel, getPeftModel } from '../../src/peft/peft-model.js';
import * as F from '../../src/tensor/ops.js';
import { Rng } from '../../src/tensor/random.js';
import { noGrad } from '../../src/tensor/tensor.js';
import { maxDiff, productBA } from '../helpers/peft-folder.js';
import { assertClose } from '../helpers/close.js';
import { bertConfig, tinyLlama as tiny, TINY_BERT } from '../helpers/tiny-models.js';

function tinyLlama(seed = 10): LlamaForCausalLM {
  return tiny({ tie_word_embeddings: true }, seed).freeze().eval();
}

const ids = Int32Array.from([1, 5, 9, 3, 7]);
const logitsOf = (m: { forward(i: { inputIds: Int32Array }): { logits: { f32: Float32Array } } }): Float32Array =>
  noGrad(() => Float32Array.from(m.forward({ inputIds: ids }).logits.f32));

function randomise(peft: PeftModel, name: string, seed: number): void {
  for (const [p, t] of peft.namedParameters())
    if (p.includes(`.${name}.`) || p.endsWith(`.${name}`)) t.f32.set(F.randn(t.shape, new Rng(seed + t.size), 0.2).f32);
}

test('several adapters: setAdapter switches outputs and training; disableAdapter is a scope; deleteAdapter removes one', () => {
  const model = tinyLlama();
  const base = logitsOf(model);
  const peft = getPeftModel(model, loraConfig({ targetModules: ['q_proj', 'v_proj'], r: 2 }));
  peft.addAdapter('other', loraConfig({ targetModules: ['q_proj', 'o_proj'], r: 3 }));
  randomise(peft, 'default', 1);
  randomise(peft, 'other', 2);
  assert.equal(peft.activeAdapter, 'default');
  const a = logitsOf(peft);
  assert.ok(peft.trainableParameters().every(([p]) => p.includes('.default.')));
  peft.setAdapter('other');
  const b = logitsOf(peft);
  assert.ok(
    peft.trainableParameters().every(([p]) => p.includes('.other.')) && peft.trainableParameters().length === 8,
  );
  assert.ok(maxDiff(a, b) > 1e-3 && maxDiff(a, base) > 1e-3);
  const inside = peft.disableAdapter(() => logitsOf(peft));
  assert.deepEqual(inside, base, 'inside the scope: the base model');
  assert.deepEqual(logitsOf(peft), b, 'after the scope: the adapter is back');
  assert.throws(
    () =>
      peft.disableAdapter(() => {
        throw new Error('boom');
      }),
    /boom/,
  );
  assert.deepEqual(logitsOf(peft), b, 'restored after a throw too');
  assert.throws(() => peft.deleteAdapter('other'), /is active/);
  peft.setAdapter('default');
  peft.deleteAdapter('other');
  assert.deepEqual(logitsOf(peft), a);
  assert.equal(peft.namedParameters().filter(([p]) => p.includes('.other')).length, 0);
  // savePretrained writes "default" at the root and others in subfolders, as PEFT does.
  peft.addAdapter('third', loraConfig({ targetModules: ['k_proj'], r: 2 }));
  const dir = mkdtempSync(join(tmpdir(), 'tunekit-multi-'));
  try {
    peft.savePretrained(dir);
    assert.ok(
      existsSync(join(dir, 'adapter_config.json')) && existsSync(join(dir, 'third', 'adapter_model.safetensors')),
    );
    const reloaded = PeftModel.fromPretrained(tinyLlama(), dir);
    reloaded.loadAdapter(join(dir, 'third'), { adapterName: 'third' });
    assert.deepEqual(logitsOf(reloaded), a);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("printTrainableParameters prints PEFT's exact line", () => {
  const peft = getPeftModel(tinyLlama(), loraConfig({ targetModules: ['q_proj', 'v_proj'], r: 4 }));
  const lines: string[] = [];
  peft.printTrainableParameters((l) => lines.push(l));
  // q: A 4x16 + B 16x4; v: A 4x16 + B 8x4 -> 128 + 96 per layer, 2 layers.
  const trainable = 2 * (64 + 64 + 64 + 32);
  const all = trainable + tinyLlama().numParameters();
  assert.deepEqual(lines, [
    `trainable params: ${trainable} || all params: ${all.toLocaleString('en-US')} || trainable%: ${((100 * trainable) / all).toFixed(4)}`,
  ]);
  assert.match(lines[0]!, /^trainable params: 448 \|\| all params: [\d,]+ \|\| trainable%: \d+\.\d{4}$/);
});

test('addWeightedAdapter: "cat" gives exactly Σ w·s·B·A; "linear" follows PEFT\'s √w·s / √w factors', () => {
  const peft = getPeftModel(tinyLlama(), loraConfig({ targetModules: ['q_proj'], r: 2, loraAlpha: 4 }));
  peft.addAdapter('b', loraConfig({ targetModules: ['q_proj'], r: 2, loraAlpha: 2 }));
  randomise(peft, 'default', 3);
  randomise(peft, 'b', 4);
  peft.addWeightedAdapter(['default', 'b'], [0.7, 0.4], 'mix', 'cat');
  peft.addWeightedAdapter(['default', 'b'], [0.7, 0.4], 'lin', 'linear');
  const layer = peft.model.getModule('model.layers.0.self_attn.q_proj') as LoRALinear;
  const d = (n: string): Float32Array => layer.delta(n);
  const expectCat = d('default').map((x, i) => 0.7 * x + 0.4 * d('b')[i]!);
  assert.ok(maxDiff(d('mix'), expectCat) < 1e-6);
  assert.equal(layer.lora_A.get('mix')!.weight.dim(0), 4);
  const A = (n: string): Float32Array => layer.lora_A.get(n)!.weight.f32;
  const B = (n: string): Float32Array => layer.lora_B.get(n)!.weight.f32;
  const linA = A('default').map((x, i) => Math.sqrt(0.7) * 2 * x + Math.sqrt(0.4) * 1 * A('b')[i]!);
  const linB = B('default').map((x, i) => Math.sqrt(0.7) * x + Math.sqrt(0.4) * B('b')[i]!);
  const ref = productBA(linA, linB, 16, 16, 2).flat();
  assert.ok(maxDiff(d('lin'), ref) < 1e-5);
  peft.setAdapter('mix');
  assert.ok(peft.trainableParameters().every(([p]) => p.includes('.mix.')));
});

test('addWeightedAdapter with LoRA on an Embedding: "cat" and "linear" follow PEFT\'s formulas (float64 reference)', () => {
  const peft = getPeftModel(tinyLlama(), loraConfig({ targetModules: ['embed_tokens', 'q_proj'], r: 2, loraAlpha: 4 }));
  peft.addAdapter('b', loraConfig({ targetModules: ['embed_tokens'], r: 3, loraAlpha: 3, useRslora: true }));
  randomise(peft, 'default', 5);
  randomise(peft, 'b', 6);
  const emb = peft.model.getModule('model.embed_tokens') as LoRAEmbedding;
  const N = 32,
    Dm = 16;
  const w = { default: 0.7, b: 0.4 },
    s = { default: 4 / 2, b: 3 / Math.sqrt(3) };
  const A = (n: string): Float32Array => emb.lora_embedding_A.get(n)!.f32; // [r, N]
  const B = (n: string): Float32Array => emb.lora_embedding_B.get(n)!.f32; // [D, r]
  /** Δ[i, j] = Σ_k B[j, k] A[k, i] (the table's row i), float64. */
  const product = (a: ArrayLike<number>, b: ArrayLike<number>, r: number): number[] => {
    const out: number[] = [];
    for (let i = 0; i < N; i++)
      for (let j = 0; j < Dm; j++) {
        let acc = 0;
        for (let k = 0; k < r; k++) acc += (b[j * r + k] ?? NaN) * (a[k * N + i] ?? NaN);
        out.push(acc);
      }
    return out;
  };
  const pd = product(A('default'), B('default'), 2),
    pb = product(A('b'), B('b'), 3);
  peft.addWeightedAdapter(['default', 'b'], [w.default, w.b], 'mix', 'cat');
  // cat: exactly Σ w·s·B·A, rank 2 + 3, on the embedding; q_proj gets the default adapter's part alone.
  assert.equal(emb.lora_embedding_A.get('mix')!.dim(0), 5);
  assertClose(
    [...emb.delta('mix')],
    pd.map((x, i) => w.default * s.default * x + w.b * s.b * (pb[i] ?? NaN)),
    { atol: 1e-5 },
  );
  // Forward of the combined adapter: table rows + Δ rows.
  peft.setAdapter('mix');
  const table = emb.base_layer.weight.f32;
  const rows = noGrad(() => emb.forward(Int32Array.from([3, 0, 31]))).f32;
  const dm = emb.delta('mix');
  assertClose(
    [...rows],
    [3, 0, 31].flatMap((t) =>
      Array.from({ length: Dm }, (_, j) => (table[t * Dm + j] ?? NaN) + (dm[t * Dm + j] ?? NaN)),
    ),
    { atol: 1e-6 },
  );
  // linear: A = Σ √w·s·A_i, B = Σ √w·B_i (PEFT's factors); needs equal ranks.
  assert.throws(() => peft.addWeightedAdapter(['default', 'b'], [0.5, 0.5], 'lin', 'linear'), /equal ranks/);
  peft.addAdapter('c', loraConfig({ targetModules: ['embed_tokens'], r: 2, loraAlpha: 8 }));
  randomise(peft, 'c', 7);
  peft.addWeightedAdapter(['default', 'c'], [w.default, 0.3], 'lin', 'linear');
  const linA = Array.from(
    A('default'),
    (x, i) => Math.sqrt(w.default) * s.default * x + Math.sqrt(0.3) * 4 * (A('c')[i] ?? NaN),
  );
  const linB = Array.from(B('default'), (x, i) => Math.sqrt(w.default) * x + Math.sqrt(0.3) * (B('c')[i] ?? NaN));
  assertClose([...emb.delta('lin')], product(linA, linB, 2), { atol: 1e-5 });
  assert.throws(
    () => emb.setAdapterWeights('bad', F.zeros([2, 31]), F.zeros([16, 2]), 1),
    /do not fit a 32x16 table \(expected \[r, 32\] and \[16, r\]\)/,
  );
});

test('bias "all" and "lora_only": the chosen biases train and are saved; "none" saves only lora_ tensors', () => {
  const make = (): LlamaForCausalLM => {
    const qwen2 = { architectures: ['Qwen2ForCausalLM'], model_type: 'qwen2', num_hidden_layers: 1 };
    return tiny({ ...qwen2, tie_word_embeddings: true }, 3).freeze();
  };
  const only = getPeftModel(make(), loraConfig({ targetModules: ['q_proj'], r: 2, bias: 'lora_only' }));
  assert.deepEqual(
    only
      .trainableParameters()
      .map(([p]) => p)
      .filter((p) => p.endsWith('bias')),
    ['base_model.model.model.layers.0.self_attn.q_proj.base_layer.bias'],
  );
  assert.ok(
    [...only.adapterStateDict().keys()].includes('base_model.model.model.layers.0.self_attn.q_proj.base_layer.bias'),
  );
  const all = getPeftModel(make(), loraConfig({ targetModules: ['q_proj'], r: 2, bias: 'all' }));
  assert.equal(all.trainableParameters().filter(([p]) => p.endsWith('bias')).length, 3, 'q, k, v biases of Qwen2');
  const none = getPeftModel(make(), loraConfig({ targetModules: ['q_proj'], r: 2 }));
  assert.ok([...none.adapterStateDict().keys()].every((k) => /lora_[AB]\.weight$/.test(k)));
});

test("modules_to_save: a BERT classifier trains as a copy, is saved under PEFT's keys and restored", () => {
  const json = {
    architectures: ['BertForSequenceClassification'],
    ...TINY_BERT,
    num_hidden_layers: 1,
    id2label: { 0: 'a', 1: 'b' },
    label2id: { a: 0, b: 1 },
  };
  const make = (): BertForSequenceClassification =>
    new BertForSequenceClassification(bertConfig(json), { seed: 2, configJson: json }).freeze().eval();
  const model = make();
  const origHead = Float32Array.from((model.classifier as Linear).weight.f32);
  const peft = getPeftModel(model, loraConfig({ taskType: 'SEQ_CLS', targetModules: ['query', 'value'], r: 2 }));
  const trainable = peft.trainableParameters().map(([p]) => p);
  assert.ok(
    trainable.includes('base_model.model.classifier.modules_to_save.default.weight') &&
      trainable.includes('base_model.model.classifier.modules_to_save.default.bias'),
  );
  assert.ok(!trainable.some((p) => p.includes('original_module')));
  const input = { inputIds: Int32Array.from([2, 5, 9, 3, 2, 8, 7, 3]), batchSize: 2, labels: Int32Array.from([0, 1]) };
  peft.train();
  const out = peft.forward(input);
  out.loss!.backward();
  assert.ok(
    model
      .namedParameters()
      .filter(([p]) => p.includes('modules_to_save'))
      .every(([, t]) => t.grad !== null),
  );
  for (const [p, t] of model.namedParameters())
    if (p.includes('modules_to_save')) t.f32.set(F.randn(t.shape, new Rng(t.size), 0.5).f32);
  peft.eval();
  assert.deepEqual(
    (model.getModule('classifier.original_module') as Linear).weight.f32,
    origHead,
    'the original head is untouched',
  );
  const dir = mkdtempSync(join(tmpdir(), 'tunekit-seqcls-'));
  try {
    peft.savePretrained(dir);
    const cfg = JSON.parse(readFileSync(join(dir, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
    assert.deepEqual(cfg.modules_to_save, ['classifier', 'score']);
    assert.equal(cfg.task_type, 'SEQ_CLS');
    const keys = [...readSafetensors(join(dir, 'adapter_model.safetensors')).tensors.keys()];
    assert.ok(keys.includes('base_model.model.classifier.weight') && keys.includes('base_model.model.classifier.bias'));
    const loaded = PeftModel.fromPretrained(make(), dir);
    const x = { inputIds: input.inputIds, batchSize: 2 };
    assert.deepEqual(
      noGrad(() => loaded.forward(x).logits.f32),
      noGrad(() => peft.forward(x).logits.f32),
    );
    const merged = loaded.mergeAndUnload();
    assert.ok(
      maxDiff(
        noGrad(() => merged.forward(x).logits.f32),
        noGrad(() => peft.forward(x).logits.f32),
      ) < 1e-5,
      'merge keeps the trained head',
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('init: gaussian A ~ N(0, 1/r) with B = 0; PiSSA keeps W = W_res + s·B·A and puts the top singular directions in B·A', () => {
  const base = new Linear(24, 20, { rng: new Rng(1) });
  const g = LoRALinear.fromBase(base, { r: 4, loraAlpha: 8, useRslora: false, initLoraWeights: 'gaussian', seed: 2 });
  const a = g.lora_A.get('default')!.weight.f32;
  const std = Math.sqrt(a.reduce((s, x) => s + x * x, 0) / a.length);
  assert.ok(Math.abs(std - 0.25) < 0.05, `std ${std}`);
  assert.ok(g.lora_B.get('default')!.weight.f32.every((x) => x === 0));
  // A weight with a known spectrum: W = U diag(10, 6, 3, 1, 0.1...) Vᵀ.
  const w0 = new Linear(24, 20, { rng: new Rng(3) });
  const orig = Float32Array.from(w0.weight.f32);
  const p = LoRALinear.fromBase(w0, { r: 3, loraAlpha: 6, useRslora: false, initLoraWeights: 'pissa', seed: 4 });
  const res = w0.weight.f32;
  const ba = productBA(p.lora_A.get('default')!.weight.f32, p.lora_B.get('default')!.weight.f32, 20, 24, 3).flat();
  assert.ok(
    maxDiff(
      Float64Array.from(res, (x, i) => x + 2 * ba[i]!),
      orig,
    ) < 1e-5,
    'W_res + s·B·A = W',
  );
  // s·B·A is the best rank-3 approximation: its residual is orthogonal to it (‖W‖² = ‖s·BA‖² + ‖W_res‖²).
  const n2 = (v: ArrayLike<number>): number => Array.from(v).reduce((s, x) => s + x * x, 0);
  assert.ok(Math.abs(n2(orig) - n2(ba.map((x) => 2 * x)) - n2(res)) < 1e-3 * n2(orig));
  const x = F.randn([2, 24], new Rng(5));
  const plain = new Linear(24, 20, { rng: new Rng(3) });
  assert.ok(maxDiff(p.forward(x).f32, plain.forward(x).f32) < 1e-5, 'the PiSSA layer starts equal to the base');
});
