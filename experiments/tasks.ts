/**
 * Token classification on real data: CLUENER 2020 (Chinese NER, 10 entity types, one word per
 * character) with a small BERT built from a config (trained from scratch) and the real
 * bert-base-chinese tokenizer; seqeval on dev sentences, with the untrained baseline.
 * XQuAD/CMRC extractive QA is not run yet.
 */
import { readFileSync } from 'node:fs';
import { AutoTokenizer } from '../src/io/tokenizer.js';
import { parseModelConfig, type BertConfig } from '../src/models/index.js';
import { BertForTokenClassification } from '../src/models/bert.js';
import {
  buildLabelMap,
  collateTokenClassification,
  encodeTokenClassification,
  tokenClassificationLoss,
  tokenClassificationMetrics,
  train,
  type TaggedSentence,
} from '../src/train/index.js';
import { asset } from './common.js';

/** CLUENER records ({text, label: {type: {entity: [[start, end]]}}}) as characters with BIO tags. */
function readCluener(path: string, limit: number): { words: string[]; tags: string[] }[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .slice(0, limit)
    .map((line, i) => {
      const r = JSON.parse(line) as { text: string; label?: Record<string, Record<string, [number, number][]>> };
      const words = Array.from(r.text).map((c) => (c.trim() === '' ? '_' : c));
      const tags = words.map(() => 'O');
      for (const [type, entities] of Object.entries(r.label ?? {})) {
        for (const spans of Object.values(entities)) {
          for (const [s, e] of spans) {
            if (s < 0 || e >= words.length || s > e)
              throw new Error(`${path}:${i + 1}: entity span [${s}, ${e}] outside the ${words.length} characters`);
            tags[s] = `B-${type}`;
            for (let k = s + 1; k <= e; k++) tags[k] = `I-${type}`;
          }
        }
      }
      return { words, tags };
    });
}

function cluener(): Record<string, unknown> {
  const tok = AutoTokenizer.fromPretrained(asset('tokenizer-bert-base-chinese'));
  const trainRaw = readCluener(asset('cluener2020', 'train.json'), 4000);
  const devRaw = readCluener(asset('cluener2020', 'dev.json'), 300);
  const labelMap = buildLabelMap([...trainRaw, ...devRaw].map((s) => s.tags));
  const enc = (s: { words: string[]; tags: string[] }): TaggedSentence => ({
    ...s,
    feature: encodeTokenClassification(tok, s.words, s.tags, labelMap, { maxLength: 64 }),
  });
  const trainSet = trainRaw.map(enc);
  const dev = devRaw.map(enc);
  const pad = tok.padTokenId ?? 0;
  const id2label = Object.fromEntries(labelMap.labels.map((l, i) => [i, l]));
  const cfgJson = {
    architectures: ['BertForTokenClassification'],
    model_type: 'bert',
    vocab_size: tok.vocabSize ?? 21128,
    hidden_size: 64,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    intermediate_size: 128,
    max_position_embeddings: 64,
    id2label,
    hidden_dropout_prob: 0.1,
    attention_probs_dropout_prob: 0.1,
  };
  const model = new BertForTokenClassification(parseModelConfig(cfgJson) as BertConfig, {
    seed: 0,
    configJson: cfgJson,
  });
  const untrained = tokenClassificationMetrics(model, dev, labelMap, { padTokenId: pad, batchSize: 64 });
  const t0 = performance.now();
  const r = train({
    model,
    args: {
      batchSize: 16,
      maxSteps: 400,
      learningRate: 3e-3,
      warmupRatio: 0.05,
      progress: 'lines',
      logEvery: 100,
      seed: 0,
    },
    train: trainSet,
    collate: (e) =>
      collateTokenClassification(
        e.map((x) => x.feature),
        { padTokenId: pad },
      ),
    loss: tokenClassificationLoss,
  });
  const trained = tokenClassificationMetrics(model, dev, labelMap, { padTokenId: pad, batchSize: 64 });
  return {
    task: 'CLUENER 2020 NER (dev 300)',
    model: '2-layer BERT hidden 64 from config, bert-base-chinese tokenizer',
    steps: r.steps,
    seconds: (performance.now() - t0) / 1000,
    untrained,
    trained,
    firstLoss: r.history[0]?.loss,
    lastLoss: r.history.at(-1)?.loss,
  };
}

export const experiments = { cluener };
