/*
 * gemm_bf16.c - matrix products with bfloat16 operands and float accumulation.
 *
 * Why: both mlpscale and PyTorch reach ~205 GFLOP/s with OpenBLAS SGEMM on this kind of
 * machine, near the FP32 peak, so FP32 cannot go further.  CPUs with AVX512_BF16 execute
 * VDPBF16PS (16 lanes, each the sum of two bf16 products added to a float) at the issue rate
 * of a float FMA: twice the FLOPs.  This is the mixed precision GPUs train these models with:
 * operands rounded to bf16 (round to nearest even), products summed in float, weights,
 * gradients and optimizer state kept in float.
 *
 * Layout (Goto/BLIS): C is cut into blocks of NC columns and K into slices of KC; a slice of
 * op(B) is packed into NR-column panels and a block of op(A) into MR-row panels, both
 * converted to bf16 pairs along K as they are packed, and a 14 x 32 register-blocked kernel
 * (28 accumulators) runs over them.  Each output element is summed in the same order whatever
 * the thread count, so results do not depend on it.
 *
 * Threads: our own pool (thread_pool.h), because OpenBLAS's threads are not ours to schedule;
 * the product is split into one independent part per thread (rows of C, or columns when there
 * are more of them), each thread packing what it reads.
 *
 * Plain C, no PostgreSQL headers.  Compiled for AVX512_BF16 by function attributes so the file
 * builds whatever -march says; callers check mlp_gemm_bf16_supported() first.
 */
#include "gemm_bf16.h"

#include "gemm_amx.h"
#include "gemm_bf16_internal.h"
#include "thread_pool.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MR 14					/* rows of the register block: 14 x 2 accumulators */
#define KC 256					/* K per slice, even: 128 bf16 pairs */
#define MC (MR * 24)			/* rows per packed block of A (~168 KB of L2) */
#define NC 2048					/* columns per packed slice of B (~1 MB, L2 + L3) */
#ifndef GROUP_TILES
/* register blocks of rows per group of a packed-B product: 1 measured 6 % faster than 2 at
 * batch 256 (finer balance at the end of each product), 4 slower */
#define GROUP_TILES 1
#endif

/* ---- round to bfloat16, the scalar reference of VCVTNEPS2BF16 ---------------------------- */

uint16_t
mlp_float_to_bf16(float f)
{
	uint32_t	u;

	memcpy(&u, &f, sizeof(u));
	if ((u & 0x7fffffffu) > 0x7f800000u)	/* NaN: keep it quiet */
		return (uint16_t) ((u >> 16) | 0x40);
	u += 0x7fffu + ((u >> 16) & 1);	/* round to nearest, ties to even */
	return (uint16_t) (u >> 16);
}

float
mlp_bf16_to_float(uint16_t h)
{
	uint32_t	u = (uint32_t) h << 16;
	float		f;

	memcpy(&f, &u, sizeof(f));
	return f;
}

bool
mlp_gemm_bf16_supported(void)
{
#ifdef HAVE_X86
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
		__builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bf16");
#else
	return false;
#endif
}

void
mlp_gemm_bf16_reference(bool transA, bool transB, int M, int N, int K,
						float alpha, const float *A, int lda, const float *B, int ldb,
						float beta, float *C, int ldc)
{
	for (int i = 0; i < M; i++)
		for (int j = 0; j < N; j++)
		{
			double		s = 0.0;

			for (int k = 0; k < K; k++)
			{
				float		a = transA ? A[(size_t) k * lda + i] : A[(size_t) i * lda + k];
				float		b = transB ? B[(size_t) j * ldb + k] : B[(size_t) k * ldb + j];

				s += (double) mlp_bf16_to_float(mlp_float_to_bf16(a)) *
					(double) mlp_bf16_to_float(mlp_float_to_bf16(b));
			}
			C[(size_t) i * ldc + j] = (float) (alpha * s +
											   (beta == 0.0f ? 0.0 : (double) beta * C[(size_t) i * ldc + j]));
		}
}

#ifdef HAVE_X86

