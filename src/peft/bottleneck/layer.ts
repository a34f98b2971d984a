/**
 * Bottleneck adapter layers. By default BERT uses BottleneckBlockLayer (its sub-layer output
 * module), GPT-2 and the Llama family DecoderBottleneckLayer (the block's residual add); a custom
 * target on a Linear gets BottleneckLayer, an adapter on that Linear's output:
 *
 *   h = proj(x);  y = h + scaling · up(act(down(h)))
 *
 * down = Linear(d, d/reduction) N(0, 0.02) with zero bias, up = Linear(d/reduction, d) all zero,
 * so the adapter starts as the identity. Parameters `adapters.<name>.adapter_down.0.weight`,
 * `adapter_up.weight` (AdapterHub's module names). Non-linear: cannot be merged.
 */
import { Linear } from '../../nn/layers.js';
import { Module, ModuleDict } from '../../nn/module.js';
import * as F from '../../tensor/ops.js';
import { Rng } from '../../tensor/random.js';
import type { Tensor } from '../../tensor/tensor.js';
import { TunerLayer } from '../tuner.js';

export class BottleneckAdapter extends Module {
  adapter_down: Linear[];
  adapter_up: Linear;

  constructor(
    d: number,
    bottleneck: number,
    readonly act: 'relu' | 'swish' | 'gelu' | 'tanh',
    readonly scaling: number,
    seed: number,
  ) {
    super();
    const rng = new Rng(seed);
    const down = new Linear(d, bottleneck, { rng });
    down.weight = F.randn([bottleneck, d], rng, 0.02, { requiresGrad: true });
    down.bias = F.zeros([bottleneck], { requiresGrad: true });
    this.adapter_down = [down];
    this.adapter_up = new Linear(bottleneck, d, { rng });
    this.adapter_up.weight = F.zeros([d, bottleneck], { requiresGrad: true });
    this.adapter_up.bias = F.zeros([d], { requiresGrad: true });
  }

  /** scaling · up(act(down(h))): the bottleneck alone, without its skip connection. */
  delta(h: Tensor): Tensor {
    const down = this.adapter_down[0];
    if (!down) throw new Error('bottleneck adapter has no adapter_down.0');
    const z = down.forward(h);
    const a =
      this.act === 'relu' ? F.relu(z) : this.act === 'swish' ? F.silu(z) : this.act === 'gelu' ? F.gelu(z) : F.tanh(z);
    return F.scale(this.adapter_up.forward(a), this.scaling);
  }

  /** down, activation, up, scaled (the adapter's delta, before the residual). */
  forward(h: Tensor): Tensor {
    return F.add(h, this.delta(h));
  }
}

/** What AdapterHub's bottleneck layer replaces: BERT's dense → dropout → LayerNorm(· + residual). */
export interface ResidualOutputModule extends Module {
  dense: Module & { forward(x: Tensor): Tensor; outFeatures?: number };
  dropout: Module & { forward(x: Tensor): Tensor };
  LayerNorm: Module & { forward(x: Tensor): Tensor };
}

export function isResidualOutputModule(m: Module): m is ResidualOutputModule {
  const r = m as unknown as Record<string, unknown>;
  return r['dense'] instanceof Module && r['dropout'] instanceof Module && r['LayerNorm'] instanceof Module;
}

export interface BlockAdapterOptions {
  reductionFactor: number;
  act: 'relu' | 'swish' | 'gelu' | 'tanh';
  scaling: number;
  seed: number;
  originalLnBefore: boolean;
  residualBeforeLn: boolean | 'post_add';
}

/**
 * AdapterHub's sequential bottleneck layer on a BERT sub-layer output (`attention.output`,
 * `output`), with x the sub-layer input to dense and r its residual input, LN the sub-layer's own
 * LayerNorm (original_ln_after = true, ln_before = ln_after = false, one adapter):
 *
 *   h = dropout(dense(x))
 *   original_ln_before: s = h + r; input = LN(s)         else input = h
 *   skip = h (residual_before_ln true) | s ("post_add") | input (false)
 *   y = LN(skip + scaling · up(act(down(input))) + r)
 *
 * Parameters `adapters.<name>.adapter_down.0.*`, `adapters.<name>.adapter_up.*`, so the module
 * path is AdapterHub's (`bert.encoder.layer.0.output.adapters.<name>...`).
 */
