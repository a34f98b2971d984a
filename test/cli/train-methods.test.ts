/**
 * `tunekit train --method M` for every method on stories260K: the run completes, the saved folder is
 * the method's (an adapter with its peft_type, or a complete model folder for full/freeze), and the
 * trainable-parameter count logged is the method's (freeze trains fewer weights than full).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { METHODS, PEFT_TYPE } from '../../src/cli/methods.js';
import { columnsFrom } from '../../src/cli/task-setup.js';
import { readRunLog } from '../../src/train/run-log.js';
import { STORIES, tmp, tunekit, writeSftFolder } from './helpers.js';

test('tunekit train runs every --method and saves what that method produces', () => {
  const root = tmp('methods');
  const data = writeSftFolder(join(root, 'data'));
  const trainable: Record<string, number> = {};
  for (const method of METHODS) {
    const out = join(root, method);
    const r = tunekit([
      'train', '--model', STORIES, '--data', data, '--task', 'sft', '--method', method, '--out', out,
      '--max-steps', '2', '--batch-size', '4', '--max-length', '32', '--no-report', '--progress', 'none',
    ]); // prettier-ignore
    assert.equal(r.status, 0, `${method}: ${r.stderr}`);
    const records = readRunLog(join(out, 'run.jsonl'));
    const end = records.find((x) => x.type === 'end');
    assert.equal(end?.reason, 'max-steps', `${method}: run ended at --max-steps`);
    assert.equal(records.filter((x) => x.type === 'step').length, 2, `${method}: two steps logged`);
    const cfg = records[0];
    const described = (cfg?.method ?? {}) as { peftType?: string; trainableParameters?: number };
    trainable[method] = described.trainableParameters ?? 0;
    assert.ok(trainable[method] > 0, `${method}: trains something`);
    const saved = join(out, 'adapter');
    const peftType = PEFT_TYPE[method];
    if (peftType === null) {
      assert.ok(existsSync(join(saved, 'config.json')) && existsSync(join(saved, 'model.safetensors')), method);
      assert.equal(described.peftType, method.toUpperCase());
    } else {
      const config = JSON.parse(readFileSync(join(saved, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
      assert.equal(config.peft_type, peftType, `${method}: peft_type`);
      if (method === 'dora') assert.equal(config.use_dora, true);
      assert.ok(existsSync(join(saved, 'adapter_model.safetensors')), method);
    }
  }
  assert.ok((trainable.freeze ?? 0) < (trainable.full ?? 0), 'freeze trains a subset of full');
  assert.ok((trainable.lora ?? 0) < (trainable.freeze ?? 0), 'LoRA trains fewer weights than freeze');
});

test('--<field>-column flags rename record fields (train reads the renamed data; kebab flags map to camel keys)', () => {
  assert.deepEqual(columnsFrom({ textPairColumn: 'b', promptColumn: 'q', other: 'x' }), { textPair: 'b', prompt: 'q' });
  const root = tmp('columns');
  const file = join(root, 'renamed.jsonl');
  writeFileSync(
    file,
    Array.from({ length: 8 }, (_, i) => JSON.stringify({ ask: `Pip had ${i} fish and`, say: ' he was happy.' })).join(
      '\n',
    ) + '\n',
  );
  const args = ['train', '--model', STORIES, '--data', file, '--task', 'sft', '--method', 'lora', '--max-steps', '1'];
  const plain = tunekit([...args, '--out', join(root, 'a'), '--no-report', '--progress', 'none']);
  assert.notEqual(plain.status, 0, 'unmapped fields are refused');
  assert.match(plain.stderr, /renamed\.jsonl:1/);
  const mapped = tunekit([
    ...args, '--out', join(root, 'b'), '--prompt-column', 'ask', '--completion-column', 'say',
    '--batch-size', '4', '--max-length', '32', '--no-report', '--progress', 'none',
  ]); // prettier-ignore
  assert.equal(mapped.status, 0, mapped.stderr);
  assert.ok(existsSync(join(root, 'b', 'adapter', 'adapter_config.json')));
});
