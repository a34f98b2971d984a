/**
 * `tunekit demo`: the whole job on the embedded default model, offline, in about two minutes.
 *
 * The real stories260K Llama (assets/stories260K) learns to tell stories about "Pip the purple
 * penguin" (assets/demo, written for tunekit) through the library's own parts:
 *  1. the base model's held-out task metrics (perplexity and next-token accuracy on Pip stories it
 *     never trains on, from the metric registry, with bootstrap 95% intervals) and its perplexity on
 *     general stories;
 *  2. three `train()` runs, each a run folder with run.jsonl: LoRA, prompt tuning, and LoRA with
 *     replay of general stories (the forgetting remedy);
 *  3. the task metrics after training, and a forgetting check (general perplexity before, after,
 *     after the replay run);
 *  4. greedy generation with and without repetition controls (repetition penalty, no-repeat
 *     n-grams), scored by rep-n and distinct-n;
 *  5. the adapters saved in PEFT's format and reloaded on a fresh base (max |Δlogit| must be 0);
 *  6. the HTML report of the three runs side by side (charts also as SVG and PNG files).
 *
 * The trainer writes the config / step / eval (with bootstrap intervals) / samples / repetition /
 * forgetting / end records; the demo adds, through the run-log API (RunLog), what the trainer does
 * not measure: the evaluation of the starting model (step 0) and the labelled generations with and
 * without repetition controls (docs/run-log.md).
 */
import type { Command } from 'commander';
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generate } from '../generate/generate.js';
import type { LogitsSettings } from '../generate/logits-processors.js';
import { AutoTokenizer } from '../io/tokenizer.js';
import { computeMetrics } from '../metrics/registry.js';
import type { CausalLM } from '../models/causal-lm.js';
import { LlamaForCausalLM } from '../models/llama.js';
import { backend, kernels } from '../native/index.js';
import type { PeftConfigBase } from '../peft/config.js';
import { loraConfig } from '../peft/lora/config.js';
import { PeftModel, getPeftModel } from '../peft/peft-model.js';
import { promptTuningConfig } from '../peft/prompt/config.js';
import { writeReport } from '../report/index.js';
import { noGrad } from '../tensor/tensor.js';
import { causalLmLossFn, collateCausalLm, packSequences, type LmExample } from '../train/collate.js';
import { RunLog } from '../train/run-log.js';
import {
  NonFiniteError,
  evaluate,
  train,
  type EvalMetrics,
  type EvalResult,
  type GeneratedSample,
} from '../train/trainer.js';

const packageRoot = fileURLToPath(new URL('../../../', import.meta.url));
export const DEFAULT_MODEL_DIR = join(packageRoot, 'assets', 'stories260K');
const DEMO_DIR = join(packageRoot, 'assets', 'demo');
/** Marks a folder the demo wrote, so a second run may replace it (and nothing else). */
const MARKER = '.tunekit-demo';
/** The run folders the demo writes under --out. */
export const DEMO_RUNS = ['lora', 'prompt-tuning', 'lora-replay'] as const;
export type DemoRunName = (typeof DEMO_RUNS)[number];

/** The commands that do the same with a Hub model (printed at the end; the README shows them). */
export const HUB_COMMANDS = [
  'npx tunekit pull Qwen/Qwen2.5-0.5B-Instruct',
  'npx tunekit train --model Qwen/Qwen2.5-0.5B-Instruct --data my.jsonl --task sft --method lora --out runs/qwen',
  'npx tunekit eval --model Qwen/Qwen2.5-0.5B-Instruct --adapter runs/qwen/adapter --data test.jsonl --task sft',
  'npx tunekit report runs/qwen',
] as const;

export interface DemoOptions {
  /** Optimizer steps of each run (default 30; 8 with `quick`). */
  steps?: number;
  /** LoRA learning rate (default 0.003). */
  lr?: number;
  /** Prompt-tuning learning rate (default 0.2: a soft prompt needs a larger one than LoRA, as in Lester et al. 2021). */
  promptLr?: number;
  /** LoRA rank (default 8). */
  rank?: number;
  seed: number;
  /** A fast variant for tests: fewer steps, shorter generations, fewer bootstrap resamples. */
  quick?: boolean;
  /** The demo folder (default ./runs/demo). */
  out?: string;
  log?: (line: string) => void;
}

