/*
 * test_gemm_amx_emulated.c - the AMX path of the bf16 products on every machine with
 * AVX512_BF16: gemm_amx.c built with its six tile instructions emulated in C from Intel's
 * definitions (MLP_AMX_EMULATE), then all of test_gemm_bf16.c, which where AMX is available
 * runs its products on the tiles (the default), compares them with the AVX512_BF16 kernel and
 * runs them again on that kernel.  This checks the packing, blocking, tails, threads and
 * epilogue of gemm_amx.c; the instructions themselves are checked by the real test_gemm_bf16
 * on an AMX machine and by gemm_amx.c's self-check before its first product.
 *
 * The definitions here replace gemm_amx.o of the core library, which is then not linked.
 */
#define MLP_AMX_EMULATE 1
#include "gemm_amx.c"

#include "test_gemm_bf16.c"
