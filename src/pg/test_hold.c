/*
 * test_hold.c - hold points of the training worker, so that tests reach a state of a run
 * without racing the clock (mlpscale.test_hold_points, off by default).
 *
 * A hold point is a shared advisory lock on the two-int4 key (run id, point), taken and
 * released at once in a short transaction of the worker's own; a test that holds
 * pg_advisory_lock(run, point) in its session keeps the worker waiting there, visible in
 * pg_locks (advisory, not granted, the worker's pid), until it releases the key or its
 * session ends.  The test takes the key before the run can get there: in the transaction of
 * mlp_train (the worker starts at commit), or for point N + 1 while the run is held at N.
 *
 * The wait is a real lock wait, and a lock wait ends only when the lock is granted or an
 * interrupt raises an error.  The worker's SIGTERM handler, while it trains, only raises a
 * flag, so during the wait a handler of our own runs it and asks for a query cancel as well:
 * the wait ends with that error, which is swallowed here, and the worker finds its flag
 * raised and records the run as interrupted, as after a SIGTERM between mini-batches.
 */
#include "postgres.h"

#include <signal.h>

#include "access/xact.h"
#include "miscadmin.h"
#include "storage/latch.h"
#include "storage/lock.h"
#include "utils/guc.h"

#include "settings.h"
#include "test_hold.h"


static volatile sig_atomic_t hold_sigterm_seen = false;
static void (*volatile hold_prev_sigterm) (int) = NULL;


/* SIGTERM during the wait: the worker's handler, then a cancel that ends the lock wait. */
static void
HoldSigterm(SIGNAL_ARGS)
{
	int			save_errno = errno;

	hold_sigterm_seen = true;
	if (hold_prev_sigterm != NULL && hold_prev_sigterm != SIG_DFL &&
		hold_prev_sigterm != SIG_IGN)
		hold_prev_sigterm(postgres_signal_arg);
	QueryCancelPending = true;
	InterruptPending = true;
	SetLatch(MyLatch);
	errno = save_errno;
}

/* Puts the worker's SIGTERM handler back; a cancel our handler asked for is dropped. */
static void
HoldRestoreSigterm(void)
{
	pqsignal(SIGTERM, hold_prev_sigterm);
	if (hold_sigterm_seen)
		QueryCancelPending = false;
}

void
MlpTestHold(int64 run_id, int point, volatile sig_atomic_t *stop_requested)
{
	MemoryContext caller_context = CurrentMemoryContext;
	LOCKTAG		tag;
	struct sigaction current;
	volatile bool stopped = false;

	/* pg_advisory_lock(int4, int4) cannot name a larger run id */
	if (!mlp_test_hold_points || run_id <= 0 || run_id > PG_INT32_MAX || point < 0)
		return;
	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, (uint32) run_id, (uint32) point, 2);

	/* the worker's handler is known before ours can run and call it */
	if (sigaction(SIGTERM, NULL, &current) != 0)
		elog(ERROR, "could not read the SIGTERM handler: %m");
	hold_prev_sigterm = current.sa_handler;
	hold_sigterm_seen = false;
	pqsignal(SIGTERM, HoldSigterm);
	/* from here every SIGTERM comes to HoldSigterm; one before it raised the flag */
	if (*stop_requested)
	{
		HoldRestoreSigterm();
		return;
	}

	StartTransactionCommand();
	if (LockAcquire(&tag, ShareLock, false, true) != LOCKACQUIRE_NOT_AVAIL)
	{
		LockRelease(&tag, ShareLock, false);
		CommitTransactionCommand();
		HoldRestoreSigterm();
		MemoryContextSwitchTo(caller_context);
		return;
	}

	elog(LOG, "mlpscale: run " INT64_FORMAT " waits at test hold point %d", run_id, point);
	PG_TRY();
	{
		(void) LockAcquire(&tag, ShareLock, false, false);
		LockRelease(&tag, ShareLock, false);
	}
	PG_CATCH();
	{
		if (!hold_sigterm_seen)
		{
			pqsignal(SIGTERM, hold_prev_sigterm);
			PG_RE_THROW();		/* pg_cancel_backend and the like: the worker's business */
		}
		MemoryContextSwitchTo(caller_context);
		FlushErrorState();
		stopped = true;
	}
	PG_END_TRY();
	/* a SIGTERM after the lock was granted must not cancel the worker's next statement */
	HoldRestoreSigterm();

	if (stopped)
		AbortCurrentTransaction();
	else
		CommitTransactionCommand();
	MemoryContextSwitchTo(caller_context);
	elog(LOG, "mlpscale: run " INT64_FORMAT " leaves test hold point %d (%s)", run_id, point,
		 stopped ? "stop requested" : "released");
}
