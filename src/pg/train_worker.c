/*
 * train_worker.c - the dynamic background worker that trains one run.
 *
 * Life of a worker: claim the run ('queued' -> 'running'), read the source and validation
 * once into uint8 memory as the role that queued the run, check the memory the trainer needs
 * against mlpscale.max_training_memory, then train epoch by epoch.  After every epoch one
 * short transaction commits the epoch's row, the checkpoint and epochs_done, so a crash loses
 * at most one epoch.  The numeric core runs outside any transaction; between mini-batches it
 * calls back here (on this thread) to publish progress and to check for cancellation.
 * At the end the model is stored as a new version and the run marked 'succeeded'; any error
 * is written to the run row ('failed' with the message) in a fresh transaction before exit.
 *
 * Who runs what (docs/design.md, "Who runs what"): the worker connects as the bootstrap
 * superuser (on PostgreSQL 15 a background worker cannot connect as a NOLOGIN role, and roles
 * that train are often group roles used through SET ROLE), then, once it has claimed the run,
 * makes the run's role its session user, so user SQL sees session_user = current_user = that
 * role and is_superuser = off.  The source is read as a security-restricted operation (no
 * SET ROLE, no SET SESSION AUTHORIZATION, no temporary tables) in a GUC nest level of its
 * own, rolled back before any statement of ours, so no setting of the user's SQL survives
 * it.  Bookkeeping is written as the extension owner under the pinned search_path.
 */
#include "postgres.h"

#include <math.h>
#include <signal.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/pmsignal.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "core/arch.h"
#include "core/blas.h"
#include "core/trainer.h"
#include "data_source.h"
#include "mlpscale.h"
#include "model_store.h"
#include "blas_setup.h"
#include "launcher.h"
#include "privilege.h"
#include "progress.h"
#include "run_config.h"
#include "settings.h"
#include "train_worker.h"
#include "test_hold.h"

/* How often the run row is read for cancel_requested (the shared flag is checked always). */
#define CANCEL_POLL_SECONDS 2.0

/* What the run row says, read when the run is claimed. */
typedef struct RunSpec
{
	int64		run_id;
	Oid			run_as;
	int			epochs_done;
	Jsonb	   *config;			/* runs.config as claimed; decoded into cfg by decode_run */
	MlpRunConfig cfg;
} RunSpec;

/* State the step callback sees. */
typedef struct StepState
{
	int64		run_id;
	int			slot;
	bool		canceled;
	double		last_poll;
} StepState;

typedef enum RunEnd
{
	RUN_DONE,
	RUN_CANCELED,
	RUN_STOPPED					/* SIGTERM: server shutdown or pg_terminate_backend */
} RunEnd;

static volatile sig_atomic_t stop_requested = false;
static volatile sig_atomic_t training_phase = false;
static MemoryContext worker_context = NULL;
static int	progress_slot = -1;

/*
 * The checkpoint being written (malloc'd by the core, then a bytea in place), freed as soon
 * as it is committed; here so that an error on the way frees it too.
 */
static uint8_t *checkpoint_buf = NULL;

/* Frees the progress slot however the worker exits. */
static void
release_progress_slot(int code, Datum arg)
{
	MlpProgressRelease(progress_slot);
	progress_slot = -1;
}

/*
 * Before training, SIGTERM interrupts like in any backend (a long read of the source stops
 * at once and the run is left for the restart sweep).  While training, it only raises a flag
 * that the step callback sees, so the run is marked 'interrupted' after its current
 * mini-batch and can be resumed.
 */
static void
worker_sigterm(SIGNAL_ARGS)
{
	int			save_errno = errno;

	stop_requested = true;
	if (!training_phase)
		die(postgres_signal_arg);
	SetLatch(MyLatch);
	errno = save_errno;
}

static double
seconds_now(void)
{
	return (double) GetCurrentTimestamp() / USECS_PER_SEC;
}

/* ---- transactions ------------------------------------------------------------------------ */

/* What pg_stat_activity shows between transactions (the epoch being trained). */
static char training_activity[128] = "";

/* Starts a transaction; activity (if not NULL) is shown while it runs. */
static void
tx_begin(const char *activity)
{
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	MlpSpiConnect();
	PushActiveSnapshot(GetTransactionSnapshot());
	if (activity)
		pgstat_report_activity(STATE_RUNNING, activity);
}

static void
tx_commit(void)
{
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	if (training_activity[0])
		pgstat_report_activity(STATE_RUNNING, training_activity);
	else
		pgstat_report_activity(STATE_IDLE, NULL);
}

/*
 * Runs a statement on mlpscale's tables as the extension owner.  The plan is generic: a
 * custom plan would fold every parameter into a constant, copying a checkpoint bytea whole.
 */
