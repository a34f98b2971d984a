/*
 * TK_I8DOT: int8 weights times rows of op(A) quantised to int8 on the fly, for products of at
 * most TK_I8DOT_MAX_M rows (decoding). Included by kernels.inc (scalar, AVX2 and AVX-512 builds,
 * the latter two with 256-bit vpmaddubsw) and gemv_lowp.c (AVX512_VNNI vpdpbusd).
 *
 * The numerics, identical in every build and in the TypeScript kernels (src/native/js-kernels.ts):
 *   xs[m, k] = (alpha * op(A)[m, k]) * (trans_b ? 1 : scale[k])       (float32; the stored-[K, N]
 *              weight's per-row scale is folded into the activation, as the weight-only path does)
 *   groups of TK_I8DOT_GROUP consecutive k (the last one shorter), for each row m and group g:
 *     amax = max |xs[m, k in g]|,  s[m, g] = amax / 127,  inv = amax > 0 ? 127 / amax : 0
 *     q[m, k] = round-half-even(xs[m, k] * inv), clamped to [-127, 127]     (all float32)
 *   acc[m, g, j] = sum over k in g of q[m, k] * w[k, j]                     (exact, int32)
 *   y[m, j] = (sum over g of s[m, g] * acc[m, g, j]) * (trans_b ? scale[j] : 1)   (float32,
 *             summation order unspecified);  C = y + beta * C.
 * The integer part is exact, so builds differ only by float32 rounding in the last line. The
 * activation rounding adds at most sum_k s[m, g(k)] / 2 * |B(k, j)| to each element (on top of the
 * weight quantisation that the weight-only path has too).
 */
#ifndef TK_I8DOT_H
#define TK_I8DOT_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "tk.h"

#if defined(__AVX512F__) && defined(__AVX512BW__)
#include <immintrin.h>
/* The AVX-512 builds check and quantise rows stored contiguously (op(A) = A) 16 values at a time,
 * with exactly the scalar operations of the loops below: the same float32 products in the same
 * order, max |x| (order-free), and rounding to nearest even (vrndscaleps). */
#define TK_I8DOT_VEC 1
static inline __mmask16 tk_i8dot_mask(int64_t n) { return n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1); }
#endif

#define TK_I8DOT_GROUP 128

/* The quantised rows of op(A) of one batch item. */
typedef struct {
  int64_t M, K, Kp, groups; /* Kp: K rounded up to a whole group (codes past K are 0) */
  int8_t *q;                /* [M, Kp] */
  float *s;                 /* [M, groups] */
  int32_t *sum;             /* [M, groups]: sum of the codes of each group */
} tk_i8dot_act;

/* What a kernel build provides: columns [j0, j1) of C for every row, weight stored [K, N] (kn)
 * or [N, K] (nk). Units are the column granularity of the thread split. */
typedef void (*tk_i8dot_block_fn)(const tk_gemm_args *g, const int8_t *w, const float *scale, const tk_i8dot_act *a,
                                  float *C, int64_t j0, int64_t j1);

/* Whether every xs of every batch item is finite (else the caller takes the weight-only path,
 * which propagates the NaN or infinity; checked before anything is written, so C is untouched). */
