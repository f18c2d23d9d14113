/*
 * tap.h - a minimal TAP producer for the C unit tests of the numeric core.
 *
 * Each check prints "ok N - name" or "not ok N - name" with the values that differ; the
 * runner counts those lines.  tap_done() prints the plan and returns the exit status, so a
 * test binary exits non-zero when anything failed.
 */
#ifndef MLP_TAP_H
#define MLP_TAP_H

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int	tap_count;
static int	tap_failed;

static inline int
tap_ok(int cond, const char *fmt,...)
{
	va_list		ap;

	tap_count++;
	if (!cond)
		tap_failed++;
	printf("%sok %d - ", cond ? "" : "not ", tap_count);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	return cond;
}

#define ok(cond, ...) tap_ok((cond) ? 1 : 0, __VA_ARGS__)

static inline void
tap_diag(const char *fmt,...)
{
	va_list		ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

#define diag(...) tap_diag(__VA_ARGS__)

/* |got - want| <= atol + rtol * |want| */
static inline int
tap_close(double got, double want, double rtol, double atol, const char *name)
{
	int			c = fabs(got - want) <= atol + rtol * fabs(want) && !isnan(got);

	tap_ok(c, "%s", name);
	if (!c)
		tap_diag("  got %.9g, want %.9g (rtol %g, atol %g)", got, want, rtol, atol);
	return c;
}

#define is_close(got, want, rtol, atol, name) tap_close((got), (want), (rtol), (atol), (name))

static inline int
tap_is_int(long long got, long long want, const char *name)
{
	int			c = got == want;

	tap_ok(c, "%s", name);
	if (!c)
		tap_diag("  got %lld, want %lld", got, want);
	return c;
}

#define is_int(got, want, name) tap_is_int((long long) (got), (long long) (want), (name))

/* A check this machine cannot run: "ok N # skip why", counted as a skip by the runner. */
static inline void
tap_skip(const char *why, const char *name)
{
	tap_count++;
	printf("ok %d # skip %s: %s\n", tap_count, why, name);
	fflush(stdout);
}

static inline int
tap_done(void)
{
	printf("1..%d\n", tap_count);
	if (tap_failed)
		printf("# %d of %d checks failed\n", tap_failed, tap_count);
	return tap_failed ? 1 : 0;
}

#endif
