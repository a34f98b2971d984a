/*
 * bfloat16 compute for frozen bf16 weights (bType TK_BF16DOT): C = alpha * op(A) op(B) + beta * C
 * where B holds bfloat16 bits and op(A) (float32) is rounded to bfloat16 (round to nearest even)
 * while it is packed; products of bf16 pairs are accumulated in float32 by AVX512_BF16
 * `vdpbf16ps`, which does 32 multiply-adds per instruction (twice the float32 FMA rate).
 *
 * Compiled on its own with -mavx512bf16 and only ever called when CPUID reports AVX512_BF16
 * (addon.c builds the 'avx512bf16' kernel table from the AVX-512 one plus this GEMM). Problems
 * this kernel does not take (M or N of a few rows: decode, LoRA ranks) go to the AVX-512 float32
 * kernels with the weight widened, which are memory-bound there anyway.
 *
 * Packed layouts: a "pair" is one uint32 holding the bf16 values of k = 2p (low half) and 2p + 1
 * (high half); vdpbf16ps multiplies low with low and high with high and adds both to the lane.
 *   A panel (MR rows):   ap[p * MR + r]    = pair(alpha * A(r, 2p), alpha * A(r, 2p + 1))
 *   B panel (NR cols):   bp[p * NR + j]    = pair(B(2p, j), B(2p + 1, j))
 * An odd K is padded with a zero k (the pair's high half).
 * A pre-packed B (tk_bf16dot_pack_b: a frozen weight packed once, e.g. a vocabulary head used four
 * times per step) holds the panels of all of op(B) at once, panel by panel, each with every pair:
 *   Bp[(j / NR) * Kp * NR + p * NR + j % NR] = pair(B(2p, j), B(2p + 1, j)),  Kp = ceil(K / 2),
 * so a k block starting at an even k0 of the panel is the run from pair k0 / 2 on: the same pairs
 * the per-call packing forms, in the same order, hence the same bits.
 */
#include <immintrin.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "tk.h"

#define MR 14
#define NV 2
#define NR 32
#define KC 768 /* k per block (384 pairs) */
#define MC (MR * 8)
#define NC 2048

static inline int64_t imin(int64_t a, int64_t b) { return a < b ? a : b; }

typedef struct {
  int trans_a, trans_b;
  int64_t M, N, K, lda, ldb, ldc;
  float alpha, beta;
  const float *A;
  const uint16_t *B;
  const uint32_t *Bp; /* NULL, or op(B) pre-packed (see the header) */
  float *C;
} bf_prob;

