/**
 * Autoregressive text generation for any {@link CausalLM}: one prefill forward over the prompt,
 * then one-token decode steps that reuse the KV cache (`logitsToKeep: 1`), with transformers'
 * logits processors, seeded sampling, EOS ids, stop strings, streaming, and batches of prompts of
 * different lengths (left padding, positions from the attention mask).
 *
 * Decisions where transformers is silent or differs:
 *  - Penalties and n-gram bans look only at a row's real tokens (never at its padding), so a row
 *    generates the same tokens in a batch as alone. transformers includes the pad ids.
 *  - A temperature of 0 with sampling means greedy decoding (as OpenAI's API); transformers raises.
 *  - `maxNewTokens` is capped so prompt + generation fits `maxPositionEmbeddings`.
 *  - Dropout is off while generating (every module's train/eval flag is restored afterwards), so
 *    sampling in the middle of training needs no `model.eval()`.
 *  - Returned token ids include the EOS or the token that completed a stop string; texts exclude
 *    special tokens and everything from the stop string on.
 */
import type { CausalLM, KVCache } from '../models/causal-lm.js';
import { Rng } from '../tensor/random.js';
import { noGrad } from '../tensor/tensor.js';
import { withInt8Activations } from '../tensor/ops.js';
import { argmax, processLogits, sample, validateSettings, type LogitsSettings } from './logits-processors.js';

/** Why generation stopped for a sequence. */
export type FinishReason = 'eos' | 'length' | 'stop';

/** What generation needs from a tokenizer: turning ids back into text. */
export interface Detokenizer {
  /** Token ids to text. */
  decode(ids: readonly number[], options?: { skipSpecialTokens?: boolean }): string;
}

/** One generated token of one row, with the text it made stable (see {@link TextStream}). */
export interface TokenEvent {
  row: number;
  tokenId: number;
  /** New text that can be shown now ('' without a tokenizer, or while a character is incomplete). */
  text: string;
  /** Set on the row's last token. */
  finishReason: FinishReason | null;
}

export interface GenerateOptions extends LogitsSettings {
  /** Tokens to generate per row at most; default 20. */
  maxNewTokens?: number;
  /** Seed of the sampling Rng; default 0. Ignored when greedy. */
  seed?: number;
  /** Ids that end a row; default model.config.eosTokenIds. */
  eosTokenIds?: readonly number[];
  /** Id used for left padding and after a row finished; default model.config.padTokenId, else the first EOS id, else 0. */
  padTokenId?: number | undefined;
  /** Needed for stop strings and for the `text` of results and events. */
  tokenizer?: Detokenizer;
  /** Stop a row once its decoded continuation contains one of these; the text is cut before it. */
  stopStrings?: readonly string[];
  /** Called for every generated token of every row. */
  onToken?: ((event: TokenEvent) => void) | undefined;
  /** Reuse keys/values across steps; default true. false re-runs the whole sequence each step. */
  useCache?: boolean;
  /**
   * Models with int8 weights (computeDtype 'int8'): decode steps of at most 4 rows also quantise
   * the activations to int8 and multiply with int8 dot products ({@link withInt8Activations}),
   * fewer instructions per weight than float32 arithmetic; default true. false keeps every product weight-only (float32
   * arithmetic on dequantised weights). The extra rounding moved stories260K's perplexity by under
   * 0.2% (test/nn/compute-dtype.test.ts).
   */
  int8Activations?: boolean;
  /**
   * A cache already holding the first `cache.length` tokens of the (single) prompt: only the rest
   * is fed. On return it holds the prompt and every generated token but the last.
   */
  cache?: KVCache;
}

/** Time spent in prefill and decoding, and the resulting speeds. */
export interface GenerationTiming {
  /** Positions computed by the prefill forward (batch × padded prompt, minus cached positions). */
  prefillTokens: number;
  /** The prefill forward and choosing the first token. */
  prefillMs: number;
  prefillTokensPerSecond: number;
  /** Tokens fed by the decode steps (batch × steps). */
  decodeTokens: number;
  decodeMs: number;
  decodeTokensPerSecond: number;
}

/** What {@link generate} returns: the tokens, texts, finish reasons and timing. */
export interface GenerateResult {
  /** New token ids per row (prompt excluded; EOS / the stop-completing token included). */
  tokens: number[][];
  /** Decoded continuation per row (special tokens skipped, cut at a stop string); null without a tokenizer. */
  texts: string[] | null;
  finishReasons: FinishReason[];
  timing: GenerationTiming;
}

