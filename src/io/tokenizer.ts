/**
 * Hugging Face tokenizers from a model folder: `tokenizer.json` (the fast-tokenizer pipeline,
 * run by the pure-JS `@huggingface/tokenizers`), `tokenizer_config.json` (special tokens, padding
 * side, chat template, ...) and `special_tokens_map.json`, with transformers' calling conventions:
 * special-token ids, batch encoding with padding and truncation, pair encoding with token type ids,
 * and chat templates rendered with `@huggingface/jinja`.
 */
import { existsSync } from 'node:fs';
import { readTextBounded } from './files.js';
import { join } from 'node:path';
import { Tokenizer as UntypedTokenizer } from '@huggingface/tokenizers';
import { Environment, Template } from '@huggingface/jinja';
import { FieldReader, isPlainObject, readJsonObject } from './json.js';

/**
 * The part of `@huggingface/tokenizers`' `Tokenizer` that tunekit calls, with the signatures of its
 * types/core/Tokenizer.d.ts. The package's own declarations use extension-less relative imports,
 * which NodeNext resolution cannot follow, so without this view every call would be typed `any`.
 */
interface Tokenizer {
  post_processor:
    | ((
        tokens: string[],
        pair: string[] | null,
        addSpecialTokens: boolean,
      ) => {
        tokens: string[];
        tokens_pair?: string[];
        token_type_ids?: number[];
      })
    | null;
  decode(
    ids: number[],
    options?: { skip_special_tokens?: boolean; clean_up_tokenization_spaces?: boolean | null },
  ): string;
  tokenize(text: string, options?: { text_pair?: string | null; add_special_tokens?: boolean }): string[];
  token_to_id(token: string): number | undefined;
  id_to_token(id: number): string | undefined;
  get_added_tokens_decoder(): Map<number, { content: string; special: boolean }>;
  get_vocab(withAddedTokens?: boolean): Map<string, number>;
}
const TokenizerClass = UntypedTokenizer as unknown as new (tokenizerJson: object, config: object) => Tokenizer;

/** Largest accepted tokenizer.json (100 MB); real ones are 0.5–20 MB. */
export const MAX_TOKENIZER_JSON_BYTES = 100_000_000;
/** Largest accepted tokenizer_config.json / special_tokens_map.json / chat_template.jinja (10 MB). */
export const MAX_TOKENIZER_CONFIG_BYTES = 10_000_000;

/** transformers' "very large integer" model_max_length placeholder means "no limit". */
const NO_MAX_LENGTH = Number.MAX_SAFE_INTEGER;

/** Which end of a sequence padding is added to / truncation removes from. */
export type Side = 'left' | 'right';
/** transformers' truncation strategies for pairs ('longest_first' also covers single sequences). */
export type TruncationStrategy = 'longest_first' | 'only_first' | 'only_second';

/** The names of transformers' SpecialTokensMixin attributes. */
const SPECIAL_TOKEN_NAMES = [
  'bos_token',
  'eos_token',
  'unk_token',
  'sep_token',
  'pad_token',
  'cls_token',
  'mask_token',
] as const;
type SpecialTokenName = (typeof SPECIAL_TOKEN_NAMES)[number];

/** One chat message; `content` may be a string or a list of content parts (multimodal templates). */
export interface ChatMessage {
  role: string;
  content: string | unknown[];
  [key: string]: unknown;
}

/** Options of {@link PreTrainedTokenizer.encode}. */
export interface EncodeOptions {
  /** Add the post-processor's special tokens (BOS, [CLS]/[SEP], ...); default true. */
  addSpecialTokens?: boolean;
  /** Second sequence of a pair (BERT: [CLS] A [SEP] B [SEP], token type ids 0…0 1…1). */
  textPair?: string | null;
}

/** Options of {@link PreTrainedTokenizer.encodeBatch} (transformers' `tokenizer(texts, ...)` arguments). */
export interface BatchEncodeOptions {
  /** default true */
  addSpecialTokens?: boolean;
  /** Second sequences, one per text (pair encoding). */
  textPairs?: string[];
  /** false (default): no padding; true or 'longest': pad to the longest; 'max_length': pad to maxLength. */
  padding?: boolean | 'longest' | 'max_length';
  /** Truncate to maxLength; true = 'longest_first'. Default false. */
  truncation?: boolean | TruncationStrategy;
  /** Length limit for truncation / 'max_length' padding; default the tokenizer's model_max_length. */
  maxLength?: number;
  /** Round padded lengths up to a multiple of this; default none. */
  padToMultipleOf?: number;
  /** Override the tokenizer's padding side ('right' unless tokenizer_config.json says otherwise). */
  paddingSide?: Side;
  /** Override the tokenizer's truncation side (default 'right'). */
  truncationSide?: Side;
}

