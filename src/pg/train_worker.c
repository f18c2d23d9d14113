/*
 * train_worker.c - the dynamic background worker that trains one run.
 *
 * Life of a worker: claim the run ('queued' -> 'running'), read the source and validation
 * once into uint8 memory as the role that queued the run (and keep the train_size subset of
 * the source, train_subset.c) when they fit mlpscale.max_training_memory with the trainer,
 * or else (or with mlpscale.streaming) survey them and stream them window by window each
 * epoch (StreamEpoch; docs/design.md, "Streaming training"), then train epoch by epoch.
 * After every epoch one short transaction commits the epoch's row, the checkpoint (with
 * early_stop, keeping the best epoch's state too) and epochs_done, so a crash loses at most
 * one epoch.  With early_stop
 * the run ends once the validation loss has not improved for that many epochs, and the best
 * epoch's state, read back from the table, becomes the model.
 * The numeric core runs outside any transaction; between mini-batches it calls back here
 * (on this thread) to publish progress and to check for cancellation.
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

#ifdef __GLIBC__
#include <malloc.h>
#endif

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
#include "core/memory_usage.h"
#include "core/stream.h"
#include "core/train_thread.h"
#include "core/trainer.h"
#include "data_source.h"
#include "mlpscale.h"
#include "model_store.h"
#include "blas_setup.h"
#include "core_error.h"
#include "launcher.h"
#include "privilege.h"
#include "progress.h"
#include "run_config.h"
#include "run_store.h"
#include "sql_values.h"
#include "settings.h"
#include "train_subset.h"
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
	Jsonb	   *config;			/* runs.config as claimed; decoded into cfg by DecodeRun */
	MlpRunConfig cfg;
} RunSpec;

/* State the step callback sees. */
/*
 * Memory of a read beyond its rows: the executor, SPI's tuple tables and the allocator's
 * slack.  Measured (peak_memory_bytes) 0.6 MB over the rows at the 16 MB minimum budget.
 */
#define STREAM_READ_RESERVE ((Size) 2 << 20)

/*
 * The worker's private memory (core/memory_usage.h): when the run began, and the most seen
 * since, sampled after every step and every read, and recorded with each epoch.
 */
static Size base_memory;
static Size peak_memory;

static inline void
SampleMemory(void)
{
	Size		now = mlp_private_memory_bytes();

	if (now > peak_memory)
		peak_memory = now;
}

/*
 * Freed memory stays resident in the allocator's heap (measured: the 10 MB of a checkpoint's
 * copies on top of the next epoch's buffers); hand its pages back to the system where a
 * large amount was just freed.
 */
static void
ReturnFreedMemory(void)
{
#ifdef __GLIBC__
	malloc_trim(0);
#endif
}

/*
 * The data of an in-memory attempt, when the run streams instead: freed, and its pages handed
 * back to the system so that the windows do not come on top of them.
 */
static void
FreeSourceData(MlpSourceData *d)
{
	if (d->images)
		pfree(d->images);
	if (d->labels)
		pfree(d->labels);
	memset(d, 0, sizeof(*d));
	ReturnFreedMemory();
}

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
	RUN_STOPPED_EARLY,			/* early_stop: no better validation loss for that long */
	RUN_CANCELED,
	RUN_STOPPED					/* SIGTERM: server shutdown or pg_terminate_backend */
} RunEnd;

/* The epoch of the lowest validation loss so far (epoch 0: none yet). */
typedef struct BestEpoch
{
	int			epoch;
	double		val_loss;
} BestEpoch;

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
ReleaseProgressSlot(int code, Datum arg)
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
WorkerSigterm(SIGNAL_ARGS)
{
	int			save_errno = errno;

	stop_requested = true;
	if (!training_phase)
		die(postgres_signal_arg);
	SetLatch(MyLatch);
	errno = save_errno;
}

static double
SecondsNow(void)
{
	return (double) GetCurrentTimestamp() / USECS_PER_SEC;
}

/* ---- transactions ------------------------------------------------------------------------ */

/* What pg_stat_activity shows between transactions (the epoch being trained). */
static char training_activity[128] = "";

/* Starts a transaction; activity (if not NULL) is shown while it runs. */
static void
TxBegin(const char *activity)
{
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	MlpSpiConnect();
	PushActiveSnapshot(GetTransactionSnapshot());
	if (activity)
		pgstat_report_activity(STATE_RUNNING, activity);
}

static void
TxCommit(void)
{
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	if (training_activity[0])
		pgstat_report_activity(STATE_RUNNING, training_activity);
	else
		pgstat_report_activity(STATE_IDLE, NULL);
}

/* ---- claiming the run -------------------------------------------------------------------- */

/*
 * 'queued' -> 'running' for this worker; false when the run is not queued any more
 * (canceled meanwhile, or claimed by another worker).
 */
static bool
ClaimRun(int64 run_id, RunSpec *spec)
{
	bool		claimed;

	TxBegin("mlpscale: claiming a run");
	claimed = MlpRunStoreClaim(run_id, MyProcPid, worker_context, &spec->cfg, &spec->run_as,
							   &spec->epochs_done, &spec->config);
	spec->run_id = run_id;
	TxCommit();
	return claimed;
}

/*
 * The options of the claimed run (inside the worker's error handling, so that a config it
 * cannot read fails the run with the reason).  The matmul precision is checked again here:
 * a run queued on a CPU with AVX512_BF16 may be resumed on one without it.
 */
