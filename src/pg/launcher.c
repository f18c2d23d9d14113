/*
 * launcher.c - the launcher background worker and the shared queue of committed runs.
 *
 * The launcher is registered from _PG_init when mlpscale is preloaded.  It is connected to no
 * database (runs live in the databases that installed mlpscale), so it works from a queue in
 * shared memory: mlp_train posts (database, run id) when its transaction commits and wakes
 * the launcher, which starts one dynamic worker per run, at most
 * mlpscale.max_concurrent_runs at a time.  A worker that ends wakes the launcher through
 * bgw_notify_pid.
 *
 * Runs the queue does not know about are found by sweepers, short dynamic workers that
 * connect to one database each: once after every server start (marking runs left 'running'
 * as 'interrupted' and posting the 'queued' ones), and again whenever the queue overflowed.
 */
#include "postgres.h"

#include <signal.h>

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "mlpscale.h"
#include "launcher.h"
#include "privilege.h"
#include "settings.h"
#include "progress.h"
#include "run_store.h"

#define MLP_LAUNCH_QUEUE_SIZE	1024
#define MLP_LAUNCHER_NAP_MS		10000	/* also the retry interval when slots ran out */

/* Sweeper modes (bgw_main_arg). */
#define MLP_SWEEP_STARTUP	1	/* running -> interrupted, post queued */
#define MLP_SWEEP_QUEUED	2	/* post queued only */
#define MLP_SWEEP_ORPHAN	3	/* a worker has exited: its run must not stay 'running' */

/* bgw_extra of a sweeper: the database, and for MLP_SWEEP_ORPHAN the run and its worker. */
typedef struct MlpSweepTarget
{
	Oid			database;
	int64		run_id;
	int32		worker_pid;
} MlpSweepTarget;

typedef struct MlpLaunchRequest
{
	Oid			database;
	int64		run_id;
} MlpLaunchRequest;

typedef struct MlpLauncherShared
{
	slock_t		mutex;
	pid_t		launcher_pid;
	bool		startup_sweep_done;	/* false after every (re)initialisation of shmem */
	bool		overflowed;		/* a post found the queue full: sweep again */
	int			head;			/* ring buffer of posted runs */
	int			count;
	int			training_workers;	/* training workers alive, whoever started them */
	MlpLaunchRequest queue[MLP_LAUNCH_QUEUE_SIZE];
} MlpLauncherShared;

/* A worker the launcher started and has not yet seen stop. */
typedef struct MlpActiveRun
{
	Oid			database;
	int64		run_id;
	pid_t		pid;
	BackgroundWorkerHandle *handle;
} MlpActiveRun;

static MlpLauncherShared *launcher_shared = NULL;

Size
MlpLauncherShmemSize(void)
{
	return sizeof(MlpLauncherShared);
}

/* Called by shmem.c at startup, with AddinShmemInitLock held. */
void
MlpLauncherShmemInit(void)
{
	bool		found;

	launcher_shared = ShmemInitStruct("mlpscale launcher", sizeof(MlpLauncherShared), &found);
	if (!found)
	{
		memset(launcher_shared, 0, sizeof(MlpLauncherShared));
		SpinLockInit(&launcher_shared->mutex);
	}
}

void
MlpLauncherInit(void)
{
	BackgroundWorker worker;

	/* Outside shared_preload_libraries there is no launcher; mlp_train says so. */
	if (!process_shared_preload_libraries_in_progress)
		return;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 10;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "mlpscale");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "MlpLauncherMain");
	snprintf(worker.bgw_name, BGW_MAXLEN, "mlpscale launcher");
	snprintf(worker.bgw_type, BGW_MAXLEN, "mlpscale launcher");
	RegisterBackgroundWorker(&worker);
}

bool
MlpLauncherAvailable(void)
{
	return launcher_shared != NULL;
}

void
MlpCheckLauncherAvailable(void)
{
	if (!MlpLauncherAvailable())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("mlpscale is not in shared_preload_libraries"),
				 errhint("Training runs in background workers: add mlpscale to "
						 "shared_preload_libraries in postgresql.conf and restart the server.")));
}

void
MlpLauncherWake(void)
{
	pid_t		pid;

	if (launcher_shared == NULL)
		return;
	SpinLockAcquire(&launcher_shared->mutex);
	pid = launcher_shared->launcher_pid;
	SpinLockRelease(&launcher_shared->mutex);
	/* SIGUSR1 sets a background worker's latch (procsignal_sigusr1_handler). */
	if (pid != 0)
		kill(pid, SIGUSR1);
}

