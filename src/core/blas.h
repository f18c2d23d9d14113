/*
 * blas.h - the one wrapper through which every matrix product goes.
 *
 * OpenBLAS is loaded with dlopen() on first use, in the process that needs it, never in
 * the postmaster: its thread pool starts when the library loads, and OPENBLAS_CORETYPE is
 * read only then.  Before loading, when the user has not set OPENBLAS_CORETYPE, we pick the
 * fastest kernel the CPU supports (Debian's 0.3.21 does not recognise recent Intel parts and
 * falls back to Prescott, five times slower).
 *
 * Plain C, no PostgreSQL headers.
 */
#ifndef MLP_BLAS_H
#define MLP_BLAS_H

#include <stdbool.h>
#include <stddef.h>

/* Loads OpenBLAS if not yet loaded.  Returns 0 on success, -1 with a message in err. */
int mlp_blas_init(char *err, size_t errlen);

/* True once mlp_blas_init() succeeded. */
bool mlp_blas_loaded(void);

/* Kernel name from openblas_get_corename(), e.g. "SkylakeX"; "unloaded" before init. */
const char *mlp_blas_corename(void);

/* The OPENBLAS_CORETYPE we chose ("" when the user set it or none was needed). */
const char *mlp_blas_chosen_coretype(void);

/* Thread count of OpenBLAS (after init). */
void mlp_blas_set_threads(int n);
int mlp_blas_threads(void);

/*
 * Precision of mlp_sgemm's products in this process.  FP32 is OpenBLAS SGEMM.  BF16 rounds
 * both operands to bfloat16 and sums the products in float with our AVX512_BF16 kernel
 * (gemm_bf16.c): about 1.7-2x the FLOP rate of SGEMM where the CPU has the instructions, at
 * the cost of an 8-bit mantissa in the operands.  Training sets it from its configuration;
 * scoring always runs in FP32.  Products the kernel cannot take fall back to SGEMM.
 */
typedef enum MlpMatmulPrecision
{
	MLP_MATMUL_FP32 = 0,
	MLP_MATMUL_BF16 = 1
} MlpMatmulPrecision;

/* True when this CPU can run BF16 products. */
bool		mlp_blas_bf16_supported(void);

/* Returns 0, or -1 (and changes nothing) when BF16 is asked for and the CPU lacks it. */
int			mlp_blas_set_matmul_precision(MlpMatmulPrecision p);
MlpMatmulPrecision mlp_blas_matmul_precision(void);

/* "fp32" / "bf16"; parse returns 0 or -1 for any other name. */
const char *mlp_matmul_precision_name(MlpMatmulPrecision p);
int			mlp_matmul_precision_parse(const char *name, MlpMatmulPrecision *p);

/*
 * Row-major C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C.
 * op(A) is A (lda >= K) or A^T when transA (A stored [K,M], lda >= M); likewise B.
 * mlp_blas_init() must have succeeded.
 */
void mlp_sgemm(bool transA, bool transB, int M, int N, int K,
			   float alpha, const float *A, int lda, const float *B, int ldb,
			   float beta, float *C, int ldc);

/* Naive triple loop with the same contract, for tests. */
void mlp_sgemm_reference(bool transA, bool transB, int M, int N, int K,
						 float alpha, const float *A, int lda, const float *B, int ldb,
						 float beta, float *C, int ldc);

/*
 * Row-major matrix-vector product y = alpha * op(A) x + beta * y, unit strides.
 * A is stored [M,N] (lda >= N); op(A) is A (x has N entries, y has M) or A^T when transA
 * (x has M, y has N).  beta = 0 ignores y, NaN included.  A single image's forward is one
 * such product per layer, memory-bound on the weights, where SGEMM with M = 1 is much slower.
 * With one BLAS thread, op(A) = A is our own kernel streaming A once (faster than OpenBLAS's
 * here); otherwise cblas_sgemv, which splits the work across the OpenBLAS threads.
 * mlp_blas_init() should have succeeded (it is attempted otherwise, as for mlp_sgemm).
 */
void mlp_sgemv(bool transA, int M, int N, float alpha, const float *A, int lda,
			   const float *x, float beta, float *y);

/* Naive loop with the same contract, for tests. */
void mlp_sgemv_reference(bool transA, int M, int N, float alpha, const float *A, int lda,
						 const float *x, float beta, float *y);

#endif
