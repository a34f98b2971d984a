/**
 * LoRA layers (MLX-LM's `LoRALinear.from_base`, PEFT's `lora/layer.py`). Each wraps a frozen base
 * and holds one update per adapter name:
 *
 *   Linear:     y = base_layer(x) + scaling · lora_B(lora_A(dropout(x)))
 *               lora_A [r, in], lora_B [out, r], in torch.nn.Linear's orientation even when the
 *               base is GPT-2's Conv1D ([in, out]); only the merged delta is transposed (fan_in_fan_out).
 *   DoRA:       y = base(x) + (m/n − 1)·(W·x') + (m/n)·scaling·B·A·x'   (x' = dropout(x))
 *               n = ‖W + scaling·B·A‖ per output row, a constant in backward (see dora.ts)
 *   Embedding:  y = base(ids) + scaling · (lora_embedding_Aᵀ[ids]) · lora_embedding_Bᵀ
 *               lora_embedding_A [r, num], lora_embedding_B [dim, r] (PEFT: A zero, B normal)
 *
 * `fuse()` returns a plain merged layer; `merge()`/`unmerge()` fold adapters in and out in place
 * (unmerge restores the exact previous weights).
 */
import { type Embedding, Linear } from '../../nn/layers.js';
import { ModuleDict, ParamDict } from '../../nn/module.js';
import * as F from '../../tensor/ops.js';
import { Rng } from '../../tensor/random.js';
import { Tensor } from '../../tensor/tensor.js';
import { TunerLayer, setBaseWeight, weightF32 } from '../tuner.js';
import { doraWeightNorms, initialMagnitude } from './dora.js';
import { loraScaling, type LoraConfig, type LoraInit } from './config.js';
import { pissaInit } from './pissa.js';

/** The per-adapter settings a LoRA layer needs. */
export type LoraLayerOptions = Pick<LoraConfig, 'r' | 'loraAlpha' | 'useRslora'> &
  Partial<Pick<LoraConfig, 'loraDropout' | 'initLoraWeights' | 'useDora'>> & { seed?: number };

interface AdapterSettings {
  scaling: number;
  dropout: number;
  useDora: boolean;
  r: number;
}

/** Weights replaced by merges, restored by unmerge (exactly). */
type MergeBackup = Map<string, { weight: Tensor; bias: Tensor | null }>;

/** [out, in] float32 copy of a Linear's weight, whatever its storage layout. */
export function weightOutIn(base: Linear): Float32Array {
  const w = weightF32(base.weight);
  if (!base.weightInOut) return w.slice();
  const { inFeatures: I, outFeatures: O } = base;
  const out = new Float32Array(O * I);
  for (let i = 0; i < I; i++) for (let o = 0; o < O; o++) out[o * I + i] = w[i * O + o] ?? 0;
  return out;
}

/** Kaiming-uniform(a=√5) on [rows, fanIn], torch.nn.Linear's default: U(−1/√fanIn, 1/√fanIn). */
function kaiming(shape: [number, number], rng: Rng): Tensor {
  const bound = 1 / Math.sqrt(shape[1]);
  return F.rand(shape, rng, -bound, bound, { requiresGrad: true });
}

export class LoRALinear extends TunerLayer {
  declare base_layer: Linear;
  lora_A = new ModuleDict<Linear>();
  lora_B = new ModuleDict<Linear>();
  /** DoRA magnitudes [out] per adapter (only adapters with useDora). */
  lora_magnitude_vector = new ParamDict();
  readonly prefix = 'lora_';
  private readonly settings = new Map<string, AdapterSettings>();
  private readonly backup: MergeBackup = new Map();
  private readonly rng: Rng;

  constructor(base: Linear, seed = 0) {
    super(base);
    this.rng = new Rng(seed ^ 0x5bd1e995);
    base.freeze();
  }

