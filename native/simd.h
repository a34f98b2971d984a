/*
 * A thin vector abstraction so that kernels.inc is written once and compiled three times:
 * TK_ISA_AVX512 (16 lanes), TK_ISA_AVX2 (8 lanes) and the portable scalar build (1 lane).
 * Every operation is a static inline function of `vf` (a float vector) so the compiler keeps
 * the micro-kernel accumulators in registers.
 */
#ifndef TK_SIMD_H
#define TK_SIMD_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#if defined(TK_ISA_AVX512)
#include <immintrin.h>
#define VL 16
#define TK_SUFFIX(name) name##_avx512
typedef __m512 vf;
typedef __m512i vi;
static inline vf vzero(void) { return _mm512_setzero_ps(); }
static inline vf vset1(float a) { return _mm512_set1_ps(a); }
static inline vf vload(const float *p) { return _mm512_loadu_ps(p); }
static inline void vstore(float *p, vf a) { _mm512_storeu_ps(p, a); }
/* First min(n, 16) lanes (n may exceed the width: callers pass "elements left"). */
static inline __mmask16 vmask(int n) { return n >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << n) - 1u); }
/* Loads n < VL floats, zero filling the rest (never touches memory past p[n-1]). */
static inline vf vload_n(const float *p, int n) { return _mm512_maskz_loadu_ps(vmask(n), p); }
static inline void vstore_n(float *p, vf a, int n) { _mm512_mask_storeu_ps(p, vmask(n), a); }
/* Lanes >= n replaced by `fill`. */
static inline vf vfill_tail(vf a, int n, float fill) { return _mm512_mask_blend_ps(vmask(n), _mm512_set1_ps(fill), a); }
static inline vf vadd(vf a, vf b) { return _mm512_add_ps(a, b); }
static inline vf vsub(vf a, vf b) { return _mm512_sub_ps(a, b); }
static inline vf vmul(vf a, vf b) { return _mm512_mul_ps(a, b); }
static inline vf vdiv(vf a, vf b) { return _mm512_div_ps(a, b); }
static inline vf vfma(vf a, vf b, vf c) { return _mm512_fmadd_ps(a, b, c); }
static inline vf vfnma(vf a, vf b, vf c) { return _mm512_fnmadd_ps(a, b, c); }
static inline vf vmax(vf a, vf b) { return _mm512_max_ps(a, b); }
static inline vf vmin(vf a, vf b) { return _mm512_min_ps(a, b); }
static inline vf vsqrt(vf a) { return _mm512_sqrt_ps(a); }
static inline vf vabs(vf a) { return _mm512_abs_ps(a); }
static inline float vhsum(vf a) { return _mm512_reduce_add_ps(a); }
static inline float vhmax(vf a) { return _mm512_reduce_max_ps(a); }
/* (a < b) ? t : f, (a > b) ? t : f */
static inline vf vsel_lt(vf a, vf b, vf t, vf f) { return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, b, _CMP_LT_OQ), f, t); }
static inline vf vsel_gt(vf a, vf b, vf t, vf f) { return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, b, _CMP_GT_OQ), f, t); }
static inline vf vsel_eq(vf a, vf b, vf t, vf f) { return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, b, _CMP_EQ_OQ), f, t); }
static inline vf vround(vf a) { return _mm512_roundscale_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
/* 2^n for an integral-valued float vector n in [-126, 127]. */
static inline vf vpow2i(vf n) {
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23));
}
static inline vf vcopysign(vf mag, vf sgn) {
  const __m512i s = _mm512_set1_epi32((int)0x80000000u);
  return _mm512_castsi512_ps(_mm512_or_si512(_mm512_andnot_si512(s, _mm512_castps_si512(mag)), _mm512_and_si512(s, _mm512_castps_si512(sgn))));
}
/* VL bf16 / f16 values to float32 (exact). */
static inline vf vload_bf16(const uint16_t *p) {
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)p)), 16));
}
static inline vf vload_f16(const uint16_t *p) { return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p)); }
/* VL int8 values to float32. */
static inline vf vload_i8(const int8_t *p) { return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)p))); }

