/**
 * A bottleneck adapter on a sub-layer's output projection:
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

/** A bottleneck adapter: down-projection, activation, up-projection, added back residually. */
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

  forward(h: Tensor): Tensor {
    const down = this.adapter_down[0];
    if (!down) return h;
    const z = down.forward(h);
    const a =
      this.act === 'relu' ? F.relu(z) : this.act === 'swish' ? F.silu(z) : this.act === 'gelu' ? F.gelu(z) : F.tanh(z);
    return F.add(h, F.scale(this.adapter_up.forward(a), this.scaling));
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

  forward(x: Tensor): Tensor {
    let h = this.baseForward(x);
    for (const name of this.liveAdapters()) {
      const a = this.adapters.get(name);
      if (a) h = a.forward(h);
    }
    return h;
  }
}
