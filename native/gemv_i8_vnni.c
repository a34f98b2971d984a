/*
 * TK_I8DOT products (see i8dot.h) with AVX512_VNNI: `vpdpbusd` multiplies 64 unsigned bytes by 64
 * signed bytes and adds each group of four products into one of 16 int32 lanes, so one
 * instruction does 64 multiply-adds of int8 weights (versus 16 for widen-convert-FMA in float32).
 *
 * vpdpbusd wants one operand unsigned: the weight bytes are flipped to w + 128 (xor 0x80, exact
 * for every int8 including -128) and the activation codes stay signed; the excess,
 * 128 * sum of the group's codes, is subtracted from the int32 accumulator (exactly).
 *
 * Weight stored [K, N] (GPT-2's Conv1D): four rows k..k+3 of 64 columns are interleaved in
 * registers (vpunpck{l,h}bw, vpunpck{l,h}wd) so that each int32 lane holds the four k of one
 * column, and the four activation codes of k..k+3 are broadcast. The interleave permutes the
 * columns within each 128-bit lane; the permutation is undone when storing.
 * Weight stored [N, K] (nn.Linear, the LM head): plain dot products, 64 k per instruction,
 * four weight rows at a time.
 *
 * Compiled on its own with -mavx512vnni; addon.c uses it only when CPUID reports AVX512_VNNI.
 */
#include <immintrin.h>

#include "i8dot.h"

#define KN_COLS 128 /* column granularity of the thread split for a stored [K, N] weight */
#define NK_ROWS 4  /* weight rows (columns of C) per pass of a stored [N, K] weight */
#define NK_UNIT 128 /* rows per item of the thread split */

static inline void store_out(float *c, const float *y, int64_t n, float beta) {
  for (int64_t j = 0; j < n; j++) c[j] = beta == 0.0f ? y[j] : y[j] + beta * c[j];
}

/* Four rows of 64 columns (masked by cm) interleaved so that int32 lane 4L + i of u[v] holds the
 * four k of column 16L + 4v + i, flipped to unsigned. */
static inline void kn_load4(const int8_t *p0, const int8_t *p1, const int8_t *p2, const int8_t *p3, __mmask64 cm,
                            __m512i u[4]) {
  const __m512i flip = _mm512_set1_epi8((char)0x80);
  const __m512i r0 = _mm512_maskz_loadu_epi8(cm, p0), r1 = _mm512_maskz_loadu_epi8(cm, p1);
  const __m512i r2 = _mm512_maskz_loadu_epi8(cm, p2), r3 = _mm512_maskz_loadu_epi8(cm, p3);
  const __m512i t0 = _mm512_unpacklo_epi8(r0, r1), t1 = _mm512_unpackhi_epi8(r0, r1);
  const __m512i t2 = _mm512_unpacklo_epi8(r2, r3), t3 = _mm512_unpackhi_epi8(r2, r3);
  u[0] = _mm512_xor_si512(_mm512_unpacklo_epi16(t0, t2), flip);
  u[1] = _mm512_xor_si512(_mm512_unpackhi_epi16(t0, t2), flip);
  u[2] = _mm512_xor_si512(_mm512_unpacklo_epi16(t1, t3), flip);
  u[3] = _mm512_xor_si512(_mm512_unpackhi_epi16(t1, t3), flip);
}

static inline __mmask64 cols_mask(int64_t n) { return n >= 64 ? ~(__mmask64)0 : n <= 0 ? 0 : (((__mmask64)1 << n) - 1); }

/* Columns [j0, j1) of C for M rows, weight [K, N]; JV blocks of 64 columns per pass down K (two
 * cache lines per weight row when M <= 2, where the registers allow it). */
static inline __attribute__((always_inline)) void kn_block(const tk_gemm_args *g, const int8_t *w,
                                                            const tk_i8dot_act *a, float *C, int64_t j0, int64_t j1,
                                                            const int M, const int JV) {
  const int64_t K = g->K, ld = g->ldb, G = TK_I8DOT_GROUP;
  for (int64_t j = j0; j < j1; j += 64 * JV) {
    const int nc = (int)(j1 - j < 64 * JV ? j1 - j : 64 * JV);
    __mmask64 cm[2];
    for (int h = 0; h < JV; h++) cm[h] = cols_mask(nc - 64 * h);
    float yf[TK_I8DOT_MAX_M][2][4][16] __attribute__((aligned(64)));
    memset(yf, 0, sizeof yf);
    for (int64_t gi = 0; gi < a->groups; gi++) {
      __m512i acc[TK_I8DOT_MAX_M][2][4];
      for (int m = 0; m < M; m++) {
        const __m512i c0 = _mm512_set1_epi32(-128 * a->sum[m * a->groups + gi]);
        for (int h = 0; h < JV; h++)
          for (int v = 0; v < 4; v++) acc[m][h][v] = c0;
      }
      const int64_t kg = gi * G, k1 = (gi + 1) * G < K ? (gi + 1) * G : K;
      const int8_t *p = w + kg * ld + j;
      const int8_t *xq = a->q + kg;
      int64_t k = kg;
      for (; k + 4 <= k1; k += 4, p += 4 * ld, xq += 4) {
        for (int h = 0; h < JV; h++) {
          __m512i u[4];
          kn_load4(p + 64 * h, p + ld + 64 * h, p + 2 * ld + 64 * h, p + 3 * ld + 64 * h, cm[h], u);
          for (int m = 0; m < M; m++) {
            int32_t x4;
            memcpy(&x4, xq + m * a->Kp, 4);
            const __m512i xb = _mm512_set1_epi32(x4);
            for (int v = 0; v < 4; v++) acc[m][h][v] = _mm512_dpbusd_epi32(acc[m][h][v], u[v], xb);
          }
        }
      }
      if (k < k1) { /* the last 1-3 rows of K: the missing rows (codes 0) re-read row K - 1 */
        const int8_t *p1 = k + 1 < K ? p + ld : p, *p2 = k + 2 < K ? p + 2 * ld : p1;
        for (int h = 0; h < JV; h++) {
          __m512i u[4];
          kn_load4(p + 64 * h, p1 + 64 * h, p2 + 64 * h, p2 + 64 * h, cm[h], u);
          for (int m = 0; m < M; m++) {
            int32_t x4;
            memcpy(&x4, xq + m * a->Kp, 4);
            const __m512i xb = _mm512_set1_epi32(x4);
            for (int v = 0; v < 4; v++) acc[m][h][v] = _mm512_dpbusd_epi32(acc[m][h][v], u[v], xb);
          }
        }
      }
      for (int m = 0; m < M; m++) {
        const __m512 s = _mm512_set1_ps(a->s[m * a->groups + gi]);
        for (int h = 0; h < JV; h++)
          for (int v = 0; v < 4; v++)
            _mm512_store_ps(yf[m][h][v],
                            _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc[m][h][v]), s, _mm512_load_ps(yf[m][h][v])));
      }
    }
    /* lane 4L + i of vector v of block h holds column 64h + 16L + 4v + i */
    for (int m = 0; m < M; m++) {
      float y[128];
      for (int c = 0; c < nc; c++) y[c] = yf[m][c >> 6][(c & 15) >> 2][((c & 63) >> 4) * 4 + (c & 3)];
      store_out(C + m * g->ldc + j, y, nc, g->beta);
    }
  }
}

