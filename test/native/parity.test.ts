/**
 * The native kernels (every SIMD build this CPU can run: avx512, avx2, scalar) must agree with
 * the TypeScript reference `jsKernels` on seeded random inputs, including the awkward cases:
 * sizes that are not multiples of the vector width, M/N/K = 1, transposes, padded leading
 * dimensions, offsets, batch strides, beta != 0, half-precision weights, masks, grouped heads,
 * prefix keys, fully masked rows, label smoothing and ignored rows.
 *
 * Tolerances (|native - js| <= atol + rtol * scale, `scale` stated per kernel):
 *  - gemm: 1e-5 relative to sum_k |a_ik b_kj| (both sides accumulate K <= 4200 products in float32);
 *  - element-wise, softmax, norms, cross-entropy, attention: a few float32 ulps, rtol 1e-5 or
 *    smaller (stated at each call);
 *  - widen and relu: exact; sumSquares: 1e-12 relative (both sum float64 products).
 */
import assert from 'node:assert/strict';
import { assertClose } from '../helpers/close.js';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { jsKernels } from '../../src/native/js-kernels.js';
import { type Kernels, Unary, WType } from '../../src/native/kernels.js';
import { nativeKernels, nativeUnavailableReason, setNativeSimd, setNativeThreads, type NativeSimd } from '../../src/native/index.js';
import { mulberry32 as rng } from '../helpers/mulberry32.js';

const native = nativeKernels();
const skip = native ? false : `native addon unavailable: ${nativeUnavailableReason()}`;
const SIMDS: NativeSimd[] = ['avx512', 'avx2', 'scalar'];


function randn(n: number, r: () => number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (r() * 2 - 1) * scale;
  return out;
}

/** Runs fn once per SIMD build of the addon that this CPU supports, then restores the best one. */
function forEachSimd(fn: (k: Kernels, simd: NativeSimd) => void): void {
  const k = native!;
  const start = k.simd as NativeSimd;
  try {
    for (const simd of SIMDS) if (setNativeSimd(simd)) fn(k, simd);
  } finally {
    setNativeSimd(start);
  }
}

/** Random bf16 / f16 bit patterns of finite, moderate values. */
function halfBits(n: number, type: WType, r: () => number): Uint16Array {
  const out = new Uint16Array(n);
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  for (let i = 0; i < n; i++) {
    if (type === WType.BF16) {
      f[0] = (r() * 2 - 1) * 2;
      out[i] = u[0]! >>> 16;
    } else {
      const sign = r() < 0.5 ? 0x8000 : 0;
      const exp = i % 17 === 0 ? 0 : 8 + Math.floor(r() * 10); // include subnormals
      out[i] = sign | (exp << 10) | Math.floor(r() * 1024);
    }
  }
  return out;
}

interface GemmCase {
  M: number; N: number; K: number; ta: boolean; tb: boolean;
  bType?: WType; beta?: number; batch?: number; pad?: number; off?: number; broadcastB?: boolean;
  /** strideC = 0: every batch item accumulates into the same C (must run in order). */
  sharedC?: boolean;
  /** A bias row of N values added to every row (the gemm's last argument). */
  bias?: boolean;
}

function runGemmCase(k: Kernels, c: GemmCase, seed: number, label: string): void {
  const r = rng(seed);
  const { M, N, K, ta, tb } = c;
  const bType = c.bType ?? WType.F32, beta = c.beta ?? 0, batch = c.batch ?? 1, pad = c.pad ?? 0, off = c.off ?? 0;
  const aRows = ta ? K : M, aCols = ta ? M : K, bRows = tb ? N : K, bCols = tb ? K : N;
  const lda = aCols + pad, ldb = bCols + pad, ldc = N + pad;
  const strideA = aRows * lda + 3, strideB = c.broadcastB ? 0 : bRows * ldb + 5, strideC = c.sharedC ? 0 : M * ldc + 2;
  const A = randn(off + batch * strideA, r);
  const bLen = off + (c.broadcastB ? bRows * ldb : batch * strideB);
  const B = bType === WType.F32 ? randn(bLen, r) : halfBits(bLen, bType, r);
  const C0 = randn(off + Math.max(batch * strideC, M * ldc), r);
  if (beta === 0) C0.fill(NaN); // beta = 0 must overwrite, even NaN
  const bias = c.bias ? randn(N, r, 3) : null;
  const args = (C: Float32Array, Ax: Float32Array, Bx: Float32Array | Uint16Array, bt: WType, bi = bias) =>
    [ta, tb, M, N, K, 0.75, Ax, off, lda, Bx, off, ldb, bt, beta, C, off, ldc, batch, strideA, strideB, strideC, null, bi] as const;
  const got = C0.slice(), want = C0.slice();
  k.gemm(...args(got, A, B, bType));
  jsKernels.gemm(...args(want, A, B, bType));
  // Error scale: 0.75 * |A||B| + |beta C|, computed with the reference on absolute values.
  const absA = A.map(Math.abs);
  let absB: Float32Array;
  if (bType === WType.F32) absB = (B as Float32Array).map(Math.abs);
  else { absB = new Float32Array(B.length); jsKernels.widen(B as Uint16Array, 0, bType, absB, 0, B.length); absB = absB.map(Math.abs); }
  const scale = C0.map((v) => (beta === 0 ? 0 : Math.abs(v * beta)));
  const absBias = bias ? bias.map(Math.abs) : null;
  jsKernels.gemm(...args(scale, absA, absB, WType.F32, absBias).map((v, i) => (i === 13 ? 1 : v)) as unknown as Parameters<Kernels['gemm']>);
  // Only elements inside the matrices are compared (padding must stay untouched, so compare all).
  assertClose(got, want, { message: label, rtol: 1e-5, atol: 1e-30, scale: scale.map((v) => (Number.isNaN(v) ? 0 : v)) });
}

