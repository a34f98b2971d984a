/**
 * Decoding packs (gemm's `bPacked` for products of at most 4 rows by a weight stored [K, N], as
 * GPT-2's Conv1D stores it; tensor/weight-packs.ts `decodingPack` keeps them): the int8 panels of
 * kernels.packI8Dot for WType.I8Dot, the bf16 GEMM's panels of kernels.packBf16Dot for
 * WType.BF16Dot. A pack is only a faster layout, so every result must be the bits of the same
 * product without it; lowp.test.ts checks those against the documented numerics. To show that the
 * pack is what the kernel read, the weight B is overwritten after packing: the packed product must
 * still give the bits of the original B.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { WType } from '../../src/native/kernels.js';
import { kernels, nativeKernels, setNativeSimd, setNativeThreads, type NativeSimd } from '../../src/native/index.js';
import { convertFrozen } from '../../src/nn/compute-dtype.js';
import * as F from '../../src/tensor/ops.js';
import { decodingPack } from '../../src/tensor/weight-packs.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { bf16GemmSkip, randomBf16 } from '../helpers/bf16.js';
import { mulberry32 as rng } from '../helpers/mulberry32.js';

const native = nativeKernels();
const startSimd = native?.simd as NativeSimd | undefined;
const startThreads = native?.threads ?? 1;
after(() => {
  if (native && startSimd) {
    setNativeSimd(startSimd);
    setNativeThreads(startThreads);
  }
});

/** False where the native 'avx512bf16' build has the AVX512_VNNI decoding kernel (it packs int8), else why not. */
function vnniSkip(): string | false {
  const bf = bf16GemmSkip('no VNNI decoding kernel either');
  if (bf) return bf;
  const start = native!.simd as NativeSimd;
  setNativeSimd('avx512bf16');
  const packs = native!.packI8Dot(new Int8Array(4), 0, 2, 2, 2) !== null;
  setNativeSimd(start);
  return packs ? false : 'this CPU has no AVX512_VNNI';
}

interface Case {
  M: number;
  N: number;
  K: number;
  ta?: boolean;
  beta?: number;
  pad?: number;
  bias?: boolean;
}

const cases: Case[] = [
  { M: 1, N: 2304, K: 768 }, // GPT-2 c_attn: 36 panels, threaded
  { M: 1, N: 768, K: 3072, beta: 0.5 }, // GPT-2 mlp.c_proj: 24 groups
  { M: 1, N: 301, K: 77, pad: 3 }, // one short group, K % 4 = 1, a 45-column last panel
  { M: 2, N: 129, K: 256, bias: true }, // two whole groups, a 1-column panel
  { M: 3, N: 517, K: 95, ta: true, beta: 0.25 }, // K % 4 = 3
  { M: 4, N: 70, K: 130, pad: 1 }, // 4 rows, K % 4 = 2
  { M: 4, N: 2305, K: 515, bias: true }, // threaded, 4 rows, a 1-column panel
  { M: 1, N: 1, K: 1 },
  { M: 2, N: 64, K: 129 }, // one whole panel, a group of one k
];

/** The arguments of one product, C = alpha op(A) B + beta C (+ bias), B stored [K, N] with row stride ldb. */
function setup(c: Case, seed: number) {
  const r = rng(seed);
  const { M, N, K } = c;
  const ta = c.ta ?? false, pad = c.pad ?? 0;
  const lda = (ta ? M : K) + pad, ldb = N + pad;
  const A = Float32Array.from({ length: (ta ? K : M) * lda + 1 }, () => r() * 2 - 1);
  for (let i = 0; i < A.length; i += 29) A[i]! *= 15; // outliers: group scales differ
  const C0 = Float32Array.from({ length: M * N }, () => ((c.beta ?? 0) === 0 ? NaN : r() * 2 - 1));
  const bias = c.bias ? Float32Array.from({ length: N }, () => r() - 0.5) : null;
  return { r, ta, lda, ldb, A, C0, bias };
}

