/*
 * test_gemm_amx_selfcheck.c - the safety net of the AMX kernel: when the tile unit does not
 * compute as Intel defines it, the self-check before the first product turns AMX off and the
 * products run, correctly, on the AVX512_BF16 kernel.  gemm_amx.c is built with its tile
 * instructions emulated (MLP_AMX_EMULATE) and the emulated TDPBF16PS made wrong.
 *
 * The definitions here replace gemm_amx.o of the core library, which is then not linked.
 */
#define MLP_AMX_EMULATE 1
#include "gemm_amx.c"

#include <math.h>
#include <stdio.h>

#include "gemm_bf16.h"
#include "gemm_check.h"
#include "rng.h"
#include "tap.h"
#include "thread_pool.h"

static MlpRng test_rng;

static float
frand(void)
{
	return (float) mlp_rng_uniform_range(&test_rng, -1, 1);
}

static void
gemm_bf16_fn(bool ta, bool tb, int M, int N, int K, float alpha, const float *A, int lda,
			 const float *B, int ldb, float beta, float *C, int ldc)
{
	(void) mlp_gemm_bf16(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

int
main(void)
{
	mlp_rng_seed(&test_rng, 20261202, 0);
	if (!mlp_gemm_bf16_supported())
	{
		tap_skip("this CPU has no AVX512_BF16", "the AMX self-check (its packing needs AVX512_BF16)");
		return tap_done();
	}
	mlp_pool_set_threads(2);
	emu_faulty = true;
	ok(!mlp_gemm_amx_available(), "a tile unit that disagrees with the reference is not used");
	ok(strcmp(mlp_gemm_bf16_kernel(), "avx512_bf16") == 0, "the products run on %s",
	   mlp_gemm_bf16_kernel());
	is_int(mlp_gemm_bf16_use_amx(true), -1, "and AMX cannot be turned on");
	for (int t = 0; t < 4; t++)
	{
		GemmCheck	r = gemm_check(gemm_bf16_fn, mlp_gemm_bf16_reference, t & 1, t & 2, 70, 90,
								   601, 1.0f, t == 3 ? 1.0f : 0.0f, frand, true);

		ok(r.worst <= 1e-6 * 601 + 1e-6 && r.padding_kept,
		   "%s%s 70x90x601: correct without AMX (worst error %.3g)", t & 1 ? "A^T" : "A",
		   t & 2 ? "B^T" : "B", r.worst);
	}
	return tap_done();
}
