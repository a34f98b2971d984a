/**
 * Multi-turn chat over a {@link CausalLM} that keeps the KV cache between turns.
 *
 * Each turn renders the whole conversation (the tokenizer's chat template with an open assistant
 * turn), finds the longest common prefix between those ids and the ids already in the cache,
 * truncates the cache to it and feeds only the rest. The cache therefore never holds anything the
 * full rendering would not produce, so a turn gives the same tokens as generating from scratch on
 * the rendered conversation.
 *
 * Tokenizers without a chat template use this plain format (documented fallback), encoded with
 * the tokenizer's special tokens (e.g. a leading BOS):
 *
 *     System: {system}\n
 *     User: {user}\n
 *     Assistant: {assistant}\n
 *     User: {user}\n
 *     Assistant:
 *
 * and stop at "\nUser:" in addition to EOS.
 */
import type { ChatMessage, PreTrainedTokenizer } from '../io/tokenizer.js';
import type { CausalLM, KVCache } from '../models/causal-lm.js';
import {
  generate,
  type FinishReason,
  type GenerateOptions,
  type GenerationTiming,
  type TokenEvent,
} from './generate.js';

/** Stop string of the fallback format: the model starting the next user turn. */
export const FALLBACK_STOP = '\nUser:';

/**
 * The fallback rendering of a conversation (see the module comment), ending with an open
 * "Assistant:" turn when `addGenerationPrompt` is true.
 */
export function renderFallbackChat(messages: readonly ChatMessage[], addGenerationPrompt: boolean): string {
  const label: Record<string, string> = { system: 'System', user: 'User', assistant: 'Assistant' };
  const lines = messages.map((m, i) => {
    const name = label[m.role];
    if (!name)
      throw new Error(
        `chat: message ${i} has role "${m.role}"; the plain chat format knows system, user and assistant`,
      );
    if (typeof m.content !== 'string')
      throw new Error(`chat: message ${i} content must be a string for the plain chat format`);
    return `${name}: ${m.content}\n`;
  });
  return lines.join('') + (addGenerationPrompt ? 'Assistant:' : '');
}

/** Options of a {@link ChatSession}. */
export interface ChatSessionOptions {
  /** System message opening the conversation; default none. */
  system?: string | undefined;
  /** Sampling and length settings for every turn (tokenizer, cache and stopStrings are managed here). */
  generation?: Omit<GenerateOptions, 'tokenizer' | 'cache' | 'onToken' | 'useCache'>;
  /** Extra stop strings; default none (the fallback format adds "\nUser:"). */
  stopStrings?: readonly string[] | undefined;
  /** A Jinja chat template (or the name of one of the tokenizer's) to use instead of the tokenizer's. */
  chatTemplate?: string;
}

/** One message of a chat: its role and text. */
export interface ChatTurn {
  /** The assistant's reply (stop string and special tokens removed). */
  text: string;
  tokens: number[];
  finishReason: FinishReason;
  /** Ids of the rendered conversation this turn continued. */
  promptTokens: number;
  /** Prompt ids whose keys/values came from the cache. */
  reusedTokens: number;
  /** Prompt ids fed to the model this turn (promptTokens - reusedTokens). */
  fedTokens: number;
  /**
   * Oldest messages (user/assistant pairs, never the system message) dropped before this turn
   * because the conversation no longer fitted the model's positions; 0 usually.
   */
  droppedMessages: number;
  timing: GenerationTiming;
}

/**
 * A conversation with a model: `send()` a user message, get the reply; the KV cache of the
 * conversation so far is reused for the next turn (see the module comment).
 */
export class ChatSession {
  /** The conversation so far (system, user and assistant messages). */
  readonly messages: ChatMessage[] = [];
  private cache: KVCache;
  /** Ids whose keys/values the cache holds, in order. */
  private cachedIds: number[] = [];
  private readonly usesTemplate: boolean;

  constructor(
    readonly model: CausalLM,
    readonly tokenizer: PreTrainedTokenizer,
    readonly options: ChatSessionOptions = {},
  ) {
    this.cache = model.newCache();
    this.usesTemplate = options.chatTemplate !== undefined || tokenizer.chatTemplate !== null;
    this.reset();
  }

