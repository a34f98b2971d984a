/**
 * Token classification and extractive QA helpers: hand-made examples with the expected ids written
 * out, and real tokenizers (../shared/assets) on CLUENER and XQuAD records.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { AutoTokenizer, type PreTrainedTokenizer } from '../../../src/io/tokenizer.js';
import { specialTokenLayout, tokenOffsets } from '../../../src/io/token-offsets.js';
import {
  IGNORE_INDEX,
  alignLabelsWithTokens,
  buildLabelMap,
  encodeTokenClassification,
  wordLevelPredictions,
} from '../../../src/train/tasks/token-classification.js';
import {
  postprocessQaPredictions,
  prepareQaFeatures,
  qaMetrics,
  type QaExample,
} from '../../../src/train/tasks/extractive-qa.js';
import { computeMetric } from '../../../src/metrics/registry.js';
import { assetPath, skipWithoutShared } from '../../helpers/shared.js';

const tokenizers = new Map<string, PreTrainedTokenizer>();
function load(name: string): PreTrainedTokenizer {
  let tok = tokenizers.get(name);
  if (tok === undefined) {
    const dir = assetPath(name);
    if (dir === null) throw new Error(`${name} is absent`);
    tok = AutoTokenizer.fromPretrained(dir);
    tokenizers.set(name, tok);
  }
  return tok;
}

test('alignLabelsWithTokens: first sub-token labelled, later ones and special tokens -100 (hand-made)', () => {
  // [CLS] Hugging ##Face is in New York [SEP]; words: HuggingFace(B-ORG) is(O) in(O) New(B-LOC) York(I-LOC)
  const wordIds = [null, 0, 0, 1, 2, 3, 4, null];
  assert.deepEqual(alignLabelsWithTokens(wordIds, [1, 0, 0, 2, 3]), [
    IGNORE_INDEX,
    1,
    IGNORE_INDEX,
    0,
    0,
    2,
    3,
    IGNORE_INDEX,
  ]);
  const map = buildLabelMap([
    ['O', 'B-LOC'],
    ['I-LOC', 'B-ORG'],
  ]);
  assert.deepEqual(map.labels, ['B-LOC', 'B-ORG', 'I-LOC', 'O']); // sorted(set(...)) as run_ner
  assert.deepEqual(buildLabelMap([['O']], ['O', 'B-X']).labels, ['O', 'B-X']);
  assert.throws(() => buildLabelMap([['B-Y']], ['O']), /tag "B-Y" is not among the labels/);
  // predictions back to words: first token of each word; a word without token gets 'O'
  assert.deepEqual(wordLevelPredictions(wordIds, [3, 1, 2, 3, 3, 0, 2, 3], map, 6), [
    'B-ORG',
    'O',
    'O',
    'B-LOC',
    'I-LOC',
    'O',
  ]);
});

test(
  'token classification with bert-base-uncased: sub-words, [CLS]/[SEP], round trip through seqeval',
  { skip: skipWithoutShared('tokenizer-bert-base-uncased') },
  () => {
    const tok = load('tokenizer-bert-base-uncased');
    const words = ['HuggingFace', 'is', 'in', 'New', 'York'];
    const tags = ['B-ORG', 'O', 'O', 'B-LOC', 'I-LOC'];
    const map = buildLabelMap([tags]);
    const f = encodeTokenClassification(tok, words, tags, map);
    // same ids as encoding the joined sentence
    assert.deepEqual(f.inputIds, tok.encode(words.join(' ')));
    const pieces = f.inputIds.map((id) => tok.idToToken(id));
    assert.equal(pieces[0], '[CLS]');
    assert.equal(pieces[pieces.length - 1], '[SEP]');
    const hugIndex = f.wordIds.indexOf(0);
    assert.ok(f.wordIds.filter((w) => w === 0).length >= 2, `HuggingFace is split: ${pieces.join(' ')}`);
    assert.equal(f.labels[hugIndex], map.labelToId.get('B-ORG'));
    assert.equal(f.labels[hugIndex + 1], IGNORE_INDEX);
    assert.equal(f.labels[0], IGNORE_INDEX);
    assert.equal(f.labels.filter((l) => l !== IGNORE_INDEX).length, words.length);
    // a perfect model (predicting the gold label at every token) gives back the tags and seqeval F1 = 1
    const predicted = wordLevelPredictions(
      f.wordIds,
      f.labels.map((l) => (l === IGNORE_INDEX ? 0 : l)),
      map,
      words.length,
    );
    assert.deepEqual(predicted, tags);
    assert.equal(computeMetric('seqeval', { predictions: [predicted], references: [tags] }).overall_f1, 1);
    // truncation keeps special tokens and drops trailing words (they come back as 'O')
    const short = encodeTokenClassification(tok, words, tags, map, { maxLength: 4 });
    assert.equal(short.inputIds.length, 4);
    assert.deepEqual(
      wordLevelPredictions(
        short.wordIds,
        short.labels.map((l) => (l === IGNORE_INDEX ? 0 : l)),
        map,
        words.length,
      ).slice(2),
      ['O', 'O', 'O'],
    );
  },
);

test(
  'CLUENER with bert-base-chinese: one token per character, labels aligned',
  { skip: skipWithoutShared('cluener2020', 'dev.json') || skipWithoutShared('tokenizer-bert-base-chinese') },
  () => {
    const tok = load('tokenizer-bert-base-chinese');
    const path = assetPath('cluener2020', 'dev.json');
    assert.ok(path);
    const lines = readFileSync(path, 'utf8')
      .split('\n')
      .filter((l) => l.trim())
      .slice(0, 50);
    let aligned = 0;
    for (const line of lines) {
      const record = JSON.parse(line) as { text: string; label: Record<string, Record<string, [number, number][]>> };
      const chars = Array.from(record.text);
      const tags = chars.map(() => 'O');
      for (const [type, entities] of Object.entries(record.label)) {
        for (const spans of Object.values(entities)) {
          for (const [s, e] of spans) {
            tags[s] = `B-${type}`;
            for (let i = s + 1; i <= e; i++) tags[i] = `I-${type}`;
          }
        }
      }
      const map = buildLabelMap([tags]);
      const words = chars.map((c) => (c.trim() === '' ? '_' : c));
      const f = encodeTokenClassification(tok, words, tags, map, { maxLength: 512 });
      const labelled = f.labels.filter((l) => l !== IGNORE_INDEX).length;
      if (labelled === words.length) aligned++;
      // every word that got a token has its label on its first token
      const back = wordLevelPredictions(
        f.wordIds,
        f.labels.map((l) => (l === IGNORE_INDEX ? 0 : l)),
        map,
        words.length,
        '?',
      );
      back.forEach((tag, i) => {
        if (tag !== '?') assert.equal(tag, tags[i]);
      });
    }
    assert.ok(aligned >= 45, `${aligned}/50 sentences have every character labelled`);
  },
);

test(
  'tokenOffsets on real tokenizers: spans cut the text the tokens came from',
  {
    skip:
      skipWithoutShared('tokenizer-gpt2') ||
      skipWithoutShared('tokenizer-bert-base-uncased') ||
      skipWithoutShared('tokenizer-mistral-7b-v0.1'),
  },
  () => {
    const text = 'Héllo, WORLD! naïve café 中文 x';
    const cut = (name: string): string[] => tokenOffsets(load(name), text).map((s) => text.slice(s.start, s.end));
    assert.deepEqual(cut('tokenizer-bert-base-uncased'), [
      'Héllo',
      ',',
      'WORLD',
      '!',
      'naïve',
      'café',
      '中',
      '文',
      'x',
    ]);
    // GPT-2 byte-level BPE: a token holding part of a character spans the whole character
    assert.deepEqual(cut('tokenizer-gpt2'), [
      'H',
      'é',
      'llo',
      ',',
      'WORLD',
      '!',
      'naïve',
      'café',
      '',
      '中',
      '文',
      '文',
      'x',
    ]);
    assert.deepEqual(cut('tokenizer-mistral-7b-v0.1'), [
      'H',
      'é',
      'll',
      'o',
      ',',
      'W',
      'OR',
      'LD',
      '!',
      'na',
      'ï',
      've',
      'café',
      '',
      '中',
      '文',
      'x',
    ]);
    const layout = specialTokenLayout(load('tokenizer-bert-base-uncased'));
    assert.deepEqual(
      layout.pair.prefix.map((id) => load('tokenizer-bert-base-uncased').idToToken(id)),
      ['[CLS]'],
    );
    assert.deepEqual([layout.pair.firstTypeId, layout.pair.secondTypeId], [0, 1]);
    assert.deepEqual(specialTokenLayout(load('tokenizer-gpt2')).single.prefix, []);
  },
);

test(
  'QA features: sliding window with stride, answer positions or CLS (hand-checked, bert-base-uncased)',
  { skip: skipWithoutShared('tokenizer-bert-base-uncased') },
  () => {
    const tok = load('tokenizer-bert-base-uncased');
    const context = 'one two three four five six seven eight nine ten';
    const example: QaExample = {
      id: 'q1',
      question: 'which number?',
      context,
      answers: { text: ['seven eight'], answerStart: [context.indexOf('seven')] },
    };
    // question "which number ?" = 3 tokens; [CLS] q [SEP] window [SEP]: maxLength 11 -> window 5, stride 2 -> starts 0, 3, 6
    const features = prepareQaFeatures(tok, [example], { maxLength: 11, docStride: 2 });
    assert.equal(features.length, 3);
    const windowWords = features.map((f) =>
      f.offsets.filter((o): o is [number, number] => o !== null).map(([s, e]) => context.slice(s, e)),
    );
    assert.deepEqual(windowWords, [
      ['one', 'two', 'three', 'four', 'five'],
      ['four', 'five', 'six', 'seven', 'eight'],
      ['seven', 'eight', 'nine', 'ten'],
    ]);
    for (const f of features) {
      assert.equal(f.inputIds.length, f.offsets.length);
      assert.equal(tok.idToToken(f.inputIds[0] ?? -1), '[CLS]');
      assert.equal(f.tokenTypeIds[f.tokenTypeIds.length - 1], 1);
    }
    // window 1 lacks the answer: CLS; windows 2 and 3 point at "seven eight"
    assert.deepEqual([features[0]?.startPosition, features[0]?.endPosition], [0, 0]);
    assert.deepEqual([features[1]?.startPosition, features[1]?.endPosition], [8, 9]);
    assert.deepEqual([features[2]?.startPosition, features[2]?.endPosition], [5, 6]);
    // logits that favour "seven eight" in window 2 and "nine ten" (weaker) in window 3
    const logits = (f: (typeof features)[number], best: [number, number], value: number): [number[], number[]] => [
      f.inputIds.map((_, i) => (i === best[0] ? value : 0)),
      f.inputIds.map((_, i) => (i === best[1] ? value : 0)),
    ];
    const [f0, f1, f2] = features;
    assert.ok(f0 && f1 && f2);
    const rows = [logits(f0, [5, 6], 1), logits(f1, [8, 9], 5), logits(f2, [7, 8], 3)];
    const predictions = postprocessQaPredictions(
      [example],
      features,
      rows.map((r) => r[0]),
      rows.map((r) => r[1]),
    );
    assert.equal(predictions[0]?.predictionText, 'seven eight');
    assert.equal(predictions[0]?.nBest[0]?.score, 10);
    assert.deepEqual(qaMetrics([example], predictions), { exact_match: 100, f1: 100 });
    // maxAnswerLength 1 forbids the two-token span: the best single token wins
    const one = postprocessQaPredictions(
      [example],
      features,
      rows.map((r) => r[0]),
      rows.map((r) => r[1]),
      { maxAnswerLength: 1 },
    );
    assert.equal(
      one[0]?.nBest.every((c) => c.text.split(' ').length === 1),
      true,
    );
    assert.throws(
      () => prepareQaFeatures(tok, [example], { maxLength: 11, docStride: 5 }),
      /docStride 5 must be smaller than the context window \(5 tokens\)/,
    );
  },
);

test(
  'XQuAD (en, zh): every answer inside a window is recovered exactly from its token span',
  {
    skip:
      skipWithoutShared('xquad', 'xquad.en.json') ||
      skipWithoutShared('tokenizer-bert-base-uncased') ||
      skipWithoutShared('tokenizer-bert-base-chinese'),
  },
  () => {
    for (const [file, tokName, variant] of [
      ['xquad.en.json', 'tokenizer-bert-base-uncased', 'squad-v1.1'],
      ['xquad.zh.json', 'tokenizer-bert-base-chinese', 'cmrc2018'],
    ] as const) {
      const tok = load(tokName);
      const path = assetPath('xquad', file);
      assert.ok(path);
      const data = JSON.parse(readFileSync(path, 'utf8')) as {
        data: {
          paragraphs: {
            context: string;
            qas: { id: string; question: string; answers: { text: string; answer_start: number }[] }[];
          }[];
        }[];
      };
      const examples: QaExample[] = [];
      for (const paragraph of data.data[0]?.paragraphs.slice(0, 4) ?? []) {
        for (const qa of paragraph.qas) {
          const a = qa.answers[0];
          if (a)
            examples.push({
              id: qa.id,
              question: qa.question,
              context: paragraph.context,
              answers: { text: [a.text], answerStart: [a.answer_start] },
            });
        }
      }
      const features = prepareQaFeatures(tok, examples, { maxLength: 128, docStride: 32 });
      assert.ok(features.length > examples.length, 'long contexts give several windows');
      // gold logits: the labelled span in every feature that holds the answer
      const starts = features.map((f) =>
        f.inputIds.map((_, i) => (i === f.startPosition && f.startPosition !== f.clsIndex ? 10 : 0)),
      );
      const ends = features.map((f) =>
        f.inputIds.map((_, i) => (i === f.endPosition && f.endPosition !== f.clsIndex ? 10 : 0)),
      );
      const predictions = postprocessQaPredictions(examples, features, starts, ends);
      const scores = qaMetrics(examples, predictions, { variant });
      // Token spans cover whole tokens, so the recovered text equals the answer up to normalisation.
      assert.ok(scores.f1 > 97, `${file}: F1 of gold spans ${scores.f1}`);
      assert.ok(scores.exact_match > 90, `${file}: EM of gold spans ${scores.exact_match}`);
    }
  },
);
