/**
 * A Linear with a mixture of LoRA experts:
 *
 *   g = router(x)                      [.., E]
 *   w = softmax(g)                     soft routing; top-k: softmax over the k best, others 0
 *   y = base(x) + scaling · Σ_e w_e · B_e(A_e(dropout(x)))
 *
 * B_e start at zero, so the layer starts as the base. Each forward records the router's
 * probabilities for the load-balancing loss (Switch Transformer, Fedus et al. 2021):
 *   L_bal = E · Σ_e f_e · P_e,  f_e = share of tokens whose top expert is e (a constant),
 *                               P_e = mean router probability of e (differentiable).
 * Routing depends on the input, so the experts cannot be merged into the base weight.
 *
 * Top-k routing computes each expert on the tokens routed to it only (gather the rows, A then B,
 * scale by the routing weight, scatter-add back): about k/E of the dense work. Soft routing, and
 * `denseExperts = true`, compute every expert on every token and weight them.
 */
import { Linear } from '../../nn/layers.js';
import { Module, ModuleDict } from '../../nn/module.js';
import * as F from '../../tensor/ops.js';
import { Rng } from '../../tensor/random.js';
import { Tensor, result } from '../../tensor/tensor.js';
import { TunerLayer } from '../tuner.js';

/** One adapter's router and experts (paths `moe_lora.<name>.router.weight`, `.experts_A.<e>.weight`). */
export class MoeExperts extends Module {
  router: Linear;
  experts_A: Linear[];
  experts_B: Linear[];
  /** Probabilities [tokens, E] of the last forward (for the balancing loss); a plain object, not a parameter. */
  private readonly last: { probs: Tensor | null } = { probs: null };

  get lastProbs(): Tensor | null {
    return this.last.probs;
  }

  constructor(
    inF: number,
    outF: number,
    readonly opts: {
      r: number;
      numExperts: number;
      topK: number | null;
      scaling: number;
      dropout: number;
      seed: number;
    },
  ) {
    super();
    const rng = new Rng(opts.seed);
    const { r, numExperts: E } = opts;
    this.router = new Linear(inF, E, { bias: false, rng });
    this.router.weight = F.randn([E, inF], rng, 0.02, { requiresGrad: true });
    this.experts_A = Array.from({ length: E }, () => new Linear(inF, r, { bias: false, rng }));
    this.experts_B = Array.from({ length: E }, () => {
      const b = new Linear(r, outF, { bias: false, rng });
      b.weight = F.zeros([outF, r], { requiresGrad: true });
      return b;
    });
  }

  /** Routing weights [.., E] (soft, or softmax over the top k). */
  weights(x: Tensor): Tensor {
    const logits = this.router.forward(x);
    const E = this.opts.numExperts;
    const probs = F.softmax(logits, -1);
    this.last.probs = F.reshape(probs, [probs.size / E, E]);
    const k = this.opts.topK;
    if (k === null || k === E) return probs;
    const g = logits.f32;
    const mask = new Float32Array(g.length);
    for (let row = 0; row < g.length / E; row++) {
      const order = Array.from({ length: E }, (_, e) => e).sort(
        (a, b) => (g[row * E + b] ?? 0) - (g[row * E + a] ?? 0),
      );
      for (const e of order.slice(k)) mask[row * E + e] = -1e30;
    }
    return F.softmax(F.add(logits, new Tensor(mask, logits.shape)), -1);
  }
}

export class MoeLoraLinear extends TunerLayer {
  declare base_layer: Linear;
  moe_lora = new ModuleDict<MoeExperts>();
  readonly prefix = 'moe_';
  private readonly rng: Rng;

  constructor(base: Linear, seed = 0) {
    super(base);
    base.freeze();
    this.rng = new Rng(seed ^ 0x2545f491);
  }

  get weight(): Tensor {
    return this.base_layer.weight;
  }

  adapterNames(): string[] {
    return this.moe_lora.keys();
  }

  /** Adds a named mixture of LoRA experts with its router. */
  addAdapter(name: string, opts: MoeExperts['opts']): void {
    this.moe_lora.set(name, new MoeExperts(this.base_layer.inFeatures, this.base_layer.outFeatures, opts));
  }

  protected removeAdapter(name: string): void {
    this.moe_lora.delete(name);
  }

  protected mergeAdapter(): void {
    throw new Error('mixture-of-LoRA-experts adapters route per token and cannot be merged into the base weight');
  }

  protected unmergeAdapter(): void {}

  /** Compute every expert on every token even with top-k routing (the reference path, for tests and benchmarks). */
  denseExperts = false;

