/*
 * blas.c - OpenBLAS loaded on first use, and the SGEMM and SGEMV every matrix product goes
 * through.
 *
 * We never link -lopenblas: a library linked into a shared_preload_libraries module would be
 * loaded by the postmaster, start its thread pool there before any fork, and read
 * OPENBLAS_CORETYPE before we had a chance to choose a kernel.
 */
#include "blas.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gemm_bf16.h"
#include "simd.h"
#include "thread_pool.h"

#define OPENBLAS_SONAME "libopenblas.so.0"

/* CBLAS enum values (cblas.h); passed as int, which is how C enums are passed. */
#define CBLAS_ROW_MAJOR 101
#define CBLAS_NO_TRANS 111
#define CBLAS_TRANS 112

typedef void (*cblas_sgemm_fn) (int order, int transa, int transb, int m, int n, int k,
								float alpha, const float *a, int lda, const float *b, int ldb,
								float beta, float *c, int ldc);
typedef void (*cblas_sgemv_fn) (int order, int trans, int m, int n, float alpha,
								const float *a, int lda, const float *x, int incx,
								float beta, float *y, int incy);
typedef void (*set_threads_fn) (int n);
typedef int (*get_threads_fn) (void);
typedef char *(*get_corename_fn) (void);

static pthread_once_t blas_once = PTHREAD_ONCE_INIT;
static bool blas_ok;
static char blas_error[256];
static char blas_chosen_coretype[32];
static char blas_corename[64] = "unloaded";
static int	blas_pending_threads;	/* asked for before the library was loaded */
static MlpMatmulPrecision matmul_precision = MLP_MATMUL_FP32;

static cblas_sgemm_fn p_sgemm;
static cblas_sgemv_fn p_sgemv;
static set_threads_fn p_set_threads;
static get_threads_fn p_get_threads;
static get_corename_fn p_get_corename;

/*
 * Debian's OpenBLAS 0.3.21 (DYNAMIC_ARCH) does not recognise recent CPUs (Zen 4, Sapphire
 * Rapids) and falls back to Prescott kernels.  SkylakeX kernels need the AVX-512 subset every
 * Skylake-X has (F, DQ, BW, VL); __builtin_cpu_supports also checks that the OS saves the
 * vector state.
 */
static const char *
choose_coretype(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
		__builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl"))
		return "SkylakeX";
	if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
		return "Haswell";
#endif
	return NULL;
}

