import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cjkCharTokenize, isCjkChar, jiebaTokenize, resolveTokenizer } from '../../src/metrics/cjk.js';

test('chars: one token per CJK character, other words kept whole and lowercased', () => {
  assert.deepEqual(cjkCharTokenize('我爱Python编程!'), ['我', '爱', 'python', '编', '程']);
  assert.deepEqual(cjkCharTokenize('GPT-4 很强。Café'), ['gpt', '4', '很', '强', 'café']);
  assert.deepEqual(cjkCharTokenize('ひらがなカタカナ한국어'), [
    'ひ',
    'ら',
    'が',
    'な',
    'カ',
    'タ',
    'カ',
    'ナ',
    '한',
    '국',
    '어',
  ]);
  // Astral-plane Han (CJK Extension B) is one token, not two UTF-16 halves.
  assert.deepEqual(cjkCharTokenize('𠀀a'), ['𠀀', 'a']);
  assert.deepEqual(cjkCharTokenize('，。！ '), []);
  assert.deepEqual(cjkCharTokenize(''), []);
  assert.equal(isCjkChar('中'), true);
  assert.equal(isCjkChar('a'), false);
  assert.equal(isCjkChar('，'), false);
});

test('jieba: dictionary words, HMM for unknown words, punctuation and spaces dropped', () => {
  // The classic jieba README example: with HMM, '杭研' (not in the dictionary) is one word.
  assert.deepEqual(jiebaTokenize('他来到了网易杭研大厦'), ['他', '来到', '了', '网易', '杭研', '大厦']);
  assert.deepEqual(jiebaTokenize('他来到了网易杭研大厦', { hmm: false }), [
    '他',
    '来到',
    '了',
    '网易',
    '杭',
    '研',
    '大厦',
  ]);
  assert.deepEqual(jiebaTokenize('我爱Python编程，Hello World!'), ['我', '爱', 'python', '编程', 'hello', 'world']);
  assert.deepEqual(jiebaTokenize(''), []);
});

test('resolveTokenizer accepts names, functions and tokenize objects; rejects the rest', () => {
  assert.deepEqual(resolveTokenizer('chars')('中文'), ['中', '文']);
  assert.deepEqual(resolveTokenizer('jieba')('北京大学'), ['北京大学']);
  assert.deepEqual(resolveTokenizer((text) => text.split('|'))('a|b'), ['a', 'b']);
  assert.deepEqual(resolveTokenizer({ tokenize: (text: string) => [text] })('ab'), ['ab']);
  assert.throws(
    () => resolveTokenizer('words' as never, 'options.tokenizer'),
    /options\.tokenizer must be 'chars', 'jieba'.*"words"/,
  );
});
