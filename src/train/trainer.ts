/**
 * The training loop, shaped like MLX-LM's `tuner/trainer.py`: a plain {@link TrainingArgs} object
 * and plain {@link train} / {@link evaluate} functions, a swappable loss and collator, callbacks.
 *
 * Numerics follow what a transformers Trainer run does, so a Python user can reproduce a run:
 * - one optimizer step consumes `batchSize × gradientAccumulationSteps` examples; the loss of each
 *   micro-batch is weighted by its share of the label tokens (or examples) of the whole accumulated
 *   batch, so accumulation equals one big batch (transformers >= 4.46);
 * - gradients are clipped by their global L2 norm (reported before clipping);
 * - the learning rate follows transformers' schedules (schedule.ts), step s using factor(s - 1);
 * - AdamW is torch.optim.AdamW (decoupled weight decay), SGD is torch.optim.SGD.
 *
 * The first non-finite loss or gradient stops the run with an error (logged; the step is not
 * applied, nothing is saved from it). Data order is a seeded permutation per epoch (or the file
 * order with `shuffle: false`), so a resumed run sees exactly the batches it would have seen.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeSafetensors } from '../io/safetensors.js';
import { bootstrapMetric, type MetricInputs, type MetricOptions } from '../metrics/registry.js';
import { distinctN, meanRepN } from '../metrics/repetition.js';
import type { Module } from '../nn/module.js';
import * as F from '../tensor/ops.js';
import { Rng } from '../tensor/random.js';
import { noGrad, type Tensor } from '../tensor/tensor.js';
import {
  listCheckpoints,
  loadCheckpoint,
  moduleRngs,
  saveCheckpoint,
  writeFolderWhole,
  type TrainerState,
} from './checkpoint.js';
import { AdamW, SGD, clipGradNorm, type Optimizer } from './optim.js';
import { Progress, RunLog, type ProgressMode } from './run-log.js';
import { SCHEDULER_TYPES, scheduleFactor, warmupStepsFor, type SchedulerType } from './schedule.js';
import { isStreamingDataset, shuffleBuffer, type StreamingDataset } from './streaming.js';

/** Everything that shapes a run. Defaults follow transformers' TrainingArguments where one exists. */
export interface TrainingArgs {
  /** Examples per micro-batch (per_device_train_batch_size; default 8). */
  batchSize?: number;
  /** Micro-batches per optimizer step (default 1). */
  gradientAccumulationSteps?: number;
  /** Optimizer steps to take; overrides `epochs` when set. */
  maxSteps?: number;
  /** Passes over the training data (default 1, used when maxSteps is unset). */
  epochs?: number;
  /** Peak learning rate (default 5e-5). */
  learningRate?: number;
  optimizer?: 'adamw' | 'sgd';
  /** AdamW's decoupled decay or SGD's L2 term (default 0, as transformers). */
  weightDecay?: number;
  adamBetas?: [number, number];
  adamEpsilon?: number;
  /** SGD momentum (default 0) and Nesterov switch. */
  momentum?: number;
  nesterov?: boolean;
  lrScheduler?: SchedulerType;
  warmupSteps?: number;
  warmupRatio?: number;
  /** Global L2-norm clip (default 1.0; 0 turns clipping off). */
  maxGradNorm?: number;
  /** One seed for data order, dropout streams seeded by the model, NEFTune noise, replay draws (default 42). */
  seed?: number;
  /** Shuffle each epoch (default true); false keeps the data order fixed so runs compare step by step. */
  shuffle?: boolean;
  /** Group examples of similar length into batches (less padding); the batches are then shuffled. */
  groupByLength?: boolean;
  /** Evaluate on the validation data every N optimizer steps (0 = only at the end; default 0). */
  evalEvery?: number;
  /** Batch size for evaluation (default batchSize). */
  evalBatchSize?: number;
  /** Write a checkpoint every N steps (0 = none; default 0). */
  saveEvery?: number;
  /** Keep at most this many step checkpoints (oldest removed; default all). */
  saveTotalLimit?: number;
  /** Run folder (run.jsonl, adapter/, best/, checkpoints/). Without it nothing is written. */
  outDir?: string;
  /** Resume from a checkpoint folder, or 'latest' under outDir/checkpoints. */
  resumeFrom?: string;
  /** Watched metric ("loss" or a task metric name), for best checkpoint and early stopping. */
  metricForBest?: string;
  /** Whether larger is better for metricForBest (default false for loss, true otherwise). */
  greaterIsBetter?: boolean;
  /** Stop after this many evaluations without improvement (0 = never; default 0). */
  earlyStoppingPatience?: number;
  /** Progress display (default 'auto': a bar on a terminal, lines otherwise). */
  progress?: ProgressMode;
  /** Plain progress lines every N steps (default 10). */
  logEvery?: number;
  /**
   * Pull toward the starting weights, (strength / 2) Σ (w - w0)² over trainable weights (L2-SP,
   * Li et al. 2018). Default 0.
   */
  l2spStrength?: number;
  /** Fraction of each optimizer step's examples drawn from the replay set (0..1; default 0). */
  replayRatio?: number;
  /**
   * Bootstrap resamples for 95% confidence intervals of the evaluation metrics (0 = none, the
   * default; sacrebleu uses 1000). Needs the task's metrics to return their per-item inputs
   * ({@link EvalMetrics}.evidence); each interval is src/metrics' bootstrapMetric, seeded by `seed`.
   */
  bootstrapSamples?: number;
}

/**
 * The per-item inputs behind one logged metric, so its confidence interval can be bootstrapped:
 * the registry metric (src/metrics), its options, the predictions and references. The logged
 * value must be `scale` × the registry's main score (e.g. scale 100 for SQuAD-style percent).
 */
export interface MetricEvidence {
  metric: string;
  options?: MetricOptions;
  inputs: MetricInputs;
  scale?: number;
}

/** What a task's metrics function may return instead of plain numbers: the values and their evidence. */
export interface EvalMetrics {
  values: Record<string, number>;
  /** By logged metric name (a key of `values`): the inputs to bootstrap its interval from. */
  evidence?: Record<string, MetricEvidence>;
}

/** A task's metrics at an evaluation: plain values, or values with their per-item evidence. */
export type MetricsFn<M, E> = (model: M, examples: readonly E[]) => Record<string, number> | EvalMetrics;

