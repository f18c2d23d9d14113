/*
 * training.h - what the run queue, the launcher, the training worker and the progress view
 * share.
 *
 * Life of a run: mlp_train inserts a 'queued' row and, when its transaction commits, posts
 * (database, run id) to the launcher's shared queue and wakes the launcher; the launcher
 * starts one dynamic worker per posted run, at most mlpscale.max_concurrent_runs at a time;
 * the worker trains and publishes its progress in a shared-memory slot.
 */
#ifndef MLP_TRAINING_H
#define MLP_TRAINING_H

#include "postgres.h"

#include "datatype/timestamp.h"

#include "core/augment.h"
#include "core/blas.h"
#include "run_config.h"

/* GUCs (run_queue.c) */
extern int	mlp_max_concurrent_runs;
extern int	mlp_max_training_memory_mb;
extern int	mlp_training_threads;

/*
 * run_queue.c: the precision named by matmul_precision ('fp32' or 'bf16'); ERROR when the
 * name is unknown or this CPU cannot run it.
 */
extern MlpMatmulPrecision MlpCheckMatmulPrecision(const char *name);

/* ---- launcher.c: the queue of committed runs and the launcher ---------------------------- */

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
extern PGDLLEXPORT void MlpTrainWorkerMain(Datum arg);

/* ---- progress.c: one shared slot per running run ---------------------------------------- */

typedef struct MlpProgress
{
	int64		run_id;			/* 0 = free slot */
	Oid			database;
	Oid			run_as;			/* the run's role: who may see the slot */
	int			pid;
	int			epoch;			/* 1-based, the epoch in progress */
	int			epochs;
	int64		step;			/* steps done in this epoch */
	int64		steps;			/* steps per epoch */
	double		loss;			/* loss of the last step */
	double		images_per_second;
	TimestampTz started_at;		/* of this worker's training */
	TimestampTz updated_at;
	int64		steps_done;		/* by this worker, over all its epochs */
	int64		steps_left;		/* to the end of the run */
	bool		cancel_requested;
} MlpProgress;

/* Takes a free slot for run_id in this database; -1 when none is free (no progress shown). */
extern int	MlpProgressAcquire(int64 run_id, int epochs, int64 steps);
extern void MlpProgressRelease(int slot);
extern void MlpProgressUpdate(int slot, int epoch, int64 step, double loss,
							  double images_per_second);
/* Sets the shared cancel flag of a running run; false when it has no slot. */
extern bool MlpProgressRequestCancel(Oid database, int64 run_id);
extern bool MlpProgressCancelRequested(int slot);

#endif
