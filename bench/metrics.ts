/**
 * Throughput of the text metrics over 10,000 sentence pairs: corpus BLEU (13a, and zh on the
 * Chinese side), sentence BLEU, chrF, ROUGE (rouge1/rouge2/rougeL/rougeLsum) and METEOR (with
 * WordNet when a WordNet directory is installed), reported as milliseconds per 1,000 pairs.
 *
 * Pairs come from the Tatoeba English–Chinese corpus in shared/assets/tatoeba-cmn-eng (the
 * references) with a seeded perturbation of each (the hypotheses: a word dropped, two neighbours
 * swapped, a word replaced), or from seeded synthetic sentences when the asset is absent.
 * Baseline in the same run, where the Python references are installed: sacrebleu (corpus BLEU,
 * sentence BLEU, chrF) and NLTK's meteor_score over the same pairs, each timed by its own script.
 * Interpreters tried: $TUNEKIT_PYTHON (space-separated list), python3, /usr/bin/python3.
 * rouge-score has no Debian package, so ROUGE has no baseline here.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
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
    const lines = readFileSync(path, 'utf8')
      .replace(/^\ufeff/, '')
      .split('\n')
      .filter((l) => l.includes('\t'));
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

/** Times the references with the first interpreter that has the module; ms per 1,000 pairs by name. */
const PYTHON_TIMER = `
import json, sys, time
refs, hyps, zh_refs, zh_hyps, wordnet_dir = json.load(open(sys.argv[1]))
n = len(refs)
out = {}
def per1000(fn):
    t = time.perf_counter(); fn(); return (time.perf_counter() - t) / n * 1000 * 1000
if sys.argv[2] == 'sacrebleu':
    import sacrebleu
    out['version'] = 'sacrebleu ' + sacrebleu.__version__
    out['corpus BLEU (13a)'] = per1000(lambda: sacrebleu.corpus_bleu(hyps, [refs]))
    if zh_refs:
        out['corpus BLEU (zh, Chinese side)'] = per1000(lambda: sacrebleu.corpus_bleu(zh_hyps, [zh_refs], tokenize='zh'))
    out['sentence BLEU (each pair)'] = per1000(lambda: [sacrebleu.sentence_bleu(h, [r]) for h, r in zip(hyps, refs)])
    out['corpus chrF'] = per1000(lambda: sacrebleu.corpus_chrf(hyps, [refs]))
else:
    import nltk
    from nltk.translate.meteor_score import meteor_score
    from nltk.corpus.reader.wordnet import WordNetCorpusReader
    import os, tempfile
    # Debian's wordnet-base lacks the lexnames file NLTK's reader wants: link the database into a
    # temporary folder and write the standard 45 lexicographer file names (lexnames(5WN)).
    d = tempfile.mkdtemp()
    for f in os.listdir(wordnet_dir):
        os.symlink(os.path.join(wordnet_dir, f), os.path.join(d, f))
    names = ('adj.all adj.pert adv.all noun.Tops noun.act noun.animal noun.artifact noun.attribute noun.body '
             'noun.cognition noun.communication noun.event noun.feeling noun.food noun.group noun.location '
             'noun.motive noun.object noun.person noun.phenomenon noun.plant noun.possession noun.process '
             'noun.quantity noun.relation noun.shape noun.state noun.substance noun.time verb.body verb.change '
             'verb.cognition verb.communication verb.competition verb.consumption verb.contact verb.creation '
             'verb.emotion verb.motion verb.perception verb.possession verb.social verb.stative verb.weather adj.ppl').split()
    cat = {'noun': 1, 'verb': 2, 'adj': 3, 'adv': 4}
    with open(os.path.join(d, 'lexnames'), 'w') as f:
        for i, name in enumerate(names):
            f.write('%02d\\t%s\\t%d\\n' % (i, name, cat[name.split('.')[0]]))
    wn = WordNetCorpusReader(d, None)
    wn.synsets('dog')
    out['version'] = 'nltk ' + nltk.__version__
    th = [h.split(' ') for h in hyps]; tr = [r.split(' ') for r in refs]
    out['METEOR (exact+stem+WordNet)'] = per1000(lambda: [meteor_score([r], h, wordnet=wn) for h, r in zip(th, tr)])
print(json.dumps(out))
`;