static void
DecodeRun(RunSpec *spec)
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
BecomeRunRole(const RunSpec *spec)
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
TrainingMemoryLimit(void)
{
	return (Size) mlp_max_training_memory_mb * 1024 * 1024;
}

static Size
SourceBytes(const MlpSourceData *d)
{
	return (Size) d->n * d->channels * d->height * d->width + (Size) d->n * sizeof(int32);
}

/* While the user's SQL runs: what to restore after it. */
typedef struct UserContext
{
	Oid			saved_user;
	int			saved_sec;
	int			guc_nest;
} UserContext;

/*
 * Like REFRESH MATERIALIZED VIEW, run the user's SQL as a restricted operation, so it can
 * neither switch roles nor create temporary objects; and in a GUC nest level of its own,
 * rolled back by LeaveUserContext (even a session-level set_config), so that none of its
 * settings reaches a statement of ours.  An error on the way is undone by the abort.
 */
static void
EnterUserContext(const RunSpec *spec, UserContext *u)
{
	GetUserIdAndSecContext(&u->saved_user, &u->saved_sec);
	SetUserIdAndSecContext(spec->run_as, u->saved_sec | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	u->guc_nest = NewGUCNestLevel();
	/* A query means what it meant in the call: the caller's search_path (pg_temp aside). */
	if (spec->cfg.search_path != NULL)
		(void) set_config_option("search_path", spec->cfg.search_path, PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
}

static void
LeaveUserContext(UserContext *u)
{
	AtEOXact_GUC(false, u->guc_nest);
	SetUserIdAndSecContext(u->saved_user, u->saved_sec);
}

/* The options of reading the source (or the validation source) of the run. */
static void
SourceOptions(const RunSpec *spec, bool validation, int classes, MlpSourceOptions *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->source = validation ? spec->cfg.validation : spec->cfg.source;
	opts->relid = validation ? spec->cfg.validation_relid : spec->cfg.source_relid;
	opts->what = validation ? "validation" : "source";
	opts->image_column = spec->cfg.image_column;
	opts->label_column = spec->cfg.label_column;
	opts->classes = classes;
	opts->memory_setting = "mlpscale.max_training_memory";
}

/*
 * Reads source and validation as the run's role.  A permission error is the role's error:
 * it ends the run as 'failed' with PostgreSQL's message.  Data over the memory budget sets
 * train->over_limit (or val->over_limit) and is not kept: the run streams.
 */
static void
LoadData(const RunSpec *spec, MlpSourceData *train, MlpSourceData *val)
{
	MlpSourceOptions opts;
	UserContext u;
	MemoryContext old;

	TxBegin("mlpscale: reading the training data");
	EnterUserContext(spec, &u);

	SourceOptions(spec, false, spec->cfg.classes, &opts);
	opts.memory_limit = TrainingMemoryLimit() - STREAM_READ_RESERVE;
	opts.stop_over_limit = true;
	old = MemoryContextSwitchTo(worker_context);
	MlpLoadSource(&opts, train);
	MemoryContextSwitchTo(old);

	if (spec->cfg.validation != NULL && !train->over_limit)
	{
		/* With classes not given, validation labels must fit the training labels. */
		SourceOptions(spec, true,
					  spec->cfg.classes > 0 ? spec->cfg.classes : train->max_label + 1, &opts);
		opts.memory_limit = TrainingMemoryLimit() > SourceBytes(train) + STREAM_READ_RESERVE ?
			TrainingMemoryLimit() - SourceBytes(train) - STREAM_READ_RESERVE : 1;
		opts.stop_over_limit = true;
		old = MemoryContextSwitchTo(worker_context);
		MlpLoadSource(&opts, val);
		MemoryContextSwitchTo(old);
	}

	LeaveUserContext(&u);
	TxCommit();
}

/* ---- streaming (docs/design.md, "Streaming training") ------------------------------------ */

/* Ranges per window: the rows of that many places of the table are shuffled together. */
#define STREAM_RANGES_PER_WINDOW 8
/* Windows per epoch at least (but a batch at least): the first one's read is not hidden. */
#define STREAM_MIN_WINDOWS 8
/* Rows per read of the survey. */
#define SURVEY_ROWS 256

/* What a streamed run reads each epoch, and the window it reads into. */
typedef struct StreamPlan
{
	MlpSourceOptions train_opts;
	MlpSourceOptions val_opts;
	int64		train_rows;		/* of the survey */
	int64		val_rows;
	int			channels;
	int			height;
	int			width;
	int			val_height;
	int			val_width;
	int32		max_label;
	BlockNumber blocks;			/* of the source table at the survey; 0: not range readable */
	int64		range_blocks;	/* 0: a cursor in the source's order */
	int64		window_rows;
	/* two windows: one trained on (train_thread.h) while the next is read */
	uint8	   *images[2];		/* [window_rows] images of the larger of the two shapes */
	int32	   *labels[2];
	int64	   *order[2];
	bool		subset;			/* train_size: each read keeps the rows of the subset */
	MlpSubsetSelector selector;
} StreamPlan;

/*
 * train_size: the survey has seen every row; the thresholds of the subset, then (for the
 * statistics, which are the subset's as in memory) a second read that keeps its rows.  The
 * sizes become the subset's.
 */
static void
SurveySubset(const RunSpec *spec, StreamPlan *p, MlpChannelHist *hist)
{
	MlpSourceStream s;
	int64		n;
	int64		kept = 0;

	MlpStreamSubsetFinish(&spec->cfg, &p->selector);
	p->max_label = -1;
	for (int l = 0; l < p->selector.nlabels; l++)
		if (p->selector.seen[l] > 0)
			p->max_label = l;
	if (hist == NULL)
	{
		p->train_rows = spec->cfg.train_size;
		return;
	}
	mlp_subset_selector_rewind(&p->selector);
	MlpStreamOpen(&s, &p->train_opts, 0, 0, 0, p->channels, p->height, p->width);
	while ((n = MlpStreamRead(&s, NULL, NULL, SURVEY_ROWS)) > 0)
	{
		n = mlp_subset_selector_filter(&p->selector, s.scratch, s.scratch_labels, n,
									   p->channels, p->height, p->width);
		mlp_channel_hist_add(hist, s.scratch, n,
							 (MlpImageSpec) {p->channels, p->height, p->width});
		kept += n;
	}
	MlpStreamClose(&s);
	p->train_rows = kept;
}

/*
 * One read of the source (and the validation source) before training, in their order:
 * the rows, their shape and labels checked, and (hist not NULL) the histogram of the
 * normalisation statistics.  Exact sums: the result does not depend on how rows are read.
 */
static void
SurveyStream(const RunSpec *spec, StreamPlan *p, MlpChannelHist *hist, bool has_val)
{
	MlpSourceStream s;
	UserContext u;
	int64		n;

	TxBegin("mlpscale: surveying the training data for streaming");
	EnterUserContext(spec, &u);
	SourceOptions(spec, false, spec->cfg.classes, &p->train_opts);
	p->subset = MlpStreamSubsetBegin(&spec->cfg, &p->selector);
	MlpStreamOpen(&s, &p->train_opts, 0, 0, 0, 0, 0, 0);
	while ((n = MlpStreamRead(&s, NULL, NULL, SURVEY_ROWS)) > 0)
	{
		if (p->subset)
			MlpStreamSubsetAdd(&spec->cfg, &p->selector, s.scratch, s.scratch_labels, n,
							   s.channels, s.height, s.width);
		else if (hist)
			mlp_channel_hist_add(hist, s.scratch, n,
								 (MlpImageSpec) {s.channels, s.height, s.width});
	}
	if (s.rows == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("source \"%s\" has no rows", s.shown)));
	p->train_rows = s.rows;
	p->channels = s.channels;
	p->height = s.height;
	p->width = s.width;
	p->max_label = s.max_label;
	MlpStreamClose(&s);
	p->blocks = MlpSourceBlocks(p->train_opts.relid);
	if (p->subset)
		SurveySubset(spec, p, hist);

	if (has_val)
	{
		SourceOptions(spec, true,
					  spec->cfg.classes > 0 ? spec->cfg.classes : p->max_label + 1, &p->val_opts);
		MlpStreamOpen(&s, &p->val_opts, 0, 0, 0, 0, 0, 0);
		while (MlpStreamRead(&s, NULL, NULL, SURVEY_ROWS) > 0)
			;
		if (s.rows == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("validation \"%s\" has no rows", s.shown)));
		if (s.channels != p->channels)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("validation images have %d channels but the source's have %d",
							s.channels, p->channels)));
		p->val_rows = s.rows;
		p->val_height = s.height;
		p->val_width = s.width;
		MlpStreamClose(&s);
	}
	LeaveUserContext(&u);
	TxCommit();
}

