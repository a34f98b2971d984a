/* The kernels compiled for avx512; see kernels.inc. */
#define TK_ISA_AVX512 1
#include "kernels.inc"
