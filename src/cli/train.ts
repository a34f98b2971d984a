/**
 * `tunekit train`: fine-tune a model folder (or Hub repo) on a data file or MLX-LM folder with one
 * of the PEFT methods (or full / freeze fine-tuning), writing the run folder of docs/run-log.md:
 * run.jsonl, adapter/ (or the model folder), checkpoints/, best/, report.html, plus
 * train-config.json (the resolved flags: what `--resume` and `export-python --from` read).
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { writeJsonAtomic } from '../io/files.js';
import { readJsonObject } from '../io/json.js';
import { computeDtypeFromFlags } from './generate.js';
import { enableGradientCheckpointing } from '../train/gradient-checkpointing.js';
import { listCheckpoints } from '../train/checkpoint.js';
import { RunLog } from '../train/run-log.js';
import { SCHEDULER_TYPES, type SchedulerType } from '../train/schedule.js';
import { loadExamples } from '../train/data.js';
import { evaluate, train, type TrainingArgs } from '../train/trainer.js';
import { writeReport } from '../report/index.js';
import {
  applyConfigFile,
  fraction,
  intAtLeast,
  nonNegative,
  oneOf,
  positive,
  readConfigFile,
  requireOptions,
} from './config-file.js';
import { METHODS, applyMethod, checkMethodFlags, type MethodFlags } from './methods.js';
import {
  TASKS,
  addColumnOptions,
  columnsFrom,
  readData,
  resolveModelDir,
  scoreTask,
  setupTask,
  type Task,
} from './task-setup.js';

/** The resolved flags of a run, as saved in train-config.json (the method's own in {@link MethodFlags}). */
export interface TrainFlags extends MethodFlags {
  config?: string;
  model: string;
  data: string;
  validData?: string;
  task: Task;
  out: string;
  epochs: number;
  maxSteps?: number;
  batchSize: number;
  gradAccum: number;
  lr: number;
  scheduler: SchedulerType;
  warmupSteps?: number;
  warmupRatio?: number;
  weightDecay: number;
  maxGradNorm: number;
  evalSteps: number;
  evalMetric?: string;
  greaterIsBetter?: boolean;
  earlyStoppingPatience: number;
  saveSteps: number;
  saveTotalLimit: number;
  maxLength: number;
  replayData?: string;
  replayRatio: number;
  l2sp: number;
  neftuneAlpha: number;
  bf16?: boolean;
  int8?: boolean;
  gradientCheckpointing?: boolean;
  shuffle: boolean;
  chatTemplate?: string;
  trainOnPrompt?: boolean;
  initAdapter?: string;
  resume?: boolean;
  progress: 'auto' | 'bar' | 'lines' | 'none';
  logEvery: number;
  report: boolean;
  [column: string]: unknown;
}

export const TRAIN_CONFIG_FILE = 'train-config.json';

