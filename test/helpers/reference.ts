/**
 * Plain float64 reference computations for checking model blocks, one row at a time.
 */
import type { LayerNorm } from '../../src/nn/layers.js';

export type Vec = number[];

export const arr = (t: { f32: Float32Array }): Vec => Array.from(t.f32);

/** LayerNorm of one row with the module's weight and bias (biased variance). */
export function layerNormRef(x: Vec, ln: LayerNorm, eps: number): Vec {
  const n = x.length;
  const mean = x.reduce((s, v) => s + v, 0) / n;
  const variance = x.reduce((s, v) => s + (v - mean) ** 2, 0) / n;
  const g = arr(ln.weight);
  const b = arr(ln.bias!);
  return x.map((v, i) => ((v - mean) / Math.sqrt(variance + eps)) * g[i]! + b[i]!);
}
