/*
 * gemm_variants.c - equivalent formulations of the slow SGEMMs of a B_6-Wi_1024 training step
 * at batch 1024, timed against each other, to choose what src/core/layers.c should call.
 *
 *   bench/gemm_variants [reps] [threads] [product name substring]
 *   bench/gemm_variants [reps] 2|-2|100+N step|step256
 *
 * Candidates of one product are run round-robin (one call of each per round), so a noisy
 * neighbour hurts them alike; the median and best of reps rounds are printed.  Every variant
 * is checked against the first one of its product (max abs difference).  "step" and
 * "step256" time every SGEMM of one training step (B_6-Wi_1024 or B_6-Wi_256, batch 1024)
 * with OpenBLAS's threads (threads 2), our own threads each running single-threaded OpenBLAS
 * on a slab of C (-2), or OpenBLAS's threads on the batch cut in N parts (100+N).
 *
 * What it showed (2-core EPYC, OpenBLAS 0.3.21 SkylakeX, November 2026): no formulation of
 * the B_6-Wi_1024 products beats the plain call by 3% consistently.  The column-major call
 * with swapped operands is the same call (cblas does that swap itself); splitting K, M or N,
 * padding the leading dimension, or transposing an operand or the output first are equal or
 * slower.  In a step's sequence every large product runs at 200-208 GFLOP/s (the square
 * 4096 peak is 206); the 180s that bench/sgemm_bench shows for a few of them are the
 * isolated call, not the step.  At B_6-Wi_256 our own threads made the step's SGEMMs 20%
 * faster (121 against 146 ms) and train_bench 15% faster at batch 1024, but 2-5% slower at
 * batch 256 and 512 and for batched inference; the batch cut in 4 parts looked as good here
 * but made train_bench 5% slower.
 *
 * Build (as the Makefile builds bench/sgemm_bench):
 *   cc -std=c11 -D_GNU_SOURCE -O2 -g -march=native -Wall -Wextra -Isrc/core \
 *      -o bench/gemm_variants bench/gemm_variants.c src/core/libmlpcore.a \
 *      -lpng -ljpeg -lz -lm -ldl -lpthread
 */
#include <dlfcn.h>
#include <pthread.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_time.h"
#include "blas.h"

#define ROW 101
#define COL 102
#define NT 111
#define TR 112

typedef void (*sgemm_fn) (int order, int ta, int tb, int m, int n, int k, float alpha,
						  const float *a, int lda, const float *b, int ldb, float beta,
						  float *c, int ldc);
static sgemm_fn gemm;

enum
{
	B = 1024, W = 1024, KW = 4096, CLS = 10
};

static float *X,					/* [B, KW] activations (also used as [B, W]) */
		   *Wt,					/* [KW, W] or [W, KW] weights */
		   *Wtt,				/* scratch for an explicit transpose */
		   *dY,					/* [B, KW] */
		   *C,					/* output, up to [KW, W] */
		   *Wh;					/* [CLS, W] head */

static void
transpose(float *dst, const float *src, int rows, int cols)
{
	const int	T = 32;

	for (int i0 = 0; i0 < rows; i0 += T)
		for (int j0 = 0; j0 < cols; j0 += T)
			for (int i = i0; i < i0 + T && i < rows; i++)
				for (int j = j0; j < j0 + T && j < cols; j++)
					dst[(size_t) j * rows + i] = src[(size_t) i * cols + j];
}