/** Adds every `train` flag to `cmd` (export-python reads the same config keys). */
export function addTrainOptions(cmd: Command): Command {
  cmd
    .option(
      '--config <file>',
      'YAML or JSON file whose keys are these flags (camelCase or kebab-case); flags override it',
    )
    .option(
      '--model <dir-or-repo>',
      'Hugging Face model folder, or a Hub repo id ("org/name", downloaded into the Hub cache)',
    )
    .option(
      '--data <file-or-dir>',
      'training data: .jsonl/.json/.csv/.tsv/.parquet, or an MLX-LM folder (train/valid/test.jsonl)',
    )
    .option('--valid-data <file>', 'validation data (default: valid.jsonl of a --data folder)')
    .option('--task <task>', `one of ${TASKS.join('|')}`, oneOf('--task', TASKS))
    .option('--method <method>', `one of ${METHODS.join('|')}`, oneOf('--method', METHODS))
    .option('--out <dir>', 'run folder (run.jsonl, adapter/, checkpoints/, report.html)')
    .option('--epochs <n>', 'passes over the training data (default 1; --max-steps wins)', positive('--epochs'), 1)
    .option('--max-steps <n>', 'optimizer steps (overrides --epochs)', intAtLeast('--max-steps', 1))
    .option('--batch-size <n>', 'examples per micro-batch', intAtLeast('--batch-size', 1), 8)
    .option('--grad-accum <n>', 'micro-batches per optimizer step', intAtLeast('--grad-accum', 1), 1)
    .option('--lr <x>', 'peak learning rate', positive('--lr'), 1e-4)
    .option(
      '--scheduler <name>',
      `learning-rate schedule: ${SCHEDULER_TYPES.join('|')}`,
      oneOf('--scheduler', SCHEDULER_TYPES),
      'linear',
    )
    .option('--warmup-steps <n>', 'linear warm-up steps', intAtLeast('--warmup-steps', 0))
    .option('--warmup-ratio <x>', 'warm-up as a fraction of the steps', fraction('--warmup-ratio'))
    .option('--weight-decay <x>', 'AdamW decoupled weight decay', nonNegative('--weight-decay'), 0)
    .option('--max-grad-norm <x>', 'clip the global gradient norm (0: no clipping)', nonNegative('--max-grad-norm'), 1)
    .option('--seed <n>', 'seed of data order, adapter init, dropout, NEFTune, replay', intAtLeast('--seed', 0), 42)
    .option(
      '--eval-steps <n>',
      'evaluate on the validation data every N steps (0: at the end only)',
      intAtLeast('--eval-steps', 0),
      0,
    )
    .option(
      '--eval-metric <name>',
      'watched metric for best/ and early stopping: loss, or a task metric (accuracy, f1, perplexity, mse, seqeval, squad...)',
    )
    .option(
      '--greater-is-better',
      'the watched metric improves upwards (default: false for loss and perplexity/mse/mae, true otherwise)',
    )
    .option(
      '--early-stopping-patience <n>',
      'stop after N evaluations without improvement (0: never)',
      intAtLeast('--early-stopping-patience', 0),
      0,
    )
    .option(
      '--save-steps <n>',
      'write a checkpoint every N steps (0: none; --resume needs them)',
      intAtLeast('--save-steps', 0),
      0,
    )
    .option('--save-total-limit <n>', 'keep at most N checkpoints (0: all)', intAtLeast('--save-total-limit', 0), 0)
    .option('--max-length <n>', 'tokens per example (causal-lm: packed row length)', intAtLeast('--max-length', 2), 256)
    .option('--rank <r>', 'LoRA/DoRA/MoE-LoRA rank (default 8)', intAtLeast('--rank', 1))
    .option('--alpha <a>', 'LoRA alpha (default 2 x rank)', positive('--alpha'))
    .option('--dropout <p>', 'LoRA dropout (default 0)', fraction('--dropout'))
    .option(
      '--target-modules <names...>',
      'modules to adapt (default: PEFT\'s per-architecture defaults; "all-linear")',
    )
    .option(
      '--num-virtual-tokens <n>',
      'prompt/prefix/p-tuning virtual tokens (default 8)',
      intAtLeast('--num-virtual-tokens', 1),
    )
    .option(
      '--reduction-factor <n>',
      'bottleneck adapter hidden = hidden / n (default 16)',
      positive('--reduction-factor'),
    )
    .option('--experts <n>', 'MoE-LoRA experts (default 4)', intAtLeast('--experts', 1))
    .option('--top-k <k>', 'MoE-LoRA: route to the k best experts (default: all, soft)', intAtLeast('--top-k', 1))
    .option(
      '--trainable-layers <n>',
      '--method freeze: train the last N blocks (default 2)',
      intAtLeast('--trainable-layers', 1),
    )
    .option('--replay-data <file>', 'general data mixed into each step (forgetting control)')
    .option('--replay-ratio <x>', 'fraction of each step drawn from --replay-data', fraction('--replay-ratio'), 0)
    .option('--l2sp <x>', 'L2-SP strength: pull toward the starting weights', nonNegative('--l2sp'), 0)
    .option(
      '--neftune-alpha <x>',
      'NEFTune noise on input embeddings (causal-lm/sft; 0: off)',
      nonNegative('--neftune-alpha'),
      0,
    )
    .option('--bf16', 'keep the frozen base weights as bfloat16')
    .option('--int8', 'keep the frozen base weight matrices as int8 (adapter methods only)')
    .option('--gradient-checkpointing', 'recompute block activations in the backward pass (less memory)')
    .addOption(new Option('--no-shuffle', 'keep the data order (no per-epoch shuffle)'))
    .option('--chat-template <file>', "sft: a Jinja chat template file instead of the tokenizer's")
    .option('--train-on-prompt', 'sft: learn the prompt tokens too')
    .option('--init-adapter <dir>', 'start from this adapter folder (same method) instead of a fresh one')
    .option('--resume', 'continue the run in --out from its last complete checkpoint')
    .option(
      '--progress <mode>',
      'auto|bar|lines|none (auto: a bar on a terminal)',
      oneOf('--progress', ['auto', 'bar', 'lines', 'none'] as const),
      'auto',
    )
    .option('--log-every <n>', 'plain progress lines every N steps', intAtLeast('--log-every', 1), 10)
    .addOption(new Option('--no-report', 'do not write report.html at the end'));
  addColumnOptions(cmd);
  return cmd;
}

