/**
 * The published API is a deliberate list: internals stay out, and the root entry point carries
 * every value of the sub-entry points (except the logits processors, which live in tunekit/generate).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as root from '../../src/index.js';
import * as generate from '../../src/generate/index.js';
import * as io from '../../src/io/index.js';
import * as metrics from '../../src/metrics/index.js';
import * as models from '../../src/models/index.js';
import * as peft from '../../src/peft/index.js';
import * as tensor from '../../src/tensor/index.js';

const entries: Record<string, Record<string, unknown>> = { tensor, models, io, peft, generate, metrics };

test('internals are not published by any entry point', () => {
  const internal = [
    'result',
    'needsGrad',
    'SkipInitRng',
    'LSTM',
    'FieldReader',
    'referencesPerSegment',
    'renderFallbackChat',
  ];
  for (const [name, mod] of Object.entries({ root, ...entries })) {
    for (const key of internal) assert.equal(key in mod, false, `${name} exports the internal ${key}`);
  }
});

test('the root entry point re-exports the values of tensor, models, io, peft and generate', () => {
  // softmax is in the root too: the tensor op of that name.
  const processors = new Set(Object.keys(generate).filter((k) => !(k in root)));
  assert.deepEqual(
    [...processors].sort(),
    [
      'argmax',
      'frequencyPresencePenalty',
      'minP',
      'noRepeatNgram',
      'processLogits',
      'repetitionPenalty',
      'sample',
      'suppressTokens',
      'temperature',
      'topK',
      'topP',
      'validateSettings',
    ].sort(),
  );
  for (const [name, mod] of Object.entries({ tensor, models, io, peft })) {
    for (const key of Object.keys(mod)) assert.ok(key in root, `${name}.${key} is missing from the root entry point`);
  }
  assert.equal(root.metrics.corpusBleu, metrics.corpusBleu);
});
