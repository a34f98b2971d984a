/**
 * Extractive QA on real data with the trainer's QA pieces (sliding-window features, start/end loss,
 * n-best post-processing, the SQuAD / CMRC 2018 scripts' EM and F1):
 *
 * - `qa` — XQuAD (English; the SQuAD v1.1 dev questions): split by article, 40 articles to train on,
 *   the other 8 held out; bert-base-uncased tokenizer; a small BERT built from a config, trained
 *   from scratch; SQuAD v1.1 rules.
 * - `qa-cmrc` — CMRC 2018 (Chinese): train on 1,200 of the dev file's questions, evaluate on 150 trial ones;
 *   bert-base-chinese tokenizer; CMRC 2018 rules.
 *
 * Each reports the untrained model and a trivial baseline (the first context tokens of the answer's
 * typical length) beside the trained model: no pretrained encoder is used, so these models are far
 * too small and see far too little data to read; the figures show the pieces work end to end, not
 * a usable QA model.
 */
import { readFileSync } from 'node:fs';
import { parseModelConfig, type BertConfig } from '../src/models/index.js';
import { AutoTokenizer } from '../src/io/tokenizer.js';
import { BertForQuestionAnswering } from '../src/models/bert.js';
import { collateQa, evaluateQa, prepareQaFeatures, qaLoss, train, type QaExample } from '../src/train/index.js';
import { qaMetrics } from '../src/train/tasks/extractive-qa.js';
import { asset, log } from './common.js';

interface SquadFile {
  data: Array<{
    title?: string;
    paragraphs: Array<{
      context: string;
      qas: Array<{ id: string; question: string; answers: Array<{ text: string; answer_start: number }> }>;
    }>;
  }>;
}

/** A SQuAD-format file's questions, each with the index of its article. */
function readSquad(path: string): Array<QaExample & { article: number }> {
  const json = JSON.parse(readFileSync(path, 'utf8')) as SquadFile;
  if (!Array.isArray(json.data)) throw new Error(`${path}: expected SQuAD JSON with a "data" list`);
  const out: Array<QaExample & { article: number }> = [];
  json.data.forEach((article, a) => {
    for (const p of article.paragraphs) {
      for (const q of p.qas) {
        const answers = q.answers.filter(
          (x) => p.context.slice(x.answer_start, x.answer_start + x.text.length) === x.text,
        );
        if (answers.length === 0) continue; // a misaligned gold span cannot train or be scored fairly
        out.push({
          id: q.id,
          question: q.question,
          context: p.context,
          answers: { text: answers.map((x) => x.text), answerStart: answers.map((x) => x.answer_start) },
          article: a,
        });
      }
    }
  });
  return out;
}

interface QaSetup {
  name: string;
  task: string;
  tokenizer: string;
  variant: 'squad-v1.1' | 'cmrc2018';
  train: QaExample[];
  test: QaExample[];
  maxLength: number;
  docStride: number;
  steps: number;
  /** Characters of the "first words of the context" baseline. */
  leadChars: number;
}

