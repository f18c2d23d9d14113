/*
 * mlpscale.h - names and limits every file of the PostgreSQL layer shares.
 *
 * The PostgreSQL layer (src/pg) is thin: SQL functions, the image type, the model store and
 * cache, the run queue and its background workers; docs/design.md draws its files and the
 * calls between them.  All maths lives in src/core.
 */
#ifndef MLPSCALE_H
#define MLPSCALE_H

#include "postgres.h"

/* The schema of the extension's tables, and a table of it in SQL text: MLP_TABLE(runs). */
#define MLPSCALE_SCHEMA "mlpscale"
#define MLP_TABLE(name) MLPSCALE_SCHEMA "." #name

/* The version of the extension's SQL objects this library works with (from the Makefile). */
#ifndef MLPSCALE_VERSION
#error "MLPSCALE_VERSION must be defined by the Makefile"
#endif

/* Room for a message of the core: MLP_ERRBUF, from the core's status.h. */
#include "core/status.h"

#endif
