/*
 * test_gemm_bf16.c - the bf16 matrix product against its naive reference, bf16 rounding,
 * independence from the thread count, products against a pre-packed operand and with an
 * epilogue, and mlp_sgemm's precision switch.
 *
 * On a CPU without AVX512_BF16 the products are skipped (and the refusal is checked).  Where
 * the CPU has AMX, the products run once on its tiles (the default there) and once on the
 * AVX512_BF16 kernel; elsewhere the AMX checks are counted as skips.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blas.h"
#include "gemm_amx.h"
#include "gemm_bf16.h"
#include "gemm_check.h"
#include "layers.h"
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
	/* Bm is [K, N] for the rows split and [K / 2, M] for the columns split */
	float	   *A = malloc(sizeof(float) * M * K),
			   *Bm = malloc(sizeof(float) * K * M),
			   *C[3];
	bool		same = true;

	for (int i = 0; i < M * K; i++)
		A[i] = frand();
	for (int i = 0; i < K * M; i++)
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

/* Epilogue of the tests: c = 2c + 1 on the tile, and a count of visits per element. */
typedef struct CountEpilogue
{
	int		   *visits;			/* [M * ldc] */
	const float *C;				/* the product's C, to check that c points into it */
	bool		inside;
} CountEpilogue;

static void
count_epilogue(void *arg, float *c, int ldc, int i0, int j0, int m, int n)
{
	CountEpilogue *e = arg;

	if (c != e->C + (size_t) i0 * ldc + j0)
		e->inside = false;
	for (int i = 0; i < m; i++)
		for (int j = 0; j < n; j++)
		{
			c[(size_t) i * ldc + j] = 2.0f * c[(size_t) i * ldc + j] + 1.0f;
			e->visits[(size_t) (i0 + i) * ldc + j0 + j]++;
		}
}

/*
 * A product against op(B) packed once: the same bits as mlp_gemm_bf16 on the operand it was
 * packed from, for every tail and both layouts of A and B, with padded leading dimensions;
 * and with an epilogue that sees every element of C once, after its last K slice.
 */
static void
check_packed(bool ta, bool tb, int M, int N, int K, float beta)
{
	int			lda = (ta ? M : K) + 3,
				ldb = (tb ? K : N) + 2,
				ldc = N + 5;
	size_t		na = (size_t) (ta ? K : M) * lda,
				nb = (size_t) (tb ? N : K) * ldb,
				nc = (size_t) M * ldc;
	float	   *A = malloc(sizeof(float) * na),
			   *Bm = malloc(sizeof(float) * nb),
			   *Cp = malloc(sizeof(float) * nc),
			   *Cu = malloc(sizeof(float) * nc),
			   *Cr = malloc(sizeof(float) * nc),
			   *Ce = malloc(sizeof(float) * nc);
	int		   *visits = calloc(nc, sizeof(int));
	MlpBf16PackedB pb;
	CountEpilogue ce = {visits, Ce, true};
	double		worst = 0;
	bool		same = true,
				once = true,
				padding = true;
	int			rc;

	for (size_t i = 0; i < na; i++)
		A[i] = frand();
	for (size_t i = 0; i < nb; i++)
		Bm[i] = frand();
	for (size_t i = 0; i < nc; i++)
		Cp[i] = Cu[i] = Cr[i] = Ce[i] = beta == 0.0f ? NAN : frand();
	rc = mlp_gemm_bf16_pack_b(tb, N, K, Bm, ldb, &pb);
	/* the operand may change after packing: the packed copy is what counts */
	for (size_t i = 0; i < nb; i++)
		Bm[i] = rc == 0 ? Bm[i] : 0.0f;
	rc |= mlp_gemm_bf16_packed(ta, M, -0.75f, A, lda, &pb, beta, Cp, ldc, NULL, NULL);
	rc |= mlp_gemm_bf16_packed(ta, M, -0.75f, A, lda, &pb, beta, Ce, ldc, count_epilogue, &ce);
	/* packed products run on the AVX512_BF16 kernel: its bits, also where AMX is the default */
	{
		bool		amx = strcmp(mlp_gemm_bf16_kernel(), "amx") == 0;

		mlp_gemm_bf16_use_amx(false);
		mlp_gemm_bf16(ta, tb, M, N, K, -0.75f, A, lda, Bm, ldb, beta, Cu, ldc);
		mlp_gemm_bf16_use_amx(amx);
	}
	mlp_gemm_bf16_reference(ta, tb, M, N, K, -0.75f, A, lda, Bm, ldb, beta, Cr, ldc);
	for (int i = 0; i < M; i++)
		for (int j = 0; j < ldc; j++)
		{
			size_t		x = (size_t) i * ldc + j;

			if (j >= N)
			{
				padding &= visits[x] == 0 && (isnan(Cp[x]) ? isnan(Cr[x]) : Cp[x] == Cr[x]);
				continue;
			}
			same &= memcmp(&Cp[x], &Cu[x], sizeof(float)) == 0;
			once &= visits[x] == 1 && Ce[x] == 2.0f * Cp[x] + 1.0f;
			worst = fmax(worst, isnan(Cp[x]) ? INFINITY : fabs(Cp[x] - Cr[x]));
		}
	ok(rc == 0 && same && worst <= 1e-6 * K + 1e-6 && padding,
	   "packed %s%s M=%d N=%d K=%d beta=%g: same bits as unpacked, worst error %.3g, padding %s",
	   ta ? "A^T" : "A", tb ? "B^T" : "B", M, N, K, beta, worst, padding ? "untouched" : "CHANGED");
	ok(once && ce.inside, "and its epilogue saw every element once, finished (%s%s M=%d N=%d K=%d)",
	   ta ? "A^T" : "A", tb ? "B^T" : "B", M, N, K);
	mlp_gemm_bf16_packed_free(&pb);
	free(A);
	free(Bm);
	free(Cp);
	free(Cu);
	free(Cr);
	free(Ce);
	free(visits);
}

