/**
 * `tunekit export-python --config run.yaml | --from RUN_DIR --out DIR`: a ready-to-run Python project
 * (train.py, config.json, accelerate_config.yaml, requirements.txt, README.txt) for Hugging Face
 * PEFT + TRL equivalent to a tunekit training run. The folder is written whole.
 */
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { extname, join, resolve } from 'node:path';
import { Command } from 'commander';
import { writeFolderAtomicSync } from '../io/files.js';
import { readJsonObject } from '../io/json.js';
import { methodFor } from '../peft/registry.js';
import { applyConfigFile, readConfigFile } from './config-file.js';
import { PEFT_TYPE, checkMethodFlags, peftConfigFor } from './methods.js';
import { REQUIREMENTS, TRAIN_PY, accelerateConfig, readme } from './python-script.js';
import { TRAIN_CONFIG_FILE, addTrainOptions, type TrainFlags } from './train.js';
import { columnsFrom } from './task-setup.js';

/** The train flags of a config file or of a run folder's train-config.json, with train's defaults. */
export function trainFlagsFrom(source: { config?: string; from?: string }): {
  flags: TrainFlags;
  labels: string[] | null;
} {
  const cmd = addTrainOptions(new Command('train').exitOverride());
  cmd.parse([], { from: 'user' });
  let labels: string[] | null = null;
  if (source.from !== undefined) {
    const path = join(source.from, TRAIN_CONFIG_FILE);
    if (!existsSync(path))
      throw new Error(`--from ${source.from}: no ${TRAIN_CONFIG_FILE} (not a tunekit train run folder)`);
    const saved = readJsonObject(path);
    const flags = saved.flags;
    if (!flags || typeof flags !== 'object') throw new Error(`${path}: no "flags" object`);
    applyConfigFile(cmd, flags as Record<string, unknown>, path);
    if (Array.isArray(saved.labels)) labels = saved.labels.map(String);
  } else if (source.config !== undefined) {
    applyConfigFile(cmd, readConfigFile(source.config), source.config, ['config', 'resume']);
  }
  const flags = cmd.opts<TrainFlags>();
  for (const k of ['model', 'data', 'task', 'method'] as const)
    if (flags[k] === undefined) throw new Error(`${source.from ?? source.config}: no "${k}" (the run's --${k})`);
  return { flags, labels };
}

function dataSpec(path: string): { path: string; format: string } {
  const ext = extname(path).toLowerCase();
  const format =
    ext === '.jsonl' || ext === '.ndjson' || ext === '.json'
      ? 'json'
      : ext === '.csv'
        ? 'csv'
        : ext === '.tsv'
          ? 'tsv'
          : ext === '.parquet'
            ? 'parquet'
            : null;
  if (format === null) throw new Error(`${path}: cannot tell the data format from the extension "${ext}"`);
  return { path: resolve(path), format };
}