/** Encoded batch, one row per input; rows have equal length when padded. */
export interface BatchEncoding {
  inputIds: number[][];
  /** 1 for real tokens, 0 for padding. */
  attentionMask: number[][];
  /** Segment ids (0 for the first sequence, 1 for the second); 0 for padding. */
  tokenTypeIds: number[][];
}

/** Options of {@link PreTrainedTokenizer.decode}. */
export interface DecodeOptions {
  /** Drop special tokens (BOS/EOS/PAD/[CLS]/... and additional special tokens); default false. */
  skipSpecialTokens?: boolean;
  /** Remove spaces before punctuation etc.; default tokenizer_config.json's value, else false. */
  cleanUpTokenizationSpaces?: boolean;
}

/** Options of {@link PreTrainedTokenizer.applyChatTemplate}. */
export interface ChatTemplateOptions {
  /** Append the template's assistant-turn opening; default false. */
  addGenerationPrompt?: boolean;
  /** Return token ids instead of the rendered text; default true. */
  tokenize?: boolean;
  /** Leave the final message open for the model to continue (strip what follows its content); default false. */
  continueFinalMessage?: boolean;
  /** Template to use instead of the tokenizer's, or the name of one of its named templates. */
  chatTemplate?: string | undefined;
  /** Tool (function) schemas, passed to the template as `tools`. */
  tools?: unknown[];
  /** Retrieval documents, passed to the template as `documents`. */
  documents?: unknown[];
  /** Extra template variables (e.g. `enable_thinking`). */
  templateVariables?: Record<string, unknown>;
}

/** Reads a special-token entry: a string, an AddedToken-style object {content, ...}, or null. */
function specialTokenContent(label: string, field: string, value: unknown): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'string') return value;
  if (isPlainObject(value) && typeof value.content === 'string') return value.content;
  throw new Error(`${label}: field "${field}" must be a string or {"content": string}, got ${JSON.stringify(value)}`);
}

/**
 * A tokenizer loaded from a Hugging Face folder. Construct with {@link AutoTokenizer.fromPretrained}.
 */
export class PreTrainedTokenizer {
  /** Special token strings (null when the tokenizer has none). */
  readonly bosToken: string | null;
  readonly eosToken: string | null;
  readonly unkToken: string | null;
  readonly sepToken: string | null;
  readonly padToken: string | null;
  readonly clsToken: string | null;
  readonly maskToken: string | null;
  readonly additionalSpecialTokens: string[];
  /** Side padding is added to; tokenizer_config.json `padding_side`, default 'right'. */
  readonly paddingSide: Side;
  /** Side truncation removes from; tokenizer_config.json `truncation_side`, default 'right'. */
  readonly truncationSide: Side;
  /** tokenizer_config.json `model_max_length`; Number.MAX_SAFE_INTEGER when unset or the "no limit" placeholder. */
  readonly modelMaxLength: number;
  /** The default chat template, or null. */
  readonly chatTemplate: string | null;
  /** Named chat templates (tokenizer_config.json may hold a list of {name, template}). */
  readonly chatTemplates: ReadonlyMap<string, string>;
  /** Number of ids (vocabulary plus added tokens), i.e. transformers' `len(tokenizer)`. */
  readonly vocabSize: number;

  private readonly cleanUpTokenizationSpaces: boolean;
  private readonly templateCache = new Map<string, Template>();