static void
blas_load(void)
{
	const char *user = getenv("OPENBLAS_CORETYPE");
	void	   *h;

	if (user == NULL || user[0] == '\0')
	{
		const char *core = choose_coretype();

		if (core != NULL)
		{
			setenv("OPENBLAS_CORETYPE", core, 1);
			snprintf(blas_chosen_coretype, sizeof(blas_chosen_coretype), "%s", core);
		}
	}

	h = dlopen(OPENBLAS_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (h == NULL)
	{
		const char *e = dlerror();

		snprintf(blas_error, sizeof(blas_error), "could not load %s: %s", OPENBLAS_SONAME,
				 e ? e : "unknown error");
		return;
	}

	/* dlsym returns void *; POSIX guarantees it converts to a function pointer. */
	p_sgemm = (cblas_sgemm_fn) dlsym(h, "cblas_sgemm");
	p_sgemv = (cblas_sgemv_fn) dlsym(h, "cblas_sgemv");
	p_set_threads = (set_threads_fn) dlsym(h, "openblas_set_num_threads");
	p_get_threads = (get_threads_fn) dlsym(h, "openblas_get_num_threads");
	p_get_corename = (get_corename_fn) dlsym(h, "openblas_get_corename");
	if (!p_sgemm || !p_sgemv || !p_set_threads || !p_get_threads || !p_get_corename)
	{
		snprintf(blas_error, sizeof(blas_error),
				 "%s lacks cblas_sgemm, cblas_sgemv or the openblas_* thread and core functions",
				 OPENBLAS_SONAME);
		dlclose(h);
		p_sgemm = NULL;
		p_sgemv = NULL;
		return;
	}

	{
		const char *name = p_get_corename();

		snprintf(blas_corename, sizeof(blas_corename), "%s", name ? name : "unknown");
	}
	if (blas_pending_threads > 0)
		p_set_threads(blas_pending_threads);
	blas_ok = true;
}

int
mlp_blas_init(char *err, size_t errlen)
{
	pthread_once(&blas_once, blas_load);
	if (!blas_ok)
	{
		if (err && errlen)
			snprintf(err, errlen, "%s", blas_error);
		return -1;
	}
	return 0;
}

bool
mlp_blas_loaded(void)
{
	return blas_ok;
}

const char *
mlp_blas_corename(void)
{
	return blas_corename;
}

const char *
mlp_blas_chosen_coretype(void)
{
	return blas_chosen_coretype;
}

/* Before loading, the count is remembered and applied when the library loads. */
void
mlp_blas_set_threads(int n)
{
	if (n <= 0)
		return;
	mlp_pool_set_threads(n);	/* the pool of the bf16 products and GELU */
	if (blas_ok)
		p_set_threads(n);
	else
		blas_pending_threads = n;
}

int
mlp_blas_threads(void)
{
	return blas_ok ? p_get_threads() : 1;
}

bool
mlp_blas_bf16_supported(void)
{
	return mlp_gemm_bf16_supported();
}

int
mlp_blas_set_matmul_precision(MlpMatmulPrecision p)
{
	if (p == MLP_MATMUL_BF16 && !mlp_gemm_bf16_supported())
		return -1;
	if (p != MLP_MATMUL_FP32 && p != MLP_MATMUL_BF16)
		return -1;
	matmul_precision = p;
	return 0;
}

MlpMatmulPrecision
mlp_blas_matmul_precision(void)
{
	return matmul_precision;
}

const char *
mlp_matmul_precision_name(MlpMatmulPrecision p)
{
	return p == MLP_MATMUL_BF16 ? "bf16" : "fp32";
}

int
mlp_matmul_precision_parse(const char *name, MlpMatmulPrecision *p)
{
	if (name != NULL && strcmp(name, "fp32") == 0)
		*p = MLP_MATMUL_FP32;
	else if (name != NULL && strcmp(name, "bf16") == 0)
		*p = MLP_MATMUL_BF16;
	else
		return -1;
	return 0;
}

/* C = beta * C for the rows and columns the product touches (K == 0 or alpha == 0). */
static void
scale_c(int M, int N, float beta, float *C, int ldc)
{
	for (int i = 0; i < M; i++)
	{
		float	   *c = C + (size_t) i * ldc;

		if (beta == 0.0f)
			memset(c, 0, sizeof(float) * N);
		else if (beta != 1.0f)
			for (int j = 0; j < N; j++)
				c[j] *= beta;
	}
}

/*
 * The contract says init comes first; should a caller forget, load now rather than crash.
 * False (after one complaint) when loading fails: the caller falls back to the slow loop.
 */
static bool
blas_ready(void)
{
	char		e[256];
	static bool warned;

	if (blas_ok)
		return true;
	if (mlp_blas_init(e, sizeof(e)) == 0)
		return true;
	if (!warned)
	{
		warned = true;
		fprintf(stderr, "mlpscale: %s; using the slow reference BLAS loops\n", e);
	}
	return false;
}

void
mlp_sgemm(bool transA, bool transB, int M, int N, int K,
		  float alpha, const float *A, int lda, const float *B, int ldb,
		  float beta, float *C, int ldc)
{
	if (M <= 0 || N <= 0)
		return;
	if (K <= 0)
	{
		scale_c(M, N, beta, C, ldc);
		return;
	}
	if (matmul_precision == MLP_MATMUL_BF16 &&
		mlp_gemm_bf16(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc) == 0)
		return;
	if (!blas_ready())
	{
		mlp_sgemm_reference(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
		return;
	}
	p_sgemm(CBLAS_ROW_MAJOR, transA ? CBLAS_TRANS : CBLAS_NO_TRANS,
			transB ? CBLAS_TRANS : CBLAS_NO_TRANS, M, N, K,
			alpha, A, lda, B, ldb, beta, C, ldc);
}

void
mlp_sgemm_reference(bool transA, bool transB, int M, int N, int K,
					float alpha, const float *A, int lda, const float *B, int ldb,
					float beta, float *C, int ldc)
{
	for (int i = 0; i < M; i++)
		for (int j = 0; j < N; j++)
		{
			double		s = 0.0;
			float	   *c = C + (size_t) i * ldc + j;

			for (int k = 0; k < K; k++)
			{
				float		a = transA ? A[(size_t) k * lda + i] : A[(size_t) i * lda + k];
				float		b = transB ? B[(size_t) j * ldb + k] : B[(size_t) k * ldb + j];

				s += (double) a * b;
			}
			/* BLAS semantics: beta == 0 ignores C, even NaN. */
			*c = (float) (alpha * s + (beta == 0.0f ? 0.0 : (double) beta * *c));
		}
}

/*
 * y[i] = alpha * A[i,:] . x + beta * y[i], one row after the other.  Reading A in a single
 * sequential stream runs at the speed of a plain read of the weights (24 GB/s on the 2-core
 * EPYC this was tuned on, where OpenBLAS's sgemv_t, which walks several rows at once, reached
 * 19 GB/s); the product is bound by that read, so nothing else matters.  x stays in L1.
 */
static void
sgemv_rows(int M, int N, float alpha, const float *A, int lda, const float *x,
		   float beta, float *y)
{
	for (int i = 0; i < M; i++)
	{
		const float *a = A + (size_t) i * lda;
		vf			s0 = {0},
					s1 = {0},
					s2 = {0},
					s3 = {0};
		float		dot = 0.0f;
		int			k = 0;

		for (; k + 4 * VLEN <= N; k += 4 * VLEN)
		{
			s0 += vload(a + k) * vload(x + k);
			s1 += vload(a + k + VLEN) * vload(x + k + VLEN);
			s2 += vload(a + k + 2 * VLEN) * vload(x + k + 2 * VLEN);
			s3 += vload(a + k + 3 * VLEN) * vload(x + k + 3 * VLEN);
		}
		for (; k + VLEN <= N; k += VLEN)
			s0 += vload(a + k) * vload(x + k);
		s0 = (s0 + s1) + (s2 + s3);
		for (int l = 0; l < VLEN; l++)
			dot += s0[l];
		for (; k < N; k++)
			dot += a[k] * x[k];
		/* y was cleared when beta is 0, so a NaN there cannot leak through beta * y */
		y[i] = alpha * dot + beta * y[i];
	}
}

void
mlp_sgemv(bool transA, int M, int N, float alpha, const float *A, int lda,
		  const float *x, float beta, float *y)
{
	int			ylen = transA ? N : M,
				xlen = transA ? M : N;

	if (ylen <= 0)
		return;
	/* BLAS may compute beta * y even for beta = 0 and let a NaN through; we promise not to */
	if (beta == 0.0f)
		memset(y, 0, sizeof(float) * ylen);
	if (xlen <= 0)
	{
		scale_c(1, ylen, beta, y, ylen);
		return;
	}
	if (!transA && mlp_blas_threads() == 1)
	{
		sgemv_rows(M, N, alpha, A, lda, x, beta, y);
		return;
	}
	if (!blas_ready())
	{
		mlp_sgemv_reference(transA, M, N, alpha, A, lda, x, beta, y);
		return;
	}
	p_sgemv(CBLAS_ROW_MAJOR, transA ? CBLAS_TRANS : CBLAS_NO_TRANS, M, N,
			alpha, A, lda, x, 1, beta, y, 1);
}

void
mlp_sgemv_reference(bool transA, int M, int N, float alpha, const float *A, int lda,
					const float *x, float beta, float *y)
{
	int			ylen = transA ? N : M,
				xlen = transA ? M : N;

	for (int i = 0; i < ylen; i++)
	{
		double		s = 0.0;

		for (int k = 0; k < xlen; k++)
		{
			float		a = transA ? A[(size_t) k * lda + i] : A[(size_t) i * lda + k];

			s += (double) a * x[k];
		}
		y[i] = (float) (alpha * s + (beta == 0.0f ? 0.0 : (double) beta * y[i]));
	}
}