/* ---- fwd block down: C[B,W] = X[B,KW] Wt[W,KW]^T ---- */
static void
down_base(void)
{
	gemm(ROW, NT, TR, B, W, KW, 1, X, KW, Wt, KW, 0, C, W);
}
static void
down_col(void)
{
	gemm(COL, TR, NT, W, B, KW, 1, Wt, KW, X, KW, 0, C, W);
}
static void
down_k2(void)
{
	gemm(ROW, NT, TR, B, W, KW / 2, 1, X, KW, Wt, KW, 0, C, W);
	gemm(ROW, NT, TR, B, W, KW / 2, 1, X + KW / 2, KW, Wt + KW / 2, KW, 1, C, W);
}
static void
down_k4(void)
{
	for (int p = 0; p < 4; p++)
		gemm(ROW, NT, TR, B, W, KW / 4, 1, X + p * KW / 4, KW, Wt + p * KW / 4, KW,
			 p ? 1 : 0, C, W);
}
static void
down_m2(void)
{
	for (int p = 0; p < 2; p++)
		gemm(ROW, NT, TR, B / 2, W, KW, 1, X + (size_t) p * B / 2 * KW, KW, Wt, KW, 0,
			 C + (size_t) p * B / 2 * W, W);
}
static void
down_n2(void)
{
	for (int p = 0; p < 2; p++)
		gemm(ROW, NT, TR, B, W / 2, KW, 1, X, KW, Wt + (size_t) p * W / 2 * KW, KW, 0,
			 C + p * W / 2, W);
}
static void
down_transposed_nn(void)
{
	transpose(Wtt, Wt, W, KW);	/* Wtt [KW, W] */
	gemm(ROW, NT, NT, B, W, KW, 1, X, KW, Wtt, W, 0, C, W);
}

/*
 * The transposed product C^T = op(B)^T op(A)^T written row-major into scratch, then
 * transposed into C: OpenBLAS then packs and splits across its threads the other operand.
 */
static void
down_ct(void)
{
	gemm(ROW, NT, TR, W, B, KW, 1, Wt, KW, X, KW, 0, Wtt, B);
	transpose(C, Wtt, W, B);
}

static void
updx_ct(void)
{
	gemm(ROW, TR, TR, W, B, KW, 1, Wt, W, dY, KW, 0, Wtt, B);
	transpose(C, Wtt, W, B);
}

/* dW^T[W,KW] = X^T dY into scratch, then added transposed (dW accumulates) */
static void
updw_ct(void)
{
	const int	T = 32;

	gemm(ROW, TR, NT, W, KW, B, 1, X, W, dY, KW, 0, Wtt, KW);
	for (int i0 = 0; i0 < W; i0 += T)
		for (int j0 = 0; j0 < KW; j0 += T)
			for (int i = i0; i < i0 + T; i++)
				for (int j = j0; j < j0 + T; j++)
					C[(size_t) j * W + i] += Wtt[(size_t) i * KW + j];
}

/*
 * The same products with the 4096-float rows padded by 16 floats (PAD_LD): not a layout the
 * model has, but it tells whether the power-of-two stride (cache-set and TLB aliasing while
 * OpenBLAS packs) is what costs.  The data differ, so the values are not compared.
 */
#define PAD_LD (KW + 16)
static void
down_padded(void)
{
	gemm(ROW, NT, TR, B, W, KW, 1, X, PAD_LD, Wt, PAD_LD, 0, C, W);
}

/* ---- bwd up dW: C[KW,W] += dY[B,KW]^T X[B,W] ---- */
static void
updw_base(void)
{
	gemm(ROW, TR, NT, KW, W, B, 1, dY, KW, X, W, 1, C, W);
}
static void
updw_col(void)
{
	gemm(COL, NT, TR, W, KW, B, 1, X, W, dY, KW, 1, C, W);
}
static void
updw_m2(void)
{
	for (int p = 0; p < 2; p++)
		gemm(ROW, TR, NT, KW / 2, W, B, 1, dY + p * KW / 2, KW, X, W, 1,
			 C + (size_t) p * KW / 2 * W, W);
}
static void
updw_m4(void)
{
	for (int p = 0; p < 4; p++)
		gemm(ROW, TR, NT, KW / 4, W, B, 1, dY + p * KW / 4, KW, X, W, 1,
			 C + (size_t) p * KW / 4 * W, W);
}
static void
updw_n2(void)
{
	for (int p = 0; p < 2; p++)
		gemm(ROW, TR, NT, KW, W / 2, B, 1, dY, KW, X + p * W / 2, W, 1, C + p * W / 2, W);
}
static void
updw_k2(void)
{
	for (int p = 0; p < 2; p++)
		gemm(ROW, TR, NT, KW, W, B / 2, 1, dY + (size_t) p * B / 2 * KW, KW,
			 X + (size_t) p * B / 2 * W, W, 1, C, W);
}

