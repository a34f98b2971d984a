/**
 * `tunekit generate --adapter DIR` and `tunekit chat --adapter DIR` apply a PEFT adapter folder:
 * the CLI's greedy continuation equals the library's on the adapted model and differs from the base.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generate } from '../../src/generate/generate.js';
import { AutoTokenizer } from '../../src/io/tokenizer.js';
import type { CausalLM } from '../../src/models/causal-lm.js';
import { LlamaForCausalLM } from '../../src/models/llama.js';
import type { PeftConfigBase } from '../../src/peft/config.js';
import { ia3Config } from '../../src/peft/ia3/config.js';
import { loraConfig } from '../../src/peft/lora/config.js';
import { getPeftModel, withAdapter } from '../../src/peft/peft-model.js';
import * as F from '../../src/tensor/ops.js';
import { Rng } from '../../src/tensor/random.js';
import { assetPath, repoRoot, skipWithoutShared } from '../helpers/shared.js';

const STORIES = 'stories260K-hf';

function tunekit(args: string[], input?: string): { status: number | null; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, [join(repoRoot, 'dist/src/cli/main.js'), ...args], {
    input,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

/** An adapter of the given method with non-trivial random weights, saved to a temporary folder. */
export function savedAdapter(config: PeftConfigBase, seed: number): string {
  const peft = getPeftModel(LlamaForCausalLM.fromPretrained(assetPath(STORIES)!), config);
  for (const [, t] of peft.trainableParameters())
    t.f32.set(F.add(F.tensor(t.f32, t.shape), F.randn(t.shape, new Rng(seed + t.size), 0.3)).f32);
  const dir = mkdtempSync(join(tmpdir(), 'tunekit-cli-adapter-'));
  peft.savePretrained(dir);
  return dir;
}

test(
  'tunekit generate/chat --adapter: LoRA and IA3 folders change the continuation exactly as the library does',
  { skip: skipWithoutShared(STORIES) },
  () => {
    const model = assetPath(STORIES)!;
    const tok = AutoTokenizer.fromPretrained(model);
    const prompt = tok.encode('Once upon a time');
    const base = tunekit([
      'generate',
      '--model',
      model,
      '--prompt',
      'Once upon a time',
      '--greedy',
      '--max-new-tokens',
      '20',
      '--no-stream',
    ]);
    assert.equal(base.status, 0, base.stderr);
    for (const [name, config] of [
      ['lora', loraConfig({ targetModules: ['q_proj', 'v_proj', 'down_proj'], r: 4 })],
      ['ia3', ia3Config({})],
    ] as const) {
      const dir = savedAdapter(config, 3);
      try {
        const run = tunekit([
          'generate',
          '--model',
          model,
          '--adapter',
          dir,
          '--prompt',
          'Once upon a time',
          '--greedy',
          '--max-new-tokens',
          '20',
          '--no-stream',
        ]);
        assert.equal(run.status, 0, run.stderr);
        const adapted: CausalLM = withAdapter(LlamaForCausalLM.fromPretrained(model), dir);
        const ids = generate(adapted, prompt, { maxNewTokens: 20 }).tokens[0]!;
        assert.equal(run.stdout, `${tok.decode(ids, { skipSpecialTokens: true })}\n`, name);
        assert.notEqual(run.stdout, base.stdout, `${name}: the adapter changes the output`);
        const chat = tunekit(
          ['chat', '--model', model, '--adapter', dir, '--greedy', '--max-new-tokens', '8'],
          'Hello\n/exit\n',
        );
        assert.equal(chat.status, 0, chat.stderr);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
    const bad = tunekit([
      'generate',
      '--model',
      model,
      '--adapter',
      join(tmpdir(), 'no-such-adapter-x'),
      '--prompt',
      'hi',
    ]);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /--adapter .*no-such-adapter-x: no such folder/);
  },
);
