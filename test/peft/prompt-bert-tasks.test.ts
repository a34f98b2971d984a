/**
 * Prompt tuning, P-tuning and prefix tuning with BERT question answering and token classification:
 * the virtual tokens shift neither the start/end logits, the answer positions, nor the token labels.
 * Outputs are the real tokens' (checked against the base model fed the inserted virtual tokens by
 * hand, then the virtual columns dropped); losses against float64 formulas written here on those
 * outputs (transformers' span loss with clamping and the out-of-window ignore; token CE with -100).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BertForQuestionAnswering,
  BertForSequenceClassification,
  BertForTokenClassification,
} from '../../src/models/bert.js';
import { getPeftModel, type PeftModel } from '../../src/peft/peft-model.js';
import { pTuningConfig, prefixTuningConfig, promptTuningConfig } from '../../src/peft/prompt/config.js';
import type { PromptSource } from '../../src/peft/prompt/encoders.js';
import { prefixFromFlat } from '../../src/peft/prompt/model.js';
import type { PromptConfig } from '../../src/peft/prompt/config.js';
import * as F from '../../src/tensor/ops.js';
import { noGrad, type Tensor } from '../../src/tensor/tensor.js';
import { assertClose } from '../helpers/close.js';
import { bertConfig } from '../helpers/tiny-models.js';

const D = 16,
  P = 3,
  B = 2,
  T = 6;
const json = {
  architectures: ['BertForTokenClassification'],
  model_type: 'bert',
  vocab_size: 60,
  hidden_size: D,
  num_attention_heads: 4,
  num_hidden_layers: 2,
  intermediate_size: 32,
  max_position_embeddings: 24,
  type_vocab_size: 2,
  id2label: { 0: 'O', 1: 'B', 2: 'I' },
  label2id: { O: 0, B: 1, I: 2 },
};
const qa = (): BertForQuestionAnswering =>
  new BertForQuestionAnswering(bertConfig({ ...json, id2label: undefined, label2id: undefined, num_labels: 2 }), {
    seed: 4,
    configJson: json,
  })
    .freeze()
    .eval();
const tagger = (): BertForTokenClassification =>
  new BertForTokenClassification(bertConfig(json), { seed: 4, configJson: json }).freeze().eval();

const ids = Int32Array.from([2, 11, 12, 3, 13, 3, 2, 21, 22, 3, 0, 0]);
const mask = Uint8Array.from([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0]);
const types = Int32Array.from([0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 1, 1]);

const METHODS: Array<[string, PromptConfig]> = [
  ['prompt tuning', promptTuningConfig({ numVirtualTokens: P, seed: 2 })],
  ['P-tuning (MLP)', pTuningConfig({ numVirtualTokens: P, seed: 2, encoderReparameterizationType: 'MLP' })],
  ['prefix tuning', prefixTuningConfig({ numVirtualTokens: P, seed: 2 })],
];

/** Insert `n` values after column 0 of each [B, T] row. */
function insertAfterCls<A extends Int32Array | Uint8Array>(a: A, value: number): A {
  const out = new (a.constructor as new (n: number) => A)(B * (T + P));
  for (let b = 0; b < B; b++) {
    out[b * (T + P)] = a[b * T] ?? 0;
    out.fill(value, b * (T + P) + 1, b * (T + P) + 1 + P);
    out.set(a.subarray(b * T + 1, (b + 1) * T), b * (T + P) + 1 + P);
  }
  return out;
}

/** The base model's input with the virtual tokens put in by hand (right after [CLS]), or the prefix. */
function manualInput(
  peft: PeftModel,
  base: { bert: { embedTokens(i: Int32Array, b: number): Tensor } },
): Record<string, unknown> {
  const enc = peft.prompt_encoder.get('default') as unknown as PromptSource;
  const v = noGrad(() => enc.output());
  if (v.dim(1) !== D) {
    // Prefix tuning: keys/values per layer, real tokens unchanged.
    return {
      inputIds: ids,
      batchSize: B,
      attentionMask: Uint8Array.from([
        ...new Array<number>(P).fill(1),
        ...mask.subarray(0, T),
        ...new Array<number>(P).fill(1),
        ...mask.subarray(T),
      ]),
      tokenTypeIds: types,
      prefix: prefixFromFlat(v, 2, 4, D / 4, B),
    };
  }
  const words = base.bert.embedTokens(ids, B);
  const rows = [0, 1].map((b) => {
    const w = F.slice(words, 0, b, b + 1);
    return F.concat([F.slice(w, 1, 0, 1), F.reshape(v, [1, P, D]), F.slice(w, 1, 1, T)], 1);
  });
  return {
    inputsEmbeds: F.concat(rows, 0),
    batchSize: B,
    attentionMask: insertAfterCls(mask, 1),
    tokenTypeIds: insertAfterCls(types, 0),
  };
}

