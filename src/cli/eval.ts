/**
 * `tunekit eval`: a model (optionally with an adapter) on a dataset with the task's metrics
 * (bootstrap 95% confidence intervals with --bootstrap N), as a table and optionally as JSON; or
 * `--perplexity FILE`: perplexity and mean NLL of a causal LM over a text file.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Command } from 'commander';
import { writeJsonAtomic } from '../io/files.js';
import { readJsonObject } from '../io/json.js';
import { computeMetrics } from '../metrics/registry.js';
import type { Module } from '../nn/module.js';
import { PeftModel } from '../peft/peft-model.js';
import { MAX_BOOTSTRAP_SAMPLES } from '../metrics/registry.js';
import { bootstrapMetric } from '../metrics/registry.js';
import type { CausalLM } from '../models/causal-lm.js';
import { tokenNlls } from '../train/collate.js';
import { loadDataFolder, loadExamples, type Example, type Located } from '../train/data.js';
import { applyConfigFile, intAtLeast, oneOf, readConfigFile, requireOptions } from './config-file.js';
import { computeDtypeFromFlags } from './generate.js';
import {
  TASKS,
  addColumnOptions,
  columnsFrom,
  resolveModelDir,
  scoreTask,
  setupTask,
  type ScoredMetric,
  type Task,
} from './task-setup.js';
import { TRAIN_CONFIG_FILE } from './train.js';

interface EvalFlags {
  config?: string;
  model?: string;
  adapter?: string;
  data?: string;
  task?: Task;
  bootstrap: number;
  out?: string;
  perplexity?: string;
  maxLength: number;
  labels?: string[];
  bf16?: boolean;
  int8?: boolean;
  [column: string]: unknown;
}

/** Largest --perplexity text file read (64 MiB). */
const MAX_TEXT_BYTES = 64 * 1024 ** 2;

/** Label names saved by the training run an adapter came from (train-config.json beside adapter/). */
function runLabels(adapter: string | undefined): string[] | undefined {
  if (adapter === undefined) return undefined;
  for (const dir of [adapter, dirname(adapter), dirname(dirname(adapter))]) {
    const p = join(dir, TRAIN_CONFIG_FILE);
    if (existsSync(p)) {
      const labels = readJsonObject(p).labels;
      return Array.isArray(labels) && labels.every((l) => typeof l === 'string') ? labels : undefined;
    }
  }
  return undefined;
}

async function evalExamples(data: string, columns: ReturnType<typeof columnsFrom>): Promise<Array<Located<Example>>> {
  if (!existsSync(data)) throw new Error(`--data ${data}: no such file or folder`);
  if (!statSync(data).isDirectory()) return loadExamples(data, { columns });
  const d = await loadDataFolder(data, { columns });
  if (d.test.length > 0) return d.test;
  if (d.valid.length > 0) return d.valid;
  throw new Error(`--data ${data}: the folder has no test.jsonl or valid.jsonl to evaluate on`);
}

function withAdapter(model: Module, adapter: string | undefined): Module {
  if (adapter === undefined) return model;
  if (!existsSync(join(adapter, 'adapter_config.json')))
    throw new Error(`--adapter ${adapter}: no adapter_config.json there (expected a PEFT adapter folder)`);
  return PeftModel.fromPretrained(model, adapter, { onWarning: (m) => process.stderr.write(`warning: ${m}\n`) });
}