/**
 * A general (held-out, not task) set measured before and after training, for the `forgetting`
 * record (docs/run-log.md): its mean loss, perplexity = exp(loss) for a token-level LM loss,
 * and any metrics (e.g. accuracy).
 */
export interface GeneralSet<M, E> {
  examples: readonly E[];
  /** What the set is, for the record (default "general set (N examples)"). */
  description?: string;
  /** Report exp(loss) as `perplexity` (default true; false for a per-example loss such as classification's). */
  perplexity?: boolean;
  metrics?: MetricsFn<M, E>;
}

/** A collated batch: what the loss averages over and how many tokens it processed. */
export interface Batch {
  /** Label tokens (language modelling) or examples (classification) the loss is a mean over. */
  count: number;
  /** Input tokens processed (tokens/s). */
  tokens: number;
}

/** Mean loss of a batch (over `batch.count`), differentiable with respect to the trainable weights. */
export type LossFn<M extends Module, B extends Batch> = (model: M, batch: B, ctx: LossContext) => Tensor;

/** Handed to the loss: whether it is a training call and the run's generator (NEFTune noise). */
export interface LossContext {
  training: boolean;
  rng: Rng;
}

/**
 * Models may offer extra loss terms (e.g. a mixture-of-experts load-balancing loss): as
 * `auxiliaryLoss()` or, as a PeftModel does, `extraLoss()`.
 */
export interface HasAuxiliaryLoss {
  /** Extra loss from the last forward (already weighted by the model's coefficient), or null. */
  auxiliaryLoss(): Tensor | null;
}

type AuxiliaryLossOwner = Partial<HasAuxiliaryLoss> & { extraLoss?: () => Tensor | null };

function auxiliaryLossOf(model: Module): Tensor | null {
  const m = model as AuxiliaryLossOwner;
  if (typeof m.auxiliaryLoss === 'function') return m.auxiliaryLoss();
  return typeof m.extraLoss === 'function' ? m.extraLoss() : null;
}

/**
 * Mixture-of-experts adapters keep their balancing loss on the PeftModel: training the bare base
 * model would silently drop it, so that is an error.
 */
function checkAuxiliaryLossReachable(model: Module, named: ReadonlyArray<[string, Tensor]>): void {
  const m = model as AuxiliaryLossOwner;
  if (typeof m.auxiliaryLoss === 'function' || typeof m.extraLoss === 'function') return;
  const moe = named.find(([p]) => /(^|\.)moe_lora\./.test(p));
  if (moe)
    throw new Error(
      `train: ${moe[0]} is a mixture-of-experts adapter weight, but the model given has no extraLoss(): pass the PeftModel (getPeftModel's result), not its base model, so the router's balancing loss is trained`,
    );
}

/** A penalty on the weights, added to every optimizer step's loss (L2-SP, EWC). */
export interface Regularizer {
  name: string;
  /** The penalty (a scalar Tensor) for the current trainable weights. */
  penalty(): Tensor;
}

/** What the trainer reports after each optimiser step. */
export interface StepInfo {
  step: number;
  epoch: number;
  loss: number;
  lr: number;
  gradNorm: number;
  tokens: number;
  tokensPerSec: number;
  elapsedSec: number;
}

/** Result of {@link evaluate}: the loss, any metrics and their bootstrap intervals. */
export interface EvalResult {
  loss: number;
  metrics: Record<string, number>;
  /** [low, high] per metric, when bootstrapping was asked for (confidence 0.95 unless set). */
  ci?: Record<string, [number, number]>;
}

/** Called as the run goes; a callback may return 'stop' to end the run after this step. */
export interface TrainCallbacks {
  /** Called after every optimizer step. */
  onStep?(info: StepInfo): void | 'stop';
  /** Called after every evaluation. */
  onEval?(step: number, result: EvalResult): void | 'stop';
  /** Called after a checkpoint is written. */
  onCheckpoint?(step: number, path: string, best: boolean): void;
}

/** Everything {@link train} needs: model, arguments, data, collator, loss and callbacks. */
export interface TrainOptions<M extends Module, E, B extends Batch> {
  model: M;
  args: TrainingArgs;
  /**
   * The training examples: an array, or a {@link StreamingDataset} (read pass by pass, shuffled in a
   * bounded buffer; needs {@link trainAsync} and `maxSteps`).
   */
  train: readonly E[] | StreamingDataset<E>;
  valid?: readonly E[];
  /** Turns a list of examples into one batch. */
  collate: (examples: E[]) => B;
  loss: LossFn<M, B>;
  /**
   * Task metrics at each evaluation (beyond the loss), e.g. accuracy; same names as the registry.
   * Returning {@link EvalMetrics} with evidence lets `bootstrapSamples` add confidence intervals.
   */
  metrics?: MetricsFn<M, E>;
  /** Measured before and after training: the `forgetting` record and TrainResult.forgetting. */
  general?: GeneralSet<M, E>;
  /** Length of an example (tokens), for groupByLength. */
  lengthOf?: (example: E) => number;
  /** General data mixed into each step (replayRatio), same shape as the training examples. */
  replay?: readonly E[];
  regularizers?: Regularizer[];
  callbacks?: TrainCallbacks;
  /**
   * Generations at each evaluation (e.g. sampled continuations of validation prompts): logged as a
   * `samples` record, with distinct-n and rep-n over their token ids as a `repetition` record.
   */
  sample?: (model: M) => GeneratedSample[];
  /** Write the adapter (PEFT folder) or model; default: the trainable weights as safetensors. */
  saveModel?: (dir: string) => void;
  /** What the config record says about the model, method and task (docs/run-log.md). */
  describe?: {
    model?: Record<string, unknown>;
    method?: Record<string, unknown>;
    task?: string;
    data?: Record<string, number>;
  };
  /** Where progress lines go (default stderr). */
  print?: (line: string) => void;
}

/** One generation at an evaluation: its text, and the generated token ids (for repetition metrics). */
export interface GeneratedSample {
  prompt: string;
  output: string;
  reference?: string;
  tokens: readonly number[];
}

/** distinct-1/2 (corpus) and rep-2/3/4 (mean over generations) of generated token ids. */
export function repetitionMetrics(seqs: ReadonlyArray<readonly number[]>): Record<string, number> {
  const out: Record<string, number> = {};
  const usable = seqs.filter((s) => s.length > 0);
  if (usable.length === 0) return out;
  for (const n of [1, 2]) {
    const v = distinctN(usable, n);
    if (Number.isFinite(v)) out[`distinct-${n}`] = v;
  }
  for (const n of [2, 3, 4]) {
    const v = meanRepN(usable, n);
    if (Number.isFinite(v)) out[`rep-${n}`] = v;
  }
  return out;
}

