/**
 * `train` and `eval` for the BERT-only tasks (token classification, extractive QA) on a tiny BERT
 * built from a config with the real bert-base-uncased tokenizer: the run folder, the metric the task
 * reports, and the label names saved with the run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AutoModel } from '../../src/models/auto.js';
import { assetPath, skipWithoutShared } from '../helpers/shared.js';
import { tmp, tunekit } from './helpers.js';

function tinyBert(dir: string, tokenizerDir: string): string {
  const cfg = {
    architectures: ['BertModel'],
    model_type: 'bert',
    vocab_size: 30522,
    hidden_size: 16,
    num_hidden_layers: 2,
    num_attention_heads: 2,
    intermediate_size: 32,
    max_position_embeddings: 64,
  };
  AutoModel.fromConfig(cfg, { seed: 0 }).savePretrained(dir);
  for (const f of readdirSync(tokenizerDir)) if (!f.endsWith('.md')) cpSync(join(tokenizerDir, f), join(dir, f));
  return dir;
}

test(
  'train + eval --task token-classification and --task qa on a tiny BERT',
  { skip: skipWithoutShared('tokenizer-bert-base-uncased') },
  () => {
    const root = tmp('bert');
    const model = tinyBert(join(root, 'bert'), assetPath('tokenizer-bert-base-uncased') ?? '');
    const ner = join(root, 'ner.jsonl');
    const rows: Array<[string[], string[]]> = [
      [
        ['John', 'lives', 'in', 'Paris'],
        ['B-PER', 'O', 'O', 'B-LOC'],
      ],
      [
        ['Mary', 'visited', 'London'],
        ['B-PER', 'O', 'B-LOC'],
      ],
    ];
    writeFileSync(ner, [...rows, ...rows].map(([tokens, tags]) => JSON.stringify({ tokens, tags })).join('\n') + '\n');
    const ctx = 'John lives in Paris with his dog.';
    const qa = join(root, 'qa.jsonl');
    writeFileSync(
      qa,
      [0, 1, 2, 3]
        .map((i) =>
          JSON.stringify({
            id: String(i),
            question: 'Where does John live?',
            context: ctx,
            answers: { text: ['Paris'], answer_start: [ctx.indexOf('Paris')] },
          }),
        )
        .join('\n') + '\n',
    );
    for (const [task, data, metric] of [
      ['token-classification', ner, 'seqeval'],
      ['qa', qa, 'squad'],
    ] as const) {
      const run = join(root, task);
      const t = tunekit([
        'train', '--model', model, '--data', data, '--valid-data', data, '--task', task,
        '--method', 'lora', '--target-modules', 'query', 'value', '--out', run,
        '--max-steps', '2', '--batch-size', '4', '--max-length', '32', '--eval-steps', '2',
        '--progress', 'none', '--no-report',
      ]); // prettier-ignore
      assert.equal(t.status, 0, t.stderr);
      const saved = JSON.parse(readFileSync(join(run, 'train-config.json'), 'utf8')) as { labels: string[] | null };
      if (task === 'token-classification') assert.deepEqual(saved.labels, ['B-LOC', 'B-PER', 'O']);
      const out = join(root, `${task}.json`);
      const e = tunekit([
        'eval',
        '--model',
        model,
        '--adapter',
        join(run, 'adapter'),
        '--data',
        data,
        '--task',
        task,
        '--max-length',
        '32',
        '--out',
        out,
      ]);
      assert.equal(e.status, 0, e.stderr);
      const r = JSON.parse(readFileSync(out, 'utf8')) as { metrics: Record<string, { score: number }> };
      const score = r.metrics[metric]?.score;
      assert.ok(typeof score === 'number' && score >= 0 && score <= 100, `${metric} score ${score}`);
    }
  },
);
