/** generation_config.json: eos as an int or a list, transformers' defaults, validation. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseGenerationConfig, readGenerationConfig } from '../../src/io/hf-config.js';

const tmp = mkdtempSync(join(tmpdir(), 'tunekit-gencfg-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

test('generation_config.json: eos int or list, defaults, validation', () => {
  const g = parseGenerationConfig({ eos_token_id: [128001, 128009], do_sample: true, temperature: 0.6, top_p: 0.9 });
  assert.deepEqual(g.eosTokenIds, [128001, 128009]);
  assert.deepEqual(
    [g.doSample, g.temperature, g.topP, g.topK, g.maxLength, g.repetitionPenalty, g.numBeams],
    [true, 0.6, 0.9, 50, 20, 1, 1],
  );
  assert.deepEqual(parseGenerationConfig({ eos_token_id: 2 }).eosTokenIds, [2]);
  assert.throws(() => parseGenerationConfig({ top_p: 1.5 }), {
    message: 'generation_config.json: field "top_p" must be a number in [0, 1], got 1.5',
  });
  assert.throws(
    () => parseGenerationConfig({ temperature: 0 }),
    /field "temperature" must be a positive number, got 0/,
  );
  // A folder without generation_config.json yields the defaults.
  assert.equal(readGenerationConfig(tmp).maxLength, 20);
});
