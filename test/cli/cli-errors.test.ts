/**
 * Bad flags and files give exactly one clear error line (no stack trace) and a non-zero exit; a
 * config file's values are overridden by flags; prompt-method adapters are refused by merge.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { addTrainOptions, resolveTrainFlags } from '../../src/cli/train.js';
import { STORIES, tmp, tunekit, writeSftFolder, writeTextFile } from './helpers.js';

function assertOneLine(args: string[], pattern: RegExp): void {
  const r = tunekit(args);
  assert.notEqual(r.status, 0, `${args.join(' ')}: non-zero exit`);
  const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
  assert.equal(lines.length, 1, `${args.join(' ')}: one line, got:\n${r.stderr}`);
  assert.match(lines[0] ?? '', /^error: /);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  assert.match(lines[0] ?? '', pattern);
}

test('each bad flag or file is one clear error line', () => {
  const root = tmp('errors');
  const data = writeTextFile(join(root, 'stories.jsonl'));
  const base = ['train', '--model', STORIES, '--task', 'causal-lm', '--out', join(root, 'run')];
  assertOneLine([...base, '--data', data, '--method', 'lorax'], /--method expects one of lora\|dora.*got "lorax"/);
  assertOneLine(
    [...base, '--data', join(root, 'missing.jsonl'), '--method', 'lora'],
    /--data .*missing\.jsonl: no such file/,
  );
  assertOneLine([...base, '--data', data, '--method', 'lora', '--lr', '-1'], /--lr expects a number > 0, got "-1"/);
  assertOneLine(
    [...base, '--data', data, '--method', 'prompt', '--rank', '4'],
    /--rank applies to --method lora\|dora\|moe-lora, not prompt/,
  );

  const badKey = join(root, 'bad-key.yaml');
  writeFileSync(badKey, `model: ${STORIES}\nlearning-rate: 0.1\n`);
  assertOneLine(['train', '--config', badKey], /bad-key\.yaml: unknown key "learning-rate"/);
  const badValue = join(root, 'bad-value.yaml');
  writeFileSync(badValue, 'batch-size: two\n');
  assertOneLine(
    ['train', '--config', badValue],
    /bad-value\.yaml: key "batch-size": --batch-size expects an integer >= 1, got "two"/,
  );
  const badYaml = join(root, 'bad.yaml');
  writeFileSync(badYaml, 'model: [unclosed\n');
  assertOneLine(['train', '--config', badYaml], /bad\.yaml: not valid YAML/);

  const badRow = join(root, 'bad-row.jsonl');
  writeFileSync(badRow, '{"prompt": "a", "completion": "b"}\n{"prompt": "only a prompt"}\n');
  assertOneLine(
    ['train', '--model', STORIES, '--task', 'sft', '--out', join(root, 'r2'), '--data', badRow, '--method', 'lora'],
    /bad-row\.jsonl:2: cannot tell the record's shape/,
  );

  assertOneLine(
    ['train', '--out', join(root, 'never-ran'), '--resume'],
    /--resume: no complete checkpoint under .*never-ran/,
  );
  assertOneLine(['train', '--model', STORIES, '--data', data], /--task is required/);
  assertOneLine(
    ['eval', '--model', STORIES, '--data', data, '--task', 'causal-lm', '--adapter', root],
    /--adapter .*: no adapter_config\.json/,
  );
  assertOneLine(['export-python', '--out', join(root, 'py')], /exactly one of --config FILE or --from RUN_DIR/);
  // Low-precision frozen weights cannot be trained by full/freeze fine-tuning.
  const lowp = ['train', '--model', STORIES, '--data', data, '--task', 'sft', '--out', join(root, 'lowp')];
  assertOneLine([...lowp, '--method', 'full', '--bf16'], /--bf16 keeps frozen weights as bfloat16; --method full/);
  assertOneLine([...lowp, '--method', 'freeze', '--int8'], /--int8 keeps frozen weights as int8; --method freeze/);
  assertOneLine(
    [...lowp, '--method', 'freeze', '--trainable-layers', '9'],
    /--method freeze --trainable-layers 9: freezeExcept: lastLayers 9 but model\.layers has 5 blocks/,
  );
});

test('merge refuses a prompt-tuning adapter with one line', () => {
  const root = tmp('merge-prompt');
  const data = writeSftFolder(join(root, 'data'));
  const run = join(root, 'run');
  const t = tunekit([
    'train',
    '--model',
    STORIES,
    '--data',
    data,
    '--task',
    'sft',
    '--method',
    'prompt',
    '--num-virtual-tokens',
    '4',
    '--out',
    run,
    '--max-steps',
    '2',
    '--batch-size',
    '4',
    '--max-length',
    '32',
    '--no-report',
    '--progress',
    'none',
  ]);
  assert.equal(t.status, 0, t.stderr);
  assertOneLine(
    ['merge', '--model', STORIES, '--adapter', join(run, 'adapter'), '--out', join(root, 'merged')],
    /PROMPT_TUNING adapter cannot be merged .*use it with --adapter/,
  );
});

test('config file keys (kebab or camel) fill flags; command-line flags win', () => {
  const root = tmp('precedence');
  const cfg = join(root, 'run.yaml');
  writeFileSync(
    cfg,
    [
      'model: m',
      'data: d.jsonl',
      'task: sft',
      'method: dora',
      'out: o',
      'lr: 0.001',
      'batch-size: 3',
      'maxSteps: 7',
      'target-modules: [q_proj, v_proj]',
      'shuffle: false',
      '',
    ].join('\n'),
  );
  const cmd = addTrainOptions(new Command('train').exitOverride());
  cmd.parse(['--config', cfg, '--lr', '0.01', '--method', 'lora'], { from: 'user' });
  const f = resolveTrainFlags(cmd);
  assert.equal(f.lr, 0.01, 'flag beats file');
  assert.equal(f.method, 'lora', 'flag beats file');
  assert.equal(f.batchSize, 3, 'kebab-case key');
  assert.equal(f.maxSteps, 7, 'camelCase key');
  assert.deepEqual(f.targetModules, ['q_proj', 'v_proj'], 'list value');
  assert.equal(f.shuffle, false, 'a --no- flag from the file');
  assert.equal(f.gradAccum, 1, 'default where neither gives a value');
  const json = join(root, 'run.json');
  writeFileSync(json, JSON.stringify({ model: 'm', data: 'd', task: 'qa', method: 'ia3', out: 'o', epochs: 2 }));
  const cmd2 = addTrainOptions(new Command('train').exitOverride());
  cmd2.parse(['--config', json], { from: 'user' });
  assert.equal(resolveTrainFlags(cmd2).epochs, 2, 'JSON config');
});

test('--model takes a Hub repo id from the local Hub cache (offline)', () => {
  const cache = tmp('hub-cache');
  const commit = 'a'.repeat(40);
  const repo = join(cache, 'models--tiny-org--stories260K');
  mkdirSync(join(repo, 'refs'), { recursive: true });
  writeFileSync(join(repo, 'refs', 'main'), commit);
  cpSync(STORIES, join(repo, 'snapshots', commit), { recursive: true });
  const text = writeTextFile(join(cache, 'stories.jsonl'));
  const env = { HF_HUB_CACHE: cache, HF_ENDPOINT: 'http://127.0.0.1:9', TUNEKIT_HUB_RETRIES: '0' };
  const viaRepo = tunekit(
    ['eval', '--model', 'tiny-org/stories260K', '--perplexity', text, '--max-length', '32'],
    undefined,
    env,
  );
  assert.equal(viaRepo.status, 0, viaRepo.stderr);
  const viaDir = tunekit(['eval', '--model', STORIES, '--perplexity', text, '--max-length', '32']);
  assert.equal(viaRepo.stdout, viaDir.stdout, 'the cached snapshot is the same model');
  const missing = tunekit(['eval', '--model', 'tiny-org/absent', '--perplexity', text], undefined, env);
  assert.notEqual(missing.status, 0);
  assert.match(
    missing.stderr,
    /^error: .*tiny-org\/absent/m,
    'a repo not in the cache is downloaded (here: fails, no network)',
  );
});