/* ---- bwd up dX: C[B,W] = dY[B,KW] Wt[KW,W] ---- */
static void
updx_base(void)
{
	gemm(ROW, NT, NT, B, W, KW, 1, dY, KW, Wt, W, 0, C, W);
}
static void
updx_col(void)
{
	gemm(COL, NT, NT, W, B, KW, 1, Wt, W, dY, KW, 0, C, W);
}
static void
updx_padded(void)
{
	gemm(ROW, NT, NT, B, W, KW, 1, dY, PAD_LD, Wt, W, 0, C, W);
}
static void
updw_padded(void)
{
	gemm(ROW, TR, NT, KW, W, B, 1, dY, PAD_LD, X, W, 1, C, W);
}
static void
updx_k2(void)
{
	gemm(ROW, NT, NT, B, W, KW / 2, 1, dY, KW, Wt, W, 0, C, W);
	gemm(ROW, NT, NT, B, W, KW / 2, 1, dY + KW / 2, KW, Wt + (size_t) KW / 2 * W, W, 1, C, W);
}
static void
updx_k4(void)
{
	for (int p = 0; p < 4; p++)
		gemm(ROW, NT, NT, B, W, KW / 4, 1, dY + p * KW / 4, KW, Wt + (size_t) p * KW / 4 * W,
			 W, p ? 1 : 0, C, W);
}
static void
updx_m2(void)
{
	for (int p = 0; p < 2; p++)
		gemm(ROW, NT, NT, B / 2, W, KW, 1, dY + (size_t) p * B / 2 * KW, KW, Wt, W, 0,
			 C + (size_t) p * B / 2 * W, W);
}
static void
updx_n2(void)
{
	for (int p = 0; p < 2; p++)
		gemm(ROW, NT, NT, B, W / 2, KW, 1, dY, KW, Wt + p * W / 2, W, 0, C + p * W / 2, W);
}

/* ---- head fwd: C[B,CLS] = X[B,W] Wh[CLS,W]^T ---- */
static void
headf_base(void)
{
	gemm(ROW, NT, TR, B, CLS, W, 1, X, W, Wh, W, 0, C, CLS);
}
static void
headf_transposed_nn(void)
{
	transpose(Wtt, Wh, CLS, W);	/* [W, CLS] */
	gemm(ROW, NT, NT, B, CLS, W, 1, X, W, Wtt, CLS, 0, C, CLS);
}
static void
headf_m2(void)
{
	for (int p = 0; p < 2; p++)
		gemm(ROW, NT, TR, B / 2, CLS, W, 1, X + (size_t) p * B / 2 * W, W, Wh, W, 0,
			 C + (size_t) p * B / 2 * CLS, CLS);
}

/* ---- head dW: C[CLS,W] += dY[B,CLS]^T X[B,W] ---- */
static void
headw_base(void)
{
	gemm(ROW, TR, NT, CLS, W, B, 1, dY, CLS, X, W, 1, C, W);
}
static void
headw_k2(void)
{
	for (int p = 0; p < 2; p++)
		gemm(ROW, TR, NT, CLS, W, B / 2, 1, dY + (size_t) p * B / 2 * CLS, CLS,
			 X + (size_t) p * B / 2 * W, W, 1, C, W);
}
static void
headw_transposed(void)
{
	transpose(Wtt, dY, B, CLS);	/* dY^T [CLS, B] */
	gemm(ROW, NT, NT, CLS, W, B, 1, Wtt, B, X, W, 1, C, W);
}

/*
 * Our own two threads, each running single-threaded OpenBLAS on one half of M (rows of C),
 * instead of OpenBLAS's own threading of the whole product.
 */
