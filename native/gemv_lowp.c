/*
 * Low-precision products of a few rows (decoding), on AVX-512 CPUs with VNNI and BF16:
 *  - TK_I8DOT (int8 weights, int8 activations; i8dot.h) with AVX512_VNNI;
 *  - TK_BF16DOT (bf16 weights, op(A) rounded to bf16) with AVX512_BF16 vdpbf16ps, the numerics of
 *    gemm_bf16.c's large-M kernel, so a bf16 model computes the same products whatever M is.
 *
 * TK_I8DOT with AVX512_VNNI: `vpdpbusd` multiplies 64 unsigned bytes by 64
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
 * columns within each 128-bit lane; the permutation is undone when storing. The product is split
 * along K in groups (see kn_ctx), each group's rows read front to back.
 * Weight stored [N, K] (nn.Linear, the LM head): plain dot products, 64 k per instruction,
 * one weight row after the other (a single sequential stream).
 * Weight stored [K, N] and pre-packed in panels (b_panels): the interleaved form of the [K, N]
 * kernel laid out panel after panel, one sequential stream with no shuffles, the same bits.
 *
 * Compiled on its own with -mavx512vnni -mavx512bf16; addon.c uses each kernel only when CPUID
 * reports the extension.
 */
#include <immintrin.h>

#include "i8dot.h"

#define NK_UNIT 128 /* rows per item of the thread split */
/* Software prefetch distances. On Zen 5 the hardware prefetchers alone fed the int8 [N, K] head
 * at ~7 GB/s on one core (the loads waited on memory 77% of the time) and the column strips of
 * the [K, N] kernels at 14-25 GB/s; with these the same products read 30-40 GB/s (cold weights,
 * two threads), the machine's bandwidth (measured on that Zen 5 machine only). */
#define NK_PF_BYTES 1024 /* int8 [N, K]: bytes ahead in the one sequential stream (swept 512-8192) */
#define NK_BF16_PF_BYTES 2048 /* bf16 [N, K]: the same (1024 measured no gain, 2048 +10-20% on GPT-2's head) */
#define PANEL_PF_BYTES 1024 /* int8 panels: the same (512-4096 measured alike) */
#define KN_PF_ROWS 8     /* bf16 [K, N]: rows ahead down a column strip (swept 4-32) */
#define KN_I8_PF_ROWS 16 /* int8 [K, N]: rows ahead inside an item (8-16) */
#define BF16_KN_JV 8     /* bf16 [K, N], M = 1: 256-column strips, 512-byte runs per row (128 columns read ~30% slower) */

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

/* Columns [j0, j1) of C for M rows, weight [N, K]: C(m, j) = scale[j] * dot(row m, weight row j).
 * One weight row after the other, so that the block [j0, j1) is read front to back: a single
 * sequential stream is what the hardware prefetchers follow best (several rows interleaved line
 * by line measured ~10 GB/s on one core against ~20 for one stream); the rows are independent, so
 * the out-of-order core overlaps one row's reduction with the next row's loads, and the stream is
 * software-prefetched NK_PF_BYTES ahead (see there). */
static inline __attribute__((always_inline)) void nk_block(const tk_gemm_args *g, const int8_t *w, const float *scale,
                                                            const tk_i8dot_act *a, float *C, int64_t j0, int64_t j1,
                                                            const int M) {
  const int64_t K = g->K, ld = g->ldb, G = TK_I8DOT_GROUP;
  const __m512i flip = _mm512_set1_epi8((char)0x80);
  for (int64_t j = j0; j < j1; j++) {
    const int8_t *wr = w + j * ld;
    __m512 yf[TK_I8DOT_MAX_M];
    for (int m = 0; m < M; m++) yf[m] = _mm512_setzero_ps();
    for (int64_t gi = 0; gi < a->groups; gi++) {
      __m512i acc[TK_I8DOT_MAX_M];
      /* the excess of the flipped weights, taken off lane 0 */
      for (int m = 0; m < M; m++) acc[m] = _mm512_maskz_set1_epi32(1, -128 * a->sum[m * a->groups + gi]);
      for (int64_t k = gi * G; k < (gi + 1) * G && k < K; k += 64) {
        const __mmask64 km = K - k >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << (K - k)) - 1);
        _mm_prefetch((const char *)(wr + k) + NK_PF_BYTES, _MM_HINT_T0);
        const __m512i wv = _mm512_xor_si512(_mm512_maskz_loadu_epi8(km, wr + k), flip);
        for (int m = 0; m < M; m++) /* codes zero padded to Kp */
          acc[m] = _mm512_dpbusd_epi32(acc[m], wv, _mm512_loadu_si512(a->q + m * a->Kp + k));
      }
      for (int m = 0; m < M; m++)
        yf[m] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc[m]), _mm512_set1_ps(a->s[m * a->groups + gi]), yf[m]);
    }
    for (int m = 0; m < M; m++) {
      const float y = _mm512_reduce_add_ps(yf[m]) * scale[j];
      float *c = C + m * g->ldc + j;
      *c = g->beta == 0.0f ? y : y + g->beta * *c;
    }
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

