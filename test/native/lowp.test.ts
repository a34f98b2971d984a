/**
 * Low-precision frozen weights in the GEMM: bf16 compute (WType.BF16Dot), checked on every SIMD
 * build this CPU runs against the float32 TypeScript reference.
 *
 * Bounds (per element, scale = sum_k |alpha a_ik b_kj| + |beta c_ij|):
 *  - BF16Dot against the float32 reference: 2^-8 * scale. Rounding op(A) to bf16 moves each
 *    product by at most 2^-9 relative; float32 accumulation adds ~1e-6. On builds without
 *    AVX512_BF16 BF16Dot is computed in float32, so the float32 bound 1e-5 applies there.
 *  - On AVX512_BF16, against an emulation written here (op(A) rounded to bf16 to nearest even,
 *    then the float32 reference): 1e-5 * scale, which pins down that the kernel really rounds
 *    op(A) (and only op(A)) to bf16 and accumulates in float32.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { jsKernels } from '../../src/native/js-kernels.js';
import { I8DOT_GROUP, WType } from '../../src/native/kernels.js';
import { nativeKernels, nativeUnavailableReason, setNativeSimd, type NativeSimd } from '../../src/native/index.js';
import { fromBf16, toBf16 } from '../helpers/bf16.js';
import { mulberry32 as rng } from '../helpers/mulberry32.js';

const native = nativeKernels();
const skip = native ? false : `native addon unavailable: ${nativeUnavailableReason()}`;
const SIMDS: NativeSimd[] = ['avx512bf16', 'avx512', 'avx2', 'scalar'];


function randn(n: number, r: () => number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = r() * 2 - 1;
  return out;
}


function forEachSimd(fn: (simd: NativeSimd) => void): void {
  const start = native!.simd as NativeSimd;
  try {
    for (const simd of SIMDS) if (setNativeSimd(simd)) fn(simd);
  } finally {
    setNativeSimd(start);
  }
}

interface Case { M: number; N: number; K: number; ta: boolean; tb: boolean; beta?: number; batch?: number; pad?: number }

interface Prepared { run: () => Float32Array; want: Float32Array; emul: Float32Array; scale: Float32Array }

/** One BF16Dot GEMM: the float32 reference, the bf16 emulation, the error scale, and a native run. */
function prepare(c: Case, seed: number): Prepared {
  const r = rng(seed);
  const { M, N, K, ta, tb } = c;
  const beta = c.beta ?? 0, batch = c.batch ?? 1, pad = c.pad ?? 0, alpha = 0.75;
  const aRows = ta ? K : M, aCols = ta ? M : K, bRows = tb ? N : K, bCols = tb ? K : N;
  const lda = aCols + pad, ldb = bCols + pad, ldc = N + pad;
  const sA = aRows * lda + 1, sB = bRows * ldb + 3, sC = M * ldc + 2;
  const A = randn(batch * sA + 1, r);
  const Bw = new Uint16Array(batch * sB + 1);
  for (let i = 0; i < Bw.length; i++) Bw[i] = toBf16(r() * 2 - 1);
  const C0 = randn(batch * sC + 1, r);
  const want = C0.slice(), emul = C0.slice(), scale = C0.map((v) => Math.abs(beta * v));
  const call = (k: typeof jsKernels, a: Float32Array, al: number, b: Uint16Array | Float32Array, bt: WType, out: Float32Array, be: number) =>
    k.gemm(ta, tb, M, N, K, al, a, 1, lda, b, 1, ldb, bt, be, out, 1, ldc, batch, sA, sB, sC);
  call(jsKernels, A, alpha, Bw, WType.BF16, want, beta);
  const Ar = A.map((v) => fromBf16(toBf16(Math.fround(alpha * v))));
  call(jsKernels, Ar, 1, Bw, WType.BF16, emul, beta);
  const absB = new Float32Array(Bw.length);
  jsKernels.widen(Bw, 0, WType.BF16, absB, 0, Bw.length);
  call(jsKernels, A.map(Math.abs), alpha, absB.map(Math.abs), WType.F32, scale, 1);
  const run = (): Float32Array => {
    const got = C0.slice();
    native!.gemm(ta, tb, M, N, K, alpha, A, 1, lda, Bw, 1, ldb, WType.BF16Dot, beta, got, 1, ldc, batch, sA, sB, sC);
    return got;
  };
  return { run, want, emul, scale };
}