/*
 * The window of a streamed run: what the budget leaves once the trainer (model, optimizer,
 * activations, batch), the carry-over batch and the rows of one fetch are counted.  ERROR
 * 53400 when not even one batch of rows fits.
 */
static void
PlanStream(const RunSpec *spec, const MlpTrainConfig *cfg, StreamPlan *p, bool has_val)
{
	Size		limit = TrainingMemoryLimit();
	Size		image_bytes = (Size) p->channels * p->height * p->width;
	Size		val_bytes = has_val ? (Size) p->channels * p->val_height * p->val_width : 0;
	Size		row_bytes = Max(image_bytes, val_bytes);
	Size		trainer_bytes = mlp_trainer_memory_estimate(cfg) + mlp_trainer_overhead_memory(cfg);
	Size		carry_bytes = mlp_trainer_stream_memory(cfg, image_bytes);
	Size		fetch_bytes = (Size) MLP_STREAM_FETCH_ROWS * 2 * row_bytes + STREAM_READ_RESERVE;
	Size		per_row = row_bytes + sizeof(int32) + sizeof(int64);
	Size		subset_bytes = p->subset ? mlp_subset_selector_memory(spec->cfg.train_size) : 0;
	Size		fixed = trainer_bytes + carry_bytes + fetch_bytes + subset_bytes;
	Size		min_window = 2 * per_row * cfg->batch_size;
	int64		window;

	if (fixed + min_window > limit)
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("training would need %zu MB even when streaming (model and buffers %zu MB, two windows of one batch %zu MB, reading %zu MB), more than mlpscale.max_training_memory (%d MB)",
						(fixed + min_window) >> 20, (trainer_bytes + carry_bytes + subset_bytes) >> 20,
						min_window >> 20, fetch_bytes >> 20, mlp_max_training_memory_mb),
				 errdetail("In bytes: model, optimizer and activations %zu, carry-over batch %zu, subset keys %zu, two windows of one batch of rows %zu, one fetch %zu; the limit %zu.",
						   trainer_bytes, carry_bytes, subset_bytes, min_window, fetch_bytes, limit),
				 errhint("Use a smaller batch_size or architecture, or raise mlpscale.max_training_memory.")));
	window = (int64) ((limit - fixed) / (2 * per_row));
	if (spec->cfg.stream_buffer_rows > 0)
		window = Min(window, spec->cfg.stream_buffer_rows);
	/* several windows an epoch even when everything would fit: reading overlaps training
	 * only from the second window on */
	window = Min(window, Max((p->train_rows + STREAM_MIN_WINDOWS - 1) / STREAM_MIN_WINDOWS,
							 cfg->batch_size));
	p->window_rows = Max(window, 1);

	/* ranges of about a window / STREAM_RANGES_PER_WINDOW rows: several places per window */
	p->range_blocks = 0;
	if (p->blocks > 0)
	{
		int64		rows_per_block = Max((p->train_rows + p->blocks - 1) / p->blocks, 1);

		p->range_blocks = Max(p->window_rows / (STREAM_RANGES_PER_WINDOW * rows_per_block), 1);
	}
	for (int b = 0; b < 2; b++)
	{
		p->images[b] = MemoryContextAllocHuge(worker_context, (Size) p->window_rows * row_bytes);
		p->labels[b] = MemoryContextAllocHuge(worker_context,
											  (Size) p->window_rows * sizeof(int32));
		p->order[b] = MemoryContextAllocHuge(worker_context,
											 (Size) p->window_rows * sizeof(int64));
	}
	elog(LOG, "mlpscale: run " INT64_FORMAT " streams its source: %lld rows, windows of %lld rows, %s",
		 spec->run_id, (long long) p->train_rows, (long long) p->window_rows,
		 p->range_blocks > 0 ? psprintf("table ranges of %lld blocks", (long long) p->range_blocks) :
		 "a cursor in the source's order");
}

