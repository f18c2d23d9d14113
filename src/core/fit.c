/*
 * fit.c - the power-law fit and the compute-optimal frontier (see fit.h for the methods).
 */
#include "fit.h"

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NPAR 4
enum
{
	P_LA,						/* ln a' */
	P_ALPHA,
	P_B,						/* b' = b / s */
	P_EINF
};

/* Relative reductions and steps below these end a start as converged (MINPACK's defaults
 * are 1.5e-8; a fit of a few hundred points affords tighter ones). */
#define FIT_FTOL 1e-14
#define FIT_XTOL 1e-12
#define FIT_GTOL 1e-12
#define ALPHA_MIN 1e-9
#define ALPHA_MAX 100.0
#define B_MAX 1e15				/* in units of s */
#define LAMBDA_START 1e-3
#define LAMBDA_MAX 1e16

typedef struct FitData
{
	const double *c;
	const double *e;
	int			n;
	double		s;				/* the scale of C */
	double		lo[NPAR];
	double		hi[NPAR];
} FitData;

typedef struct Start
{
	double		theta[NPAR];
	double		cost;			/* sum of squared residuals */
	int			iterations;
	int			converged;
} Start;

static void
fit_fail(MlpPowerLawFit *out, MlpFitStatus status, const char *fmt,...)
	__attribute__((format(printf, 3, 4)));

static void
fit_fail(MlpPowerLawFit *out, MlpFitStatus status, const char *fmt,...)
{
	va_list		ap;

	out->status = status;
	va_start(ap, fmt);
	vsnprintf(out->message, sizeof(out->message), fmt, ap);
	va_end(ap);
}

/* The model at x = C / s, and its derivatives by theta when grad is not NULL. */
static inline double
model_at(const double *theta, double x, double *grad)
{
	double		u = theta[P_B] + x;
	double		lu = log(u);
	double		f = exp(theta[P_LA] - theta[P_ALPHA] * lu);

	if (grad)
	{
		grad[P_LA] = f;
		grad[P_ALPHA] = -f * lu;
		grad[P_B] = -theta[P_ALPHA] * f / u;
		grad[P_EINF] = 1.0;
	}
	return f + theta[P_EINF];
}

static double
cost_of(const FitData *d, const double *theta)
{
	double		sum = 0.0;

	for (int i = 0; i < d->n; i++)
	{
		double		r = model_at(theta, d->c[i] / d->s, NULL) - d->e[i];

		sum += r * r;
	}
	return isfinite(sum) ? sum : INFINITY;
}

/* Solves A x = b (m x m, row-major, m <= NPAR) by Gaussian elimination with partial
 * pivoting; 0 when A is singular to working precision. */
static int
solve(double *A, double *b, int m)
{
	for (int k = 0; k < m; k++)
	{
		int			p = k;

		for (int i = k + 1; i < m; i++)
			if (fabs(A[i * m + k]) > fabs(A[p * m + k]))
				p = i;
		if (!(fabs(A[p * m + k]) > 1e-300))
			return 0;
		if (p != k)
		{
			for (int j = 0; j < m; j++)
			{
				double		t = A[k * m + j];

				A[k * m + j] = A[p * m + j];
				A[p * m + j] = t;
			}
			{
				double		t = b[k];

				b[k] = b[p];
				b[p] = t;
			}
		}
		for (int i = k + 1; i < m; i++)
		{
			double		f = A[i * m + k] / A[k * m + k];

			for (int j = k; j < m; j++)
				A[i * m + j] -= f * A[k * m + j];
			b[i] -= f * b[k];
		}
	}
	for (int k = m - 1; k >= 0; k--)
	{
		double		s = b[k];

		for (int j = k + 1; j < m; j++)
			s -= A[k * m + j] * b[j];
		b[k] = s / A[k * m + k];
		if (!isfinite(b[k]))
			return 0;
	}
	return 1;
}

/* A value as PostgreSQL spells it: NaN, Infinity, -Infinity, else %g. */
static const char *
shown(double v, char *buf, size_t len)
{
	if (isnan(v))
		return "NaN";
	if (isinf(v))
		return v > 0 ? "Infinity" : "-Infinity";
	snprintf(buf, len, "%g", v);
	return buf;
}