/* Weight stored [K, N]: the product is split along K, one item per KN_ROWS rows (half a group:
 * a GPT-2-small K = 768 makes 12 items, enough for the threads to even out). An item computes its
 * rows' int32 sums for every column, strip by strip (JV blocks of 64 columns in registers down its
 * rows), while it prefetches, front to back, the rows of the item the same thread most likely
 * takes next (items go out in order, one per thread in turn): an item's rows are contiguous, so
 * memory sees sequential streams, and the strips then read them from L2. (The split along N read
 * each thread's strip down all K rows: strided short runs, ~12 GB/s on one core against ~16 this
 * way.) The caller then adds each group's item sums (int32, exact) and folds the groups in order,
 * y = fma(acc[g], s[g], y) from y = 0, exactly as one strip down all of K did, so results do not
 * depend on the split or on which thread ran which item. Scratch: the sums, items x M x N int32
 * (M/16 of the weight's bytes). */
#define KN_ROWS (TK_I8DOT_GROUP / 2)
typedef struct {
  const tk_gemm_args *g;
  const int8_t *w;
  const tk_i8dot_act *a;
  int32_t *acc; /* [items, M, Np], Np: N in whole 256-column strips; lane 4L + i of the v-th 16 of each 64 columns holds column 16L + 4v + i */
  int64_t Np;
  int64_t items;
  int64_t ahead; /* items between this item and the one it prefetches: the threads taking items */
} kn_ctx;

static inline __attribute__((always_inline)) void kn_item(const kn_ctx *c, int64_t i, const int M, const int JV) {
  const tk_gemm_args *g = c->g;
  const tk_i8dot_act *a = c->a;
  const int64_t K = g->K, N = g->N, ld = g->ldb, R = KN_ROWS;
  const int64_t kg = i * R, k1 = kg + R < K ? kg + R : K, gi = kg / TK_I8DOT_GROUP;
  const int first = kg % TK_I8DOT_GROUP == 0; /* the group's first item carries the flip excess */
  /* the rows to prefetch, a share of them per step of four rows */
  const int64_t pk0 = (i + c->ahead) * R, pk1 = pk0 + R < K ? pk0 + R : K;
  const char *pf = pk0 < K ? (const char *)(c->w + pk0 * ld) : NULL, *pfe = pk0 < K ? (const char *)(c->w + pk1 * ld) : NULL;
  const int64_t steps = (N + 64 * JV - 1) / (64 * JV) * ((k1 - kg + 3) / 4);
  const int64_t per = ((pfe - pf) / 64 + steps - 1) / steps;
  for (int64_t j = 0; j < N; j += 64 * JV) {
    const int nc = (int)(N - j < 64 * JV ? N - j : 64 * JV);
    __mmask64 cm[4];
    for (int h = 0; h < JV; h++) cm[h] = cols_mask(nc - 64 * h);
    __m512i acc[TK_I8DOT_MAX_M][4][4];
    for (int m = 0; m < M; m++) {
      const __m512i c0 = _mm512_set1_epi32(first ? -128 * a->sum[m * a->groups + gi] : 0);
      for (int h = 0; h < JV; h++)
        for (int v = 0; v < 4; v++) acc[m][h][v] = c0;
    }
    for (int64_t k = kg; k < k1; k += 4) {
      /* the last 1-3 rows of K: the missing rows (codes 0) re-read row K - 1 */
      const int8_t *p0 = c->w + k * ld + j, *p1 = k + 1 < K ? p0 + ld : p0, *p2 = k + 2 < K ? p0 + 2 * ld : p1,
                   *p3 = k + 3 < K ? p0 + 3 * ld : p2;
      for (int64_t t = 0; t < per && pf < pfe; t++, pf += 64) _mm_prefetch(pf, _MM_HINT_T1);
      if (k + KN_I8_PF_ROWS + 3 < k1) /* and this item's rows ahead, into L1 */
        for (int r = 0; r < 4; r++)
          for (int h = 0; h < JV; h++) _mm_prefetch((const char *)(p0 + (KN_I8_PF_ROWS + r) * ld + 64 * h), _MM_HINT_T0);
      for (int h = 0; h < JV; h++) {
        __m512i u[4];
        kn_load4(p0 + 64 * h, p1 + 64 * h, p2 + 64 * h, p3 + 64 * h, cm[h], u);
        for (int m = 0; m < M; m++) {
          int32_t x4;
          memcpy(&x4, a->q + m * a->Kp + k, 4);
          const __m512i xb = _mm512_set1_epi32(x4);
          for (int v = 0; v < 4; v++) acc[m][h][v] = _mm512_dpbusd_epi32(acc[m][h][v], u[v], xb);
        }
      }
    }
    for (int m = 0; m < M; m++)
      for (int h = 0; h < JV; h++)
        for (int v = 0; v < 4; v++)
          _mm512_store_si512(c->acc + (i * M + m) * c->Np + j + 64 * h + 16 * v, acc[m][h][v]);
  }
}