/* ---- the trainer's configuration --------------------------------------------------------- */

/*
 * The trainer's config from the run's; the normalisation statistics (when not given) from
 * train's images, or from hist when the run streams (train->images is then NULL).
 */
static void
BuildConfig(const RunSpec *spec, const MlpSourceData *train, const MlpChannelHist *hist,
			 const MlpModelMeta *base_meta, MlpTrainConfig *cfg)
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

			if (hist)
				mlp_channel_hist_stats(hist, s, cfg->mean, cfg->std);
			else
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

/* ---- bookkeeping ------------------------------------------------------------------------- */

/* stream_window_rows: 0 when the data is held in memory */
static void
RecordSizes(const RunSpec *spec, const MlpTrainConfig *cfg, int64 train_rows, int64 val_rows,
			 bool has_val, int64 stream_window_rows)
{
	TxBegin("mlpscale: recording the run's sizes");
	MlpRunStoreRecordSizes(spec->run_id, mlp_arch_param_count(&cfg->arch),
						   mlp_arch_forward_flops(&cfg->arch), train_rows, val_rows, has_val,
						   stream_window_rows);
	TxCommit();
}

/* One transaction: the epoch's row, the checkpoint and epochs_done. */
static void
CommitEpoch(const RunSpec *spec, const MlpEpochStats *st, const MlpEvalStats *val,
			 bool has_val, int64 examples_seen, double flops_per_image, double lr,
			 bytea *state, const BestEpoch *best)
{
	MlpEpochRow row;
	char		activity[128];

	memset(&row, 0, sizeof(row));
	row.epoch = st->epoch;
	row.train_loss = st->train_loss;
	row.train_accuracy = st->train_accuracy;
	row.has_val = has_val;
	if (has_val)
	{
		row.val_loss = val->loss;
		row.val_accuracy = val->accuracy;
		row.val_top5 = val->top5;
	}
	row.images_per_second = st->images_per_second;
	row.examples_seen = examples_seen;
	row.cumulative_flops = flops_per_image * 3.0 * (double) examples_seen;
	/* The trainer's lr is a float: show 0.001, not 0.0010000000474974513. */
	row.lr = strtod(psprintf("%.7g", lr), NULL);
	row.seconds = st->seconds;

	snprintf(activity, sizeof(activity), "mlpscale: run " INT64_FORMAT " saving epoch %d",
			 spec->run_id, st->epoch);
	SampleMemory();
	row.peak_memory_bytes = (int64) peak_memory;
	row.base_memory_bytes = (int64) base_memory;
	TxBegin(activity);
	/* with early_stop, the best epoch's state is kept for the model */
	MlpRunStoreCommitEpoch(spec->run_id, &row, state, best->epoch, spec->cfg.early_stop > 0);
	TxCommit();
	/* the checkpoint's copies (the row the insert formed): free, and given back */
	ReturnFreedMemory();
}

typedef struct RestoreState
{
	MlpTrainer *trainer;
	int64		run_id;
	int			epochs_done;
	int64		examples_seen;
} RestoreState;

static void
RestoreFrom(const uint8_t *state, size_t len, int64 examples_seen, void *arg)
{
	RestoreState *r = arg;
	MlpError	err;

	if (mlp_trainer_restore(r->trainer, state, len, &r->epochs_done, &err) != MLP_OK)
		MlpReportCoreError(&err, psprintf("could not restore the checkpoint of run " INT64_FORMAT,
										  r->run_id));
	r->examples_seen = examples_seen;
}

/*
 * Restores the checkpoint of a resumed run into t; returns the epochs it covers and the
 * examples seen so far (0 and 0 when there is none).
 */
static int
RestoreCheckpoint(const RunSpec *spec, MlpTrainer *t, int64 *examples_seen)
{
	RestoreState r = {t, spec->run_id, 0, 0};

	TxBegin("mlpscale: loading the checkpoint");
	(void) MlpRunStoreReadCheckpoint(spec->run_id, RestoreFrom, &r);
	/* Epoch rows beyond the checkpoint (there are none: they commit together) are redone. */
	MlpRunStoreRewind(spec->run_id, r.epochs_done);
	TxCommit();
	*examples_seen = r.examples_seen;
	return r.epochs_done;
}