export class BottleneckBlockLayer extends TunerLayer {
  declare base_layer: ResidualOutputModule;
  adapters = new ModuleDict<BottleneckAdapter>();
  readonly prefix = 'adapters';
  private placement = new Map<string, { originalLnBefore: boolean; residualBeforeLn: boolean | 'post_add' }>();

  constructor(base: ResidualOutputModule) {
    super(base);
    base.freeze();
  }

  adapterNames(): string[] {
    return this.adapters.keys();
  }

  /** Adds a named adapter (fresh weights from its config). */
  addAdapter(name: string, opts: BlockAdapterOptions): void {
    const d = this.base_layer.LayerNorm.parameters()[0]?.shape[0];
    if (d === undefined) throw new Error('BOTTLENECK: the wrapped output module has no LayerNorm weight');
    this.adapters.set(
      name,
      new BottleneckAdapter(d, Math.max(1, Math.floor(d / opts.reductionFactor)), opts.act, opts.scaling, opts.seed),
    );
    this.placement.set(name, { originalLnBefore: opts.originalLnBefore, residualBeforeLn: opts.residualBeforeLn });
  }

  protected removeAdapter(name: string): void {
    this.adapters.delete(name);
    this.placement.delete(name);
  }

  protected mergeAdapter(): void {
    throw new Error('bottleneck adapters are non-linear and cannot be merged into the base weight');
  }

  protected unmergeAdapter(): void {}

  /** The residual sum with the active adapters applied at this hook. */
  forward(x: Tensor, residual?: Tensor): Tensor {
    if (!residual) throw new Error('BottleneckBlockLayer.forward needs the residual input');
    const base = this.base_layer;
    const h = base.dropout.forward(base.dense.forward(x));
    const live = this.liveAdapters();
    if (live.length === 0) return base.LayerNorm.forward(F.add(h, residual));
    if (live.length > 1)
      throw new Error(
        `BOTTLENECK: ${live.length} active adapters on one layer; AdapterHub's Stack composition is not implemented`,
      );
    const name = live[0] ?? '';
    const a = this.adapters.get(name);
    const p = this.placement.get(name);
    if (!a || !p) throw new Error(`BOTTLENECK: adapter "${name}" missing`);
    let input = h;
    let skip = h;
    if (p.originalLnBefore) {
      const s = F.add(h, residual);
      if (p.residualBeforeLn === 'post_add') skip = s;
      input = base.LayerNorm.forward(s);
    }
    if (p.residualBeforeLn === false) skip = input;
    return base.LayerNorm.forward(F.add(F.add(skip, a.delta(input)), residual));
  }
}

/** What AdapterHub's decoder adapter layer replaces: the residual add closing a sub-layer (models/residual.ts). */
export interface ResidualHookModule extends Module {
  forward(out: Tensor, residual: Tensor): Tensor;
}

/**
 * AdapterHub's sequential bottleneck layer in a GPT-2 / Llama-family decoder block, where the
 * block calls `attention_adapters(attn_output, residual, None)` and
 * `output_adapters(mlp_output, residual, None)` in place of `residual + out` (no layer norm is
 * passed, original_ln_after = true, one adapter). With a the sub-layer output (after GPT-2's
 * resid_dropout / mlp dropout, as AdapterHub's blocks call it) and r the sub-layer input (before
 * ln_1 / input_layernorm):
 *
 *   input = a + r  (original_ln_before)   else  input = a
 *   skip  = a      (residual_before_ln true)    else  skip = input
 *   y     = skip + scaling · up(act(down(input))) + r
 *
 * ("post_add" needs a layer norm: AdapterHub's decoders fail on it, tunekit refuses it.)
 * Parameters `adapters.<name>.adapter_down.0.*`, `adapters.<name>.adapter_up.*` under the block's
 * `attention_adapters` / `output_adapters`, AdapterHub's own paths.
 */
