/**
 * IA3 layer (PEFT's ia3.Linear): one learned vector `ia3_l.<name>` per adapter.
 *
 *   attention targets:     y = base(x) · l        l [out, 1]   (the bias is scaled too)
 *   feed-forward targets:  y = base(x · l)        l [1, in]
 *
 * Vectors start at 1, so the layer starts as the base. Merging scales W's rows (and the bias) or
 * columns; unmerge restores the exact previous weights.
 */
import type { Linear } from '../../nn/layers.js';
import { ParamDict } from '../../nn/module.js';
import * as F from '../../tensor/ops.js';
import { Rng } from '../../tensor/random.js';
import { Tensor } from '../../tensor/tensor.js';
import { TunerLayer, setBaseWeight, weightF32 } from '../tuner.js';

export class IA3Linear extends TunerLayer {
  declare base_layer: Linear;
  ia3_l = new ParamDict();
  readonly prefix = 'ia3_';
  private readonly backup = new Map<string, { weight: Tensor; bias: Tensor | null }>();

  constructor(
    base: Linear,
    readonly isFeedforward: boolean,
  ) {
    super(base);
    base.freeze();
  }

  get weight(): Tensor {
    return this.base_layer.weight;
  }

  adapterNames(): string[] {
    return this.ia3_l.keys();
  }

  /** Adds a named IA3 vector (ones, or random when not init_ia3_weights). */
  addAdapter(name: string, opts: { init?: boolean; seed?: number } = {}): void {
    const { inFeatures: I, outFeatures: O } = this.base_layer;
    const shape = this.isFeedforward ? [1, I] : [O, 1];
    const l =
      (opts.init ?? true)
        ? F.full(shape, 1, { requiresGrad: true })
        : F.randn(shape, new Rng(opts.seed ?? 0), 1, { requiresGrad: true });
    this.ia3_l.set(name, l);
  }

  protected removeAdapter(name: string): void {
    this.ia3_l.delete(name);
  }

  /** The base output (or input, for feed-forward modules) scaled by the active vectors. */
  forward(x: Tensor): Tensor {
    const live = this.liveAdapters();
    if (live.length === 0) return this.baseForward(x);
    let scale: Tensor | null = null;
    for (const n of live) {
      const l = this.ia3_l.get(n);
      if (!l) continue;
      const flat = F.reshape(l, [l.size]);
      scale = scale ? F.mul(scale, flat) : flat;
    }
    if (!scale) return this.baseForward(x);
    return this.isFeedforward ? this.baseForward(F.mul(x, scale)) : F.mul(this.baseForward(x), scale);
  }

  protected mergeAdapter(name: string): void {
    const l = this.ia3_l.get(name)?.f32;
    if (!l) throw new Error(`IA3 layer has no adapter "${name}"`);
    const base = this.base_layer;
    this.backup.set(name, { weight: base.weight, bias: base.bias });
    const { inFeatures: I, outFeatures: O, weightInOut } = base;
    const w = weightF32(base.weight).slice();
    for (let o = 0; o < O; o++)
      for (let i = 0; i < I; i++) {
        const idx = weightInOut ? i * O + o : o * I + i;
        w[idx] = (w[idx] ?? 0) * (this.isFeedforward ? (l[i] ?? 1) : (l[o] ?? 1));
      }
    setBaseWeight(base, w);
    if (!this.isFeedforward && base.bias) {
      const b = F.toF32(base.bias).f32.slice();
      for (let o = 0; o < O; o++) b[o] = (b[o] ?? 0) * (l[o] ?? 1);
      base.bias = new Tensor(b, [O]);
    }
  }

  protected unmergeAdapter(name: string): void {
    const saved = this.backup.get(name);
    if (!saved) throw new Error(`adapter "${name}" is not merged`);
    this.base_layer.weight = saved.weight;
    this.base_layer.bias = saved.bias;
    this.backup.delete(name);
  }
}
