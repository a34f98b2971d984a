/**
 * `tunekit merge --model DIR --adapter DIR --out DIR`: fold a LoRA / DoRA / IA3 adapter into the base
 * weights (PEFT's merge_and_unload) and save a complete model folder, written whole or not at all:
 * model.safetensors with the original checkpoint's key names and dtypes, config.json,
 * generation_config.json, and the tokenizer files and chat template copied. `tunekit generate` and
 * Python transformers load it. Methods that add no weight deltas (prompt/prefix/p-tuning, bottleneck
 * adapters, mixture-of-experts LoRA) cannot be merged and are refused.
 */
import { copyFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { writeFolderAtomic } from '../io/files.js';
import { readJsonObject } from '../io/json.js';
import {
  f32ToBf16,
  f32ToF16,
  readSafetensorsHeader,
  writeSafetensors,
  type Dtype,
  type RawTensor,
} from '../io/safetensors.js';
import { AutoModelForCausalLM } from '../models/auto.js';
import { moduleToRaw } from '../models/weights.js';
import { PeftModel } from '../peft/peft-model.js';
import { applyConfigFile, readConfigFile, requireOptions } from './config-file.js';
import { resolveModelDir } from './task-setup.js';

/** Files copied from the base folder beside the weights (those present). */
export const COPIED_FILES = [
  'config.json',
  'generation_config.json',
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'added_tokens.json',
  'tokenizer.model',
  'vocab.txt',
  'vocab.json',
  'merges.txt',
  'chat_template.jinja',
  'chat_template.json',
];

const NOT_MERGEABLE: Record<string, string> = {
  PROMPT_TUNING: 'prompt tuning adds virtual tokens to the input, not weight changes',
  P_TUNING: 'p-tuning adds virtual tokens to the input, not weight changes',
  PREFIX_TUNING: 'prefix tuning adds key/value prefixes, not weight changes',
  BOTTLENECK: 'bottleneck adapters add layers to the model, not weight changes',
  MOE_LORA: 'a mixture of LoRA experts routes per token, so no single weight change exists',
};

/** Dtype and shape of every tensor of the base checkpoint (single file or shards), by key. */
function sourceHeader(dir: string): Map<string, { dtype: Dtype; shape: number[] }> {
  const out = new Map<string, { dtype: Dtype; shape: number[] }>();
  const files: string[] = [];
  if (existsSync(join(dir, 'model.safetensors'))) files.push(join(dir, 'model.safetensors'));
  else if (existsSync(join(dir, 'model.safetensors.index.json'))) {
    const map = readJsonObject(join(dir, 'model.safetensors.index.json')).weight_map;
    if (!map || typeof map !== 'object') throw new Error(`${dir}/model.safetensors.index.json: no weight_map`);
    files.push(...new Set(Object.values(map as Record<string, string>).map((f) => join(dir, String(f)))));
  } else throw new Error(`--model ${dir}: no model.safetensors or model.safetensors.index.json`);
  for (const f of files) for (const [k, info] of readSafetensorsHeader(f).tensors) out.set(k, info);
  return out;
}

/** A float32 tensor converted to the checkpoint's dtype (BF16, F16 or F32). */
function toDtype(key: string, raw: RawTensor, dtype: Dtype): RawTensor {
  if (raw.dtype === dtype) return raw;
  const f32 = raw.data as Float32Array;
  if (raw.dtype !== 'F32') throw new Error(`merge: "${key}" is ${raw.dtype}, cannot convert to ${dtype}`);
  if (dtype === 'BF16') return { dtype, shape: raw.shape, data: f32ToBf16(f32) };
  if (dtype === 'F16') return { dtype, shape: raw.shape, data: f32ToF16(f32) };
  throw new Error(`merge: "${key}" is stored as ${dtype} in the base checkpoint; only F32/BF16/F16 are written`);
}

/** Merges `adapter` into the model folder `modelDir` and writes the complete folder `out`. */
export async function mergeAdapter(modelDir: string, adapter: string, out: string): Promise<{ tensors: number }> {
  const configPath = join(adapter, 'adapter_config.json');
  if (!existsSync(configPath)) throw new Error(`--adapter ${adapter}: no adapter_config.json there`);
  const peftType = String(readJsonObject(configPath).peft_type);
  const why = NOT_MERGEABLE[peftType];
  if (why !== undefined)
    throw new Error(
      `--adapter ${adapter}: a ${peftType} adapter cannot be merged (${why}); use it with --adapter in generate/eval instead`,
    );
  const header = sourceHeader(modelDir);
  // Merge in float32 whatever the stored dtype, then write each tensor back in its stored dtype.
  const base = AutoModelForCausalLM.fromPretrained(modelDir, { dtype: 'float32' });
  const merged = PeftModel.fromPretrained(base, adapter, {
    onWarning: (m) => process.stderr.write(`warning: ${m}\n`),
  }).mergeAndUnload();
  const ours = moduleToRaw(merged);
  const tensors = new Map<string, RawTensor>();
  const missing: string[] = [];
  for (const [key, info] of header) {
    const raw = ours.get(key);
    if (!raw) {
      missing.push(key);
      continue;
    }
    if (raw.shape.length !== info.shape.length || raw.shape.some((d, i) => d !== info.shape[i]))
      throw new Error(
        `merge: "${key}" is [${raw.shape.join(', ')}] after merging, [${info.shape.join(', ')}] in ${modelDir}`,
      );
    tensors.set(key, toDtype(key, raw, info.dtype));
  }
  if (missing.length > 0)
    throw new Error(
      `merge: the merged model has no tensor for ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ` (+${missing.length - 5} more)` : ''} of ${modelDir}; nothing written`,
    );
  await writeFolderAtomic(out, (tmp) => {
    writeSafetensors(join(tmp, 'model.safetensors'), tensors, { format: 'pt' });
    for (const name of COPIED_FILES)
      if (existsSync(join(modelDir, name))) copyFileSync(join(modelDir, name), join(tmp, name));
  });
  return { tensors: tensors.size };
}

/** Adds `tunekit merge`. */
export function register(program: Command): void {
  const cmd = program
    .command('merge')
    .description('merge a LoRA/DoRA/IA3 adapter into its base model and save a complete model folder');
  cmd
    .option('--config <file>', 'YAML or JSON file whose keys are these flags; flags override it')
    .option('--model <dir-or-repo>', 'the base model folder (or Hub repo id) the adapter was trained on')
    .option('--adapter <dir>', 'the PEFT adapter folder (e.g. runs/x/adapter)')
    .option('--out <dir>', 'the merged model folder (written whole; replaced if it exists)')
    .action(async () => {
      const cli = cmd.opts<{ config?: string; model?: string; adapter?: string; out?: string }>();
      const f =
        cli.config !== undefined
          ? applyConfigFile<typeof cli>(cmd, readConfigFile(cli.config), cli.config, ['config'])
          : cli;
      requireOptions(f, ['model', 'adapter', 'out']);
      const dir = await resolveModelDir(f.model ?? '', (l) => void process.stderr.write(`${l}\n`));
      const r = await mergeAdapter(dir, f.adapter ?? '', f.out ?? '');
      process.stderr.write(`${r.tensors} tensors merged and written\n`);
      process.stdout.write(`${f.out}\n`);
    });
}
