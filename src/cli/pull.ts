/**
 * `tunekit pull <org/name>`: download a model repo from the Hugging Face Hub into the shared Hub cache
 * and print the snapshot folder (usable wherever a model directory is expected).
 */
import type { Command } from 'commander';
import { hubCacheDir, pullRepo } from '../io/hub.js';

/** Registers `pull` on the program. */
export function register(program: Command): void {
  program
    .command('pull')
    .description('download a model repo from the Hugging Face Hub into the local Hub cache and print its snapshot folder')
    .argument('<repo>', 'model repo id, e.g. "Qwen/Qwen2.5-0.5B-Instruct"')
    .option('--revision <rev>', 'branch, tag or commit', 'main')
    .option('--cache-dir <dir>', 'cache root (default: $HF_HUB_CACHE, $HF_HOME/hub or ~/.cache/huggingface/hub)')
    .option('--include <pattern...>', 'only files matching these fnmatch patterns, e.g. "*.json" "*.safetensors"')
    .option('--progress', 'always show a progress bar (default: only on a terminal)')
    .option('--no-progress', 'never show a progress bar')
    .option('-q, --quiet', 'print only the snapshot folder')
    .addHelpText('after', '\nEnvironment: HF_ENDPOINT (default https://huggingface.co), HF_TOKEN (private or gated repos).')
    .action(async (repo: string, opts: { revision: string; cacheDir?: string; include?: string[]; progress?: boolean; quiet?: boolean }) => {
      const cacheDir = opts.cacheDir ?? hubCacheDir();
      const result = await pullRepo(repo, {
        revision: opts.revision,
        cacheDir,
        include: opts.include,
        progress: opts.progress,
        log: opts.quiet ? undefined : (line) => process.stderr.write(`${line}\n`),
      });
      if (!opts.quiet) {
        process.stderr.write(`${repo}@${opts.revision} = ${result.commit}: ${result.downloaded.length} downloaded, ${result.cached.length} already cached\n`);
      }
      process.stdout.write(`${result.snapshotDir}\n`);
    });
}
