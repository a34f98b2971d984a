/**
 * BERT against an independent float64 implementation written here with plain loops (from the
 * model's own weights): embeddings, every post-LN layer, the pooler and each head; padding
 * invariance; every loss against hand-computed values; gradients reaching only a trainable head;
 * checkpoint layouts (prefix, legacy gamma/beta, pretraining heads) and save/reload.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BertConfig } from '../../src/models/index.js';
import { readSafetensors, writeSafetensors, type RawTensor } from '../../src/io/safetensors.js';
import type { Linear } from '../../src/nn/layers.js';
import {
  BertForQuestionAnswering,
  BertForSequenceClassification,
  BertForTokenClassification,
  BertModel,
  BertSelfAttention,
  type BertLayer,
} from '../../src/models/bert.js';
import { writeJsonAtomic } from '../../src/io/files.js';
import * as F from '../../src/tensor/ops.js';
import { Rng } from '../../src/tensor/random.js';
import { type Tensor, noGrad } from '../../src/tensor/tensor.js';
import type { AttentionContext } from '../../src/models/attention.js';
import { assertClose } from '../helpers/close.js';
import { arr, layerNormRef, type Vec } from '../helpers/reference.js';
import { bertConfig, TINY_BERT } from '../helpers/tiny-models.js';

const CONFIG_JSON = {
  architectures: ['BertForSequenceClassification'],
  ...TINY_BERT,
  id2label: { 0: 'neg', 1: 'neu', 2: 'pos' },
  label2id: { neg: 0, neu: 1, pos: 2 },
};

function config(overrides: Record<string, unknown> = {}): { config: BertConfig; json: Record<string, unknown> } {
  const json = { ...CONFIG_JSON, ...overrides };
  return { config: bertConfig(json), json };
}

function classifier(seed = 1, overrides: Record<string, unknown> = {}): BertForSequenceClassification {
  const { config: c, json } = config(overrides);
  return new BertForSequenceClassification(c, { seed, configJson: json }).eval();
}

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'tunekit-bert-'));
}

// ---------------------------------------------------------------------------------------------
// Reference BERT in float64, one row at a time.

/** torch.nn.Linear: y[j] = b[j] + Σ_i W[j][i]·x[i] with W stored [out, in]. */
function linearRef(x: Vec, layer: Linear): Vec {
  const W = arr(layer.weight);
  const b = arr(layer.bias!);
  return b.map((bj, j) => x.reduce((s, xi, i) => s + W[j * x.length + i]! * xi, bj));
}

