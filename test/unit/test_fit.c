/*
 * test_fit.c - the power-law fit and the compute-optimal frontier (src/core/fit.h).
 *
 * Curves of known parameters across 7 decades of compute, exact and with seeded Gaussian
 * noise (the core's RNG), every refusal, SciPy's curve_fit on the points of
 * test/fixtures/fit_fixture.h (make_fit_fixture.py), the frontier of a hand-made grid and
 * the exponents of a grid built with P* = 0.5·C^0.35, N* = C^0.65 / 3.
 *
 * Tolerances.  Exact points: the parameters to 1e-5 relative (the fit stops at a relative
 * reduction of 1e-14 of the sum of squares; b, the least determined, to 1e-3).  Noisy
 * points (sd 0.002 on errors of 0.08-0.52): the rmse within 30 % of the noise, alpha within
 * 0.03 and e_inf within 0.01 of the truth, the fitted curve within 0.003 of the true one at
 * every point.  Against SciPy: an rmse no worse than SciPy's by more than 1e-6 relative,
 * and the curve within 1e-4 of SciPy's at every point (the parameters of a noisy fit can
 * trade off along a flat valley, the fitted values cannot).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "fit.h"
#include "rng.h"
#include "tap.h"

#include "../fixtures/fit_fixture.h"

#define NPTS 30

/* is_int with a formatted name. */
#define is_intf(got, want, ...) do { \
	long long	got_ = (long long) (got), want_ = (long long) (want); \
	if (!ok(got_ == want_, __VA_ARGS__)) \
		diag("  got %lld, want %lld", got_, want_); \
} while (0)

static double
true_curve(double a, double b, double alpha, double einf, double c)
{
	return a * pow(b + c, -alpha) + einf;
}

/* NPTS points log-spaced over [10^lo, 10^hi], with noise of sd (0: none) seeded. */
static void
make_points(double a, double b, double alpha, double einf, double lo, double hi, double sd,
			uint64_t seed, double *c, double *e)
{
	MlpRng		rng;

	mlp_rng_seed(&rng, seed, 0);
	for (int i = 0; i < NPTS; i++)
	{
		c[i] = pow(10.0, lo + (hi - lo) * i / (NPTS - 1));
		e[i] = true_curve(a, b, alpha, einf, c[i]) + sd * mlp_rng_normal(&rng);
	}
}

static void
test_exact(void)
{
	double		c[NPTS],
				e[NPTS];
	MlpPowerLawFit f;

	make_points(30.0, 1e9, 0.2, 0.05, 8.0, 15.0, 0.0, 0, c, e);
	is_int(mlp_power_law_fit(c, e, NPTS, 0, &f), MLP_FIT_CONVERGED, "exact: converged");
	is_close(f.a, 30.0, 1e-5, 0, "exact: a");
	is_close(f.b, 1e9, 1e-3, 0, "exact: b");
	is_close(f.alpha, 0.2, 1e-5, 0, "exact: alpha");
	is_close(f.e_inf, 0.05, 1e-5, 0, "exact: e_inf");
	ok(f.rmse < 1e-9, "exact: rmse %g < 1e-9", f.rmse);
	is_int(f.n, NPTS, "exact: n");
	ok(f.iterations > 0 && f.message[0] == '\0', "exact: %d iterations, no message", f.iterations);

	/* On the bounds: b = 0 and e_inf = 0, over 10^6 .. 10^13. */
	make_points(5.0, 0.0, 0.12, 0.0, 6.0, 13.0, 0.0, 0, c, e);
	is_int(mlp_power_law_fit(c, e, NPTS, 0, &f), MLP_FIT_CONVERGED, "bounds: converged");
	is_close(f.a, 5.0, 1e-5, 0, "bounds: a");
	is_close(f.alpha, 0.12, 1e-5, 0, "bounds: alpha");
	ok(f.b >= 0 && f.b < 1e-3 * 1e6, "bounds: b %g is 0 within 1e-3 of the smallest C", f.b);
	ok(f.e_inf >= 0 && f.e_inf < 1e-6, "bounds: e_inf %g is 0", f.e_inf);
}

