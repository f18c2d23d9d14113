/*
 * peak.c - the machine's physical arithmetic peak, measured: every thread runs a loop of
 * independent register-only multiply-adds (no memory traffic, no dependency longer than the
 * number of accumulators), so the figure is what the FMA pipes can do, not what any kernel
 * does.  Percentages of it carry over between machines; absolute images/s do not.
 *
 *   bench/bin/peak [--threads N] [--seconds S]
 *
 * Prints one RESULT line per instruction that this CPU and OS can run:
 *   fp32    VFMADD on 512-bit registers (AVX-512F), or 256-bit (AVX2 + FMA) without it
 *   bf16    VDPBF16PS on 512-bit registers (AVX512_BF16): 16 lanes x 2 products
 *   amx     TDPBF16PS on full 16x64-byte tiles (AMX-BF16): 16 x 16 x 32 products
 * FLOPs count a multiply-add as 2.  Each figure is the best of 5 repetitions of --seconds
 * (default 0.3) with all threads at once.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <cpuid.h>
#include <immintrin.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "bench_time.h"
#include "amx_tiles.h"

#define REPS 5
#define INNER 1000				/* iterations between clock reads */

typedef double (*Kernel) (long iters);	/* returns FLOPs done */

/* ---- CPU and OS support -------------------------------------------------------------------- */

static int
os_saves_zmm(void)
{
	unsigned	a, b, c, d;

	__cpuid(1, a, b, c, d);
	if (!(c & (1u << 27)))		/* OSXSAVE */
		return 0;
	/* XCR0: SSE, AVX, opmask, ZMM_Hi256, Hi16_ZMM */
	return (_xgetbv(0) & 0xe6) == 0xe6;
}

static int
has_avx2_fma(void)
{
	unsigned	a, b, c, d;

	__cpuid(1, a, b, c, d);
	if (!(c & (1u << 12)))
		return 0;
	__cpuid_count(7, 0, a, b, c, d);
	return (b & (1u << 5)) != 0 && (_xgetbv(0) & 0x6) == 0x6;
}

static int
has_avx512f(void)
{
	unsigned	a, b, c, d;

	__cpuid_count(7, 0, a, b, c, d);
	return (b & (1u << 16)) && os_saves_zmm();
}

static int
has_avx512_bf16(void)
{
	unsigned	a, b, c, d;

	if (!has_avx512f())
		return 0;
	__cpuid_count(7, 1, a, b, c, d);
	return (a & (1u << 5)) != 0;
}

/* AMX-TILE and AMX-BF16, and the kernel's permission to use the tile data (amx_tiles.h). */
static int
has_amx_bf16(void)
{
	return mlp_amx_request();
}

/* ---- kernels ------------------------------------------------------------------------------- */

/*
 * Sixteen independent accumulators in named registers (an array would live in memory): enough
 * to cover a 4-cycle FMA latency on two pipes twice over.  The multipliers keep the values
 * near their start, so nothing overflows or goes denormal however long it runs.
 */
#define ACC16(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13) X(14) X(15)
#define ACC12(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)

__attribute__((target("avx512f"))) static double
fp32_avx512(long iters)
{
	__m512		m = _mm512_set1_ps(0.9999999f);
	__m512		c = _mm512_set1_ps(1e-7f);
	__m512		sum;

#define DECL(i) __m512 a##i = _mm512_set1_ps((float) (i));
#define STEP(i) a##i = _mm512_fmadd_ps(a##i, m, c);
#define SUM(i) sum = _mm512_add_ps(sum, a##i);
	ACC16(DECL)
	for (long it = 0; it < iters; it++)
	{
		ACC16(STEP)
	}
	sum = _mm512_setzero_ps();
	ACC16(SUM)
	__asm__ volatile ("" : : "v" (sum));
#undef DECL
#undef STEP
#undef SUM
	return (double) iters * 16 * 16 * 2;
}

__attribute__((target("avx2,fma"))) static double
fp32_avx2(long iters)
{
	__m256		m = _mm256_set1_ps(0.9999999f);
	__m256		c = _mm256_set1_ps(1e-7f);
	__m256		sum;

#define DECL(i) __m256 a##i = _mm256_set1_ps((float) (i));
#define STEP(i) a##i = _mm256_fmadd_ps(a##i, m, c);
#define SUM(i) sum = _mm256_add_ps(sum, a##i);
	ACC12(DECL)
	for (long it = 0; it < iters; it++)
	{
		ACC12(STEP)
	}
	sum = _mm256_setzero_ps();
	ACC12(SUM)
	__asm__ volatile ("" : : "x" (sum));
#undef DECL
#undef STEP
#undef SUM
	return (double) iters * 12 * 8 * 2;
}

__attribute__((target("avx512f,avx512bf16"))) static double
bf16_avx512(long iters)
{
	/* bf16 pairs (1, 1) and (~1e-6, ~1e-6): the sums grow by ~2e-6 per step */
	__m512bh	x = (__m512bh) _mm512_set1_epi32(0x3f803f80);
	__m512bh	y = (__m512bh) _mm512_set1_epi32(0x358637bd);
	__m512		sum;

#define DECL(i) __m512 a##i = _mm512_set1_ps((float) (i));
#define STEP(i) a##i = _mm512_dpbf16_ps(a##i, x, y);
#define SUM(i) sum = _mm512_add_ps(sum, a##i);
	ACC16(DECL)
	for (long it = 0; it < iters; it++)
	{
		ACC16(STEP)
	}
	sum = _mm512_setzero_ps();
	ACC16(SUM)
	__asm__ volatile ("" : : "v" (sum));
#undef DECL
#undef STEP
#undef SUM
	return (double) iters * 16 * 32 * 2;
}

