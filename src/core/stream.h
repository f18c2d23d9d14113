/*
 * stream.h - the quasi-random order of a streamed epoch (FFCV's QUASI_RANDOM, in spirit).
 *
 * A source too large for memory is read in ranges (of table blocks, or of a cursor's rows)
 * into a window buffer whose rows are shuffled before they are trained on.  Every draw is
 * derived from (seed, epoch[, window]), never carried over, so an epoch's order is the same
 * in every run with that seed, resumed or not, and differs between epochs and seeds.
 * Plain C, no PostgreSQL: unit-tested in test/unit/test_stream.c.
 */
#ifndef MLP_STREAM_H
#define MLP_STREAM_H

#include <stdint.h>

/* order[0..n) = a permutation of 0..n-1: the order in which an epoch reads its n ranges. */
void		mlp_stream_range_order(uint64_t seed, int epoch, int64_t *order, int64_t n);

/*
 * order[0..n) = a permutation of 0..n-1: the order in which the n rows of window `window`
 * (0-based, counted within the epoch) are trained on.
 */
void		mlp_stream_window_order(uint64_t seed, int epoch, int64_t window, int64_t *order,
									int64_t n);

#endif