static void
test_noisy(void)
{
	double		c[NPTS],
				e[NPTS];
	double		sd = 0.002;
	MlpPowerLawFit f;

	for (uint64_t seed = 1; seed <= 3; seed++)
	{
		double		worst = 0;

		make_points(30.0, 1e9, 0.2, 0.05, 8.0, 15.0, sd, seed, c, e);
		is_intf(mlp_power_law_fit(c, e, NPTS, 0, &f), MLP_FIT_CONVERGED, "noisy seed %d: converged",
			   (int) seed);
		ok(f.rmse > 0.7 * sd && f.rmse < 1.3 * sd, "noisy seed %d: rmse %g near the noise %g",
		   (int) seed, f.rmse, sd);
		is_close(f.alpha, 0.2, 0, 0.03, "noisy: alpha");
		is_close(f.e_inf, 0.05, 0, 0.01, "noisy: e_inf");
		ok(f.a > 0 && f.b >= 0 && f.e_inf >= 0, "noisy: within the bounds");
		for (int i = 0; i < NPTS; i++)
			worst = fmax(worst, fabs(mlp_power_law_eval(&f, c[i]) -
									 true_curve(30.0, 1e9, 0.2, 0.05, c[i])));
		ok(worst < 0.003, "noisy seed %d: the curve within %g of the truth", (int) seed, worst);
	}
}

static void
test_scipy(void)
{
	for (int k = 0; k < (int) (sizeof(fit_fixtures) / sizeof(fit_fixtures[0])); k++)
	{
		const FitFixture *x = &fit_fixtures[k];
		MlpPowerLawFit f;
		MlpPowerLawFit s = {.a = x->a, .b = x->b, .alpha = x->alpha, .e_inf = x->e_inf};
		double		worst = 0,
					min_e = INFINITY;

		is_intf(mlp_power_law_fit(x->compute, x->error, x->n, 0, &f), MLP_FIT_CONVERGED,
			   "scipy %s: converged", x->name);
		ok(f.rmse <= x->rmse * (1 + 1e-6), "scipy %s: rmse %.10g, SciPy's %.10g", x->name,
		   f.rmse, x->rmse);
		for (int i = 0; i < x->n; i++)
		{
			worst = fmax(worst, fabs(mlp_power_law_eval(&f, x->compute[i]) -
									 mlp_power_law_eval(&s, x->compute[i])));
			min_e = fmin(min_e, x->error[i]);
		}
		ok(worst < 1e-4, "scipy %s: the curve within %g of SciPy's", x->name, worst);
		diag("%s: a %g (SciPy %g), b %g (%g), alpha %g (%g), e_inf %g (%g)", x->name, f.a, x->a,
			 f.b, x->b, f.alpha, x->alpha, f.e_inf, x->e_inf);
		ok(f.a > 0 && f.alpha > 0 && f.b >= 0 && f.e_inf >= 0 && f.e_inf < min_e,
		   "scipy %s: within the bounds", x->name);
	}
}