  get inFeatures(): number {
    return this.base_layer.inFeatures;
  }
  get outFeatures(): number {
    return this.base_layer.outFeatures;
  }
  get weightInOut(): boolean {
    return this.base_layer.weightInOut;
  }
  /** The base weight (code that reads a Linear's weight directly sees the frozen base). */
  get weight(): Tensor {
    return this.base_layer.weight;
  }
  get bias(): Tensor | null {
    return this.base_layer.bias;
  }

  /** Wrap `base` (which is frozen) with adapter "default", a fresh update that starts at zero. */
  static fromBase(base: Linear, opts: LoraLayerOptions): LoRALinear {
    const layer = new LoRALinear(base, opts.seed ?? 0);
    layer.addAdapter('default', opts);
    layer.activeAdapters = ['default'];
    return layer;
  }

  adapterNames(): string[] {
    return this.lora_A.keys();
  }

  /** Scaling of an adapter (alpha/r or alpha/√r). */
  scalingOf(name = 'default'): number {
    const s = this.settings.get(name);
    if (!s) throw new Error(`LoRA layer has no adapter "${name}"`);
    return s.scaling;
  }

  /** First adapter's scaling (single-adapter convenience). */
  get scaling(): number {
    return this.scalingOf(this.adapterNames()[0] ?? 'default');
  }

  /** Add adapter `name` with rank r; initialised by `initLoraWeights` (default: B zero, the identity). */
  addAdapter(name: string, opts: LoraLayerOptions): void {
    if (this.lora_A.has(name)) throw new Error(`LoRA layer already has an adapter "${name}"`);
    const rng = new Rng(opts.seed ?? 0);
    const { inFeatures: I, outFeatures: O } = this.base_layer;
    const r = opts.r;
    const init: LoraInit = opts.initLoraWeights ?? 'default';
    const scaling = loraScaling(opts);
    const A = new Linear(I, r, { bias: false });
    const B = new Linear(r, O, { bias: false });
    if (init === 'gaussian') A.weight = F.randn([r, I], rng, 1 / r, { requiresGrad: true });
    else A.weight = kaiming([r, I], rng);
    B.weight = init === 'none' ? kaiming([O, r], rng) : F.zeros([O, r], { requiresGrad: true });
    if (init.startsWith('pissa')) {
      const niter = init === 'pissa' ? null : Number(init.slice('pissa_niter_'.length));
      const w = weightOutIn(this.base_layer);
      const { a, b, residual } = pissaInit(w, O, I, r, scaling, niter, rng);
      A.weight = new Tensor(a, [r, I], { requiresGrad: true });
      B.weight = new Tensor(b, [O, r], { requiresGrad: true });
      setBaseWeight(this.base_layer, this.base_layer.weightInOut ? transposeOutIn(residual, O, I) : residual);
    }
    this.lora_A.set(name, A);
    this.lora_B.set(name, B);
    this.settings.set(name, { scaling, dropout: opts.loraDropout ?? 0, useDora: opts.useDora ?? false, r });
    if (opts.useDora) {
      const m = initialMagnitude(this.base_layer, B.weight.f32, A.weight.f32, r, scaling);
      this.lora_magnitude_vector.set(name, new Tensor(m, [O], { requiresGrad: true }));
    }
  }

  protected removeAdapter(name: string): void {
    this.lora_A.delete(name);
    this.lora_B.delete(name);
    this.lora_magnitude_vector.delete(name);
    this.settings.delete(name);
  }

  /** Settings of an adapter (for saving and combining adapters). */
  adapterSettings(name: string): Readonly<AdapterSettings> {
    const s = this.settings.get(name);
    if (!s) throw new Error(`LoRA layer has no adapter "${name}"`);
    return s;
  }

  /** Install adapter weights computed elsewhere (addWeightedAdapter). */
  setAdapterWeights(name: string, a: Tensor, b: Tensor, scaling: number): void {
    const A = new Linear(this.inFeatures, a.dim(0), { bias: false });
    const B = new Linear(b.dim(1), this.outFeatures, { bias: false });
    A.weight = a;
    B.weight = b;
    this.lora_A.set(name, A);
    this.lora_B.set(name, B);
    this.settings.set(name, { scaling, dropout: 0, useDora: false, r: a.dim(0) });
  }