/* float32 -> bfloat16 bits, round to nearest even (NaN kept quiet), as vcvtneps2bf16. */
static inline uint32_t bf16_round(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (u >> 16) | 0x40u;
  if ((u & 0x7f800000u) == 0) u &= 0x80000000u; /* denormal inputs flush to zero, as the instruction */
  return (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
}

/* In-register transpose of a 16 x 16 block of 32-bit values: r[i] row i in, column i out. */
static inline void transpose16(__m512 r[16]) {
  __m512 t[16], u[16];
  for (int i = 0; i < 8; i++) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  for (int i = 0; i < 4; i++) {
    u[4 * i + 0] = _mm512_shuffle_ps(t[4 * i + 0], t[4 * i + 2], 0x44);
    u[4 * i + 1] = _mm512_shuffle_ps(t[4 * i + 0], t[4 * i + 2], 0xEE);
    u[4 * i + 2] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
    u[4 * i + 3] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
  }
  for (int i = 0; i < 4; i++) {
    t[i] = _mm512_shuffle_f32x4(u[i], u[4 + i], 0x88);
    t[4 + i] = _mm512_shuffle_f32x4(u[i], u[4 + i], 0xDD);
    t[8 + i] = _mm512_shuffle_f32x4(u[8 + i], u[12 + i], 0x88);
    t[12 + i] = _mm512_shuffle_f32x4(u[8 + i], u[12 + i], 0xDD);
  }
  for (int i = 0; i < 8; i++) {
    r[i] = _mm512_shuffle_f32x4(t[i], t[8 + i], 0x88);
    r[8 + i] = _mm512_shuffle_f32x4(t[i], t[8 + i], 0xDD);
  }
}

/* First n lanes (none for n <= 0, all for n >= the width). */
static inline __mmask16 mask16(int64_t n) { return n >= 16 ? (__mmask16)0xffff : n <= 0 ? 0 : (__mmask16)((1u << n) - 1u); }
static inline __mmask32 mask32(int64_t n) { return n >= 32 ? (__mmask32)0xffffffffu : n <= 0 ? 0 : (__mmask32)((1u << n) - 1u); }

/* Packs rows [i0, i0 + mc) x k [k0, k0 + kc) of alpha * op(A) as bf16 pairs (kp = ceil(kc / 2)
 * pairs per row), in MR-row panels, rows past mc zero. */
static void pack_a(const bf_prob *p, int64_t i0, int64_t mc, int64_t k0, int64_t kc, uint32_t *dst) {
  const int64_t kp = (kc + 1) / 2;
  for (int64_t ip = 0; ip < mc; ip += MR, dst += kp * MR) {
    const int m = (int)imin(MR, mc - ip);
    if (!p->trans_a) {
      const __m512 al = _mm512_set1_ps(p->alpha);
      for (int64_t k = 0; k < kc; k += 32) { /* 16 pairs of 16 rows, transposed in registers */
        const int64_t left = kc - k;
        __m512 r[16];
        for (int i = 0; i < 16; i++) {
          if (i >= m) {
            r[i] = _mm512_setzero_ps();
            continue;
          }
          const float *src = p->A + (i0 + ip + i) * p->lda + k0 + k;
          if (left > 64) { /* 14 rows far apart: fetch each row's lines two steps ahead */
            _mm_prefetch((const char *)(src + 64), _MM_HINT_T0);
            _mm_prefetch((const char *)(src + 80), _MM_HINT_T0);
          }
          const __m512 lo = _mm512_mul_ps(al, _mm512_maskz_loadu_ps(mask16(left), src));
          const __m512 hi = _mm512_mul_ps(al, _mm512_maskz_loadu_ps(mask16(left - 16), src + 16));
          r[i] = _mm512_castsi512_ps((__m512i)_mm512_cvtne2ps_pbh(hi, lo));
        }
        transpose16(r);
        const int64_t pairs = imin(16, (left + 1) / 2);
        for (int64_t q = 0; q < pairs; q++)
          _mm512_mask_storeu_epi32(dst + (k / 2 + q) * MR, mask16(MR), _mm512_castps_si512(r[q]));
      }
    } else {
      for (int64_t q = 0; q < kp; q++)
        for (int r = 0; r < MR; r++) {
          uint32_t v = 0;
          if (r < m) {
            const int64_t k = k0 + 2 * q, col = i0 + ip + r;
            v = bf16_round(p->alpha * p->A[k * p->lda + col]);
            if (2 * q + 1 < kc) v |= bf16_round(p->alpha * p->A[(k + 1) * p->lda + col]) << 16;
          }
          dst[q * MR + r] = v;
        }
    }
  }
}

/* Packs k [k0, k0 + kc) x columns [j0, j0 + nc) of op(B) (bf16 bits) as pairs in NR-column
 * panels, columns past nc zero. */
static void pack_b(const bf_prob *p, int64_t k0, int64_t kc, int64_t j0, int64_t nc, uint32_t *dst) {
  const int64_t kp = (kc + 1) / 2;
  for (int64_t jp = 0; jp < nc; jp += NR, dst += kp * NR) {
    const int64_t n = imin(NR, nc - jp);
    if (p->trans_b) { /* B stored [N, K]: a pair is one aligned-or-not uint32 of a row */
      for (int h = 0; h < NV; h++) {
        const int64_t cols = n - h * 16; /* valid columns in this half */
        for (int64_t k = 0; k < kc; k += 32) {
          const int64_t left = kc - k;
          __m512 r[16];
          for (int i = 0; i < 16; i++) {
            if (i >= cols) {
              r[i] = _mm512_setzero_ps();
              continue;
            }
            const uint16_t *src = p->B + (j0 + jp + h * 16 + i) * p->ldb + k0 + k;
            /* The same line of the next panel (32 rows on) into L2: 32 row streams are more
             * than the hardware prefetcher follows (packing took 30% longer without). */
            if (jp + NR < nc) _mm_prefetch((const char *)(src + NR * p->ldb), _MM_HINT_T1);
            r[i] = _mm512_castsi512_ps(_mm512_maskz_loadu_epi16(mask32(left), src));
          }
          transpose16(r);
          const int64_t pairs = imin(16, (left + 1) / 2);
          for (int64_t q = 0; q < pairs; q++) _mm512_storeu_ps((float *)dst + (k / 2 + q) * NR + h * 16, r[q]);
        }
      }
    } else { /* B stored [K, N]: interleave rows 2q and 2q + 1 */
      for (int64_t q = 0; q < kp; q++) {
        const uint16_t *r0 = p->B + (k0 + 2 * q) * p->ldb + j0 + jp;
        const int odd = 2 * q + 1 < kc;
        for (int h = 0; h < NV; h++) {
          const int64_t cols = n - h * 16;
          __m512i v = _mm512_setzero_si512();
          if (cols > 0) {
            const __mmask16 mk = mask16(cols);
            const __m512i lo = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(mk, r0 + h * 16));
            v = lo;
            if (odd) {
              const __m512i hi = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(mk, r0 + p->ldb + h * 16));
              v = _mm512_or_si512(lo, _mm512_slli_epi32(hi, 16));
            }
          }
          _mm512_storeu_si512(dst + q * NR + h * 16, v);
        }
      }
    }
  }
}