/*
 * The state of the best epoch into t (early_stop), read back from the checkpoint's
 * best_state rather than kept in memory for the whole run.
 */
static void
RestoreBest(const RunSpec *spec, MlpTrainer *t, int best_epoch)
{
	RestoreState r = {t, spec->run_id, 0, 0};
	bool		found;

	TxBegin("mlpscale: loading the best epoch's checkpoint");
	found = MlpRunStoreReadBestState(spec->run_id, RestoreFrom, &r);
	TxCommit();
	if (!found || r.epochs_done != best_epoch)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("the checkpoint of epoch %d, the best of run " INT64_FORMAT ", is missing",
						best_epoch, spec->run_id),
				 found ? errdetail("The stored best state is of epoch %d.", r.epochs_done) : 0));
}

/*
 * The best epoch so far of a resumed run, from its epoch rows (committed with their
 * checkpoints): the earliest of the lowest val_loss, as the epoch loop chooses.
 */
static void
ResumeBest(const RunSpec *spec, int epochs_done, BestEpoch *best)
{
	TxBegin("mlpscale: reading the best epoch so far");
	if (!MlpRunStoreBestEpoch(spec->run_id, epochs_done, &best->epoch, &best->val_loss))
		best->epoch = 0;
	TxCommit();
}

/* a sorts before b as float8 does in SQL: NaN after every number */
static bool
ValLossBefore(double a, double b)
{
	if (isnan(b))
		return !isnan(a);
	return !isnan(a) && a < b;
}

/* early_stop: no epoch since the best one had a lower validation loss, for that many epochs */
static bool
EarlyStopDue(const RunSpec *spec, const BestEpoch *best, int epochs_done)
{
	return spec->cfg.early_stop > 0 && best->epoch > 0 &&
		epochs_done - best->epoch >= spec->cfg.early_stop;
}

static void
FinishRun(int64 run_id, const char *status, const char *error, int64 model_id)
{
	TxBegin("mlpscale: finishing the run");
	MlpRunStoreFinish(run_id, status, error, model_id);
	TxCommit();
}

static int64
StoreModel(const RunSpec *spec, const MlpModel *model, const MlpTrainConfig *cfg)
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
	TxBegin(activity);
	model_id = MlpModelStoreInsert(spec->cfg.model_name, model, &meta, spec->run_id,
								   spec->cfg.base_model_id, spec->run_as, &version);
	TxCommit();
	elog(LOG, "mlpscale: run " INT64_FORMAT " stored model %s version %d",
		 spec->run_id, spec->cfg.model_name, version);
	return model_id;
}

/* ---- training ---------------------------------------------------------------------------- */

static bool
CancelRequestedInTable(int64 run_id)
{
	bool		result;

	/* inside a streamed epoch's transaction: a snapshot of now, not the epoch's */
	if (IsTransactionState())
	{
		PushActiveSnapshot(GetLatestSnapshot());
		result = MlpRunStoreCancelRequested(run_id);
		PopActiveSnapshot();
		return result;
	}
	TxBegin(NULL);
	result = MlpRunStoreCancelRequested(run_id);
	TxCommit();
	return result;
}

/*
 * Interrupts and SIGTERM: after every step, and while a step of the train thread is long.
 * Without a postmaster nothing we write would count: stop like a crashed backend.
 */
static bool
StopBetweenSteps(void)
{
	CHECK_FOR_INTERRUPTS();
	if (!PostmasterIsAlive())
		proc_exit(1);
	return stop_requested;
}

/* Called by the trainer on this thread after every mini-batch. */
static int
OnStep(void *arg, int epoch, int64_t step, int64_t steps, double loss,
		double images_per_second)
{
	StepState  *s = arg;
	double		now;

	MlpProgressUpdate(s->slot, epoch, step, loss, images_per_second);
	SampleMemory();
	if (StopBetweenSteps())
		return 1;
	if (MlpProgressCancelRequested(s->slot))
	{
		s->canceled = true;
		return 1;
	}
	now = SecondsNow();
	if (now - s->last_poll >= CANCEL_POLL_SECONDS)
	{
		s->last_poll = now;
		if (CancelRequestedInTable(s->run_id))
		{
			s->canceled = true;
			return 1;
		}
	}
	return 0;
}

/*
 * How the run ended, written to its row: the model it made, or why it has none.  With
 * early_stop the model has the best epoch's weights, however the run ended.
 */
