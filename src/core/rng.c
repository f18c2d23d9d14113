/*
 * rng.c - xoshiro256** seeded through splitmix64, and the distributions training needs.
 *
 * Everything here is a pure function of the generator state, with no hidden caches (Box-Muller
 * does not keep its second value), so a generator re-seeded with the same (seed, stream)
 * reproduces the same draws whatever happened before.
 */
#include "rng.h"

#include <math.h>

static inline uint64_t
rotl64(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static inline uint64_t
splitmix64_next(uint64_t *x)
{
	uint64_t	z = (*x += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

void
mlp_rng_seed(MlpRng *rng, uint64_t seed, uint64_t stream)
{
	uint64_t	a = seed;
	uint64_t	b = stream ^ UINT64_C(0xd1b54a32d192ed03);
	uint64_t	x;

	/*
	 * Mix seed and stream through separate splitmix64 steps before combining, so nearby
	 * (seed, stream) pairs such as (1, 2) and (2, 1) give unrelated states.
	 */
	x = splitmix64_next(&a) ^ rotl64(splitmix64_next(&b), 17);
	for (int i = 0; i < 4; i++)
		rng->s[i] = splitmix64_next(&x);
	/* splitmix64 outputs four zero words with negligible probability; xoshiro needs non-zero */
	if ((rng->s[0] | rng->s[1] | rng->s[2] | rng->s[3]) == 0)
		rng->s[0] = 1;
}

uint64_t
mlp_rng_next(MlpRng *rng)
{
	uint64_t   *s = rng->s;
	uint64_t	result = rotl64(s[1] * 5, 7) * 9;
	uint64_t	t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl64(s[3], 45);
	return result;
}

double
mlp_rng_uniform(MlpRng *rng)
{
	return (double) (mlp_rng_next(rng) >> 11) * 0x1.0p-53;
}

double
mlp_rng_uniform_range(MlpRng *rng, double lo, double hi)
{
	return lo + (hi - lo) * mlp_rng_uniform(rng);
}

uint64_t
mlp_rng_below(MlpRng *rng, uint64_t n)
{
	/* Reject the lowest (2^64 mod n) values so that every residue is equally likely. */
	uint64_t	threshold = (0 - n) % n;

	for (;;)
	{
		uint64_t	r = mlp_rng_next(rng);

		if (r >= threshold)
			return r % n;
	}
}

double
mlp_rng_normal(MlpRng *rng)
{
	/* 1 - U lies in (0, 1], so the logarithm is finite */
	double		u1 = 1.0 - mlp_rng_uniform(rng);
	double		u2 = mlp_rng_uniform(rng);

	return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

double
mlp_rng_gamma(MlpRng *rng, double shape)
{
	double		d,
				c;

	if (shape < 1.0)
	{
		/* Gamma(a) = Gamma(a + 1) * U^(1/a) (Marsaglia and Tsang, section 6) */
		double		u = 1.0 - mlp_rng_uniform(rng);

		return mlp_rng_gamma(rng, shape + 1.0) * pow(u, 1.0 / shape);
	}

	d = shape - 1.0 / 3.0;
	c = 1.0 / sqrt(9.0 * d);
	for (;;)
	{
		double		x,
					v,
					u;

		do
		{
			x = mlp_rng_normal(rng);
			v = 1.0 + c * x;
		} while (v <= 0.0);
		v = v * v * v;
		u = mlp_rng_uniform(rng);
		if (u < 1.0 - 0.0331 * (x * x) * (x * x))
			return d * v;
		if (u > 0.0 && log(u) < 0.5 * x * x + d * (1.0 - v + log(v)))
			return d * v;
	}
}

double
mlp_rng_beta(MlpRng *rng, double a, double b)
{
	double		x = mlp_rng_gamma(rng, a);
	double		y = mlp_rng_gamma(rng, b);

	/* both can underflow to 0 for tiny shapes; the mean is the only sensible answer then */
	if (x + y <= 0.0)
		return a / (a + b);
	return x / (x + y);
}

void
mlp_rng_shuffle(MlpRng *rng, int64_t *idx, int64_t n)
{
	for (int64_t i = n - 1; i > 0; i--)
	{
		int64_t		j = (int64_t) mlp_rng_below(rng, (uint64_t) i + 1);
		int64_t		t = idx[i];

		idx[i] = idx[j];
		idx[j] = t;
	}
}