/* C tile (m x n valid of MR x NR) = acc + (first ? beta * C : C). */
static inline void ukernel(int64_t kp, const uint32_t *restrict a, const uint32_t *restrict b, float *c, int64_t ldc,
                           int m, int n, int first, float beta) {
  __m512 acc[MR][NV];
  if (!first || beta != 0.0f) /* C is read after the k loop: fetch its lines (3 per misaligned row) */
    for (int r = 0; r < m; r++) { /* into L2 now (it waited ~4% of the time on them otherwise) */
      const char *cr = (const char *)(c + r * ldc);
      _mm_prefetch(cr, _MM_HINT_T1);
      _mm_prefetch(cr + 64, _MM_HINT_T1);
      _mm_prefetch(cr + 124, _MM_HINT_T1);
    }
#pragma GCC unroll 16
  for (int r = 0; r < MR; r++)
#pragma GCC unroll 2
    for (int v = 0; v < NV; v++) acc[r][v] = _mm512_setzero_ps();
#pragma GCC unroll 2
  for (int64_t q = 0; q < kp; q++) {
    const __m512bh b0 = (__m512bh)_mm512_loadu_si512(b + q * NR);
    const __m512bh b1 = (__m512bh)_mm512_loadu_si512(b + q * NR + 16);
#pragma GCC unroll 16
    for (int r = 0; r < MR; r++) {
      const __m512bh av = (__m512bh)_mm512_set1_epi32((int)a[q * MR + r]);
      acc[r][0] = _mm512_dpbf16_ps(acc[r][0], av, b0);
      acc[r][1] = _mm512_dpbf16_ps(acc[r][1], av, b1);
    }
  }
  const __m512 vb = _mm512_set1_ps(beta);
#pragma GCC unroll 16
  for (int r = 0; r < MR; r++) {
    if (r >= m) break;
    float *cr = c + r * ldc;
#pragma GCC unroll 2
    for (int v = 0; v < NV; v++) {
      const int lanes = n - v * 16;
      if (lanes <= 0) continue;
      const __mmask16 mk = mask16(lanes);
      __m512 x = acc[r][v];
      if (!first) x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(mk, cr + v * 16));
      else if (beta != 0.0f) x = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(mk, cr + v * 16), x);
      _mm512_mask_storeu_ps(cr + v * 16, mk, x);
    }
  }
}

/* C[i0:i1, j0:j1] += the products over k in [k0, k1) on the calling thread (C = beta * C + ... where
 * `first`: the first k block then stores over C); -1 when scratch memory could not be allocated. */
