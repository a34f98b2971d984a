/*
 * Node-API bindings of the tunekit kernels (contract: src/native/kernels.ts).
 *
 * Typed arrays and element offsets are passed straight through (no copies). Every argument is
 * validated before any work starts: a wrong type or an array shorter than the sizes imply throws
 * a JS TypeError/RangeError naming the kernel and the argument, never an out-of-bounds access.
 * The SIMD build (AVX-512, AVX2 or portable C) is picked once at load time from CPUID.
 */
#define NAPI_VERSION 8
#define _GNU_SOURCE
#include <node_api.h>

#include <math.h>
#include <stdint.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "tk.h"

static const tk_kernels *K = &tk_kernels_scalar;
/* The AVX-512 kernels with the AVX512_BF16 GEMM for TK_BF16DOT weights (filled in by init). */
static tk_kernels kernels_avx512bf16;
/* The AVX-512 kernels, with the AVX512_VNNI int8 GEMV where the CPU has VNNI but not BF16 (Ice
 * Lake); on CPUs with both, 'avx512' is the same (the maddubs GEMV is the AVX2 build's code). */
static tk_kernels kernels_avx512;

#define MAX_ARGS 24
#define MAX_SAFE 9007199254740991.0

typedef struct {
  napi_env env;
  const char *kernel;
  size_t argc;
  napi_value argv[MAX_ARGS];
} call;

static bool fail(call *c, bool range, const char *fmt, const char *name, const char *detail) {
  char msg[512];
  char body[384];
  snprintf(body, sizeof body, fmt, name, detail);
  snprintf(msg, sizeof msg, "tunekit native %s: %s", c->kernel, body);
  if (range) napi_throw_range_error(c->env, NULL, msg);
  else napi_throw_type_error(c->env, NULL, msg);
  return false;
}

static bool get_args(napi_env env, napi_callback_info info, call *c, const char *kernel, size_t want) {
  c->env = env;
  c->kernel = kernel;
  c->argc = MAX_ARGS;
  if (napi_get_cb_info(env, info, &c->argc, c->argv, NULL, NULL) != napi_ok) return false;
  if (c->argc < want) {
    char detail[64];
    snprintf(detail, sizeof detail, "%zu arguments, got %zu", want, c->argc);
    return fail(c, false, "%sexpected %s", "", detail);
  }
  return true;
}

static bool is_nullish(call *c, size_t i) {
  napi_valuetype t;
  napi_typeof(c->env, c->argv[i], &t);
  return t == napi_null || t == napi_undefined;
}

static const char *typed_name(napi_typedarray_type t) {
  switch (t) {
    case napi_float32_array: return "Float32Array";
    case napi_uint16_array: return "Uint16Array";
    case napi_int32_array: return "Int32Array";
    case napi_uint8_array: return "Uint8Array";
    case napi_int8_array: return "Int8Array";
    case napi_uint32_array: return "Uint32Array";
    default: return "typed array";
  }
}

/* A typed array argument of the given type; NULL data (and length 0) for null when nullable. */
static bool arg_array(call *c, size_t i, const char *name, napi_typedarray_type want, bool nullable, void **data,
                      size_t *len) {
  *data = NULL;
  *len = 0;
  if (nullable && is_nullish(c, i)) return true;
  bool is = false;
  napi_is_typedarray(c->env, c->argv[i], &is);
  napi_typedarray_type type = napi_int8_array;
  if (is) {
    napi_value ab;
    size_t byte_offset;
    napi_get_typedarray_info(c->env, c->argv[i], &type, len, data, &ab, &byte_offset);
  }
  if (!is || type != want) {
    char detail[64];
    snprintf(detail, sizeof detail, "%s%s", typed_name(want), nullable ? " or null" : "");
    return fail(c, false, "argument '%s' must be a %s", name, detail);
  }
  return true;
}

static bool arg_number(call *c, size_t i, const char *name, double *out) {
  if (napi_get_value_double(c->env, c->argv[i], out) != napi_ok) return fail(c, false, "argument '%s' must be a number%s", name, "");
  return true;
}

static bool arg_int(call *c, size_t i, const char *name, int64_t min, int64_t *out) {
  double d;
  if (!arg_number(c, i, name, &d)) return false;
  if (!(d == floor(d)) || d < (double)min || d > MAX_SAFE) {
    char detail[96];
    snprintf(detail, sizeof detail, "an integer >= %lld (got %g)", (long long)min, d);
    return fail(c, true, "argument '%s' must be %s", name, detail);
  }
  *out = (int64_t)d;
  return true;
}

static bool arg_bool(call *c, size_t i, const char *name, bool *out) {
  if (napi_get_value_bool(c->env, c->argv[i], out) != napi_ok) return fail(c, false, "argument '%s' must be a boolean%s", name, "");
  return true;
}

/* The array must hold `need` elements (computed in double: every term is < 2^53). */
static bool check_len(call *c, const char *name, size_t len, double need) {
  if (need <= (double)len) return true;
  char detail[160];
  snprintf(detail, sizeof detail, "needs %.0f elements for the given sizes and offset but has %zu", need, len);
  return fail(c, true, "argument '%s' is too short: %s", name, detail);
}

/* Elements spanned by `batch` matrices of rows x cols, row stride ld, starting at off. */
static bool check_matrix(call *c, const char *name, const char *ld_name, size_t len, int64_t off, int64_t rows,
                         int64_t cols, int64_t ld, int64_t batch, int64_t stride) {
  if (rows > 1 && ld < cols) {
    char detail[128];
    snprintf(detail, sizeof detail, "be >= %lld (the row length of %s), got %lld", (long long)cols, name, (long long)ld);
    return fail(c, true, "argument '%s' must %s", ld_name, detail);
  }
  if (rows == 0 || cols == 0 || batch == 0) return check_len(c, name, len, (double)off);
  return check_len(c, name, len,
                   (double)off + (double)(batch - 1) * (double)stride + (double)(rows - 1) * (double)ld + (double)cols);
}