export class DecoderBottleneckLayer extends TunerLayer {
  declare base_layer: ResidualHookModule;
  adapters = new ModuleDict<BottleneckAdapter>();
  readonly prefix = 'adapters';
  private originalLnBefore = new Map<string, boolean>();
  private residualBeforeLn = new Map<string, boolean>();

  constructor(
    base: ResidualHookModule,
    private readonly hiddenSize: number,
  ) {
    super(base);
  }

  adapterNames(): string[] {
    return this.adapters.keys();
  }

  addAdapter(name: string, opts: BlockAdapterOptions): void {
    if (opts.residualBeforeLn === 'post_add')
      throw new Error(
        'BOTTLENECK: residual_before_ln = "post_add" needs the sub-layer\'s layer norm, which GPT-2 and Llama-family blocks do not pass to their adapters (AdapterHub fails on it too); use true or false',
      );
    const d = this.hiddenSize;
    this.adapters.set(
      name,
      new BottleneckAdapter(d, Math.max(1, Math.floor(d / opts.reductionFactor)), opts.act, opts.scaling, opts.seed),
    );
    this.originalLnBefore.set(name, opts.originalLnBefore);
    this.residualBeforeLn.set(name, opts.residualBeforeLn);
  }

  protected removeAdapter(name: string): void {
    this.adapters.delete(name);
    this.originalLnBefore.delete(name);
    this.residualBeforeLn.delete(name);
  }

  protected mergeAdapter(): void {
    throw new Error('bottleneck adapters are non-linear and cannot be merged into the base weight');
  }

  protected unmergeAdapter(): void {}

  forward(out: Tensor, residual: Tensor): Tensor {
    const live = this.liveAdapters();
    if (live.length === 0) return this.base_layer.forward(out, residual);
    if (live.length > 1)
      throw new Error(
        `BOTTLENECK: ${live.length} active adapters on one layer; AdapterHub's Stack composition is not implemented`,
      );
    const name = live[0] ?? '';
    const a = this.adapters.get(name);
    const olb = this.originalLnBefore.get(name);
    if (!a || olb === undefined) throw new Error(`BOTTLENECK: adapter "${name}" missing`);
    const input = olb ? F.add(out, residual) : out;
    const skip = this.residualBeforeLn.get(name) === true ? out : input;
    return F.add(F.add(skip, a.delta(input)), residual);
  }
}

export class BottleneckLayer extends TunerLayer {
  declare base_layer: Linear;
  adapters = new ModuleDict<BottleneckAdapter>();
  readonly prefix = 'adapters';

  constructor(base: Linear) {
    super(base);
    base.freeze();
  }

  get weight(): Tensor {
    return this.base_layer.weight;
  }

  adapterNames(): string[] {
    return this.adapters.keys();
  }

  /** Adds a named adapter (fresh weights from its config). */
  addAdapter(
    name: string,
    opts: { reductionFactor: number; act: 'relu' | 'swish' | 'gelu' | 'tanh'; scaling: number; seed: number },
  ): void {
    const d = this.base_layer.outFeatures;
    this.adapters.set(
      name,
      new BottleneckAdapter(d, Math.max(1, Math.floor(d / opts.reductionFactor)), opts.act, opts.scaling, opts.seed),
    );
  }

  protected removeAdapter(name: string): void {
    this.adapters.delete(name);
  }

  protected mergeAdapter(): void {
    throw new Error('bottleneck adapters are non-linear and cannot be merged into the base weight');
  }

  protected unmergeAdapter(): void {}

  /** The wrapped layer's output with the active adapters applied. */
  forward(x: Tensor): Tensor {
    let h = this.baseForward(x);
    for (const name of this.liveAdapters()) {
      const a = this.adapters.get(name);
      if (a) h = a.forward(h);
    }
    return h;
  }
}
