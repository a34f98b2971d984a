/**
 * Character offsets of tokens, as transformers' fast tokenizers return them
 * (`return_offsets_mapping=True`): for each token of `tokenizer.tokenize(text)`, the [start, end)
 * range of `text` (UTF-16 indices, so `text.slice(start, end)`) it came from.
 *
 * `@huggingface/tokenizers` (our tokenizer engine) does not report offsets, so they are recovered by
 * aligning each token's surface form with the text, left to right:
 * - byte-level BPE (GPT-2, Qwen, Llama 3): tokens are bytes in GPT-2's byte-to-unicode alphabet;
 *   a token holding part of a multi-byte character spans that whole character (as in transformers);
 * - SentencePiece / Metaspace (Llama 2, Mistral): '▁' is a space, `<0xNN>` a byte;
 * - WordPiece (BERT): a '##' prefix marks a continuation; the normalizer may have lowercased or
 *   stripped accents, so tokens are compared with case and accents folded.
 * Whitespace of the text is never inside a token span (leading spaces are trimmed, as transformers
 * does with `trim_offsets`). A token that cannot be matched ([UNK]) spans the text up to the next
 * matched token (without surrounding whitespace).
 */
import type { PreTrainedTokenizer } from './tokenizer.js';

/** A token with its id and character range in the text. */
export interface TokenSpan {
  token: string;
  id: number;
  /** [start, end) in UTF-16 code units of the text. */
  start: number;
  end: number;
}

/** GPT-2's `bytes_to_unicode` inverse: the byte each printable stand-in character encodes. */
const BYTE_OF_CHAR: ReadonlyMap<string, number> = (() => {
  const map = new Map<string, number>();
  const direct: number[] = [];
  for (let b = 33; b <= 126; b++) direct.push(b);
  for (let b = 161; b <= 172; b++) direct.push(b);
  for (let b = 174; b <= 255; b++) direct.push(b);
  const isDirect = new Set(direct);
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    if (isDirect.has(b)) map.set(String.fromCodePoint(b), b);
    else map.set(String.fromCodePoint(256 + extra++), b);
  }
  return map;
})();

const encoder = new TextEncoder();

/** Case- and accent-folded form of one character (what BERT's normalizer does to it). */
function fold(char: string): string {
  return char.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();
}

/** The bytes a token stands for, or null when it is a placeholder ([UNK], [CLS], ...). */
function surfaceBytes(token: string, byteLevel: boolean): Uint8Array | null {
  if (byteLevel) {
    const bytes: number[] = [];
    for (const char of token) {
      const b = BYTE_OF_CHAR.get(char);
      if (b === undefined) return encoder.encode(token); // an added token written in plain text
      bytes.push(b);
    }
    return Uint8Array.from(bytes);
  }
  const byte = /^<0x([0-9A-Fa-f]{2})>$/.exec(token);
  if (byte?.[1] !== undefined) return Uint8Array.of(parseInt(byte[1], 16));
  const text = (token.startsWith('##') && token.length > 2 ? token.slice(2) : token).replace(/▁/g, ' ');
  return encoder.encode(text);
}

/** Whether the tokens use GPT-2's byte alphabet: some token holds 'Ġ' (space) or 'Ċ' (newline). */
function isByteLevel(tokenizer: PreTrainedTokenizer): boolean {
  return tokenizer.tokenToId('Ġ') !== null && tokenizer.tokenToId('Ċ') !== null;
}

/**
 * Tokens of `text` (no special tokens), each with its character span.
 * @throws when the tokenizer yields a token without an id and has no unk token.
 */