/*
 * Packs op(A)[i0 : i0+mc, k0 : k0+kc] into MR-row panels: for each pair p of K, the MR words
 * (A(i, 2p), A(i, 2p+1)) of the panel's rows.  Rows past mc and the odd K tail are zero.
 */
TARGET static void
pack_a(const Gemm *g, int i0, int mc, int k0, int kc, uint32_t *dst)
{
	int			kp = (kc + 1) / 2;

	for (int ir = 0; ir < mc; ir += MR)
	{
		int			mr = mc - ir < MR ? mc - ir : MR;
		uint32_t   *d = dst + (size_t) ir * kp;

		if (!g->transA)
		{
			/*
			 * Rows are contiguous along K: 16 pairs of each of the panel's rows (16 rows, the
			 * last two zero), transposed, give 16 pairs' MR words each.
			 */
			for (int p = 0; p < kp; p += 16)
			{
				__m512i		w[16];
				int			np = kp - p < 16 ? kp - p : 16;

				for (int i = 0; i < 16; i++)
					w[i] = i < mr ? row_words(g->A + (size_t) (i0 + ir + i) * g->lda + k0 + 2 * p,
											  kc - 2 * p)
						: _mm512_setzero_si512();
				transpose16(w);
				for (int j = 0; j < np; j++)
					_mm512_mask_storeu_epi32(d + (size_t) (p + j) * MR, lanes(MR), w[j]);
			}
		}
		else
		{
			/* A stored [K, M]: rows 2p and 2p+1 hold the panel's MR values side by side */
			__mmask16	m = lanes(mr);

			for (int p = 0; p < kp; p++)
			{
				const float *r0 = g->A + (size_t) (k0 + 2 * p) * g->lda + i0 + ir;
				__m512		lo = _mm512_maskz_loadu_ps(m, r0);
				__m512		hi = 2 * p + 1 < kc ? _mm512_maskz_loadu_ps(m, r0 + g->lda)
					: _mm512_setzero_ps();

				_mm512_mask_storeu_epi32(d + (size_t) p * MR, lanes(MR), pair_words(lo, hi));
			}
		}
	}
}

/*
 * Packs op(B)[k0 : k0+kc, j0 : j0+nc] into NR-column panels: for each pair p of K, the NR
 * words (B(2p, j), B(2p+1, j)); panel jr starts at word jr * kstride (kstride >= the kp pairs
 * of the slice, the pairs past kp zero).  Columns past nc and the odd K tail are zero.
 */
TARGET void
mlp_bf16_pack_b(const Gemm *g, int k0, int kc, int j0, int nc, int kstride, uint32_t *dst)
{
	int			kp = (kc + 1) / 2;

	for (int jr = 0; jr < nc; jr += NR)
	{
		int			nr = nc - jr < NR ? nc - jr : NR;
		uint32_t   *d = dst + (size_t) jr * kstride;

		for (int p = kp; p < kstride; p++)
		{
			_mm512_storeu_si512(d + (size_t) p * NR, _mm512_setzero_si512());
			_mm512_storeu_si512(d + (size_t) p * NR + 16, _mm512_setzero_si512());
		}
		if (!g->transB)
		{
			/* B stored [K, N]: rows 2p and 2p+1 hold the panel's columns side by side */
			__mmask16	m0 = lanes(nr),
						m1 = lanes(nr - 16);

			for (int p = 0; p < kp; p++)
			{
				const float *r0 = g->B + (size_t) (k0 + 2 * p) * g->ldb + j0 + jr;
				bool		odd = 2 * p + 1 < kc;
				__m512		lo0 = _mm512_maskz_loadu_ps(m0, r0);
				__m512		lo1 = _mm512_maskz_loadu_ps(m1, r0 + 16);
				__m512		hi0 = odd ? _mm512_maskz_loadu_ps(m0, r0 + g->ldb) : _mm512_setzero_ps();
				__m512		hi1 = odd ? _mm512_maskz_loadu_ps(m1, r0 + g->ldb + 16) : _mm512_setzero_ps();

				_mm512_storeu_si512(d + (size_t) p * NR, pair_words(lo0, hi0));
				_mm512_storeu_si512(d + (size_t) p * NR + 16, pair_words(lo1, hi1));
			}
		}
		else
		{
			/* B stored [N, K]: columns contiguous along K; 16 columns at a time, transposed */
			for (int h = 0; h < NR; h += 16)
				for (int p = 0; p < kp; p += 16)
				{
					__m512i		w[16];
					int			np = kp - p < 16 ? kp - p : 16;

					for (int j = 0; j < 16; j++)
						w[j] = h + j < nr ? row_words(g->B + (size_t) (j0 + jr + h + j) * g->ldb + k0 + 2 * p,
													  kc - 2 * p)
							: _mm512_setzero_si512();
					transpose16(w);
					for (int q = 0; q < np; q++)
						_mm512_storeu_si512(d + (size_t) (p + q) * NR + h, w[q]);
				}
		}
	}
}