static inline int tk_i8dot_finite(const tk_gemm_args *g) {
  const int64_t rows = g->trans_b ? g->N : g->K;
  for (int64_t b = 0; b < g->batch; b++) {
    const float *A = g->A + b * g->stride_a, *scale = g->b_scale + (g->stride_b ? b * rows : 0);
    for (int64_t m = 0; m < g->M; m++) {
#ifdef TK_I8DOT_VEC
      if (!g->trans_a) {
        const float *row = A + m * g->lda;
        const __m512 alpha = _mm512_set1_ps(g->alpha), big = _mm512_set1_ps(3.4028234663852886e38f);
        for (int64_t k = 0; k < g->K; k += 16) {
          const __mmask16 km = tk_i8dot_mask(g->K - k);
          __m512 v = _mm512_mul_ps(alpha, _mm512_maskz_loadu_ps(km, row + k));
          if (!g->trans_b) v = _mm512_mul_ps(v, _mm512_maskz_loadu_ps(km, scale + k));
          if (_mm512_cmp_ps_mask(_mm512_abs_ps(v), big, _CMP_LE_OQ) != (__mmask16)0xFFFF) return 0; /* NaN fails too */
        }
        continue;
      }
#endif
      for (int64_t k = 0; k < g->K; k++) {
        const float v = g->alpha * (g->trans_a ? A[k * g->lda + m] : A[m * g->lda + k]);
        if (!(fabsf(g->trans_b ? v : v * scale[k]) <= 3.4028234663852886e38f)) return 0;
      }
    }
  }
  return 1;
}

/* Quantises batch item b's rows into a (buffers from scratch slot 3; the values are finite, see
 * tk_i8dot_finite). Returns 0, or -1 when out of memory. */
