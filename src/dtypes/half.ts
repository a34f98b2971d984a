/**
 * Half-precision number formats (bfloat16 and IEEE binary16) to and from float32, on raw 16-bit
 * patterns: the one implementation that file formats (io/safetensors) and kernels
 * (native/js-kernels) share.
 *
 * Why here: io and the tensor stack must not depend on each other (io stands alone; native is the
 * bottom of the tensor stack), so the conversions live in this leaf, which imports nothing.
 */

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** One bfloat16 bit pattern -> float32 (exact: bf16 is the top half of an f32). */
export function bf16BitsToFloat(bits: number): number {
  u32Scratch[0] = bits << 16;
  return f32Scratch[0] ?? NaN;
}

/** One IEEE 754 binary16 bit pattern -> float32 (exact, including subnormals, ±Inf and NaN). */
export function f16BitsToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >>> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa ? NaN : sign * Infinity;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

/** bfloat16 bit patterns -> float32 (exact). */
export function bf16ToF32(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  const outBits = new Uint32Array(out.buffer);
  for (let i = 0; i < bits.length; i++) outBits[i] = (bits[i] ?? 0) << 16;
  return out;
}

/** IEEE 754 binary16 bit patterns -> float32 (exact, including subnormals, ±Inf and NaN). */
export function f16ToF32(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = f16BitsToFloat(bits[i] ?? 0);
  return out;
}

/**
 * float32 -> bfloat16 bit patterns, rounding to nearest with ties to even (as PyTorch's
 * `.to(torch.bfloat16)`); NaN becomes the quiet NaN 0x7fc0 with the input's sign.
 */
export function f32ToBf16(values: Float32Array | ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) {
    f32Scratch[0] = values[i]!;
    const x = u32Scratch[0]!;
    if ((x & 0x7fffffff) > 0x7f800000) {
      out[i] = ((x >>> 16) & 0x8000) | 0x7fc0;
      continue;
    }
    const roundingBias = 0x7fff + ((x >>> 16) & 1);
    out[i] = ((x + roundingBias) >>> 16) & 0xffff;
  }
  return out;
}

/**
 * float32 -> IEEE 754 binary16 bit patterns, rounding to nearest with ties to even; values beyond
 * the f16 range become ±Inf, tiny values become subnormals or ±0, NaN becomes 0x7e00 (with sign).
 */
export function f32ToF16(values: Float32Array | ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) {
    f32Scratch[0] = values[i]!;
    const x = u32Scratch[0]!;
    const sign = (x >>> 16) & 0x8000;
    const exp32 = (x >>> 23) & 0xff;
    const mant32 = x & 0x7fffff;
    if (exp32 === 0xff) {
      out[i] = sign | (mant32 ? 0x7e00 : 0x7c00);
      continue;
    }
    const exp = exp32 - 127 + 15;
    if (exp >= 0x1f) {
      out[i] = sign | 0x7c00;
      continue;
    }
    if (exp <= 0) {
      // Subnormal (or zero) result: shift the full significand (with its implicit 1) into place.
      if (exp < -10) {
        out[i] = sign;
        continue;
      }
      const significand = mant32 | 0x800000;
      const shift = 14 - exp; // 24-bit significand -> 10-bit subnormal mantissa at exponent -14
      let half = significand >>> shift;
      const remainder = significand & ((1 << shift) - 1);
      const halfway = 1 << (shift - 1);
      if (remainder > halfway || (remainder === halfway && half & 1)) half += 1;
      out[i] = sign | half;
      continue;
    }
    let half = (exp << 10) | (mant32 >>> 13);
    const remainder = mant32 & 0x1fff;
    // Ties to even; a carry out of the mantissa correctly bumps the exponent (up to Inf).
    if (remainder > 0x1000 || (remainder === 0x1000 && half & 1)) half += 1;
    out[i] = sign | half;
  }
  return out;
}
