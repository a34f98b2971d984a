/**
 * Streaming training data: Hugging Face's buffered shuffle (bounded memory, seeded), a file larger
 * than the buffer trained through trainAsync (and resumed bit-identically), errors naming file:line.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { causalLmLossFn, collateCausalLm, type LmExample } from '../../src/train/collate.js';
import type { Example, Located } from '../../src/train/data.js';
import { mapStreaming, shuffleBuffer, streamExamples, streamingDataset } from '../../src/train/streaming.js';
import { evaluate, train, trainAsync } from '../../src/train/trainer.js';
import { tinyLlama } from './helpers.js';

async function* counting(n: number, pulled: { count: number }): AsyncGenerator<number> {
  for (let i = 0; i < n; i++) {
    pulled.count++;
    yield await Promise.resolve(i);
  }
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

test('shuffleBuffer: a seeded permutation; holds at most bufferSize items; an item comes out at most bufferSize places early', async () => {
  const n = 100;
  const k = 10;
  const pulled = { count: 0 };
  const out: number[] = [];
  for await (const x of shuffleBuffer(counting(n, pulled), k, 7)) {
    // Everything pulled but not yet emitted sits in the buffer.
    assert.ok(pulled.count - out.length <= k + 1, `held ${pulled.count - out.length}`);
    out.push(x);
  }
  assert.deepEqual(
    [...out].sort((x, y) => x - y),
    Array.from({ length: n }, (_, i) => i),
  );
  assert.notDeepEqual(
    out,
    Array.from({ length: n }, (_, i) => i),
    'the order changed',
  );
  // While the stream lasts, the j-th output is one of the first j + k + 1 items.
  out.slice(0, n - k).forEach((x, j) => assert.ok(x <= j + k, `output ${j} is item ${x}`));
  assert.deepEqual(await collect(shuffleBuffer(counting(n, { count: 0 }), k, 7)), out, 'same seed, same order');
  assert.notDeepEqual(
    await collect(shuffleBuffer(counting(n, { count: 0 }), k, 8)),
    out,
    'another seed, another order',
  );
  // A buffer as large as the data: a full shuffle (the first output can be any item, here not item 0..k-1 only).
  const full = await collect(shuffleBuffer(counting(n, { count: 0 }), 1000, 7));
  assert.equal(new Set(full).size, n);
});

/** "Counting" texts: token ids 3 + (code % 29) of letters a..z in order from a random start. */
function writeData(path: string, n: number, badLine?: number): void {
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const start = (i * 7) % 20;
    const text = Array.from({ length: 6 + (i % 5) }, (_, j) => String.fromCharCode(97 + ((start + j) % 26))).join('');
    lines.push(i + 1 === badLine ? JSON.stringify({ text: 5 }) : JSON.stringify({ text }));
  }
  writeFileSync(path, lines.join('\n') + '\n');
}

const tokenize = (e: Located<Example>): LmExample => {
  if (e.kind !== 'text') throw new Error(`expected a text record, got ${e.kind}`);
  const ids = [...e.text].map((c) => 3 + ((c.charCodeAt(0) - 97) % 29));
  ids.push(2);
  return { inputIds: ids, labels: ids };
};

test('trainAsync: a JSONL file larger than the shuffle buffer trains (bounded memory), resumes bit-identically; bad rows name file:line', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tunekit-stream-'));
  try {
    const file = join(dir, 'train.jsonl');
    writeData(file, 48);
    let read = 0;
    let consumed = 0;
    let maxHeld = 0;
    const base = streamExamples(file, { bufferSize: 8 });
    const counted = streamingDataset(
      async function* () {
        for await (const x of base.open()) {
          read++;
          yield x;
        }
      },
      { bufferSize: 8, description: file },
    );
    const ds = mapStreaming(counted, tokenize);
    const collate = (e: LmExample[]) => {
      consumed += e.length;
      maxHeld = Math.max(maxHeld, read - consumed);
      return collateCausalLm(e, { padTokenId: 2 });
    };
    const loss = causalLmLossFn();
    const valid: LmExample[] = [];
    for await (const x of mapStreaming(streamExamples(file), tokenize).open()) if (valid.length < 8) valid.push(x);
    const args = { batchSize: 4, maxSteps: 16, learningRate: 5e-2, saveEvery: 6, progress: 'none' as const, seed: 3 };

    const model = tinyLlama().freeze(false);
    const before = evaluate(model, valid, {
      collate: (e) => collateCausalLm(e, { padTokenId: 2 }),
      loss,
      batchSize: 8,
    }).loss;
    const r = await trainAsync({ model, args: { ...args, outDir: join(dir, 'a') }, train: ds, collate, loss });
    assert.equal(r.steps, 16);
    assert.ok(read >= 48 + 16, `more than one pass was read (${read} records)`);
    assert.ok(maxHeld <= 8 + 1 + 4, `at most buffer + read-ahead + a step held (${maxHeld})`);
    assert.ok(
      r.history.some((h) => h.epoch >= 1),
      'the second epoch was reached',
    );
    const after = evaluate(model, valid, {
      collate: (e) => collateCausalLm(e, { padTokenId: 2 }),
      loss,
      batchSize: 8,
    }).loss;
    assert.ok(after < before - 0.3, `loss ${before} -> ${after}`);

    // Resume from step 12 (in the second pass): the same weights as the uninterrupted run.
    const resumed = tinyLlama(9).freeze(false);
    await trainAsync({
      model: resumed,
      args: { ...args, outDir: join(dir, 'b'), resumeFrom: join(dir, 'a', 'checkpoints', 'step-12') },
      train: ds,
      collate,
      loss,
    });
    resumed.parameters().forEach((t, i) => assert.deepEqual(t.f32, model.parameters()[i]?.f32));

    // A bad row deep in the file: the error names its file and line (read lazily, so only when reached).
    const bad = join(dir, 'bad.jsonl');
    writeData(bad, 48, 37);
    await assert.rejects(
      trainAsync({
        model: tinyLlama().freeze(false),
        args: { ...args, maxSteps: 20 },
        train: mapStreaming(streamExamples(bad, { bufferSize: 8 }), tokenize),
        collate,
        loss,
      }),
      (e: Error) => e.message.startsWith(`${bad}:37: field "text"`),
    );
    // A conversion error in map is prefixed with the record's origin.
    const wrongKind = mapStreaming(streamExamples(file, { bufferSize: 4 }), (e) => {
      if (e.source.line === 5) throw new Error('too long');
      return tokenize(e);
    });
    await assert.rejects(
      trainAsync({ model: tinyLlama().freeze(false), args: { ...args, maxSteps: 4 }, train: wrongKind, collate, loss }),
      (e: Error) => e.message === `${file}:5: too long`,
    );
    // Misuse is an error: a stream through the synchronous train(), or without maxSteps.
    assert.throws(() => train({ model: tinyLlama().freeze(false), args, train: ds, collate, loss }), /use trainAsync/);
    await assert.rejects(
      trainAsync({
        model: tinyLlama().freeze(false),
        args: { batchSize: 4, progress: 'none' },
        train: ds,
        collate,
        loss,
      }),
      /needs maxSteps/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