static void
test_refusals(void)
{
	double		c[NPTS],
				e[NPTS];
	MlpPowerLawFit f;

	make_points(30.0, 1e9, 0.2, 0.05, 8.0, 15.0, 0.0, 0, c, e);
	is_int(mlp_power_law_fit(c, e, 3, 0, &f), MLP_FIT_TOO_FEW_POINTS, "3 points: too few");
	ok(strstr(f.message, "3 points") != NULL && f.hint[0], "too few: %s", f.message);
	is_int(mlp_power_law_fit(c, e, 0, 0, &f), MLP_FIT_TOO_FEW_POINTS, "0 points: too few");

	c[2] = 0.0;
	is_int(mlp_power_law_fit(c, e, NPTS, 0, &f), MLP_FIT_INVALID_INPUT, "compute 0: invalid");
	ok(strstr(f.message, "point 3") != NULL && strstr(f.message, "compute 0") != NULL,
	   "compute 0: %s", f.message);
	c[2] = -1e9;
	is_int(mlp_power_law_fit(c, e, NPTS, 0, &f), MLP_FIT_INVALID_INPUT, "negative compute: invalid");
	c[2] = NAN;
	is_int(mlp_power_law_fit(c, e, NPTS, 0, &f), MLP_FIT_INVALID_INPUT, "NaN compute: invalid");
	ok(strstr(f.message, "non-finite compute") != NULL, "NaN compute: %s", f.message);
	c[2] = INFINITY;
	is_int(mlp_power_law_fit(c, e, NPTS, 0, &f), MLP_FIT_INVALID_INPUT, "infinite compute: invalid");
	make_points(30.0, 1e9, 0.2, 0.05, 8.0, 15.0, 0.0, 0, c, e);
	e[5] = NAN;
	is_int(mlp_power_law_fit(c, e, NPTS, 0, &f), MLP_FIT_INVALID_INPUT, "NaN error: invalid");
	ok(strstr(f.message, "point 6") != NULL && strstr(f.message, "non-finite error") != NULL,
	   "NaN error: %s", f.message);
	e[5] = -INFINITY;
	is_int(mlp_power_law_fit(c, e, NPTS, 0, &f), MLP_FIT_INVALID_INPUT, "infinite error: invalid");
	e[5] = 0.0;
	is_int(mlp_power_law_fit(c, e, NPTS, 0, &f), MLP_FIT_INVALID_INPUT, "error 0: invalid");
	ok(strstr(f.message, "error 0") != NULL && f.hint[0], "error 0: %s", f.message);

	/* One iteration per start is not enough for noisy points. */
	make_points(30.0, 1e9, 0.2, 0.05, 8.0, 15.0, 0.002, 1, c, e);
	is_int(mlp_power_law_fit(c, e, NPTS, 1, &f), MLP_FIT_NOT_CONVERGED, "1 iteration: not converged");
	ok(strstr(f.message, "did not converge in 1 iteration") != NULL && f.rmse > 0,
	   "not converged: %s", f.message);
}

static void
test_frontier(void)
{
	/* compute, error, params, examples */
	static const MlpScalingRun grid[] = {
		{1e10, 0.50, 1e4, 1e5},		/* 0: bucket [1e10, 2.15e10) */
		{1e10, 0.40, 2e4, 1e5},		/* 1 */
		{1.5e10, 0.35, 3e4, 1e5},	/* 2: best of the first bucket */
		{1e11, 0.30, 1e5, 1e6},		/* 3: bucket [1e11, 2.15e11) */
		{2e11, 0.20, 2e5, 1e6},		/* 4: best of it */
		{2.2e11, 0.10, 2e5, 1.1e6},	/* 5: bucket [2.2e11, 4.7e11) alone */
		{1e12, 0.20, 5e5, 2e6},		/* 6: tie on error with 7: the smaller params wins */
		{1e12, 0.20, 4e5, 2.5e6},	/* 7 */
		{1.9e12, 0.25, 1e6, 1e6},	/* 8: same bucket as 6 and 7, worse */
	};
	static const int want[] = {2, 4, 5, 7};
	int			n = (int) (sizeof(grid) / sizeof(grid[0]));
	int			frontier[16];
	int			nf = -1;
	MlpError	err;
	MlpScalingRun bad[3];

	is_int(mlp_frontier_select(grid, n, frontier, &nf, &err), MLP_OK, "frontier: selected");
	is_int(nf, 4, "frontier: 4 buckets");
	for (int i = 0; i < 4 && i < nf; i++)
		ok(frontier[i] == want[i], "frontier point %d: run %d (want %d)", i + 1, frontier[i],
		   want[i]);

	/* The same with the runs in another order. */
	{
		MlpScalingRun rev[16];

		for (int i = 0; i < n; i++)
			rev[i] = grid[n - 1 - i];
		mlp_frontier_select(rev, n, frontier, &nf, &err);
		ok(nf == 4 && frontier[0] == n - 1 - 2 && frontier[3] == n - 1 - 7,
		   "frontier: independent of the order of the runs");
	}

	memcpy(bad, grid, sizeof(bad));
	bad[1].compute = 0;
	is_int(mlp_frontier_select(bad, 3, frontier, &nf, &err), MLP_ERR_INVALID_ARGUMENT,
		   "frontier: compute 0 refused");
	ok(strstr(err.message, "point 2") != NULL, "compute 0: %s", err.message);
	bad[1].compute = 1e10;
	bad[2].error = NAN;
	is_int(mlp_frontier_select(bad, 3, frontier, &nf, &err), MLP_ERR_INVALID_ARGUMENT,
		   "frontier: NaN error refused");
	ok(strstr(err.message, "point 3 has a non-finite error: NaN") != NULL, "NaN error: %s",
	   err.message);
	bad[2].error = 0.3;
	bad[0].params = 0;
	{
		MlpExponentFit p,
					x;

		is_int(mlp_frontier_exponents(bad, 3, &p, &x, &err), MLP_ERR_INVALID_ARGUMENT,
			   "compute optimal: params 0 refused");
		ok(strstr(err.message, "point 1 has params 0") != NULL, "params 0: %s", err.message);
		bad[0].params = 1e4;
		bad[0].examples = -5;
		is_int(mlp_frontier_exponents(bad, 3, &p, &x, &err), MLP_ERR_INVALID_ARGUMENT,
			   "compute optimal: negative examples refused");
		bad[0].examples = 1e5;
		/* 1e10, 1e10, 1.5e10: one bucket. */
		is_int(mlp_frontier_exponents(bad, 3, &p, &x, &err), MLP_ERR_INVALID_ARGUMENT,
			   "compute optimal: one frontier point refused");
		ok(strstr(err.message, "1 compute level") != NULL && err.hint[0], "one level: %s",
		   err.message);
		is_int(mlp_frontier_exponents(bad, 0, &p, &x, &err), MLP_ERR_INVALID_ARGUMENT,
			   "compute optimal: no runs refused");
	}
}

