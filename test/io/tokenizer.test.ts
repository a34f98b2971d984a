import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AutoTokenizer, type PreTrainedTokenizer } from '../../src/io/tokenizer.js';
import { assetPath, skipWithoutShared } from '../helpers/shared.js';

const tmp = mkdtempSync(join(tmpdir(), 'tunekit-tok-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

const cache = new Map<string, PreTrainedTokenizer>();
function shared(name: string): PreTrainedTokenizer {
  if (!cache.has(name)) cache.set(name, AutoTokenizer.fromPretrained(assetPath(name)!));
  return cache.get(name)!;
}

// ---------------------------------------------------------------------------------------------
// A tiny self-contained WordPiece tokenizer: whitespace pre-tokenizer, template "<s> A </s> (B </s>)".

const WORDS = [
  '[UNK]',
  '<s>',
  '</s>',
  '<|im_start|>',
  '<|im_end|>',
  '[PAD]',
  'user',
  'assistant',
  'system',
  'hello',
  'world',
  'hi',
  'there',
  'a',
  'b',
  'c',
  'd',
  'e',
  'x',
  'y',
  '##s',
  'you',
  'are',
  'helpful',
  '.',
];
function tinyTokenizerDir(
  name: string,
  config: Record<string, unknown>,
  extraFiles: Record<string, string> = {},
): string {
  const dir = join(tmp, name);
  mkdirSync(dir, { recursive: true });
  const added = WORDS.slice(0, 6).map((content, id) => ({
    id,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  }));
  const special = (t: string, id: number) => ({ id: t, ids: [id], tokens: [t] });
  const tokenizerJson = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: null,
    pre_tokenizer: { type: 'WhitespaceSplit' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [
        { SpecialToken: { id: '<s>', type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: '</s>', type_id: 0 } },
      ],
      pair: [
        { SpecialToken: { id: '<s>', type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: '</s>', type_id: 0 } },
        { Sequence: { id: 'B', type_id: 1 } },
        { SpecialToken: { id: '</s>', type_id: 1 } },
      ],
      special_tokens: { '<s>': special('<s>', 1), '</s>': special('</s>', 2) },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: false },
    model: {
      type: 'WordPiece',
      unk_token: '[UNK]',
      continuing_subword_prefix: '##',
      max_input_chars_per_word: 100,
      vocab: Object.fromEntries(WORDS.map((w, i) => [w, i])),
    },
  };
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tokenizerJson));
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(config));
  for (const [file, text] of Object.entries(extraFiles)) writeFileSync(join(dir, file), text);
  return dir;
}
const id = (w: string): number => WORDS.indexOf(w);

const CHATML =
  "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
// Meta-Llama-3-8B-Instruct's template (tokenizer_config.json of the Hub repo).
const LLAMA3 =
  "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}";
// Mistral-Instruct-v0.1 style: alternation enforced with raise_exception.
const ALTERNATING =
  "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% else %}{{ message['content'] + eos_token + ' ' }}{% endif %}{% endfor %}";

test('special tokens, encode/decode and pair type ids on a self-contained tokenizer', () => {
  const tok = AutoTokenizer.fromPretrained(
    tinyTokenizerDir('basic', {
      bos_token: '<s>',
      eos_token: '</s>',
      unk_token: '[UNK]',
      pad_token: '[PAD]',
      model_max_length: 16,
    }),
  );
  assert.deepEqual(
    [tok.bosTokenId, tok.eosTokenId, tok.unkTokenId, tok.padTokenId, tok.clsTokenId],
    [1, 2, 0, 5, null],
  );
  assert.equal(tok.vocabSize, WORDS.length);
  assert.equal(tok.modelMaxLength, 16);
  assert.deepEqual(tok.encode('hello world'), [1, id('hello'), id('world'), 2]);
  assert.deepEqual(tok.encode('hello world', { addSpecialTokens: false }), [id('hello'), id('world')]);
  assert.deepEqual(tok.encode('hello zzz'), [1, id('hello'), 0, 2]); // unknown word → [UNK]
  const pair = tok.encodePlus('hello', { textPair: 'hi there' });
  assert.deepEqual(pair.inputIds, [1, id('hello'), 2, id('hi'), id('there'), 2]);
  assert.deepEqual(pair.tokenTypeIds, [0, 0, 0, 1, 1, 1]);
  assert.deepEqual(pair.attentionMask, [1, 1, 1, 1, 1, 1]);
  assert.equal(tok.decode([1, id('hello'), id('world'), 2]), '<s> hello world </s>');
  assert.equal(tok.decode([1, id('hello'), id('world'), 2], { skipSpecialTokens: true }), 'hello world');
  assert.equal(tok.decode([]), '');
  assert.throws(() => tok.decode([999]), /cannot decode id 999 \(expected an integer in \[0, 25\)\)/);
  assert.equal(tok.numSpecialTokensToAdd(false), 2);
  assert.equal(tok.numSpecialTokensToAdd(true), 3);
});