function defaultGreater(metric: string): boolean {
  return !['loss', 'perplexity', 'nll', 'mse', 'mae', 'rmse'].includes(metric);
}

/** The command's options merged with --config (and, on --resume, the run's saved train-config.json). */
export function resolveTrainFlags(cmd: Command): TrainFlags {
  const cli = cmd.opts<Partial<TrainFlags>>();
  if (cli.config !== undefined) applyConfigFile(cmd, readConfigFile(cli.config), cli.config, ['config']);
  let opts = cmd.opts<Partial<TrainFlags>>();
  if (opts.resume) {
    if (opts.out === undefined) throw new Error('--resume needs --out (the run folder to continue)');
    const saved = join(opts.out, TRAIN_CONFIG_FILE);
    if (!existsSync(join(opts.out, 'run.jsonl')) || listCheckpoints(opts.out).length === 0)
      throw new Error(
        `--resume: no complete checkpoint under ${join(opts.out, 'checkpoints')} (train with --save-steps N to write them)`,
      );
    if (existsSync(saved)) {
      const flags = readJsonObject(saved).flags;
      if (flags && typeof flags === 'object') {
        const keep = Object.fromEntries(
          Object.entries(flags as Record<string, unknown>).filter(
            ([k]) => !['resume', 'out', 'config', 'progress', 'report', 'logEvery'].includes(k),
          ),
        );
        applyConfigFile(cmd, keep, saved);
      }
    }
    opts = cmd.opts<Partial<TrainFlags>>();
  }
  requireOptions(opts, ['model', 'data', 'task', 'method', 'out']);
  return opts as TrainFlags;
}

/** The TrainingArgs the flags ask for. */
export function trainingArgsFrom(f: TrainFlags): TrainingArgs {
  return {
    batchSize: f.batchSize,
    gradientAccumulationSteps: f.gradAccum,
    ...(f.maxSteps !== undefined ? { maxSteps: f.maxSteps } : { epochs: f.epochs }),
    learningRate: f.lr,
    lrScheduler: f.scheduler,
    ...(f.warmupSteps !== undefined ? { warmupSteps: f.warmupSteps } : {}),
    ...(f.warmupRatio !== undefined ? { warmupRatio: f.warmupRatio } : {}),
    weightDecay: f.weightDecay,
    maxGradNorm: f.maxGradNorm,
    seed: f.seed,
    shuffle: f.shuffle,
    evalEvery: f.evalSteps,
    saveEvery: f.saveSteps,
    saveTotalLimit: f.saveTotalLimit,
    outDir: f.out,
    ...(f.resume ? { resumeFrom: 'latest' } : {}),
    ...(f.evalMetric !== undefined
      ? { metricForBest: f.evalMetric, greaterIsBetter: f.greaterIsBetter ?? defaultGreater(f.evalMetric) }
      : {}),
    earlyStoppingPatience: f.earlyStoppingPatience,
    progress: f.progress,
    logEvery: f.logEvery,
    l2spStrength: f.l2sp,
    replayRatio: f.replayRatio,
  };
}

