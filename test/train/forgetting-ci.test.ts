/**
 * The trainer's forgetting record (a general set measured before and after, kept across a resume)
 * and bootstrap confidence intervals on evaluation metrics (the `ci` of the eval record).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bootstrapMetric } from '../../src/metrics/registry.js';
import { noGrad } from '../../src/tensor/tensor.js';
import { causalLmLossFn, collateCausalLm, type CausalLmBatch, type LmExample } from '../../src/train/collate.js';
import { readRun, readRunLog } from '../../src/train/run-log.js';
import { evaluate, train, type EvalMetrics } from '../../src/train/trainer.js';
import { tinyExamples, tinyLlama } from './helpers.js';

const collate = (e: LmExample[]): CausalLmBatch => collateCausalLm(e, { padTokenId: 2 });
const loss = causalLmLossFn();

/** Next-token accuracy over label tokens, with its per-token evidence for the bootstrap. */
function tokenAccuracy(model: ReturnType<typeof tinyLlama>, examples: readonly LmExample[]): EvalMetrics {
  const predictions: number[] = [];
  const references: number[] = [];
  noGrad(() => {
    for (const e of examples) {
      const logits = model.forward({ inputIds: Int32Array.from(e.inputIds) }).logits.f32;
      const V = logits.length / e.inputIds.length;
      for (let t = 0; t + 1 < e.inputIds.length; t++) {
        const label = (e.labels ?? e.inputIds)[t + 1] ?? -100;
        if (label === -100) continue;
        let best = 0;
        for (let j = 1; j < V; j++) if ((logits[t * V + j] ?? 0) > (logits[t * V + best] ?? 0)) best = j;
        predictions.push(best === label ? 1 : 0);
        references.push(1);
      }
    }
  });
  const accuracy = predictions.reduce((s, x) => s + x, 0) / predictions.length;
  return { values: { accuracy }, evidence: { accuracy: { metric: 'accuracy', inputs: { predictions, references } } } };
}

test('eval records carry bootstrap 95% intervals of the metrics (bootstrapMetric, seeded); asked for without evidence is an error', () => {
  const out = mkdtempSync(join(tmpdir(), 'tunekit-ci-'));
  try {
    const model = tinyLlama();
    model.freeze(false);
    const valid = tinyExamples(8, 9);
    const r = train({
      model,
      args: {
        batchSize: 4,
        maxSteps: 4,
        learningRate: 3e-2,
        evalEvery: 2,
        bootstrapSamples: 200,
        seed: 5,
        outDir: out,
        progress: 'none',
      },
      train: tinyExamples(16),
      valid,
      collate,
      loss,
      metrics: tokenAccuracy,
    });
    const last = r.evals.at(-1);
    assert.ok(last?.ci?.accuracy);
    const [lo, hi] = last.ci.accuracy;
    const acc = last.metrics.accuracy ?? NaN;
    assert.ok(lo <= acc && acc <= hi && lo < hi, `${lo} <= ${acc} <= ${hi}`);
    // The same interval as the registry's bootstrap over the same evidence and seed.
    const ev = tokenAccuracy(model, valid).evidence?.accuracy;
    assert.ok(ev);
    const direct = bootstrapMetric('accuracy', ev.inputs, {}, { nSamples: 200, seed: 5 });
    assert.deepEqual([direct.low, direct.high], [lo, hi]);
    const run = readRun(out);
    assert.equal(run.evals.length, 2);
    assert.deepEqual(run.evals.at(-1)?.ci, { accuracy: [lo, hi] });

    assert.throws(
      () =>
        train({
          model,
          args: { batchSize: 4, maxSteps: 1, evalEvery: 1, bootstrapSamples: 50, progress: 'none' },
          train: tinyExamples(4),
          valid,
          collate,
          loss,
          metrics: (m, e) => tokenAccuracy(m, e).values,
        }),
      /no per-item evidence for accuracy/,
    );
    assert.throws(
      () =>
        train({
          model,
          args: { batchSize: 4, maxSteps: 1, bootstrapSamples: 50, progress: 'none' },
          train: tinyExamples(4),
          collate,
          loss,
        }),
      /bootstrapSamples > 0 needs task metrics/,
    );
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('forgetting: the general set measured before and after (loss, perplexity, metrics); a resumed run keeps "before"', () => {
  const out = mkdtempSync(join(tmpdir(), 'tunekit-forget-'));
  try {
    const general = tinyExamples(6, 21);
    const fresh = (): ReturnType<typeof tinyLlama> => tinyLlama().freeze(false);
    const before = evaluate(fresh(), general, { collate, loss, batchSize: 6 }).loss;
    const opts = {
      args: { batchSize: 4, maxSteps: 6, saveEvery: 3, learningRate: 5e-2, outDir: out, progress: 'none' as const },
      train: tinyExamples(16),
      collate,
      loss,
      general: {
        examples: general,
        description: 'counting (6)',
        metrics: (m: ReturnType<typeof tinyLlama>, e: readonly LmExample[]) => tokenAccuracy(m, e),
      },
    };
    const model = fresh();
    const r = train({ model, ...opts });
    const after = evaluate(model, general, { collate, loss, batchSize: 6 }).loss;
    assert.ok(r.forgetting);
    assert.equal(r.forgetting.general, 'counting (6)');
    assert.ok(Math.abs((r.forgetting.before.loss ?? NaN) - before) < 1e-6);
    assert.ok(Math.abs((r.forgetting.after.loss ?? NaN) - after) < 1e-6);
    assert.ok(Math.abs((r.forgetting.before.perplexity ?? NaN) - Math.exp(before)) < 1e-6 * Math.exp(before));
    assert.equal(r.forgetting.after.accuracy, tokenAccuracy(model, general).values.accuracy);
    assert.notEqual(r.forgetting.before.loss, r.forgetting.after.loss);
    const rec = readRunLog(join(out, 'run.jsonl')).filter((x) => x.type === 'forgetting');
    assert.equal(rec.length, 1);
    assert.deepEqual(readRun(out).forgetting[0]?.before, r.forgetting.before);

    // Resume from step 3 (another model whose weights the checkpoint replaces): same before, same after.
    const resumed = fresh();
    const r2 = train({
      model: resumed,
      ...opts,
      args: { ...opts.args, outDir: join(out, 'b'), resumeFrom: join(out, 'checkpoints', 'step-3') },
    });
    assert.deepEqual(r2.forgetting?.before, r.forgetting.before);
    assert.deepEqual(r2.forgetting?.after, r.forgetting.after);
    // Resuming without the general set's "before" is refused rather than reporting a wrong one.
    const noBefore = join(out, 'c');
    const { general: _general, ...withoutGeneral } = opts;
    train({ model: fresh(), ...withoutGeneral, args: { ...opts.args, outDir: noBefore } });
    assert.throws(
      () => train({ model: fresh(), ...opts, args: { ...opts.args, outDir: noBefore, resumeFrom: 'latest' } }),
      /no "before" figures/,
    );
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