/** What {@link train} returns. */
export interface TrainResult {
  steps: number;
  reason: 'completed' | 'early-stopped' | 'max-steps' | 'callback';
  best: TrainerState['best'];
  history: StepInfo[];
  evals: Array<{ step: number } & EvalResult>;
  repetition: Array<{ step: number; metrics: Record<string, number> }>;
  /** General-set figures before and after training (when `general` was given). */
  forgetting?: { general: string; before: Record<string, number>; after: Record<string, number> };
  elapsedSec: number;
}

/** Raised for a non-finite loss or gradient; `step` is the optimizer step that met it. */
export class NonFiniteError extends Error {
  /** The step's loss and gradient norm so far (NaN where not reached). */
  constructor(
    readonly step: number,
    what: string,
    readonly loss = NaN,
    readonly gradNorm = NaN,
  ) {
    super(
      `step ${step}: non-finite ${what}; stopping (nothing from this step was applied or saved). Lower the learning rate, check the data, or clip gradients.`,
    );
    this.name = 'NonFiniteError';
  }
}

/** Resolved arguments with every default filled in. */
export type ResolvedArgs = Required<
  Omit<TrainingArgs, 'maxSteps' | 'outDir' | 'resumeFrom' | 'metricForBest' | 'greaterIsBetter' | 'warmupRatio'>
> &
  Pick<TrainingArgs, 'maxSteps' | 'outDir' | 'resumeFrom' | 'metricForBest' | 'greaterIsBetter' | 'warmupRatio'>;

/** Fill defaults and check every field (a bad field is an error naming it). */
export function resolveArgs(args: TrainingArgs): ResolvedArgs {
  const known = new Set([
    'batchSize',
    'gradientAccumulationSteps',
    'maxSteps',
    'epochs',
    'learningRate',
    'optimizer',
    'weightDecay',
    'adamBetas',
    'adamEpsilon',
    'momentum',
    'nesterov',
    'lrScheduler',
    'warmupSteps',
    'warmupRatio',
    'maxGradNorm',
    'seed',
    'shuffle',
    'groupByLength',
    'evalEvery',
    'evalBatchSize',
    'saveEvery',
    'saveTotalLimit',
    'outDir',
    'resumeFrom',
    'metricForBest',
    'greaterIsBetter',
    'earlyStoppingPatience',
    'progress',
    'logEvery',
    'l2spStrength',
    'replayRatio',
    'bootstrapSamples',
  ]);
  for (const k of Object.keys(args)) if (!known.has(k)) throw new Error(`TrainingArgs: unknown field "${k}"`);
  const posInt = (k: keyof TrainingArgs, v: number, min = 1): number => {
    if (!Number.isInteger(v) || v < min) throw new Error(`TrainingArgs.${k}: expected an integer >= ${min}, got ${v}`);
    return v;
  };
  const nonNeg = (k: keyof TrainingArgs, v: number): number => {
    if (!(Number.isFinite(v) && v >= 0)) throw new Error(`TrainingArgs.${k}: expected a finite number >= 0, got ${v}`);
    return v;
  };
  const batchSize = posInt('batchSize', args.batchSize ?? 8);
  const r: ResolvedArgs = {
    batchSize,
    gradientAccumulationSteps: posInt('gradientAccumulationSteps', args.gradientAccumulationSteps ?? 1),
    epochs: nonNeg('epochs', args.epochs ?? 1),
    learningRate: nonNeg('learningRate', args.learningRate ?? 5e-5),
    optimizer: args.optimizer ?? 'adamw',
    weightDecay: nonNeg('weightDecay', args.weightDecay ?? 0),
    adamBetas: args.adamBetas ?? [0.9, 0.999],
    adamEpsilon: nonNeg('adamEpsilon', args.adamEpsilon ?? 1e-8),
    momentum: nonNeg('momentum', args.momentum ?? 0),
    nesterov: args.nesterov ?? false,
    lrScheduler: args.lrScheduler ?? 'linear',
    warmupSteps: posInt('warmupSteps', args.warmupSteps ?? 0, 0),
    maxGradNorm: nonNeg('maxGradNorm', args.maxGradNorm ?? 1),
    seed: posInt('seed', args.seed ?? 42, 0),
    shuffle: args.shuffle ?? true,
    groupByLength: args.groupByLength ?? false,
    evalEvery: posInt('evalEvery', args.evalEvery ?? 0, 0),
    evalBatchSize: posInt('evalBatchSize', args.evalBatchSize ?? batchSize),
    saveEvery: posInt('saveEvery', args.saveEvery ?? 0, 0),
    saveTotalLimit: posInt('saveTotalLimit', args.saveTotalLimit ?? 0, 0),
    earlyStoppingPatience: posInt('earlyStoppingPatience', args.earlyStoppingPatience ?? 0, 0),
    progress: args.progress ?? 'auto',
    logEvery: posInt('logEvery', args.logEvery ?? 10),
    l2spStrength: nonNeg('l2spStrength', args.l2spStrength ?? 0),
    replayRatio: nonNeg('replayRatio', args.replayRatio ?? 0),
    bootstrapSamples: posInt('bootstrapSamples', args.bootstrapSamples ?? 0, 0),
  };
  if (args.maxSteps !== undefined) r.maxSteps = posInt('maxSteps', args.maxSteps, 0);
  if (args.outDir !== undefined) r.outDir = args.outDir;
  if (args.resumeFrom !== undefined) r.resumeFrom = args.resumeFrom;
  if (args.metricForBest !== undefined) r.metricForBest = args.metricForBest;
  if (args.greaterIsBetter !== undefined) r.greaterIsBetter = args.greaterIsBetter;
  if (args.warmupRatio !== undefined) r.warmupRatio = args.warmupRatio;
  if (r.optimizer !== 'adamw' && r.optimizer !== 'sgd')
    throw new Error(`TrainingArgs.optimizer: expected "adamw" or "sgd", got "${String(r.optimizer)}"`);
  if (!SCHEDULER_TYPES.includes(r.lrScheduler))
    throw new Error(
      `TrainingArgs.lrScheduler: expected one of ${SCHEDULER_TYPES.join(', ')}, got "${String(r.lrScheduler)}"`,
    );
  if (!['auto', 'bar', 'lines', 'none'].includes(r.progress))
    throw new Error(`TrainingArgs.progress: expected auto, bar, lines or none, got "${String(r.progress)}"`);
  if (r.replayRatio >= 1)
    throw new Error(`TrainingArgs.replayRatio: expected a fraction in [0, 1), got ${r.replayRatio}`);
  if (r.resumeFrom !== undefined && r.resumeFrom === 'latest' && !r.outDir)
    throw new Error('TrainingArgs.resumeFrom "latest" needs outDir');
  if ((r.earlyStoppingPatience > 0 || r.metricForBest) && r.evalEvery === 0)
    throw new Error('TrainingArgs: metricForBest / earlyStoppingPatience need evalEvery > 0');
  return r;
}

