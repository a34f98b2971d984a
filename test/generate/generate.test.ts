/**
 * generate(): the real stories260K greedy continuation (an independent numpy reference), KV cache
 * vs full re-computation, left-padded batches vs rows alone, EOS / stop strings / lengths,
 * streaming text, and ChatSession's cache reuse against a fresh generation.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ChatSession, renderFallbackChat } from '../../src/generate/chat.js';
import {
  generate,
  generateSteps,
  generateStream,
  TextStream,
  type Detokenizer,
  type GenerateOptions,
} from '../../src/generate/generate.js';
import { AutoTokenizer, type PreTrainedTokenizer } from '../../src/io/tokenizer.js';
import { AutoModelForCausalLM } from '../../src/models/auto.js';
import { LlamaForCausalLM } from '../../src/models/llama.js';
import { assetPath, skipWithoutShared } from '../helpers/shared.js';
import { tinyLlama } from '../helpers/tiny-models.js';

const STORIES = 'stories260K-hf';

function tinyModel(seed = 3): LlamaForCausalLM {
  // A larger init spread than 0.02 so the random model's choices are not near-ties.
  const model = tinyLlama({ vocab_size: 40, rms_norm_eps: 1e-5, tie_word_embeddings: false, eos_token_id: 2 }, seed);
  for (const p of model.parameters())
    p.f32.forEach((v, i, a) => {
      a[i] = v * 20;
    });
  return model;
}

/** Letters for ids, as a stand-in tokenizer ('a' + id mod 26). */
const letters: Detokenizer = { decode: (ids) => ids.map((i) => String.fromCharCode(97 + (i % 26))).join('') };

let stories: {
  model: LlamaForCausalLM;
  tok: PreTrainedTokenizer;
  ref: { greedy: { prompt_ids: number[]; new_ids: number[] } };
} | null = null;
function loadStories(): NonNullable<typeof stories> {
  if (!stories) {
    const dir = assetPath(STORIES)!;
    stories = {
      model: LlamaForCausalLM.fromPretrained(dir),
      tok: AutoTokenizer.fromPretrained(dir),
      ref: JSON.parse(readFileSync(join(dir, 'reference_outputs.json'), 'utf8')) as {
        greedy: { prompt_ids: number[]; new_ids: number[] };
      },
    };
  }
  return stories;
}

test(
  'stories260K: greedy generate equals reference_outputs.json greedy.new_ids (64 tokens)',
  { skip: skipWithoutShared(STORIES) },
  () => {
    const { model, tok, ref } = loadStories();
    const out = generate(model, ref.greedy.prompt_ids, { maxNewTokens: 64, tokenizer: tok });
    assert.deepEqual(out.tokens[0], ref.greedy.new_ids);
    assert.equal(out.finishReasons[0], 'length');
    assert.equal(out.texts![0], tok.decode(ref.greedy.new_ids, { skipSpecialTokens: true }));
    assert.ok(out.texts![0].startsWith(', there was a little girl named Lily.'));
    const t = out.timing;
    assert.equal(t.prefillTokens, 5);
    assert.equal(t.decodeTokens, 63);
    assert.ok(t.prefillTokensPerSecond > 0 && t.decodeTokensPerSecond > 0);
    // and without the cache
    assert.deepEqual(
      generate(model, ref.greedy.prompt_ids, { maxNewTokens: 64, useCache: false }).tokens[0],
      ref.greedy.new_ids,
    );
  },
);

