/**
 * The building blocks of transformer models, with PyTorch's parameter names and initialisation.
 */
import * as F from '../tensor/ops.js';
import { Rng } from '../tensor/random.js';
import type { Tensor } from '../tensor/tensor.js';
import { Module } from './module.js';

/**
 * y = x Wᵀ + b with W [out, in] (torch.nn.Linear). With `weightInOut`, W is stored [in, out]
 * as GPT-2's Conv1D does; `inFeatures`/`outFeatures` are the same either way.
 * Init as PyTorch: W, b ~ U(-1/sqrt(in), 1/sqrt(in)).
 */
export class Linear extends Module {
  weight: Tensor;
  bias: Tensor | null;
  readonly weightInOut: boolean;

  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    opts: { bias?: boolean; rng?: Rng; weightInOut?: boolean } = {},
  ) {
    super();
    const rng = opts.rng ?? new Rng(0);
    const bound = 1 / Math.sqrt(inFeatures);
    this.weightInOut = opts.weightInOut ?? false;
    this.weight = F.rand(this.weightInOut ? [inFeatures, outFeatures] : [outFeatures, inFeatures], rng, -bound, bound, {
      requiresGrad: true,
    });
    this.bias = (opts.bias ?? true) ? F.rand([outFeatures], rng, -bound, bound, { requiresGrad: true }) : null;
  }

  /** x · Wᵀ + b over the last dimension. */
  forward(x: Tensor): Tensor {
    return F.linear(x, this.weight, this.bias, { weightInOut: this.weightInOut });
  }
}

/**
 * Anything with a Linear's forward: a Linear, or an adapter wrapping one (LoRA and the other PEFT
 * layers). Model fields that adapters may replace are typed LinearLike.
 */
export interface LinearLike extends Module {
  /** x [..., in] -> [..., out]. */
  forward(x: Tensor): Tensor;
}

/** Lookup table [num, dim]; init N(0, 1) as PyTorch. */
export class Embedding extends Module {
  weight: Tensor;

  constructor(
    readonly numEmbeddings: number,
    readonly embeddingDim: number,
    opts: { rng?: Rng } = {},
  ) {
    super();
    this.weight = F.randn([numEmbeddings, embeddingDim], opts.rng ?? new Rng(0), 1, { requiresGrad: true });
  }

  /** ids of any shape -> [...shape, dim]. */
  forward(ids: Int32Array, shape: readonly number[] = [ids.length]): Tensor {
    return F.embedding(this.weight, ids, shape);
  }
}

/** Layer normalisation over the last dimension, with weight and bias. */
export class LayerNorm extends Module {
  weight: Tensor;
  bias: Tensor | null;

  constructor(
    readonly dim: number,
    readonly eps = 1e-5,
    opts: { bias?: boolean } = {},
  ) {
    super();
    this.weight = F.full([dim], 1, { requiresGrad: true });
    this.bias = (opts.bias ?? true) ? F.zeros([dim], { requiresGrad: true }) : null;
  }

  /** Normalises over the last dimension, then scales and shifts. */
  forward(x: Tensor): Tensor {
    return F.layerNorm(x, this.weight, this.bias, this.eps);
  }
}

/** Root-mean-square normalisation over the last dimension, with a weight. */
export class RMSNorm extends Module {
  weight: Tensor;

  constructor(
    readonly dim: number,
    readonly eps = 1e-6,
  ) {
    super();
    this.weight = F.full([dim], 1, { requiresGrad: true });
  }

  /** x / rms(x) · weight over the last dimension. */
  forward(x: Tensor): Tensor {
    return F.rmsNorm(x, this.weight, this.eps);
  }
}

/** Inverted dropout driven by its own seeded generator; identity in eval mode. */
export class Dropout extends Module {
  readonly rng: Rng;

  constructor(
    readonly p: number,
    seed = 0,
  ) {
    super();
    this.rng = new Rng(seed);
  }

