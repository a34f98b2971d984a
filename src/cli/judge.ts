/**
 * `tunekit judge create|invite|serve|results`: human evaluation in a local web app (src/judge).
 */
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { type Command, InvalidArgumentError } from 'commander';
import {
  createStudyFromGenerations,
  createStudyFromSystems,
  formatResults,
  judgementsCsv,
  JudgeStore,
  resultsJson,
  startServer,
  studyResults,
} from '../judge/index.js';

const DEFAULT_DB = 'judge.sqlite';

function intArg(flag: string, min: number, max: number): (v: string) => number {
  return (v: string) => {
    const n = Number(v);
    if (!/^\d+$/.test(v.trim()) || n < min || n > max)
      throw new InvalidArgumentError(`${flag} expects an integer from ${min} to ${max}, got "${v}"`);
    return n;
  };
}
function numArg(flag: string, ok: (n: number) => boolean, expected: string): (v: string) => number {
  return (v: string) => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || !ok(n))
      throw new InvalidArgumentError(`${flag} expects ${expected}, got "${v}"`);
    return n;
  };
}

const isFile = (p: string): boolean => existsSync(p) && statSync(p).isFile();

export function register(program: Command): void {
  const judge = program
    .command('judge')
    .description("human evaluation: rate and compare two systems' generations in a local web app");

  judge
    .command('create')
    .description(
      'make a study from two systems (model folder, run folder or "default") and a prompts file, or from two JSONL files of {"prompt","output"}',
    )
    .requiredOption('--name <name>', 'study name (letters, digits, . _ -)')
    .requiredOption(
      '--a <run|model|file>',
      'system A: a run folder, a Hugging Face model folder, "default", or a generations .jsonl',
    )
    .requiredOption('--b <run|model|file>', 'system B: likewise')
    .option(
      '--prompts <file>',
      'prompts: .jsonl with {"prompt"} or one prompt per line (needed for systems, refused for generation files)',
    )
    .option('--db <file>', 'study database', DEFAULT_DB)
    .option('--max-new-tokens <n>', 'tokens to generate per prompt (default 64)', intArg('--max-new-tokens', 1, 4096))
    .option('--sample', 'sample instead of greedy decoding')
    .option('--seed <n>', 'sampling seed (default 0; prompt i uses seed + i)', intArg('--seed', 0, 2 ** 31))
    .option(
      '--temperature <t>',
      'sampling temperature (default 1)',
      numArg('--temperature', (n) => n >= 0, 'a number >= 0'),
    )
    .option(
      '--top-p <p>',
      'nucleus sampling (default 1)',
      numArg('--top-p', (n) => n > 0 && n <= 1, 'a number in (0, 1]'),
    )
    .action(
      (o: {
        name: string;
        a: string;
        b: string;
        prompts?: string;
        db: string;
        maxNewTokens?: number;
        sample?: boolean;
        seed?: number;
        temperature?: number;
        topP?: number;
      }) => {
        const store = new JudgeStore(o.db);
        try {
          const generationFiles = isFile(o.a) && isFile(o.b);
          let study;
          if (generationFiles) {
            if (o.prompts !== undefined)
              throw new Error(
                '--prompts is for systems; --a and --b are generation files that already hold the prompts',
              );
            if (
              o.maxNewTokens !== undefined ||
              o.sample ||
              o.seed !== undefined ||
              o.temperature !== undefined ||
              o.topP !== undefined
            )
              throw new Error('generation flags apply to systems, not to generation files');
            study = createStudyFromGenerations(store, o.name, o.a, o.b);
          } else {
            if (isFile(o.a) || isFile(o.b))
              throw new Error('--a and --b must both be generation files, or both systems (folders or "default")');
            if (o.prompts === undefined) throw new Error('--prompts is required when --a and --b are systems');
            const settings = {
              ...(o.maxNewTokens !== undefined ? { maxNewTokens: o.maxNewTokens } : {}),
              ...(o.sample ? { sample: true } : {}),
              ...(o.seed !== undefined ? { seed: o.seed } : {}),
              ...(o.temperature !== undefined ? { temperature: o.temperature } : {}),
              ...(o.topP !== undefined ? { topP: o.topP } : {}),
            };
            if (!o.sample && (o.seed !== undefined || o.temperature !== undefined || o.topP !== undefined))
              throw new Error('--seed, --temperature and --top-p need --sample');
            study = createStudyFromSystems(store, o.name, o.a, o.b, o.prompts, settings, (l) =>
              process.stderr.write(`${l}\n`),
            );
          }
          console.log(
            `study "${study.name}" created in ${o.db} with ${store.items(study.id).length} items; invite raters with: tunekit judge invite --db ${o.db} --study ${study.name} --rater NAME`,
          );
        } finally {
          store.close();
        }
      },
    );

  judge
    .command('invite')
    .description('invite a rater to a study: prints their personal link (shown once)')
    .requiredOption('--study <name>', 'study name')
    .requiredOption('--rater <name>', 'rater name (letters, digits, . _ -)')
    .option('--db <file>', 'study database', DEFAULT_DB)
    .option('--url <base>', 'base URL the raters will reach', 'http://127.0.0.1:8787')
    .action((o: { study: string; rater: string; db: string; url: string }) => {
      const store = new JudgeStore(o.db);
      try {
        const study = store.study(o.study);
        if (!study) throw new Error(`no study "${o.study}" in ${o.db}`);
        const { token } = store.invite(study.id, o.rater);
        console.log(`${o.url.replace(/\/$/, '')}/join?token=${token}`);
      } finally {
        store.close();
      }
    });

  judge
    .command('serve')
    .description('start the rating web app (127.0.0.1 unless --public)')
    .option('--db <file>', 'study database', DEFAULT_DB)
    .option('--host <addr>', 'address to listen on', '127.0.0.1')
    .option('--port <n>', 'port (0 picks a free one)', intArg('--port', 0, 65535), 8787)
    .option('--public', 'allow a non-loopback --host (raters still need invite links; use HTTPS in front)')
    .option('--secure-cookies', 'mark cookies Secure (when served behind HTTPS)')
    .action(async (o: { db: string; host: string; port: number; public?: boolean; secureCookies?: boolean }) => {
      if (!isFile(o.db)) throw new Error(`${o.db}: no such study database (make one with tunekit judge create)`);
      const s = await startServer({
        db: o.db,
        host: o.host,
        port: o.port,
        allowRemote: o.public ?? false,
        secureCookies: o.secureCookies ?? false,
      });
      console.log(`tunekit judge: listening on ${s.url}`);
      console.log(`results (admin, keep private): ${s.adminUrl}`);
      const stop = (): void => {
        void s.close().then(() => process.exit(0));
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });

  judge
    .command('results')
    .description("print a study's results (or export them)")
    .argument('<study>', 'study name')
    .option('--db <file>', 'study database', DEFAULT_DB)
    .option('--json', 'print results and judgements as JSON')
    .option('--csv <file>', 'also write every judgement to a CSV file')
    .action((name: string, o: { db: string; json?: boolean; csv?: string }) => {
      if (!isFile(o.db)) throw new Error(`${o.db}: no such study database`);
      const store = new JudgeStore(o.db);
      try {
        const study = store.study(name);
        if (!study) throw new Error(`no study "${name}" in ${o.db}`);
        if (o.csv) writeFileSync(o.csv, judgementsCsv(store, study));
        process.stdout.write(o.json ? resultsJson(store, study) : `${formatResults(studyResults(store, study.id))}\n`);
      } finally {
        store.close();
      }
    });
}
