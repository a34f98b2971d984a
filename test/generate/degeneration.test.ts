import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cutDegenerateLoop } from '../../src/generate/degeneration.js';

test('sentence loops: the first repeat of a long-enough sentence is cut with everything after it', () => {
  const r = cutDegenerateLoop('Hi. I am a bot. I am a bot. I am a bot.');
  assert.deepEqual(r, { text: 'Hi. I am a bot.', rule: 'sentence', cutAt: 16, repeated: 'I am a bot.' });
  // comparison ignores case and spacing
  assert.equal(cutDegenerateLoop('The cat sat down.\nthe  cat sat down. More').text, 'The cat sat down.');
  // short sentences may repeat ("Yes." is under minSentenceWords)
  assert.equal(cutDegenerateLoop('Yes. Yes. Yes.').rule, null);
  // allowing two occurrences keeps two
  assert.equal(cutDegenerateLoop('A b c. A b c. A b c.', { maxSentenceRepeats: 2 }).text, 'A b c. A b c.');
  // Chinese sentence ends
  assert.equal(cutDegenerateLoop('我很好。你好吗？我很好。', { minSentenceWords: 2 }).text, '我很好。你好吗？');
});

test('phrase loops: an n-gram repeated back to back past the threshold is cut after its first copy', () => {
  const r = cutDegenerateLoop('Well I am I am I am I am I am');
  assert.equal(r.rule, 'phrase');
  assert.equal(r.text, 'Well I am');
  assert.equal(r.repeated, 'I am');
  assert.equal(r.cutAt, 10);
  assert.equal(cutDegenerateLoop('the the the the end').text, 'the');
  // three copies are allowed by default, four are not
  assert.equal(cutDegenerateLoop('very very very good').rule, null);
  assert.equal(cutDegenerateLoop('ha ha ha ha', { maxConsecutiveRepeats: 4 }).rule, null);
  // CJK characters are tokens; punctuation too
  assert.equal(cutDegenerateLoop('好的好的好的好的好的').text, '好的');
  assert.equal(cutDegenerateLoop('wait!!!!!!').text, 'wait!');
  // the earlier loop wins
  assert.equal(cutDegenerateLoop('go go go go. I like it a lot. I like it a lot.').text, 'go');
  // no loop: unchanged
  const clean = 'A perfectly normal answer, with no repetition at all.';
  assert.deepEqual(cutDegenerateLoop(clean), { text: clean, rule: null, cutAt: clean.length, repeated: null });
  assert.throws(
    () => cutDegenerateLoop('x', { maxPeriod: 0 }),
    /maxPeriod must be an integer in \[1, 1000000\], got 0/,
  );
});