static void
exec_as_owner(const char *sql, int nargs, Oid *types, Datum *values, const char *nulls,
			  int expected)
{
	MlpSavedUser saved;
	SPIPlanPtr	plan;
	int			ret;

	MlpBecomeExtensionOwner(&saved);
	plan = SPI_prepare_cursor(sql, nargs, types, CURSOR_OPT_GENERIC_PLAN);
	if (plan == NULL)
		elog(ERROR, "mlpscale worker: could not prepare \"%s\": SPI error %d", sql, SPI_result);
	ret = SPI_execute_plan(plan, values, nulls, false, 0);
	SPI_freeplan(plan);
	MlpRestoreUser(&saved);
	if (ret != expected)
		elog(ERROR, "mlpscale worker: \"%s\" failed: SPI error %d", sql, ret);
}

/* ---- claiming the run -------------------------------------------------------------------- */

static char *
column_text(HeapTuple tup, TupleDesc desc, int col)
{
	char	   *v = SPI_getvalue(tup, desc, col);

	return v ? MemoryContextStrdup(worker_context, v) : NULL;
}

/*
 * 'queued' -> 'running' for this worker; false when the run is not queued any more
 * (canceled meanwhile, or claimed by another worker).
 */
static bool
claim_run(int64 run_id, RunSpec *spec)
{
	Oid			types[2] = {INT8OID, INT4OID};
	Datum		values[2] = {Int64GetDatum(run_id), Int32GetDatum(MyProcPid)};
	HeapTuple	tup;
	TupleDesc	desc;
	bool		claimed;

	tx_begin("mlpscale: claiming a run");
	exec_as_owner("UPDATE mlpscale.runs SET status = 'running', worker_pid = $2, error = NULL, "
				  "started_at = coalesce(started_at, pg_catalog.now()), finished_at = NULL "
				  "WHERE id" MLP_EQ "$1 AND status" MLP_EQ "'queued' "
				  "RETURNING model_name, kind, run_as, source, validation, arch, epochs, "
				  "epochs_done, config",
				  2, types, values, NULL, SPI_OK_UPDATE_RETURNING);
	claimed = SPI_processed == 1;
	if (claimed)
	{
		bool		isnull;
		MemoryContext old;

		tup = SPI_tuptable->vals[0];
		desc = SPI_tuptable->tupdesc;
		spec->run_id = run_id;
		spec->cfg.model_name = column_text(tup, desc, 1);
		spec->cfg.finetune = strcmp(SPI_getvalue(tup, desc, 2), "finetune") == 0;
		spec->run_as = DatumGetObjectId(SPI_getbinval(tup, desc, 3, &isnull));
		spec->cfg.source = column_text(tup, desc, 4);
		spec->cfg.validation = column_text(tup, desc, 5);
		spec->cfg.arch = column_text(tup, desc, 6);
		spec->cfg.epochs = DatumGetInt32(SPI_getbinval(tup, desc, 7, &isnull));
		spec->epochs_done = DatumGetInt32(SPI_getbinval(tup, desc, 8, &isnull));
		old = MemoryContextSwitchTo(worker_context);
		spec->config = DatumGetJsonbPCopy(SPI_getbinval(tup, desc, 9, &isnull));
		MemoryContextSwitchTo(old);
	}
	tx_commit();
	return claimed;
}

/*
 * The options of the claimed run (inside the worker's error handling, so that a config it
 * cannot read fails the run with the reason).  The matmul precision is checked again here:
 * a run queued on a CPU with AVX512_BF16 may be resumed on one without it.
 */
static void
decode_run(RunSpec *spec)
{
	MemoryContext old = MemoryContextSwitchTo(worker_context);

	MlpRunConfigFromJsonb(spec->config, &spec->cfg);
	MemoryContextSwitchTo(old);
	(void) MlpCheckMatmulPrecision(mlp_matmul_precision_name(spec->cfg.matmul_precision));
}

/*
 * From here on the run's role is the session user: what user SQL sees as session_user,
 * current_user and is_superuser is that role's, as in a session of its own.  The worker
 * authenticated as a superuser, but user SQL cannot use that: it runs as a
 * security-restricted operation, where SET SESSION AUTHORIZATION and SET ROLE are refused.
 */
static void
become_run_role(const RunSpec *spec)
{
	StartTransactionCommand();
	if (!SearchSysCacheExists1(AUTHOID, ObjectIdGetDatum(spec->run_as)))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("role %u that queued the run does not exist any more", spec->run_as)));
	SetSessionAuthorization(spec->run_as, superuser_arg(spec->run_as));
	CommitTransactionCommand();
}

/* ---- data -------------------------------------------------------------------------------- */

static Size
training_memory_limit(void)
{
	return (Size) mlp_max_training_memory_mb * 1024 * 1024;
}

