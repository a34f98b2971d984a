/**
 * Auto classes: dispatch on config.json, seeded random construction, save → fromPretrained round
 * trips, heads freshly initialised from encoder-only checkpoints (with the warning), label
 * overrides, and the real GPT-2 / BERT tokenizers feeding the models.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AutoTokenizer } from '../../src/io/tokenizer.js';
import type { Linear } from '../../src/nn/layers.js';
import {
  AutoModel,
  AutoModelForCausalLM,
  AutoModelForQuestionAnswering,
  AutoModelForSequenceClassification,
  AutoModelForTokenClassification,
  BertForSequenceClassification,
  BertModel,
  GPT2LMHeadModel,
  LlamaForCausalLM,
  GPT2ForSequenceClassification,
} from '../../src/models/index.js';
import { noGrad } from '../../src/tensor/tensor.js';
import { assetPath, skipWithoutShared } from '../helpers/shared.js';
import { TINY_LLAMA } from '../helpers/tiny-models.js';

const GPT2 = {
  architectures: ['GPT2LMHeadModel'],
  model_type: 'gpt2',
  vocab_size: 50,
  n_embd: 16,
  n_head: 2,
  n_layer: 2,
  n_positions: 32,
};
const LLAMA = {
  ...TINY_LLAMA,
  vocab_size: 50,
};
const BERT = {
  architectures: ['BertModel'],
  model_type: 'bert',
  vocab_size: 60,
  hidden_size: 64,
  num_attention_heads: 4,
  num_hidden_layers: 1,
  intermediate_size: 32,
  max_position_embeddings: 24,
};

function withTempDir(fn: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'tunekit-auto-'));
  try {
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const ids = Int32Array.from([2, 7, 9, 11, 3]);

function std(values: Float32Array): number {
  const m = values.reduce((s, v) => s + v, 0) / values.length;
  return Math.sqrt(values.reduce((s, v) => s + (v - m) ** 2, 0) / values.length);
}

test('AutoModelForCausalLM: dispatches on the architecture, seeds the init, round-trips through a folder', () => {
  withTempDir((dir) => {
    const gpt2 = AutoModelForCausalLM.fromConfig(GPT2, { seed: 1 });
    const llama = AutoModelForCausalLM.fromConfig(LLAMA, { seed: 1 });
    assert.ok(gpt2 instanceof GPT2LMHeadModel);
    assert.ok(llama instanceof LlamaForCausalLM);
    assert.ok(gpt2.trainableParameters().length > 0 && gpt2.training, 'fromConfig models are trainable, in train mode');
    const a = AutoModelForCausalLM.fromConfig(GPT2, { seed: 2 }).inputEmbeddings().toArray();
    assert.deepEqual(
      AutoModelForCausalLM.fromConfig(GPT2, { seed: 2 }).inputEmbeddings().toArray(),
      a,
      'same seed, same weights',
    );
    assert.notDeepEqual(gpt2.inputEmbeddings().toArray(), a, 'another seed, other weights');
    for (const [name, model] of [
      ['gpt2', gpt2],
      ['llama', llama],
    ] as const) {
      model.eval().savePretrained(join(dir, name));
      const again = AutoModelForCausalLM.fromPretrained(join(dir, name));
      assert.equal(again.constructor, model.constructor);
      assert.deepEqual(
        noGrad(() => again.forward({ inputIds: ids }).logits.toArray()),
        noGrad(() => model.forward({ inputIds: ids }).logits.toArray()),
        name,
      );
    }
    assert.throws(() => AutoModelForCausalLM.fromConfig(BERT), /BertModel is an encoder, not a causal language model/);
    assert.throws(
      () => AutoModelForCausalLM.fromConfig({ architectures: ['T5ForConditionalGeneration'] }),
      /unsupported architecture "T5ForConditionalGeneration"/,
    );
  });
});

test('AutoModelForSequenceClassification from a BertModel folder: classifier and nothing else newly initialised, N(0, initializer_range)', () => {
  withTempDir((dir) => {
    const base = AutoModel.fromConfig({ ...BERT, initializer_range: 0.5 }, { seed: 3 }).eval();
    assert.ok(base instanceof BertModel);
    base.savePretrained(join(dir, 'base'));
    const warnings: string[] = [];
    const clf = AutoModelForSequenceClassification.fromPretrained(join(dir, 'base'), {
      numLabels: 3,
      onWarning: (m) => warnings.push(m),
    });
    assert.ok(clf instanceof BertForSequenceClassification);
    assert.equal(warnings.length, 1);
    assert.match(
      warnings[0]!,
      /BertForSequenceClassification were not initialized from the checkpoint .* newly initialized: classifier\.weight, classifier\.bias\./,
    );
    const head = clf.classifier as Linear;
    assert.deepEqual(head.weight.shape, [3, 64]);
    assert.ok(
      head.bias!.f32.every((v) => v === 0),
      'zero bias',
    );
    const s = std(head.weight.f32);
    assert.ok(s > 0.4 && s < 0.6, `classifier std ${s} follows initializer_range 0.5`);
    assert.deepEqual(
      clf.trainableParameters().map(([k]) => k),
      ['classifier.weight', 'classifier.bias'],
    );
    // The encoder is the saved one.
    const batch = { inputIds: ids };
    assert.deepEqual(
      noGrad(() => clf.bert.forward(batch).pooled!.toArray()),
      noGrad(() => base.forward(batch).pooled!.toArray()),
    );

    clf.savePretrained(join(dir, 'clf'));
    const saved = JSON.parse(readFileSync(join(dir, 'clf', 'config.json'), 'utf8')) as Record<string, unknown>;
    assert.deepEqual(saved.architectures, ['BertForSequenceClassification']);
    assert.deepEqual(saved.id2label, { 0: 'LABEL_0', 1: 'LABEL_1', 2: 'LABEL_2' });
    assert.deepEqual(saved.label2id, { LABEL_0: 0, LABEL_1: 1, LABEL_2: 2 });
    assert.equal(saved.initializer_range, 0.5, 'other fields are kept');
    const again = AutoModelForSequenceClassification.fromPretrained(join(dir, 'clf'), {
      onWarning: (m) => warnings.push(m),
    });
    assert.equal(warnings.length, 1, 'nothing new on reload');
    assert.equal(again.numLabels, 3);
    assert.deepEqual(
      noGrad(() => again.forward(batch).logits.toArray()),
      noGrad(() => clf.forward(batch).logits.toArray()),
    );
    assert.throws(
      () => AutoModelForSequenceClassification.fromPretrained(join(dir, 'clf'), { numLabels: 5 }),
      /classifier\.weight has 3 labels but the model was built with numLabels = 5/,
    );
  });
});

test('label overrides: id2label names the labels; token classification and QA heads from an encoder folder', () => {
  withTempDir((dir) => {
    AutoModel.fromConfig(BERT, { seed: 4 }).savePretrained(dir);
    const warnings: string[] = [];
    const onWarning = (m: string): void => {
      warnings.push(m);
    };
    const tagger = AutoModelForTokenClassification.fromPretrained(dir, {
      id2label: { 0: 'O', 1: 'B-LOC', 2: 'I-LOC' },
      onWarning,
    });
    assert.equal(tagger.numLabels, 3);
    assert.match(
      warnings[0]!,
      /newly initialized: classifier\.weight, classifier\.bias.*\n.*not used by BertForTokenClassification: pooler\.dense\.bias, pooler\.dense\.weight/,
    );
    tagger.savePretrained(join(dir, 'tagger'));
    assert.deepEqual(JSON.parse(readFileSync(join(dir, 'tagger', 'config.json'), 'utf8')).label2id, {
      O: 0,
      'B-LOC': 1,
      'I-LOC': 2,
    });
    const qa = AutoModelForQuestionAnswering.fromPretrained(dir, { onWarning });
    assert.match(warnings[1]!, /newly initialized: qa_outputs\.weight, qa_outputs\.bias/);
    assert.deepEqual(noGrad(() => qa.forward({ inputIds: ids })).startLogits.shape, [1, 5]);
    // A token-classification checkpoint has no pooler: the sequence classifier initialises it.
    const clf = AutoModelForSequenceClassification.fromPretrained(join(dir, 'tagger'), { onWarning });
    assert.match(warnings[2]!, /newly initialized: bert\.pooler\.dense\.weight, bert\.pooler\.dense\.bias\./);
    assert.equal(clf.numLabels, 3, 'labels come from the checkpoint config');
    assert.throws(
      () => AutoModelForSequenceClassification.fromConfig(BERT, { id2label: { 0: 'a', 2: 'b' } }),
      /ids must be 0\.\.1; 1 is missing/,
    );
  });
});

test('AutoModel from a sequence-classification folder keeps the encoder and reports the unused classifier', () => {
  withTempDir((dir) => {
    const clf = AutoModelForSequenceClassification.fromConfig(
      { ...BERT, architectures: ['BertForSequenceClassification'], num_labels: 2 },
      { seed: 5, numLabels: 4 },
    ).eval();
    assert.ok(clf instanceof BertForSequenceClassification);
    clf.savePretrained(dir);
    const saved = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    assert.equal(saved.num_labels, 4, 'a num_labels field is updated with the labels');
    assert.equal(Object.keys(saved.id2label as object).length, 4);
    const warnings: string[] = [];
    const enc = AutoModel.fromPretrained(dir, { onWarning: (m) => warnings.push(m) });
    assert.match(warnings.join('\n'), /not used by BertModel: classifier\.bias, classifier\.weight/);
    const batch = { inputIds: ids };
    assert.deepEqual(
      noGrad(() => enc.forward(batch).hidden.toArray()),
      noGrad(() => clf.bert.forward(batch).hidden.toArray()),
    );
    assert.equal(enc.trainableParameters().length, 0);
  });
});

test('sequence classification of a decoder folder goes through the registry; encoder-only tasks refuse it', () => {
  withTempDir((dir) => {
    AutoModelForCausalLM.fromConfig(GPT2).savePretrained(dir);
    const warnings: string[] = [];
    const clf = AutoModelForSequenceClassification.fromPretrained(dir, {
      numLabels: 3,
      padTokenId: 0,
      onWarning: (m) => warnings.push(m),
    });
    assert.ok(clf instanceof GPT2ForSequenceClassification);
    assert.equal(clf.numLabels, 3);
    assert.match(warnings.join('\n'), /no score\.weight in the checkpoint/);
    assert.throws(
      () => AutoModelForTokenClassification.fromPretrained(dir),
      /token classification is available for bert checkpoints only; this config is GPT2LMHeadModel/,
    );
    assert.throws(
      () => AutoModel.fromConfig(GPT2),
      /AutoModel is available for bert checkpoints only; this config is GPT2LMHeadModel/,
    );
    // A decoder-only option is refused by BERT rather than ignored.
    assert.throws(
      () => AutoModelForSequenceClassification.fromConfig(BERT, { padTokenId: 0 }),
      /padTokenId applies to decoder classifiers/,
    );
  });
});

test(
  'real BERT tokenizer: a padded pair batch classifies each pair as it does alone',
  { skip: skipWithoutShared('tokenizer-bert-base-uncased') },
  () => {
    const tok = AutoTokenizer.fromPretrained(assetPath('tokenizer-bert-base-uncased')!);
    const model = AutoModelForSequenceClassification.fromConfig(
      { ...BERT, vocab_size: 30522, max_position_embeddings: 64 },
      { seed: 6 },
    ).eval();
    const texts = ['A man is playing a guitar.', 'The weather is nice today, is it not?'];
    const pairs = ['Someone plays music.', 'It rains.'];
    const enc = tok.encodeBatch(texts, { textPairs: pairs, padding: true });
    const L = enc.inputIds[0]!.length;
    assert.ok(enc.attentionMask[0]!.includes(0), 'the shorter pair is padded');
    const batch = noGrad(() =>
      model.forward({
        inputIds: Int32Array.from(enc.inputIds.flat()),
        batchSize: 2,
        attentionMask: Uint8Array.from(enc.attentionMask.flat()),
        tokenTypeIds: Int32Array.from(enc.tokenTypeIds.flat()),
      }),
    ).logits.f32;
    texts.forEach((text, b) => {
      const one = tok.encodePlus(text, { textPair: pairs[b]! });
      const alone = noGrad(() =>
        model.forward({ inputIds: Int32Array.from(one.inputIds), tokenTypeIds: Int32Array.from(one.tokenTypeIds) }),
      ).logits.f32;
      assert.ok(one.inputIds.length <= L);
      for (let c = 0; c < 2; c++) assert.ok(Math.abs(batch[b * 2 + c]! - alone[c]!) < 1e-5, `pair ${b} label ${c}`);
    });
  },
);

test(
  'real GPT-2 tokenizer: greedy continuation of a left-padded batch with the KV cache equals each prompt alone',
  { skip: skipWithoutShared('tokenizer-gpt2') },
  () => {
    const tok = AutoTokenizer.fromPretrained(assetPath('tokenizer-gpt2')!);
    const model = AutoModelForCausalLM.fromConfig({ ...GPT2, vocab_size: 50257, n_positions: 64 }, { seed: 7 }).eval();
    const V = 50257;
    const prompts = ['Hello, my name is', 'The quick brown fox jumps over the'].map((p) => tok.encode(p));
    const argmax = (a: Float32Array, off: number): number => {
      let best = 0;
      for (let j = 1; j < V; j++) if (a[off + j]! > a[off + best]!) best = j;
      return best;
    };
    const greedyAlone = (prompt: number[]): number[] =>
      noGrad(() => {
        const cache = model.newCache();
        const out: number[] = [];
        let next = Int32Array.from(prompt);
        for (let i = 0; i < 4; i++) {
          const tokId = argmax(model.forward({ inputIds: next, cache, logitsToKeep: 1 }).logits.f32, 0);
          out.push(tokId);
          next = Int32Array.from([tokId]);
        }
        return out;
      });
    const want = prompts.map(greedyAlone);
    // Left-pad to a common length with GPT-2's eos (its usual pad), masked out.
    const L = Math.max(...prompts.map((p) => p.length));
    const rows = prompts.map((p) => [...new Array(L - p.length).fill(50256), ...p]);
    let mask = prompts.flatMap((p) => [...new Array(L - p.length).fill(0), ...new Array(p.length).fill(1)]);
    const got: number[][] = [[], []];
    noGrad(() => {
      const cache = model.newCache();
      let input = Int32Array.from(rows.flat());
      for (let i = 0; i < 4; i++) {
        const logits = model.forward({
          inputIds: input,
          batchSize: 2,
          attentionMask: Uint8Array.from(mask),
          cache,
          logitsToKeep: 1,
        }).logits.f32;
        const next = [argmax(logits, 0), argmax(logits, V)];
        next.forEach((t, b) => got[b]!.push(t));
        const w = mask.length / 2;
        mask = [...mask.slice(0, w), 1, ...mask.slice(w), 1];
        input = Int32Array.from(next);
      }
    });
    assert.deepEqual(got, want);
  },
);
