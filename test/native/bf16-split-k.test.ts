/**
 * bf16 compute (WType.BF16Dot) of problems whose K dwarfs M and N (a vocabulary-sized head's input
 * gradient dZ·E): gemm_bf16.c cuts K into slices accumulated in separate float32 partials and
 * adds them up afterwards. Every shape here takes that path (K >= 3072 and K >= 8 max(M, N)).
 *
 * Checked against a float64 reference written here, with op(A) scaled by alpha and rounded to
 * bf16 (nearest even) as the kernel must: |got - ref| <= 1e-5 * (sum_k |alpha a b| + |beta c| +
 * |bias|) (float32 accumulation over a few thousand products). C starts NaN-poisoned where beta
 * = 0, so an element no slice stored cannot pass. The slices depend on the shape only: the bits
 * are the same on 1, 2 and 6 threads (6 > the slice count also splits N between threads).
 */
import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { describe, test } from 'node:test';
import { WType } from '../../src/native/kernels.js';
import { nativeKernels, setNativeThreads } from '../../src/native/index.js';
import { bf16GemmSkip, randomBf16, roundBf16 } from '../helpers/bf16.js';
import { mulberry32 as rng } from '../helpers/mulberry32.js';

const native = nativeKernels();
const skip = bf16GemmSkip('BF16Dot is float32 there, covered by lowp.test.ts');

interface Case {
  M: number;
  N: number;
  K: number;
  ta: boolean;
  tb: boolean;
  alpha: number;
  beta: number;
  bias?: boolean;
  batch?: number;
  pad?: number;
}

const cases: Case[] = [
  { M: 40, N: 48, K: 4001, ta: false, tb: false, alpha: 1, beta: 0 }, // the head's dZ·E layout, odd K
  { M: 33, N: 21, K: 3333, ta: true, tb: true, alpha: -1.25, beta: 0.5, pad: 3 },
  { M: 64, N: 96, K: 3073, ta: false, tb: true, alpha: 0.75, beta: -0.3, bias: true },
  { M: 18, N: 40, K: 6400, ta: true, tb: false, alpha: 2, beta: 1, bias: true, batch: 2, pad: 1 },
  { M: 25, N: 19, K: 3500, ta: false, tb: false, alpha: 0.5, beta: 0, bias: true, batch: 2 },
];

describe('bf16 compute with K much larger than M and N (split-K)', { skip }, () => {
  for (const [ci, c] of cases.entries())
    test(JSON.stringify(c), () => {
      const k = native;
      assert.ok(k);
      const r = rng(100 + ci);
      const { M, N, K, ta, tb, alpha, beta } = c;
      const batch = c.batch ?? 1, pad = c.pad ?? 0;
      const aRows = ta ? K : M, aCols = ta ? M : K, bRows = tb ? N : K, bCols = tb ? K : N;
      const lda = aCols + pad, ldb = bCols + pad, ldc = N + pad;
      const sA = aRows * lda + 1, sB = bRows * ldb + 3, sC = M * ldc + 2;
      const A = Float32Array.from({ length: batch * sA + 1 }, () => r() * 2 - 1);
      const { bits: B, values: Bf } = randomBf16(batch * sB + 1, r);
      const bias = c.bias ? Float32Array.from({ length: N }, () => r() * 4 - 2) : null;
      const C0 = Float32Array.from({ length: batch * sC + 1 }, () => (beta === 0 ? NaN : r() * 2 - 1));

      // float64 reference; `want` rounds alpha * op(A) to bf16, `plain` does not (the kernel must).
      const want = C0.slice(), plain = C0.slice(), scale = new Float64Array(C0.length);
      const inside = new Uint8Array(C0.length);
      const ar = new Float64Array(K), ap = new Float64Array(K);
      for (let b = 0; b < batch; b++)
        for (let i = 0; i < M; i++) {
          for (let p = 0; p < K; p++) {
            const a = A[1 + b * sA + (ta ? p * lda + i : i * lda + p)] ?? NaN;
            ap[p] = alpha * a;
            ar[p] = roundBf16(Math.fround(alpha * a));
          }
          for (let j = 0; j < N; j++) {
            let s = 0, sp = 0, sa = 0;
            for (let p = 0; p < K; p++) {
              const bv = Bf[1 + b * sB + (tb ? j * ldb + p : p * ldb + j)] ?? NaN;
              s += (ar[p] ?? NaN) * bv;
              sp += (ap[p] ?? NaN) * bv;
              sa += Math.abs((ar[p] ?? NaN) * bv);
            }
            const ci = 1 + b * sC + i * ldc + j;
            inside[ci] = 1;
            const c0 = beta === 0 ? 0 : beta * (C0[ci] ?? NaN);
            const bj = bias ? (bias[j] ?? NaN) : 0;
            want[ci] = c0 + bj + s;
            plain[ci] = c0 + bj + sp;
            scale[ci] = sa + Math.abs(c0) + Math.abs(bj);
          }
        }

      const run = (threads: number): Float32Array => {
        setNativeThreads(threads);
        const got = C0.slice();
        k.gemm(ta, tb, M, N, K, alpha, A, 1, lda, B, 1, ldb, WType.BF16Dot, beta, got, 1, ldc, batch, sA, sB, sC, null, bias);
        return got;
      };
      try {
        const got = run(2);
        let rounded = 0, outside = 0;
        for (let b = 0; b < batch; b++)
          for (let i = 0; i < M; i++)
            for (let j = 0; j < N; j++) {
              const ci = 1 + b * sC + i * ldc + j;
              const g = got[ci] ?? NaN, w = want[ci] ?? NaN, tol = 1e-5 * (scale[ci] ?? NaN);
              if (!(Math.abs(g - w) <= tol)) assert.fail(`item ${b} C[${i}, ${j}] = ${g}, want ${w} (|diff| > ${tol})`);
              if (Math.abs(g - (plain[ci] ?? NaN)) > tol) rounded++;
              outside++;
            }
        // op(A) really was rounded to bf16 (a float32 fallback would pass the bound vacuously).
        assert.ok(rounded > outside / 4, `only ${rounded} of ${outside} elements show bf16 rounding of op(A)`);
        // Padding between rows and items is left alone.
        for (let i = 0; i < got.length; i++)
          if (!inside[i]) assert.ok(Object.is(got[i], C0[i]), `C[${i}] outside the matrices was written`);
        // The same bits on any number of threads (and when more threads than slices split N too).
        for (const threads of [1, 6]) assert.deepEqual(run(threads), got, `${threads} thread(s) vs 2`);
      } finally {
        setNativeThreads(availableParallelism());
      }
    });
});