static Size
source_bytes(const MlpSourceData *d)
{
	return (Size) d->n * d->channels * d->height * d->width + (Size) d->n * sizeof(int32);
}

/*
 * Reads source and validation as the run's role.  A permission error is the role's error:
 * it ends the run as 'failed' with PostgreSQL's message.
 */
static void
load_data(const RunSpec *spec, MlpSourceData *train, MlpSourceData *val, bool *has_val)
{
	MlpSourceOptions opts;
	Oid			saved_user;
	int			saved_sec;
	int			guc_nest;
	MemoryContext old;

	tx_begin("mlpscale: reading the training data");

	/*
	 * Like REFRESH MATERIALIZED VIEW, run the user's SQL as a restricted operation, so it
	 * can neither switch roles nor create temporary objects; and in a GUC nest level of its
	 * own, rolled back below (even a session-level set_config), so that none of its settings
	 * reaches a statement of ours.
	 */
	GetUserIdAndSecContext(&saved_user, &saved_sec);
	SetUserIdAndSecContext(spec->run_as, saved_sec | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	guc_nest = NewGUCNestLevel();
	/* A query means what it meant in the call: the caller's search_path (pg_temp aside). */
	if (spec->cfg.search_path != NULL)
		(void) set_config_option("search_path", spec->cfg.search_path, PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);

	memset(&opts, 0, sizeof(opts));
	opts.source = spec->cfg.source;
	opts.relid = spec->cfg.source_relid;
	opts.what = "source";
	opts.image_column = spec->cfg.image_column;
	opts.label_column = spec->cfg.label_column;
	opts.classes = spec->cfg.classes;
	opts.memory_limit = training_memory_limit();
	old = MemoryContextSwitchTo(worker_context);
	MlpLoadSource(&opts, train);
	MemoryContextSwitchTo(old);

	*has_val = spec->cfg.validation != NULL;
	if (*has_val)
	{
		opts.source = spec->cfg.validation;
		opts.relid = spec->cfg.validation_relid;
		opts.what = "validation";
		/* With classes not given, validation labels must fit the training labels. */
		opts.classes = spec->cfg.classes > 0 ? spec->cfg.classes : train->max_label + 1;
		opts.memory_limit = training_memory_limit() > source_bytes(train) ?
			training_memory_limit() - source_bytes(train) : 1;
		old = MemoryContextSwitchTo(worker_context);
		MlpLoadSource(&opts, val);
		MemoryContextSwitchTo(old);
	}

	AtEOXact_GUC(false, guc_nest);
	SetUserIdAndSecContext(saved_user, saved_sec);
	tx_commit();
}

/* ---- the trainer's configuration --------------------------------------------------------- */

static void
build_config(const RunSpec *spec, const MlpSourceData *train, const MlpModelMeta *base_meta,
			 MlpTrainConfig *cfg)
{
	char		err[256];
	int			kind = mlp_opt_kind_parse(spec->cfg.optimizer);

	memset(cfg, 0, sizeof(*cfg));
	if (mlp_arch_parse(spec->cfg.arch, &cfg->arch, err, sizeof(err)) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid architecture \"%s\": %s", spec->cfg.arch, err)));
	if (kind < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown optimizer \"%s\"", spec->cfg.optimizer)));

	if (spec->cfg.classes > 0)
		cfg->arch.classes = spec->cfg.classes;
	else if (train->max_label >= 1)
		cfg->arch.classes = train->max_label + 1;
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("every label of the source is %d: there is nothing to learn",
						train->max_label),
				 errhint("Give the number of classes with the argument classes.")));

	if (base_meta)
	{
		if (train->channels != base_meta->input.channels)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("the source has images of %d channels but the base model takes %d",
							train->channels, base_meta->input.channels)));
		if (spec->cfg.resolution > 0 && (spec->cfg.resolution != base_meta->input.height ||
									 spec->cfg.resolution != base_meta->input.width))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("resolution %d differs from the base model's input %dx%d",
							spec->cfg.resolution, base_meta->input.height,
							base_meta->input.width)));
		cfg->input = base_meta->input;
		memcpy(cfg->mean, base_meta->mean, sizeof(cfg->mean));
		memcpy(cfg->std, base_meta->std, sizeof(cfg->std));
	}
	else
	{
		cfg->input.channels = train->channels;
		cfg->input.height = spec->cfg.resolution > 0 ? spec->cfg.resolution : train->height;
		cfg->input.width = spec->cfg.resolution > 0 ? spec->cfg.resolution : train->width;
		if (spec->cfg.num_mean > 0)
		{
			if (spec->cfg.num_mean != train->channels)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("mean and std have %d values but the images have %d channels",
								spec->cfg.num_mean, train->channels)));
			memcpy(cfg->mean, spec->cfg.mean, sizeof(cfg->mean));
			memcpy(cfg->std, spec->cfg.std, sizeof(cfg->std));
		}
		else
		{
			MlpImageSpec s = {train->channels, train->height, train->width};

			mlp_channel_stats(train->images, train->n, s, cfg->mean, cfg->std);
		}
	}
	cfg->arch.in_dim = (int64_t) cfg->input.channels * cfg->input.height * cfg->input.width;
	if (mlp_arch_validate(&cfg->arch, err, sizeof(err)) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid model: %s", err)));

	cfg->epochs = spec->cfg.epochs;
	cfg->batch_size = spec->cfg.batch_size;
	mlp_opt_defaults(&cfg->opt, (MlpOptKind) kind, 0);
	cfg->opt.lr = (float) spec->cfg.lr;
	cfg->opt.weight_decay = (float) spec->cfg.weight_decay;
	cfg->opt.body_lr_mult = (float) spec->cfg.body_lr_mult;
	cfg->cosine = spec->cfg.cosine;
	cfg->clip_norm = spec->cfg.clip_norm;
	cfg->label_smoothing = (float) spec->cfg.label_smoothing;
	cfg->mixup_alpha = (float) spec->cfg.mixup;
	cfg->augment = spec->cfg.augment;
	cfg->seed = (uint64_t) spec->cfg.seed;
	cfg->threads = spec->cfg.threads > 0 ? spec->cfg.threads : 1;
	cfg->precision = spec->cfg.matmul_precision;
}