static void kn_task(void *p, int64_t i0, int64_t i1) {
  const kn_ctx *c = p;
  for (int64_t i = i0; i < i1; i++) switch (c->a->M) {
      case 1: kn_item(c, i, 1, 4); break; /* 256-column strips: the longest runs the registers allow */
      case 2: kn_item(c, i, 2, 2); break;
      case 3: kn_item(c, i, 3, 1); break;
      default: kn_item(c, i, 4, 1); break;
    }
}

/* C = the group sums (each the sum of its items') folded in group order (see kn_ctx), the column
 * permutation undone. */
static void kn_fold(const kn_ctx *c, float *C) {
  const tk_gemm_args *g = c->g;
  const tk_i8dot_act *a = c->a;
  for (int64_t m = 0; m < a->M; m++)
    for (int64_t j = 0; j < g->N; j += 64) {
      __m512 y[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
      for (int64_t gi = 0; gi < a->groups; gi++) {
        const __m512 s = _mm512_set1_ps(a->s[m * a->groups + gi]);
        const int64_t i0 = gi * (TK_I8DOT_GROUP / KN_ROWS), i1 = i0 + TK_I8DOT_GROUP / KN_ROWS;
        for (int v = 0; v < 4; v++) {
          __m512i sum = _mm512_setzero_si512();
          for (int64_t i = i0; i < i1 && i < c->items; i++)
            sum = _mm512_add_epi32(sum, _mm512_load_si512(c->acc + (i * a->M + m) * c->Np + j + 16 * v));
          y[v] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sum), s, y[v]);
        }
      }
      float t[4][16], out[64];
      for (int v = 0; v < 4; v++) _mm512_storeu_ps(t[v], y[v]);
      const int nc = (int)(g->N - j < 64 ? g->N - j : 64);
      for (int q = 0; q < nc; q++) out[q] = t[(q & 15) >> 2][(q >> 4) * 4 + (q & 3)];
      store_out(C + m * g->ldc + j, out, nc, g->beta);
    }
}

static int kn_run(const tk_gemm_args *g) {
  if (!tk_i8dot_finite(g)) return 1;
  const int64_t M = g->M, N = g->N, Np = (N + 255) / 256 * 256 /* whole strips */, items = (g->K + KN_ROWS - 1) / KN_ROWS;
  int32_t *acc = tk_scratch(4, sizeof(int32_t) * (size_t)(items * M * Np)); /* slot 3: the activations */
  if (!acc) return -1;
  for (int64_t b = 0; b < g->batch; b++) {
    tk_i8dot_act a;
    if (tk_i8dot_quantize(g, b, g->b_scale + (g->stride_b ? b * g->K : 0), &a)) return -1;
    kn_ctx ctx = {.g = g, .w = (const int8_t *)g->B + b * g->stride_b, .a = &a, .acc = acc, .Np = Np, .items = items,
                  .ahead = 1};
    const double work = (double)M * (double)N * (double)g->K;
    if (work < (double)(1 << 18) || items < 2 || tk_threads() < 2)
      kn_task(&ctx, 0, items);
    else {
      ctx.ahead = tk_decode_threads(); /* the items between a thread's item and its next one */
      tk_decode_parallel_dynamic(items, kn_task, &ctx);
    }
    kn_fold(&ctx, g->C + b * g->stride_c);
  }
  return 0;
}