/** What one fine-tuning run measured. */
export interface DemoRunResult {
  name: DemoRunName;
  dir: string;
  trainableParameters: number;
  firstLoss: number;
  lastLoss: number;
  seconds: number;
  /** Held-out task metrics after training, with their bootstrap intervals. */
  after: TaskScores;
  /** General-text perplexity after training. */
  generalPerplexity: number;
  /** max |Δlogit| between the trained model and its saved adapter reloaded on a fresh base. */
  reloadMaxDiff: number;
}

export interface TaskScores {
  perplexity: number;
  perplexityCi: [number, number];
  accuracy: number;
  accuracyCi: [number, number];
  loss: number;
}

export interface DemoResult {
  out: string;
  report: string;
  chartsDir: string;
  charts: number;
  before: TaskScores;
  generalBefore: number;
  runs: DemoRunResult[];
  /** rep-n / distinct-n of the LoRA model's greedy generations, without and with repetition controls. */
  repetition: { plain: Record<string, number>; controlled: Record<string, number> };
  generations: { plain: string[]; controlled: string[] };
  seconds: number;
}

interface Resolved {
  steps: number;
  lr: number;
  promptLr: number;
  rank: number;
  seed: number;
  quick: boolean;
  out: string;
}

/**
 * Checks the options before any expensive work (loading, training), so a bad value fails at once.
 * @throws Error naming the flag and what was expected
 */
export function validateDemoOptions(opts: DemoOptions): Resolved {
  const quick = opts.quick ?? false;
  const r: Resolved = {
    steps: opts.steps ?? (quick ? 8 : 30),
    lr: opts.lr ?? 0.003,
    promptLr: opts.promptLr ?? 0.2,
    rank: opts.rank ?? 8,
    seed: opts.seed,
    quick,
    out: resolve(opts.out ?? join('runs', 'demo')),
  };
  const int = (flag: string, v: number, min: number, why: string): void => {
    if (!Number.isSafeInteger(v) || v < min)
      throw new Error(`--${flag}: expected an integer >= ${min}${why}, got ${v}`);
  };
  int('steps', r.steps, 1, ' (0 steps would save an untrained adapter)');
  int('rank', r.rank, 1, ' (the LoRA rank r)');
  int('seed', r.seed, 0, '');
  if (!Number.isFinite(r.lr) || r.lr <= 0) throw new Error(`--lr: expected a finite number > 0, got ${r.lr}`);
  if (!Number.isFinite(r.promptLr) || r.promptLr <= 0)
    throw new Error(`--prompt-lr: expected a finite number > 0, got ${r.promptLr}`);
  const where = opts.out ?? r.out;
  let stat: ReturnType<typeof lstatSync> | null = null;
  try {
    stat = lstatSync(r.out);
  } catch {
    // absent: created below
  }
  if (stat && !stat.isDirectory())
    throw new Error(`--out ${where}: exists and is not a folder (the demo writes its run folders into it)`);
  if (stat && readdirSync(r.out).length > 0 && !existsSync(join(r.out, MARKER)))
    throw new Error(
      `--out ${where}: the folder is not empty and was not written by the demo; give a new or empty folder`,
    );
  return r;
}

