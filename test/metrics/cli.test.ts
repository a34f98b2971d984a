/**
 * `tunekit eval-metrics`, run as a user would: spawning the built CLI on temporary files.
 * Expected numbers come from the sklearn / seqeval / Hugging Face docstring examples and from
 * the library functions the command must agree with.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../helpers/shared.js';
import { corpusBleu } from '../../src/metrics/bleu.js';
import { rocAucScore } from '../../src/metrics/classification.js';
import { rougeCompute } from '../../src/metrics/rouge.js';
import { bootstrapCi } from '../../src/metrics/significance.js';
import { assertClose as close } from '../helpers/close.js';

const dir = mkdtempSync(join(tmpdir(), 'tunekit-eval-metrics-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

function jsonl(name: string, items: unknown[]): string {
  return file(name, items.map((x) => JSON.stringify(x)).join('\n') + '\n');
}

function run(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(repoRoot, 'dist/src/cli/main.js'), 'eval-metrics', ...args], {
    encoding: 'utf8',
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function runJson(...args: string[]): Record<string, any> {
  const r = run(...args);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as Record<string, any>;
}

test('label metrics from plain text and JSONL, options passed through', () => {
  const p = file('pred.txt', '0\n2\n1\n3\n');
  const r = file('gold.txt', '0\n1\n2\n3\n');
  assert.deepEqual(runJson('--metric', 'accuracy', '--predictions', p, '--references', r), {
    metric: 'accuracy',
    n: 4,
    accuracy: 0.5,
  });
  // sklearn docstring: f1_score([0,1,2,0,1,2], [0,2,1,0,0,1], average='macro') = 0.2666…
  const pj = jsonl('pred.jsonl', [0, 2, 1, 0, 0, 1]);
  const rj = jsonl('gold.jsonl', [0, 1, 2, 0, 1, 2]);
  close(
    runJson('--metric', 'f1', '--predictions', pj, '--references', rj, '--option', 'average=macro').f1,
    0.26666666666666666,
  );
  assert.deepEqual(
    runJson('--metric', 'recall', '--predictions', pj, '--references', rj, '--option', 'average=null').recall,
    [1, 0, 0],
  );
  // string labels from JSONL stay strings; posLabel selects the positive class
  const ps = jsonl('ps.jsonl', ['spam', 'ham', 'spam']);
  const rs = jsonl('rs.jsonl', ['spam', 'spam', 'spam']);
  close(
    runJson('--metric', 'precision', '--predictions', ps, '--references', rs, '--option', 'posLabel=spam').precision,
    1,
  );
  // JSON arrays are multilabel indicator rows (sklearn docstring: samples F1 = (0 + 1 + 1/2)/3)
  const mp = jsonl('ml-pred.jsonl', [
    [0, 0, 0],
    [1, 1, 1],
    [1, 1, 0],
  ]);
  const mt = jsonl('ml-true.jsonl', [
    [0, 0, 0],
    [1, 1, 1],
    [0, 1, 1],
  ]);
  close(runJson('--metric', 'f1', '--predictions', mp, '--references', mt, '--option', 'average=samples').f1, 0.5);
});

test('regression and ROC AUC: numbers, vectors, NaN written as a string', () => {
  const p = file('yp.txt', '2.5\n0.0\n2\n8\n');
  const t = file('yt.txt', '3\n-0.5\n2\n7\n');
  close(runJson('--metric', 'r2', '--predictions', p, '--references', t).r2, 0.9486081370449679); // sklearn docstring
  close(runJson('--metric', 'mse', '--predictions', p, '--references', t).mse, 0.375);
  const mp = file('mp.txt', '0 2\n-1 2\n8 -5\n');
  const mt = file('mt.txt', '0.5 1\n-1 1\n7 -6\n');
  assert.deepEqual(
    runJson('--metric', 'mae', '--predictions', mp, '--references', mt, '--option', 'multioutput=raw_values').mae,
    [0.5, 1],
  );
  const one = file('one.txt', '1\n');
  assert.equal(runJson('--metric', 'r2', '--predictions', one, '--references', one).r2, 'NaN');
  const scores = jsonl('scores.jsonl', [0.1, 0.4, 0.35, 0.8]);
  const labels = jsonl('labels.jsonl', [0, 0, 1, 1]);
  close(runJson('--metric', 'roc_auc', '--predictions', scores, '--references', labels).roc_auc, 0.75); // sklearn docstring
  const probs = jsonl('probs.jsonl', [
    [0.7, 0.2, 0.1],
    [0.2, 0.5, 0.3],
    [0.1, 0.3, 0.6],
    [0.3, 0.3, 0.4],
    [0.4, 0.4, 0.2],
    [0.5, 0.1, 0.4],
  ]);
  const classes = jsonl('classes.jsonl', [0, 1, 2, 2, 1, 0]);
  const ovr = runJson(
    '--metric',
    'roc_auc',
    '--predictions',
    probs,
    '--references',
    classes,
    '--option',
    'multiClass=ovr',
  );
  close(
    ovr.roc_auc,
    rocAucScore(
      [0, 1, 2, 2, 1, 0],
      [
        [0.7, 0.2, 0.1],
        [0.2, 0.5, 0.3],
        [0.1, 0.3, 0.6],
        [0.3, 0.3, 0.4],
        [0.4, 0.4, 0.2],
        [0.5, 0.1, 0.4],
      ],
      { multiClass: 'ovr' },
    ),
  );
});

test('seqeval: Hugging Face evaluate docstring through JSONL tag sequences', () => {
  const preds = jsonl('tags-pred.jsonl', [
    ['O', 'O', 'B-MISC', 'I-MISC', 'I-MISC', 'I-MISC', 'O'],
    ['B-PER', 'I-PER', 'O'],
  ]);
  const refs = file('tags-ref.txt', 'O O O B-MISC I-MISC I-MISC O\nB-PER I-PER O\n');
  const r = runJson('--metric', 'seqeval', '--predictions', preds, '--references', refs);
  assert.equal(r.overall_f1, 0.5);
  assert.deepEqual(r.PER, { precision: 1, recall: 1, f1: 1, number: 1 });
  close(r.overall_accuracy, 0.8);
});

test('bleu: multi-reference items equal the library on reference streams; bootstrap is seeded', () => {
  const hyps = ['The dog bit the man.', "It wasn't surprising.", 'The man had just bitten him.'];
  const refs1 = ['The dog bit the man.', 'It was not unexpected.', 'The man bit him first.'];
  const refs2 = ['The dog had bit the man.', 'No one was surprised.', 'The man had bitten the dog.'];
  const p = file('hyp.txt', hyps.join('\n') + '\n');
  const r = jsonl(
    'refs.jsonl',
    refs1.map((x, i) => [x, refs2[i]]),
  );
  const out = runJson('--metric', 'bleu', '--predictions', p, '--references', r, '--bootstrap', '100', '--seed', '7');
  const expected = corpusBleu(hyps, [refs1, refs2]);
  close(out.score, expected.score);
  assert.deepEqual(out.counts, expected.counts);
  assert.ok(out.bootstrap.low <= out.score && out.score <= out.bootstrap.high);
  assert.equal(out.bootstrap.nSamples, 100);
  const again = runJson('--metric', 'bleu', '--predictions', p, '--references', r, '--bootstrap', '100', '--seed', '7');
  assert.deepEqual(again.bootstrap, out.bootstrap);
  // The CLI sums per-segment statistics; re-scoring every resample with corpusBleu must agree.
  const pairs = hyps.map((h, i) => [h, refs1[i]!, refs2[i]!] as const);
  const direct = bootstrapCi(
    (items: (readonly [string, string, string])[]) =>
      corpusBleu(
        items.map((x) => x[0]),
        [items.map((x) => x[1]), items.map((x) => x[2])],
      ).score,
    pairs,
    pairs,
    { nSamples: 100, seed: 7 },
  );
  for (const key of ['low', 'high', 'mean', 'std'] as const) close(out.bootstrap[key], direct[key]);
  // Same for a mean-of-items metric (ROUGE-L F-measure)
  const rougeOut = runJson(
    '--metric',
    'rouge',
    '--predictions',
    p,
    '--references',
    jsonl('refs1.jsonl', refs1),
    '--bootstrap',
    '50',
  );
  const rougeDirect = bootstrapCi(
    (h: string[], ref: string[]) => rougeCompute(h, ref, { rougeTypes: ['rougeL'] }).rougeL as number,
    hyps,
    refs1,
    { nSamples: 50 },
  );
  for (const key of ['score', 'low', 'high', 'mean'] as const) close(rougeOut.bootstrap[key], rougeDirect[key]);
});

test('text metrics: METEOR, ROUGE and SQuAD on hand-checkable inputs', () => {
  const same = file('same.txt', 'the cat sat on the mat\n');
  // identical 6-token sentences: P = R = 1, one chunk → 1 − 0.5·(1/6)³ (NLTK's formula)
  close(
    runJson('--metric', 'meteor', '--predictions', same, '--references', same, '--option', 'wordnet=false').meteor,
    1 - 0.5 / 216,
  );
  // NLTK word_tokenize splits the final period off: 7 tokens in one chunk
  const period = file('period.txt', 'the cat sat on the mat.\n');
  close(
    runJson('--metric', 'meteor', '--predictions', period, '--references', period, '--option', 'wordnet=false').meteor,
    1 - 0.5 / 343,
  );
  const rouge = runJson('--metric', 'rouge', '--predictions', same, '--references', same);
  assert.deepEqual([rouge.rouge1, rouge.rouge2, rouge.rougeL, rouge.rougeLsum], [1, 1, 1, 1]);
  // SQuAD normalisation drops case, punctuation and articles; F1 of "Denver Broncos" vs "Broncos" = 2/3
  const preds = file('answers.txt', 'The Denver Broncos!\nDenver Broncos\n');
  const golds = jsonl('golds.jsonl', [['denver broncos', 'Broncos'], 'Broncos']);
  const squad = runJson('--metric', 'squad', '--predictions', preds, '--references', golds);
  close(squad.exact_match, 50);
  close(squad.f1, (100 * (1 + 2 / 3)) / 2);
});

test(
  'meteor: Hugging Face evaluate docstring (0.6944, NLTK tokenisation and WordNet)',
  { skip: existsSync('/usr/share/wordnet/data.noun') ? false : 'WordNet (Debian wordnet-base) is not installed' },
  () => {
    const p = file(
      'meteor-pred.txt',
      'It is a guide to action which ensures that the military always obeys the commands of the party\n',
    );
    const r = file(
      'meteor-ref.txt',
      'It is a guide to action that ensures that the military will forever heed Party commands\n',
    );
    assert.equal(
      Math.round(runJson('--metric', 'meteor', '--predictions', p, '--references', r).meteor * 1e4) / 1e4,
      0.6944,
    );
  },
);

test('JSON array files and metrics without references', () => {
  const p = file('gen.json', JSON.stringify(['a b a b a b', 'c d e']));
  const r = runJson('--metric', 'distinct', '--predictions', p);
  // 1-grams: {a, b, c, d, e} over 9 tokens; 2-grams: {ab, ba, cd, de} over 7
  close(r.distinct_1, 5 / 9);
  close(r.distinct_2, 4 / 7);
  // rep-2 of "a b a b a b" = 1 − 2/5, of "c d e" = 0; mean 0.3
  close(runJson('--metric', 'rep', '--predictions', p).rep_2, 0.3);
  // perplexity from token NLLs: exp(mean NLL) per sequence; the corpus value weighs tokens
  const nll = jsonl('nll.jsonl', [[Math.LN2, Math.LN2], [Math.log(8)]]);
  const ppl = runJson('--metric', 'perplexity', '--predictions', nll);
  close(ppl.perplexities[0], 2);
  close(ppl.perplexities[1], 8);
  close(ppl.mean_perplexity, 5);
  close(ppl.corpus_perplexity, Math.exp((2 * Math.LN2 + Math.log(8)) / 3)); // = 2^(5/3)
});

test('clear errors: unknown metric, counts, bad JSON, unknown option', () => {
  const p = file('p2.txt', '1\n0\n');
  const r = file('r1.txt', '1\n');
  const unknown = run('--metric', 'nope', '--predictions', p, '--references', p);
  assert.equal(unknown.status, 1);
  assert.match(
    unknown.stderr,
    /unknown metric "nope"; known metrics: accuracy, precision, .*r2, seqeval, bleu, .*rouge, meteor, squad/,
  );
  const counts = run('--metric', 'accuracy', '--predictions', p, '--references', r);
  assert.equal(counts.status, 1);
  assert.ok(counts.stderr.includes(`${p} has 2 items but ${r} has 1`), counts.stderr);
  const bad = file('bad.jsonl', '"ok"\n["O", bad\n');
  const badRun = run('--metric', 'accuracy', '--predictions', bad, '--references', bad);
  assert.equal(badRun.status, 1);
  assert.ok(badRun.stderr.includes(`${bad} line 2: invalid JSON`), badRun.stderr);
  const opt = run('--metric', 'f1', '--predictions', p, '--references', p, '--option', 'avg=macro');
  assert.match(opt.stderr, /metric f1 has no option "avg"; its options are: average, posLabel, labels, zeroDivision/);
  const type = run('--metric', 'mse', '--predictions', jsonl('s.jsonl', ['x']), '--references', jsonl('n.jsonl', [1]));
  assert.match(type.stderr, /s\.jsonl line 1: expected a finite number, got "x"/);
  const missing = run('--metric', 'accuracy', '--predictions', join(dir, 'absent.txt'), '--references', p);
  assert.match(missing.stderr, /absent\.txt: file not found/);
});

test('issue 12: --bootstrap has an upper bound, and bounded options are named with their range', () => {
  const p = file('bound-pred.txt', 'a b c\n');
  const big = run('--metric', 'bleu', '--predictions', p, '--references', p, '--bootstrap', '1000000000');
  assert.notEqual(big.status, 0);
  assert.match(big.stderr, /--bootstrap expects an integer in \[0, 10000\], got "1000000000"/);
  const order = run('--metric', 'bleu', '--predictions', p, '--references', p, '--option', 'maxNgramOrder=1e9');
  assert.notEqual(order.status, 0);
  assert.match(order.stderr, /metric bleu: option maxNgramOrder: expected an integer in \[1, 100\], got 1000000000/);
  const chr = run('--metric', 'chrf', '--predictions', p, '--references', p, '--option', 'charOrder=1e9');
  assert.match(chr.stderr, /metric chrf: option charOrder: expected an integer in \[0, 100\], got 1000000000/);
  assert.equal(
    runJson('--metric', 'bleu', '--predictions', p, '--references', p, '--bootstrap', '10000').bootstrap.nSamples,
    10000,
  );
});