/* Weight stored [K, N] read from its panels (b_panels, see tk_i8dot_pack_panels): panel after panel of
 * 64 columns, each panel's rows of four k one after the other, so the block [j0, j1) is one
 * sequential stream. Lane i of accumulator v holds column 64 P + 16 v + i of panel P and sums the
 * same products as kn_item (the weights already flipped to unsigned, the excess taken off at the
 * group's start); each group's int32 sums are folded y = fma(sum, s[g], y) from y = 0 in group
 * order, as kn_fold does, so the bits are kn_run's. */
static inline __attribute__((always_inline)) void panels_block(const tk_gemm_args *g, const tk_i8dot_act *a, int64_t j0,
                                                                int64_t j1, const int M) {
  const int64_t K = g->K, quads = (K + 3) / 4, QG = TK_I8DOT_GROUP / 4;
  for (int64_t j = j0; j < j1; j += 64) {
    const uint8_t *bp = (const uint8_t *)g->b_panels + j / 64 * quads * 256;
    __m512 y[TK_I8DOT_MAX_M][4];
    for (int m = 0; m < M; m++)
      for (int v = 0; v < 4; v++) y[m][v] = _mm512_setzero_ps();
    for (int64_t gi = 0; gi < a->groups; gi++) {
      __m512i acc[TK_I8DOT_MAX_M][4];
      for (int m = 0; m < M; m++)
        for (int v = 0; v < 4; v++) acc[m][v] = _mm512_set1_epi32(-128 * a->sum[m * a->groups + gi]);
      const int64_t q1 = (gi + 1) * QG < quads ? (gi + 1) * QG : quads;
      for (int64_t q = gi * QG; q < q1; q++, bp += 256) {
        for (int v = 0; v < 4; v++) _mm_prefetch((const char *)bp + PANEL_PF_BYTES + 64 * v, _MM_HINT_T0);
        const __m512i b0 = _mm512_load_si512(bp), b1 = _mm512_load_si512(bp + 64), b2 = _mm512_load_si512(bp + 128),
                      b3 = _mm512_load_si512(bp + 192);
        for (int m = 0; m < M; m++) {
          int32_t x4;
          memcpy(&x4, a->q + m * a->Kp + 4 * q, 4);
          const __m512i xb = _mm512_set1_epi32(x4);
          acc[m][0] = _mm512_dpbusd_epi32(acc[m][0], b0, xb);
          acc[m][1] = _mm512_dpbusd_epi32(acc[m][1], b1, xb);
          acc[m][2] = _mm512_dpbusd_epi32(acc[m][2], b2, xb);
          acc[m][3] = _mm512_dpbusd_epi32(acc[m][3], b3, xb);
        }
      }
      for (int m = 0; m < M; m++) {
        const __m512 sv = _mm512_set1_ps(a->s[m * a->groups + gi]);
        for (int v = 0; v < 4; v++) y[m][v] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc[m][v]), sv, y[m][v]);
      }
    }
    const int64_t nc = j1 - j < 64 ? j1 - j : 64;
    for (int m = 0; m < M; m++) {
      float out[64];
      for (int v = 0; v < 4; v++) _mm512_storeu_ps(out + 16 * v, y[m][v]);
      store_out(g->C + m * g->ldc + j, out, nc, g->beta);
    }
  }
}

static void panels(const tk_gemm_args *g, const int8_t *w, const float *scale, const tk_i8dot_act *a, float *C,
                   int64_t j0, int64_t j1) {
  switch (a->M) {
    case 1: panels_block(g, a, j0, j1, 1); break;
    case 2: panels_block(g, a, j0, j1, 2); break;
    case 3: panels_block(g, a, j0, j1, 3); break;
    default: panels_block(g, a, j0, j1, 4); break;
  }
}

int64_t tk_i8dot_panels_bytes(int64_t K, int64_t N) { return (N + 63) / 64 * ((K + 3) / 4) * 256; }

typedef struct {
  const int8_t *B;
  int64_t ldb, K, N;
  uint8_t *dst;
} pack_ctx;

