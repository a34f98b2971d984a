/**
 * The README's main job: LoRA fine-tuning of the embedded stories260K must lower the loss, change
 * the greedy continuation towards the training stories, and save an adapter that reloads exactly.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runDemo } from '../../src/cli/demo.js';

test('demo: the loss falls, the model learns "Pip", and the adapter is saved in PEFT format', () => {
  const out = mkdtempSync(join(tmpdir(), 'tunekit-demo-test-'));
  try {
    const lines: string[] = [];
    const r = runDemo({ steps: 30, lr: 0.01, rank: 8, seed: 0, out, log: (l) => lines.push(l) });
    assert.ok(r.lastLoss < r.firstLoss * 0.5, `loss ${r.firstLoss} -> ${r.lastLoss}`);
    assert.ok(!r.before.includes('Pip'), 'the base model does not know Pip');
    assert.ok(r.after.includes('Pip'), `after fine-tuning: ${r.after}`);
    assert.ok(existsSync(join(out, 'adapter_model.safetensors')));
    const cfg = JSON.parse(readFileSync(join(out, 'adapter_config.json'), 'utf8')) as { peft_type: string; r: number };
    assert.equal(cfg.peft_type, 'LORA');
    assert.equal(cfg.r, 8);
    assert.ok(
      lines.some((l) => /reloaded on a fresh base: max \|Δlogit\| = 0$/.test(l)),
      lines.join('\n'),
    );
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