test('KV cache and full re-computation give identical tokens (greedy and seeded sampling)', () => {
  const model = tinyModel();
  const prompt = [1, 7, 12, 30, 4];
  for (const opts of [
    {},
    { doSample: true, seed: 11, temperature: 1.5, topK: 20, topP: 0.95 },
    { repetitionPenalty: 1.3, noRepeatNgramSize: 2 },
  ] as GenerateOptions[]) {
    const cached = generate(model, prompt, { ...opts, maxNewTokens: 24, eosTokenIds: [] });
    const full = generate(model, prompt, { ...opts, maxNewTokens: 24, eosTokenIds: [], useCache: false });
    assert.deepEqual(cached.tokens, full.tokens, JSON.stringify(opts));
    assert.equal(cached.tokens[0]!.length, 24);
  }
  // seeded sampling is reproducible, and the seed matters
  const s = (seed: number): number[] =>
    generate(model, prompt, { doSample: true, seed, temperature: 2, maxNewTokens: 16, eosTokenIds: [] }).tokens[0]!;
  assert.deepEqual(s(5), s(5));
  assert.notDeepEqual(s(5), s(6));
  // temperature 0 with sampling is greedy
  assert.deepEqual(
    generate(model, prompt, { doSample: true, temperature: 0, seed: 9, maxNewTokens: 10, eosTokenIds: [] }).tokens,
    generate(model, prompt, { maxNewTokens: 10, eosTokenIds: [] }).tokens,
  );
});

test('a left-padded batch gives each row the tokens it gets alone', () => {
  const model = tinyModel();
  const rows = [
    [1, 7, 12, 30, 4, 9, 3],
    [1, 22],
    [5, 5, 17, 8],
  ];
  for (const opts of [
    {},
    { repetitionPenalty: 1.5, noRepeatNgramSize: 3, frequencyPenalty: 0.5 },
  ] as GenerateOptions[]) {
    const batch = generate(model, rows, { ...opts, maxNewTokens: 12, eosTokenIds: [] }).tokens;
    rows.forEach((r, i) => {
      assert.deepEqual(
        batch[i],
        generate(model, r, { ...opts, maxNewTokens: 12, eosTokenIds: [] }).tokens[0],
        `row ${i} ${JSON.stringify(opts)}`,
      );
    });
    assert.deepEqual(
      generate(model, rows, { ...opts, maxNewTokens: 12, eosTokenIds: [], useCache: false }).tokens,
      batch,
    );
  }
});

test('GPT-2 (learned positions, dropout): cache, left padding and train mode do not change the tokens', () => {
  // Fresh from fromConfig: train mode with embd/resid dropout 0.1.
  const model = AutoModelForCausalLM.fromConfig(
    {
      architectures: ['GPT2LMHeadModel'],
      model_type: 'gpt2',
      vocab_size: 50,
      n_embd: 16,
      n_layer: 2,
      n_head: 4,
      n_positions: 32,
      initializer_range: 0.4,
    },
    { seed: 2 },
  );
  assert.equal(model.training, true);
  const rows = [
    [3, 14, 15, 9, 26],
    [5, 35],
  ];
  const opts: GenerateOptions = { maxNewTokens: 10, eosTokenIds: [] };
  const batch = generate(model, rows, opts).tokens;
  assert.ok(model.training && model.namedModules().every(([, m]) => m.training), 'train mode restored');
  assert.deepEqual(generate(model, rows, { ...opts, useCache: false }).tokens, batch);
  rows.forEach((r, i) => assert.deepEqual(generate(model, r, opts).tokens[0], batch[i], `row ${i}`));
  model.eval();
  assert.deepEqual(generate(model, rows, opts).tokens, batch, 'dropout was off while generating');
  assert.equal(model.training, false);
});

