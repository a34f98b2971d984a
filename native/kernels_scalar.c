/* The kernels compiled for any x86-64/other CPU (portable C); see kernels.inc. */
#define TK_ISA_SCALAR 1 /* no TK_ISA_AVX* macro: simd.h picks its one-lane build */
#include "kernels.inc"