/** The demo's text files: one story per line. */
function stories(file: string): string[] {
  const path = join(DEMO_DIR, file);
  const lines = readFileSync(path, 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
  if (lines.length === 0) throw new Error(`${path}: no stories (expected one story per line)`);
  return lines;
}

/** Per-token negative log-likelihoods and next-token predictions of each document. */
function scoreTokens(
  model: CausalLM,
  docs: readonly (readonly number[])[],
): { nll: number[][]; predicted: string[]; actual: string[] } {
  const nll: number[][] = [];
  const predicted: string[] = [];
  const actual: string[] = [];
  noGrad(() => {
    for (const doc of docs) {
      const logits = model.forward({ inputIds: Int32Array.from(doc) }).logits;
      const V = logits.shape.at(-1) ?? 0;
      const f = logits.f32;
      const row: number[] = [];
      for (let t = 0; t + 1 < doc.length; t++) {
        // log-softmax in float64: nll = logsumexp(z) - z[target]
        let max = -Infinity;
        let best = 0;
        for (let v = 0; v < V; v++) {
          const z = f[t * V + v] ?? -Infinity;
          if (z > max) {
            max = z;
            best = v;
          }
        }
        let sum = 0;
        for (let v = 0; v < V; v++) sum += Math.exp((f[t * V + v] ?? -Infinity) - max);
        const target = doc[t + 1] ?? 0;
        row.push(Math.max(0, max + Math.log(sum) - (f[t * V + target] ?? 0)));
        predicted.push(String(best));
        actual.push(String(target));
      }
      nll.push(row);
    }
  });
  return { nll, predicted, actual };
}

/**
 * The task's metrics (registry names): corpus perplexity (bootstrap resamples stories) and next-token
 * accuracy (resamples tokens), with their per-item evidence so the trainer can bootstrap intervals.
 */
function taskMetrics(model: CausalLM, docs: readonly (readonly number[])[]): EvalMetrics {
  const s = scoreTokens(model, docs);
  const perplexity = { predictions: s.nll };
  const accuracy = { predictions: s.predicted, references: s.actual };
  return {
    values: {
      perplexity: computeMetrics(['perplexity'], perplexity).perplexity?.score ?? NaN,
      accuracy: computeMetrics(['accuracy'], accuracy).accuracy?.score ?? NaN,
    },
    evidence: {
      perplexity: { metric: 'perplexity', inputs: perplexity },
      accuracy: { metric: 'accuracy', inputs: accuracy },
    },
  };
}

/** An evaluation with intervals as the demo prints it. */
function taskScores(r: EvalResult | undefined, what: string): TaskScores {
  const perplexity = r?.metrics.perplexity;
  const accuracy = r?.metrics.accuracy;
  const pCi = r?.ci?.perplexity;
  const aCi = r?.ci?.accuracy;
  if (!r || perplexity === undefined || accuracy === undefined || !pCi || !aCi)
    throw new Error(`demo: ${what}: the evaluation has no perplexity and accuracy with intervals`);
  return { perplexity, perplexityCi: pCi, accuracy, accuracyCi: aCi, loss: r.loss };
}

function evalRecord(step: number, t: TaskScores): Record<string, unknown> {
  return {
    step,
    split: 'valid',
    loss: t.loss,
    metrics: { perplexity: t.perplexity, accuracy: t.accuracy },
    ci: { perplexity: t.perplexityCi, accuracy: t.accuracyCi },
  };
}

const f3 = (x: number): string => x.toFixed(3);
const ci = (c: [number, number], d = 3): string => `[${c[0].toFixed(d)}, ${c[1].toFixed(d)}]`;

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Infinity;
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs((a[i] ?? 0) - (b[i] ?? 0)));
  return d;
}

/**
 * Runs the demo; returns what it measured (tests read it).
 * @throws Error before any work for invalid options, and at the first step whose loss or gradient
 *   norm is not finite (training diverged: that run's adapter is not saved)
 */
