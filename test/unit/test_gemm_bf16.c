/*
 * test_gemm_bf16.c - the bf16 matrix product against its naive reference, bf16 rounding,
 * independence from the thread count, and mlp_sgemm's precision switch.
 *
 * On a CPU without AVX512_BF16 the products are skipped (and the refusal is checked).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blas.h"
#include "gemm_bf16.h"
#include "gemm_check.h"
#include "rng.h"
#include "tap.h"
#include "thread_pool.h"

static MlpRng test_rng;

/* Uniform in [-1, 1), from the core's seeded generator. */
static float
frand(void)
{
	return (float) mlp_rng_uniform_range(&test_rng, -1, 1);
}

static float
bits_float(uint32_t u)
{
	float		f;

	memcpy(&f, &u, sizeof(f));
	return f;
}

static void
test_rounding(void)
{
	is_int(mlp_float_to_bf16(1.0f), 0x3f80, "1.0 is exact in bf16");
	is_int(mlp_float_to_bf16(-2.0f), 0xc000, "-2.0 is exact");
	/* 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties go to the even mantissa (1) */
	is_int(mlp_float_to_bf16(bits_float(0x3f808000)), 0x3f80, "tie rounds to even (down)");
	/* 1 + 3 * 2^-8 is halfway between 1 + 2^-7 (odd) and 1 + 2^-6: up to even */
	is_int(mlp_float_to_bf16(bits_float(0x3f818000)), 0x3f82, "tie rounds to even (up)");
	is_int(mlp_float_to_bf16(bits_float(0x3f808001)), 0x3f81, "above the tie rounds up");
	is_int(mlp_float_to_bf16(bits_float(0x3f807fff)), 0x3f80, "below the tie rounds down");
	is_int(mlp_float_to_bf16(INFINITY), 0x7f80, "infinity stays infinity");
	is_int(mlp_float_to_bf16(bits_float(0x7f7fffff)), 0x7f80, "largest float rounds to infinity");
	ok(isnan(mlp_bf16_to_float(mlp_float_to_bf16(NAN))), "NaN stays NaN");
	ok(isnan(mlp_bf16_to_float(mlp_float_to_bf16(bits_float(0x7f800001)))),
	   "a NaN whose payload is in the low bits stays NaN");
	is_close(mlp_bf16_to_float(mlp_float_to_bf16(3.14159265f)), 3.140625, 0, 0,
			 "pi rounds to 3.140625");
}

static int	last_rc;