/**
 * Generates continuations of one prompt (an array of ids) or a batch (an array of arrays).
 * See {@link GenerateOptions} for defaults; sampling happens when `doSample` is true.
 *
 * @throws Error for an empty prompt, ids outside the vocabulary, or a prompt that fills the context
 */
export function generate(
  model: CausalLM,
  inputIds: readonly number[] | readonly (readonly number[])[],
  options: GenerateOptions = {},
): GenerateResult {
  const steps = generateSteps(model, inputIds, options);
  for (;;) {
    const next = steps.next();
    if (next.done) return next.value;
  }
}

/**
 * {@link generate} as an async iterator of {@link TokenEvent}s (tokens with their stable text
 * deltas); the iterator's return value is the {@link GenerateResult}. Each step yields to the event
 * loop, so a server or UI stays responsive between tokens.
 */
export async function* generateStream(
  model: CausalLM,
  inputIds: readonly number[] | readonly (readonly number[])[],
  options: GenerateOptions = {},
): AsyncGenerator<TokenEvent, GenerateResult, void> {
  const steps = generateSteps(model, inputIds, options);
  for (;;) {
    const next = steps.next();
    if (next.done) return next.value;
    for (const event of next.value) yield event;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

/**
 * {@link generate} one step at a time, synchronously: each `next()` computes one new token per row
 * and yields that step's {@link TokenEvent}s; the generator's return value is the
 * {@link GenerateResult}. The model stays in eval mode until the generator finishes or is closed
 * (`return()`, or leaving a for-of early), and gets its training flags back then. Timing counts
 * only the steps' own computation, so several generators can be advanced in turn (e.g. two models
 * compared token by token under the same machine load) and each reports its own speed.
 */
export function* generateSteps(
  model: CausalLM,
  inputIds: readonly number[] | readonly (readonly number[])[],
  options: GenerateOptions = {},
): Generator<TokenEvent[], GenerateResult, void> {
  const modes = model.namedModules().map(([, m]) => [m, m.training] as const);
  model.eval();
  try {
    return yield* evalGenerationSteps(model, inputIds, options);
  } finally {
    for (const [m, training] of modes) m.training = training;
  }
}

function* evalGenerationSteps(
  model: CausalLM,
  inputIds: readonly number[] | readonly (readonly number[])[],
  options: GenerateOptions,
): Generator<TokenEvent[], GenerateResult, void> {
  const rows = normaliseRows(inputIds, model.config.vocabSize);
  const B = rows.length;
  const eos = [...(options.eosTokenIds ?? model.config.eosTokenIds)];
  const eosSet = new Set(eos);
  const padId = options.padTokenId ?? model.config.padTokenId ?? eos[0] ?? 0;
  const useCache = options.useCache ?? true;
  const stopStrings = options.stopStrings ?? [];
  if (stopStrings.some((s) => typeof s !== 'string' || s.length === 0))
    throw new Error('generate: stopStrings must be non-empty strings');
  if (stopStrings.length > 0 && !options.tokenizer)
    throw new Error('generate: stopStrings need options.tokenizer to decode the continuation');
  validateSettings(options);
  const settings: LogitsSettings = { ...options, eosTokenIds: eos };
  if (settings.doSample && settings.temperature === 0) settings.doSample = false;
  const rng = new Rng(options.seed ?? 0);

  const promptLen = Math.max(...rows.map((r) => r.length));
  const maxPositions = model.config.maxPositionEmbeddings;
  if (promptLen >= maxPositions)
    throw new Error(`generate: the prompt has ${promptLen} tokens but the model holds ${maxPositions} positions`);
  const requested = options.maxNewTokens ?? 20;
  if (!Number.isInteger(requested) || requested < 1)
    throw new Error(`generate: maxNewTokens must be an integer >= 1, got ${requested}`);
  const maxNew = Math.min(requested, maxPositions - promptLen);

  const cache = options.cache ?? (useCache ? model.newCache() : null);
  const cached = options.cache?.length ?? 0;
  if (options.cache) {
    if (!useCache) throw new Error('generate: options.cache cannot be combined with useCache: false');
    if (B !== 1) throw new Error(`generate: options.cache holds one sequence but ${B} prompts were given`);
    if (cached >= rows[0]!.length)
      throw new Error(
        `generate: the cache holds ${cached} positions, the prompt only ${rows[0]!.length}; at least one token must be fed`,
      );
  }

  // Left-padded [B, total] ids and mask of everything fed so far.
  let total = promptLen;
  let ids: number[] = [];
  let mask: number[] = [];
  for (const r of rows) {
    const pad = promptLen - r.length;
    for (let i = 0; i < pad; i++) {
      ids.push(padId);
      mask.push(0);
    }
    for (const id of r) {
      ids.push(id);
      mask.push(1);
    }
  }
  const history = rows.map((r) => [...r]);
  const generated: number[][] = rows.map(() => []);
  const finish: Array<FinishReason | null> = rows.map(() => null);
  const streams = options.tokenizer ? rows.map(() => new TextStream(options.tokenizer!, stopStrings)) : null;

  const quantiseActivations = options.int8Activations ?? true;
  const forward = (feedIds: number[], feedMask: number[], withCache: KVCache | null): Float32Array =>
    noGrad(() => {
      const run = () =>
        model.forward({
          inputIds: Int32Array.from(feedIds),
          batchSize: B,
          attentionMask: Uint8Array.from(feedMask),
          ...(withCache ? { cache: withCache } : {}),
          logitsToKeep: 1,
        });
      return (quantiseActivations ? withInt8Activations(run) : run()).logits.f32;
    });

  // Time spent computing only: the consumer's time between yielded steps is not counted.
  let t0 = performance.now();
  let logits = forward(cached > 0 ? ids.slice(cached) : ids, mask, cache);
  const prefillTokens = B * promptLen - cached;
  let prefillMs = 0;
  let decodeMs = 0;
  let decodeTokens = 0;
  const V = logits.length / B;

  for (let step = 0; step < maxNew; step++) {
    const events: TokenEvent[] = [];
    const next = new Array<number>(B).fill(padId);
    for (let b = 0; b < B; b++) {
      if (finish[b] !== null) continue;
      const row = logits.subarray(b * V, (b + 1) * V);
      checkModelLogits(row, step, b);
      const processed = processLogits(row, history[b]!, generated[b]!.length, settings);
      const token = settings.doSample ? sample(processed, rng) : argmax(processed);
      next[b] = token;
      history[b]!.push(token);
      generated[b]!.push(token);
      let reason: FinishReason | null = null;
      let text = '';
      if (streams) {
        const s = streams[b]!;
        s.push(token);
        if (s.stopped) reason = 'stop';
      }
      if (reason === null && eosSet.has(token)) reason = 'eos';
      if (reason === null && step === maxNew - 1) reason = 'length';
      if (streams) text = reason !== null ? streams[b]!.finish() : streams[b]!.delta();
      finish[b] = reason;
      const event: TokenEvent = { row: b, tokenId: token, text, finishReason: reason };
      options.onToken?.(event);
      events.push(event);
    }
    if (step === 0) prefillMs = performance.now() - t0;
    else decodeMs += performance.now() - t0;
    yield events;
    if (finish.every((f) => f !== null)) break;
    // Every row is fed a token (finished rows their pad) with mask 1, as transformers does.
    const feedMask = new Array<number>(B * (total + 1));
    for (let b = 0; b < B; b++) {
      for (let i = 0; i < total; i++) feedMask[b * (total + 1) + i] = mask[b * total + i]!;
      feedMask[b * (total + 1) + total] = 1;
    }
    const feedIds = new Array<number>(B * (total + 1));
    for (let b = 0; b < B; b++) {
      for (let i = 0; i < total; i++) feedIds[b * (total + 1) + i] = ids[b * total + i]!;
      feedIds[b * (total + 1) + total] = next[b]!;
    }
    ids = feedIds;
    mask = feedMask;
    total++;
    t0 = performance.now();
    logits = cache ? forward(next, mask, cache) : forward(ids, mask, null);
    decodeTokens += B;
  }
  return {
    tokens: generated,
    texts: streams ? streams.map((s) => s.text) : null,
    finishReasons: finish.map((f) => f ?? 'length'),
    timing: {
      prefillTokens,
      prefillMs,
      prefillTokensPerSecond: perSecond(prefillTokens, prefillMs),
      decodeTokens,
      decodeMs,
      decodeTokensPerSecond: perSecond(decodeTokens, decodeMs),
    },
  };
}

/**
 * A model whose weights hold NaN/Infinity (or that overflowed) yields NaN logits, from which argmax
 * would quietly pick token 0 and print nothing useful: fail loudly instead.
 */
function checkModelLogits(row: Float32Array, step: number, b: number): void {
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) {
    const x = row[i]!;
    if (Number.isNaN(x) || x === Infinity) {
      throw new Error(
        `generate: the model produced ${Number.isNaN(x) ? 'NaN' : 'Infinity'} logits (row ${b}, new token ${step + 1}); its weights are probably broken (NaN or Infinity values, or an overflow)`,
      );
    }
    if (x > max) max = x;
  }
  if (max === -Infinity)
    throw new Error(`generate: the model produced only -Infinity logits (row ${b}, new token ${step + 1})`);
}

function perSecond(tokens: number, ms: number): number {
  return ms > 0 ? (tokens * 1000) / ms : 0;
}

function normaliseRows(inputIds: readonly number[] | readonly (readonly number[])[], vocab: number): number[][] {
  const given: unknown = inputIds; // JavaScript callers can pass anything
  if (!Array.isArray(given) || inputIds.length === 0)
    throw new Error('generate: inputIds must be a non-empty array of token ids or of rows of ids');
  const rows = (Array.isArray(inputIds[0]) ? inputIds : [inputIds]) as readonly (readonly number[])[];
  return rows.map((r, i) => {
    const row: unknown = r;
    if (!Array.isArray(row) || r.length === 0)
      throw new Error(`generate: prompt ${i} must be a non-empty array of token ids`);
    r.forEach((id, j) => {
      if (!Number.isInteger(id) || id < 0 || id >= vocab)
        throw new Error(`generate: prompt ${i} position ${j}: id ${id} is outside the vocabulary [0, ${vocab})`);
    });
    return [...r];
  });
}

/**
 * Incremental detokenisation of one row for streaming. Decoding the whole continuation each step
 * (rather than token by token) keeps multi-byte characters split over byte-fallback tokens and
 * tokenizer-specific spacing right. Text is released only when it is stable:
 *  - not while the decoded text ends in U+FFFD (an incomplete UTF-8 sequence),
 *  - not the trailing part that could still be the start of a stop string,
 *  - only as an extension of what was already released.
 */
export class TextStream {
  /** Released text so far. */
  private emitted = '';
  private ids: number[] = [];
  private decoded = '';
  /** Index of the earliest stop string in the decoded text, or -1. */
  private stopAt = -1;

  constructor(
    private readonly tokenizer: Detokenizer,
    private readonly stopStrings: readonly string[] = [],
  ) {}

  /** Adds a token and re-decodes the continuation. */
  push(id: number): void {
    this.ids.push(id);
    this.decoded = this.tokenizer.decode(this.ids, { skipSpecialTokens: true });
    this.stopAt = -1;
    for (const s of this.stopStrings) {
      const at = this.decoded.indexOf(s);
      if (at >= 0 && (this.stopAt < 0 || at < this.stopAt)) this.stopAt = at;
    }
  }

  /** True once the continuation contains a stop string. */
  get stopped(): boolean {
    return this.stopAt >= 0;
  }

  /** The continuation's text: cut before the first stop string. */
  get text(): string {
    return this.stopAt >= 0 ? this.decoded.slice(0, this.stopAt) : this.decoded;
  }

  /** Newly stable text since the last call. */
  delta(): string {
    let stable = this.text;
    if (stable.endsWith('\uFFFD')) return '';
    stable = stable.slice(0, stable.length - this.pendingStopPrefix(stable));
    if (stable.length <= this.emitted.length || !stable.startsWith(this.emitted)) return '';
    const out = stable.slice(this.emitted.length);
    this.emitted = stable;
    return out;
  }

  /** Everything not yet released (the row is done). */
  finish(): string {
    const final = this.text;
    const out = final.startsWith(this.emitted) ? final.slice(this.emitted.length) : '';
    this.emitted = final;
    return out;
  }

  /** Length of the longest suffix of `text` that is a proper prefix of a stop string. */
  private pendingStopPrefix(text: string): number {
    let longest = 0;
    for (const s of this.stopStrings) {
      for (let n = Math.min(s.length - 1, text.length); n > longest; n--) {
        if (text.endsWith(s.slice(0, n))) {
          longest = n;
          break;
        }
      }
    }
    return longest;
  }
}
