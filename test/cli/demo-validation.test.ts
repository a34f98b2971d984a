/**
 * `demo` with bad options fails before any expensive work; it never writes into a folder it did not
 * write itself; a diverging run (lr 1e308) stops at the first non-finite loss or gradient without
 * saving that run's adapter.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runDemo, type DemoOptions } from '../../src/cli/demo.js';

test('demo rejects --steps 0, --rank 0, a bad --lr, an --out that is a file or a foreign folder, before loading anything', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tunekit-demo-val-'));
  try {
    const file = join(dir, 'existing-file');
    writeFileSync(file, 'keep me');
    const foreign = join(dir, 'foreign');
    mkdirSync(foreign);
    writeFileSync(join(foreign, 'notes.txt'), 'mine');
    const cases: [Partial<DemoOptions>, RegExp][] = [
      [{ steps: 0 }, /^--steps: expected an integer >= 1 \(0 steps would save an untrained adapter\), got 0$/],
      [{ rank: 0 }, /^--rank: expected an integer >= 1 \(the LoRA rank r\), got 0$/],
      [{ lr: 0 }, /^--lr: expected a finite number > 0, got 0$/],
      [{ lr: Infinity }, /^--lr: expected a finite number > 0/],
      [{ promptLr: -1 }, /^--prompt-lr: expected a finite number > 0, got -1$/],
      [{ out: file }, /existing-file: exists and is not a folder/],
      [{ out: foreign }, /foreign: the folder is not empty and was not written by the demo/],
    ];
    for (const [over, expected] of cases) {
      const lines: string[] = [];
      const t0 = performance.now();
      await assert.rejects(
        runDemo({ seed: 0, out: join(dir, 'new'), ...over, log: (l) => lines.push(l) }),
        (e: Error) => expected.test(e.message),
      );
      assert.deepEqual(lines, [], 'nothing was loaded or printed');
      assert.ok(performance.now() - t0 < 200, 'failed before loading the model');
    }
    assert.deepEqual(readdirSync(foreign), ['notes.txt'], 'the foreign folder is untouched');
    assert.ok(!existsSync(join(dir, 'new')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('demo --lr 1e308 stops at the first non-finite loss or gradient and saves no adapter', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tunekit-demo-nan-'));
  const out = join(dir, 'demo');
  try {
    const lines: string[] = [];
    await assert.rejects(
      runDemo({ quick: true, seed: 0, lr: 1e308, out, log: (l) => lines.push(l) }),
      /^Error: demo: lora: step [0-9]+: the loss is (NaN|-?Infinity|[0-9.e+-]+) and the gradient norm .*training diverged \(try a smaller --lr than 1e\+308\)\. Its adapter was not saved\.$/,
    );
    assert.ok(!existsSync(join(out, 'lora', 'adapter')), 'no adapter folder');
    assert.ok(!lines.some((l) => /PEFT format/.test(l)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
