/**
 * How a model's frozen weight matrices are stored and multiplied (`computeDtype`):
 *  - 'float32': float32 weights, float32 products (the default);
 *  - 'bfloat16': bf16 weights (half the memory) multiplied in bfloat16 with float32 accumulation,
 *    AVX512_BF16 `vdpbf16ps` where the CPU has it (see WType.BF16Dot; elsewhere the bf16 weight is
 *    widened and multiplied in float32);
 *  - 'int8': int8 weights with one float32 scale per row of the stored matrix (symmetric,
 *    scale = max|row| / 127, codes rounded to nearest): a quarter of the float32 bytes, which is
 *    what bounds decoding; dequantised block by block inside the GEMM and multiplied in float32.
 *    Decoding (`generate`, or any code inside `withInt8Activations`) also quantises the
 *    activations of products of at most 4 rows, per row in groups of 128 (scale max|x| / 127), and
 *    multiplies with int8 dot products (AVX512_VNNI where the CPU has it; see WType.I8Dot): fewer
 *    instructions per weight than widening to float32. The extra rounding is bounded per output by
 *    sum_k groupScale / 2 * |w_kj|; on stories260K it moves the perplexity of token-by-token
 *    decoding by under 0.2% (test/nn/compute-dtype.test.ts). Everywhere else int8 is weight-only.
 *
 * Decoding with a model whose matrices are stored [in, out] (GPT-2's Conv1D) keeps one more copy
 * of each int8 or bf16 one, made by its first decoding product, in the layout the decoding kernels
 * read as one sequential stream (~1.3x faster from memory than the strips of the stored layout;
 * see tensor/weight-packs.ts): 85 MB more in int8 for GPT-2 small, 170 MB in bf16.
 *
 * Only frozen matrices (ndim >= 2, not requiresGrad) change: trainable parameters (adapters),
 * their gradients and optimizer state, norms and biases stay float32, and activations and
 * gradients are float32 between the matrix products. So it is applied to a loaded (frozen) base
 * model, before or after adapters are attached.
 */
import { f32ToBf16 } from '../io/safetensors.js';
import { toF32 } from '../tensor/ops.js';
import { Tensor } from '../tensor/tensor.js';
import type { Module } from './module.js';

/** Precision in which frozen weights are multiplied. */
export type ComputeDtype = 'float32' | 'bfloat16' | 'int8';

/** The accepted compute precisions of frozen weights. */
export const COMPUTE_DTYPES: readonly ComputeDtype[] = ['float32', 'bfloat16', 'int8'];

/**
 * Symmetric per-row int8 quantisation of a [rows, cols] matrix: scale = max|row| / 127 (1 for an
 * all-zero row), q = round(w / scale) in [-127, 127]. |w - scale * q| <= scale / 2.
 */
export function quantizeInt8(values: Float32Array, rows: number, cols: number): { q: Int8Array; scales: Float32Array } {
  if (values.length !== rows * cols)
    throw new Error(`quantizeInt8: ${values.length} values for a ${rows} x ${cols} matrix`);
  const q = new Int8Array(values.length),
    scales = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    let m = 0;
    for (let c = 0; c < cols; c++) m = Math.max(m, Math.abs(values[r * cols + c]!));
    if (!Number.isFinite(m)) throw new Error(`quantizeInt8: row ${r} holds a non-finite value`);
    const s = Math.fround(m > 0 ? m / 127 : 1);
    scales[r] = s;
    for (let c = 0; c < cols; c++)
      q[r * cols + c] = Math.max(-127, Math.min(127, Math.round(values[r * cols + c]! / s)));
  }
  return { q, scales };
}

/** Throws a clear error for anything but a known compute dtype (CLI flags, config files). */
export function parseComputeDtype(value: unknown, where = 'computeDtype'): ComputeDtype {
  if (typeof value === 'string' && (COMPUTE_DTYPES as readonly string[]).includes(value)) return value as ComputeDtype;
  throw new Error(
    `${where}: expected one of ${COMPUTE_DTYPES.map((d) => `'${d}'`).join(', ')}, got ${JSON.stringify(value)}`,
  );
}

/** The tensor `t` (a frozen matrix) stored and computed as `dtype` (itself when it already is). */
export function convertFrozen(t: Tensor, dtype: ComputeDtype): Tensor {
  const name = t.name !== undefined ? { name: t.name } : {};
  if (dtype === 'float32') return t.dtype === 'f32' ? t : toF32(t);
  if (dtype === 'int8') {
    if (t.dtype === 'i8') return t;
    const [rows = 0, cols = 0] = t.shape;
    const { q, scales } = quantizeInt8(toF32(t).f32, rows, cols);
    return new Tensor(q, t.shape, { dtype: 'i8', scales, ...name });
  }
  if (t.dtype === 'bf16')
    return t.bf16Compute ? t : new Tensor(t.data, t.shape, { dtype: 'bf16', bf16Compute: true, ...name });
  return new Tensor(f32ToBf16(toF32(t).f32), t.shape, { dtype: 'bf16', bf16Compute: true, ...name });
}

/**
 * Converts every frozen weight matrix of `module` to `dtype` in place (tied weights stay one
 * tensor). Returns how many parameters were converted.
 */
export function setComputeDtype(module: Module, dtype: ComputeDtype): number {
  parseComputeDtype(dtype);
  const done = new Map<Tensor, Tensor>();
  let count = 0;
  const matrices = module.namedParameters().filter(([, t]) => t.ndim === 2);
  // Only frozen matrices change: a model whose matrices all still train (e.g. fromConfig before
  // freeze()) would silently stay float32, so that is an error rather than a no-op.
  if (dtype !== 'float32' && matrices.length > 0 && matrices.every(([, t]) => t.requiresGrad))
    throw new Error(
      `setComputeDtype('${dtype}'): every weight matrix of this model is trainable, so none would change; ` +
        'freeze the base first (model.freeze(), or apply a PEFT method) and call it again',
    );
  for (const [path, t] of matrices) {
    if (t.requiresGrad) continue;
    let next = done.get(t);
    if (!next) {
      next = convertFrozen(t, dtype);
      done.set(t, next);
      if (next !== t) count++;
    }
    if (next !== t) module.setParameter(path, next);
  }
  return count;
}

/** The compute dtype of a module's frozen matrices: 'int8' or 'bfloat16' when any is so, else 'float32'. */
export function computeDtypeOf(module: Module): ComputeDtype {
  const params = module.namedParameters();
  if (params.some(([, t]) => t.dtype === 'i8')) return 'int8';
  return params.some(([, t]) => t.bf16Compute) ? 'bfloat16' : 'float32';
}
