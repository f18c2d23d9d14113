/*
 * fit.h - the fits of scaling studies: the power law E(C) = a·(b + C)^(-alpha) + E_inf by
 * bounded Levenberg-Marquardt, and the compute-optimal frontier with its exponents.
 *
 * The power law (SQL's mlp_fit_power_law).  Unweighted least squares over the points (C_i, E_i),
 * as SciPy's curve_fit does, within the bounds a > 0, alpha > 0, b >= 0 and
 * 0 <= E_inf < min E_i.  C spans many decades, so the fit works in x = C / s with s the
 * geometric mean of the C_i: it fits a' = a·s^(-alpha) and b' = b / s and returns
 * a = a'·s^alpha, b = b'·s.  The parameters of the iteration are (ln a', alpha, b', E_inf),
 * so a > 0 always; alpha, b' and E_inf are kept in their box by projection, a parameter at
 * a bound that the gradient pushes outward is held there for the step (an active set).
 * Steps solve (J'J + lambda·diag J'J) d = -J'r (Marquardt's scaling).  The fit starts from
 * twelve points, a line fit of ln(E - E_inf) against ln(b' + x) for E_inf in
 * {0, 0.5, 0.9, 0.99}·min E and b' in {0, min x, 1}, runs each to convergence and keeps
 * the lowest sum of squares among the converged ones.
 *
 * The frontier (SQL's mlp_compute_optimal).  Runs are sorted by compute and put in buckets of a
 * third of a decade anchored on the data: a bucket starts at the smallest compute not yet
 * in one, C0, and holds every run with C < C0·10^(1/3).  So runs of the same compute always
 * share a bucket, and levels more than a factor 10^(1/3) = 2.154 apart (a grid whose
 * computes are a few distinct values) get one bucket each.  Each bucket keeps its run with
 * the lowest error (ties: the smaller compute, then params, then examples), and
 * ln P* = x·ln C + ln k, ln N* = y·ln C + ln k are fitted by least squares over those runs,
 * with C each kept run's own compute.
 *
 * Plain C, no PostgreSQL headers.
 */
#ifndef MLP_FIT_H
#define MLP_FIT_H

#include "status.h"

/* Fewer points leave the four parameters undetermined. */
#define MLP_FIT_MIN_POINTS 4
/* Iterations of each start when the caller gives none (max_iterations <= 0). */
#define MLP_FIT_DEFAULT_ITERATIONS 1000

typedef enum MlpFitStatus
{
	MLP_FIT_CONVERGED = 0,
	MLP_FIT_NOT_CONVERGED,		/* no start converged within the iterations */
	MLP_FIT_TOO_FEW_POINTS,		/* n < MLP_FIT_MIN_POINTS */
	MLP_FIT_INVALID_INPUT		/* a non-positive or non-finite compute or error */
} MlpFitStatus;

typedef struct MlpPowerLawFit
{
	double		a;
	double		b;
	double		alpha;
	double		e_inf;
	double		rmse;			/* sqrt(mean of squared residuals), in the units of E */
	int			n;				/* points fitted */
	int			iterations;		/* of the start that was kept */
	MlpFitStatus status;
	char		message[MLP_ERRBUF];	/* "" when converged; lowercase, names the value */
	char		hint[MLP_ERRBUF];	/* "" or a sentence */
} MlpPowerLawFit;

/*
 * Fits E = a·(b + C)^(-alpha) + E_inf to (compute[i], error[i]), i < n.  Each of the twelve
 * starts runs at most max_iterations iterations (<= 0: MLP_FIT_DEFAULT_ITERATIONS).
 * Returns out->status; the parameters are filled (and meaningful) for MLP_FIT_CONVERGED,
 * and for MLP_FIT_NOT_CONVERGED as the best point reached.  Point numbers in messages
 * are 1-based.
 */
MlpFitStatus mlp_power_law_fit(const double *compute, const double *error, int n,
							   int max_iterations, MlpPowerLawFit *out);

/* E(C) of a fit. */
double		mlp_power_law_eval(const MlpPowerLawFit *fit, double compute);

/* A run of a study: its compute, its error, its parameter count and the examples it saw. */
typedef struct MlpScalingRun
{
	double		compute;
	double		error;
	double		params;
	double		examples;
} MlpScalingRun;

/* q = k·C^exponent fitted in log space over the frontier. */
typedef struct MlpExponentFit
{
	double		exponent;
	double		coefficient;	/* k */
	double		r2;				/* of the line in log space; 1 when the values are all equal */
	int			points;
} MlpExponentFit;

/*
 * The frontier of runs[0..n): the index of each bucket's best run into frontier (room for
 * n), in increasing compute, their number into *n_frontier.  Every value must be finite,
 * compute positive.  MLP_ERR_INVALID_ARGUMENT (point numbers 1-based) or
 * MLP_ERR_OUT_OF_MEMORY.
 */
MlpStatus	mlp_frontier_select(const MlpScalingRun *runs, int n, int *frontier,
								int *n_frontier, MlpError *err);

/*
 * The frontier and the fits params* = k·C^x (into params) and examples* = k·C^y (into
 * examples).  Besides the errors of mlp_frontier_select: fewer than 2 frontier points, or a
 * non-positive params or examples, are MLP_ERR_INVALID_ARGUMENT.
 */
MlpStatus	mlp_frontier_exponents(const MlpScalingRun *runs, int n, MlpExponentFit *params,
								MlpExponentFit *examples, MlpError *err);

#endif
