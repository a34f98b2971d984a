/**
 * Sequence classification and regression on real data with stories260K (a 260K-parameter Llama
 * trained on TinyStories) as the body, loaded with a fresh `score` head, LoRA on every projection:
 *   - SST-2 (English sentiment): accuracy on the GLUE dev set;
 *   - STS-B (sentence-pair similarity, regression 0..5): Pearson r on the dev set;
 *   - ChnSentiCorp (Chinese hotel-review sentiment): a small BERT built from a config with the real
 *     bert-base-chinese tokenizer, trained from scratch (stories260K has no Chinese vocabulary).
 * Each with the untrained baseline (the same model before training).
 */
import { AutoTokenizer } from '../src/io/tokenizer.js';
import { parseModelConfig, type BertConfig } from '../src/models/index.js';
import { BertForSequenceClassification } from '../src/models/bert.js';
import { LlamaForSequenceClassification } from '../src/models/sequence-classification.js';
import { loraConfig } from '../src/peft/lora/config.js';
import { getPeftModel } from '../src/peft/peft-model.js';
import { noGrad } from '../src/tensor/tensor.js';
import { loadExamples, shuffled, splitDataset, type Example } from '../src/train/data.js';
import {
  classificationLoss,
  classificationTokens,
  collateClassification,
  labelMapping,
  predictClassification,
  type ClassificationExample,
  type ClassifierModel,
} from '../src/train/classification.js';
import { train } from '../src/train/trainer.js';
import { computeMetrics } from '../src/metrics/registry.js';
import { asset, lineChart, pearson } from './common.js';

const STORIES = asset('stories260K-hf');

function accuracy(model: ClassifierModel, ex: ClassificationExample[], pad: number): number {
  const { predictions, references } = noGrad(() =>
    predictClassification(model, ex, { padTokenId: pad, batchSize: 64 }),
  );
  const r = computeMetrics(['accuracy'], { predictions, references });
  const score = r.accuracy?.score;
  if (typeof score !== 'number') throw new Error('accuracy: no score');
  return score;
}

async function sst2(): Promise<Record<string, unknown>> {
  const tok = AutoTokenizer.fromPretrained(STORIES);
  const all = shuffled(await loadExamples(asset('sst2', 'train.tsv')), 1).slice(0, 1200);
  const dev = shuffled(await loadExamples(asset('sst2', 'dev.tsv')), 1).slice(0, 400);
  const map = labelMapping(all, 'classification');
  const enc = (e: Example): ClassificationExample => classificationTokens(tok, e, map.toId, { maxLength: 48 });
  const trainEx = all.map(enc);
  const devEx = dev.map(enc);
  const model = LlamaForSequenceClassification.fromPretrained(STORIES, {
    numLabels: 2,
    padTokenId: 0,
    onWarning: () => {},
  });
  getPeftModel(
    model,
    loraConfig({
      taskType: 'SEQ_CLS',
      targetModules: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'up_proj', 'down_proj', 'gate_proj'],
      r: 8,
      loraAlpha: 16,
      seed: 0,
    }),
  );
  const baseline = accuracy(model, devEx, 0);
  const validSmall = devEx.slice(0, 100);
  const r = train({
    model,
    args: {
      batchSize: 16,
      maxSteps: 75,
      learningRate: 5e-3,
      warmupRatio: 0.05,
      lrScheduler: 'linear',
      evalEvery: 25,
      progress: 'lines',
      logEvery: 25,
      seed: 0,
      outDir: 'experiments/results/runs/sst2',
    },
    train: trainEx,
    valid: validSmall,
    collate: (e) => collateClassification(e, { padTokenId: 0 }),
    loss: classificationLoss,
    metrics: (m) => ({ accuracy: accuracy(m, validSmall, 0) }),
    describe: {
      task: 'sequence-classification (SST-2)',
      model: {
        path: 'stories260K-hf',
        architecture: 'LlamaForSequenceClassification',
        parameters: model.numParameters(),
      },
      method: { peftType: 'LORA', trainableParameters: model.numParameters(true) },
    },
  });
  const after = accuracy(model, devEx, 0);
  lineChart('sst2-loss', 'SST-2, stories260K + LoRA r=8: training loss', 'cross-entropy', [
    { label: 'train loss', points: r.history.map((h) => [h.step, h.loss]) },
    { label: 'valid loss', points: r.evals.map((e) => [e.step, e.loss]) },
  ]);
  return {
    task: 'SST-2',
    model: 'stories260K-hf + LoRA r=8 (all projections) + score',
    trainExamples: trainEx.length,
    dev: devEx.length,
    steps: r.steps,
    devAccuracyUntrained: baseline,
    devAccuracyTrained: after,
    majorityClass: Math.max(...[0, 1].map((c) => devEx.filter((e) => e.label === c).length)) / devEx.length,
    elapsedSec: r.elapsedSec,
  };
}