static napi_value undefined(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

static napi_value number(napi_env env, double d) {
  napi_value v;
  napi_create_double(env, d, &v);
  return v;
}

static void throw_oom(napi_env env, const char *kernel) {
  char msg[128];
  snprintf(msg, sizeof msg, "tunekit native %s: out of memory for scratch buffers", kernel);
  napi_throw_error(env, NULL, msg);
}

#define F32 napi_float32_array
#define U16 napi_uint16_array
#define I32 napi_int32_array
#define U8 napi_uint8_array
#define I8 napi_int8_array
#define U32 napi_uint32_array
/* packBf16Dot's header: words, and the first one's value. */
#define PACK_HEADER 16
#define PACK_MAGIC 0x36314642u
/* packI8Dot's: its panels start at the first 64-byte boundary after the header (the storage of a
 * buffer need not be 64-byte aligned), so the buffer holds PACK_ALIGN_WORDS spare words. */
#define PACK_MAGIC_I8 0x4c4e3849u
#define PACK_ALIGN_WORDS 16
static inline uint8_t *packed_i8_panels(const uint32_t *h) {
  return (uint8_t *)(((uintptr_t)(h + PACK_HEADER) + 63) & ~(uintptr_t)63);
}
static inline int64_t packed_i8_words(int64_t K, int64_t N) {
  return PACK_HEADER + PACK_ALIGN_WORDS + tk_i8dot_panels_bytes(K, N) / 4;
}
#define TRY(x) \
  if (!(x)) return NULL
#define TRYB(x) \
  if (!(x)) return false

/* gemm(transA, transB, M, N, K, alpha, A, aOff, lda, B, bOff, ldb, bType, beta, C, cOff, ldc,
 *      batch, strideA, strideB, strideC[, bScale[, bias[, bPacked]]]) */
static napi_value js_gemm(napi_env env, napi_callback_info info) {
  call c;
  TRY(get_args(env, info, &c, "gemm", 21));
  bool ta, tb;
  int64_t M, N, Kd, aoff, lda, boff, ldb, btype, coff, ldc, batch, sa, sb, sc;
  double alpha, beta;
  void *A, *B, *C;
  size_t alen, blen, clen;
  TRY(arg_bool(&c, 0, "transA", &ta) && arg_bool(&c, 1, "transB", &tb));
  TRY(arg_int(&c, 2, "M", 0, &M) && arg_int(&c, 3, "N", 0, &N) && arg_int(&c, 4, "K", 0, &Kd));
  TRY(arg_number(&c, 5, "alpha", &alpha));
  TRY(arg_array(&c, 6, "A", F32, false, &A, &alen) && arg_int(&c, 7, "aOff", 0, &aoff) && arg_int(&c, 8, "lda", 0, &lda));
  TRY(arg_int(&c, 12, "bType", 0, &btype));
  if (btype > TK_I8DOT)
    return fail(&c, true, "argument '%s' must be 0 (F32), 1 (BF16), 2 (F16), 3 (BF16 compute), 4 (I8) or 5 (I8 dot)%s", "bType", ""), NULL;
  const bool int8 = btype == TK_I8 || btype == TK_I8DOT;
  TRY(arg_array(&c, 9, "B", btype == TK_F32 ? F32 : int8 ? I8 : U16, false, &B, &blen));
  TRY(arg_int(&c, 10, "bOff", 0, &boff) && arg_int(&c, 11, "ldb", 0, &ldb));
  TRY(arg_number(&c, 13, "beta", &beta));
  TRY(arg_array(&c, 14, "C", F32, false, &C, &clen) && arg_int(&c, 15, "cOff", 0, &coff) && arg_int(&c, 16, "ldc", 0, &ldc));
  TRY(arg_int(&c, 17, "batch", 0, &batch) && arg_int(&c, 18, "strideA", 0, &sa) && arg_int(&c, 19, "strideB", 0, &sb) &&
      arg_int(&c, 20, "strideC", 0, &sc));
  TRY(check_matrix(&c, "A", "lda", alen, aoff, ta ? Kd : M, ta ? M : Kd, lda, batch, sa));
  TRY(check_matrix(&c, "B", "ldb", blen, boff, tb ? N : Kd, tb ? Kd : N, ldb, batch, sb));
  TRY(check_matrix(&c, "C", "ldc", clen, coff, M, N, ldc, batch, sc));
  void *scale = NULL;
  size_t slen = 0;
  if (int8) {
    if (c.argc < 22) return fail(&c, false, "argument '%s' (one float32 scale per stored row of B) is required for bType 4 and 5 (I8)%s", "bScale", ""), NULL;
    TRY(arg_array(&c, 21, "bScale", F32, false, &scale, &slen));
    const double rows = (double)(tb ? N : Kd);
    TRY(check_len(&c, "bScale", slen, batch == 0 ? 0.0 : (sb ? (double)batch : 1.0) * rows));
  }
  void *bias = NULL;
  size_t biaslen = 0;
  if (c.argc > 22) {
    TRY(arg_array(&c, 22, "bias", F32, true, &bias, &biaslen));
    if (bias) TRY(check_len(&c, "bias", biaslen, (double)N));
  }
  void *packed = NULL;
  size_t packedlen = 0;
  if (c.argc > 23) {
    TRY(arg_array(&c, 23, "bPacked", U32, true, &packed, &packedlen));
    if (packed) {
      const bool i8 = btype == TK_I8DOT; /* an int8 pack is of B [K, N]; a bf16 one of either orientation */
      if ((!i8 && btype != TK_BF16DOT) || batch != 1)
        return fail(&c, true, "argument '%s' is for bType 3 (BF16 compute) or 5 (I8 dot) with batch 1 only%s", "bPacked", ""), NULL;
      const uint32_t *h = packed;
      const int64_t words = i8 ? packed_i8_words(Kd, N) : PACK_HEADER + tk_bf16dot_packed_words(Kd, N);
      if ((i8 && tb) || (double)packedlen != (double)words || h[0] != (i8 ? PACK_MAGIC_I8 : PACK_MAGIC) ||
          h[1] != (uint32_t)tb || h[2] != (uint32_t)Kd || h[3] != (uint32_t)N) {
        char detail[160];
        if (i8)
          snprintf(detail, sizeof detail, "be packI8Dot(B, bOff, ldb, %lld, %lld) (a pack of this K and N; transB false)",
                   (long long)Kd, (long long)N);
        else
          snprintf(detail, sizeof detail, "be packBf16Dot(B, bOff, ldb, %s, %lld, %lld) (a pack of this transB, K and N)",
                   tb ? "true" : "false", (long long)Kd, (long long)N);
        return fail(&c, true, "argument '%s' must %s", "bPacked", detail), NULL;
      }
    }
  }
  tk_gemm_args g = {.trans_a = ta, .trans_b = tb, .b_type = (int)btype, .M = M, .N = N, .K = Kd, .lda = lda, .ldb = ldb,
                    .ldc = ldc, .batch = batch, .stride_a = sa, .stride_b = sb, .stride_c = sc, .alpha = (float)alpha,
                    .beta = (float)beta, .A = (const float *)A + aoff,
                    .B = btype == TK_F32  ? (const void *)((const float *)B + boff)
                         : int8           ? (const void *)((const int8_t *)B + boff)
                                          : (const void *)((const uint16_t *)B + boff),
                    .b_scale = (const float *)scale,
                    .C = (float *)C + coff,
                    /* only the AVX512_BF16 GEMM reads it (the other builds keep B) */
                    .b_packed = K == &kernels_avx512bf16 && packed && btype == TK_BF16DOT ? (const uint32_t *)packed + PACK_HEADER : NULL,
                    /* only the VNNI kernel reads it (the other builds read B) */
                    .b_panels = K->gemv_i8dot == tk_gemv_i8dot_vnni && packed && btype == TK_I8DOT ? packed_i8_panels(packed) : NULL};
  if (bias && M > 0 && N > 0 && batch > 0) {
    /* The float32 kernels add it in their store; bf16 compute and int8 start from C = beta C + bias. */
    if (btype == TK_F32 || btype == TK_BF16 || btype == TK_F16)
      g.bias = (const float *)bias;
    else {
      g.bias = (const float *)bias;
      tk_gemm_prefill_bias(&g);
      g.bias = NULL;
      g.beta = 1.0f;
    }
  }
  if (btype == TK_BF16DOT && K->gemv_bf16dot && M <= TK_I8DOT_MAX_M && M > 0 && N > 0 && Kd > 0 && batch > 0 &&
      g.alpha != 0.0f) { /* decoding in bf16 */
    if (K->gemv_bf16dot(&g)) throw_oom(env, "gemm");
    return undefined(env);
  }
  if (btype == TK_I8DOT) { /* a few rows: int8 dot products; otherwise (or declined) weight-only int8 */
    int r = 1;
    if (M <= TK_I8DOT_MAX_M && Kd > 0 && g.alpha != 0.0f && M > 0 && N > 0 && batch > 0) r = K->gemv_i8dot(&g);
    if (r < 0) throw_oom(env, "gemm");
    if (r <= 0) return undefined(env);
    g.b_type = TK_I8;
  }
  if (K->gemm(&g)) throw_oom(env, "gemm");
  return undefined(env);
}

/* A pack's buffer of `words` uint32 (a Uint32Array into *out) with its header written (magic, transB, K, N,
 * then zeros up to PACK_HEADER words); the words after it are the caller's to fill. NULL once an
 * error has been thrown (K or N of 2^32 or more, out of memory). */
static uint32_t *new_pack(call *c, int64_t words, uint32_t magic, bool tb, int64_t Kd, int64_t N, napi_value *out) {
  if (Kd > UINT32_MAX || N > UINT32_MAX) return fail(c, true, "argument '%s' must be < 2^32%s", "K and N", ""), NULL;
  void *data = NULL;
  napi_value ab;
  if (napi_create_arraybuffer(c->env, (size_t)words * sizeof(uint32_t), &data, &ab) != napi_ok) {
    throw_oom(c->env, c->kernel);
    return NULL;
  }
  uint32_t *h = data;
  memset(h, 0, sizeof(uint32_t) * PACK_HEADER);
  h[0] = magic;
  h[1] = (uint32_t)tb;
  h[2] = (uint32_t)Kd;
  h[3] = (uint32_t)N;
  napi_create_typedarray(c->env, napi_uint32_array, (size_t)words, ab, 0, out);
  return h;
}

/* packBf16Dot(B, bOff, ldb, transB, K, N) -> Uint32Array | null: op(B) (K x N, bf16 bits) in the
 * AVX512_BF16 GEMM's packed layout, for gemm's bPacked; null where that GEMM is not in use. The
 * first PACK_HEADER words say what was packed (magic, transB, K, N, then zeros: the panels keep the
 * buffer's 64-byte alignment), so that gemm refuses a pack of another shape. */
static napi_value js_pack_bf16dot(napi_env env, napi_callback_info info) {
  call c;
  TRY(get_args(env, info, &c, "packBf16Dot", 6));
  void *B;
  size_t blen;
  int64_t boff, ldb, Kd, N;
  bool tb;
  TRY(arg_array(&c, 0, "B", U16, false, &B, &blen) && arg_int(&c, 1, "bOff", 0, &boff) && arg_int(&c, 2, "ldb", 0, &ldb));
  TRY(arg_bool(&c, 3, "transB", &tb) && arg_int(&c, 4, "K", 0, &Kd) && arg_int(&c, 5, "N", 0, &N));
  TRY(check_matrix(&c, "B", "ldb", blen, boff, tb ? N : Kd, tb ? Kd : N, ldb, 1, 0));
  napi_value out;
  if (K != &kernels_avx512bf16) {
    napi_get_null(env, &out);
    return out;
  }
  const int64_t words = PACK_HEADER + tk_bf16dot_packed_words(Kd, N);
  uint32_t *h = new_pack(&c, words, PACK_MAGIC, tb, Kd, N, &out);
  if (!h) return NULL;
  if (words > PACK_HEADER) tk_bf16dot_pack_b((const uint16_t *)B + boff, ldb, tb, Kd, N, h + PACK_HEADER);
  return out;
}

/* packI8Dot(B, bOff, ldb, K, N) -> Uint32Array | null: an int8 weight stored [K, N] (GPT-2's Conv1D)
 * in the panels of the AVX512_VNNI decoding products (gemm's bPacked with bType 5; gemv_lowp.c),
 * which read them as one sequential stream (the strips of short row runs that B itself gives are
 * read ~1.3x slower from memory); null where that kernel is not in use. Header as packBf16Dot's
 * (magic, 0, K, N). */
static napi_value js_pack_i8dot(napi_env env, napi_callback_info info) {
  call c;
  TRY(get_args(env, info, &c, "packI8Dot", 5));
  void *B;
  size_t blen;
  int64_t boff, ldb, Kd, N;
  TRY(arg_array(&c, 0, "B", I8, false, &B, &blen) && arg_int(&c, 1, "bOff", 0, &boff) && arg_int(&c, 2, "ldb", 0, &ldb));
  TRY(arg_int(&c, 3, "K", 0, &Kd) && arg_int(&c, 4, "N", 0, &N));
  TRY(check_matrix(&c, "B", "ldb", blen, boff, Kd, N, ldb, 1, 0));
  napi_value out;
  if (K->gemv_i8dot != tk_gemv_i8dot_vnni) {
    napi_get_null(env, &out);
    return out;
  }
  uint32_t *h = new_pack(&c, packed_i8_words(Kd, N), PACK_MAGIC_I8, false, Kd, N, &out);
  if (!h) return NULL;
  if (Kd > 0 && N > 0) tk_i8dot_pack_panels((const int8_t *)B + boff, ldb, Kd, N, packed_i8_panels(h));
  return out;
}

/* widen(src, srcOff, type, dst, dstOff, n) */
static napi_value js_widen(napi_env env, napi_callback_info info) {
  call c;
  TRY(get_args(env, info, &c, "widen", 6));
  void *src, *dst;
  size_t slen, dlen;
  int64_t soff, type, doff, n;
  TRY(arg_array(&c, 0, "src", U16, false, &src, &slen) && arg_int(&c, 1, "srcOff", 0, &soff));
  TRY(arg_int(&c, 2, "type", 1, &type));
  if (type > TK_BF16DOT) return fail(&c, true, "argument '%s' must be 1 (BF16), 2 (F16) or 3 (BF16)%s", "type", ""), NULL;
  if (type == TK_BF16DOT) type = TK_BF16;
  TRY(arg_array(&c, 3, "dst", F32, false, &dst, &dlen) && arg_int(&c, 4, "dstOff", 0, &doff) && arg_int(&c, 5, "n", 0, &n));
  TRY(check_len(&c, "src", slen, (double)soff + (double)n) && check_len(&c, "dst", dlen, (double)doff + (double)n));
  K->widen((const uint16_t *)src + soff, (int)type, (float *)dst + doff, n);
  return undefined(env);
}

static bool arg_op(call *c, size_t i, int64_t *op) {
  TRYB(arg_int(c, i, "op", 0, op));
  if (*op > TK_EXP) return fail(c, true, "argument '%s' must be a Unary op in 0..6%s", "op", "");
  return true;
}

/* unary(op, x, y, n) */
static napi_value js_unary(napi_env env, napi_callback_info info) {
  call c;
  TRY(get_args(env, info, &c, "unary", 4));
  int64_t op, n;
  void *x, *y;
  size_t xl, yl;
  TRY(arg_op(&c, 0, &op) && arg_array(&c, 1, "x", F32, false, &x, &xl) && arg_array(&c, 2, "y", F32, false, &y, &yl));
  TRY(arg_int(&c, 3, "n", 0, &n) && check_len(&c, "x", xl, (double)n) && check_len(&c, "y", yl, (double)n));
  K->unary((int)op, x, y, n);
  return undefined(env);
}

/* unaryBackward(op, x, y, dy, dx, n) */
static napi_value js_unary_backward(napi_env env, napi_callback_info info) {
  call c;
  TRY(get_args(env, info, &c, "unaryBackward", 6));
  int64_t op, n;
  void *x, *y, *dy, *dx;
  size_t xl, yl, dyl, dxl;
  TRY(arg_op(&c, 0, &op) && arg_array(&c, 1, "x", F32, false, &x, &xl) && arg_array(&c, 2, "y", F32, false, &y, &yl));
  TRY(arg_array(&c, 3, "dy", F32, false, &dy, &dyl) && arg_array(&c, 4, "dx", F32, false, &dx, &dxl));
  TRY(arg_int(&c, 5, "n", 0, &n));
  TRY(check_len(&c, "x", xl, (double)n) && check_len(&c, "y", yl, (double)n) && check_len(&c, "dy", dyl, (double)n) &&
      check_len(&c, "dx", dxl, (double)n));
  K->unary_backward((int)op, x, y, dy, dx, n);
  return undefined(env);
}

static bool arg_rows_cols(call *c, size_t i, int64_t *rows, int64_t *cols, const char *cols_name) {
  return arg_int(c, i, "rows", 0, rows) && arg_int(c, i + 1, cols_name, 0, cols);
}

/* softmax(x, y, rows, cols, scale, log) */
static napi_value js_softmax(napi_env env, napi_callback_info info) {
  call c;
  TRY(get_args(env, info, &c, "softmax", 6));
  void *x, *y;
  size_t xl, yl;
  int64_t rows, cols;
  double scale;
  bool lg;
  TRY(arg_array(&c, 0, "x", F32, false, &x, &xl) && arg_array(&c, 1, "y", F32, false, &y, &yl));
  TRY(arg_rows_cols(&c, 2, &rows, &cols, "cols") && arg_number(&c, 4, "scale", &scale) && arg_bool(&c, 5, "log", &lg));
  const double n = (double)rows * (double)cols;
  TRY(check_len(&c, "x", xl, n) && check_len(&c, "y", yl, n));
  K->softmax(x, y, rows, cols, (float)scale, lg);
  return undefined(env);
}

/* softmaxBackward(y, dy, dx, rows, cols, scale, log) */
static napi_value js_softmax_backward(napi_env env, napi_callback_info info) {
  call c;
  TRY(get_args(env, info, &c, "softmaxBackward", 7));
  void *y, *dy, *dx;
  size_t yl, dyl, dxl;
  int64_t rows, cols;
  double scale;
  bool lg;
  TRY(arg_array(&c, 0, "y", F32, false, &y, &yl) && arg_array(&c, 1, "dy", F32, false, &dy, &dyl) &&
      arg_array(&c, 2, "dx", F32, false, &dx, &dxl));
  TRY(arg_rows_cols(&c, 3, &rows, &cols, "cols") && arg_number(&c, 5, "scale", &scale) && arg_bool(&c, 6, "log", &lg));
  const double n = (double)rows * (double)cols;
  TRY(check_len(&c, "y", yl, n) && check_len(&c, "dy", dyl, n) && check_len(&c, "dx", dxl, n));
  K->softmax_backward(y, dy, dx, rows, cols, (float)scale, lg);
  return undefined(env);
}

/* layerNorm(x, gamma, beta, y, mean, rstd, rows, cols, eps) */
static napi_value js_layer_norm(napi_env env, napi_callback_info info) {
  call c;
  TRY(get_args(env, info, &c, "layerNorm", 9));
  void *x, *g, *b, *y, *mean, *rstd;
  size_t xl, gl, bl, yl, ml, rl;
  int64_t rows, cols;
  double eps;
  TRY(arg_array(&c, 0, "x", F32, false, &x, &xl) && arg_array(&c, 1, "gamma", F32, true, &g, &gl) &&
      arg_array(&c, 2, "beta", F32, true, &b, &bl) && arg_array(&c, 3, "y", F32, false, &y, &yl) &&
      arg_array(&c, 4, "mean", F32, false, &mean, &ml) && arg_array(&c, 5, "rstd", F32, false, &rstd, &rl));
  TRY(arg_rows_cols(&c, 6, &rows, &cols, "cols") && arg_number(&c, 8, "eps", &eps));
  const double n = (double)rows * (double)cols;
  TRY(check_len(&c, "x", xl, n) && check_len(&c, "y", yl, n) && check_len(&c, "mean", ml, (double)rows) &&
      check_len(&c, "rstd", rl, (double)rows));
  TRY((!g || check_len(&c, "gamma", gl, (double)cols)) && (!b || check_len(&c, "beta", bl, (double)cols)));
  K->layer_norm(x, g, b, y, mean, rstd, rows, cols, (float)eps);
  return undefined(env);
}

/* layerNormBackward(x, gamma, mean, rstd, dy, dx, dgamma, dbeta, rows, cols) */
static napi_value js_layer_norm_backward(napi_env env, napi_callback_info info) {
  call c;
  TRY(get_args(env, info, &c, "layerNormBackward", 10));
  void *x, *g, *mean, *rstd, *dy, *dx, *dg, *db;
  size_t xl, gl, ml, rl, dyl, dxl, dgl, dbl;
  int64_t rows, cols;
  TRY(arg_array(&c, 0, "x", F32, false, &x, &xl) && arg_array(&c, 1, "gamma", F32, true, &g, &gl) &&
      arg_array(&c, 2, "mean", F32, false, &mean, &ml) && arg_array(&c, 3, "rstd", F32, false, &rstd, &rl) &&
      arg_array(&c, 4, "dy", F32, false, &dy, &dyl) && arg_array(&c, 5, "dx", F32, false, &dx, &dxl) &&
      arg_array(&c, 6, "dgamma", F32, true, &dg, &dgl) && arg_array(&c, 7, "dbeta", F32, true, &db, &dbl));
  TRY(arg_rows_cols(&c, 8, &rows, &cols, "cols"));
  const double n = (double)rows * (double)cols;
  TRY(check_len(&c, "x", xl, n) && check_len(&c, "dy", dyl, n) && check_len(&c, "dx", dxl, n) &&
      check_len(&c, "mean", ml, (double)rows) && check_len(&c, "rstd", rl, (double)rows));
  TRY((!g || check_len(&c, "gamma", gl, (double)cols)) && (!dg || check_len(&c, "dgamma", dgl, (double)cols)) &&
      (!db || check_len(&c, "dbeta", dbl, (double)cols)));
  if (K->layer_norm_backward(x, g, mean, rstd, dy, dx, dg, db, rows, cols)) throw_oom(env, "layerNormBackward");
  return undefined(env);
}

/* rmsNorm(x, gamma, y, rstd, rows, cols, eps) */
static napi_value js_rms_norm(napi_env env, napi_callback_info info) {
  call c;
  TRY(get_args(env, info, &c, "rmsNorm", 7));
  void *x, *g, *y, *rstd;
  size_t xl, gl, yl, rl;
  int64_t rows, cols;
  double eps;
  TRY(arg_array(&c, 0, "x", F32, false, &x, &xl) && arg_array(&c, 1, "gamma", F32, true, &g, &gl) &&
      arg_array(&c, 2, "y", F32, false, &y, &yl) && arg_array(&c, 3, "rstd", F32, false, &rstd, &rl));
  TRY(arg_rows_cols(&c, 4, &rows, &cols, "cols") && arg_number(&c, 6, "eps", &eps));
  const double n = (double)rows * (double)cols;
  TRY(check_len(&c, "x", xl, n) && check_len(&c, "y", yl, n) && check_len(&c, "rstd", rl, (double)rows));
  TRY(!g || check_len(&c, "gamma", gl, (double)cols));
  K->rms_norm(x, g, y, rstd, rows, cols, (float)eps);
  return undefined(env);
}

/* rmsNormBackward(x, gamma, rstd, dy, dx, dgamma, rows, cols) */
static napi_value js_rms_norm_backward(napi_env env, napi_callback_info info) {
  call c;
  TRY(get_args(env, info, &c, "rmsNormBackward", 8));
  void *x, *g, *rstd, *dy, *dx, *dg;
  size_t xl, gl, rl, dyl, dxl, dgl;
  int64_t rows, cols;
  TRY(arg_array(&c, 0, "x", F32, false, &x, &xl) && arg_array(&c, 1, "gamma", F32, true, &g, &gl) &&
      arg_array(&c, 2, "rstd", F32, false, &rstd, &rl) && arg_array(&c, 3, "dy", F32, false, &dy, &dyl) &&
      arg_array(&c, 4, "dx", F32, false, &dx, &dxl) && arg_array(&c, 5, "dgamma", F32, true, &dg, &dgl));
  TRY(arg_rows_cols(&c, 6, &rows, &cols, "cols"));
  const double n = (double)rows * (double)cols;
  TRY(check_len(&c, "x", xl, n) && check_len(&c, "dy", dyl, n) && check_len(&c, "dx", dxl, n) &&
      check_len(&c, "rstd", rl, (double)rows));
  TRY((!g || check_len(&c, "gamma", gl, (double)cols)) && (!dg || check_len(&c, "dgamma", dgl, (double)cols)));
  if (K->rms_norm_backward(x, g, rstd, dy, dx, dg, rows, cols)) throw_oom(env, "rmsNormBackward");
  return undefined(env);
}

/* crossEntropy(logits, targets, rows, V, ignoreIndex, labelSmoothing, loss, dlogits, gradScale) -> count */
static napi_value js_cross_entropy(napi_env env, napi_callback_info info) {
  call c;
  TRY(get_args(env, info, &c, "crossEntropy", 9));
  void *logits, *targets, *loss, *dl;
  size_t ll, tl, lsl, dll;
  int64_t rows, V, ignore;
  double eps, gs;
  TRY(arg_array(&c, 0, "logits", F32, false, &logits, &ll) && arg_array(&c, 1, "targets", I32, false, &targets, &tl));
  TRY(arg_rows_cols(&c, 2, &rows, &V, "V") && arg_int(&c, 4, "ignoreIndex", INT32_MIN, &ignore));
  if (ignore > INT32_MAX) return fail(&c, true, "argument '%s' must be an int32%s", "ignoreIndex", ""), NULL;
  TRY(arg_number(&c, 5, "labelSmoothing", &eps) && arg_array(&c, 6, "loss", F32, false, &loss, &lsl) &&
      arg_array(&c, 7, "dlogits", F32, true, &dl, &dll) && arg_number(&c, 8, "gradScale", &gs));
  const double n = (double)rows * (double)V;
  TRY(check_len(&c, "logits", ll, n) && check_len(&c, "targets", tl, (double)rows) &&
      check_len(&c, "loss", lsl, (double)rows) && (!dl || check_len(&c, "dlogits", dll, n)));
  const int32_t *t = targets;
  int64_t count = 0;
  for (int64_t r = 0; r < rows; r++) {
    if (t[r] == ignore) continue;
    if (t[r] < 0 || t[r] >= V) {
      char detail[160];
      snprintf(detail, sizeof detail, "target %d at row %lld is outside [0, %lld)", t[r], (long long)r, (long long)V);
      return fail(&c, true, "%s%s", "", detail), NULL;
    }
    count++;
  }
  K->cross_entropy(logits, t, rows, V, (int32_t)ignore, (float)eps, loss, dl, (float)gs);
  return number(env, (double)count);
}

/* Shared argument parsing of attention(q, k, v, out, lse, ...) and attentionBackward. */
static bool attention_args(call *c, bool backward, tk_attn_args *a) {
  void *q, *k, *v, *out, *lse, *dout = NULL, *dq = NULL, *dk = NULL, *dv = NULL, *mask;
  size_t ql, kl, vl, ol, ll, gl = 0, dql = 0, dkl = 0, dvl = 0, ml;
  const size_t s = backward ? 4 : 0; /* backward has dout, dq, dk, dv after lse */
  TRYB(arg_array(c, 0, "q", F32, false, &q, &ql) && arg_array(c, 1, "k", F32, false, &k, &kl) &&
      arg_array(c, 2, "v", F32, false, &v, &vl) && arg_array(c, 3, "out", F32, false, &out, &ol) &&
      arg_array(c, 4, "lse", F32, false, &lse, &ll));
  if (backward)
    TRYB(arg_array(c, 5, "dout", F32, false, &dout, &gl) && arg_array(c, 6, "dq", F32, true, &dq, &dql) &&
        arg_array(c, 7, "dk", F32, true, &dk, &dkl) && arg_array(c, 8, "dv", F32, true, &dv, &dvl));
  int64_t B, H, Hkv, T, S, D;
  double scale;
  bool causal;
  TRYB(arg_int(c, 5 + s, "B", 0, &B) && arg_int(c, 6 + s, "H", 1, &H) && arg_int(c, 7 + s, "Hkv", 1, &Hkv) &&
      arg_int(c, 8 + s, "T", 0, &T) && arg_int(c, 9 + s, "S", 0, &S) && arg_int(c, 10 + s, "D", 0, &D));
  TRYB(arg_number(c, 11 + s, "scale", &scale) && arg_bool(c, 12 + s, "causal", &causal));
  TRYB(arg_array(c, 13 + s, "keyMask", U8, true, &mask, &ml));
  /* Optional: window (0 = none) and kvStride (0 = S * D, the packed layout). */
  int64_t window = 0, kv_stride = 0;
  if (c->argc > 14 + s && !is_nullish(c, 14 + s)) TRYB(arg_int(c, 14 + s, "window", 0, &window));
  if (c->argc > 15 + s && !is_nullish(c, 15 + s)) TRYB(arg_int(c, 15 + s, "kvStride", 0, &kv_stride));
  if (window > 0 && !causal) return fail(c, true, "argument '%s' needs causal attention%s", "window", "");
  if (kv_stride == 0) kv_stride = S * D;
  if (kv_stride < S * D) {
    char detail[128];
    snprintf(detail, sizeof detail, "be >= S * D = %lld, got %lld", (long long)(S * D), (long long)kv_stride);
    return fail(c, true, "argument '%s' must %s", "kvStride", detail);
  }
  if (H % Hkv != 0) {
    char detail[96];
    snprintf(detail, sizeof detail, "H = %lld is not a multiple of Hkv = %lld", (long long)H, (long long)Hkv);
    return fail(c, true, "%s%s", "", detail);
  }
  /* Optional: the row layout (16 numbers, src/native/kernels.ts AttentionLayout); default packed. */
  int64_t lay[16] = {0, H * T * D, T * D, D, 0, Hkv * kv_stride, kv_stride, D,
                     0, Hkv * kv_stride, kv_stride, D, 0, H * T * D, T * D, D};
  if (c->argc > 16 + s && !is_nullish(c, 16 + s)) {
    void *ld;
    size_t ll2;
    TRYB(arg_array(c, 16 + s, "layout", napi_float64_array, false, &ld, &ll2));
    if (ll2 != 16) return fail(c, true, "argument '%s' must hold 16 numbers%s", "layout", "");
    if (c->argc > 15 + s && !is_nullish(c, 15 + s) && kv_stride != S * D)
      return fail(c, true, "argument '%s' cannot be combined with kvStride%s", "layout", "");
    const double *l = ld;
    for (int i = 0; i < 16; i++) {
      if (!(l[i] == floor(l[i])) || l[i] < 0 || l[i] > MAX_SAFE)
        return fail(c, true, "argument '%s' must hold integers >= 0%s", "layout", "");
      lay[i] = (int64_t)l[i];
    }
  }
  /* Elements an operand spans: its last row (b, h, t all at their maximum) ends there. */
#define SPAN(i, nh, nt) \
  (B == 0 || (nh) == 0 || (nt) == 0 ? 0.0 \
   : (double)lay[i] + (double)(B - 1) * lay[(i) + 1] + (double)((nh) - 1) * lay[(i) + 2] + \
         (double)((nt) - 1) * lay[(i) + 3] + (double)D)
  const double nq = SPAN(0, H, T), nk = SPAN(4, Hkv, S), nv = SPAN(8, Hkv, S), no = SPAN(12, H, T);
#undef SPAN
  TRYB(check_len(c, "q", ql, nq) && check_len(c, "k", kl, nk) && check_len(c, "v", vl, nv) &&
      check_len(c, "out", ol, no) && check_len(c, "lse", ll, (double)B * H * T));
  TRYB(!mask || check_len(c, "keyMask", ml, (double)B * S));
  if (backward)
    TRYB(check_len(c, "dout", gl, no) && (!dq || check_len(c, "dq", dql, nq)) && (!dk || check_len(c, "dk", dkl, nk)) &&
        (!dv || check_len(c, "dv", dvl, nv)));
  *a = (tk_attn_args){.q = q, .k = k, .v = v, .out = out, .lse = lse, .dout = dout, .dq = dq, .dk = dk, .dv = dv,
                      .key_mask = mask, .B = B, .H = H, .Hkv = Hkv, .T = T, .S = S, .D = D, .window = window,
                      .kv_stride = kv_stride, .q_off = lay[0], .q_b = lay[1], .q_h = lay[2], .q_t = lay[3],
                      .k_off = lay[4], .k_b = lay[5], .k_h = lay[6], .k_t = lay[7], .v_off = lay[8], .v_b = lay[9],
                      .v_h = lay[10], .v_t = lay[11], .o_off = lay[12], .o_b = lay[13], .o_h = lay[14], .o_t = lay[15],
                      .scale = (float)scale,
                      .causal = causal};
  return true;
}

/* attention(q, k, v, out, lse, B, H, Hkv, T, S, D, scale, causal, keyMask[, window, kvStride, layout]) */
static napi_value js_attention(napi_env env, napi_callback_info info) {
  call c;
  tk_attn_args a;
  TRY(get_args(env, info, &c, "attention", 14) && attention_args(&c, false, &a));
  if (K->attention(&a)) throw_oom(env, "attention");
  return undefined(env);
}

/* attentionBackward(q, k, v, out, lse, dout, dq, dk, dv, B, H, Hkv, T, S, D, scale, causal, keyMask[, window, kvStride,
 * layout]) */
static napi_value js_attention_backward(napi_env env, napi_callback_info info) {
  call c;
  tk_attn_args a;
  TRY(get_args(env, info, &c, "attentionBackward", 18) && attention_args(&c, true, &a));
  if (K->attention_backward(&a)) throw_oom(env, "attentionBackward");
  return undefined(env);
}

/* adamw(p, g, m, v, n, lr, beta1, beta2, eps, weightDecay, step) */
static napi_value js_adamw(napi_env env, napi_callback_info info) {
  call c;
  TRY(get_args(env, info, &c, "adamw", 11));
  void *p, *g, *m, *v;
  size_t pl, gl, ml, vl;
  int64_t n, step;
  double lr, b1, b2, eps, wd;
  TRY(arg_array(&c, 0, "p", F32, false, &p, &pl) && arg_array(&c, 1, "g", F32, false, &g, &gl) &&
      arg_array(&c, 2, "m", F32, false, &m, &ml) && arg_array(&c, 3, "v", F32, false, &v, &vl));
  TRY(arg_int(&c, 4, "n", 0, &n) && arg_number(&c, 5, "lr", &lr) && arg_number(&c, 6, "beta1", &b1) &&
      arg_number(&c, 7, "beta2", &b2) && arg_number(&c, 8, "eps", &eps) && arg_number(&c, 9, "weightDecay", &wd) &&
      arg_int(&c, 10, "step", 1, &step));
  TRY(check_len(&c, "p", pl, (double)n) && check_len(&c, "g", gl, (double)n) && check_len(&c, "m", ml, (double)n) &&
      check_len(&c, "v", vl, (double)n));
  K->adamw(p, g, m, v, n, (float)lr, (float)b1, (float)b2, (float)(1.0 - b1), (float)(1.0 - b2), (float)eps, (float)wd,
           1.0 - pow(b1, (double)step),
           1.0 - pow(b2, (double)step));
  return undefined(env);
}

/* axpy(n, alpha, x, xOff, y, yOff[, out, outOff]): y += alpha x, or out = alpha x + y */
static napi_value js_axpy(napi_env env, napi_callback_info info) {
  call c;
  TRY(get_args(env, info, &c, "axpy", 6));
  int64_t n, xo, yo, oo = 0;
  double alpha;
  void *x, *y, *out = NULL;
  size_t xl, yl, ol = 0;
  TRY(arg_int(&c, 0, "n", 0, &n) && arg_number(&c, 1, "alpha", &alpha) && arg_array(&c, 2, "x", F32, false, &x, &xl) &&
      arg_int(&c, 3, "xOff", 0, &xo) && arg_array(&c, 4, "y", F32, false, &y, &yl) && arg_int(&c, 5, "yOff", 0, &yo));
  TRY(check_len(&c, "x", xl, (double)xo + (double)n) && check_len(&c, "y", yl, (double)yo + (double)n));
  if (c.argc > 6) {
    TRY(arg_array(&c, 6, "out", F32, true, &out, &ol));
    if (out) {
      if (c.argc < 8) return fail(&c, false, "argument '%s' is required with 'out'%s", "outOff", ""), NULL;
      TRY(arg_int(&c, 7, "outOff", 0, &oo) && check_len(&c, "out", ol, (double)oo + (double)n));
    }
  }
  float *dst = out ? (float *)out + oo : (float *)y + yo;
  K->axpy(n, (float)alpha, (const float *)x + xo, (const float *)y + yo, dst);
  return undefined(env);
}

/* mul(n, x, xOff, y, yOff, out, outOff): out = x * y element-wise */
static napi_value js_mul(napi_env env, napi_callback_info info) {
  call c;
  TRY(get_args(env, info, &c, "mul", 7));
  int64_t n, xo, yo, oo;
  void *x, *y, *out;
  size_t xl, yl, ol;
  TRY(arg_int(&c, 0, "n", 0, &n) && arg_array(&c, 1, "x", F32, false, &x, &xl) && arg_int(&c, 2, "xOff", 0, &xo) &&
      arg_array(&c, 3, "y", F32, false, &y, &yl) && arg_int(&c, 4, "yOff", 0, &yo) &&
      arg_array(&c, 5, "out", F32, false, &out, &ol) && arg_int(&c, 6, "outOff", 0, &oo));
  TRY(check_len(&c, "x", xl, (double)xo + (double)n) && check_len(&c, "y", yl, (double)yo + (double)n) &&
      check_len(&c, "out", ol, (double)oo + (double)n));
  K->mul(n, (const float *)x + xo, (const float *)y + yo, (float *)out + oo);
  return undefined(env);
}

/* rope(x, out, cos, sin, B, n1, n2, T, D, perBatch, tokenMajor, sign) */
static napi_value js_rope(napi_env env, napi_callback_info info) {
  call c;
  TRY(get_args(env, info, &c, "rope", 12));
  void *x, *out, *cs, *sn;
  size_t xl, ol, cl, sl;
  int64_t B, n1, n2, T, D;
  bool per_batch, token_major;
  double sign;
  TRY(arg_array(&c, 0, "x", F32, false, &x, &xl) && arg_array(&c, 1, "out", F32, false, &out, &ol) &&
      arg_array(&c, 2, "cos", F32, false, &cs, &cl) && arg_array(&c, 3, "sin", F32, false, &sn, &sl) &&
      arg_int(&c, 4, "B", 0, &B) && arg_int(&c, 5, "n1", 0, &n1) && arg_int(&c, 6, "n2", 0, &n2) &&
      arg_int(&c, 7, "T", 0, &T) && arg_int(&c, 8, "D", 0, &D) && arg_bool(&c, 9, "perBatch", &per_batch) &&
      arg_bool(&c, 10, "tokenMajor", &token_major) && arg_number(&c, 11, "sign", &sign));
  if (D % 2) return fail(&c, false, "argument '%s' must be even%s", "D", ""), NULL;
  if (token_major ? n1 != T : n2 != T) return fail(&c, false, "argument '%s' must equal the token count%s", "T", ""), NULL;
  const double rows = (double)B * (double)n1 * (double)n2, table = (per_batch ? (double)B : 1.0) * (double)T * (double)(D / 2);
  TRY(check_len(&c, "x", xl, rows * (double)D) && check_len(&c, "out", ol, rows * (double)D) &&
      check_len(&c, "cos", cl, table) && check_len(&c, "sin", sl, table));
  K->rope((const float *)x, (float *)out, (const float *)cs, (const float *)sn, B, n1, n2, T, D, per_batch, token_major,
          (float)sign);
  return undefined(env);
}

/* sumSquares(x, n) -> number */
static napi_value js_sum_squares(napi_env env, napi_callback_info info) {
  call c;
  TRY(get_args(env, info, &c, "sumSquares", 2));
  void *x;
  size_t xl;
  int64_t n;
  TRY(arg_array(&c, 0, "x", F32, false, &x, &xl) && arg_int(&c, 1, "n", 0, &n) && check_len(&c, "x", xl, (double)n));
  return number(env, K->sum_squares(x, n));
}

/* threads() -> number of threads a call uses */
static napi_value js_threads(napi_env env, napi_callback_info info) {
  (void)info;
  return number(env, tk_threads());
}

/* setThreads(n): restarts the pool with n threads in total. */
static napi_value js_set_threads(napi_env env, napi_callback_info info) {
  call c;
  int64_t n;
  TRY(get_args(env, info, &c, "setThreads", 1) && arg_int(&c, 0, "n", 1, &n));
  if (n > 1024) return fail(&c, true, "argument '%s' must be <= 1024%s", "n", ""), NULL;
  tk_pool_init((int)n);
  return undefined(env);
}

static bool cpu_has_avx512(void) {
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("fma") &&
         __builtin_cpu_supports("f16c");
}
static bool cpu_has_avx512bf16(void) { return cpu_has_avx512() && __builtin_cpu_supports("avx512bf16"); }
static bool cpu_has_avx2(void) {
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
}

/* simd() -> 'avx512bf16' | 'avx512' | 'avx2' | 'scalar' */
static napi_value js_simd(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value s;
  napi_create_string_utf8(env, K->simd, NAPI_AUTO_LENGTH, &s);
  return s;
}

/* setSimd(name) -> false when this CPU cannot run that build (for tests of every build). */
static napi_value js_set_simd(napi_env env, napi_callback_info info) {
  call c;
  TRY(get_args(env, info, &c, "setSimd", 1));
  char name[16] = {0};
  size_t len = 0;
  if (napi_get_value_string_utf8(env, c.argv[0], name, sizeof name, &len) != napi_ok)
    return fail(&c, false, "argument '%s' must be a string%s", "name", ""), NULL;
  const tk_kernels *pick = NULL;
  if (!strcmp(name, "avx512bf16")) pick = cpu_has_avx512bf16() ? &kernels_avx512bf16 : NULL;
  else if (!strcmp(name, "avx512")) pick = cpu_has_avx512() ? &kernels_avx512 : NULL;
  else if (!strcmp(name, "avx2")) pick = cpu_has_avx2() ? &tk_kernels_avx2 : NULL;
  else if (!strcmp(name, "scalar")) pick = &tk_kernels_scalar;
  else return fail(&c, true, "argument '%s' must be 'avx512bf16', 'avx512', 'avx2' or 'scalar', got '%s'", "name", name), NULL;
  if (pick) K = pick;
  napi_value r;
  napi_get_boolean(env, pick != NULL, &r);
  return r;
}

static int default_threads(void) {
  const char *env = getenv("TUNEKIT_THREADS");
  if (env && *env) {
    char *end;
    const long n = strtol(env, &end, 10);
    if (*end == 0 && n >= 1 && n <= 1024) return (int)n;
  }
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) return CPU_COUNT(&set) > 0 ? CPU_COUNT(&set) : 1;
  const long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (int)n : 1;
}