typedef struct Half
{
	int			order, ta, tb, m, n, k;
	const float *a;
	int			lda;
	const float *b;
	int			ldb;
	float		beta;
	float	   *c;
	int			ldc;
} Half;

static void *
run_half(void *arg)
{
	Half	   *h = arg;

	gemm(h->order, h->ta, h->tb, h->m, h->n, h->k, 1, h->a, h->lda, h->b, h->ldb, h->beta,
		 h->c, h->ldc);
	return NULL;
}

static void
two_halves(Half *h0, Half *h1)
{
	pthread_t	th;
	int			blas_threads = mlp_blas_threads();

	/*
	 * Run with OpenBLAS at 1 thread (argument threads = 1) to time this fairly: switching
	 * down from 2 leaves OpenBLAS's pool worker spinning on a core for a while.
	 */
	if (blas_threads != 1)
		mlp_blas_set_threads(1);
	pthread_create(&th, NULL, run_half, h1);
	run_half(h0);
	pthread_join(th, NULL);
	if (blas_threads != 1)
		mlp_blas_set_threads(blas_threads);
}

static void
down_pt(void)
{
	Half		a = {ROW, NT, TR, B / 2, W, KW, X, KW, Wt, KW, 0, C, W},
				b = a;

	b.a = X + (size_t) B / 2 * KW;
	b.c = C + (size_t) B / 2 * W;
	two_halves(&a, &b);
}

static void
updw_pt(void)
{
	Half		a = {ROW, TR, NT, KW / 2, W, B, dY, KW, X, W, 1, C, W},
				b = a;

	b.a = dY + KW / 2;
	b.c = C + (size_t) KW / 2 * W;
	two_halves(&a, &b);
}

static void
updx_pt(void)
{
	Half		a = {ROW, NT, NT, B / 2, W, KW, dY, KW, Wt, W, 0, C, W},
				b = a;

	b.a = dY + (size_t) B / 2 * KW;
	b.c = C + (size_t) B / 2 * W;
	two_halves(&a, &b);
}

/* fwd block up, a product that already runs fast: C[B,KW] = X[B,W] Wt[KW,W]^T */
static void
up_base(void)
{
	gemm(ROW, NT, TR, B, KW, W, 1, X, W, Wt, W, 0, C, KW);
}

static void
up_pt(void)
{
	Half		a = {ROW, NT, TR, B / 2, KW, W, X, W, Wt, W, 0, C, KW},
				b = a;

	b.a = X + (size_t) B / 2 * W;
	b.c = C + (size_t) B / 2 * KW;
	two_halves(&a, &b);
}


/*
 * Whole step: every SGEMM of one B_6-Wi_1024 step (the shapes of bench/sgemm_bench.c) either
 * by OpenBLAS's own threads, or by our threads each running single-threaded OpenBLAS on a
 * slab of C (rows when M >= N, else columns); the latter needs OpenBLAS at 1 thread.
 */
typedef struct StepShape
{
	bool		ta,
				tb;
	int			M,
				N,
				K,
				count;
} StepShape;

static const StepShape step_shapes[] = {
	{false, true, 1024, 1024, 3072, 1}, {false, true, 1024, 4096, 1024, 6},
	{false, true, 1024, 1024, 4096, 6}, {false, true, 1024, 10, 1024, 1},
	{true, false, 10, 1024, 1024, 1}, {false, false, 1024, 1024, 10, 1},
	{true, false, 1024, 4096, 1024, 6}, {false, false, 1024, 4096, 1024, 6},
	{true, false, 4096, 1024, 1024, 6}, {false, false, 1024, 1024, 4096, 6},
	{true, false, 1024, 3072, 1024, 1},
};

