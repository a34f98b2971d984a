/**
 * Prompt tuning, P-tuning and prefix tuning: PEFT-written folders give the outputs of references
 * built in the test (virtual tokens concatenated by hand; prefixes unpacked with the documented
 * index formula into a KV cache), generation agrees with a cache-free greedy loop, BERT pools the
 * real [CLS], and each method trains on stories260K with the evidence list of the issue.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generate } from '../../src/generate/generate.js';
import { BertForSequenceClassification } from '../../src/models/bert.js';
import { KVCache } from '../../src/models/causal-lm.js';
import { LlamaForCausalLM } from '../../src/models/llama.js';
import { PeftModel, getPeftModel } from '../../src/peft/peft-model.js';
import { pTuningConfig, prefixTuningConfig, promptTuningConfig } from '../../src/peft/prompt/config.js';
import { PromptEncoder } from '../../src/peft/prompt/encoders.js';
import * as F from '../../src/tensor/ops.js';
import { Rng } from '../../src/tensor/random.js';
import { Tensor, noGrad } from '../../src/tensor/tensor.js';
import { gradcheck } from '../helpers/gradcheck.js';
import { maxDiff, randomValues, writePeftFolder } from '../helpers/peft-folder.js';
import { assetPath, skipWithoutShared } from '../helpers/shared.js';
import { checkMethod } from '../helpers/peft-check.js';
import { bertConfig, TINY_BERT, tinyLlama } from '../helpers/tiny-models.js';

const STORIES = 'stories260K-hf';
const skip = skipWithoutShared(STORIES);
const quiet = { onWarning: () => {} };
const base = {
  base_model_name_or_path: 'stories260K',
  inference_mode: true,
  revision: null,
  task_type: 'CAUSAL_LM',
  num_transformer_submodules: 1,
  num_layers: 5,
  auto_mapping: null,
  peft_version: '0.17.1',
};
const ids = Int32Array.from([1, 403, 261, 17, 88, 301]);

function greedyRef(step: (seq: number[]) => Float32Array, prompt: number[], n: number): number[] {
  const seq = [...prompt];
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const logits = step(seq);
    let best = 0;
    for (let j = 1; j < logits.length; j++) if (logits[j]! > logits[best]!) best = j;
    seq.push(best);
    out.push(best);
  }
  return out;
}

test(
  'PEFT prompt-tuning and P-tuning folders: logits equal the model fed [prompt_embeddings, tokens]; generation agrees',
  { skip },
  () => {
    const dir = assetPath(STORIES)!;
    const P = 4;
    const emb = randomValues(P * 64, 7, 0.5);
    const folders = [
      writePeftFolder(
        {
          ...base,
          peft_type: 'PROMPT_TUNING',
          num_virtual_tokens: P,
          token_dim: 64,
          num_attention_heads: 8,
          prompt_tuning_init: 'RANDOM',
          prompt_tuning_init_text: null,
          tokenizer_name_or_path: null,
          tokenizer_kwargs: null,
          modules_to_save: null,
        },
        { prompt_embeddings: { shape: [P, 64], data: emb } },
      ),
      writePeftFolder(
        {
          ...base,
          peft_type: 'P_TUNING',
          num_virtual_tokens: P,
          token_dim: 64,
          num_attention_heads: 8,
          encoder_reparameterization_type: 'MLP',
          encoder_hidden_size: 128,
          encoder_num_layers: 2,
          encoder_dropout: 0.0,
          modules_to_save: null,
        },
        { prompt_embeddings: { shape: [P, 64], data: emb } },
      ),
    ];
    try {
      const ref = LlamaForCausalLM.fromPretrained(dir);
      const refLogits = (seq: number[]): Tensor =>
        noGrad(() => {
          const words = ref.embedTokens(Int32Array.from(seq));
          return ref.forward({ inputsEmbeds: F.concat([new Tensor(emb, [1, P, 64]), words], 1) }).logits;
        });
      const want = F.slice(refLogits([...ids]), 1, P, P + ids.length).f32;
      for (const folder of folders) {
        const peft = PeftModel.fromPretrained(LlamaForCausalLM.fromPretrained(dir), folder, quiet);
        const got = noGrad(() => peft.forward({ inputIds: ids }).logits.f32);
        assert.ok(maxDiff(got, want) < 1e-5, `${peft.configOf().peftType}: ${maxDiff(got, want)}`);
        const gen = generate(peft, [...ids], { maxNewTokens: 5 }).tokens[0]!;
        const T = (seq: number[]): Float32Array => {
          const l = refLogits(seq);
          return F.slice(l, 1, l.dim(1) - 1, l.dim(1)).f32;
        };
        assert.deepEqual(gen, greedyRef(T, [...ids], 5));
      }
    } finally {
      for (const f of folders) rmSync(f, { recursive: true, force: true });
    }
  },
);

test(
  'PEFT prefix-tuning folder on a grouped-query model: [P, 2·L·H_kv·D] unpacked by the documented index is the KV prefix',
  { skip },
  () => {
    const dir = assetPath(STORIES)!;
    const P = 3,
      L = 5,
      H = 4,
      D = 8; // stories260K: 8 query heads, 4 key/value heads of 8
    const flat = randomValues(P * 2 * L * H * D, 9, 0.7);
    const folder = writePeftFolder(
      {
        ...base,
        peft_type: 'PREFIX_TUNING',
        num_virtual_tokens: P,
        token_dim: H * D,
        num_attention_heads: H,
        encoder_hidden_size: 32,
        prefix_projection: false,
        modules_to_save: null,
      },
      { prompt_embeddings: { shape: [P, 2 * L * H * D], data: flat } },
    );
    try {
      const ref = LlamaForCausalLM.fromPretrained(dir);
      const refStep = (seq: number[], mask?: Uint8Array): Tensor =>
        noGrad(() => {
          const cache = new KVCache(L);
          for (let l = 0; l < L; l++) {
            const kv = [0, 1].map((which) => {
              const t = new Float32Array(H * P * D);
              for (let h = 0; h < H; h++)
                for (let p = 0; p < P; p++)
                  for (let d = 0; d < D; d++)
                    t[(h * P + p) * D + d] = flat[p * 2 * L * H * D + ((2 * l + which) * H + h) * D + d]!;
              return new Tensor(t, [1, H, P, D]);
            });
            cache.update(l, kv[0]!, kv[1]!);
          }
          return ref.forward({ inputIds: Int32Array.from(seq), cache, ...(mask ? { attentionMask: mask } : {}) })
            .logits;
        });
      const peft = PeftModel.fromPretrained(LlamaForCausalLM.fromPretrained(dir), folder, quiet);
      const got = noGrad(() => peft.forward({ inputIds: ids }).logits.f32);
      assert.ok(maxDiff(got, refStep([...ids]).f32) < 1e-5, `prefix: ${maxDiff(got, refStep([...ids]).f32)}`);
      // Padding: a left-padded row gives its unpadded logits.
      const padded = Int32Array.from([0, 0, ...ids]);
      const mask = Uint8Array.from([0, 0, 1, 1, 1, 1, 1, 1]);
      const gp = noGrad(() => peft.forward({ inputIds: padded, attentionMask: mask }).logits.f32);
      assert.ok(
        maxDiff(gp.subarray(2 * 512), got) < 1e-4,
        `prefix with padding: ${maxDiff(gp.subarray(2 * 512), got)}`,
      );
      // Generation through the KV cache equals the cache-free greedy loop.
      const gen = generate(peft, [...ids], { maxNewTokens: 6 }).tokens[0]!;
      const T = (seq: number[]): Float32Array => {
        const l = refStep(seq);
        return F.slice(l, 1, l.dim(1) - 1, l.dim(1)).f32;
      };
      assert.deepEqual(gen, greedyRef(T, [...ids], 6));
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  },
);

test('BERT sequence classification with prompt tuning pools the real [CLS] (virtual tokens after it)', () => {
  const json = {
    architectures: ['BertForSequenceClassification'],
    ...TINY_BERT,
    id2label: { 0: 'a', 1: 'b' },
    label2id: { a: 0, b: 1 },
  };
  const make = (): BertForSequenceClassification =>
    new BertForSequenceClassification(bertConfig(json), { seed: 5, configJson: json }).freeze().eval();
  const model = make();
  const peft = getPeftModel(model, promptTuningConfig({ taskType: 'SEQ_CLS', numVirtualTokens: 3, seed: 2 }));
  const prompts = (peft.prompt_encoder.get('default') as unknown as { embedding: { weight: Tensor } }).embedding.weight;
  const input = {
    inputIds: Int32Array.from([2, 11, 12, 13, 3, 2, 21, 22, 3, 0]),
    batchSize: 2,
    attentionMask: Uint8Array.from([1, 1, 1, 1, 1, 1, 1, 1, 1, 0]),
  };
  const got = noGrad(() => peft.forward(input).logits.f32);
  const ref = make();
  const words = ref.bert.embedTokens(input.inputIds, 2);
  const rows = [0, 1].map((b) =>
    F.concat(
      [
        F.slice(F.slice(words, 0, b, b + 1), 1, 0, 1),
        F.reshape(prompts, [1, 3, 16]),
        F.slice(F.slice(words, 0, b, b + 1), 1, 1, 5),
      ],
      1,
    ),
  );
  const mask = Uint8Array.from([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0]);
  const want = noGrad(
    () => ref.forward({ inputsEmbeds: F.concat(rows, 0), batchSize: 2, attentionMask: mask }).logits.f32,
  );
  assert.ok(maxDiff(got, want) < 1e-6);
  const virtualFirst = noGrad(
    () =>
      ref.forward({
        inputsEmbeds: F.concat(
          [F.concat([F.reshape(prompts, [1, 3, 16]), F.reshape(prompts, [1, 3, 16])], 0), words],
          1,
        ),
        batchSize: 2,
        attentionMask: mask,
      }).logits.f32,
  );
  assert.ok(maxDiff(got, virtualFirst) > 1e-4, 'pooling a virtual token would give other logits');
  // Training reaches the prompts through the classifier loss; the encoder is frozen.
  peft.train();
  peft.forward({ ...input, labels: Int32Array.from([0, 1]) }).loss!.backward();
  assert.ok(prompts.grad && prompts.grad.some((g) => g !== 0));
  assert.ok(
    model
      .namedParameters()
      .filter(([p]) => !p.startsWith('classifier'))
      .every(([, t]) => t.grad === null),
  );
});

test(
  'finite differences: P-tuning MLP and LSTM encoders, prefix and prompt gradients through the model',
  { skip },
  () => {
    for (const type of ['MLP', 'LSTM'] as const) {
      const enc = new PromptEncoder(3, 4, { type, hidden: 5, numLayers: 2, dropout: 0, seed: 1 });
      gradcheck(
        `p-tuning ${type}`,
        (e) => {
          enc.embedding.weight = e;
          return enc.output();
        },
        [enc.embedding.weight],
      );
    }
    const dir = assetPath(STORIES)!;
    for (const config of [
      prefixTuningConfig({ numVirtualTokens: 2, prefixProjection: true, encoderHiddenSize: 8 }),
      promptTuningConfig({ numVirtualTokens: 2 }),
    ]) {
      const peft = getPeftModel(LlamaForCausalLM.fromPretrained(dir), config);
      const params = peft.trainableParameters().map(([, t]) => t);
      gradcheck(
        config.peftType,
        (...ps) => {
          ps.forEach((p, i) => assert.equal(p, params[i]));
          return peft.forward({ inputIds: ids.subarray(0, 4) }).logits;
        },
        params,
        { probes: 3 },
      );
    }
  },
);

test(
  'prompt methods on stories260K: loss falls, base unchanged, only the encoder trains, save -> load identical; the encoder resumes',
  { skip },
  () => {
    const expectPrefix = /^prompt_encoder\.default\./;
    checkMethod('prompt-tuning', promptTuningConfig({ numVirtualTokens: 4, promptTuningInit: 'SAMPLE_VOCAB' }), {
      merge: false,
      lr: 0.05,
      expectPrefix,
    });
    checkMethod('p-tuning-mlp', pTuningConfig({ numVirtualTokens: 4, encoderHiddenSize: 32 }), {
      merge: false,
      lr: 0.01,
      expectPrefix,
    });
    checkMethod(
      'p-tuning-lstm',
      pTuningConfig({ numVirtualTokens: 3, encoderReparameterizationType: 'LSTM', encoderHiddenSize: 16 }),
      { merge: false, lr: 0.01, steps: 8, expectPrefix },
    );
    checkMethod('prefix', prefixTuningConfig({ numVirtualTokens: 4, prefixProjection: true, encoderHiddenSize: 32 }), {
      merge: false,
      lr: 0.01,
      expectPrefix,
    });
    // Resuming: the saved folder carries the encoder; isTrainable restores it (its output = prompt_embeddings).
    const dir = assetPath(STORIES)!;
    const peft = getPeftModel(
      LlamaForCausalLM.fromPretrained(dir),
      pTuningConfig({ numVirtualTokens: 4, encoderHiddenSize: 32 }),
    );
    const folder = mkdtempSync(join(tmpdir(), 'tunekit-ptuning-'));
    try {
      peft.savePretrained(folder);
      assert.ok(existsSync(join(folder, 'prompt_encoder.safetensors')));
      const resumed = PeftModel.fromPretrained(LlamaForCausalLM.fromPretrained(dir), folder, {
        isTrainable: true,
        onWarning: (m) => assert.fail(m),
      });
      assert.ok(
        resumed.trainableParameters().some(([p]) => p.includes('mlp_head')),
        'the MLP is back and trains',
      );
      assert.deepEqual(
        noGrad(() => resumed.forward({ inputIds: ids }).logits.f32),
        noGrad(() => peft.forward({ inputIds: ids }).logits.f32),
      );
      const inference = PeftModel.fromPretrained(LlamaForCausalLM.fromPretrained(dir), folder);
      assert.equal(inference.trainableParameterCounts()[0], 0);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
    // Another base: the token_dim recorded in the file names the mismatch.
    const bad = writePeftFolder(
      {
        ...base,
        peft_type: 'PROMPT_TUNING',
        num_virtual_tokens: 2,
        token_dim: 48,
        num_attention_heads: 8,
        modules_to_save: null,
      },
      { prompt_embeddings: { shape: [2, 48], data: new Float32Array(96) } },
    );
    try {
      assert.throws(
        () => PeftModel.fromPretrained(LlamaForCausalLM.fromPretrained(dir), bad, quiet),
        /PROMPT_TUNING: token_dim is 48 but the model needs 64/,
      );
    } finally {
      rmSync(bad, { recursive: true, force: true });
    }
    void Rng;
  },
);

test('prefix tuning with a KV cache: the cache must hold the active adapter prefix (switching adapters mid-generation is an error)', () => {
  const peft = getPeftModel(tinyLlama(), prefixTuningConfig({ numVirtualTokens: 3 }));
  peft.addAdapter('other', prefixTuningConfig({ numVirtualTokens: 3 }));
  const prompt = Int32Array.from([1, 5, 9, 2]);
  const next = Int32Array.from([7]);
  // The reference: the whole sequence without a cache, under the default adapter.
  const whole = noGrad(() => peft.forward({ inputIds: Int32Array.from([...prompt, ...next]) }).logits);
  const want = F.slice(whole, 1, prompt.length, prompt.length + 1).f32;
  const cache = new KVCache(peft.model.config.numHiddenLayers);
  noGrad(() => peft.forward({ inputIds: prompt, cache }));
  assert.equal(cache.prefixLength, 3, 'the prefill seeded the cache with the prefix');
  // The same adapter continues through the cache and gives the cache-free logits.
  const step = noGrad(() => peft.forward({ inputIds: next, cache }).logits.f32);
  assert.ok(maxDiff(step, want) < 1e-5, `cached step vs whole sequence: ${maxDiff(step, want)}`);
  cache.truncate(prompt.length);
  // Another adapter of the same length must not decode against the first one's prefix.
  peft.setAdapter('other');
  const [name, p1] = peft.trainableParameters()[0]!;
  assert.match(name, /\.other\./);
  p1.f32[0]! += 0.5; // both adapters start from the same seed: make them differ
  assert.throws(() => noGrad(() => peft.forward({ inputIds: next, cache })), /cache holds a different prefix/);
  // Nor may the first adapter once its prefix changed (a training step between prefill and decoding).
  peft.setAdapter('default');
  const [, p0] = peft.trainableParameters()[0]!;
  p0.f32[0]! += 0.5;
  assert.throws(() => noGrad(() => peft.forward({ inputIds: next, cache })), /cache holds a different prefix/);
});