export function tokenOffsets(tokenizer: PreTrainedTokenizer, text: string): TokenSpan[] {
  const tokens = tokenizer.tokenize(text);
  const byteLevel = isByteLevel(tokenizer);
  // The text as UTF-8 bytes, with the UTF-16 index of the character each byte belongs to.
  const bytes: number[] = [];
  const charStart: number[] = [];
  const charEnd: number[] = [];
  for (let i = 0; i < text.length;) {
    const cp = text.codePointAt(i) ?? 0;
    const width = cp > 0xffff ? 2 : 1;
    for (const b of encoder.encode(String.fromCodePoint(cp))) {
      bytes.push(b);
      charStart.push(i);
      charEnd.push(i + width);
    }
    i += width;
  }
  const isSpaceByte = (k: number): boolean => {
    const b = bytes[k];
    return (
      b === 0x20 ||
      b === 0x09 ||
      b === 0x0a ||
      b === 0x0d ||
      b === 0x0b ||
      b === 0x0c ||
      (b !== undefined && b >= 0x80 && /\s/u.test(text.slice(charStart[k], charEnd[k])))
    );
  };
  const skipSpaces = (k: number): number => {
    while (k < bytes.length && isSpaceByte(k)) k++;
    return k;
  };
  /** Matches `surface` (bytes, leading spaces ignored) at byte k: the end byte, or -1. */
  const matchAt = (surface: Uint8Array, k: number): number => {
    let s = 0;
    while (s < surface.length && surface[s] === 0x20) s++;
    if (s === surface.length) return k; // a bare '▁' / 'Ġ': consumes only whitespace
    let j = k;
    for (; s < surface.length; s++, j++) {
      if (surface[s] === bytes[j]) continue;
      return -1;
    }
    return j;
  };
  /** Matches with case and accents folded, character by character: the end byte, or -1. */
  const matchFolded = (surface: Uint8Array, k: number): number => {
    const target = new TextDecoder().decode(surface).trimStart();
    if (target === '') return -1;
    const want = Array.from(target).map(fold).join('');
    let got = '';
    let j = k;
    while (j < bytes.length && got.length < want.length) {
      const start = charStart[j] ?? 0;
      const end = charEnd[j] ?? start;
      got += fold(text.slice(start, end));
      while (j < bytes.length && charStart[j] === start) j++;
      if (!want.startsWith(got)) return -1;
    }
    return got === want ? j : -1;
  };

  const spans: TokenSpan[] = [];
  const pending: number[] = []; // indices of unmatched tokens waiting for the next match
  let cursor = 0;
  const closePending = (endByte: number): void => {
    if (pending.length === 0) return;
    const from = skipSpaces(cursor);
    let to = endByte;
    while (to > from && isSpaceByte(to - 1)) to--;
    const gapStart = from < bytes.length ? (charStart[from] ?? text.length) : text.length;
    const gapEnd = to > from ? (charEnd[to - 1] ?? text.length) : gapStart;
    // Several unmatched tokens in a row: when the gap has one piece per token (a CJK character,
    // or a whitespace-separated run), each takes its piece, as BERT's pre-tokenizer splits them;
    // otherwise the first takes the whole gap and the others are empty at its end.
    const pieces: [number, number][] = [];
    const piece =
      /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]|[^\s\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]+/gu;
    for (const m of text.slice(gapStart, gapEnd).matchAll(piece))
      pieces.push([gapStart + (m.index ?? 0), gapStart + (m.index ?? 0) + m[0].length]);
    pending.forEach((p, n) => {
      const span = spans[p];
      if (span === undefined) return;
      const own = pieces.length === pending.length ? pieces[n] : undefined;
      if (own !== undefined) [span.start, span.end] = own;
      else if (n === 0) [span.start, span.end] = [gapStart, gapEnd];
      else [span.start, span.end] = [gapEnd, gapEnd];
    });
    pending.length = 0;
  };
  for (const token of tokens) {
    const id = tokenizer.tokenToId(token) ?? tokenizer.unkTokenId;
    if (id === null)
      throw new Error(`tokenOffsets: token ${JSON.stringify(token)} has no id and the tokenizer has no unk_token`);
    const span: TokenSpan = { token, id, start: 0, end: 0 };
    spans.push(span);
    const surface = token === tokenizer.unkToken ? null : surfaceBytes(token, byteLevel);
    let start = -1;
    let end = -1;
    if (surface !== null) {
      // Search forward from the cursor (past an unmatched token's text if one is pending).
      const limit = pending.length > 0 ? bytes.length : skipSpaces(cursor) + 1;
      for (let k = skipSpaces(cursor); k < limit && k <= bytes.length; k++) {
        const e = matchAt(surface, k);
        const f = e >= 0 ? e : matchFolded(surface, k);
        if (f >= 0) {
          start = k;
          end = f;
          break;
        }
        if (pending.length > 0) k = skipSpaces(k + 1) - 1;
      }
    }
    if (start < 0) {
      pending.push(spans.length - 1);
      continue;
    }
    closePending(start);
    if (end === start) {
      // whitespace-only token: an empty span where it stands
      span.start = span.end = start < bytes.length ? (charStart[start] ?? text.length) : text.length;
    } else {
      span.start = charStart[start] ?? text.length;
      span.end = charEnd[end - 1] ?? text.length;
    }
    cursor = end;
  }
  closePending(bytes.length);
  return spans;
}