test('Llama tokenizer classes honour add_bos_token / add_eos_token like LlamaTokenizerFast', () => {
  const both = AutoTokenizer.fromPretrained(
    tinyTokenizerDir('llama-eos', {
      tokenizer_class: 'LlamaTokenizer',
      bos_token: '<s>',
      eos_token: '</s>',
      add_eos_token: true,
    }),
  );
  assert.deepEqual(both.encode('hello'), [1, id('hello'), 2]);
  assert.deepEqual(both.encodePlus('hello', { textPair: 'hi' }).inputIds, [1, id('hello'), 2, 1, id('hi'), 2]);
  assert.deepEqual(both.encodePlus('hello', { textPair: 'hi' }).tokenTypeIds, [0, 0, 0, 1, 1, 1]);
  // Defaults: add_bos_token true, add_eos_token false (the file's own template also appended </s>).
  const bosOnly = AutoTokenizer.fromPretrained(
    tinyTokenizerDir('llama-default', { tokenizer_class: 'LlamaTokenizerFast', bos_token: '<s>', eos_token: '</s>' }),
  );
  assert.deepEqual(bosOnly.encode('hello'), [1, id('hello')]);
  const neither = AutoTokenizer.fromPretrained(
    tinyTokenizerDir('llama-none', { tokenizer_class: 'LlamaTokenizer', bos_token: '<s>', add_bos_token: false }),
  );
  assert.deepEqual(neither.encode('hello'), [id('hello')]);
  assert.throws(
    () =>
      AutoTokenizer.fromPretrained(
        tinyTokenizerDir('llama-noeos', { tokenizer_class: 'LlamaTokenizer', bos_token: '<s>', add_eos_token: true }),
      ),
    /add_eos_token is true but eos_token is not set/,
  );
});