static void
slab_gemm(int nthreads, bool ta, bool tb, int M, int N, int K, const float *A, int lda,
		  const float *Bm, int ldb, float beta, float *Cm, int ldc)
{
	Half		h[8];
	pthread_t	th[8];
	bool		rows = M >= N;
	int			total = rows ? M : N;

	for (int t = 0; t < nthreads; t++)
	{
		int			lo = (int) ((long) total * t / nthreads),
					hi = (int) ((long) total * (t + 1) / nthreads);

		h[t] = (Half) {ROW, ta ? TR : NT, tb ? TR : NT, M, N, K, A, lda, Bm, ldb, beta, Cm, ldc};
		if (rows)
		{
			h[t].m = hi - lo;
			h[t].a = ta ? A + lo : A + (size_t) lo * lda;
			h[t].c = Cm + (size_t) lo * ldc;
		}
		else
		{
			h[t].n = hi - lo;
			h[t].b = tb ? Bm + (size_t) lo * ldb : Bm + lo;
			h[t].c = Cm + lo;
		}
	}
	for (int t = 1; t < nthreads; t++)
		pthread_create(&th[t], NULL, run_half, &h[t]);
	run_half(&h[0]);
	for (int t = 1; t < nthreads; t++)
		pthread_join(th[t], NULL);
}

/* the same for B_6-Wi_256 (W = 256, kW = 1024), whose products are smaller and slower */
static const StepShape step_shapes_256[] = {
	{false, true, 1024, 256, 3072, 1}, {false, true, 1024, 1024, 256, 6},
	{false, true, 1024, 256, 1024, 6}, {false, true, 1024, 10, 256, 1},
	{true, false, 10, 256, 1024, 1}, {false, false, 1024, 256, 10, 1},
	{true, false, 256, 1024, 1024, 6}, {false, false, 1024, 1024, 256, 6},
	{true, false, 1024, 256, 1024, 6}, {false, false, 1024, 256, 1024, 6},
	{true, false, 256, 3072, 1024, 1},
};

static const StepShape *shapes_in_use = step_shapes;

static double shape_seconds[16][64];

static double
run_step(int own_threads, int rep)
{
	double		t0 = bench_now();

	for (size_t s = 0; s < sizeof(step_shapes) / sizeof(step_shapes[0]); s++)
	{
		double		ts = bench_now();

		const StepShape *sh = &shapes_in_use[s];
		int			lda = sh->ta ? sh->M : sh->K,
					ldb = sh->tb ? sh->K : sh->N;
		float		beta = sh->ta ? 1.0f : 0.0f;

		for (int c = 0; c < sh->count; c++)
		{
			if (own_threads < 0)
			{
				/* OpenBLAS's threads, the batch dimension (M, or K for dW) cut in -own_threads parts */
				int			parts = -own_threads;

				for (int p = 0; p < parts; p++)
				{
					int			lo = (sh->ta ? sh->K : sh->M) * p / parts,
								hi = (sh->ta ? sh->K : sh->M) * (p + 1) / parts;

					if (sh->ta)
						gemm(ROW, TR, sh->tb ? TR : NT, sh->M, sh->N, hi - lo, 1,
							 X + (size_t) lo * lda, lda, Wt + (size_t) lo * ldb, ldb, 1, C, sh->N);
					else
						gemm(ROW, NT, sh->tb ? TR : NT, hi - lo, sh->N, sh->K, 1,
							 X + (size_t) lo * lda, lda, Wt, ldb, beta,
							 C + (size_t) lo * sh->N, sh->N);
				}
			}
			else if (own_threads > 0)
				slab_gemm(own_threads, sh->ta, sh->tb, sh->M, sh->N, sh->K, X, lda, Wt, ldb,
						  beta, C, sh->N);
			else
				gemm(ROW, sh->ta ? TR : NT, sh->tb ? TR : NT, sh->M, sh->N, sh->K, 1, X, lda,
					 Wt, ldb, beta, C, sh->N);
		}
		if (rep >= 0 && rep < 64)
			shape_seconds[s][rep] = bench_now() - ts;
	}
	return bench_now() - t0;
}

typedef struct Variant
{
	const char *name;
	void		(*fn) (void);
} Variant;

typedef struct Product
{
	const char *name;
	double		flops;
	size_t		out;			/* floats of C compared */
	bool		accumulates;	/* beta 1: C is reset before every call */
	Variant		v[10];
} Product;

