/*
 * model_cache.c - per-backend cache of unpacked models and the GUCs of scoring.
 *
 * Unpacking a model (reading tens of megabytes of safetensors and converting them) must
 * happen once per backend and version, not once per row, yet a new version or a new
 * deployment must be seen by the next statement of every session.  So each entry remembers
 * the statement in which it was last validated; the first use in a new statement re-reads the
 * id of the version its reference means (an index look-up) and reloads only when it changed.
 * Parallel workers have caches of their own, filled on their first row.
 */
#include "postgres.h"

#include "access/parallel.h"
#include "access/xact.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "core/blas.h"
#include "mlpscale.h"
#include "model_cache.h"

int			mlp_scoring_batch_size = 256;
int			mlp_evaluate_max_memory_mb = 4096;
static int	mlp_scoring_threads = 0;
static int	mlp_model_cache_size = 4;

static HTAB *model_cache = NULL;
static uint64 use_counter = 0;

/* Statement stamp: (statement start, local transaction, command) mapped to a counter. */
static TimestampTz stamp_stmt_start = 0;
static LocalTransactionId stamp_lxid = InvalidLocalTransactionId;
static CommandId stamp_cid = InvalidCommandId;
static uint64 stamp_counter = 0;

/* The deployment as read in the current statement. */
static uint64 deployment_stamp = 0;
static char deployed_ref[MLP_MODEL_REF_MAX + 1];
static bool deployed_exists = false;

/* OpenBLAS's own thread count when it loaded (one per core), and what we last set. */
static int	blas_default_threads = -1;
static int	blas_current_threads = -1;

static void EvictEntries(uint64 stamp);

/* Lowering the size frees the excess now (entries pinned by a running batch stay). */
static void
AssignModelCacheSize(int newval, void *extra)
{
	mlp_model_cache_size = newval;
	if (model_cache != NULL)
		EvictEntries(0);
}