#elif defined(TK_ISA_AVX2)
#include <immintrin.h>
#define VL 8
#define TK_SUFFIX(name) name##_avx2
typedef __m256 vf;
static inline vf vzero(void) { return _mm256_setzero_ps(); }
static inline vf vset1(float a) { return _mm256_set1_ps(a); }
static inline vf vload(const float *p) { return _mm256_loadu_ps(p); }
static inline void vstore(float *p, vf a) { _mm256_storeu_ps(p, a); }
static inline __m256i vmask(int n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
static inline vf vload_n(const float *p, int n) { return _mm256_maskload_ps(p, vmask(n)); }
static inline void vstore_n(float *p, vf a, int n) { _mm256_maskstore_ps(p, vmask(n), a); }
static inline vf vfill_tail(vf a, int n, float fill) { return _mm256_blendv_ps(_mm256_set1_ps(fill), a, _mm256_castsi256_ps(vmask(n))); }
static inline vf vadd(vf a, vf b) { return _mm256_add_ps(a, b); }
static inline vf vsub(vf a, vf b) { return _mm256_sub_ps(a, b); }
static inline vf vmul(vf a, vf b) { return _mm256_mul_ps(a, b); }
static inline vf vdiv(vf a, vf b) { return _mm256_div_ps(a, b); }
static inline vf vfma(vf a, vf b, vf c) { return _mm256_fmadd_ps(a, b, c); }
static inline vf vfnma(vf a, vf b, vf c) { return _mm256_fnmadd_ps(a, b, c); }
static inline vf vmax(vf a, vf b) { return _mm256_max_ps(a, b); }
static inline vf vmin(vf a, vf b) { return _mm256_min_ps(a, b); }
static inline vf vsqrt(vf a) { return _mm256_sqrt_ps(a); }
static inline vf vabs(vf a) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), a); }
static inline float vhsum(vf a) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
static inline float vhmax(vf a) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
static inline vf vsel_lt(vf a, vf b, vf t, vf f) { return _mm256_blendv_ps(f, t, _mm256_cmp_ps(a, b, _CMP_LT_OQ)); }
static inline vf vsel_gt(vf a, vf b, vf t, vf f) { return _mm256_blendv_ps(f, t, _mm256_cmp_ps(a, b, _CMP_GT_OQ)); }
static inline vf vsel_eq(vf a, vf b, vf t, vf f) { return _mm256_blendv_ps(f, t, _mm256_cmp_ps(a, b, _CMP_EQ_OQ)); }
static inline vf vround(vf a) { return _mm256_round_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
static inline vf vpow2i(vf n) {
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23));
}
static inline vf vcopysign(vf mag, vf sgn) {
  const vf s = _mm256_set1_ps(-0.0f);
  return _mm256_or_ps(_mm256_andnot_ps(s, mag), _mm256_and_ps(s, sgn));
}
static inline vf vload_bf16(const uint16_t *p) {
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p)), 16));
}
static inline vf vload_f16(const uint16_t *p) { return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p)); }
static inline vf vload_i8(const int8_t *p) { return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)p))); }

#else /* portable scalar build: one lane */
#define VL 1
#define TK_SUFFIX(name) name##_scalar
typedef float vf;
static inline vf vzero(void) { return 0.0f; }
static inline vf vset1(float a) { return a; }
static inline vf vload(const float *p) { return *p; }
static inline void vstore(float *p, vf a) { *p = a; }
static inline vf vload_n(const float *p, int n) { return n > 0 ? *p : 0.0f; }
static inline void vstore_n(float *p, vf a, int n) { if (n > 0) *p = a; }
static inline vf vfill_tail(vf a, int n, float fill) { return n > 0 ? a : fill; }
static inline vf vadd(vf a, vf b) { return a + b; }
static inline vf vsub(vf a, vf b) { return a - b; }
static inline vf vmul(vf a, vf b) { return a * b; }
static inline vf vdiv(vf a, vf b) { return a / b; }
/* Unfused: without -mfma, fmaf() is a slow software routine. */
static inline vf vfma(vf a, vf b, vf c) { return a * b + c; }
static inline vf vfnma(vf a, vf b, vf c) { return c - a * b; }
static inline vf vmax(vf a, vf b) { return a > b ? a : b; }
static inline vf vmin(vf a, vf b) { return a < b ? a : b; }
static inline vf vsqrt(vf a) { return sqrtf(a); }
static inline vf vabs(vf a) { return fabsf(a); }
static inline float vhsum(vf a) { return a; }
static inline float vhmax(vf a) { return a; }
static inline vf vsel_lt(vf a, vf b, vf t, vf f) { return a < b ? t : f; }
static inline vf vsel_gt(vf a, vf b, vf t, vf f) { return a > b ? t : f; }
static inline vf vsel_eq(vf a, vf b, vf t, vf f) { return a == b ? t : f; }
static inline vf vround(vf a) { return nearbyintf(a); }
static inline vf vpow2i(vf n) { return ldexpf(1.0f, (int)n); }
static inline vf vcopysign(vf mag, vf sgn) { return copysignf(mag, sgn); }
#endif

/* Scalar half -> float conversions (exact), used for tails and by the scalar build. */
static inline float tk_bf16_to_f32(uint16_t h) {
  uint32_t u = (uint32_t)h << 16;
  float f;
  memcpy(&f, &u, 4);
  return f;
}
static inline float tk_f16_to_f32(uint16_t h) {
  const uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu, frac = h & 0x3ffu, u;
  if (exp == 0x1f) {
    u = sign | 0x7f800000u | (frac << 13);
  } else if (exp != 0) {
    u = sign | ((exp + 112u) << 23) | (frac << 13);
  } else if (frac == 0) {
    u = sign;
  } else { /* subnormal: normalise */
    int e = -1;
    do { frac <<= 1; e++; } while (!(frac & 0x400u));
    u = sign | ((uint32_t)(112 - e) << 23) | ((frac & 0x3ffu) << 13);
  }
  float f;
  memcpy(&f, &u, 4);
  return f;
}

#if VL == 1
static inline vf vload_bf16(const uint16_t *p) { return tk_bf16_to_f32(*p); }
static inline vf vload_f16(const uint16_t *p) { return tk_f16_to_f32(*p); }
static inline vf vload_i8(const int8_t *p) { return (float)*p; }
#endif

#endif