function within(a: Float32Array, e: Float32Array, scale: Float32Array, rtol: number, label: string): void {
  for (let i = 0; i < a.length; i++) {
    const tol = rtol * scale[i]! + 1e-30;
    if (!(Math.abs(a[i]! - e[i]!) <= tol)) assert.fail(`${label}[${i}]: ${a[i]} vs ${e[i]} (|diff| ${Math.abs(a[i]! - e[i]!)} > ${tol})`);
  }
}

describe('bf16 compute (WType.BF16Dot)', { skip }, () => {
  const cases: Case[] = [
    // tails in every dimension, odd K (a zero-padded pair), transposes, beta, padding
    { M: 17, N: 17, K: 3, ta: false, tb: true },
    { M: 33, N: 65, K: 47, ta: false, tb: true, beta: 0.3, pad: 1 },
    { M: 33, N: 65, K: 47, ta: false, tb: false, pad: 2 },
    { M: 29, N: 70, K: 301, ta: true, tb: true, beta: 0.5 },
    { M: 29, N: 70, K: 300, ta: true, tb: false },
    { M: 130, N: 97, K: 31, ta: false, tb: false, batch: 3, pad: 1 },
    // several K blocks (> 768) accumulate; M > MC and N > NC; threaded
    { M: 130, N: 200, K: 1601, ta: false, tb: true, beta: 0.25 },
    { M: 20, N: 2100, K: 40, ta: false, tb: false },
    { M: 120, N: 300, K: 900, ta: false, tb: false },
    // a long odd k and a small C, the class of a vocabulary-sized head's input gradient (dZ·E)
    { M: 45, N: 50, K: 5001, ta: false, tb: false },
    // a wide N split in column blocks handed out dynamically (the head's X·Eᵀ), with a tail block
    { M: 20, N: 8300, K: 40, ta: false, tb: true, beta: 0.5 },
    // a few rows (decoding, M <= 4): bf16 dot products where the CPU has AVX512_BF16; both layouts,
    // odd K (the last row paired with zeros), column and row tails, transposed A, beta, batches
    { M: 1, N: 300, K: 129, ta: false, tb: true },
    { M: 1, N: 301, K: 129, ta: false, tb: false, beta: 0.5 },
    { M: 2, N: 70, K: 64, ta: true, tb: false, pad: 1 },
    { M: 3, N: 1030, K: 33, ta: false, tb: true, batch: 2 },
    { M: 4, N: 161, K: 800, ta: false, tb: false, pad: 3 },
    { M: 4, N: 7, K: 1, ta: true, tb: true, beta: 0.25 },
    // small M / N otherwise (LoRA ranks): the float32 path with the weight widened
    { M: 5, N: 70, K: 33, ta: false, tb: false },
    { M: 40, N: 8, K: 64, ta: false, tb: true },
  ];

  test('matches the float32 reference within 2^-8 of sum |a b| on every build, every shape class', () => {
    const prepared = cases.map((c, i) => prepare(c, 11 + i));
    forEachSimd((simd) => {
      for (const [i, c] of cases.entries()) {
        const { run, want, emul, scale } = prepared[i]!;
        const got = run();
        const label = `${simd} ${JSON.stringify(c)}`;
        within(got, want, scale, 2 ** -8, label);
        // Large products (gemm_bf16.c) and a few rows (decoding, gemv_lowp.c) compute in bf16.
        const bf16Path = simd === 'avx512bf16' && ((c.M >= 17 && c.N >= 17) || c.M <= 4);
        // The bf16 path is the emulation to float32 accuracy; the others are the float32 reference.
        within(got, bf16Path ? emul : want, scale, 1e-5, `${label} (${bf16Path ? 'bf16 emulation' : 'float32'})`);
        if (bf16Path) {
          // ... and really differs from float32 (the test would pass vacuously on a fallback).
          let differs = 0;
          for (let i = 0; i < got.length; i++) if (got[i] !== want[i]) differs++;
          assert.ok(differs > got.length / 4, `${label}: only ${differs} of ${got.length} elements differ from float32`);
        }
      }
    });
  });

  test('the TypeScript kernels and widen treat BF16Dot as BF16 (float32 products)', () => {
    const r = rng(3);
    const A = randn(6 * 10, r);
    const Bw = new Uint16Array(10 * 7);
    for (let i = 0; i < Bw.length; i++) Bw[i] = toBf16(r() * 2 - 1);
    const c1 = new Float32Array(42), c2 = new Float32Array(42);
    jsKernels.gemm(false, false, 6, 7, 10, 1, A, 0, 10, Bw, 0, 7, WType.BF16Dot, 0, c1, 0, 7, 1, 0, 0, 0);
    jsKernels.gemm(false, false, 6, 7, 10, 1, A, 0, 10, Bw, 0, 7, WType.BF16, 0, c2, 0, 7, 1, 0, 0, 0);
    assert.deepEqual(c1, c2);
    const w1 = new Float32Array(70), w2 = new Float32Array(70);
    native!.widen(Bw, 0, WType.BF16Dot, w1, 0, 70);
    jsKernels.widen(Bw, 0, WType.BF16, w2, 0, 70);
    assert.deepEqual(w1, w2);
  });
});

