/**
 * Decoder sequence classifiers: transformers' last-non-pad pooling, logits equal to the score head
 * applied (in float64) to the causal LM body's hidden state, padding-invariance, and save/reload
 * with transformers' weight names.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readSafetensors } from '../../src/io/safetensors.js';
import { LlamaForCausalLM } from '../../src/models/llama.js';
import {
  GPT2ForSequenceClassification,
  LlamaForSequenceClassification,
  lastNonPadIndex,
} from '../../src/models/sequence-classification.js';
import { noGrad } from '../../src/tensor/tensor.js';
import { gpt2Config, llamaConfig, TINY_LLAMA } from '../helpers/tiny-models.js';

const llamaJson = {
  ...TINY_LLAMA,
  rms_norm_eps: 1e-5,
  tie_word_embeddings: false,
  eos_token_id: 2,
  pad_token_id: 0,
  num_labels: 3,
};

test('lastNonPadIndex: the rightmost non-pad position on either padding side; no pad id needs batch 1', () => {
  assert.deepEqual([...lastNonPadIndex(Int32Array.from([5, 6, 7, 0, 0, 0, 5, 6]), 2, 0)], [2, 3]);
  assert.deepEqual([...lastNonPadIndex(Int32Array.from([5, 6, 2, 2]), 1, 2)], [1]); // pad == EOS: trailing EOS is padding (transformers)
  assert.deepEqual([...lastNonPadIndex(Int32Array.from([5, 6, 7]), 1, null)], [2]);
  assert.throws(() => lastNonPadIndex(Int32Array.from([5, 6, 7, 8]), 2, null), /without a pad token id/);
});

test('LlamaForSequenceClassification: score(hidden at the last real token), padding-invariant, reloads with transformers names', () => {
  const config = llamaConfig(llamaJson);
  const clf = new LlamaForSequenceClassification(config, { seed: 4, configJson: llamaJson });
  assert.equal(clf.numLabels, 3);
  const body = new LlamaForCausalLM({ ...config, tieWordEmbeddings: true }, { seed: 4 });
  const row = Int32Array.from([5, 9, 11, 3]);
  const h = noGrad(() => body.forward({ inputIds: row }).hidden.f32);
  const d = 16;
  const W = clf.score.weight.f32;
  const expected = [0, 1, 2].map((c) => {
    let s = 0;
    for (let k = 0; k < d; k++) s += W[c * d + k]! * h[3 * d + k]!;
    return s;
  });
  const padded = Int32Array.from([5, 9, 11, 3, 0, 0, 7, 8, 0, 0, 0, 0]);
  const mask = Uint8Array.from(padded, (t) => (t === 0 ? 0 : 1));
  const logits = noGrad(() => clf.forward({ inputIds: padded, batchSize: 2, attentionMask: mask }).logits.f32);
  expected.forEach((e, c) => assert.ok(Math.abs(logits[c]! - e) < 1e-5, `class ${c}: ${logits[c]} vs ${e}`));
  const dir = mkdtempSync(join(tmpdir(), 'tunekit-clf-'));
  try {
    clf.savePretrained(dir);
    const keys = [...readSafetensors(join(dir, 'model.safetensors')).tensors.keys()];
    assert.ok(
      keys.includes('score.weight') &&
        keys.includes('model.embed_tokens.weight') &&
        keys.includes('model.layers.1.mlp.down_proj.weight'),
    );
    assert.ok(!keys.some((k) => k.startsWith('lm_head')));
    const back = LlamaForSequenceClassification.fromPretrained(dir);
    const again = noGrad(() => back.forward({ inputIds: padded, batchSize: 2, attentionMask: mask }).logits.f32);
    assert.deepEqual([...again], [...logits]);
    assert.deepEqual(
      back.trainableParameters().map(([n]) => n),
      ['score.weight'],
    );
    // loss with class ids: mean cross-entropy over the two rows
    const out = back.forward({ inputIds: padded, batchSize: 2, attentionMask: mask, labels: Int32Array.from([2, 0]) });
    const lse = (r: number): number => Math.log([0, 1, 2].reduce((s, c) => s + Math.exp(again[r * 3 + c]!), 0));
    assert.ok(Math.abs(out.loss!.item() - (lse(0) - again[2]! + (lse(1) - again[3]!)) / 2) < 1e-5);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('GPT2ForSequenceClassification: transformer.* and score.weight names, reload reproduces the logits', () => {
  const json = {
    architectures: ['GPT2LMHeadModel'],
    model_type: 'gpt2',
    vocab_size: 30,
    n_embd: 16,
    n_layer: 2,
    n_head: 2,
    n_positions: 32,
    pad_token_id: 0,
    num_labels: 1,
    embd_pdrop: 0,
    resid_pdrop: 0,
    attn_pdrop: 0,
  };
  const clf = new GPT2ForSequenceClassification(gpt2Config(json), { seed: 1, configJson: json });
  const ids = Int32Array.from([4, 5, 6, 0, 7, 8, 9, 10]);
  const a = noGrad(() => clf.forward({ inputIds: ids, batchSize: 2 }).logits.f32);
  assert.equal(a.length, 2);
  const dir = mkdtempSync(join(tmpdir(), 'tunekit-gpt2clf-'));
  try {
    clf.savePretrained(dir);
    const keys = [...readSafetensors(join(dir, 'model.safetensors')).tensors.keys()];
    assert.ok(keys.includes('score.weight') && keys.includes('transformer.wte.weight'));
    const b = noGrad(
      () => GPT2ForSequenceClassification.fromPretrained(dir).forward({ inputIds: ids, batchSize: 2 }).logits.f32,
    );
    assert.deepEqual([...b], [...a]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
