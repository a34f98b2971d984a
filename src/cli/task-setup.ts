/**
 * What `tunekit train`, `eval` and `export-python` share: resolving `--model` (a folder or a Hub repo
 * id), reading `--data` (a file or an MLX-LM folder), and per task the model class, how examples
 * become tensors, the loss and the metrics. Everything here calls the library (src/train, src/models,
 * src/peft, src/metrics); it only chooses which pieces a task uses.
 */
import type { Command } from 'commander';
import { existsSync, statSync } from 'node:fs';
import { readModelConfig } from '../models/registry.js';
import { cachedSnapshotDir, pullRepo, validateRepoId } from '../io/hub.js';
import { AutoTokenizer, type PreTrainedTokenizer } from '../io/tokenizer.js';
import { bootstrapMetric, computeMetrics, type MetricInputs, type MetricOptions } from '../metrics/registry.js';
import {
  AutoModelForCausalLM,
  AutoModelForQuestionAnswering,
  AutoModelForSequenceClassification,
  AutoModelForTokenClassification,
} from '../models/auto.js';
import type { CausalLM } from '../models/causal-lm.js';
import { GPT2ForSequenceClassification, LlamaForSequenceClassification } from '../models/sequence-classification.js';
import { setComputeDtype, type ComputeDtype } from '../nn/compute-dtype.js';
import type { Module } from '../nn/module.js';
import type { TaskType } from '../peft/config.js';
import { noGrad } from '../tensor/tensor.js';
import {
  classificationLoss,
  classificationTokens,
  collateClassification,
  labelMapping,
  predictClassification,
  type ClassificationExample,
  type ClassifierModel,
} from '../train/classification.js';
import { causalLmLossFn, collateCausalLm, packSequences, tokenNlls, type LmExample } from '../train/collate.js';
import { loadDataFolder, loadExamples, type ColumnMap, type Example, type Located } from '../train/data.js';
import { collateQa, qaLoss, evaluateQa, type QaModel } from '../train/question-answering.js';
import { sftTokens } from '../train/sft.js';
import {
  collateTokenClassification,
  predictTokenClassification,
  tokenClassificationLoss,
  type TokenClassifierModel,
} from '../train/token-classification.js';
import type { Batch, LossFn } from '../train/trainer.js';
import { prepareQaFeatures, type QaExample, type QaFeature } from '../train/tasks/extractive-qa.js';
import {
  buildLabelMap,
  encodeTokenClassification,
  type LabelMap,
  type TokenClassificationFeature,
} from '../train/tasks/token-classification.js';

export const TASKS = ['causal-lm', 'sft', 'classification', 'regression', 'token-classification', 'qa'] as const;
export type Task = (typeof TASKS)[number];

/** PEFT task_type of each task (LoRA's modules_to_save for heads, export-python). */
export const PEFT_TASK_TYPE: Record<Task, TaskType> = {
  'causal-lm': 'CAUSAL_LM',
  sft: 'CAUSAL_LM',
  classification: 'SEQ_CLS',
  regression: 'SEQ_CLS',
  'token-classification': 'TOKEN_CLS',
  qa: 'QUESTION_ANS',
};

/**
 * `--model` as a local folder: an existing folder as is; a Hub repo id ("org/name") from the local
 * Hub cache, downloaded first when not cached.
 */
export async function resolveModelDir(model: string, log: (line: string) => void): Promise<string> {
  if (existsSync(model)) {
    if (!statSync(model).isDirectory())
      throw new Error(`--model ${model}: not a folder (expected a Hugging Face model folder or a Hub repo id)`);
    return model;
  }
  if (!/^[A-Za-z0-9][\w.-]*\/[\w.-]+$/.test(model))
    throw new Error(`--model ${model}: no such folder, and not a Hub repo id ("org/name")`);
  validateRepoId(model);
  const cached = cachedSnapshotDir(model);
  if (cached !== null && existsSync(`${cached}/config.json`)) return cached;
  log(`--model ${model}: not a local folder; downloading it from the Hugging Face Hub`);
  const r = await pullRepo(model, { log });
  return r.snapshotDir;
}

/** The record fields `--<field>-column` flags can rename, with the ColumnMap key each fills. */
const COLUMNS: ReadonlyArray<[keyof ColumnMap, string]> = [
  ['text', 'text'],
  ['textPair', 'text-pair'],
  ['label', 'label'],
  ['prompt', 'prompt'],
  ['completion', 'completion'],
  ['messages', 'messages'],
  ['instruction', 'instruction'],
  ['input', 'input'],
  ['output', 'output'],
  ['tokens', 'tokens'],
  ['tags', 'tags'],
  ['question', 'question'],
  ['context', 'context'],
  ['answers', 'answers'],
];

