/**
 * Moving weights between safetensors files and Modules: dtype conversion on load, HF key names on
 * save, atomic writes. Shared by every architecture.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { writeFolderAtomicSync, writeJsonAtomic } from '../io/files.js';
import {
  bf16ToF32,
  f16ToF32,
  f32ToBf16,
  readSafetensors,
  readShardedSafetensors,
  writeSafetensors,
  type RawTensor,
} from '../io/safetensors.js';
import type { Module } from '../nn/module.js';
import { Rng } from '../tensor/random.js';
import { Tensor } from '../tensor/tensor.js';

/** How a loaded model keeps its frozen weights: as stored ('auto'), or converted. */
export type WeightDtype = 'auto' | 'float32' | 'bfloat16' | 'float16';

/**
 * A file tensor as a Tensor. Float32 stays float32; BF16/F16 stay half (frozen) unless `dtype`
 * asks for float32; other float/int types become float32.
 */
export function rawToTensor(name: string, raw: RawTensor, dtype: WeightDtype = 'float32'): Tensor {
  const { shape, data } = raw;
  let t: Tensor;
  if (raw.dtype === 'BF16' || raw.dtype === 'F16') {
    t = new Tensor(data as Uint16Array, shape, { dtype: raw.dtype === 'BF16' ? 'bf16' : 'f16', name });
    if (dtype === 'float32' || (dtype !== 'auto' && dtype !== (raw.dtype === 'BF16' ? 'bfloat16' : 'float16')))
      t = widen(t, name);
    if (dtype === 'bfloat16' && t.dtype === 'f32') t = narrow(t, 'bf16');
    return t;
  }
  const values = data instanceof Float32Array ? data : Float32Array.from(data as ArrayLike<number | bigint>, Number);
  t = new Tensor(values, shape, { name });
  if (dtype === 'bfloat16') return narrow(t, 'bf16');
  return t;
}

function widen(t: Tensor, name: string): Tensor {
  const bits = t.data as Uint16Array;
  return new Tensor(t.dtype === 'bf16' ? bf16ToF32(bits) : f16ToF32(bits), t.shape, { name });
}

function narrow(t: Tensor, to: 'bf16'): Tensor {
  return new Tensor(f32ToBf16(t.f32), t.shape, { dtype: to, ...(t.name !== undefined ? { name: t.name } : {}) });
}

/** Every tensor of a model folder: model.safetensors, or the shards of model.safetensors.index.json. */
export function readModelWeights(dir: string): Map<string, RawTensor> {
  if (existsSync(join(dir, 'model.safetensors'))) return readSafetensors(join(dir, 'model.safetensors')).tensors;
  if (existsSync(join(dir, 'model.safetensors.index.json'))) return readShardedSafetensors(dir).tensors;
  throw new Error(
    `${dir}: no model.safetensors or model.safetensors.index.json (only safetensors checkpoints are supported)`,
  );
}

/** How many values of a float tensor are NaN or ±Infinity (0 for integer tensors). */
export function countNonFinite(raw: RawTensor): number {
  let bad = 0;
  const { data } = raw;
  if (data instanceof Float32Array || data instanceof Float64Array) {
    for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i])) bad++;
  } else if (raw.dtype === 'BF16' || raw.dtype === 'F16') {
    // All exponent bits set: Infinity or NaN.
    const mask = raw.dtype === 'BF16' ? 0x7f80 : 0x7c00;
    const bits = data as Uint16Array;
    for (let i = 0; i < bits.length; i++) if ((bits[i]! & mask) === mask) bad++;
  }
  return bad;
}

/**
 * Warns (on stderr, once per load) about tensors holding NaN or ±Infinity: such a checkpoint
 * loads, but every output it computes will be NaN. Returns the names of those tensors.
 */
export function warnNonFinite(
  file: Map<string, RawTensor>,
  label: string,
  warn: (message: string) => void = (m) => console.warn(m),
): string[] {
  const bad: string[] = [];
  for (const [key, raw] of file) {
    const n = countNonFinite(raw);
    if (n > 0) bad.push(`${key} (${n} of ${raw.data.length})`);
  }
  if (bad.length > 0) {
    warn(
      `warning: ${label}: ${bad.length} tensor${bad.length === 1 ? ' holds' : 's hold'} NaN or Infinity values: ${bad.slice(0, 8).join(', ')}${bad.length > 8 ? ` (+${bad.length - 8} more)` : ''}; the model's outputs will not be usable`,
    );
  }
  return bad.map((b) => b.slice(0, b.lastIndexOf(' (')));
}

/**
 * Load file tensors into a module by HF key. `rename` maps a file key to a module path (or null to
 * skip it, e.g. rotary buffers). Every module parameter must be found; tensors the module does not
 * have are reported as an error unless listed in `ignoreUnexpected`. Tensors with NaN or Infinity
 * values are reported by a warning naming them (`warnNonFinite`).
 */
