/**
 * The kernel contract: every hot loop of tunekit goes through one of these functions.
 *
 * Two implementations exist and must agree (test/native/parity.test.ts):
 *  - `jsKernels` (src/native/js-kernels.ts): plain TypeScript, always available, the reference.
 *  - the Node-API addon (native/*.c, loaded by src/native/index.ts): threaded, AVX-512/AVX2.
 *
 * Conventions (so that the C side can be written from this file alone):
 *  - All matrices are row-major. Offsets (`aOff` ...) are element offsets into the typed array,
 *    so callers never allocate subarray views in hot paths.
 *  - Kernels WRITE their outputs (never accumulate) unless the doc says `beta`/accumulate.
 *  - Integer arrays (targets, masks) are Int32Array / Uint8Array.
 *  - Half-precision weights are Uint16Array holding raw bf16 or IEEE f16 bits (`HalfType`).
 */

/**
 * Storage type of a weight operand: 0 = float32, 1 = bfloat16 bits, 2 = IEEE float16 bits,
 * 3 = bfloat16 bits computed in bfloat16 (`BF16Dot`).
 *
 * BF16 and F16 weights are widened to float32 and multiplied in float32. BF16Dot weights (opt-in
 * `computeDtype: 'bfloat16'`) are multiplied in bfloat16 where the CPU has AVX512_BF16: op(A) is
 * rounded to bfloat16 (round to nearest even) and the bf16 products are accumulated in float32
 * (`vdpbf16ps`, twice the float32 rate); this holds for large products and for products of at most
 * 4 rows (decoding); the shapes in between (e.g. a LoRA rank as M or N) and every other CPU and
 * the TypeScript kernels compute BF16Dot exactly as BF16. Results therefore differ from BF16 by the
 * rounding of op(A): at most about 2^-8 * sum_k |a_ik b_kj| per element.
 *
 * I8 weights (opt-in `computeDtype: 'int8'`) are an Int8Array with one float32 scale per row of
 * the stored matrix (`bScale`): B(r, c) = bScale[r] * q[r * ldb + c]. They are dequantised block
 * by block and multiplied in float32 (weight-only quantisation: a quarter of the bytes to read);
 * products of at most 4 rows (decoding) read the int8 codes directly, widening each to float32 in
 * registers (no scratch), so decoding streams one byte per weight.
 *
 * I8Dot weights are I8 weights whose products of at most {@link I8DOT_MAX_M} rows (decoding) also
 * quantise op(A) to int8, dynamically, and multiply with integer dot products (AVX512_VNNI
 * `vpdpbusd`, else `vpmaddubsw`/`vpmaddwd`, else scalar): each row of alpha * op(A) (times the
 * stored row's scale when B is [K, N]) is split into groups of {@link I8DOT_GROUP} consecutive k,
 * each group scaled by max|x| / 127 and rounded to nearest-even codes in [-127, 127]; the integer
 * sums are exact and every backend computes the same codes, so backends differ by float32 rounding
 * only. The activation rounding adds at most sum_k (groupScale(k) / 2) * |B(k, j)| to each output
 * beyond the I8 result. Larger M, or a non-finite value in op(A) (which then propagates), runs as
 * I8. The ops pick I8Dot only inside `withInt8Activations` (decoding) and where no gradient flows
 * back through op(A): the rounding makes the output a step function of A.
 */
export const enum WType {
  F32 = 0,
  BF16 = 1,
  F16 = 2,
  BF16Dot = 3,
  I8 = 4,
  I8Dot = 5,
}

/** Most rows of op(A) that WType.I8Dot multiplies with int8 dot products (more run as WType.I8). */
export const I8DOT_MAX_M = 4;
/** Consecutive k sharing one activation scale in WType.I8Dot products. */
export const I8DOT_GROUP = 128;

/** Element-wise activations with a forward and a backward. */
export const enum Unary {
  /** GELU, tanh approximation (GPT-2 "gelu_new"/"gelu_pytorch_tanh"). */
  GeluTanh = 0,
  /** GELU, exact erf form (BERT "gelu"). */
  GeluErf = 1,
  Silu = 2,
  Relu = 3,
  Tanh = 4,
  Sigmoid = 5,
  Exp = 6,
}

