/*
 * rng.h - deterministic seeded random numbers (xoshiro256** seeded through splitmix64).
 *
 * Every random decision of training draws from an MlpRng derived from (seed, stream), so the
 * same seed, data and thread count give bit-identical weights, and a resumed run draws the
 * same numbers for a given epoch and step as an uninterrupted one.
 */
#ifndef MLP_RNG_H
#define MLP_RNG_H

#include <stdint.h>

typedef struct MlpRng
{
	uint64_t	s[4];
} MlpRng;

/* Seeds from a user seed and a stream id (e.g. epoch * 2^32 + step). */
void		mlp_rng_seed(MlpRng *rng, uint64_t seed, uint64_t stream);
uint64_t	mlp_rng_next(MlpRng *rng);
/* Uniform in [0, 1) with 53 random bits. */
double		mlp_rng_uniform(MlpRng *rng);
/* Uniform in [lo, hi). */
double		mlp_rng_uniform_range(MlpRng *rng, double lo, double hi);
/* Uniform integer in [0, n), unbiased; n > 0. */
uint64_t	mlp_rng_below(MlpRng *rng, uint64_t n);
/* Standard normal. */
double		mlp_rng_normal(MlpRng *rng);
/* Gamma(shape, 1), shape > 0 (Marsaglia-Tsang, boosted for shape < 1). */
double		mlp_rng_gamma(MlpRng *rng, double shape);
/* Beta(a, b), a, b > 0. */
double		mlp_rng_beta(MlpRng *rng, double a, double b);
/* Fisher-Yates shuffle of idx[0..n). */
void		mlp_rng_shuffle(MlpRng *rng, int64_t *idx, int64_t n);

#endif
