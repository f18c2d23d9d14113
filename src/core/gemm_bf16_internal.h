/*
 * gemm_bf16_internal.h - what the two bf16 product kernels share: the description of one
 * product, the conversion of floats to bf16 pairs, the in-register transpose and the packing
 * of op(B) into 32-column panels of pairs along K, which both the AVX512_BF16 register block
 * (gemm_bf16.c) and the AMX tiles (gemm_amx.c) read.  Not part of the core's interface.
 *
 * Plain C, no PostgreSQL headers.
 */
#ifndef MLP_GEMM_BF16_INTERNAL_H
#define MLP_GEMM_BF16_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "gemm_bf16.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define HAVE_X86 1
#endif

#define NR 32					/* columns of a packed B panel: two vectors of 16 floats */

/* A thread's two packing buffers (A and B panels), made on first use and kept. */
typedef struct MlpPackBuffers
{
	uint32_t   *a;
	uint32_t   *b;
} MlpPackBuffers;

/* Allocates pb's buffers of a_words and b_words words unless it has them; 0, or -1. */
static inline int
mlp_pack_buffers_get(MlpPackBuffers *pb, size_t a_words, size_t b_words)
{
	if (pb->a == NULL)
	{
		pb->a = aligned_alloc(64, sizeof(uint32_t) * a_words);
		pb->b = aligned_alloc(64, sizeof(uint32_t) * b_words);
		if (pb->a == NULL || pb->b == NULL)
		{
			free(pb->a);
			free(pb->b);
			pb->a = pb->b = NULL;
			return -1;
		}
	}
	return 0;
}

#ifdef HAVE_X86

#define TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16")))

/* ---- one product: operands as given to mlp_gemm_bf16 ----------------------------------- */

typedef struct Gemm
{
	bool		transA,
				transB;
	int			M,
				N,
				K;
	float		alpha,
				beta;
	const float *A;
	int			lda;
	const float *B;
	int			ldb;
	float	   *C;
	int			ldc;
	const MlpBf16PackedB *bp;	/* op(B) packed once, or NULL: packed here */
	MlpGemmEpilogue epi;		/* on each finished tile, or NULL */
	void	   *epi_arg;
} Gemm;

/* The first n of 16 lanes (n clamped to [0, 16]): tails of rows, panels and tiles. */
static inline __mmask16
lanes(int n)
{
	return n >= 16 ? 0xffff : n <= 0 ? 0 : (__mmask16) ((1u << n) - 1);
}

/* Two floats -> one 32-bit word of bf16 (lo in the low half), for 16 lanes. */
TARGET static inline __m512i
pair_words(__m512 lo, __m512 hi)
{
	__m512i		l = _mm512_cvtepu16_epi32((__m256i) _mm512_cvtneps_pbh(lo));
	__m512i		h = _mm512_cvtepu16_epi32((__m256i) _mm512_cvtneps_pbh(hi));

	return _mm512_or_si512(l, _mm512_slli_epi32(h, 16));
}

/*
 * 32 consecutive floats of one row (n of them valid) -> 16 words of bf16 pairs, in order.
 * vcvtne2ps2bf16 puts its second operand in the low half.
 */
TARGET static inline __m512i
row_words(const float *src, int n)
{
	__m512		a = _mm512_maskz_loadu_ps(lanes(n), src);
	__m512		b = _mm512_maskz_loadu_ps(lanes(n - 16), src + 16);

	return (__m512i) _mm512_cvtne2ps_pbh(b, a);
}

/*
 * In-register transpose of a 16 x 16 matrix of 32-bit words: r[i] holds row i on entry and
 * column i on return.  Unpacking words and quadwords transposes the 4 x 4 blocks inside each
 * 128-bit lane; two rounds of lane shuffles put the blocks in place.  64 shuffles for 256
 * words, against one scatter per 16 words.
 */
TARGET static inline void
transpose16(__m512i r[16])
{
	__m512i		t[16],
				u[16];

	for (int i = 0; i < 16; i += 2)
	{
		t[i] = _mm512_unpacklo_epi32(r[i], r[i + 1]);
		t[i + 1] = _mm512_unpackhi_epi32(r[i], r[i + 1]);
	}
	/* u[4g + c], lane L: column 4L + c, rows 4g .. 4g+3 */
	for (int g = 0; g < 4; g++)
	{
		u[4 * g] = _mm512_unpacklo_epi64(t[4 * g], t[4 * g + 2]);
		u[4 * g + 1] = _mm512_unpackhi_epi64(t[4 * g], t[4 * g + 2]);
		u[4 * g + 2] = _mm512_unpacklo_epi64(t[4 * g + 1], t[4 * g + 3]);
		u[4 * g + 3] = _mm512_unpackhi_epi64(t[4 * g + 1], t[4 * g + 3]);
	}
	for (int c = 0; c < 4; c++)
	{
		__m512i		ve = _mm512_shuffle_i32x4(u[c], u[4 + c], 0x88),
					vo = _mm512_shuffle_i32x4(u[c], u[4 + c], 0xdd),
					xe = _mm512_shuffle_i32x4(u[8 + c], u[12 + c], 0x88),
					xo = _mm512_shuffle_i32x4(u[8 + c], u[12 + c], 0xdd);

		r[c] = _mm512_shuffle_i32x4(ve, xe, 0x88);
		r[8 + c] = _mm512_shuffle_i32x4(ve, xe, 0xdd);
		r[4 + c] = _mm512_shuffle_i32x4(vo, xo, 0x88);
		r[12 + c] = _mm512_shuffle_i32x4(vo, xo, 0xdd);
	}
}


/* Row c[0 : nr] (nr <= NR) = alpha * (a0, a1) + beta * c; beta == 0 ignores c, NaN included. */
TARGET static inline void
store_c_row(float *c, __m512 a0, __m512 a1, float alpha, float beta, int nr)
{
	__m512		va = _mm512_set1_ps(alpha);
	__mmask16	m0 = lanes(nr),
				m1 = lanes(nr - 16);
	__m512		r0 = _mm512_mul_ps(va, a0);
	__m512		r1 = _mm512_mul_ps(va, a1);

	if (beta != 0.0f)
	{
		__m512		vb = _mm512_set1_ps(beta);

		r0 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m0, c), r0);
		r1 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m1, c + 16), r1);
	}
	_mm512_mask_storeu_ps(c, m0, r0);
	_mm512_mask_storeu_ps(c + 16, m1, r1);
}

/*
 * Packs op(B)[k0 : k0+kc, j0 : j0+nc] into NR-column panels of bf16 pairs along K (see
 * gemm_bf16.c); panel jr starts at word jr * kstride, kstride >= (kc + 1) / 2.
 */
TARGET void mlp_bf16_pack_b(const Gemm *g, int k0, int kc, int j0, int nc, int kstride,
							uint32_t *dst);

#endif							/* HAVE_X86 */

#endif