/**
 * Row layout of the attention operands: 16 integers, four per operand in the order q (and dq),
 * k (dk), v (dv), out (dout): [offset, batch stride, head stride, row stride]. Row (b, h, t) of q
 * holds D contiguous elements from offset + b * batchStride + h * headStride + t * rowStride (k and
 * v rows are (b, kv head, s)). The packed [B, H, T, D] layout is [0, H·T·D, T·D, D]; heads side by
 * side, [B, T, H, D], is [0, T·H·D, D, H·D]; q, k and v in one fused [B, T, (H + 2·Hkv)·D] are
 * q = [0, T·C, D, C], k = [H·D, T·C, D, C], v = [(H + Hkv)·D, T·C, D, C] with C = (H + 2·Hkv)·D.
 */
export type AttentionLayout = Float64Array;

export interface Kernels {
  readonly name: 'js' | 'native';
  /** Threads the backend uses for one call (1 for js). */
  readonly threads: number;
  /** SIMD path picked at load time: 'avx512' | 'avx2' | 'scalar' | 'js'. */
  readonly simd: string;

  /**
   * Batched GEMM: for b in [0, batch):
   *   C_b[M,N] = alpha * op(A_b) @ op(B_b) + beta * C_b
   * op(A) = A ([M,K], row stride lda) or, if transA, A stored as [K,M] (row stride lda).
   * op(B) = B ([K,N], row stride ldb) or, if transB, B stored as [N,K] (row stride ldb).
   * A_b starts at aOff + b*strideA, likewise B and C. beta = 0 means C is overwritten
   * (even if it held NaN). B may be a half-precision weight (bType BF16/F16/BF16Dot, B is a
   * Uint16Array) or an int8 weight (bType I8, B is an Int8Array, `bScale` required: one scale per
   * stored row of B, i.e. N per item when transB else K; item b uses bScale[b * rows ...], or the
   * first `rows` scales for every item when strideB = 0).
   * `bias` (N values) is added to every row of every item: C = alpha·op(A)·op(B) + beta·C + bias,
   * computed as if C had first been set to beta·C + bias (to bias where beta = 0) and the product
   * then added to it; the float32 kernels add it in their store, with no pass of its own over C.
   * `bPacked`: null, or `packBf16Dot` of this B (bType BF16Dot) or `packI8Dot` of it (bType I8Dot); see there.
   */
  gemm(
    transA: boolean, transB: boolean, M: number, N: number, K: number, alpha: number,
    A: Float32Array, aOff: number, lda: number,
    B: Float32Array | Uint16Array | Int8Array, bOff: number, ldb: number, bType: WType,
    beta: number, C: Float32Array, cOff: number, ldc: number,
    batch: number, strideA: number, strideB: number, strideC: number,
    bScale?: Float32Array | null,
    bias?: Float32Array | null,
    bPacked?: Uint32Array | null,
  ): void;

  /**
   * op(B) of a BF16Dot weight (K x N, bf16 bits; transB: stored [N, K] with row stride ldb)
   * packed once in the layout the AVX512_BF16 GEMM multiplies from, or null where the active
   * backend has no such GEMM (every other build and the TypeScript kernels). Passed to `gemm` as
   * `bPacked` (bType BF16Dot, batch 1, the same transB, K and N), it replaces the per-call packing
   * of B: the same bits, minus a pass over the weight. `gemm` still takes B, and the paths that
   * do not multiply in bf16 (few rows, other builds) read B, so the two must hold the same values:
   * the caller keeps the pack only as long as B is unchanged (see tensor/weight-packs.ts).
   */
  packBf16Dot(B: Uint16Array, bOff: number, ldb: number, transB: boolean, K: number, N: number): Uint32Array | null;

  /**
   * An I8Dot weight stored [K, N] (not transposed: GPT-2's Conv1D) copied once in the panels of
   * the AVX512_VNNI decoding products (64 columns each, four k interleaved per column, as the
   * kernel's registers want them), or null where the active backend has no such kernel. Passed to
   * `gemm` as `bPacked` (bType I8Dot, transB false, batch 1, the same K and N), a product of at
   * most 4 rows reads it instead of B: panel after panel, a single sequential stream that memory
   * delivers faster than the strips of short row runs B takes, with no shuffles. The bits of the
   * result are the same. Products of more rows read B, so the two must hold the same values (see
   * tensor/weight-packs.ts).
   */
  packI8Dot(B: Int8Array, bOff: number, ldb: number, K: number, N: number): Uint32Array | null;

