/**
 * Pure TypeScript kernels: the reference implementation of the `Kernels` contract, and the backend
 * used wherever the native addon cannot be built. Written for clarity first and speed second
 * (loop orders that walk memory contiguously), single-threaded.
 */
import { f16BitsToFloat } from '../dtypes/half.js';
import { I8DOT_GROUP, I8DOT_MAX_M, type Kernels, Unary, WType } from './kernels.js';

function widenInto(src: Uint16Array, srcOff: number, type: WType, dst: Float32Array, dstOff: number, n: number): void {
  if (type === WType.BF16 || type === WType.BF16Dot) {
    const u = new Uint32Array(dst.buffer, dst.byteOffset, dst.length);
    for (let i = 0; i < n; i++) u[dstOff + i] = src[srcOff + i]! << 16;
  } else if (type === WType.F16) {
    for (let i = 0; i < n; i++) dst[dstOff + i] = f16BitsToFloat(src[srcOff + i]!);
  } else {
    throw new Error(`widen: unknown half type ${type as number}`);
  }
}

/**
 * erf with absolute error below 1.2e-7 (enough for float32 GELU): 1 - erfc from the Chebyshev
 * fit of Numerical Recipes' erfcc. Abramowitz-Stegun 7.1.26 (2.5e-5) would be too coarse.
 */
export function erf(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r = t * Math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 +
    t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 +
    t * (-0.82215223 + t * 0.17087277)))))))));
  return x >= 0 ? 1 - r : r - 1;
}

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const INV_SQRT2 = Math.SQRT1_2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

function unaryForward(op: Unary, x: Float32Array, y: Float32Array, n: number): void {
  switch (op) {
    case Unary.GeluTanh:
      for (let i = 0; i < n; i++) {
        const v = x[i]!;
        y[i] = 0.5 * v * (1 + Math.tanh(SQRT_2_OVER_PI * (v + 0.044715 * v * v * v)));
      }
      return;
    case Unary.GeluErf:
      for (let i = 0; i < n; i++) { const v = x[i]!; y[i] = 0.5 * v * (1 + erf(v * INV_SQRT2)); }
      return;
    case Unary.Silu:
      for (let i = 0; i < n; i++) { const v = x[i]!; y[i] = v / (1 + Math.exp(-v)); }
      return;
    case Unary.Relu:
      for (let i = 0; i < n; i++) { const v = x[i]!; y[i] = v > 0 ? v : 0; }
      return;
    case Unary.Tanh:
      for (let i = 0; i < n; i++) y[i] = Math.tanh(x[i]!);
      return;
    case Unary.Sigmoid:
      for (let i = 0; i < n; i++) y[i] = 1 / (1 + Math.exp(-x[i]!));
      return;
    case Unary.Exp:
      for (let i = 0; i < n; i++) y[i] = Math.exp(x[i]!);
      return;
    default:
      throw new Error(`unary: unknown op ${op as number}`);
  }
}

function unaryBackward(op: Unary, x: Float32Array, y: Float32Array, dy: Float32Array, dx: Float32Array, n: number): void {
  switch (op) {
    case Unary.GeluTanh:
      for (let i = 0; i < n; i++) {
        const v = x[i]!;
        const u = SQRT_2_OVER_PI * (v + 0.044715 * v * v * v);
        const t = Math.tanh(u);
        const du = SQRT_2_OVER_PI * (1 + 3 * 0.044715 * v * v);
        dx[i] = dy[i]! * (0.5 * (1 + t) + 0.5 * v * (1 - t * t) * du);
      }
      return;
    case Unary.GeluErf:
      for (let i = 0; i < n; i++) {
        const v = x[i]!;
        dx[i] = dy[i]! * (0.5 * (1 + erf(v * INV_SQRT2)) + v * INV_SQRT_2PI * Math.exp(-0.5 * v * v));
      }
      return;
    case Unary.Silu:
      for (let i = 0; i < n; i++) {
        const v = x[i]!;
        const s = 1 / (1 + Math.exp(-v));
        dx[i] = dy[i]! * s * (1 + v * (1 - s));
      }
      return;
    case Unary.Relu:
      for (let i = 0; i < n; i++) dx[i] = x[i]! > 0 ? dy[i]! : 0;
      return;
    case Unary.Tanh:
      for (let i = 0; i < n; i++) { const t = y[i]!; dx[i] = dy[i]! * (1 - t * t); }
      return;
    case Unary.Sigmoid:
      for (let i = 0; i < n; i++) { const s = y[i]!; dx[i] = dy[i]! * s * (1 - s); }
      return;
    case Unary.Exp:
      for (let i = 0; i < n; i++) dx[i] = dy[i]! * y[i]!;
      return;
    default:
      throw new Error(`unaryBackward: unknown op ${op as number}`);
  }
}