  constructor(
    private readonly tokenizer: Tokenizer,
    config: Record<string, unknown>,
    specialTokens: Record<SpecialTokenName, string | null> & { additional: string[] },
    chatTemplates: Map<string, string>,
    private readonly label: string,
  ) {
    this.bosToken = specialTokens.bos_token;
    this.eosToken = specialTokens.eos_token;
    this.unkToken = specialTokens.unk_token;
    this.sepToken = specialTokens.sep_token;
    this.padToken = specialTokens.pad_token;
    this.clsToken = specialTokens.cls_token;
    this.maskToken = specialTokens.mask_token;
    this.additionalSpecialTokens = specialTokens.additional;
    const f = new FieldReader(`${label}/tokenizer_config.json`, config);
    this.paddingSide = f.oneOf('padding_side', ['left', 'right'] as const, 'right');
    this.truncationSide = f.oneOf('truncation_side', ['left', 'right'] as const, 'right');
    const maxLen = f.has('model_max_length') ? f.num('model_max_length', NO_MAX_LENGTH, true) : NO_MAX_LENGTH;
    this.modelMaxLength = maxLen >= 1e29 || !Number.isSafeInteger(maxLen) ? NO_MAX_LENGTH : maxLen;
    this.cleanUpTokenizationSpaces = f.bool('clean_up_tokenization_spaces', false);
    this.chatTemplates = chatTemplates;
    this.chatTemplate = chatTemplates.get('default') ?? null;
    let maxId = -1;
    for (const id of tokenizer.get_vocab(true).values()) maxId = Math.max(maxId, id);
    this.vocabSize = maxId + 1;
    for (const name of SPECIAL_TOKEN_NAMES) {
      const token = specialTokens[name];
      if (token !== null && tokenizer.token_to_id(token) === undefined) {
        throw new Error(`${label}: ${name} ${JSON.stringify(token)} is not in the vocabulary of tokenizer.json`);
      }
    }
  }

  /** Id of a token string, or null when it is not in the vocabulary. */
  tokenToId(token: string): number | null {
    return this.tokenizer.token_to_id(token) ?? null;
  }

  /** Token string of an id, or null when out of range. */
  idToToken(id: number): string | null {
    return this.tokenizer.id_to_token(id) ?? null;
  }

  private idOf(token: string | null): number | null {
    return token === null ? null : this.tokenToId(token);
  }

  get bosTokenId(): number | null {
    return this.idOf(this.bosToken);
  }
  get eosTokenId(): number | null {
    return this.idOf(this.eosToken);
  }
  get unkTokenId(): number | null {
    return this.idOf(this.unkToken);
  }
  get sepTokenId(): number | null {
    return this.idOf(this.sepToken);
  }
  get padTokenId(): number | null {
    return this.idOf(this.padToken);
  }
  get clsTokenId(): number | null {
    return this.idOf(this.clsToken);
  }
  get maskTokenId(): number | null {
    return this.idOf(this.maskToken);
  }

  /** Ids of every special token (named ones, additional ones and added tokens marked special). */
  get allSpecialIds(): number[] {
    const ids = new Set<number>();
    for (const t of [
      this.bosToken,
      this.eosToken,
      this.unkToken,
      this.sepToken,
      this.padToken,
      this.clsToken,
      this.maskToken,
      ...this.additionalSpecialTokens,
    ]) {
      const id = this.idOf(t);
      if (id !== null) ids.add(id);
    }
    for (const [id, token] of this.tokenizer.get_added_tokens_decoder()) if (token.special) ids.add(id);
    return [...ids].sort((a, b) => a - b);
  }

  /** Splits text into token strings (no special tokens). */
  tokenize(text: string): string[] {
    return this.tokenizer.tokenize(text, { add_special_tokens: false });
  }

  /**
   * Token ids of `text` (and `textPair`).
   * @param options addSpecialTokens default true; textPair default none
   */
  encode(text: string, options: EncodeOptions = {}): number[] {
    return this.encodeWithTypes(text, options.textPair ?? null, options.addSpecialTokens ?? true).ids;
  }

  /**
   * Ids, attention mask and token type ids of one text or pair (transformers' `encode_plus`
   * without padding/truncation; use {@link encodeBatch} for those).
   */
  encodePlus(
    text: string,
    options: EncodeOptions = {},
  ): { inputIds: number[]; attentionMask: number[]; tokenTypeIds: number[] } {
    const { ids, typeIds } = this.encodeWithTypes(text, options.textPair ?? null, options.addSpecialTokens ?? true);
    return { inputIds: ids, attentionMask: ids.map(() => 1), tokenTypeIds: typeIds };
  }

