/**
 * Throughput of the text metrics over 10,000 sentence pairs: corpus BLEU (13a, and zh on the
 * Chinese side), sentence BLEU, chrF, ROUGE (rouge1/rouge2/rougeL/rougeLsum) and METEOR (with
 * WordNet when a WordNet directory is installed), reported as milliseconds per 1,000 pairs.
 *
 * Pairs come from the Tatoeba English–Chinese corpus in shared/assets/tatoeba-cmn-eng (the
 * references) with a seeded perturbation of each (the hypotheses: a word dropped, two neighbours
 * swapped, a word replaced), or from seeded synthetic sentences when the asset is absent.
 * No Python baseline: sacrebleu, rouge-score and NLTK are not installable here (no PyPI).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { assetPath } from '../test/helpers/shared.js';
import { seededRandom, type SeededRandom } from '../src/metrics/significance.js';
import { corpusBleu, sentenceBleu } from '../src/metrics/bleu.js';
import { corpusChrf } from '../src/metrics/chrf.js';
import { RougeScorer } from '../src/metrics/rouge.js';
import { meteorScore } from '../src/metrics/meteor.js';
import { resolveWordNetDir, WordNet } from '../src/metrics/wordnet.js';

const PAIRS = 10_000;

/** A seeded edit of a sentence: drop, swap or replace one word (whitespace-tokenised). */
function perturb(words: string[], vocabulary: readonly string[], rng: SeededRandom): string[] {
  const out = [...words];
  if (out.length < 2) return out;
  const i = rng.integer(out.length);
  switch (rng.integer(3)) {
    case 0:
      out.splice(i, 1);
      break;
    case 1: {
      const j = i === out.length - 1 ? i - 1 : i + 1;
      [out[i], out[j]] = [out[j]!, out[i]!];
      break;
    }
    default:
      out[i] = vocabulary[rng.integer(vocabulary.length)]!;
  }
  return out;
}

interface Corpus {
  source: string;
  references: string[];
  hypotheses: string[];
  /** Chinese references/hypotheses (character edits), when the source has them. */
  zhReferences?: string[];
  zhHypotheses?: string[];
}

function loadCorpus(rng: SeededRandom): Corpus {
  const path = assetPath('tatoeba-cmn-eng', 'cmn.txt');
  if (path !== null) {
    // Sorted short to long: take the last 10,000 lines (the longer, more realistic sentences).
    const lines = readFileSync(path, 'utf8').replace(/^\ufeff/, '').split('\n').filter((l) => l.includes('\t'));
    const rows = lines.slice(-PAIRS).map((l) => l.split('\t'));
    const english = rows.map((r) => r[0]!);
    const chinese = rows.map((r) => r[1]!);
    const vocabulary = [...new Set(english.flatMap((s) => s.split(' ')))];
    const characters = [...new Set(chinese.flatMap((s) => Array.from(s)))];
    return {
      source: 'tatoeba-cmn-eng (last 10,000 pairs of cmn.txt, seeded word edits as hypotheses)',
      references: english,
      hypotheses: english.map((s) => perturb(s.split(' '), vocabulary, rng).join(' ')),
      zhReferences: chinese,
      zhHypotheses: chinese.map((s) => perturb(Array.from(s), characters, rng).join('')),
    };
  }
  const vocabulary = Array.from({ length: 2000 }, (_, i) => `w${i.toString(36)}`);
  const references = Array.from({ length: PAIRS }, () =>
    Array.from({ length: 5 + rng.integer(20) }, () => vocabulary[rng.integer(vocabulary.length)]!).join(' '),
  );
  return {
    source: 'synthetic (seeded random sentences of 5-24 words; tatoeba-cmn-eng asset absent)',
    references,
    hypotheses: references.map((s) => perturb(s.split(' '), vocabulary, rng).join(' ')),
  };
}

/** Wall time of `fn` in milliseconds per 1,000 of `n` pairs. */
function perThousand(n: number, fn: () => unknown): number {
  const start = performance.now();
  fn();
  return ((performance.now() - start) / n) * 1000;
}

/** Times the text metrics over 10,000 sentence pairs; prints and returns ms per 1,000 pairs. */
export async function benchMetrics(): Promise<Record<string, unknown>> {
  const corpus = loadCorpus(seededRandom(2024));
  const { references, hypotheses } = corpus;
  const n = references.length;
  const msPer1000: Record<string, number> = {};
  const notes: string[] = [];

  msPer1000['corpus BLEU (13a)'] = perThousand(n, () => corpusBleu(hypotheses, [references]));
  if (corpus.zhReferences && corpus.zhHypotheses) {
    const [zhRefs, zhHyps] = [corpus.zhReferences, corpus.zhHypotheses];
    msPer1000['corpus BLEU (zh, Chinese side)'] = perThousand(n, () => corpusBleu(zhHyps, [zhRefs], { tokenize: 'zh' }));
  }
  msPer1000['sentence BLEU (each pair)'] = perThousand(n, () => hypotheses.forEach((h, i) => sentenceBleu(h, [references[i]!])));
  msPer1000['corpus chrF'] = perThousand(n, () => corpusChrf(hypotheses, [references]));
  const rouge = new RougeScorer(['rouge1', 'rouge2', 'rougeL', 'rougeLsum']);
  msPer1000['ROUGE 1/2/L/Lsum'] = perThousand(n, () => hypotheses.forEach((h, i) => rouge.score(references[i]!, h)));

  let wordnet: WordNet | false = false;
  try {
    const dir = resolveWordNetDir();
    const start = performance.now();
    wordnet = WordNet.open(dir);
    notes.push(`WordNet from ${dir} (open: ${(performance.now() - start).toFixed(0)} ms)`);
  } catch (e) {
    notes.push(`METEOR without the WordNet synonym stage: ${(e as Error).message}`);
  }
  const tokenized = hypotheses.map((h) => h.split(' '));
  const tokenizedRefs = references.map((r) => r.split(' '));
  msPer1000[wordnet ? 'METEOR (exact+stem+WordNet)' : 'METEOR (exact+stem)'] = perThousand(n, () =>
    tokenized.forEach((h, i) => meteorScore([tokenizedRefs[i]!], h, { wordnet })),
  );

  console.log(`metrics: ${n} sentence pairs from ${corpus.source}`);
  for (const [name, ms] of Object.entries(msPer1000)) console.log(`  ${name.padEnd(32)} ${ms.toFixed(1).padStart(8)} ms / 1,000 pairs`);
  for (const note of notes) console.log(`  note: ${note}`);
  return { pairs: n, source: corpus.source, msPer1000Pairs: msPer1000, notes, baseline: 'none (Python references not installable offline)' };
}

// Allow `node dist/bench/metrics.js` on its own.
if (process.argv[1] !== undefined && join(process.argv[1]) === new URL(import.meta.url).pathname) {
  await benchMetrics();
}
