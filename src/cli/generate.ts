/**
 * `tunekit generate --model DIR --prompt TEXT [sampling flags]`: continue a prompt with a Hugging Face
 * causal LM folder. Defaults come from the folder's generation_config.json (transformers' defaults
 * when absent). The continuation goes to stdout (streamed by default); timing and the finish reason
 * go to stderr.
 *
 * Sampling is used unless --greedy, when generation_config.json sets do_sample, or when a sampling
 * flag (--temperature, --top-k, --top-p, --min-p, --seed) is given.
 */
import { existsSync, statSync } from 'node:fs';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { generate, type GenerateOptions, type GenerateResult } from '../generate/generate.js';
import { renderFallbackChat } from '../generate/chat.js';
import { readGenerationConfig, type GenerationConfig } from '../io/hf-config.js';
import { AutoTokenizer, type PreTrainedTokenizer } from '../io/tokenizer.js';
import { AutoModelForCausalLM } from '../models/auto.js';
import type { CausalLM } from '../models/causal-lm.js';
import { withAdapter } from '../peft/peft-model.js';
import type { ComputeDtype } from '../nn/compute-dtype.js';
import { resolveModelDir } from './task-setup.js';

/** Sampling and length flags shared by `generate` and `chat`, as commander parses them. */
export interface SamplingFlags {
  model: string;
  /** PEFT adapter folder applied on top of --model (any method). */
  adapter?: string;
  maxNewTokens?: number;
  temperature?: number;
  topK?: number;
  topP?: number;
  minP?: number;
  repetitionPenalty?: number;
  frequencyPenalty?: number;
  presencePenalty?: number;
  noRepeatNgramSize?: number;
  seed?: number;
  stop?: string[];
  greedy?: boolean;
  bf16?: boolean;
  int8?: boolean;
  stream: boolean;
}

function numberParser(flag: string, check: (v: number) => boolean, expected: string): (value: string) => number {
  return (value: string) => {
    const v = Number(value);
    if (value.trim() === '' || !Number.isFinite(v) || !check(v))
      throw new InvalidArgumentError(`${flag} expects ${expected}, got "${value}"`);
    return v;
  };
}

const positiveInt = (flag: string) => numberParser(flag, (v) => Number.isInteger(v) && v >= 1, 'an integer >= 1');
const nonNegativeInt = (flag: string) => numberParser(flag, (v) => Number.isInteger(v) && v >= 0, 'an integer >= 0');
const probability = (flag: string) => numberParser(flag, (v) => v >= 0 && v <= 1, 'a number in [0, 1]');

/**
 * An option whose name starts with "--no-" but takes a value (transformers' no_repeat_ngram_size):
 * commander would read it as the negation of "--repeat-ngram-size" and store `repeatNgramSize`.
 */
function valueOption(flags: string, description: string, parse: (value: string) => number): Option {
  const option = new Option(flags, description).argParser(parse);
  option.negate = false;
  return option;
}

/** Adds --model and the sampling/length flags to a command. */
export function addSamplingOptions(cmd: Command): Command {
  return cmd
    .requiredOption(
      '--model <dir-or-repo>',
      'Hugging Face model folder (config.json, safetensors, tokenizer.json) or Hub repo id',
    )
    .option(
      '--adapter <dir>',
      'PEFT adapter folder (adapter_config.json + adapter_model.safetensors) to apply to --model',
    )
    .option(
      '--max-new-tokens <n>',
      'tokens to generate at most (default: generation_config.json max_new_tokens, else max_length minus the prompt)',
      positiveInt('--max-new-tokens'),
    )
    .option(
      '--temperature <t>',
      'sampling temperature; 0 means greedy',
      numberParser('--temperature', (v) => v >= 0, 'a number >= 0'),
    )
    .option(
      '--top-k <k>',
      'keep the k most likely tokens; 0 disables (default 50 as transformers)',
      nonNegativeInt('--top-k'),
    )
    .option('--top-p <p>', 'nucleus sampling: smallest set with probability >= p', probability('--top-p'))
    .option('--min-p <p>', 'drop tokens with probability < p * the top probability', probability('--min-p'))
    .option(
      '--repetition-penalty <r>',
      'CTRL repetition penalty (> 1 discourages repeats)',
      numberParser('--repetition-penalty', (v) => v > 0, 'a number > 0'),
    )
    .option(
      '--frequency-penalty <f>',
      'OpenAI frequency penalty',
      numberParser('--frequency-penalty', () => true, 'a number'),
    )
    .option(
      '--presence-penalty <p>',
      'OpenAI presence penalty',
      numberParser('--presence-penalty', () => true, 'a number'),
    )
    .addOption(
      valueOption(
        '--no-repeat-ngram-size <n>',
        'never repeat an n-gram of this size; 0 disables',
        nonNegativeInt('--no-repeat-ngram-size'),
      ),
    )
    .option('--seed <s>', 'sampling seed (default 0)', nonNegativeInt('--seed'))
    .option('--stop <str...>', 'stop when the continuation contains one of these strings')
    .option('--greedy', 'always pick the most likely token (no sampling)')
    .option(
      '--bf16',
      'keep the weights as bfloat16 and multiply in bfloat16 (half the memory; AVX512_BF16 where the CPU has it)',
    )
    .option('--int8', 'keep the weight matrices as int8 with per-row scales (a quarter of the memory; faster decoding)')
    .addOption(new Option('--no-stream', 'print the text only when generation ends'));
}

