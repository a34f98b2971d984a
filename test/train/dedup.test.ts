import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { findDuplicates, normalizeForDedup, removeDuplicates, shingles } from '../../src/train/dedup.js';
import { assetPath, skipWithoutShared } from '../helpers/shared.js';

/** Jaccard of word 5-gram sets, written out independently. */
function wordJaccard(a: string, b: string, n = 5): number {
  const grams = (s: string): Set<string> => {
    const w = s.toLowerCase().split(/\s+/).filter(Boolean);
    const out = new Set<string>();
    for (let i = 0; i + n <= w.length; i++) out.add(w.slice(i, i + n).join(' '));
    return out;
  };
  const x = grams(a);
  const y = grams(b);
  let inter = 0;
  for (const g of x) if (y.has(g)) inter++;
  return inter / (x.size + y.size - inter);
}

const WORDS =
  'alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma tau upsilon phi chi psi omega'.split(
    ' ',
  );
const longText = (offset: number): string =>
  Array.from({ length: 60 }, (_, i) => WORDS[(i * 7 + offset) % WORDS.length] + String(i % 9)).join(' ');

test('exact duplicates after normalisation (case, spacing, NFKC), the first copy kept', () => {
  const texts = ['Hello  World', 'something else', 'hello world', 'ＨＥＬＬＯ world ', 'something else'];
  const report = findDuplicates(texts, { exactOnly: true });
  assert.deepEqual(report.duplicates, [
    { index: 2, of: 0, kind: 'exact', jaccard: 1 },
    { index: 3, of: 0, kind: 'exact', jaccard: 1 },
    { index: 4, of: 1, kind: 'exact', jaccard: 1 },
  ]);
  assert.deepEqual(report.keep, [0, 1]);
  assert.deepEqual(removeDuplicates(texts, report), ['Hello  World', 'something else']);
  assert.equal(normalizeForDedup(' Ａ\tB '), 'a b');
});

test('near duplicates: MinHash candidates confirmed by the exact Jaccard; unrelated texts untouched', () => {
  const base = longText(0);
  const words = base.split(' ');
  words[30] = 'CHANGED';
  const edited = words.join(' ');
  const unrelated = longText(5);
  const expected = wordJaccard(base, edited);
  assert.ok(expected > 0.8 && expected < 1, `J = ${expected}`); // 51 / 61 shared 5-grams
  const report = findDuplicates([base, unrelated, edited], { seed: 7 });
  assert.deepEqual(report.duplicates, [{ index: 2, of: 0, kind: 'near', jaccard: expected }]);
  assert.deepEqual(report.keep, [0, 1]);
  assert.equal(report.nearCount, 1);
  // a stricter threshold lets it through; the same seed gives the same report
  assert.deepEqual(findDuplicates([base, unrelated, edited], { seed: 7, threshold: 0.9 }).duplicates, []);
  assert.deepEqual(findDuplicates([base, unrelated, edited], { seed: 7 }), report);
  // Chinese: character shingles
  const zh = '今天天气很好我们一起去公园散步然后回家吃饭晚上看电影';
  const zhEdited = zh.replace('公园', '花园');
  // 26 characters: 22 shingles each, 5 of them changed: 17 shared of 27 (J = 0.63): more bands for a lower threshold
  assert.deepEqual(findDuplicates([zh, zhEdited], { threshold: 0.6, bands: 32 }).duplicates, [
    { index: 1, of: 0, kind: 'near', jaccard: 17 / 27 },
  ]);
  assert.deepEqual([...shingles('abcdef', 5)], ['abcde', 'bcdef']);
  assert.throws(() => findDuplicates(['a'], { bands: 3 }), /numPermutations \(128\) must be a multiple of bands \(3\)/);
});

test(
  'real data (SST-2 train): injected near and exact copies are found, originals kept',
  { skip: skipWithoutShared('sst2', 'train.tsv') },
  () => {
    const path = assetPath('sst2', 'train.tsv');
    assert.ok(path);
    const sentences = readFileSync(path, 'utf8')
      .split('\n')
      .slice(1, 3001)
      .map((l) => l.split('\t')[0] ?? '')
      .filter((s) => s.split(' ').length >= 25);
    assert.ok(sentences.length >= 20, `${sentences.length} long sentences`);
    const before = findDuplicates(sentences);
    const injectedFrom = sentences.slice(0, 10);
    const injected = injectedFrom.map((s, i) => (i % 2 === 0 ? s.toUpperCase() : `${s} indeed`));
    const report = findDuplicates([...sentences, ...injected]);
    const found = report.duplicates.filter((d) => d.index >= sentences.length);
    assert.equal(found.length, 10);
    found.forEach((d) => {
      const source = injectedFrom[d.index - sentences.length] ?? '';
      assert.equal(normalizeForDedup(sentences[d.of] ?? ''), normalizeForDedup(source), `index ${d.index}`);
      assert.equal(d.kind, (d.index - sentences.length) % 2 === 0 ? 'exact' : 'near');
    });
    // nothing new among the originals
    assert.deepEqual(
      report.duplicates.filter((d) => d.index < sentences.length),
      before.duplicates,
    );
  },
);
