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

/** n[o] = ‖W[o, :] + s·(B·A)[o, :]‖₂ in float64, for W [O, I], B [O, r], A [r, I]. */
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
export function initialMagnitude(
  w: Float32Array,
  b: Float32Array,
  a: Float32Array,
  O: number,
  I: number,
  r: number,
  s: number,
): Float32Array {
  return doraRowNorms(w, b, a, O, I, r, s);
}
