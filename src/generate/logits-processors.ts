/**
 * Logits processors and samplers for one row of next-token logits, with transformers' semantics
 * (`generation/logits_process.py`) and OpenAI's frequency/presence penalties.
 *
 * Every function is pure: it takes a Float32Array of logits (and, where needed, the token history)
 * and returns a new array; removed tokens get -Infinity (transformers' `filter_value`). Probabilities
 * are computed in float64, so a cumulative probability landing exactly on a threshold is decided by
 * exact arithmetic rather than float32 rounding.
 *
 * {@link processLogits} applies them in transformers' order: repetition penalty, (frequency and
 * presence penalties), no-repeat n-gram, EOS suppression before min_new_tokens; then, only when
 * sampling, the warpers temperature → top-k → top-p → min-p.
 */
import type { Rng } from '../tensor/random.js';

const NEG_INF = -Infinity;

function checkFinitePositive(name: string, value: number): void {
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a finite number > 0, got ${value}`);
}

function checkProbability(name: string, value: number): void {
  if (!Number.isFinite(value) || value < 0 || value > 1)
    throw new Error(`${name} must be a number in [0, 1], got ${value}`);
}

function checkMinTokensToKeep(n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new Error(`minTokensToKeep must be an integer >= 1, got ${n}`);
}

/**
 * CTRL repetition penalty (transformers' RepetitionPenaltyLogitsProcessor): for every distinct id in
 * `history`, a positive logit is divided by `penalty` and a negative one multiplied by it, so a
 * penalty > 1 always makes a seen token less likely.
 *
 * @param history token ids already in the sequence (prompt and generated)
 * @param penalty > 0; 1 leaves the logits unchanged
 * @throws Error when penalty is not a positive number or an id is outside the vocabulary
 */
export function repetitionPenalty(logits: Float32Array, history: ArrayLike<number>, penalty: number): Float32Array {
  checkFinitePositive('repetitionPenalty', penalty);
  const out = logits.slice();
  const seen = new Set<number>();
  for (let i = 0; i < history.length; i++) {
    const id = history[i]!;
    if (seen.has(id)) continue;
    seen.add(id);
    checkId(id, logits.length);
    const x = logits[id]!;
    out[id] = x > 0 ? x / penalty : x * penalty;
  }
  return out;
}

/**
 * OpenAI's frequency and presence penalties:
 * `logit[j] -= count[j] * frequency + (count[j] > 0) * presence`, where count[j] is how often j was
 * generated so far. As in OpenAI's API (and vLLM), only generated tokens count, not the prompt.
 *
 * @param generated ids generated so far
 * @param frequency penalty per occurrence (OpenAI range -2..2); 0 disables
 * @param presence penalty once a token occurred (OpenAI range -2..2); 0 disables
 */
export function frequencyPresencePenalty(
  logits: Float32Array,
  generated: ArrayLike<number>,
  frequency: number,
  presence: number,
): Float32Array {
  if (!Number.isFinite(frequency) || !Number.isFinite(presence))
    throw new Error(`frequency/presence penalties must be finite numbers, got ${frequency}, ${presence}`);
  const counts = new Map<number, number>();
  for (let i = 0; i < generated.length; i++) {
    const id = generated[i]!;
    checkId(id, logits.length);
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  const out = logits.slice();
  for (const [id, c] of counts) out[id] = logits[id]! - c * frequency - presence;
  return out;
}

/**
 * transformers' NoRepeatNGramLogitsProcessor: bans every token that would complete an n-gram
 * already present in `history`. With n = 1 every token seen so far is banned; while the history
 * is shorter than n - 1 nothing is banned.
 *
 * @param n n-gram size, an integer >= 1
 */
export function noRepeatNgram(logits: Float32Array, history: ArrayLike<number>, n: number): Float32Array {
  if (!Number.isInteger(n) || n < 1) throw new Error(`noRepeatNgramSize must be an integer >= 1, got ${n}`);
  const out = logits.slice();
  const len = history.length;
  if (len + 1 < n) return out;
  // The last n-1 tokens are the prefix the next token would complete.
  const prefixStart = len - (n - 1);
  for (let i = 0; i + n <= len; i++) {
    let match = true;
    for (let j = 0; j < n - 1 && match; j++) match = history[i + j] === history[prefixStart + j];
    if (match) {
      const banned = history[i + n - 1]!;
      checkId(banned, logits.length);
      out[banned] = NEG_INF;
    }
  }
  return out;
}

/** Sets the given ids to -Infinity (e.g. EOS before min_new_tokens, as MinNewTokensLengthLogitsProcessor). */
export function suppressTokens(logits: Float32Array, ids: readonly number[]): Float32Array {
  const out = logits.slice();
  for (const id of ids) {
    checkId(id, logits.length);
    out[id] = NEG_INF;
  }
  return out;
}

/**
 * Divides the logits by `temperature` (transformers' TemperatureLogitsWarper).
 *
 * A tiny temperature can overflow float32 (x / T beyond ±3.4e38 becomes ±Infinity, and softmax of
 * +Infinity is NaN). Softmax does not change when the largest logit is subtracted first, so then
 * (x - max) / T is returned: the most likely tokens get 0, the others large negative values or
 * -Infinity. Sampling therefore tends to greedy decoding as T → 0, as it should.
 *
 * @param temperature > 0. Zero is rejected here, as in transformers; {@link generate} treats a
 *   temperature of 0 as greedy decoding instead.
 */
export function temperature(logits: Float32Array, temperature: number): Float32Array {
  if (!Number.isFinite(temperature) || temperature <= 0) {
    throw new Error(
      `temperature must be a finite number > 0, got ${temperature} (use greedy decoding for temperature 0)`,
    );
  }
  const out = logits.map((x) => x / temperature);
  let overflow = false;
  let max = NEG_INF;
  for (let i = 0; i < logits.length; i++) {
    const x = logits[i]!;
    if (Number.isFinite(x)) {
      if (!Number.isFinite(out[i]!)) overflow = true;
      if (x > max) max = x;
    }
  }
  if (!overflow) return out;
  return logits.map((x) => (x - max) / temperature);
}

/**
 * Keeps the k largest logits (transformers' TopKLogitsWarper): k is raised to minTokensToKeep and
 * capped at the vocabulary size, and every logit below the k-th largest value is removed, so ties
 * with the k-th value are all kept.
 *
 * @param k integer >= 1 (a k larger than the vocabulary keeps everything)
 * @param minTokensToKeep default 1
 */
export function topK(logits: Float32Array, k: number, minTokensToKeep = 1): Float32Array {
  if (!Number.isInteger(k) || k < 1) throw new Error(`topK must be an integer >= 1, got ${k}`);
  checkMinTokensToKeep(minTokensToKeep);
  const kk = Math.min(Math.max(k, minTokensToKeep), logits.length);
  const kth = Float32Array.from(logits).sort((a, b) => b - a)[kk - 1]!;
  return logits.map((x) => (x < kth ? NEG_INF : x));
}

/**
 * Nucleus filtering (transformers' TopPLogitsWarper): sorts ascending (a stable sort, so among equal
 * logits the lower id counts as smaller), removes the tokens whose cumulative probability is
 * <= 1 - topP, and always keeps the last `minTokensToKeep`. What remains is the smallest set of most
 * likely tokens whose probability sums to at least topP.
 *
 * @param p in [0, 1]; 1 keeps everything, 0 keeps only minTokensToKeep tokens
 * @param minTokensToKeep default 1
 */
export function topP(logits: Float32Array, p: number, minTokensToKeep = 1): Float32Array {
  checkProbability('topP', p);
  checkMinTokensToKeep(minTokensToKeep);
  const probs = softmax(logits);
  const order = ascendingOrder(logits);
  const out = logits.slice();
  const threshold = 1 - p;
  const removable = order.length - minTokensToKeep;
  let cumulative = 0;
  for (let r = 0; r < removable; r++) {
    const id = order[r]!;
    cumulative += probs[id]!;
    if (cumulative > threshold) break;
    out[id] = NEG_INF;
  }
  return out;
}

/**
 * Min-p filtering (transformers' MinPLogitsWarper): removes tokens whose probability is below
 * `p * max probability`, keeping at least the `minTokensToKeep` most likely.
 *
 * @param p in [0, 1]; 0 keeps everything
 * @param minTokensToKeep default 1
 */
export function minP(logits: Float32Array, p: number, minTokensToKeep = 1): Float32Array {
  checkProbability('minP', p);
  checkMinTokensToKeep(minTokensToKeep);
  const probs = softmax(logits);
  let pMax = 0;
  for (const q of probs) if (q > pMax) pMax = q;
  const cutoff = p * pMax;
  const order = ascendingOrder(logits);
  const keepFrom = order.length - minTokensToKeep;
  const out = logits.slice();
  for (let r = 0; r < keepFrom; r++) {
    const id = order[r]!;
    if (probs[id]! < cutoff) out[id] = NEG_INF;
  }
  return out;
}

/** Softmax in float64; -Infinity logits get probability 0. All -Infinity gives all zeros. */
export function softmax(logits: Float32Array): Float64Array {
  let mx = NEG_INF;
  for (const x of logits) if (x > mx) mx = x;
  const probs = new Float64Array(logits.length);
  if (mx === NEG_INF) return probs;
  let sum = 0;
  for (let i = 0; i < logits.length; i++) {
    const e = Math.exp(logits[i]! - mx);
    probs[i] = e;
    sum += e;
  }
  for (let i = 0; i < probs.length; i++) probs[i] = probs[i]! / sum;
  return probs;
}

/** Index of the largest logit; the first one on ties (as torch.argmax). */
export function argmax(logits: Float32Array): number {
  if (logits.length === 0) throw new Error('argmax: empty logits');
  // The best value kept in a local: re-reading logits[best] each step made this loop ~5x slower
  // (0.33 ms per GPT-2 token, 5% of an int8 decode step). Same result: the first maximum, NaN never wins.
  let best = 0;
  let top = logits[0]!;
  for (let j = 1; j < logits.length; j++) {
    const x = logits[j]!;
    if (x > top) {
      top = x;
      best = j;
    }
  }
  return best;
}

/**
 * Draws one id from softmax(logits) by inverse-CDF sampling with one uniform from `rng`.
 *
 * @throws Error when every logit is -Infinity (all tokens were filtered out)
 */
export function sample(logits: Float32Array, rng: Rng): number {
  const probs = softmax(logits);
  let total = 0;
  let last = -1;
  for (let i = 0; i < probs.length; i++) {
    total += probs[i]!;
    if (probs[i]! > 0) last = i;
  }
  if (last < 0) {
    if (logits.some((x) => Number.isNaN(x)))
      throw new Error('sample: the logits contain NaN (the model or a logits processor produced invalid values)');
    throw new Error('sample: every token was filtered out (all logits are -Infinity)');
  }
  const u = rng.random() * total;
  let cumulative = 0;
  for (let i = 0; i < probs.length; i++) {
    cumulative += probs[i]!;
    if (u < cumulative && probs[i]! > 0) return i;
  }
  return last; // u within rounding of the total
}

/** Settings of {@link processLogits}; an unset field disables its processor. */
export interface LogitsSettings {
  /** CTRL repetition penalty over prompt and generated tokens; 1 or unset disables. */
  repetitionPenalty?: number;
  /** OpenAI frequency penalty over generated tokens; 0 or unset disables. */
  frequencyPenalty?: number;
  /** OpenAI presence penalty over generated tokens; 0 or unset disables. */
  presencePenalty?: number;
  /** Ban repeating n-grams of this size; 0 or unset disables. */
  noRepeatNgramSize?: number;
  /** Suppress `eosTokenIds` while fewer than this many tokens were generated; 0 or unset disables. */
  minNewTokens?: number;
  eosTokenIds?: readonly number[];
  /** Apply the warpers below (sampling); when false only the processors above run (greedy). */
  doSample?: boolean;
  /** 1 or unset disables. */
  temperature?: number;
  /** 0 or unset disables. */
  topK?: number;
  /** 1 or unset disables. */
  topP?: number;
  /** 0 or unset disables. */
  minP?: number;
}

/**
 * Checks every set field of {@link LogitsSettings} (so a bad value fails before any model work).
 * A temperature of 0 is accepted here: {@link generate} turns it into greedy decoding.
 *
 * @throws Error naming the field and the expected range
 */
export function validateSettings(s: LogitsSettings): void {
  const check = (name: keyof LogitsSettings, ok: (v: number) => boolean, expected: string): void => {
    const v = s[name];
    if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)))
      throw new Error(`${name} must be ${expected}, got ${String(v)}`);
  };
  check('repetitionPenalty', (v) => v > 0, 'a finite number > 0');
  check('frequencyPenalty', () => true, 'a finite number');
  check('presencePenalty', () => true, 'a finite number');
  check('noRepeatNgramSize', (v) => Number.isInteger(v) && v >= 0, 'an integer >= 0');
  check('minNewTokens', (v) => Number.isInteger(v) && v >= 0, 'an integer >= 0');
  check('temperature', (v) => v >= 0, 'a finite number >= 0');
  check('topK', (v) => Number.isInteger(v) && v >= 0, 'an integer >= 0');
  check('topP', (v) => v >= 0 && v <= 1, 'a number in [0, 1]');
  check('minP', (v) => v >= 0 && v <= 1, 'a number in [0, 1]');
}

/**
 * The whole pipeline for one row, in transformers' order (see the module comment).
 *
 * @param history the row's prompt and generated tokens
 * @param generatedCount how many of the last entries of `history` were generated
 */
export function processLogits(
  logits: Float32Array,
  history: ArrayLike<number>,
  generatedCount: number,
  s: LogitsSettings,
): Float32Array {
  if (!Number.isInteger(generatedCount) || generatedCount < 0 || generatedCount > history.length) {
    throw new Error(`processLogits: generatedCount ${generatedCount} must be an integer in [0, ${history.length}]`);
  }
  let out = logits;
  const generated = Array.from({ length: generatedCount }, (_, i) => history[history.length - generatedCount + i]!);
  if (s.repetitionPenalty !== undefined && s.repetitionPenalty !== 1)
    out = repetitionPenalty(out, history, s.repetitionPenalty);
  if ((s.frequencyPenalty ?? 0) !== 0 || (s.presencePenalty ?? 0) !== 0)
    out = frequencyPresencePenalty(out, generated, s.frequencyPenalty ?? 0, s.presencePenalty ?? 0);
  if ((s.noRepeatNgramSize ?? 0) > 0) out = noRepeatNgram(out, history, s.noRepeatNgramSize!);
  if (generatedCount < (s.minNewTokens ?? 0) && s.eosTokenIds && s.eosTokenIds.length > 0)
    out = suppressTokens(out, s.eosTokenIds);
  if (!s.doSample) return out;
  if (s.temperature !== undefined && s.temperature !== 1) out = temperature(out, s.temperature);
  if ((s.topK ?? 0) !== 0) out = topK(out, s.topK!);
  if (s.topP !== undefined && s.topP < 1) out = topP(out, s.topP);
  if ((s.minP ?? 0) > 0) out = minP(out, s.minP!);
  return out;
}

/** Ids sorted by ascending logit, ties by ascending id. */
function ascendingOrder(logits: Float32Array): Int32Array {
  const order = Int32Array.from({ length: logits.length }, (_, i) => i);
  // TypedArray sort is stable, so equal logits keep ascending ids.
  return order.sort((a, b) => logits[a]! - logits[b]! || a - b);
}

function checkId(id: number, vocab: number): void {
  if (!Number.isInteger(id) || id < 0 || id >= vocab)
    throw new Error(`token id ${id} is outside the vocabulary [0, ${vocab})`);
}