/* Panels [i0, i1): byte 4 c + i of quad q of panel P holds B(4 q + i, 64 P + c) + 128 (128 past K or N). */
static void pack_task(void *p, int64_t i0, int64_t i1) {
  const pack_ctx *c = p;
  const int64_t quads = (c->K + 3) / 4;
  for (int64_t P = i0; P < i1; P++) {
    uint8_t *o = c->dst + P * quads * 256;
    for (int64_t q = 0; q < quads; q++, o += 256)
      for (int i = 0; i < 4; i++) {
        const int64_t k = 4 * q + i;
        for (int64_t cc = 0; cc < 64; cc++) {
          const int64_t j = 64 * P + cc;
          o[4 * cc + i] = k < c->K && j < c->N ? (uint8_t)(c->B[k * c->ldb + j] ^ 0x80) : 0x80;
        }
      }
  }
}

void tk_i8dot_pack_panels(const int8_t *B, int64_t ldb, int64_t K, int64_t N, uint8_t *dst) {
  pack_ctx c = {.B = B, .ldb = ldb, .K = K, .N = N, .dst = dst};
  tk_parallel_dynamic((N + 63) / 64, tk_threads(), pack_task, &c);
}

int tk_gemv_i8dot_vnni(const tk_gemm_args *g) {
  if (g->trans_b) return tk_i8dot_run(g, NULL, 0, nk, NK_UNIT);
  if (g->b_panels && g->batch == 1) return tk_i8dot_run(g, panels, 128, NULL, 0);
  return kn_run(g);
}

/* ======================================================================= bf16 (TK_BF16DOT) */

/* C = alpha * op(A) op(B) + beta * C for M <= TK_I8DOT_MAX_M rows with bf16 weights: each row of
 * alpha * op(A) is rounded to bf16 (nearest even) once, and `vdpbf16ps` multiplies 32 bf16 pairs
 * and accumulates in float32 (16 lanes, each the sum of two products). Weight stored [K, N]: rows
 * k and k + 1 of 32 columns are interleaved in registers (vpunpck{l,h}wd: lane 4L + i of the low
 * half holds column 8L + i, of the high half column 8L + 4 + i), and the pair (x[k], x[k + 1]) is
 * broadcast; an odd K pairs the last row with zeros. Weight stored [N, K]: consecutive k already
 * form the pairs, plain dot products one weight row after the other. Weight stored [K, N] with the
 * GEMM's pre-packed panels (b_packed): the pairs are already formed, the same bits as [K, N]. */

typedef struct {
  const tk_gemm_args *g;
  const uint16_t *w;
  const uint16_t *x; /* [M, Kp] bf16 bits of alpha * op(A), zero padded to Kp (a multiple of 32) */
  int64_t Kp;
  float *C;
  int64_t unit;
} bf16_ctx;

static inline __mmask32 mask32(int64_t n) { return n >= 32 ? ~(__mmask32)0 : n <= 0 ? 0 : (((__mmask32)1 << n) - 1); }