/* A training step allocates and frees ~100 MB of activation and gradient buffers (typed arrays,
 * calloc'd by Node). glibc hands large freed blocks straight back to the kernel (mmap'd blocks,
 * and the top of the heap past M_TRIM_THRESHOLD), so every step page-faults its buffers in again:
 * ~5000 faults and ~16 ms of system time per step at the SMALL LoRA shape. Keeping blocks up to
 * 32 MB (glibc's maximum threshold) in the heap and trimming only past 256 MB of free top lets
 * the next step reuse them (calloc then clears them, ~10x cheaper than faulting). Peak RSS
 * barely moves; TUNEKIT_MALLOC=default keeps glibc's own settings. */
static void tune_malloc(void) {
#if defined(__GLIBC__)
  const char *env = getenv("TUNEKIT_MALLOC");
  if (env && strcmp(env, "default") == 0) return;
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
#endif
}

static napi_value init(napi_env env, napi_value exports) {
  tune_malloc();
  __builtin_cpu_init();
  kernels_avx512bf16 = tk_kernels_avx512;
  kernels_avx512bf16.simd = "avx512bf16";
  kernels_avx512bf16.gemm = tk_gemm_avx512bf16;
  kernels_avx512bf16.gemv_bf16dot = tk_gemv_bf16dot;
  kernels_avx512 = tk_kernels_avx512;
  if (__builtin_cpu_supports("avx512vnni")) {
    kernels_avx512bf16.gemv_i8dot = tk_gemv_i8dot_vnni;
    kernels_avx512.gemv_i8dot = tk_gemv_i8dot_vnni;
  }
  K = cpu_has_avx512bf16() ? &kernels_avx512bf16
      : cpu_has_avx512()   ? &kernels_avx512
      : cpu_has_avx2()     ? &tk_kernels_avx2
                           : &tk_kernels_scalar;
  if (tk_threads() == 1) tk_pool_init(default_threads());
  const napi_property_descriptor props[] = {
      {"gemm", NULL, js_gemm, NULL, NULL, NULL, napi_enumerable, NULL},
      {"packBf16Dot", NULL, js_pack_bf16dot, NULL, NULL, NULL, napi_enumerable, NULL},
      {"packI8Dot", NULL, js_pack_i8dot, NULL, NULL, NULL, napi_enumerable, NULL},
      {"widen", NULL, js_widen, NULL, NULL, NULL, napi_enumerable, NULL},
      {"unary", NULL, js_unary, NULL, NULL, NULL, napi_enumerable, NULL},
      {"unaryBackward", NULL, js_unary_backward, NULL, NULL, NULL, napi_enumerable, NULL},
      {"softmax", NULL, js_softmax, NULL, NULL, NULL, napi_enumerable, NULL},
      {"softmaxBackward", NULL, js_softmax_backward, NULL, NULL, NULL, napi_enumerable, NULL},
      {"layerNorm", NULL, js_layer_norm, NULL, NULL, NULL, napi_enumerable, NULL},
      {"layerNormBackward", NULL, js_layer_norm_backward, NULL, NULL, NULL, napi_enumerable, NULL},
      {"rmsNorm", NULL, js_rms_norm, NULL, NULL, NULL, napi_enumerable, NULL},
      {"rmsNormBackward", NULL, js_rms_norm_backward, NULL, NULL, NULL, napi_enumerable, NULL},
      {"crossEntropy", NULL, js_cross_entropy, NULL, NULL, NULL, napi_enumerable, NULL},
      {"attention", NULL, js_attention, NULL, NULL, NULL, napi_enumerable, NULL},
      {"attentionBackward", NULL, js_attention_backward, NULL, NULL, NULL, napi_enumerable, NULL},
      {"adamw", NULL, js_adamw, NULL, NULL, NULL, napi_enumerable, NULL},
      {"axpy", NULL, js_axpy, NULL, NULL, NULL, napi_enumerable, NULL},
      {"mul", NULL, js_mul, NULL, NULL, NULL, napi_enumerable, NULL},
      {"rope", NULL, js_rope, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sumSquares", NULL, js_sum_squares, NULL, NULL, NULL, napi_enumerable, NULL},
      {"threads", NULL, js_threads, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setThreads", NULL, js_set_threads, NULL, NULL, NULL, napi_enumerable, NULL},
      {"simd", NULL, js_simd, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setSimd", NULL, js_set_simd, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE_INIT() { return init(env, exports); }