static void
check_memory(const MlpTrainConfig *cfg, Size data_bytes)
{
	Size		trainer_bytes = mlp_trainer_memory_estimate(cfg);
	Size		limit = training_memory_limit();

	if (data_bytes + trainer_bytes > limit)
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("training would need %zu MB (data %zu MB, model and buffers %zu MB), more than mlpscale.max_training_memory (%d MB)",
						(data_bytes + trainer_bytes) >> 20, data_bytes >> 20,
						trainer_bytes >> 20, mlp_max_training_memory_mb),
				 errhint("Use a smaller batch_size or architecture, or raise mlpscale.max_training_memory.")));
}

/* ---- bookkeeping ------------------------------------------------------------------------- */

static void
record_sizes(const RunSpec *spec, const MlpTrainConfig *cfg, int64 train_rows, int64 val_rows,
			 bool has_val)
{
	Oid			types[5] = {INT8OID, INT8OID, FLOAT8OID, INT8OID, INT8OID};
	Datum		values[5];
	char		nulls[5] = {' ', ' ', ' ', ' ', ' '};

	values[0] = Int64GetDatum(spec->run_id);
	values[1] = Int64GetDatum(mlp_arch_param_count(&cfg->arch));
	values[2] = Float8GetDatum(mlp_arch_forward_flops(&cfg->arch));
	values[3] = Int64GetDatum(train_rows);
	values[4] = Int64GetDatum(val_rows);
	if (!has_val)
		nulls[4] = 'n';
	tx_begin("mlpscale: recording the run's sizes");
	exec_as_owner("UPDATE mlpscale.runs SET params = $2, flops_per_image = $3, train_rows = $4, "
				  "validation_rows = $5 WHERE id" MLP_EQ "$1",
				  5, types, values, nulls, SPI_OK_UPDATE);
	tx_commit();
}

/*
 * The checkpoint *buf (malloc'd by the core, len bytes) turned into a bytea in place: grown
 * by the header and shifted, so no second full copy exists (realloc of a large block moves
 * pages, not bytes).  *buf then points to the bytea.
 */
static bytea *
checkpoint_to_bytea(uint8_t **buf, size_t len)
{
	uint8_t    *grown;

	if (len > MaxAllocSize - VARHDRSZ)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("checkpoint of %zu bytes is larger than the 1 GB a bytea can hold", len)));
	grown = realloc(*buf, VARHDRSZ + len);
	if (grown == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory for a checkpoint of %zu bytes", len)));
	*buf = grown;
	memmove(grown + VARHDRSZ, grown, len);
	SET_VARSIZE(grown, VARHDRSZ + len);
	return (bytea *) grown;
}