  /** Forgets the conversation (keeping the system message) and empties the cache. */
  reset(): void {
    this.messages.length = 0;
    if (this.options.system !== undefined) this.messages.push({ role: 'system', content: this.options.system });
    this.cache = this.model.newCache();
    this.cachedIds = [];
  }

  /** Token ids of `messages` followed by an open assistant turn. */
  renderPrompt(messages: readonly ChatMessage[]): number[] {
    if (this.usesTemplate) {
      return this.tokenizer.applyChatTemplate([...messages], {
        addGenerationPrompt: true,
        chatTemplate: this.options.chatTemplate,
      });
    }
    return this.tokenizer.encode(renderFallbackChat(messages, true));
  }

  /**
   * Adds a user message, generates the reply (streamed to `onToken`) and appends it. When the
   * conversation would leave the reply too few of the model's positions (fewer than maxNewTokens,
   * at most a quarter of them), the oldest user/assistant pairs are dropped first (the system
   * message is kept) and the turn reports how many messages went (`droppedMessages`).
   *
   * @throws Error when even the system message and this one message do not fit (the conversation
   *   is left unchanged, so the caller can go on with a shorter message)
   */
  send(userText: string, onToken?: (event: TokenEvent) => void): ChatTurn {
    const { prompt, dropped } = this.fitPrompt(userText);
    if (dropped > 0) this.messages.splice(this.firstTurnIndex(), dropped);
    let common = 0;
    const limit = Math.min(prompt.length - 1, this.cachedIds.length);
    while (common < limit && prompt[common] === this.cachedIds[common]) common++;
    // An empty cache is made anew rather than truncated to zero positions.
    if (common === 0) this.cache = this.model.newCache();
    else this.cache.truncate(common);
    if (this.cache.length !== common)
      throw new Error(`chat: cache holds ${this.cache.length} positions, expected ${common}`);
    // Consistent even if generation fails below: the cache holds at least these ids.
    this.cachedIds = prompt.slice(0, common);
    const eos = new Set(this.options.generation?.eosTokenIds ?? this.model.config.eosTokenIds);
    if (this.tokenizer.eosTokenId !== null) eos.add(this.tokenizer.eosTokenId);
    const stopStrings = [...(this.options.stopStrings ?? []), ...(this.usesTemplate ? [] : [FALLBACK_STOP])];
    const result = generate(this.model, prompt, {
      ...this.options.generation,
      eosTokenIds: [...eos],
      tokenizer: this.tokenizer,
      stopStrings,
      onToken,
      cache: this.cache,
    });
    const tokens = result.tokens[0]!;
    this.cachedIds = [...prompt, ...tokens.slice(0, -1)];
    const text = result.texts![0]!.trim();
    this.messages.push({ role: 'user', content: userText }, { role: 'assistant', content: text });
    return {
      text,
      tokens,
      finishReason: result.finishReasons[0]!,
      promptTokens: prompt.length,
      reusedTokens: common,
      fedTokens: prompt.length - common,
      droppedMessages: dropped,
      timing: result.timing,
    };
  }

  /** Index of the first user/assistant message (after the system message, if any). */
  private firstTurnIndex(): number {
    return this.messages[0]?.role === 'system' ? 1 : 0;
  }

  /**
   * The rendered prompt for the conversation plus `userText`, after dropping as few of the oldest
   * messages (whole user/assistant pairs) as needed to leave the reply room.
   */
  private fitPrompt(userText: string): { prompt: number[]; dropped: number } {
    const positions = this.model.config.maxPositionEmbeddings;
    const wanted = this.options.generation?.maxNewTokens ?? 20;
    const room = Math.max(1, Math.min(wanted, Math.floor(positions / 4)));
    const start = this.firstTurnIndex();
    const user = { role: 'user', content: userText };
    for (let dropped = 0; ; dropped += 2) {
      const kept = [...this.messages.slice(0, start), ...this.messages.slice(start + dropped), user];
      const prompt = this.renderPrompt(kept);
      if (prompt.length + room <= positions) return { prompt, dropped };
      if (start + dropped >= this.messages.length) {
        throw new Error(
          `chat: this message needs ${prompt.length} tokens${start > 0 ? ' with the system message' : ''}, and the reply ${room} more; the model holds ${positions} positions. Send a shorter message.`,
        );
      }
    }
  }
}