void
ModelCacheInit(void)
{
	DefineCustomIntVariable("mlpscale.scoring_batch_size",
							"Rows per matrix product in mlp_classify_batch and mlp_evaluate.",
							NULL, &mlp_scoring_batch_size, 256, 1, 65536,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("mlpscale.scoring_threads",
							"OpenBLAS threads of scoring in a backend (0: automatic).",
							"Automatic is one per CPU core. Single images (the per-row functions) always use one, as do parallel workers and the leader of a parallel query.",
							&mlp_scoring_threads, 0, 0, 1024,
							PGC_USERSET, 0, NULL, NULL, NULL);
	/*
	 * Superuser-only: every cached model holds its unpacked weights (up to hundreds of MB)
	 * in the backend, so the number is the DBA's memory budget, not a user's choice.
	 */
	DefineCustomIntVariable("mlpscale.model_cache_size",
							"Models each backend keeps unpacked for scoring.",
							"Models used by the running statement are kept even beyond this number. Lowering it frees the excess at once.",
							&mlp_model_cache_size, 4, 1, 1000,
							PGC_SUSET, 0, NULL, AssignModelCacheSize, NULL);
	DefineCustomIntVariable("mlpscale.evaluate_max_memory",
							"Largest amount of image data mlp_evaluate reads into memory.",
							NULL, &mlp_evaluate_max_memory_mb, 4096, 1, INT_MAX / 2,
							PGC_USERSET, GUC_UNIT_MB, NULL, NULL, NULL);
}

/*
 * A number that changes whenever a new statement (or a new command of the same statement,
 * after a write such as mlp_import) starts.  Parallel workers share the leader's statement
 * start time and command id.
 */
static uint64
CurrentStatementStamp(void)
{
	TimestampTz stmt = GetCurrentStatementStartTimestamp();
	LocalTransactionId lxid = MyProc->lxid;
	CommandId	cid = GetCurrentCommandId(false);

	if (stmt != stamp_stmt_start || lxid != stamp_lxid || cid != stamp_cid || stamp_counter == 0)
	{
		stamp_stmt_start = stmt;
		stamp_lxid = lxid;
		stamp_cid = cid;
		stamp_counter++;
	}
	return stamp_counter;
}

void
MlpScoringPrepareBlas(int batch)
{
	int			want;

	MlpEnsureBlas();
	if (blas_default_threads < 0)
	{
		blas_default_threads = Max(mlp_blas_threads(), 1);
		blas_current_threads = blas_default_threads;
	}
	/* Workers of a parallel query already use every core; more BLAS threads would fight. */
	if (IsParallelWorker() || IsInParallelMode())
		want = 1;

	/*
	 * One image is a matrix-vector product bound by reading the weights; with one thread
	 * mlp_sgemv streams them at the speed of a plain read, while OpenBLAS's threaded sgemv
	 * was slower here even when asked for (B_6-Wi_512: 435 img/s on one thread, 285 on two).
	 */
	else if (batch == 1)
		want = 1;
	else if (mlp_scoring_threads > 0)
		want = mlp_scoring_threads;
	else
		want = blas_default_threads;
	if (want != blas_current_threads)
	{
		mlp_blas_set_threads(want);
		blas_current_threads = want;
	}
}

static void
ReleaseEntryModel(MlpCachedModel *entry)
{
	if (entry->model_id != 0)
	{
		mlp_model_free(&entry->model);
		mlp_model_meta_free(&entry->meta);
	}
	if (entry->row_input)
		pfree(entry->row_input);
	if (entry->row_logits)
		pfree(entry->row_logits);
	if (entry->row_scratch)
		pfree(entry->row_scratch);
	entry->row_input = entry->row_logits = entry->row_scratch = NULL;
	entry->model_id = 0;
	entry->version = 0;
}

/* Drops the least recently used entries not in use by this statement beyond the limit. */
static void
EvictEntries(uint64 stamp)
{
	while (hash_get_num_entries(model_cache) > mlp_model_cache_size)
	{
		HASH_SEQ_STATUS seq;
		MlpCachedModel *e,
				   *victim = NULL;

		hash_seq_init(&seq, model_cache);
		while ((e = hash_seq_search(&seq)) != NULL)
		{
			/* stamp 0: only pins protect an entry */
			if (e->pins > 0 || (stamp != 0 && e->validated_in == stamp))
				continue;
			if (victim == NULL || e->last_used < victim->last_used)
				victim = e;
		}
		if (victim == NULL)
			return;
		ReleaseEntryModel(victim);
		hash_search(model_cache, victim->ref, HASH_REMOVE, NULL);
	}
}

static void
LoadEntry(MlpCachedModel *entry, int64 id, int version, TimestampTz created)
{
	MlpModel	model;
	MlpModelMeta meta;
	float	   *input = NULL,
			   *logits = NULL,
			   *scratch = NULL;

	/* Load into locals, then swap: an error leaves the old entry as it was. */
	MlpModelStoreLoadById(id, &model, &meta);
	PG_TRY();
	{
		size_t		nscratch = mlp_model_scratch_floats(&model, 1);

		input = MemoryContextAllocHuge(TopMemoryContext, sizeof(float) * model.arch.in_dim);
		logits = MemoryContextAlloc(TopMemoryContext, sizeof(float) * model.arch.classes);
		scratch = MemoryContextAllocHuge(TopMemoryContext, sizeof(float) * Max(nscratch, 1));
	}
	PG_CATCH();
	{
		mlp_model_free(&model);
		mlp_model_meta_free(&meta);
		PG_RE_THROW();
	}
	PG_END_TRY();

	ReleaseEntryModel(entry);
	entry->model = model;
	entry->meta = meta;
	entry->row_input = input;
	entry->row_logits = logits;
	entry->row_scratch = scratch;
	entry->model_id = id;
	entry->version = version;
	entry->created_at = created;
}

MlpCachedModel *
MlpModelCacheGet(const char *ref)
{
	MlpCachedModel *entry;
	bool		found;
	uint64		stamp;
	int64		id;
	int			version;
	TimestampTz created;

	if (strlen(ref) > MLP_MODEL_REF_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_NAME_TOO_LONG),
				 errmsg("model name \"%s\" is too long", ref),
				 errdetail("Model names have at most %d bytes.", MLP_MODEL_NAME_MAX)));

	if (model_cache == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = MLP_MODEL_REF_MAX + 1;
		ctl.entrysize = sizeof(MlpCachedModel);
		model_cache = hash_create("mlpscale model cache", 16, &ctl, HASH_ELEM | HASH_STRINGS);
	}

	stamp = CurrentStatementStamp();
	entry = hash_search(model_cache, ref, HASH_FIND, &found);
	if (entry == NULL)
	{
		char	   *name;
		int			version_wanted;

		/* A malformed reference errors here, before it takes a cache entry. */
		MlpParseModelRef(ref, &name, &version_wanted);
		pfree(name);
		entry = hash_search(model_cache, ref, HASH_ENTER, &found);
	}
	if (!found)
	{
		entry->model_id = 0;
		entry->version = 0;
		entry->created_at = 0;
		entry->validated_in = 0;
		entry->validated_for = InvalidOid;
		entry->pins = 0;
		entry->row_input = entry->row_logits = entry->row_scratch = NULL;
	}
	entry->last_used = ++use_counter;

	/*
	 * Validation covers one statement and one role: a SECURITY DEFINER function may use a
	 * model in the same statement as a caller who may not.
	 */
	if (entry->validated_in == stamp && entry->model_id != 0 &&
		entry->validated_for == GetUserId())
		return entry;
	/* A pinned entry keeps its version until the batch function using it ends. */
	if (entry->pins > 0 && entry->model_id != 0 && entry->validated_for == GetUserId())
		return entry;

	id = MlpModelStoreResolve(ref, &version, &created);
	if (id == 0)
	{
		ReleaseEntryModel(entry);
		hash_search(model_cache, ref, HASH_REMOVE, NULL);
		/* Resolve again with errors on, for the precise message. */
		(void) MlpModelStoreResolveOrError(ref, NULL);
		elog(ERROR, "model \"%s\" vanished", ref);
	}
	if (id != entry->model_id || created != entry->created_at)
	{
		if (entry->pins > 0)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_IN_USE),
					 errmsg("model \"%s\" changed while a batch was scoring with it", ref)));
		LoadEntry(entry, id, version, created);
	}
	entry->validated_in = stamp;
	entry->validated_for = GetUserId();

	EvictEntries(stamp);
	return entry;
}

