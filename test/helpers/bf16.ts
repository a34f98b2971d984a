/**
 * bfloat16 for the kernel tests, written independently of the library's converters: the bits of
 * a float32 rounded to nearest even, back again, and random bf16 matrices with their exact values.
 */
import { nativeKernels, nativeUnavailableReason, setNativeSimd } from '../../src/native/index.js';

const f = new Float32Array(1);
const u = new Uint32Array(f.buffer);

/** float32 -> bf16 bits, round to nearest even (finite inputs). */
export function toBf16(x: number): number {
  f[0] = x;
  const b = u[0] ?? 0;
  return ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff;
}

/** The float32 value of bf16 bits. */
export function fromBf16(h: number): number {
  u[0] = h << 16;
  return f[0] ?? 0;
}

/** x rounded to bf16 (nearest even), as a number. */
export function roundBf16(x: number): number {
  return fromBf16(toBf16(x));
}

/** `n` bf16 values uniform in [-1, 1) from `r`: their bits, and the same values as float64. */
export function randomBf16(n: number, r: () => number): { bits: Uint16Array; values: Float64Array } {
  const bits = new Uint16Array(n);
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const h = toBf16(r() * 2 - 1);
    bits[i] = h;
    values[i] = fromBf16(h);
  }
  return { bits, values };
}

/**
 * The `skip` of a test needing the AVX512_BF16 GEMM: false where the native addon has it,
 * else why not (`noBf16` says what covers that CPU instead). Leaves the active SIMD build as it was.
 */
export function bf16GemmSkip(noBf16: string): string | false {
  const native = nativeKernels();
  if (!native) return `native addon unavailable: ${nativeUnavailableReason()}`;
  const start = native.simd as Parameters<typeof setNativeSimd>[0];
  const has = setNativeSimd('avx512bf16');
  setNativeSimd(start);
  return has ? false : `this CPU has no AVX512_BF16 (${noBf16})`;
}