static inline __attribute__((always_inline)) void bf16_kn(const bf16_ctx *c, int64_t j0, int64_t j1, const int M,
                                                           const int JV) {
  const tk_gemm_args *g = c->g;
  const int64_t K = g->K, ld = g->ldb;
  for (int64_t j = j0; j < j1; j += 32 * JV) {
    const int nc = (int)(j1 - j < 32 * JV ? j1 - j : 32 * JV);
    __mmask32 cm[8];
    for (int h = 0; h < JV; h++) cm[h] = mask32(nc - 32 * h);
    __m512 acc[TK_I8DOT_MAX_M][8][2];
    for (int m = 0; m < M; m++)
      for (int h = 0; h < JV; h++) acc[m][h][0] = acc[m][h][1] = _mm512_setzero_ps();
    const uint16_t *p = c->w + j;
    int64_t k = 0;
    for (; k < K; k += 2, p += 2 * ld) {
      const int pair = k + 1 < K;
      __m512 xb[TK_I8DOT_MAX_M];
      for (int m = 0; m < M; m++) {
        uint32_t x2;
        memcpy(&x2, c->x + m * c->Kp + k, 4);
        xb[m] = _mm512_castsi512_ps(_mm512_set1_epi32((int)x2));
      }
      if (k + KN_PF_ROWS + 1 < K) /* the rows KN_PF_ROWS ahead (see KN_PF_ROWS) */
        for (int h = 0; h < JV; h++) {
          _mm_prefetch((const char *)(p + KN_PF_ROWS * ld + 32 * h), _MM_HINT_T0);
          _mm_prefetch((const char *)(p + (KN_PF_ROWS + 1) * ld + 32 * h), _MM_HINT_T0);
        }
      for (int h = 0; h < JV; h++) {
        const __m512i r0 = _mm512_maskz_loadu_epi16(cm[h], p + 32 * h);
        const __m512i r1 = pair ? _mm512_maskz_loadu_epi16(cm[h], p + ld + 32 * h) : _mm512_setzero_si512();
        const __m512bh lo = (__m512bh)_mm512_unpacklo_epi16(r0, r1), hi = (__m512bh)_mm512_unpackhi_epi16(r0, r1);
        for (int m = 0; m < M; m++) {
          acc[m][h][0] = _mm512_dpbf16_ps(acc[m][h][0], lo, (__m512bh)xb[m]);
          acc[m][h][1] = _mm512_dpbf16_ps(acc[m][h][1], hi, (__m512bh)xb[m]);
        }
      }
    }
    for (int m = 0; m < M; m++) {
      float t[8][2][16], y[256];
      for (int h = 0; h < JV; h++) {
        _mm512_storeu_ps(t[h][0], acc[m][h][0]);
        _mm512_storeu_ps(t[h][1], acc[m][h][1]);
      }
      for (int q = 0; q < nc; q++) y[q] = t[q >> 5][(q & 7) >> 2][((q & 31) >> 3) * 4 + (q & 3)];
      store_out(g->C + m * g->ldc + j, y, nc, g->beta);
    }
  }
}

/* Weight stored [N, K] (the LM head): one weight row after the other, so that the block [j0, j1)
 * is read front to back as one sequential stream (four rows interleaved line by line kept the
 * prefetchers at about half the bandwidth, as in the int8 kernel above), software-prefetched
 * NK_BF16_PF_BYTES ahead; each row's sum is formed
 * exactly as before (one accumulator, k ascending, then the lane sum), so the bits are the same. */
static inline __attribute__((always_inline)) void bf16_nk(const bf16_ctx *c, int64_t j0, int64_t j1, const int M) {
  const tk_gemm_args *g = c->g;
  const int64_t K = g->K, ld = g->ldb;
  for (int64_t j = j0; j < j1; j++) {
    const uint16_t *wr = c->w + j * ld;
    __m512 acc[TK_I8DOT_MAX_M];
    for (int m = 0; m < M; m++) acc[m] = _mm512_setzero_ps();
    for (int64_t k = 0; k < K; k += 32) {
      _mm_prefetch((const char *)(wr + k) + NK_BF16_PF_BYTES, _MM_HINT_T0);
      const __m512bh wv = (__m512bh)_mm512_maskz_loadu_epi16(mask32(K - k), wr + k);
      for (int m = 0; m < M; m++)
        acc[m] = _mm512_dpbf16_ps(acc[m], wv, (__m512bh)_mm512_loadu_si512(c->x + m * c->Kp + k));
    }
    for (int m = 0; m < M; m++) {
      const float y = _mm512_reduce_add_ps(acc[m]);
      store_out(g->C + m * g->ldc + j, &y, 1, g->beta);
    }
  }
}

/* Weight stored [K, N] read from the AVX512_BF16 GEMM's pre-packed op(B) (b_packed, see
 * gemm_bf16.c): panel after panel of 32 columns, each panel's pairs one after the other, so the
 * block [j0, j1) is one sequential stream (the strips of bf16_kn read runs of 512 bytes from rows
 * N apart, which memory delivers ~25% slower). Lane i of the two accumulators holds column
 * 32 P + i and 32 P + 16 + i of panel P, and takes the pairs in the same order as bf16_kn (k
 * ascending, the odd K's last pair padded with zero), so the bits are bf16_kn's. */