/*
 * The register block: acc[MR][NR] = sum over kp pairs of a-panel x b-panel, then
 * C = alpha * acc + beta * C for the mr x nr corner that exists (beta == 0 ignores C).
 */
TARGET static void
kernel(int kp, const uint32_t *restrict a, const uint32_t *restrict b, float *C, int ldc,
	   int mr, int nr, float alpha, float beta)
{
	__m512		c[MR][2];

	for (int i = 0; i < MR; i++)
		c[i][0] = c[i][1] = _mm512_setzero_ps();
	/* C is read and written after the loop, and is seldom in cache: start fetching it now */
	for (int i = 0; i < mr; i++)
	{
		_mm_prefetch((const char *) (C + (size_t) i * ldc), _MM_HINT_T0);
		_mm_prefetch((const char *) (C + (size_t) i * ldc + 16), _MM_HINT_T0);
	}

	for (int p = 0; p < kp; p++)
	{
		__m512bh	b0 = (__m512bh) _mm512_loadu_si512(b);
		__m512bh	b1 = (__m512bh) _mm512_loadu_si512(b + 16);

		_mm_prefetch((const char *) (b + 4 * NR), _MM_HINT_T0);
#pragma GCC unroll 14
		for (int i = 0; i < MR; i++)
		{
			__m512bh	av = (__m512bh) _mm512_set1_epi32((int) a[i]);

			c[i][0] = _mm512_dpbf16_ps(c[i][0], av, b0);
			c[i][1] = _mm512_dpbf16_ps(c[i][1], av, b1);
		}
		a += MR;
		b += NR;
	}

	for (int i = 0; i < mr; i++)
		store_c_row(C + (size_t) i * ldc, c[i][0], c[i][1], alpha, beta, nr);
}

/* Per-thread packing buffers (MC x KC/2 and NC x KC/2 words), kept between products. */
typedef MlpPackBuffers PackBuffers;

static int
pack_buffers_get(PackBuffers *pb)
{
	return mlp_pack_buffers_get(pb, (size_t) MC * (KC / 2), (size_t) NC * (KC / 2));
}

/*
 * Layout of a packed op(B): K slice s (KC rows of K, the last one shorter) starts at word
 * s * KC/2 * npad and holds the npad / NR panels of pack_b, panel jr at jr * kp words.
 */
static inline const uint32_t *
packed_slice(const MlpBf16PackedB *bp, int pc)
{
	return bp->words + (size_t) (pc / 2) * bp->npad;
}