/** Derive an independent seed for a purpose (epoch order, replay, noise) from the run's seed. */
export function subSeed(seed: number, ...parts: number[]): number {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  for (const p of parts) h = Math.imul(h ^ (p >>> 0), 0x85ebca6b) ^ (h >>> 13);
  return h >>> 0;
}

/**
 * The example indices of each optimizer step of an epoch: a seeded permutation (or file order),
 * optionally grouped by length, cut into steps of `perStep` examples (a last partial step is kept).
 */
export function epochPlan(
  n: number,
  perStep: number,
  epoch: number,
  args: Pick<ResolvedArgs, 'seed' | 'shuffle' | 'groupByLength' | 'batchSize'>,
  lengthOf?: (i: number) => number,
): number[][] {
  const order = Array.from({ length: n }, (_, i) => i);
  const rng = new Rng(subSeed(args.seed, 1, epoch));
  if (args.shuffle) rng.shuffle(order);
  let groups: number[][] = [];
  if (args.groupByLength) {
    if (!lengthOf) throw new Error('groupByLength needs the task to give example lengths');
    // As transformers' LengthGroupedSampler: mega-batches of 50 batches sorted by length.
    const mega = 50 * perStep;
    const sorted: number[] = [];
    for (let i = 0; i < order.length; i += mega)
      sorted.push(...order.slice(i, i + mega).sort((a, b) => lengthOf(b) - lengthOf(a)));
    for (let i = 0; i < sorted.length; i += perStep) groups.push(sorted.slice(i, i + perStep));
    if (args.shuffle) rng.shuffle(groups);
  } else {
    for (let i = 0; i < order.length; i += perStep) groups.push(order.slice(i, i + perStep));
  }
  groups = groups.filter((g) => g.length > 0);
  return groups;
}

/**
 * Evaluate: the mean loss over every example's count, plus the task metrics and, with
 * `bootstrap.nSamples > 0`, each metric's bootstrap confidence interval (metrics whose function
 * returned evidence for them; a requested interval without evidence is an error, never skipped).
 */
export function evaluate<M extends Module, E, B extends Batch>(
  model: M,
  examples: readonly E[],
  opts: {
    collate: (examples: E[]) => B;
    loss: LossFn<M, B>;
    batchSize: number;
    metrics?: MetricsFn<M, E>;
    seed?: number;
    /** Bootstrap settings (src/metrics' bootstrapMetric); nSamples 0 or unset: no intervals. */
    bootstrap?: { nSamples: number; confidence?: number; seed?: number };
  },
): EvalResult {
  const wasTraining = model.training;
  model.eval();
  try {
    let sum = 0;
    let count = 0;
    const rng = new Rng(opts.seed ?? 0);
    noGrad(() => {
      for (let i = 0; i < examples.length; i += opts.batchSize) {
        const batch = opts.collate(examples.slice(i, i + opts.batchSize));
        if (batch.count === 0) continue;
        const l = opts.loss(model, batch, { training: false, rng }).item();
        sum += l * batch.count;
        count += batch.count;
      }
    });
    const metricsFn = opts.metrics;
    const raw = metricsFn ? noGrad(() => metricsFn(model, examples)) : {};
    const { values: metrics, evidence } = isEvalMetrics(raw) ? raw : { values: raw, evidence: undefined };
    const result: EvalResult = { loss: count > 0 ? sum / count : NaN, metrics: { ...metrics } };
    const nSamples = opts.bootstrap?.nSamples ?? 0;
    if (nSamples > 0 && Object.keys(metrics).length > 0) {
      if (!evidence)
        throw new Error(
          `evaluate: confidence intervals were asked for (bootstrap ${nSamples}), but the task's metrics function returned no per-item evidence for ${Object.keys(metrics).join(', ')}`,
        );
      result.ci = metricIntervals(metrics, evidence, {
        nSamples,
        confidence: opts.bootstrap?.confidence ?? 0.95,
        seed: opts.bootstrap?.seed ?? opts.seed ?? 12345,
      });
    }
    return result;
  } finally {
    model.train(wasTraining);
  }
}

function isEvalMetrics(v: Record<string, number> | EvalMetrics): v is EvalMetrics {
  const values = (v as { values?: unknown }).values;
  return values !== null && typeof values === 'object';
}

/**
 * Bootstrap intervals of the logged metrics that have evidence (metrics without evidence get no
 * interval). The evidence must reproduce the logged value: a mismatch is an error, since an
 * interval around another number would mislead.
 */
export function metricIntervals(
  values: Record<string, number>,
  evidence: Record<string, MetricEvidence>,
  bootstrap: { nSamples: number; confidence: number; seed: number },
): Record<string, [number, number]> {
  const out: Record<string, [number, number]> = {};
  for (const name of Object.keys(evidence)) {
    const ev = evidence[name];
    const value = values[name];
    if (ev === undefined) continue;
    if (value === undefined) throw new Error(`metric evidence for "${name}", which is not among the metrics logged`);
    const scale = ev.scale ?? 1;
    const r = bootstrapMetric(ev.metric, ev.inputs, ev.options ?? {}, bootstrap);
    if (Math.abs(r.score * scale - value) > 1e-9 * Math.max(1, Math.abs(value)))
      throw new Error(
        `metric "${name}": logged ${value}, but its evidence (${ev.metric}) scores ${r.score * scale}; the interval would be about another number`,
      );
    const lo = r.low * scale;
    const hi = r.high * scale;
    if (Number.isFinite(lo) && Number.isFinite(hi)) out[name] = [lo, hi];
  }
  return out;
}

