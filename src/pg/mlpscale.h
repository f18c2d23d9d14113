/*
 * mlpscale.h - what the files of the PostgreSQL layer share.
 *
 * The PostgreSQL layer is thin: SQL functions, the image type, the model store and cache,
 * the run queue and its background workers.  All maths lives in src/core.
 */
#ifndef MLPSCALE_H
#define MLPSCALE_H

#include "postgres.h"

#define MLPSCALE_SCHEMA "mlpscale"

/* The version of the extension's SQL objects this library works with (from the Makefile). */
#ifndef MLPSCALE_VERSION
#error "MLPSCALE_VERSION must be defined by the Makefile"
#endif

/* The search_path of every statement the extension runs with rights above the caller's. */
#define MLP_SAFE_SEARCH_PATH "pg_catalog, pg_temp"

/*
 * Operators of that SQL, schema-qualified: the pinned search_path already finds pg_catalog's
 * first, and writing them out keeps each statement safe on its own.
 */
#define MLP_EQ " OPERATOR(pg_catalog.=) "
#define MLP_NE " OPERATOR(pg_catalog.<>) "
#define MLP_GT " OPERATOR(pg_catalog.>) "
#define MLP_GE " OPERATOR(pg_catalog.>=) "

/* Module initialisers, called from _PG_init in mlpscale.c. */
extern void ModelCacheInit(void);	/* model_cache.c: GUCs of scoring */
extern void RunQueueInit(void);		/* run_queue.c: GUCs of training */
extern void LauncherInit(void);		/* launcher.c: the launcher worker (preload only) */
extern void ProgressShmemInit(void);	/* progress.c: shared memory of mlpscale.progress */

/*
 * Bookkeeping rows (runs, epochs, models, checkpoints) are written as the extension's owner,
 * whatever role calls: those tables are readable by all but writable by nobody else, so the
 * history cannot be forged.  Data of users is always read as the calling role.
 */
typedef struct MlpSavedUser
{
	Oid			userid;
	int			sec_context;
	int			guc_nest;
} MlpSavedUser;

/* Owner of the extension in this database; ERROR unless its version is MLPSCALE_VERSION. */
extern Oid	MlpExtensionOwner(void);
/* True when mlpscale is installed here at MLPSCALE_VERSION (no ERROR; for the sweeper). */
extern bool MlpExtensionVersionMatches(void);
extern Oid	MlpExtensionSchema(void);
extern void MlpBecomeExtensionOwner(MlpSavedUser *saved);
extern void MlpRestoreUser(const MlpSavedUser *saved);

/*
 * The same without the version check: only for statements that are valid on the tables of
 * every version (the sweeper marking runs interrupted before ALTER EXTENSION UPDATE).
 */
extern void MlpBecomeExtensionOwnerAnyVersion(MlpSavedUser *saved);

/*
 * search_path = MLP_SAFE_SEARCH_PATH in a new GUC nest level, and the way back (which also
 * rolls back every other setting changed inside).  Returns the nest level.
 */
extern int	MlpPinSearchPath(void);
extern void MlpUnpinSearchPath(int nest);

/* Loads OpenBLAS in this process on first use (ERROR when it cannot), logs the kernel once. */
extern void MlpEnsureBlas(void);

#endif
