/*
 * progress.c - live progress of running runs in shared memory, and mlpscale.progress.
 *
 * Each training worker takes one slot and rewrites it after every mini-batch; any session
 * reads the slots through mlpscale.progress_rows().  A spinlock guards the slots: writers
 * and readers only copy a few dozen bytes under it.
 */
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "mlpscale.h"
#include "progress.h"

typedef struct MlpProgressShared
{
	slock_t		mutex;
	int			num_slots;
	MlpProgress slots[FLEXIBLE_ARRAY_MEMBER];
} MlpProgressShared;

static MlpProgressShared *progress_shared = NULL;

/* A run needs a background worker, so there are never more runs than worker processes. */
static int
ProgressSlotCount(void)
{
	return Max(max_worker_processes, 1);
}

Size
MlpProgressShmemSize(void)
{
	return add_size(offsetof(MlpProgressShared, slots),
					mul_size(ProgressSlotCount(), sizeof(MlpProgress)));
}

/* Called by shmem.c at startup, with AddinShmemInitLock held. */
void
MlpProgressShmemInit(void)
{
	bool		found;

	progress_shared = ShmemInitStruct("mlpscale progress", MlpProgressShmemSize(), &found);
	if (!found)
	{
		SpinLockInit(&progress_shared->mutex);
		progress_shared->num_slots = ProgressSlotCount();
		memset(progress_shared->slots, 0, sizeof(MlpProgress) * progress_shared->num_slots);
	}
}

int
MlpProgressAcquire(int64 run_id, int epochs, int64 steps)
{
	int			slot = -1;

	if (progress_shared == NULL)
		return -1;
	SpinLockAcquire(&progress_shared->mutex);
	for (int i = 0; i < progress_shared->num_slots; i++)
	{
		MlpProgress *p = &progress_shared->slots[i];

		if (p->run_id != 0)
			continue;
		memset(p, 0, sizeof(*p));
		p->run_id = run_id;
		p->database = MyDatabaseId;
		p->run_as = GetSessionUserId();	/* the run's role (BecomeRunRole, train_worker.c) */
		p->pid = MyProcPid;
		p->epochs = epochs;
		p->steps = steps;
		p->started_at = GetCurrentTimestamp();
		p->updated_at = p->started_at;
		slot = i;
		break;
	}
	SpinLockRelease(&progress_shared->mutex);
	return slot;
}

void
MlpProgressRelease(int slot)
{
	if (progress_shared == NULL || slot < 0)
		return;
	SpinLockAcquire(&progress_shared->mutex);
	progress_shared->slots[slot].run_id = 0;
	SpinLockRelease(&progress_shared->mutex);
}

void
MlpProgressUpdate(int slot, int epoch, int64 step, double loss, double images_per_second)
{
	TimestampTz now;
	MlpProgress *p;

	if (progress_shared == NULL || slot < 0)
		return;
	now = GetCurrentTimestamp();
	SpinLockAcquire(&progress_shared->mutex);
	p = &progress_shared->slots[slot];
	p->epoch = epoch;
	p->step = step;
	p->loss = loss;
	p->images_per_second = images_per_second;
	p->updated_at = now;
	p->steps_done++;
	p->steps_left = (int64) (p->epochs - epoch) * p->steps + (p->steps - step);
	SpinLockRelease(&progress_shared->mutex);
}

bool
MlpProgressRequestCancel(Oid database, int64 run_id)
{
	bool		found = false;

	if (progress_shared == NULL)
		return false;
	SpinLockAcquire(&progress_shared->mutex);
	for (int i = 0; i < progress_shared->num_slots; i++)
	{
		MlpProgress *p = &progress_shared->slots[i];

		if (p->run_id == run_id && p->database == database)
		{
			p->cancel_requested = true;
			found = true;
		}
	}
	SpinLockRelease(&progress_shared->mutex);
	return found;
}

bool
MlpProgressCancelRequested(int slot)
{
	bool		result;

	if (progress_shared == NULL || slot < 0)
		return false;
	SpinLockAcquire(&progress_shared->mutex);
	result = progress_shared->slots[slot].cancel_requested;
	SpinLockRelease(&progress_shared->mutex);
	return result;
}

/*
 * mlpscale.progress_rows(): the slots of this database's runs that the current role may see.  Time left extrapolates the
 * steps per second this worker has achieved so far to the steps still to do.
 */
PG_FUNCTION_INFO_V1(mlp_progress_rows);
Datum
mlp_progress_rows(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int			num_slots;
	MlpProgress *copy;

	InitMaterializedSRF(fcinfo, 0);
	if (progress_shared == NULL)
		return (Datum) 0;

	num_slots = progress_shared->num_slots;
	copy = palloc(sizeof(MlpProgress) * num_slots);
	SpinLockAcquire(&progress_shared->mutex);
	memcpy(copy, progress_shared->slots, sizeof(MlpProgress) * num_slots);
	SpinLockRelease(&progress_shared->mutex);

	for (int i = 0; i < num_slots; i++)
	{
		MlpProgress *p = &copy[i];
		Datum		values[11];
		bool		nulls[11] = {0};
		double		elapsed;

		if (p->run_id == 0 || p->database != MyDatabaseId)
			continue;
		/* Like mlpscale.runs: a role sees its own runs (and those of roles it has). */
		if (!has_privs_of_role(GetUserId(), p->run_as))
			continue;
		elapsed = (double) (p->updated_at - p->started_at) / USECS_PER_SEC;

		values[0] = Int64GetDatum(p->run_id);
		values[1] = Int32GetDatum(p->pid);
		values[2] = Int32GetDatum(p->epoch);
		values[3] = Int32GetDatum(p->epochs);
		values[4] = Int64GetDatum(p->step);
		values[5] = Int64GetDatum(p->steps);
		values[6] = Float8GetDatum(p->loss);
		values[7] = Float8GetDatum(p->images_per_second);
		nulls[2] = nulls[4] = nulls[6] = nulls[7] = (p->steps_done == 0);
		if (p->steps_done > 0 && elapsed > 0)
			values[8] = Float8GetDatum(p->steps_left * elapsed / p->steps_done);
		else
			nulls[8] = true;
		values[9] = TimestampTzGetDatum(p->started_at);
		values[10] = TimestampTzGetDatum(p->updated_at);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	pfree(copy);
	return (Datum) 0;
}