/* Columns [j0, j1) of C for M rows, weight [N, K]: C(m, j) = scale[j] * dot(row m, weight row j). */
static inline __attribute__((always_inline)) void nk_block(const tk_gemm_args *g, const int8_t *w, const float *scale,
                                                            const tk_i8dot_act *a, float *C, int64_t j0, int64_t j1,
                                                            const int M) {
  const int64_t K = g->K, ld = g->ldb, G = TK_I8DOT_GROUP;
  const __m512i flip = _mm512_set1_epi8((char)0x80);
  for (int64_t j = j0; j < j1; j += NK_ROWS) {
    const int nr = (int)(j1 - j < NK_ROWS ? j1 - j : NK_ROWS);
    const int8_t *wr[NK_ROWS];
    for (int r = 0; r < NK_ROWS; r++) wr[r] = w + (j + (r < nr ? r : nr - 1)) * ld; /* past the block: a copy */
    __m512 yf[TK_I8DOT_MAX_M][NK_ROWS];
    for (int m = 0; m < M; m++)
      for (int r = 0; r < NK_ROWS; r++) yf[m][r] = _mm512_setzero_ps();
    for (int64_t gi = 0; gi < a->groups; gi++) {
      __m512i acc[TK_I8DOT_MAX_M][NK_ROWS];
      for (int m = 0; m < M; m++) {
        /* the excess of the flipped weights, taken off lane 0 */
        const __m512i c0 = _mm512_maskz_set1_epi32(1, -128 * a->sum[m * a->groups + gi]);
        for (int r = 0; r < NK_ROWS; r++) acc[m][r] = c0;
      }
      for (int64_t k = gi * G; k < (gi + 1) * G && k < K; k += 64) {
        const __mmask64 km = K - k >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << (K - k)) - 1);
        __m512i wv[NK_ROWS];
        for (int r = 0; r < NK_ROWS; r++) wv[r] = _mm512_xor_si512(_mm512_maskz_loadu_epi8(km, wr[r] + k), flip);
        for (int m = 0; m < M; m++) {
          const __m512i xv = _mm512_loadu_si512(a->q + m * a->Kp + k); /* zero padded to Kp */
          for (int r = 0; r < NK_ROWS; r++) acc[m][r] = _mm512_dpbusd_epi32(acc[m][r], wv[r], xv);
        }
      }
      for (int m = 0; m < M; m++) {
        const __m512 s = _mm512_set1_ps(a->s[m * a->groups + gi]);
        for (int r = 0; r < NK_ROWS; r++) yf[m][r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc[m][r]), s, yf[m][r]);
      }
    }
    for (int m = 0; m < M; m++) {
      float y[NK_ROWS];
      for (int r = 0; r < nr; r++) y[r] = _mm512_reduce_add_ps(yf[m][r]) * scale[j + r];
      store_out(C + m * g->ldc + j, y, nr, g->beta);
    }
  }
}

static void kn(const tk_gemm_args *g, const int8_t *w, const float *scale, const tk_i8dot_act *a, float *C, int64_t j0,
               int64_t j1) {
  switch (a->M) {
    case 1: kn_block(g, w, a, C, j0, j1, 1, 2); break;
    case 2: kn_block(g, w, a, C, j0, j1, 2, 2); break;
    case 3: kn_block(g, w, a, C, j0, j1, 3, 1); break;
    default: kn_block(g, w, a, C, j0, j1, 4, 1); break;
  }
}

static void nk(const tk_gemm_args *g, const int8_t *w, const float *scale, const tk_i8dot_act *a, float *C, int64_t j0,
               int64_t j1) {
  switch (a->M) {
    case 1: nk_block(g, w, scale, a, C, j0, j1, 1); break;
    case 2: nk_block(g, w, scale, a, C, j0, j1, 2); break;
    case 3: nk_block(g, w, scale, a, C, j0, j1, 3); break;
    default: nk_block(g, w, scale, a, C, j0, j1, 4); break;
  }
}

int tk_gemv_i8dot_vnni(const tk_gemm_args *g) { return tk_i8dot_run(g, kn, KN_COLS, nk, NK_UNIT); }
