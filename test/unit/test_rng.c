/* test_rng.c - determinism, streams and moments of the distributions of rng.c */
#include "rng.h"
#include "tap.h"

#define N_SAMPLES 400000

static void
test_determinism(void)
{
	MlpRng		a,
				b,
				c,
				d;
	int			same_ab = 1,
				same_ac = 1,
				same_ad = 1;

	mlp_rng_seed(&a, 42, 7);
	mlp_rng_seed(&b, 42, 7);
	mlp_rng_seed(&c, 42, 8);
	mlp_rng_seed(&d, 43, 7);
	for (int i = 0; i < 1000; i++)
	{
		uint64_t	x = mlp_rng_next(&a);

		same_ab &= x == mlp_rng_next(&b);
		same_ac &= x == mlp_rng_next(&c);
		same_ad &= x == mlp_rng_next(&d);
	}
	ok(same_ab, "same seed and stream give the same sequence");
	ok(!same_ac, "different streams give different sequences");
	ok(!same_ad, "different seeds give different sequences");

	/* (1, 2) and (2, 1) must not collide */
	mlp_rng_seed(&a, 1, 2);
	mlp_rng_seed(&b, 2, 1);
	ok(mlp_rng_next(&a) != mlp_rng_next(&b), "swapped seed and stream differ");

	/* re-seeding restarts the sequence even after normals were drawn */
	mlp_rng_seed(&a, 5, 5);
	double		n1 = mlp_rng_normal(&a);

	mlp_rng_seed(&a, 5, 5);
	ok(mlp_rng_normal(&a) == n1, "re-seeding reproduces normals (no hidden cache)");
}

static void
test_uniform(void)
{
	MlpRng		r;
	double		sum = 0,
				sumsq = 0,
				lo = 1,
				hi = 0;
	int			in_range = 1;

	mlp_rng_seed(&r, 1, 0);
	for (int i = 0; i < N_SAMPLES; i++)
	{
		double		u = mlp_rng_uniform(&r);

		in_range &= u >= 0.0 && u < 1.0;
		sum += u;
		sumsq += u * u;
		if (u < lo)
			lo = u;
		if (u > hi)
			hi = u;
	}
	double		mean = sum / N_SAMPLES;
	double		var = sumsq / N_SAMPLES - mean * mean;

	ok(in_range, "uniform in [0, 1)");
	is_close(mean, 0.5, 0, 0.003, "uniform mean 1/2");
	is_close(var, 1.0 / 12, 0, 0.001, "uniform variance 1/12");
	ok(lo < 1e-4 && hi > 1 - 1e-4, "uniform covers the interval (min %g, max %g)", lo, hi);

	int			range_ok = 1;

	for (int i = 0; i < 10000; i++)
	{
		double		u = mlp_rng_uniform_range(&r, -3.0, 5.0);

		range_ok &= u >= -3.0 && u < 5.0;
	}
	ok(range_ok, "uniform_range in [lo, hi)");
}

static void
test_below(void)
{
	MlpRng		r;
	int64_t		counts[7] = {0};
	int			in_range = 1;

	mlp_rng_seed(&r, 3, 0);
	for (int i = 0; i < 70000; i++)
	{
		uint64_t	k = mlp_rng_below(&r, 7);

		in_range &= k < 7;
		if (k < 7)
			counts[k]++;
	}
	ok(in_range, "below(7) in [0, 7)");
	int			balanced = 1;

	for (int k = 0; k < 7; k++)
		balanced &= counts[k] > 9500 && counts[k] < 10500;
	ok(balanced, "below(7) is balanced (counts %lld .. %lld)", (long long) counts[0],
	   (long long) counts[6]);

	int			one_ok = 1;

	for (int i = 0; i < 100; i++)
		one_ok &= mlp_rng_below(&r, 1) == 0;
	ok(one_ok, "below(1) is always 0");

	/* a huge n (just above 2^63) where a naive modulo would be badly biased */
	uint64_t	n = (UINT64_C(1) << 63) + 12345;
	int64_t		upper = 0;

	for (int i = 0; i < 20000; i++)
	{
		uint64_t	k = mlp_rng_below(&r, n);

		if (k >= n / 2)
			upper++;
	}
	is_close((double) upper / 20000, 0.5, 0, 0.02, "below(2^63+c) is uniform over halves");
}