/* mlp_gemm_bf16 with mlp_sgemm's signature; its return code goes to last_rc. */
static void
gemm_bf16_fn(bool ta, bool tb, int M, int N, int K, float alpha, const float *A, int lda,
			 const float *B, int ldb, float beta, float *C, int ldc)
{
	last_rc = mlp_gemm_bf16(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

/*
 * One product with padded leading dimensions against the reference.  The reference rounds
 * the operands the same way and sums in double, so the only difference is the float
 * summation: bounded by K * 2^-24 * sum |a b|, about K * 6e-8 here.
 */
static void
check_product(bool ta, bool tb, int M, int N, int K, float alpha, float beta)
{
	GemmCheck	r = gemm_check(gemm_bf16_fn, mlp_gemm_bf16_reference, ta, tb, M, N, K, alpha,
							   beta, frand, true);

	ok(last_rc == 0 && r.worst <= 1e-6 * K + 1e-6 && r.padding_kept,
	   "%s%s M=%d N=%d K=%d alpha=%g beta=%g: worst error %.3g, padding %s",
	   ta ? "A^T" : "A", tb ? "B^T" : "B", M, N, K, alpha, beta, r.worst,
	   r.padding_kept ? "untouched" : "CHANGED");
}

static void
test_products(void)
{
	/* tails of every block size: MR 14, NR 32, KC 256, MC 336, NC 2048; odd K */
	static const int shapes[][3] = {
		{1, 1, 1}, {13, 31, 7}, {15, 33, 9}, {14, 32, 256}, {29, 65, 257}, {100, 10, 300},
		{337, 70, 513}, {40, 2050, 33}, {1024, 40, 3}, {3, 1, 1000}
	};

	for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++)
		for (int t = 0; t < 4; t++)
			check_product(t & 1, t & 2, shapes[s][0], shapes[s][1], shapes[s][2],
						  s % 2 ? 1.0f : -0.75f, t == 3 ? 1.0f : (t == 1 ? 0.5f : 0.0f));
}

/* Products of bf16 values are exact in float, so a single product must match exactly. */
static void
test_exact(void)
{
	float		a = 1.00390625f;	/* 1 + 2^-8: rounds to 1 */
	float		b = 3.015625f;		/* 3 + 2^-6: a bf16 value (its ulp is 2^-6) */
	float		c = 0.0f;

	mlp_gemm_bf16(false, false, 1, 1, 1, 1.0f, &a, 1, &b, 1, 0.0f, &c, 1);
	is_close(c, 3.015625, 0, 0, "1x1x1: operands rounded to bf16, product exact");
}

/* The same product with 1, 2 and 3 threads gives the same bits. */
static void
test_threads(void)
{
	int			M = 700,
				N = 300,
				K = 1100;
	float	   *A = malloc(sizeof(float) * M * K),
			   *Bm = malloc(sizeof(float) * K * N),
			   *C[3];
	bool		same = true;

	for (int i = 0; i < M * K; i++)
		A[i] = frand();
	for (int i = 0; i < K * N; i++)
		Bm[i] = frand();
	for (int t = 0; t < 3; t++)
	{
		C[t] = malloc(sizeof(float) * M * N);
		mlp_pool_set_threads(t + 1);
		mlp_gemm_bf16(false, true, M, N, K, 1.0f, A, K, Bm, K, 0.0f, C[t], N);
		/* and split the other way (more columns than rows) */
	}
	same = memcmp(C[0], C[1], sizeof(float) * M * N) == 0 &&
		memcmp(C[0], C[2], sizeof(float) * M * N) == 0;
	ok(same, "1, 2 and 3 threads give identical results (rows split)");
	for (int t = 0; t < 3; t++)
	{
		mlp_pool_set_threads(t + 1);
		mlp_gemm_bf16(true, false, N, M, K / 2, 1.0f, A, N, Bm, M, 0.0f, C[t], M);
	}
	ok(memcmp(C[0], C[1], sizeof(float) * M * N) == 0 &&
	   memcmp(C[0], C[2], sizeof(float) * M * N) == 0,
	   "1, 2 and 3 threads give identical results (columns split)");
	mlp_pool_set_threads(2);
	for (int t = 0; t < 3; t++)
		free(C[t]);
	free(A);
	free(Bm);
}

static void
test_bad_dimensions(void)
{
	float		a = 1.0f,
				c = 42.0f;

	is_int(mlp_gemm_bf16(false, false, 0, 1, 1, 1.0f, &a, 1, &a, 1, 0.0f, &c, 1), -1,
		   "M = 0 is refused");
	is_int(mlp_gemm_bf16(false, false, 1, 1, -1, 1.0f, &a, 1, &a, 1, 0.0f, &c, 1), -1,
		   "negative K is refused");
	is_close(c, 42.0, 0, 0, "and C is untouched");
}

/* mlp_sgemm follows the process's precision; scoring code relies on fp32 being the default. */
static void
test_precision_switch(void)
{
	enum
	{
		M = 64, N = 48, K = 200
	};
	static float A[M * K],
				Bm[K * N],
				C32[M * N],
				C16[M * N],
				Cref[M * N];
	MlpMatmulPrecision p;
	double		e32 = 0,
				e16 = 0;

	for (int i = 0; i < M * K; i++)
		A[i] = frand();
	for (int i = 0; i < K * N; i++)
		Bm[i] = frand();
	is_int(mlp_blas_matmul_precision(), MLP_MATMUL_FP32, "fp32 is the default precision");
	mlp_sgemm(false, false, M, N, K, 1.0f, A, K, Bm, N, 0.0f, C32, N);
	is_int(mlp_blas_set_matmul_precision(MLP_MATMUL_BF16), 0, "bf16 can be chosen");
	mlp_sgemm(false, false, M, N, K, 1.0f, A, K, Bm, N, 0.0f, C16, N);
	is_int(mlp_blas_set_matmul_precision(MLP_MATMUL_FP32), 0, "and fp32 again");
	mlp_sgemm_reference(false, false, M, N, K, 1.0f, A, K, Bm, N, 0.0f, Cref, N);
	for (int i = 0; i < M * N; i++)
	{
		e32 = fmax(e32, fabs(C32[i] - Cref[i]));
		e16 = fmax(e16, fabs(C16[i] - Cref[i]));
	}
	ok(e32 < 1e-4, "fp32 product within float rounding of the reference (%.3g)", e32);
	ok(e16 > 1e-3 && e16 < 0.1, "bf16 product differs by bf16 rounding (%.3g)", e16);
	mlp_gemm_bf16_reference(false, false, M, N, K, 1.0f, A, K, Bm, N, 0.0f, Cref, N);
	e16 = 0;
	for (int i = 0; i < M * N; i++)
		e16 = fmax(e16, fabs(C16[i] - Cref[i]));
	ok(e16 < 1e-4, "mlp_sgemm in bf16 is the bf16 product (%.3g)", e16);

	is_int(mlp_matmul_precision_parse("bf16", &p), 0, "parse bf16");
	is_int(p, MLP_MATMUL_BF16, "bf16 parsed");
	is_int(mlp_matmul_precision_parse("fp32", &p), 0, "parse fp32");
	is_int(p, MLP_MATMUL_FP32, "fp32 parsed");
	is_int(mlp_matmul_precision_parse("fp16", &p), -1, "fp16 is not a precision");
	is_int(mlp_matmul_precision_parse("BF16", &p), -1, "names are lower case");
	is_int(mlp_matmul_precision_parse(NULL, &p), -1, "NULL is refused");
	is_int(mlp_blas_set_matmul_precision((MlpMatmulPrecision) 7), -1, "unknown value refused");
	is_int(mlp_blas_matmul_precision(), MLP_MATMUL_FP32, "and the precision is unchanged");
}

int
main(void)
{
	char		err[256];

	mlp_rng_seed(&test_rng, 987654321, 0);
	if (mlp_blas_init(err, sizeof(err)) != 0)
		diag("OpenBLAS not loaded (%s): fp32 checks use the reference loops", err);
	mlp_blas_set_threads(2);
	test_rounding();
	if (!mlp_gemm_bf16_supported())
	{
		float		a = 1.0f,
					c = 0.0f;

		diag("this CPU has no AVX512_BF16: bf16 products are skipped");
		is_int(mlp_gemm_bf16(false, false, 1, 1, 1, 1.0f, &a, 1, &a, 1, 0.0f, &c, 1), -1,
			   "bf16 product refused without AVX512_BF16");
		is_int(mlp_blas_set_matmul_precision(MLP_MATMUL_BF16), -1,
			   "bf16 precision refused without AVX512_BF16");
		return tap_done();
	}
	test_exact();
	test_products();
	test_threads();
	test_bad_dimensions();
	test_precision_switch();
	return tap_done();
}
