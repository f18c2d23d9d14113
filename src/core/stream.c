/*
 * stream.c - the quasi-random order of a streamed epoch (stream.h).
 *
 * The RNG streams are apart from the trainer's (trainer.c: (epoch << 32) | step, and the top
 * values) because the seed itself is mixed with a constant of its own: a streamed run draws
 * its augmentation exactly as an in-memory run with the same seed does.
 */
#include "stream.h"

#include "rng.h"

#define STREAM_SEED_MIX	UINT64_C(0x53545245414d4f52)	/* "STREAMOR" */
#define STREAM_RANGES(epoch)			(((uint64_t) (uint32_t) (epoch) << 32) | 0xFFFFFFFFu)
#define STREAM_WINDOW(epoch, window)	(((uint64_t) (uint32_t) (epoch) << 32) | \
										 ((uint64_t) (window) % 0xFFFFFFFFu))

static void
seeded_permutation(uint64_t seed, uint64_t stream, int64_t *order, int64_t n)
{
	MlpRng		rng;

	for (int64_t i = 0; i < n; i++)
		order[i] = i;
	mlp_rng_seed(&rng, seed ^ STREAM_SEED_MIX, stream);
	mlp_rng_shuffle(&rng, order, n);
}

void
mlp_stream_range_order(uint64_t seed, int epoch, int64_t *order, int64_t n)
{
	seeded_permutation(seed, STREAM_RANGES(epoch), order, n);
}

void
mlp_stream_window_order(uint64_t seed, int epoch, int64_t window, int64_t *order, int64_t n)
{
	/* windows past 2^32 - 2 share a stream with an earlier one: still a permutation */
	seeded_permutation(seed, STREAM_WINDOW(epoch, window), order, n);
}