/** Loss, perplexity (when asked for) and metrics of a general set, for the forgetting record. */
function measureGeneral<M extends Module, E, B extends Batch>(
  model: M,
  general: GeneralSet<M, E>,
  opts: { collate: (examples: E[]) => B; loss: LossFn<M, B>; batchSize: number; seed: number },
): Record<string, number> {
  const r = evaluate(model, general.examples, {
    ...opts,
    ...(general.metrics ? { metrics: general.metrics } : {}),
  });
  const out: Record<string, number> = { loss: r.loss };
  if (general.perplexity ?? true) out.perplexity = Math.exp(r.loss);
  for (const [k, v] of Object.entries(r.metrics)) out[k] = v;
  for (const [k, v] of Object.entries(out))
    if (!Number.isFinite(v)) throw new Error(`general set: ${k} is ${v}; expected a finite number`);
  return out;
}

/** L2-SP: (strength / 2) Σ ||w - w0||² over the trainable weights, w0 their values at the start. */
export function l2spRegularizer(params: ReadonlyArray<[string, Tensor]>, strength: number): Regularizer {
  const anchors = params.map(([, t]) => F.tensor(Float32Array.from(t.f32), t.shape));
  return {
    name: 'l2sp',
    penalty(): Tensor {
      let total: Tensor | null = null;
      params.forEach(([, t], i) => {
        const d = F.sub(t, anchors[i]!);
        const s = F.sum(F.mul(d, d));
        total = total ? F.add(total, s) : s;
      });
      return F.scale(total ?? F.tensor([0], []), strength / 2);
    },
  };
}

/**
 * Elastic weight consolidation (Kirkpatrick et al. 2017): (strength / 2) Σ F_i (w_i - w0_i)², with
 * F the diagonal empirical Fisher (mean squared gradient of the general-data loss at w0).
 */
export function ewcRegularizer(
  params: ReadonlyArray<[string, Tensor]>,
  fisher: readonly Float32Array[],
  strength: number,
): Regularizer {
  if (fisher.length !== params.length)
    throw new Error(`ewcRegularizer: ${fisher.length} Fisher vectors for ${params.length} parameters`);
  const anchors = params.map(([, t]) => F.tensor(Float32Array.from(t.f32), t.shape));
  const weights = params.map(([name, t], i) => {
    const f = fisher[i]!;
    if (f.length !== t.size)
      throw new Error(`ewcRegularizer: Fisher vector for "${name}" has ${f.length} entries, expected ${t.size}`);
    return F.tensor(f, t.shape);
  });
  return {
    name: 'ewc',
    penalty(): Tensor {
      let total: Tensor | null = null;
      params.forEach(([, t], i) => {
        const d = F.sub(t, anchors[i]!);
        const s = F.sum(F.mul(weights[i]!, F.mul(d, d)));
        total = total ? F.add(total, s) : s;
      });
      return F.scale(total ?? F.tensor([0], []), strength / 2);
    },
  };
}

/** Diagonal empirical Fisher of the loss over `examples` (one backward per batch). */
export function diagonalFisher<M extends Module, E, B extends Batch>(
  model: M,
  examples: readonly E[],
  opts: { collate: (e: E[]) => B; loss: LossFn<M, B>; batchSize: number },
): Float32Array[] {
  const params = model.trainableParameters().map(([, t]) => t);
  const fisher = params.map((t) => new Float32Array(t.size));
  let batches = 0;
  const rng = new Rng(0);
  for (let i = 0; i < examples.length; i += opts.batchSize) {
    for (const p of params) p.grad = null;
    const batch = opts.collate(examples.slice(i, i + opts.batchSize));
    opts.loss(model, batch, { training: false, rng }).backward();
    params.forEach((p, j) => {
      const g = p.grad;
      const f = fisher[j]!;
      if (g) for (let k = 0; k < g.length; k++) f[k] = f[k]! + g[k]! * g[k]!;
    });
    batches++;
  }
  for (const p of params) p.grad = null;
  for (const f of fisher) for (let k = 0; k < f.length; k++) f[k] = f[k]! / Math.max(1, batches);
  return fisher;
}

function buildOptimizer(params: Tensor[], a: ResolvedArgs): Optimizer {
  return a.optimizer === 'sgd'
    ? new SGD(params, { lr: a.learningRate, momentum: a.momentum, nesterov: a.nesterov, weightDecay: a.weightDecay })
    : new AdamW(params, { lr: a.learningRate, betas: a.adamBetas, eps: a.adamEpsilon, weightDecay: a.weightDecay });
}

/** Default model writer: the trainable weights, by path, as model.safetensors. */
function saveTrainable(model: Module): (dir: string) => void {
  return (dir) => {
    mkdirSync(dir, { recursive: true });
    writeSafetensors(
      join(dir, 'model.safetensors'),
      new Map(
        model.trainableParameters().map(([n, t]) => [n, { dtype: 'F32' as const, shape: [...t.shape], data: t.f32 }]),
      ),
      { format: 'pt' },
    );
  };
}

/**
 * Train `model` (its parameters with requiresGrad: adapters, a partial unfreeze or all weights).
 * Writes run.jsonl, checkpoints, best/ and adapter/ under `args.outDir` when given.
 *
 * With a PEFT method pass the PeftModel (getPeftModel's result): prompt methods feed the model
 * through its forward and mixture-of-experts adds its balancing loss through its extraLoss().
 * Partial fine-tuning: `freezeExcept` (freeze.ts); full: `model.freeze(false)`. The model's
 * training/eval mode on return is the one it had on entry.
 */
export function train<M extends Module, E, B extends Batch>(opts: TrainOptions<M, E, B>): TrainResult {
  const data = opts.train;
  if (isStreamingDataset(data))
    throw new Error(
      'train: the training data is a streaming dataset; use trainAsync (it reads the stream as it trains)',
    );
  const feed = arrayFeed(data, opts, resolveArgs(opts.args));
  const run = trainSteps(opts, data.length);
  let r = run.next();
  while (!r.done) {
    let got: StepData<E>;
    try {
      got = feed(r.value);
    } catch (e) {
      r = run.throw(e); // logged as the run's error record, then re-thrown by the loop
      continue;
    }
    r = run.next(got);
  }
  return r.value;
}