test('batch encoding: padding sides, max_length, multiples, truncation strategies', () => {
  const tok = AutoTokenizer.fromPretrained(
    tinyTokenizerDir('batch', { bos_token: '<s>', eos_token: '</s>', unk_token: '[UNK]', pad_token: '[PAD]' }),
  );
  const [a, b, c, d, e] = ['a', 'b', 'c', 'd', 'e'].map(id) as [number, number, number, number, number];
  const right = tok.encodeBatch(['a b c', 'a'], { padding: true });
  assert.deepEqual(right.inputIds, [
    [1, a, b, c, 2],
    [1, a, 2, 5, 5],
  ]);
  assert.deepEqual(right.attentionMask, [
    [1, 1, 1, 1, 1],
    [1, 1, 1, 0, 0],
  ]);
  const left = tok.encodeBatch(['a b c', 'a'], { padding: 'longest', paddingSide: 'left' });
  assert.deepEqual(left.inputIds, [
    [1, a, b, c, 2],
    [5, 5, 1, a, 2],
  ]);
  assert.deepEqual(left.attentionMask[1], [0, 0, 1, 1, 1]);
  const fixed = tok.encodeBatch(['a'], { padding: 'max_length', maxLength: 6 });
  assert.deepEqual(fixed.inputIds, [[1, a, 2, 5, 5, 5]]);
  assert.deepEqual(tok.encodeBatch(['a b c'], { padding: true, padToMultipleOf: 4 }).inputIds, [
    [1, a, b, c, 2, 5, 5, 5],
  ]);
  assert.deepEqual(tok.encodeBatch(['a b c', 'a'], {}).inputIds, [
    [1, a, b, c, 2],
    [1, a, 2],
  ]); // no padding by default

  // Truncation keeps the special tokens: 4 = <s> + 2 tokens + </s>; 'left' side drops from the start.
  assert.deepEqual(tok.encodeBatch(['a b c d e'], { truncation: true, maxLength: 4 }).inputIds, [[1, a, b, 2]]);
  assert.deepEqual(
    tok.encodeBatch(['a b c d e'], { truncation: true, maxLength: 4, truncationSide: 'left' }).inputIds,
    [[1, d, e, 2]],
  );
  // Pairs, longest_first (Rust tokenizers): budget = maxLength − 3 special tokens.
  // 8 → budget 5: the 2-token second keeps its length, the first gets 3.
  const p8 = tok.encodeBatch(['a b c d e'], { textPairs: ['x y'], truncation: 'longest_first', maxLength: 8 });
  assert.deepEqual(p8.inputIds, [[1, a, b, c, 2, id('x'), id('y'), 2]]);
  assert.deepEqual(p8.tokenTypeIds, [[0, 0, 0, 0, 0, 1, 1, 1]]);
  // 5 → budget 2: both sequences get 1.
  assert.deepEqual(tok.encodeBatch(['a b c d e'], { textPairs: ['x y'], truncation: true, maxLength: 5 }).inputIds, [
    [1, a, 2, id('x'), 2],
  ]);
  assert.deepEqual(
    tok.encodeBatch(['a b c d e'], { textPairs: ['x y'], truncation: 'only_first', maxLength: 6 }).inputIds,
    [[1, a, 2, id('x'), id('y'), 2]],
  );
  assert.deepEqual(tok.encodeBatch(['a'], { textPairs: ['x y'], truncation: 'only_second', maxLength: 5 }).inputIds, [
    [1, a, 2, id('x'), 2],
  ]);
  // Padding pads token type ids with 0.
  const padded = tok.encodeBatch(['a', 'a b'], { textPairs: ['x', 'x'], padding: true });
  assert.deepEqual(padded.tokenTypeIds, [
    [0, 0, 0, 1, 1, 0],
    [0, 0, 0, 0, 1, 1],
  ]);

  assert.throws(
    () => tok.encodeBatch(['a'], { truncation: true, maxLength: 1 }),
    /maxLength 1 is smaller than the 2 special tokens/,
  );
  const noPad = AutoTokenizer.fromPretrained(tinyTokenizerDir('nopad', { bos_token: '<s>', eos_token: '</s>' }));
  assert.throws(
    () => noPad.encodeBatch(['a b', 'a'], { padding: true }),
    /asked to pad but the tokenizer has no pad_token/,
  );
  // padding_side from tokenizer_config.json.
  const leftCfg = AutoTokenizer.fromPretrained(
    tinyTokenizerDir('leftcfg', { pad_token: '[PAD]', padding_side: 'left' }),
  );
  assert.equal(leftCfg.paddingSide, 'left');
  assert.deepEqual(leftCfg.encodeBatch(['a b', 'a'], { padding: true }).inputIds[1], [5, 1, a, 2]);
});

