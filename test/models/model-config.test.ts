/**
 * config.json parsing of each architecture (Llama/Mistral/Qwen, GPT-2, BERT): transformers' defaults,
 * errors naming the file and field, and every RoPE scaling variant against its published formula.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  computeRopeInvFreq,
  parseModelConfig,
  readModelConfig,
  type BertConfig,
  type DecoderConfig,
  type Gpt2Config,
  type RopeConfig,
} from '../../src/models/index.js';
import { readGenerationConfig } from '../../src/io/hf-config.js';
import { assertClose } from '../helpers/close.js';
import { assetPath, skipWithoutShared } from '../helpers/shared.js';

const tmp = mkdtempSync(join(tmpdir(), 'tunekit-cfg-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

test(
  'stories260K-hf config.json: Llama fields as in SOURCE.md',
  { skip: skipWithoutShared('stories260K-hf', 'config.json') },
  () => {
    const c = readModelConfig(assetPath('stories260K-hf')!) as DecoderConfig;
    assert.equal(c.architecture, 'LlamaForCausalLM');
    assert.equal(c.family, 'llama');
    assert.deepEqual(
      [
        c.hiddenSize,
        c.intermediateSize,
        c.numHiddenLayers,
        c.numAttentionHeads,
        c.numKeyValueHeads,
        c.headDim,
        c.vocabSize,
        c.maxPositionEmbeddings,
      ],
      [64, 172, 5, 8, 4, 8, 512, 512],
    );
    assert.equal(c.rmsNormEps, 1e-5);
    assert.equal(c.rope.ropeType, 'default');
    assert.equal(c.rope.ropeTheta, 10000);
    assert.equal(c.hiddenAct, 'silu');
    assert.equal(c.tieWordEmbeddings, true);
    assert.deepEqual([c.bosTokenId, c.eosTokenIds, c.padTokenId], [1, [2], null]);
    const g = readGenerationConfig(assetPath('stories260K-hf')!);
    assert.deepEqual([g.bosTokenId, g.eosTokenIds, g.maxLength, g.doSample, g.topK], [1, [2], 512, false, 50]);
  },
);

test('Mistral-7B config.json', { skip: skipWithoutShared('tokenizer-mistral-7b-v0.1', 'config.json') }, () => {
  const c = readModelConfig(join(assetPath('tokenizer-mistral-7b-v0.1')!, 'config.json')) as DecoderConfig;
  assert.equal(c.family, 'mistral');
  assert.equal(c.headDim, 128); // 4096 / 32
  assert.equal(c.numKeyValueHeads, 8);
  assert.equal(c.slidingWindow, 4096);
  assert.equal(c.maxPositionEmbeddings, 32768);
  assert.equal(c.dtype, 'bfloat16');
  assert.equal(c.tieWordEmbeddings, false);
  assert.equal(c.qkvBias, false);
});

test('Llama defaults follow transformers LlamaConfig', () => {
  const c = parseModelConfig({
    architectures: ['LlamaForCausalLM'],
    hidden_size: 256,
    num_attention_heads: 8,
  }) as DecoderConfig;
  assert.equal(c.numKeyValueHeads, 8); // = num_attention_heads when absent
  assert.equal(c.headDim, 32); // hidden / heads
  assert.equal(c.rmsNormEps, 1e-6);
  assert.equal(c.rope.ropeTheta, 10000);
  assert.equal(c.tieWordEmbeddings, false);
  assert.equal(c.intermediateSize, 11008);
  assert.equal(c.maxPositionEmbeddings, 2048);
  assert.deepEqual([c.bosTokenId, c.eosTokenIds], [1, [2]]);
  assert.equal(c.qkvBias, false);
  // attention_bias applies to q/k/v/o for Llama; Qwen2 always has q/k/v bias and no o bias.
  const biased = parseModelConfig({ architectures: ['LlamaForCausalLM'], attention_bias: true }) as DecoderConfig;
  assert.deepEqual([biased.qkvBias, biased.oProjBias], [true, true]);
  const qwen2 = parseModelConfig({
    architectures: ['Qwen2ForCausalLM'],
    hidden_size: 896,
    num_attention_heads: 14,
    num_key_value_heads: 2,
    rope_theta: 1000000,
    eos_token_id: [151645, 151643],
  }) as DecoderConfig;
  assert.deepEqual(
    [qwen2.qkvBias, qwen2.oProjBias, qwen2.qkNorm, qwen2.headDim, qwen2.rope.ropeTheta],
    [true, false, false, 64, 1000000],
  );
  assert.deepEqual(qwen2.eosTokenIds, [151645, 151643]);
  assert.equal(qwen2.slidingWindow, null); // use_sliding_window defaults to false
  const qwen3 = parseModelConfig({
    architectures: ['Qwen3ForCausalLM'],
    hidden_size: 1024,
    num_attention_heads: 16,
    num_key_value_heads: 8,
  }) as DecoderConfig;
  assert.deepEqual([qwen3.qkNorm, qwen3.headDim], [true, 128]); // Qwen3Config head_dim default 128, independent of hidden/heads
  // model_type alone selects the architecture.
  assert.equal(parseModelConfig({ model_type: 'mistral' }).architecture, 'MistralForCausalLM');
  // transformers v5 "head_dim": null means absent.
  assert.equal(
    (
      parseModelConfig({
        architectures: ['MistralForCausalLM'],
        head_dim: null,
        hidden_size: 512,
        num_attention_heads: 8,
      }) as DecoderConfig
    ).headDim,
    64,
  );
});

test('GPT-2 and BERT configs', () => {
  const g = parseModelConfig({
    architectures: ['GPT2LMHeadModel'],
    n_embd: 768,
    n_layer: 12,
    n_head: 12,
    n_positions: 1024,
    vocab_size: 50257,
  }) as Gpt2Config;
  assert.deepEqual(
    [
      g.family,
      g.intermediateSize,
      g.activationFunction,
      g.layerNormEpsilon,
      g.tieWordEmbeddings,
      g.bosTokenId,
      g.eosTokenIds,
    ],
    ['gpt2', 3072, 'gelu_new', 1e-5, true, 50256, [50256]],
  );
  const b = parseModelConfig({
    architectures: ['BertForSequenceClassification'],
    hidden_size: 312,
    num_attention_heads: 12,
    id2label: { '0': 'negative', '1': 'neutral', '2': 'positive' },
    problem_type: 'single_label_classification',
  }) as BertConfig;
  assert.deepEqual(
    [b.family, b.numLabels, b.id2label[2], b.problemType, b.hiddenAct, b.typeVocabSize, b.layerNormEps, b.padTokenId],
    ['bert', 3, 'positive', 'single_label_classification', 'gelu', 2, 1e-12, 0],
  );
  const b2 = parseModelConfig({ architectures: ['BertForTokenClassification'], num_labels: 9 }) as BertConfig;
  assert.deepEqual([b2.numLabels, b2.id2label[8]], [9, 'LABEL_8']);
  assert.equal((parseModelConfig({ architectures: ['BertModel'] }) as BertConfig).numLabels, 2);
});

test('invalid configs name the file and the field', () => {
  assert.throws(() => parseModelConfig({ architectures: ['LlamaForCausalLM'], hidden_size: 'abc' }), {
    message: 'config.json: field "hidden_size" must be a positive integer, got "abc"',
  });
  assert.equal(
    parseModelConfig({
      architectures: ['BertForMaskedLM'],
      model_type: 'bert',
      vocab_size: 30,
      hidden_size: 8,
      num_hidden_layers: 1,
      num_attention_heads: 2,
      intermediate_size: 16,
      max_position_embeddings: 16,
    }).family,
    'bert',
  );
  assert.throws(
    () => parseModelConfig({ architectures: ['T5ForConditionalGeneration'] }),
    /unsupported architecture "T5ForConditionalGeneration" \(supported: LlamaForCausalLM, .*BertForPreTraining\)/,
  );
  assert.throws(() => parseModelConfig({ model_type: 'mamba' }), /unsupported model_type "mamba"/);
  assert.throws(
    () => parseModelConfig({ architectures: ['LlamaForCausalLM'], num_attention_heads: 8, num_key_value_heads: 3 }),
    /field "num_key_value_heads" must be a divisor of num_attention_heads \(8\), got 3/,
  );
  assert.throws(
    () => parseModelConfig({ architectures: ['LlamaForCausalLM'], hidden_size: 100, num_attention_heads: 8 }),
    /field "hidden_size" must be divisible by num_attention_heads/,
  );
  assert.throws(
    () => parseModelConfig({ architectures: ['LlamaForCausalLM'], rms_norm_eps: -1 }),
    /field "rms_norm_eps" must be a positive number, got -1/,
  );
  assert.throws(
    () => parseModelConfig({ architectures: ['LlamaForCausalLM'], hidden_act: 'swiglu2' }),
    /field "hidden_act" must be one of "gelu"/,
  );
  assert.throws(
    () => parseModelConfig({ architectures: ['LlamaForCausalLM'], rope_scaling: { type: 'linear' } }),
    /config.json: rope_scaling: field "factor" must be present for rope_type "linear"/,
  );
  assert.throws(
    () => parseModelConfig({ architectures: ['LlamaForCausalLM'], rope_scaling: { rope_type: 'su', factor: 2 } }),
    /rope_scaling: field "rope_type" must be one of "default", "linear", "dynamic", "yarn", "llama3", "longrope", got "su"/,
  );
  assert.throws(
    () =>
      parseModelConfig({
        architectures: ['LlamaForCausalLM'],
        rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 4, high_freq_factor: 1 },
      }),
    /field "high_freq_factor" must be greater than low_freq_factor/,
  );
  assert.throws(
    () => parseModelConfig({ architectures: ['BertModel'], problem_type: 'ranking' }),
    /field "problem_type" must be one of "regression"/,
  );
  assert.throws(
    () => parseModelConfig({ architectures: ['BertModel'], id2label: { a: 'x' } }),
    /field "id2label" must be an object mapping integer ids/,
  );
  assert.throws(
    () => parseModelConfig({ architectures: ['LlamaForCausalLM'], eos_token_id: [2, 'x'] }),
    /field "eos_token_id" must be a token id or a list of token ids/,
  );
  const bad = join(tmp, 'bad.json');
  writeFileSync(bad, '{"hidden_size": 4,');
  assert.throws(
    () => readModelConfig(bad),
    (e: Error) => e.message.startsWith(`${bad}: not valid JSON`),
  );
  writeFileSync(bad, '[1]');
  assert.throws(() => readModelConfig(bad), /expected a JSON object/);
  assert.throws(() => readModelConfig(join(tmp, 'missing.json')), /missing.json: file not found/);
});

const llama = (rope: Record<string, unknown> | null, extra: Record<string, unknown> = {}): DecoderConfig =>
  parseModelConfig({
    architectures: ['LlamaForCausalLM'],
    hidden_size: 4096,
    num_attention_heads: 32,
    max_position_embeddings: 8192,
    rope_scaling: rope,
    ...extra,
  }) as DecoderConfig;

test('RoPE default and linear: inv_freq = 1/θ^(2i/d) (÷ factor)', () => {
  const c = llama(null, { rope_theta: 500000 });
  const { invFreq, attentionScaling } = computeRopeInvFreq(c);
  assert.equal(invFreq.length, 64);
  assert.equal(invFreq[0], 1);
  assertClose(invFreq[1]!, 500000 ** (-2 / 128), 1e-12);
  assertClose(invFreq[63]!, 500000 ** (-126 / 128), 1e-12);
  assert.equal(attentionScaling, 1);
  const lin = computeRopeInvFreq(llama({ type: 'linear', factor: 4 }, { rope_theta: 500000 }));
  assertClose(
    lin.invFreq,
    invFreq.map((v) => v / 4),
  );
  // partial_rotary_factor rotates only part of each head: d = 128 × 0.5 = 64.
  const partial = computeRopeInvFreq(llama(null, { partial_rotary_factor: 0.5 }));
  assert.equal(partial.invFreq.length, 32);
  assertClose(partial.invFreq[1]!, 10000 ** (-2 / 64), 1e-12);
});

test('RoPE dynamic NTK: base grows only beyond max_position_embeddings', () => {
  const c = llama({ rope_type: 'dynamic', factor: 2 });
  const d = 128;
  // At or below max_position_embeddings: (2·L/L − 1)^(d/(d−2)) = 1, i.e. the default frequencies.
  assertClose(computeRopeInvFreq(c, 100).invFreq, computeRopeInvFreq(llama(null)).invFreq);
  // At 2 × max: base' = 10000 · (2·2 − 1)^(128/126).
  const base = 10000 * 3 ** (d / (d - 2));
  const { invFreq } = computeRopeInvFreq(c, 16384);
  assertClose(invFreq[5]!, 1 / base ** (10 / d), 1e-12);
  assertClose(invFreq[63]!, 1 / base ** (126 / d), 1e-12);
});

test('RoPE YaRN: ramp between the correction dims, attention scaling 0.1·ln(s)+1', () => {
  // d = 128, θ = 10000, original context 4096, factor 4. By hand:
  //   dim(32 rotations) = 128·ln(4096/(32·2π)) / (2·ln 10000) = 20.94 → floor 20
  //   dim(1 rotation)   = 128·ln(4096/(2π))    / (2·ln 10000) = 45.03 → ceil 46
  const c = llama(
    { rope_type: 'yarn', factor: 4, original_max_position_embeddings: 4096 },
    { max_position_embeddings: 16384 },
  );
  const { invFreq, attentionScaling } = computeRopeInvFreq(c);
  assertClose(attentionScaling, 0.1 * Math.log(4) + 1, 1e-12);
  for (let i = 0; i < 64; i++) {
    const base = 1 / 10000 ** ((2 * i) / 128);
    const ramp = Math.min(1, Math.max(0, (i - 20) / (46 - 20)));
    const expected = i <= 20 ? base : i >= 46 ? base / 4 : (base / 4) * ramp + base * (1 - ramp);
    assertClose(invFreq[i]!, expected, 1e-12);
  }
  // Without truncation the ramp runs between the raw correction dims.
  const raw = computeRopeInvFreq(
    llama({ rope_type: 'yarn', factor: 4, original_max_position_embeddings: 4096, truncate: false }),
  );
  const lo = (128 * Math.log(4096 / (32 * 2 * Math.PI))) / (2 * Math.log(10000));
  const hi = (128 * Math.log(4096 / (2 * Math.PI))) / (2 * Math.log(10000));
  const i = 30;
  const ramp = (i - lo) / (hi - lo);
  const base = 1 / 10000 ** ((2 * i) / 128);
  assertClose(raw.invFreq[i]!, (base / 4) * ramp + base * (1 - ramp), 1e-12);
  // DeepSeek-style mscale ratio and explicit attention_factor.
  const ds = computeRopeInvFreq(
    llama({
      rope_type: 'yarn',
      factor: 40,
      mscale: 0.707,
      mscale_all_dim: 0.707,
      original_max_position_embeddings: 4096,
    }),
  );
  assert.equal(ds.attentionScaling, 1);
  const ds2 = computeRopeInvFreq(
    llama({ rope_type: 'yarn', factor: 40, mscale: 1, mscale_all_dim: 0.5, original_max_position_embeddings: 4096 }),
  );
  assertClose(ds2.attentionScaling, (0.1 * Math.log(40) + 1) / (0.05 * Math.log(40) + 1), 1e-12);
  assert.equal(
    computeRopeInvFreq(llama({ rope_type: 'yarn', factor: 4, attention_factor: 1.5 })).attentionScaling,
    1.5,
  );
  // Without original_max_position_embeddings, max_position_embeddings (8192) is the original context.
  const noOrig = llama({ rope_type: 'yarn', factor: 4 });
  assert.equal(noOrig.rope.originalMaxPositionEmbeddings, 8192);
});

test('RoPE Llama 3.1: low frequencies ÷ factor, high unchanged, smooth in between', () => {
  // Llama-3.1-8B: θ 500000, factor 8, low 1, high 4, original 8192 → wavelength cut-offs 8192 and 2048.
  const c = llama(
    { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 },
    { rope_theta: 500000, max_position_embeddings: 131072 },
  );
  const { invFreq } = computeRopeInvFreq(c);
  const seen = { high: 0, low: 0, mid: 0 };
  for (let i = 0; i < 64; i++) {
    const f = 1 / 500000 ** ((2 * i) / 128);
    const wavelen = (2 * Math.PI) / f;
    if (wavelen < 2048) {
      seen.high++;
      assert.equal(invFreq[i], f);
    } else if (wavelen > 8192) {
      seen.low++;
      assertClose(invFreq[i]!, f / 8, 1e-12);
    } else {
      seen.mid++;
      const s = (8192 / wavelen - 1) / 3;
      assertClose(invFreq[i]!, ((1 - s) * f) / 8 + s * f, 1e-12);
    }
  }
  // The three regimes all occur for these settings.
  assert.ok(seen.high > 0 && seen.low > 0 && seen.mid > 0, JSON.stringify(seen));
});

test('RoPE LongRoPE: short/long factors and sqrt(1 + ln s / ln L) scaling; v5 rope_parameters key', () => {
  const short = Array.from({ length: 48 }, (_, i) => 1 + i / 100);
  const long = Array.from({ length: 48 }, (_, i) => 2 + i / 10);
  // Phi-3-mini-128k style: head_dim 96, max 131072, top-level original_max_position_embeddings 4096.
  const c = parseModelConfig({
    architectures: ['LlamaForCausalLM'],
    hidden_size: 3072,
    num_attention_heads: 32,
    max_position_embeddings: 131072,
    original_max_position_embeddings: 4096,
    rope_parameters: { rope_type: 'longrope', rope_theta: 10000, short_factor: short, long_factor: long },
  }) as DecoderConfig;
  const atInit = computeRopeInvFreq(c);
  // factor = 131072/4096 = 32 and ln 32 / ln 4096 = 5/12.
  assertClose(atInit.attentionScaling, Math.sqrt(1 + 5 / 12), 1e-12);
  assertClose(
    atInit.invFreq,
    short.map((s, i) => 1 / (s * 10000 ** ((2 * i) / 96))),
  );
  const longCtx = computeRopeInvFreq(c, 5000);
  assertClose(
    longCtx.invFreq,
    long.map((s, i) => 1 / (s * 10000 ** ((2 * i) / 96))),
  );
  assert.throws(
    () =>
      parseModelConfig({
        architectures: ['LlamaForCausalLM'],
        hidden_size: 3072,
        num_attention_heads: 32,
        rope_scaling: { type: 'longrope', short_factor: [1], long_factor: long },
      }),
    /rope_scaling: field "short_factor" must be a list of 48 numbers/,
  );
});

// Keep the RopeConfig contract minimal: models may pass their own objects.
test('computeRopeInvFreq accepts a minimal RopeConfig', () => {
  const rc: RopeConfig = { headDim: 4, maxPositionEmbeddings: 16, rope: llama(null).rope };
  assertClose(computeRopeInvFreq(rc).invFreq, [1, 0.01]);
});