/* C[i0 : i0+m, j0 : j0+n] of the product, sequentially. */
TARGET static void
gemm_part(const Gemm *g, int i0, int m, int j0, int n, PackBuffers *pb)
{
	for (int jc = j0; jc < j0 + n; jc += NC)
	{
		int			nc = j0 + n - jc < NC ? j0 + n - jc : NC;

		for (int pc = 0; pc < g->K; pc += KC)
		{
			int			kc = g->K - pc < KC ? g->K - pc : KC;
			int			kp = (kc + 1) / 2;
			float		beta = pc == 0 ? g->beta : 1.0f;
			float		alpha = g->alpha;

			bool		last = pc + kc >= g->K;
			const uint32_t *bpan;

			if (g->bp != NULL)
				bpan = packed_slice(g->bp, pc) + (size_t) jc * kp;
			else
			{
				mlp_bf16_pack_b(g, pc, kc, jc, nc, kp, pb->b);
				bpan = pb->b;
			}
			for (int ic = i0; ic < i0 + m; ic += MC)
			{
				int			mc = i0 + m - ic < MC ? i0 + m - ic : MC;

				pack_a(g, ic, mc, pc, kc, pb->a);
				for (int jr = 0; jr < nc; jr += NR)
					for (int ir = 0; ir < mc; ir += MR)
					{
						float	   *c = g->C + (size_t) (ic + ir) * g->ldc + jc + jr;
						int			mr = mc - ir < MR ? mc - ir : MR,
									nr = nc - jr < NR ? nc - jr : NR;

						kernel(kp, pb->a + (size_t) ir * kp, bpan + (size_t) jr * kp,
							   c, g->ldc, mr, nr, alpha, beta);
						/* the tile is in L1 now: finish it before it leaves */
						if (last && g->epi != NULL)
							g->epi(g->epi_arg, c, g->ldc, ic + ir, jc + jr, mr, nr);
					}
			}
		}
	}
}

/*
 * One product cut into parts: one per thread (whole register blocks of rows, or of columns),
 * or, with op(B) packed beforehand, groups of rows that the threads take in turn as they
 * finish, so that a thread slowed by another process on its core does not hold the others
 * up.  Every element is summed in the same order whichever thread computes it.
 */
typedef struct GemmTask
{
	const Gemm *g;
	bool		split_rows;
	bool		amx;			/* AMX tiles (gemm_amx.c) instead of the register block */
	int			unit;
	int			groups;			/* > 0: rows in groups of `unit`, taken from `next` */
	atomic_int	next;
} GemmTask;

/* one per part; parts never outnumber the pool's threads */
static PackBuffers part_buffers[MLP_POOL_MAX_THREADS];

TARGET static void
gemm_task(void *arg, int part, int parts)
{
	GemmTask   *task = arg;
	const Gemm *g = task->g;
	int			extent = task->split_rows ? g->M : g->N;
	int			blocks = (extent + task->unit - 1) / task->unit;
	int			b0 = (int) ((int64_t) blocks * part / parts);
	int			b1 = (int) ((int64_t) blocks * (part + 1) / parts);
	int			lo = b0 * task->unit;
	int			hi = b1 * task->unit < extent ? b1 * task->unit : extent;

	if (task->groups > 0)
	{
		int			k;

		while ((k = atomic_fetch_add_explicit(&task->next, 1, memory_order_relaxed)) < task->groups)
		{
			lo = k * task->unit;
			hi = lo + task->unit < g->M ? lo + task->unit : g->M;
			gemm_part(g, lo, hi - lo, 0, g->N, &part_buffers[part]);
		}
		return;
	}
	if (hi <= lo)
		return;
	{
		int			i0 = task->split_rows ? lo : 0,
					m = task->split_rows ? hi - lo : g->M,
					j0 = task->split_rows ? 0 : lo,
					n = task->split_rows ? g->N : hi - lo;

		if (task->amx)
			mlp_gemm_amx_part(g, i0, m, j0, n, part);
		else
			gemm_part(g, i0, m, j0, n, &part_buffers[part]);
	}
}

/* ---- matrix-vector products with a bf16 matrix ------------------------------------------- */

/*
 * y[M] += A[M,N] x: A already bf16, x rounded once to bf16 in the same memory order, so
 * that VDPBF16PS pairs element 2w with 2w and 2w+1 with 2w+1; 32 columns per instruction,
 * two accumulators per row to cover its latency.
 */