/** erf by its Maclaurin series (exact to ~1e-10 for |x| < 4; ±1 beyond to 1e-8). */
function erf(x: number): number {
  if (Math.abs(x) >= 4) return Math.sign(x);
  let term = x;
  let sum = x;
  for (let n = 1; n < 80; n++) {
    term *= (-x * x) / n;
    sum += term / (2 * n + 1);
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}
const geluErf = (x: number): number => 0.5 * x * (1 + erf(x / Math.SQRT2));

/** One post-LN layer; `prefix` rows (keys/values, heads concatenated) come before the tokens' own, and `real` covers both. */
function layerRef(
  layer: BertLayer,
  x: Vec[],
  real: boolean[],
  c: BertConfig,
  prefix: { k: Vec[]; v: Vec[] } = { k: [], v: [] },
): Vec[] {
  const d = c.hiddenSize;
  const H = c.numAttentionHeads;
  const D = d / H;
  const self = layer.attention.self;
  const q = x.map((r) => linearRef(r, self.query as Linear));
  const k = [...prefix.k, ...x.map((r) => linearRef(r, self.key as Linear))];
  const v = [...prefix.v, ...x.map((r) => linearRef(r, self.value as Linear))];
  const ctx = x.map((_, t) => {
    const o = new Array<number>(d).fill(0);
    for (let h = 0; h < H; h++) {
      const s = k.map((ku, u) =>
        real[u]
          ? q[t]!.slice(h * D, (h + 1) * D).reduce((acc, qi, i) => acc + qi * ku[h * D + i]!, 0) / Math.sqrt(D)
          : -Infinity,
      );
      const m = Math.max(...s);
      const e = s.map((si) => Math.exp(si - m));
      const z = e.reduce((a, b) => a + b, 0);
      e.forEach((eu, u) => {
        for (let i = 0; i < D; i++) o[h * D + i]! += (eu / z) * v[u]![h * D + i]!;
      });
    }
    return o;
  });
  const a = x.map((r, t) =>
    layerNormRef(
      linearRef(ctx[t]!, layer.attention.output.dense as Linear).map((y, i) => y + r[i]!),
      layer.attention.output.LayerNorm,
      c.layerNormEps,
    ),
  );
  return a.map((r) => {
    const inter = linearRef(r, layer.intermediate.dense as Linear).map(geluErf);
    return layerNormRef(
      linearRef(inter, layer.output.dense as Linear).map((y, i) => y + r[i]!),
      layer.output.LayerNorm,
      c.layerNormEps,
    );
  });
}

function embeddingsRef(bert: BertModel, ids: number[], types: number[]): Vec[] {
  const d = bert.config.hiddenSize;
  const e = bert.embeddings;
  const w = arr(e.word_embeddings.weight);
  const p = arr(e.position_embeddings.weight);
  const tt = arr(e.token_type_embeddings.weight);
  return ids.map((id, t) =>
    layerNormRef(
      Array.from({ length: d }, (_, i) => w[id * d + i]! + p[t * d + i]! + tt[types[t]! * d + i]!),
      e.LayerNorm,
      bert.config.layerNormEps,
    ),
  );
}

function bertRef(
  bert: BertModel,
  ids: number[],
  types: number[],
  real: boolean[],
): { hidden: Vec[]; pooled: Vec | null } {
  let h = embeddingsRef(bert, ids, types);
  for (const layer of bert.encoder.layer) h = layerRef(layer, h, real, bert.config);
  const pooled = bert.pooler ? linearRef(h[0]!, bert.pooler.dense as Linear).map(Math.tanh) : null;
  return { hidden: h, pooled };
}

/** Two rows, the first right-padded (as BERT tokenizers pad): [CLS] a b [SEP] c [SEP] pad pad. */
const IDS = [2, 11, 12, 3, 13, 3, 0, 0, 2, 21, 22, 23, 3, 24, 25, 3];
const TYPES = [0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1];
const MASK = [1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1];
const T = 8;
const batch = {
  inputIds: Int32Array.from(IDS),
  batchSize: 2,
  attentionMask: Uint8Array.from(MASK),
  tokenTypeIds: Int32Array.from(TYPES),
};

function refRows(bert: BertModel): Array<{ hidden: Vec[]; pooled: Vec | null }> {
  return [0, 1].map((b) =>
    bertRef(
      bert,
      IDS.slice(b * T, (b + 1) * T),
      TYPES.slice(b * T, (b + 1) * T),
      MASK.slice(b * T, (b + 1) * T).map((m) => m === 1),
    ),
  );
}

// ---------------------------------------------------------------------------------------------

test("module names are transformers' (bert.embeddings.LayerNorm, attention.self.query, pooler.dense, classifier)", () => {
  const names = classifier()
    .namedParameters()
    .map(([k]) => k);
  for (const k of [
    'bert.embeddings.word_embeddings.weight',
    'bert.embeddings.position_embeddings.weight',
    'bert.embeddings.token_type_embeddings.weight',
    'bert.embeddings.LayerNorm.weight',
    'bert.encoder.layer.1.attention.self.query.weight',
    'bert.encoder.layer.1.attention.self.value.bias',
    'bert.encoder.layer.0.attention.output.dense.weight',
    'bert.encoder.layer.0.attention.output.LayerNorm.bias',
    'bert.encoder.layer.0.intermediate.dense.weight',
    'bert.encoder.layer.0.output.dense.weight',
    'bert.encoder.layer.0.output.LayerNorm.weight',
    'bert.pooler.dense.weight',
    'classifier.weight',
    'classifier.bias',
  ])
    assert.ok(names.includes(k), k);
  assert.equal(names.length, 5 + 2 * 16 + 2 + 2);
  const { config: c } = config();
  assert.ok(
    !new BertForTokenClassification(c).namedParameters().some(([k]) => k.startsWith('bert.pooler')),
    'token heads have no pooler',
  );
  const word = classifier().bert.embeddings.word_embeddings.weight.f32;
  assert.ok(
    word.subarray(0, 16).every((v) => v === 0) && word.subarray(16, 32).some((v) => v !== 0),
    'pad_token_id 0 row is zero',
  );
});

test('each layer equals the float64 loop implementation (attention → dense → LN(+x) → gelu(erf) MLP → LN(+a))', () => {
  const model = classifier(2);
  const rng = new Rng(3);
  const x = Array.from({ length: 5 }, () => Array.from({ length: 16 }, () => rng.normal(0, 1)));
  const real = [true, true, true, false, true];
  model.bert.encoder.layer.forEach((layer, l) => {
    const got = noGrad(() =>
      layer.forward(F.tensor(x.flat(), [1, 5, 16]), {
        keyMask: Uint8Array.from(real.map(Number)),
        prefix: null,
        cache: null,
      }),
    ).f32;
    assertClose(got, layerRef(layer, x, real, model.config).flat(), { atol: 2e-5, message: `layer ${l}` });
  });
});

test('BertModel hidden states, pooled [CLS] and classifier logits equal the reference (padding, token types)', () => {
  const model = classifier(4);
  const out = noGrad(() => model.forward(batch));
  const inner = noGrad(() => model.bert.forward(batch));
  const ref = refRows(model.bert);
  for (let b = 0; b < 2; b++) {
    const real = MASK.slice(b * T, (b + 1) * T);
    for (let t = 0; t < T; t++) {
      if (!real[t]) continue; // padding rows are never read
      assertClose(out.hidden.f32.subarray((b * T + t) * 16, (b * T + t + 1) * 16), ref[b]!.hidden[t]!, {
        atol: 3e-5,
        message: `hidden row ${b} token ${t}`,
      });
    }
    assertClose(inner.pooled!.f32.subarray(b * 16, (b + 1) * 16), ref[b]!.pooled!, {
      atol: 3e-5,
      message: `pooled row ${b}`,
    });
    assertClose(out.logits.f32.subarray(b * 3, (b + 1) * 3), linearRef(ref[b]!.pooled!, model.classifier as Linear), {
      atol: 3e-5,
      message: `logits row ${b}`,
    });
  }
});

test('padding tokens do not change the [CLS] output, pooled vector or logits', () => {
  const model = classifier(5);
  noGrad(() => {
    const padded = model.forward(batch);
    const alone = model.forward({
      inputIds: Int32Array.from(IDS.slice(0, 6)),
      tokenTypeIds: Int32Array.from(TYPES.slice(0, 6)),
    });
    assertClose(padded.hidden.f32.subarray(0, 6 * 16), alone.hidden.f32, { atol: 1e-5, message: 'real tokens' });
    assertClose(padded.logits.f32.subarray(0, 3), alone.logits.f32, { atol: 1e-5, message: 'logits' });
    // Different padding ids behind the mask change nothing either.
    const other = model.forward({ ...batch, inputIds: Int32Array.from(IDS.map((id, i) => (MASK[i] ? id : 40 + i))) });
    assertClose(other.logits.f32, padded.logits.f32, { atol: 0, message: 'masked ids are ignored' });
    // Without the mask the padding is attended to and [CLS] changes.
    const { attentionMask: _mask, ...unmaskedBatch } = batch;
    const unmasked = model.forward(unmaskedBatch);
    const cls = (o: typeof padded): number[] => Array.from(o.hidden.f32.subarray(0, 16));
    assert.ok(
      cls(unmasked).some((v, i) => Math.abs(v - cls(padded)[i]!) > 1e-3),
      'unmasked padding changes [CLS]',
    );
  });
});

test('sequence classification losses: single-label CE, regression MSE, multi-label BCE, as computed by hand', () => {
  const logSoftmax = (row: Vec): Vec => {
    const m = Math.max(...row);
    const z = Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0)) + m;
    return row.map((v) => v - z);
  };
  const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));
  noGrad(() => {
    const model = classifier(6);
    const single = model.forward({ ...batch, labels: Int32Array.from([2, 0]) });
    const l = single.logits.toArray();
    const ce = -(logSoftmax(l.slice(0, 3))[2]! + logSoftmax(l.slice(3, 6))[0]!) / 2;
    assert.ok(Math.abs(single.loss!.item() - ce) < 1e-6, `CE ${single.loss!.item()} vs ${ce}`);

    const multiTargets = Float32Array.from([1, 0, 1, 0, 0, 1]);
    const multi = model.forward({ ...batch, labels: multiTargets });
    const bce =
      l.reduce(
        (s, x, i) => s - (multiTargets[i]! * Math.log(sigmoid(x)) + (1 - multiTargets[i]!) * Math.log(1 - sigmoid(x))),
        0,
      ) / 6;
    assert.ok(Math.abs(multi.loss!.item() - bce) < 1e-6, `BCE ${multi.loss!.item()} vs ${bce}`);

    // problem_type in config.json wins over the label dtype: integer 0/1 targets, multi-label loss.
    const forced = classifier(6, { problem_type: 'multi_label_classification' }).forward({
      ...batch,
      labels: Int32Array.from([1, 0, 1, 0, 0, 1]),
    });
    assert.ok(Math.abs(forced.loss!.item() - bce) < 1e-6);

    const reg = classifier(7, { id2label: undefined, label2id: undefined, num_labels: 1 });
    assert.equal(reg.numLabels, 1);
    const r = reg.forward({ ...batch, labels: Float32Array.from([0.5, -1.25]) });
    const [p0, p1] = r.logits.toArray();
    assert.deepEqual(r.logits.shape, [2, 1]);
    assert.ok(Math.abs(r.loss!.item() - ((p0! - 0.5) ** 2 + (p1! + 1.25) ** 2) / 2) < 1e-6);

    const regMulti = classifier(7, { problem_type: 'regression' });
    const targets = Float32Array.from([0.1, 0.2, 0.3, -0.1, -0.2, -0.3]);
    const rm = regMulti.forward({ ...batch, labels: targets });
    const mse = rm.logits.toArray().reduce((s, x, i) => s + (x - targets[i]!) ** 2, 0) / 6;
    assert.ok(Math.abs(rm.loss!.item() - mse) < 1e-6);

    assert.throws(
      () => model.forward({ ...batch, labels: Int32Array.from([1]) }),
      /single-label classification needs 2 integer class ids/,
    );
    assert.throws(
      () => model.forward({ ...batch, labels: Float32Array.from([1, 0]) }),
      /multi_label_classification needs batch\*numLabels = 2\*3 targets/,
    );
  });
});

