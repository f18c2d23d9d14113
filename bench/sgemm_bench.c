/*
 * sgemm_bench.c - mlp_sgemm throughput at the exact shapes of one training step of
 * B_6-Wi_1024 on 3x32x32 images with 10 classes at batch 1024, plus a square 4096 product
 * for the machine's peak.  Prints the OpenBLAS kernel in use (the point of loading it
 * ourselves: Debian's build falls back to Prescott on recent CPUs).
 *
 *   bench/sgemm_bench [threads] [reps]
 *
 * Each shape: one warm-up, then reps timed runs; the median is reported, and the best run
 * too (on a machine shared with other work the best run is closer to what the kernel does).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_time.h"
#include "blas.h"

typedef struct Shape
{
	const char *what;
	bool		ta,
				tb;
	int			M,
				N,
				K;
	int			per_step;		/* occurrences in one training step */
} Shape;

/* B = 1024 images, D = 3072, W = 1024, kW = 4096, C = 10, 6 blocks; Y = X W^T */
static const Shape shapes[] = {
	{"fwd linear_in   X[B,D] W^T", false, true, 1024, 1024, 3072, 1},
	{"fwd block up    X[B,W] W^T", false, true, 1024, 4096, 1024, 6},
	{"fwd block down  X[B,kW] W^T", false, true, 1024, 1024, 4096, 6},
	{"fwd head        X[B,W] W^T", false, true, 1024, 10, 1024, 1},
	{"bwd head dW     dY^T X", true, false, 10, 1024, 1024, 1},
	{"bwd head dX     dY W", false, false, 1024, 1024, 10, 1},
	{"bwd down dW     dY^T X", true, false, 1024, 4096, 1024, 6},
	{"bwd down dX     dY W", false, false, 1024, 4096, 1024, 6},
	{"bwd up dW       dY^T X", true, false, 4096, 1024, 1024, 6},
	{"bwd up dX       dY W", false, false, 1024, 1024, 4096, 6},
	{"bwd linear_in dW dY^T X", true, false, 1024, 3072, 1024, 1},
	{"peak square 4096", false, false, 4096, 4096, 4096, 0},
};

int
main(int argc, char **argv)
{
	char		err[256];
	int			threads = argc > 1 ? atoi(argv[1]) : 0;
	int			reps = argc > 2 ? atoi(argv[2]) : 7;
	double		step_seconds = 0,
				step_flops = 0;

	if (reps < 1 || reps > 1000)
		reps = 7;
	if (mlp_blas_init(err, sizeof(err)) != 0)
	{
		fprintf(stderr, "sgemm_bench: %s\n", err);
		return 1;
	}
	if (threads > 0)
		mlp_blas_set_threads(threads);
	printf("OpenBLAS kernel %s (OPENBLAS_CORETYPE %s), %d threads, median of %d runs\n",
		   mlp_blas_corename(),
		   mlp_blas_chosen_coretype()[0] ? mlp_blas_chosen_coretype() : "as set by the user",
		   mlp_blas_threads(), reps);
	printf("%-28s %5s %5s %5s %10s %9s %9s\n", "product", "M", "N", "K", "median ms", "GFLOP/s",
		   "best");

	for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++)
	{
		const Shape *sh = &shapes[s];
		size_t		na = (size_t) sh->M * sh->K,
					nb = (size_t) sh->K * sh->N,
					nc = (size_t) sh->M * sh->N;
		float	   *A = malloc(sizeof(float) * na),
				   *B = malloc(sizeof(float) * nb),
				   *C = malloc(sizeof(float) * nc);
		double	   *t = malloc(sizeof(double) * reps);
		double		flops = 2.0 * sh->M * sh->N * sh->K,
					med;

		for (size_t i = 0; i < na; i++)
			A[i] = (float) ((i * 2654435761u) % 1000) * 1e-3f - 0.5f;
		for (size_t i = 0; i < nb; i++)
			B[i] = (float) ((i * 40503u) % 1000) * 1e-3f - 0.5f;
		memset(C, 0, sizeof(float) * nc);
		for (int r = -1; r < reps; r++)
		{
			double		t0 = bench_now();

			/* backward weight products accumulate (beta 1), the rest overwrite */
			mlp_sgemm(sh->ta, sh->tb, sh->M, sh->N, sh->K, 1.0f,
					  A, sh->ta ? sh->M : sh->K, B, sh->tb ? sh->K : sh->N,
					  sh->ta ? 1.0f : 0.0f, C, sh->N);
			if (r >= 0)
				t[r] = bench_now() - t0;
		}
		qsort(t, reps, sizeof(double), bench_cmp_double);
		med = t[reps / 2];
		printf("%-28s %5d %5d %5d %10.3f %9.1f %9.1f\n", sh->what, sh->M, sh->N, sh->K,
			   med * 1e3, flops / med * 1e-9, flops / t[0] * 1e-9);
		step_seconds += sh->per_step * med;
		step_flops += sh->per_step * flops;
		free(A);
		free(B);
		free(C);
		free(t);
	}
	printf("one B_6-Wi_1024 training step at batch 1024: %.1f GFLOP of SGEMM in %.1f ms = %.1f GFLOP/s, %.0f images/s bound\n",
		   step_flops * 1e-9, step_seconds * 1e3, step_flops / step_seconds * 1e-9,
		   1024 / step_seconds);
	return 0;
}