static void
test_packed(void)
{
	static const int shapes[][3] = {
		{1, 1, 1}, {13, 31, 7}, {14, 32, 256}, {29, 65, 257}, {100, 10, 300},
		{337, 70, 513}, {40, 2050, 33}, {256, 512, 520}, {3, 1, 1000}
	};
	MlpBf16PackedB pb;
	float		a = 1.0f;

	for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++)
		for (int t = 0; t < 4; t++)
			check_packed(t & 1, t & 2, shapes[s][0], shapes[s][1], shapes[s][2],
						 t == 3 ? 1.0f : (t == 1 ? 0.5f : 0.0f));
	is_int(mlp_gemm_bf16_pack_b(true, 0, 4, &a, 4, &pb), -1, "packing N = 0 is refused");
	ok(pb.words == NULL, "and leaves nothing to free");
	is_int(mlp_gemm_bf16_pack_b(false, 4, -1, &a, 4, &pb), -1, "packing K < 0 is refused");
}

/* The same packed product with 1, 2 and 3 threads gives the same bits, split either way. */
static void
test_packed_threads(void)
{
	int			shapes[2][3] = {{700, 300, 600}, {256, 2048, 512}};

	for (int s = 0; s < 2; s++)
	{
		int			M = shapes[s][0],
					N = shapes[s][1],
					K = shapes[s][2];
		float	   *A = malloc(sizeof(float) * M * K),
				   *Bm = malloc(sizeof(float) * N * K),
				   *C[3];
		MlpBf16PackedB pb;

		for (int i = 0; i < M * K; i++)
			A[i] = frand();
		for (int i = 0; i < N * K; i++)
			Bm[i] = frand();
		mlp_gemm_bf16_pack_b(true, N, K, Bm, K, &pb);
		for (int t = 0; t < 3; t++)
		{
			C[t] = malloc(sizeof(float) * M * N);
			mlp_pool_set_threads(t + 1);
			mlp_gemm_bf16_packed(false, M, 1.0f, A, K, &pb, 0.0f, C[t], N, NULL, NULL);
		}
		ok(memcmp(C[0], C[1], sizeof(float) * M * N) == 0 &&
		   memcmp(C[0], C[2], sizeof(float) * M * N) == 0,
		   "packed %dx%dx%d: 1, 2 and 3 threads give identical results", M, N, K);
		mlp_pool_set_threads(2);
		for (int t = 0; t < 3; t++)
			free(C[t]);
		mlp_gemm_bf16_packed_free(&pb);
		free(A);
		free(Bm);
	}
}