static const Product products[] = {
	{"fwd block up 1024x4096x1024 NT", 2.0 * B * KW * W, (size_t) B * KW, false,
	 {{"row-major NT (now)", up_base}, {"2 pthreads x M/2", up_pt}}},
	{"fwd block down 1024x1024x4096 NT", 2.0 * B * W * KW, (size_t) B * W, false,
	 {{"row-major NT (now)", down_base}, {"col-major swapped", down_col},
	  {"split K 2x2048", down_k2}, {"split K 4x1024", down_k4}, {"split M 2x512", down_m2},
	  {"split N 2x512", down_n2}, {"transpose W + NN", down_transposed_nn}, {"2 pthreads x M/2", down_pt}, {"padded ld (no check)", down_padded}, {"C^T + transpose", down_ct}}},
	{"bwd up dW 4096x1024x1024 TN", 2.0 * KW * W * B, (size_t) KW * W, true,
	 {{"row-major TN (now)", updw_base}, {"col-major swapped", updw_col},
	  {"split M 2x2048", updw_m2}, {"split M 4x1024", updw_m4}, {"split N 2x512", updw_n2},
	  {"split K 2x512", updw_k2}, {"2 pthreads x M/2", updw_pt}, {"padded ld (no check)", updw_padded}, {"C^T + add transposed", updw_ct}}},
	{"bwd up dX 1024x1024x4096 NN", 2.0 * B * W * KW, (size_t) B * W, false,
	 {{"row-major NN (now)", updx_base}, {"col-major swapped", updx_col},
	  {"split K 2x2048", updx_k2}, {"split K 4x1024", updx_k4}, {"split M 2x512", updx_m2},
	  {"split N 2x512", updx_n2}, {"2 pthreads x M/2", updx_pt}, {"padded ld (no check)", updx_padded}, {"C^T + transpose", updx_ct}}},
	{"fwd head 1024x10x1024 NT", 2.0 * B * CLS * W, (size_t) B * CLS, false,
	 {{"row-major NT (now)", headf_base}, {"transpose W + NN", headf_transposed_nn},
	  {"split M 2x512", headf_m2}}},
	{"bwd head dW 10x1024x1024 TN", 2.0 * CLS * W * B, (size_t) CLS * W, true,
	 {{"row-major TN (now)", headw_base}, {"split K 2x512", headw_k2},
	  {"transpose dY + NN", headw_transposed}}},
};

static float *
filled(size_t n, unsigned mul)
{
	float	   *p = malloc(sizeof(float) * n);

	for (size_t i = 0; i < n; i++)
		p[i] = (float) ((i * mul) % 1000) * 1e-3f - 0.5f;
	return p;
}