function pythonBaseline(
  corpus: Corpus,
  wordnetDir: string | null,
): { timings: Record<string, number>; versions: string[]; missing: string[] } {
  const dir = mkdtempSync(join(tmpdir(), 'tunekit-metrics-bench-'));
  const timings: Record<string, number> = {};
  const versions: string[] = [];
  const missing: string[] = [];
  try {
    writeFileSync(
      join(dir, 'pairs.json'),
      JSON.stringify([
        corpus.references,
        corpus.hypotheses,
        corpus.zhReferences ?? null,
        corpus.zhHypotheses ?? null,
        wordnetDir,
      ]),
    );
    writeFileSync(join(dir, 'timer.py'), PYTHON_TIMER);
    const pythons = [...(process.env.TUNEKIT_PYTHON ?? '').split(' ').filter(Boolean), 'python3', '/usr/bin/python3'];
    for (const mod of ['sacrebleu', 'nltk']) {
      if (mod === 'nltk' && !wordnetDir) {
        missing.push('nltk (no WordNet directory)');
        continue;
      }
      const py = pythons.find((p) => spawnSync(p, ['-c', `import ${mod}`]).status === 0);
      if (!py) {
        missing.push(mod);
        continue;
      }
      const run = spawnSync(py, [join(dir, 'timer.py'), join(dir, 'pairs.json'), mod], {
        encoding: 'utf8',
        maxBuffer: 1 << 24,
      });
      if (run.status !== 0) {
        missing.push(`${mod} (failed: ${run.stderr.trim().split('\n').pop()})`);
        continue;
      }
      const res = JSON.parse(run.stdout) as Record<string, number | string>;
      versions.push(String(res.version));
      for (const [k, v] of Object.entries(res)) if (k !== 'version') timings[k] = v as number;
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return { timings, versions, missing };
}

/** Times the text metrics over 10,000 sentence pairs; prints and returns ms per 1,000 pairs. */
export function benchMetrics(): Record<string, unknown> {
  const corpus = loadCorpus(seededRandom(2024));
  const { references, hypotheses } = corpus;
  const n = references.length;
  const msPer1000: Record<string, number> = {};
  const notes: string[] = [];

  msPer1000['corpus BLEU (13a)'] = perThousand(n, () => corpusBleu(hypotheses, [references]));
  if (corpus.zhReferences && corpus.zhHypotheses) {
    const [zhRefs, zhHyps] = [corpus.zhReferences, corpus.zhHypotheses];
    msPer1000['corpus BLEU (zh, Chinese side)'] = perThousand(n, () =>
      corpusBleu(zhHyps, [zhRefs], { tokenize: 'zh' }),
    );
  }
  msPer1000['sentence BLEU (each pair)'] = perThousand(n, () =>
    hypotheses.forEach((h, i) => sentenceBleu(h, [references[i]!])),
  );
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

  const py = pythonBaseline(corpus, wordnet ? resolveWordNetDir() : null);
  console.log(`metrics: ${n} sentence pairs from ${corpus.source}`);
  console.log(
    `  ${'metric'.padEnd(32)} ${'tunekit'.padStart(8)} ${'Python'.padStart(9)}  speed-up   (ms per 1,000 pairs; Python: ${py.versions.join(', ') || 'none'})`,
  );
  for (const [name, ms] of Object.entries(msPer1000)) {
    const ref = py.timings[name];
    console.log(
      `  ${name.padEnd(32)} ${ms.toFixed(1).padStart(8)} ${ref === undefined ? '        -' : ref.toFixed(1).padStart(9)}  ${ref === undefined ? '' : `${(ref / ms).toFixed(1)}x`}`,
    );
  }
  if (py.missing.length)
    notes.push(
      `no Python baseline for: ${py.missing.join(', ')} (install sacrebleu with pip, python3-nltk with apt; rouge-score is not packaged)`,
    );
  for (const note of notes) console.log(`  note: ${note}`);
  return {
    pairs: n,
    source: corpus.source,
    msPer1000Pairs: msPer1000,
    pythonMsPer1000Pairs: py.timings,
    pythonVersions: py.versions,
    notes,
  };
}

// Allow `node dist/bench/metrics.js` on its own.
if (process.argv[1] !== undefined && join(process.argv[1]) === new URL(import.meta.url).pathname) {
  benchMetrics();
}
