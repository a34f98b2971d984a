/**
 * Data files: every format, the record shapes, column mapping, errors naming file, line and field,
 * and the seeded split.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  detectKind,
  loadDataFolder,
  loadExamples,
  readRecords,
  splitDataset,
  toExample,
} from '../../src/train/data.js';
import { assetPath, skipWithoutShared } from '../helpers/shared.js';

function withDir(fn: (dir: string) => Promise<void>): () => Promise<void> {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tunekit-data-'));
    try {
      await fn(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

test(
  'JSONL: the record shapes are recognised; a bad row names file, line and field',
  withDir(async (dir) => {
    const f = join(dir, 'train.jsonl');
    writeFileSync(
      f,
      [
        '{"text": "plain"}',
        '',
        '{"prompt": "Q?", "completion": "A."}',
        '{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}',
        '{"instruction": "Add", "input": "1+1", "output": "2"}',
        '{"text": "good", "label": 1}',
        '{"tokens": ["a", "b"], "tags": ["B-X", "O"]}',
      ].join('\n'),
    );
    const ex = await loadExamples(f);
    assert.deepEqual(
      ex.map((e) => e.kind),
      ['text', 'prompt-completion', 'messages', 'instruction', 'label', 'tokens-tags'],
    );
    assert.deepEqual(
      ex.map((e) => e.source.line),
      [1, 3, 4, 5, 6, 7],
    );
    writeFileSync(f, '{"text": "ok"}\n{"prompt": "Q?", "completion": 3}\n');
    await assert.rejects(loadExamples(f), (e: Error) =>
      e.message.startsWith(`${f}:2: field "completion": expected a string`),
    );
    writeFileSync(f, '{"text": "ok"}\n{"text": \n');
    await assert.rejects(loadExamples(f), (e: Error) => e.message.startsWith(`${f}:2: not valid JSON`));
    writeFileSync(f, '{"tokens": ["a", "b"], "tags": ["O"]}\n');
    await assert.rejects(loadExamples(f), /:1: field "tags": 1 tags for 2 tokens/);
    writeFileSync(f, '{"text": "x"}\n'.repeat(5));
    await assert.rejects(readRecords(f, { maxRecords: 3 }), /:4: more than 3 records/);
    await assert.rejects(readRecords(f, { maxBytes: 10 }), /bytes is more than the limit of 10/);
  }),
);

test(
  'CSV with quoted multi-line fields, TSV without quoting, column mapping',
  withDir(async (dir) => {
    const csv = join(dir, 'd.csv');
    writeFileSync(csv, 'label,review\n1,"great, really\nsecond line"\n0,"said ""no"""\n');
    const ex = await loadExamples(csv, { columns: { text: 'review' } });
    assert.deepEqual(
      ex.map((e) => (e.kind === 'label' ? [e.text, e.label, e.source.line] : null)),
      [
        ['great, really\nsecond line', '1', 3],
        ['said "no"', '0', 4],
      ],
    );
    writeFileSync(csv, 'label,review\n1,fine\n0,too,many\n');
    await assert.rejects(
      loadExamples(csv, { columns: { text: 'review' } }),
      (e: Error) => e.message.startsWith(`${csv}:3: `) && /3 fields|Invalid Record Length/i.test(e.message),
    );
    await assert.rejects(
      loadExamples(join(dir, 'd.csv'), { columns: { text: 'body' } }),
      /column mapping text <- "body": the record has no field "body"/,
    );
    const tsv = join(dir, 'd.tsv');
    writeFileSync(tsv, 'sentence\tlabel\nhe said "wow\t1\n');
    const t = await loadExamples(tsv);
    assert.equal(t[0]!.kind === 'label' && t[0]!.text, 'he said "wow');
  }),
);

test(
  'Parquet (hyparquet) and an MLX-LM folder',
  withDir(async (dir) => {
    const { parquetWriteFile } = await import('hyparquet-writer');
    const pq = join(dir, 'train.parquet');
    parquetWriteFile({
      filename: pq,
      columnData: [
        { name: 'sentence', data: ['a', 'b', 'c'], type: 'STRING' },
        { name: 'label', data: [1, 0, 1], type: 'INT32' },
      ],
    });
    const ex = await loadExamples(pq);
    assert.deepEqual(
      ex.map((e) => (e.kind === 'label' ? [e.text, e.label] : null)),
      [
        ['a', 1],
        ['b', 0],
        ['c', 1],
      ],
    );
    writeFileSync(join(dir, 'train.jsonl'), '{"text": "t1"}\n{"text": "t2"}\n');
    writeFileSync(join(dir, 'valid.jsonl'), '{"text": "v1"}\n');
    const folder = await loadDataFolder(dir);
    assert.deepEqual([folder.train.length, folder.valid.length, folder.test.length], [2, 1, 0]);
  }),
);

test(
  'SQuAD JSON (XQuAD) flattens to question/context/answers with checked offsets',
  { skip: skipWithoutShared('xquad') },
  async () => {
    const ex = await loadExamples(assetPath('xquad', 'xquad.en.json')!, { limit: 5 });
    assert.equal(ex.length, 5);
    for (const e of ex) {
      assert.equal(e.kind, 'squad');
      if (e.kind === 'squad')
        assert.equal(
          e.context.slice(e.answers.answerStart[0], e.answers.answerStart[0]! + e.answers.text[0]!.length),
          e.answers.text[0],
        );
    }
    assert.throws(
      () =>
        toExample({
          values: { question: 'q', context: 'abc', answers: { text: ['x'], answer_start: [0] } },
          file: 'f.json',
          line: 9,
        }),
      /f\.json:9: field "answers": answer 0 "x" is not found/,
    );
    assert.equal(detectKind({ foo: 1 }), null);
  },
);

test('splitDataset: seeded, disjoint, complete, repeatable', () => {
  const items = Array.from({ length: 100 }, (_, i) => i);
  const a = splitDataset(items, { valid: 0.1, test: 0.2, seed: 3 });
  const b = splitDataset(items, { valid: 0.1, test: 0.2, seed: 3 });
  assert.deepEqual(a, b);
  assert.deepEqual([a.train.length, a.valid.length, a.test.length], [70, 10, 20]);
  assert.deepEqual(
    [...a.train, ...a.valid, ...a.test].sort((x, y) => x - y),
    items,
  );
  assert.notDeepEqual(splitDataset(items, { valid: 0.1, seed: 4 }).valid, a.valid);
  assert.throws(() => splitDataset(items, { valid: 0.6, test: 0.5, seed: 1 }), /sum to less than 1/);
});
