/*
 * model_cache.h - the per-backend cache of unpacked models used by scoring.
 *
 * An entry is found by the reference the query gives ("name" or "name@N").  It is validated
 * once per statement (one indexed look-up of the version the reference means); when a new
 * version appeared, the next statement loads it.  The weights are never read per row.
 */
#ifndef MLP_MODEL_CACHE_H
#define MLP_MODEL_CACHE_H

#include "postgres.h"

#include "core/model.h"
#include "core/weights.h"
#include "model_store.h"

#define MLP_MODEL_REF_MAX (MLP_MODEL_NAME_MAX + 16)

typedef struct MlpCachedModel
{
	char		ref[MLP_MODEL_REF_MAX + 1];	/* hash key */
	int64		model_id;		/* 0 when nothing is loaded */
	int			version;
	TimestampTz created_at;		/* with model_id, tells a re-created extension apart */
	MlpModel	model;			/* malloc'd by the core */
	MlpModelMeta meta;
	uint64		validated_in;	/* statement stamp of the last validation */
	Oid			validated_for;	/* role whose access that validation checked */
	uint64		last_used;		/* for eviction */
	int			pins;			/* > 0 while a batch function holds the entry */
	MlpBf16Weights bf16;		/* bf16 forms of the weights (malloc'd), each made on first use */
	/* single-image buffers of the per-row functions */
	float	   *row_input;
	float	   *row_logits;
	float	   *row_scratch;
} MlpCachedModel;

/* The entry of ref, loaded and validated for the current statement (ERROR when no model). */
extern MlpCachedModel *MlpModelCacheGet(const char *ref);

/* Keeps an entry from being replaced or evicted while a batch function uses it. */
extern void MlpModelCachePin(MlpCachedModel *entry);
extern void MlpModelCacheUnpin(MlpCachedModel *entry);

/*
 * Inference of B normalised images in the precision of mlpscale.scoring_precision (bf16
 * keeps converted copies of the weights in the entry: bf16 values for single images, packed
 * product panels for batches).
 */
extern void MlpModelCacheInfer(MlpCachedModel *entry, const float *x, int B, float *logits,
							   float *scratch);

/* Reference of the deployed model, read once per statement (ERROR when none is deployed). */
extern const char *MlpDeployedModelRef(void);

/* Registers the cache's reaction to mlpscale.model_cache_size; from _PG_init. */
extern void MlpModelCacheInit(void);

#endif