void
MlpModelCachePin(MlpCachedModel *entry)
{
	entry->pins++;
}

void
MlpModelCacheUnpin(MlpCachedModel *entry)
{
	if (entry->pins > 0)
		entry->pins--;
}

const char *
MlpDeployedModelRef(void)
{
	uint64		stamp = CurrentStatementStamp();

	if (deployment_stamp != stamp)
	{
		int			rc;

		MlpSavedUser saved;

		deployed_exists = false;
		if ((rc = SPI_connect()) != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed: %s", SPI_result_code_string(rc));
		MlpBecomeExtensionOwner(&saved);
		rc = SPI_execute("SELECT model_name FROM " MLPSCALE_SCHEMA ".deployment", true, 1);
		MlpRestoreUser(&saved);
		if (rc != SPI_OK_SELECT)
			elog(ERROR, "reading the deployment failed: %s", SPI_result_code_string(rc));
		if (SPI_processed > 0)
		{
			char	   *name = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);

			if (name != NULL)
			{
				strlcpy(deployed_ref, name, sizeof(deployed_ref));
				deployed_exists = true;
			}
		}
		SPI_finish();
		deployment_stamp = stamp;
	}
	if (!deployed_exists)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("no model is deployed in this database"),
				 errhint("Deploy one with SELECT mlp_deploy('model name'), or name the model: classify('model name', image).")));
	return deployed_ref;
}
