/**
 * A LoRA layer wraps a frozen Linear (MLX-LM's `LoRALinear.from_base`):
 *
 *   y = base_layer(x) + scaling * lora_B(lora_A(dropout(x)))
 *
 * lora_A [r, in] and lora_B [out, r] keep torch.nn.Linear's orientation even when the base is
 * GPT-2's Conv1D ([in, out]); only the merged delta is transposed (PEFT's fan_in_fan_out).
 * `fuse()` folds the update into the weight and returns a plain Linear.
 */
import { Linear } from '../../nn/layers.js';
import { Module } from '../../nn/module.js';
import * as F from '../../tensor/ops.js';
import { Rng } from '../../tensor/random.js';
import { Tensor } from '../../tensor/tensor.js';
import { loraScaling, type LoraConfig } from './config.js';

export class LoRALinear extends Module {
  base_layer: Linear;
  lora_A: Linear;
  lora_B: Linear;
  readonly scaling: number;
  readonly dropout: number;
  private readonly rng: Rng;

  private constructor(base: Linear, A: Linear, B: Linear, scaling: number, dropout: number, rng: Rng) {
    super();
    this.base_layer = base;
    this.lora_A = A;
    this.lora_B = B;
    this.scaling = scaling;
    this.dropout = dropout;
    this.rng = rng;
  }

  /** Wrap `base` (which is frozen) with a fresh rank-r update that starts at zero. */
  static fromBase(base: Linear, opts: Pick<LoraConfig, 'r' | 'loraAlpha' | 'loraDropout' | 'useRslora' | 'initLoraWeights'> & { seed?: number }): LoRALinear {
    const rng = new Rng(opts.seed ?? 0);
    const { inFeatures: inF, outFeatures: outF } = base;
    const A = new Linear(inF, opts.r, { bias: false, rng });
    if (opts.initLoraWeights === 'gaussian') A.weight = F.randn([opts.r, inF], rng, 1 / opts.r, { requiresGrad: true });
    else {
      // kaiming_uniform_(a=sqrt(5)) on [r, in]: bound = sqrt(6 / ((1 + a²) · fan_in)) = 1/sqrt(in)
      const bound = 1 / Math.sqrt(inF);
      A.weight = F.rand([opts.r, inF], rng, -bound, bound, { requiresGrad: true });
    }
    const B = new Linear(opts.r, outF, { bias: false, rng });
    B.weight = F.zeros([outF, opts.r], { requiresGrad: true });
    base.freeze();
    return new LoRALinear(base, A, B, loraScaling(opts), opts.loraDropout, new Rng(rng.nextU32()));
  }

  forward(x: Tensor): Tensor {
    const y = this.base_layer.forward(x);
    const xd = F.dropout(x, this.dropout, this.rng, this.training);
    // scaling is applied inside the second GEMM: no extra pass over [tokens, out].
    return F.add(y, F.linear(this.lora_A.forward(xd), this.lora_B.weight, null, { alpha: this.scaling }));
  }

  /** scaling · B @ A as [out, in] (or [in, out] for a Conv1D base). */
  delta(): Float32Array {
    const ba = F.matmul(this.lora_B.weight.detach(), this.lora_A.weight.detach()); // [out, in]
    const d = (this.base_layer.weightInOut ? F.transpose(ba, 0, 1) : ba).f32;
    for (let i = 0; i < d.length; i++) d[i] *= this.scaling;
    return d;
  }

  /** A plain Linear with the update merged into its weight (float32). */
  fuse(): Linear {
    const base = this.base_layer;
    const w = F.toF32(base.weight).f32.slice();
    const d = this.delta();
    for (let i = 0; i < w.length; i++) w[i] += d[i]!;
    const out = new Linear(base.inFeatures, base.outFeatures, { bias: base.bias !== null, weightInOut: base.weightInOut });
    out.weight = new Tensor(w, base.weight.shape);
    out.bias = base.bias ? base.bias.detach() : null;
    return out.freeze();
  }
}