describe('int8 weights (WType.I8, one scale per stored row)', { skip }, () => {
  interface I8Case { M: number; N: number; K: number; tb: boolean; ta?: boolean; beta?: number; batch?: number; shared?: boolean; pad?: number }
  const cases: I8Case[] = [
    { M: 1, N: 300, K: 129, tb: true }, // decode, transposed (Linear [out, in])
    { M: 1, N: 301, K: 77, tb: false, beta: 0.5 }, // decode, Conv1D [in, out]
    { M: 5, N: 70, K: 33, tb: false, pad: 3 },
    { M: 40, N: 8, K: 64, tb: true }, // skinny N
    { M: 37, N: 130, K: 50, tb: true, ta: true, beta: 0.3 },
    { M: 70, N: 90, K: 700, tb: false, pad: 1 }, // several k blocks accumulate
    { M: 20, N: 700, K: 900, tb: true }, // threaded column split
    { M: 9, N: 33, K: 17, tb: false, batch: 3 }, // per-item scales
    { M: 9, N: 33, K: 17, tb: true, batch: 3, shared: true }, // one B (and its scales) for every item
    // The direct int8 GEMV (M <= 4): full column blocks, vector and scalar tails, odd K, both layouts.
    { M: 1, N: 600, K: 801, tb: false, pad: 5 },
    { M: 3, N: 517, K: 95, tb: false, ta: true, beta: 0.25 },
    { M: 4, N: 1029, K: 1000, tb: true, pad: 2 }, // threaded, N % 4 = 1
    { M: 2, N: 7, K: 3, tb: true },
    { M: 1, N: 2000, K: 1500, tb: false }, // threaded column split
    { M: 2, N: 33, K: 17, tb: false, batch: 3 }, // per-item scales folded into the activations
    { M: 1, N: 40, K: 23, tb: true, batch: 2, shared: true, beta: 1 },
  ];

  test('matches the TypeScript reference (same dequantised values, float32 products) on every build', () => {
    const prepared = cases.map((c, ci) => {
      const r = rng(50 + ci);
      const { M, N, K, tb } = c;
      const ta = c.ta ?? false, beta = c.beta ?? 0, batch = c.batch ?? 1, pad = c.pad ?? 0;
      const aRows = ta ? K : M, aCols = ta ? M : K, bRows = tb ? N : K, bCols = tb ? K : N;
      const lda = aCols + pad, ldb = bCols + pad, ldc = N + pad;
      const sA = aRows * lda, sB = c.shared ? 0 : bRows * ldb, sC = M * ldc;
      const A = randn(batch * sA + 2, r);
      const q = new Int8Array(Math.max(1, batch * sB) + bRows * ldb);
      for (let i = 0; i < q.length; i++) q[i] = Math.round(r() * 254 - 127);
      const scales = Float32Array.from({ length: (c.shared ? 1 : batch) * bRows }, () => 0.001 + r() * 0.02);
      const C0 = randn(batch * sC + 2, r);
      const args = (C: Float32Array) => [ta, tb, M, N, K, 0.75, A, 2, lda, q, 0, ldb, WType.I8, beta, C, 2, ldc, batch, sA, sB, sC, scales] as const;
      const want = C0.slice();
      jsKernels.gemm(...args(want));
      // Error scale: 0.75 * sum |a| |s q| + |beta c|
      const absQ = new Float32Array(batch * Math.max(sB, 0) + bRows * ldb);
      for (let b = 0; b < (c.shared ? 1 : batch); b++)
        for (let row = 0; row < bRows; row++)
          for (let col = 0; col < bCols; col++) absQ[b * sB + row * ldb + col] = Math.abs(scales[b * bRows + row]! * q[b * sB + row * ldb + col]!);
      const scale = C0.map((v) => Math.abs(beta * v));
      jsKernels.gemm(ta, tb, M, N, K, 0.75, A.map(Math.abs), 2, lda, absQ, 0, ldb, WType.F32, 1, scale, 2, ldc, batch, sA, sB, sC);
      return { run: () => { const got = C0.slice(); native!.gemm(...args(got)); return got; }, want, scale };
    });
    forEachSimd((simd) => {
      prepared.forEach(({ run, want, scale }, i) => within(run(), want, scale, 1e-5, `${simd} I8 ${JSON.stringify(cases[i])}`));
    });
  });

  test('bad int8 arguments throw: missing or short scales, wrong array type', () => {
    const q = new Int8Array(12), C = new Float32Array(12), A = new Float32Array(12);
    assert.throws(() => native!.gemm(false, true, 3, 4, 3, 1, A, 0, 3, q, 0, 3, WType.I8, 0, C, 0, 4, 1, 0, 0, 0), /bScale.*required/);
    assert.throws(() => native!.gemm(false, true, 3, 4, 3, 1, A, 0, 3, q, 0, 3, WType.I8, 0, C, 0, 4, 1, 0, 0, 0, new Float32Array(3)), /bScale.*too short/);
    assert.throws(() => native!.gemm(false, true, 3, 4, 3, 1, A, 0, 3, new Uint16Array(12), 0, 3, WType.I8, 0, C, 0, 4, 1, 0, 0, 0, new Float32Array(4)), /'B' must be a Int8Array/);
    assert.throws(() => jsKernels.gemm(false, true, 3, 4, 3, 1, A, 0, 3, q, 0, 3, WType.I8, 0, C, 0, 4, 1, 0, 0, 0), /bScale/);
  });
});