  /** Widen n half values (bf16/f16 bits) to float32: dst[i] = float(src[srcOff+i]). */
  widen(src: Uint16Array, srcOff: number, type: WType, dst: Float32Array, dstOff: number, n: number): void;

  /** y[i] = f(x[i]) for i < n. */
  unary(op: Unary, x: Float32Array, y: Float32Array, n: number): void;
  /** dx[i] = dy[i] * f'(x[i]) (y = f(x) is given too; Tanh/Sigmoid/Exp use y). dx may be dy (in place). */
  unaryBackward(op: Unary, x: Float32Array, y: Float32Array, dy: Float32Array, dx: Float32Array, n: number): void;

  /**
   * Row softmax over the last dim: x,y are [rows, cols]. y = softmax(scale * x) per row.
   * `log`: write log-softmax instead.
   */
  softmax(x: Float32Array, y: Float32Array, rows: number, cols: number, scale: number, log: boolean): void;
  /**
   * Backward of softmax (log=false): dx = scale * y * (dy - sum(dy*y)).
   * Backward of log-softmax (log=true, y = log-probs): dx = scale * (dy - exp(y) * sum(dy)).
   */
  softmaxBackward(y: Float32Array, dy: Float32Array, dx: Float32Array, rows: number, cols: number, scale: number, log: boolean): void;

  /**
   * LayerNorm over the last dim (biased variance, like PyTorch):
   * y = (x - mean) * rstd * gamma + beta. gamma/beta may be null (= 1 / 0).
   * Writes mean[rows] and rstd[rows] for the backward.
   */
  layerNorm(x: Float32Array, gamma: Float32Array | null, beta: Float32Array | null, y: Float32Array,
    mean: Float32Array, rstd: Float32Array, rows: number, cols: number, eps: number): void;
  /**
   * LayerNorm backward. dx is written; dgamma/dbeta (if non-null) are ACCUMULATED into
   * (caller zeroes them), so frozen norms pass null and pay nothing. dx may be dy (in place: each
   * row of dy is read whole before that row of dx is written).
   */
  layerNormBackward(x: Float32Array, gamma: Float32Array | null, mean: Float32Array, rstd: Float32Array,
    dy: Float32Array, dx: Float32Array, dgamma: Float32Array | null, dbeta: Float32Array | null,
    rows: number, cols: number): void;

  /** RMSNorm (Llama): y = x * rstd * gamma, rstd = 1/sqrt(mean(x^2) + eps). Writes rstd[rows]. */
  rmsNorm(x: Float32Array, gamma: Float32Array | null, y: Float32Array, rstd: Float32Array,
    rows: number, cols: number, eps: number): void;
  /** RMSNorm backward; dx written, dgamma (if non-null) accumulated. dx may be dy (in place), as layerNormBackward. */
  rmsNormBackward(x: Float32Array, gamma: Float32Array | null, rstd: Float32Array, dy: Float32Array,
    dx: Float32Array, dgamma: Float32Array | null, rows: number, cols: number): void;

  /**
   * Fused softmax cross-entropy over rows of logits [rows, V] with integer targets.
   * For each row r with targets[r] != ignoreIndex:
   *   lse = logsumexp(logits[r]); nll = lse - logits[r, t];
   *   smooth = lse - mean(logits[r]);   loss[r] = (1-eps) * nll + eps * smooth
   * Rows with the ignore index get loss[r] = 0 and dlogits row = 0.
   * If dlogits is non-null, writes dlogits[r] = gradScale * (softmax(logits[r]) - (1-eps)*onehot(t) - eps/V)
   * (the gradient of gradScale * loss[r]). dlogits may alias logits (in-place).
   * Returns the number of non-ignored rows.
   */
  crossEntropy(logits: Float32Array, targets: Int32Array, rows: number, V: number, ignoreIndex: number,
    labelSmoothing: number, loss: Float32Array, dlogits: Float32Array | null, gradScale: number): number;