static int block(const bf_prob *p, int64_t i0, int64_t i1, int64_t j0, int64_t j1, int64_t k0, int64_t k1, int first) {
  if (i0 >= i1 || j0 >= j1 || k0 >= k1) return 0;
  const int64_t kblocks = (k1 - k0 + KC - 1) / KC;
  const int64_t kcb = ((k1 - k0 + kblocks - 1) / kblocks + 1) / 2 * 2; /* balanced, even k blocks */
  uint32_t *abuf = tk_scratch(5, sizeof(uint32_t) * MC * (KC / 2 + 1));
  uint32_t *bbuf =
      p->Bp ? NULL : tk_scratch(6, sizeof(uint32_t) * (KC / 2 + 1) * (size_t)imin(NC, (j1 - j0 + NR - 1) / NR * NR));
  if (!abuf || (!p->Bp && !bbuf)) return -1;
  const int64_t Kp = (p->K + 1) / 2;
  for (int64_t jc = j0; jc < j1; jc += NC) { /* jc and pc are multiples of NR and 2 (see run) */
    const int64_t nc = imin(NC, j1 - jc);
    for (int64_t pc = k0; pc < k1; pc += kcb) {
      const int64_t kc = imin(kcb, k1 - pc), kp = (kc + 1) / 2;
      const uint32_t *bpan; /* panel of columns jc.. from pair pc / 2 on; the next panel bstride on */
      int64_t bstride;
      if (p->Bp) {
        bpan = p->Bp + jc / NR * Kp * NR + pc / 2 * NR;
        bstride = Kp * NR;
      } else {
        pack_b(p, pc, kc, jc, nc, bbuf);
        bpan = bbuf;
        bstride = kp * NR;
      }
      for (int64_t ic = i0; ic < i1; ic += MC) {
        const int64_t mc = imin(MC, i1 - ic);
        pack_a(p, ic, mc, pc, kc, abuf);
        for (int64_t jr = 0; jr < nc; jr += NR)
          for (int64_t ir = 0; ir < mc; ir += MR)
            ukernel(kp, abuf + ir * kp, bpan + jr / NR * bstride, p->C + (ic + ir) * p->ldc + jc + jr, p->ldc,
                    (int)imin(MR, mc - ir), (int)imin(NR, nc - jr), first && pc == k0, p->beta);
      }
    }
  }
  return 0;
}

/* Split-K (K much larger than M and N: a vocabulary-sized head's input gradient dZ·E): K is cut
 * into SPLIT_K slices; slice 0 accumulates into C (with beta), slice s > 0 into its own float32
 * partial (M x N, beta 0), and the partials are then added to C in slice order. Every element's
 * sum order depends on the shape only, never on the threads or on which thread ran which slice
 * (an inline run on one thread gives the same bits). Each slice packs only its own columns of A
 * and rows of B, where a split of N would make every thread pack all of A. */
#define SPLIT_K 4
/* The partials may take at most this many floats. */
#define SPLIT_K_MAX_FLOATS ((int64_t)16 << 20)

static int use_split_k(const bf_prob *p) {
  const int64_t mn = p->M > p->N ? p->M : p->N;
  return p->K >= 8 * mn && p->K >= SPLIT_K * KC && (SPLIT_K - 1) * p->M * p->N <= SPLIT_K_MAX_FLOATS;
}

/* First k of slice s (even, so slices never split a pair). */
static inline int64_t slice_k(const bf_prob *p, int s) { return s >= SPLIT_K ? p->K : p->K * s / SPLIT_K / 2 * 2; }

typedef struct {
  const bf_prob *p;
  int tm, tn;
  int nt;            /* threads the task was published for */
  int dynamic;       /* column blocks handed out one at a time (tm == 1, N of many blocks) */
  atomic_long next;  /* the next column when dynamic; the next (slice, column tile) when split-K */
  atomic_int err;
  float *partial;    /* split-K: SPLIT_K - 1 partials of M x N (row stride N) */
} bf_ctx;

/* Columns of the next dynamic block when `left` columns remain: NC while many are left, then
 * shrinking (about a 1 / (2 nt) share of what is left, at least NC / 4) so that the threads finish
 * together instead of one waiting for the other's last full block. */
static inline int64_t dynamic_cols(int64_t left, int nt) {
  int64_t c = (left + 2 * nt - 1) / (2 * nt);
  c = (c + NR - 1) / NR * NR;
  if (c < NC / 4) c = NC / 4;
  return c > NC ? NC : c;
}