/** Formats scored metrics as an aligned table. */
export function metricsTable(scores: readonly ScoredMetric[]): string {
  const withCi = scores.some((s) => s.ci !== undefined);
  const rows = [
    withCi ? ['metric', 'score', '95% CI'] : ['metric', 'score'],
    ...scores.map((s) => [
      s.key === s.name ? s.name : `${s.name} (${s.key})`,
      s.score.toFixed(4),
      ...(withCi ? [s.ci ? `[${s.ci[0].toFixed(4)}, ${s.ci[1].toFixed(4)}]` : ''] : []),
    ]),
  ];
  const widths = [0, 1, 2].map((c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows
    .map((r) =>
      r
        .map((cell, c) => cell.padEnd(widths[c] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** Runs `tunekit eval` with resolved flags; returns what --out would hold. */
export async function runEval(f: EvalFlags, log: (line: string) => void): Promise<Record<string, unknown>> {
  requireOptions(f, ['model']);
  const model = f.model ?? '';
  const dir = await resolveModelDir(model, log);
  const dtype = computeDtypeFromFlags(f);
  if (f.perplexity !== undefined) {
    if (f.data !== undefined) throw new Error('--perplexity and --data exclude each other: give one');
    if (f.task !== undefined && f.task !== 'causal-lm' && f.task !== 'sft')
      throw new Error(`--perplexity needs a causal language model (--task causal-lm), not --task ${f.task}`);
    if (!existsSync(f.perplexity)) throw new Error(`--perplexity ${f.perplexity}: no such file`);
    if (statSync(f.perplexity).size > MAX_TEXT_BYTES)
      throw new Error(`--perplexity ${f.perplexity}: larger than ${MAX_TEXT_BYTES} bytes`);
    const setup = setupTask('causal-lm', dir, { maxLength: f.maxLength, computeDtype: dtype.computeDtype });
    const scored = withAdapter(setup.model, f.adapter);
    scored.eval();
    const text = readFileSync(f.perplexity, 'utf8');
    const ids = setup.tokenizer.encode(text);
    const windows: Array<{ inputIds: Int32Array }> = [];
    for (let i = 0; i < ids.length - 1; i += f.maxLength)
      windows.push({ inputIds: Int32Array.from(ids.slice(i, i + f.maxLength)) });
    if (windows.length === 0) throw new Error(`--perplexity ${f.perplexity}: fewer than 2 tokens`);
    const nll = tokenNlls(scored as unknown as CausalLM, windows, setup.tokenizer.padTokenId ?? 0);
    const r = computeMetrics(['perplexity'], { predictions: nll });
    const values = r.perplexity?.values ?? {};
    const out: Record<string, unknown> = {
      model,
      ...(f.adapter !== undefined ? { adapter: f.adapter } : {}),
      text: f.perplexity,
      tokens: nll.reduce((s, row) => s + row.length, 0),
      windows: windows.length,
      windowLength: f.maxLength,
      perplexity: values.corpus_perplexity,
      meanNll: values.mean_nll,
    };
    if (f.bootstrap > 0) {
      const b = bootstrapMetric('nll', { predictions: nll }, {}, { nSamples: f.bootstrap });
      out.meanNllCi = [b.low, b.high];
    }
    return out;
  }
  requireOptions(f, ['data', 'task']);
  const task = f.task as Task;
  const data = f.data ?? '';
  const columns = columnsFrom(f);
  const examples = await evalExamples(data, columns);
  if (examples.length === 0) throw new Error(`--data ${data}: no examples`);
  const setup = setupTask(task, dir, {
    maxLength: f.maxLength,
    computeDtype: dtype.computeDtype,
    labels: f.labels ?? runLabels(f.adapter),
    labelSource: examples,
  });
  const scored = withAdapter(setup.model, f.adapter);
  const encoded = setup.encode(examples);
  const scores = scoreTask(setup, scored, encoded, f.bootstrap);
  return {
    model,
    ...(f.adapter !== undefined ? { adapter: f.adapter } : {}),
    data,
    task,
    examples: examples.length,
    ...(f.bootstrap > 0 ? { bootstrap: { samples: f.bootstrap, confidence: 0.95 } } : {}),
    metrics: Object.fromEntries(
      scores.map((s) => [
        s.name,
        { key: s.key, score: s.score, higherIsBetter: s.higherIsBetter, ...(s.ci ? { ci: s.ci } : {}) },
      ]),
    ),
    table: metricsTable(scores),
  };
}

/** Adds `tunekit eval`. */
export function register(program: Command): void {
  const cmd = program
    .command('eval')
    .description(
      "evaluate a model (optionally with an adapter) with the task's metrics, or its perplexity over a text file",
    );
  cmd
    .option('--config <file>', 'YAML or JSON file whose keys are these flags; flags override it')
    .option('--model <dir-or-repo>', 'Hugging Face model folder or Hub repo id')
    .option('--adapter <dir>', 'PEFT adapter folder applied to --model (e.g. runs/x/adapter)')
    .option('--data <file-or-dir>', 'evaluation data file, or an MLX-LM folder (test.jsonl, else valid.jsonl)')
    .option('--task <task>', `one of ${TASKS.join('|')}`, oneOf('--task', TASKS))
    .option(
      '--bootstrap <n>',
      `bootstrap resamples for 95% confidence intervals (0: none; at most ${MAX_BOOTSTRAP_SAMPLES})`,
      intAtLeast('--bootstrap', 0),
      0,
    )
    .option('--out <file>', 'also write the results as JSON')
    .option('--perplexity <file>', 'a text file: perplexity and mean NLL over windows of --max-length tokens')
    .option('--max-length <n>', 'tokens per example or perplexity window', intAtLeast('--max-length', 2), 256)
    .option(
      '--labels <names...>',
      "classification label names in id order (default: the training run's, else sorted from the data)",
    )
    .option('--bf16', 'keep the weights as bfloat16')
    .option('--int8', 'keep the weight matrices as int8');
  addColumnOptions(cmd);
  cmd.action(async () => {
    const cli = cmd.opts<EvalFlags>();
    if (cli.bootstrap > MAX_BOOTSTRAP_SAMPLES)
      throw new Error(`--bootstrap expects at most ${MAX_BOOTSTRAP_SAMPLES} resamples, got ${cli.bootstrap}`);
    const f =
      cli.config !== undefined
        ? applyConfigFile<EvalFlags>(cmd, readConfigFile(cli.config), cli.config, ['config'])
        : cli;
    const r = await runEval(f, (l) => void process.stderr.write(`${l}\n`));
    const { table, ...json } = r;
    if (typeof table === 'string') process.stdout.write(`${table}\n`);
    else
      process.stdout.write(
        `perplexity ${Number(r.perplexity).toFixed(4)}  mean NLL ${Number(r.meanNll).toFixed(4)}${Array.isArray(r.meanNllCi) ? ` [${(r.meanNllCi as number[]).map((x) => x.toFixed(4)).join(', ')}]` : ''}  (${String(r.tokens)} tokens)\n`,
      );
    if (f.out !== undefined) writeJsonAtomic(f.out, json);
  });
}