static inline int tk_i8dot_quantize(const tk_gemm_args *g, int64_t b, const float *scale, tk_i8dot_act *a) {
  const int64_t M = g->M, K = g->K, G = TK_I8DOT_GROUP;
  const int64_t groups = (K + G - 1) / G, Kp = groups * G;
  const size_t qbytes = (size_t)(M * Kp + 63) / 64 * 64;
  char *buf = tk_scratch(3, qbytes + (sizeof(float) + sizeof(int32_t)) * (size_t)(M * groups) + sizeof(float) * (size_t)G);
  if (!buf) return -1;
  a->M = M, a->K = K, a->Kp = Kp, a->groups = groups;
  a->q = (int8_t *)buf;
  a->s = (float *)(buf + qbytes);
  a->sum = (int32_t *)(a->s + M * groups);
  float *xs = (float *)(a->sum + M * groups);
  const float *A = g->A + b * g->stride_a;
  for (int64_t m = 0; m < M; m++) {
    int8_t *q = a->q + m * Kp;
    for (int64_t gi = 0; gi < groups; gi++) {
      const int64_t k0 = gi * G, n = K - k0 < G ? K - k0 : G;
#ifdef TK_I8DOT_VEC
      if (!g->trans_a) {
        const float *row = A + m * g->lda + k0;
        const __m512 alpha = _mm512_set1_ps(g->alpha);
        __m512 vmax = _mm512_setzero_ps();
        for (int64_t t = 0; t < n; t += 16) {
          const __mmask16 km = tk_i8dot_mask(n - t);
          __m512 v = _mm512_mul_ps(alpha, _mm512_maskz_loadu_ps(km, row + t));
          if (!g->trans_b) v = _mm512_mul_ps(v, _mm512_maskz_loadu_ps(km, scale + k0 + t));
          _mm512_storeu_ps(xs + t, v); /* xs holds G floats; lanes past n are 0 */
          vmax = _mm512_max_ps(vmax, _mm512_abs_ps(v));
        }
        const float amax = _mm512_reduce_max_ps(vmax);
        const __m512 inv = _mm512_set1_ps(amax > 0.0f ? 127.0f / amax : 0.0f);
        const __m512 lo = _mm512_set1_ps(-127.0f), hi = _mm512_set1_ps(127.0f);
        __m512i vsum = _mm512_setzero_si512();
        const int64_t n16 = (n + 15) / 16 * 16;
        for (int64_t t = 0; t < n16; t += 16) { /* codes of the lanes past n: 0 (xs is 0 there) */
          __m512 r = _mm512_roundscale_ps(_mm512_mul_ps(_mm512_loadu_ps(xs + t), inv),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
          r = _mm512_min_ps(_mm512_max_ps(r, lo), hi);
          const __m512i c = _mm512_cvtps_epi32(r);
          _mm_storeu_si128((__m128i *)(q + k0 + t), _mm512_cvtepi32_epi8(c));
          vsum = _mm512_add_epi32(vsum, c);
        }
        memset(q + k0 + n16, 0, (size_t)(G - n16));
        a->s[m * groups + gi] = amax / 127.0f;
        a->sum[m * groups + gi] = _mm512_reduce_add_epi32(vsum);
        continue;
      }
#endif
      float amax = 0.0f;
      for (int64_t t = 0; t < n; t++) {
        const int64_t k = k0 + t;
        const float v = g->alpha * (g->trans_a ? A[k * g->lda + m] : A[m * g->lda + k]);
        xs[t] = g->trans_b ? v : v * scale[k];
        const float av = fabsf(xs[t]);
        amax = av > amax ? av : amax;
      }
      const float inv = amax > 0.0f ? 127.0f / amax : 0.0f;
      int32_t sum = 0;
      for (int64_t t = 0; t < n; t++) {
        float r = nearbyintf(xs[t] * inv); /* default rounding: to nearest, ties to even */
        r = r > 127.0f ? 127.0f : r < -127.0f ? -127.0f : r;
        q[k0 + t] = (int8_t)r;
        sum += (int32_t)r;
      }
      memset(q + k0 + n, 0, (size_t)(G - n));
      a->s[m * groups + gi] = amax / 127.0f;
      a->sum[m * groups + gi] = sum;
    }
  }
  return 0;
}

typedef struct {
  const tk_gemm_args *g;
  const int8_t *w;
  const float *scale;
  const tk_i8dot_act *a;
  float *C;
  tk_i8dot_block_fn fn;
  int64_t unit;
} tk_i8dot_ctx;

/* Items [i0, i1) of `unit` columns each. */
static void tk_i8dot_task(void *p, int64_t i0, int64_t i1) {
  const tk_i8dot_ctx *c = p;
  const int64_t N = c->g->N, j0 = i0 * c->unit, j1e = i1 * c->unit;
  const int64_t j1 = j1e < N ? j1e : N;
  if (j0 < j1) c->fn(c->g, c->w, c->scale, c->a, c->C, j0, j1);
}

/* The whole TK_I8DOT product with the given column kernels, whose column blocks are handed out
 * to the threads one at a time (a thread slowed down by another process on its core takes fewer,
 * instead of the whole product waiting for its static half; see also tk_decode_parallel). Returns
 * 0, 1 (declined: a non-finite activation; nothing was written) or -1 (out of memory). */
static inline int tk_i8dot_run(const tk_gemm_args *g, tk_i8dot_block_fn kn, int64_t kn_unit, tk_i8dot_block_fn nk,
                               int64_t nk_unit) {
  if (!tk_i8dot_finite(g)) return 1;
  const int64_t rows = g->trans_b ? g->N : g->K;
  for (int64_t b = 0; b < g->batch; b++) {
    const float *scale = g->b_scale + (g->stride_b ? b * rows : 0);
    tk_i8dot_act a;
    if (tk_i8dot_quantize(g, b, scale, &a)) return -1;
    tk_i8dot_ctx ctx = {.g = g, .w = (const int8_t *)g->B + b * g->stride_b, .scale = scale, .a = &a,
                        .C = g->C + b * g->stride_c, .fn = g->trans_b ? nk : kn,
                        /* a wide [K, N] weight in blocks of twice the unit: still >= 8 blocks, longer row runs */
                        .unit = g->trans_b ? nk_unit : g->N >= 2048 ? 2 * kn_unit : kn_unit};
    const int64_t items = (g->N + ctx.unit - 1) / ctx.unit;
    const double work = (double)g->M * (double)g->N * (double)g->K;
    if (work < (double)(1 << 18) || items < 2 || tk_threads() < 2) tk_i8dot_task(&ctx, 0, items);
    else tk_decode_parallel_dynamic(items, tk_i8dot_task, &ctx);
  }
  return 0;
}

#endif