test('token classification: logits per token and cross-entropy over labels other than -100 (by hand)', () => {
  const { config: c, json } = config({ id2label: { 0: 'O', 1: 'B-PER', 2: 'I-PER', 3: 'B-LOC' }, label2id: undefined });
  const model = new BertForTokenClassification(c, { seed: 8, configJson: json }).eval();
  const labels = Int32Array.from(IDS.map((_, i) => (MASK[i] && i % T !== 0 ? i % 4 : -100)));
  const out = noGrad(() => model.forward({ ...batch, labels }));
  assert.deepEqual(out.logits.shape, [2, T, 4]);
  const l = out.logits.f32;
  let sum = 0;
  let n = 0;
  labels.forEach((y, i) => {
    if (y === -100) return;
    const row = Array.from(l.subarray(i * 4, i * 4 + 4));
    const m = Math.max(...row);
    sum += Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0)) + m - row[y]!;
    n++;
  });
  assert.equal(n, 12);
  assert.ok(Math.abs(out.loss!.item() - sum / n) < 1e-6);
  // Logits are the classifier applied to the reference hidden states.
  const ref = refRows(model.bert);
  assertClose(l.subarray(8 * 4 + 3 * 4, 8 * 4 + 4 * 4), linearRef(ref[1]!.hidden[3]!, model.classifier as Linear), {
    atol: 3e-5,
    message: 'token logits',
  });
});