  /** The base output plus the router-weighted experts' outputs; records the load-balancing loss. */
  forward(x: Tensor): Tensor {
    let y = this.baseForward(x);
    for (const name of this.liveAdapters()) {
      const m = this.moe_lora.get(name);
      if (!m) continue;
      const xd = F.dropout(x, m.opts.dropout, this.rng, this.training);
      const w = m.weights(x);
      const k = m.opts.topK;
      if (!this.denseExperts && k !== null && k < m.opts.numExperts) {
        y = F.add(y, F.reshape(routedExperts(m, xd, w), y.shape));
        continue;
      }
      for (let e = 0; e < m.opts.numExperts; e++) {
        const A = m.experts_A[e],
          B = m.experts_B[e];
        if (!A || !B) continue;
        const out = F.linear(F.linear(xd, A.weight), B.weight, null, { alpha: m.opts.scaling });
        y = F.add(y, F.mul(out, F.slice(w, w.ndim - 1, e, e + 1)));
      }
    }
    return y;
  }
}

/**
 * Σ_e w_e · scaling · B_e(A_e(x)) over the (token, expert) pairs with a non-zero routing weight
 * (the top k; a pair whose softmax underflowed to 0 adds 0 on the dense path too): [N, out].
 */
function routedExperts(m: MoeExperts, xd: Tensor, w: Tensor): Tensor {
  const E = m.opts.numExperts;
  const inF = xd.dim(-1);
  const N = xd.size / inF;
  const x2 = F.reshape(xd, [N, inF]);
  const wFlat = F.reshape(w, [N * E, 1]);
  const wv = w.f32;
  const parts: Tensor[] = [];
  const rows: Int32Array[] = [];
  for (let e = 0; e < E; e++) {
    const A = m.experts_A[e],
      B = m.experts_B[e];
    if (!A || !B) continue;
    let n = 0;
    for (let t = 0; t < N; t++) if ((wv[t * E + e] ?? 0) !== 0) n++;
    if (n === 0) continue;
    const idx = new Int32Array(n);
    const widx = new Int32Array(n);
    for (let t = 0, j = 0; t < N; t++)
      if ((wv[t * E + e] ?? 0) !== 0) {
        idx[j] = t;
        widx[j++] = t * E + e;
      }
    // F.embedding picks rows (its gradient scatters back): the routed tokens and their weights.
    const out = F.linear(F.linear(F.embedding(x2, idx), A.weight), B.weight, null, { alpha: m.opts.scaling });
    parts.push(F.mul(out, F.embedding(wFlat, widx)));
    rows.push(idx);
  }
  const outF = m.experts_B[0]?.weight.dim(0) ?? 0;
  if (parts.length === 0) return F.zeros([N, outF]);
  return scatterAddRows(parts.length === 1 ? (parts[0] as Tensor) : F.concat(parts, 0), concatIdx(rows), N);
}

function concatIdx(parts: Int32Array[]): Int32Array {
  const out = new Int32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** out [N, D] with out[idx[i]] += src[i] (src [M, D]); the gradient of src row i is row idx[i] of the output's. */
function scatterAddRows(src: Tensor, idx: Int32Array, N: number): Tensor {
  const [M, D] = src.shape as [number, number];
  const s = src.f32;
  const out = new Float32Array(N * D);
  for (let i = 0; i < M; i++) {
    const o = (idx[i] ?? 0) * D;
    for (let j = 0; j < D; j++) out[o + j] = (out[o + j] ?? 0) + (s[i * D + j] ?? 0);
  }
  return result(out, [N, D], 'scatterAddRows', [src], (g, ctx) => {
    const gs = new Float32Array(M * D);
    for (let i = 0; i < M; i++) gs.set(g.subarray((idx[i] ?? 0) * D, ((idx[i] ?? 0) + 1) * D), i * D);
    ctx.accumulate(src, gs);
  });
}

/** Switch-Transformer load balancing over the recorded router probabilities [tokens, E]. */
export function loadBalancingLoss(probs: Tensor): Tensor {
  const [N, E] = probs.shape as [number, number];
  const p = probs.f32;
  const f = new Float32Array(E);
  for (let n = 0; n < N; n++) {
    let best = 0;
    for (let e = 1; e < E; e++) if ((p[n * E + e] ?? 0) > (p[n * E + best] ?? 0)) best = e;
    f[best] = (f[best] ?? 0) + 1 / N;
  }
  const meanP = F.mean(probs, 0); // [E]
  return F.scale(F.sum(F.mul(meanP, new Tensor(f, [E]))), E);
}