static inline double
clamp(double v, double lo, double hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

/*
 * Projected Levenberg-Marquardt from st->theta: J'J and J'r at the current point, the
 * parameters held at a bound that the gradient pushes outward left out of the step, lambda
 * raised until a step lowers the sum of squares.
 */
static void
run_lm(const FitData *d, Start *st, int max_iterations)
{
	double	   *theta = st->theta;
	double		cost = cost_of(d, theta);
	double		lambda = LAMBDA_START;

	st->converged = 0;
	st->iterations = 0;
	if (!isfinite(cost))
	{
		st->cost = INFINITY;
		return;
	}
	while (st->iterations < max_iterations)
	{
		double		JtJ[NPAR * NPAR] = {0};
		double		g[NPAR] = {0};
		double		colnorm[NPAR] = {0};
		int			freep[NPAR];
		int			m = 0;
		double		gmax = 0.0;

		st->iterations++;
		for (int i = 0; i < d->n; i++)
		{
			double		grad[NPAR];
			double		r = model_at(theta, d->c[i] / d->s, grad) - d->e[i];

			for (int j = 0; j < NPAR; j++)
			{
				g[j] += grad[j] * r;
				for (int k = 0; k <= j; k++)
					JtJ[j * NPAR + k] += grad[j] * grad[k];
			}
		}
		for (int j = 0; j < NPAR; j++)
		{
			for (int k = 0; k < j; k++)
				JtJ[k * NPAR + j] = JtJ[j * NPAR + k];
			colnorm[j] = sqrt(JtJ[j * NPAR + j]);
		}

		/* The active set, and the scaled gradient of the rest (MINPACK's gtol test). */
		for (int j = 0; j < NPAR; j++)
		{
			int			held = (theta[j] <= d->lo[j] && g[j] > 0) ||
				(theta[j] >= d->hi[j] && g[j] < 0);

			if (held)
				continue;
			freep[m++] = j;
			if (colnorm[j] > 0 && cost > 0)
				gmax = fmax(gmax, fabs(g[j]) / (colnorm[j] * sqrt(cost)));
		}
		if (cost == 0.0 || m == 0 || gmax <= FIT_GTOL)
		{
			st->converged = 1;
			break;
		}

		for (;;)
		{
			double		A[NPAR * NPAR];
			double		step[NPAR];
			double		trial[NPAR];
			double		delta[NPAR] = {0};
			double		new_cost,
						pred,
						big_step = 0.0;
			int			ok;

			for (int a = 0; a < m; a++)
			{
				for (int b = 0; b < m; b++)
					A[a * m + b] = JtJ[freep[a] * NPAR + freep[b]];
				A[a * m + a] += lambda * fmax(JtJ[freep[a] * NPAR + freep[a]], 1e-300);
				step[a] = -g[freep[a]];
			}
			ok = solve(A, step, m);
			if (ok)
			{
				memcpy(trial, theta, sizeof(trial));
				for (int a = 0; a < m; a++)
				{
					int			j = freep[a];

					trial[j] = clamp(theta[j] + step[a], d->lo[j], d->hi[j]);
					delta[j] = trial[j] - theta[j];
				}
				new_cost = cost_of(d, trial);
			}
			else
				new_cost = INFINITY;

			if (ok && new_cost < cost)
			{
				/* Predicted reduction of the projected step under the linear model. */
				pred = 0.0;
				for (int j = 0; j < NPAR; j++)
				{
					double		Ad = 0.0;

					for (int k = 0; k < NPAR; k++)
						Ad += JtJ[j * NPAR + k] * delta[k];
					pred -= 2.0 * g[j] * delta[j] + Ad * delta[j];
					big_step = fmax(big_step, fabs(delta[j]) * colnorm[j]);
				}
				memcpy(theta, trial, sizeof(trial));
				if ((cost - new_cost) <= FIT_FTOL * cost && fabs(pred) <= FIT_FTOL * cost)
				{
					cost = new_cost;
					st->converged = 1;
					break;
				}
				/* A step that changes the fitted values by nothing relative to the residuals. */
				if (big_step <= FIT_XTOL * sqrt(cost))
				{
					cost = new_cost;
					st->converged = 1;
					break;
				}
				cost = new_cost;
				lambda = fmax(lambda / 10.0, 1e-12);
				break;
			}
			lambda *= 10.0;
			if (lambda > LAMBDA_MAX)
			{
				/* No step lowers the sum of squares at working precision: a minimum. */
				st->converged = 1;
				break;
			}
		}
		if (st->converged)
			break;
	}
	st->cost = cost;
}

/* The start of (E_inf, b'): the least-squares line of ln(E - E_inf) on ln(b' + x). */
static void
line_start(const FitData *d, double einf, double bp, double *theta)
{
	double		st = 0,
				sy = 0,
				stt = 0,
				sty = 0,
				slope,
				alpha;
	int			n = d->n;

	for (int i = 0; i < n; i++)
	{
		double		t = log(bp + d->c[i] / d->s);
		double		y = log(d->e[i] - einf);

		st += t;
		sy += y;
		stt += t * t;
		sty += t * y;
	}
	slope = (n * stt - st * st) > 0 ? (n * sty - st * sy) / (n * stt - st * st) : 0.0;
	alpha = clamp(-slope, 0.01, 10.0);
	theta[P_ALPHA] = alpha;
	theta[P_LA] = (sy + alpha * st) / n;
	theta[P_B] = bp;
	theta[P_EINF] = einf;
}

static int
check_points(const double *compute, const double *error, int n, MlpPowerLawFit *out,
			 double *min_e, double *min_c, double *log_mean_c)
{
	double		sum_log = 0.0;

	*min_e = INFINITY;
	*min_c = INFINITY;
	for (int i = 0; i < n; i++)
	{
		if (!isfinite(compute[i]) || !isfinite(error[i]))
		{
			char		buf[32];

			fit_fail(out, MLP_FIT_INVALID_INPUT, "point %d has a non-finite %s: %s", i + 1,
					 isfinite(compute[i]) ? "error" : "compute",
					 shown(isfinite(compute[i]) ? error[i] : compute[i], buf, sizeof(buf)));
			return 0;
		}
		if (compute[i] <= 0)
		{
			fit_fail(out, MLP_FIT_INVALID_INPUT, "point %d has compute %g, not positive",
					 i + 1, compute[i]);
			snprintf(out->hint, sizeof(out->hint),
					 "The power law is fitted over positive compute (FLOPs).");
			return 0;
		}
		if (error[i] <= 0)
		{
			fit_fail(out, MLP_FIT_INVALID_INPUT, "point %d has error %g, not positive",
					 i + 1, error[i]);
			snprintf(out->hint, sizeof(out->hint),
					 "The fit keeps 0 <= E_inf < min(error), so every error must be positive.");
			return 0;
		}
		*min_e = fmin(*min_e, error[i]);
		*min_c = fmin(*min_c, compute[i]);
		sum_log += log(compute[i]);
	}
	*log_mean_c = sum_log / n;
	return 1;
}

MlpFitStatus
mlp_power_law_fit(const double *compute, const double *error, int n, int max_iterations,
				  MlpPowerLawFit *out)
{
	static const double einf_frac[] = {0.0, 0.5, 0.9, 0.99};
	FitData		d;
	Start		best = {{0}, INFINITY, 0, 0};
	double		min_e,
				min_c,
				log_s;

	memset(out, 0, sizeof(*out));
	out->n = n;
	if (max_iterations <= 0)
		max_iterations = MLP_FIT_DEFAULT_ITERATIONS;
	if (n < MLP_FIT_MIN_POINTS)
	{
		fit_fail(out, MLP_FIT_TOO_FEW_POINTS, "%d points are too few, the fit needs at least %d",
				 n, MLP_FIT_MIN_POINTS);
		snprintf(out->hint, sizeof(out->hint),
				 "The power law has four parameters (a, b, alpha, e_inf).");
		return out->status;
	}
	if (!check_points(compute, error, n, out, &min_e, &min_c, &log_s))
		return out->status;

	d.c = compute;
	d.e = error;
	d.n = n;
	d.s = exp(log_s);
	d.lo[P_LA] = -INFINITY;
	d.hi[P_LA] = INFINITY;
	d.lo[P_ALPHA] = ALPHA_MIN;
	d.hi[P_ALPHA] = ALPHA_MAX;
	d.lo[P_B] = 0.0;
	d.hi[P_B] = B_MAX;
	d.lo[P_EINF] = 0.0;
	/* E_inf < min E strictly: the largest double below it. */
	d.hi[P_EINF] = nextafter(min_e, 0.0);

	for (int i = 0; i < (int) (sizeof(einf_frac) / sizeof(einf_frac[0])); i++)
	{
		double		bps[3] = {0.0, min_c / d.s, 1.0};

		for (int k = 0; k < 3; k++)
		{
			Start		st;

			line_start(&d, einf_frac[i] * min_e, bps[k], st.theta);
			run_lm(&d, &st, max_iterations);
			if (!isfinite(st.cost))
				continue;
			/* A converged start beats one that is not; then the lower sum of squares. */
			if ((st.converged && !best.converged) ||
				(st.converged == best.converged && st.cost < best.cost))
				best = st;
		}
	}

	if (!isfinite(best.cost))
	{
		fit_fail(out, MLP_FIT_NOT_CONVERGED,
				 "the fit did not converge: no start gave a finite sum of squares");
		return out->status;
	}
	out->alpha = best.theta[P_ALPHA];
	out->a = exp(best.theta[P_LA] + out->alpha * log_s);
	out->b = best.theta[P_B] * d.s;
	out->e_inf = best.theta[P_EINF];
	out->rmse = sqrt(best.cost / n);
	out->iterations = best.iterations;
	if (!best.converged)
	{
		fit_fail(out, MLP_FIT_NOT_CONVERGED,
				 "the fit did not converge in %d iteration%s (rmse %g so far)",
				 max_iterations, max_iterations == 1 ? "" : "s", out->rmse);
		snprintf(out->hint, sizeof(out->hint),
				 "Allow more iterations, or check that the error falls with compute.");
		return out->status;
	}
	if (!isfinite(out->a) || !isfinite(out->b))
	{
		fit_fail(out, MLP_FIT_NOT_CONVERGED,
				 "the fit did not converge: a = %g, b = %g are not finite", out->a, out->b);
		return out->status;
	}
	out->status = MLP_FIT_CONVERGED;
	return out->status;
}

double
mlp_power_law_eval(const MlpPowerLawFit *fit, double compute)
{
	return fit->a * pow(fit->b + compute, -fit->alpha) + fit->e_inf;
}

/* ---- the compute-optimal frontier ---------------------------------------------------- */

/* A run and its position, sorted by compute, then error, params, examples, position. */
typedef struct SortedRun
{
	MlpScalingRun run;
	int			index;
} SortedRun;

static int
cmp_runs(const void *pa, const void *pb)
{
	const SortedRun *x = pa;
	const SortedRun *y = pb;
	const MlpScalingRun *a = &x->run;
	const MlpScalingRun *b = &y->run;

	if (a->compute != b->compute)
		return a->compute < b->compute ? -1 : 1;
	if (a->error != b->error)
		return a->error < b->error ? -1 : 1;
	if (a->params != b->params)
		return a->params < b->params ? -1 : 1;
	if (a->examples != b->examples)
		return a->examples < b->examples ? -1 : 1;
	return x->index - y->index;
}

/* Better within a bucket: the lower error, then the smaller compute, params, examples. */
static int
better_run(const MlpScalingRun *a, const MlpScalingRun *b)
{
	if (a->error != b->error)
		return a->error < b->error;
	if (a->compute != b->compute)
		return a->compute < b->compute;
	if (a->params != b->params)
		return a->params < b->params;
	return a->examples < b->examples;
}

MlpStatus
mlp_frontier_select(const MlpScalingRun *runs, int n, int *frontier, int *n_frontier,
					MlpError *err)
{
	SortedRun  *order;
	const double width = pow(10.0, 1.0 / 3.0);
	int			nf = 0;

	*n_frontier = 0;
	for (int i = 0; i < n; i++)
	{
		const MlpScalingRun *r = &runs[i];

		const double v[4] = {r->compute, r->error, r->params, r->examples};
		static const char *const names[4] = {"compute", "error", "params", "examples"};

		for (int k = 0; k < 4; k++)
			if (!isfinite(v[k]))
			{
				char		buf[32];

				return mlp_error_set(err, MLP_ERR_INVALID_ARGUMENT,
									 "point %d has a non-finite %s: %s", i + 1, names[k],
									 shown(v[k], buf, sizeof(buf)));
			}
		if (r->compute <= 0)
			return mlp_error_set(err, MLP_ERR_INVALID_ARGUMENT,
								 "point %d has compute %g, not positive", i + 1, r->compute);
	}
	if (n <= 0)
		return MLP_OK;
	order = malloc(sizeof(SortedRun) * (size_t) n);
	if (order == NULL)
		return mlp_error_set(err, MLP_ERR_OUT_OF_MEMORY, "no memory for %d runs", n);
	for (int i = 0; i < n; i++)
	{
		order[i].run = runs[i];
		order[i].index = i;
	}
	qsort(order, (size_t) n, sizeof(SortedRun), cmp_runs);

	for (int i = 0; i < n;)
	{
		double		start = order[i].run.compute;
		int			best = i;

		for (i++; i < n && order[i].run.compute < start * width; i++)
			if (better_run(&order[i].run, &order[best].run))
				best = i;
		frontier[nf++] = order[best].index;
	}
	free(order);
	*n_frontier = nf;
	return MLP_OK;
}

/* ln q = exponent·ln C + ln k by least squares over the frontier. */
static void
log_line(const MlpScalingRun *runs, const int *frontier, int nf, int use_params,
		 MlpExponentFit *out)
{
	double		mt = 0,
				my = 0,
				stt = 0,
				sty = 0,
				syy = 0,
				ss_res = 0;

	for (int i = 0; i < nf; i++)
	{
		const MlpScalingRun *r = &runs[frontier[i]];

		mt += log(r->compute);
		my += log(use_params ? r->params : r->examples);
	}
	mt /= nf;
	my /= nf;
	for (int i = 0; i < nf; i++)
	{
		const MlpScalingRun *r = &runs[frontier[i]];
		double		t = log(r->compute) - mt;
		double		y = log(use_params ? r->params : r->examples) - my;

		stt += t * t;
		sty += t * y;
		syy += y * y;
	}
	out->exponent = stt > 0 ? sty / stt : 0.0;
	out->coefficient = exp(my - out->exponent * mt);
	for (int i = 0; i < nf; i++)
	{
		const MlpScalingRun *r = &runs[frontier[i]];
		double		t = log(r->compute) - mt;
		double		y = log(use_params ? r->params : r->examples) - my;
		double		res = y - out->exponent * t;

		ss_res += res * res;
	}
	out->r2 = syy > 0 ? 1.0 - ss_res / syy : 1.0;
	out->points = nf;
}

MlpStatus
mlp_frontier_exponents(const MlpScalingRun *runs, int n, MlpExponentFit *params,
					MlpExponentFit *examples, MlpError *err)
{
	int		   *frontier;
	int			nf;
	MlpStatus	st;

	memset(params, 0, sizeof(*params));
	memset(examples, 0, sizeof(*examples));
	for (int i = 0; i < n; i++)
	{
		if (isfinite(runs[i].params) && runs[i].params <= 0)
			return mlp_error_set(err, MLP_ERR_INVALID_ARGUMENT,
								 "point %d has params %g, not positive", i + 1, runs[i].params);
		if (isfinite(runs[i].examples) && runs[i].examples <= 0)
			return mlp_error_set(err, MLP_ERR_INVALID_ARGUMENT,
								 "point %d has examples %g, not positive", i + 1,
								 runs[i].examples);
	}
	frontier = malloc(sizeof(int) * (size_t) (n > 0 ? n : 1));
	if (frontier == NULL)
		return mlp_error_set(err, MLP_ERR_OUT_OF_MEMORY, "no memory for %d runs", n);
	st = mlp_frontier_select(runs, n, frontier, &nf, err);
	if (st != MLP_OK)
	{
		free(frontier);
		return st;
	}
	if (nf < 2)
	{
		free(frontier);
		mlp_error_set(err, MLP_ERR_INVALID_ARGUMENT,
					  "%d runs give %d compute level%s, the fit needs at least 2", n, nf,
					  nf == 1 ? "" : "s");
		mlp_error_hint(err, "Runs whose compute is within a factor 10^(1/3) of the smallest "
					   "of their bucket share one frontier point; add runs of more compute levels.");
		return MLP_ERR_INVALID_ARGUMENT;
	}
	log_line(runs, frontier, nf, 1, params);
	log_line(runs, frontier, nf, 0, examples);
	free(frontier);
	return MLP_OK;
}
