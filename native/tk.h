/*
 * Shared declarations of the tunekit native addon: the thread pool (pool.c), per-thread scratch
 * memory, and the table of kernels that each instruction-set build (kernels_*.c) fills in.
 * addon.c validates JS arguments and then calls through the table picked at load time.
 */
#ifndef TK_H
#define TK_H

#include <stddef.h>
#include <stdint.h>

/* ---- thread pool ---- */

/* A task runs on `nt` threads at once; `tid` in [0, nt) (0 is the calling JS thread). */
typedef void (*tk_task_fn)(void *ctx, int tid, int nt);
/* A range task processes items [begin, end). */
typedef void (*tk_range_fn)(void *ctx, int64_t begin, int64_t end);

/* Starts the pool with `threads` threads in total (threads-1 workers). Safe to call again. */
void tk_pool_init(int threads);
/* Threads of the pool, counting the caller. */
int tk_threads(void);
/* Runs fn on min(nt, tk_threads()) threads and returns when all are done. Runs inline on
 * the caller (nt = 1) when the pool is busy (nested call or another JS thread). */
void tk_parallel(int nt, tk_task_fn fn, void *ctx);
/* Splits [0, n) into contiguous chunks of at least `grain` items (chunk starts aligned to
 * `align` items) over the pool; a problem smaller than 2 * grain runs on the caller alone. */
void tk_parallel_for(int64_t n, int64_t grain, int64_t align, tk_range_fn fn, void *ctx);
/* Hands out items [0, n) one at a time to the threads (for unequal items, e.g. causal attention). */
void tk_parallel_dynamic(int64_t n, int nt, tk_range_fn fn, void *ctx);
/* Nanoseconds the calling thread's last tk_parallel (or tk_parallel_for/_dynamic that used the
 * pool) spent, after finishing its own share, waiting for workers still running: near zero when
 * every thread had a core, about a scheduler time slice when a worker was descheduled mid-item. */
long long tk_parallel_wait_ns(void);
/* CLOCK_MONOTONIC in nanoseconds. */
long long tk_now_ns(void);
/* A decoding product (a one-row GEMV, ~10 to ~2000 us): tk_parallel / tk_parallel_dynamic over
 * the pool, or on the calling thread alone while the pool worker has lately kept the caller
 * waiting (a process competing for the other core; see pool.c). Results must not depend on the
 * thread count: the kernels' blocks compute the same on any thread. */
void tk_decode_parallel(int nt, tk_task_fn fn, void *ctx);
void tk_decode_parallel_dynamic(int64_t n, tk_range_fn fn, void *ctx);
/* Threads the next tk_decode_parallel* call runs on: 1 during a solo run, else the pool's. */
int tk_decode_threads(void);

/* Per-thread scratch buffer `slot` (0..7) of at least `bytes` bytes, 64-byte aligned, kept and
 * grown across calls (the pool threads are persistent). Returns NULL when out of memory. */
void *tk_scratch(int slot, size_t bytes);

/* ---- kernels ---- */

/* TK_BF16DOT: bf16 weight bits, computed in bf16 (op(A) rounded to bf16, float32 accumulation)
 * where the CPU has AVX512_BF16; every other build treats it as TK_BF16 (float32 products). */
/* TK_I8: int8 weights with one float32 scale per row of the stored matrix (b_scale): B(r, c) =
 * scale[r] * q[r * ldb + c] (weight-only quantisation; op(A) and C stay float32). */
/* TK_I8DOT: TK_I8 weights; products of at most TK_I8DOT_MAX_M (4) rows quantise op(A) to int8 on
 * the fly and use integer dot products (i8dot.h has the exact numerics); larger M is TK_I8. */
enum { TK_F32 = 0, TK_BF16 = 1, TK_F16 = 2, TK_BF16DOT = 3, TK_I8 = 4, TK_I8DOT = 5 };
#define TK_I8DOT_MAX_M 4
enum { TK_GELU_TANH = 0, TK_GELU_ERF = 1, TK_SILU = 2, TK_RELU = 3, TK_TANH = 4, TK_SIGMOID = 5, TK_EXP = 6 };

