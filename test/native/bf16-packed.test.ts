/**
 * Pre-packed bf16 weights (kernels.packBf16Dot, gemm's `bPacked`; tensor/weight-packs.ts caches them
 * for the vocabulary head). The pack replaces the per-call packing of B in the AVX512_BF16 GEMM,
 * so the result must be the same bits as without it, on every grid the GEMM picks (row/column
 * tiles, column blocks handed out dynamically for a wide N, split-K for a long K), with odd K and
 * column tails; and it is checked against a float64 reference written here (alpha * op(A) rounded
 * to bf16 nearest even, float32 accumulation bound) so that two equal wrong answers cannot pass.
 */
import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { describe, test } from 'node:test';
import { WType } from '../../src/native/kernels.js';
import { jsKernels } from '../../src/native/js-kernels.js';
import { kernels, nativeKernels, setNativeThreads } from '../../src/native/index.js';
import { packedBf16 } from '../../src/tensor/weight-packs.js';
import { Profiler } from '../../src/tensor/profile.js';
import * as F from '../../src/tensor/ops.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { bf16GemmSkip, randomBf16, roundBf16 } from '../helpers/bf16.js';
import { mulberry32 as rng } from '../helpers/mulberry32.js';

const native = nativeKernels();
const skip = bf16GemmSkip('nothing is packed there: covered by the null-pack test');

interface Case {
  M: number;
  N: number;
  K: number;
  ta: boolean;
  tb: boolean;
  alpha: number;
  beta: number;
  what: string;
}

const cases: Case[] = [
  { M: 40, N: 8200, K: 77, ta: false, tb: true, alpha: 1, beta: 0, what: 'head forward: dynamic column blocks' },
  { M: 37, N: 45, K: 130, ta: false, tb: false, alpha: -0.5, beta: 0.25, what: 'row/column tiles' },
  { M: 30, N: 50, K: 99, ta: true, tb: true, alpha: 0.75, beta: 0, what: 'transposed A, odd K' },
  { M: 20, N: 33, K: 6145, ta: false, tb: false, alpha: 1, beta: 0, what: 'head input gradient: split-K, odd K' },
  { M: 18, N: 24, K: 3201, ta: false, tb: true, alpha: 2, beta: 1, what: 'split-K, transposed B' },
  { M: 113, N: 70, K: 1601, ta: false, tb: true, alpha: 1, beta: 0, what: 'more than one k block and row block' },
];

describe('bf16 compute with a pre-packed B (packBf16Dot)', { skip }, () => {
  for (const [ci, c] of cases.entries())
    test(`${c.what} ${JSON.stringify({ M: c.M, N: c.N, K: c.K, ta: c.ta, tb: c.tb })}`, () => {
      const k = native;
      assert.ok(k);
      const r = rng(300 + ci);
      const { M, N, K, ta, tb, alpha, beta } = c;
      const lda = (ta ? M : K) + 1, ldb = (tb ? K : N) + 2;
      const A = Float32Array.from({ length: (ta ? K : M) * lda }, () => r() * 2 - 1);
      const { bits: B, values: Bf } = randomBf16((tb ? N : K) * ldb + 1, r);
      const C0 = Float32Array.from({ length: M * N }, () => (beta === 0 ? NaN : r() * 2 - 1));
      const packed = k.packBf16Dot(B, 1, ldb, tb, K, N);
      assert.ok(packed, 'the AVX512_BF16 build packs');
      const run = (threads: number, bPacked: Uint32Array | null): Float32Array => {
        setNativeThreads(threads);
        const got = C0.slice();
        k.gemm(ta, tb, M, N, K, alpha, A, 0, lda, B, 1, ldb, WType.BF16Dot, beta, got, 0, N, 1, 0, 0, 0, null, null, bPacked);
        return got;
      };
      try {
        const got = run(2, packed);
        assert.deepEqual(got, run(2, null), 'packed vs packed per call');
        assert.deepEqual(run(1, packed), got, '1 thread vs 2');
        const bad = packed.slice();
        bad[16] = (bad[16] ?? 0) ^ 0x3f80; // the first pair after the 16-word header: B(0..1, 0)
        assert.notDeepEqual(run(2, bad), got, 'the GEMM multiplies from the pack');
        // float64 reference with alpha * op(A) rounded to bf16.
        const ar = new Float64Array(K);
        for (let i = 0; i < M; i++) {
          for (let p = 0; p < K; p++) ar[p] = roundBf16(Math.fround(alpha * (A[ta ? p * lda + i : i * lda + p] ?? NaN)));
          for (let j = 0; j < N; j++) {
            let s = 0, sa = 0;
            for (let p = 0; p < K; p++) {
              const t = (ar[p] ?? NaN) * (Bf[1 + (tb ? j * ldb + p : p * ldb + j)] ?? NaN);
              s += t;
              sa += Math.abs(t);
            }
            const c0 = beta === 0 ? 0 : beta * (C0[i * N + j] ?? NaN);
            const g = got[i * N + j] ?? NaN, w = c0 + s, tol = 1e-5 * (sa + Math.abs(c0)) + 1e-30;
            if (!(Math.abs(g - w) <= tol)) assert.fail(`C[${i}, ${j}] = ${g}, want ${w} (|diff| > ${tol})`);
          }
        }
      } finally {
        setNativeThreads(availableParallelism());
      }
    });

  test('a pack of the wrong size or for a batch is refused', () => {
    const k = native;
    assert.ok(k);
    const B = new Uint16Array(64 * 40);
    const packed = k.packBf16Dot(B, 0, 40, true, 40, 64);
    assert.ok(packed);
    const A = new Float32Array(20 * 40), C = new Float32Array(20 * 64);
    assert.throws(
      () => k.gemm(false, true, 20, 64, 39, 1, A, 0, 40, B, 0, 40, WType.BF16Dot, 0, C, 0, 64, 1, 0, 0, 0, null, null, packed),
      /bPacked/,
    );
    assert.throws(
      () => k.gemm(false, true, 10, 64, 40, 1, A, 0, 40, B, 0, 40, WType.BF16Dot, 0, C, 0, 64, 2, 400, 0, 640, null, null, packed),
      /bPacked/,
    );
    const other = k.packBf16Dot(B, 0, 64, false, 40, 64); // the same sizes, the other orientation
    assert.ok(other && other.length === packed.length);
    assert.throws(
      () => k.gemm(false, true, 20, 64, 40, 1, A, 0, 40, B, 0, 40, WType.BF16Dot, 0, C, 0, 64, 1, 0, 0, 0, null, null, other),
      /bPacked/,
    );
  });

});