describe('native kernels match the TypeScript reference', { skip }, () => {
  test('gemm: shapes, transposes, strides, offsets, beta, batch, half weights', () => {
    const shapes: [number, number, number][] = [
      [1, 1, 1], [1, 37, 19], [37, 1, 19], [5, 3, 1], [33, 65, 47], [14, 32, 256], [29, 70, 300],
      [200, 5, 33], [1, 300, 129], [150, 1, 77], [17, 40, 0], [6, 130, 50], [12, 9, 40],
    ];
    forEachSimd((k, simd) => {
      let seed = 1;
      for (const [M, N, K] of shapes)
        for (const ta of [false, true])
          for (const tb of [false, true])
            for (const beta of [0, 0.3])
              runGemmCase(k, { M, N, K, ta, tb, beta, pad: (M + N) % 3, off: K % 5 }, seed++,
                `${simd} gemm M=${M} N=${N} K=${K} ta=${ta} tb=${tb} beta=${beta}`);
      // Blocking (K > KC, M > MC, N > NC), threading, batches, broadcast B, half-precision B.
      const big: GemmCase[] = [
        { M: 200, N: 300, K: 600, ta: false, tb: false, beta: 0.5 },
        { M: 40, N: 50, K: 1700, ta: false, tb: false, beta: 0.5 }, // several K blocks accumulate into C
        { M: 90, N: 70, K: 1600, ta: true, tb: true },
        { M: 190, N: 130, K: 530, ta: true, tb: true },
        { M: 20, N: 4200, K: 260, ta: false, tb: true },
        { M: 70, N: 90, K: 100, ta: false, tb: false, batch: 3, pad: 1, off: 2 },
        { M: 31, N: 9, K: 45, ta: true, tb: false, batch: 4, broadcastB: true, beta: 0.25 },
        { M: 64, N: 64, K: 64, ta: false, tb: true, batch: 12 },
        { M: 60, N: 70, K: 80, ta: false, tb: false, batch: 4, beta: 1, sharedC: true }, // sum over the batch
      ];
      for (const c of big) runGemmCase(k, c, seed++, `${simd} gemm ${JSON.stringify(c)}`);
      for (const bType of [WType.BF16, WType.F16])
        for (const [M, N, K] of [[1, 50, 70], [5, 70, 33], [6, 130, 50], [33, 70, 129], [150, 6, 40], [130, 300, 260]] as const)
          for (const tb of [false, true])
            runGemmCase(k, { M, N, K, ta: false, tb, bType, beta: 0.5, off: 3 }, seed++,
              `${simd} gemm bType=${bType} M=${M} N=${N} K=${K} tb=${tb}`);
    });
  });

  test('gemm with a bias row: every path (store epilogue, transposed skinny, small M, M = 1, K = 0, K blocks, batch, half B)', () => {
    // Odd sizes around the micro-tile (14 x 32 / 6 x 16 / 4 x 32) and SMALL_M_MAX = 16.
    const shapes: [number, number, number][] = [
      [17, 37, 19], [1, 45, 33], [5, 70, 9], [61, 3, 40], [33, 65, 47], [100, 33, 0], [45, 50, 1700], [131, 257, 129],
    ];
    forEachSimd((k, simd) => {
      let seed = 500;
      for (const [M, N, K] of shapes)
        for (const ta of [false, true])
          for (const tb of [false, true])
            for (const beta of [0, 0.3])
              runGemmCase(k, { M, N, K, ta, tb, beta, bias: true, pad: (M + N) % 3, off: K % 5 }, seed++,
                `${simd} gemm+bias M=${M} N=${N} K=${K} ta=${ta} tb=${tb} beta=${beta}`);
      runGemmCase(k, { M: 40, N: 30, K: 20, ta: false, tb: true, batch: 3, bias: true, beta: 0.5, pad: 1 }, seed++,
        `${simd} gemm+bias batch`);
      for (const bType of [WType.BF16, WType.F16])
        for (const tb of [false, true])
          runGemmCase(k, { M: 33, N: 70, K: 129, ta: false, tb, bType, bias: true, off: 3 }, seed++,
            `${simd} gemm+bias bType=${bType} tb=${tb}`);
    });
  });

  test('gemm with a bias row equals the same gemm on C prefilled with it (bf16 compute, int8, int8 dot)', () => {
    const r = rng(77);
    const M = 37, N = 45, K = 70;
    const A = randn(M * K, r);
    const bias = randn(N, r, 2);
    const weights: [WType, Float32Array | Uint16Array | Int8Array, Float32Array | null][] = [
      [WType.BF16Dot, halfBits(K * N, WType.BF16, r), null],
      [WType.I8, Int8Array.from({ length: K * N }, () => Math.floor(r() * 255) - 127), randn(K, r)],
      [WType.I8Dot, Int8Array.from({ length: K * N }, () => Math.floor(r() * 255) - 127), randn(K, r)],
    ];
    forEachSimd((k, simd) => {
      for (const [bType, B, scales] of weights)
        for (const m of [M, 3])
          for (const beta of [0, 0.5]) {
            const C0 = randn(m * N, r);
            const got = C0.slice(), want = C0.slice();
            k.gemm(false, false, m, N, K, 0.5, A, 0, K, B, 0, N, bType, beta, got, 0, N, 1, 0, 0, 0, scales, bias);
            for (let i = 0; i < m; i++)
              for (let j = 0; j < N; j++) want[i * N + j] = Math.fround(beta * want[i * N + j]!) + bias[j]!;
            k.gemm(false, false, m, N, K, 0.5, A, 0, K, B, 0, N, bType, 1, want, 0, N, 1, 0, 0, 0, scales);
            assertClose(got, want, { message: `${simd} bType=${bType} M=${m} beta=${beta}`, rtol: 1e-6, atol: 1e-5 });
          }
    });
  });

  test('widen: every bf16 and f16 bit pattern, exactly', () => {
    const src = new Uint16Array(65536 + 3);
    for (let i = 0; i < 65536; i++) src[i + 3] = i;
    forEachSimd((k, simd) => {
      for (const type of [WType.BF16, WType.F16]) {
        const got = new Float32Array(65536 + 1), want = new Float32Array(65536 + 1);
        k.widen(src, 3, type, got, 1, 65536);
        jsKernels.widen(src, 3, type, want, 1, 65536);
        assertClose(got, want, { message: `${simd} widen type ${type}`, rtol: 0, atol: 0 });
      }
    });
  });

  test('unary forward and backward, every op', () => {
    const r = rng(7);
    const n = 70003; // threaded, with a tail
    const x = randn(n, r, 6);
    x.set([0, -0, 1e-8, -1e-8, 100, -100, 30, -30, 0.6249, 0.6251, -88, 89], 0);
    const dy = randn(n, r);
    const ops = [Unary.GeluTanh, Unary.GeluErf, Unary.Silu, Unary.Relu, Unary.Tanh, Unary.Sigmoid, Unary.Exp];
    forEachSimd((k, simd) => {
      for (const op of ops) {
        const y = new Float32Array(n), yr = new Float32Array(n);
        k.unary(op, x, y, n);
        jsKernels.unary(op, x, yr, n);
        // Exact for relu; otherwise a few ulps (erf: the reference's own fit is good to 1.2e-7).
        const rtol = op === Unary.Relu ? 0 : 3e-6;
        assertClose(y, yr, { message: `${simd} unary op ${op}`, rtol: rtol, atol: op === Unary.Relu ? 0 : 1e-7 });
        const dx = new Float32Array(n), dxr = new Float32Array(n);
        k.unaryBackward(op, x, yr, dy, dx, n);
        jsKernels.unaryBackward(op, x, yr, dy, dxr, n);
        // f'(x) is a sum of O(1) terms that can cancel (GELU near x = -3): float32 gets it to a
        // few ulps of 1, so the error scale is |dx| + |dy|.
        const gradScale = dxr.map((v, i) => Math.abs(v) + Math.abs(dy[i]!));
        assertClose(dx, dxr, { message: `${simd} unaryBackward op ${op}`, rtol: op === Unary.Relu ? 0 : 1e-6, atol: 0, scale: gradScale });
        // In place (dx = dy, as the ops run it when they own the gradient): the same values exactly.
        for (const kk of [k, jsKernels]) {
          const inPlace = dy.slice();
          kk.unaryBackward(op, x, yr, inPlace, inPlace, n);
          assert.deepEqual(inPlace, kk === k ? dx : dxr, `${simd} unaryBackward op ${op} in place (${kk.name})`);
        }
      }
    });
  });

  test('GELU at points known in closed form (Phi(1), Phi(2) from tables; tanh form by hand)', () => {
    // GELU_erf(x) = x * Phi(x): Phi(1) = 0.8413447460685429, Phi(2) = 0.9772498680518208.
    const x = new Float32Array([1, -1, 2, 0]);
    const erfWant = [0.8413447460685429, -(1 - 0.8413447460685429), 2 * 0.9772498680518208, 0];
    // GELU_tanh(1) = 0.5 * (1 + tanh(sqrt(2/pi) * 1.044715)).
    const tanhWant = 0.5 * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * 1.044715));
    forEachSimd((k, simd) => {
      const y = new Float32Array(4);
      k.unary(Unary.GeluErf, x, y, 4);
      for (let i = 0; i < 4; i++) assert.ok(Math.abs(y[i]! - erfWant[i]!) < 3e-7, `${simd} GELU_erf(${x[i]}) = ${y[i]}, want ${erfWant[i]}`);
      k.unary(Unary.GeluTanh, x, y, 1);
      assert.ok(Math.abs(y[0]! - tanhWant) < 1e-7, `${simd} GELU_tanh(1) = ${y[0]}, want ${tanhWant}`);
    });
  });

  test('the thread pool runs a job published right after it is (re)started', { timeout: 30000 }, () => {
    // Regression: a worker that had not yet run when the first job was published slept through it.
    const M = 256, A = randn(M * M, rng(29)), C = new Float32Array(M * M);
    for (let i = 0; i < 30; i++) {
      setNativeThreads(2 + (i % 2));
      native!.gemm(false, false, M, M, M, 1, A, 0, M, A, 0, M, WType.F32, 0, C, 0, M, 1, 0, 0, 0);
    }
    setNativeThreads(availableParallelism());
    const want = new Float32Array(M * M);
    jsKernels.gemm(false, false, M, M, M, 1, A, 0, M, A, 0, M, WType.F32, 0, want, 0, M, 1, 0, 0, 0);
    assertClose(C, want, { message: 'gemm after pool restarts', rtol: 1e-4, atol: 1e-4 });
  });

  test('softmax and log-softmax, forward and backward, with scale and -inf rows', () => {
    const r = rng(11);
    forEachSimd((k, simd) => {
      for (const [rows, cols] of [[3, 1], [5, 17], [40, 1000], [9, 2049]] as const)
        for (const log of [false, true])
          for (const scale of [1, 0.37]) {
            const n = rows * cols;
            const x = randn(n, r, 8);
            x.fill(-Infinity, 0, cols); // a fully masked row
            if (cols > 3) x[cols + 2] = -Infinity; // one masked entry
            const y = new Float32Array(n), yr = new Float32Array(n);
            k.softmax(x, y, rows, cols, scale, log);
            jsKernels.softmax(x, yr, rows, cols, scale, log);
            const label = `${simd} softmax ${rows}x${cols} log=${log} scale=${scale}`;
            assertClose(y, yr, { message: label, rtol: 2e-6, atol: log ? 2e-6 : 1e-9 });
            const dy = randn(n, r);
            const dx = new Float32Array(n), dxr = new Float32Array(n);
            const yin = yr.map((v) => (Number.isFinite(v) ? v : log ? -1e30 : 0)); // finite probabilities
            k.softmaxBackward(yin, dy, dx, rows, cols, scale, log);
            jsKernels.softmaxBackward(yin, dy, dxr, rows, cols, scale, log);
            assertClose(dx, dxr, { message: `${label} backward`, rtol: 1e-5, atol: 1e-6 });
          }
      // In place (y aliases x).
      const x = randn(8 * 33, r, 3), xr = x.slice(), want = new Float32Array(x.length);
      jsKernels.softmax(xr, want, 8, 33, 1, false);
      k.softmax(x, x, 8, 33, 1, false);
      assertClose(x, want, { message: `${simd} softmax in place`, rtol: 2e-6, atol: 1e-9 });
    });
  });

  test('layerNorm and rmsNorm, forward and backward (dgamma/dbeta accumulate)', () => {
    const r = rng(13);
    forEachSimd((k, simd) => {
      for (const [rows, cols] of [[1, 1], [3, 7], [200, 771], [4, 4096]] as const)
        for (const affine of [true, false]) {
          const n = rows * cols;
          const x = randn(n, r, 3).map((v, i) => v + (i % cols === 0 ? 5 : 0));
          const gamma = affine ? randn(cols, r) : null, beta = affine ? randn(cols, r) : null;
          const label = `${simd} ${rows}x${cols} affine=${affine}`;
          const y = new Float32Array(n), yr = new Float32Array(n);
          const mean = new Float32Array(rows), rstd = new Float32Array(rows);
          const meanr = new Float32Array(rows), rstdr = new Float32Array(rows);
          k.layerNorm(x, gamma, beta, y, mean, rstd, rows, cols, 1e-5);
          jsKernels.layerNorm(x, gamma, beta, yr, meanr, rstdr, rows, cols, 1e-5);
          assertClose(mean, meanr, { message: `${label} layerNorm mean`, rtol: 1e-6, atol: 1e-7 });
          assertClose(rstd, rstdr, { message: `${label} layerNorm rstd`, rtol: 1e-5, atol: 0 });
          assertClose(y, yr, { message: `${label} layerNorm y`, rtol: 1e-5, atol: 1e-5 });
          const dy = randn(n, r);
          const dx = new Float32Array(n), dxr = new Float32Array(n);
          const dg0 = randn(cols, r), db0 = randn(cols, r); // accumulate onto existing values
          const dg = affine ? dg0.slice() : null, db = affine ? db0.slice() : null;
          const dgr = affine ? dg0.slice() : null, dbr = affine ? db0.slice() : null;
          k.layerNormBackward(x, gamma, meanr, rstdr, dy, dx, dg, db, rows, cols);
          jsKernels.layerNormBackward(x, gamma, meanr, rstdr, dy, dxr, dgr, dbr, rows, cols);
          assertClose(dx, dxr, { message: `${label} layerNormBackward dx`, rtol: 1e-4, atol: 1e-5 });
          if (dg) assertClose(dg, dgr!, { message: `${label} layerNormBackward dgamma`, rtol: 1e-5, atol: 1e-5 * Math.sqrt(rows) });
          if (db) assertClose(db, dbr!, { message: `${label} layerNormBackward dbeta`, rtol: 1e-5, atol: 1e-5 * Math.sqrt(rows) });
          // In place (dx = dy): dx and the parameter sums exactly as with separate buffers.
          for (const kk of [k, jsKernels]) {
            const inPlace = dy.slice();
            const dgi = affine ? dg0.slice() : null, dbi = affine ? db0.slice() : null;
            kk.layerNormBackward(x, gamma, meanr, rstdr, inPlace, inPlace, dgi, dbi, rows, cols);
            assert.deepEqual(inPlace, kk === k ? dx : dxr, `${label} layerNormBackward in place (${kk.name})`);
            if (dgi) assert.deepEqual(dgi, kk === k ? dg : dgr, `${label} layerNormBackward in place dgamma (${kk.name})`);
            if (dbi) assert.deepEqual(dbi, kk === k ? db : dbr, `${label} layerNormBackward in place dbeta (${kk.name})`);
          }

          const rs = new Float32Array(rows), rsr = new Float32Array(rows);
          k.rmsNorm(x, gamma, y, rs, rows, cols, 1e-6);
          jsKernels.rmsNorm(x, gamma, yr, rsr, rows, cols, 1e-6);
          assertClose(rs, rsr, { message: `${label} rmsNorm rstd`, rtol: 1e-6, atol: 0 });
          assertClose(y, yr, { message: `${label} rmsNorm y`, rtol: 1e-5, atol: 1e-6 });
          const dg2 = affine ? dg0.slice() : null, dg2r = affine ? dg0.slice() : null;
          k.rmsNormBackward(x, gamma, rsr, dy, dx, dg2, rows, cols);
          jsKernels.rmsNormBackward(x, gamma, rsr, dy, dxr, dg2r, rows, cols);
          assertClose(dx, dxr, { message: `${label} rmsNormBackward dx`, rtol: 1e-4, atol: 1e-5 });
          if (dg2) assertClose(dg2, dg2r!, { message: `${label} rmsNormBackward dgamma`, rtol: 1e-5, atol: 1e-5 * Math.sqrt(rows) });
          for (const kk of [k, jsKernels]) {
            const inPlace = dy.slice();
            const dgi = affine ? dg0.slice() : null;
            kk.rmsNormBackward(x, gamma, rsr, inPlace, inPlace, dgi, rows, cols);
            assert.deepEqual(inPlace, kk === k ? dx : dxr, `${label} rmsNormBackward in place (${kk.name})`);
            if (dgi) assert.deepEqual(dgi, kk === k ? dg2 : dg2r, `${label} rmsNormBackward in place dgamma (${kk.name})`);
          }
        }
    });
  });

  test('crossEntropy: ignore index, label smoothing, separate and in-place dlogits', () => {
    const r = rng(17);
    forEachSimd((k, simd) => {
      for (const [rows, V] of [[1, 1], [7, 33], [37, 5003], [6, 50257]] as const)
        for (const eps of [0, 0.1])
          for (const mode of ['none', 'separate', 'inplace'] as const) {
            const logits = randn(rows * V, r, 10);
            const targets = new Int32Array(rows).map(() => Math.floor(r() * V));
            if (rows > 2) targets[1] = -100;
            const label = `${simd} crossEntropy ${rows}x${V} eps=${eps} ${mode}`;
            const loss = new Float32Array(rows), lossr = new Float32Array(rows);
            const dref = new Float32Array(rows * V);
            const countr = jsKernels.crossEntropy(logits, targets, rows, V, -100, eps, lossr, dref, 0.5);
            const x = logits.slice();
            const d = mode === 'none' ? null : mode === 'separate' ? new Float32Array(rows * V).fill(7) : x;
            const count = k.crossEntropy(x, targets, rows, V, -100, eps, loss, d, 0.5);
            assert.equal(count, countr, `${label} count`);
            assertClose(loss, lossr, { message: `${label} loss`, rtol: 1e-5, atol: 1e-5 });
            // softmax - onehot cancels at the target: absolute error ~ulp(gradScale).
            if (d) assertClose(d, dref, { message: `${label} dlogits`, rtol: 1e-5, atol: 1e-7 });
          }
    });
  });

  test('attention forward and backward: causal offsets, GQA, key padding, fully masked rows', () => {
    const r = rng(19);
    type Cfg = { B: number; H: number; Hkv: number; T: number; S: number; D: number; causal: boolean; mask?: 'some' | 'all'; window?: number; kvCap?: number };
    const cfgs: Cfg[] = [
      { B: 2, H: 4, Hkv: 2, T: 37, S: 37, D: 24, causal: true },
      { B: 1, H: 3, Hkv: 1, T: 5, S: 70, D: 16, causal: true, mask: 'some' }, // prefix keys S > T
      { B: 2, H: 2, Hkv: 2, T: 9, S: 20, D: 19, causal: false, mask: 'all' }, // batch 1 fully masked
      { B: 1, H: 2, Hkv: 1, T: 1, S: 100, D: 64, causal: true }, // decoding one token
      { B: 1, H: 2, Hkv: 2, T: 130, S: 130, D: 64, causal: true, mask: 'some' },
      { B: 1, H: 1, Hkv: 1, T: 6, S: 4, D: 8, causal: true }, // S < T: first queries see nothing
      // Sliding windows (Mistral/Qwen2) and caches with spare capacity (kvStride > S * D).
      { B: 2, H: 4, Hkv: 2, T: 100, S: 100, D: 16, causal: true, window: 17 },
      { B: 1, H: 2, Hkv: 1, T: 1, S: 150, D: 32, causal: true, window: 40, kvCap: 200 },
      { B: 2, H: 2, Hkv: 2, T: 5, S: 90, D: 8, causal: true, window: 64, kvCap: 97, mask: 'some' },
      { B: 2, H: 3, Hkv: 1, T: 7, S: 7, D: 12, causal: true, kvCap: 9 },
      // One decoded token (its own kernel path): GQA, padding, a fully masked row, odd head sizes
      // (vector tails, two register chunks of the value rows), a window starting mid-vector.
      { B: 2, H: 4, Hkv: 2, T: 1, S: 37, D: 19, causal: true, mask: 'some', kvCap: 40 },
      { B: 2, H: 2, Hkv: 2, T: 1, S: 9, D: 7, causal: false, mask: 'all' },
      { B: 1, H: 2, Hkv: 1, T: 1, S: 150, D: 70, causal: true, window: 3, kvCap: 160 },
      { B: 1, H: 3, Hkv: 3, T: 1, S: 3, D: 128, causal: true, window: 50 },
    ];
    forEachSimd((k, simd) => {
      for (const c of cfgs) {
        const { B, H, Hkv, T, S, D, causal } = c;
        const window = c.window ?? 0, cap = c.kvCap ?? S, kvStride = cap * D;
        const label = `${simd} attention ${JSON.stringify(c)}`;
        const q = randn(B * H * T * D, r, 2), kk = randn(B * Hkv * cap * D, r, 2), v = randn(B * Hkv * cap * D, r);
        // Spare capacity holds NaN: reading it would poison the outputs.
        for (let i = 0; i < B * Hkv; i++) { kk.fill(NaN, i * kvStride + S * D, (i + 1) * kvStride); v.fill(NaN, i * kvStride + S * D, (i + 1) * kvStride); }
        let mask: Uint8Array | null = null;
        if (c.mask) {
          mask = new Uint8Array(B * S).map(() => (r() < 0.8 ? 1 : 0));
          mask[0] = 1;
          if (c.mask === 'all') mask.fill(0, S, 2 * S);
        }
        const scale = 1 / Math.sqrt(D);
        const out = new Float32Array(q.length).fill(NaN), lse = new Float32Array(B * H * T);
        const outr = new Float32Array(q.length), lser = new Float32Array(B * H * T);
        k.attention(q, kk, v, out, lse, B, H, Hkv, T, S, D, scale, causal, mask, window, kvStride);
        jsKernels.attention(q, kk, v, outr, lser, B, H, Hkv, T, S, D, scale, causal, mask, window, kvStride);
        assertClose(out, outr, { message: `${label} out`, rtol: 1e-5, atol: 1e-6 });
        assertClose(lse, lser, { message: `${label} lse`, rtol: 1e-6, atol: 1e-6 });
        const dout = randn(q.length, r);
        // dk/dv rows below S are written over NaN; a cache's spare rows keep what they held.
        const dk0 = randn(kk.length, r), dv0 = randn(v.length, r);
        for (let i = 0; i < B * Hkv; i++) { dk0.fill(NaN, i * kvStride, i * kvStride + S * D); dv0.fill(NaN, i * kvStride, i * kvStride + S * D); }
        const dq = new Float32Array(q.length).fill(NaN), dk = dk0.slice(), dv = dv0.slice();
        const dqr = new Float32Array(q.length), dkr = dk0.slice(), dvr = dv0.slice();
        k.attentionBackward(q, kk, v, outr, lser, dout, dq, dk, dv, B, H, Hkv, T, S, D, scale, causal, mask, window, kvStride);
        jsKernels.attentionBackward(q, kk, v, outr, lser, dout, dqr, dkr, dvr, B, H, Hkv, T, S, D, scale, causal, mask, window, kvStride);
        assertClose(dq, dqr, { message: `${label} dq`, rtol: 1e-4, atol: 1e-5 });
        assertClose(dk, dkr, { message: `${label} dk`, rtol: 1e-4, atol: 1e-5 });
        assertClose(dv, dvr, { message: `${label} dv`, rtol: 1e-4, atol: 1e-5 });
        for (const [name, got, before] of [['dk', dk, dk0], ['dv', dv, dv0], ['js dk', dkr, dk0], ['js dv', dvr, dv0]] as const)
          for (let i = 0; i < B * Hkv; i++) {
            for (let j = i * kvStride; j < i * kvStride + S * D; j++) if (!Number.isFinite(got[j]!)) assert.fail(`${label} ${name}[${j}] = ${got[j]} (not written)`);
            for (let j = i * kvStride + S * D; j < (i + 1) * kvStride; j++) if (got[j] !== before[j]) assert.fail(`${label} ${name}[${j}]: spare row written`);
          }
        // Only some gradients requested.
        const dv2 = dv0.slice();
        k.attentionBackward(q, kk, v, outr, lser, dout, null, null, dv2, B, H, Hkv, T, S, D, scale, causal, mask, window, kvStride);
        assertClose(dv2, dvr, { message: `${label} dv only`, rtol: 1e-4, atol: 1e-5 });
      }
    });
  });

  test('attention with a row layout (fused qkv [B, T, (H + 2Hkv)D], padded rows) equals the packed layout', () => {
    const r = rng(31);
    type Cfg = { B: number; H: number; Hkv: number; T: number; D: number; causal: boolean; mask?: boolean; window?: number };
    const cfgs: Cfg[] = [
      { B: 2, H: 4, Hkv: 2, T: 37, D: 24, causal: true },
      { B: 1, H: 3, Hkv: 1, T: 70, D: 19, causal: true, mask: true },
      { B: 2, H: 2, Hkv: 2, T: 9, D: 7, causal: false, mask: true },
      { B: 1, H: 2, Hkv: 2, T: 130, D: 64, causal: true, window: 33 },
      { B: 3, H: 1, Hkv: 1, T: 1, D: 8, causal: true },
    ];
    for (const c of cfgs) {
      const { B, H, Hkv, T, D, causal } = c;
      const window = c.window ?? 0, S = T, scale = 0.7 / Math.sqrt(D);
      // Fused rows of C = (H + 2Hkv)D features plus 3 padding columns holding NaN, after a 5-element offset.
      const C = (H + 2 * Hkv) * D, row = C + 3, off = 5;
      const fused = new Float32Array(off + B * T * row).fill(NaN);
      const q = randn(B * H * T * D, r, 2), kk = randn(B * Hkv * S * D, r, 2), v = randn(B * Hkv * S * D, r);
      // packed [B, n, T, D] element (b, h, t, d) <-> fused off + (b T + t) row + col0 + h D + d
      const each = (n: number, col0: number, f: (packed: number, fusedAt: number) => void): void => {
        for (let b = 0; b < B; b++)
          for (let h = 0; h < n; h++)
            for (let t = 0; t < T; t++)
              for (let d = 0; d < D; d++) f(((b * n + h) * T + t) * D + d, off + (b * T + t) * row + col0 + h * D + d);
      };
      each(H, 0, (p, x) => (fused[x] = q[p]!));
      each(Hkv, H * D, (p, x) => (fused[x] = kk[p]!));
      each(Hkv, (H + Hkv) * D, (p, x) => (fused[x] = v[p]!));
      let mask: Uint8Array | null = null;
      if (c.mask) {
        mask = new Uint8Array(B * S).map(() => (r() < 0.8 ? 1 : 0));
        mask[0] = 1;
      }
      // Output [B, T, H, D] with rows of H·D + 2 (padding stays untouched).
      const orow = H * D + 2;
      // prettier-ignore
      const layout = new Float64Array([
        off, T * row, D, row,
        off + H * D, T * row, D, row,
        off + (H + Hkv) * D, T * row, D, row,
        1, T * orow, D, orow,
      ]);
      const outLen = 1 + B * T * orow;
      const outAt = (p: number): number => {
        const d = p % D, t = Math.floor(p / D) % T, h = Math.floor(p / (D * T)) % H, b = Math.floor(p / (D * T * H));
        return 1 + (b * T + t) * orow + h * D + d;
      };
      const want = new Float32Array(q.length), lwant = new Float32Array(B * H * T);
      jsKernels.attention(q, kk, v, want, lwant, B, H, Hkv, T, S, D, scale, causal, mask, window);
      const dout = randn(q.length, r);
      const dq = new Float32Array(q.length), dk0 = randn(kk.length, r), dv0 = randn(v.length, r);
      const dk = dk0.slice(), dv = dv0.slice();
      jsKernels.attentionBackward(q, kk, v, want, lwant, dout, dq, dk, dv, B, H, Hkv, T, S, D, scale, causal, mask, window);
      const doutL = new Float32Array(outLen).fill(NaN);
      for (let p = 0; p < dout.length; p++) doutL[outAt(p)] = dout[p]!;
      const run = (k: Kernels, label: string): void => {
        const out = new Float32Array(outLen).fill(-9), lse = new Float32Array(B * H * T);
        k.attention(fused, fused, fused, out, lse, B, H, Hkv, T, S, D, scale, causal, mask, window, 0, layout);
        const got = new Float32Array(q.length);
        for (let p = 0; p < q.length; p++) got[p] = out[outAt(p)]!;
        assertClose(got, want, { message: `${label} out`, rtol: 1e-5, atol: 1e-6 });
        assertClose(lse, lwant, { message: `${label} lse`, rtol: 1e-6, atol: 1e-6 });
        const written = new Set<number>();
        for (let p = 0; p < q.length; p++) written.add(outAt(p));
        for (let i = 0; i < outLen; i++) if (!written.has(i)) assert.equal(out[i], -9, `${label}: out padding ${i} written`);
        // One gradient buffer of the fused shape: dq, dk and dv written over garbage, padding untouched.
        const dx = new Float32Array(fused.length).fill(5);
        each(H, 0, (_, x) => (dx[x] = NaN));
        each(Hkv, H * D, (p, x) => (dx[x] = dk0[p]!));
        each(Hkv, (H + Hkv) * D, (p, x) => (dx[x] = dv0[p]!));
        k.attentionBackward(fused, fused, fused, out, lse, doutL, dx, dx, dx, B, H, Hkv, T, S, D, scale, causal, mask, window, 0, layout);
        const gq = new Float32Array(dq.length), gk = new Float32Array(dk.length), gv = new Float32Array(dv.length);
        const seen = new Uint8Array(dx.length);
        each(H, 0, (p, x) => ((gq[p] = dx[x]!), (seen[x] = 1)));
        each(Hkv, H * D, (p, x) => ((gk[p] = dx[x]!), (seen[x] = 1)));
        each(Hkv, (H + Hkv) * D, (p, x) => ((gv[p] = dx[x]!), (seen[x] = 1)));
        assertClose(gq, dq, { message: `${label} dq`, rtol: 1e-4, atol: 1e-5 });
        assertClose(gk, dk, { message: `${label} dk`, rtol: 1e-4, atol: 1e-5 });
        assertClose(gv, dv, { message: `${label} dv`, rtol: 1e-4, atol: 1e-5 });
        for (let i = 0; i < dx.length; i++) if (!seen[i]) assert.equal(dx[i], 5, `${label}: gradient padding ${i} written`);
      };
      run(jsKernels, `js layout ${JSON.stringify(c)}`);
      if (native) forEachSimd((k, simd) => run(k, `${simd} layout ${JSON.stringify(c)}`));
    }
    const A = new Float32Array(64);
    for (const k of native ? [jsKernels, native] : [jsKernels]) {
      assert.throws(() => k.attention(A, A, A, A, A, 1, 1, 1, 2, 2, 2, 1, true, null, 0, 0, new Float64Array(15)), /layout/);
      const far = new Float64Array([0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 100]);
      if (k === native) assert.throws(() => k.attention(A, A, A, A, A, 1, 1, 1, 2, 2, 2, 1, true, null, 0, 0, far), /out.*too short/);
    }
  });

  test('attention window: one query sees exactly its last `window` keys; bad window/kvStride throw', () => {
    const r = rng(29);
    const H = 2, S = 50, D = 8, W = 13;
    const q = randn(H * D, r), kk = randn(H * S * D, r), v = randn(H * S * D, r);
    // Reference: no window over the last W keys only (copied out, packed).
    const kw = new Float32Array(H * W * D), vw = new Float32Array(H * W * D);
    for (let h = 0; h < H; h++) {
      kw.set(kk.subarray((h * S + S - W) * D, (h + 1) * S * D), h * W * D);
      vw.set(v.subarray((h * S + S - W) * D, (h + 1) * S * D), h * W * D);
    }
    const want = new Float32Array(H * D), lw = new Float32Array(H);
    jsKernels.attention(q, kw, vw, want, lw, 1, H, H, 1, W, D, 0.3, true, null);
    for (const k of [jsKernels, native!]) {
      const got = new Float32Array(H * D), lg = new Float32Array(H);
      k.attention(q, kk, v, got, lg, 1, H, H, 1, S, D, 0.3, true, null, W);
      assertClose(got, want, { message: `${k.name} windowed decode`, rtol: 1e-5, atol: 1e-6 });
      const A = new Float32Array(64);
      assert.throws(() => k.attention(A, A, A, A, A, 1, 1, 1, 2, 2, 2, 1, false, null, 3), /window.*causal/);
      assert.throws(() => k.attention(A, A, A, A, A, 1, 1, 1, 2, 2, 2, 1, true, null, 0, 3), /kvStride'? must be >= S \* D = 4/);
    }
  });

  test('rope: both row orders, shared and per-item tables, tails, the inverse rotation', () => {
    const r = rng(29);
    forEachSimd((k, simd) => {
      for (const [B, H, T, D] of [
        [2, 3, 5, 64],
        [1, 2, 7, 6],
        [3, 1, 4, 40],
      ] as const) {
        for (const tokenMajor of [false, true])
          for (const perBatch of [false, true])
            for (const sign of [1, -1]) {
              const x = randn(B * H * T * D, r);
              const cos = randn((perBatch ? B : 1) * T * (D / 2), r);
              const sin = randn(cos.length, r);
              const [n1, n2] = tokenMajor ? [T, H] : [H, T];
              const got = new Float32Array(x.length).fill(NaN);
              const want = new Float32Array(x.length);
              k.rope(x, got, cos, sin, B, n1, n2, T, D, perBatch, tokenMajor, sign);
              jsKernels.rope(x, want, cos, sin, B, n1, n2, T, D, perBatch, tokenMajor, sign);
              const tag = `${simd} rope ${B}x${H}x${T}x${D} tokenMajor=${tokenMajor} perBatch=${perBatch} sign=${sign}`;
              assertClose(got, want, { message: tag, rtol: 1e-6, atol: 1e-6 });
            }
      }
    });
  });

  test('adamw, axpy, mul, sumSquares', () => {
    const r = rng(23);
    const n = 100003;
    forEachSimd((k, simd) => {
      const p = randn(n, r), g = randn(n, r), m = randn(n, r, 0.1), v = randn(n, r, 0.01).map(Math.abs);
      const [p1, m1, v1] = [p.slice(), m.slice(), v.slice()];
      const [p2, m2, v2] = [p.slice(), m.slice(), v.slice()];
      k.adamw(p1, g, m1, v1, n, 1e-3, 0.9, 0.999, 1e-8, 0.01, 3);
      jsKernels.adamw(p2, g, m2, v2, n, 1e-3, 0.9, 0.999, 1e-8, 0.01, 3);
      // m = b1*m + (1-b1)*g can cancel: error scale |b1*m| + |(1-b1)*g|.
      assertClose(m1, m2, { message: `${simd} adamw m`, rtol: 1e-6, atol: 0, scale: m.map((mi, i) => Math.abs(0.9 * mi) + Math.abs(0.1 * g[i]!)) });
      assertClose(v1, v2, { message: `${simd} adamw v`, rtol: 1e-6, atol: 1e-12 });
      assertClose(p1, p2, { message: `${simd} adamw p`, rtol: 1e-6, atol: 1e-8 });

      const x = randn(n + 5, r), y = randn(n + 9, r);
      const y1 = y.slice(), y2 = y.slice();
      k.axpy(n, -0.3, x, 5, y1, 9);
      jsKernels.axpy(n, -0.3, x, 5, y2, 9);
      assertClose(y1, y2, { message: `${simd} axpy`, rtol: 1e-7, atol: 1e-7 });
      // With an output: out = alpha x + y, y untouched, nothing outside [outOff, outOff + n) written.
      const o1 = new Float32Array(n + 7).fill(NaN), o2 = o1.slice(), yKeep = y.slice();
      k.axpy(n, -0.3, x, 5, y, 9, o1, 3);
      jsKernels.axpy(n, -0.3, x, 5, y, 9, o2, 3);
      assertClose(o1, o2, { message: `${simd} axpy out`, rtol: 1e-7, atol: 1e-7 });
      assert.deepEqual(y, yKeep, `${simd} axpy out leaves y`);
      assert.ok(Number.isNaN(o1[2]) && Number.isNaN(o1[n + 3]) && !Number.isNaN(o1[3]) && !Number.isNaN(o1[n + 2]));

      // mul: the product of float32 values rounds once, so every build agrees bit for bit; the
      // ends of [outOff, outOff + n) and the inputs are left alone; out may alias an input.
      const m3 = new Float32Array(n + 7).fill(NaN), xKeep = x.slice();
      k.mul(n, x, 5, y, 9, m3, 3);
      for (let i = 0; i < n; i++)
        if (m3[3 + i] !== Math.fround(x[5 + i]! * y[9 + i]!)) assert.fail(`${simd} mul at ${i}: ${m3[3 + i]}`);
      assert.ok(Number.isNaN(m3[2]) && Number.isNaN(m3[n + 3]), `${simd} mul writes outside its range`);
      assert.deepEqual(x, xKeep, `${simd} mul leaves x`);
      const inPlace = x.slice();
      k.mul(n, inPlace, 5, y, 9, inPlace, 5);
      assert.deepEqual(inPlace.subarray(5, 5 + n), m3.subarray(3, 3 + n), `${simd} mul in place`);

      const s = k.sumSquares(x, n), sr = jsKernels.sumSquares(x, n);
      assert.ok(Math.abs(s - sr) <= 1e-12 * sr, `${simd} sumSquares ${s} vs ${sr}`);
    });
  });
});

