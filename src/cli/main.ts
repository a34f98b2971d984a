#!/usr/bin/env node
/**
 * `tunekit` command line. Each sub-command lives in its own module under src/cli/ and exports
 * `register(program: Command): void`; this file only wires them together.
 */
import { Command } from 'commander';
import { readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };

const program = new Command();
program.name('tunekit').description('Fine-tune and evaluate transformer language models on a CPU.').version(pkg.version);

const commands = [
  // one entry per sub-command module (keep sorted)
  'chat',
  'demo',
  'eval-metrics',
  'generate',
  'pull',
] as const satisfies readonly string[];

for (const name of commands) {
  const mod = (await import(`./${name}.js`)) as { register(p: Command): void };
  mod.register(program);
}

await program.parseAsync(process.argv);