async function stsb(): Promise<Record<string, unknown>> {
  const tok = AutoTokenizer.fromPretrained(STORIES);
  const read = (f: string): Promise<Example[]> =>
    loadExamples(asset('stsb', f), {
      format: 'tsv',
      header: false,
      relaxColumnCount: true,
      columnNames: ['genre', 'file', 'year', 'id', 'score', 's1', 's2'],
      kind: 'label',
      columns: { text: 's1', textPair: 's2', label: 'score' },
    });
  const all = shuffled(await read('sts-train.csv'), 2).slice(0, 1200);
  const dev = shuffled(await read('sts-dev.csv'), 2).slice(0, 400);
  const map = labelMapping(all, 'regression');
  const enc = (e: Example): ClassificationExample => classificationTokens(tok, e, map.toId, { maxLength: 64 });
  const trainEx = all.map(enc);
  const devEx = dev.map(enc);
  const model = LlamaForSequenceClassification.fromPretrained(STORIES, {
    numLabels: 1,
    padTokenId: 0,
    problemType: 'regression',
    onWarning: () => {},
  });
  getPeftModel(
    model,
    loraConfig({
      taskType: 'SEQ_CLS',
      targetModules: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'up_proj', 'down_proj', 'gate_proj'],
      r: 8,
      loraAlpha: 16,
      seed: 0,
    }),
  );
  const corr = (): number => {
    const p = noGrad(() => predictClassification(model, devEx, { padTokenId: 0, regression: true, batchSize: 64 }));
    return pearson(p.predictions, p.references);
  };
  const baseline = corr();
  const r = train({
    model,
    args: {
      batchSize: 16,
      maxSteps: 75,
      learningRate: 5e-3,
      warmupRatio: 0.05,
      evalEvery: 25,
      progress: 'lines',
      logEvery: 25,
      seed: 0,
      outDir: 'experiments/results/runs/stsb',
    },
    train: trainEx,
    valid: devEx.slice(0, 100),
    collate: (e) => collateClassification(e, { padTokenId: 0, regression: true }),
    loss: classificationLoss,
  });
  const after = corr();
  lineChart('stsb-loss', 'STS-B regression, stories260K + LoRA: MSE', 'MSE', [
    { label: 'train', points: r.history.map((h) => [h.step, h.loss]) },
    { label: 'valid', points: r.evals.map((e) => [e.step, e.loss]) },
  ]);
  return {
    task: 'STS-B',
    model: 'stories260K-hf + LoRA r=8 + score (regression)',
    trainExamples: trainEx.length,
    dev: devEx.length,
    steps: r.steps,
    devPearsonUntrained: baseline,
    devPearsonTrained: after,
    devMseTrained: r.evals.at(-1)?.loss,
    elapsedSec: r.elapsedSec,
  };
}

async function chnsenticorp(): Promise<Record<string, unknown>> {
  const tokDir = asset('tokenizer-bert-base-chinese');
  const tok = AutoTokenizer.fromPretrained(tokDir);
  const all = await loadExamples(asset('chnsenticorp', 'ChnSentiCorp_htl_all.csv'), { columns: { text: 'review' } });
  const split = splitDataset(
    all.filter((e) => e.kind === 'label' && e.text.length > 0),
    { valid: 0.1, seed: 3 },
  );
  const map = labelMapping(split.train, 'classification');
  const enc = (e: Example): ClassificationExample => classificationTokens(tok, e, map.toId, { maxLength: 64 });
  const trainEx = split.train.slice(0, 1500).map(enc);
  const devEx = split.valid.slice(0, 400).map(enc);
  const cfgJson = {
    architectures: ['BertForSequenceClassification'],
    model_type: 'bert',
    vocab_size: tok.vocabSize ?? 21128,
    hidden_size: 64,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    intermediate_size: 128,
    max_position_embeddings: 128,
    num_labels: 2,
    hidden_dropout_prob: 0.1,
    attention_probs_dropout_prob: 0.1,
  };
  const model = new BertForSequenceClassification(parseModelConfig(cfgJson) as BertConfig, {
    seed: 0,
    configJson: cfgJson,
  });
  model.freeze(false);
  const pad = tok.padTokenId ?? 0;
  const baseline = accuracy(model, devEx, pad);
  const r = train({
    model,
    args: {
      batchSize: 16,
      maxSteps: 90,
      learningRate: 3e-3,
      warmupRatio: 0.05,
      evalEvery: 30,
      progress: 'lines',
      logEvery: 25,
      seed: 0,
      outDir: 'experiments/results/runs/chnsenticorp',
    },
    train: trainEx,
    valid: devEx.slice(0, 100),
    collate: (e) => collateClassification(e, { padTokenId: pad }),
    loss: classificationLoss,
    metrics: (m) => ({ accuracy: accuracy(m, devEx.slice(0, 100), pad) }),
  });
  const after = accuracy(model, devEx, pad);
  lineChart(
    'chnsenticorp-loss',
    'ChnSentiCorp, 2-layer BERT from config (bert-base-chinese tokenizer)',
    'cross-entropy',
    [
      { label: 'train', points: r.history.map((h) => [h.step, h.loss]) },
      { label: 'valid', points: r.evals.map((e) => [e.step, e.loss]) },
    ],
  );
  return {
    task: 'ChnSentiCorp',
    model: '2-layer BERT (hidden 64) from config, full training, bert-base-chinese tokenizer',
    trainExamples: trainEx.length,
    dev: devEx.length,
    steps: r.steps,
    devAccuracyUntrained: baseline,
    devAccuracyTrained: after,
    majorityClass: Math.max(...[0, 1].map((c) => devEx.filter((e) => e.label === c).length)) / devEx.length,
    elapsedSec: r.elapsedSec,
  };
}

export const experiments = { sst2, stsb, chnsenticorp };