/* GELU in the epilogue: the bits of the product followed by the separate pass. */
static void
test_gelu_epilogue(void)
{
	int			M = 50,
				N = 70,
				K = 300;
	float	   *A = malloc(sizeof(float) * M * K),
			   *Bm = malloc(sizeof(float) * N * K),
			   *bias = malloc(sizeof(float) * N),
			   *pre1 = malloc(sizeof(float) * M * N),
			   *out1 = malloc(sizeof(float) * M * N),
			   *pre2 = malloc(sizeof(float) * M * N),
			   *out2 = malloc(sizeof(float) * M * N);
	MlpGeluEpilogue e;

	for (int i = 0; i < M * K; i++)
		A[i] = 3.0f * frand();
	for (int i = 0; i < N * K; i++)
		Bm[i] = frand();
	for (int j = 0; j < N; j++)
		bias[j] = frand();
	for (int g = 0; g < 2; g++)
	{
		e = (MlpGeluEpilogue) {bias, g ? out2 : pre2, g == 1};
		mlp_gemm_bf16(false, true, M, N, K, 1.0f, A, K, Bm, K, 0.0f, pre1, N);
		if (g)
			mlp_bias_gelu_forward_train(pre1, out1, bias, M, N);
		else
			mlp_bias_gelu_forward(pre1, pre1, bias, M, N);
		mlp_gemm_bf16_ex(false, true, M, N, K, 1.0f, A, K, Bm, K, 0.0f, pre2, N,
						 mlp_gelu_epilogue, &e);
		ok(memcmp(pre1, pre2, sizeof(float) * M * N) == 0 &&
		   (!g || memcmp(out1, out2, sizeof(float) * M * N) == 0),
		   "GELU%s in the epilogue: the same bits as the separate pass",
		   g ? " with its derivative kept" : "");
	}
	free(A);
	free(Bm);
	free(bias);
	free(pre1);
	free(out1);
	free(pre2);
	free(out2);
}

/* The checks that depend on which kernel runs the products. */
static void
kernel_suite(void)
{
	diag("bf16 kernel: %s", mlp_gemm_bf16_kernel());
	test_exact();
	test_products();
	test_threads();
	test_gelu_epilogue();
}

/* AMX where the CPU has it, and the AVX512_BF16 kernel there as well. */
static void
test_kernels(void)
{
	if (!mlp_gemm_amx_available())
	{
		ok(strcmp(mlp_gemm_bf16_kernel(), "avx512_bf16") == 0,
		   "without AMX the products run on the AVX512_BF16 kernel (%s)", mlp_gemm_bf16_kernel());
		is_int(mlp_gemm_bf16_use_amx(true), -1, "AMX refused where the CPU has none");
		tap_skip("this CPU has no AMX-BF16", "the products, threads and epilogue on AMX tiles");
		tap_skip("this CPU has no AMX-BF16", "AMX and AVX512_BF16 kernels agree");
		return;
	}
	ok(strcmp(mlp_gemm_bf16_kernel(), "amx") == 0, "AMX is the default kernel where it runs");
	{
		int			M = 300,
					N = 200,
					K = 1030;
		float	   *A = malloc(sizeof(float) * M * K),
				   *Bm = malloc(sizeof(float) * K * N),
				   *C1 = malloc(sizeof(float) * M * N),
				   *C2 = malloc(sizeof(float) * M * N);
		double		worst = 0.0;

		for (int i = 0; i < M * K; i++)
			A[i] = frand();
		for (int i = 0; i < K * N; i++)
			Bm[i] = frand();
		mlp_gemm_bf16(false, true, M, N, K, 1.0f, A, K, Bm, K, 0.0f, C1, N);
		is_int(mlp_gemm_bf16_use_amx(false), 0, "AMX can be turned off");
		mlp_gemm_bf16(false, true, M, N, K, 1.0f, A, K, Bm, K, 0.0f, C2, N);
		for (int i = 0; i < M * N; i++)
			if (fabs((double) C1[i] - C2[i]) > worst)
				worst = fabs((double) C1[i] - C2[i]);
		ok(worst <= 1e-6 * K, "AMX and AVX512_BF16 kernels agree to float rounding (worst %.3g)",
		   worst);
		free(A);
		free(Bm);
		free(C1);
		free(C2);
	}
	ok(strcmp(mlp_gemm_bf16_kernel(), "avx512_bf16") == 0, "with AMX off: %s",
	   mlp_gemm_bf16_kernel());
	kernel_suite();
	is_int(mlp_gemm_bf16_use_amx(true), 0, "AMX back on");
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
	kernel_suite();
	test_packed();
	test_packed_threads();
	test_bad_dimensions();
	test_precision_switch();
	test_kernels();
	return tap_done();
}