/** Runs `tunekit train` with resolved flags; returns the adapter/model folder. */
export async function runTrain(
  f: TrainFlags,
  log: (line: string) => void,
): Promise<{ adapter: string; report?: string }> {
  checkMethodFlags(f);
  if (f.int8 && (f.method === 'full' || f.method === 'freeze'))
    throw new Error(`--int8 keeps frozen weights as int8; --method ${f.method} trains base weights`);
  if (f.bf16 && (f.method === 'full' || f.method === 'freeze'))
    throw new Error(`--bf16 keeps frozen weights as bfloat16; --method ${f.method} trains base weights in float32`);
  if (f.neftuneAlpha > 0 && f.task !== 'causal-lm' && f.task !== 'sft')
    throw new Error(`--neftune-alpha applies to --task causal-lm|sft, not ${f.task}`);
  if (f.replayRatio > 0 && f.replayData === undefined) throw new Error('--replay-ratio > 0 needs --replay-data');
  if (f.replayData !== undefined && !(f.replayRatio > 0)) throw new Error('--replay-data needs --replay-ratio > 0');
  if (f.evalMetric === undefined && f.earlyStoppingPatience > 0) f.evalMetric = 'loss';
  if (f.evalMetric !== undefined && f.evalSteps === 0)
    throw new Error('--eval-metric and --early-stopping-patience need --eval-steps N > 0 (evaluations to compare)');
  if (!f.resume && existsSync(join(f.out, 'run.jsonl')))
    throw new Error(
      `--out ${f.out}: already holds a run (run.jsonl); pass --resume to continue it, or choose another folder`,
    );
  if (f.initAdapter !== undefined) {
    const shaping = [
      'rank',
      'alpha',
      'dropout',
      'targetModules',
      'numVirtualTokens',
      'reductionFactor',
      'experts',
      'topK',
    ];
    const given = shaping.find((k) => f[k] !== undefined);
    if (given !== undefined)
      throw new Error(
        `--${given.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} cannot be combined with --init-adapter (the adapter's own config is used)`,
      );
  }
  if (f.initAdapter !== undefined && !existsSync(join(f.initAdapter, 'adapter_config.json')))
    throw new Error(`--init-adapter ${f.initAdapter}: no adapter_config.json there`);
  const dtype = computeDtypeFromFlags(f);
  const chatTemplate = f.chatTemplate !== undefined ? readFileSync(f.chatTemplate, 'utf8') : undefined;

  const modelDir = await resolveModelDir(f.model, log);
  const columns = columnsFrom(f);
  const data = await readData(f.data, { columns, valid: f.validData });
  if (data.train.length === 0) throw new Error(`--data ${f.data}: no training examples`);
  const saved = existsSync(join(f.out, TRAIN_CONFIG_FILE)) ? readJsonObject(join(f.out, TRAIN_CONFIG_FILE)) : null;
  const savedLabels = f.resume && Array.isArray(saved?.labels) ? (saved.labels as string[]) : undefined;
  const setup = setupTask(f.task, modelDir, {
    maxLength: f.maxLength,
    computeDtype: dtype.computeDtype,
    labels: savedLabels,
    labelSource: [...data.train, ...data.valid],
    chatTemplate,
    trainOnPrompt: f.trainOnPrompt,
    neftuneAlpha: f.neftuneAlpha,
    seed: f.seed,
  });
  const applied = applyMethod(setup.model, f, f.task, f.model, f.initAdapter, modelDir);
  if (f.gradientCheckpointing) enableGradientCheckpointing(setup.model);
  const trainSet = setup.encode(data.train);
  const validSet = setup.encode(data.valid);
  if (f.evalMetric !== undefined && validSet.length === 0)
    throw new Error('--eval-metric needs validation data (--valid-data FILE, or valid.jsonl in a --data folder)');
  const replay = f.replayData !== undefined ? setup.encode(await loadExamples(f.replayData, { columns })) : undefined;
  if (!f.resume) {
    const { config: _c, resume: _r, ...flags } = f;
    mkdirSync(f.out, { recursive: true });
    writeJsonAtomic(join(f.out, TRAIN_CONFIG_FILE), {
      tunekit: 'train',
      flags,
      modelDir: resolve(modelDir),
      labels: setup.labels,
    });
  }
  log(
    `${f.method} on ${f.model} (${f.task}): ${applied.trained.numParameters(true).toLocaleString('en-US')} trainable of ${applied.trained.numParameters().toLocaleString('en-US')} parameters; ${trainSet.length} training, ${validSet.length} validation examples`,
  );
  const metrics = (m: unknown, ex: readonly unknown[]): Record<string, number> =>
    Object.fromEntries(scoreTask(setup, m as never, [...ex]).map((s) => [s.name, s.score]));
  const result = train({
    model: applied.trained,
    args: trainingArgsFrom(f),
    train: trainSet,
    ...(validSet.length > 0 ? { valid: validSet, metrics } : {}),
    ...(replay ? { replay } : {}),
    collate: setup.collate,
    loss: setup.loss,
    lengthOf: setup.lengthOf,
    saveModel: applied.save,
    describe: {
      model: { path: f.model, architecture: setup.model.constructor.name, parameters: setup.model.numParameters() },
      method: applied.describe,
      task: f.task,
      data: { train: trainSet.length, valid: validSet.length, test: data.test.length },
    },
    print: log,
  });
  if (data.test.length > 0) {
    const testSet = setup.encode(data.test);
    const scores = scoreTask(setup, applied.trained, testSet);
    const runLog = new RunLog(join(f.out, 'run.jsonl'));
    try {
      const loss = evaluate(applied.trained, testSet, {
        collate: setup.collate,
        loss: setup.loss,
        batchSize: f.batchSize,
        seed: f.seed,
      }).loss;
      runLog.write('eval', {
        step: result.steps,
        split: 'test',
        loss,
        metrics: Object.fromEntries(scores.map((s) => [s.name, s.score])),
      });
    } finally {
      runLog.close();
    }
  }
  const adapter = join(f.out, 'adapter');
  if (!f.report) return { adapter };
  const r = await writeReport([f.out]);
  return { adapter, report: r.html };
}

/** Adds `tunekit train`. */
export function register(program: Command): void {
  const cmd = program
    .command('train')
    .description('fine-tune a model (LoRA and other PEFT methods, or full/freeze) and write a run folder');
  addTrainOptions(cmd)
    .addHelpText(
      'after',
      '\nExample:\n  tunekit train --model Qwen/Qwen2.5-0.5B-Instruct --data my.jsonl --task sft --method lora --out runs/qwen\n  tunekit train --config run.yaml --lr 3e-4     (flags override the file)\n  tunekit train --out runs/qwen --resume          (continues from the last checkpoint)',
    )
    .action(async () => {
      const f = resolveTrainFlags(cmd);
      const log = (line: string): void => void process.stderr.write(`${line}\n`);
      const r = await runTrain(f, log);
      process.stdout.write(`${r.adapter}\n`);
      if (r.report) log(`report: ${r.report}`);
    });
}
