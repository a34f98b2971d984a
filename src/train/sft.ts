/**
 * Supervised fine-tuning examples -> token ids and labels for a causal LM.
 *
 * - text: the text followed by EOS, every token learned (pack these with `packSequences`);
 * - prompt/completion and Alpaca instruction/input/output: the prompt is context (-100), the
 *   completion and the EOS after it are learned;
 * - chat messages: rendered with the tokenizer's (or a given) chat template; only assistant turns
 *   are learned, including what the template puts after each (its end-of-turn/EOS token), so the
 *   model learns to stop. Multi-turn conversations learn every assistant turn.
 * `trainOnPrompt: true` learns every token instead.
 *
 * Labels are built from segment boundaries, never by comparing ids with the pad id: an EOS that is
 * also the pad token stays a learned label.
 */
import type { ChatMessage, PreTrainedTokenizer } from '../io/tokenizer.js';
import type { Example, Located } from './data.js';
import { IGNORE_INDEX, type LmExample } from './collate.js';

/** Options of the supervised fine-tuning tokenisers. */
export interface SftOptions {
  /** Learn the prompt tokens too (default false: prompts are masked with -100). */
  trainOnPrompt?: boolean;
  /** Chat template to use instead of the tokenizer's (Jinja source). */
  chatTemplate?: string;
  /** Truncate to this many tokens (from the right). */
  maxLength?: number;
  /** EOS id to append after completions and texts (default the tokenizer's EOS). */
  eosTokenId?: number;
}

/** The Alpaca prompt (Stanford Alpaca's two templates), used when there is no chat template. */
export function alpacaPrompt(instruction: string, input: string): string {
  return input
    ? `Below is an instruction that describes a task, paired with an input that provides further context. Write a response that appropriately completes the request.\n\n### Instruction:\n${instruction}\n\n### Input:\n${input}\n\n### Response:\n`
    : `Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n### Instruction:\n${instruction}\n\n### Response:\n`;
}

function eosOf(tok: PreTrainedTokenizer, opts: SftOptions): number {
  const eos = opts.eosTokenId ?? tok.eosTokenId;
  if (eos === null || eos === undefined) throw new Error('SFT: the tokenizer has no EOS token; pass eosTokenId');
  return eos;
}

function build(segments: Array<{ ids: number[]; learn: boolean }>, opts: SftOptions): LmExample {
  const ids: number[] = [];
  const labels: number[] = [];
  for (const s of segments) {
    for (const id of s.ids) {
      ids.push(id);
      labels.push(s.learn || opts.trainOnPrompt ? id : IGNORE_INDEX);
    }
  }
  const n = Math.min(ids.length, opts.maxLength ?? Infinity);
  return { inputIds: Int32Array.from(ids.slice(0, n)), labels: Int32Array.from(labels.slice(0, n)) };
}

/** Prompt (context) then completion + EOS (learned). The prompt gets the tokenizer's special prefix (BOS). */
export function promptCompletionTokens(
  tok: PreTrainedTokenizer,
  prompt: string,
  completion: string,
  opts: SftOptions = {},
): LmExample {
  return build(
    [
      { ids: tok.encode(prompt, { addSpecialTokens: true }), learn: false },
      { ids: [...tok.encode(completion, { addSpecialTokens: false }), eosOf(tok, opts)], learn: true },
    ],
    opts,
  );
}

/**
 * A conversation through the chat template; assistant turns learned. Each assistant turn's span is
 * found by rendering the conversation up to it (with the generation prompt) and through it; the
 * template must render a conversation's prefix as a prefix of the whole (every common template does).
 */
export function chatTokens(tok: PreTrainedTokenizer, messages: ChatMessage[], opts: SftOptions = {}): LmExample {
  if (!messages.some((m) => m.role === 'assistant'))
    throw new Error('chat SFT: the conversation has no assistant message to learn');
  const template = opts.chatTemplate ?? tok.chatTemplate ?? undefined;
  if (!template)
    throw new Error('chat SFT: the tokenizer has no chat template; pass chatTemplate or use prompt/completion records');
  const render = (ms: ChatMessage[], gen: boolean): string =>
    tok.applyChatTemplate(ms, { tokenize: false, addGenerationPrompt: gen, chatTemplate: template });
  const full = render(messages, false);
  const segments: Array<{ ids: number[]; learn: boolean }> = [];
  let pos = 0;
  const cut = (end: number, learn: boolean, what: string): void => {
    if (end < pos) throw new Error(`chat SFT: ${what}`);
    if (end > pos) segments.push({ ids: tok.encode(full.slice(pos, end), { addSpecialTokens: false }), learn });
    pos = end;
  };
  messages.forEach((m, i) => {
    if (m.role !== 'assistant') return;
    const before = render(messages.slice(0, i), true);
    const through = render(messages.slice(0, i + 1), false);
    if (!full.startsWith(before) || !full.startsWith(through) || !through.startsWith(before)) {
      throw new Error(
        `chat SFT: message ${i}: the chat template does not render the conversation's prefix as a prefix of the whole; cannot tell the assistant tokens apart`,
      );
    }
    cut(before.length, false, `message ${i}: prompt boundary out of order`);
    cut(through.length, true, `message ${i}: assistant boundary out of order`);
  });
  cut(full.length, false, 'trailing text');
  return build(segments, opts);
}

/** Any SFT-shaped example to ids and labels (text, prompt/completion, instruction, messages). */
export function sftTokens(tok: PreTrainedTokenizer, ex: Example | Located<Example>, opts: SftOptions = {}): LmExample {
  const where = 'source' in ex ? `${ex.source.file}:${ex.source.line}: ` : '';
  try {
    switch (ex.kind) {
      case 'text':
        return build(
          [{ ids: [...tok.encode(ex.text, { addSpecialTokens: true }), eosOf(tok, opts)], learn: true }],
          opts,
        );
      case 'prompt-completion':
        return promptCompletionTokens(tok, ex.prompt, ex.completion, opts);
      case 'instruction': {
        const template = opts.chatTemplate ?? tok.chatTemplate;
        if (template) {
          const user = ex.input ? `${ex.instruction}\n\n${ex.input}` : ex.instruction;
          return chatTokens(
            tok,
            [
              { role: 'user', content: user },
              { role: 'assistant', content: ex.output },
            ],
            opts,
          );
        }
        return promptCompletionTokens(tok, alpacaPrompt(ex.instruction, ex.input), ex.output, opts);
      }
      case 'messages':
        return chatTokens(tok, ex.messages, opts);
      default:
        throw new Error(`a "${ex.kind}" record is not a language-modelling example`);
    }
  } catch (e) {
    throw new Error(`${where}${(e as Error).message}`, { cause: e });
  }
}