/** The compute dtype that --bf16 / --int8 ask for (both at once is an error). */
export function computeDtypeFromFlags(flags: Pick<SamplingFlags, 'bf16' | 'int8'>): { computeDtype?: ComputeDtype } {
  if (flags.bf16 && flags.int8) throw new Error('--bf16 and --int8 exclude each other: pick one weight format');
  return flags.bf16 ? { computeDtype: 'bfloat16' } : flags.int8 ? { computeDtype: 'int8' } : {};
}

/** {@link loadForGeneration} with what `--model`, `--adapter`, `--bf16` and `--int8` ask for (generate and chat). */
export async function loadFromFlags(flags: SamplingFlags): Promise<ReturnType<typeof loadForGeneration>> {
  // A Hub repo id is read from the local Hub cache, or downloaded, as train/eval/merge do.
  const dir = await resolveModelDir(flags.model, (line) => process.stderr.write(`${line}\n`));
  return loadForGeneration(dir, {
    ...computeDtypeFromFlags(flags),
    ...(flags.adapter !== undefined ? { adapter: flags.adapter } : {}),
  });
}

/** Loads the model (with `--adapter` applied), tokenizer and generation config of `--model`. */
export function loadForGeneration(
  dir: string,
  opts: { computeDtype?: ComputeDtype; adapter?: string } = {},
): { model: CausalLM; tokenizer: PreTrainedTokenizer; genConfig: GenerationConfig } {
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    throw new Error(`--model ${dir}: no such folder (expected a Hugging Face model folder)`);
  const load = opts.computeDtype ? { computeDtype: opts.computeDtype } : {};
  const base = AutoModelForCausalLM.fromPretrained(dir, load);
  const model = opts.adapter === undefined ? base : withAdapter(base, opts.adapter, '--adapter');
  return { model, tokenizer: AutoTokenizer.fromPretrained(dir), genConfig: readGenerationConfig(dir) };
}

/**
 * Generation options from the flags over generation_config.json. `promptLength` turns the config's
 * max_length (prompt included, as transformers) into a number of new tokens.
 */
export function optionsFromFlags(
  flags: SamplingFlags,
  cfg: GenerationConfig,
  model: CausalLM,
  promptLength: number,
): GenerateOptions {
  const samplingFlag = [flags.temperature, flags.topK, flags.topP, flags.minP, flags.seed].some((v) => v !== undefined);
  const eos = cfg.eosTokenIds.length > 0 ? cfg.eosTokenIds : model.config.eosTokenIds;
  return {
    maxNewTokens: flags.maxNewTokens ?? cfg.maxNewTokens ?? Math.max(1, cfg.maxLength - promptLength),
    minNewTokens: cfg.minNewTokens ?? 0,
    doSample: !flags.greedy && (cfg.doSample || samplingFlag),
    temperature: flags.temperature ?? cfg.temperature,
    topK: flags.topK ?? cfg.topK,
    topP: flags.topP ?? cfg.topP,
    minP: flags.minP ?? cfg.minP ?? 0,
    repetitionPenalty: flags.repetitionPenalty ?? cfg.repetitionPenalty,
    frequencyPenalty: flags.frequencyPenalty ?? 0,
    presencePenalty: flags.presencePenalty ?? 0,
    noRepeatNgramSize: flags.noRepeatNgramSize ?? cfg.noRepeatNgramSize,
    seed: flags.seed ?? 0,
    eosTokenIds: eos,
    padTokenId: cfg.padTokenId ?? undefined,
    stopStrings: flags.stop ?? [],
  };
}

/** One line of timing for stderr. */
export function describeTiming(result: GenerateResult): string {
  const t = result.timing;
  return `[${result.tokens[0]!.length} tokens, finish: ${result.finishReasons[0]}; prefill ${t.prefillTokens} tok ${t.prefillTokensPerSecond.toFixed(1)} tok/s, decode ${t.decodeTokens} tok ${t.decodeTokensPerSecond.toFixed(1)} tok/s]`;
}

/** Adds `tunekit generate`. */
export function register(program: Command): void {
  const cmd = program.command('generate').description('continue a prompt with a causal language model');
  addSamplingOptions(cmd)
    .requiredOption('--prompt <text>', 'text to continue')
    .option(
      '--chat-template',
      'send the prompt as a user message through the tokenizer\'s chat template (plain "User:/Assistant:" format when it has none)',
    )
    .action(async (flags: SamplingFlags & { prompt: string; chatTemplate?: boolean }) => {
      const { model, tokenizer, genConfig } = await loadFromFlags(flags);
      const messages = [{ role: 'user', content: flags.prompt }];
      let promptIds: number[];
      let stops: string[] = [];
      if (!flags.chatTemplate) promptIds = tokenizer.encode(flags.prompt);
      else if (tokenizer.chatTemplate !== null)
        promptIds = tokenizer.applyChatTemplate(messages, { addGenerationPrompt: true });
      else {
        promptIds = tokenizer.encode(renderFallbackChat(messages, true));
        stops = ['\nUser:'];
      }
      const options = optionsFromFlags(flags, genConfig, model, promptIds.length);
      if (tokenizer.eosTokenId !== null && flags.chatTemplate)
        options.eosTokenIds = [...new Set([...options.eosTokenIds!, tokenizer.eosTokenId])];
      const result = generate(model, promptIds, {
        ...options,
        stopStrings: [...options.stopStrings!, ...stops],
        tokenizer,
        onToken: flags.stream ? (e) => process.stdout.write(e.text) : undefined,
      });
      process.stdout.write(flags.stream ? '\n' : `${result.texts![0]}\n`);
      process.stderr.write(`${describeTiming(result)}\n`);
    });
}
