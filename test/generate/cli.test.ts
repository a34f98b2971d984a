/**
 * `tunekit generate` and `tunekit chat` run as a user would (spawned `node dist/src/cli/main.js`) on
 * stories260K, against the reference greedy ids and the library functions they wrap.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ChatSession } from '../../src/generate/chat.js';
import { generate } from '../../src/generate/generate.js';
import { AutoTokenizer } from '../../src/io/tokenizer.js';
import { LlamaForCausalLM } from '../../src/models/llama.js';
import { assetPath, repoRoot, skipWithoutShared } from '../helpers/shared.js';

const STORIES = 'stories260K-hf';
const skip = skipWithoutShared(STORIES);

function tunekit(args: string[], input?: string): { status: number | null; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, [join(repoRoot, 'dist/src/cli/main.js'), ...args], {
    input,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

test('tunekit generate --greedy prints the reference continuation (streamed and not)', { skip }, () => {
  const dir = assetPath(STORIES)!;
  const ref = JSON.parse(readFileSync(join(dir, 'reference_outputs.json'), 'utf8')) as {
    greedy: { new_ids: number[] };
  };
  const expected = AutoTokenizer.fromPretrained(dir).decode(ref.greedy.new_ids.slice(0, 30), {
    skipSpecialTokens: true,
  });
  for (const extra of [[], ['--no-stream']]) {
    const run = tunekit([
      'generate',
      '--model',
      dir,
      '--prompt',
      'Once upon a time',
      '--greedy',
      '--max-new-tokens',
      '30',
      ...extra,
    ]);
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stdout, `${expected}\n`);
    assert.match(run.stderr, /30 tokens, finish: length; prefill 5 tok .* decode 29 tok/);
  }
});

test('tunekit generate with sampling flags and --stop equals the library call', { skip }, () => {
  const dir = assetPath(STORIES)!;
  const run = tunekit([
    'generate',
    '--model',
    dir,
    '--prompt',
    'Once upon a time',
    '--temperature',
    '0.8',
    '--top-p',
    '0.9',
    '--repetition-penalty',
    '1.1',
    '--seed',
    '4',
    '--max-new-tokens',
    '40',
    '--stop',
    '.',
    '--no-stream',
  ]);
  assert.equal(run.status, 0, run.stderr);
  const tok = AutoTokenizer.fromPretrained(dir);
  const model = LlamaForCausalLM.fromPretrained(dir);
  // generation_config.json has no sampling settings, so transformers' defaults apply (top_k 50).
  const lib = generate(model, tok.encode('Once upon a time'), {
    doSample: true,
    temperature: 0.8,
    topP: 0.9,
    topK: 50,
    repetitionPenalty: 1.1,
    seed: 4,
    maxNewTokens: 40,
    tokenizer: tok,
    stopStrings: ['.'],
    eosTokenIds: [2],
  });
  assert.equal(run.stdout, `${lib.texts![0]}\n`);
  assert.match(run.stderr, new RegExp(`finish: ${lib.finishReasons[0]}`));
});

test('tunekit chat reads a pipe: replies equal ChatSession, /reset starts over, /exit stops', { skip }, () => {
  const dir = assetPath(STORIES)!;
  const run = tunekit(
    ['chat', '--model', dir, '--greedy', '--max-new-tokens', '20', '--system', 'Be nice', '--no-stream'],
    'Hello there\nTell me more\n/reset\n\nHello there\n/exit\nnever read\n',
  );
  assert.equal(run.status, 0, run.stderr);
  const session = new ChatSession(LlamaForCausalLM.fromPretrained(dir), AutoTokenizer.fromPretrained(dir), {
    system: 'Be nice',
    generation: { maxNewTokens: 20, eosTokenIds: [2] },
  });
  const a = session.send('Hello there').text;
  const b = session.send('Tell me more').text;
  assert.equal(run.stdout, `${a}\n${b}\n${a}\n`);
  assert.match(run.stderr, /\[conversation reset\]/);
  // the second turn reused the first one's keys/values; the turn after /reset did not
  const reused = [...run.stderr.matchAll(/reused (\d+)\/(\d+) prompt tokens/g)].map((m) => Number(m[1]));
  assert.equal(reused.length, 3);
  assert.ok(reused[0] === 0 && reused[1]! > 0 && reused[2] === 0, run.stderr);
});

test(
  'tunekit generate --chat-template without a template uses the plain chat format, like ChatSession',
  { skip },
  () => {
    const dir = assetPath(STORIES)!;
    const run = tunekit([
      'generate',
      '--model',
      dir,
      '--prompt',
      'Tell me a story',
      '--chat-template',
      '--greedy',
      '--max-new-tokens',
      '25',
      '--no-stream',
    ]);
    assert.equal(run.status, 0, run.stderr);
    const session = new ChatSession(LlamaForCausalLM.fromPretrained(dir), AutoTokenizer.fromPretrained(dir), {
      generation: { maxNewTokens: 25, eosTokenIds: [2] },
    });
    assert.equal(run.stdout.trim(), session.send('Tell me a story').text);
  },
);

test('tunekit generate rejects bad flags with a clear message', { skip }, () => {
  const dir = assetPath(STORIES)!;
  const run = tunekit(['generate', '--model', dir, '--prompt', 'x', '--top-p', '2']);
  assert.notEqual(run.status, 0);
  assert.match(run.stderr, /--top-p expects a number in \[0, 1\], got "2"/);
  const missing = tunekit(['generate', '--model', join(dir, 'no-such-folder'), '--prompt', 'x']);
  assert.notEqual(missing.status, 0);
  assert.match(missing.stderr, /error: --model .*no-such-folder: no such folder/);
});
