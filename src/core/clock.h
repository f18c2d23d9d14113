/*
 * clock.h - seconds of the monotonic clock, for timings (the trainer's images per second,
 * the benchmarks, the loader's progress) and the thread pool's spin limit.
 */
#ifndef MLP_CLOCK_H
#define MLP_CLOCK_H

#include <time.h>

static inline double
mlp_seconds_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + ts.tv_nsec * 1e-9;
}

#endif
