/**
 * The training loop: transformers' schedule formulas, gradient accumulation equal to one big batch,
 * the first non-finite loss stopping the run, and the run.jsonl records of docs/run-log.md.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { scheduleFactor } from '../../src/train/schedule.js';
import { NonFiniteError, evaluate, resolveArgs, train, type TrainingArgs } from '../../src/train/trainer.js';
import { causalLmLossFn, collateCausalLm, type CausalLmBatch, type LmExample } from '../../src/train/collate.js';
import { readRunLog } from '../../src/train/run-log.js';
import * as F from '../../src/tensor/ops.js';
import { noGrad } from '../../src/tensor/tensor.js';
import { maxAbsDiff, tinyExamples, tinyLlama } from './helpers.js';

test('schedules follow transformers formulas (warm-up from 0, linear/cosine decay, constant)', () => {
  const T = 10,
    W = 2;
  // get_linear_schedule_with_warmup: s/W during warm-up, then (T - s)/(T - W)
  assert.deepEqual(
    [0, 1, 2, 5, 10, 11].map((s) => scheduleFactor({ type: 'linear', warmupSteps: W, totalSteps: T }, s)),
    [0, 0.5, 1, 5 / 8, 0, 0],
  );
  // get_cosine_schedule_with_warmup (num_cycles 0.5): 0.5 (1 + cos(pi p)), p = (s - W)/(T - W)
  for (const s of [2, 3, 6, 9, 10]) {
    const p = (s - W) / (T - W);
    assert.ok(
      Math.abs(
        scheduleFactor({ type: 'cosine', warmupSteps: W, totalSteps: T }, s) - 0.5 * (1 + Math.cos(Math.PI * p)),
      ) < 1e-15,
    );
  }
  assert.equal(scheduleFactor({ type: 'cosine', warmupSteps: W, totalSteps: T }, 1), 0.5);
  assert.deepEqual(
    [0, 1, 2, 7].map((s) => scheduleFactor({ type: 'constant_with_warmup', warmupSteps: 4, totalSteps: T }, s)),
    [0, 0.25, 0.5, 1],
  );
  assert.equal(scheduleFactor({ type: 'constant', warmupSteps: 4, totalSteps: T }, 0), 1);
});

test('TrainingArgs: an unknown or invalid field is an error naming it', () => {
  assert.throws(() => resolveArgs({ learningrate: 1 } as unknown as TrainingArgs), /unknown field "learningrate"/);
  assert.throws(() => resolveArgs({ batchSize: 0 }), /batchSize/);
  assert.throws(() => resolveArgs({ lrScheduler: 'step' as never }), /lrScheduler/);
  assert.throws(() => resolveArgs({ earlyStoppingPatience: 2 }), /evalEvery/);
});

function runOneStep(
  examples: LmExample[],
  batchSize: number,
  accum: number,
  lossOverride?: (m: ReturnType<typeof tinyLlama>, b: CausalLmBatch) => ReturnType<ReturnType<typeof causalLmLossFn>>,
): Float32Array[] {
  const model = tinyLlama();
  model.freeze(false);
  const base = causalLmLossFn();
  train({
    model,
    args: {
      batchSize,
      gradientAccumulationSteps: accum,
      maxSteps: 1,
      learningRate: 0.5,
      optimizer: 'sgd',
      shuffle: false,
      maxGradNorm: 0,
      lrScheduler: 'constant',
      progress: 'none',
    },
    train: examples,
    collate: (e) => collateCausalLm(e, { padTokenId: 2 }),
    loss: lossOverride ? (m, b) => lossOverride(m, b) : base,
  });
  return model.parameters().map((p) => Float32Array.from(p.f32));
}

test("gradient accumulation equals one big batch (loss normalised by the whole step's label tokens)", () => {
  const examples = tinyExamples(4);
  const big = runOneStep(examples, 4, 1);
  const micro = runOneStep(examples, 1, 4);
  const half = runOneStep(examples, 2, 2);
  const start = tinyLlama()
    .parameters()
    .map((p) => p.f32);
  const moved = Math.max(...big.map((w, i) => maxAbsDiff(w, start[i]!)));
  assert.ok(moved > 1e-3, `the step moved the weights (${moved})`);
  for (const [name, run] of [
    ['1x4', micro],
    ['2x2', half],
  ] as const) {
    const d = Math.max(...big.map((w, i) => maxAbsDiff(w, run[i]!)));
    assert.ok(d < 1e-6 * Math.max(1, moved), `${name}: max |Δw| = ${d}`);
  }
  // A micro-batch weighting other than token shares (here 1/count²) gives a different step: the test can tell.
  const other = runOneStep(examples, 1, 4, (m, b) =>
    F.scale(causalLmLossFn()(m, b, { training: true, rng: null as never }), 1 / b.count),
  );
  const dn = Math.max(...big.map((w, i) => maxAbsDiff(w, other[i]!)));
  assert.ok(dn > 1e-4, `another weighting differs from the token-share one (${dn})`);
});

test('train: the loss falls, evaluate agrees with a direct forward, and run.jsonl follows docs/run-log.md', () => {
  const out = mkdtempSync(join(tmpdir(), 'tunekit-train-'));
  try {
    const model = tinyLlama();
    model.freeze(false);
    const data = tinyExamples(24);
    const valid = tinyExamples(6, 9);
    const collate = (e: LmExample[]): CausalLmBatch => collateCausalLm(e, { padTokenId: 2 });
    const loss = causalLmLossFn();
    const before = evaluate(model, valid, { collate, loss, batchSize: 6 }).loss;
    // Direct: one batch of all six examples, mean over their label tokens.
    const direct = noGrad(() => loss(model, collate(valid), { training: false, rng: null as never }).item());
    assert.ok(Math.abs(before - direct) < 1e-6, `${before} vs ${direct}`);
    const r = train({
      model,
      args: {
        batchSize: 4,
        maxSteps: 12,
        learningRate: 3e-2,
        warmupSteps: 2,
        evalEvery: 6,
        outDir: out,
        progress: 'none',
        seed: 7,
      },
      train: data,
      valid,
      collate,
      loss,
    });
    assert.equal(r.steps, 12);
    assert.ok(r.evals.at(-1)!.loss < before - 0.1, `valid loss ${before} -> ${r.evals.at(-1)!.loss}`);
    const recs = readRunLog(join(out, 'run.jsonl'));
    assert.equal(recs[0]!.type, 'config');
    assert.equal(recs[0]!.seed, 7);
    const steps = recs.filter((x) => x.type === 'step');
    assert.deepEqual(
      steps.map((s) => s.step),
      Array.from({ length: 12 }, (_, i) => i + 1),
    );
    for (const s of steps)
      for (const k of ['epoch', 'loss', 'lr', 'gradNorm', 'tokens', 'tokensPerSec', 'elapsedSec'])
        assert.equal(typeof s[k], 'number', k);
    assert.equal(steps[0]!.lr, 0); // warm-up starts at 0, as LambdaLR
    assert.equal(steps[1]!.lr, 1.5e-2);
    assert.deepEqual(
      recs.filter((x) => x.type === 'eval').map((e) => [e.step, e.split]),
      [
        [6, 'valid'],
        [12, 'valid'],
      ],
    );
    assert.equal(recs.at(-1)!.type, 'end');
    assert.equal(recs.at(-1)!.reason, 'max-steps');
    assert.ok(existsSync(join(out, 'adapter', 'model.safetensors')));
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('the first non-finite loss stops the run with an error record; nothing from that step is saved', () => {
  const out = mkdtempSync(join(tmpdir(), 'tunekit-nan-'));
  try {
    const model = tinyLlama();
    model.freeze(false);
    let calls = 0;
    const base = causalLmLossFn();
    const w0 = model.parameters().map((p) => Float32Array.from(p.f32));
    let wAfter2: Float32Array[] = [];
    assert.throws(
      () =>
        train({
          model,
          args: {
            batchSize: 2,
            maxSteps: 5,
            learningRate: 1e-2,
            saveEvery: 1,
            outDir: out,
            progress: 'none',
            shuffle: false,
          },
          train: tinyExamples(10),
          collate: (e) => collateCausalLm(e, { padTokenId: 2 }),
          loss: (m, b, c) => {
            calls++;
            const l = base(m, b, c);
            return calls === 3 ? F.scale(l, NaN) : l;
          },
          callbacks: {
            onStep: (s) => {
              if (s.step === 2) wAfter2 = model.parameters().map((p) => Float32Array.from(p.f32));
            },
          },
        }),
      (e: unknown) => e instanceof NonFiniteError && e.step === 3,
    );
    assert.ok(maxAbsDiff(w0[0]!, wAfter2[0]!) > 0);
    model.parameters().forEach((p, i) => assert.equal(maxAbsDiff(p.f32, wAfter2[i]!), 0, 'step 3 was not applied'));
    const recs = readRunLog(join(out, 'run.jsonl'));
    assert.equal(recs.at(-1)!.type, 'error');
    assert.equal(recs.at(-1)!.step, 3);
    assert.ok(existsSync(join(out, 'checkpoints', 'step-2')));
    assert.ok(!existsSync(join(out, 'checkpoints', 'step-3')));
    assert.ok(!existsSync(join(out, 'adapter')));
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('train() leaves the model in the training/eval mode it had (also after an error)', () => {
  const collate = (e: LmExample[]): CausalLmBatch => collateCausalLm(e, { padTokenId: 2 });
  for (const startTraining of [true, false]) {
    const model = tinyLlama();
    model.freeze(false);
    model.train(startTraining);
    let seen: boolean | null = null;
    train({
      model,
      args: { batchSize: 4, maxSteps: 1, progress: 'none' },
      train: tinyExamples(4),
      collate,
      loss: (m, b, ctx) => {
        seen = m.training;
        return causalLmLossFn()(m, b, ctx);
      },
    });
    assert.equal(seen, true, 'training steps run in training mode');
    assert.equal(model.training, startTraining);
    assert.ok(
      model.namedModules().every(([, m]) => m.training === startTraining),
      'every sub-module restored',
    );
    assert.throws(() =>
      train({
        model,
        args: { batchSize: 4, maxSteps: 1, progress: 'none' },
        train: tinyExamples(4),
        collate,
        loss: () => F.tensor([NaN], []),
      }),
    );
    assert.equal(model.training, startTraining, 'restored after a failed run');
  }
});