test('question answering: start/end logits and loss = mean of the two CEs, out-of-window positions ignored', () => {
  const { config: c, json } = config({ id2label: undefined, label2id: undefined });
  const model = new BertForQuestionAnswering(c, { seed: 9, configJson: json }).eval();
  const out = noGrad(() =>
    model.forward({ ...batch, startPositions: Int32Array.from([4, 100]), endPositions: Int32Array.from([5, 6]) }),
  );
  assert.deepEqual(out.startLogits.shape, [2, T]);
  const s = out.startLogits.toArray();
  const e = out.endLogits.toArray();
  assert.deepEqual([out.logits.f32[2], out.logits.f32[3]], [s[1], e[1]], 'logits[..., 0] = start, [..., 1] = end');
  const nll = (row: Vec, y: number): number => {
    const m = Math.max(...row);
    return Math.log(row.reduce((a, v) => a + Math.exp(v - m), 0)) + m - row[y]!;
  };
  // Row 1's start 100 is clamped to T = 8 and ignored: start loss averages row 0 only.
  const startLoss = nll(s.slice(0, T), 4);
  const endLoss = (nll(e.slice(0, T), 5) + nll(e.slice(T), 6)) / 2;
  assert.ok(Math.abs(out.loss!.item() - (startLoss + endLoss) / 2) < 1e-6);
  const ref = refRows(model.bert);
  assertClose([s[T + 2]!, e[T + 2]!], linearRef(ref[1]!.hidden[2]!, model.qa_outputs as Linear), {
    atol: 3e-5,
    message: 'qa logits',
  });
  assert.throws(
    () => model.forward({ ...batch, startPositions: Int32Array.from([1, 2]) }),
    /both startPositions and endPositions/,
  );
});

