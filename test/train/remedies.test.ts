/**
 * Forgetting remedies and evaluation features: L2-SP and EWC penalties (values and gradients against
 * float64 formulas), replay mixing, the diagonal Fisher, early stopping with a best checkpoint, and
 * repetition metrics of generations at evaluation.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as F from '../../src/tensor/ops.js';
import { Rng } from '../../src/tensor/random.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { readRunLog } from '../../src/train/run-log.js';
import { causalLmLossFn, collateCausalLm, type CausalLmBatch, type LmExample } from '../../src/train/collate.js';
import { diagonalFisher, ewcRegularizer, l2spRegularizer, train } from '../../src/train/trainer.js';
import { tinyExamples, tinyLlama } from './helpers.js';

function params(): Array<[string, Tensor]> {
  const rng = new Rng(2);
  return [
    ['a', F.randn([3, 2], rng, 1, { requiresGrad: true })],
    ['b', F.randn([4], rng, 1, { requiresGrad: true })],
  ];
}

test('L2-SP and EWC: penalty and gradient equal (s/2) Σ F (w - w0)² and s F (w - w0)', () => {
  const ps = params();
  const w0 = ps.map(([, t]) => Float64Array.from(t.f32));
  const fisher = ps.map(([, t]) => Float32Array.from({ length: t.size }, (_, i) => 0.5 + i));
  const l2 = l2spRegularizer(ps, 0.3);
  const ewc = ewcRegularizer(ps, fisher, 0.3);
  assert.equal(l2.penalty().item(), 0);
  ps.forEach(([, t]) => {
    const d = t.f32;
    for (let i = 0; i < d.length; i++) d[i] = d[i]! + 0.1 * (i + 1);
  });
  for (const [reg, weight] of [
    [l2, (_: number, __: number) => 1],
    [ewc, (p: number, i: number) => fisher[p]![i]!],
  ] as const) {
    let expected = 0;
    ps.forEach(([, t], p) =>
      t.f32.forEach((w, i) => {
        expected += 0.15 * weight(p, i) * (w - w0[p]![i]!) ** 2;
      }),
    );
    ps.forEach(([, t]) => {
      t.grad = null;
    });
    const pen = reg.penalty();
    assert.ok(Math.abs(pen.item() - expected) < 1e-6 * expected, `${reg.name}: ${pen.item()} vs ${expected}`);
    pen.backward();
    ps.forEach(([, t], p) =>
      t.f32.forEach((w, i) => assert.ok(Math.abs(t.grad![i]! - 0.3 * weight(p, i) * (w - w0[p]![i]!)) < 1e-6)),
    );
  }
  assert.throws(() => ewcRegularizer(ps, [fisher[0]!], 1), /1 Fisher vectors for 2 parameters/);
});

test('diagonalFisher: mean over batches of squared gradients', () => {
  const m = tinyLlama();
  m.freeze(false);
  const ex = tinyExamples(4);
  const collate = (e: LmExample[]): CausalLmBatch => collateCausalLm(e, { padTokenId: 2 });
  const loss = causalLmLossFn();
  const f = diagonalFisher(m, ex, { collate, loss, batchSize: 2 });
  const ps = m.trainableParameters().map(([, t]) => t);
  const manual = ps.map((t) => new Float64Array(t.size));
  for (const b of [ex.slice(0, 2), ex.slice(2)]) {
    for (const p of ps) p.grad = null;
    loss(m, collate(b), { training: false, rng: new Rng(0) }).backward();
    ps.forEach((p, j) =>
      p.grad!.forEach((g, k) => {
        manual[j]![k]! += (g * g) / 2;
      }),
    );
  }
  f.forEach((v, j) =>
    v.forEach((x, k) => assert.ok(Math.abs(x - manual[j]![k]!) <= 1e-6 * Math.max(1e-6, manual[j]![k]!))),
  );
});

test('replay: each step mixes round(ratio · batch) general examples into the task examples', () => {
  const m = tinyLlama();
  m.freeze(false);
  const task = tinyExamples(8).map((e) => ({ ...e, from: 'task' }));
  const general = tinyExamples(5, 7).map((e) => ({ ...e, from: 'general' }));
  const seen: string[][] = [];
  train({
    model: m,
    args: { batchSize: 4, maxSteps: 3, learningRate: 1e-3, replayRatio: 0.25, progress: 'none' },
    train: task,
    replay: general,
    collate: (e) => {
      seen.push(e.map((x) => x.from));
      return collateCausalLm(e, { padTokenId: 2 });
    },
    loss: causalLmLossFn(),
  });
  // 8 task examples, 3 per step: the epoch's last step has 2 (a partial batch), plus its replay example.
  assert.deepEqual(seen, [
    ['task', 'task', 'task', 'general'],
    ['task', 'task', 'task', 'general'],
    ['task', 'task', 'general'],
  ]);
});

test('early stopping on a watched metric keeps the best checkpoint; generations give repetition records', () => {
  const out = mkdtempSync(join(tmpdir(), 'tunekit-early-'));
  try {
    const m = tinyLlama();
    m.freeze(false);
    const scores = [0.2, 0.5, 0.4, 0.3, 0.9];
    let k = 0;
    const r = train({
      model: m,
      args: {
        batchSize: 2,
        maxSteps: 10,
        learningRate: 1e-3,
        evalEvery: 1,
        metricForBest: 'score',
        earlyStoppingPatience: 2,
        outDir: out,
        progress: 'none',
      },
      train: tinyExamples(6),
      valid: tinyExamples(2, 3),
      collate: (e) => collateCausalLm(e, { padTokenId: 2 }),
      loss: causalLmLossFn(),
      metrics: () => ({ score: scores[k++]! }),
      sample: () => [
        { prompt: 'p', output: 'o', tokens: [1, 2, 1, 2] },
        { prompt: 'q', output: 'o', tokens: [3, 3, 3] },
      ],
    });
    assert.equal(r.reason, 'early-stopped');
    assert.equal(r.steps, 4);
    assert.deepEqual(r.best, { step: 2, metric: 'score', value: 0.5 });
    assert.ok(existsSync(join(out, 'best', 'model.safetensors')));
    const recs = readRunLog(join(out, 'run.jsonl'));
    assert.deepEqual(
      recs.filter((x) => x.type === 'checkpoint' && x.best).map((x) => x.step),
      [1, 2],
    );
    const rep = recs.find((x) => x.type === 'repetition')!.metrics as Record<string, number>;
    // distinct-1: 3 unique of 7 tokens; rep-2 per sequence: [1,2,1,2] has bigrams 12,21,12 -> 1 - 2/3; [3,3,3] -> 1 - 1/2
    assert.ok(Math.abs(rep['distinct-1']! - 3 / 7) < 1e-12);
    assert.ok(Math.abs(rep['rep-2']! - (1 - 2 / 3 + (1 - 1 / 2)) / 2) < 1e-12);
    assert.equal(recs.at(-1)!.reason, 'early-stopped');
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
