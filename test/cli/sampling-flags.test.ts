/**
 * Every sampling flag of `generate`/`chat` must reach the generation options (a flag that parses
 * but is dropped is a silent wrong result). `--no-repeat-ngram-size` was once read by commander as
 * the negation of a "--repeat-ngram-size" flag and ignored.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Command } from 'commander';
import {
  addSamplingOptions,
  computeDtypeFromFlags,
  optionsFromFlags,
  type SamplingFlags,
} from '../../src/cli/generate.js';
import { parseGenerationConfig } from '../../src/io/hf-config.js';
import type { CausalLM } from '../../src/models/causal-lm.js';

const model = { config: { eosTokenIds: [2] } } as unknown as CausalLM;
const cfg = parseGenerationConfig({});

function parse(args: string[]): SamplingFlags {
  const cmd = addSamplingOptions(new Command('generate').exitOverride());
  cmd.parse(['--model', 'm', ...args], { from: 'user' });
  return cmd.opts<SamplingFlags>();
}

/** Each flag, a value, and the generation option it must set (with that value). */
const FLAGS: Record<string, { args: string[]; field: string; value: unknown }> = {
  '--max-new-tokens': { args: ['7'], field: 'maxNewTokens', value: 7 },
  '--temperature': { args: ['0.7'], field: 'temperature', value: 0.7 },
  '--top-k': { args: ['3'], field: 'topK', value: 3 },
  '--top-p': { args: ['0.5'], field: 'topP', value: 0.5 },
  '--min-p': { args: ['0.25'], field: 'minP', value: 0.25 },
  '--repetition-penalty': { args: ['1.3'], field: 'repetitionPenalty', value: 1.3 },
  '--frequency-penalty': { args: ['0.4'], field: 'frequencyPenalty', value: 0.4 },
  '--presence-penalty': { args: ['0.6'], field: 'presencePenalty', value: 0.6 },
  '--no-repeat-ngram-size': { args: ['3'], field: 'noRepeatNgramSize', value: 3 },
  '--seed': { args: ['11'], field: 'seed', value: 11 },
  '--stop': { args: ['END', 'STOP'], field: 'stopStrings', value: ['END', 'STOP'] },
  '--greedy': { args: [], field: 'doSample', value: false },
};
/** Flags that choose what to load or how to print, not how to sample. */
const NOT_SAMPLING = new Set(['--model', '--no-stream', '--adapter', '--bf16', '--int8']);

test('every sampling flag of generate/chat reaches the generation options', () => {
  const defined = addSamplingOptions(new Command('x')).options.map((o) => o.long ?? '');
  const uncovered = defined.filter((f) => !NOT_SAMPLING.has(f) && !(f in FLAGS));
  assert.deepEqual(uncovered, [], 'a new sampling flag needs an entry in FLAGS');
  // --greedy is checked against a sampling baseline; the others against the defaults.
  for (const [flag, { args, field, value }] of Object.entries(FLAGS)) {
    const base = flag === '--greedy' ? ['--temperature', '0.9'] : [];
    const before = optionsFromFlags(parse(base), cfg, model, 4) as Record<string, unknown>;
    const after = optionsFromFlags(parse([...base, flag, ...args]), cfg, model, 4) as Record<string, unknown>;
    assert.deepEqual(after[field], value, `${flag} must set ${field}`);
    assert.notDeepEqual(before[field], after[field], `${flag} must change ${field}`);
  }
});

test('--no-repeat-ngram-size is a value flag, not a negation', () => {
  const flags = parse(['--no-repeat-ngram-size', '2']);
  assert.equal(flags.noRepeatNgramSize, 2);
  assert.equal(optionsFromFlags(flags, cfg, model, 4).noRepeatNgramSize, 2);
  assert.throws(() => parse(['--no-repeat-ngram-size', 'x']), /--no-repeat-ngram-size expects an integer >= 0/);
  // Without the flag the generation_config.json value applies.
  const fromConfig = parseGenerationConfig({ no_repeat_ngram_size: 4 });
  assert.equal(optionsFromFlags(parse([]), fromConfig, model, 4).noRepeatNgramSize, 4);
});

test('--bf16 / --int8 reach the model loading (computeDtype), and exclude each other', () => {
  assert.deepEqual(computeDtypeFromFlags(parse([])), {});
  assert.deepEqual(computeDtypeFromFlags(parse(['--bf16'])), { computeDtype: 'bfloat16' });
  assert.deepEqual(computeDtypeFromFlags(parse(['--int8'])), { computeDtype: 'int8' });
  assert.throws(() => computeDtypeFromFlags(parse(['--bf16', '--int8'])), /--bf16 and --int8 exclude each other/);
});
