/*
 * run_queue.c - the settings of training and the SQL functions that queue, wait for, cancel
 * and resume runs.
 *
 * mlp_train and mlp_finetune check every argument before anything is queued, so mistakes
 * are errors of the calling statement rather than failed runs.  The run row is inserted in
 * the caller's transaction; only when that transaction commits is the launcher told (an
 * XactCallback), so a rolled-back call leaves nothing and starts nothing.
 */
#include "postgres.h"

#include <limits.h>
#include <math.h>

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "core/arch.h"
#include "core/augment.h"
#include "core/blas.h"
#include "core/optimizer.h"
#include "data_source.h"
#include "mlpscale.h"
#include "model_store.h"
#include "launcher.h"
#include "privilege.h"
#include "progress.h"
#include "run_config.h"
#include "run_queue.h"
#include "run_store.h"
#include "sql_values.h"
#include "settings.h"
#include "train_subset.h"

#define MLP_MAX_EPOCHS		1000000
#define MLP_MAX_BATCH		(1 << 20)
#define MLP_MAX_RESOLUTION	4096
#define MLP_WAIT_POLL_MS	200

/* ---- runs posted when their transaction commits ------------------------------------------ */

typedef enum PendingKind
{
	PENDING_START,				/* post the run to the launcher */
	PENDING_CANCEL				/* raise the shared cancel flag of a running run */
} PendingKind;

typedef struct PendingAction
{
	PendingKind kind;
	int64		run_id;
	SubTransactionId subid;
} PendingAction;

static List *pending_actions = NIL;
static bool xact_callbacks_registered = false;

static void
RunQueueXactCallback(XactEvent event, void *arg)
{
	ListCell   *lc;

	switch (event)
	{
		case XACT_EVENT_PRE_PREPARE:
			if (pending_actions != NIL)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot prepare a transaction that queued, resumed or canceled a training run")));
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			foreach(lc, pending_actions)
			{
				PendingAction *a = lfirst(lc);

				if (a->kind == PENDING_START)
				{
					/* A full queue is not lost: the launcher sweeps the databases for it. */
					(void) MlpLauncherPost(MyDatabaseId, a->run_id);
				}
				else
					(void) MlpProgressRequestCancel(MyDatabaseId, a->run_id);
			}
			list_free_deep(pending_actions);
			pending_actions = NIL;
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			list_free_deep(pending_actions);
			pending_actions = NIL;
			break;
		default:
			break;
	}
}

static void
RunQueueSubxactCallback(SubXactEvent event, SubTransactionId mySubid,
						   SubTransactionId parentSubid, void *arg)
{
	ListCell   *lc;

	foreach(lc, pending_actions)
	{
		PendingAction *a = lfirst(lc);

		if (a->subid != mySubid)
			continue;
		if (event == SUBXACT_EVENT_ABORT_SUB)
		{
			pending_actions = foreach_delete_current(pending_actions, lc);
			pfree(a);
		}
		else if (event == SUBXACT_EVENT_COMMIT_SUB)
			a->subid = parentSubid;
	}
}

static List *
LappendWithContext(List *list, void *item, MemoryContext context)
{
	MemoryContext old = MemoryContextSwitchTo(context);

	list = lappend(list, item);
	MemoryContextSwitchTo(old);
	return list;
}

static void
RememberAction(PendingKind kind, int64 run_id)
{
	PendingAction *a;

	if (!xact_callbacks_registered)
	{
		RegisterXactCallback(RunQueueXactCallback, NULL);
		RegisterSubXactCallback(RunQueueSubxactCallback, NULL);
		xact_callbacks_registered = true;
	}
	a = MemoryContextAlloc(TopMemoryContext, sizeof(PendingAction));
	a->kind = kind;
	a->run_id = run_id;
	a->subid = GetCurrentSubTransactionId();
	pending_actions = LappendWithContext(pending_actions, a, TopMemoryContext);
}

