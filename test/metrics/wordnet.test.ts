import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WordNet, resolveWordNetDir, type WordNetPos } from '../../src/metrics/wordnet.js';
import { INSTALLED_WORDNET, skipWithoutWordNet } from '../helpers/wordnet.js';

interface MiniSynset {
  key: string;
  type: WordNetPos;
  words: string[];
}

/**
 * Writes a tiny WordNet in the real dict format: a license header, data lines whose first
 * field is their own byte offset, index lines pointing at them, and exception lists.
 */
function writeMiniWordNet(
  synsets: Record<'noun' | 'verb' | 'adj' | 'adv', MiniSynset[]>,
  exceptions: Record<'noun' | 'verb' | 'adj' | 'adv', string>,
): string {
  const dir = mkdtempSync(join(tmpdir(), 'tunekit-wordnet-'));
  const header =
    '  1 This software and database is being provided to you, the LICENSEE, by  \n  2 WordNet 3.0 Copyright 2006 by Princeton University.  All rights reserved.\n';
  for (const [suffix, list] of Object.entries(synsets)) {
    let data = header;
    const index = new Map<string, Map<string, number[]>>();
    for (const synset of list) {
      const offset = Buffer.byteLength(data);
      const words = synset.words.map((w) => `${w} 0`).join(' ');
      data += `${String(offset).padStart(8, '0')} 05 ${synset.type} ${synset.words.length.toString(16).padStart(2, '0')} ${words} 000 | gloss of ${synset.key}  \n`;
      const pos = synset.type === 's' ? 'a' : synset.type;
      for (const word of synset.words) {
        const lemma = word.replace(/\(.*\)$/, '').toLowerCase();
        const byPos = index.get(lemma) ?? new Map<string, number[]>();
        byPos.set(pos, [...(byPos.get(pos) ?? []), offset]);
        index.set(lemma, byPos);
      }
    }
    writeFileSync(join(dir, `data.${suffix}`), data);
    const lines = [...index.entries()]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .flatMap(([lemma, byPos]) =>
        [...byPos].map(
          ([pos, offsets]) =>
            `${lemma} ${pos} ${offsets.length} 1 @ ${offsets.length} 0 ${offsets.map((o) => String(o).padStart(8, '0')).join(' ')}  `,
        ),
      );
    writeFileSync(join(dir, `index.${suffix}`), header + lines.join('\n') + '\n');
    writeFileSync(join(dir, `${suffix}.exc`), exceptions[suffix as keyof typeof exceptions]);
  }
  return dir;
}

function miniWordNet(): string {
  return writeMiniWordNet(
    {
      noun: [
        { key: 'dog', type: 'n', words: ['dog', 'domestic_dog', 'Canis_familiaris'] },
        { key: 'church', type: 'n', words: ['church', 'church_building'] },
        { key: 'goose', type: 'n', words: ['goose'] },
        { key: 'ax', type: 'n', words: ['ax', 'axe'] },
        { key: 'axis', type: 'n', words: ['axis'] },
        { key: 'hound', type: 'n', words: ['cad', 'dog', 'hound'] },
      ],
      verb: [{ key: 'see', type: 'v', words: ['see', 'understand'] }],
      adj: [
        { key: 'good', type: 'a', words: ['good'] },
        { key: 'well', type: 'a', words: ['well'] },
        { key: 'handy', type: 's', words: ['handy', 'ready_to_hand(p)'] },
      ],
      adv: [{ key: 'quickly', type: 'r', words: ['quickly', 'rapidly', 'speedily'] }],
    },
    { noun: 'geese goose\naxes ax axis\ndogses foo\n', verb: 'saw see\n', adj: 'better good well\n', adv: '' },
  );
}

