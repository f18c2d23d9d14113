/*
 * gemm_check.h - one matrix product with padded leading dimensions, computed by the function
 * under test and by a reference with the same contract (mlp_sgemm's), for the unit tests.
 */
#ifndef MLP_GEMM_CHECK_H
#define MLP_GEMM_CHECK_H

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

typedef void (*GemmFn) (bool transA, bool transB, int M, int N, int K, float alpha,
						const float *A, int lda, const float *B, int ldb, float beta, float *C,
						int ldc);

typedef struct GemmCheck
{
	double		worst;			/* largest |got - want| over the M x N result (inf for NaN) */
	bool		padding_kept;	/* the ldc - N columns past N are untouched */
} GemmCheck;

/*
 * Operands and C from rnd(); with nan_when_beta0, C starts as NaN when beta is 0, so a product
 * that reads C anyway shows it.
 */
static inline GemmCheck
gemm_check(GemmFn got_fn, GemmFn want_fn, bool ta, bool tb, int M, int N, int K, float alpha,
		   float beta, float (*rnd) (void), bool nan_when_beta0)
{
	int			lda = (ta ? M : K) + 3,
				ldb = (tb ? K : N) + 2,
				ldc = N + 5;
	size_t		na = (size_t) (ta ? K : M) * lda,
				nb = (size_t) (tb ? N : K) * ldb,
				nc = (size_t) M * ldc;
	float	   *A = malloc(sizeof(float) * (na + 1)),
			   *Bm = malloc(sizeof(float) * (nb + 1)),
			   *C1 = malloc(sizeof(float) * (nc + 1)),
			   *C2 = malloc(sizeof(float) * (nc + 1));
	GemmCheck	r = {0.0, true};

	for (size_t i = 0; i < na; i++)
		A[i] = rnd();
	for (size_t i = 0; i < nb; i++)
		Bm[i] = rnd();
	for (size_t i = 0; i < nc; i++)
		C1[i] = C2[i] = (nan_when_beta0 && beta == 0.0f) ? NAN : rnd();
	got_fn(ta, tb, M, N, K, alpha, A, lda, Bm, ldb, beta, C1, ldc);
	want_fn(ta, tb, M, N, K, alpha, A, lda, Bm, ldb, beta, C2, ldc);
	for (int i = 0; i < M; i++)
		for (int j = 0; j < ldc; j++)
		{
			float		a = C1[(size_t) i * ldc + j],
						b = C2[(size_t) i * ldc + j];

			if (j >= N)
				r.padding_kept &= memcmp(&a, &b, sizeof(a)) == 0;
			else if (!(fabs((double) a - b) <= r.worst))
				r.worst = isnan(a) || isnan(b) ? INFINITY : fabs((double) a - b);
		}
	free(A);
	free(Bm);
	free(C1);
	free(C2);
	return r;
}

#endif