/** Where a tokenizer's post-processor puts special tokens around one sequence or a pair. */
export interface SpecialTokenLayout {
  /** Single sequence: ids before and after it, with their token type ids. */
  single: { prefix: number[]; suffix: number[]; prefixTypes: number[]; suffixTypes: number[]; typeId: number };
  /** Pair: ids before the first, between the two, after the second, with type ids. */
  pair: {
    prefix: number[];
    middle: number[];
    suffix: number[];
    prefixTypes: number[];
    middleTypes: number[];
    suffixTypes: number[];
    firstTypeId: number;
    secondTypeId: number;
  };
}

function indexOfRun(haystack: readonly number[], needle: readonly number[], from = 0): number {
  outer: for (let i = from; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/**
 * The special tokens `encode` adds ([CLS] … [SEP], BOS, nothing), found by encoding two probe texts
 * with and without them, so features can be assembled from token slices exactly as `encode` would.
 * @throws when the probes cannot be located (a post-processor that rewrites the tokens).
 */
export function specialTokenLayout(tokenizer: PreTrainedTokenizer): SpecialTokenLayout {
  const a = tokenizer.encode('a', { addSpecialTokens: false });
  const b = tokenizer.encode('b', { addSpecialTokens: false });
  const single = tokenizer.encodePlus('a');
  const i = indexOfRun(single.inputIds, a);
  const pair = tokenizer.encodePlus('a', { textPair: 'b' });
  const pa = indexOfRun(pair.inputIds, a);
  const pb = pa < 0 ? -1 : indexOfRun(pair.inputIds, b, pa + a.length);
  if (i < 0 || pa < 0 || pb < 0)
    throw new Error('specialTokenLayout: cannot locate the text among the special tokens this tokenizer adds');
  const ids = (from: number, to: number, types = false): number[] =>
    (types ? pair.tokenTypeIds : pair.inputIds).slice(from, to);
  return {
    single: {
      prefix: single.inputIds.slice(0, i),
      suffix: single.inputIds.slice(i + a.length),
      prefixTypes: single.tokenTypeIds.slice(0, i),
      suffixTypes: single.tokenTypeIds.slice(i + a.length),
      typeId: single.tokenTypeIds[i] ?? 0,
    },
    pair: {
      prefix: ids(0, pa),
      middle: ids(pa + a.length, pb),
      suffix: ids(pb + b.length, pair.inputIds.length),
      prefixTypes: ids(0, pa, true),
      middleTypes: ids(pa + a.length, pb, true),
      suffixTypes: ids(pb + b.length, pair.inputIds.length, true),
      firstTypeId: pair.tokenTypeIds[pa] ?? 0,
      secondTypeId: pair.tokenTypeIds[pb] ?? 0,
    },
  };
}