/**
 * GEMM on float32 operands: C = alpha*op(A)op(B) + beta*C, one matrix. The i-k-j loop walks C and
 * B rows contiguously; transposed operands are read with strides.
 */
function gemm1(transA: boolean, transB: boolean, M: number, N: number, K: number, alpha: number,
  A: Float32Array, aOff: number, lda: number, B: Float32Array, bOff: number, ldb: number,
  beta: number, C: Float32Array, cOff: number, ldc: number, row: Float32Array): void {
  for (let i = 0; i < M; i++) {
    row.fill(0, 0, N);
    for (let k = 0; k < K; k++) {
      const a = transA ? A[aOff + k * lda + i]! : A[aOff + i * lda + k]!;
      if (transB) {
        for (let j = 0; j < N; j++) row[j]! += a * B[bOff + j * ldb + k]!;
      } else {
        const b0 = bOff + k * ldb;
        for (let j = 0; j < N; j++) row[j]! += a * B[b0 + j]!;
      }
    }
    const c0 = cOff + i * ldc;
    if (beta === 0) for (let j = 0; j < N; j++) C[c0 + j] = alpha * row[j]!;
    else for (let j = 0; j < N; j++) C[c0 + j] = alpha * row[j]! + beta * C[c0 + j]!;
  }
}