TARGET static void
gemv_bf16_rows(int M, int N, const uint16_t *A, int lda, const float *x, float *y)
{
	int			np = N / 32;
	int			tail = N - np * 32;
	__m512i    *xp = NULL;
	__m512i		xt = _mm512_setzero_si512();

	xp = (__m512i *) aligned_alloc(64, sizeof(__m512i) * (size_t) (np > 0 ? np : 1));
	for (int j = 0; j < np; j++)
		xp[j] = (__m512i) _mm512_cvtne2ps_pbh(_mm512_loadu_ps(x + 32 * j + 16),
											  _mm512_loadu_ps(x + 32 * j));
	if (tail > 0)
	{
		float		buf[32] = {0};

		memcpy(buf, x + 32 * np, sizeof(float) * tail);
		xt = (__m512i) _mm512_cvtne2ps_pbh(_mm512_loadu_ps(buf + 16), _mm512_loadu_ps(buf));
	}
	for (int i = 0; i < M; i++)
	{
		const uint16_t *a = A + (size_t) i * lda;
		__m512		acc0 = _mm512_setzero_ps(),
					acc1 = _mm512_setzero_ps();
		int			j = 0;

		for (; j + 1 < np; j += 2)
		{
			acc0 = _mm512_dpbf16_ps(acc0, (__m512bh) _mm512_loadu_si512(a + 32 * j), (__m512bh) xp[j]);
			acc1 = _mm512_dpbf16_ps(acc1, (__m512bh) _mm512_loadu_si512(a + 32 * j + 32), (__m512bh) xp[j + 1]);
		}
		for (; j < np; j++)
			acc0 = _mm512_dpbf16_ps(acc0, (__m512bh) _mm512_loadu_si512(a + 32 * j), (__m512bh) xp[j]);
		if (tail > 0)
		{
			/* the last columns, zero-padded to 32 */
			uint16_t	buf[32] = {0};

			memcpy(buf, a + 32 * np, sizeof(uint16_t) * tail);
			acc1 = _mm512_dpbf16_ps(acc1, (__m512bh) _mm512_loadu_si512(buf), (__m512bh) xt);
		}
		y[i] += _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
	}
	free(xp);
}

#endif							/* HAVE_X86 */

/* Runs g on the pool; 0, or -1 without touching C. */
static int
gemm_run(Gemm *g)
{
#ifdef HAVE_X86
	static int	supported = -1;
	/* AMX where the CPU has it, for products whose op(B) is packed here */
	bool		amx = g->bp == NULL && mlp_gemm_amx_active();
	GemmTask	task = {g, g->M >= g->N, amx, g->M >= g->N ? (amx ? MLP_AMX_ROWS : MR) : NR, 0, 0};
	int			parts = mlp_pool_threads();
	int			blocks = ((task.split_rows ? g->M : g->N) + task.unit - 1) / task.unit;

	/*
	 * Packed op(B) is shared, read-only: each thread packs only the rows of A it computes,
	 * GROUP_TILES register blocks of rows at a time.
	 */
	if (g->bp != NULL && parts > 1)
	{
		task.split_rows = true;
		task.unit = MR * GROUP_TILES;
		task.groups = (g->M + task.unit - 1) / task.unit;
		blocks = task.groups;
		atomic_init(&task.next, 0);
	}

	if (supported < 0)
		supported = mlp_gemm_bf16_supported();
	if (!supported || g->M <= 0 || g->N <= 0 || g->K <= 0)
		return -1;

	/*
	 * A thread per part only where every part keeps several register blocks; small products
	 * run on the caller alone (waking a worker costs more than it saves).
	 */
	if ((double) g->M * g->N * g->K < 4.0e6)
		parts = 1;
	if (parts > blocks)
		parts = blocks;
	/* every buffer before any part starts, so that a failure leaves C untouched */
	for (int t = 0; t < parts; t++)
		if ((amx ? mlp_gemm_amx_buffers(t) : pack_buffers_get(&part_buffers[t])) != 0)
			return -1;
	mlp_pool_run(gemm_task, &task, parts);
	return 0;
#else
	(void) g;
	return -1;
#endif
}

int
mlp_gemm_bf16(bool transA, bool transB, int M, int N, int K,
			  float alpha, const float *A, int lda, const float *B, int ldb,
			  float beta, float *C, int ldc)
{
	return mlp_gemm_bf16_ex(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc,
							NULL, NULL);
}

int
mlp_gemm_bf16_ex(bool transA, bool transB, int M, int N, int K,
				 float alpha, const float *A, int lda, const float *B, int ldb,
				 float beta, float *C, int ldc, MlpGemmEpilogue epi, void *epi_arg)
{
	Gemm		g = {transA, transB, M, N, K, alpha, beta, A, lda, B, ldb, C, ldc,
	NULL, epi, epi_arg};

	return gemm_run(&g);
}

