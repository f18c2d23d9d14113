/*
 * bench_time.h - the clock and the ordering the C benchmarks time and take medians with.
 */
#ifndef MLP_BENCH_TIME_H
#define MLP_BENCH_TIME_H

#include "clock.h"

/* Monotonic wall time in seconds. */
static inline double
bench_now(void)
{
	return mlp_seconds_now();
}

/* qsort comparator of doubles, for medians. */
static inline int
bench_cmp_double(const void *a, const void *b)
{
	double		x = *(const double *) a;
	double		y = *(const double *) b;

	return (x > y) - (x < y);
}

#endif