int
main(int argc, char **argv)
{
	char		err[256];
	int			reps = argc > 1 ? atoi(argv[1]) : 9;
	int			threads = argc > 2 ? atoi(argv[2]) : 0;
	const char *only = argc > 3 ? argv[3] : NULL;
	void	   *h;
	size_t		big = (size_t) PAD_LD * W;
	float	   *ref = malloc(sizeof(float) * big);

	if (reps < 1 || reps > 1000)
		reps = 9;
	if (mlp_blas_init(err, sizeof(err)) != 0)
	{
		fprintf(stderr, "gemm_variants: %s\n", err);
		return 1;
	}
	if (threads > 0)
		mlp_blas_set_threads(threads);
	/* the library mlp_blas_init loaded; RTLD_NOLOAD only finds it, so the same instance */
	h = dlopen("libopenblas.so.0", RTLD_NOW | RTLD_NOLOAD);
	gemm = h ? (sgemm_fn) dlsym(h, "cblas_sgemm") : NULL;
	if (gemm == NULL)
	{
		fprintf(stderr, "gemm_variants: cblas_sgemm not found\n");
		return 1;
	}
	X = filled(big, 2654435761u);
	Wt = filled(big, 40503u);
	Wtt = filled(big, 7u);
	dY = filled(big, 977u);
	C = filled(big, 13u);
	Wh = filled((size_t) CLS * W, 31u);
	if (only && strncmp(only, "step", 4) == 0)
	{
		/*
		 * threads > 0: OpenBLAS threading; threads < 0: -threads own threads; threads >= 100:
		 * OpenBLAS's 2 threads with the batch dimension cut in threads - 100 parts
		 */
		double	   *t = malloc(sizeof(double) * reps);
		int			own = threads < 0 ? -threads : threads >= 100 ? 100 - threads : 0;

		if (own > 0)
			mlp_blas_set_threads(1);
		else if (own < 0)
			mlp_blas_set_threads(2);
		if (strcmp(only, "step256") == 0)
			shapes_in_use = step_shapes_256;
		for (int r = -1; r < reps; r++)
		{
			double		d = run_step(own, r);

			if (r >= 0)
				t[r] = d;
		}
		qsort(t, reps, sizeof(double), bench_cmp_double);
		printf("step %s %d: median %.1f ms, best %.1f ms\n",
			   own > 0 ? "own threads" : own < 0 ? "openblas, batch parts" : "openblas threads",
			   own ? abs(own) : mlp_blas_threads(), t[reps / 2] * 1e3,
			   t[0] * 1e3);
		for (size_t sh = 0; sh < sizeof(step_shapes) / sizeof(step_shapes[0]); sh++)
		{
			const StepShape *ss = &shapes_in_use[sh];
			int			n = reps < 64 ? reps : 64;

			qsort(shape_seconds[sh], n, sizeof(double), bench_cmp_double);
			printf("  %c%c %4dx%4dx%4d x%d  %8.2f ms  %6.1f GFLOP/s\n", ss->ta ? 'T' : 'N',
				   ss->tb ? 'T' : 'N', ss->M, ss->N, ss->K, ss->count,
				   shape_seconds[sh][n / 2] * 1e3,
				   2.0 * ss->M * ss->N * ss->K * ss->count / shape_seconds[sh][n / 2] * 1e-9);
		}
		return 0;
	}
	printf("OpenBLAS %s, %d threads, %d rounds (variants alternate within a round)\n",
		   mlp_blas_corename(), mlp_blas_threads(), reps);

	for (size_t p = 0; p < sizeof(products) / sizeof(products[0]); p++)
	{
		const Product *pr = &products[p];
		int			nv = 0;
		double	   *t;

		if (only && !strstr(pr->name, only))
			continue;
		while (nv < 10 && pr->v[nv].name)
			nv++;
		t = malloc(sizeof(double) * nv * reps);
		printf("\n%s\n", pr->name);
		for (int r = -1; r < reps; r++)
			for (int v = 0; v < nv; v++)
			{
				double		t0;

				if (pr->accumulates)
					memset(C, 0, sizeof(float) * pr->out);
				t0 = bench_now();
				pr->v[v].fn();
				if (r >= 0)
					t[v * reps + r] = bench_now() - t0;
				else if (v == 0)
					memcpy(ref, C, sizeof(float) * pr->out);
				else
				{
					double		d = 0;

					for (size_t i = 0; i < pr->out; i++)
						d = fmax(d, fabs((double) C[i] - ref[i]));
					if (d > 1e-2 && !strstr(pr->v[v].name, "no check"))
						printf("  %s differs by %g\n", pr->v[v].name, d);
				}
			}
		for (int v = 0; v < nv; v++)
		{
			double	   *tv = t + v * reps;
			double		base;

			qsort(tv, reps, sizeof(double), bench_cmp_double);
			base = t[reps / 2];
			printf("  %-22s median %8.3f ms %7.1f GFLOP/s  best %7.1f  (%+.1f%% vs now)\n",
				   pr->v[v].name, tv[reps / 2] * 1e3, pr->flops / tv[reps / 2] * 1e-9,
				   pr->flops / tv[0] * 1e-9, (base / tv[reps / 2] - 1) * 100);
		}
		free(t);
	}
	return 0;
}
