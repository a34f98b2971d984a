/**
 * Collators on hand-made examples: padding, masks and labels, EOS kept as a learned label when
 * pad == EOS, prompt masking (and trainOnPrompt), multi-turn chat through a chat template, packing;
 * per-token NLLs for perplexity.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AutoTokenizer } from '../../src/io/tokenizer.js';
import { noGrad } from '../../src/tensor/tensor.js';
import { collateCausalLm, packSequences, tokenNlls } from '../../src/train/collate.js';
import { chatTokens, promptCompletionTokens, sftTokens } from '../../src/train/sft.js';
import { assertClose } from '../helpers/close.js';
import { assetPath, skipWithoutShared } from '../helpers/shared.js';
import { tinyLlama } from '../helpers/tiny-models.js';

const I = -100;

test('collateCausalLm: right padding, mask from lengths, EOS learned even when it is the pad id', () => {
  const EOS = 2;
  const b = collateCausalLm([{ inputIds: [1, 5, 6, EOS], labels: [I, I, 6, EOS] }, { inputIds: [1, 7, EOS] }], {
    padTokenId: EOS,
    padToMultipleOf: 1,
  });
  assert.equal(b.seqLen, 4);
  assert.deepEqual([...b.inputIds], [1, 5, 6, EOS, 1, 7, EOS, EOS]);
  assert.deepEqual([...b.attentionMask], [1, 1, 1, 1, 1, 1, 1, 0]);
  assert.deepEqual([...b.labels], [I, I, 6, EOS, 1, 7, EOS, I]);
  // Shifted count: row 0 scores positions 2, 3; row 1 scores 1, 2 (position 0 is never a target).
  assert.equal(b.count, 4);
  assert.equal(b.tokens, 7);
  const m = collateCausalLm([{ inputIds: [1, 2, 3] }], { padTokenId: 0, padToMultipleOf: 4, maxLength: 2 });
  assert.deepEqual([...m.inputIds], [1, 2, 0, 0]);
  assert.throws(
    () => collateCausalLm([{ inputIds: [1, 2], labels: [1] }], { padTokenId: 0 }),
    /example 0 has 2 ids but 1 labels/,
  );
});

test('packSequences: documents joined by the separator and cut into full rows', () => {
  const rows = packSequences([[5, 6], [7], [8, 9, 10]], 3, 2);
  assert.deepEqual(
    rows.map((r) => [...r.inputIds]),
    [
      [5, 6, 2],
      [7, 2, 8],
      [9, 10, 2],
    ],
  );
  assert.equal(packSequences([[5, 6], [7]], 3).length, 1); // 3 tokens without separators: one row
});

const TEMPLATE =
  "{% for m in messages %}{% if m.role == 'user' %}{{ bos_token }}[INST] {{ m.content }} [/INST]{% elif m.role == 'assistant' %} {{ m.content }}{{ eos_token }}{% endif %}{% endfor %}{% if add_generation_prompt %}{% endif %}";

test(
  'chat SFT: only assistant turns (and their EOS) are learned, over several turns; pad == EOS keeps EOS',
  { skip: skipWithoutShared('tokenizer-mistral-7b-v0.1') },
  () => {
    const tok = AutoTokenizer.fromPretrained(assetPath('tokenizer-mistral-7b-v0.1')!);
    const eos = tok.eosTokenId!;
    const ex = chatTokens(
      tok,
      [
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: 'Hello there' },
        { role: 'user', content: 'Bye' },
        { role: 'assistant', content: 'Goodbye' },
      ],
      { chatTemplate: TEMPLATE },
    );
    const ids = [...ex.inputIds];
    const labels = [...ex.labels!];
    const learned = ids.filter((_, i) => labels[i] !== I);
    assert.equal(tok.decode(learned), 'Hello there</s> Goodbye</s>');
    assert.equal(learned.filter((t) => t === eos).length, 2, 'both EOS tokens are labels');
    assert.equal(
      tok.decode(ids),
      tok.applyChatTemplate(
        [
          { role: 'user', content: 'Hi' },
          { role: 'assistant', content: 'Hello there' },
          { role: 'user', content: 'Bye' },
          { role: 'assistant', content: 'Goodbye' },
        ],
        { tokenize: false, chatTemplate: TEMPLATE },
      ),
    );
    // Batched with pad == EOS: the EOS labels survive, the padding after them does not.
    const b = collateCausalLm([ex, { inputIds: ex.inputIds.slice(0, 4), labels: ex.labels!.slice(0, 4) }], {
      padTokenId: eos,
    });
    const row0 = [...b.labels.slice(0, b.seqLen)];
    assert.equal(row0.filter((t) => t === eos).length, 2);
    assert.ok([...b.labels.slice(b.seqLen)].slice(4).every((t) => t === I));
    const all = chatTokens(
      tok,
      [
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: 'Yo' },
      ],
      { chatTemplate: TEMPLATE, trainOnPrompt: true },
    );
    assert.deepEqual([...all.labels!], [...all.inputIds]);
    assert.throws(
      () => chatTokens(tok, [{ role: 'user', content: 'Hi' }], { chatTemplate: TEMPLATE }),
      /no assistant message/,
    );
  },
);

test(
  'prompt/completion and Alpaca records: prompt masked, completion + EOS learned',
  { skip: skipWithoutShared('stories260K-hf') },
  () => {
    const tok = AutoTokenizer.fromPretrained(assetPath('stories260K-hf')!);
    const ex = promptCompletionTokens(tok, 'Once upon a time', ' there was a cat.');
    const ids = [...ex.inputIds];
    const labels = [...ex.labels!];
    const nPrompt = tok.encode('Once upon a time').length;
    assert.equal(ids[0], tok.bosTokenId);
    assert.ok(labels.slice(0, nPrompt).every((l) => l === I));
    assert.deepEqual(labels.slice(nPrompt), ids.slice(nPrompt));
    assert.equal(ids.at(-1), tok.eosTokenId);
    const alp = sftTokens(tok, { kind: 'instruction', instruction: 'Say hi', input: '', output: 'hi' });
    const learnedText = tok.decode(
      [...alp.inputIds].filter((_, i) => alp.labels![i] !== I),
      { skipSpecialTokens: true },
    );
    assert.equal(learnedText.trim(), 'hi');
    assert.throws(
      () => sftTokens(tok, { kind: 'label', text: 'x', label: 1, source: { file: 'f.csv', line: 3 } } as never),
      /f\.csv:3: a "label" record is not a language-modelling example/,
    );
  },
);

test('tokenNlls: one NLL per scored label, averaging to the model loss of each example alone', () => {
  const model = tinyLlama();
  model.eval();
  const examples = [{ inputIds: [1, 5, 6, 7, 2], labels: [I, I, 6, 7, 2] }, { inputIds: [1, 9, 3] }];
  const nlls = tokenNlls(model, examples, 0);
  assert.deepEqual(
    nlls.map((r) => r.length),
    [3, 2],
  );
  examples.forEach((ex, i) => {
    const b = collateCausalLm([ex], { padTokenId: 0 });
    const loss = noGrad(() =>
      model.forward({ inputIds: b.inputIds, batchSize: 1, attentionMask: b.attentionMask, labels: b.labels }),
    ).loss!.item();
    const row = nlls[i]!;
    const mean = row.reduce((a, v) => a + v, 0) / row.length;
    assert.ok(row.every((v) => v > 0 && Number.isFinite(v)));
    assertClose(mean, loss, { atol: 1e-5, rtol: 1e-5 });
  });
});