bool
MlpLauncherPost(Oid database, int64 run_id)
{
	bool		posted = false;

	if (launcher_shared == NULL)
		return false;
	SpinLockAcquire(&launcher_shared->mutex);
	if (launcher_shared->count < MLP_LAUNCH_QUEUE_SIZE)
	{
		int			tail = (launcher_shared->head + launcher_shared->count) % MLP_LAUNCH_QUEUE_SIZE;

		launcher_shared->queue[tail].database = database;
		launcher_shared->queue[tail].run_id = run_id;
		launcher_shared->count++;
		posted = true;
	}
	else
		launcher_shared->overflowed = true;
	SpinLockRelease(&launcher_shared->mutex);
	MlpLauncherWake();
	return posted;
}

static bool
LauncherPeek(MlpLaunchRequest *req)
{
	bool		found = false;

	SpinLockAcquire(&launcher_shared->mutex);
	if (launcher_shared->count > 0)
	{
		*req = launcher_shared->queue[launcher_shared->head];
		found = true;
	}
	SpinLockRelease(&launcher_shared->mutex);
	return found;
}

static void
LauncherDropHead(void)
{
	SpinLockAcquire(&launcher_shared->mutex);
	if (launcher_shared->count > 0)
	{
		launcher_shared->head = (launcher_shared->head + 1) % MLP_LAUNCH_QUEUE_SIZE;
		launcher_shared->count--;
	}
	SpinLockRelease(&launcher_shared->mutex);
}

/* Databases that accept connections and are not templates, read from pg_database. */
static List *
LauncherDatabaseList(void)
{
	List	   *result = NIL;
	MemoryContext caller = CurrentMemoryContext;
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;

	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while (HeapTupleIsValid(tup = heap_getnext(scan, ForwardScanDirection)))
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tup);
		MemoryContext old;

		if (!db->datallowconn || db->datistemplate)
			continue;
		old = MemoryContextSwitchTo(caller);
		result = lappend_oid(result, db->oid);
		MemoryContextSwitchTo(old);
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	PopActiveSnapshot();
	CommitTransactionCommand();
	return result;
}

static void
LauncherFillWorker(BackgroundWorker *worker, const char *function, Oid database)
{
	memset(worker, 0, sizeof(*worker));
	worker->bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker->bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker->bgw_restart_time = BGW_NEVER_RESTART;
	worker->bgw_notify_pid = MyProcPid;
	snprintf(worker->bgw_library_name, BGW_MAXLEN, "mlpscale");
	snprintf(worker->bgw_function_name, BGW_MAXLEN, "%s", function);
	memcpy(worker->bgw_extra, &database, sizeof(Oid));
}

static void
LauncherWarnNoSlot(const char *what)
{
	/* LOG, not WARNING: in the server log LOG ranks above WARNING and ERROR, so it shows */
	ereport(LOG,
			(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
			 errmsg("mlpscale launcher: out of background worker slots for %s", what),
			 errhint("Increase max_worker_processes (currently %d); the launcher retries every %d seconds.",
					 max_worker_processes, MLP_LAUNCHER_NAP_MS / 1000)));
}

/*
 * Runs one sweeper per database, one after the other.  False when a worker slot was missing
 * (the caller retries later).
 */
static bool
LauncherSweep(int mode)
{
	List	   *databases = LauncherDatabaseList();
	ListCell   *lc;

	foreach(lc, databases)
	{
		Oid			database = lfirst_oid(lc);
		BackgroundWorker worker;
		BackgroundWorkerHandle *handle;

		LauncherFillWorker(&worker, "MlpSweeperMain", database);
		worker.bgw_main_arg = Int32GetDatum(mode);
		snprintf(worker.bgw_name, BGW_MAXLEN, "mlpscale sweeper for database %u", database);
		snprintf(worker.bgw_type, BGW_MAXLEN, "mlpscale sweeper");
		if (!RegisterDynamicBackgroundWorker(&worker, &handle))
		{
			LauncherWarnNoSlot("the sweeper");
			list_free(databases);
			return false;
		}
		/* A sweeper takes milliseconds; waiting keeps the queue in run id order. */
		(void) WaitForBackgroundWorkerShutdown(handle);
		pfree(handle);
	}
	list_free(databases);
	return true;
}

/*
 * A worker records every end of its run itself; one that died without doing so (FATAL, a
 * signal before training began) would leave its run 'running' for ever.  A sweeper in the
 * run's database marks such a run 'interrupted', so it can be resumed.
 */