  /** Runs the post-processor on token strings, returning ids and type ids. */
  private postProcess(
    first: string[],
    second: string[] | null,
    addSpecialTokens: boolean,
  ): { ids: number[]; typeIds: number[] } {
    let tokens: string[];
    let typeIds: number[] | undefined;
    if (this.tokenizer.post_processor) {
      const out = this.tokenizer.post_processor(first, second, addSpecialTokens);
      // Some processors (ByteLevel) return the pair separately instead of merging it.
      tokens = out.tokens_pair ? [...out.tokens, ...out.tokens_pair] : out.tokens;
      typeIds = out.token_type_ids;
      if (out.tokens_pair) typeIds = [...out.tokens.map(() => 0), ...out.tokens_pair.map(() => 1)];
    } else {
      tokens = [...first, ...(second ?? [])];
    }
    typeIds ??= [...first.map(() => 0), ...(second ?? []).map(() => 1)];
    const unk = this.unkTokenId;
    const ids = tokens.map((t) => {
      const id = this.tokenizer.token_to_id(t) ?? unk;
      if (id === null)
        throw new Error(`${this.label}: token ${JSON.stringify(t)} has no id and the tokenizer has no unk_token`);
      return id;
    });
    return { ids, typeIds };
  }

  private encodeWithTypes(
    text: string,
    textPair: string | null,
    addSpecialTokens: boolean,
  ): { ids: number[]; typeIds: number[] } {
    if (typeof text !== 'string') throw new Error(`${this.label}: encode expects a string, got ${typeof text}`);
    const first = this.tokenize(text);
    const second = textPair === null ? null : this.tokenize(textPair);
    return this.postProcess(first, second, addSpecialTokens);
  }

  /** How many special tokens the post-processor adds to a single sequence (pair = false) or a pair. */
  numSpecialTokensToAdd(pair = false): number {
    return this.postProcess([], pair ? [] : null, true).ids.length;
  }

  /**
   * Encodes several texts (or pairs), with optional truncation and padding, as transformers'
   * `tokenizer(texts, padding=..., truncation=..., max_length=...)`.
   *
   * Truncation happens before special tokens are added, so the result including them fits
   * `maxLength`; 'longest_first' shortens the longer sequence of a pair first (as the Rust tokenizers
   * do). Padding uses the pad token and requires one.
   *
   * @throws Error when padding is requested but the tokenizer has no pad token, or maxLength is
   *   smaller than the number of special tokens
   */
  encodeBatch(texts: string[], options: BatchEncodeOptions = {}): BatchEncoding {
    const addSpecialTokens = options.addSpecialTokens ?? true;
    const pairs = options.textPairs;
    if (pairs !== undefined && pairs.length !== texts.length) {
      throw new Error(`encodeBatch: textPairs has ${pairs.length} entries but texts has ${texts.length}`);
    }
    const padding = options.padding === true ? 'longest' : (options.padding ?? false);
    const truncation = options.truncation === true ? 'longest_first' : (options.truncation ?? false);
    const maxLength = options.maxLength ?? this.modelMaxLength;
    if (!Number.isSafeInteger(maxLength) || maxLength < 1)
      throw new Error(`encodeBatch: maxLength must be a positive integer, got ${maxLength}`);
    const truncationSide = options.truncationSide ?? this.truncationSide;

    const rows = texts.map((text, i) => {
      let first = this.tokenize(text);
      let second = pairs ? this.tokenize(pairs[i]!) : null;
      if (truncation !== false) {
        const special = addSpecialTokens ? this.numSpecialTokensToAdd(second !== null) : 0;
        const budget = maxLength - special;
        if (budget < 0)
          throw new Error(`encodeBatch: maxLength ${maxLength} is smaller than the ${special} special tokens added`);
        [first, second] = truncatePair(first, second, budget, truncation, truncationSide);
      }
      return this.postProcess(first, second, addSpecialTokens);
    });

    let target = 0;
    if (padding === 'longest') target = Math.max(0, ...rows.map((r) => r.ids.length));
    else if (padding === 'max_length') target = maxLength;
    if (padding !== false && options.padToMultipleOf) {
      const m = options.padToMultipleOf;
      target = Math.ceil(target / m) * m;
    }
    const padId = this.padTokenId;
    const paddingSide = options.paddingSide ?? this.paddingSide;
    const out: BatchEncoding = { inputIds: [], attentionMask: [], tokenTypeIds: [] };
    for (const { ids, typeIds } of rows) {
      const missing = padding === false ? 0 : Math.max(0, target - ids.length);
      if (missing > 0 && padId === null) {
        throw new Error(`${this.label}: asked to pad but the tokenizer has no pad_token (set one, e.g. the eos_token)`);
      }
      const pad = (row: number[], value: number): number[] => {
        const fill = new Array<number>(missing).fill(value);
        return paddingSide === 'left' ? [...fill, ...row] : [...row, ...fill];
      };
      out.inputIds.push(pad(ids, padId ?? 0));
      out.attentionMask.push(
        pad(
          ids.map(() => 1),
          0,
        ),
      );
      out.tokenTypeIds.push(pad(typeIds, 0));
    }
    return out;
  }