/* Tiles tid, tid + nt, ... of the tm x tn grid: all of them when tk_parallel ran the task inline
 * on one thread (nested or concurrent calls), not just the first. */
static void tiles_task(void *c, int tid, int nt) {
  bf_ctx *ctx = c;
  const bf_prob *p = ctx->p;
  if (ctx->partial) { /* split-K: (slice, column tile) pairs handed out one at a time */
    const int64_t ntl = (p->N + NR - 1) / NR;
    for (int64_t u; (u = atomic_fetch_add(&ctx->next, 1)) < (int64_t)SPLIT_K * ctx->tn;) {
      const int s = (int)(u / ctx->tn), tj = (int)(u % ctx->tn);
      const int64_t j0 = ntl * tj / ctx->tn * NR, j1 = imin(p->N, ntl * (tj + 1) / ctx->tn * NR);
      bf_prob q = *p;
      if (s > 0) {
        q.C = ctx->partial + (int64_t)(s - 1) * p->M * p->N;
        q.ldc = p->N;
        q.beta = 0.0f;
      }
      if (block(&q, 0, p->M, j0, j1, slice_k(p, s), slice_k(p, s + 1), 1)) atomic_store(&ctx->err, 1);
    }
    return;
  }
  if (ctx->dynamic) { /* a thread slowed by another process takes fewer blocks */
    for (;;) {
      int64_t j = atomic_load(&ctx->next), w;
      do {
        if (j >= p->N) return;
        w = dynamic_cols(p->N - j, ctx->nt);
      } while (!atomic_compare_exchange_weak(&ctx->next, &j, j + w));
      if (block(p, 0, p->M, j, imin(p->N, j + w), 0, p->K, 1)) atomic_store(&ctx->err, 1);
    }
  }
  const int64_t mt = (p->M + MR - 1) / MR, ntl = (p->N + NR - 1) / NR;
  for (int u = tid; u < ctx->tm * ctx->tn; u += nt) {
    const int ti = u / ctx->tn, tj = u % ctx->tn;
    const int64_t i0 = mt * ti / ctx->tm * MR, i1 = imin(p->M, mt * (ti + 1) / ctx->tm * MR);
    const int64_t j0 = ntl * tj / ctx->tn * NR, j1 = imin(p->N, ntl * (tj + 1) / ctx->tn * NR);
    if (block(p, i0, i1, j0, j1, 0, p->K, 1)) atomic_store(&ctx->err, 1);
  }
}

typedef struct {
  const bf_prob *p;
  const float *partial;
} reduce_ctx;

/* Rows [r0, r1) of C += partial 1 + ... + partial SPLIT_K - 1, in that order. */
static void reduce_rows(void *c, int64_t r0, int64_t r1) {
  const reduce_ctx *ctx = c;
  const bf_prob *p = ctx->p;
  const int64_t plane = p->M * p->N;
  for (int64_t i = r0; i < r1; i++) {
    float *cr = p->C + i * p->ldc;
    const float *src = ctx->partial + i * p->N;
    for (int64_t j = 0; j < p->N; j += 16) {
      const __mmask16 mk = mask16(p->N - j);
      __m512 x = _mm512_maskz_loadu_ps(mk, cr + j);
      for (int s = 0; s < SPLIT_K - 1; s++) x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(mk, src + s * plane + j));
      _mm512_mask_storeu_ps(cr + j, mk, x);
    }
  }
}

/* One problem on up to `max_threads` threads (grid as the float32 GEMM: fewest multiply-adds on
 * the busiest thread plus its packing; column blocks handed out dynamically when the grid splits
 * a wide N only; split-K when K dwarfs M and N). */
