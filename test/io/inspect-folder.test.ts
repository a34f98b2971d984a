/** `tunekit inspect` on the embedded stories260K model and on a saved LoRA adapter. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspectFolder, type Inspection } from '../../src/io/inspect-folder.js';
import { LlamaForCausalLM } from '../../src/models/llama.js';
import { loraConfig } from '../../src/peft/lora/config.js';
import { getPeftModel } from '../../src/peft/peft-model.js';
import { repoRoot } from '../helpers/shared.js';

const STORIES = join(repoRoot, 'assets', 'stories260K');

function tunekitJson(args: string[]): Inspection {
  const run = spawnSync(process.execPath, [join(repoRoot, 'dist/src/cli/main.js'), 'inspect', ...args, '--json'], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(run.status, 0, run.stderr);
  return JSON.parse(run.stdout) as Inspection;
}

const dirBytes = (dir: string): number => readdirSync(dir).reduce((s, f) => s + statSync(join(dir, f)).size, 0);

test('inspect: stories260K model folder (counts from the config formula, dtype, size)', () => {
  const x = tunekitJson([STORIES]);
  assert.equal(x.kind, 'model');
  if (x.kind !== 'model') return;
  // Llama with tied embeddings, from config.json: vocab 512, hidden 64, 5 layers, 8 heads / 4 KV heads of 8, MLP 172.
  const [v, h, L, kv, mlp] = [512, 64, 5, 4 * 8, 172];
  const perLayer = h * h + 2 * h * kv + h * h + 3 * h * mlp + 2 * h;
  assert.equal(x.parameters, v * h + L * perLayer + h);
  assert.equal(x.architecture, 'LlamaForCausalLM');
  assert.deepEqual(x.weights.dtypes, { F32: x.parameters });
  assert.equal(x.configDtype, 'float32');
  assert.equal(x.sizeBytes, dirBytes(STORIES));
  const text = spawnSync(process.execPath, [join(repoRoot, 'dist/src/cli/main.js'), 'inspect', STORIES], {
    encoding: 'utf8',
  });
  assert.match(text.stdout, /parameters +260,032/);
});

test('inspect: a saved LoRA adapter (trainable, total with its base, target modules) and bad folders', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tunekit-inspect-'));
  try {
    const peft = getPeftModel(
      LlamaForCausalLM.fromPretrained(STORIES),
      loraConfig({ targetModules: ['q_proj', 'v_proj'], r: 4 }),
    );
    const adapter = join(dir, 'adapter');
    peft.savePretrained(adapter);
    const x = tunekitJson([adapter, '--base', STORIES]);
    assert.equal(x.kind, 'adapter');
    if (x.kind !== 'adapter') return;
    // r·(in + out) per adapted linear: q 64->64, v 64->32, in each of 5 layers.
    const expected = 5 * (4 * (64 + 64) + 4 * (64 + 32));
    assert.equal(x.trainableParameters, expected);
    assert.equal(
      x.trainableParameters,
      peft.trainableParameters().reduce((s, [, t]) => s + t.size, 0),
    );
    assert.equal(x.totalParameters, 260_032 + expected);
    assert.equal(x.peftType, 'LORA');
    assert.deepEqual([...(x.targetModules as string[])].sort(), ['q_proj', 'v_proj']);
    assert.deepEqual(x.modulesInWeights, ['q_proj', 'v_proj']);
    assert.equal(x.sizeBytes, dirBytes(adapter));

    assert.throws(() => inspectFolder(dir), /neither a model folder \(config.json\) nor a PEFT adapter folder/);
    writeFileSync(join(dir, 'config.json'), '{"architectures": [');
    assert.throws(
      () => inspectFolder(dir),
      new RegExp(join(dir, 'config.json').replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