/**
 * {@link train} for data that arrives asynchronously: a {@link StreamingDataset} (e.g.
 * streamExamples over a large JSONL/CSV file) or an array. Each epoch is one pass over the stream,
 * shuffled (unless `shuffle: false`) in a buffer of the dataset's bufferSize with a seed per epoch,
 * as Hugging Face datasets' `shuffle(buffer_size)` (streaming.ts); `maxSteps` is required (the
 * stream's length is not known). A resumed run re-reads the checkpoint's epoch and skips the
 * examples already trained on, so it reaches the same weights as an uninterrupted run.
 * `groupByLength` is not available on a stream. Validation data stays an array.
 */
export async function trainAsync<M extends Module, E, B extends Batch>(
  opts: TrainOptions<M, E, B>,
): Promise<TrainResult> {
  const data = opts.train;
  if (!isStreamingDataset(data)) return train({ ...opts, train: data });
  const a = resolveArgs(opts.args);
  if (a.maxSteps === undefined)
    throw new Error('trainAsync: a streaming dataset needs maxSteps (its length is not known)');
  if (a.groupByLength)
    throw new Error('trainAsync: groupByLength needs the whole dataset; it is not available on a stream');
  const feed = streamFeed(data, a);
  const run = trainSteps(opts, null);
  let r = run.next();
  while (!r.done) {
    let got: StepData<E>;
    try {
      got = await feed(r.value);
    } catch (e) {
      r = run.throw(e);
      continue;
    }
    r = run.next(got);
  }
  return r.value;
}

/** What the loop asks its data source for: the examples of step `stepInEpoch` of `epoch`. */
interface StepRequest {
  epoch: number;
  stepInEpoch: number;
  count: number;
}

/** The examples of a step (none: the epoch is over), whether it ends the epoch, and the epoch's length if known. */
interface StepData<E> {
  examples: E[];
  lastOfEpoch: boolean;
  stepsInEpoch: number | null;
}

/** An array's steps: a seeded permutation per epoch (or file order), optionally grouped by length. */
function arrayFeed<M extends Module, E, B extends Batch>(
  data: readonly E[],
  opts: TrainOptions<M, E, B>,
  a: ResolvedArgs,
): (req: StepRequest) => StepData<E> {
  let plan: number[][] = [];
  let planEpoch = -1;
  const lengthOf = opts.lengthOf;
  return (req) => {
    if (planEpoch !== req.epoch) {
      plan = epochPlan(data.length, req.count, req.epoch, a, lengthOf ? (i) => lengthOf(data[i] as E) : undefined);
      planEpoch = req.epoch;
    }
    const indices = plan[req.stepInEpoch];
    if (!indices) return { examples: [], lastOfEpoch: true, stepsInEpoch: plan.length };
    return {
      examples: indices.map((i) => data[i] as E),
      lastOfEpoch: req.stepInEpoch + 1 >= plan.length,
      stepsInEpoch: plan.length,
    };
  };
}

/**
 * A stream's steps: one pass per epoch, buffer-shuffled with the epoch's seed. One example is read
 * ahead, so the step that empties the stream knows it ends the epoch.
 */
function streamFeed<E>(ds: StreamingDataset<E>, a: ResolvedArgs): (req: StepRequest) => Promise<StepData<E>> {
  let iter: AsyncIterator<E> | null = null;
  let epoch = -1;
  let ahead: IteratorResult<E> | null = null;
  return async (req) => {
    if (epoch !== req.epoch || iter === null) {
      const pass = ds.open();
      const ordered = a.shuffle ? shuffleBuffer(pass, ds.bufferSize, subSeed(a.seed, 1, req.epoch)) : pass;
      iter = ordered[Symbol.asyncIterator]();
      epoch = req.epoch;
      ahead = await iter.next();
      // A resumed run: skip what the checkpoint's steps of this epoch consumed.
      for (let k = 0; k < req.stepInEpoch * req.count && ahead.done !== true; k++) ahead = await iter.next();
    }
    const examples: E[] = [];
    while (examples.length < req.count && ahead !== null && ahead.done !== true) {
      examples.push(ahead.value);
      ahead = await iter.next();
    }
    return { examples, lastOfEpoch: ahead === null || ahead.done === true, stepsInEpoch: null };
  };
}

/**
 * The loop itself, shared by {@link train} and {@link trainAsync}: a generator that yields when it
 * needs a step's examples, so one loop serves arrays (fed synchronously) and streams (awaited).
 * `trainSize` is the number of examples when known (arrays), null for a stream.
 */