bool
MlpRunQueuedInThisTransaction(int64 run_id)
{
	ListCell   *lc;

	foreach(lc, pending_actions)
	{
		PendingAction *a = lfirst(lc);

		if (a->kind == PENDING_START && a->run_id == run_id)
			return true;
	}
	return false;
}

/* ---- argument checks --------------------------------------------------------------------- */

static void
RequiredArg(FunctionCallInfo fcinfo, int argno, const char *name)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", name)));
}

static void
CheckIntRange(const char *name, int64 value, int64 lo, int64 hi)
{
	if (value < lo || value > hi)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be between " INT64_FORMAT " and " INT64_FORMAT ", not " INT64_FORMAT,
						name, lo, hi, value)));
}

static void
CheckRealRange(const char *name, double value, double lo, double hi, bool hi_inclusive)
{
	if (!isfinite(value) || value < lo || (hi_inclusive ? value > hi : value >= hi))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be in [%g, %g%s, not %g", name, lo, hi,
						hi_inclusive ? "]" : ")", value)));
}

/* A real[] argument of one value per channel (std: positive); 0 when it is null. */
static int
RealArrayArg(const MlpArgs *args, const char *name, bool positive, float *out)
{
	if (MlpArgIsNull(args, name))
		return 0;
	return MlpChannelValues(DatumGetArrayTypeP(MlpArgRequired(args, name)), name, positive, out,
							MLP_MAX_CHANNELS);
}

/*
 * Resolves source (or validation) once, here, with the caller's search_path and privileges:
 * the worker reads exactly the relation found now (by OID), and a missing relation, column
 * or privilege is an error of this call rather than a failed run.
 */