/** Round half to even (the C kernels' nearbyintf in the default rounding mode). */
function rintEven(v: number): number {
  const r = Math.round(v); // half up
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * WType.I8Dot for M <= I8DOT_MAX_M rows (the numerics of native/i8dot.h, in the same float32
 * steps): each row of xs = alpha * op(A) (times the stored row's scale when B is [K, N]) is
 * quantised to int8 in groups of I8DOT_GROUP k with scale max|x| / 127, the integer sums are exact,
 * and y = sum over groups of scale_g * sum_g, times the stored row's scale when B is [N, K].
 * Returns false (nothing written) when some xs is not finite: the caller runs WType.I8 instead.
 */
function gemmI8Dot(transA: boolean, transB: boolean, M: number, N: number, K: number, alpha: number,
  A: Float32Array, aOff: number, lda: number, q: Int8Array, bOff: number, ldb: number, bScale: Float32Array,
  beta: number, C: Float32Array, cOff: number, ldc: number, batch: number, strideA: number, strideB: number,
  strideC: number): boolean {
  const f = Math.fround, G = I8DOT_GROUP, groups = Math.ceil(K / G), rows = transB ? N : K;
  const xs = new Float32Array(batch * M * K);
  for (let b = 0; b < batch; b++) {
    const s0 = strideB ? b * rows : 0;
    for (let m = 0; m < M; m++)
      for (let k = 0; k < K; k++) {
        const a = A[aOff + b * strideA + (transA ? k * lda + m : m * lda + k)]!;
        const v = f(alpha * a);
        const x = transB ? v : f(v * bScale[s0 + k]!);
        if (!Number.isFinite(x)) return false;
        xs[(b * M + m) * K + k] = x;
      }
  }
  const codes = new Int8Array(K), gs = new Float32Array(groups), acc = new Float64Array(N);
  for (let b = 0; b < batch; b++) {
    const s0 = strideB ? b * rows : 0, bo = bOff + b * strideB;
    for (let m = 0; m < M; m++) {
      const x0 = (b * M + m) * K;
      for (let g = 0; g < groups; g++) {
        const k0 = g * G, k1 = Math.min(K, k0 + G);
        let amax = 0;
        for (let k = k0; k < k1; k++) amax = Math.max(amax, Math.abs(xs[x0 + k]!));
        const inv = amax > 0 ? f(127 / amax) : 0;
        for (let k = k0; k < k1; k++) codes[k] = Math.max(-127, Math.min(127, rintEven(f(xs[x0 + k]! * inv))));
        gs[g] = f(amax / 127);
      }
      acc.fill(0);
      for (let g = 0; g < groups; g++) {
        const k0 = g * G, k1 = Math.min(K, k0 + G), s = gs[g]!;
        for (let j = 0; j < N; j++) {
          let dot = 0;
          if (transB) for (let k = k0; k < k1; k++) dot += codes[k]! * q[bo + j * ldb + k]!;
          else for (let k = k0; k < k1; k++) dot += codes[k]! * q[bo + k * ldb + j]!;
          acc[j]! += s * dot;
        }
      }
      const c0 = cOff + b * strideC + m * ldc;
      for (let j = 0; j < N; j++) {
        const y = transB ? f(acc[j]!) * bScale[s0 + j]! : acc[j]!;
        C[c0 + j] = beta === 0 ? y : y + beta * C[c0 + j]!;
      }
    }
  }
  return true;
}

const NEG_INF = -Infinity;

/** The optional attention arguments, validated as the addon does. */
function checkWindow(window: number, causal: boolean, kvStride: number, S: number, D: number): void {
  if (!Number.isInteger(window) || window < 0) throw new RangeError(`attention: window must be an integer >= 0, got ${window}`);
  if (window > 0 && !causal) throw new RangeError('attention: a sliding window needs causal attention');
  if (kvStride !== 0 && kvStride < S * D) throw new RangeError(`attention: kvStride must be >= S * D = ${S * D}, got ${kvStride}`);
}

/** Row addressing of the attention operands (kernels.ts `AttentionLayout`), validated as the addon does. */
function attentionLayout(layout: Float64Array | null, kvStride: number, B: number, H: number, Hkv: number, T: number, S: number, D: number) {
  const kv = kvStride || S * D;
  let l: ArrayLike<number> = [0, H * T * D, T * D, D, 0, Hkv * kv, kv, D, 0, Hkv * kv, kv, D, 0, H * T * D, T * D, D];
  if (layout) {
    if (layout.length !== 16) throw new RangeError(`attention: layout must hold 16 numbers, got ${layout.length}`);
    if (kvStride !== 0 && kvStride !== S * D) throw new RangeError('attention: layout cannot be combined with kvStride');
    for (const x of layout) if (!Number.isInteger(x) || x < 0) throw new RangeError(`attention: layout must hold integers >= 0, got ${x}`);
    l = layout;
  }
  const at = (i: number) => (b: number, h: number, t: number): number => l[i]! + b * l[i + 1]! + h * l[i + 2]! + t * l[i + 3]!;
  return { q: at(0), k: at(4), v: at(8), o: at(12), kt: l[7]!, vt: l[11]! };
}

export const jsKernels: Kernels = {
  name: 'js',
  threads: 1,
  simd: 'js',

  gemm(transA, transB, M, N, K, alpha, A, aOff, lda, B, bOff, ldb, bType, beta, C, cOff, ldc, batch, strideA, strideB, strideC, bScale, bias) {
    if (bias) {
      if (bias.length < N) throw new Error(`gemm: bias has ${bias.length} values, needs N = ${N}`);
      // C = beta·C + bias, then the product is added to it (the native kernels' numerics).
      for (let b = 0; b < batch; b++)
        for (let i = 0; i < M; i++) {
          const c0 = cOff + b * strideC + i * ldc;
          if (beta === 0) for (let j = 0; j < N; j++) C[c0 + j] = bias[j]!;
          else for (let j = 0; j < N; j++) C[c0 + j] = Math.fround(beta * C[c0 + j]!) + bias[j]!;
        }
      if (M > 0 && N > 0) beta = 1;
    }
    if (bType === WType.I8Dot) {
      if (!bScale) throw new Error('gemm: bType I8Dot needs bScale (one float32 scale per stored row of B)');
      if (M <= I8DOT_MAX_M && M > 0 && N > 0 && K > 0 && batch > 0 && alpha !== 0 &&
        gemmI8Dot(transA, transB, M, N, K, alpha, A, aOff, lda, B as Int8Array, bOff, ldb, bScale, beta, C, cOff, ldc,
          batch, strideA, strideB, strideC))
        return;
      bType = WType.I8;
    }
    const row = new Float32Array(N);
    for (let b = 0; b < batch; b++) {
      let Bf: Float32Array;
      const bo = bOff + b * strideB;
      if (bType === WType.I8) {
        // Dequantise this item's rows (one scale per stored row), then the float32 path.
        if (!bScale) throw new Error('gemm: bType I8 needs bScale (one float32 scale per stored row of B)');
        const rows = transB ? N : K, cols = transB ? K : N, s0 = strideB ? b * rows : 0;
        const q = B as Int8Array;
        Bf = new Float32Array(rows * cols);
        for (let r = 0; r < rows; r++) {
          const s = bScale[s0 + r]!;
          for (let c = 0; c < cols; c++) Bf[r * cols + c] = s * q[bo + r * ldb + c]!;
        }
        gemm1(transA, transB, M, N, K, alpha, A, aOff + b * strideA, lda, Bf, 0, cols, beta, C, cOff + b * strideC, ldc, row);
        continue;
      }
      if (bType === WType.F32) {
        Bf = B as Float32Array;
      } else {
        // Widen just the rows of this matrix once, then reuse the float32 path (BF16Dot too: the
        // reference computes bf16 weights in float32, see WType).
        const rows = transB ? N : K;
        const cols = transB ? K : N;
        Bf = new Float32Array(rows * cols);
        for (let r = 0; r < rows; r++) widenInto(B as Uint16Array, bo + r * ldb, bType, Bf, r * cols, cols);
        gemm1(transA, transB, M, N, K, alpha, A, aOff + b * strideA, lda, Bf, 0, cols, beta, C, cOff + b * strideC, ldc, row);
        continue;
      }
      gemm1(transA, transB, M, N, K, alpha, A, aOff + b * strideA, lda, Bf, bo, ldb, beta, C, cOff + b * strideC, ldc, row);
    }
  },

  // No bf16 products here (BF16Dot is computed as BF16): nothing to pack, and gemm ignores bPacked.
  packBf16Dot: () => null,
  packI8Dot: () => null,
  widen: widenInto,
  unary: unaryForward,
  unaryBackward,

  softmax(x, y, rows, cols, scale, log) {
    for (let r = 0; r < rows; r++) {
      const o = r * cols;
      let mx = NEG_INF;
      for (let j = 0; j < cols; j++) { const v = scale * x[o + j]!; if (v > mx) mx = v; }
      if (mx === NEG_INF) { y.fill(log ? NEG_INF : 0, o, o + cols); continue; }
      let s = 0;
      for (let j = 0; j < cols; j++) s += Math.exp(scale * x[o + j]! - mx);
      if (log) {
        const lse = mx + Math.log(s);
        for (let j = 0; j < cols; j++) y[o + j] = scale * x[o + j]! - lse;
      } else {
        const inv = 1 / s;
        for (let j = 0; j < cols; j++) y[o + j] = Math.exp(scale * x[o + j]! - mx) * inv;
      }
    }
  },

  softmaxBackward(y, dy, dx, rows, cols, scale, log) {
    for (let r = 0; r < rows; r++) {
      const o = r * cols;
      let s = 0;
      if (log) {
        for (let j = 0; j < cols; j++) s += dy[o + j]!;
        for (let j = 0; j < cols; j++) dx[o + j] = scale * (dy[o + j]! - Math.exp(y[o + j]!) * s);
      } else {
        for (let j = 0; j < cols; j++) s += dy[o + j]! * y[o + j]!;
        for (let j = 0; j < cols; j++) dx[o + j] = scale * y[o + j]! * (dy[o + j]! - s);
      }
    }
  },

  layerNorm(x, gamma, beta, y, mean, rstd, rows, cols, eps) {
    for (let r = 0; r < rows; r++) {
      const o = r * cols;
      let m = 0;
      for (let j = 0; j < cols; j++) m += x[o + j]!;
      m /= cols;
      let v = 0;
      for (let j = 0; j < cols; j++) { const d = x[o + j]! - m; v += d * d; }
      const rs = 1 / Math.sqrt(v / cols + eps);
      mean[r] = m;
      rstd[r] = rs;
      for (let j = 0; j < cols; j++) {
        const n = (x[o + j]! - m) * rs;
        y[o + j] = n * (gamma ? gamma[j]! : 1) + (beta ? beta[j]! : 0);
      }
    }
  },

  layerNormBackward(x, gamma, mean, rstd, dy, dx, dgamma, dbeta, rows, cols) {
    for (let r = 0; r < rows; r++) {
      const o = r * cols;
      const m = mean[r]!;
      const rs = rstd[r]!;
      // dxhat = dy * gamma; dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))
      let s1 = 0;
      let s2 = 0;
      for (let j = 0; j < cols; j++) {
        const xh = (x[o + j]! - m) * rs;
        const g = dy[o + j]! * (gamma ? gamma[j]! : 1);
        s1 += g;
        s2 += g * xh;
        if (dgamma) dgamma[j]! += dy[o + j]! * xh;
        if (dbeta) dbeta[j]! += dy[o + j]!;
      }
      s1 /= cols;
      s2 /= cols;
      for (let j = 0; j < cols; j++) {
        const xh = (x[o + j]! - m) * rs;
        const g = dy[o + j]! * (gamma ? gamma[j]! : 1);
        dx[o + j] = rs * (g - s1 - xh * s2);
      }
    }
  },

  rmsNorm(x, gamma, y, rstd, rows, cols, eps) {
    for (let r = 0; r < rows; r++) {
      const o = r * cols;
      let ss = 0;
      for (let j = 0; j < cols; j++) ss += x[o + j]! * x[o + j]!;
      const rs = 1 / Math.sqrt(ss / cols + eps);
      rstd[r] = rs;
      for (let j = 0; j < cols; j++) y[o + j] = x[o + j]! * rs * (gamma ? gamma[j]! : 1);
    }
  },

  rmsNormBackward(x, gamma, rstd, dy, dx, dgamma, rows, cols) {
    for (let r = 0; r < rows; r++) {
      const o = r * cols;
      const rs = rstd[r]!;
      // y = x*rs*g; dx = rs*(dy*g) - x * rs^3 * mean(dy*g*x)
      let s = 0;
      for (let j = 0; j < cols; j++) {
        s += dy[o + j]! * (gamma ? gamma[j]! : 1) * x[o + j]!;
        if (dgamma) dgamma[j]! += dy[o + j]! * x[o + j]! * rs;
      }
      s /= cols;
      const rs3 = rs * rs * rs;
      for (let j = 0; j < cols; j++) dx[o + j] = rs * dy[o + j]! * (gamma ? gamma[j]! : 1) - x[o + j]! * rs3 * s;
    }
  },

  crossEntropy(logits, targets, rows, V, ignoreIndex, labelSmoothing, loss, dlogits, gradScale) {
    let count = 0;
    const eps = labelSmoothing;
    for (let r = 0; r < rows; r++) {
      const o = r * V;
      const t = targets[r]!;
      if (t === ignoreIndex) {
        loss[r] = 0;
        if (dlogits) dlogits.fill(0, o, o + V);
        continue;
      }
      if (t < 0 || t >= V) throw new Error(`crossEntropy: target ${t} at row ${r} is outside [0, ${V})`);
      count++;
      let mx = NEG_INF;
      let sum = 0;
      for (let j = 0; j < V; j++) { const v = logits[o + j]!; if (v > mx) mx = v; sum += v; }
      let s = 0;
      for (let j = 0; j < V; j++) s += Math.exp(logits[o + j]! - mx);
      const lse = mx + Math.log(s);
      const nll = lse - logits[o + t]!;
      loss[r] = (1 - eps) * nll + eps * (lse - sum / V);
      if (dlogits) {
        const inv = 1 / s;
        const off = eps / V;
        for (let j = 0; j < V; j++) dlogits[o + j] = gradScale * (Math.exp(logits[o + j]! - mx) * inv - off);
        dlogits[o + t]! -= gradScale * (1 - eps);
      }
    }
    return count;
  },

  attention(q, k, v, out, lse, B, H, Hkv, T, S, D, scale, causal, keyMask, window = 0, kvStride = 0, layout = null) {
    checkWindow(window, causal, kvStride, S, D);
    const L = attentionLayout(layout, kvStride, B, H, Hkv, T, S, D);
    const group = H / Hkv;
    const offset = S - T;
    const p = new Float64Array(S);
    for (let b = 0; b < B; b++) {
      for (let h = 0; h < H; h++) {
        const kvh = Math.floor(h / group);
        const kBase = L.k(b, kvh, 0), vBase = L.v(b, kvh, 0);
        for (let t = 0; t < T; t++) {
          const qo = L.q(b, h, t), oo = L.o(b, h, t);
          const limit = causal ? Math.min(S, t + offset + 1) : S;
          const first = window > 0 ? Math.max(0, t + offset + 1 - window) : 0;
          let mx = NEG_INF;
          for (let s = 0; s < limit; s++) {
            if (s < first || (keyMask && keyMask[b * S + s] === 0)) { p[s] = NEG_INF; continue; }
            let dot = 0;
            const ko = kBase + s * L.kt;
            for (let d = 0; d < D; d++) dot += q[qo + d]! * k[ko + d]!;
            p[s] = dot * scale;
            if (p[s]! > mx) mx = p[s]!;
          }
          const row = (b * H + h) * T + t;
          if (mx === NEG_INF) {
            out.fill(0, oo, oo + D);
            lse[row] = NEG_INF;
            continue;
          }
          let sum = 0;
          for (let s = 0; s < limit; s++) { const e = p[s] === NEG_INF ? 0 : Math.exp(p[s]! - mx); p[s] = e; sum += e; }
          lse[row] = mx + Math.log(sum);
          for (let d = 0; d < D; d++) {
            let acc = 0;
            for (let s = 0; s < limit; s++) acc += p[s]! * v[vBase + s * L.vt + d]!;
            out[oo + d] = acc / sum;
          }
        }
      }
    }
  },

  attentionBackward(q, k, v, out, lse, dout, dq, dk, dv, B, H, Hkv, T, S, D, scale, causal, keyMask, window = 0, kvStride = 0, layout = null) {
    checkWindow(window, causal, kvStride, S, D);
    const L = attentionLayout(layout, kvStride, B, H, Hkv, T, S, D);
    const group = H / Hkv;
    const offset = S - T;
    const p = new Float64Array(S);
    const dp = new Float64Array(S);
    // dq, dk and dv are written: clear their rows only (they may share one buffer; a kv cache's
    // spare rows past S stay as they are).
    if (dq) for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) for (let t = 0; t < T; t++) dq.fill(0, L.q(b, h, t), L.q(b, h, t) + D);
    for (let b = 0; b < B; b++)
      for (let h = 0; h < Hkv; h++)
        for (let s = 0; s < S; s++) {
          if (dk) dk.fill(0, L.k(b, h, s), L.k(b, h, s) + D);
          if (dv) dv.fill(0, L.v(b, h, s), L.v(b, h, s) + D);
        }
    for (let b = 0; b < B; b++) {
      for (let h = 0; h < H; h++) {
        const kvh = Math.floor(h / group);
        const kBase = L.k(b, kvh, 0), vBase = L.v(b, kvh, 0);
        for (let t = 0; t < T; t++) {
          const row = (b * H + h) * T + t;
          const Lr = lse[row]!;
          if (Lr === NEG_INF) continue;
          const qo = L.q(b, h, t), oo = L.o(b, h, t);
          const limit = causal ? Math.min(S, t + offset + 1) : S;
          // P = exp(score - lse); dP = dout . v; dS = P * (dP - sum(dout*out))
          let delta = 0;
          for (let d = 0; d < D; d++) delta += dout[oo + d]! * out[oo + d]!;
          const first = window > 0 ? Math.max(0, t + offset + 1 - window) : 0;
          for (let s = 0; s < limit; s++) {
            if (s < first || (keyMask && keyMask[b * S + s] === 0)) { p[s] = 0; dp[s] = 0; continue; }
            const ko = kBase + s * L.kt, vo = vBase + s * L.vt;
            let dot = 0;
            let dpv = 0;
            for (let d = 0; d < D; d++) { dot += q[qo + d]! * k[ko + d]!; dpv += dout[oo + d]! * v[vo + d]!; }
            p[s] = Math.exp(dot * scale - Lr);
            dp[s] = p[s]! * (dpv - delta);
          }
          for (let s = 0; s < limit; s++) {
            const ps = p[s]!;
            if (ps === 0 && dp[s] === 0) continue;
            const ko = kBase + s * L.kt, vo = vBase + s * L.vt;
            const ds = dp[s]! * scale;
            for (let d = 0; d < D; d++) {
              if (dq) dq[qo + d]! += ds * k[ko + d]!;
              if (dk) dk[ko + d]! += ds * q[qo + d]!;
              if (dv) dv[vo + d]! += ps * dout[oo + d]!;
            }
          }
        }
      }
    }
  },

  adamw(p, g, m, v, n, lr, beta1, beta2, eps, weightDecay, step) {
    const bc1 = 1 - beta1 ** step;
    const bc2 = 1 - beta2 ** step;
    const decay = 1 - lr * weightDecay;
    for (let i = 0; i < n; i++) {
      const gi = g[i]!;
      const mi = beta1 * m[i]! + (1 - beta1) * gi;
      const vi = beta2 * v[i]! + (1 - beta2) * gi * gi;
      m[i] = mi;
      v[i] = vi;
      p[i] = p[i]! * decay - lr * (mi / bc1) / (Math.sqrt(vi / bc2) + eps);
    }
  },

  axpy(n, alpha, x, xOff, y, yOff, out, outOff) {
    if (out) {
      if (outOff === undefined) throw new Error("axpy: 'outOff' is required with 'out'");
      for (let i = 0; i < n; i++) out[outOff + i] = y[yOff + i]! + alpha * x[xOff + i]!;
    } else for (let i = 0; i < n; i++) y[yOff + i]! += alpha * x[xOff + i]!;
  },

  mul(n, x, xOff, y, yOff, out, outOff) {
    for (let i = 0; i < n; i++) out[outOff + i] = x[xOff + i]! * y[yOff + i]!;
  },

  rope(x, out, cos, sin, B, n1, n2, T, D, perBatch, tokenMajor, sign) {
    const h = D / 2;
    for (let b = 0; b < B; b++)
      for (let i1 = 0; i1 < n1; i1++)
        for (let i2 = 0; i2 < n2; i2++) {
          const o = ((b * n1 + i1) * n2 + i2) * D;
          const c0 = ((perBatch ? b * T : 0) + (tokenMajor ? i1 : i2)) * h;
          for (let i = 0; i < h; i++) {
            const c = cos[c0 + i]!;
            const s = sign * sin[c0 + i]!;
            const x1 = x[o + i]!;
            const x2 = x[o + i + h]!;
            out[o + i] = x1 * c - x2 * s;
            out[o + i + h] = x2 * c + x1 * s;
          }
        }
  },

  sumSquares(x, n) {
    let s = 0;
    for (let i = 0; i < n; i++) s += x[i]! * x[i]!;
    return s;
  },
};
