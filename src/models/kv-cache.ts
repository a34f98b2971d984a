/**
 * The KV cache: keys and values of earlier positions, per layer, [batch, kv_heads, positions, head_dim].
 *
 * In inference (nothing being appended needs a gradient) a layer's keys and values live in one
 * buffer per tensor with room for more positions than it holds ([batch, kv_heads, capacity,
 * head_dim]); appending copies only the new positions, and the capacity doubles when full, so a
 * decode step costs O(new positions) instead of re-concatenating everything held (O(held), per
 * layer and per token). Attention reads the buffer in place (`kvLength` of
 * scaledDotProductAttention, the kernels' `kvStride`).
 *
 * When something appended needs a gradient (a trainable prefix seeded through `update` while
 * recording), that layer falls back to differentiable concatenation, so the cache stays usable in
 * training.
 *
 * A prefix (prefix tuning, `CausalLMInput.prefix`) can be held at the front of the cache
 * (`seedPrefix`, done by the decoders on the first call that brings a prefix and an empty cache):
 * later calls then need not pass it again, nor concatenate it each step. `length` counts the
 * positions after the prefix, `prefixLength` the prefix.
 */
import * as F from '../tensor/ops.js';
import { isGradEnabled, Tensor } from '../tensor/tensor.js';

/** What one layer holds: keys/values [B, kv_heads, ≥ kvLength, D], of which the first kvLength positions are real. */
export interface CachedKeyValues {
  k: Tensor;
  v: Tensor;
  /** Positions of dim 2 holding keys (the rest is spare capacity). */
  kvLength: number;
}

/** A layer in inference mode: buffers with capacity. */
interface BufferLayer {
  kind: 'buffer';
  B: number;
  H: number;
  D: number;
  capacity: number;
  held: number;
  /** [B, H, capacity, D] views over the buffers (what attention reads). */
  k: Tensor;
  v: Tensor;
}

/** A layer holding differentiable tensors (concatenated on append). */
interface GraphLayer {
  kind: 'graph';
  k: Tensor;
  v: Tensor;
}

type Layer = BufferLayer | GraphLayer;

/** Capacity of a fresh buffer: the positions needed, at least this many (then doubled as needed). */
const MIN_CAPACITY = 16;

function held(l: Layer): number {
  return l.kind === 'buffer' ? l.held : l.k.dim(2);
}

/** [B, H, n, D] rows of `src` (stride srcCap positions) into `dst` (stride dstCap) at position `at`. */
function copyRows(
  src: Float32Array,
  srcCap: number,
  srcFrom: number,
  dst: Float32Array,
  dstCap: number,
  at: number,
  BH: number,
  n: number,
  D: number,
): void {
  if (n === 0) return;
  const run = n * D;
  for (let r = 0; r < BH; r++) {
    const s = (r * srcCap + srcFrom) * D;
    const d = (r * dstCap + at) * D;
    // A decoded token's rows are short (one head, D values): a loop, without a subarray view per row.
    if (run <= 256) for (let i = 0; i < run; i++) dst[d + i] = src[s + i]!;
    else dst.set(src.subarray(s, s + run), d);
  }
}

/** Keys/values of earlier positions, per layer (see the file comment). */
export class KVCache {
  private readonly store: Array<Layer | null>;
  private prefixLen = 0;

  constructor(numLayers: number) {
    if (!Number.isSafeInteger(numLayers) || numLayers < 1)
      throw new Error(`KVCache: numLayers must be a positive integer, got ${numLayers}`);
    this.store = new Array<Layer | null>(numLayers).fill(null);
  }

  /** Number of layers. */
  get numLayers(): number {
    return this.store.length;
  }

  /** Positions held after the prefix (the tokens cached so far). */
  get length(): number {
    const first = this.store[0];
    return first ? held(first) - this.prefixLen : 0;
  }

  /** Positions of a seeded prefix at the front (0 without one). */
  get prefixLength(): number {
    return this.prefixLen;
  }

  /** Positions the buffers of layer `i` can hold before growing (held positions for a graph layer). */
  capacity(i = 0): number {
    const l = this.store[i];
    return !l ? 0 : l.kind === 'buffer' ? l.capacity : l.k.dim(2);
  }

  /**
   * Everything held per layer (prefix included) as compact tensors [B, kv_heads, held, D]: copies
   * for buffer layers (later appends do not change them), the tensors themselves for graph layers.
   */
  get layers(): Array<{ k: Tensor; v: Tensor } | null> {
    return this.store.map((l) => {
      if (!l) return null;
      if (l.kind === 'graph') return { k: l.k, v: l.v };
      const out = (t: Tensor): Tensor => {
        const data = new Float32Array(l.B * l.H * l.held * l.D);
        copyRows(t.f32, l.capacity, 0, data, l.held, 0, l.B * l.H, l.held, l.D);
        return new Tensor(data, [l.B, l.H, l.held, l.D]);
      };
      return { k: out(l.k), v: out(l.v) };
    });
  }