/* One transaction: the epoch's row, the checkpoint and epochs_done. */
static void
commit_epoch(const RunSpec *spec, const MlpEpochStats *st, const MlpEvalStats *val,
			 bool has_val, int64 examples_seen, double flops_per_image, double lr,
			 bytea *state)
{
	Oid			etypes[12] = {INT8OID, INT4OID, FLOAT8OID, FLOAT8OID, FLOAT8OID, FLOAT8OID,
	FLOAT8OID, FLOAT8OID, INT8OID, FLOAT8OID, FLOAT8OID, FLOAT8OID};
	Datum		evalues[12];
	char		enulls[12];
	Oid			ctypes[3] = {INT8OID, INT4OID, BYTEAOID};
	Datum		cvalues[3];
	char		activity[128];

	memset(enulls, ' ', sizeof(enulls));
	evalues[0] = Int64GetDatum(spec->run_id);
	evalues[1] = Int32GetDatum(st->epoch);
	evalues[2] = Float8GetDatum(st->train_loss);
	evalues[3] = Float8GetDatum(st->train_accuracy);
	evalues[4] = Float8GetDatum(has_val ? val->loss : 0);
	evalues[5] = Float8GetDatum(has_val ? val->accuracy : 0);
	evalues[6] = Float8GetDatum(has_val ? val->top5 : 0);
	if (!has_val)
		enulls[4] = enulls[5] = enulls[6] = 'n';
	evalues[7] = Float8GetDatum(st->images_per_second);
	evalues[8] = Int64GetDatum(examples_seen);
	evalues[9] = Float8GetDatum(flops_per_image * 3.0 * (double) examples_seen);
	/* The trainer's lr is a float: show 0.001, not 0.0010000000474974513. */
	evalues[10] = Float8GetDatum(strtod(psprintf("%.7g", lr), NULL));
	evalues[11] = Float8GetDatum(st->seconds);

	snprintf(activity, sizeof(activity), "mlpscale: run " INT64_FORMAT " saving epoch %d",
			 spec->run_id, st->epoch);
	tx_begin(activity);
	cvalues[0] = Int64GetDatum(spec->run_id);
	cvalues[1] = Int32GetDatum(st->epoch);
	cvalues[2] = PointerGetDatum(state);
	/* A resumed run may redo an epoch whose row a crash left behind. */
	exec_as_owner("INSERT INTO mlpscale.epochs (run_id, epoch, train_loss, train_accuracy, "
				  "val_loss, val_accuracy, val_top5, images_per_second, examples_seen, "
				  "cumulative_flops, lr, seconds) "
				  "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) "
				  "ON CONFLICT (run_id, epoch) DO UPDATE SET train_loss = EXCLUDED.train_loss, "
				  "train_accuracy = EXCLUDED.train_accuracy, val_loss = EXCLUDED.val_loss, "
				  "val_accuracy = EXCLUDED.val_accuracy, val_top5 = EXCLUDED.val_top5, "
				  "images_per_second = EXCLUDED.images_per_second, "
				  "examples_seen = EXCLUDED.examples_seen, "
				  "cumulative_flops = EXCLUDED.cumulative_flops, lr = EXCLUDED.lr, "
				  "seconds = EXCLUDED.seconds, finished_at = pg_catalog.now()",
				  12, etypes, evalues, enulls, SPI_OK_INSERT);
	exec_as_owner("INSERT INTO mlpscale.checkpoints (run_id, epochs_done, state) "
				  "VALUES ($1, $2, $3) ON CONFLICT (run_id) DO UPDATE SET "
				  "epochs_done = EXCLUDED.epochs_done, state = EXCLUDED.state, saved_at = pg_catalog.now()",
				  3, ctypes, cvalues, NULL, SPI_OK_INSERT);
	exec_as_owner("UPDATE mlpscale.runs SET epochs_done = $2 WHERE id" MLP_EQ "$1",
				  2, ctypes, cvalues, NULL, SPI_OK_UPDATE);
	tx_commit();
}

/*
 * Restores the checkpoint of a resumed run into t; returns the epochs it covers and the
 * examples seen so far (0 and 0 when there is none).
 */
static int
restore_checkpoint(const RunSpec *spec, MlpTrainer *t, int64 *examples_seen)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(spec->run_id)};
	Oid			dtypes[2] = {INT8OID, INT4OID};
	Datum		dvalues[2];
	int			epochs_done = 0;
	MlpSavedUser saved;
	int			ret;

	*examples_seen = 0;
	tx_begin("mlpscale: loading the checkpoint");
	MlpBecomeExtensionOwner(&saved);
	ret = SPI_execute_with_args("SELECT c.state, (SELECT e.examples_seen FROM mlpscale.epochs e "
								"WHERE e.run_id" MLP_EQ "c.run_id AND e.epoch" MLP_EQ "c.epochs_done) "
								"FROM mlpscale.checkpoints c WHERE c.run_id" MLP_EQ "$1",
								1, types, values, NULL, true, 1);
	MlpRestoreUser(&saved);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read the checkpoint: SPI error %d", ret);
	if (SPI_processed == 1)
	{
		bool		isnull;
		bytea	   *state = DatumGetByteaPP(SPI_getbinval(SPI_tuptable->vals[0],
														  SPI_tuptable->tupdesc, 1, &isnull));
		Datum		seen = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
		char		err[256];

		if (mlp_trainer_load_state(t, (const uint8_t *) VARDATA_ANY(state),
								   VARSIZE_ANY_EXHDR(state), &epochs_done, err,
								   sizeof(err)) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("could not restore the checkpoint of run " INT64_FORMAT ": %s",
							spec->run_id, err)));
		if (!isnull)
			*examples_seen = DatumGetInt64(seen);
	}
	/* Epoch rows beyond the checkpoint (there are none: they commit together) are redone. */
	dvalues[0] = Int64GetDatum(spec->run_id);
	dvalues[1] = Int32GetDatum(epochs_done);
	exec_as_owner("DELETE FROM mlpscale.epochs WHERE run_id" MLP_EQ "$1 AND epoch" MLP_GT "$2",
				  2, dtypes, dvalues, NULL, SPI_OK_DELETE);
	exec_as_owner("UPDATE mlpscale.runs SET epochs_done = $2 WHERE id" MLP_EQ "$1",
				  2, dtypes, dvalues, NULL, SPI_OK_UPDATE);
	tx_commit();
	return epochs_done;
}

