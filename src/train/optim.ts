/**
 * Optimisers with PyTorch's semantics (torch.optim.AdamW / SGD) and global-norm clipping.
 * An optimiser owns its state (moments), which `stateDict()` exposes for checkpoints.
 */
import { kernels } from '../native/index.js';
import type { Tensor } from '../tensor/tensor.js';

/** What the training loop needs from an optimiser. */
export interface Optimizer {
  /** Apply one update from the parameters' current `.grad` (parameters without a gradient are skipped). */
  step(): void;
  /** Drop every gradient (set to null, like zero_grad(set_to_none=True)). */
  zeroGrad(): void;
  lr: number;
}

/** Options of {@link AdamW} (PyTorch's defaults). */
export interface AdamWOptions {
  lr?: number;
  betas?: [number, number];
  eps?: number;
  /** Decoupled weight decay (default 0.01, as torch.optim.AdamW). */
  weightDecay?: number;
}

/** AdamW (Loshchilov & Hutter): Adam with decoupled weight decay and bias correction. */
export class AdamW implements Optimizer {
  lr: number;
  readonly betas: [number, number];
  readonly eps: number;
  readonly weightDecay: number;
  /** Steps taken per parameter (bias correction counts per parameter, as PyTorch). */
  private readonly state = new Map<Tensor, { m: Float32Array; v: Float32Array; step: number }>();

  constructor(
    readonly params: Tensor[],
    opts: AdamWOptions = {},
  ) {
    this.lr = opts.lr ?? 1e-3;
    this.betas = opts.betas ?? [0.9, 0.999];
    this.eps = opts.eps ?? 1e-8;
    this.weightDecay = opts.weightDecay ?? 0.01;
    for (const p of params)
      if (!p.requiresGrad) throw new Error(`AdamW: parameter ${p.label()} does not require a gradient`);
  }

  step(): void {
    for (const p of this.params) {
      if (!p.grad) continue;
      let s = this.state.get(p);
      if (!s) {
        s = { m: new Float32Array(p.size), v: new Float32Array(p.size), step: 0 };
        this.state.set(p, s);
      }
      s.step++;
      kernels.adamw(
        p.f32,
        p.grad,
        s.m,
        s.v,
        p.size,
        this.lr,
        this.betas[0],
        this.betas[1],
        this.eps,
        this.weightDecay,
        s.step,
      );
    }
  }

  zeroGrad(): void {
    for (const p of this.params) p.grad = null;
  }

  /** Moments and step counts in parameter order (for checkpoints). */
  stateDict(): Array<{ m: Float32Array; v: Float32Array; step: number } | null> {
    return this.params.map((p) => this.state.get(p) ?? null);
  }

  /** Restores the step count and moments saved by stateDict (resuming a run). */
  loadStateDict(states: ReadonlyArray<{ m: Float32Array; v: Float32Array; step: number } | null>): void {
    if (states.length !== this.params.length)
      throw new Error(`AdamW.loadStateDict: ${states.length} states for ${this.params.length} parameters`);
    states.forEach((s, i) => {
      const p = this.params[i]!;
      if (!s) {
        this.state.delete(p);
        return;
      }
      if (s.m.length !== p.size || s.v.length !== p.size)
        throw new Error(`AdamW.loadStateDict: state ${i} does not match parameter ${p.label()}`);
      this.state.set(p, { m: Float32Array.from(s.m), v: Float32Array.from(s.v), step: s.step });
    });
  }
}

/** Options of {@link SGD}. */
export interface SGDOptions {
  lr?: number;
  momentum?: number;
  dampening?: number;
  nesterov?: boolean;
  /** L2 penalty added to the gradient (coupled, as torch.optim.SGD). */
  weightDecay?: number;
}

/** SGD with momentum (torch.optim.SGD semantics: the first step initialises the buffer with g). */
export class SGD implements Optimizer {
  lr: number;
  private readonly buf = new Map<Tensor, Float32Array>();

  constructor(
    readonly params: Tensor[],
    readonly opts: SGDOptions = {},
  ) {
    this.lr = opts.lr ?? 1e-3;
    if (opts.nesterov && (!(opts.momentum ?? 0) || (opts.dampening ?? 0) !== 0))
      throw new Error('SGD: nesterov needs momentum > 0 and dampening 0');
  }

  step(): void {
    const mom = this.opts.momentum ?? 0;
    const damp = this.opts.dampening ?? 0;
    const wd = this.opts.weightDecay ?? 0;
    for (const p of this.params) {
      const g = p.grad;
      if (!g) continue;
      const w = p.f32;
      const d = new Float32Array(g.length);
      for (let i = 0; i < g.length; i++) d[i] = g[i]! + wd * w[i]!;
      if (mom !== 0) {
        let b = this.buf.get(p);
        if (!b) {
          b = Float32Array.from(d);
          this.buf.set(p, b);
        } else for (let i = 0; i < b.length; i++) b[i] = mom * b[i]! + (1 - damp) * d[i]!;
        if (this.opts.nesterov) for (let i = 0; i < d.length; i++) d[i] = d[i]! + mom * b[i]!;
        else d.set(b);
      }
      kernels.axpy(w.length, -this.lr, d, 0, w, 0);
    }
  }

  zeroGrad(): void {
    for (const p of this.params) p.grad = null;
  }

  /** Momentum buffers in parameter order (null before a parameter's first step), for checkpoints. */
  stateDict(): Array<Float32Array | null> {
    return this.params.map((p) => this.buf.get(p) ?? null);
  }

  /** Restores the momentum buffers saved by stateDict (resuming a run). */
  loadStateDict(states: ReadonlyArray<Float32Array | null>): void {
    if (states.length !== this.params.length)
      throw new Error(`SGD.loadStateDict: ${states.length} states for ${this.params.length} parameters`);
    states.forEach((s, i) => {
      const p = this.params[i];
      if (!p) return;
      if (!s) {
        this.buf.delete(p);
        return;
      }
      if (s.length !== p.size) throw new Error(`SGD.loadStateDict: state ${i} does not match parameter ${p.label()}`);
      this.buf.set(p, Float32Array.from(s));
    });
  }
}

/**
 * Scale gradients so their global L2 norm is at most maxNorm (torch.nn.utils.clip_grad_norm_).
 * Returns the norm before clipping.
 */
export function clipGradNorm(params: readonly Tensor[], maxNorm: number): number {
  let ss = 0;
  for (const p of params) if (p.grad) ss += kernels.sumSquares(p.grad, p.grad.length);
  const norm = Math.sqrt(ss);
  const coef = maxNorm / (norm + 1e-6);
  if (coef < 1)
    for (const p of params)
      if (p.grad) {
        const g = p.grad;
        for (let i = 0; i < g.length; i++) g[i] = g[i]! * coef;
      }
  return norm;
}
