/*
 * launcher.h - the queue of committed runs and the launcher that starts their workers.
 *
 * Life of a run: mlp_train inserts a 'queued' row and, when its transaction commits, posts
 * (database, run id) to the launcher's shared queue and wakes the launcher; the launcher
 * starts one dynamic worker per posted run (train_worker.c), at most
 * mlpscale.max_concurrent_runs at a time; the worker trains and publishes its progress in a
 * shared-memory slot (progress.c).
 */
#ifndef MLP_LAUNCHER_H
#define MLP_LAUNCHER_H

#include "postgres.h"

/* True when the launcher's shared memory exists (mlpscale was preloaded). */
extern bool MlpLauncherAvailable(void);

/* ERROR with a hint unless mlpscale is in shared_preload_libraries. */
extern void MlpCheckLauncherAvailable(void);

/*
 * Posts a committed run to the launcher and wakes it.  False when the queue is full (the run
 * stays 'queued' in its table; the launcher finds it at its next sweep of the database).
 */
extern bool MlpLauncherPost(Oid database, int64 run_id);

/* Wakes the launcher. */
extern void MlpLauncherWake(void);

/* A training worker counts itself (until it exits) toward mlpscale.max_concurrent_runs. */
extern void MlpTrainingWorkerStarted(void);

/* Entry points of the workers (named in BackgroundWorker.bgw_function_name). */
extern PGDLLEXPORT void MlpLauncherMain(Datum arg);
extern PGDLLEXPORT void MlpSweeperMain(Datum arg);

/* Registers the launcher (only under shared_preload_libraries); from _PG_init. */
extern void MlpLauncherInit(void);

/* Its shared memory (shmem.c). */
extern Size MlpLauncherShmemSize(void);
extern void MlpLauncherShmemInit(void);

#endif