static void
ResolveSource(const char *source, const char *what, const char *image_column,
			   const char *label_column, MlpResolvedSource *out)
{
	MemoryContext caller;

	if (source[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be empty", what)));
	caller = CurrentMemoryContext;
	MlpSpiConnect();
	MlpResolveSource(source, what, image_column, label_column, out);
	/* allocated in SPI's memory, which SPI_finish frees */
	out->name = MemoryContextStrdup(caller, out->name);
	SPI_finish();
}

/*
 * The caller's effective search_path as a list of quoted schema names (without pg_temp,
 * which the worker cannot see): the worker runs a query source under it, so the query
 * means in the worker what it meant in the call.
 */
static char *
CallerSearchPath(void)
{
	List	   *schemas = fetch_search_path(false);
	StringInfoData buf;
	ListCell   *lc;

	initStringInfo(&buf);
	foreach(lc, schemas)
	{
		char	   *nsp = get_namespace_name(lfirst_oid(lc));

		if (nsp == NULL)
			continue;
		appendStringInfo(&buf, "%s%s", buf.len ? ", " : "", quote_identifier(nsp));
	}
	list_free(schemas);
	return buf.data;
}

/* ---- the config of a run ----------------------------------------------------------------- */

typedef struct RunArgs
{
	MlpRunConfig cfg;
	char	   *base_model;		/* resolved to name@version */
} RunArgs;

static int64
RandomSeed(void)
{
	uint64		seed;

	if (!pg_strong_random(&seed, sizeof(seed)))
		seed = (uint64) GetCurrentTimestamp() ^ ((uint64) MyProcPid << 32);
	/* Stored as bigint and shown to users: keep it positive and readable. */
	return (int64) (seed & INT64CONST(0x7FFFFFFFFFFFFFFF));
}

/* The arguments that mlp_train and mlp_finetune share, found by name. */
static void
ParseCommonArgs(const MlpArgs *args, RunArgs *a)
{
	int			kind;
	MlpOptConfig opt;

	a->cfg.epochs = DatumGetInt32(MlpArgRequired(args, "epochs"));
	CheckIntRange("epochs", a->cfg.epochs, 1, MLP_MAX_EPOCHS);

	a->cfg.batch_size = DatumGetInt32(MlpArgRequired(args, "batch_size"));
	CheckIntRange("batch_size", a->cfg.batch_size, 1, MLP_MAX_BATCH);

	a->cfg.optimizer = MlpArgText(args, "optimizer");
	kind = mlp_opt_kind_parse(a->cfg.optimizer);
	if (kind < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown optimizer \"%s\"", a->cfg.optimizer),
				 errhint("Use 'lion', 'adamw' or 'sgd'.")));
	a->cfg.optimizer = pstrdup(mlp_opt_kind_name((MlpOptKind) kind));
	mlp_opt_defaults(&opt, (MlpOptKind) kind, 0);

	a->cfg.lr = MlpArgIsNull(args, "lr") ? opt.lr : DatumGetFloat4(MlpArgRequired(args, "lr"));
	if (!isfinite(a->cfg.lr) || a->cfg.lr <= 0 || a->cfg.lr > 10)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("lr must be in (0, 10], not %g", a->cfg.lr)));

	a->cfg.weight_decay = MlpArgIsNull(args, "weight_decay") ? opt.weight_decay :
		DatumGetFloat4(MlpArgRequired(args, "weight_decay"));
	CheckRealRange("weight_decay", a->cfg.weight_decay, 0, 1e3, true);

	a->cfg.label_smoothing = DatumGetFloat4(MlpArgRequired(args, "label_smoothing"));
	CheckRealRange("label_smoothing", a->cfg.label_smoothing, 0, 1, false);

	a->cfg.mixup = DatumGetFloat4(MlpArgRequired(args, "mixup"));
	CheckRealRange("mixup", a->cfg.mixup, 0, 100, true);

	a->cfg.augment = DatumGetBool(MlpArgRequired(args, "augment"));

	if (!MlpArgIsNull(args, "resolution"))
	{
		a->cfg.resolution = DatumGetInt32(MlpArgRequired(args, "resolution"));
		CheckIntRange("resolution", a->cfg.resolution, 1, MLP_MAX_RESOLUTION);
	}

	a->cfg.validation = MlpArgTextOrNull(args, "validation");
	a->cfg.seed = MlpArgIsNull(args, "seed") ? RandomSeed() :
		DatumGetInt64(MlpArgRequired(args, "seed"));
	a->cfg.image_column = MlpArgText(args, "image_column");
	a->cfg.label_column = MlpArgText(args, "label_column");
	a->cfg.cosine = DatumGetBool(MlpArgRequired(args, "cosine"));

	a->cfg.clip_norm = MlpArgIsNull(args, "clip_norm") ? 0 :
		DatumGetFloat4(MlpArgRequired(args, "clip_norm"));
	CheckRealRange("clip_norm", a->cfg.clip_norm, 0, 1e9, true);

	if (!MlpArgIsNull(args, "classes"))
	{
		a->cfg.classes = DatumGetInt32(MlpArgRequired(args, "classes"));
		CheckIntRange("classes", a->cfg.classes, 2, MLP_ARCH_MAX_CLASSES);
	}

	a->cfg.num_mean = RealArrayArg(args, "mean", false, a->cfg.mean);
	a->cfg.num_std = RealArrayArg(args, "std", true, a->cfg.std);
	if (a->cfg.num_mean != a->cfg.num_std)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("mean and std must be given together, with one value per channel"),
				 errdetail("mean has %d values, std %d.", a->cfg.num_mean, a->cfg.num_std)));
	a->cfg.matmul_precision = MlpCheckMatmulPrecision(MlpArgText(args, "matmul_precision"));

	/* Checked against the source's classes once it is resolved (MlpCheckTrainSize). */
	if (!MlpArgIsNull(args, "train_size"))
	{
		a->cfg.train_size = DatumGetInt64(MlpArgRequired(args, "train_size"));
		if (a->cfg.train_size < 1)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("train_size must be positive, not " INT64_FORMAT, a->cfg.train_size),
					 errhint("Leave it NULL to train on every row.")));
	}
	if (!MlpArgIsNull(args, "early_stop"))
	{
		a->cfg.early_stop = DatumGetInt32(MlpArgRequired(args, "early_stop"));
		CheckIntRange("early_stop", a->cfg.early_stop, 1, MLP_MAX_EPOCHS);
		if (a->cfg.validation == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("early_stop needs a validation source"),
					 errhint("Give validation => a table, view or query of held-out rows: early stopping watches their loss.")));
	}
	a->cfg.threads = mlp_training_threads;
	a->cfg.streaming = mlp_streaming;
	a->cfg.stream_buffer_rows = mlp_stream_buffer_rows;
	a->cfg.body_lr_mult = 1.0;
}

