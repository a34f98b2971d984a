/** Deduplication as an option of data loading: duplicates reported with file and line, removed on request. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exampleText, loadDataFolder, loadExamples, type LocatedDuplicate } from '../../src/train/data.js';

test('loadExamples dedup: exact and near duplicates reported by file:line; removed only with remove', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tunekit-dedup-'));
  try {
    const file = join(dir, 'train.jsonl');
    const long = 'the quick brown fox jumps over the lazy dog near the quiet river bank today';
    writeFileSync(
      file,
      [
        { prompt: 'Hello', completion: 'World' },
        { text: long },
        { prompt: 'hello ', completion: ' WORLD' }, // exact after normalisation (line 3 repeats line 1)
        { text: 'something else entirely, unrelated to the rest' },
        { text: long.replace('today', 'tonight') }, // near duplicate of line 2
      ]
        .map((r) => JSON.stringify(r))
        .join('\n') + '\n',
    );
    let seen: LocatedDuplicate[] = [];
    const kept = await loadExamples(file, {
      dedup: {
        onReport: (d) => {
          seen = d;
        },
      },
    });
    assert.equal(kept.length, 5, 'report only by default');
    assert.deepEqual(
      seen.map((d) => [d.at.line, d.of.line, d.kind]),
      [
        [3, 1, 'exact'],
        [5, 2, 'near'],
      ],
    );
    assert.equal(seen[0]?.at.file, file);
    assert.ok(seen[1]!.jaccard >= 0.8 && seen[1]!.jaccard < 1);
    const removed = await loadExamples(file, { dedup: { remove: true, onReport: () => {} } });
    assert.deepEqual(
      removed.map((e) => e.source.line),
      [1, 2, 4],
    );
    const exactOnly = await loadExamples(file, { dedup: { remove: true, exactOnly: true, onReport: () => {} } });
    assert.deepEqual(
      exactOnly.map((e) => e.source.line),
      [1, 2, 4, 5],
    );
    const calls: number[] = [];
    writeFileSync(join(dir, 'valid.jsonl'), JSON.stringify({ text: long }) + '\n');
    const folder = await loadDataFolder(dir, { dedup: { remove: true, onReport: (d) => calls.push(d.length) } });
    assert.deepEqual([folder.train.length, folder.valid.length], [3, 1], 'within each file, not across');
    assert.deepEqual(calls, [2, 0]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('exampleText: every field the model reads', () => {
  assert.equal(
    exampleText({ kind: 'squad', id: '1', question: 'Q?', context: 'C.', answers: { text: ['C'], answerStart: [0] } }),
    'Q?\nC.',
  );
  assert.equal(exampleText({ kind: 'label', text: 'a', textPair: 'b', label: 1 }), 'a\nb');
  assert.equal(exampleText({ kind: 'tokens-tags', tokens: ['x', 'y'], tags: ['O', 'O'] }), 'x y');
  assert.equal(
    exampleText({
      kind: 'messages',
      messages: [
        { role: 'user', content: 'hi' },
        { role: 'assistant', content: 'yo' },
      ],
    }),
    'hi\nyo',
  );
});