/** The self-attention as it ran before the copy-free path: heads transposed to [B, H, T, D] and back. */
function selfAttentionViaHeadCopies(this: BertSelfAttention, x: Tensor, ctx: AttentionContext): Tensor {
  const [B, T, d] = x.shape as [number, number, number];
  const H = this.config.numAttentionHeads;
  const heads = (t: Tensor): Tensor => F.transpose(F.reshape(t, [B, T, H, d / H]), 1, 2);
  const o = F.scaledDotProductAttention(
    heads(this.query.forward(x)),
    heads(this.key.forward(x)),
    heads(this.value.forward(x)),
    {
      causal: false,
      keyMask: ctx.keyMask,
      scale: 1 / Math.sqrt(d / H),
    },
  );
  return F.reshape(F.transpose(o, 1, 2), [B, T, d]);
}

test('training without head copies (no dropout) equals transposed heads + attention: loss and every gradient', () => {
  const model = new BertForSequenceClassification(
    config({ hidden_dropout_prob: 0, attention_probs_dropout_prob: 0 }).config,
    { seed: 12 },
  ).train();
  // Sharper attention than the initialisation gives (near-uniform probabilities hide errors).
  for (const [n, p] of model.namedParameters())
    if (/(query|key)\.weight$/.test(n)) p.f32.forEach((v, i, a) => (a[i] = v * 25));
  const run = (): Array<[string, Float32Array]> => {
    const params = model.namedParameters();
    for (const [, p] of params) p.grad = null;
    const out = model.forward({ ...batch, labels: Int32Array.from([1, 2]) });
    out.loss!.backward();
    return [
      ['loss', Float32Array.of(out.loss!.item())],
      ['logits', out.logits.f32.slice()],
      ...params.map(([n, p]): [string, Float32Array] => [n, p.grad ? p.grad.slice() : new Float32Array()]),
    ];
  };
  const got = run();
  const copyFree = Object.getOwnPropertyDescriptor(BertSelfAttention.prototype, 'forward')!;
  try {
    Object.defineProperty(BertSelfAttention.prototype, 'forward', { ...copyFree, value: selfAttentionViaHeadCopies });
    const want = run();
    got.forEach(([n, g], j) => {
      const w = want[j]![1];
      assert.ok(g.length > 0 && g.length === w.length, `${n} has a gradient`);
      g.forEach((v, i) =>
        assert.ok(Math.abs(v - w[i]!) < 1e-5 + 1e-4 * Math.abs(w[i]!), `${n} [${i}]: ${v} vs ${w[i]}`),
      );
    });
  } finally {
    Object.defineProperty(BertSelfAttention.prototype, 'forward', copyFree);
  }
});