static int64
QueueRun(RunArgs *a)
{
	int64		run_id;
	MlpResolvedSource src;

	MlpCheckModelName(a->cfg.model_name);
	MlpCheckCanAddVersion(a->cfg.model_name);
	ResolveSource(a->cfg.source, "source", a->cfg.image_column, a->cfg.label_column, &src);
	a->cfg.source = src.name;
	a->cfg.source_relid = src.relid;
	MlpCheckTrainSize(&a->cfg, &src);
	if (a->cfg.validation)
	{
		ResolveSource(a->cfg.validation, "validation", a->cfg.image_column,
					   a->cfg.label_column, &src);
		a->cfg.validation = src.name;
		a->cfg.validation_relid = src.relid;
	}
	a->cfg.search_path = CallerSearchPath();
	run_id = MlpRunStoreInsert(&a->cfg, a->base_model, GetUserId());
	RememberAction(PENDING_START, run_id);
	return run_id;
}

/*
 * The body of mlp_train: the run of args (named as mlp_train's, model_name aside) checked
 * and, unless check_only, queued as model_name in sweep sweep_id (0: none).  mlp_sweep calls
 * it once per value of its grid with check_only (cheap: no SQL), then once per combination.
 */
int64
MlpQueueTrainRun(const MlpArgs *args, const char *model_name, int64 sweep_id, bool check_only)
{
	RunArgs		a = {0};
	MlpArch		arch;
	char		err[256];
	char		canonical[64];

	a.cfg.model_name = pstrdup(model_name);
	a.cfg.sweep_id = sweep_id;
	a.cfg.source = MlpArgText(args, "source");
	a.cfg.arch = MlpArgText(args, "arch");
	if (mlp_arch_parse(a.cfg.arch, &arch, err, sizeof(err)) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid architecture \"%s\": %s", a.cfg.arch, err),
				 errhint("Architectures look like 'B_6-Wi_512' (inverted bottleneck), "
						 "'B_12-Wi_512-X_4' or 'S_6-Wi_1024' (standard MLP).")));
	mlp_arch_format(&arch, canonical, sizeof(canonical));
	a.cfg.arch = pstrdup(canonical);
	ParseCommonArgs(args, &a);
	if (check_only)
		return 0;
	return QueueRun(&a);
}

/*
 * mlp_train(model_name, source, arch, epochs, batch_size, optimizer, lr, weight_decay,
 *           label_smoothing, mixup, augment, resolution, validation, seed, image_column,
 *           label_column, cosine, clip_norm, classes, mean, std, matmul_precision,
 *           train_size, early_stop)
 */
PG_FUNCTION_INFO_V1(mlp_train);
Datum
mlp_train(PG_FUNCTION_ARGS)
{
	MlpArgs		args;

	MlpCheckLauncherAvailable();
	/* a database still at 0.1.0 lacks the newer arguments: say to update, not "no argument" */
	(void) MlpExtensionOwner();
	MlpArgsInit(&args, fcinfo);
	PG_RETURN_INT64(MlpQueueTrainRun(&args, MlpArgText(&args, "model_name"), 0, false));
}

/*
 * mlp_finetune(model_name, base_model, source, epochs, batch_size, optimizer, lr,
 *              weight_decay, label_smoothing, mixup, augment, resolution, validation, seed,
 *              image_column, label_column, cosine, clip_norm, classes, mean, std,
 *              body_lr_mult, matmul_precision, train_size, early_stop)
 */