  /**
   * Text of token ids.
   * @param options skipSpecialTokens default false; cleanUpTokenizationSpaces default from tokenizer_config.json (else false)
   * @throws Error when an id is outside [0, vocabSize)
   */
  decode(ids: readonly number[], options: DecodeOptions = {}): string {
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
        throw new Error(`${this.label}: cannot decode id ${id} (expected an integer in [0, ${this.vocabSize}))`);
      }
    }
    if (ids.length === 0) return '';
    let kept = [...ids];
    if (options.skipSpecialTokens) {
      // The library only knows special tokens from tokenizer.json; also drop the named ones.
      const special = new Set(this.allSpecialIds);
      kept = kept.filter((id) => !special.has(id));
      if (kept.length === 0) return '';
    }
    return this.tokenizer.decode(kept, {
      skip_special_tokens: options.skipSpecialTokens ?? false,
      clean_up_tokenization_spaces: options.cleanUpTokenizationSpaces ?? this.cleanUpTokenizationSpaces,
    });
  }

  /** {@link decode} for each row. */
  batchDecode(rows: readonly (readonly number[])[], options: DecodeOptions = {}): string[] {
    return rows.map((ids) => this.decode(ids, options));
  }

  /**
   * Renders a conversation with the tokenizer's chat template (Jinja, with trim_blocks and
   * lstrip_blocks as transformers), passing `messages`, `add_generation_prompt`, `tools`, `documents`,
   * the special tokens (`bos_token`, `eos_token`, ...), `raise_exception` and `strftime_now`.
   * Token ids are computed without adding special tokens again (the template writes them).
   *
   * @param options addGenerationPrompt default false; tokenize default true; continueFinalMessage default false
   * @returns token ids (tokenize true) or the rendered text
   * @throws Error when there is no chat template, messages are malformed, or the template raises
   */
  applyChatTemplate(messages: ChatMessage[], options: ChatTemplateOptions & { tokenize: false }): string;
  applyChatTemplate(messages: ChatMessage[], options?: ChatTemplateOptions): number[];
  applyChatTemplate(messages: ChatMessage[], options: ChatTemplateOptions = {}): number[] | string {
    const source = this.resolveChatTemplate(options.chatTemplate, options.tools !== undefined);
    if (!Array.isArray(messages)) throw new Error('applyChatTemplate: messages must be an array of {role, content}');
    messages.forEach((m, i) => {
      if (
        !isPlainObject(m) ||
        typeof m.role !== 'string' ||
        (typeof m.content !== 'string' && !Array.isArray(m.content) && m.content !== undefined && m.content !== null)
      ) {
        throw new Error(
          `applyChatTemplate: message ${i} must be {role: string, content: string | list}, got ${JSON.stringify(m)}`,
        );
      }
    });
    if (options.continueFinalMessage && options.addGenerationPrompt) {
      throw new Error('applyChatTemplate: continueFinalMessage and addGenerationPrompt cannot both be set');
    }
    let template = this.templateCache.get(source);
    if (!template) {
      template = new Template(source);
      this.templateCache.set(source, template);
    }
    // Like transformers' special_tokens_map, unset tokens are left undefined (render as "").
    const variables: Record<string, unknown> = {
      ...Object.fromEntries(
        SPECIAL_TOKEN_NAMES.map((n) => [n, this.specialTokenString(n)] as const).filter(([, v]) => v !== null),
      ),
      additional_special_tokens: this.additionalSpecialTokens,
      ...options.templateVariables,
      messages,
      add_generation_prompt: options.addGenerationPrompt ?? false,
    };
    if (options.tools !== undefined) variables.tools = options.tools;
    if (options.documents !== undefined) variables.documents = options.documents;
    let rendered = renderSandboxed(template, variables);
    if (options.continueFinalMessage) rendered = cutAfterFinalMessage(rendered, messages);
    if (options.tokenize === false) return rendered;
    return this.encode(rendered, { addSpecialTokens: false });
  }

  private specialTokenString(name: SpecialTokenName): string | null {
    return {
      bos_token: this.bosToken,
      eos_token: this.eosToken,
      unk_token: this.unkToken,
      sep_token: this.sepToken,
      pad_token: this.padToken,
      cls_token: this.clsToken,
      mask_token: this.maskToken,
    }[name];
  }

  /** transformers' get_chat_template: an explicit template or name, else 'tool_use' with tools, else 'default'. */
  private resolveChatTemplate(requested: string | undefined, withTools: boolean): string {
    if (requested !== undefined) return this.chatTemplates.get(requested) ?? requested;
    const chosen = (withTools ? this.chatTemplates.get('tool_use') : undefined) ?? this.chatTemplate;
    if (chosen === null) {
      throw new Error(
        `${this.label}: this tokenizer has no chat_template (tokenizer_config.json or chat_template.jinja); pass options.chatTemplate`,
      );
    }
    return chosen;
  }
}

