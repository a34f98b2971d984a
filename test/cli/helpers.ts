/** Shared pieces of the CLI tests: running `tunekit` as a child process, and tiny data on stories260K. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { after } from 'node:test';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
export const STORIES = fileURLToPath(new URL('../../../assets/stories260K', import.meta.url));

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `tunekit ...args` to completion. */
export function tunekit(args: string[], cwd?: string, env: Record<string, string> = {}): CliResult {
  const r = spawnSync(process.execPath, [MAIN, ...args], {
    encoding: 'utf8',
    ...(cwd !== undefined ? { cwd } : {}),
    env: { ...process.env, TUNEKIT_DEBUG: '', ...env },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Starts `tunekit ...args` without waiting. */
export function startTunekit(args: string[]): ChildProcess {
  return spawn(process.execPath, [MAIN, ...args], { env: { ...process.env, TUNEKIT_DEBUG: '' } });
}

/** A temporary folder, removed when the test file ends. */
export function tmp(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `tunekit-${prefix}-`));
  after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const SENTENCES = [
  ['Once upon a time, there was a purple penguin named', ' Pip. Pip liked to slide on the ice.'],
  ['Pip had a friend called', ' Tom. Tom was a big brown bear.'],
  ['One day, Pip and Tom went to', ' the sea. They saw a red fish.'],
  ['The fish said', ' hello to Pip. Pip was very happy.'],
  ['Tom wanted to eat', ' the fish, but Pip said no.'],
  ['They played in the snow', ' all day and had a lot of fun.'],
  ['At night, Pip looked at', ' the stars. The stars were bright.'],
  ['Pip went home and', ' slept in his warm bed.'],
];

/** An MLX-LM data folder (train.jsonl, valid.jsonl) of prompt/completion records. */
export function writeSftFolder(dir: string): string {
  mkdirSync(dir, { recursive: true });
  const rows = (from: number, n: number): string =>
    Array.from({ length: n }, (_, i) => {
      const [prompt, completion] = SENTENCES[(from + i) % SENTENCES.length] ?? ['', ''];
      return JSON.stringify({ prompt, completion });
    }).join('\n') + '\n';
  writeFileSync(join(dir, 'train.jsonl'), rows(0, 16));
  writeFileSync(join(dir, 'valid.jsonl'), rows(3, 4));
  return dir;
}

/** A JSONL file of {text} records. */
export function writeTextFile(path: string): string {
  writeFileSync(path, SENTENCES.map(([a, b]) => JSON.stringify({ text: `${a}${b}` })).join('\n') + '\n');
  return path;
}