PG_FUNCTION_INFO_V1(mlp_finetune);
Datum
mlp_finetune(PG_FUNCTION_ARGS)
{
	RunArgs		a = {0};
	MlpArgs		args;
	char	   *base_ref;
	char	   *base_name;
	int			base_version;
	int			version;

	MlpCheckLauncherAvailable();
	(void) MlpExtensionOwner();	/* as in mlp_train */
	MlpArgsInit(&args, fcinfo);
	a.cfg.finetune = true;
	a.cfg.model_name = MlpArgText(&args, "model_name");
	base_ref = MlpArgText(&args, "base_model");
	a.cfg.source = MlpArgText(&args, "source");
	ParseCommonArgs(&args, &a);
	a.cfg.body_lr_mult = DatumGetFloat4(MlpArgRequired(&args, "body_lr_mult"));
	CheckRealRange("body_lr_mult", a.cfg.body_lr_mult, 0, 1e3, true);
	if (a.cfg.num_mean > 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("mean and std of a fine-tuned model are those of its base model")));

	/* Pin the version: a newer version of the base appearing later changes nothing. */
	a.cfg.base_model_id = MlpModelStoreResolveOrError(base_ref, &version);
	MlpParseModelRef(base_ref, &base_name, &base_version);
	a.base_model = psprintf("%s@%d", base_name, version);

	a.cfg.arch = MlpModelStoreArch(a.cfg.base_model_id);

	PG_RETURN_INT64(QueueRun(&a));
}

/* ---- wait, cancel, resume ---------------------------------------------------------------- */

/* The run's row; ERROR when there is none. */
static void
ReadRun(int64 run_id, MlpRunRow *row)
{
	if (!MlpRunStoreRead(run_id, row))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("run " INT64_FORMAT " does not exist", run_id)));
}

/* Only the role that queued a run (or a member of it, or a superuser) may see or change it. */
static void
CheckRunOwner(int64 run_id, const MlpRunRow *row, const char *action)
{
	if (!has_privs_of_role(GetUserId(), row->run_as))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to %s run " INT64_FORMAT, action, run_id),
				 errdetail("The run belongs to role \"%s\".",
						   GetUserNameFromId(row->run_as, true) ?
						   GetUserNameFromId(row->run_as, true) : "(dropped)"),
				 errhint("A run is visible only to the role that queued it, its members and superusers.")));
}

static bool
StatusIsFinal(const char *status)
{
	return strcmp(status, "queued") != 0 && strcmp(status, "running") != 0;
}

double
MlpWaitTimeoutArg(FunctionCallInfo fcinfo, int argno)
{
	double		timeout;

	if (PG_ARGISNULL(argno))
		return -1;
	timeout = PG_GETARG_FLOAT8(argno);
	CheckRealRange("timeout_seconds", timeout, 0, 1e9, true);
	return timeout;
}

void
MlpCheckWaitIsolation(const char *function, const char *what)
{
	if (IsolationUsesXactSnapshot())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("%s cannot see %s end in a %s transaction", function, what,
						IsolationIsSerializable() ? "SERIALIZABLE" : "REPEATABLE READ"),
				 errhint("Call it in a READ COMMITTED transaction.")));
}

bool
MlpWaitMore(TimestampTz start, double timeout, long poll_ms)
{
	long		secs;
	int			usecs;

	TimestampDifference(start, GetCurrentTimestamp(), &secs, &usecs);
	if (timeout >= 0 && secs + usecs / 1e6 >= timeout)
		return false;
	(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, poll_ms,
					 PG_WAIT_EXTENSION);
	ResetLatch(MyLatch);
	CHECK_FOR_INTERRUPTS();
	return true;
}