/** Adds a `--<field>-column <name>` option per renameable record field (train and eval). */
export function addColumnOptions(cmd: Command): void {
  for (const [, flag] of COLUMNS) cmd.option(`--${flag}-column <name>`, `the field holding "${flag}" in the data`);
}

/** Column mapping from `--text-column`-style flags (only those given). */
export function columnsFrom(flags: Record<string, unknown>): ColumnMap {
  const map: ColumnMap = {};
  for (const [canon, flag] of COLUMNS) {
    // commander's camelCase of --<flag>-column
    const v = flags[`${flag.replace(/-(\w)/g, (_, c: string) => c.toUpperCase())}Column`];
    if (typeof v === 'string') map[canon] = v;
  }
  return map;
}

/** Train/valid/test examples of `--data` (a file, or an MLX-LM folder with train/valid/test.jsonl). */
export async function readData(
  data: string,
  opts: { columns: ColumnMap; valid?: string | undefined },
): Promise<{ train: Array<Located<Example>>; valid: Array<Located<Example>>; test: Array<Located<Example>> }> {
  if (!existsSync(data)) throw new Error(`--data ${data}: no such file or folder`);
  const read = { columns: opts.columns };
  const out = statSync(data).isDirectory()
    ? await loadDataFolder(data, read)
    : { train: await loadExamples(data, read), valid: [], test: [] };
  if (opts.valid !== undefined) {
    if (!existsSync(opts.valid)) throw new Error(`--valid-data ${opts.valid}: no such file`);
    out.valid = await loadExamples(opts.valid, read);
  }
  return out;
}

/** The pieces a task gives the trainer and the evaluator. Examples are opaque per task. */
export interface TaskSetup {
  task: Task;
  model: Module;
  tokenizer: PreTrainedTokenizer;
  /** Label names (classification, token classification); saved with the run so eval maps labels alike. */
  labels: string[] | null;
  encode: (examples: ReadonlyArray<Located<Example>>) => unknown[];
  collate: (examples: unknown[]) => Batch;
  loss: LossFn<Module, Batch>;
  lengthOf: (example: unknown) => number;
  /** Per-item metric inputs (predictions/references) and options, by metric name, for `model` on encoded examples. */
  metricInputs(
    model: Module,
    examples: unknown[],
  ): Array<{ name: string; inputs: MetricInputs; options?: MetricOptions }>;
}

/** Options of {@link setupTask}. */
export interface TaskOptions {
  maxLength: number;
  computeDtype?: ComputeDtype | undefined;
  /** Label names in id order (from a training run); default: from the examples. */
  labels?: readonly string[] | undefined;
  /** Examples the label set is read from when `labels` is not given. */
  labelSource?: ReadonlyArray<Located<Example>>;
  chatTemplate?: string | undefined;
  trainOnPrompt?: boolean | undefined;
  neftuneAlpha?: number | undefined;
  padTokenId?: number | undefined;
  seed?: number;
}

function padOf(tok: PreTrainedTokenizer, opts: TaskOptions, fallback: number | null): number {
  return opts.padTokenId ?? tok.padTokenId ?? fallback ?? tok.eosTokenId ?? 0;
}

