/**
 * How a model's frozen weight matrices are stored and multiplied (`computeDtype`):
 *  - 'float32': float32 weights, float32 products (the default);
 *  - 'bfloat16': bf16 weights (half the memory) multiplied in bfloat16 with float32 accumulation,
 *    AVX512_BF16 `vdpbf16ps` where the CPU has it (see WType.BF16Dot; elsewhere the bf16 weight is
 *    widened and multiplied in float32).
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

export type ComputeDtype = 'float32' | 'bfloat16';

export const COMPUTE_DTYPES: readonly ComputeDtype[] = ['float32', 'bfloat16'];

/** Throws a clear error for anything but a known compute dtype (CLI flags, config files). */
export function parseComputeDtype(value: unknown, where = 'computeDtype'): ComputeDtype {
  if (typeof value === 'string' && (COMPUTE_DTYPES as readonly string[]).includes(value)) return value as ComputeDtype;
  throw new Error(`${where}: expected one of ${COMPUTE_DTYPES.map((d) => `'${d}'`).join(', ')}, got ${JSON.stringify(value)}`);
}

/** The tensor `t` (a frozen matrix) stored and computed as `dtype`. */
function convert(t: Tensor, dtype: ComputeDtype): Tensor {
  const name = t.name !== undefined ? { name: t.name } : {};
  if (dtype === 'float32') return t.dtype === 'f32' ? t : toF32(t);
  if (t.dtype === 'bf16') return t.bf16Compute ? t : new Tensor(t.data, t.shape, { dtype: 'bf16', bf16Compute: true, ...name });
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
  for (const [path, t] of module.namedParameters()) {
    if (t.requiresGrad || t.ndim < 2) continue;
    let next = done.get(t);
    if (!next) {
      next = convert(t, dtype);
      done.set(t, next);
      if (next !== t) count++;
    }
    if (next !== t) module.setParameter(path, next);
  }
  return count;
}

/** The compute dtype of a module's frozen matrices: 'bfloat16' when any is marked bf16Compute. */
export function computeDtypeOf(module: Module): ComputeDtype {
  return module.namedParameters().some(([, t]) => t.bf16Compute) ? 'bfloat16' : 'float32';
}
