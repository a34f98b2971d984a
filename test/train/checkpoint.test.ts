/**
 * Checkpoints: a run killed with SIGKILL mid-way and resumed from its last checkpoint ends with
 * weights bit-identical to an uninterrupted run; a checkpoint folder is written whole.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFolderWhole, listCheckpoints } from '../../src/train/checkpoint.js';
import { readRunLog } from '../../src/train/run-log.js';
import { resumeRun } from './resume-run.js';

test('kill -9 mid-run, resume from the last checkpoint: final weights equal an uninterrupted run bit for bit', () => {
  const out = mkdtempSync(join(tmpdir(), 'tunekit-resume-'));
  try {
    const script = fileURLToPath(new URL('./resume-run.js', import.meta.url));
    const r = spawnSync(process.execPath, [script], {
      env: { ...process.env, TUNEKIT_RESUME_CHILD: `${out}:5` },
      encoding: 'utf8',
    });
    assert.equal(r.signal, 'SIGKILL', `child ended with ${r.status} ${r.signal}: ${r.stderr}`);
    assert.deepEqual(
      listCheckpoints(out).map((c) => c.step),
      [2, 4],
    );
    assert.ok(!existsSync(join(out, 'adapter')), 'the killed run wrote no final adapter');
    const resumed = resumeRun(out, { resume: true });
    const reference = resumeRun(undefined);
    assert.equal(resumed.length, reference.length);
    resumed.forEach((w, i) =>
      assert.deepEqual(Buffer.from(w.buffer), Buffer.from(reference[i]!.buffer), `parameter ${i} differs`),
    );
    // and the run did move: not all LoRA B matrices are still zero
    assert.ok(reference.some((w) => w.some((v) => v !== 0)));
    const recs = readRunLog(join(out, 'run.jsonl'));
    const resume = recs.find((x) => x.type === 'resume');
    assert.equal(resume?.step, 4);
    assert.equal(recs.at(-1)!.type, 'end');
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('writeFolderWhole: a failure while filling leaves the previous folder intact and no temporary folder', () => {
  const root = mkdtempSync(join(tmpdir(), 'tunekit-whole-'));
  try {
    const dir = join(root, 'ckpt');
    writeFolderWhole(dir, (tmp) => writeFileSync(join(tmp, 'a.txt'), 'first'));
    assert.throws(
      () =>
        writeFolderWhole(dir, (tmp) => {
          writeFileSync(join(tmp, 'a.txt'), 'second');
          throw new Error('disk full');
        }),
      /disk full/,
    );
    assert.deepEqual(readdirSync(root), ['ckpt']);
    assert.deepEqual(readdirSync(dir), ['a.txt']);
    writeFolderWhole(dir, (tmp) => writeFileSync(join(tmp, 'b.txt'), 'third'));
    assert.deepEqual(readdirSync(dir), ['b.txt']);
    assert.deepEqual(readdirSync(root), ['ckpt']);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