/*
 * Four accumulator tiles (0-3) fed by two A tiles (4, 5) and two B tiles (6, 7), each
 * 16 rows x 64 bytes: one TDPBF16PS is 16 x 16 x 32 multiply-adds.  The tiles hold zeros
 * (no overflow, no denormals); the unit's speed does not depend on the values.
 */
__attribute__((target("amx-tile,amx-bf16"))) static double
amx_bf16(long iters)
{
	MlpTileConfig cfg;
	static __thread uint8_t zeros[16 * 64] __attribute__((aligned(64)));

	mlp_amx_config_full(&cfg);
	_tile_loadconfig(&cfg);
	_tile_loadd(0, zeros, 64);
	_tile_loadd(1, zeros, 64);
	_tile_loadd(2, zeros, 64);
	_tile_loadd(3, zeros, 64);
	_tile_loadd(4, zeros, 64);
	_tile_loadd(5, zeros, 64);
	_tile_loadd(6, zeros, 64);
	_tile_loadd(7, zeros, 64);
	for (long it = 0; it < iters; it++)
	{
		_tile_dpbf16ps(0, 4, 6);
		_tile_dpbf16ps(1, 4, 7);
		_tile_dpbf16ps(2, 5, 6);
		_tile_dpbf16ps(3, 5, 7);
	}
	_tile_stored(0, zeros, 64);
	_tile_release();
	return (double) iters * 4 * 16 * 16 * 32 * 2;
}

/* ---- running one kernel on every thread ---------------------------------------------------- */

typedef struct Job
{
	Kernel		kernel;
	double		seconds;
	double		flops;
	pthread_barrier_t *start;
} Job;

static void *
run_job(void *arg)
{
	Job		   *j = arg;
	double		t0;

	j->flops = j->kernel(INNER);	/* warm-up: clocks up, AVX-512 license */
	pthread_barrier_wait(j->start);
	t0 = bench_now();
	j->flops = 0;
	do
		j->flops += j->kernel(INNER * 10);
	while (bench_now() - t0 < j->seconds);
	j->seconds = bench_now() - t0;
	return NULL;
}

/* FLOP/s of all threads running kernel at once: the best of REPS. */
static double
measure(Kernel kernel, int threads, double seconds)
{
	double		best = 0;

	for (int r = 0; r < REPS; r++)
	{
		pthread_t  *tid = calloc(threads, sizeof(pthread_t));
		Job		   *jobs = calloc(threads, sizeof(Job));
		pthread_barrier_t start;
		double		total = 0;
		double		longest = 0;

		pthread_barrier_init(&start, NULL, threads);
		for (int t = 0; t < threads; t++)
		{
			jobs[t] = (Job) {kernel, seconds, 0, &start};
			pthread_create(&tid[t], NULL, run_job, &jobs[t]);
		}
		for (int t = 0; t < threads; t++)
		{
			pthread_join(tid[t], NULL);
			total += jobs[t].flops;
			if (jobs[t].seconds > longest)
				longest = jobs[t].seconds;
		}
		pthread_barrier_destroy(&start);
		if (total / longest > best)
			best = total / longest;
		free(tid);
		free(jobs);
	}
	return best;
}

static void
cpu_model(char *buf, size_t len)
{
	FILE	   *f = fopen("/proc/cpuinfo", "r");
	char		line[512];

	snprintf(buf, len, "unknown");
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "model name", 10) == 0)
		{
			char	   *v = strchr(line, ':');

			if (v)
			{
				v += 1 + strspn(v + 1, " \t");
				v[strcspn(v, "\n")] = '\0';
				snprintf(buf, len, "%s", v);
			}
			break;
		}
	fclose(f);
}

int
main(int argc, char **argv)
{
	int			threads = (int) sysconf(_SC_NPROCESSORS_ONLN);
	double		seconds = 0.3;
	char		model[256];

	for (int i = 1; i < argc; i++)
	{
		if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
			threads = atoi(argv[++i]);
		else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
			seconds = atof(argv[++i]);
		else
		{
			fprintf(stderr, "usage: %s [--threads N] [--seconds S]\n", argv[0]);
			return 2;
		}
	}
	if (threads < 1 || seconds <= 0)
	{
		fprintf(stderr, "peak: --threads must be >= 1 and --seconds > 0\n");
		return 2;
	}
	cpu_model(model, sizeof(model));
	printf("RESULT mode=peak cpu=\"%s\" threads=%d", model, threads);
	if (has_avx512f())
		printf(" fp32_isa=avx512 fp32_gflops=%.1f", measure(fp32_avx512, threads, seconds) / 1e9);
	else if (has_avx2_fma())
		printf(" fp32_isa=avx2 fp32_gflops=%.1f", measure(fp32_avx2, threads, seconds) / 1e9);
	if (has_avx512_bf16())
		printf(" bf16_gflops=%.1f", measure(bf16_avx512, threads, seconds) / 1e9);
	if (has_amx_bf16())
		printf(" amx_gflops=%.1f", measure(amx_bf16, threads, seconds) / 1e9);
	printf("\n");
	return 0;
}