  /** Zeroes each value with probability p and scales the rest by 1/(1 − p) in train mode; identity in eval mode. */
  forward(x: Tensor): Tensor {
    return F.dropout(x, this.p, this.rng, this.training);
  }
}

/**
 * Multi-layer LSTM (torch.nn.LSTM with batch_first=True): gates i, f, g, o; parameters
 * weight_ih_l{k}[_reverse] [4h, in], weight_hh_l{k} [4h, h], bias_ih_l{k}, bias_hh_l{k}.
 * Bidirectional layers concatenate forward and backward outputs. Dropout between layers.
 */
export class LSTM extends Module {
  private readonly rng: Rng;

  constructor(
    readonly inputSize: number,
    readonly hiddenSize: number,
    readonly opts: { numLayers?: number; bidirectional?: boolean; dropout?: number; rng?: Rng } = {},
  ) {
    super();
    const rng = opts.rng ?? new Rng(0);
    this.rng = new Rng(rng.nextU32());
    const layers = opts.numLayers ?? 1;
    const dirs = opts.bidirectional ? 2 : 1;
    const bound = 1 / Math.sqrt(hiddenSize);
    for (let l = 0; l < layers; l++) {
      for (let d = 0; d < dirs; d++) {
        const inp = l === 0 ? inputSize : hiddenSize * dirs;
        const sfx = `_l${l}${d === 1 ? '_reverse' : ''}`;
        const u = (shape: number[]): Tensor => F.rand(shape, rng, -bound, bound, { requiresGrad: true });
        const own = this as unknown as Record<string, Tensor>;
        own[`weight_ih${sfx}`] = u([4 * hiddenSize, inp]);
        own[`weight_hh${sfx}`] = u([4 * hiddenSize, hiddenSize]);
        own[`bias_ih${sfx}`] = u([4 * hiddenSize]);
        own[`bias_hh${sfx}`] = u([4 * hiddenSize]);
      }
    }
  }

  private param(name: string): Tensor {
    return (this as unknown as Record<string, Tensor>)[name]!;
  }

  /** x [B, T, in] -> [B, T, hidden * directions]. Initial states are zero. */
  forward(x: Tensor): Tensor {
    const layers = this.opts.numLayers ?? 1;
    const dirs = this.opts.bidirectional ? 2 : 1;
    const [B, T] = x.shape as [number, number, number];
    const h = this.hiddenSize;
    let input = x;
    for (let l = 0; l < layers; l++) {
      const outs: Tensor[] = [];
      for (let d = 0; d < dirs; d++) {
        const sfx = `_l${l}${d === 1 ? '_reverse' : ''}`;
        const wih = this.param(`weight_ih${sfx}`);
        const whh = this.param(`weight_hh${sfx}`);
        const bias = F.add(this.param(`bias_ih${sfx}`), this.param(`bias_hh${sfx}`));
        // Input projections for every step at once: [B, T, 4h].
        const xproj = F.linear(input, wih, bias);
        let hPrev = F.zeros([B, h]);
        let cPrev = F.zeros([B, h]);
        const steps = new Array<Tensor>(T);
        for (let s = 0; s < T; s++) {
          const t = d === 0 ? s : T - 1 - s;
          const gates = F.add(F.reshape(F.slice(xproj, 1, t, t + 1), [B, 4 * h]), F.linear(hPrev, whh));
          const [gi, gf, gg, go] = F.split(gates, h, 1) as [Tensor, Tensor, Tensor, Tensor];
          const c = F.add(F.mul(F.sigmoid(gf), cPrev), F.mul(F.sigmoid(gi), F.tanh(gg)));
          const hNew = F.mul(F.sigmoid(go), F.tanh(c));
          steps[t] = F.reshape(hNew, [B, 1, h]);
          hPrev = hNew;
          cPrev = c;
        }
        outs.push(F.concat(steps, 1));
      }
      input = dirs === 2 ? F.concat(outs, 2) : outs[0]!;
      const p = this.opts.dropout ?? 0;
      if (l < layers - 1 && p > 0) input = F.dropout(input, p, this.rng, this.training);
    }
    return input;
  }
}