test('mini WordNet: synsets and lemma names as NLTK reads them', () => {
  const dir = miniWordNet();
  try {
    const wn = WordNet.open(dir);
    assert.equal(wn.version, '3.0');
    const dog = wn.synsets('Dogs');
    assert.deepEqual(
      dog.map((s) => s.lemmaNames),
      [
        ['dog', 'domestic_dog', 'Canis_familiaris'],
        ['cad', 'dog', 'hound'],
      ],
    );
    assert.deepEqual(
      dog.map((s) => s.pos),
      ['n', 'n'],
    );
    // Satellite adjectives are found through the 'a' index; the '(p)' marker is dropped.
    const handy = wn.synsets('handy');
    assert.deepEqual(
      handy.map((s) => [s.pos, s.lemmaNames]),
      [['s', ['handy', 'ready_to_hand']]],
    );
    assert.deepEqual(
      wn.synsets('handy', 's').map((s) => s.offset),
      handy.map((s) => s.offset),
    );
    // METEOR's synonym set: names without '_' plus the word itself.
    assert.deepEqual([...wn.synonyms('dog')].sort(), ['cad', 'dog', 'hound']);
    assert.deepEqual([...wn.synonyms('zzz')], ['zzz']);
    assert.deepEqual(wn.synsets(''), []);
  } finally {
    rmSync(dir, { recursive: true });
  }
});

test('mini WordNet: morphy exceptions, detachment rounds and their order', () => {
  const dir = miniWordNet();
  try {
    const wn = WordNet.open(dir);
    assert.deepEqual(wn.morphyForms('dogs', 'n'), ['dog']);
    assert.deepEqual(wn.morphyForms('churches', 'n'), ['church']);
    assert.deepEqual(wn.morphyForms('geese', 'n'), ['goose']);
    assert.deepEqual(wn.morphyForms('axes', 'n'), ['ax', 'axis']);
    // An exception entry decides alone, even when its bases are not in WordNet.
    assert.deepEqual(wn.morphyForms('dogses', 'n'), []);
    assert.deepEqual(wn.morphyForms('dogses', 'n', false), ['dog']);
    // 'dogss' -> 'dogs' (not in WordNet) -> 'dog' on the second round.
    assert.deepEqual(wn.morphyForms('dogss', 'n'), ['dog']);
    assert.deepEqual(wn.morphyForms('saw', 'v'), ['see']);
    assert.deepEqual(wn.morphyForms('better', 'a'), ['good', 'well']);
    assert.deepEqual(wn.morphyForms('better', 's'), ['good', 'well']);
    assert.deepEqual(wn.morphyForms('quickly', 'r'), ['quickly']);
    assert.equal(wn.morphy('seeing'), 'see');
    assert.equal(wn.morphy('dogs'), 'dog');
    assert.equal(wn.morphy('xyz'), null);
    // Object-prototype names are ordinary words.
    assert.deepEqual(wn.synsets('constructor'), []);
  } finally {
    rmSync(dir, { recursive: true });
  }
});

