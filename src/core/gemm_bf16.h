/*
 * gemm_bf16.h - matrix products with bfloat16 operands and float accumulation, on CPUs with
 * AVX512_BF16.  Reached through mlp_sgemm when the matmul precision is bf16 (blas.h); the
 * functions here are for the BLAS wrapper, its tests and benchmarks.  Products run on the
 * threads of thread_pool.h (mlp_pool_set_threads, which mlp_blas_set_threads calls).
 *
 * Plain C, no PostgreSQL headers.
 */
#ifndef MLP_GEMM_BF16_H
#define MLP_GEMM_BF16_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* True when the CPU (and the OS) support the AVX-512 BF16 instructions. */
bool		mlp_gemm_bf16_supported(void);

/*
 * Row-major C[M,N] = alpha * op(A) op(B) + beta * C, the contract of mlp_sgemm, with every
 * element of op(A) and op(B) rounded to bf16 (nearest even) and products summed in float.
 * beta = 0 ignores C.  Returns 0, or -1 without touching C when the CPU lacks AVX512_BF16,
 * a dimension is not positive, or the packing buffers cannot be allocated.  Not reentrant:
 * one caller thread per process (the pool and its buffers are shared).
 */
int			mlp_gemm_bf16(bool transA, bool transB, int M, int N, int K,
						  float alpha, const float *A, int lda, const float *B, int ldb,
						  float beta, float *C, int ldc);

/*
 * Called on each finished tile of C (rows i0 .. i0+m, columns j0 .. j0+n of the product, at c
 * with stride ldc) right after its last K slice, while the tile is in L1: bias, GELU or a
 * conversion there saves a pass over C.  Runs on the pool's threads, on disjoint tiles.
 */
typedef void (*MlpGemmEpilogue) (void *arg, float *c, int ldc, int i0, int j0, int m, int n);

/* mlp_gemm_bf16 with an epilogue (NULL: none). */
int			mlp_gemm_bf16_ex(bool transA, bool transB, int M, int N, int K,
							 float alpha, const float *A, int lda, const float *B, int ldb,
							 float beta, float *C, int ldc, MlpGemmEpilogue epi, void *epi_arg);

/*
 * op(B)[K, N] converted to bf16 and packed once into the kernel's panels, for an operand
 * that many products share (the weights of a cached model): mlp_gemm_bf16_packed then reads
 * it as it is, with no conversion or packing per call.
 */
typedef struct MlpBf16PackedB
{
	int			N,
				K;
	int			npad;			/* N rounded up to the panel width */
	uint32_t   *words;			/* malloc'd */
} MlpBf16PackedB;

/* Packs op(B); 0, or -1 (no AVX512_BF16, a dimension not positive, no memory). */
int			mlp_gemm_bf16_pack_b(bool transB, int N, int K, const float *B, int ldb,
								 MlpBf16PackedB *out);
void		mlp_gemm_bf16_packed_free(MlpBf16PackedB *p);
/* Bytes a packed op(B) of N x K takes. */
size_t		mlp_gemm_bf16_packed_bytes(int N, int K);

/*
 * C[M, B->N] = alpha * op(A) B + beta * C, with the same bits as mlp_gemm_bf16 on the operand
 * B was packed from when that runs on the AVX512_BF16 kernel (where AMX is the default, its
 * products sum in another order and differ by float rounding).  Same return codes and threads.
 */
int			mlp_gemm_bf16_packed(bool transA, int M, float alpha, const float *A, int lda,
								 const MlpBf16PackedB *B, float beta, float *C, int ldc,
								 MlpGemmEpilogue epi, void *epi_arg);

/* The same product by a naive loop: operands rounded to bf16, sums in double. */
void		mlp_gemm_bf16_reference(bool transA, bool transB, int M, int N, int K,
									float alpha, const float *A, int lda, const float *B,
									int ldb, float beta, float *C, int ldc);

/*
 * y[M] = A[M,N] x + beta * y with A already in bf16 (row-major, lda >= N) and x rounded to
 * bf16, sums in float: one image's layer in bf16 scoring, reading 2 bytes per weight instead
 * of 4.  beta = 0 ignores y.  Returns 0, or -1 without touching y when the CPU lacks
 * AVX512_BF16 or a dimension is not positive.  Reentrant (no shared buffers, no threads).
 */
int			mlp_gemv_bf16(int M, int N, const uint16_t *A, int lda, const float *x, float beta,
						  float *y);

/* The same product by a naive loop, sums in double. */
void		mlp_gemv_bf16_reference(int M, int N, const uint16_t *A, int lda, const float *x,
									float beta, float *y);

/* n floats rounded to bf16 (nearest even). */
void		mlp_floats_to_bf16(const float *src, uint16_t *dst, size_t n);

/* Round to nearest even (NaN stays NaN), and back: the scalar meaning of the conversion. */
uint16_t	mlp_float_to_bf16(float f);
float		mlp_bf16_to_float(uint16_t h);

/* Bytes of packing buffers each thread of the products holds once it has run one. */
size_t		mlp_gemm_bf16_thread_memory(void);

/*
 * The kernel of the products: "amx" (AMX tiles, gemm_amx.c: where the CPU has AMX-BF16, the
 * OS lets the process use the tiles and a first product agreed with the reference), else
 * "avx512_bf16", or "none" without AVX512_BF16.  Products against a pre-packed op(B) (bf16
 * scoring) always run on the AVX512_BF16 kernel.
 */
const char *mlp_gemm_bf16_kernel(void);

/* Tests and benchmarks: AMX on (0, or -1 where it is unavailable) or off (0). */
int			mlp_gemm_bf16_use_amx(bool on);

#endif