static void
test_exponents(void)
{
	/* Seven compute levels 10^10 .. 10^16; five runs each, P = P*·f, N = C / (6 P); the
	 * error is lowest at f = 1, so the frontier is P* = 0.5·C^0.35, N* = C^0.65 / 3. */
	static const double f[] = {0.25, 0.5, 1.0, 2.0, 4.0};
	MlpScalingRun runs[35];
	int			n = 0;
	MlpExponentFit p,
				x;
	MlpError	err;

	for (int k = 10; k <= 16; k++)
		for (int j = 4; j >= 0; j--)
		{
			double		c = pow(10.0, k);
			double		pstar = 0.5 * pow(c, 0.35);

			runs[n].compute = c;
			runs[n].params = pstar * f[j];
			runs[n].examples = c / (6.0 * runs[n].params);
			runs[n].error = 0.1 + 2.0 / k + log(f[j]) * log(f[j]);
			n++;
		}
	is_int(mlp_frontier_exponents(runs, n, &p, &x, &err), MLP_OK, "exponents: fitted");
	is_close(p.exponent, 0.35, 1e-9, 0, "params exponent 0.35");
	is_close(p.coefficient, 0.5, 1e-7, 0, "params coefficient 0.5");
	is_close(x.exponent, 0.65, 1e-9, 0, "examples exponent 0.65");
	is_close(x.coefficient, 1.0 / 3.0, 1e-7, 0, "examples coefficient 1/3");
	is_close(p.r2, 1.0, 0, 1e-12, "params r2 1");
	is_close(x.r2, 1.0, 0, 1e-12, "examples r2 1");
	is_int(p.points, 7, "params: 7 frontier points");
	is_int(x.points, 7, "examples: 7 frontier points");

	/* Scattered around the line: r2 below 1, the exponent near 0.35. */
	{
		MlpRng		rng;

		mlp_rng_seed(&rng, 7, 0);
		for (int i = 0; i < n; i++)
			runs[i].params *= exp(0.1 * mlp_rng_normal(&rng));
		is_int(mlp_frontier_exponents(runs, n, &p, &x, &err), MLP_OK, "scattered: fitted");
		ok(p.r2 < 1.0 && p.r2 > 0.95, "scattered: r2 %g below 1", p.r2);
		is_close(p.exponent, 0.35, 0, 0.03, "scattered: params exponent near 0.35");
	}
}

int
main(void)
{
	test_exact();
	test_noisy();
	test_scipy();
	test_refusals();
	test_frontier();
	test_exponents();
	return tap_done();
}