static void
test_normal(void)
{
	MlpRng		r;
	double		s1 = 0,
				s2 = 0,
				s3 = 0,
				s4 = 0;

	mlp_rng_seed(&r, 11, 0);
	for (int i = 0; i < N_SAMPLES; i++)
	{
		double		x = mlp_rng_normal(&r);

		s1 += x;
		s2 += x * x;
		s3 += x * x * x;
		s4 += x * x * x * x;
	}
	is_close(s1 / N_SAMPLES, 0.0, 0, 0.01, "normal mean 0");
	is_close(s2 / N_SAMPLES, 1.0, 0, 0.01, "normal variance 1");
	is_close(s3 / N_SAMPLES, 0.0, 0, 0.03, "normal skewness 0");
	is_close(s4 / N_SAMPLES, 3.0, 0, 0.06, "normal kurtosis 3");
}

static void
test_gamma_beta(void)
{
	MlpRng		r;
	const double shapes[] = {0.3, 0.8, 1.0, 2.5, 9.0};

	mlp_rng_seed(&r, 17, 0);
	for (size_t k = 0; k < sizeof(shapes) / sizeof(shapes[0]); k++)
	{
		double		a = shapes[k],
					s1 = 0,
					s2 = 0;
		int			positive = 1;
		char		name[64];

		for (int i = 0; i < N_SAMPLES; i++)
		{
			double		g = mlp_rng_gamma(&r, a);

			positive &= g >= 0.0 && isfinite(g);
			s1 += g;
			s2 += g * g;
		}
		double		mean = s1 / N_SAMPLES;

		ok(positive, "gamma(%g) finite and non-negative", a);
		snprintf(name, sizeof(name), "gamma(%g) mean %g", a, a);
		is_close(mean, a, 0.01, 0.002, name);
		snprintf(name, sizeof(name), "gamma(%g) variance %g", a, a);
		is_close(s2 / N_SAMPLES - mean * mean, a, 0.03, 0.002, name);
	}

	/* Beta(0.8, 0.8), MixUp's lambda: mean 1/2, variance ab/((a+b)^2 (a+b+1)) = 0.0962 */
	double		s1 = 0,
				s2 = 0;
	int			in01 = 1;

	for (int i = 0; i < N_SAMPLES; i++)
	{
		double		x = mlp_rng_beta(&r, 0.8, 0.8);

		in01 &= x >= 0.0 && x <= 1.0;
		s1 += x;
		s2 += x * x;
	}
	double		mean = s1 / N_SAMPLES;

	ok(in01, "beta(0.8, 0.8) in [0, 1]");
	is_close(mean, 0.5, 0, 0.003, "beta(0.8, 0.8) mean 1/2");
	is_close(s2 / N_SAMPLES - mean * mean, 0.64 / (2.56 * 2.6), 0.02, 0, "beta(0.8, 0.8) variance");

	/* asymmetric: Beta(2, 5) has mean 2/7 */
	s1 = 0;
	for (int i = 0; i < N_SAMPLES; i++)
		s1 += mlp_rng_beta(&r, 2.0, 5.0);
	is_close(s1 / N_SAMPLES, 2.0 / 7.0, 0, 0.003, "beta(2, 5) mean 2/7");
}

static void
test_shuffle(void)
{
	MlpRng		r;
	enum
	{
	N = 1000};
	int64_t		idx[N];
	int			seen[N] = {0};
	int			perm = 1,
				moved = 0;

	mlp_rng_seed(&r, 99, 0);
	for (int i = 0; i < N; i++)
		idx[i] = i;
	mlp_rng_shuffle(&r, idx, N);
	for (int i = 0; i < N; i++)
	{
		if (idx[i] < 0 || idx[i] >= N || seen[idx[i]]++)
			perm = 0;
		moved += idx[i] != i;
	}
	ok(perm, "shuffle is a permutation");
	ok(moved > N * 9 / 10, "shuffle moves most elements (%d of %d)", moved, N);

	/* position of element 0 after shuffling 4 elements is uniform */
	int			pos[4] = {0};

	for (int t = 0; t < 40000; t++)
	{
		int64_t		s[4] = {0, 1, 2, 3};

		mlp_rng_shuffle(&r, s, 4);
		for (int i = 0; i < 4; i++)
			if (s[i] == 0)
				pos[i]++;
	}
	ok(pos[0] > 9500 && pos[1] > 9500 && pos[2] > 9500 && pos[3] > 9500,
	   "shuffle positions uniform (%d %d %d %d)", pos[0], pos[1], pos[2], pos[3]);

	int64_t		empty[1] = {5};

	mlp_rng_shuffle(&r, empty, 0);
	mlp_rng_shuffle(&r, empty, 1);
	ok(empty[0] == 5, "shuffle of 0 and 1 elements is a no-op");
}

int
main(void)
{
	test_determinism();
	test_uniform();
	test_below();
	test_normal();
	test_gamma_beta();
	test_shuffle();
	return tap_done();
}
