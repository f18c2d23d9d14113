/*
 * test_blas.c - OpenBLAS loading, kernel choice, and mlp_sgemm and mlp_sgemv against the naive
 * references.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "blas.h"
#include "gemm_check.h"
#include "tap.h"

static uint64_t lcg = 12345;

static float
frand(void)
{
	lcg = lcg * 6364136223846793005ULL + 1442695040888963407ULL;
	return (float) ((lcg >> 40) / (double) (1 << 24)) * 2.0f - 1.0f;
}

/*
 * One product with padded leading dimensions; returns the worst error relative to scale
 * (entries are sums of K products of numbers in [-1, 1]: scaled by sqrt(K)), or infinity when
 * a column past N changed.
 */
static double
compare(bool ta, bool tb, int M, int N, int K, float alpha, float beta)
{
	GemmCheck	r = gemm_check(mlp_sgemm, mlp_sgemm_reference, ta, tb, M, N, K, alpha, beta,
							   frand, false);

	return r.padding_kept ? r.worst / (1.0 + sqrt((double) K)) : INFINITY;
}

/* One matrix-vector product with a padded lda; returns the worst error relative to scale. */
static double
compare_gemv(bool ta, int M, int N, float alpha, float beta)
{
	int			lda = N + 3,
				xlen = ta ? M : N,
				ylen = ta ? N : M,
				inner = xlen;
	size_t		na = (size_t) M * lda;
	float	   *A = malloc(sizeof(float) * (na + 1)),
			   *x = malloc(sizeof(float) * (xlen + 1)),
			   *y1 = malloc(sizeof(float) * (ylen + 2)),
			   *y2 = malloc(sizeof(float) * (ylen + 2));
	double		worst = 0.0;

	for (size_t i = 0; i < na; i++)
		A[i] = frand();
	for (int i = 0; i < xlen; i++)
		x[i] = frand();
	/* one guard element past y must stay untouched */
	for (int i = 0; i < ylen + 1; i++)
		y1[i] = y2[i] = frand();
	mlp_sgemv(ta, M, N, alpha, A, lda, x, beta, y1);
	mlp_sgemv_reference(ta, M, N, alpha, A, lda, x, beta, y2);
	for (int i = 0; i < ylen + 1; i++)
	{
		double		e = fabs((double) y1[i] - y2[i]) / (1.0 + sqrt((double) inner));

		if (e > worst)
			worst = e;
	}
	free(A);
	free(x);
	free(y1);
	free(y2);
	return worst;
}

static void *
init_thread(void *arg)
{
	char		err[256];

	*(int *) arg = mlp_blas_init(err, sizeof(err));
	return NULL;
}

/*
 * In a fresh child process (the library must not be loaded yet), eight threads race to
 * initialise; all must succeed and see the library loaded.  Exit status 0 when they did.
 */
