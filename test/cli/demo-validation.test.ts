/**
 * `demo` with bad options fails before any expensive work, and a diverging run (lr 1e308) stops at
 * the first non-finite loss or gradient without saving anything.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runDemo } from '../../src/cli/demo.js';

const base = { steps: 5, lr: 0.01, rank: 4, seed: 0 };

test('demo rejects --steps 0, --rank 0, a bad --lr and an --out that is a file before loading anything', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tunekit-demo-val-'));
  try {
    const file = join(dir, 'existing-file');
    writeFileSync(file, 'keep me');
    const cases: [Partial<typeof base> & { out?: string }, RegExp][] = [
      [{ steps: 0 }, /^--steps: expected an integer >= 1 \(0 steps would save an untrained adapter\), got 0$/],
      [{ rank: 0 }, /^--rank: expected an integer >= 1 \(the LoRA rank r\), got 0$/],
      [{ lr: 0 }, /^--lr: expected a finite number > 0, got 0$/],
      [{ lr: Infinity }, /^--lr: expected a finite number > 0/],
      [{ out: file }, /existing-file: exists and is not a folder/],
    ];
    for (const [over, expected] of cases) {
      const lines: string[] = [];
      const t0 = performance.now();
      assert.throws(
        () => runDemo({ ...base, ...over, log: (l) => lines.push(l) }),
        (e: Error) => expected.test(e.message),
      );
      assert.deepEqual(lines, [], 'nothing was loaded or printed');
      assert.ok(performance.now() - t0 < 200, 'failed before loading the model');
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('demo --lr 1e308 stops at the first non-finite loss or gradient and saves nothing', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tunekit-demo-nan-'));
  const out = join(dir, 'adapter');
  try {
    const lines: string[] = [];
    assert.throws(
      () => runDemo({ ...base, steps: 20, lr: 1e308, out, log: (l) => lines.push(l) }),
      /^Error: demo: step [0-9]+: the loss is (NaN|-?Infinity|[0-9.e+-]+) and the gradient norm .*training diverged \(try a smaller --lr than 1e\+308\)\. Nothing was saved\.$/,
    );
    assert.ok(!existsSync(out), 'no adapter folder');
    assert.deepEqual(readdirSync(dir), []);
    assert.ok(!lines.some((l) => /Saved the adapter/.test(l)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
