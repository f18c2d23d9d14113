/*
 * progress.h - one shared-memory slot per running run: what mlpscale.progress shows, and the
 * cancel flag the worker checks after every mini-batch.
 */
#ifndef MLP_PROGRESS_H
#define MLP_PROGRESS_H

#include "postgres.h"

#include "datatype/timestamp.h"

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

/* Its shared memory (shmem.c). */
extern Size MlpProgressShmemSize(void);
extern void MlpProgressShmemInit(void);

#endif