test('EOS ends a row (others continue), minNewTokens delays it, and length caps it', () => {
  const model = tinyModel();
  const prompt = [1, 7, 12];
  const free = generate(model, prompt, { maxNewTokens: 20, eosTokenIds: [] }).tokens[0]!;
  // the first token that did not occur before it acts as EOS
  const at = free.findIndex((t, i) => free.indexOf(t) === i && i >= 2);
  assert.ok(at >= 2, `needs a fresh token in ${free.join(', ')}`);
  const eos = free[at]!;
  const out = generate(model, [prompt, [1, 30, 31, 32]], { maxNewTokens: 20, eosTokenIds: [eos] });
  assert.deepEqual(out.tokens[0], free.slice(0, at + 1));
  assert.equal(out.finishReasons[0], 'eos');
  const other = generate(model, [1, 30, 31, 32], { maxNewTokens: 20, eosTokenIds: [eos] });
  assert.deepEqual(out.tokens[1], other.tokens[0]);
  assert.equal(out.finishReasons[1], other.finishReasons[0]);
  // minNewTokens: EOS as the very first token is suppressed
  const first = free[0]!;
  const early = generate(model, prompt, { maxNewTokens: 5, eosTokenIds: [first] });
  assert.deepEqual(early.tokens[0], [first]);
  const late = generate(model, prompt, { maxNewTokens: 5, eosTokenIds: [first], minNewTokens: 1 });
  assert.notEqual(late.tokens[0]![0], first);
  // the model's positions cap the length: 64 positions, 60-token prompt → 4 new tokens
  const long = generate(
    model,
    Array.from({ length: 60 }, (_, i) => (i * 7) % 40),
    { maxNewTokens: 50, eosTokenIds: [] },
  );
  assert.equal(long.tokens[0]!.length, 4);
  assert.equal(long.finishReasons[0], 'length');
});

test('stop strings stop a row and are cut from its text; the held-back text is not streamed', () => {
  const model = tinyModel();
  const prompt = [1, 7, 12];
  const free = generate(model, prompt, { maxNewTokens: 20, eosTokenIds: [], tokenizer: letters });
  const text = free.texts![0]!;
  assert.equal(text, letters.decode(free.tokens[0]!));
  const stop = text.slice(4, 6);
  const cut = text.indexOf(stop);
  const streamed: string[] = [];
  const out = generate(model, prompt, {
    maxNewTokens: 20,
    eosTokenIds: [],
    tokenizer: letters,
    stopStrings: [stop, 'not-there'],
    onToken: (e) => streamed.push(e.text),
  });
  assert.equal(out.finishReasons[0], 'stop');
  assert.equal(out.texts![0], text.slice(0, cut));
  assert.deepEqual(out.tokens[0], free.tokens[0]!.slice(0, cut + 2));
  assert.equal(streamed.join(''), text.slice(0, cut));
  assert.throws(() => generate(model, prompt, { stopStrings: ['x'] }), /stopStrings need options.tokenizer/);
});

test('TextStream: multi-byte characters split over byte tokens are released whole', () => {
  // Each id is one UTF-8 byte; decoding an incomplete sequence gives U+FFFD, as byte fallback does.
  const bytes: Detokenizer = { decode: (ids) => new TextDecoder().decode(Uint8Array.from(ids)) };
  const text = 'héllo 😀 世界!';
  const s = new TextStream(bytes);
  const deltas: string[] = [];
  for (const b of new TextEncoder().encode(text)) {
    s.push(b);
    deltas.push(s.delta());
  }
  deltas.push(s.finish());
  assert.ok(
    deltas.every((d) => !d.includes('\uFFFD')),
    JSON.stringify(deltas),
  );
  assert.equal(deltas.join(''), text);
  // the 4 bytes of 😀 give 3 empty deltas, then the whole character
  const emoji = deltas.indexOf('😀');
  assert.deepEqual(deltas.slice(emoji - 3, emoji), ['', '', '']);
  // a possible stop-string start is held back until it is disproved
  const stop = new TextStream(bytes, ['\n\n']);
  const out: string[] = [];
  for (const c of 'ab\nc\n\nd') {
    stop.push(c.charCodeAt(0));
    out.push(stop.delta());
    if (stop.stopped) break;
  }
  assert.deepEqual(out, ['a', 'b', '', '\nc', '', '']);
  assert.equal(stop.finish(), '');
  assert.equal(stop.text, 'ab\nc');
});

