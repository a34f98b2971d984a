/**
 * `tunekit chat --model DIR [sampling flags] [--system TEXT]`: an interactive conversation that keeps
 * the KV cache between turns (see ChatSession). Reads one user message per line from stdin (a
 * terminal or a pipe); `/reset` starts over, `/exit` (or end of input) quits. Each reply is written
 * to stdout followed by a newline; timing goes to stderr.
 */
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import { ChatSession, type ChatTurn } from '../generate/chat.js';
import { addSamplingOptions, describeTiming, loadFromFlags, optionsFromFlags, type SamplingFlags } from './generate.js';

/** Adds `tunekit chat`. */
export function register(program: Command): void {
  const cmd = program
    .command('chat')
    .description('chat with a causal language model (reads messages from stdin; /reset, /exit)');
  addSamplingOptions(cmd)
    .option('--system <text>', 'system message opening the conversation')
    .action(async (flags: SamplingFlags & { system?: string }) => {
      const { model, tokenizer, genConfig } = await loadFromFlags(flags);
      // The prompt grows each turn; a length from max_length would shrink with it, so only an
      // explicit or configured max_new_tokens is used, else the transformers default of 20 new tokens.
      const options = optionsFromFlags(flags, genConfig, model, 0);
      options.maxNewTokens = flags.maxNewTokens ?? genConfig.maxNewTokens ?? 20;
      const { stopStrings, ...generation } = options;
      const session = new ChatSession(model, tokenizer, { system: flags.system, generation, stopStrings });
      const interactive = process.stdin.isTTY === true;
      const rl = createInterface({
        input: process.stdin,
        output: interactive ? process.stdout : undefined,
        terminal: interactive,
      });
      const prompt = (): void => {
        if (interactive) rl.prompt();
      };
      rl.setPrompt('> ');
      if (interactive) process.stdout.write('Type a message; /reset starts over, /exit quits.\n');
      prompt();
      for await (const raw of rl) {
        const line = raw.trim();
        if (line === '/exit') break;
        if (line === '/reset') {
          session.reset();
          process.stderr.write('[conversation reset]\n');
        } else if (line !== '') {
          // One failed turn (a message too long for the model) must not end the conversation.
          let turn: ChatTurn;
          try {
            turn = session.send(line, flags.stream ? (e) => process.stdout.write(e.text) : undefined);
          } catch (err) {
            process.stderr.write(`error: ${(err as Error).message}\n`);
            process.exitCode = 1;
            prompt();
            continue;
          }
          process.stdout.write(flags.stream ? '\n' : `${turn.text}\n`);
          if (turn.droppedMessages > 0) {
            process.stderr.write(
              `[the conversation outgrew the model's ${model.config.maxPositionEmbeddings} positions: dropped the ${turn.droppedMessages} oldest messages]\n`,
            );
          }
          process.stderr.write(
            `${describeTiming({ tokens: [turn.tokens], texts: [turn.text], finishReasons: [turn.finishReason], timing: turn.timing })} reused ${turn.reusedTokens}/${turn.promptTokens} prompt tokens\n`,
          );
        }
        prompt();
      }
      rl.close();
    });
}
