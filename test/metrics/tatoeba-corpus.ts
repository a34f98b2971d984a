import { readFileSync } from 'node:fs';

import { assetPath } from '../helpers/shared.js';

/**
 * Real data: the last (longest) 1,000 Tatoeba en–zh pairs, with hypotheses made by deleting every
 * 4th English word (index % 4 == 2) / every 5th Chinese character (index % 5 == 3); a second
 * English reference stream deletes index % 3 == 1. Expected values: sacrebleu 2.6.0 on the same
 * lines (`BLEU(...).corpus_score`, `BLEU(effective_order=True).sentence_score`), run once.
 */
export function tatoebaCorpus(): {
  en: string[];
  zh: string[];
  hypEn: string[];
  ref2En: string[];
  hypZh: string[];
} | null {
  const path = assetPath('tatoeba-cmn-eng', 'cmn.txt');
  if (!path) return null;
  const lines = readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line.length > 0)
    .slice(-1000);
  const columns = lines.map((line, i) => {
    const [en, zh] = line.split('\t');
    if (en === undefined || zh === undefined) throw new Error(`${path}: line ${i} of the last 1,000 has no tab`);
    return { en, zh };
  });
  const en = columns.map((c) => c.en);
  const zh = columns.map((c) => c.zh);
  const dropWords = (s: string, drop: (i: number) => boolean): string =>
    s
      .split(' ')
      .filter((_, i) => !drop(i))
      .join(' ');
  return {
    en,
    zh,
    hypEn: en.map((s) => dropWords(s, (i) => i % 4 === 2)),
    ref2En: en.map((s) => dropWords(s, (i) => i % 3 === 1)),
    hypZh: zh.map((s) =>
      Array.from(s)
        .filter((_, i) => i % 5 !== 3)
        .join(''),
    ),
  };
}