describe('native argument validation', { skip }, () => {
  const k = native!;
  test('short arrays, wrong types and bad values throw errors naming the kernel and argument', () => {
    const A = new Float32Array(6), B = new Float32Array(6), C = new Float32Array(4);
    assert.throws(() => k.gemm(false, false, 2, 2, 4, 1, A, 0, 4, B, 0, 2, WType.F32, 0, C, 0, 2, 1, 0, 0, 0),
      /tunekit native gemm: argument 'A' is too short/);
    assert.throws(() => k.gemm(false, false, 2, 2, 3, 1, A, 0, 3, B, 0, 2, WType.F32, 0, C, 1, 2, 1, 0, 0, 0),
      /gemm: argument 'C' is too short/);
    assert.throws(() => k.gemm(false, false, 2, 2, 3, 1, A, 0, 3, B, 0, 2, WType.BF16, 0, C, 0, 2, 1, 0, 0, 0),
      /gemm: argument 'B' must be a Uint16Array/);
    assert.throws(() => k.gemm(false, false, 2, 2, 3, 1, A, 0, 2, B, 0, 2, WType.F32, 0, C, 0, 2, 1, 0, 0, 0),
      /gemm: argument 'lda' must be >= 3/);
    assert.throws(() => k.gemm(false, false, 2, 2, 3, 1, A, 0, 3, B, 0, 2, WType.F32, 0, C, 0, 2, 2, 6, 6, 4),
      /gemm: argument 'A' is too short/);
    assert.throws(() => k.gemm(false, false, -1, 2, 3, 1, A, 0, 3, B, 0, 2, WType.F32, 0, C, 0, 2, 1, 0, 0, 0),
      /gemm: argument 'M' must be an integer >= 0/);
    assert.throws(() => k.unary(9 as Unary, A, A, 6), /unary: argument 'op'/);
    assert.throws(() => k.softmax(A, new Float64Array(6) as unknown as Float32Array, 2, 3, 1, false),
      /softmax: argument 'y' must be a Float32Array/);
    assert.throws(() => k.crossEntropy(A, new Int32Array([0, 7]), 2, 3, -100, 0, C, null, 1),
      /crossEntropy: target 7 at row 1 is outside \[0, 3\)/);
    assert.throws(() => k.attention(A, A, A, A, A, 1, 3, 2, 1, 1, 1, 1, false, null), /attention: H = 3 is not a multiple of Hkv = 2/);
    assert.throws(() => k.layerNorm(A, new Float32Array(2), null, A, C, C, 2, 3, 1e-5),
      /layerNorm: argument 'gamma' is too short/);
    assert.throws(() => k.adamw(A, A, A, A, 6, 1e-3, 0.9, 0.999, 1e-8, 0, 0), /adamw: argument 'step' must be an integer >= 1/);
    assert.throws(() => k.sumSquares(A, 7), /sumSquares: argument 'x' is too short/);
    // Nothing was written by the rejected calls.
    assert.deepEqual([...C], [0, 0, 0, 0]);
  });
});

