/*
 * status.h - how the numeric core reports a failure: a kind, a message and a hint.
 *
 * The kind is what the caller acts on (the PostgreSQL layer maps each to one SQLSTATE, in one
 * place); the message says what is wrong with the values involved, lowercase and without a
 * final period; the hint, when there is one, is a full sentence saying what to do.  They are
 * kept apart so that the server can report them as errmsg and errhint.
 *
 * Plain C, no PostgreSQL headers.
 */
#ifndef MLP_STATUS_H
#define MLP_STATUS_H

#include <stddef.h>

/* Room for a message of the core (also char err[MLP_ERRBUF] of the arch, model and optimizer). */
#define MLP_ERRBUF 512

typedef enum MlpStatus
{
	MLP_OK = 0,
	MLP_ERR_INVALID_ARGUMENT = -1,	/* a config, dataset or value the caller gave */
	MLP_ERR_OUT_OF_MEMORY = -2,
	MLP_ERR_DATA_CORRUPTED = -3,	/* stored bytes (a checkpoint, weights) are not valid */
	MLP_ERR_NOT_SUPPORTED = -4, /* needs what this machine lacks (a CPU feature) */
	MLP_ERR_NUMERIC = -5,		/* the computation left the finite numbers (a diverged loss) */
	MLP_ERR_INTERNAL = -6,		/* cannot happen */
	MLP_ERR_IO = -7				/* a file could not be read (the loader and the benchmark) */
} MlpStatus;

typedef struct MlpError
{
	MlpStatus	status;
	char		message[MLP_ERRBUF];
	char		hint[MLP_ERRBUF];	/* "" when there is none */
} MlpError;

/* status MLP_OK, message and hint empty. */
void		mlp_error_clear(MlpError *e);

/*
 * Records a failure of the given kind (the hint is cleared) and returns status, so that
 * `return mlp_error_set(err, MLP_ERR_..., "...", ...);` reports and fails in one line.
 * e may be NULL (the caller does not want the text).
 */
MlpStatus	mlp_error_set(MlpError *e, MlpStatus status, const char *fmt, ...)
			__attribute__((format(printf, 3, 4)));

/* Adds a hint to the failure recorded in e (NULL: nothing). */
void		mlp_error_hint(MlpError *e, const char *fmt, ...)
			__attribute__((format(printf, 2, 3)));

/* A name of the kind for logs and tests: "invalid argument", "out of memory", ... */
const char *mlp_status_name(MlpStatus status);

#endif