// These go through the active kernels (tensor/weight-packs.ts), which TUNEKIT_BACKEND=js replaces.
const activeSkip = skip || (kernels.simd !== 'avx512bf16' ? `the active kernels are ${kernels.name} ${kernels.simd}` : false);

describe('bf16 head packs kept between calls (tensor/weight-packs.ts)', { skip: activeSkip }, () => {
  test('linearCrossEntropy with a packed bf16 head: the same loss and gradient bits as without', () => {
    const r = rng(11);
    const V = 1001, d = 66, rows = 45; // odd vocabulary (column tail), two row chunks
    const w = new Tensor(
      Uint16Array.from({ length: V * d }, () => 0x3c00 ^ Math.floor(r() * 255)),
      [V, d],
      { dtype: 'bf16', bf16Compute: true },
    );
    const targets = Int32Array.from({ length: rows }, (_, i) => (i % 7 === 3 ? -100 : Math.floor(r() * V)));
    const run = (packWeight: boolean): [number, Float32Array] => {
      const h = new Tensor(Float32Array.from({ length: rows * d }, (_, i) => Math.sin(i * 0.37)), [rows, d], {
        requiresGrad: true,
      });
      const loss = F.linearCrossEntropy(h, w, targets, { chunkRows: 24, labelSmoothing: 0.1, packWeight });
      loss.backward();
      assert.ok(h.grad);
      return [loss.item(), h.grad];
    };
    const [l1, g1] = run(true);
    assert.ok(packedBf16(w, true) && packedBf16(w, false), 'both orientations were packed');
    const [l0, g0] = run(false);
    assert.ok(Number.isFinite(l1));
    assert.equal(l1, l0);
    assert.deepEqual(g1, g0);
  });

  test('packedBf16 keeps one pack per weight storage and orientation, and repacks changed bits', async () => {
    const r = rng(7);
    const bits = Uint16Array.from({ length: 96 * 40 }, () => 0x3c00 ^ Math.floor(r() * 127));
    const w = new Tensor(bits, [96, 40], { dtype: 'bf16', bf16Compute: true });
    const fwd = packedBf16(w, true);
    assert.ok(fwd);
    assert.equal(packedBf16(w, true), fwd, 'the same pack on the next call');
    const profiler = new Profiler().start(); // swaps in a wrapper of the same kernels
    try {
      assert.equal(packedBf16(w, true), fwd, 'the same pack under the profiler');
    } finally {
      await profiler.stop();
    }
    const bwd = packedBf16(w, false);
    assert.ok(bwd && bwd !== fwd);
    assert.deepEqual(fwd, kernels.packBf16Dot(bits, 0, 40, true, 40, 96));
    assert.deepEqual(bwd, kernels.packBf16Dot(bits, 0, 40, false, 96, 40));
    bits[0] = 0x3f80; // changed in place: a sampled value, so the fingerprint sees it
    const again = packedBf16(w, true);
    assert.ok(again && again !== fwd);
    assert.deepEqual(again, kernels.packBf16Dot(bits, 0, 40, true, 40, 96));
    w.data = bits.slice(); // replaced storage: a new pack
    assert.notEqual(packedBf16(w, true), again);
    assert.equal(packedBf16(new Tensor(new Float32Array(6), [2, 3]), true), null, 'float32: nothing to pack');
    assert.equal(packedBf16(new Tensor(bits, [96, 40], { dtype: 'bf16' }), true), null, 'bf16 widened: nothing');
  });
});

test('the TypeScript kernels pack nothing', () => {
  assert.equal(jsKernels.packBf16Dot(new Uint16Array(8), 0, 4, true, 4, 2), null);
  if (kernels.simd !== 'avx512bf16') {
    const w = new Tensor(new Uint16Array(64 * 40), [64, 40], { dtype: 'bf16', bf16Compute: true });
    assert.equal(packedBf16(w, true), null, `no pack on ${kernels.name} ${kernels.simd}`);
  }
});
