/**
 * Cutting a degenerate loop from generated text (the "parrot problem": a model that repeats a
 * sentence or a phrase until it runs out of tokens). Post-processing only: it never changes what
 * the model generates, and it keeps everything before the loop plus ONE copy of the repeated part.
 *
 * Rules (the earliest match in the text wins):
 * 1. Sentence loop: a sentence (text ending in . ! ? 。 ！ ？ … or a newline) of at least
 *    `minSentenceWords` tokens that has already occurred `maxSentenceRepeats` times is cut, with
 *    everything after it. Sentences compare after trimming, collapsing whitespace and lowercasing.
 * 2. Phrase loop: a token n-gram (1 ≤ n ≤ `maxPeriod`) repeated back to back more than
 *    `maxConsecutiveRepeats` times in a row ("I am I am I am I am", "the the the the") is cut
 *    after its first copy. Tokens are words (runs of letters, marks and digits), single CJK
 *    characters and single punctuation characters; whitespace separates and is ignored.
 */

/** Options of {@link cutDegenerateLoop}. */
export interface DegenerationOptions {
  /** Occurrences of one sentence allowed before the next is cut; default 1 (a sentence may appear once). */
  maxSentenceRepeats?: number;
  /** Shorter sentences ("Yes.", "OK.") are never treated as a loop; default 3 tokens. */
  minSentenceWords?: number;
  /** Back-to-back copies of an n-gram allowed; default 3 ("very very very" stays, a 4th copy is a loop). */
  maxConsecutiveRepeats?: number;
  /** Longest n-gram checked for back-to-back repetition, in tokens; default 20. */
  maxPeriod?: number;
}

/** What {@link cutDegenerateLoop} did. */
export interface DegenerationResult {
  /** The text up to and including the first copy of the loop (right-trimmed), or the input unchanged. */
  text: string;
  /** Which rule cut, or null when the text has no loop. */
  rule: 'sentence' | 'phrase' | null;
  /** UTF-16 index in the input where the removed part started (the input's length when nothing was cut). */
  cutAt: number;
  /** The repeated sentence or n-gram, as it first appears. */
  repeated: string | null;
}

interface Token {
  text: string;
  start: number;
  end: number;
}

const TOKEN =
  /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]|[\p{L}\p{M}\p{N}]+|[^\s\p{L}\p{M}\p{N}]/gu;
const SENTENCE_END = /[.!?。！？…]+["'”’)\]]*(?=\s|$)|[。！？]+|\n/gu;

function tokensOf(text: string): Token[] {
  return Array.from(text.matchAll(TOKEN), (m) => ({
    text: m[0],
    start: m.index ?? 0,
    end: (m.index ?? 0) + m[0].length,
  }));
}

function checkCount(name: string, value: number, min: number): void {
  if (!Number.isInteger(value) || value < min || value > 1_000_000)
    throw new Error(`cutDegenerateLoop: ${name} must be an integer in [${min}, 1000000], got ${value}`);
}

/**
 * Cuts the first degenerate loop of `text` (see the module rules).
 *
 *   cutDegenerateLoop('Hi. I am a bot. I am a bot. I am a bot.').text === 'Hi. I am a bot.'
 */
export function cutDegenerateLoop(text: string, options: DegenerationOptions = {}): DegenerationResult {
  if (typeof text !== 'string') throw new TypeError('cutDegenerateLoop: text must be a string');
  const { maxSentenceRepeats = 1, minSentenceWords = 3, maxConsecutiveRepeats = 3, maxPeriod = 20 } = options;
  checkCount('maxSentenceRepeats', maxSentenceRepeats, 1);
  checkCount('minSentenceWords', minSentenceWords, 1);
  checkCount('maxConsecutiveRepeats', maxConsecutiveRepeats, 1);
  checkCount('maxPeriod', maxPeriod, 1);
  let best: DegenerationResult = { text, rule: null, cutAt: text.length, repeated: null };

  // Rule 1: sentences.
  const seen = new Map<string, { count: number; first: string; end: number }>();
  let sentenceStart = 0;
  const ends = Array.from(text.matchAll(SENTENCE_END), (m) => (m.index ?? 0) + m[0].length);
  if (ends[ends.length - 1] !== text.length) ends.push(text.length);
  for (const end of ends) {
    const raw = text.slice(sentenceStart, end);
    const start = sentenceStart + (raw.length - raw.trimStart().length);
    sentenceStart = end;
    const key = raw.trim().replace(/\s+/gu, ' ').toLowerCase();
    if (key === '' || tokensOf(key).filter((t) => /[\p{L}\p{N}]/u.test(t.text)).length < minSentenceWords) continue;
    const entry = seen.get(key);
    if (entry === undefined) {
      seen.set(key, { count: 1, first: raw.trim(), end });
      continue;
    }
    if (entry.count >= maxSentenceRepeats) {
      best = { text: text.slice(0, start).trimEnd(), rule: 'sentence', cutAt: start, repeated: entry.first };
      break;
    }
    entry.count++;
  }

  // Rule 2: back-to-back n-grams, earliest start first (only before the sentence cut).
  const tokens = tokensOf(text);
  const same = (a: number, b: number, n: number): boolean => {
    for (let k = 0; k < n; k++) if (tokens[a + k]?.text !== tokens[b + k]?.text) return false;
    return true;
  };
  search: for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i];
    if (token === undefined || token.start >= best.cutAt) break;
    for (let n = 1; n <= maxPeriod && i + n * (maxConsecutiveRepeats + 1) <= tokens.length; n++) {
      let copies = 1;
      while (copies <= maxConsecutiveRepeats && same(i, i + copies * n, n)) copies++;
      if (copies > maxConsecutiveRepeats) {
        const last = tokens[i + n - 1];
        const next = tokens[i + n];
        if (last === undefined || next === undefined) continue;
        best = {
          text: text.slice(0, last.end).trimEnd(),
          rule: 'phrase',
          cutAt: next.start,
          repeated: text.slice(token.start, last.end),
        };
        break search;
      }
    }
  }
  return best;
}