typedef struct {
  int trans_a, trans_b, b_type;
  int64_t M, N, K, lda, ldb, ldc, batch, stride_a, stride_b, stride_c;
  float alpha, beta;
  const float *A;
  const void *B;
  const float *b_scale; /* TK_I8 only: one scale per stored row of each batch item (stride: rows) */
  float *C;
  /* NULL or N floats added to every row of every item: C = alpha op(A) op(B) + beta C + bias.
   * Only the float32 kernels (kernels.inc) read it; addon.c applies it itself for the others. */
  const float *bias;
  /* NULL, or TK_BF16DOT's op(B) pre-packed by tk_bf16dot_pack_b (batch 1): only the AVX512_BF16
   * GEMM and the decoding GEMV of a [K, N] B (gemv_lowp.c) read it, in place of B (every other
   * path reads B, which must hold the same values). */
  const uint32_t *b_packed;
  /* NULL, or TK_I8DOT's [K, N] B (trans_b 0, batch 1) in panels (tk_i8dot_pack_panels): only the
   * AVX512_VNNI kernel reads it, in place of B (which holds the same values), for products of at
   * most TK_I8DOT_MAX_M rows (decoding). 64-byte aligned. */
  const uint8_t *b_panels;
} tk_gemm_args;

/* C = beta C + bias on every row of every item (C = bias where beta == 0, NaN included): for the
 * paths that take the bias as an initial value instead of in their store. */
static inline void tk_gemm_prefill_bias(const tk_gemm_args *g) {
  for (int64_t b = 0; b < g->batch; b++)
    for (int64_t i = 0; i < g->M; i++) {
      float *row = g->C + b * g->stride_c + i * g->ldc;
      if (g->beta == 0.0f)
        for (int64_t j = 0; j < g->N; j++) row[j] = g->bias[j];
      else
        for (int64_t j = 0; j < g->N; j++) row[j] = g->beta * row[j] + g->bias[j];
    }
}

typedef struct {
  const float *q, *k, *v;
  float *out, *lse;              /* forward outputs; backward reads them */
  const float *dout;             /* backward only */
  float *dq, *dk, *dv;           /* backward only, each may be NULL */
  const uint8_t *key_mask;       /* NULL or [B, S] */
  int64_t B, H, Hkv, T, S, D;
  int64_t window;    /* > 0: a query at position p sees keys in (p - window, p] (causal only) */
  int64_t kv_stride; /* elements between consecutive (batch, kv head) blocks of k/v/dk/dv (>= S * D) */
  /* Where rows live: row (b, h, t) of q/dq starts at q_off + b * q_b + h * q_h + t * q_t, likewise
   * k/dk (b, kv head, s), v/dv and out/dout (b, h, t); lse is always packed [B, H, T]. The packed
   * layout [B, H, T, D] is q_b = H * T * D, q_h = T * D, q_t = D; [B, T, H, D] (heads side by side,
   * as projections write them) is q_b = T * H * D, q_h = D, q_t = H * D. */
  int64_t q_off, q_b, q_h, q_t, k_off, k_b, k_h, k_t, v_off, v_b, v_h, v_t, o_off, o_b, o_h, o_t;
  float scale;
  int causal;
} tk_attn_args;

