/** `tunekit inspect PATH`: a model folder or a PEFT adapter folder, from headers and JSON only. */
import type { Command } from 'commander';
import { formatInspection, inspectFolder } from '../io/inspect-folder.js';

export function register(program: Command): void {
  program
    .command('inspect')
    .description(
      'show a model or PEFT adapter folder: architecture, parameter counts (total/trainable), target modules, config, dtype, size on disk',
    )
    .argument('<path>', 'a model folder (config.json + safetensors) or an adapter folder (adapter_config.json)')
    .option(
      '--base <dir>',
      'for an adapter: the base model folder (default: its base_model_name_or_path when that is a local folder)',
    )
    .option('--json', 'print JSON')
    .action((path: string, opts: { base?: string; json?: boolean }) => {
      const info = inspectFolder(path, opts.base !== undefined ? { base: opts.base } : {});
      process.stdout.write(opts.json ? `${JSON.stringify(info, null, 2)}\n` : `${formatInspection(info)}\n`);
    });
}
