/*
 * simd.h - portable vectors for the element-wise kernels of the core.
 *
 * GCC vector extensions sized to the widest unit the build targets (-march), so loops
 * vectorise without intrinsics or -ffast-math, and the same source builds for AVX-512, AVX2
 * and plain x86-64.  Loads and stores go through memcpy: no alignment is assumed.
 */
#ifndef MLP_SIMD_H
#define MLP_SIMD_H

#include <stdint.h>
#include <string.h>

#if defined(__FMA__) || defined(__AVX512F__)
#include <immintrin.h>
#endif

#if defined(__AVX512F__)
#define VLEN 16
#elif defined(__AVX__)
#define VLEN 8
#else
#define VLEN 4
#endif

typedef float vf __attribute__((vector_size(VLEN * sizeof(float))));
typedef int32_t vi __attribute__((vector_size(VLEN * sizeof(float))));

static inline vf
vload(const float *p)
{
	vf			v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static inline void
vstore(float *p, vf v)
{
	memcpy(p, &v, sizeof(v));
}

static inline vf
vsplat(float x)
{
	return (vf) {0} + x;
}

/* mask ? a : b, lane by lane (mask lanes are all ones or all zeros). */
static inline vf
vselect(vi mask, vf a, vf b)
{
	return (vf) (((vi) a & mask) | ((vi) b & ~mask));
}

static inline vf
vclamp(vf x, float lo, float hi)
{
	x = vselect(x < vsplat(lo), vsplat(lo), x);
	return vselect(x > vsplat(hi), vsplat(hi), x);
}

/*
 * a * b + c.  Where the build has FMA, rounded once (the fused instruction); elsewhere twice.
 * Written out rather than left to the compiler's contraction (off in ISO C mode), so that the
 * same expression gives the same bits wherever it is inlined.
 */
static inline vf
vfma(vf a, vf b, vf c)
{
#if VLEN == 16
	return (vf) _mm512_fmadd_ps((__m512) a, (__m512) b, (__m512) c);
#elif VLEN == 8 && defined(__FMA__)
	return (vf) _mm256_fmadd_ps((__m256) a, (__m256) b, (__m256) c);
#elif VLEN == 4 && defined(__FMA__)
	return (vf) _mm_fmadd_ps((__m128) a, (__m128) b, (__m128) c);
#else
	return a * b + c;
#endif
}

static inline float
vsum(vf v)
{
	float		s = 0.0f;

	for (int k = 0; k < VLEN; k++)
		s += v[k];
	return s;
}

#endif