for (const name of ['tokenizer-gpt2', STORIES]) {
  test(
    `TextStream with the real ${name} tokenizer: byte-level pieces of é, 😀 and 世界 stream whole`,
    { skip: skipWithoutShared(name) },
    () => {
      const tok = AutoTokenizer.fromPretrained(assetPath(name)!);
      const text = 'Café 😀 世界 naïve — done';
      const ids = tok.encode(text, { addSpecialTokens: false });
      assert.ok(tok.encode('😀', { addSpecialTokens: false }).length > 1, 'the emoji takes several byte tokens');
      const s = new TextStream(tok);
      const deltas: string[] = [];
      for (const id of ids) {
        s.push(id);
        deltas.push(s.delta());
      }
      deltas.push(s.finish());
      assert.ok(
        deltas.every((d) => !d.includes('\uFFFD')),
        JSON.stringify(deltas),
      );
      assert.equal(deltas.join(''), text);
      assert.ok(deltas.some((d) => d.endsWith('😀')) && deltas.some((d) => d.endsWith('世')), JSON.stringify(deltas));
    },
  );
}

test(
  'stories260K: streamed deltas (callback and async iterator) concatenate to the final text',
  { skip: skipWithoutShared(STORIES) },
  async () => {
    const { model, tok } = loadStories();
    const prompt = tok.encode('Tom had a red ball');
    const options: GenerateOptions = {
      maxNewTokens: 40,
      tokenizer: tok,
      doSample: true,
      seed: 3,
      temperature: 0.9,
      stopStrings: ['.'],
    };
    const deltas: string[] = [];
    const out = generate(model, prompt, { ...options, onToken: (e) => deltas.push(e.text) });
    assert.equal(deltas.join(''), out.texts![0]);
    assert.equal(deltas.length, out.tokens[0]!.length);
    const iter = generateStream(model, prompt, options);
    const events: string[] = [];
    let next = await iter.next();
    while (!next.done) {
      events.push(next.value.text);
      next = await iter.next();
    }
    assert.deepEqual(next.value.tokens, out.tokens);
    assert.equal(events.join(''), out.texts![0]);
  },
);

test('generateSteps: one step per next(), two models interleaved token by token give what each gives alone', () => {
  const a = tinyModel(3);
  const b = tinyModel(5);
  const options: GenerateOptions = { maxNewTokens: 7, eosTokenIds: [] };
  const alone = [generate(a, [4, 9, 1], options), generate(b, [[4, 9], [7]], options)];
  a.train(); // generation runs in eval mode and gives the flag back when the generator finishes
  const steps = [generateSteps(a, [4, 9, 1], options), generateSteps(b, [[4, 9], [7]], options)];
  const events: number[][][] = [[], []];
  const results: Array<ReturnType<typeof generate> | null> = [null, null];
  while (results.some((r) => r === null)) {
    for (let i = 0; i < 2; i++) {
      if (results[i]) continue;
      const next = steps[i]!.next();
      if (next.done) results[i] = next.value;
      else {
        if (i === 0) assert.equal(a.training, false);
        events[i]!.push(next.value.map((e) => e.tokenId));
      }
    }
  }
  for (let i = 0; i < 2; i++) {
    assert.deepEqual(results[i]!.tokens, alone[i]!.tokens);
    assert.equal(events[i]!.length, 7); // one yield per step, one event per row
    assert.deepEqual(
      events[i]!.map((step) => step.length),
      new Array(7).fill(i === 0 ? 1 : 2),
    );
    assert.equal(results[i]!.timing.decodeTokens, i === 0 ? 6 : 12);
  }
  assert.equal(a.training, true);
  // Closing a generator early also gives the training flags back.
  const early = generateSteps(a, [4], options);
  early.next();
  assert.equal(a.training, false);
  early.return(undefined as never);
  assert.equal(a.training, true);
});