/** Longest `range()` a chat template may build (Python's jinja2.sandbox MAX_RANGE, which transformers uses). */
export const MAX_TEMPLATE_RANGE = 100_000;

/**
 * `range()` for chat templates, bounded like jinja2's sandboxed range: a template asking for
 * `range(10000000000)` fails with a clear error instead of exhausting memory.
 */
function sandboxedRange(start: unknown, stop?: unknown, step: unknown = 1): number[] {
  const args = stop === undefined ? [0, start, step] : [start, stop, step];
  if (!args.every((a) => typeof a === 'number' && Number.isInteger(a))) {
    throw new Error(
      `chat template: range() expects integers, got range(${[start, stop, step]
        .filter((a) => a !== undefined)
        .map((a) => JSON.stringify(a))
        .join(', ')})`,
    );
  }
  const [from, to, by] = args as [number, number, number];
  if (by === 0) throw new Error('chat template: range() step must not be zero');
  const length = Math.max(0, Math.ceil((to - from) / by));
  if (length > MAX_TEMPLATE_RANGE) {
    throw new Error(
      `chat template: range() of ${length} items is too big; templates may build ranges of at most ${MAX_TEMPLATE_RANGE} items (as Python's sandboxed Jinja)`,
    );
  }
  return Array.from({ length }, (_, i) => from + i * by);
}

/**
 * Renders with `range` replaced by {@link sandboxedRange}. @huggingface/jinja declares its globals
 * (range among them) with `Environment.set` inside `Template.render` and offers no way to replace
 * one, so `set` is wrapped for the duration of this synchronous call; rendering refuses to start if
 * the library no longer declares `range` that way.
 */
function renderSandboxed(template: Template, variables: Record<string, unknown>): string {
  // Typed by hand: the package's .d.ts files do not resolve under NodeNext (see Tokenizer above).
  const proto = (Environment as unknown as { prototype: { set: (name: string, value: unknown) => unknown } }).prototype;
  const set = proto.set;
  let replaced = false;
  proto.set = function (this: unknown, name: string, value: unknown): unknown {
    if (name === 'range' && !replaced) {
      replaced = true;
      return set.call(this, name, sandboxedRange);
    }
    // `messages` is ours, set after the library's globals: by then range must have been replaced.
    if (name === 'messages' && !replaced)
      throw new Error(
        'chat template: cannot bound range() with this version of @huggingface/jinja; refusing to render',
      );
    return set.call(this, name, value);
  };
  try {
    return template.render(variables);
  } finally {
    proto.set = set;
  }
}

/**
 * With continue_final_message, transformers cuts the rendered text right after the final message's
 * content so generation continues it instead of starting a new turn.
 */
function cutAfterFinalMessage(rendered: string, messages: ChatMessage[]): string {
  const last = messages[messages.length - 1];
  const content = typeof last?.content === 'string' ? last.content : null;
  if (content === null)
    throw new Error('applyChatTemplate: continueFinalMessage needs a final message with string content');
  const at = rendered.lastIndexOf(content.trim());
  if (at < 0)
    throw new Error(
      'applyChatTemplate: continueFinalMessage: the final message content does not appear in the rendered chat',
    );
  return rendered.slice(0, at + content.trim().length);
}

