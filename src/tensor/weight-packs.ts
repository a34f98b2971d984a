/**
 * Frozen low-precision weights kept once more in the layout a kernel multiplies from fastest, for
 * as long as the weight's storage lives:
 *  - bf16-compute weights packed for the AVX512_BF16 GEMM (kernels.packBf16Dot). A vocabulary
 *    head is multiplied four times per training step (two row chunks, forward and input
 *    gradient), each time repacking all of it (77 MB for GPT-2's 50k x 768): with the pack kept,
 *    that pass is gone, for one more copy of the weight per orientation (see `packedBf16`).
 *  - int8 and bf16 weights stored [in, out] (GPT-2's Conv1D), for the decoding products: one more
 *    copy of the weight, made by the first decoding product, read ~1.3x faster (see `decodingPack`).
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
  /** By kind: 'transB' (the [vocab, hidden] weight as stored, i.e. x·Wᵀ) and 'plain' (dz·W, or decoding). */
  packs: Map<string, Uint32Array | null>;
}

/**
 * Packs keyed by the storage array (a weight whose `data` is replaced gets new ones), checked
 * against a fingerprint of `samples` values on every use: 4096 for the training packs (a few
 * calls per step), 32 for the decoding ones, checked before each of the 48 products of a
 * GPT-2-small token: the samples are cache misses (the products read the pack, not the weight),
 * and 256 of them took ~5% of an int8 token.
 */
class Shelf {
  private readonly packs = new WeakMap<Uint16Array | Int8Array, Packs>();

  constructor(private readonly samples: number) {}

  /** The pack of `kind` of this storage, made by `make` unless one for these bits and kernels is kept. */
  get(data: Uint16Array | Int8Array, kind: string, make: () => Uint32Array | null): Uint32Array | null {
    const fp = fingerprint(data, this.samples);
    let entry = this.packs.get(data);
    const backend = backendName();
    if (!entry || entry.backend !== backend || entry.fingerprint !== fp) {
      entry = { backend, fingerprint: fp, packs: new Map() };
      this.packs.set(data, entry);
    }
    const kept = entry.packs.get(kind);
    if (kept !== undefined) return kept;
    const pack = make();
    entry.packs.set(kind, pack);
    return pack;
  }
}

/**
 * `name/simd` of the active kernels, built again only when the kernels object or its SIMD build
 * (setNativeSimd switches it in place) changes, not once per product.
 */
let named: { kernels: object; simd: string; name: string } | null = null;
function backendName(): string {
  const simd = kernels.simd;
  if (named?.kernels !== kernels || named.simd !== simd) named = { kernels, simd, name: `${kernels.name}/${simd}` };
  return named.name;
}

const trainingPacks = new Shelf(4096);
const decodingPacks = new Shelf(32);

/**
 * FNV-1a over `samples` evenly spaced values plus the first and last 64: a guard against a weight
 * changed in place after it was packed (frozen weights should never be; `data` should be
 * replaced instead), not a proof: a change that misses every sampled value goes unseen.
 */
function fingerprint(d: Uint16Array | Int8Array, samples: number): number {
  let h = 0x811c9dc5;
  const n = d.length;
  const step = Math.max(1, Math.floor(n / samples));
  for (let i = 0; i < n; i += step) h = Math.imul(h ^ d[i]!, 0x01000193);
  for (let i = 0; i < Math.min(64, n); i++) {
    h = Math.imul(h ^ d[i]!, 0x01000193);
    h = Math.imul(h ^ d[n - 1 - i]!, 0x01000193);
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
  const [rows, cols] = weight.shape as [number, number];
  return trainingPacks.get(data, transB ? 'transB' : 'plain', () =>
    transB
      ? kernels.packBf16Dot(data, 0, cols, true, cols, rows)
      : kernels.packBf16Dot(data, 0, cols, false, rows, cols),
  );
}

/**
 * The `bPacked` of a decoding product (at most 4 rows, bType I8Dot or BF16Dot) by a 2-D weight
 * stored [in, out] (GPT-2's Conv1D; K = rows, N = cols): the VNNI kernel's panels of an int8
 * weight (kernels.packI8Dot), the bf16 GEMM's panels of a bf16-compute one (kernels.packBf16Dot).
 * Either is read as one sequential stream, ~1.3x faster from memory than the strips of short row
 * runs the stored layout gives, with the same bits in the result. Built on first use and kept like
 * `packedBf16`'s packs, for one more copy of the weight; null for other weights, or where the
 * active kernels have no use for it.
 */
export function decodingPack(weight: Tensor): Uint32Array | null {
  if (weight.ndim !== 2) return null;
  const data = weight.data;
  const [rows, cols] = weight.shape as [number, number];
  if (weight.dtype === 'i8' && data instanceof Int8Array)
    return decodingPacks.get(data, 'plain', () => kernels.packI8Dot(data, 0, cols, rows, cols));
  if (weight.wtype === WType.BF16Dot && data instanceof Uint16Array)
    return decodingPacks.get(data, 'plain', () => kernels.packBf16Dot(data, 0, cols, false, rows, cols));
  return null;
}