static void
EndRun(const RunSpec *spec, MlpTrainer *trainer, const MlpTrainConfig *cfg, RunEnd end,
	   int epochs_done, const BestEpoch *best)
{
	int64		model_id = 0;
	const char *status;
	const char *message = NULL;
	bool		keep_best = spec->cfg.early_stop > 0 && best->epoch > 0;

	switch (end)
	{
		case RUN_DONE:
		case RUN_STOPPED_EARLY:
			if (keep_best && best->epoch != epochs_done)
				RestoreBest(spec, trainer, best->epoch);
			model_id = StoreModel(spec, mlp_trainer_model(trainer), cfg);
			status = "succeeded";
			if (end == RUN_STOPPED_EARLY)
			{
				int			since = epochs_done - best->epoch;

				message = psprintf("stopped early after epoch %d of %d: the validation loss had not improved for %d %s; the model has the weights of epoch %d, the best",
								   epochs_done, spec->cfg.epochs, since,
								   since == 1 ? "epoch" : "epochs", best->epoch);
				elog(LOG, "mlpscale: run " INT64_FORMAT " %s", spec->run_id, message);
			}
			break;
		case RUN_CANCELED:
			/*
			 * The last checkpoint, not the half-done epoch, becomes the model: read back
			 * from the table rather than kept in memory for the whole run.
			 */
			if (epochs_done > 0)
			{
				int64		ignored;

				if (keep_best)
					RestoreBest(spec, trainer, best->epoch);
				else
					(void) RestoreCheckpoint(spec, trainer, &ignored);
				model_id = StoreModel(spec, mlp_trainer_model(trainer), cfg);
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
	FinishRun(spec->run_id, status, message, model_id);
}

/*
 * The next window of a streamed epoch's training rows, as the role; with train_size, reads
 * until the rows of the subset fill it.  0 at the end of the epoch.
 */
static int64
ReadWindow(const RunSpec *spec, MlpSourceStream *s, StreamPlan *p, int b)
{
	Size		image_bytes = (Size) p->channels * p->height * p->width;
	UserContext u;
	int64		fill = 0;

	EnterUserContext(spec, &u);
	while (fill < p->window_rows)
	{
		int64		n = MlpStreamRead(s, p->images[b] + fill * image_bytes, p->labels[b] + fill,
									  p->window_rows - fill);

		if (n == 0)
			break;
		if (p->subset)
			n = mlp_subset_selector_filter(&p->selector, p->images[b] + fill * image_bytes,
										   p->labels[b] + fill, n, p->channels, p->height,
										   p->width);
		fill += n;
		if (!p->subset)
			break;
	}
	LeaveUserContext(&u);
	SampleMemory();
	return fill;
}

/*
 * Trains chunk (in the order rows) on the train thread while this thread reads the next
 * window into buffer next_b, then answers the chunk's steps as OnStep does until it is done;
 * returns the rows read.  The thread is stopped and joined before any error leaves here.
 */
#define TRAIN_THREAD_POLL_MS 100

static pg_noinline int64
TrainWhileReading(const RunSpec *spec, MlpSourceStream *s, StreamPlan *p, MlpTrainer *trainer,
				  const MlpDataset *chunk, const int64 *rows, int next_b,
				  StepState *step_state, MlpEpochStats *st, int epoch)
{
	MlpTrainThread *tt;
	MlpError	err;
	volatile int64 next = 0;

	tt = mlp_train_thread_start(trainer, chunk, rows, st, &err);
	if (tt == NULL)
		MlpReportCoreError(&err, psprintf("epoch %d failed", epoch + 1));
	PG_TRY();
	{
		MlpStepReport rep;
		int			r;

		next = ReadWindow(spec, s, p, next_b);
		while ((r = mlp_train_thread_wait(tt, TRAIN_THREAD_POLL_MS, &rep)) >= 0)
		{
			if (r > 0 ? OnStep(step_state, rep.epoch, rep.step, rep.steps, rep.loss,
							   rep.images_per_second) != 0 :
				StopBetweenSteps())
				mlp_train_thread_stop(tt);
		}
	}
	PG_CATCH();
	{
		mlp_train_thread_stop(tt);
		(void) mlp_train_thread_join(tt, NULL);
		PG_RE_THROW();
	}
	PG_END_TRY();
	if (mlp_train_thread_join(tt, &err) != MLP_OK)
		MlpReportCoreError(&err, psprintf("epoch %d failed", epoch + 1));
	return next;
}

/*
 * A streamed epoch, and the validation after it, in one transaction: every window is read
 * with its snapshot, so the epoch sees the source as of its start (exactly once per row,
 * whatever is written meanwhile).  The user's SQL runs only while reading; training runs
 * between reads, in the transaction but outside the user's context.  Returns with
 * st->stopped when the callback stopped the epoch.
 */
static void
StreamEpoch(const RunSpec *spec, StreamPlan *p, MlpTrainer *trainer, const MlpTrainConfig *cfg,
			int epoch, StepState *step_state, MlpEpochStats *st, bool has_val,
			MlpEvalStats *vst)
{
	MlpSourceStream s;
	UserContext u;
	MlpError	err;
	int64		n;
	int64		window = 0;

	TxBegin(NULL);
	if (mlp_trainer_epoch_begin(trainer, epoch, p->train_rows, st, &err) != MLP_OK)
		MlpReportCoreError(&err, psprintf("epoch %d failed", epoch + 1));
	EnterUserContext(spec, &u);
	MlpStreamOpen(&s, &p->train_opts, p->range_blocks, cfg->seed, epoch, p->channels,
				  p->height, p->width);
	LeaveUserContext(&u);
	if (p->subset)
		mlp_subset_selector_rewind(&p->selector);
	n = ReadWindow(spec, &s, p, 0);
	for (int b = 0; n > 0; b = 1 - b)
	{
		MlpDataset	chunk;

		mlp_stream_window_order(cfg->seed, epoch, window++, p->order[b], n);
		chunk.images = p->images[b];
		chunk.labels = p->labels[b];
		chunk.n = n;
		chunk.spec = (MlpImageSpec) {p->channels, p->height, p->width};
		n = TrainWhileReading(spec, &s, p, trainer, &chunk, p->order[b], 1 - b, step_state, st,
							  epoch);
		if (st->stopped)
			break;
	}
	MlpStreamClose(&s);
	if (!st->stopped &&
		mlp_trainer_epoch_end(trainer, OnStep, step_state, st, &err) != MLP_OK)
		MlpReportCoreError(&err, psprintf("epoch %d failed", epoch + 1));

	if (!st->stopped && has_val)
	{
		MlpEvalTotals tot = {0};

		EnterUserContext(spec, &u);
		MlpStreamOpen(&s, &p->val_opts, 0, 0, 0, p->channels, p->val_height, p->val_width);
		LeaveUserContext(&u);
		for (;;)
		{
			MlpDataset	chunk;

			EnterUserContext(spec, &u);
			n = MlpStreamRead(&s, p->images[0], p->labels[0], p->window_rows);
			LeaveUserContext(&u);
			if (n == 0)
				break;
			chunk.images = p->images[0];
			chunk.labels = p->labels[0];
			chunk.n = n;
			chunk.spec = (MlpImageSpec) {p->channels, p->val_height, p->val_width};
			if (mlp_trainer_eval_chunk(trainer, &chunk, &tot, &err) != MLP_OK)
				MlpReportCoreError(&err, psprintf("validation after epoch %d failed",
												  epoch + 1));
			CHECK_FOR_INTERRUPTS();
		}
		MlpStreamClose(&s);
		mlp_eval_stats(&tot, vst);
	}
	TxCommit();
}

/* Trains the remaining epochs and writes how the run ended. */
static void
TrainEpochs(const RunSpec *spec, MlpTrainer *trainer, const MlpTrainConfig *cfg_in,
			 const MlpSourceData *train_data, const MlpSourceData *val_data, bool has_val,
			 StreamPlan *plan)
{
	MlpTrainConfig cfg = *cfg_in;
	MlpSourceData train = *train_data;
	MlpSourceData val = *val_data;
	MlpDataset	train_set;
	MlpDataset	val_set;
	MlpError	err;
	size_t		checkpoint_len;
	int			start_epoch;
	int			epochs_done;
	int64		examples_seen;
	double		flops_per_image = mlp_arch_forward_flops(&cfg.arch);
	StepState	step_state;
	RunEnd		end = RUN_DONE;
	BestEpoch	best = {0, 0};

	start_epoch = spec->epochs_done > 0 ? RestoreCheckpoint(spec, trainer, &examples_seen) : 0;
	if (start_epoch == 0)
		examples_seen = 0;
	else if (has_val)
		ResumeBest(spec, start_epoch, &best);
	epochs_done = start_epoch;

	memset(&train_set, 0, sizeof(train_set));
	memset(&val_set, 0, sizeof(val_set));
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
	step_state.last_poll = SecondsNow();
	progress_slot = MlpProgressAcquire(spec->run_id, spec->cfg.epochs,
									   ((plan ? plan->train_rows : train.n) + cfg.batch_size - 1) /
									   cfg.batch_size);
	step_state.slot = progress_slot;
	training_phase = true;
	MlpTestHold(spec->run_id, 0, &stop_requested);

	for (int epoch = start_epoch; epoch < spec->cfg.epochs; epoch++)
	{
		MlpEpochStats st;
		MlpEvalStats vst;
		double		lr = cfg.cosine ? mlp_cosine_lr(cfg.opt.lr, epoch, cfg.epochs) : cfg.opt.lr;

		/* before a stop request: the run is done (also when resumed right at that point) */
		if (EarlyStopDue(spec, &best, epochs_done))
		{
			end = RUN_STOPPED_EARLY;
			break;
		}
		if (stop_requested)
		{
			end = RUN_STOPPED;
			break;
		}
		snprintf(training_activity, sizeof(training_activity),
				 "mlpscale: run " INT64_FORMAT " training epoch %d of %d",
				 spec->run_id, epoch + 1, spec->cfg.epochs);
		pgstat_report_activity(STATE_RUNNING, training_activity);
		if (plan)
			StreamEpoch(spec, plan, trainer, &cfg, epoch, &step_state, &st, has_val, &vst);
		else if (mlp_trainer_train_epoch(trainer, &train_set, epoch, OnStep, &step_state, &st,
										 &err) != MLP_OK)
			MlpReportCoreError(&err, psprintf("epoch %d failed", epoch + 1));
		if (st.stopped)
		{
			end = step_state.canceled ? RUN_CANCELED : RUN_STOPPED;
			break;
		}
		if (!plan && has_val &&
			mlp_trainer_eval_dataset(trainer, &val_set, &vst, &err) != MLP_OK)
			MlpReportCoreError(&err, psprintf("validation after epoch %d failed", epoch + 1));
		examples_seen += st.examples;
		if (has_val && (best.epoch == 0 || ValLossBefore(vst.loss, best.val_loss)))
		{
			best.epoch = epoch + 1;
			best.val_loss = vst.loss;
		}

		/* The batch buffers are rewritten before use: no need to keep them under the copies. */
		mlp_trainer_release_batch_memory(trainer);
		if (mlp_trainer_checkpoint(trainer, epoch + 1, &checkpoint_buf, &checkpoint_len,
								   &err) != MLP_OK)
			MlpReportCoreError(&err, "could not save the checkpoint");
		CommitEpoch(spec, &st, &vst, has_val, examples_seen, flops_per_image, lr,
					 MlpBufferToBytea(&checkpoint_buf, checkpoint_len, "a checkpoint"), &best);
		free(checkpoint_buf);
		checkpoint_buf = NULL;
		epochs_done = epoch + 1;
		MlpTestHold(spec->run_id, epochs_done, &stop_requested);
		elog(DEBUG1, "mlpscale: run " INT64_FORMAT " epoch %d: loss %.4f, accuracy %.4f, %.0f images/s",
			 spec->run_id, st.epoch, st.train_loss, st.train_accuracy, st.images_per_second);
	}
	if (end == RUN_DONE && epochs_done < spec->cfg.epochs)
		end = RUN_STOPPED;

	EndRun(spec, trainer, &cfg, end, epochs_done, &best);
}

static void
RunTraining(const RunSpec *spec)
{
	MlpSourceData train;
	MlpSourceData val;
	bool		has_val = spec->cfg.validation != NULL;
	MlpModel	base;
	MlpModelMeta base_meta;
	bool		has_base = false;
	MlpTrainConfig cfg;
	MlpTrainer *trainer;
	MlpError	err;

	StreamPlan	plan;
	bool		stream = spec->cfg.streaming;
	MlpChannelHist *hist = NULL;

	memset(&train, 0, sizeof(train));
	memset(&val, 0, sizeof(val));
	memset(&plan, 0, sizeof(plan));
	base_memory = peak_memory = mlp_private_memory_bytes();
	if (spec->cfg.finetune)
	{
		TxBegin("mlpscale: loading the base model");
		MlpModelStoreLoadById(spec->cfg.base_model_id, &base, &base_meta);
		TxCommit();
		has_base = true;
	}
	if (!stream)
	{
		LoadData(spec, &train, &val);
		SampleMemory();
		stream = train.over_limit || val.over_limit;
		if (stream)
		{
			/* the training rows were loaded when only the validation is over the budget */
			FreeSourceData(&train);
			FreeSourceData(&val);
		}
	}
	if (!stream)
	{
		/* before the statistics and the sizes: both are the subset's */
		MlpTakeTrainSubset(&spec->cfg, &train);
		if (has_val && val.channels != train.channels)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("validation images have %d channels but the source's have %d",
							val.channels, train.channels)));
		BuildConfig(spec, &train, NULL, has_base ? &base_meta : NULL, &cfg);
		/* data and trainer over the budget: stream rather than fail */
		if (SourceBytes(&train) + (has_val ? SourceBytes(&val) : 0) +
			mlp_trainer_memory_estimate(&cfg) + mlp_trainer_overhead_memory(&cfg) >
			TrainingMemoryLimit())
		{
			stream = true;
			FreeSourceData(&train);
			FreeSourceData(&val);
		}
	}
	if (stream)
	{
		if (spec->cfg.num_mean == 0 && !has_base)
			hist = MemoryContextAllocZero(worker_context, sizeof(MlpChannelHist));
		SurveyStream(spec, &plan, hist, has_val);
		train.n = plan.train_rows;
		train.channels = plan.channels;
		train.height = plan.height;
		train.width = plan.width;
		train.max_label = plan.max_label;
		BuildConfig(spec, &train, hist, has_base ? &base_meta : NULL, &cfg);
		PlanStream(spec, &cfg, &plan, has_val);
		RecordSizes(spec, &cfg, plan.train_rows, has_val ? plan.val_rows : 0, has_val,
					plan.window_rows);
	}
	else
		RecordSizes(spec, &cfg, train.n, has_val ? val.n : 0, has_val, 0);

	MlpEnsureBlas();
	mlp_blas_set_threads(cfg.threads);

	trainer = mlp_trainer_new(&cfg, has_base ? &base : NULL, &err);
	if (has_base)
	{
		mlp_model_free(&base);
		mlp_model_meta_free(&base_meta);
	}
	if (trainer == NULL)
		MlpReportCoreError(&err, "could not create the trainer");

	{
		/* not changed once the PG_TRY is set up */
		const bool	with_val = has_val;
		StreamPlan *const stream_plan = stream ? &plan : NULL;

		PG_TRY();
		{
			TrainEpochs(spec, trainer, &cfg, &train, &val, with_val, stream_plan);
		}
		PG_FINALLY();
		{
			free(checkpoint_buf);
			checkpoint_buf = NULL;
			mlp_trainer_free(trainer);
		}
		PG_END_TRY();
	}
}

