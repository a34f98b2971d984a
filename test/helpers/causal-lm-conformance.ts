/**
 * What every causal LM must do with its own folder: save -> reload gives identical logits from a
 * frozen, eval-mode model; reloading with bfloat16 weights keeps them bf16 and moves the logits only
 * slightly. One helper for every architecture instead of a copy per model test.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CausalLM } from '../../src/models/causal-lm.js';
import type { WeightDtype } from '../../src/models/weights.js';
import { noGrad } from '../../src/tensor/tensor.js';

/**
 * @param model a (randomly initialised) model whose configJson describes it
 * @param load the architecture's fromPretrained
 * @param inspect extra checks on the saved folder (key names, config.json) before reloading
 */
export function assertSaveReloadConformance(
  model: CausalLM,
  load: (dir: string, opts: { dtype?: WeightDtype }) => CausalLM,
  opts: { ids?: Int32Array; inspect?: (dir: string) => void } = {},
): void {
  const dir = mkdtempSync(join(tmpdir(), 'tunekit-conformance-'));
  try {
    model.savePretrained(dir);
    opts.inspect?.(dir);
    const ids = opts.ids ?? Int32Array.from([3, 1, 4, 1, 5]);
    const again = load(dir, {});
    assert.equal(again.trainableParameters().length, 0, 'loaded weights are frozen');
    assert.equal(again.training, false, 'loaded in eval mode');
    const a = noGrad(() => model.forward({ inputIds: ids }).logits.toArray());
    assert.deepEqual(
      noGrad(() => again.forward({ inputIds: ids }).logits.toArray()),
      a,
      'float32 reload gives identical logits',
    );
    const half = load(dir, { dtype: 'bfloat16' });
    const matrices = half.parameters().filter((p) => p.ndim === 2);
    assert.ok(
      matrices.length > 0 && matrices.every((p) => p.dtype === 'bf16'),
      'bfloat16 reload keeps every matrix bf16',
    );
    const c = noGrad(() => half.forward({ inputIds: ids }).logits.toArray());
    const maxDiff = Math.max(...c.map((v, i) => Math.abs(v - (a[i] ?? NaN))));
    assert.ok(maxDiff > 0 && maxDiff < 0.05, `bf16 weights change logits slightly (${maxDiff})`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