/** The exported config.json for a run's flags (what train.py reads; tests compare it field by field). */
export function exportConfig(
  f: TrainFlags,
  labels: string[] | null,
  runDir?: string,
): { config: Record<string, unknown>; notes: string[] } {
  checkMethodFlags(f);
  const notes: string[] = [];
  if (f.task === 'qa')
    throw new Error(
      "export-python: --task qa is not exported yet (use transformers' examples/pytorch/question-answering/run_qa.py)",
    );
  const peftType = PEFT_TYPE[f.method];
  if (peftType === 'BOTTLENECK' || peftType === 'MOE_LORA')
    throw new Error(
      `export-python: --method ${f.method} is tunekit's own (${peftType}); Hugging Face PEFT has no such method`,
    );
  if ((f.task === 'classification' || f.task === 'token-classification') && labels === null)
    throw new Error(
      `export-python: --task ${f.task} needs the label names; export with --from RUN_DIR of a trained run`,
    );

  let peft: Record<string, unknown> | null = null;
  if (peftType !== null) {
    const saved = runDir !== undefined ? join(runDir, 'adapter', 'adapter_config.json') : null;
    if (saved !== null && existsSync(saved)) peft = { ...readJsonObject(saved), inference_mode: false };
    else {
      const cfg = peftConfigFor(f, f.task, f.model);
      peft = methodFor(cfg.peftType).toJson(cfg);
    }
  }
  const files: Record<string, { path: string; format: string }> = {};
  if (existsSync(f.data) && statSync(f.data).isDirectory()) {
    for (const [name, file] of [
      ['train', 'train.jsonl'],
      ['validation', 'valid.jsonl'],
      ['test', 'test.jsonl'],
    ] as const)
      if (existsSync(join(f.data, file))) files[name] = dataSpec(join(f.data, file));
    if (!files.train) throw new Error(`--data ${f.data}: no train.jsonl`);
  } else files.train = dataSpec(f.data);
  if (f.validData !== undefined) files.validation = dataSpec(f.validData);

  const evalOn = f.evalSteps > 0 && files.validation !== undefined;
  const trainingArgs: Record<string, unknown> = {
    output_dir: 'outputs',
    per_device_train_batch_size: f.batchSize,
    per_device_eval_batch_size: f.batchSize,
    gradient_accumulation_steps: f.gradAccum,
    num_train_epochs: f.epochs,
    max_steps: f.maxSteps ?? -1,
    learning_rate: f.lr,
    lr_scheduler_type: f.scheduler,
    warmup_steps: f.warmupSteps ?? 0,
    warmup_ratio: f.warmupRatio ?? 0,
    weight_decay: f.weightDecay,
    max_grad_norm: f.maxGradNorm,
    optim: 'adamw_torch',
    seed: f.seed,
    data_seed: f.seed,
    eval_strategy: evalOn ? 'steps' : 'no',
    ...(evalOn ? { eval_steps: f.evalSteps } : {}),
    save_strategy: f.saveSteps > 0 ? 'steps' : 'no',
    ...(f.saveSteps > 0 ? { save_steps: f.saveSteps } : {}),
    save_total_limit: f.saveTotalLimit > 0 ? f.saveTotalLimit : null,
    logging_steps: f.logEvery,
    gradient_checkpointing: f.gradientCheckpointing === true,
    neftune_noise_alpha: f.neftuneAlpha > 0 ? f.neftuneAlpha : null,
    bf16: f.bf16 === true,
    report_to: 'none',
  };
  if (f.evalMetric !== undefined) {
    trainingArgs.metric_for_best_model = f.evalMetric === 'loss' ? 'eval_loss' : f.evalMetric;
    trainingArgs.greater_is_better = f.greaterIsBetter ?? !['loss', 'perplexity', 'mse', 'mae'].includes(f.evalMetric);
    if (f.earlyStoppingPatience > 0) {
      // transformers' EarlyStoppingCallback needs the best model loaded at the end, saving at each evaluation.
      trainingArgs.load_best_model_at_end = true;
      trainingArgs.save_strategy = trainingArgs.eval_strategy;
      if (evalOn) trainingArgs.save_steps = f.evalSteps;
      notes.push(
        'early stopping loads the best checkpoint at the end (transformers requires it); tunekit keeps it in best/',
      );
    }
  }
  if (f.replayData !== undefined)
    notes.push(
      'replay data is mixed by datasets.interleave_datasets with the same ratio, not step by step as tunekit draws it',
    );
  if (f.task === 'causal-lm')
    notes.push("causal-lm packs the texts with TRL's packing (sequences of max_length), as tunekit packs rows");
  if (f.int8) notes.push('--int8 becomes bitsandbytes 8-bit loading of the base model (needs a CUDA GPU)');
  const chatTemplate = f.chatTemplate !== undefined ? readFileSync(f.chatTemplate, 'utf8') : null;
  const config: Record<string, unknown> = {
    tunekit: { exported_from: runDir ?? null, task: f.task, method: f.method },
    task: f.task,
    model: {
      name_or_path: existsSync(f.model) ? resolve(f.model) : f.model,
      torch_dtype: f.bf16 ? 'bfloat16' : null,
      load_in_8bit: f.int8 === true,
    },
    data: { files, columns: columnsFrom(f) },
    max_length: f.maxLength,
    labels,
    chat_template: chatTemplate,
    sft: { packing: f.task === 'causal-lm', train_on_prompt: f.task === 'causal-lm' || f.trainOnPrompt === true },
    method: {
      name: f.method,
      peft,
      trainable_layers: f.method === 'freeze' ? (f.trainableLayers ?? 2) : null,
      init_adapter: f.initAdapter !== undefined ? resolve(f.initAdapter) : null,
    },
    replay: f.replayData !== undefined ? { file: dataSpec(f.replayData), ratio: f.replayRatio } : null,
    l2sp: f.l2sp,
    shuffle: f.shuffle,
    early_stopping_patience: f.earlyStoppingPatience,
    training_args: trainingArgs,
  };
  return { config, notes };
}

/** Adds `tunekit export-python`. */
export function register(program: Command): void {
  program
    .command('export-python')
    .description(
      'write a ready-to-run Hugging Face PEFT + TRL project (accelerate) equivalent to a tunekit training run',
    )
    .option('--config <file>', 'a tunekit train config file (YAML or JSON, the keys of `tunekit train`)')
    .option('--from <run-dir>', 'a tunekit run folder (its train-config.json and adapter_config.json)')
    .option('--out <dir>', 'the folder to write (replaced whole)')
    .action((opts: { config?: string; from?: string; out?: string }) => {
      if ((opts.config === undefined) === (opts.from === undefined))
        throw new Error('give exactly one of --config FILE or --from RUN_DIR');
      if (opts.out === undefined) throw new Error('--out is required (the folder to write)');
      const { flags, labels } = trainFlagsFrom(opts);
      const { config, notes } = exportConfig(flags, labels, opts.from);
      const dataNote = Object.entries((config.data as { files: Record<string, { path: string }> }).files)
        .map(([k, v]) => `${k}: ${v.path}`)
        .join('\n  ');
      writeFolderAtomicSync(opts.out, (tmp) => {
        writeFileSync(join(tmp, 'train.py'), TRAIN_PY);
        writeFileSync(join(tmp, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
        writeFileSync(join(tmp, 'accelerate_config.yaml'), accelerateConfig(flags.bf16 ? 'bf16' : 'no'));
        writeFileSync(join(tmp, 'requirements.txt'), REQUIREMENTS);
        writeFileSync(
          join(tmp, 'README.txt'),
          readme({
            model: flags.model,
            task: flags.task,
            method: flags.method,
            dataNote: `absolute paths in config.json (edit them if you move the data):\n  ${dataNote}`,
            notes,
          }),
        );
      });
      process.stdout.write(`${opts.out}\n`);
    });
}