function runQa(s: QaSetup): Record<string, unknown> {
  const tok = AutoTokenizer.fromPretrained(asset(s.tokenizer));
  const pad = tok.padTokenId ?? 0;
  const t0 = performance.now();
  const trainFeatures = prepareQaFeatures(tok, s.train, { maxLength: s.maxLength, docStride: s.docStride });
  const testFeatures = prepareQaFeatures(tok, s.test, { maxLength: s.maxLength, docStride: s.docStride });
  const answerable = trainFeatures.filter((f) => f.startPosition !== f.clsIndex);
  log(
    `${s.name}: ${s.train.length} train questions -> ${trainFeatures.length} features (${answerable.length} with the answer inside), ${s.test.length} test questions -> ${testFeatures.length} features (${((performance.now() - t0) / 1000).toFixed(1)} s)`,
  );
  const cfgJson = {
    architectures: ['BertForQuestionAnswering'],
    model_type: 'bert',
    vocab_size: tok.vocabSize ?? 30522,
    hidden_size: 64,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    intermediate_size: 128,
    max_position_embeddings: s.maxLength,
    type_vocab_size: 2,
    hidden_dropout_prob: 0.1,
    attention_probs_dropout_prob: 0.1,
  };
  const model = new BertForQuestionAnswering(parseModelConfig(cfgJson) as BertConfig, { seed: 0, configJson: cfgJson });
  const evalOpts = { padTokenId: pad, batchSize: 32, variant: s.variant };
  const untrained = evaluateQa(model, s.test, testFeatures, evalOpts);
  // Baseline without a model: the first `leadChars` characters of the context as the answer.
  const lead = qaMetrics(
    s.test,
    s.test.map((e) => ({ id: e.id, predictionText: e.context.slice(0, s.leadChars).trim(), nBest: [] })),
    { variant: s.variant },
  );
  const t1 = performance.now();
  const r = train({
    model,
    args: {
      batchSize: 16,
      maxSteps: s.steps,
      learningRate: 3e-3,
      warmupRatio: 0.1,
      progress: 'lines',
      logEvery: 50,
      seed: 0,
    },
    train: trainFeatures,
    collate: (f) => collateQa(f, { padTokenId: pad }),
    loss: qaLoss,
  });
  const trainSeconds = (performance.now() - t1) / 1000;
  const trained = evaluateQa(model, s.test, testFeatures, evalOpts);
  return {
    task: s.task,
    model: `2-layer BERT hidden 64 from config (${model.numParameters()} parameters), ${s.tokenizer} tokenizer, trained from scratch`,
    metricRules: s.variant,
    trainQuestions: s.train.length,
    trainFeatures: trainFeatures.length,
    testQuestions: s.test.length,
    steps: r.steps,
    batchSize: 16,
    trainSeconds,
    untrained: { exact_match: untrained.exact_match, f1: untrained.f1 },
    leadBaseline: { chars: s.leadChars, ...lead },
    trained: { exact_match: trained.exact_match, f1: trained.f1 },
    firstLoss: r.history[0]?.loss,
    lastLoss: r.history.at(-1)?.loss,
    examples: trained.predictions.slice(0, 5).map((p, i) => ({
      question: s.test[i]?.question,
      gold: s.test[i]?.answers?.text[0],
      predicted: p.predictionText,
    })),
    note: 'far too small and too little data (no pretraining): the model learns answer-position and length habits, not reading',
  };
}

function qa(): Record<string, unknown> {
  const all = readSquad(asset('xquad', 'xquad.en.json'));
  return runQa({
    name: 'qa',
    task: 'XQuAD en (SQuAD v1.1 dev questions), 40 articles train / 8 held out',
    tokenizer: 'tokenizer-bert-base-uncased',
    variant: 'squad-v1.1',
    train: all.filter((e) => e.article < 40),
    test: all.filter((e) => e.article >= 40),
    maxLength: 128,
    docStride: 48,
    steps: 150,
    leadChars: 20,
  });
}

function qaCmrc(): Record<string, unknown> {
  return runQa({
    name: 'qa-cmrc',
    task: 'CMRC 2018: train on the first 1,200 dev questions, test on 150 trial questions',
    tokenizer: 'tokenizer-bert-base-chinese',
    variant: 'cmrc2018',
    // Subsets keep the run within a few minutes (CMRC contexts make ~7 windows of 128 tokens each).
    train: readSquad(asset('cmrc2018', 'cmrc2018_dev.json')).slice(0, 1200),
    test: readSquad(asset('cmrc2018', 'cmrc2018_trial.json')).slice(0, 150),
    maxLength: 128,
    docStride: 48,
    steps: 150,
    leadChars: 8,
  });
}

export const experiments = { qa, 'qa-cmrc': qaCmrc };