static void
finish_run(int64 run_id, const char *status, const char *error, int64 model_id)
{
	Oid			types[4] = {INT8OID, TEXTOID, TEXTOID, INT8OID};
	Datum		values[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};

	values[0] = Int64GetDatum(run_id);
	values[1] = CStringGetTextDatum(status);
	if (error)
		values[2] = CStringGetTextDatum(error);
	else
		nulls[2] = 'n';
	values[3] = Int64GetDatum(model_id);
	if (model_id == 0)
		nulls[3] = 'n';
	tx_begin("mlpscale: finishing the run");
	exec_as_owner("UPDATE mlpscale.runs SET status = $2, error = $3, "
				  "model_id = coalesce($4, model_id), finished_at = pg_catalog.now(), worker_pid = NULL "
				  "WHERE id" MLP_EQ "$1",
				  4, types, values, nulls, SPI_OK_UPDATE);
	tx_commit();
}

static int64
store_model(const RunSpec *spec, const MlpModel *model, const MlpTrainConfig *cfg)
{
	MlpModelMeta meta;
	int64		model_id;
	int			version;
	char		activity[128];

	memset(&meta, 0, sizeof(meta));
	meta.input = cfg->input;
	meta.classes = cfg->arch.classes;
	memcpy(meta.mean, cfg->mean, sizeof(meta.mean));
	memcpy(meta.std, cfg->std, sizeof(meta.std));
	snprintf(activity, sizeof(activity), "mlpscale: run " INT64_FORMAT " storing model %s",
			 spec->run_id, spec->cfg.model_name);
	tx_begin(activity);
	model_id = MlpModelStoreInsert(spec->cfg.model_name, model, &meta, spec->run_id,
								   spec->cfg.base_model_id, spec->run_as, &version);
	tx_commit();
	elog(LOG, "mlpscale: run " INT64_FORMAT " stored model %s version %d",
		 spec->run_id, spec->cfg.model_name, version);
	return model_id;
}

/* ---- training ---------------------------------------------------------------------------- */

static bool
cancel_requested_in_table(int64 run_id)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(run_id)};
	bool		result = false;
	MlpSavedUser saved;
	int			ret;

	tx_begin(NULL);
	MlpBecomeExtensionOwner(&saved);
	ret = SPI_execute_with_args("SELECT cancel_requested FROM mlpscale.runs WHERE id" MLP_EQ "$1",
								1, types, values, NULL, true, 1);
	MlpRestoreUser(&saved);
	if (ret == SPI_OK_SELECT && SPI_processed == 1)
	{
		bool		isnull;

		result = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1,
											&isnull));
	}
	else if (ret == SPI_OK_SELECT)
		result = true;			/* the row has gone: nothing to train for */
	tx_commit();
	return result;
}

/* Called by the trainer on this thread after every mini-batch. */
static int
on_step(void *arg, int epoch, int64_t step, int64_t steps, double loss,
		double images_per_second)
{
	StepState  *s = arg;
	double		now;

	MlpProgressUpdate(s->slot, epoch, step, loss, images_per_second);
	CHECK_FOR_INTERRUPTS();
	/* Without a postmaster nothing we write would count: stop like a crashed backend. */
	if (!PostmasterIsAlive())
		proc_exit(1);
	if (stop_requested)
		return 1;
	if (MlpProgressCancelRequested(s->slot))
	{
		s->canceled = true;
		return 1;
	}
	now = seconds_now();
	if (now - s->last_poll >= CANCEL_POLL_SECONDS)
	{
		s->last_poll = now;
		if (cancel_requested_in_table(s->run_id))
		{
			s->canceled = true;
			return 1;
		}
	}
	return 0;
}