/** Removes `n` tokens from one side of a sequence. */
function cut(tokens: string[], keep: number, side: Side): string[] {
  if (keep >= tokens.length) return tokens;
  return side === 'right' ? tokens.slice(0, keep) : tokens.slice(tokens.length - keep);
}

/**
 * Fits a sequence or pair into `budget` tokens (special tokens already subtracted).
 * longest_first follows the Rust tokenizers: the shorter sequence keeps its length if the longer can
 * absorb the cut, otherwise both get half the budget (the second gets the odd token).
 */
function truncatePair(
  first: string[],
  second: string[] | null,
  budget: number,
  strategy: TruncationStrategy,
  side: Side,
): [string[], string[] | null] {
  if (second === null) {
    if (strategy === 'only_second') throw new Error("encodeBatch: truncation 'only_second' needs text pairs");
    return [cut(first, budget, side), null];
  }
  if (first.length + second.length <= budget) return [first, second];
  if (strategy === 'only_first') return [cut(first, Math.max(0, budget - second.length), side), second];
  if (strategy === 'only_second') return [first, cut(second, Math.max(0, budget - first.length), side)];
  const swap = first.length > second.length;
  let short = swap ? second.length : first.length;
  let long: number;
  long = short > budget ? short : Math.max(short, budget - short);
  if (short + long > budget) {
    short = Math.floor(budget / 2);
    long = short + (budget % 2);
  }
  const [n1, n2] = swap ? [long, short] : [short, long];
  return [cut(first, n1, side), cut(second, n2, side)];
}

/** Reads the chat templates of a folder: chat_template.jinja wins over tokenizer_config.json. */
function readChatTemplates(dir: string, config: Record<string, unknown>, label: string): Map<string, string> {
  const templates = new Map<string, string>();
  const raw = config.chat_template;
  if (typeof raw === 'string') templates.set('default', raw);
  else if (Array.isArray(raw)) {
    for (const entry of raw) {
      if (!isPlainObject(entry) || typeof entry.name !== 'string' || typeof entry.template !== 'string') {
        throw new Error(
          `${label}/tokenizer_config.json: field "chat_template" must be a string or a list of {name, template}`,
        );
      }
      templates.set(entry.name, entry.template);
    }
  } else if (raw !== undefined && raw !== null) {
    throw new Error(
      `${label}/tokenizer_config.json: field "chat_template" must be a string or a list of {name, template}`,
    );
  }
  const jinjaPath = join(dir, 'chat_template.jinja');
  if (existsSync(jinjaPath)) {
    templates.set('default', readTextBounded(jinjaPath, MAX_TOKENIZER_CONFIG_BYTES));
  }
  return templates;
}

/** Tokenizer classes whose fast implementation rebuilds the post-processor from add_bos_token/add_eos_token. */
const LLAMA_TOKENIZER_CLASSES = /^(Llama|CodeLlama)Tokenizer(Fast)?$/;

/** Id of a token in a tokenizer.json (added tokens first, then the model vocabulary). */
function tokenIdInJson(tokenizerJson: Record<string, unknown>, content: string): number | null {
  for (const t of tokenizerJson.added_tokens as unknown[]) {
    if (isPlainObject(t) && t.content === content && typeof t.id === 'number') return t.id;
  }
  const vocab = (tokenizerJson.model as { vocab?: unknown }).vocab;
  if (isPlainObject(vocab) && typeof vocab[content] === 'number') return vocab[content];
  if (Array.isArray(vocab)) {
    const i = vocab.findIndex((entry) => Array.isArray(entry) && entry[0] === content);
    if (i >= 0) return i;
  }
  return null;
}

/**
 * The TemplateProcessing that transformers' LlamaTokenizerFast.update_post_processor builds:
 * single = [bos] $A [eos], pair = [bos] $A [eos] [bos] $B:1 [eos] (bos/eos present per add_bos_token /
 * add_eos_token), so setting add_eos_token in tokenizer_config.json takes effect as in transformers.
 */
