/**
 * Adapter folders built the way Python PEFT writes them (sorted adapter_config.json with the fields
 * PEFT 0.17+ emits, adapter_model.safetensors with {"format": "pt"} and PEFT's key names), and the
 * float64 reference formulas the interop tests compare against.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeSafetensors, type RawTensor } from '../../src/io/safetensors.js';
import { Rng } from '../../src/tensor/random.js';

/** Every field PEFT writes for a LoraConfig (values at PEFT's defaults), including ones tunekit ignores. */
export const PEFT_LORA_DEFAULTS: Record<string, unknown> = {
  alora_invocation_tokens: null,
  alpha_pattern: {},
  arrow_config: null,
  auto_mapping: null,
  base_model_name_or_path: 'stories260K',
  bias: 'none',
  corda_config: null,
  ensure_weight_tying: false,
  eva_config: null,
  exclude_modules: null,
  fan_in_fan_out: false,
  inference_mode: true,
  init_lora_weights: true,
  layer_replication: null,
  layers_pattern: null,
  layers_to_transform: null,
  loftq_config: {},
  lora_alpha: 8,
  lora_bias: false,
  lora_dropout: 0.0,
  megatron_config: null,
  megatron_core: 'megatron.core',
  modules_to_save: null,
  peft_type: 'LORA',
  peft_version: '0.17.1',
  qalora_group_size: 16,
  r: 8,
  rank_pattern: {},
  revision: null,
  runtime_config: { ephemeral_gpu_offload: false },
  target_modules: ['q_proj', 'v_proj'],
  target_parameters: null,
  task_type: 'CAUSAL_LM',
  trainable_token_indices: null,
  use_dora: false,
  use_qalora: false,
  use_rslora: false,
};

/** Write `config` (keys sorted) and float32 `tensors` as a PEFT adapter folder; returns the folder. */
export function writePeftFolder(
  config: Record<string, unknown>,
  tensors: Record<string, { shape: number[]; data: Float32Array }>,
  dir?: string,
): string {
  const out = dir ?? mkdtempSync(join(tmpdir(), 'tunekit-peft-'));
  mkdirSync(out, { recursive: true });
  const sorted = Object.fromEntries(Object.entries(config).sort(([a], [b]) => (a < b ? -1 : 1)));
  writeFileSync(join(out, 'adapter_config.json'), JSON.stringify(sorted, null, 2));
  const raw = new Map<string, RawTensor>();
  for (const [k, t] of Object.entries(tensors)) raw.set(k, { dtype: 'F32', shape: t.shape, data: t.data });
  writeSafetensors(join(out, 'adapter_model.safetensors'), raw, { format: 'pt' });
  return out;
}

/** Random float32 values (normal, std). */
export function randomValues(n: number, seed: number, std = 0.1): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n }, () => rng.normal() * std);
}

/** A Linear weight as float64 [out][in] rows from its stored layout. */
export function rowsOutIn(w: Float32Array, out: number, inF: number, inOut: boolean): number[][] {
  return Array.from({ length: out }, (_, o) =>
    Array.from({ length: inF }, (_, i) => w[inOut ? i * out + o : o * inF + i]!),
  );
}

/** (B @ A)[o][i] in float64 for A [r, in], B [out, r]. */
export function productBA(a: Float32Array, b: Float32Array, out: number, inF: number, r: number): number[][] {
  return Array.from({ length: out }, (_, o) =>
    Array.from({ length: inF }, (_, i) => {
      let s = 0;
      for (let k = 0; k < r; k++) s += b[o * r + k]! * a[k * inF + i]!;
      return s;
    }),
  );
}

/** LoRA's merged weight W + s·B·A, and DoRA's diag(m/‖·‖_row)(W + s·B·A), as [out][in] float64 rows. */
export function mergedReference(
  w: number[][],
  a: Float32Array,
  b: Float32Array,
  r: number,
  s: number,
  magnitude?: Float32Array,
): number[][] {
  const out = w.length;
  const inF = w[0]!.length;
  const ba = productBA(a, b, out, inF, r);
  return w.map((row, o) => {
    const merged = row.map((x, i) => x + s * ba[o]![i]!);
    if (!magnitude) return merged;
    const norm = Math.sqrt(merged.reduce((t, x) => t + x * x, 0));
    return merged.map((x) => (magnitude[o]! / norm) * x);
  });
}

/** [out][in] rows back into a stored layout. */
export function toStored(rows: number[][], inOut: boolean): Float32Array {
  const out = rows.length;
  const inF = rows[0]!.length;
  const w = new Float32Array(out * inF);
  rows.forEach((row, o) =>
    row.forEach((x, i) => {
      w[inOut ? i * out + o : o * inF + i] = x;
    }),
  );
  return w;
}

/** Largest absolute difference. */
export function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}