  /** The base output plus each active adapter's scaled B·A·dropout(x) (DoRA: the magnitude-rescaled form). */
  forward(x: Tensor): Tensor {
    const live = this.liveAdapters();
    const fused = this.fusedForward(x, live);
    if (fused) return fused;
    let y = this.baseForward(x);
    if (live.length === 0) return y;
    const y0 = y;
    for (const name of live) {
      const s = this.settings.get(name);
      const A = this.lora_A.get(name);
      const B = this.lora_B.get(name);
      if (!s || !A || !B) continue;
      const xd = F.dropout(x, s.dropout, this.rng, this.training);
      if (!s.useDora) {
        // scaling is applied inside the second GEMM: no extra pass over [tokens, out].
        y = F.add(y, F.linear(F.linear(xd, A.weight), B.weight, null, { alpha: s.scaling }));
        continue;
      }
      const m = this.lora_magnitude_vector.get(name);
      if (!m) throw new Error(`DoRA adapter "${name}" has no magnitude vector`);
      // n = ‖W + s·B·A‖ per output row, detached (PEFT's weight_norm.detach()).
      const n = doraWeightNorms(this.base_layer, B.weight.f32, A.weight.f32, s.r, s.scaling);
      const magScale = F.div(m, new Tensor(n, [this.outFeatures])); // [out], gradient to m only
      const bias = this.base_layer.bias;
      // W·x' without bias: the base output when dropout is off, else a fresh product.
      const baseResult =
        xd === x
          ? bias
            ? F.sub(y0, bias)
            : y0
          : F.linear(xd, this.base_layer.weight, null, { weightInOut: this.weightInOut });
      const loraResult = F.linear(F.linear(xd, A.weight), B.weight);
      const dora = F.add(F.mul(baseResult, F.addScalar(magScale, -1)), F.mul(loraResult, F.scale(magScale, s.scaling)));
      y = F.add(y, dora);
    }
    return y;
  }

  /**
   * Plain LoRA adapters (no DoRA, no dropout in effect) on a plain Linear: the base product and every
   * update in one op (F.loraLinear), each update accumulated into the output by its own GEMM instead
   * of a [tokens, out] delta and an add. Null when the adapters or the base need the general path.
   */
  private fusedForward(x: Tensor, live: readonly string[]): Tensor | null {
    const base = this.base_layer;
    if (live.length === 0 || !(base instanceof Linear) || base.forward !== Linear.prototype.forward) return null;
    const updates: F.LoraUpdate[] = [];
    for (const name of live) {
      const s = this.settings.get(name);
      const A = this.lora_A.get(name)?.weight;
      const B = this.lora_B.get(name)?.weight;
      if (!s || !A || !B) continue;
      if (s.useDora || (s.dropout > 0 && this.training) || A.dtype !== 'f32' || B.dtype !== 'f32') return null;
      updates.push({ A, B, scale: s.scaling });
    }
    return F.loraLinear(x, base.weight, base.bias, updates, { weightInOut: base.weightInOut });
  }

  /** scaling · B @ A as [out, in] float32. */
  private deltaOutIn(name: string): Float32Array {
    const s = this.adapterSettings(name);
    const A = this.lora_A.get(name);
    const B = this.lora_B.get(name);
    if (!A || !B) throw new Error(`LoRA layer has no adapter "${name}"`);
    const ba = F.matmul(B.weight.detach(), A.weight.detach()).f32; // [out, in]
    for (let i = 0; i < ba.length; i++) ba[i] = (ba[i] ?? 0) * s.scaling;
    return ba;
  }

  /** scaling · B @ A in the base weight's layout ([out, in], or [in, out] for a Conv1D base). */
  delta(name = this.adapterNames()[0] ?? 'default'): Float32Array {
    const d = this.deltaOutIn(name);
    return this.weightInOut ? transposeOutIn(d, this.outFeatures, this.inFeatures) : d;
  }