typedef struct {
  const char *simd;
  /* Returns 0, or -1 when scratch memory could not be allocated. */
  int (*gemm)(const tk_gemm_args *a);
  /* TK_I8DOT with M <= TK_I8DOT_MAX_M, K > 0: returns 0, 1 when it declines (a non-finite value
   * in op(A); C untouched: the caller runs TK_I8 instead) or -1 when out of memory. */
  int (*gemv_i8dot)(const tk_gemm_args *a);
  /* TK_BF16DOT with M <= TK_I8DOT_MAX_M, K > 0, alpha != 0, in bf16 (NULL: the build has no bf16
   * compute, TK_BF16DOT is TK_BF16 there). Returns 0, or -1 when out of memory. */
  int (*gemv_bf16dot)(const tk_gemm_args *a);
  void (*widen)(const uint16_t *src, int type, float *dst, int64_t n);
  void (*unary)(int op, const float *x, float *y, int64_t n);
  void (*unary_backward)(int op, const float *x, const float *y, const float *dy, float *dx, int64_t n);
  void (*softmax)(const float *x, float *y, int64_t rows, int64_t cols, float scale, int log);
  void (*softmax_backward)(const float *y, const float *dy, float *dx, int64_t rows, int64_t cols, float scale, int log);
  /* Norm backwards return 0, or -1 when scratch memory could not be allocated. */
  void (*layer_norm)(const float *x, const float *gamma, const float *beta, float *y, float *mean, float *rstd,
                     int64_t rows, int64_t cols, float eps);
  int (*layer_norm_backward)(const float *x, const float *gamma, const float *mean, const float *rstd, const float *dy,
                             float *dx, float *dgamma, float *dbeta, int64_t rows, int64_t cols);
  void (*rms_norm)(const float *x, const float *gamma, float *y, float *rstd, int64_t rows, int64_t cols, float eps);
  int (*rms_norm_backward)(const float *x, const float *gamma, const float *rstd, const float *dy, float *dx,
                           float *dgamma, int64_t rows, int64_t cols);
  /* Targets are validated by the caller (ignore_index or in [0, V)). */
  void (*cross_entropy)(const float *logits, const int32_t *targets, int64_t rows, int64_t V, int32_t ignore_index,
                        float label_smoothing, float *loss, float *dlogits, float grad_scale);
  /* Attention kernels return 0, or -1 when scratch memory could not be allocated. */
  int (*attention)(const tk_attn_args *a);
  int (*attention_backward)(const tk_attn_args *a);
  /* c1 = 1 - beta1 and c2 = 1 - beta2 are computed in double by the caller (1 - 0.999f is off by 1e-5). */
  void (*adamw)(float *p, const float *g, float *m, float *v, int64_t n, float lr, float beta1, float beta2,
                float c1, float c2, float eps, float weight_decay, double bc1, double bc2);
  void (*axpy)(int64_t n, float alpha, const float *x, const float *y, float *out); /* out = alpha x + y */
  void (*mul)(int64_t n, const float *x, const float *y, float *out);               /* out = x * y */
  /* rotary embedding (see kernels.inc): out = rotate(x) by sign * angle, rows [B, n1, n2] of D */
  void (*rope)(const float *x, float *out, const float *cos, const float *sin, int64_t B, int64_t n1, int64_t n2,
               int64_t T, int64_t D, int per_batch, int token_major, float sign);
  double (*sum_squares)(const float *x, int64_t n);
} tk_kernels;

extern const tk_kernels tk_kernels_avx512;
extern const tk_kernels tk_kernels_avx2;
extern const tk_kernels tk_kernels_scalar;
/* gemm_bf16.c: the AVX-512 GEMM with TK_BF16DOT weights multiplied by vdpbf16ps (AVX512_BF16 CPUs only). */
int tk_gemm_avx512bf16(const tk_gemm_args *g);
/* The AVX512_BF16 GEMM's packed layout of a whole op(B) (K x N, bf16 bits; trans_b: B stored
 * [N, K]): tk_bf16dot_packed_words(K, N) uint32 words, written on the pool's threads. */
int64_t tk_bf16dot_packed_words(int64_t K, int64_t N);
void tk_bf16dot_pack_b(const uint16_t *B, int64_t ldb, int trans_b, int64_t K, int64_t N, uint32_t *dst);
/* gemv_lowp.c: TK_I8DOT with AVX512_VNNI vpdpbusd (the 'avx512bf16' table, on CPUs with VNNI) and
 * TK_BF16DOT of a few rows with AVX512_BF16 vdpbf16ps (the 'avx512bf16' table). */
int tk_gemv_i8dot_vnni(const tk_gemm_args *g);
/* B [K, N] (row stride ldb) in the VNNI decoding kernel's panels: tk_i8dot_panels_bytes(K, N)
 * bytes at dst (64-byte aligned), written on the pool's threads. See gemv_lowp.c. */
int64_t tk_i8dot_panels_bytes(int64_t K, int64_t N);
void tk_i8dot_pack_panels(const int8_t *B, int64_t ldb, int64_t K, int64_t N, uint8_t *dst);
int tk_gemv_bf16dot(const tk_gemm_args *g);

#endif
