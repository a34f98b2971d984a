/**
 * Crafted config.json shapes (num_labels 1e9, num_hidden_layers 1e6, hidden_size/vocab_size up to
 * 1e12) fail before any allocation, naming the file and the field, against a configurable budget.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseModelConfig, readModelConfig, type BertConfig } from '../../src/models/index.js';
import { modelMemoryBudget } from '../../src/io/model-size.js';
import { AutoModelForCausalLM } from '../../src/models/auto.js';
import { BertForSequenceClassification } from '../../src/models/bert.js';
import { repoRoot } from '../helpers/shared.js';

const STORIES = join(repoRoot, 'assets', 'stories260K');
const storiesConfig = JSON.parse(readFileSync(join(STORIES, 'config.json'), 'utf8')) as Record<string, unknown>;
const bert = {
  architectures: ['BertForSequenceClassification'],
  model_type: 'bert',
  hidden_size: 32,
  num_attention_heads: 2,
  num_hidden_layers: 2,
  intermediate_size: 64,
  vocab_size: 100,
};
const gpt2 = {
  architectures: ['GPT2LMHeadModel'],
  n_embd: 32,
  n_head: 2,
  n_layer: 2,
  vocab_size: 100,
  n_positions: 64,
};
const GB16 = 16e9;

/** Runs `fn` expecting an error; checks it is fast and allocates little. */
function rejectsCheaply(fn: () => unknown, expected: RegExp): void {
  const rss = process.memoryUsage().rss;
  const t0 = performance.now();
  assert.throws(fn, (e: Error) => {
    assert.match(e.message, expected);
    return true;
  });
  assert.ok(performance.now() - t0 < 500, 'fails before building anything');
  assert.ok(process.memoryUsage().rss - rss < 200e6, 'no large allocation');
}

test('huge declared shapes are refused before allocation, naming the file and the field', () => {
  const opts = { maxModelBytes: GB16, checkSize: true };
  rejectsCheaply(
    () => parseModelConfig({ ...bert, num_labels: 1e9 }, 'x/config.json', opts),
    /^x\/config\.json: the declared shapes need about 19\d\.\d GB of memory, more than the budget of 16\.0 GB \(set TUNEKIT_MAX_MODEL_BYTES .*\); the largest part comes from fields "num_labels" × "hidden_size"$/,
  );
  rejectsCheaply(
    () => parseModelConfig({ ...storiesConfig, num_hidden_layers: 1e6 }, 'c.json', opts),
    /^c\.json: the declared shapes need .*"num_hidden_layers"/,
  );
  // Tiny layers: even with a huge budget, a million layers' objects would not fit the JavaScript heap.
  const tiny = {
    ...storiesConfig,
    hidden_size: 8,
    intermediate_size: 8,
    vocab_size: 16,
    num_attention_heads: 2,
    num_key_value_heads: 2,
    head_dim: 4,
  };
  rejectsCheaply(
    () => parseModelConfig({ ...tiny, num_hidden_layers: 1e6 }, 'c.json', { maxModelBytes: 1e15, checkSize: true }),
    /^c\.json: field "num_hidden_layers" declares 1000000 layers, whose objects need about 8\.2 GB of JavaScript heap, more than half the heap limit/,
  );
  for (const [field, v] of [
    ['hidden_size', 1e9],
    ['hidden_size', 1e12],
    ['vocab_size', 1e9],
    ['vocab_size', 1e12],
    ['intermediate_size', 1e12],
  ] as const) {
    const json = { ...storiesConfig, [field]: v, ...(field === 'hidden_size' ? { head_dim: 8 } : {}) };
    rejectsCheaply(
      () => parseModelConfig(json, 'config.json', opts),
      new RegExp(`^config\\.json: the declared shapes need .* the largest part comes from fields? .*"${field}"`),
    );
  }
  rejectsCheaply(
    () => parseModelConfig({ ...gpt2, n_positions: 1e12 }, 'g.json', opts),
    /g\.json: .*"n_positions" × "n_embd"$/,
  );
  rejectsCheaply(() => parseModelConfig({ ...gpt2, n_layer: 1e6 }, 'g.json', opts), /g\.json: .*"n_layer"/);
  // The budget counts the declared dtype: 1e9 parameters fit 4 GB in bfloat16, not in float32.
  const big = { ...storiesConfig, vocab_size: 1e9 / 64, hidden_size: 64, tie_word_embeddings: true };
  assert.doesNotThrow(() =>
    parseModelConfig({ ...big, torch_dtype: 'bfloat16' }, 'config.json', { maxModelBytes: 2.5e9, checkSize: true }),
  );
  assert.throws(
    () =>
      parseModelConfig({ ...big, torch_dtype: 'float32' }, 'config.json', { maxModelBytes: 2.5e9, checkSize: true }),
    /"vocab_size" × "hidden_size"/,
  );
  // Without checkSize (inspecting a config) only the label table parseModelConfig builds is checked.
  assert.equal(parseModelConfig({ ...storiesConfig, hidden_size: 1e12, head_dim: 8 }).hiddenSize, 1e12);
  rejectsCheaply(
    () => parseModelConfig({ ...bert, num_labels: 1e9 }, 'x/config.json', { maxModelBytes: GB16 }),
    /^x\/config\.json: the declared shapes need about 64\.0 GB .*field "num_labels"$/,
  );
  rejectsCheaply(
    () => parseModelConfig({ ...bert, num_labels: 1e8 }, 'x/config.json', { maxModelBytes: 1e15 }),
    /^x\/config\.json: field "num_labels" needs about 12\.8 GB of JavaScript heap/,
  );
  // Real configs pass under the default budget.
  assert.equal(readModelConfig(STORIES).hiddenSize, 64);
  assert.equal((parseModelConfig({ ...bert, num_labels: 3 }) as BertConfig).numLabels, 3);
});

