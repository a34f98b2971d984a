/**
 * `tunekit pull <org/name>`: download a model repo from the Hugging Face Hub into the shared Hub cache
 * and print the snapshot folder (usable wherever a model directory is expected).
 */
import { InvalidArgumentError, type Command } from 'commander';
import { DEFAULT_DOWNLOAD_TIMEOUT_S, DEFAULT_RETRIES, hubCacheDir, pullRepo } from '../io/hub.js';

function numberFlag(flag: string, ok: (v: number) => boolean, expected: string): (value: string) => number {
  return (value: string) => {
    const v = Number(value);
    if (value.trim() === '' || !Number.isFinite(v) || !ok(v))
      throw new InvalidArgumentError(`${flag} expects ${expected}, got "${value}"`);
    return v;
  };
}

/** Registers `pull` on the program. */
export function register(program: Command): void {
  program
    .command('pull')
    .description(
      'download a model repo from the Hugging Face Hub into the local Hub cache and print its snapshot folder',
    )
    .argument('<repo>', 'model repo id, e.g. "Qwen/Qwen2.5-0.5B-Instruct"')
    .option('--revision <rev>', 'branch, tag or commit', 'main')
    .option('--cache-dir <dir>', 'cache root (default: $HF_HUB_CACHE, $HF_HOME/hub or ~/.cache/huggingface/hub)')
    .option('--include <pattern...>', 'only files matching these fnmatch patterns, e.g. "*.json" "*.safetensors"')
    .option('--progress', 'always show a progress bar (default: only on a terminal)')
    .option('--no-progress', 'never show a progress bar')
    .option(
      '--timeout <seconds>',
      `give up on a request after this long without data (default: $HF_HUB_DOWNLOAD_TIMEOUT or ${DEFAULT_DOWNLOAD_TIMEOUT_S})`,
      numberFlag('--timeout', (v) => v > 0 && v <= 86_400, 'a number of seconds > 0'),
    )
    .option(
      '--retries <n>',
      `retries after a dropped connection, a timeout or a server error (default: $TUNEKIT_HUB_RETRIES or ${DEFAULT_RETRIES})`,
      numberFlag('--retries', (v) => Number.isInteger(v) && v >= 0 && v <= 100, 'an integer in [0, 100]'),
    )
    .option('-q, --quiet', 'print only the snapshot folder')
    .addHelpText(
      'after',
      '\nEnvironment: HF_ENDPOINT (default https://huggingface.co), HF_TOKEN (private or gated repos),\n' +
        `HF_HUB_DOWNLOAD_TIMEOUT (seconds, default ${DEFAULT_DOWNLOAD_TIMEOUT_S}), TUNEKIT_HUB_RETRIES (default ${DEFAULT_RETRIES}).`,
    )
    .action(
      async (
        repo: string,
        opts: {
          revision: string;
          cacheDir?: string;
          include?: string[];
          progress?: boolean;
          quiet?: boolean;
          timeout?: number;
          retries?: number;
        },
      ) => {
        const cacheDir = opts.cacheDir ?? hubCacheDir();
        const result = await pullRepo(repo, {
          revision: opts.revision,
          cacheDir,
          ...(opts.include ? { include: opts.include } : {}),
          ...(opts.progress !== undefined ? { progress: opts.progress } : {}),
          ...(opts.timeout !== undefined ? { idleTimeoutMs: opts.timeout * 1000 } : {}),
          ...(opts.retries !== undefined ? { maxAttempts: opts.retries + 1 } : {}),
          ...(opts.quiet ? {} : { log: (line: string) => process.stderr.write(`${line}\n`) }),
        });
        if (!opts.quiet) {
          process.stderr.write(
            `${repo}@${opts.revision} = ${result.commit}: ${result.downloaded.length} downloaded, ${result.cached.length} already cached\n`,
          );
        }
        process.stdout.write(`${result.snapshotDir}\n`);
      },
    );
}