/** [B, T'] or [B, T', L] values with the virtual columns 1..P dropped when T' = T + P. */
function realColumns(x: Float32Array, Tn: number, L: number): number[] {
  const out: number[] = [];
  for (let b = 0; b < B; b++)
    for (let t = 0; t < Tn; t++) {
      if (Tn === T + P && t >= 1 && t <= P) continue;
      for (let l = 0; l < L; l++) out.push(x[(b * Tn + t) * L + l] ?? NaN);
    }
  return out;
}

/** float64 cross-entropy of row `row` of [B, n] logits at `target`. */
function ce(x: Float32Array, row: number, n: number, target: number): number {
  const v = Array.from(x.subarray(row * n, (row + 1) * n));
  const m = Math.max(...v);
  return Math.log(v.reduce((s, z) => s + Math.exp(z - m), 0)) + m - (v[target] ?? NaN);
}

for (const [name, config] of METHODS) {
  test(`${name} with BertForQuestionAnswering: start/end logits and span loss over the real tokens`, () => {
    const peft = getPeftModel(qa(), { ...config, taskType: 'QUESTION_ANS' });
    // Row 0: answer 2..4; row 1: start at [CLS] (0), end 9 beyond the window -> clamped to T and ignored.
    const startPositions = Int32Array.from([2, 0]),
      endPositions = Int32Array.from([4, 9]);
    const out = peft.forward({
      inputIds: ids,
      batchSize: B,
      attentionMask: mask,
      tokenTypeIds: types,
      startPositions,
      endPositions,
    }) as unknown as {
      startLogits: Tensor;
      endLogits: Tensor;
      loss: Tensor;
    };
    assert.deepEqual(out.startLogits.shape, [B, T]);
    assert.deepEqual(out.endLogits.shape, [B, T]);
    const base = qa();
    const ref = noGrad(() => base.forward(manualInput(peft, base) as never));
    const Tn = ref.startLogits.dim(1);
    assertClose([...out.startLogits.f32], realColumns(ref.startLogits.f32, Tn, 1), { atol: 1e-6 });
    assertClose([...out.endLogits.f32], realColumns(ref.endLogits.f32, Tn, 1), { atol: 1e-6 });
    // transformers' span loss in float64 on the real tokens' logits.
    const s = out.startLogits.f32,
      e = out.endLogits.f32;
    const startLoss = (ce(s, 0, T, 2) + ce(s, 1, T, 0)) / 2;
    const endLoss = ce(e, 0, T, 4); // row 1's end (9 -> T) is ignored
    assertClose(out.loss.item(), (startLoss + endLoss) / 2, { rtol: 1e-5 });
    // The loss trains the virtual tokens.
    peft.train();
    (
      peft.forward({ inputIds: ids, batchSize: B, attentionMask: mask, startPositions, endPositions }) as unknown as {
        loss: Tensor;
      }
    ).loss.backward();
    assert.ok(peft.trainableParameters().some(([, t]) => t.grad?.some((g) => g !== 0)));
  });

  test(`${name} with BertForTokenClassification: logits and labels aligned to the real tokens`, () => {
    const peft = getPeftModel(tagger(), { ...config, taskType: 'TOKEN_CLS' });
    const labels = Int32Array.from([-100, 1, 2, -100, 0, -100, -100, 1, 0, -100, -100, -100]);
    const out = peft.forward({ inputIds: ids, batchSize: B, attentionMask: mask, tokenTypeIds: types, labels });
    assert.deepEqual(out.logits.shape, [B, T, 3]);
    const base = tagger();
    const ref = noGrad(() => base.forward(manualInput(peft, base) as never));
    assertClose([...out.logits.f32], realColumns(ref.logits.f32, ref.logits.dim(1), 3), { atol: 1e-6 });
    let sum = 0,
      n = 0;
    labels.forEach((y, i) => {
      if (y === -100) return;
      sum += ce(out.logits.f32, i, 3, y);
      n++;
    });
    assert.ok(out.loss);
    assertClose(out.loss.item(), sum / n, { rtol: 1e-5 });
  });
}

test('prompt methods with QA: only one of startPositions/endPositions is an error', () => {
  const peft = getPeftModel(qa(), promptTuningConfig({ numVirtualTokens: P, taskType: 'QUESTION_ANS' }));
  assert.throws(
    () => peft.forward({ inputIds: ids, batchSize: B, startPositions: Int32Array.from([1, 1]) }),
    /needs both startPositions and endPositions/,
  );
});

test('prompt tuning with a sequence classifier whose numLabels equals T + P keeps every logit', () => {
  const cfg = { ...json, id2label: undefined, label2id: undefined, num_labels: T + P };
  const model = new BertForSequenceClassification(bertConfig(cfg), { seed: 4, configJson: cfg }).freeze().eval();
  const peft = getPeftModel(model, promptTuningConfig({ numVirtualTokens: P, taskType: 'SEQ_CLS' }));
  assert.deepEqual(peft.forward({ inputIds: ids, batchSize: B, attentionMask: mask }).logits.shape, [B, T + P]);
});