/** The weight of one product and its pack (built from B at offset 2, row stride ldb). */
interface PackedWeight {
  wtype: WType;
  B: Int8Array | Uint16Array;
  scales: Float32Array | null;
  pack: Uint32Array | null;
  /** B with every weight changed. */
  changed: Int8Array | Uint16Array;
}

/**
 * The product of case `c` with the pack gives the bits of the unpacked product, on one and two
 * threads, even with B overwritten after packing (so the kernel read the pack).
 */
function assertPackedBits(c: Case, seed: number, weight: (r: () => number, ldb: number) => PackedWeight): void {
  setNativeSimd('avx512bf16');
  const { r, ta, lda, ldb, A, C0, bias } = setup(c, seed);
  const { M, N, K } = c;
  const beta = c.beta ?? 0;
  const { wtype, B, scales, pack, changed } = weight(r, ldb);
  const run = (threads: number, b: Int8Array | Uint16Array, bPacked: Uint32Array | null): Float32Array => {
    setNativeThreads(threads);
    const C = C0.slice();
    // prettier-ignore
    native!.gemm(ta, false, M, N, K, 0.75, A, 1, lda, b, 2, ldb, wtype, beta, C, 0, N, 1, 0, 0, 0, scales, bias, bPacked);
    return C;
  };
  const want = run(2, B, null);
  assert.ok(want.every(Number.isFinite));
  assert.ok(pack, 'the build packs');
  assert.notDeepEqual(run(2, changed, null), want, 'a changed B changes the product');
  for (const threads of [1, 2]) assert.deepEqual(run(threads, changed, pack), want, `${threads} thread(s)`);
}

describe('int8 decoding products from packI8Dot panels (WType.I8Dot, B [K, N])', { skip: vnniSkip() }, () => {
  for (const [ci, c] of cases.entries())
    test(`the bits of the unpacked product ${JSON.stringify(c)}`, () =>
      assertPackedBits(c, 500 + ci, (r, ldb) => {
        const B = Int8Array.from({ length: c.K * ldb + 2 }, () => Math.round(r() * 255 - 128)); // -128 too
        return {
          wtype: WType.I8Dot,
          B,
          scales: Float32Array.from({ length: c.K }, () => 0.001 + r() * 0.02),
          pack: native!.packI8Dot(B, 2, ldb, c.K, c.N),
          changed: Int8Array.from(B, (v) => (v === 127 ? -128 : v + 1)),
        };
      }));

  test('gemm refuses a pack of another K or N, of transB, or for a batch', () => {
    setNativeSimd('avx512bf16');
    const B = new Int8Array(40 * 64), A = new Float32Array(64 * 2), C = new Float32Array(128), s = new Float32Array(64);
    const pack = native!.packI8Dot(B, 0, 64, 40, 64);
    assert.ok(pack);
    // prettier-ignore
    assert.throws(() => native!.gemm(false, false, 1, 64, 39, 1, A, 0, 39, B, 0, 64, WType.I8Dot, 0, C, 0, 64, 1, 0, 0, 0, s, null, pack), /bPacked.*packI8Dot\(B, bOff, ldb, 39, 64\)/);
    // prettier-ignore
    assert.throws(() => native!.gemm(false, true, 1, 40, 64, 1, A, 0, 64, B, 0, 64, WType.I8Dot, 0, C, 0, 40, 1, 0, 0, 0, s, null, pack), /bPacked/);
    // prettier-ignore
    assert.throws(() => native!.gemm(false, false, 1, 64, 40, 1, A, 0, 40, B, 0, 64, WType.I8Dot, 0, C, 0, 64, 2, 40, 0, 64, s, null, pack), /bPacked/);
    const bf = native!.packBf16Dot(new Uint16Array(40 * 64), 0, 64, false, 40, 64);
    // prettier-ignore
    assert.throws(() => native!.gemm(false, false, 1, 64, 40, 1, A, 0, 40, B, 0, 64, WType.I8Dot, 0, C, 0, 64, 1, 0, 0, 0, s, null, bf), /bPacked/, 'a bf16 pack');
  });
});