  /**
   * Scaled dot-product attention, one call for all batches and heads.
   *  q: [B, H, T, D]; k, v: [B, Hkv, S, D] (H % Hkv == 0, head h uses kv head floor(h / (H/Hkv)));
   *  out: [B, H, T, D]; lse: [B, H, T] (log-sum-exp of each score row, for the backward).
   *  Query t sits at absolute key position t + (S - T) (the first S - T keys are a prefix or a
   *  cache). If causal, query t may attend key s only when s <= t + (S - T).
   *  keyMask: null or Uint8Array [B, S]; 0 = padding key, never attended.
   *  A row with no allowed key outputs zeros (and lse = -Infinity).
   *  scale multiplies q·k (usually 1/sqrt(D)).
   *  window (optional, > 0, causal only): sliding-window attention as Mistral/Qwen2: the query at
   *  absolute position p sees keys p - window < s <= p (0 or absent: no window).
   *  kvStride (optional): elements between consecutive [S, D] blocks of k and v (and dk, dv), so
   *  a cache with room for more positions than S is read in place; 0 or absent: S * D.
   *  layout (optional, not with a kvStride): where the rows of q, k, v and out live, so heads are
   *  read and written in place, e.g. side by side in a projection's [B, T, H·D] output or all three
   *  in one fused [B, T, (H + 2·Hkv)·D] (see `AttentionLayout`). lse stays packed [B, H, T].
   */
  attention(q: Float32Array, k: Float32Array, v: Float32Array, out: Float32Array, lse: Float32Array,
    B: number, H: number, Hkv: number, T: number, S: number, D: number,
    scale: number, causal: boolean, keyMask: Uint8Array | null, window?: number, kvStride?: number,
    layout?: Float64Array | null): void;
  /**
   * Attention backward: given dout, writes dq (same shape as q), dk and dv (rows s < S of each kv
   * head, summed over the query heads that share it; a kvStride's spare rows past S are left as they
   * are): none needs zeroing first. Any of dq/dk/dv may be null when not needed. With a `layout`, dq
   * has q's layout, dk k's, dv v's and dout out's; only their rows are written, so dq, dk and dv may
   * share one buffer (a fused projection's gradient).
   */
  attentionBackward(q: Float32Array, k: Float32Array, v: Float32Array, out: Float32Array, lse: Float32Array,
    dout: Float32Array, dq: Float32Array | null, dk: Float32Array | null, dv: Float32Array | null,
    B: number, H: number, Hkv: number, T: number, S: number, D: number,
    scale: number, causal: boolean, keyMask: Uint8Array | null, window?: number, kvStride?: number,
    layout?: Float64Array | null): void;

  /**
   * AdamW step on a flat parameter (PyTorch semantics, decoupled weight decay):
   *   p -= lr*wd*p; m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g^2;
   *   p -= lr * (m / bc1) / (sqrt(v / bc2) + eps),  bc1 = 1-b1^step, bc2 = 1-b2^step.
   */
  adamw(p: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, n: number,
    lr: number, beta1: number, beta2: number, eps: number, weightDecay: number, step: number): void;

  /**
   * y[i] += alpha * x[i] for i < n (gradient accumulation); with `out`, out[outOff + i] =
   * alpha * x[xOff + i] + y[yOff + i] instead and y is left as it was (one pass for a sum).
   */
  axpy(n: number, alpha: number, x: Float32Array, xOff: number, y: Float32Array, yOff: number,
    out?: Float32Array | null, outOff?: number): void;
  /** out[outOff + i] = x[xOff + i] * y[yOff + i] for i < n (out may be x or y). */
  mul(n: number, x: Float32Array, xOff: number, y: Float32Array, yOff: number, out: Float32Array, outOff: number): void;
  /**
   * Rotary position embedding (rotate-half pairs (i, i + D/2)) of the B·n1·n2 rows of D values of x,
   * in memory order [B, n1, n2]: [B, heads, T] or, with `tokenMajor`, [B, T, heads]. cos/sin hold
   * D/2 values per token: T rows shared by every batch item, or B·T rows with `perBatch`.
   * out = (x1·c − x2·s, x2·c + x1·s) with s = sign·sin (sign −1: the inverse rotation, the gradient).
   */
  rope(x: Float32Array, out: Float32Array, cos: Float32Array, sin: Float32Array, B: number, n1: number, n2: number,
    T: number, D: number, perBatch: boolean, tokenMajor: boolean, sign: number): void;
  /** Sum of squares of x[0..n) in float64 (global-norm clipping). */
  sumSquares(x: Float32Array, n: number): number;
}