/**
 * WType.I8Dot: rows of op(A) quantised to int8 (groups of I8DOT_GROUP k, scale max|x| / 127,
 * nearest-even codes) times the int8 weight with exact integer sums, for M <= I8DOT_MAX_M.
 * Checked on every SIMD build and the TypeScript kernels against an emulation written here in
 * float64 from the documented rule (same codes, so only float32 rounding differs: 1e-5 of the
 * error scale), and against the weight-only float32 reference (WType.I8) within the activation
 * rounding bound sum_k groupScale(k) / 2 * |B(k, j)| (plus 1e-5 of the scale).
 */
describe('int8 x int8 dot products (WType.I8Dot, M <= 4)', { skip }, () => {
  interface DotCase { M: number; N: number; K: number; tb: boolean; ta?: boolean; beta?: number; batch?: number; shared?: boolean; pad?: number }
  const cases: DotCase[] = [
    { M: 1, N: 300, K: 129, tb: true }, // two groups, the second of one k; NK row tail (N % 4 = 0)
    { M: 1, N: 301, K: 77, tb: false, beta: 0.5 }, // KN: one short group, K % 4 = 1, column tail
    { M: 2, N: 129, K: 256, tb: false, pad: 3 }, // exactly two groups; a 128-column block + 1
    { M: 3, N: 517, K: 95, tb: false, ta: true, beta: 0.25 }, // K % 4 = 3, 3 rows
    { M: 4, N: 1029, K: 1000, tb: true, pad: 2 }, // threaded, N % 4 = 1, K % 64 = 40
    { M: 4, N: 70, K: 130, tb: false }, // 4 rows: one 64-column block + tail; K % 4 = 2
    { M: 2, N: 7, K: 3, tb: true }, // tiny
    { M: 1, N: 1, K: 1, tb: false },
    { M: 1, N: 2000, K: 1500, tb: false }, // threaded column split
    { M: 1, N: 2305, K: 130, tb: false, beta: 0.5 }, // wide N: 256-column blocks, a 1-column tail
    { M: 1, N: 768, K: 3072, tb: false }, // GPT-2 c_proj of the MLP
    { M: 2, N: 33, K: 17, tb: false, batch: 3 }, // per-item scales folded into the activations
    { M: 1, N: 40, K: 23, tb: true, batch: 2, shared: true, beta: 1 },
    { M: 3, N: 65, K: 200, tb: true, ta: true, batch: 2 },
    { M: 1, N: 4099, K: 200, tb: true }, // NK row by row, threaded: a 3-row last block, K % 64 = 8
    { M: 2, N: 1031, K: 300, tb: true, pad: 1, beta: 0.5 }, // NK threaded, 2 rows, a short third group
    { M: 2, N: 300, K: 1000, tb: false, pad: 2 }, // KN split along K, threaded: 8 groups, N % 256 = 44
    { M: 4, N: 260, K: 515, tb: false, beta: 0.25 }, // KN threaded, 4 rows: a short last group, K % 4 = 3
  ];

  /** Round half to even (written here, independently of the kernels). */
  const rint = (v: number): number => {
    const fl = Math.floor(v), d = v - fl;
    return d > 0.5 ? fl + 1 : d < 0.5 ? fl : fl % 2 === 0 ? fl : fl + 1;
  };

  const prepared = cases.map((c, ci) => {
    const r = rng(90 + ci);
    const { M, N, K, tb } = c;
    const ta = c.ta ?? false, beta = c.beta ?? 0, batch = c.batch ?? 1, pad = c.pad ?? 0, alpha = 0.75;
    const aRows = ta ? K : M, aCols = ta ? M : K, bRows = tb ? N : K, bCols = tb ? K : N;
    const lda = aCols + pad, ldb = bCols + pad, ldc = N + pad;
    const sA = aRows * lda, sB = c.shared ? 0 : bRows * ldb, sC = M * ldc;
    const A = randn(batch * sA + 2, r);
    // Outlier activations in some rows: group scales must follow them.
    for (let i = 0; i < A.length; i += 37) A[i]! *= 20;
    const q = new Int8Array(Math.max(1, batch * sB) + bRows * ldb);
    for (let i = 0; i < q.length; i++) q[i] = Math.round(r() * 255 - 128); // -128 too
    const scales = Float32Array.from({ length: (c.shared ? 1 : batch) * bRows }, () => 0.001 + r() * 0.02);
    const C0 = randn(batch * sC + 2, r);
    const args = (C: Float32Array, t: WType) =>
      [ta, tb, M, N, K, alpha, A, 2, lda, q, 0, ldb, t, beta, C, 2, ldc, batch, sA, sB, sC, scales] as const;
    const weightOnly = C0.slice();
    jsKernels.gemm(...args(weightOnly, WType.I8));
    // The emulation, the error scale (alpha |a| |B| + |beta c|) and the activation rounding bound.
    const emul = C0.slice(), scale = C0.slice(), bound = C0.slice();
    const f = Math.fround, G = I8DOT_GROUP;
    for (let b = 0; b < batch; b++) {
      const s0 = c.shared ? 0 : b * bRows;
      const w = (k: number, j: number): number => q[b * sB + (tb ? j * ldb + k : k * ldb + j)]!;
      for (let m = 0; m < M; m++) {
        const a = (k: number): number => A[2 + b * sA + (ta ? k * lda + m : m * lda + k)]!;
        const xs = Array.from({ length: K }, (_, k) => (tb ? f(alpha * a(k)) : f(f(alpha * a(k)) * scales[s0 + k]!)));
        const codes: number[] = [], gscale: number[] = [];
        for (let g0 = 0; g0 < K; g0 += G) {
          const part = xs.slice(g0, g0 + G);
          const amax = Math.max(...part.map(Math.abs));
          const inv = amax > 0 ? f(127 / amax) : 0;
          for (const x of part) codes.push(Math.max(-127, Math.min(127, rint(f(x * inv)))));
          gscale.push(f(amax / 127));
        }
        for (let j = 0; j < N; j++) {
          let y = 0, sc = 0, err = 0;
          for (let g0 = 0, gi = 0; g0 < K; g0 += G, gi++) {
            let dot = 0;
            for (let k = g0; k < Math.min(K, g0 + G); k++) {
              dot += codes[k]! * w(k, j);
              sc += Math.abs(alpha * a(k) * scales[s0 + (tb ? j : k)]! * w(k, j));
              err += (gscale[gi]! / 2) * Math.abs(w(k, j)) * (tb ? scales[s0 + j]! : 1);
            }
            y += gscale[gi]! * dot;
          }
          if (tb) y *= scales[s0 + j]!;
          const ci2 = 2 + b * sC + m * ldc + j;
          emul[ci2] = y + beta * C0[ci2]!;
          scale[ci2] = sc + err + Math.abs(beta * C0[ci2]!);
          bound[ci2] = err;
        }
      }
    }
    for (let i = 0; i < scale.length; i++) if (scale[i] === C0[i]) { scale[i] = 0; bound[i] = 0; } // untouched (padding)
    return { c, args, emul, scale, bound, weightOnly, C0 };
  });

  test('every build and the TypeScript kernels compute the documented numerics (1e-5 of the scale)', () => {
    for (const { c, args, emul, scale, C0 } of prepared) {
      const js = C0.slice();
      jsKernels.gemm(...args(js, WType.I8Dot));
      within(js, emul, scale, 1e-5, `js I8Dot ${JSON.stringify(c)}`);
    }
    forEachSimd((simd) => {
      for (const { c, args, emul, scale, C0 } of prepared) {
        const got = C0.slice();
        native!.gemm(...args(got, WType.I8Dot));
        within(got, emul, scale, 1e-5, `${simd} I8Dot ${JSON.stringify(c)}`);
      }
    });
  });

  test('within the activation rounding bound of the weight-only result (and not equal to it)', () => {
    let moved = 0;
    for (const { c, args, bound, scale, weightOnly, C0 } of prepared) {
      const got = C0.slice();
      native!.gemm(...args(got, WType.I8Dot));
      for (let i = 0; i < got.length; i++) {
        const d = Math.abs(got[i]! - weightOnly[i]!);
        moved = Math.max(moved, d);
        assert.ok(d <= bound[i]! + 1e-5 * scale[i]!, `${JSON.stringify(c)}[${i}]: ${got[i]} vs weight-only ${weightOnly[i]} (bound ${bound[i]})`);
      }
    }
    assert.ok(moved > 0, 'I8Dot must quantise the activations');
  });

  test('more than 4 rows and non-finite activations run the weight-only path (NaN propagates)', () => {
    const { args, weightOnly, C0 } = prepared[3]!; // M = 3, beta = 0.25
    const A = args(C0, WType.I8)[6];
    const saved = A[2]!;
    A[2] = NaN;
    try {
      for (const k of [jsKernels, native!]) {
        const dot = C0.slice(), wo = C0.slice();
        k.gemm(...args(dot, WType.I8Dot));
        k.gemm(...args(wo, WType.I8));
        assert.ok(dot.some(Number.isNaN), `${k.name}: the NaN must reach C`);
        assert.deepEqual(Array.from(dot, String), Array.from(wo, String));
      }
    } finally {
      A[2] = saved;
    }
    void weightOnly;
    const r = rng(7), M = 5, N = 33, K = 70;
    const A5 = randn(M * K, r), q = Int8Array.from({ length: K * N }, () => Math.round(r() * 254 - 127));
    const s = Float32Array.from({ length: K }, () => 0.01 + r() * 0.01);
    const run = (k: typeof jsKernels, t: WType): Float32Array => {
      const C = new Float32Array(M * N);
      k.gemm(false, false, M, N, K, 1, A5, 0, K, q, 0, N, t, 0, C, 0, N, 1, 0, 0, 0, s);
      return C;
    };
    for (const k of [jsKernels, native!]) assert.deepEqual(run(k, WType.I8Dot), run(k, WType.I8));
  });
});
