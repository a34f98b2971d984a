/* The kernels compiled for avx2; see kernels.inc. */
#define TK_ISA_AVX2 1
#include "kernels.inc"