export function loadIntoModule(
  module: Module,
  file: Map<string, RawTensor>,
  opts: {
    dtype?: WeightDtype;
    rename?: (key: string) => string | null;
    ignoreUnexpected?: RegExp;
    label: string;
  },
): void {
  const state = new Map<string, Tensor>();
  const own = new Map(module.namedParameters());
  const unexpected: string[] = [];
  const shapeErrors: string[] = [];
  for (const [key, raw] of file) {
    const path = opts.rename ? opts.rename(key) : key;
    if (path === null) continue;
    if (!own.has(path)) {
      if (!opts.ignoreUnexpected?.test(key)) unexpected.push(key);
      continue;
    }
    const want = own.get(path)?.shape ?? [];
    if (raw.shape.length !== want.length || raw.shape.some((d, i) => d !== want[i])) {
      shapeErrors.push(`"${key}" is [${raw.shape.join(', ')}] in the file, the config declares [${want.join(', ')}]`);
      continue;
    }
    // Norm weights and biases are small and used in float32 kernels: keep them float32.
    const small = raw.shape.length === 1;
    state.set(path, rawToTensor(path, raw, small ? 'float32' : (opts.dtype ?? 'float32')));
  }
  if (shapeErrors.length > 0) {
    throw new Error(
      `${opts.label}: weights do not match config.json: ${shapeErrors.slice(0, 4).join('; ')}${shapeErrors.length > 4 ? ` (+${shapeErrors.length - 4} more)` : ''}`,
    );
  }
  const missing = [...own.keys()].filter((k) => !state.has(k));
  if (missing.length || unexpected.length) {
    throw new Error(
      `${opts.label}: weights do not match the model${missing.length ? `; missing: ${missing.slice(0, 8).join(', ')}${missing.length > 8 ? ` (+${missing.length - 8} more)` : ''}` : ''}${unexpected.length ? `; unexpected: ${unexpected.slice(0, 8).join(', ')}${unexpected.length > 8 ? ` (+${unexpected.length - 8} more)` : ''}` : ''}`,
    );
  }
  module.loadStateDict(state, { strict: false });
  const used = new Map<string, RawTensor>();
  for (const [key, raw] of file) {
    const path = opts.rename ? opts.rename(key) : key;
    if (path !== null && own.has(path)) used.set(key, raw);
  }
  warnNonFinite(used, opts.label);
}

/** A module's parameters as safetensors entries (float32 or the stored half type). */
export function moduleToRaw(module: Module, rename?: (path: string) => string | null): Map<string, RawTensor> {
  const out = new Map<string, RawTensor>();
  for (const [path, t] of module.namedParameters()) {
    const key = rename ? rename(path) : path;
    if (key === null) continue;
    if (t.dtype === 'i8')
      throw new Error(
        `cannot save "${path}": it is int8-quantised (computeDtype 'int8'); save the float32 or bfloat16 model instead`,
      );
    out.set(key, {
      dtype: t.dtype === 'f32' ? 'F32' : t.dtype === 'bf16' ? 'BF16' : 'F16',
      shape: [...t.shape],
      data: t.data,
    });
  }
  return out;
}

/** Files of a model folder that a save replaces: weights (single or sharded, any format) and config.json. */
const MODEL_FILE_RE =
  /^(config\.json|model(-\d+-of-\d+)?\.safetensors(\.index\.json)?|pytorch_model(-\d+-of-\d+)?\.bin(\.index\.json)?|tf_model\.h5|flax_model\.msgpack)$/;

/**
 * Write config.json + model.safetensors into `dir` as one atomic folder write: `dir` is always the
 * complete previous version or the complete new one. Other files of a previous version (tokenizer,
 * generation_config.json, README) are kept; its weights and config are replaced (no stale shards).
 */
export function saveModelFolder(
  dir: string,
  configJson: Record<string, unknown>,
  tensors: Map<string, RawTensor>,
): void {
  writeFolderAtomicSync(
    dir,
    (tmp) => {
      writeSafetensors(join(tmp, 'model.safetensors'), tensors, { format: 'pt' });
      writeJsonAtomic(join(tmp, 'config.json'), configJson);
    },
    { keep: (name) => !MODEL_FILE_RE.test(name) },
  );
}

/**
 * A generator whose uniform and normal draws are all 0 (its integer stream, used for dropout seeds,
 * stays seeded). Building a model with it skips the cost of random initialisation (tens of seconds
 * for 100M parameters) when a checkpoint is about to overwrite every weight.
 */
export class SkipInitRng extends Rng {
  override uniform(): number {
    return 0;
  }

  override fillUniform(out: Float32Array): Float32Array {
    return out;
  }

  override fillNormal(out: Float32Array): Float32Array {
    return out;
  }

  override normal(): number {
    return 0;
  }
}