static inline __attribute__((always_inline)) void bf16_panels(const bf16_ctx *c, int64_t j0, int64_t j1, const int M) {
  const tk_gemm_args *g = c->g;
  const int64_t pairs = (g->K + 1) / 2;
  for (int64_t j = j0; j < j1; j += 32) {
    const uint32_t *bp = g->b_packed + j / 32 * pairs * 32;
    __m512 acc[TK_I8DOT_MAX_M][2];
    for (int m = 0; m < M; m++) acc[m][0] = acc[m][1] = _mm512_setzero_ps();
    for (int64_t q = 0; q < pairs; q++, bp += 32) {
      _mm_prefetch((const char *)bp + NK_BF16_PF_BYTES, _MM_HINT_T0);
      _mm_prefetch((const char *)bp + NK_BF16_PF_BYTES + 64, _MM_HINT_T0);
      const __m512bh b0 = (__m512bh)_mm512_loadu_si512(bp), b1 = (__m512bh)_mm512_loadu_si512(bp + 16);
      for (int m = 0; m < M; m++) {
        uint32_t x2;
        memcpy(&x2, c->x + m * c->Kp + 2 * q, 4);
        const __m512bh xb = (__m512bh)_mm512_set1_epi32((int)x2);
        acc[m][0] = _mm512_dpbf16_ps(acc[m][0], b0, xb);
        acc[m][1] = _mm512_dpbf16_ps(acc[m][1], b1, xb);
      }
    }
    const int nc = (int)(j1 - j < 32 ? j1 - j : 32);
    for (int m = 0; m < M; m++) {
      float y[32];
      _mm512_storeu_ps(y, acc[m][0]);
      _mm512_storeu_ps(y + 16, acc[m][1]);
      store_out(g->C + m * g->ldc + j, y, nc, g->beta);
    }
  }
}

static void bf16_task(void *p, int64_t i0, int64_t i1) {
  const bf16_ctx *c = p;
  const int64_t N = c->g->N, j0 = i0 * c->unit, j1 = i1 * c->unit < N ? i1 * c->unit : N;
  if (j0 >= j1) return;
  const int M = (int)c->g->M;
  if (!c->g->trans_b && c->g->b_packed) {
    switch (M) {
      case 1: bf16_panels(c, j0, j1, 1); break;
      case 2: bf16_panels(c, j0, j1, 2); break;
      case 3: bf16_panels(c, j0, j1, 3); break;
      default: bf16_panels(c, j0, j1, 4); break;
    }
  } else if (c->g->trans_b) {
    switch (M) {
      case 1: bf16_nk(c, j0, j1, 1); break;
      case 2: bf16_nk(c, j0, j1, 2); break;
      case 3: bf16_nk(c, j0, j1, 3); break;
      default: bf16_nk(c, j0, j1, 4); break;
    }
  } else {
    switch (M) {
      case 1: bf16_kn(c, j0, j1, 1, BF16_KN_JV); break;
      case 2: bf16_kn(c, j0, j1, 2, 2); break;
      case 3: bf16_kn(c, j0, j1, 3, 1); break;
      default: bf16_kn(c, j0, j1, 4, 1); break;
    }
  }
}

int tk_gemv_bf16dot(const tk_gemm_args *g) {
  const int64_t M = g->M, K = g->K, Kp = (K + 31) / 32 * 32;
  uint16_t *x = tk_scratch(3, sizeof(uint16_t) * (size_t)(M * Kp + 32));
  if (!x) return -1;
  for (int64_t b = 0; b < g->batch; b++) {
    const float *A = g->A + b * g->stride_a;
    for (int64_t m = 0; m < M; m++) {
      float row[32];
      for (int64_t k0 = 0; k0 < Kp; k0 += 32) {
        for (int t = 0; t < 32; t++) {
          const int64_t k = k0 + t;
          row[t] = k < K ? g->alpha * (g->trans_a ? A[k * g->lda + m] : A[m * g->lda + k]) : 0.0f;
        }
        const __m512bh h = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(row + 16), _mm512_loadu_ps(row));
        _mm512_storeu_si512(x + m * Kp + k0, (__m512i)h);
      }
    }
    bf16_ctx ctx = {.g = g, .w = (const uint16_t *)g->B + b * g->stride_b, .x = x, .Kp = Kp,
                    .C = g->C + b * g->stride_c, .unit = g->trans_b ? NK_UNIT : 32 * BF16_KN_JV};
    tk_gemm_args item = *g;
    item.C = ctx.C;
    ctx.g = &item;
    const int64_t items = (g->N + ctx.unit - 1) / ctx.unit;
    const double work = (double)M * (double)g->N * (double)K;
    if (work < (double)(1 << 18) || items < 2 || tk_threads() < 2) bf16_task(&ctx, 0, items);
    else tk_decode_parallel_dynamic(items, bf16_task, &ctx);
  }
  return 0;
}