/* mlp_wait(run_id, timeout_seconds): the status once final, or when the timeout passes. */
PG_FUNCTION_INFO_V1(mlp_wait);
Datum
mlp_wait(PG_FUNCTION_ARGS)
{
	int64		run_id;
	double		timeout;
	TimestampTz start = GetCurrentTimestamp();
	MlpRunRow	row;
	char	   *status;

	RequiredArg(fcinfo, 0, "run_id");
	run_id = PG_GETARG_INT64(0);
	timeout = MlpWaitTimeoutArg(fcinfo, 1);
	if (MlpRunQueuedInThisTransaction(run_id))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("run " INT64_FORMAT " was queued in this transaction and cannot start before it commits",
						run_id),
				 errhint("Commit, then call mlp_wait.")));
	MlpCheckWaitIsolation("mlp_wait", "the run");

	for (;;)
	{
		ReadRun(run_id, &row);
		CheckRunOwner(run_id, &row, "wait for");
		status = row.status;	/* palloc'd here, freed below */
		if (StatusIsFinal(status) || !MlpWaitMore(start, timeout, MLP_WAIT_POLL_MS))
			break;
		pfree(status);
	}
	PG_RETURN_TEXT_P(cstring_to_text(status));
}

bool
MlpCancelRun(int64 run_id)
{
	const char *was = MlpRunStoreCancel(run_id);

	if (was != NULL && strcmp(was, "running") == 0)
		RememberAction(PENDING_CANCEL, run_id);
	return was != NULL;
}

/*
 * mlp_cancel(run_id): a queued run is canceled at once; a running one is asked to stop (the
 * worker sees the shared flag after its current mini-batch, or the row within a second).
 * False when the run has already ended.
 */
PG_FUNCTION_INFO_V1(mlp_cancel);
Datum
mlp_cancel(PG_FUNCTION_ARGS)
{
	int64		run_id;
	MlpRunRow	row;

	RequiredArg(fcinfo, 0, "run_id");
	run_id = PG_GETARG_INT64(0);
	ReadRun(run_id, &row);
	CheckRunOwner(run_id, &row, "cancel");
	PG_RETURN_BOOL(MlpCancelRun(run_id));
}

bool
MlpResumeRun(int64 run_id)
{
	if (!MlpRunStoreRequeue(run_id))
		return false;
	RememberAction(PENDING_START, run_id);
	return true;
}

/*
 * mlp_resume(run_id): queues an interrupted, failed or canceled run again; its worker
 * continues from the last checkpoint (or from the start when there is none) to the epoch
 * count the run asked for.
 */
PG_FUNCTION_INFO_V1(mlp_resume);
Datum
mlp_resume(PG_FUNCTION_ARGS)
{
	int64		run_id;
	MlpRunRow	row;

	MlpCheckLauncherAvailable();
	RequiredArg(fcinfo, 0, "run_id");
	run_id = PG_GETARG_INT64(0);
	ReadRun(run_id, &row);
	CheckRunOwner(run_id, &row, "resume");
	if (strcmp(row.status, "interrupted") != 0 && strcmp(row.status, "failed") != 0 &&
		strcmp(row.status, "canceled") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("run " INT64_FORMAT " is %s", run_id, row.status),
				 errhint("Only an interrupted, failed or canceled run can be resumed.")));
	if (row.epochs_done >= row.epochs)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("run " INT64_FORMAT " has already done its %d epochs", run_id,
						row.epochs)));
	if (!MlpResumeRun(run_id))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("run " INT64_FORMAT " changed while it was being resumed", run_id)));
	PG_RETURN_INT64(run_id);
}

/*
 * mlp_post_queued_runs(): posts this database's queued runs to the launcher when the
 * transaction commits.  Called by the upgrade script (a function it creates and drops):
 * the sweeper does not post the queued runs of a database at another version.  Returns
 * how many.
 */
PG_FUNCTION_INFO_V1(mlp_post_queued_runs);
Datum
mlp_post_queued_runs(PG_FUNCTION_ARGS)
{
	List	   *ids = MlpRunStoreQueued();
	ListCell   *lc;

	foreach(lc, ids)
		RememberAction(PENDING_START, *(int64 *) lfirst(lc));
	PG_RETURN_INT32(list_length(ids));
}