describe('backend loader', () => {
  const here = dirname(fileURLToPath(import.meta.url));
  const indexJs = resolve(here, '../../src/native/index.js');
  const probe = (url: string) =>
    `import(${JSON.stringify(url)}).then((m) => console.log(JSON.stringify({ backend: m.backend, threads: m.kernels.threads, simd: m.kernels.simd })))`;
  const run = (env: Record<string, string>, code: string) =>
    spawnSync(process.execPath, ['-e', code], { env: { ...process.env, TUNEKIT_BACKEND: '', TUNEKIT_THREADS: '', ...env }, encoding: 'utf8' });

  test('TUNEKIT_BACKEND=js forces the TypeScript kernels', () => {
    const res = run({ TUNEKIT_BACKEND: 'js' }, probe(indexJs));
    assert.equal(res.status, 0, res.stderr);
    assert.deepEqual(JSON.parse(res.stdout), { backend: 'js', threads: 1, simd: 'js' });
    assert.equal(res.stderr, '');
  });

  test('an unknown TUNEKIT_BACKEND or TUNEKIT_THREADS value is an error', () => {
    const bad = run({ TUNEKIT_BACKEND: 'gpu' }, probe(indexJs));
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /TUNEKIT_BACKEND must be 'js' or 'native', got 'gpu'/);
    const badThreads = run({ TUNEKIT_THREADS: 'two' }, probe(indexJs));
    assert.notEqual(badThreads.status, 0);
    assert.match(badThreads.stderr, /TUNEKIT_THREADS must be an integer/);
  });

  test('TUNEKIT_THREADS sets the native thread count', { skip }, () => {
    const res = run({ TUNEKIT_BACKEND: 'native', TUNEKIT_THREADS: '1' }, probe(indexJs));
    assert.equal(res.status, 0, res.stderr);
    assert.deepEqual(JSON.parse(res.stdout), { backend: 'native', threads: 1, simd: native!.simd });
  });

  test('without a built addon: one warning and the TypeScript kernels; TUNEKIT_BACKEND=native throws', () => {
    // A copy of the compiled loader whose package root has no build/ folder.
    const root = mkdtempSync(join(tmpdir(), 'tunekit-loader-'));
    try {
      cpSync(resolve(dirname(indexJs), '..'), join(root, 'dist/src'), { recursive: true });
      const url = join(root, 'dist/src/native/index.js');
      const res = run({}, `${probe(url)}.then(() => import(${JSON.stringify(url)}))`);
      assert.equal(res.status, 0, res.stderr);
      assert.equal(JSON.parse(res.stdout).backend, 'js');
      const warnings = res.stderr.split('\n').filter((l) => l.includes('native kernels unavailable'));
      assert.equal(warnings.length, 1, res.stderr);
      assert.match(warnings[0]!, /^tunekit: native kernels unavailable \(.*tunekit_native\.node is not built.*\); using the TypeScript backend \(slower\)$/);
      const forced = run({ TUNEKIT_BACKEND: 'native' }, probe(url));
      assert.notEqual(forced.status, 0);
      assert.match(forced.stderr, /native kernels requested \(TUNEKIT_BACKEND=native\) but unavailable/);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
