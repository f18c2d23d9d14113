/*
 * core_error.h - the one boundary where a failure of the numeric core (status.h) becomes a
 * PostgreSQL error: its kind mapped to a SQLSTATE, its message and its hint kept apart.
 */
#ifndef MLP_CORE_ERROR_H
#define MLP_CORE_ERROR_H

#include "postgres.h"

#include "core/status.h"

/* The SQLSTATE of a kind of failure of the core. */
extern int	MlpCoreErrcode(MlpStatus status);

/* ERROR "<context>: <message>" with the core's hint; never returns. */
extern void MlpReportCoreError(const MlpError *e, const char *context) pg_attribute_noreturn();

#endif