static int run(const bf_prob *p, int max_threads) {
  const double work = (double)p->M * (double)p->N * (double)p->K;
  int nt = max_threads;
  if (work < (double)(1 << 20)) nt = 1;
  bf_ctx ctx = {.p = p, .tm = 1, .tn = 1, .nt = nt, .dynamic = 0, .partial = NULL};
  atomic_init(&ctx.err, 0);
  atomic_init(&ctx.next, 0);
  if (use_split_k(p)) { /* chosen by the shape alone: the same sums on any number of threads */
    ctx.partial = malloc(sizeof(float) * (size_t)((SPLIT_K - 1) * p->M * p->N));
    if (!ctx.partial) return -1;
    ctx.tn = (nt + SPLIT_K - 1) / SPLIT_K; /* more threads than slices: split N as well */
    tk_parallel(nt, tiles_task, &ctx);
    if (!atomic_load(&ctx.err)) {
      reduce_ctx r = {.p = p, .partial = ctx.partial};
      tk_parallel_for(p->M, 1, 1, reduce_rows, &r);
    }
    free(ctx.partial);
    return atomic_load(&ctx.err) ? -1 : 0;
  }
  if (nt > 1) {
    const double mt = (double)((p->M + MR - 1) / MR), ntl = (double)((p->N + NR - 1) / NR);
    double best = INFINITY;
    for (int a = 1; a <= nt; a++) {
      if (nt % a) continue;
      const int b = nt / a;
      const double mi = ceil(mt / a) * MR, nj = ceil(ntl / b) * NR;
      const double pack = (double)p->K * nj + mi * (double)p->K * ceil(nj / NC);
      const double cost = mi * nj * (double)p->K / 2 + 16.0 * pack;
      if (cost < best) {
        best = cost;
        ctx.tm = a;
        ctx.tn = b;
      }
    }
    /* Split along N only (a vocabulary-sized head): every block packs the same rows of A
     * anyway, so handing out column blocks costs nothing over the static halves. */
    ctx.dynamic = ctx.tm == 1 && p->N >= 2 * (int64_t)nt * NC;
  }
  tk_parallel(nt, tiles_task, &ctx);
  return atomic_load(&ctx.err) ? -1 : 0;
}

/* Smallest M and N this kernel takes; smaller problems go to the float32 kernels. */
#define BF_MIN 17

int tk_gemm_avx512bf16(const tk_gemm_args *g) {
  if (g->b_type != TK_BF16DOT) return tk_kernels_avx512.gemm(g);
  tk_gemm_args widened = *g;
  widened.b_type = TK_BF16;
  if (g->M < BF_MIN || g->N < BF_MIN || g->K < 2 || g->alpha == 0.0f) return tk_kernels_avx512.gemm(&widened);
  if (g->M == 0 || g->N == 0 || g->batch == 0) return 0;
  const int nt = tk_threads();
  for (int64_t b = 0; b < g->batch; b++) {
    const bf_prob p = {.trans_a = g->trans_a, .trans_b = g->trans_b, .M = g->M, .N = g->N, .K = g->K, .lda = g->lda,
                       .ldb = g->ldb, .ldc = g->ldc, .alpha = g->alpha, .beta = g->beta, .A = g->A + b * g->stride_a,
                       .B = (const uint16_t *)g->B + b * g->stride_b, .Bp = g->batch == 1 ? g->b_packed : NULL,
                       .C = g->C + b * g->stride_c};
    if (run(&p, nt)) return -1;
  }
  return 0;
}

int64_t tk_bf16dot_packed_words(int64_t K, int64_t N) { return (N + NR - 1) / NR * NR * ((K + 1) / 2); }

typedef struct {
  const bf_prob *p;
  uint32_t *dst;
} pack_all_ctx;

/* Panels [q0, q1) of the whole of op(B). */
static void pack_panels(void *c, int64_t q0, int64_t q1) {
  const pack_all_ctx *ctx = c;
  const bf_prob *p = ctx->p;
  const int64_t j0 = q0 * NR;
  pack_b(p, 0, p->K, j0, imin(p->N, q1 * NR) - j0, ctx->dst + j0 * ((p->K + 1) / 2));
}

void tk_bf16dot_pack_b(const uint16_t *B, int64_t ldb, int trans_b, int64_t K, int64_t N, uint32_t *dst) {
  const bf_prob p = {.trans_b = trans_b, .K = K, .N = N, .ldb = ldb, .B = B};
  pack_all_ctx c = {.p = &p, .dst = dst};
  tk_parallel_for((N + NR - 1) / NR, 1, 1, pack_panels, &c);
}
