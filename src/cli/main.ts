#!/usr/bin/env node
/**
 * `tunekit` command line. Each sub-command lives in its own module under src/cli/ and exports
 * `register(program: Command): void`; this file only wires them together.
 */
import { Command } from 'commander';
import { readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };

const program = new Command();
program
  .name('tunekit')
  .description('Fine-tune and evaluate transformer language models on a CPU.')
  .version(pkg.version);

const commands = [
  // one entry per sub-command module (keep sorted)
  'chat',
  'demo',
  'eval',
  'eval-metrics',
  'export-python',
  'generate',
  'inspect',
  'judge',
  'merge',
  'pull',
  'report',
  'train',
] as const satisfies readonly string[];

for (const name of commands) {
  const mod = (await import(`./${name}.js`)) as { register(p: Command): void };
  mod.register(program);
}

try {
  await program.parseAsync(process.argv);
} catch (err) {
  // Commands throw Errors whose messages name the file, field or flag at fault: print that, not a
  // stack trace (TUNEKIT_DEBUG=1 shows the stack).
  if (process.env.TUNEKIT_DEBUG) throw err;
  process.stderr.write(`error: ${(err as Error).message}\n`);
  process.exitCode = 1;
}
