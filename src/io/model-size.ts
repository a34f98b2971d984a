/**
 * Memory a model will take, estimated from the shapes config.json declares, and checked against a
 * budget before anything is allocated. A crafted config (hidden_size 1e12, num_labels 1e9,
 * num_hidden_layers 1e6) then fails with the file and the field named, instead of running out of
 * memory (or "Invalid typed array length") while the model is built.
 */
import { totalmem } from 'node:os';
import { getHeapStatistics } from 'node:v8';

/** Bytes per parameter of a config's `torch_dtype` / `dtype` (float32 when absent or unknown). */
export function dtypeBytes(dtype: string | null): number {
  switch (dtype) {
    case 'float16':
    case 'bfloat16':
    case 'half':
      return 2;
    case 'float64':
    case 'double':
      return 8;
    case 'int8':
    case 'uint8':
    case 'float8_e4m3fn':
    case 'float8_e5m2':
      return 1;
    default:
      return 4;
  }
}

/**
 * JavaScript objects (modules, tensor headers, ArrayBuffer bookkeeping) each layer costs besides its
 * weights; measured at ~4 kB of heap and ~5 kB outside it for the models here, doubled for margin.
 */
export const LAYER_OVERHEAD_BYTES = 16_384;
const LAYER_HEAP_BYTES = 8_192;

/** One part of a model's size, with the config fields it comes from. */
export interface SizeTerm {
  /** config.json fields whose product this term is (for the error message). */
  fields: string[];
  bytes: number;
}

/**
 * The memory budget for one model's weights: `TUNEKIT_MAX_MODEL_BYTES` when set (a number of bytes,
 * suffixes k/M/G/T accepted: "8G"), else the machine's total memory.
 * @throws Error naming the variable when it is not a positive size
 */
export function modelMemoryBudget(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.TUNEKIT_MAX_MODEL_BYTES;
  if (raw === undefined || raw.trim() === '') return totalmem();
  const m = /^\s*(\d+(?:\.\d+)?(?:e\d+)?)\s*([kmgt]?)i?b?\s*$/i.exec(raw);
  const scale: Record<string, number> = { '': 1, k: 1e3, m: 1e6, g: 1e9, t: 1e12 };
  const v = m ? Number(m[1]) * (scale[(m[2] ?? '').toLowerCase()] ?? 1) : NaN;
  if (!Number.isFinite(v) || v <= 0)
    throw new Error(
      `TUNEKIT_MAX_MODEL_BYTES=${JSON.stringify(raw)}: expected a size in bytes such as 8000000000 or 8G`,
    );
  return v;
}

export function formatBytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB'];
  let i = 0;
  let v = n;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return v >= 1e6 ? `${n.toExponential(1)} B` : `${v.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

/**
 * Throws when the terms add up to more than `budget` bytes, or the layers' JavaScript objects would
 * not fit the V8 heap. The message names the file, the total, the budget and the fields of the
 * largest term.
 *
 * @param label config file for the message
 * @param layers number of layers (for the heap check); field name in `layersField`
 * @param extraHeapBytes other JavaScript heap the terms need (checked against the heap limit; the
 *   message names the first term's fields)
 */
export function checkModelSize(
  label: string,
  terms: readonly SizeTerm[],
  layers: number,
  layersField: string,
  budget: number,
  extraHeapBytes = 0,
): void {
  const total = terms.reduce((s, t) => s + t.bytes, 0);
  if (total > budget || !Number.isFinite(total)) {
    let largest = terms[0];
    for (const t of terms) if (largest === undefined || t.bytes > largest.bytes) largest = t;
    const fields = largest ? largest.fields.map((f) => `"${f}"`).join(' × ') : '';
    throw new Error(
      `${label}: the declared shapes need about ${formatBytes(total)} of memory, more than the budget of ${formatBytes(budget)} ` +
        `(set TUNEKIT_MAX_MODEL_BYTES to change it; default: the machine's memory); the largest part comes from field${largest && largest.fields.length > 1 ? 's' : ''} ${fields}`,
    );
  }
  const heapLimit = getHeapStatistics().heap_size_limit;
  if (extraHeapBytes > heapLimit / 2) {
    const largest = terms[0];
    const many = largest !== undefined && largest.fields.length > 1;
    throw new Error(
      `${label}: field${many ? 's' : ''} ${largest ? largest.fields.map((f) => `"${f}"`).join(' × ') : ''} need${many ? '' : 's'} about ${formatBytes(extraHeapBytes)} of JavaScript heap, ` +
        `more than half the heap limit of ${formatBytes(heapLimit)} (node --max-old-space-size raises it)`,
    );
  }
  if (layers * LAYER_HEAP_BYTES > heapLimit / 2) {
    throw new Error(
      `${label}: field "${layersField}" declares ${layers} layers, whose objects need about ${formatBytes(layers * LAYER_HEAP_BYTES)} of JavaScript heap, ` +
        `more than half the heap limit of ${formatBytes(heapLimit)} (node --max-old-space-size raises it)`,
    );
  }
}
