{
  # The tunekit native kernels: one Node-API addon in plain C11. The kernels are compiled three
  # times (AVX-512, AVX2, portable) as static libraries with their own -m flags (plus the
  # AVX512_BF16 GEMM of gemm_bf16.c and the VNNI/BF16 decoding GEMVs of gemv_lowp.c); addon.c picks
  # one at load time with __builtin_cpu_supports, so the .node runs on any x86-64 CPU.
  "target_defaults": {
    "cflags!": ["-O2", "-O0", "-fno-omit-frame-pointer"],
    "cflags_c": ["-std=c11", "-O3", "-fPIC", "-pthread", "-Wall", "-Wextra", "-Wno-unused-parameter"],
    "defines": ["NAPI_VERSION=8"]
  },
  "targets": [
    {
      "target_name": "tunekit_kernels_avx512",
      "type": "static_library",
      "sources": ["native/kernels_avx512.c"],
      "cflags_c": ["-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512dq", "-mfma", "-mf16c"]
    },
    {
      "target_name": "tunekit_kernels_avx2",
      "type": "static_library",
      "sources": ["native/kernels_avx2.c"],
      "cflags_c": ["-mavx2", "-mfma", "-mf16c"]
    },
    {
      "target_name": "tunekit_gemm_avx512bf16",
      "type": "static_library",
      "sources": ["native/gemm_bf16.c"],
      "cflags_c": ["-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512dq", "-mavx512bf16", "-mfma"]
    },
    {
      "target_name": "tunekit_gemv_lowp",
      "type": "static_library",
      "sources": ["native/gemv_lowp.c"],
      "cflags_c": ["-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512dq", "-mavx512vnni", "-mavx512bf16", "-mfma"]
    },
    {
      "target_name": "tunekit_kernels_scalar",
      "type": "static_library",
      "sources": ["native/kernels_scalar.c"]
    },
    {
      "target_name": "tunekit_native",
      "sources": ["native/addon.c", "native/pool.c"],
      "dependencies": ["tunekit_gemm_avx512bf16", "tunekit_gemv_lowp", "tunekit_kernels_avx512", "tunekit_kernels_avx2", "tunekit_kernels_scalar"],
      "libraries": ["-lm", "-pthread"]
    }
  ]
}