static void
trainer_error(const char *what, const char *err)
{
	ereport(ERROR,
			(errcode(ERRCODE_INTERNAL_ERROR),
			 errmsg("%s: %s", what, err)));
}

/* Trains the remaining epochs and writes how the run ended. */
static void
train_epochs(const RunSpec *spec, MlpTrainer *trainer, const MlpTrainConfig *cfg_in,
			 const MlpSourceData *train_data, const MlpSourceData *val_data, bool has_val)
{
	MlpTrainConfig cfg = *cfg_in;
	MlpSourceData train = *train_data;
	MlpSourceData val = *val_data;
	MlpDataset	train_set;
	MlpDataset	val_set;
	char		err[256];
	size_t		checkpoint_len;
	int			start_epoch;
	int			epochs_done;
	int64		examples_seen;
	double		flops_per_image = mlp_arch_forward_flops(&cfg.arch);
	StepState	step_state;
	RunEnd		end = RUN_DONE;
	int64		model_id = 0;
	const char *status;
	const char *message = NULL;

	start_epoch = spec->epochs_done > 0 ? restore_checkpoint(spec, trainer, &examples_seen) : 0;
	if (start_epoch == 0)
		examples_seen = 0;
	epochs_done = start_epoch;

	train_set.images = train.images;
	train_set.labels = train.labels;
	train_set.n = train.n;
	train_set.spec = (MlpImageSpec) {train.channels, train.height, train.width};
	if (has_val)
	{
		val_set.images = val.images;
		val_set.labels = val.labels;
		val_set.n = val.n;
		val_set.spec = (MlpImageSpec) {val.channels, val.height, val.width};
	}

	step_state.run_id = spec->run_id;
	step_state.canceled = false;
	step_state.last_poll = seconds_now();
	progress_slot = MlpProgressAcquire(spec->run_id, spec->cfg.epochs,
									   (train.n + cfg.batch_size - 1) / cfg.batch_size);
	step_state.slot = progress_slot;
	training_phase = true;
	MlpTestHold(spec->run_id, 0, &stop_requested);

	for (int epoch = start_epoch; epoch < spec->cfg.epochs; epoch++)
	{
		MlpEpochStats st;
		MlpEvalStats vst;
		int			rc;
		double		lr = cfg.cosine ? mlp_cosine_lr(cfg.opt.lr, epoch, cfg.epochs) : cfg.opt.lr;

		if (stop_requested)
		{
			end = RUN_STOPPED;
			break;
		}
		snprintf(training_activity, sizeof(training_activity),
				 "mlpscale: run " INT64_FORMAT " training epoch %d of %d",
				 spec->run_id, epoch + 1, spec->cfg.epochs);
		pgstat_report_activity(STATE_RUNNING, training_activity);
		rc = mlp_trainer_run_epoch(trainer, &train_set, epoch, on_step, &step_state, &st,
								   err, sizeof(err));
		if (rc < 0)
			trainer_error(psprintf("epoch %d failed", epoch + 1), err);
		if (rc == 1)
		{
			end = step_state.canceled ? RUN_CANCELED : RUN_STOPPED;
			break;
		}
		if (has_val)
			mlp_trainer_evaluate(trainer, &val_set, &vst);
		examples_seen += st.examples;

		/* The batch buffers are rewritten before use: no need to keep them under the copies. */
		mlp_trainer_release_batch_memory(trainer);
		if (mlp_trainer_save_state(trainer, epoch + 1, &checkpoint_buf, &checkpoint_len,
								   err, sizeof(err)) != 0)
			trainer_error("could not save the checkpoint", err);
		commit_epoch(spec, &st, &vst, has_val, examples_seen, flops_per_image, lr,
					 checkpoint_to_bytea(&checkpoint_buf, checkpoint_len));
		free(checkpoint_buf);
		checkpoint_buf = NULL;
		epochs_done = epoch + 1;
		MlpTestHold(spec->run_id, epochs_done, &stop_requested);
		elog(DEBUG1, "mlpscale: run " INT64_FORMAT " epoch %d: loss %.4f, accuracy %.4f, %.0f images/s",
			 spec->run_id, st.epoch, st.train_loss, st.train_accuracy, st.images_per_second);
	}
	if (end == RUN_DONE && epochs_done < spec->cfg.epochs)
		end = RUN_STOPPED;

	switch (end)
	{
		case RUN_DONE:
			model_id = store_model(spec, mlp_trainer_model(trainer), &cfg);
			status = "succeeded";
			break;
		case RUN_CANCELED:
			/*
			 * The last checkpoint, not the half-done epoch, becomes the model: read back
			 * from the table rather than kept in memory for the whole run.
			 */
			if (epochs_done > 0)
			{
				int64		ignored;

				(void) restore_checkpoint(spec, trainer, &ignored);
				model_id = store_model(spec, mlp_trainer_model(trainer), &cfg);
			}
			status = "canceled";
			message = epochs_done > 0 ? NULL :
				"canceled before the first epoch ended: no model was stored";
			break;
		default:
			status = "interrupted";
			message = "the training worker was stopped (server shutdown or pg_terminate_backend); mlp_resume continues from the last checkpoint";
			break;
	}
	finish_run(spec->run_id, status, message, model_id);
}

