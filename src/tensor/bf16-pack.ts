/**
 * Frozen bf16-compute weights packed once for the AVX512_BF16 GEMM (kernels.packBf16Dot), kept
 * for as long as the weight's storage lives. A vocabulary head is multiplied four times per
 * training step (two row chunks, forward and input gradient), each time repacking all of it
 * (77 MB for GPT-2's 50k x 768): with the pack kept, that pass is gone, for one more copy of the
 * weight per orientation in memory (see `packedBf16`).
 */
import { kernels } from '../native/index.js';
import { WType } from '../native/kernels.js';
import type { Tensor } from './tensor.js';

interface Packs {
  /**
   * The backend and SIMD build the packs were made for (a switch makes them stale): by name, not
   * by object, since the profiler swaps in a wrapper of the same kernels.
   */
  backend: string;
  /** Fingerprint of the weight bits when packed. */
  fingerprint: number;
  /** By orientation: transB (the [vocab, hidden] weight as stored, i.e. x·Wᵀ) or not (dz·W). */
  packs: Map<boolean, Uint32Array | null>;
}

/** Keyed by the storage array: a weight whose `data` is replaced gets a new pack. */
const cache = new WeakMap<Uint16Array, Packs>();

/** Sampled positions of the fingerprint. */
const SAMPLES = 4096;

/**
 * FNV-1a over SAMPLES evenly spaced values plus the first and last 64: a guard against a weight
 * changed in place after it was packed (frozen weights should never be; `data` should be
 * replaced instead), not a proof: a change that misses every sampled value goes unseen.
 */
function fingerprint(d: Uint16Array): number {
  let h = 0x811c9dc5;
  const mix = (v: number): void => {
    h = Math.imul(h ^ v, 0x01000193);
  };
  const n = d.length;
  const step = Math.max(1, Math.floor(n / SAMPLES));
  for (let i = 0; i < n; i += step) mix(d[i]!);
  for (let i = 0; i < Math.min(64, n); i++) {
    mix(d[i]!);
    mix(d[n - 1 - i]!);
  }
  return h >>> 0;
}

/**
 * The packed form of a 2-D bf16-compute weight W ([rows, cols] as stored) for `gemm` with
 * `transB` (op(B) = Wᵀ: K = cols, N = rows) or without (op(B) = W: K = rows, N = cols), built on
 * first use and kept while `weight.data` is the same array with the same sampled bits; null where
 * the weight is not bf16-compute or the active kernels have no bf16 GEMM. Each orientation costs
 * one more copy of the weight (2 bytes per value, N rounded up to 32).
 */
export function packedBf16(weight: Tensor, transB: boolean): Uint32Array | null {
  if (weight.wtype !== WType.BF16Dot || weight.ndim !== 2 || !(weight.data instanceof Uint16Array)) return null;
  const data = weight.data;
  const fp = fingerprint(data);
  let entry = cache.get(data);
  const backend = `${kernels.name}/${kernels.simd}`;
  if (!entry || entry.backend !== backend || entry.fingerprint !== fp) {
    entry = { backend, fingerprint: fp, packs: new Map() };
    cache.set(data, entry);
  }
  const cached = entry.packs.get(transB);
  if (cached !== undefined) return cached;
  const [rows, cols] = weight.shape as [number, number];
  const pack = transB
    ? kernels.packBf16Dot(data, 0, cols, true, cols, rows)
    : kernels.packBf16Dot(data, 0, cols, false, rows, cols);
  entry.packs.set(transB, pack);
  return pack;
}
