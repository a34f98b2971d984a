/** One run.jsonl reader: the raw and typed views agree, and the report's reader is this one. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RunLog, readRun, readRunLog } from '../../src/train/run-log.js';
import * as reportReader from '../../src/report/read-run.js';

test('run log: the typed reader (readRun) and raw reader (readRunLog) read what RunLog wrote; bad lines named', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tunekit-runlog-'));
  try {
    const file = join(dir, 'run.jsonl');
    const log = new RunLog(file);
    log.write('config', { args: {}, seed: 1 });
    log.write('step', { step: 1, epoch: 0.5, loss: 2, lr: 0.1, gradNorm: 1 });
    log.write('eval', { step: 1, split: 'valid', loss: 1.5, metrics: { accuracy: 0.5 }, ci: { accuracy: [0.4, 0.6] } });
    log.write('end', { step: 1, reason: 'completed', best: null, elapsedSec: 1 });
    log.close();
    assert.equal(reportReader.readRun, readRun, 'src/report re-exports the trainer-side reader');
    assert.deepEqual(
      readRunLog(file).map((r) => r.type),
      ['config', 'step', 'eval', 'end'],
    );
    const run = readRun(dir);
    assert.equal(run.steps.length, 1);
    assert.deepEqual(run.evals[0]?.ci, { accuracy: [0.4, 0.6] });
    assert.equal(run.end?.reason, 'completed');
    appendFileSync(file, '{"type":"step","time":"t","step":"two","epoch":1,"loss":1,"lr":0.1}\n[1]\n');
    assert.throws(
      () => readRun(dir),
      (e: Error) => e.message === `${file}:5: "step" record: field "step" must be a finite number`,
    );
    assert.throws(
      () => readRunLog(file),
      (e: Error) => e.message === `${file}:6: expected a JSON object with a string "type"`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