static int
concurrent_init_in_child(void)
{
	pid_t		pid = fork();
	int			status;

	if (pid == 0)
	{
		pthread_t	th[8];
		int			rc[8];
		int			bad = 0;

		for (int i = 0; i < 8; i++)
			pthread_create(&th[i], NULL, init_thread, &rc[i]);
		for (int i = 0; i < 8; i++)
		{
			pthread_join(th[i], NULL);
			bad |= rc[i] != 0;
		}
		_exit(bad || !mlp_blas_loaded() || strcmp(mlp_blas_corename(), "unloaded") == 0);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int
main(void)
{
	char		err[256] = "";
	const char *user_core = getenv("OPENBLAS_CORETYPE");
	bool		user_set = user_core != NULL && user_core[0] != '\0';
	static const int shapes[][3] = {
		{1, 1, 1}, {7, 5, 3}, {13, 1, 17}, {1, 31, 9}, {33, 65, 129}, {64, 64, 64},
		{100, 3, 250}, {257, 130, 67}
	};

	ok(strcmp(mlp_blas_corename(), "unloaded") == 0, "corename is \"unloaded\" before init");
	ok(!mlp_blas_loaded(), "not loaded before init");
	is_int(concurrent_init_in_child(), 0, "eight threads initialising at once all succeed");
	mlp_blas_set_threads(1);	/* remembered until the library loads */
	is_int(mlp_blas_init(err, sizeof(err)), 0, "mlp_blas_init succeeds");
	if (err[0])
		diag("init error: %s", err);
	ok(mlp_blas_loaded(), "loaded after init");
	is_int(mlp_blas_threads(), 1, "a thread count set before init applies once loaded");
	is_int(mlp_blas_init(err, sizeof(err)), 0, "second init is a no-op");
	diag("OpenBLAS kernel: %s, chosen OPENBLAS_CORETYPE: \"%s\", threads %d",
		 mlp_blas_corename(), mlp_blas_chosen_coretype(), mlp_blas_threads());
	ok(strcmp(mlp_blas_corename(), "unloaded") != 0 && mlp_blas_corename()[0] != '\0',
	   "corename reported after init");
	if (user_set)
		ok(mlp_blas_chosen_coretype()[0] == '\0', "a user-set OPENBLAS_CORETYPE=%s is respected",
		   user_core);
	else
	{
		__builtin_cpu_init();
		if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
			__builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
		{
			ok(strcmp(mlp_blas_chosen_coretype(), "SkylakeX") == 0, "AVX-512 CPU: SkylakeX chosen");
			ok(strcasecmp(mlp_blas_corename(), "SkylakeX") == 0, "AVX-512 CPU: kernel is SkylakeX (%s)",
			   mlp_blas_corename());
		}
		else if (__builtin_cpu_supports("avx2"))
			ok(strcmp(mlp_blas_chosen_coretype(), "Haswell") == 0, "AVX2 CPU: Haswell chosen");
		ok(strcasecmp(mlp_blas_corename(), "Prescott") != 0 || !__builtin_cpu_supports("avx2"),
		   "not the generic Prescott kernel on an AVX2 CPU");
	}

	mlp_blas_set_threads(1);
	is_int(mlp_blas_threads(), 1, "threads set to 1");
	mlp_blas_set_threads(2);
	is_int(mlp_blas_threads(), 2, "threads set to 2");

	for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++)
		for (int t = 0; t < 4; t++)
		{
			bool		ta = t & 1,
						tb = t & 2;
			int			M = shapes[s][0],
						N = shapes[s][1],
						K = shapes[s][2];
			double		e = compare(ta, tb, M, N, K, 0.75f, s % 2 ? 0.0f : 1.5f);

			ok(e < 1e-5, "sgemm %c%c M=%d N=%d K=%d agrees with the reference (err %.2g)",
			   ta ? 'T' : 'N', tb ? 'T' : 'N', M, N, K, e);
		}

	/* odd shapes, and the layer shapes of a single-image forward (B_6-Wi_512 at 3x32x32) */
	{
		static const int gemv_shapes[][2] = {
			{1, 1}, {1, 17}, {17, 1}, {7, 5}, {13, 31}, {33, 129}, {250, 3}, {257, 67},
			{512, 3072}, {2048, 512}, {512, 2048}, {10, 512}
		};

		/* one thread takes our own kernel for N, two threads OpenBLAS's for both */
		for (int threads = 1; threads <= 2; threads++)
		{
			mlp_blas_set_threads(threads);
			for (size_t s = 0; s < sizeof(gemv_shapes) / sizeof(gemv_shapes[0]); s++)
				for (int ta = 0; ta < 2; ta++)
				{
					int			M = gemv_shapes[s][0],
								N = gemv_shapes[s][1];
					float		beta = s % 3 == 0 ? 0.0f : s % 3 == 1 ? 1.0f : -0.5f;
					double		e = compare_gemv(ta, M, N, s % 2 ? 1.0f : 0.75f, beta);

					ok(e < 1e-5, "sgemv %c M=%d N=%d beta=%g, %d thread%s: agrees with the reference (err %.2g)",
					   ta ? 'T' : 'N', M, N, beta, threads, threads > 1 ? "s" : "", e);
				}
		}
	}
	{
		/* A = [[1 2 3] [4 5 6]] padded to lda 4: exact small results, both orientations */
		float		A[8] = {1, 2, 3, -1, 4, 5, 6, -1},
					x3[3] = {1, 1, 2},
					x2[2] = {2, -1},
					y2[2] = {NAN, 10},
					y3[3] = {1, 1, 1};

		for (int threads = 1; threads <= 2; threads++)
		{
			mlp_blas_set_threads(threads);
			y2[0] = NAN;
			mlp_sgemv(false, 2, 3, 1.0f, A, 4, x3, 0.0f, y2);
			ok(y2[0] == 9 && y2[1] == 21,
			   "sgemv N, %d thread%s: A x exactly, a NaN in y ignored when beta = 0",
			   threads, threads > 1 ? "s" : "");
		}
		mlp_sgemv(true, 2, 3, 2.0f, A, 4, x2, 1.0f, y3);
		ok(y3[0] == -3 && y3[1] == -1 && y3[2] == 1, "sgemv T: y + 2 A^T x exactly");
		y2[0] = 3;
		y2[1] = NAN;
		mlp_sgemv(false, 2, 0, 1.0f, A, 4, x3, 0.0f, y2);
		ok(y2[0] == 0 && y2[1] == 0, "sgemv with N = 0 and beta = 0 clears y");
		y3[0] = 1;
		mlp_sgemv(true, 0, 3, 1.0f, A, 4, x2, 3.0f, y3);
		ok(y3[0] == 3 && y3[2] == 3, "sgemv T with M = 0 gives beta * y");
	}

	/* K = 0 scales C by beta; beta = 0 overwrites C even when it holds NaN */
	{
		float		C[6] = {1, 2, 3, 4, 5, 6},
					A[1] = {0},
					Bm[1] = {0};

		mlp_sgemm(false, false, 2, 3, 0, 1.0f, A, 1, Bm, 3, 2.0f, C, 3);
		ok(C[0] == 2 && C[5] == 12, "K = 0 gives beta * C");
		C[1] = NAN;
		mlp_sgemm(false, false, 2, 3, 0, 1.0f, A, 1, Bm, 3, 0.0f, C, 3);
		ok(C[1] == 0 && C[4] == 0, "K = 0 and beta = 0 clear C, NaN included");
	}
	{
		float		A[2] = {1, 2},
					Bm[2] = {3, 4},
					C[1] = {NAN};

		mlp_sgemm(false, false, 1, 1, 2, 1.0f, A, 2, Bm, 1, 0.0f, C, 1);
		is_close(C[0], 11.0, 0, 0, "beta = 0 ignores a NaN in C");
		C[0] = NAN;
		mlp_sgemm_reference(false, false, 1, 1, 2, 1.0f, A, 2, Bm, 1, 0.0f, C, 1);
		is_close(C[0], 11.0, 0, 0, "the reference also ignores C when beta = 0");
	}
	return tap_done();
}