test('bad input gives clear errors', () => {
  const model = tinyModel();
  assert.throws(() => generate(model, []), /inputIds must be a non-empty array/);
  assert.throws(() => generate(model, [[1], []]), /prompt 1 must be a non-empty array/);
  assert.throws(() => generate(model, [1, 40]), /prompt 0 position 1: id 40 is outside the vocabulary \[0, 40\)/);
  assert.throws(() => generate(model, [1], { maxNewTokens: 0 }), /maxNewTokens must be an integer >= 1/);
  assert.throws(
    () => generate(model, new Array(64).fill(1)),
    /the prompt has 64 tokens but the model holds 64 positions/,
  );
  assert.throws(() => generate(model, [[1], [2]], { cache: model.newCache() }), /holds one sequence but 2 prompts/);
  // sampling settings are checked before any model work
  assert.throws(
    () => generate(model, [1], { doSample: true, topP: 1.5 }),
    /topP must be a number in \[0, 1\], got 1.5/,
  );
  assert.throws(() => generate(model, [1], { topK: 2.5 }), /topK must be an integer >= 0, got 2.5/);
  assert.throws(() => generate(model, [1], { repetitionPenalty: -1 }), /repetitionPenalty must be a finite number > 0/);
});

test(
  'stories260K ChatSession: the second turn reuses the cache and equals a fresh generation',
  { skip: skipWithoutShared(STORIES) },
  () => {
    const { model, tok } = loadStories();
    const generation = { maxNewTokens: 24, doSample: true, seed: 5, temperature: 0.8, topP: 0.95 };
    // Without a chat template: the documented plain format.
    const chat = new ChatSession(model, tok, { system: 'You tell stories.', generation });
    const first = chat.send('Tell me about a cat.');
    assert.equal(first.reusedTokens, 0);
    assert.equal(first.fedTokens, first.promptTokens);
    const before = [...chat.messages];
    const second = chat.send('What happened next?');
    // at least the whole first prompt comes from the cache
    assert.ok(second.reusedTokens >= first.promptTokens, `reused ${second.reusedTokens} of ${second.promptTokens}`);
    assert.equal(second.fedTokens, second.promptTokens - second.reusedTokens);
    const rendered = tok.encode(
      renderFallbackChat([...before, { role: 'user', content: 'What happened next?' }], true),
    );
    assert.equal(rendered.length, second.promptTokens);
    const fresh = generate(model, rendered, {
      ...generation,
      tokenizer: tok,
      stopStrings: ['\nUser:'],
      eosTokenIds: [2],
    });
    assert.deepEqual(second.tokens, fresh.tokens[0]);
    assert.equal(second.text, fresh.texts![0]!.trim());
    assert.deepEqual(
      chat.messages.map((m) => m.role),
      ['system', 'user', 'assistant', 'user', 'assistant'],
    );
    // a turn that does not fit the model's 512 positions fails clearly and leaves the session usable
    const messagesBefore = chat.messages.length;
    assert.throws(
      () => chat.send('Once upon a time '.repeat(120)),
      /chat: this message needs \d+ tokens with the system message, and the reply 24 more; the model holds 512 positions/,
    );
    assert.equal(chat.messages.length, messagesBefore);
    const third = chat.send('And then?');
    assert.ok(third.reusedTokens >= second.promptTokens, `reused ${third.reusedTokens}`);
    chat.reset();
    assert.deepEqual(chat.messages, [{ role: 'system', content: 'You tell stories.' }]);
    assert.equal(chat.send('Tell me about a cat.').reusedTokens, 0);

    // With a chat template.
    const template =
      "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}{% if add_generation_prompt %}bot:{% endif %}";
    const templated = new ChatSession(model, tok, { generation, chatTemplate: template });
    templated.send('Lily saw a dog.');
    const before2 = [...templated.messages];
    const turn = templated.send('The dog was happy.');
    assert.ok(turn.reusedTokens > 0 && turn.fedTokens < turn.promptTokens);
    const ids = tok.applyChatTemplate([...before2, { role: 'user', content: 'The dog was happy.' }], {
      addGenerationPrompt: true,
      chatTemplate: template,
    });
    assert.deepEqual(turn.tokens, generate(model, ids, { ...generation, tokenizer: tok, eosTokenIds: [2] }).tokens[0]);
  },
);