/* ---- entry point ------------------------------------------------------------------------- */

void
MlpTrainWorkerMain(Datum arg)
{
	int64		run_id = DatumGetInt64(arg);
	Oid			database;
	RunSpec		spec;

	memcpy(&database, MyBgworkerEntry->bgw_extra, sizeof(Oid));
	pqsignal(SIGTERM, WorkerSigterm);
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
	before_shmem_exit(ReleaseProgressSlot, 0);
	memset(&spec, 0, sizeof(spec));
	if (!ClaimRun(run_id, &spec))
	{
		elog(DEBUG1, "mlpscale: run " INT64_FORMAT " is no longer queued", run_id);
		proc_exit(0);
	}
	PG_TRY();
	{
		DecodeRun(&spec);
		elog(LOG, "mlpscale: training run " INT64_FORMAT " (model %s, %s, %d epochs, %s products)",
			 run_id, spec.cfg.model_name, spec.cfg.arch, spec.cfg.epochs,
			 mlp_matmul_precision_name(spec.cfg.matmul_precision));
		BecomeRunRole(&spec);
		RunTraining(&spec);
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

		/* the message, its detail and its hint: runs.error is all the user may look at */
		message = pstrdup(edata->message);
		if (edata->detail)
			message = psprintf("%s: %s", message, edata->detail);
		if (edata->hint)
			message = psprintf("%s (%s)", message, edata->hint);
		FinishRun(run_id, "failed", message, 0);
	}
	PG_END_TRY();

	proc_exit(0);
}
