/**
 * A conversation longer than the model's positions: the oldest turns are dropped (and reported)
 * instead of the chat ending; a single message too long for the model is an error for that turn only.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChatSession } from '../../src/generate/chat.js';
import { generate } from '../../src/generate/generate.js';
import { AutoTokenizer } from '../../src/io/tokenizer.js';
import { LlamaForCausalLM } from '../../src/models/llama.js';
import { repoRoot } from '../helpers/shared.js';

const STORIES = join(repoRoot, 'assets', 'stories260K');
const dir = mkdtempSync(join(tmpdir(), 'tunekit-chat-overflow-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
// stories260K with 96 positions instead of 512 (RoPE: the weights do not depend on it).
cpSync(STORIES, dir, { recursive: true });
const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, max_position_embeddings: 96 }));

test('ChatSession drops the oldest turns when the conversation outgrows the positions, keeps the system message', () => {
  const model = LlamaForCausalLM.fromPretrained(dir);
  const tok = AutoTokenizer.fromPretrained(dir);
  const generation = { maxNewTokens: 12, eosTokenIds: [2] };
  const chat = new ChatSession(model, tok, { system: 'Stories', generation });
  let dropped = 0;
  for (let i = 0; i < 8; i++) {
    const turn = chat.send(`Tell me about the dog number ${i}`);
    dropped += turn.droppedMessages;
    assert.ok(turn.promptTokens + 12 <= 96, `turn ${i}: ${turn.promptTokens} prompt tokens`);
    assert.equal(turn.droppedMessages % 2, 0);
    // The reply is what a fresh generation on the remaining conversation gives.
    const fresh = generate(model, chat.renderPrompt(chat.messages.slice(0, -1)), {
      ...generation,
      tokenizer: tok,
      stopStrings: ['\nUser:'],
    });
    assert.equal(turn.text, fresh.texts![0]!.trim(), `turn ${i}`);
  }
  assert.ok(dropped > 0, 'some turns were dropped');
  assert.deepEqual(chat.messages[0], { role: 'system', content: 'Stories' });
  assert.equal(chat.messages.at(-2)?.content, 'Tell me about the dog number 7');

  // One message longer than the model: an error for this turn; the conversation stays as it was.
  const before = [...chat.messages];
  assert.throws(
    () => chat.send('dog '.repeat(200)),
    /^Error: chat: this message needs \d+ tokens with the system message, and the reply 12 more; the model holds 96 positions\. Send a shorter message\.$/,
  );
  assert.deepEqual(chat.messages, before);
  assert.ok(chat.send('And then?').text.length >= 0);
});

test('tunekit chat keeps going past the context (says so) and after a too-long message', () => {
  const lines = [
    ...Array.from({ length: 8 }, (_, i) => `Tell me about the cat number ${i}`),
    'cat '.repeat(200),
    'Goodbye',
  ];
  const run = spawnSync(
    process.execPath,
    [
      join(repoRoot, 'dist/src/cli/main.js'),
      'chat',
      '--model',
      dir,
      '--greedy',
      '--max-new-tokens',
      '12',
      '--no-stream',
    ],
    { input: `${lines.join('\n')}\n`, encoding: 'utf8', timeout: 60_000 },
  );
  assert.equal(
    run.stdout.trim().split('\n').length,
    9,
    `a reply for every message but the too-long one:\n${run.stdout}\n${run.stderr}`,
  );
  assert.match(run.stderr, /\[the conversation outgrew the model's 96 positions: dropped the \d+ oldest messages\]/);
  assert.match(
    run.stderr,
    /error: chat: this message needs \d+ tokens, and the reply 12 more; the model holds 96 positions/,
  );
  assert.equal(run.status, 1, 'a failed turn is reported in the exit status');
});