static void
run_training(const RunSpec *spec)
{
	MlpSourceData train;
	MlpSourceData val;
	bool		has_val = false;
	MlpModel	base;
	MlpModelMeta base_meta;
	bool		has_base = false;
	MlpTrainConfig cfg;
	MlpTrainer *trainer;
	char		err[256];

	memset(&train, 0, sizeof(train));
	memset(&val, 0, sizeof(val));
	load_data(spec, &train, &val, &has_val);

	if (spec->cfg.finetune)
	{
		tx_begin("mlpscale: loading the base model");
		MlpModelStoreLoadById(spec->cfg.base_model_id, &base, &base_meta);
		tx_commit();
		has_base = true;
	}
	if (has_val && val.channels != train.channels)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("validation images have %d channels but the source's have %d",
						val.channels, train.channels)));
	build_config(spec, &train, has_base ? &base_meta : NULL, &cfg);
	check_memory(&cfg, source_bytes(&train) + (has_val ? source_bytes(&val) : 0));
	record_sizes(spec, &cfg, train.n, has_val ? val.n : 0, has_val);

	MlpEnsureBlas();
	mlp_blas_set_threads(cfg.threads);

	trainer = mlp_trainer_create(&cfg, has_base ? &base : NULL, err, sizeof(err));
	if (has_base)
	{
		mlp_model_free(&base);
		mlp_model_meta_free(&base_meta);
	}
	if (trainer == NULL)
		trainer_error("could not create the trainer", err);

	PG_TRY();
	{
		train_epochs(spec, trainer, &cfg, &train, &val, has_val);
	}
	PG_FINALLY();
	{
		free(checkpoint_buf);
		checkpoint_buf = NULL;
		mlp_trainer_free(trainer);
	}
	PG_END_TRY();
}

/* ---- entry point ------------------------------------------------------------------------- */

void
MlpTrainWorkerMain(Datum arg)
{
	int64		run_id = DatumGetInt64(arg);
	Oid			database;
	RunSpec		spec;

	memcpy(&database, MyBgworkerEntry->bgw_extra, sizeof(Oid));
	pqsignal(SIGTERM, worker_sigterm);
	BackgroundWorkerUnblockSignals();
	MlpTrainingWorkerStarted();
	BackgroundWorkerInitializeConnectionByOid(database, InvalidOid, 0);
	pgstat_report_appname("mlpscale training");
	/* A checkpoint is only worth its transaction when the commit survives a crash. */
	SetConfigOption("synchronous_commit", "on", PGC_SUSET, PGC_S_OVERRIDE);
	/*
	 * A synchronised scan may start in the middle of a large table: the rows would come in
	 * another order and a seeded or resumed run would not repeat itself.
	 */
	SetConfigOption("synchronize_seqscans", "off", PGC_USERSET, PGC_S_OVERRIDE);

	worker_context = AllocSetContextCreate(TopMemoryContext, "mlpscale training worker",
										   ALLOCSET_DEFAULT_SIZES);
	before_shmem_exit(release_progress_slot, 0);
	memset(&spec, 0, sizeof(spec));
	if (!claim_run(run_id, &spec))
	{
		elog(DEBUG1, "mlpscale: run " INT64_FORMAT " is no longer queued", run_id);
		proc_exit(0);
	}
	PG_TRY();
	{
		decode_run(&spec);
		elog(LOG, "mlpscale: training run " INT64_FORMAT " (model %s, %s, %d epochs, %s products)",
			 run_id, spec.cfg.model_name, spec.cfg.arch, spec.cfg.epochs,
			 mlp_matmul_precision_name(spec.cfg.matmul_precision));
		become_run_role(&spec);
		run_training(&spec);
	}
	PG_CATCH();
	{
		ErrorData  *edata;
		char	   *message;

		MemoryContextSwitchTo(worker_context);
		edata = CopyErrorData();
		/* The server log keeps the full report; the run row keeps the message. */
		EmitErrorReport();
		FlushErrorState();
		AbortOutOfAnyTransaction();
		training_phase = true;	/* a SIGTERM now must not abort the failure report */

		message = edata->detail ? psprintf("%s: %s", edata->message, edata->detail)
			: pstrdup(edata->message);
		finish_run(run_id, "failed", message, 0);
	}
	PG_END_TRY();

	proc_exit(0);
}