test('chat templates: own template, ChatML, Llama 3, raise_exception, tokenize', () => {
  const dir = tinyTokenizerDir('chat', { bos_token: '<s>', eos_token: '</s>', chat_template: CHATML });
  const tok = AutoTokenizer.fromPretrained(dir);
  const messages = [
    { role: 'user', content: 'hello' },
    { role: 'assistant', content: 'hi there' },
    { role: 'user', content: 'hello world' },
  ];
  const text = tok.applyChatTemplate(messages, { tokenize: false, addGenerationPrompt: true });
  assert.equal(
    text,
    '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nhello<|im_end|>\n<|im_start|>assistant\nhi there<|im_end|>\n<|im_start|>user\nhello world<|im_end|>\n<|im_start|>assistant\n',
  );
  const ids = tok.applyChatTemplate([{ role: 'user', content: 'hello' }], { addGenerationPrompt: true });
  const [s, e] = [id('<|im_start|>'), id('<|im_end|>')];
  // The template writes every special token itself: no extra <s>/</s> from the post-processor.
  // (No normalizer: "You" and "assistant." are not in the vocabulary → [UNK] = 0.)
  assert.deepEqual(ids, [
    s,
    id('system'),
    0,
    id('are'),
    id('a'),
    id('helpful'),
    0,
    e,
    s,
    id('user'),
    id('hello'),
    e,
    s,
    id('assistant'),
  ]);
  assert.equal(
    tok.applyChatTemplate([{ role: 'user', content: 'hello' }], { tokenize: false }).endsWith('<|im_end|>\n'),
    true,
  );

  // Llama 3: bos_token is passed to the template, content is trimmed.
  const llama3 = tok.applyChatTemplate(
    [
      { role: 'system', content: ' Be brief. ' },
      { role: 'user', content: 'Hi' },
    ],
    { chatTemplate: LLAMA3, tokenize: false, addGenerationPrompt: true },
  );
  assert.equal(
    llama3,
    '<s><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n',
  );
  // raise_exception surfaces as an error with the template's message.
  assert.throws(
    () => tok.applyChatTemplate([{ role: 'assistant', content: 'x' }], { chatTemplate: ALTERNATING }),
    /Conversation roles must alternate/,
  );
  assert.equal(
    tok.applyChatTemplate(
      [
        { role: 'user', content: 'hi' },
        { role: 'assistant', content: 'hello' },
      ],
      { chatTemplate: ALTERNATING, tokenize: false },
    ),
    '<s>[INST] hi [/INST]hello</s> ',
  );
  // continue_final_message leaves the last turn open.
  assert.equal(
    tok
      .applyChatTemplate(
        [
          { role: 'user', content: 'hello' },
          { role: 'assistant', content: 'hi' },
        ],
        { tokenize: false, continueFinalMessage: true },
      )
      .slice(-20),
    'user\nhello<|im_end|>\n<|im_start|>assistant\nhi'.slice(-20),
  );
  // Named templates and chat_template.jinja.
  const named = AutoTokenizer.fromPretrained(
    tinyTokenizerDir('named', {
      chat_template: [
        { name: 'default', template: '{{ messages[0].content }}' },
        { name: 'tool_use', template: 'TOOLS {{ tools | length }}' },
      ],
    }),
  );
  assert.equal(named.applyChatTemplate([{ role: 'user', content: 'x' }], { tokenize: false }), 'x');
  assert.equal(
    named.applyChatTemplate([{ role: 'user', content: 'x' }], { tokenize: false, tools: [{}, {}] }),
    'TOOLS 2',
  );
  const jinja = AutoTokenizer.fromPretrained(
    tinyTokenizerDir('jinja', { chat_template: 'old' }, { 'chat_template.jinja': '{{ messages | length }} turns' }),
  );
  assert.equal(jinja.applyChatTemplate([{ role: 'user', content: 'x' }], { tokenize: false }), '1 turns');
  const none = AutoTokenizer.fromPretrained(tinyTokenizerDir('none', {}));
  // A tokenizer without bos_token renders {{ bos_token }} as nothing, as Python's Undefined does.
  assert.equal(
    none.applyChatTemplate([{ role: 'user', content: 'Hi' }], {
      chatTemplate: '[{{ bos_token }}]{{ messages[0].content }}',
      tokenize: false,
    }),
    '[]Hi',
  );
  assert.throws(() => none.applyChatTemplate(messages), /has no chat_template/);
  assert.throws(() => tok.applyChatTemplate([{ content: 'x' } as never]), /message 0 must be \{role: string/);
});

test('malformed tokenizer folders give clear errors', () => {
  const dir = join(tmp, 'broken');
  mkdirSync(dir, { recursive: true });
  assert.throws(() => AutoTokenizer.fromPretrained(dir), /no tokenizer.json/);
  writeFileSync(join(dir, 'tokenizer.json'), '{"model": ');
  assert.throws(() => AutoTokenizer.fromPretrained(dir), /tokenizer.json: not valid JSON/);
  writeFileSync(join(dir, 'tokenizer.json'), '{"model": 3}');
  assert.throws(() => AutoTokenizer.fromPretrained(dir), /tokenizer.json: field "model" must be an object/);
  const bad = tinyTokenizerDir('badcfg', { bos_token: 42 });
  assert.throws(
    () => AutoTokenizer.fromPretrained(bad),
    /tokenizer_config.json: field "bos_token" must be a string or \{"content": string\}, got 42/,
  );
  const missing = tinyTokenizerDir('missingtok', { pad_token: '<pad>' });
  assert.throws(() => AutoTokenizer.fromPretrained(missing), /pad_token "<pad>" is not in the vocabulary/);
  // special_tokens_map.json wins over tokenizer_config.json (AddedToken-style entries accepted).
  const mapped = tinyTokenizerDir(
    'mapped',
    { pad_token: '[UNK]' },
    { 'special_tokens_map.json': JSON.stringify({ pad_token: { content: '[PAD]', lstrip: false } }) },
  );
  assert.equal(AutoTokenizer.fromPretrained(mapped).padTokenId, 5);
});

test('GPT-2 byte-level BPE: known ids and Unicode roundtrip', { skip: skipWithoutShared('tokenizer-gpt2') }, () => {
  const tok = shared('tokenizer-gpt2');
  assert.deepEqual(tok.encode('Hello world'), [15496, 995]);
  assert.deepEqual(
    tok.encode('The quick brown fox jumps over the lazy dog.'),
    [464, 2068, 7586, 21831, 18045, 625, 262, 16931, 3290, 13],
  );
  assert.deepEqual([tok.bosTokenId, tok.eosTokenId, tok.unkTokenId, tok.padTokenId], [50256, 50256, 50256, null]);
  assert.equal(tok.vocabSize, 50257);
  for (const text of [
    'naïve café — 東京 🤗 ∑x² ',
    '  leading and\ttabs\n\nnewlines',
    'Ünïcödé: Привет мир; مرحبا',
    '<|endoftext|> is special',
  ]) {
    assert.equal(tok.decode(tok.encode(text), { cleanUpTokenizationSpaces: false }), text);
  }
  assert.equal(tok.encode('<|endoftext|>').length, 1);
  // tokenizer_config.json sets clean_up_tokenization_spaces true: " ," → ",".
  assert.equal(tok.decode(tok.encode('a , b')), 'a, b');
  assert.equal(tok.decode(tok.encode('Hi<|endoftext|>'), { skipSpecialTokens: true }), 'Hi');
  assert.throws(() => tok.encodeBatch(['a', 'a b'], { padding: true }), /no pad_token/);
});

test(
  'BERT uncased WordPiece: known ids, pairs, special ids',
  { skip: skipWithoutShared('tokenizer-bert-base-uncased') },
  () => {
    const tok = shared('tokenizer-bert-base-uncased');
    assert.deepEqual(tok.encode('Hello, world!'), [101, 7592, 1010, 2088, 999, 102]);
    assert.deepEqual(tok.encode('The quick brown fox'), [101, 1996, 4248, 2829, 4419, 102]);
    assert.deepEqual(tok.tokenize('Unaffable'), ['una', '##ffa', '##ble']);
    assert.deepEqual(
      [tok.padTokenId, tok.unkTokenId, tok.clsTokenId, tok.sepTokenId, tok.maskTokenId],
      [0, 100, 101, 102, 103],
    );
    const pair = tok.encodePlus('Hello, world!', { textPair: 'The quick brown fox' });
    assert.deepEqual(pair.inputIds, [101, 7592, 1010, 2088, 999, 102, 1996, 4248, 2829, 4419, 102]);
    assert.deepEqual(pair.tokenTypeIds, [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1]);
    assert.equal(tok.decode(pair.inputIds, { skipSpecialTokens: true }), 'hello, world! the quick brown fox');
    assert.equal(tok.modelMaxLength, 512);
    const batch = tok.encodeBatch(['Hello, world!', 'fox'], { padding: true });
    assert.deepEqual(batch.inputIds[1], [101, 4419, 102, 0, 0, 0]);
    assert.deepEqual(batch.attentionMask[1], [1, 1, 1, 0, 0, 0]);
    // Truncation to model_max_length keeps [CLS] … [SEP].
    const long = tok.encodeBatch(['word '.repeat(600)], { truncation: true }).inputIds[0]!;
    assert.equal(long.length, 512);
    assert.deepEqual([long[0], long[511]], [101, 102]);
  },
);

test('BERT Chinese: one token per CJK character', { skip: skipWithoutShared('tokenizer-bert-base-chinese') }, () => {
  const tok = shared('tokenizer-bert-base-chinese');
  assert.deepEqual(tok.encode('你好世界'), [101, 872, 1962, 686, 4518, 102]);
  const review = '酒店位置很好，服务也不错！';
  const tokens = tok.tokenize(review);
  assert.deepEqual(tokens, [...review]);
  assert.ok(!tok.encode(review).includes(100));
  assert.equal(tok.decode(tok.encode(review), { skipSpecialTokens: true }).replace(/ /g, ''), review);
});

test('Mistral SentencePiece-BPE with byte fallback', { skip: skipWithoutShared('tokenizer-mistral-7b-v0.1') }, () => {
  const tok = shared('tokenizer-mistral-7b-v0.1');
  assert.deepEqual(tok.encode('Hello world'), [1, 22557, 1526]);
  assert.deepEqual([tok.bosTokenId, tok.eosTokenId, tok.unkTokenId, tok.padTokenId], [1, 2, 0, null]);
  assert.equal(tok.vocabSize, 32000);
  assert.equal(tok.modelMaxLength, Number.MAX_SAFE_INTEGER); // 1e30 placeholder = no limit
  for (const text of ['Hello world', '中文也可以。', 'emoji 🦙 and tabs\tok']) {
    const ids = tok.encode(text);
    assert.equal(ids[0], 1);
    assert.equal(tok.decode(ids, { skipSpecialTokens: true }), text);
  }
  // A character outside the vocabulary is encoded as its UTF-8 bytes (<0x..> tokens 3..258).
  const ids = tok.encode('🦙', { addSpecialTokens: false });
  assert.ok(ids.some((i) => i >= 3 && i <= 258));
});

test(
  'stories260K tokenizer: prompt ids and greedy continuation decode',
  { skip: skipWithoutShared('stories260K-hf', 'reference_outputs.json') },
  () => {
    const dir = assetPath('stories260K-hf')!;
    const tok = shared('stories260K-hf');
    const ref = JSON.parse(readFileSync(join(dir, 'reference_outputs.json'), 'utf8')) as {
      greedy: { prompt: string; prompt_ids: number[]; output_ids: number[] };
    };
    assert.deepEqual(tok.encode(ref.greedy.prompt), ref.greedy.prompt_ids);
    assert.deepEqual(tok.encode(ref.greedy.prompt), [1, 403, 407, 261, 378]);
    assert.deepEqual([tok.bosTokenId, tok.eosTokenId, tok.unkTokenId], [1, 2, 0]);
    const story = tok.decode(ref.greedy.output_ids, { skipSpecialTokens: true });
    assert.ok(story.startsWith('Once upon a time'), story);
    assert.ok(story.includes('Lily'), story);
    assert.equal(
      tok.decode(tok.encode('Spot ran to the park. 🤗', { addSpecialTokens: false })),
      'Spot ran to the park. 🤗',
    );
  },
);
