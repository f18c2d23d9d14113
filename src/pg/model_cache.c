/*
 * model_cache.c - per-backend cache of unpacked models for scoring.
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

#include "mlpscale.h"
#include "core/blas.h"
#include "model_cache.h"
#include "privilege.h"
#include "settings.h"


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


static void EvictEntries(uint64 stamp);

/*
 * Lowering mlpscale.model_cache_size frees the excess now (entries pinned by a running batch
 * stay): settings.c calls this through the hook registered below.
 */
static void
ModelCacheSizeLowered(void)
{
	if (model_cache != NULL)
		EvictEntries(0);
}

void
MlpModelCacheInit(void)
{
	MlpOnModelCacheSizeChange(ModelCacheSizeLowered);
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

static void
ReleaseEntryModel(MlpCachedModel *entry)
{
	if (entry->model_id != 0)
	{
		mlp_model_free(&entry->model);
		mlp_model_meta_free(&entry->meta);
	}
	mlp_model_bf16_free(&entry->bf16);
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
		memset(&entry->bf16, 0, sizeof(entry->bf16));
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
		MlpSpiConnect();
		MlpBecomeExtensionOwner(&saved);
		rc = SPI_execute("SELECT model_name FROM " MLP_TABLE(deployment) "", true, 1);
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

void
MlpModelCacheInfer(MlpCachedModel *entry, const float *x, int B, float *logits, float *scratch)
{
	if (mlp_scoring_precision != MLP_MATMUL_BF16)
	{
		mlp_model_infer(&entry->model, x, B, logits, scratch);
		return;
	}
	if (mlp_model_bf16_prepare(&entry->model, &entry->bf16, B) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory for the bf16 copy of model \"%s\"", entry->ref)));
	mlp_model_infer_bf16(&entry->model, &entry->bf16, x, B, logits, scratch);
}
