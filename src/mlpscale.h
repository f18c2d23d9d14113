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
} MlpSavedUser;

extern Oid	MlpExtensionOwner(void);
extern Oid	MlpExtensionSchema(void);
extern void MlpBecomeExtensionOwner(MlpSavedUser *saved);
extern void MlpRestoreUser(const MlpSavedUser *saved);

/* Loads OpenBLAS in this process on first use (ERROR when it cannot), logs the kernel once. */
extern void MlpEnsureBlas(void);

#endif