test('TUNEKIT_MAX_MODEL_BYTES sets the budget; loading a crafted folder names its config.json', () => {
  assert.equal(modelMemoryBudget({ TUNEKIT_MAX_MODEL_BYTES: '8G' }), 8e9);
  assert.equal(modelMemoryBudget({ TUNEKIT_MAX_MODEL_BYTES: '123456' }), 123456);
  assert.equal(modelMemoryBudget({ TUNEKIT_MAX_MODEL_BYTES: '1.5 GB' }), 1.5e9);
  assert.ok(modelMemoryBudget({}) > 0);
  assert.throws(
    () => modelMemoryBudget({ TUNEKIT_MAX_MODEL_BYTES: 'lots' }),
    /TUNEKIT_MAX_MODEL_BYTES="lots": expected a size in bytes/,
  );

  const dir = mkdtempSync(join(tmpdir(), 'tunekit-size-'));
  const saved = process.env.TUNEKIT_MAX_MODEL_BYTES;
  try {
    cpSync(STORIES, dir, { recursive: true });
    process.env.TUNEKIT_MAX_MODEL_BYTES = '100k';
    assert.throws(
      () => AutoModelForCausalLM.fromPretrained(dir),
      new RegExp(
        `^Error: ${join(dir, 'config.json').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: the declared shapes need about 1\\.\\d MB of memory, more than the budget of 100\\.0 kB`,
      ),
    );
    delete process.env.TUNEKIT_MAX_MODEL_BYTES;
    assert.ok(AutoModelForCausalLM.fromPretrained(dir));
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...bert, num_labels: 1e9 }));
    rejectsCheaply(
      () => BertForSequenceClassification.fromPretrained(dir),
      /config\.json: .*"num_labels" × "hidden_size"/,
    );
  } finally {
    if (saved === undefined) delete process.env.TUNEKIT_MAX_MODEL_BYTES;
    else process.env.TUNEKIT_MAX_MODEL_BYTES = saved;
    rmSync(dir, { recursive: true, force: true });
  }
});