describe('bf16 decoding products from packBf16Dot panels (WType.BF16Dot, B [K, N])', { skip: bf16GemmSkip('no pack') }, () => {
  for (const [ci, c] of cases.entries())
    test(`the bits of the unpacked product ${JSON.stringify(c)}`, () =>
      assertPackedBits(c, 700 + ci, (r, ldb) => {
        const { bits: B } = randomBf16(c.K * ldb + 2, r);
        return {
          wtype: WType.BF16Dot,
          B,
          scales: null,
          pack: native!.packBf16Dot(B, 2, ldb, false, c.K, c.N),
          changed: Uint16Array.from(B, (v) => v ^ 0x8000), // every weight negated
        };
      }));
});

// These go through the active kernels, which TUNEKIT_BACKEND=js replaces.
const activeSkip = vnniSkip() || (kernels.simd !== 'avx512bf16' ? `the active kernels are ${kernels.name} ${kernels.simd}` : false);

describe('decodingPack (tensor/weight-packs.ts)', { skip: activeSkip }, () => {
  const r = rng(3);
  const values = Float32Array.from({ length: 96 * 200 }, () => r() - 0.5);
  const f32 = new Tensor(values, [96, 200]);

  test('one pack per storage, repacked after an in-place change, new for new storage', () => {
    for (const dtype of ['int8', 'bfloat16'] as const) {
      const w = convertFrozen(f32, dtype);
      const p = decodingPack(w);
      assert.ok(p, dtype);
      assert.equal(decodingPack(w), p, `${dtype}: the same pack on the next call`);
      const d = w.data as Int8Array | Uint16Array;
      d[0] = d[0] === 1 ? 2 : 1; // a sampled value
      const again = decodingPack(w);
      assert.ok(again && again !== p, `${dtype}: repacked after the change`);
      w.data = d.slice();
      assert.ok(decodingPack(w) !== again, `${dtype}: a new pack for new storage`);
    }
    assert.equal(decodingPack(f32), null, 'float32: nothing to pack');
    // Another SIMD build (switched in place, the kernels object stays) makes the packs stale.
    const w = convertFrozen(f32, 'int8');
    const p = decodingPack(w);
    assert.ok(setNativeSimd('avx2'));
    try {
      assert.equal(decodingPack(w), null, 'no VNNI panels for the AVX2 build');
    } finally {
      setNativeSimd('avx512bf16');
    }
    const back = decodingPack(w);
    assert.ok(back && back !== p, 'packed again for the AVX-512 build');
    assert.equal(decodingPack(new Tensor(new Uint16Array(6), [2, 3], { dtype: 'bf16' })), null, 'bf16 widened');
  });

  test('F.linear with an [in, out] weight decodes from the pack: the same bits as the unpacked product', () => {
    const x = new Tensor(Float32Array.from({ length: 2 * 96 }, (_, i) => Math.sin(i * 0.7)), [2, 96]);
    const bias = new Tensor(Float32Array.from({ length: 200 }, (_, i) => i * 0.01), [200]);
    for (const [dtype, wtype] of [
      ['int8', WType.I8Dot],
      ['bfloat16', WType.BF16Dot],
    ] as const) {
      const w = convertFrozen(f32, dtype);
      const got = F.withInt8Activations(() => F.linear(x, w, bias, { weightInOut: true })).f32;
      const want = new Float32Array(2 * 200);
      // prettier-ignore
      kernels.gemm(false, false, 2, 200, 96, 1, x.f32, 0, 96, w.data, 0, 200, wtype, 0, want, 0, 200, 1, 0, 0, 0, w.scales, bias.f32);
      assert.deepEqual(got, want, dtype);
      const pack = decodingPack(w);
      assert.ok(pack, `${dtype}: the product made the pack`);
      // Values the fingerprint does not sample (it reads the first and last 64 and every 600th of
      // these 19200): the pack is kept, and the product, read from it, does not see them.
      (w.data as Int8Array | Uint16Array).fill(0, 100, 500);
      const again = F.withInt8Activations(() => F.linear(x, w, bias, { weightInOut: true })).f32;
      assert.equal(decodingPack(w), pack);
      assert.deepEqual(again, want, `${dtype}: read from the pack`);
    }
  });
});