/** The model, tokenizer and data handling of `task` on the model folder `dir`. */
export function setupTask(task: Task, dir: string, opts: TaskOptions): TaskSetup {
  const tokenizer = AutoTokenizer.fromPretrained(dir);
  const config = readModelConfig(dir);
  const withDtype = <M extends Module>(m: M): M => {
    if (opts.computeDtype !== undefined) setComputeDtype(m, opts.computeDtype);
    return m;
  };
  const anyLoss = <M, B>(fn: LossFn<M & Module, B & Batch>): LossFn<Module, Batch> =>
    fn as unknown as LossFn<Module, Batch>;

  if (task === 'causal-lm' || task === 'sft') {
    const model = AutoModelForCausalLM.fromPretrained(
      dir,
      opts.computeDtype ? { computeDtype: opts.computeDtype } : {},
    );
    const pad = padOf(tokenizer, opts, model.config.padTokenId ?? model.config.eosTokenIds[0] ?? null);
    const eos = tokenizer.eosTokenId ?? model.config.eosTokenIds[0];
    const encode = (examples: ReadonlyArray<Located<Example>>): LmExample[] => {
      if (task === 'sft')
        return examples.map((e) =>
          sftTokens(tokenizer, e, {
            maxLength: opts.maxLength,
            ...(opts.chatTemplate !== undefined ? { chatTemplate: opts.chatTemplate } : {}),
            ...(opts.trainOnPrompt ? { trainOnPrompt: true } : {}),
          }),
        );
      // causal-lm: every token learned; documents (text + EOS) packed into rows of maxLength (run_clm's group_texts).
      const docs = examples.map((e) => sftTokens(tokenizer, e, { trainOnPrompt: true }).inputIds);
      const rows = packSequences(docs, opts.maxLength, undefined);
      if (rows.length === 0 && docs.length > 0) return docs.map((d) => ({ inputIds: d, labels: d }));
      void eos;
      return rows;
    };
    return {
      task,
      model,
      tokenizer,
      labels: null,
      encode,
      collate: (e) => collateCausalLm(e as LmExample[], { padTokenId: pad }),
      loss: anyLoss(causalLmLossFn(opts.neftuneAlpha ? { neftuneAlpha: opts.neftuneAlpha } : {})),
      lengthOf: (e) => (e as LmExample).inputIds.length,
      metricInputs: (m, ex) => [
        { name: 'perplexity', inputs: { predictions: tokenNlls(m as unknown as CausalLM, ex as LmExample[], pad) } },
      ],
    };
  }

  if (task === 'classification' || task === 'regression') {
    const regression = task === 'regression';
    const source = opts.labelSource ?? [];
    const mapping = labelMapping(source, regression ? 'classification' : 'classification');
    const labels = regression ? ['score'] : opts.labels ? [...opts.labels] : mapping.names;
    const toId = regression
      ? labelMapping(source, 'regression').toId
      : (l: unknown, where: string): number => {
          const key = String(l === true ? 1 : l === false ? 0 : l);
          const i = labels.indexOf(key);
          if (i < 0)
            throw new Error(`${where}: field "label": "${key}" is not one of the labels (${labels.join(', ')})`);
          return i;
        };
    const id2label = Object.fromEntries(labels.map((l, i) => [i, l]));
    const head = {
      numLabels: labels.length,
      ...(regression ? { problemType: 'regression' as const } : { id2label }),
      onWarning: () => {},
    };
    let model: ClassifierModel & Module;
    if (config.family === 'bert') model = AutoModelForSequenceClassification.fromPretrained(dir, head);
    else {
      const pad = padOf(tokenizer, opts, config.padTokenId ?? null);
      model =
        config.family === 'gpt2'
          ? GPT2ForSequenceClassification.fromPretrained(dir, { ...head, padTokenId: pad })
          : LlamaForSequenceClassification.fromPretrained(dir, { ...head, padTokenId: pad });
    }
    withDtype(model);
    const pad = padOf(tokenizer, opts, config.padTokenId ?? null);
    return {
      task,
      model,
      tokenizer,
      labels,
      encode: (examples) =>
        examples.map((e) => classificationTokens(tokenizer, e, toId, { maxLength: opts.maxLength })),
      collate: (e) => collateClassification(e as ClassificationExample[], { padTokenId: pad, regression }),
      loss: anyLoss(classificationLoss),
      lengthOf: (e) => (e as ClassificationExample).inputIds.length,
      metricInputs: (m, ex) => {
        const { predictions, references } = noGrad(() =>
          predictClassification(m as ClassifierModel, ex as ClassificationExample[], { padTokenId: pad, regression }),
        );
        const inputs = { predictions, references };
        return regression
          ? [
              { name: 'mse', inputs },
              { name: 'mae', inputs },
              { name: 'r2', inputs },
            ]
          : [
              { name: 'accuracy', inputs },
              { name: 'f1', inputs, options: { average: labels.length > 2 ? 'macro' : 'binary' } },
            ];
      },
    };
  }

  if (config.family !== 'bert')
    throw new Error(`--task ${task}: needs a BERT-family model folder; ${dir} is ${config.architecture}`);
  const pad = padOf(tokenizer, opts, config.padTokenId ?? null);

  if (task === 'token-classification') {
    const tagsOf = (e: Located<Example>): string[] => {
      if (e.kind !== 'tokens-tags')
        throw new Error(`${e.source.file}:${e.source.line}: a "${e.kind}" record is not a tokens/tags example`);
      return e.tags.map(String);
    };
    const labelMap: LabelMap = buildLabelMap((opts.labelSource ?? []).map(tagsOf), opts.labels);
    const labels = [...labelMap.labels];
    const model = withDtype(
      AutoModelForTokenClassification.fromPretrained(dir, {
        id2label: Object.fromEntries(labels.map((l, i) => [i, l])),
        onWarning: () => {},
      }),
    );
    type Tagged = { words: string[]; tags: string[]; feature: TokenClassificationFeature };
    return {
      task,
      model,
      tokenizer,
      labels,
      encode: (examples) =>
        examples.map((e): Tagged => {
          const tags = tagsOf(e);
          const words = e.kind === 'tokens-tags' ? e.tokens : [];
          return {
            words,
            tags,
            feature: encodeTokenClassification(tokenizer, words, tags, labelMap, { maxLength: opts.maxLength }),
          };
        }),
      collate: (e) =>
        collateTokenClassification(
          (e as Tagged[]).map((x) => x.feature),
          { padTokenId: pad },
        ),
      loss: anyLoss(tokenClassificationLoss),
      lengthOf: (e) => (e as Tagged).feature.inputIds.length,
      metricInputs: (m, ex) => {
        const tagged = ex as Tagged[];
        const predictions = predictTokenClassification(
          m as TokenClassifierModel,
          tagged.map((s) => s.feature),
          tagged.map((s) => s.words.length),
          labelMap,
          { padTokenId: pad },
        );
        return [{ name: 'seqeval', inputs: { predictions, references: tagged.map((s) => s.tags) } }];
      },
    };
  }

  // qa: examples are kept whole (one per question); training uses their sliding-window features.
  const model = withDtype(AutoModelForQuestionAnswering.fromPretrained(dir, { onWarning: () => {} }));
  type QaItem = { example: QaExample; features: QaFeature[] };
  const toQa = (e: Located<Example>): QaExample => {
    if (e.kind !== 'squad')
      throw new Error(
        `${e.source.file}:${e.source.line}: a "${e.kind}" record is not a question/context/answers example`,
      );
    return { id: e.id, question: e.question, context: e.context, answers: e.answers };
  };
  return {
    task,
    model,
    tokenizer,
    labels: null,
    encode: (examples) =>
      examples.map((e): QaItem => {
        const example = toQa(e);
        return {
          example,
          features: prepareQaFeatures(tokenizer, [example], {
            maxLength: opts.maxLength,
            // run_qa's doc_stride 128 with 384-token windows; shorter windows overlap by a quarter.
            docStride: Math.min(128, Math.floor(opts.maxLength / 4)),
          }),
        };
      }),
    collate: (e) =>
      collateQa(
        (e as QaItem[]).flatMap((x) => x.features),
        { padTokenId: pad },
      ),
    loss: anyLoss(qaLoss),
    lengthOf: (e) => Math.max(...(e as QaItem).features.map((f) => f.inputIds.length)),
    metricInputs: (m, ex) => {
      const items = ex as QaItem[];
      const examples = items.map((x) => x.example);
      const features = items.flatMap((x, i) => x.features.map((f) => ({ ...f, exampleIndex: i })));
      const r = evaluateQa(m as QaModel, examples, features, { padTokenId: pad });
      const byId = new Map(r.predictions.map((p) => [p.id, p.predictionText]));
      return [
        {
          name: 'squad',
          inputs: {
            predictions: examples.map((x) => byId.get(x.id) ?? ''),
            references: examples.map((x) => [...(x.answers?.text ?? [])]),
          },
        },
      ];
    },
  };
}

/** A metric's score and optional bootstrap interval, per registry name. */
export interface ScoredMetric {
  name: string;
  key: string;
  score: number;
  higherIsBetter: boolean;
  ci?: [number, number];
}

/** The task's metrics on encoded examples (bootstrap 95% CIs with `bootstrap` resamples). */
export function scoreTask(setup: TaskSetup, model: Module, examples: unknown[], bootstrap = 0): ScoredMetric[] {
  const wasTraining = model.training;
  model.eval();
  try {
    const out: ScoredMetric[] = [];
    for (const { name, inputs, options } of setup.metricInputs(model, examples)) {
      const r = computeMetrics([name], inputs, options ? { [name]: options } : {});
      const s = r[name];
      if (!s) throw new Error(`metric ${name}: no result`);
      const key = Object.keys(s.values).find((k) => s.values[k] === s.score) ?? name;
      const entry: ScoredMetric = { name, key, score: s.score, higherIsBetter: s.higherIsBetter };
      if (bootstrap > 0) {
        const b = bootstrapMetric(name, inputs, options ?? {}, { nSamples: bootstrap });
        entry.ci = [b.low, b.high];
      }
      out.push(entry);
    }
    return out;
  } finally {
    model.train(wasTraining);
  }
}
