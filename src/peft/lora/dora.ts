/**
 * DoRA (Liu et al. 2024, PEFT's `lora/dora.py`): the LoRA-updated weight is split into a direction
 * and a learned magnitude per output row,
 *
 *   W' = diag(m / n) · (W + s·B·A),   n = ‖W + s·B·A‖₂ over the input dimension, per output row.
 *
 * As in PEFT, n is treated as a constant in backward (the paper's "detach" trick: it saves memory
 * and the paper found no loss in quality), and the bias stays outside the scaling.
 * At initialisation (B = 0) m = ‖W‖ per row, so the layer starts as the base layer.
 */
import { kernels } from '../../native/index.js';
import { WType } from '../../native/kernels.js';
import type { Linear } from '../../nn/layers.js';
import { weightF32 } from '../tuner.js';

/**
 * n[o] = ‖W[o, :] + s·(B·A)[o, :]‖₂ for a Linear's weight in its storage layout ([out, in], or
 * [in, out] for a Conv1D base), B [O, r], A [r, I]: one native GEMM adds s·B·A (or s·Aᵀ·Bᵀ) onto a
 * float32 copy of W, then the squares are summed per output row in float64. What DoRA's forward
 * computes each step; `doraRowNorms` is the float64 reference of the same quantity.
 */
export function doraWeightNorms(base: Linear, b: Float32Array, a: Float32Array, r: number, s: number): Float32Array {
  const { inFeatures: I, outFeatures: O } = base;
  const w = weightF32(base.weight);
  const c = base.weight.dtype === 'f32' ? w.slice() : w; // a widened copy is already ours
  const n = new Float32Array(O);
  if (!base.weightInOut) {
    // C[O, I] += s · B[O, r] · A[r, I]
    kernels.gemm(false, false, O, I, r, s, b, 0, r, a, 0, I, WType.F32, 1, c, 0, I, 1, 0, 0, 0);
    for (let o = 0; o < O; o++) n[o] = Math.sqrt(kernels.sumSquares(c.subarray(o * I, (o + 1) * I), I));
    return n;
  }
  // C[I, O] += s · Aᵀ · Bᵀ (A stored [r, I], B stored [O, r]); norms over the columns.
  kernels.gemm(true, true, I, O, r, s, a, 0, I, b, 0, r, WType.F32, 1, c, 0, O, 1, 0, 0, 0);
  const acc = new Float64Array(O);
  for (let i = 0; i < I; i++) {
    const row = c.subarray(i * O, (i + 1) * O);
    for (let o = 0; o < O; o++) {
      const v = row[o] ?? 0;
      acc[o] = (acc[o] ?? 0) + v * v;
    }
  }
  for (let o = 0; o < O; o++) n[o] = Math.sqrt(acc[o] ?? 0);
  return n;
}

/** n[o] = ‖W[o, :] + s·(B·A)[o, :]‖₂ in float64, for W [O, I], B [O, r], A [r, I] (the reference). */
export function doraRowNorms(
  w: Float32Array,
  b: Float32Array,
  a: Float32Array,
  O: number,
  I: number,
  r: number,
  s: number,
): Float32Array {
  const n = new Float32Array(O);
  const row = new Float64Array(I);
  for (let o = 0; o < O; o++) {
    for (let i = 0; i < I; i++) row[i] = w[o * I + i] ?? 0;
    for (let k = 0; k < r; k++) {
      const bk = s * (b[o * r + k] ?? 0);
      if (bk === 0) continue;
      for (let i = 0; i < I; i++) row[i] = (row[i] ?? 0) + bk * (a[k * I + i] ?? 0);
    }
    let ss = 0;
    for (let i = 0; i < I; i++) ss += (row[i] ?? 0) ** 2;
    n[o] = Math.sqrt(ss);
  }
  return n;
}

/** The magnitude DoRA starts from: the row norms of the (LoRA-updated) weight. */
export function initialMagnitude(base: Linear, b: Float32Array, a: Float32Array, r: number, s: number): Float32Array {
  return doraWeightNorms(base, b, a, r, s);
}