int
mlp_gemm_bf16_packed(bool transA, int M, float alpha, const float *A, int lda,
					 const MlpBf16PackedB *B, float beta, float *C, int ldc,
					 MlpGemmEpilogue epi, void *epi_arg)
{
	Gemm		g = {transA, false, M, B->N, B->K, alpha, beta, A, lda, NULL, 0, C, ldc,
	B, epi, epi_arg};

	if (B->words == NULL)
		return -1;
	return gemm_run(&g);
}

int
mlp_gemm_bf16_pack_b(bool transB, int N, int K, const float *B, int ldb, MlpBf16PackedB *out)
{
	memset(out, 0, sizeof(*out));
#ifdef HAVE_X86
	if (!mlp_gemm_bf16_supported() || N <= 0 || K <= 0)
		return -1;
	{
		int			npad = (N + NR - 1) / NR * NR;
		size_t		words = (size_t) npad * ((K + 1) / 2);
		uint32_t   *w = aligned_alloc(64, sizeof(uint32_t) * ((words + 15) / 16 * 16));
		Gemm		g = {false, transB, 0, N, K, 1.0f, 0.0f, NULL, 0, B, ldb, NULL, 0,
		NULL, NULL, NULL};

		if (w == NULL)
			return -1;
		out->N = N;
		out->K = K;
		out->npad = npad;
		out->words = w;
		for (int pc = 0; pc < K; pc += KC)
		{
			int			kc = K - pc < KC ? K - pc : KC;

			mlp_bf16_pack_b(&g, pc, kc, 0, N, (kc + 1) / 2, (uint32_t *) packed_slice(out, pc));
		}
		return 0;
	}
#else
	(void) transB;
	(void) B;
	(void) ldb;
	return -1;
#endif
}

void
mlp_gemm_bf16_packed_free(MlpBf16PackedB *p)
{
	free(p->words);
	memset(p, 0, sizeof(*p));
}

size_t
mlp_gemm_bf16_packed_bytes(int N, int K)
{
	return sizeof(uint32_t) * (size_t) ((N + NR - 1) / NR * NR) * ((K + 1) / 2);
}

int
mlp_gemv_bf16(int M, int N, const uint16_t *A, int lda, const float *x, float beta, float *y)
{
#ifdef HAVE_X86
	static int	supported = -1;

	if (supported < 0)
		supported = mlp_gemm_bf16_supported();
	if (!supported || M <= 0 || N <= 0)
		return -1;
	if (beta == 0.0f)
		memset(y, 0, sizeof(float) * M);
	else if (beta != 1.0f)
		for (int i = 0; i < M; i++)
			y[i] *= beta;
	gemv_bf16_rows(M, N, A, lda, x, y);
	return 0;
#else
	return -1;
#endif
}

void
mlp_gemv_bf16_reference(int M, int N, const uint16_t *A, int lda, const float *x, float beta,
						float *y)
{
	for (int i = 0; i < M; i++)
	{
		double		s = 0.0;

		for (int k = 0; k < N; k++)
			s += (double) mlp_bf16_to_float(A[(size_t) i * lda + k]) *
				mlp_bf16_to_float(mlp_float_to_bf16(x[k]));
		y[i] = (float) (s + (beta == 0.0f ? 0.0 : (double) beta * y[i]));
	}
}

void
mlp_floats_to_bf16(const float *src, uint16_t *dst, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = mlp_float_to_bf16(src[i]);
}

size_t
mlp_gemm_bf16_thread_memory(void)
{
	return sizeof(uint32_t) * ((size_t) MC * (KC / 2) + (size_t) NC * (KC / 2)) +
		(mlp_gemm_amx_active() ? mlp_gemm_amx_thread_memory() : 0);
}

const char *
mlp_gemm_bf16_kernel(void)
{
	if (!mlp_gemm_bf16_supported())
		return "none";
	return mlp_gemm_amx_active() ? "amx" : "avx512_bf16";
}

