/**
 * A `tunekit train` killed with SIGKILL mid-run and continued with `--resume` ends with an adapter
 * byte-identical to an uninterrupted run's (same weights, same config).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { listCheckpoints } from '../../src/train/checkpoint.js';
import { readRunLog } from '../../src/train/run-log.js';
import { STORIES, startTunekit, tmp, tunekit, writeTextFile } from './helpers.js';

test('train killed with SIGKILL, then --resume, ends with the uninterrupted adapter bytes', async () => {
  const root = tmp('resume');
  const data = writeTextFile(join(root, 'stories.jsonl'));
  const args = (out: string): string[] => [
    'train',
    '--model', STORIES,
    '--data', data,
    '--task', 'causal-lm',
    '--method', 'lora',
    '--dropout', '0.1',
    '--out', out,
    '--max-steps', '40',
    '--batch-size', '2',
    '--max-length', '16',
    '--lr', '5e-3',
    '--save-steps', '4',
    '--progress', 'lines',
    '--log-every', '1',
    '--no-report',
  ]; // prettier-ignore
  const whole = join(root, 'whole');
  const w = tunekit(args(whole));
  assert.equal(w.status, 0, w.stderr);

  // Killed once the step after checkpoint 8 has been logged: mid-run, after a checkpoint.
  const killed = join(root, 'killed');
  const child = startTunekit(args(killed));
  let stderr = '';
  const exit = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
    if (/step 9\/40/.test(stderr)) child.kill('SIGKILL');
  });
  const signal = await exit;
  assert.equal(signal, 'SIGKILL', `the run was killed (stderr: ${stderr.slice(-300)})`);
  assert.ok(!existsSync(join(killed, 'adapter')), 'killed before the end: no final adapter');
  const last = listCheckpoints(killed).at(-1);
  assert.ok(last !== undefined && last.step >= 8 && last.step < 40, `a checkpoint mid-run (${last?.step})`);

  const r = tunekit(['train', '--out', killed, '--resume', '--progress', 'none', '--no-report']);
  assert.equal(r.status, 0, r.stderr);
  for (const f of ['adapter_model.safetensors', 'adapter_config.json'])
    assert.ok(
      readFileSync(join(killed, 'adapter', f)).equals(readFileSync(join(whole, 'adapter', f))),
      `${f} identical`,
    );
  const records = readRunLog(join(killed, 'run.jsonl'));
  const resume = records.find((x) => x.type === 'resume');
  assert.equal(resume?.step, last.step, 'the run log records where it resumed');
  assert.equal(records.at(-1)?.type, 'end');
});