static void
LauncherCheckOrphan(const MlpActiveRun *run)
{
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;
	MlpSweepTarget target = {run->database, run->run_id, (int32) run->pid};

	LauncherFillWorker(&worker, "MlpSweeperMain", run->database);
	memcpy(worker.bgw_extra, &target, sizeof(target));
	worker.bgw_main_arg = Int32GetDatum(MLP_SWEEP_ORPHAN);
	worker.bgw_notify_pid = 0;
	snprintf(worker.bgw_name, BGW_MAXLEN, "mlpscale sweeper for run " INT64_FORMAT, run->run_id);
	snprintf(worker.bgw_type, BGW_MAXLEN, "mlpscale sweeper");
	if (!RegisterDynamicBackgroundWorker(&worker, &handle))
		LauncherWarnNoSlot("the check of an ended run");
	else
		pfree(handle);
}

static List *
LauncherReap(List *active)
{
	ListCell   *lc;

	foreach(lc, active)
	{
		MlpActiveRun *run = lfirst(lc);
		pid_t		pid;

		if (GetBackgroundWorkerPid(run->handle, &pid) == BGWH_STOPPED)
		{
			if (run->pid != 0)
				LauncherCheckOrphan(run);
			active = foreach_delete_current(active, lc);
			pfree(run->handle);
			pfree(run);
		}
	}
	return active;
}

static bool
LauncherIsActive(List *active, const MlpLaunchRequest *req)
{
	ListCell   *lc;

	foreach(lc, active)
	{
		MlpActiveRun *run = lfirst(lc);

		if (run->run_id == req->run_id && run->database == req->database)
			return true;
	}
	return false;
}

static void
TrainingWorkerExit(int code, Datum arg)
{
	SpinLockAcquire(&launcher_shared->mutex);
	launcher_shared->training_workers--;
	SpinLockRelease(&launcher_shared->mutex);
	/*
	 * The launcher hears of the workers it started through their handles; one restarted
	 * after pg_terminate_backend() did not start this one, so tell it that a slot is free
	 * (else the next queued run waited for its minute-long nap).
	 */
	MlpLauncherWake();
}

/*
 * Called first thing by every training worker: the count lives in shared memory, so a
 * launcher that was restarted (and so forgot the workers it had started) still respects
 * mlpscale.max_concurrent_runs.  A worker that dies without running its exit callbacks makes
 * the postmaster reinitialise shared memory, and the count with it.
 */
void
MlpTrainingWorkerStarted(void)
{
	if (launcher_shared == NULL)
		return;
	SpinLockAcquire(&launcher_shared->mutex);
	launcher_shared->training_workers++;
	SpinLockRelease(&launcher_shared->mutex);
	before_shmem_exit(TrainingWorkerExit, 0);
}

/* Training workers running now: those we started and any a previous launcher started. */
static int
LauncherRunningWorkers(List *active)
{
	int			n;

	SpinLockAcquire(&launcher_shared->mutex);
	n = launcher_shared->training_workers;
	SpinLockRelease(&launcher_shared->mutex);
	/* a worker we started may not have counted itself yet */
	return Max(n, list_length(active));
}

/* Starts workers for posted runs while the limit allows.  False when slots ran out. */
static bool
LauncherStartRuns(List **active)
{
	MlpLaunchRequest req;

	while (LauncherRunningWorkers(*active) < mlp_max_concurrent_runs && LauncherPeek(&req))
	{
		BackgroundWorker worker;
		BackgroundWorkerHandle *handle;
		MlpActiveRun *run;

		if (LauncherIsActive(*active, &req))
		{
			LauncherDropHead();
			continue;
		}
		LauncherFillWorker(&worker, "MlpTrainWorkerMain", req.database);
		worker.bgw_main_arg = Int64GetDatum(req.run_id);
		snprintf(worker.bgw_name, BGW_MAXLEN, "mlpscale training run " INT64_FORMAT,
				 req.run_id);
		snprintf(worker.bgw_type, BGW_MAXLEN, "mlpscale training");
		if (!RegisterDynamicBackgroundWorker(&worker, &handle))
		{
			LauncherWarnNoSlot("training runs");
			return false;
		}
		run = palloc(sizeof(MlpActiveRun));
		run->database = req.database;
		run->run_id = req.run_id;
		run->handle = handle;
		/* Its pid tells the orphan check which worker the run row must name. */
		if (WaitForBackgroundWorkerStartup(handle, &run->pid) != BGWH_STARTED)
			run->pid = 0;
		*active = lappend(*active, run);
		LauncherDropHead();
		elog(DEBUG1, "mlpscale launcher: started the worker of run " INT64_FORMAT, req.run_id);
	}
	return true;
}

