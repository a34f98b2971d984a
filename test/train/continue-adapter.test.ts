/** Starting a run from an existing adapter folder: PeftModel.fromPretrained(..., { isTrainable: true }) then train(). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loraConfig } from '../../src/peft/lora/config.js';
import { PeftModel, getPeftModel } from '../../src/peft/peft-model.js';
import { collateCausalLm, causalLmLossFn, evaluate, train } from '../../src/train/index.js';
import { tinyExamples, tinyLlama } from './helpers.js';

test('an adapter loaded with isTrainable continues training from its saved weights (loss keeps falling)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tunekit-continue-'));
  try {
    const data = tinyExamples(8);
    const collate = (e: typeof data) => collateCausalLm(e, { padTokenId: 2 });
    const lossOf = (m: ReturnType<typeof tinyLlama>): number =>
      evaluate(m, data, { collate, loss: causalLmLossFn(), batchSize: 8 }).loss;
    const first = tinyLlama();
    const base = lossOf(first);
    const peft = getPeftModel(first, loraConfig({ targetModules: ['q_proj', 'v_proj'], r: 4, loraAlpha: 8, seed: 1 }));
    train({
      model: first,
      args: { batchSize: 4, maxSteps: 10, learningRate: 1e-2, progress: 'none' },
      train: data,
      collate,
      loss: causalLmLossFn(),
    });
    const afterFirst = lossOf(first);
    peft.savePretrained(dir);

    const second = tinyLlama(); // the same base weights (same seed)
    PeftModel.fromPretrained(second, dir, { isTrainable: true });
    assert.ok(Math.abs(lossOf(second) - afterFirst) < 1e-5, 'the loaded adapter starts where the first run ended');
    assert.ok(
      second.numParameters(true) > 0 && second.numParameters(true) === first.numParameters(true),
      'the adapter weights are trainable',
    );
    train({
      model: second,
      args: { batchSize: 4, maxSteps: 10, learningRate: 1e-2, progress: 'none' },
      train: data,
      collate,
      loss: causalLmLossFn(),
    });
    const afterSecond = lossOf(second);
    assert.ok(afterFirst < base && afterSecond < afterFirst, `loss ${base} -> ${afterFirst} -> ${afterSecond}`);

    const frozen = tinyLlama();
    PeftModel.fromPretrained(frozen, dir);
    assert.equal(frozen.numParameters(true), 0, 'without isTrainable the adapter is frozen');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
