/**
 * A checkpoint with NaN/Infinity weights: loading warns naming the tensor, and `generate` fails
 * loudly instead of printing empty text with exit status 0. A tiny temperature samples (tending to
 * greedy) instead of failing with "all logits are -Infinity".
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generate } from '../../src/generate/generate.js';
import { temperature, sample } from '../../src/generate/logits-processors.js';
import { readSafetensors, writeSafetensors } from '../../src/io/safetensors.js';
import { LlamaForCausalLM } from '../../src/models/llama.js';
import { countNonFinite } from '../../src/models/weights.js';
import { Rng } from '../../src/tensor/random.js';
import { repoRoot } from '../helpers/shared.js';

const STORIES = join(repoRoot, 'assets', 'stories260K');
const tmp = mkdtempSync(join(tmpdir(), 'tunekit-nonfinite-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

/** stories260K with some values of one tensor replaced. */
function brokenCopy(name: string, tensor: string, values: number[]): string {
  const dir = join(tmp, name);
  cpSync(STORIES, dir, { recursive: true });
  const st = readSafetensors(join(dir, 'model.safetensors'));
  const raw = st.tensors.get(tensor);
  assert.ok(raw, tensor);
  const data = Float32Array.from(raw.data as Float32Array);
  values.forEach((v, i) => {
    data[i * 7] = v;
  });
  st.tensors.set(tensor, { ...raw, data });
  writeSafetensors(join(dir, 'model.safetensors'), st.tensors, st.metadata);
  return dir;
}

function captureWarnings<T>(fn: () => T): { result: T; warnings: string[] } {
  const warnings: string[] = [];
  const original = console.warn;
  console.warn = (...args: unknown[]) => {
    warnings.push(args.join(' '));
  };
  try {
    return { result: fn(), warnings };
  } finally {
    console.warn = original;
  }
}

test('loading NaN/Infinity weights warns with the tensor named; a clean checkpoint does not warn', () => {
  const clean = captureWarnings(() => LlamaForCausalLM.fromPretrained(STORIES));
  assert.deepEqual(clean.warnings, []);
  const dir = brokenCopy('nan-load', 'model.layers.1.mlp.up_proj.weight', [NaN, Infinity, -Infinity]);
  const { warnings } = captureWarnings(() => LlamaForCausalLM.fromPretrained(dir));
  assert.equal(warnings.length, 1);
  assert.match(
    warnings[0]!,
    new RegExp(
      `^warning: ${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: 1 tensor holds NaN or Infinity values: model\\.layers\\.1\\.mlp\\.up_proj\\.weight \\(3 of \\d+\\); the model's outputs will not be usable$`,
    ),
  );
  assert.equal(countNonFinite({ dtype: 'BF16', shape: [3], data: new Uint16Array([0x7f80, 0x7fc0, 0x3f80]) }), 2);
  assert.equal(countNonFinite({ dtype: 'F16', shape: [3], data: new Uint16Array([0x7c00, 0xfe00, 0x3c00]) }), 2);
  assert.equal(countNonFinite({ dtype: 'I64', shape: [1], data: new BigInt64Array([1n]) }), 0);
});

test('generate on a broken model fails with a clear error (library and CLI), not empty text with exit 0', () => {
  const dir = brokenCopy('nan-generate', 'model.norm.weight', [NaN]);
  const model = captureWarnings(() => LlamaForCausalLM.fromPretrained(dir)).result;
  assert.throws(
    () => generate(model, [1, 403, 407], { maxNewTokens: 5 }),
    /generate: the model produced NaN logits \(row 0, new token 1\); its weights are probably broken/,
  );
  const run = spawnSync(
    process.execPath,
    [join(repoRoot, 'dist/src/cli/main.js'), 'generate', '--model', dir, '--prompt', 'Once upon a time', '--greedy'],
    { encoding: 'utf8', timeout: 60_000 },
  );
  assert.equal(run.status, 1, run.stdout);
  assert.match(run.stderr, /warning: .*model\.norm\.weight \(1 of 64\)/);
  assert.match(run.stderr, /the model produced NaN logits/);
});

test('a tiny temperature samples like greedy decoding instead of failing', () => {
  assert.deepEqual([...temperature(Float32Array.from([1, 2, -3]), 1e-40)], [-Infinity, 0, -Infinity]);
  // Values that do not overflow are still x / T, as transformers.
  assert.deepEqual([...temperature(Float32Array.from([1, 2]), 0.5)], [2, 4]);
  assert.equal(sample(temperature(Float32Array.from([0.5, 0.25, 3, -1]), 1e-39), new Rng(1)), 2);
  const model = LlamaForCausalLM.fromPretrained(STORIES);
  const prompt = [1, 403, 407, 261];
  const greedy = generate(model, prompt, { maxNewTokens: 12 }).tokens[0];
  for (const t of [1e-30, 1e-45]) {
    assert.deepEqual(
      generate(model, prompt, { maxNewTokens: 12, doSample: true, temperature: t, seed: 3 }).tokens[0],
      greedy,
      `temperature ${t}`,
    );
  }
  assert.throws(
    () =>
      sample(
        Float32Array.from([NaN, 1]).map(() => NaN),
        new Rng(0),
      ),
    /the logits contain NaN/,
  );
});
