/**
 * End to end on stories260K through the command line: train (sft, LoRA, MLX-LM data folder) ->
 * eval (with bootstrap CIs) -> merge -> generate, plus what `inspect`/`report` and `export-python`
 * read from the run folder. The merged folder must reproduce the adapter's logits and keep the
 * checkpoint's tensor names and dtypes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensorsHeader } from '../../src/io/safetensors.js';
import { inspectFolder } from '../../src/io/inspect-folder.js';
import { AutoModelForCausalLM } from '../../src/models/auto.js';
import { PeftModel } from '../../src/peft/peft-model.js';
import { noGrad } from '../../src/tensor/tensor.js';
import { readRunLog } from '../../src/train/run-log.js';
import { assertClose } from '../helpers/close.js';
import { STORIES, tmp, tunekit, writeSftFolder } from './helpers.js';

test('train -> eval -> merge -> generate on stories260K, and export-python of the run', async (t) => {
  const root = tmp('pipeline');
  const data = writeSftFolder(join(root, 'data'));
  const run = join(root, 'run');
  const trainRun = tunekit([
    'train',
    '--model', STORIES,
    '--data', data,
    '--task', 'sft',
    '--method', 'lora',
    '--target-modules', 'q_proj', 'v_proj', 'o_proj',
    '--out', run,
    '--max-steps', '6',
    '--batch-size', '4',
    '--lr', '1e-2',
    '--eval-steps', '3',
    '--save-steps', '3',
    '--max-length', '48',
  ]); // prettier-ignore
  assert.equal(trainRun.status, 0, trainRun.stderr);
  assert.equal(trainRun.stdout.trim(), join(run, 'adapter'));
  assert.match(trainRun.stderr, /step 6\/6/, 'plain progress lines when stderr is not a terminal');

  // The run folder of docs/run-log.md.
  for (const f of [
    'run.jsonl',
    'adapter/adapter_config.json',
    'adapter/adapter_model.safetensors',
    'report.html',
    'train-config.json',
  ])
    assert.ok(existsSync(join(run, f)), `${f} written`);
  assert.ok(existsSync(join(run, 'checkpoints', 'step-6', 'trainer_state.json')));
  const records = readRunLog(join(run, 'run.jsonl'));
  assert.equal(records[0]?.type, 'config');
  assert.equal(records.filter((r) => r.type === 'step').length, 6);
  const evals = records.filter((r) => r.type === 'eval');
  assert.deepEqual(
    evals.map((r) => r.step),
    [3, 6],
  );
  assert.equal(typeof (evals[0]?.metrics as Record<string, number>).perplexity, 'number');
  assert.equal(records.at(-1)?.type, 'end');
  const config = records[0] as unknown as { method: { peftType: string; config: { r: number } }; task: string };
  assert.equal(config.method.peftType, 'LORA');
  assert.equal(config.task, 'sft');
  const inspection = inspectFolder(join(run, 'adapter'), { base: STORIES });
  assert.match(JSON.stringify(inspection), /q_proj/);

  // eval: the adapter scores better than the base on the training prompts' completions; JSON with CIs.
  const results = join(root, 'results.json');
  const ev = tunekit([
    'eval',
    '--model',
    STORIES,
    '--adapter',
    join(run, 'adapter'),
    '--data',
    join(data, 'train.jsonl'),
    '--task',
    'sft',
    '--bootstrap',
    '50',
    '--out',
    results,
    '--max-length',
    '48',
  ]);
  assert.equal(ev.status, 0, ev.stderr);
  assert.match(ev.stdout, /perplexity/);
  const tuned = JSON.parse(readFileSync(results, 'utf8')) as {
    metrics: { perplexity: { score: number; ci: [number, number] } };
  };
  const ppl = tuned.metrics.perplexity;
  assert.ok(ppl.ci[0] <= ppl.score && ppl.score <= ppl.ci[1], 'the score lies in its bootstrap interval');
  const baseEval = tunekit([
    'eval',
    '--model',
    STORIES,
    '--data',
    join(data, 'train.jsonl'),
    '--task',
    'sft',
    '--out',
    join(root, 'base.json'),
    '--max-length',
    '48',
  ]);
  assert.equal(baseEval.status, 0, baseEval.stderr);
  const base = JSON.parse(readFileSync(join(root, 'base.json'), 'utf8')) as typeof tuned;
  assert.ok(ppl.score < base.metrics.perplexity.score, `tuned ${ppl.score} < base ${base.metrics.perplexity.score}`);

  // merge: a complete folder with the checkpoint's names and dtypes.
  const merged = join(root, 'merged');
  const m = tunekit(['merge', '--model', STORIES, '--adapter', join(run, 'adapter'), '--out', merged]);
  assert.equal(m.status, 0, m.stderr);
  for (const f of [
    'config.json',
    'generation_config.json',
    'tokenizer.json',
    'tokenizer_config.json',
    'special_tokens_map.json',
  ])
    assert.equal(readFileSync(join(merged, f), 'utf8'), readFileSync(join(STORIES, f), 'utf8'), `${f} copied`);
  const src = readSafetensorsHeader(join(STORIES, 'model.safetensors')).tensors;
  const out = readSafetensorsHeader(join(merged, 'model.safetensors')).tensors;
  assert.deepEqual([...out.keys()].sort(), [...src.keys()].sort(), 'same tensor names as the source checkpoint');
  for (const [k, info] of src) {
    assert.equal(out.get(k)?.dtype, info.dtype, `${k} dtype`);
    assert.deepEqual(out.get(k)?.shape, info.shape, `${k} shape`);
  }

  // The merged model's logits equal the base + adapter's.
  const ids = Int32Array.from([1, 403, 407, 261, 378, 284, 350, 288, 4, 313]);
  const merged32 = AutoModelForCausalLM.fromPretrained(merged);
  const withAdapter = PeftModel.fromPretrained(AutoModelForCausalLM.fromPretrained(STORIES), join(run, 'adapter'));
  const a = noGrad(() => merged32.forward({ inputIds: ids }).logits.f32);
  const b = noGrad(() => withAdapter.forward({ inputIds: ids }).logits.f32);
  const plain = noGrad(() => AutoModelForCausalLM.fromPretrained(STORIES).forward({ inputIds: ids }).logits.f32);
  assertClose(a, b, { atol: 1e-5, message: 'merged vs adapter logits' });
  assert.ok(
    a.some((v, i) => Math.abs(v - (plain[i] ?? 0)) > 1e-3),
    'the merge changed the model',
  );

  // generate loads the merged folder.
  const g = tunekit([
    'generate',
    '--model',
    merged,
    '--prompt',
    'Pip had a friend called',
    '--max-new-tokens',
    '8',
    '--greedy',
  ]);
  assert.equal(g.status, 0, g.stderr);
  assert.ok(g.stdout.trim().length > 0);

  // report re-reads the run.
  const rep = tunekit(['report', run, '--out', join(root, 'again.html')]);
  assert.equal(rep.status, 0, rep.stderr);

  await t.test('export-python: script compiles, config matches the run field by field', () => {
    const py = join(root, 'py');
    const e = tunekit(['export-python', '--from', run, '--out', py]);
    assert.equal(e.status, 0, e.stderr);
    for (const f of ['train.py', 'config.json', 'accelerate_config.yaml', 'requirements.txt', 'README.txt'])
      assert.ok(existsSync(join(py, f)), f);
    const cfg = JSON.parse(readFileSync(join(py, 'config.json'), 'utf8')) as Record<string, any>;
    const adapterCfg = JSON.parse(readFileSync(join(run, 'adapter', 'adapter_config.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    assert.deepEqual(
      cfg.method.peft,
      { ...adapterCfg, inference_mode: false },
      'LoraConfig fields = adapter_config.json',
    );
    const ta = cfg.training_args as Record<string, unknown>;
    const expected: Record<string, unknown> = {
      per_device_train_batch_size: 4,
      gradient_accumulation_steps: 1,
      max_steps: 6,
      learning_rate: 1e-2,
      lr_scheduler_type: 'linear',
      warmup_steps: 0,
      weight_decay: 0,
      max_grad_norm: 1,
      seed: 42,
      data_seed: 42,
      eval_strategy: 'steps',
      eval_steps: 3,
      save_strategy: 'steps',
      save_steps: 3,
      neftune_noise_alpha: null,
    };
    for (const [k, v] of Object.entries(expected)) assert.deepEqual(ta[k], v, `training_args.${k}`);
    assert.equal(cfg.task, 'sft');
    assert.equal(cfg.max_length, 48);
    assert.equal(cfg.model.name_or_path, STORIES);
    assert.equal(cfg.data.files.train.path, join(data, 'train.jsonl'));
    assert.equal(cfg.data.files.validation.path, join(data, 'valid.jsonl'));
    assert.equal(cfg.sft.train_on_prompt, false);
    assert.equal(cfg.shuffle, true);
    assert.match(readFileSync(join(py, 'README.txt'), 'utf8'), /tunekit eval --model .* --adapter/);
    assert.match(readFileSync(join(py, 'accelerate_config.yaml'), 'utf8'), /DeepSpeed[\s\S]*FSDP/);
  });

  const python = spawnSync('python3', ['--version']);
  const noPython = python.error !== undefined || python.status !== 0;
  await t.test(
    'export-python: python3 -m py_compile train.py',
    { skip: noPython ? 'python3 not found' : false },
    () => {
      const c = spawnSync('python3', ['-m', 'py_compile', join(root, 'py', 'train.py')], { encoding: 'utf8' });
      assert.equal(c.status, 0, c.stderr);
    },
  );
});