function llamaPostProcessor(
  tokenizerJson: Record<string, unknown>,
  addBos: boolean,
  addEos: boolean,
  bos: string | null,
  eos: string | null,
  configPath: string,
): Record<string, unknown> {
  const special = (token: string | null, name: string): { token: string; id: number } => {
    if (token === null) throw new Error(`${configPath}: add_${name}_token is true but ${name}_token is not set`);
    const id = tokenIdInJson(tokenizerJson, token);
    if (id === null)
      throw new Error(
        `${configPath}: ${name}_token ${JSON.stringify(token)} is not in the vocabulary of tokenizer.json`,
      );
    return { token, id };
  };
  const b = addBos ? special(bos, 'bos') : null;
  const e = addEos ? special(eos, 'eos') : null;
  const piece = (typeId: number, sequence: 'A' | 'B') => [
    ...(b ? [{ SpecialToken: { id: b.token, type_id: typeId } }] : []),
    { Sequence: { id: sequence, type_id: typeId } },
    ...(e ? [{ SpecialToken: { id: e.token, type_id: typeId } }] : []),
  ];
  const specialTokens: Record<string, unknown> = {};
  for (const t of [b, e]) if (t) specialTokens[t.token] = { id: t.token, ids: [t.id], tokens: [t.token] };
  return {
    type: 'TemplateProcessing',
    single: piece(0, 'A'),
    pair: [...piece(0, 'A'), ...piece(1, 'B')],
    special_tokens: specialTokens,
  };
}

/** Loads tokenizers from Hugging Face model folders. */
export class AutoTokenizer {
  /**
   * Loads `tokenizer.json` (required), `tokenizer_config.json` and `special_tokens_map.json`
   * (optional; the latter's entries win, as in transformers) and `chat_template.jinja` (optional).
   *
   * @param dir model folder (e.g. a `tunekit pull` snapshot)
   * @throws Error naming the file when one is missing, too large, not valid JSON, or inconsistent
   */
  static fromPretrained(dir: string): PreTrainedTokenizer {
    const tokenizerPath = join(dir, 'tokenizer.json');
    if (!existsSync(tokenizerPath)) {
      throw new Error(
        `${dir}: no tokenizer.json (only "fast" tokenizers are supported; convert slow vocab files with transformers first)`,
      );
    }
    const tokenizerJson = readJsonObject(tokenizerPath, MAX_TOKENIZER_JSON_BYTES);
    if (!isPlainObject(tokenizerJson.model)) throw new Error(`${tokenizerPath}: field "model" must be an object`);
    tokenizerJson.added_tokens ??= [];
    if (!Array.isArray(tokenizerJson.added_tokens))
      throw new Error(`${tokenizerPath}: field "added_tokens" must be a list`);
    const configPath = join(dir, 'tokenizer_config.json');
    const config = existsSync(configPath) ? readJsonObject(configPath, MAX_TOKENIZER_CONFIG_BYTES) : {};
    const mapPath = join(dir, 'special_tokens_map.json');
    const specialMap = existsSync(mapPath) ? readJsonObject(mapPath, MAX_TOKENIZER_CONFIG_BYTES) : {};

    const specialTokens = {} as Record<SpecialTokenName, string | null>;
    for (const name of SPECIAL_TOKEN_NAMES) {
      specialTokens[name] =
        name in specialMap
          ? specialTokenContent(mapPath, name, specialMap[name])
          : specialTokenContent(configPath, name, config[name]);
    }
    const additionalRaw = specialMap.additional_special_tokens ?? config.additional_special_tokens ?? [];
    if (!Array.isArray(additionalRaw))
      throw new Error(`${configPath}: field "additional_special_tokens" must be a list`);
    const additional = additionalRaw.map((t, i) =>
      specialTokenContent(configPath, `additional_special_tokens[${i}]`, t)!,
    );

    if (typeof config.tokenizer_class === 'string' && LLAMA_TOKENIZER_CLASSES.test(config.tokenizer_class)) {
      const cfg = new FieldReader(configPath, config);
      tokenizerJson.post_processor = llamaPostProcessor(
        tokenizerJson,
        cfg.bool('add_bos_token', true),
        cfg.bool('add_eos_token', false),
        specialTokens.bos_token,
        specialTokens.eos_token,
        configPath,
      );
    }

    let tokenizer: Tokenizer;
    try {
      // The library reads additional_special_tokens as strings to treat them as special in decode.
      tokenizer = new TokenizerClass(tokenizerJson, { ...config, additional_special_tokens: additional });
    } catch (err) {
      throw new Error(`${tokenizerPath}: cannot build the tokenizer (${(err as Error).message})`, { cause: err });
    }
    return new PreTrainedTokenizer(
      tokenizer,
      config,
      { ...specialTokens, additional },
      readChatTemplates(dir, config, dir),
      dir,
    );
  }
}
