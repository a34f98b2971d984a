/**
 * PEFT's adapter folder: `adapter_config.json` (sorted keys) + `adapter_model.safetensors`
 * (metadata {"format": "pt"}), read strictly and written whole.
 *
 * Reading validates everything an adapter from another base or another tool could get wrong and
 * names the file and tensor in each error: missing tensors, extra tensors, shape mismatches,
 * non-float dtypes. Unknown config fields (PEFT adds some every release) are reported in one warning.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFolderAtomicSync } from '../io/files.js';
import { readJsonObject } from '../io/json.js';
import { readSafetensors, writeSafetensors, type RawTensor } from '../io/safetensors.js';
import { rawToTensor } from '../models/weights.js';
import type { Tensor } from '../tensor/tensor.js';

/** File name of an adapter's configuration in a PEFT folder. */
export const ADAPTER_CONFIG = 'adapter_config.json';
/** File name of an adapter's tensors in a PEFT folder. */
export const ADAPTER_WEIGHTS = 'adapter_model.safetensors';

/** A folder's raw contents. */
export interface AdapterFiles {
  configPath: string;
  config: Record<string, unknown>;
  weightsPath: string;
  tensors: Map<string, RawTensor>;
}

/** Read adapter_config.json and adapter_model.safetensors of `dir` (no interpretation yet). */
export function readAdapterFolder(dir: string): AdapterFiles {
  const configPath = join(dir, ADAPTER_CONFIG);
  if (!existsSync(dir)) throw new Error(`${dir}: adapter folder not found`);
  if (!existsSync(configPath)) throw new Error(`${dir}: no ${ADAPTER_CONFIG} (not a PEFT adapter folder)`);
  const config = readJsonObject(configPath);
  const weightsPath = join(dir, ADAPTER_WEIGHTS);
  if (!existsSync(weightsPath)) {
    if (existsSync(join(dir, 'adapter_model.bin')))
      throw new Error(
        `${dir}: only adapter_model.bin (a pickle) is present; convert it to adapter_model.safetensors (pickles are not read, they can run code)`,
      );
    throw new Error(`${dir}: no ${ADAPTER_WEIGHTS}`);
  }
  return { configPath, config, weightsPath, tensors: readSafetensors(weightsPath).tensors };
}

/** One warning listing the config fields this project does not know (they are ignored). */
export function warnUnknownFields(
  json: Record<string, unknown>,
  known: readonly string[],
  label: string,
  warn: (m: string) => void,
): string[] {
  const k = new Set(known);
  const unknown = Object.keys(json).filter((f) => !k.has(f));
  if (unknown.length)
    warn(`${label}: ignoring unknown field${unknown.length > 1 ? 's' : ''} ${unknown.map((f) => `"${f}"`).join(', ')}`);
  return unknown;
}

/**
 * Copy the file's tensors into `expected` (saved key -> parameter). Every expected key must be in
 * the file (older PEFT files may carry the adapter name: `.default.weight`), nothing else may be,
 * shapes must agree; F16/BF16 values are widened to float32.
 */
export function loadTensorsInto(
  expected: Map<string, Tensor>,
  files: Pick<AdapterFiles, 'weightsPath' | 'tensors'>,
  adapterName = 'default',
): void {
  const file = files.weightsPath;
  const used = new Set<string>();
  const missing: string[] = [];
  for (const [key, t] of expected) {
    const alt = [key, key.replace(/\.weight$/, `.${adapterName}.weight`), `${key}.${adapterName}`];
    const found = alt.find((k) => files.tensors.has(k));
    const raw = found === undefined ? undefined : files.tensors.get(found);
    if (found === undefined || !raw) {
      missing.push(key);
      continue;
    }
    used.add(found);
    if (raw.shape.length !== t.shape.length || raw.shape.some((s, i) => s !== t.shape[i])) {
      throw new Error(
        `${file}: tensor "${found}" has shape [${raw.shape.join(', ')}] but the model needs [${t.shape.join(', ')}] (an adapter for another base model or another rank?)`,
      );
    }
    if (!['F32', 'F16', 'BF16', 'F64'].includes(raw.dtype))
      throw new Error(`${file}: tensor "${found}" is ${raw.dtype}; adapter weights must be floating point`);
    t.f32.set(rawToTensor(found, raw, 'float32').f32);
  }
  if (missing.length)
    throw new Error(
      `${file}: missing tensor${missing.length > 1 ? 's' : ''} ${missing
        .slice(0, 5)
        .map((k) => `"${k}"`)
        .join(', ')}${missing.length > 5 ? ` (+${missing.length - 5} more)` : ''}`,
    );
  const extra = [...files.tensors.keys()].filter((k) => !used.has(k));
  if (extra.length)
    throw new Error(
      `${file}: unexpected tensor${extra.length > 1 ? 's' : ''} ${extra
        .slice(0, 5)
        .map((k) => `"${k}"`)
        .join(
          ', ',
        )}${extra.length > 5 ? ` (+${extra.length - 5} more)` : ''} that the configured adapter does not have`,
    );
}

/** Tensors as float32 safetensors entries. */
export function toRaw(tensors: Map<string, Tensor>): Map<string, RawTensor> {
  const out = new Map<string, RawTensor>();
  for (const [k, t] of tensors)
    out.set(k, {
      dtype: 'F32',
      shape: [...t.shape],
      data:
        t.dtype === 'f32'
          ? t.f32
          : rawToTensor(k, { dtype: t.dtype === 'bf16' ? 'BF16' : 'F16', shape: [...t.shape], data: t.data }, 'float32')
              .f32,
    });
  return out;
}

/**
 * Write an adapter folder whole or not at all: both files go into a temporary sibling folder,
 * are flushed to disk, and the folder is swapped into place; a previous adapter at `dir` stays
 * intact until the new one is complete. `extra` writes further files (e.g. a resumable encoder).
 */
export function writeAdapterFolder(
  dir: string,
  config: Record<string, unknown>,
  tensors: Map<string, Tensor>,
  extra: (tmpDir: string) => void = () => {},
): void {
  writeAdapterFolderFiles(dir, (tmp) => {
    writeSafetensors(join(tmp, ADAPTER_WEIGHTS), toRaw(tensors), { format: 'pt' });
    writeFileSync(join(tmp, ADAPTER_CONFIG), `${JSON.stringify(config, null, 2)}\n`);
    extra(tmp);
  });
}

/**
 * Fill a temporary sibling of `dir` and swap it in (src/io/files' crash-safe folder write). Other
 * entries of a previous folder (other adapters' subfolders, a README) are kept.
 */
export function writeAdapterFolderFiles(dir: string, fill: (tmpDir: string) => void): void {
  writeFolderAtomicSync(dir, fill, { keep: (name) => !OWN_FILES.includes(name) });
}

/** Files an adapter write replaces. */
const OWN_FILES = [ADAPTER_CONFIG, ADAPTER_WEIGHTS, 'prompt_encoder.safetensors'];