test('frozen encoder + trainable classifier: only the classifier gets .grad, equal to (softmax − onehot)ᵀ·pooled / B', () => {
  const dir = tempDir();
  try {
    classifier(10).savePretrained(dir);
    const model = BertForSequenceClassification.fromPretrained(dir);
    assert.deepEqual(
      model.trainableParameters().map(([k]) => k),
      ['classifier.weight', 'classifier.bias'],
    );
    const labels = Int32Array.from([1, 2]);
    const out = model.forward({ ...batch, labels });
    out.loss!.backward();
    for (const [k, t] of model.bert.namedParameters()) assert.equal(t.grad, null, `${k} is frozen`);
    const pooled = noGrad(() => model.bert.forward(batch)).pooled!.f32;
    const logits = out.logits.f32;
    const gw = new Float64Array(3 * 16);
    const gb = new Float64Array(3);
    for (let b = 0; b < 2; b++) {
      const row = Array.from(logits.subarray(b * 3, b * 3 + 3));
      const m = Math.max(...row);
      const z = row.reduce((s, v) => s + Math.exp(v - m), 0);
      row.forEach((v, c) => {
        const delta = (Math.exp(v - m) / z - (c === labels[b] ? 1 : 0)) / 2;
        gb[c]! += delta;
        for (let i = 0; i < 16; i++) gw[c * 16 + i]! += delta * pooled[b * 16 + i]!;
      });
    }
    const cls = model.classifier as Linear;
    assertClose(cls.weight.grad!, gw, { atol: 1e-6, message: 'classifier.weight grad' });
    assertClose(cls.bias!.grad!, gb, { atol: 1e-6, message: 'classifier.bias grad' });
    // bf16 encoder weights: frozen half matrices, float32 trainable head, nearly the same logits.
    const half = BertForSequenceClassification.fromPretrained(dir, { dtype: 'bfloat16' });
    assert.equal((half.bert.encoder.layer[0]!.attention.self.query as Linear).weight.dtype, 'bf16');
    assert.equal((half.classifier as Linear).weight.dtype, 'f32');
    assert.deepEqual(
      half.trainableParameters().map(([k]) => k),
      ['classifier.weight', 'classifier.bias'],
    );
    const diff = Math.max(
      ...noGrad(() => half.forward(batch))
        .logits.toArray()
        .map((v, i) => Math.abs(v - logits[i]!)),
    );
    assert.ok(diff > 0 && diff < 0.01, `bf16 encoder changes logits slightly (${diff})`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('save → reload: identical outputs for every head; config.json records the architecture and labels', () => {
  const dir = tempDir();
  try {
    const { config: c, json } = config();
    const models = [
      classifier(11),
      new BertForTokenClassification(c, { seed: 12, configJson: json }).eval(),
      new BertForQuestionAnswering(
        { ...c, numLabels: 2, id2label: { 0: 'LABEL_0', 1: 'LABEL_1' } },
        { seed: 13, configJson: json },
      ).eval(),
      new BertModel(c, { seed: 14, configJson: json }).eval(),
    ];
    const warnings: string[] = [];
    const onWarning = (m: string): void => {
      warnings.push(m);
    };
    const loaders = [
      (d: string) => BertForSequenceClassification.fromPretrained(d, { onWarning }),
      (d: string) => BertForTokenClassification.fromPretrained(d, { onWarning }),
      (d: string) => BertForQuestionAnswering.fromPretrained(d, { onWarning }),
      (d: string) => BertModel.fromPretrained(d, { onWarning }),
    ];
    models.forEach((m, i) => {
      const sub = join(dir, String(i));
      m.savePretrained(sub);
      const again = loaders[i]!(sub);
      assert.deepEqual(warnings, [], 'every weight is in the file');
      const a = noGrad(() => m.forward(batch));
      const b = noGrad(() => again.forward(batch));
      const pick = (o: typeof a): number[] =>
        'logits' in o ? o.logits.toArray() : [...o.hidden.toArray(), ...o.pooled!.toArray()];
      assert.deepEqual(pick(b), pick(a), m.constructor.name);
    });
    const saved = JSON.parse(readFileSync(join(dir, '0', 'config.json'), 'utf8')) as Record<string, unknown>;
    assert.deepEqual(saved.architectures, ['BertForSequenceClassification']);
    assert.deepEqual(saved.id2label, { 0: 'neg', 1: 'neu', 2: 'pos' });
    assert.deepEqual(saved.label2id, { neg: 0, neu: 1, pos: 2 });
    assert.deepEqual(JSON.parse(readFileSync(join(dir, '3', 'config.json'), 'utf8')).architectures, ['BertModel']);
    const keys = [...readSafetensors(join(dir, '3', 'model.safetensors')).tensors.keys()];
    assert.ok(
      keys.includes('embeddings.word_embeddings.weight') && keys.includes('pooler.dense.weight'),
      'BertModel saves unprefixed keys',
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('pretraining-checkpoint layout (BertForMaskedLM config): bert. prefix, LayerNorm gamma/beta, cls.* heads and position_ids load', () => {
  const dir = tempDir();
  try {
    const { config: c, json } = config({ architectures: ['BertModel'] });
    const base = new BertModel(c, { seed: 15, configJson: json }).eval();
    const file = new Map<string, RawTensor>();
    for (const [k, t] of base.namedParameters()) {
      const legacy = k.replace(/LayerNorm\.weight$/, 'LayerNorm.gamma').replace(/LayerNorm\.bias$/, 'LayerNorm.beta');
      file.set(`bert.${legacy}`, { dtype: 'F32', shape: [...t.shape], data: t.f32 });
    }
    file.set('bert.embeddings.position_ids', {
      dtype: 'I64',
      shape: [1, 24],
      data: BigInt64Array.from({ length: 24 }, (_, i) => BigInt(i)),
    });
    file.set('cls.predictions.bias', { dtype: 'F32', shape: [60], data: new Float32Array(60) });
    writeSafetensors(join(dir, 'model.safetensors'), file, { format: 'pt' });
    // bert-base-uncased's config.json names its pretraining head class.
    writeJsonAtomic(join(dir, 'config.json'), { ...json, architectures: ['BertForMaskedLM'] });
    const warnings: string[] = [];
    const loaded = BertModel.fromPretrained(dir, { onWarning: (m) => warnings.push(m) });
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /not used by BertModel: cls\.predictions\.bias/);
    const a = noGrad(() => base.forward(batch));
    const b = noGrad(() => loaded.forward(batch));
    assert.deepEqual(b.pooled!.toArray(), a.pooled!.toArray());

    file.delete('bert.encoder.layer.1.output.dense.bias');
    writeSafetensors(join(dir, 'model.safetensors'), file, { format: 'pt' });
    assert.throws(
      () => BertModel.fromPretrained(dir, { onWarning: () => {} }),
      /missing: encoder\.layer\.1\.output\.dense\.bias/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('prefix keys/values (prefix tuning) are attended to in each layer as the reference does; positions continue after them', () => {
  const model = classifier(17);
  const rng = new Rng(18);
  const P = 3;
  const x = Array.from({ length: 4 }, () => Array.from({ length: 16 }, () => rng.normal(0, 1)));
  const pk = Array.from({ length: P }, () => Array.from({ length: 16 }, () => rng.normal(0, 1)));
  const pv = Array.from({ length: P }, () => Array.from({ length: 16 }, () => rng.normal(0, 1)));
  // [P, H*D] rows → [1, H, P, D] tensors.
  const heads = (rows: number[][]): ReturnType<typeof F.tensor> =>
    F.transpose(F.tensor(rows.flat(), [1, P, 4, 4]), 1, 2);
  const prefix = [
    { k: heads(pk), v: heads(pv) },
    { k: heads(pk), v: heads(pv) },
  ];
  const real = [true, false, true, true, true, true, true];
  const layer = model.bert.encoder.layer[0]!;
  const got = noGrad(() =>
    layer.forward(F.tensor(x.flat(), [1, 4, 16]), { keyMask: Uint8Array.from(real.map(Number)), prefix, cache: null }),
  ).f32;
  assertClose(got, layerRef(layer, x, real, model.config, { k: pk, v: pv }).flat(), {
    atol: 2e-5,
    message: 'layer with prefix',
  });
  // Whole model: token t sits at position P + t, as transformers offsets by the past length.
  const ids = Int32Array.from([2, 30, 31, 3]);
  const full = noGrad(() => model.bert.forward({ inputIds: ids, prefix })).hidden.f32;
  const words = embeddingsRef(model.bert, [0, 0, 0, ...ids], [0, 0, 0, 0, 0, 0, 0]).slice(P);
  let h = words;
  model.bert.encoder.layer.forEach((l) => {
    h = layerRef(l, h, new Array(P + 4).fill(true), model.config, { k: pk, v: pv });
  });
  assertClose(full, h.flat(), { atol: 5e-5, message: 'model with prefix' });
});

test('inputsEmbeds path equals ids; malformed inputs and configs give clear errors', () => {
  const model = classifier(16);
  noGrad(() => {
    const ref = model.forward(batch).logits.toArray();
    const emb = F.embedding(model.inputEmbeddings(), batch.inputIds, [2, T]);
    const { inputIds, ...rest } = batch;
    assert.deepEqual(model.forward({ ...rest, inputsEmbeds: emb }).logits.toArray(), ref);
    assert.deepEqual(model.bert.embedTokens(inputIds, 2).toArray(), emb.toArray());
    // As transformers: both at once is an error, not a silent choice.
    assert.throws(() => model.forward({ ...batch, inputsEmbeds: emb }), /inputIds or inputsEmbeds, not both/);
  });
  assert.throws(() => model.forward({ ...batch, tokenTypeIds: new Int32Array(3) }), /tokenTypeIds has 3 entries/);
  assert.throws(() => model.forward({ ...batch, attentionMask: new Uint8Array(5) }), /attentionMask has 5 entries/);
  assert.throws(
    () => model.forward({ inputIds: new Int32Array(25) }),
    /25 positions exceed BERT's 24 learned positions/,
  );
  assert.throws(
    () => classifier(0, { position_embedding_type: 'relative_key' }),
    /position_embedding_type "relative_key" is not supported/,
  );
});

test('train mode: hidden and attention-probability dropout act only when their probabilities are > 0', () => {
  const evalOut = noGrad(() => classifier(19).forward(batch).logits.toArray());
  const noDrop = classifier(19, { hidden_dropout_prob: 0, attention_probs_dropout_prob: 0 }).train();
  assert.deepEqual(
    noGrad(() => noDrop.forward(batch).logits.toArray()),
    evalOut,
  );
  const onlyAttn = classifier(19, { hidden_dropout_prob: 0, attention_probs_dropout_prob: 0.5 }).train();
  assert.equal(onlyAttn.bert.encoder.layer[0]!.attention.self.dropout.p, 0.5);
  const a = noGrad(() => onlyAttn.bert.forward(batch).hidden.toArray());
  const b = noGrad(() => classifier(19).bert.forward(batch).hidden.toArray());
  assert.ok(
    a.some((v, i) => Math.abs(v - b[i]!) > 1e-4),
    'attention dropout changes hidden states',
  );
  assert.throws(
    () => classifier(0, { attention_probs_dropout_prob: 1 }),
    /"attention_probs_dropout_prob" must be a probability in \[0, 1\)/,
  );
});