  /** The merged [out, in] weight of one adapter on top of `w` (LoRA: W + ΔW; DoRA: diag(m/n)(W + ΔW)). */
  private mergedOutIn(name: string, w: Float32Array): Float32Array {
    const d = this.deltaOutIn(name);
    for (let i = 0; i < w.length; i++) w[i] = (w[i] ?? 0) + (d[i] ?? 0);
    if (this.adapterSettings(name).useDora) {
      const m = this.lora_magnitude_vector.get(name)?.f32;
      if (!m) throw new Error(`DoRA adapter "${name}" has no magnitude vector`);
      const I = this.inFeatures;
      for (let o = 0; o < this.outFeatures; o++) {
        let ss = 0;
        for (let i = 0; i < I; i++) ss += (w[o * I + i] ?? 0) ** 2;
        const f = (m[o] ?? 0) / Math.sqrt(ss);
        for (let i = 0; i < I; i++) w[o * I + i] = (w[o * I + i] ?? 0) * f;
      }
    }
    return w;
  }

  protected mergeAdapter(name: string): void {
    const base = this.base_layer;
    this.backup.set(name, { weight: base.weight, bias: base.bias });
    const w = this.mergedOutIn(name, weightOutIn(base));
    setBaseWeight(base, base.weightInOut ? transposeOutIn(w, this.outFeatures, this.inFeatures) : w);
  }

  protected unmergeAdapter(name: string): void {
    const saved = this.backup.get(name);
    if (!saved) throw new Error(`adapter "${name}" is not merged`);
    this.base_layer.weight = saved.weight;
    this.base_layer.bias = saved.bias;
    this.backup.delete(name);
  }

  /** A plain frozen Linear with the active adapters (default: all) merged into its weight (float32). */
  fuse(names: readonly string[] = this.activeAdapters.length ? this.activeAdapters : this.adapterNames()): Linear {
    const base = this.base_layer;
    let w = weightOutIn(base);
    for (const n of names) if (!this.merged.includes(n)) w = this.mergedOutIn(n, w);
    const out = new Linear(base.inFeatures, base.outFeatures, {
      bias: base.bias !== null,
      weightInOut: base.weightInOut,
    });
    out.weight = new Tensor(
      base.weightInOut ? transposeOutIn(w, this.outFeatures, this.inFeatures) : w,
      base.weight.shape,
    );
    out.bias = base.bias ? F.toF32(base.bias).detach() : null;
    return out.freeze();
  }
}

/** [O, I] row-major -> [I, O]. */
export function transposeOutIn(w: Float32Array, O: number, I: number): Float32Array {
  const t = new Float32Array(O * I);
  for (let o = 0; o < O; o++) for (let i = 0; i < I; i++) t[i * O + o] = w[o * I + i] ?? 0;
  return t;
}

/**
 * LoRA on an Embedding (PEFT's lora.Embedding): parameters `lora_embedding_A.<name>` [r, num] and
 * `lora_embedding_B.<name>` [dim, r]; A starts at zero and B ~ N(0, 1), so the update starts at
 * zero. No dropout (PEFT applies none to embeddings).
 */
export class LoRAEmbedding extends TunerLayer {
  declare base_layer: Embedding;
  lora_embedding_A = new ParamDict();
  lora_embedding_B = new ParamDict();
  readonly prefix = 'lora_';
  private readonly scalings = new Map<string, number>();
  private readonly backup: MergeBackup = new Map();

  constructor(base: Embedding) {
    super(base);
    base.freeze();
  }

  /** The base table: a tied output head keeps reading the frozen base (as in PEFT). */
  get weight(): Tensor {
    return this.base_layer.weight;
  }
  get numEmbeddings(): number {
    return this.base_layer.numEmbeddings;
  }
  get embeddingDim(): number {
    return this.base_layer.embeddingDim;
  }

  adapterNames(): string[] {
    return this.lora_embedding_A.keys();
  }

