/**
 * Llama's attention block (RoPE on q and k, attention, the [B, T, H·D] rows o_proj reads), forward
 * and backward, in the two layouts the model uses: copy-free (F.rope with a head size and
 * F.tokenMajorAttention on the projections' own [B, T, heads·D] rows, the training path) and with
 * head copies (splitHeads, RoPE and attention on [B, H, T, D], mergeHeads: the cache/prefix path
 * and the code before). Rounds alternate which runs first; the ratio copy-free / copies of each
 * round is the figure (median), beside the kernel alone in both layouts, which isolates what the
 * strided rows cost the attention kernel.
 */
import * as F from '../src/tensor/ops.js';
import { Rng } from '../src/tensor/random.js';
import type { Tensor } from '../src/tensor/tensor.js';
import { median } from './stats.js';

/** [B, T, H, Hkv, D]: the SMALL LoRA bench shape and a Qwen2.5-0.5B layer on 512 tokens. */
const SHAPES: Record<string, [number, number, number, number, number]> = {
  'B8 T128 H4 Hkv2 D64': [8, 128, 4, 2, 64],
  'B1 T512 H14 Hkv2 D64 (Qwen2.5-0.5B)': [1, 512, 14, 2, 64],
};
const ROUNDS = 20;

/** Median of per-round ratios a/b, rounds alternating which of a and b runs first. */
function interleaved(a: () => void, b: () => void): { ratio: number; aMs: number; bMs: number } {
  const time = (f: () => void): number => {
    const t0 = process.hrtime.bigint();
    f();
    return Number(process.hrtime.bigint() - t0) / 1e6;
  };
  for (let i = 0; i < 2; i++) [a, b].forEach(time);
  const ta: number[] = [];
  const tb: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    if (r % 2) {
      tb.push(time(b));
      ta.push(time(a));
    } else {
      ta.push(time(a));
      tb.push(time(b));
    }
  }
  return { ratio: median(ta.map((x, i) => x / tb[i]!)) ?? NaN, aMs: median(ta) ?? NaN, bMs: median(tb) ?? NaN };
}

/** Runs every shape; prints and returns the ratios. */
export function benchAttentionLayout(): Record<string, unknown> {
  const results: Record<string, unknown> = {};
  for (const [name, [B, T, H, Hkv, D]] of Object.entries(SHAPES)) {
    const rng = new Rng(1);
    const leaf = (shape: number[]): Tensor => F.randn(shape, rng, 1, { requiresGrad: true });
    const [q, k, v] = [leaf([B, T, H * D]), leaf([B, T, Hkv * D]), leaf([B, T, Hkv * D])];
    const [qh, kh, vh] = [leaf([B, H, T, D]), leaf([B, Hkv, T, D]), leaf([B, Hkv, T, D])];
    const cos = Float32Array.from({ length: (T * D) / 2 }, (_, i) => Math.cos(i * 0.01));
    const sin = cos.map((c) => Math.sqrt(1 - c * c));
    const wRows = F.randn([B, T, H * D], rng);
    const wHeads = F.randn([B, H, T, D], rng);
    const step = (f: () => Tensor, w: Tensor) => (): void => {
      for (const t of [q, k, v, qh, kh, vh]) t.grad = null;
      F.sum(F.mul(f(), w)).backward();
    };
    const block = interleaved(
      step(() => F.tokenMajorAttention(F.rope(q, cos, sin, D), F.rope(k, cos, sin, D), v, H), wRows),
      step(() => {
        const [qs] = F.splitHeads(q, [H], D) as [Tensor];
        const [ks] = F.splitHeads(k, [Hkv], D) as [Tensor];
        const [vs] = F.splitHeads(v, [Hkv], D) as [Tensor];
        return F.mergeHeads(F.scaledDotProductAttention(F.rope(qs, cos, sin), F.rope(ks, cos, sin), vs));
      }, wRows),
    );
    const kernel = interleaved(
      step(() => F.tokenMajorAttention(q, k, v, H), wRows),
      step(() => F.scaledDotProductAttention(qh, kh, vh), wHeads),
    );
    console.log(
      `  ${name}: block fwd+bwd copy-free ${block.aMs.toFixed(2)} ms, head copies ${block.bMs.toFixed(2)} ms, ` +
        `ratio ${block.ratio.toFixed(3)}; attention alone, rows / packed heads ${kernel.ratio.toFixed(3)} (medians of ${ROUNDS} interleaved rounds)`,
    );
    results[name] = { block, kernel };
  }
  return results;
}