  /**
   * Append this step's keys/values [B, kv_heads, T, D] to layer `i` and return everything held for
   * it (prefix, cached, new) as {k, v, kvLength}: in inference k/v are the capacity buffers, of
   * which the first kvLength positions are real.
   */
  update(i: number, k: Tensor, v: Tensor): CachedKeyValues {
    if (!Number.isInteger(i) || i < 0 || i >= this.store.length)
      throw new Error(`KVCache.update: layer ${i} is out of range (the cache has ${this.store.length} layers)`);
    if (k.ndim !== 4 || v.ndim !== 4 || k.shape.some((s, j) => s !== v.shape[j]))
      throw new Error(
        `KVCache.update: k and v must both be [batch, kv_heads, seq, head_dim], got ${k.label()}, ${v.label()}`,
      );
    const [B, H, T, D] = k.shape as [number, number, number, number];
    let l = this.store[i] ?? null;
    if (l) {
      const [lB, lH, , lD] = l.kind === 'buffer' ? [l.B, l.H, 0, l.D] : l.k.shape;
      if (lB !== B || lH !== H || lD !== D)
        throw new Error(
          `KVCache.update: layer ${i} holds [${lB}, ${lH}, *, ${lD}] (batch, kv_heads, positions, head_dim); cannot append ${k.label()}`,
        );
    }
    const differentiable = isGradEnabled() && (k.requiresGrad || v.requiresGrad);
    if (differentiable || l?.kind === 'graph') {
      if (l?.kind === 'buffer') {
        const compact = this.layers[i];
        if (!compact) throw new Error('KVCache: internal error (layer vanished)');
        l = { kind: 'graph', k: compact.k, v: compact.v };
      }
      const next: GraphLayer = l
        ? { kind: 'graph', k: F.concat([l.k, k], 2), v: F.concat([l.v, v], 2) }
        : { kind: 'graph', k, v };
      this.store[i] = next;
      return { k: next.k, v: next.v, kvLength: next.k.dim(2) };
    }
    const b = this.reserve(i, l, B, H, T, D);
    copyRows(k.f32, T, 0, b.k.f32, b.capacity, b.held, B * H, T, D);
    copyRows(v.f32, T, 0, b.v.f32, b.capacity, b.held, B * H, T, D);
    b.held += T;
    return { k: b.k, v: b.v, kvLength: b.held };
  }

  /**
   * `update` for a fused projection's output: appends the keys and values of `qkv` [B, T,
   * (H + 2·kvHeads)·D] (per token H query heads, then the key heads, then the value heads, as
   * GPT-2's c_attn writes them) to layer `i`, copied straight from those rows into the buffers (no
   * split into head tensors first), and returns everything held, for ops.cachedPackedAttention.
   * Null when the layer cannot take them in place: it holds differentiable tensors, `qkv` needs a
   * gradient, or a subclass overrides `update` (its appends must all go through it): then split
   * the heads and call `update`.
   */
  appendPacked(i: number, qkv: Tensor, heads: number, kvHeads: number): CachedKeyValues | null {
    if (!Number.isInteger(i) || i < 0 || i >= this.store.length)
      throw new Error(`KVCache.appendPacked: layer ${i} is out of range (the cache has ${this.store.length} layers)`);
    if (this.update !== KVCache.prototype.update) return null;
    const l = this.store[i] ?? null;
    if (l?.kind === 'graph' || (qkv.requiresGrad && isGradEnabled())) return null;
    const [B = 0, T = 0, C = 0] = qkv.shape;
    const D = C / (heads + 2 * kvHeads);
    if (qkv.ndim !== 3 || !Number.isInteger(D) || D < 1)
      throw new Error(
        `KVCache.appendPacked: qkv must be [batch, seq, (${heads} + 2·${kvHeads}) heads · head_dim], got ${qkv.label()}`,
      );
    if (l && (l.B !== B || l.H !== kvHeads || l.D !== D))
      throw new Error(
        `KVCache.appendPacked: layer ${i} holds [${l.B}, ${l.H}, *, ${l.D}] (batch, kv_heads, positions, head_dim); cannot append ${kvHeads} heads of ${D} from ${qkv.label()}`,
      );
    const b = this.reserve(i, l, B, kvHeads, T, D);
    const x = qkv.f32;
    const kb = b.k.f32;
    const vb = b.v.f32;
    for (let r = 0; r < B; r++)
      for (let t = 0; t < T; t++)
        for (let h = 0; h < kvHeads; h++) {
          const src = (r * T + t) * C + (heads + h) * D; // key head h; its value head follows kvHeads·D later
          const dst = ((r * kvHeads + h) * b.capacity + b.held + t) * D;
          for (let d = 0; d < D; d++) {
            kb[dst + d] = x[src + d]!;
            vb[dst + d] = x[src + kvHeads * D + d]!;
          }
        }
    b.held += T;
    return { k: b.k, v: b.v, kvLength: b.held };
  }