test('bad files give errors naming the file and line or offset', () => {
  const dir = miniWordNet();
  try {
    writeFileSync(join(dir, 'index.verb'), 'see v 2 0 1 0 00000010\n');
    assert.throws(
      () => WordNet.open(dir),
      (error: Error) =>
        error.message.includes(`${join(dir, 'index.verb')}:1`) &&
        /sense_cnt 1 differs from synset_cnt 2/.test(error.message),
    );
    writeFileSync(join(dir, 'index.verb'), 'see x 1 0 1 0 00000010\n');
    assert.throws(() => WordNet.open(dir), /index\.verb:1: expected 'lemma pos .*pos n, v, a or r/);
    writeFileSync(join(dir, 'index.verb'), 'see v 1 0 1 0 0000001x\n');
    assert.throws(() => WordNet.open(dir), /index\.verb:1: field synset_offset .* must be a non-negative integer/);
    // An index offset that does not start a data line.
    writeFileSync(join(dir, 'index.verb'), 'see v 1 0 1 0 00000007\n');
    const wn = WordNet.open(dir);
    assert.throws(() => wn.synsets('see', 'v'), /data\.verb at byte 7: no synset starts here/);
    assert.throws(() => wn.synsetAt('v', 99999999), /data\.verb at byte 99999999: offset outside the file/);
    writeFileSync(join(dir, 'index.verb'), 'see v 1 0 1 0 99999999\n');
    const cachedUnderSameDir = WordNet.open(dir);
    assert.equal(cachedUnderSameDir, wn, 'readers are cached per directory');
  } finally {
    rmSync(dir, { recursive: true });
  }
});

test('directory resolution: option, environment variable, clear errors', () => {
  const dir = miniWordNet();
  const saved = process.env.TUNEKIT_WORDNET_DIR;
  try {
    assert.equal(resolveWordNetDir(dir), dir);
    process.env.TUNEKIT_WORDNET_DIR = dir;
    assert.equal(resolveWordNetDir(), dir);
    rmSync(join(dir, 'noun.exc'));
    assert.throws(() => resolveWordNetDir(dir), /has no noun\.exc/);
    assert.throws(() => resolveWordNetDir(join(dir, 'missing')), /has no index\.noun/);
    process.env.TUNEKIT_WORDNET_DIR = '';
    assert.throws(() => resolveWordNetDir(), /'wordnet' option.*TUNEKIT_WORDNET_DIR.*wordnet-base/);
  } finally {
    if (saved === undefined) delete process.env.TUNEKIT_WORDNET_DIR;
    else process.env.TUNEKIT_WORDNET_DIR = saved;
    rmSync(dir, { recursive: true });
  }
});

test('WordNet 3.0: NLTK 3.8 synsets, lemma names and morphy', { skip: skipWithoutWordNet }, () => {
  // Values printed by NLTK 3.8 (Debian python3-nltk) reading the same files, and the
  // examples in NLTK's wordnet.py docstrings (morphy('dogs') == 'dog', ...).
  const wn = WordNet.open(INSTALLED_WORDNET!);
  assert.equal(wn.version, '3.0');
  const dog = wn.synsets('dog');
  assert.deepEqual(
    dog.map((s) => [s.pos, s.offset]),
    [
      ['n', 2084071],
      ['n', 10114209],
      ['n', 10023039],
      ['n', 9886220],
      ['n', 7676602],
      ['n', 3901548],
      ['n', 2710044],
      ['v', 2001876],
    ],
  );
  assert.deepEqual(dog[0]!.lemmaNames, ['dog', 'domestic_dog', 'Canis_familiaris']);
  assert.deepEqual(dog[6]!.lemmaNames, ['andiron', 'firedog', 'dog', 'dog-iron']);
  assert.deepEqual(
    wn.synsets('galore').map((s) => [s.pos, s.offset, s.lemmaNames]),
    [
      ['s', 1552162, ['galore']],
      ['s', 14358, ['abounding', 'galore']],
    ],
  );
  assert.deepEqual(
    [wn.morphy('dogs'), wn.morphy('churches'), wn.morphy('aardwolves'), wn.morphy('abaci')],
    ['dog', 'church', 'aardwolf', 'abacus'],
  );
  assert.equal(wn.morphy('hardrock', 'r'), null);
  assert.equal(wn.morphy('book', 'n'), 'book');
  assert.equal(wn.morphy('book', 'a'), null);
  assert.deepEqual(wn.morphyForms('saw', 'v'), ['saw', 'see']);
  assert.deepEqual(wn.morphyForms('better', 'a'), ['better', 'good', 'well']);
  assert.deepEqual(wn.morphyForms('axes', 'n'), ['ax', 'axis']);
  assert.equal(wn.synsets('run').length, 57);
  assert.deepEqual([...wn.synonyms('hound')].sort(), [
    'blackguard',
    'bounder',
    'cad',
    'dog',
    'heel',
    'hound',
    'hunt',
    'trace',
  ]);
});