function* trainSteps<M extends Module, E, B extends Batch>(
  opts: TrainOptions<M, E, B>,
  trainSize: number | null,
): Generator<StepRequest, TrainResult, StepData<E>> {
  const a = resolveArgs(opts.args);
  const { model } = opts;
  const named = model.trainableParameters();
  if (named.length === 0)
    throw new Error('train: the model has no trainable parameters (apply an adapter or unfreeze some weights)');
  checkAuxiliaryLossReachable(model, named);
  const params = named.map(([, t]) => t);
  if (trainSize === 0) throw new Error('train: the training set is empty');
  if (a.replayRatio > 0 && (!opts.replay || opts.replay.length === 0))
    throw new Error('train: replayRatio > 0 needs replay examples');
  if (a.bootstrapSamples > 0 && !opts.metrics)
    throw new Error('train: bootstrapSamples > 0 needs task metrics (TrainOptions.metrics) to put intervals on');
  if (opts.general && opts.general.examples.length === 0) throw new Error('train: the general set is empty');
  const perStep = a.batchSize * a.gradientAccumulationSteps;
  const replayPerStep = Math.round(a.replayRatio * perStep);
  const taskPerStep = perStep - replayPerStep;
  const totalSteps = a.maxSteps ?? Math.ceil(Math.ceil((trainSize ?? 0) / taskPerStep) * a.epochs);
  const warmup = warmupStepsFor(totalSteps, a.warmupSteps, a.warmupRatio);
  const optimizer = buildOptimizer(params, a);
  const regularizers = [...(opts.regularizers ?? [])];
  if (a.l2spStrength > 0) regularizers.push(l2spRegularizer(named, a.l2spStrength));
  const trainerRng = new Rng(subSeed(a.seed, 2));
  const rngs = new Map<string, Rng>([['trainer', trainerRng], ...moduleRngs(model)]);
  const saveModel = opts.saveModel ?? saveTrainable(model);
  const greater = a.greaterIsBetter ?? (a.metricForBest !== undefined && a.metricForBest !== 'loss');
  const watched = a.metricForBest ?? (a.earlyStoppingPatience > 0 ? 'loss' : undefined);

  const log = a.outDir ? new RunLog(join(a.outDir, 'run.jsonl')) : null;
  const progress = new Progress(a.progress, a.logEvery, opts.print);
  let state: Omit<TrainerState, 'parameters' | 'optimizer'> = {
    step: 0,
    epoch: 0,
    stepInEpoch: 0,
    best: null,
    evalsWithoutImprovement: 0,
    rngs: {},
    seed: a.seed,
  };
  const general = opts.general;
  const generalDescription = general
    ? (general.description ?? `general set (${general.examples.length} examples)`)
    : '';
  const measureGeneralNow = (): Record<string, number> =>
    general
      ? measureGeneral(model, general, {
          collate: opts.collate,
          loss: opts.loss,
          batchSize: a.evalBatchSize,
          seed: a.seed,
        })
      : {};

  if (a.resumeFrom) {
    let dir = a.resumeFrom;
    if (dir === 'latest') {
      const last = listCheckpoints(a.outDir ?? '').at(-1);
      if (!last) throw new Error(`resumeFrom "latest": no checkpoint under ${join(a.outDir ?? '', 'checkpoints')}`);
      dir = last.path;
    }
    const loaded = loadCheckpoint(dir, { params: named, optimizer, rngs });
    if (loaded.seed !== a.seed)
      throw new Error(`${dir}: checkpoint was written with seed ${loaded.seed}, this run has seed ${a.seed}`);
    state = {
      step: loaded.step,
      epoch: loaded.epoch,
      stepInEpoch: loaded.stepInEpoch,
      best: loaded.best,
      evalsWithoutImprovement: loaded.evalsWithoutImprovement,
      rngs: {},
      seed: loaded.seed,
    };
    if (loaded.generalBefore) state.generalBefore = loaded.generalBefore;
    if (general && !state.generalBefore)
      throw new Error(
        `${dir}: this run measures a general set, but the checkpoint has no "before" figures for it (the run was started without one)`,
      );
    log?.write('resume', { step: loaded.step, path: dir });
  } else {
    log?.write('config', {
      args: { ...opts.args },
      model: opts.describe?.model ?? { parameters: model.numParameters() },
      method: opts.describe?.method ?? { peftType: 'UNKNOWN', trainableParameters: model.numParameters(true) },
      task: opts.describe?.task ?? null,
      data: opts.describe?.data ?? { train: trainSize, valid: opts.valid?.length ?? 0, test: 0 },
      tunekitVersion: '0.1.0',
      seed: a.seed,
    });
    // Before any step; kept in checkpoints so a resumed run reports the same "before".
    if (general) state.generalBefore = measureGeneralNow();
  }

  const history: StepInfo[] = [];
  const evals: TrainResult['evals'] = [];
  const repetition: TrainResult['repetition'] = [];
  const t0 = performance.now();
  let reason = (a.maxSteps !== undefined ? 'max-steps' : 'completed') as TrainResult['reason'];

  const checkpoint = (best: boolean): void => {
    if (!a.outDir) return;
    const rngStates: Record<string, number[]> = {};
    for (const [k, r] of rngs) rngStates[k] = r.state();
    if (best) {
      // best/ holds the model (adapter) only.
      writeFolder(join(a.outDir, 'best'), saveModel);
      log?.write('checkpoint', { step: state.step, path: 'best', best: true });
      opts.callbacks?.onCheckpoint?.(state.step, join(a.outDir, 'best'), true);
      return;
    }
    const rel = join('checkpoints', `step-${state.step}`);
    saveCheckpoint(join(a.outDir, rel), { params: named, optimizer, state: { ...state, rngs: rngStates }, saveModel });
    log?.write('checkpoint', { step: state.step, path: rel, best: false });
    opts.callbacks?.onCheckpoint?.(state.step, join(a.outDir, rel), false);
    if (a.saveTotalLimit > 0) {
      const all = listCheckpoints(a.outDir);
      for (const c of all.slice(0, Math.max(0, all.length - a.saveTotalLimit)))
        rmSync(c.path, { recursive: true, force: true });
    }
  };

  const runEval = (): 'stop' | void => {
    if (!opts.valid || opts.valid.length === 0) return;
    const r = evaluate(model, opts.valid, {
      collate: opts.collate,
      loss: opts.loss,
      batchSize: a.evalBatchSize,
      ...(opts.metrics ? { metrics: opts.metrics } : {}),
      seed: a.seed,
      ...(a.bootstrapSamples > 0 ? { bootstrap: { nSamples: a.bootstrapSamples, seed: a.seed } } : {}),
    });
    if (!Number.isFinite(r.loss)) throw new NonFiniteError(state.step, 'validation loss');
    for (const [k, v] of Object.entries(r.metrics))
      if (typeof v !== 'number' || !Number.isFinite(v))
        throw new Error(
          `evaluation at step ${state.step}: metric "${k}" is ${String(v)}; metrics must be finite numbers`,
        );
    evals.push({ step: state.step, ...r });
    log?.write('eval', {
      step: state.step,
      split: 'valid',
      loss: r.loss,
      metrics: r.metrics,
      ...(r.ci ? { ci: r.ci } : {}),
    });
    progress.note(
      `eval at step ${state.step}: loss ${r.loss.toFixed(4)}${Object.entries(r.metrics)
        .map(([k, v]) => {
          const ci = r.ci?.[k];
          return `  ${k} ${v.toFixed(4)}${ci ? ` [${ci[0].toFixed(4)}, ${ci[1].toFixed(4)}]` : ''}`;
        })
        .join('')}`,
    );
    if (opts.sample) {
      const wasTraining = model.training;
      model.eval();
      const items = noGrad(() => opts.sample!(model));
      model.train(wasTraining);
      log?.write('samples', {
        step: state.step,
        items: items.map((it) => ({
          prompt: it.prompt,
          output: it.output,
          ...(it.reference !== undefined ? { reference: it.reference } : {}),
        })),
      });
      const rep = repetitionMetrics(items.map((it) => it.tokens));
      repetition.push({ step: state.step, metrics: rep });
      log?.write('repetition', { step: state.step, metrics: rep });
    }
    let stop = opts.callbacks?.onEval?.(state.step, r) === 'stop';
    if (watched) {
      const value = watched === 'loss' ? r.loss : r.metrics[watched];
      if (value === undefined)
        throw new Error(
          `metricForBest "${watched}" is not among the evaluation's metrics (${['loss', ...Object.keys(r.metrics)].join(', ')})`,
        );
      const better = state.best === null || (greater ? value > state.best.value : value < state.best.value);
      if (better) {
        state.best = { step: state.step, metric: watched, value };
        state.evalsWithoutImprovement = 0;
        checkpoint(true);
      } else {
        state.evalsWithoutImprovement++;
        if (a.earlyStoppingPatience > 0 && state.evalsWithoutImprovement >= a.earlyStoppingPatience) {
          reason = 'early-stopped';
          stop = true;
        }
      }
    }
    return stop ? 'stop' : undefined;
  };

  const wasTraining = model.training;
  model.train();
  try {
    while (state.step < totalSteps) {
      const got: StepData<E> = yield { epoch: state.epoch, stepInEpoch: state.stepInEpoch, count: taskPerStep };
      if (got.examples.length === 0) {
        if (state.stepInEpoch === 0)
          throw new Error(`train: the training data gave no examples for epoch ${state.epoch}`);
        state.epoch++;
        state.stepInEpoch = 0;
        continue;
      }
      const examples = got.examples;
      if (replayPerStep > 0 && opts.replay) {
        const rr = new Rng(subSeed(a.seed, 3, state.step));
        for (let k = 0; k < replayPerStep; k++) examples.push(opts.replay[rr.int(opts.replay.length)]!);
      }
      const stepNo = state.step + 1;
      const stepStart = performance.now();
      const lr = a.learningRate * scheduleFactor({ type: a.lrScheduler, warmupSteps: warmup, totalSteps }, state.step);
      optimizer.lr = lr;

      // Micro-batches; the loss weights are their shares of the whole step's count.
      const micro: B[] = [];
      for (let i = 0; i < examples.length; i += a.batchSize)
        micro.push(opts.collate(examples.slice(i, i + a.batchSize)));
      const total = micro.reduce((s, b) => s + b.count, 0);
      const tokens = micro.reduce((s, b) => s + b.tokens, 0);
      optimizer.zeroGrad();
      let lossSum = 0;
      const ctx: LossContext = { training: true, rng: trainerRng };
      if (total > 0) {
        for (const b of micro) {
          if (b.count === 0) continue;
          let l = opts.loss(model, b, ctx);
          const value = l.item();
          if (!Number.isFinite(value)) throw new NonFiniteError(stepNo, `loss (${value})`, value);
          lossSum += value * b.count;
          const aux = auxiliaryLossOf(model);
          if (aux) l = F.add(l, aux);
          F.scale(l, b.count / total).backward();
        }
        for (const r of regularizers) {
          const p = r.penalty();
          if (!Number.isFinite(p.item())) throw new NonFiniteError(stepNo, `${r.name} penalty`);
          if (p.requiresGrad) p.backward();
        }
      }
      const gradNorm = clipGradNorm(params, a.maxGradNorm > 0 ? a.maxGradNorm : Infinity);
      if (!Number.isFinite(gradNorm))
        throw new NonFiniteError(
          stepNo,
          `gradient (global norm ${gradNorm})`,
          total > 0 ? lossSum / total : NaN,
          gradNorm,
        );
      if (total > 0) optimizer.step();
      optimizer.zeroGrad();

      state.step = stepNo;
      state.stepInEpoch++;
      if (got.lastOfEpoch) {
        state.epoch++;
        state.stepInEpoch = 0;
      }
      const elapsedSec = (performance.now() - t0) / 1000;
      const info: StepInfo = {
        step: stepNo,
        // A stream's length is unknown: its epoch counts completed passes only.
        epoch: state.epoch + (got.stepsInEpoch ? state.stepInEpoch / got.stepsInEpoch : 0),
        loss: total > 0 ? lossSum / total : 0,
        lr,
        gradNorm,
        tokens: total,
        tokensPerSec: tokens / Math.max(1e-9, (performance.now() - stepStart) / 1000),
        elapsedSec,
      };
      history.push(info);
      log?.write('step', { ...info });
      progress.update({ step: stepNo, totalSteps, loss: info.loss, lr, tokensPerSec: info.tokensPerSec, elapsedSec });
      let stop = opts.callbacks?.onStep?.(info) === 'stop';
      if (stop) reason = 'callback';
      if (a.evalEvery > 0 && stepNo % a.evalEvery === 0 && runEval() === 'stop') stop = true;
      if (a.saveEvery > 0 && stepNo % a.saveEvery === 0) checkpoint(false);
      if (stop) break;
    }
    if (a.evalEvery === 0 || state.step % a.evalEvery !== 0) {
      if (reason !== 'early-stopped' && reason !== 'callback') runEval();
    }
    let forgetting: TrainResult['forgetting'];
    if (general && state.generalBefore) {
      forgetting = { general: generalDescription, before: state.generalBefore, after: measureGeneralNow() };
      log?.write('forgetting', { ...forgetting });
      progress.note(
        `general set: ${Object.keys(forgetting.after)
          .map((k) => `${k} ${forgetting?.before[k]?.toFixed(4) ?? '?'} -> ${forgetting?.after[k]?.toFixed(4) ?? '?'}`)
          .join(', ')}`,
      );
    }
    if (a.outDir) writeFolder(join(a.outDir, 'adapter'), saveModel);
    const elapsedSec = (performance.now() - t0) / 1000;
    log?.write('end', {
      step: state.step,
      reason: reason === 'callback' ? 'completed' : reason,
      best: state.best,
      elapsedSec,
    });
    return {
      steps: state.step,
      reason,
      best: state.best,
      history,
      evals,
      repetition,
      ...(forgetting ? { forgetting } : {}),
      elapsedSec,
    };
  } catch (e) {
    try {
      log?.write('error', { step: state.step + 1, message: (e as Error).message });
    } catch {
      /* the original error matters more */
    }
    throw e;
  } finally {
    progress.stop();
    log?.close();
    model.train(wasTraining); // the caller's mode, as evaluate() does
  }
}

/** The adapter/model folder, written whole. */
function writeFolder(dir: string, save: (dir: string) => void): void {
  writeFolderWhole(dir, save);
}