  /** The scaling (alpha / r, or alpha / √r with rsLoRA) of adapter `name`. */
  scalingOf(name: string): number {
    const s = this.scalings.get(name);
    if (s === undefined) throw new Error(`LoRA embedding has no adapter "${name}"`);
    return s;
  }

  /** Adds a named LoRA adapter (A zero-initialised as PEFT does for embeddings). */
  addAdapter(name: string, opts: LoraLayerOptions): void {
    if (opts.useDora)
      throw new Error(
        'DoRA on an Embedding is not supported; leave embeddings out of target_modules or set use_dora false',
      );
    const rng = new Rng(opts.seed ?? 0);
    const { numEmbeddings: N, embeddingDim: D } = this.base_layer;
    const init = opts.initLoraWeights ?? 'default';
    if (init.startsWith('pissa')) throw new Error('PiSSA initialisation of an Embedding is not supported');
    const A =
      init === 'none'
        ? F.randn([opts.r, N], rng, 1, { requiresGrad: true })
        : F.zeros([opts.r, N], { requiresGrad: true });
    const B = F.randn([D, opts.r], rng, 1, { requiresGrad: true });
    this.lora_embedding_A.set(name, A);
    this.lora_embedding_B.set(name, B);
    this.scalings.set(name, loraScaling(opts));
  }

  /** Install given factors (A [r, num], B [dim, r]) as adapter `name` (addWeightedAdapter). */
  setAdapterWeights(name: string, a: Tensor, b: Tensor, scaling: number): void {
    const { numEmbeddings: N, embeddingDim: D } = this.base_layer;
    if (a.ndim !== 2 || a.dim(1) !== N || b.ndim !== 2 || b.dim(0) !== D || b.dim(1) !== a.dim(0))
      throw new Error(
        `LoRA embedding: factors [${a.shape.join(', ')}] / [${b.shape.join(', ')}] do not fit a ${N}x${D} table (expected [r, ${N}] and [${D}, r])`,
      );
    this.lora_embedding_A.set(name, a);
    this.lora_embedding_B.set(name, b);
    this.scalings.set(name, scaling);
  }

  protected removeAdapter(name: string): void {
    this.lora_embedding_A.delete(name);
    this.lora_embedding_B.delete(name);
    this.scalings.delete(name);
  }

  /** The base lookup plus the active adapters' scaled B·A rows. */
  forward(ids: Int32Array, shape: readonly number[] = [ids.length]): Tensor {
    let y = this.base_layer.forward(ids, shape);
    for (const name of this.liveAdapters()) {
      const A = this.lora_embedding_A.get(name);
      const B = this.lora_embedding_B.get(name);
      if (!A || !B) continue;
      const afterA = F.embedding(F.transpose(A, 0, 1), ids, shape); // [..., r]
      y = F.add(y, F.linear(afterA, B, null, { alpha: this.scalingOf(name) }));
    }
    return y;
  }

  /** scaling · (B @ A)ᵀ as [num, dim]. */
  delta(name: string): Float32Array {
    const A = this.lora_embedding_A.get(name);
    const B = this.lora_embedding_B.get(name);
    if (!A || !B) throw new Error(`LoRA embedding has no adapter "${name}"`);
    const d = F.matmul(A.detach(), B.detach(), { transA: true, transB: true }).f32; // [num, dim]
    const s = this.scalingOf(name);
    for (let i = 0; i < d.length; i++) d[i] = (d[i] ?? 0) * s;
    return d;
  }

  protected mergeAdapter(name: string): void {
    const base = this.base_layer;
    this.backup.set(name, { weight: base.weight, bias: null });
    const w = weightF32(base.weight).slice();
    const d = this.delta(name);
    for (let i = 0; i < w.length; i++) w[i] = (w[i] ?? 0) + (d[i] ?? 0);
    setBaseWeight(base, w);
  }

  protected unmergeAdapter(name: string): void {
    const saved = this.backup.get(name);
    if (!saved) throw new Error(`adapter "${name}" is not merged`);
    this.base_layer.weight = saved.weight;
    this.backup.delete(name);
  }
}