export async function runDemo(opts: DemoOptions): Promise<DemoResult> {
  const o = validateDemoOptions(opts);
  const log = opts.log ?? ((l: string) => console.log(l));
  const t0 = performance.now();
  const tokenizer = AutoTokenizer.fromPretrained(DEFAULT_MODEL_DIR);
  const loadBase = (): LlamaForCausalLM => LlamaForCausalLM.fromPretrained(DEFAULT_MODEL_DIR);
  const base = loadBase();
  const eos = base.config.eosTokenIds[0] ?? 2;
  const nBoot = o.quick ? 200 : 1000;
  const maxNew = o.quick ? 24 : 48;

  // ---- data: one story per line; each story is <bos> text <eos>
  const encode = (s: string): number[] => [...tokenizer.encode(s), eos];
  const pipTrain = stories('pip-stories.txt').map(encode);
  const pipHeldOut = stories('pip-held-out.txt').map(encode);
  const generalHeldOut = stories('general-held-out.txt').map(encode);
  const generalReplay = stories('general-replay.txt').map(encode);
  const SEQ = 48;
  const trainRows = packSequences(pipTrain, SEQ);
  const replayRows = packSequences(generalReplay, SEQ);
  const validExamples: LmExample[] = pipHeldOut.map((d) => ({ inputIds: d }));
  const tokens = (docs: number[][]): number => docs.reduce((n, d) => n + d.length, 0);

  log(
    `tunekit demo: the stories260K Llama (${(base.numParameters() / 1000).toFixed(0)}K parameters, assets/stories260K) on ${backend} kernels (${kernels.simd}, ${kernels.threads} thread${kernels.threads === 1 ? '' : 's'})`,
  );
  log(
    `Task: learn to tell stories about Pip the purple penguin. Data (assets/demo): ${pipTrain.length} training stories (${trainRows.length} packed rows of ${SEQ} tokens), ${pipHeldOut.length} held-out Pip stories (${tokens(pipHeldOut)} tokens), ${generalHeldOut.length} held-out general stories (${tokens(generalHeldOut)} tokens), ${generalReplay.length} general stories for replay.`,
  );

  // ---- out folder: replace a previous demo's folder, never anything else (checked above)
  for (const name of [...DEMO_RUNS, 'charts', 'report.html'])
    rmSync(join(o.out, name), { recursive: true, force: true });
  mkdirSync(o.out, { recursive: true });
  writeFileSync(join(o.out, MARKER), 'written by `tunekit demo`; a new demo run replaces this folder\n');

  const collate = (ex: LmExample[]): ReturnType<typeof collateCausalLm> => collateCausalLm(ex, { padTokenId: eos });
  const loss = causalLmLossFn();
  const generalDesc = `assets/demo/general-held-out.txt (${generalHeldOut.length} general stories, ${tokens(generalHeldOut)} tokens)`;
  const metrics = (m: CausalLM): EvalMetrics => taskMetrics(m, pipHeldOut);
  const generalExamples: LmExample[] = generalHeldOut.map((d) => ({ inputIds: d }));
  // General perplexity over the stories' own next-token predictions (the registry's corpus
  // perplexity), not exp(trainer loss): with prompt tuning the loss also scores the first real token
  // from the last virtual one (as PEFT does), which would inflate the perplexity of that run only.
  const generalMetrics = (m: CausalLM): Record<string, number> => ({
    perplexity: taskMetrics(m, generalHeldOut).values.perplexity ?? NaN,
  });

  // ---- 1. the base model
  log('\n[1/6] The base model, before fine-tuning (metrics from the registry, bootstrap 95% intervals)');
  const before = taskScores(
    evaluate(base, validExamples, { collate, loss, batchSize: 8, metrics, bootstrap: { nSamples: nBoot } }),
    'base model',
  );
  const generalBefore = generalMetrics(base).perplexity ?? NaN;
  log(
    `  held-out Pip stories: perplexity ${f3(before.perplexity)} ${ci(before.perplexityCi)}, next-token accuracy ${f3(before.accuracy)} ${ci(before.accuracyCi)}`,
  );
  log(`  general stories:      perplexity ${f3(generalBefore)}`);
  const pipPrompt = tokenizer.encode('Once upon a time, there was a purple penguin named');
  const greedy = (m: CausalLM, prompt: number[], n: number, settings: LogitsSettings = {}): number[] =>
    generate(m, prompt, { maxNewTokens: n, ...settings }).tokens[0] ?? [];
  const text = (ids: readonly number[]): string => tokenizer.decode([...ids], { skipSpecialTokens: true });
  log(`  greedy: "${text([...pipPrompt, ...greedy(base, pipPrompt, 24)])}"`);

  // ---- 2. three runs
  const loraTargets = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'];
  const specs: Array<{ name: DemoRunName; what: string; config: PeftConfigBase; lr: number; replayRatio: number }> = [
    {
      name: 'lora',
      what: `LoRA r=${o.rank} on every linear layer`,
      config: loraConfig({
        targetModules: loraTargets,
        r: o.rank,
        loraAlpha: 2 * o.rank,
        seed: o.seed,
        baseModelNameOrPath: 'stories260K',
      }),
      lr: o.lr,
      replayRatio: 0,
    },
    {
      name: 'prompt-tuning',
      what: 'prompt tuning, 8 virtual tokens (initialised from a task description)',
      config: promptTuningConfig({
        taskType: 'CAUSAL_LM',
        numVirtualTokens: 8,
        promptTuningInit: 'TEXT',
        promptTuningInitText: 'a story about a penguin who bakes bread',
        tokenizerNameOrPath: DEFAULT_MODEL_DIR,
        seed: o.seed,
        baseModelNameOrPath: 'stories260K',
      }),
      lr: o.promptLr,
      replayRatio: 0,
    },
    {
      name: 'lora-replay',
      what: `LoRA r=${o.rank}, a quarter of each batch replayed from general stories`,
      config: loraConfig({
        targetModules: loraTargets,
        r: o.rank,
        loraAlpha: 2 * o.rank,
        seed: o.seed,
        baseModelNameOrPath: 'stories260K',
      }),
      lr: o.lr,
      replayRatio: 0.25,
    },
  ];
  log(
    `\n[2/6] Fine-tuning: ${specs.length} runs of ${o.steps} steps (batch 8, AdamW, constant learning rate), each logged to <run>/run.jsonl`,
  );
  const evalEvery = Math.max(1, Math.floor(o.steps / 4));
  const runs: DemoRunResult[] = [];
  const trained = new Map<DemoRunName, { model: CausalLM; peft: PeftModel<LlamaForCausalLM> }>();
  for (const spec of specs) {
    const dir = join(o.out, spec.name);
    const model = loadBase();
    const peft = getPeftModel(model, spec.config);
    const lm = peft as unknown as CausalLM;
    const trainable = peft.numParameters(true);
    log(`  ${spec.name}: ${spec.what}; ${trainable} trainable parameters; learning rate ${spec.lr}`);
    let firstLoss = NaN;
    let lastLoss = NaN;
    const started = performance.now();
    let result: ReturnType<typeof train>;
    try {
      result = train({
        model: lm,
        args: {
          batchSize: 8,
          maxSteps: o.steps,
          learningRate: spec.lr,
          lrScheduler: 'constant',
          weightDecay: 0,
          maxGradNorm: 1,
          seed: o.seed,
          evalEvery,
          outDir: dir,
          progress: 'none',
          bootstrapSamples: nBoot,
          ...(spec.replayRatio > 0 ? { replayRatio: spec.replayRatio } : {}),
        },
        train: trainRows,
        valid: validExamples,
        ...(spec.replayRatio > 0 ? { replay: replayRows } : {}),
        collate,
        loss,
        metrics,
        general: { examples: generalExamples, description: generalDesc, perplexity: false, metrics: generalMetrics },
        sample: (m): GeneratedSample[] => {
          const ids = greedy(m, pipPrompt, maxNew);
          return [{ prompt: text(pipPrompt), output: text([...pipPrompt, ...ids]), tokens: ids }];
        },
        saveModel: (d) => peft.savePretrained(d),
        describe: {
          model: { path: 'assets/stories260K', architecture: 'LlamaForCausalLM', parameters: model.numParameters() },
          method: { peftType: spec.config.peftType, config: { ...spec.config }, trainableParameters: trainable },
          task: 'causal-lm: Pip story adaptation (tunekit demo)',
          data: {
            train: trainRows.length,
            valid: validExamples.length,
            replay: spec.replayRatio > 0 ? replayRows.length : 0,
          },
        },
        callbacks: {
          onStep: (s) => {
            if (s.step === 1) firstLoss = s.loss;
            lastLoss = s.loss;
            if (s.step === 1 || s.step % evalEvery === 0 || s.step === o.steps)
              log(
                `    step ${String(s.step).padStart(3)}  loss ${s.loss.toFixed(4)}  grad-norm ${s.gradNorm.toFixed(3)}  ${(((performance.now() - started) / s.step) | 0).toString()} ms/step`,
              );
          },
        },
      });
    } catch (e) {
      if (e instanceof NonFiniteError)
        throw new Error(
          `demo: ${spec.name}: step ${e.step}: the loss is ${e.loss} and the gradient norm ${e.gradNorm}; training diverged (try a smaller --lr than ${o.lr}). Its adapter was not saved.`,
          { cause: e },
        );
      throw e;
    }
    const seconds = (performance.now() - started) / 1000;
    lm.eval();
    const after = taskScores(result.evals.at(-1), `${spec.name}: final evaluation`);
    const generalPerplexity = result.forgetting?.after.perplexity;
    if (generalPerplexity === undefined) throw new Error(`demo: ${spec.name}: the trainer measured no forgetting`);
    // The trainer evaluates during the run; the demo adds the starting model's evaluation (step 0).
    const runLog = new RunLog(join(dir, 'run.jsonl'));
    runLog.write('eval', evalRecord(0, before));
    runLog.close();

    // Saved in PEFT's format, reloaded on a fresh base: the logits must be identical.
    const reloaded = PeftModel.fromPretrained(loadBase(), join(dir, 'adapter')) as unknown as CausalLM;
    const probe = { inputIds: Int32Array.from(pipPrompt) };
    const reloadMaxDiff = noGrad(() => maxAbsDiff(lm.forward(probe).logits.f32, reloaded.forward(probe).logits.f32));
    runs.push({
      name: spec.name,
      dir,
      trainableParameters: trainable,
      firstLoss,
      lastLoss,
      seconds,
      after,
      generalPerplexity,
      reloadMaxDiff,
    });
    trained.set(spec.name, { model: lm, peft });
  }

  // ---- 3. task metrics before / after
  log('\n[3/6] Held-out Pip stories, before and after (bootstrap 95% intervals)');
  const pad = (s: string, n: number): string => s.padEnd(n);
  log(`  ${pad('model', 16)}${pad('trainable', 11)}${pad('loss', 17)}${pad('perplexity', 26)}next-token accuracy`);
  log(
    `  ${pad('base', 16)}${pad('-', 11)}${pad('-', 17)}${pad(`${f3(before.perplexity)} ${ci(before.perplexityCi)}`, 26)}${f3(before.accuracy)} ${ci(before.accuracyCi)}`,
  );
  for (const r of runs)
    log(
      `  ${pad(r.name, 16)}${pad(String(r.trainableParameters), 11)}${pad(`${f3(r.firstLoss)} -> ${f3(r.lastLoss)}`, 17)}${pad(`${f3(r.after.perplexity)} ${ci(r.after.perplexityCi)}`, 26)}${f3(r.after.accuracy)} ${ci(r.after.accuracyCi)}`,
    );

  // ---- 4. forgetting
  const byName = (n: DemoRunName): DemoRunResult => {
    const r = runs.find((x) => x.name === n);
    if (!r) throw new Error(`demo: no run ${n}`);
    return r;
  };
  log('\n[4/6] Forgetting: perplexity on held-out general stories (lower is better)');
  log(`  base model ${f3(generalBefore)}`);
  for (const r of runs) log(`  after ${pad(r.name, 14)}${f3(r.generalPerplexity)}`);

  // ---- 5. repetition controls
  const controls: LogitsSettings = { repetitionPenalty: 1.3, noRepeatNgramSize: 3 };
  const plainLabel = 'greedy';
  const controlledLabel = 'greedy, repetition penalty 1.3, no repeated 3-grams';
  const loraModel = trained.get('lora')?.model;
  if (!loraModel) throw new Error('demo: the LoRA run is missing');
  const genPrompts = [
    'Once upon a time, there was a purple penguin named Pip.',
    'One day, a little girl named Lily went to the park.',
  ].map((p) => tokenizer.encode(p));
  const genLen = o.quick ? 32 : 80;
  const gens = (settings: LogitsSettings): number[][] => genPrompts.map((p) => greedy(loraModel, p, genLen, settings));
  const plainIds = gens({});
  const controlledIds = gens(controls);
  const repetitionOf = (seqs: number[][]): Record<string, number> => {
    const predictions = seqs.map((s) => s.map(String));
    const out: Record<string, number> = {};
    for (const n of [2, 3, 4])
      out[`rep-${n}`] = computeMetrics(['rep'], { predictions }, { rep: { n } }).rep?.score ?? NaN;
    for (const n of [1, 2])
      out[`distinct-${n}`] = computeMetrics(['distinct'], { predictions }, { distinct: { n } }).distinct?.score ?? NaN;
    return out;
  };
  const repPlain = repetitionOf(plainIds);
  const repControlled = repetitionOf(controlledIds);
  log(`\n[5/6] Generation with the LoRA model, ${genLen} new tokens (rep-n and distinct-n over token ids)`);
  // Decoded with their prompt (a word split across the boundary keeps its space).
  const withPrompt = (ids: number[], i: number): string => text([...(genPrompts[i] ?? []), ...ids]);
  const plainTexts = plainIds.map(withPrompt);
  const controlledTexts = controlledIds.map(withPrompt);
  for (const [label, texts, rep] of [
    [plainLabel, plainTexts, repPlain],
    [controlledLabel, controlledTexts, repControlled],
  ] as const) {
    log(
      `  ${label}: ${Object.entries(rep)
        .map(([k, v]) => `${k} ${f3(v)}`)
        .join(', ')}`,
    );
    log(`    "${texts[0] ?? ''}"`);
  }
  {
    const runLog = new RunLog(join(byName('lora').dir, 'run.jsonl'));
    for (const [label, ids, rep] of [
      [plainLabel, plainIds, repPlain],
      [controlledLabel, controlledIds, repControlled],
    ] as const) {
      runLog.write('samples', {
        step: o.steps,
        label,
        items: ids.map((s, i) => ({ prompt: text(genPrompts[i] ?? []), output: withPrompt(s, i) })),
      });
      runLog.write('repetition', { step: o.steps, label, metrics: rep });
    }
    runLog.close();
  }

  // ---- 6. adapters and report
  log('\n[6/6] Adapters and report');
  for (const r of runs)
    log(
      `  ${relative(process.cwd(), join(r.dir, 'adapter')) || '.'}: PEFT format, reloaded on a fresh base: max |Δlogit| = ${r.reloadMaxDiff}`,
    );
  const report = await writeReport(
    runs.map((r) => r.dir),
    { out: join(o.out, 'report.html') },
  );
  for (const r of runs) await writeReport([r.dir]);
  const seconds = (performance.now() - t0) / 1000;
  const rel = (p: string): string => relative(process.cwd(), p) || '.';
  log(`  run logs: ${runs.map((r) => rel(join(r.dir, 'run.jsonl'))).join(', ')}`);
  log(`  each run's report: <run>/report.html; charts as SVG and PNG in <run>/charts/`);
  log(
    `\nReport of the three runs side by side: ${rel(report.html)} (${report.charts.length} charts, also in ${rel(report.chartsDir)}/)`,
  );
  log(`Demo finished in ${seconds.toFixed(1)} s.`);
  log('\nThe same with a model from the Hugging Face Hub:');
  for (const c of HUB_COMMANDS) log(`  ${c}`);
  return {
    out: o.out,
    report: report.html,
    chartsDir: report.chartsDir,
    charts: report.charts.length,
    before,
    generalBefore,
    runs,
    repetition: { plain: repPlain, controlled: repControlled },
    generations: { plain: plainTexts, controlled: controlledTexts },
    seconds,
  };
}