  /** Layer `i` as buffers with room for T more positions (grown by doubling, contents kept). */
  private reserve(i: number, l: BufferLayer | null, B: number, H: number, T: number, D: number): BufferLayer {
    const need = (l?.held ?? 0) + T;
    if (l && need <= l.capacity) return l;
    let capacity = Math.max(MIN_CAPACITY, l?.capacity ?? 0);
    while (capacity < need) capacity *= 2;
    const kb = new Float32Array(B * H * capacity * D);
    const vb = new Float32Array(B * H * capacity * D);
    if (l) {
      copyRows(l.k.f32, l.capacity, 0, kb, capacity, 0, B * H, l.held, D);
      copyRows(l.v.f32, l.capacity, 0, vb, capacity, 0, B * H, l.held, D);
    }
    const grown: BufferLayer = {
      kind: 'buffer',
      B,
      H,
      D,
      capacity,
      held: l?.held ?? 0,
      k: new Tensor(kb, [B, H, capacity, D]),
      v: new Tensor(vb, [B, H, capacity, D]),
    };
    this.store[i] = grown;
    return grown;
  }

  /**
   * Hold `prefix` (one {k, v} [B, kv_heads, P, D] per layer) at the front of this empty cache, so
   * that later forwards need not pass it. Only in inference: a prefix that needs a gradient stays
   * an input (`CausalLMInput.prefix`) on every call.
   */
  seedPrefix(prefix: ReadonlyArray<{ readonly k: Tensor; readonly v: Tensor }>): void {
    if (this.store.some((l) => l !== null))
      throw new Error('KVCache.seedPrefix: the cache already holds positions; a prefix goes into an empty cache');
    if (prefix.length !== this.store.length)
      throw new Error(`KVCache.seedPrefix: the prefix has ${prefix.length} layers, the cache ${this.store.length}`);
    if (isGradEnabled() && prefix.some((p) => p.k.requiresGrad || p.v.requiresGrad))
      throw new Error(
        'KVCache.seedPrefix: this prefix needs a gradient; pass it as input.prefix on every call instead',
      );
    const P = prefix[0]?.k.dim(2) ?? 0;
    if (P === 0) return;
    prefix.forEach((p, i) => {
      if (p.k.dim(2) !== P)
        throw new Error(`KVCache.seedPrefix: prefix layers differ in length (${P} vs ${p.k.label()})`);
      this.update(i, p.k, p.v);
    });
    this.prefixLen = P;
  }

  /**
   * True when `prefix` holds exactly the values this cache was seeded with (what a forward that
   * brings the same prefix again checks, instead of attending to it twice).
   */
  holdsPrefix(prefix: ReadonlyArray<{ readonly k: Tensor; readonly v: Tensor }>): boolean {
    const P = this.prefixLen;
    if (P === 0 || prefix.length !== this.store.length) return false;
    return prefix.every((p, i) => {
      const l = this.store[i];
      if (!l || p.k.dim(2) !== P) return false;
      const same = (mine: Tensor, theirs: Tensor): boolean => {
        const [B, H, , D] = theirs.shape as [number, number, number, number];
        const cap = l.kind === 'buffer' ? l.capacity : mine.dim(2);
        const a = mine.f32;
        const b = theirs.f32;
        for (let r = 0; r < B * H; r++)
          for (let j = 0; j < P * D; j++) if (a[r * cap * D + j] !== b[r * P * D + j]) return false;
        return true;
      };
      return same(l.k, p.k) && same(l.v, p.v);
    });
  }

  /** Keep the first `n` positions after the prefix (drop a rejected continuation). */
  truncate(n: number): void {
    if (!Number.isInteger(n) || n < 0) throw new Error(`KVCache.truncate: n must be an integer >= 0, got ${n}`);
    const keep = this.prefixLen + n;
    this.store.forEach((l, i) => {
      if (!l || held(l) <= keep) return;
      if (l.kind === 'buffer') l.held = keep;
      else this.store[i] = { kind: 'graph', k: F.slice(l.k, 2, 0, keep), v: F.slice(l.v, 2, 0, keep) };
    });
  }
}