void
MlpLauncherMain(Datum arg)
{
	List	   *active = NIL;
	MemoryContext loop_context;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
	BackgroundWorkerUnblockSignals();

	/* No database: only shared catalogs (pg_database) are read. */
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	pgstat_report_appname("mlpscale launcher");

	SpinLockAcquire(&launcher_shared->mutex);
	launcher_shared->launcher_pid = MyProcPid;
	SpinLockRelease(&launcher_shared->mutex);

	loop_context = AllocSetContextCreate(TopMemoryContext, "mlpscale launcher",
										 ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(loop_context);
	elog(LOG, "mlpscale launcher started");

	while (!ShutdownRequestPending)
	{
		bool		startup_pending;
		bool		overflowed;
		bool		retry = false;

		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		SpinLockAcquire(&launcher_shared->mutex);
		startup_pending = !launcher_shared->startup_sweep_done;
		/* Sweep for lost posts only once the queue has room for them again. */
		overflowed = launcher_shared->overflowed &&
			launcher_shared->count < MLP_LAUNCH_QUEUE_SIZE / 2;
		if (overflowed)
			launcher_shared->overflowed = false;
		SpinLockRelease(&launcher_shared->mutex);

		if (startup_pending || overflowed)
		{
			if (LauncherSweep(startup_pending ? MLP_SWEEP_STARTUP : MLP_SWEEP_QUEUED))
			{
				if (startup_pending)
				{
					SpinLockAcquire(&launcher_shared->mutex);
					launcher_shared->startup_sweep_done = true;
					SpinLockRelease(&launcher_shared->mutex);
				}
			}
			else
			{
				retry = true;
				if (overflowed)
				{
					SpinLockAcquire(&launcher_shared->mutex);
					launcher_shared->overflowed = true;
					SpinLockRelease(&launcher_shared->mutex);
				}
			}
		}

		active = LauncherReap(active);
		if (!LauncherStartRuns(&active))
			retry = true;

		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 retry ? MLP_LAUNCHER_NAP_MS : MLP_LAUNCHER_NAP_MS * 6,
						 PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}

	SpinLockAcquire(&launcher_shared->mutex);
	launcher_shared->launcher_pid = 0;
	SpinLockRelease(&launcher_shared->mutex);
	elog(LOG, "mlpscale launcher shutting down");

	/*
	 * Exit code 1, not 0: after a pg_terminate_backend() the postmaster starts the launcher
	 * again after bgw_restart_time, while 0 would unregister it and leave every new run
	 * queued until the server restarts.  At server shutdown nothing is restarted anyway.
	 */
	proc_exit(1);
}

/*
 * The sweeper of one database (bgw_extra): does nothing where mlpscale is not installed.
 * Runs as the bootstrap superuser, which owns nothing of the user's but may write the
 * bookkeeping tables.
 */
void
MlpSweeperMain(Datum arg)
{
	int			mode = DatumGetInt32(arg);
	MlpSweepTarget target;
	Oid			database;
	bool		same_version;

	memcpy(&target, MyBgworkerEntry->bgw_extra, sizeof(target));
	database = target.database;
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(database, InvalidOid, 0);
	pgstat_report_appname("mlpscale sweeper");

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	if (!OidIsValid(get_extension_oid("mlpscale", true)))
	{
		CommitTransactionCommand();
		proc_exit(0);
	}
	/*
	 * With another version's tables installed, runs left running are still marked (those
	 * statements are valid on every version) but queued runs wait: their worker could not
	 * read them.  ALTER EXTENSION UPDATE posts them (mlp_post_queued_runs, run_queue.c).
	 */
	same_version = MlpExtensionVersionMatches();
	if (!same_version)
		ereport(LOG,
				(errmsg("mlpscale: database %u has another version of the extension than the library's %s; its queued runs wait",
						database, MLPSCALE_VERSION),
				 errhint("Run ALTER EXTENSION mlpscale UPDATE in that database.")));
	MlpSpiConnect();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "mlpscale: sweeping runs");
	/* (the database's owner may have set a search_path for it: run_store.c pins its own) */

	if (mode == MLP_SWEEP_ORPHAN)
	{
		if (MlpRunStoreInterruptOrphan(target.run_id, target.worker_pid) > 0)
			ereport(LOG,
					(errmsg("mlpscale: the worker of run " INT64_FORMAT " exited without ending it; marked interrupted",
							target.run_id)));
	}
	else
	{
		if (mode == MLP_SWEEP_STARTUP)
		{
			uint64		n = MlpRunStoreInterruptRunning();

			if (n > 0)
				ereport(LOG,
						(errmsg("mlpscale: marked %llu runs of database %u as interrupted",
								(unsigned long long) n, database),
						 errhint("SELECT mlp_resume(id) continues a run from its last checkpoint.")));
		}
		if (same_version)
		{
			List	   *queued = MlpRunStoreQueued();
			ListCell   *lc;

			foreach(lc, queued)
				if (!MlpLauncherPost(database, *(int64 *) lfirst(lc)))
					break;
		}
	}

	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);
	proc_exit(0);
}