export function register(program: Command): void {
  program
    .command('demo')
    .description(
      'the whole job offline on the embedded stories260K model: LoRA and prompt tuning, metrics before/after, forgetting, repetition controls, HTML report',
    )
    .option('--out <dir>', 'the demo folder (its run folders and report)', join('runs', 'demo'))
    .option('--steps <n>', 'optimizer steps of each run (default 30, 8 with --quick)')
    .option('--quick', 'a fast variant (fewer steps, shorter generations)')
    .option('--lr <x>', 'LoRA learning rate', '0.003')
    .option('--prompt-lr <x>', 'prompt-tuning learning rate', '0.2')
    .option('--rank <r>', 'LoRA rank', '8')
    .option('--seed <s>', 'random seed', '0')
    .action(
      async (o: {
        steps?: string;
        lr: string;
        promptLr: string;
        rank: string;
        seed: string;
        out: string;
        quick?: boolean;
      }) => {
        const num = (name: string, v: string, int: boolean): number => {
          const x = Number(v);
          if (v.trim() === '' || !Number.isFinite(x) || (int && !Number.isInteger(x)) || x < 0)
            throw new Error(`--${name}: expected a ${int ? 'non-negative integer' : 'number'}, got "${v}"`);
          return x;
        };
        await runDemo({
          ...(o.steps !== undefined ? { steps: num('steps', o.steps, true) } : {}),
          lr: num('lr', o.lr, false),
          promptLr: num('prompt-lr', o.promptLr, false),
          rank: num('rank', o.rank, true),
          seed: num('seed', o.seed, true),
          quick: o.quick === true,
          out: o.out,
        });
      },
    );
}
