/*
 * scoring.c - classify, predict_proba, classify_topk, mlp_classify_batch, mlp_evaluate.
 *
 * The per-row functions use the cached model and its single-image buffers; the batch
 * functions push mlpscale.scoring_batch_size images at a time through one matrix-matrix
 * forward.  Normalisation (pixel/255 - mean)/std and resizing to the model's input happen
 * here, through the core's preprocessing, so callers pass stored images as they are.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/plancache.h"
#include "utils/tuplestore.h"

#include "core/evaluate.h"
#include "core/augment.h"
#include "core/loss.h"
#include "core/model.h"
#include "data_source.h"
#include "image_type.h"
#include "model_cache.h"
#include "blas_setup.h"
#include "core_error.h"
#include "privilege.h"
#include "settings.h"

/* Refuses images whose channels differ from the model's (resizing covers height and width). */
static void
CheckImageChannels(const MlpCachedModel *e, int channels)
{
	if (channels != e->meta.input.channels)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("image has %d channel%s but model \"%s\" expects %d",
						channels, channels == 1 ? "" : "s", e->ref, e->meta.input.channels),
				 errhint("Images of another height and width are resized; channels are not converted.")));
}

/* Area-resizes to the model input when needed and normalises into dst [in_dim]. */
static void
PreprocessImage(const MlpCachedModel *e, int channels, int height, int width,
				const uint8 *pixels, float *dst)
{
	MlpAugmentConfig cfg;
	MlpImageSpec in = {channels, height, width};

	CheckImageChannels(e, channels);
	mlp_augment_defaults(&cfg, in, e->meta.input);
	cfg.random_crop = false;
	cfg.flip = false;
	memcpy(cfg.mean, e->meta.mean, sizeof(cfg.mean));
	memcpy(cfg.std, e->meta.std, sizeof(cfg.std));
	mlp_preprocess_image(&cfg, pixels, dst);
}

/* Logits of one image into e->row_logits. */
static void
ScoreOne(MlpCachedModel *e, const MlpImage *img)
{
	PreprocessImage(e, img->channels, img->height, img->width, img->data, e->row_input);
	MlpScoringPrepareBlas(1);
	mlp_model_infer(&e->model, e->row_input, 1, e->row_logits, e->row_scratch);
}

static int
ArgMax(const float *v, int n)
{
	int			best = 0;

	for (int i = 1; i < n; i++)
		if (v[i] > v[best])
			best = i;
	return best;
}

static char *
ModelRefArg(FunctionCallInfo fcinfo, int argno)
{
	return text_to_cstring(PG_GETARG_TEXT_PP(argno));
}

PG_FUNCTION_INFO_V1(mlp_classify);
Datum
mlp_classify(PG_FUNCTION_ARGS)
{
	MlpCachedModel *e = MlpModelCacheGet(ModelRefArg(fcinfo, 0));

	ScoreOne(e, PG_GETARG_MLP_IMAGE_P(1));
	PG_RETURN_INT32(ArgMax(e->row_logits, e->model.arch.classes));
}

PG_FUNCTION_INFO_V1(mlp_classify_deployed);
Datum
mlp_classify_deployed(PG_FUNCTION_ARGS)
{
	MlpCachedModel *e = MlpModelCacheGet(MlpDeployedModelRef());

	ScoreOne(e, PG_GETARG_MLP_IMAGE_P(0));
	PG_RETURN_INT32(ArgMax(e->row_logits, e->model.arch.classes));
}

PG_FUNCTION_INFO_V1(mlp_predict_proba);
Datum
mlp_predict_proba(PG_FUNCTION_ARGS)
{
	MlpCachedModel *e = MlpModelCacheGet(ModelRefArg(fcinfo, 0));
	int			classes = e->model.arch.classes;
	float	   *probs;
	Datum	   *d;

	ScoreOne(e, PG_GETARG_MLP_IMAGE_P(1));
	probs = palloc(sizeof(float) * classes);
	d = palloc(sizeof(Datum) * classes);
	mlp_softmax(e->row_logits, 1, classes, probs);
	for (int i = 0; i < classes; i++)
		d[i] = Float4GetDatum(probs[i]);
	PG_RETURN_ARRAYTYPE_P(construct_array(d, classes, FLOAT4OID, 4, true, TYPALIGN_INT));
}

/*
 * The model_ref of classify_pinned and predict_proba_pinned: one stored version, 'name@N'.
 * Those functions are IMMUTABLE because a version is read-only (a trigger refuses changes)
 * and its number is never given again (mlpscale.model_versions_issued), so their result
 * depends on their arguments alone and postgres_fdw may run them on a remote server.
 */
static char *
PinnedRefArg(FunctionCallInfo fcinfo, int argno, const char *function)
{
	char	   *ref = ModelRefArg(fcinfo, argno);
	char	   *name;
	int			version;

	MlpParseModelRef(ref, &name, &version);
	if (version <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s needs one model version, 'name@N', not \"%s\"", function, ref),
				 errhint("A bare name follows new versions, which an IMMUTABLE function cannot; "
						 "use e.g. '%s@1', or classify() for the latest version.", name)));
	return ref;
}

PG_FUNCTION_INFO_V1(mlp_classify_pinned);
Datum
mlp_classify_pinned(PG_FUNCTION_ARGS)
{
	MlpCachedModel *e = MlpModelCacheGet(PinnedRefArg(fcinfo, 0, "classify_pinned"));

	ScoreOne(e, PG_GETARG_MLP_IMAGE_P(1));
	PG_RETURN_INT32(ArgMax(e->row_logits, e->model.arch.classes));
}

PG_FUNCTION_INFO_V1(mlp_predict_proba_pinned);
Datum
mlp_predict_proba_pinned(PG_FUNCTION_ARGS)
{
	(void) PinnedRefArg(fcinfo, 0, "predict_proba_pinned");
	return mlp_predict_proba(fcinfo);
}

PG_FUNCTION_INFO_V1(mlp_classify_label);
Datum
mlp_classify_label(PG_FUNCTION_ARGS)
{
	MlpCachedModel *e = MlpModelCacheGet(ModelRefArg(fcinfo, 0));
	int			best;

	ScoreOne(e, PG_GETARG_MLP_IMAGE_P(1));
	best = ArgMax(e->row_logits, e->model.arch.classes);
	if (e->meta.num_class_names > best)
		PG_RETURN_TEXT_P(cstring_to_text(e->meta.class_names[best]));
	PG_RETURN_TEXT_P(cstring_to_text(psprintf("%d", best)));
}

/* qsort of class indices by descending probability, ties by class number. */
static const float *sort_probs;

static int
CompareByProb(const void *a, const void *b)
{
	int			ia = *(const int *) a,
				ib = *(const int *) b;

	if (sort_probs[ia] != sort_probs[ib])
		return sort_probs[ia] > sort_probs[ib] ? -1 : 1;
	return ia - ib;
}

PG_FUNCTION_INFO_V1(mlp_classify_topk);
Datum
mlp_classify_topk(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *ref;
	MlpImage   *img;
	int32		k;
	MlpCachedModel *e;
	int			classes;
	float	   *probs;
	int		   *order;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		PG_RETURN_NULL();
	ref = ModelRefArg(fcinfo, 0);
	img = PG_GETARG_MLP_IMAGE_P(1);
	k = PG_GETARG_INT32(2);
	if (k < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("k must be at least 1, not %d", k)));

	InitMaterializedSRF(fcinfo, 0);
	e = MlpModelCacheGet(ref);
	ScoreOne(e, img);
	classes = e->model.arch.classes;
	probs = palloc(sizeof(float) * classes);
	order = palloc(sizeof(int) * classes);
	mlp_softmax(e->row_logits, 1, classes, probs);
	for (int i = 0; i < classes; i++)
		order[i] = i;
	sort_probs = probs;
	qsort(order, classes, sizeof(int), CompareByProb);

	for (int r = 0; r < Min(k, classes); r++)
	{
		Datum		values[4];
		bool		nulls[4] = {false, false, false, false};
		int			c = order[r];

		values[0] = Int32GetDatum(r + 1);
		values[1] = Int32GetDatum(c);
		if (e->meta.num_class_names > c)
			values[2] = CStringGetTextDatum(e->meta.class_names[c]);
		else
			nulls[2] = true;
		values[3] = Float4GetDatum(probs[c]);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/* ---- batch scoring ------------------------------------------------------------------ */

typedef struct BatchBuffers
{
	int			max_batch;
	float	   *x;				/* [max_batch, in_dim] */
	float	   *logits;			/* [max_batch, classes] */
	float	   *scratch;
} BatchBuffers;

static void
AllocBatchBuffers(BatchBuffers *b, const MlpModel *m, int max_batch)
{
	b->max_batch = max_batch;
	b->x = MemoryContextAllocHuge(CurrentMemoryContext,
								  sizeof(float) * (Size) max_batch * m->arch.in_dim);
	b->logits = MemoryContextAllocHuge(CurrentMemoryContext,
									   sizeof(float) * (Size) max_batch * m->arch.classes);
	b->scratch = MemoryContextAllocHuge(CurrentMemoryContext,
										sizeof(float) * Max(mlp_model_scratch_floats(m, max_batch), 1));
}

/*
 * The id and image columns of the query: "id" and "image" by name; without such names, the
 * only integer column and the only image column.
 */
static void
FindBatchColumns(TupleDesc desc, int *id_att, int *image_att)
{
	Oid			image_type = MlpImageTypeOid();
	int			n_int = 0,
				n_img = 0,
				last_int = 0,
				last_img = 0;

	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (att->attisdropped)
			continue;
		if (MlpIsIntegerType(att->atttypid))
			n_int++, last_int = i + 1;
		if (att->atttypid == image_type)
			n_img++, last_img = i + 1;
	}
	*id_att = MlpColumnNumber(desc, "id", "query");
	if (*id_att == 0 && n_int == 1)
		*id_att = last_int;
	*image_att = MlpColumnNumber(desc, "image", "query");
	if (*image_att == 0 && n_img == 1)
		*image_att = last_img;

	if (*id_att == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("query returns no column \"id\""),
				 errhint("The query must return an integer column \"id\" and an image column \"image\", e.g. SELECT key AS id, picture AS image FROM ...")));
	if (*image_att == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("query returns no column \"image\""),
				 errhint("The query must return an integer column \"id\" and an image column \"image\", e.g. SELECT key AS id, picture AS image FROM ...")));
	if (!MlpIsIntegerType(TupleDescAttr(desc, *id_att - 1)->atttypid))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("column \"id\" of the query has type %s, not an integer type",
						format_type_be(TupleDescAttr(desc, *id_att - 1)->atttypid))));
	if (TupleDescAttr(desc, *image_att - 1)->atttypid != image_type)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("column \"image\" of the query has type %s, not image",
						format_type_be(TupleDescAttr(desc, *image_att - 1)->atttypid))));
}

typedef struct BatchState
{
	MlpCachedModel *e;
	Tuplestorestate *store;
	TupleDesc	desc;
	BatchBuffers buf;
	int			n;				/* images in buf.x */
	int64	   *ids;			/* [max_batch] */
	bool	   *id_null;
	float	   *probs;
} BatchState;

static void
FlushBatch(BatchState *s)
{
	int			classes = s->e->model.arch.classes;

	if (s->n == 0)
		return;
	MlpScoringPrepareBlas(s->n);
	mlp_model_infer(&s->e->model, s->buf.x, s->n, s->buf.logits, s->buf.scratch);
	mlp_softmax(s->buf.logits, s->n, classes, s->probs);
	for (int i = 0; i < s->n; i++)
	{
		const float *p = s->probs + (Size) i * classes;
		int			best = ArgMax(p, classes);
		Datum		values[3] = {Int64GetDatum(s->ids[i]), Int32GetDatum(best), Float4GetDatum(p[best])};
		bool		nulls[3] = {s->id_null[i], false, false};

		tuplestore_putvalues(s->store, s->desc, values, nulls);
	}
	s->n = 0;
}

static void
ClassifyQuery(BatchState *s, const char *query)
{
	Portal		portal;
	int			id_att,
				image_att;
	Oid			id_type;
	MemoryContext row_cxt;
	int64		row = 0;

	portal = MlpOpenSelectCursor(query, "id and image");
	FindBatchColumns(portal->tupDesc, &id_att, &image_att);
	id_type = TupleDescAttr(portal->tupDesc, id_att - 1)->atttypid;
	row_cxt = AllocSetContextCreate(CurrentMemoryContext, "mlpscale batch rows",
									ALLOCSET_DEFAULT_SIZES);
	for (;;)
	{
		SPI_cursor_fetch(portal, true, s->buf.max_batch);
		if (SPI_processed == 0)
			break;
		for (uint64 r = 0; r < SPI_processed; r++)
		{
			HeapTuple	tup = SPI_tuptable->vals[r];
			bool		id_isnull,
						img_isnull;
			Datum		idd = SPI_getbinval(tup, SPI_tuptable->tupdesc, id_att, &id_isnull);
			Datum		imgd = SPI_getbinval(tup, SPI_tuptable->tupdesc, image_att, &img_isnull);
			int64		id = id_isnull ? 0 : MlpIntegerDatum(idd, id_type);

			row++;
			if (img_isnull)
			{
				/* Like the strict classify(): a NULL image has no class. */
				Datum		values[3] = {Int64GetDatum(id), 0, 0};
				bool		nulls[3] = {id_isnull, true, true};

				tuplestore_putvalues(s->store, s->desc, values, nulls);
				continue;
			}
			{
				MemoryContext old = MemoryContextSwitchTo(row_cxt);
				MlpImage   *img = DatumGetMlpImageP(imgd);

				MemoryContextSwitchTo(old);
				PreprocessImage(s->e, img->channels, img->height, img->width, img->data,
								s->buf.x + (Size) s->n * s->e->model.arch.in_dim);
				MemoryContextReset(row_cxt);
			}
			s->ids[s->n] = id;
			s->id_null[s->n] = id_isnull;
			if (++s->n == s->buf.max_batch)
				FlushBatch(s);
		}
		SPI_freetuptable(SPI_tuptable);
		CHECK_FOR_INTERRUPTS();
	}
	FlushBatch(s);
	SPI_cursor_close(portal);
	MemoryContextDelete(row_cxt);
}

PG_FUNCTION_INFO_V1(mlp_classify_batch);
Datum
mlp_classify_batch(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *ref;
	char	   *query;
	BatchState	s;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("model must not be null")));
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("query must not be null")));
	ref = ModelRefArg(fcinfo, 0);
	query = text_to_cstring(PG_GETARG_TEXT_PP(1));

	InitMaterializedSRF(fcinfo, 0);
	memset(&s, 0, sizeof(s));
	s.store = rsinfo->setResult;
	s.desc = rsinfo->setDesc;
	s.e = MlpModelCacheGet(ref);
	MlpModelCachePin(s.e);
	PG_TRY();
	{
		int			B = mlp_scoring_batch_size;

		AllocBatchBuffers(&s.buf, &s.e->model, B);
		s.ids = palloc(sizeof(int64) * B);
		s.id_null = palloc(sizeof(bool) * B);
		s.probs = MemoryContextAllocHuge(CurrentMemoryContext,
										 sizeof(float) * (Size) B * s.e->model.arch.classes);
		MlpSpiConnect();
		ClassifyQuery(&s, query);
		SPI_finish();
	}
	PG_FINALLY();
	{
		MlpModelCacheUnpin(s.e);
	}
	PG_END_TRY();
	return (Datum) 0;
}

/*
 * mlp_evaluate's tta: every image as tta augmented views (evaluate.h).  A product holds
 * mlpscale.scoring_batch_size rows, so scoring_batch_size / tta images (at least one) per
 * call of the core.
 */
static void
EvaluateWithTta(MlpCachedModel *e, const MlpSourceData *data, int tta, uint64 seed,
				MlpEvalTotals *totals)
{
	MlpAugmentConfig aug;
	MlpImageSpec in = {data->channels, data->height, data->width};
	Size		image_bytes = (Size) data->channels * data->height * data->width;
	int			per_call = (int) Min((int64) Max(mlp_scoring_batch_size / tta, 1), data->n);
	BatchBuffers buf;
	MlpError	err;

	mlp_tta_augment_defaults(&aug, in, e->meta.input);
	memcpy(aug.mean, e->meta.mean, sizeof(aug.mean));
	memcpy(aug.std, e->meta.std, sizeof(aug.std));
	AllocBatchBuffers(&buf, &e->model, per_call * tta);
	for (int64 start = 0; start < data->n; start += per_call)
	{
		int			B = (int) Min((int64) per_call, data->n - start);

		CHECK_FOR_INTERRUPTS();
		MlpScoringPrepareBlas(B * tta);
		if (mlp_eval_add_tta(totals, &e->model, &aug, tta, seed, start,
							 data->images + (Size) start * image_bytes, B, data->labels + start,
							 buf.x, buf.logits, buf.scratch, &err) != MLP_OK)
			MlpReportCoreError(&err, "mlp_evaluate");
	}
}

PG_FUNCTION_INFO_V1(mlp_evaluate);
Datum
mlp_evaluate(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *ref;
	MlpSourceOptions opts;
	MlpCachedModel *e;
	/* filled inside PG_TRY, read after it only when it completed */
	MlpEvalTotals totals = {0};
	MlpEvalStats stats;
	static const char *const arg_names[] = {"model", "source", "image_column", "label_column",
	"tta", "tta_seed"};
	int32		tta;
	uint64		tta_seed;

	for (int i = 0; i < lengthof(arg_names); i++)
		if (PG_ARGISNULL(i))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s must not be null", arg_names[i]),
					 i == 4 ? errhint("tta => 0 evaluates without augmentation.") :
					 i == 5 ? errhint("Any bigint is a seed; without tta_seed it is 0.") : 0));
	ref = ModelRefArg(fcinfo, 0);
	memset(&opts, 0, sizeof(opts));
	opts.source = text_to_cstring(PG_GETARG_TEXT_PP(1));
	opts.what = "source";
	opts.image_column = text_to_cstring(PG_GETARG_TEXT_PP(2));
	opts.label_column = text_to_cstring(PG_GETARG_TEXT_PP(3));
	tta = PG_GETARG_INT32(4);
	/* any bigint is a seed: its bits as the core's unsigned seed */
	tta_seed = (uint64) PG_GETARG_INT64(5);
	if (tta < 0 || tta > MLP_TTA_MAX_VIEWS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("tta must be between 0 and %d, not %d", MLP_TTA_MAX_VIEWS, tta),
				 errhint("tta is the number of augmented views averaged per image; 0 evaluates each image once, without augmentation.")));

	InitMaterializedSRF(fcinfo, 0);
	e = MlpModelCacheGet(ref);
	MlpModelCachePin(e);
	PG_TRY();
	{
		MlpSourceData data;
		BatchBuffers buf;
		int			classes = e->model.arch.classes;
		Size		image_bytes;

		opts.classes = classes;
		opts.memory_limit = (Size) mlp_evaluate_max_memory_mb * 1024 * 1024;
		opts.memory_setting = "mlpscale.evaluate_max_memory";
		MlpSpiConnect();
		if (tta > 0)
		{
			/*
			 * Image i's views come from stream i, so the rows must arrive in the same order
			 * every time; a synchronized scan starts wherever a concurrent scan of the table
			 * is.  Restored like a function's SET clause (a session SET of the source stays).
			 */
			int			guc_nest = NewGUCNestLevel();

			(void) set_config_option("synchronize_seqscans", "off", PGC_USERSET, PGC_S_SESSION,
									 GUC_ACTION_SAVE, true, 0, false);
			MlpLoadSource(&opts, &data);
			AtEOXact_GUC(true, guc_nest);
		}
		else
			MlpLoadSource(&opts, &data);
		CheckImageChannels(e, data.channels);
		image_bytes = (Size) data.channels * data.height * data.width;
		if (tta == 0)
		{
			AllocBatchBuffers(&buf, &e->model, (int) Min((int64) mlp_scoring_batch_size, data.n));
			for (int64 start = 0; start < data.n; start += buf.max_batch)
			{
				int			B = (int) Min((int64) buf.max_batch, data.n - start);

				CHECK_FOR_INTERRUPTS();
				for (int i = 0; i < B; i++)
					PreprocessImage(e, data.channels, data.height, data.width,
									data.images + (Size) (start + i) * image_bytes,
									buf.x + (Size) i * e->model.arch.in_dim);
				MlpScoringPrepareBlas(B);
				mlp_eval_add_batch(&totals, &e->model, buf.x, B, data.labels + start,
								   buf.logits, buf.scratch);
			}
		}
		else
			EvaluateWithTta(e, &data, tta, tta_seed, &totals);
		SPI_finish();
	}
	PG_FINALLY();
	{
		MlpModelCacheUnpin(e);
	}
	PG_END_TRY();

	{
		Datum		values[4];
		bool		nulls[4] = {false, false, false, false};

		mlp_eval_stats(&totals, &stats);
		values[0] = Int64GetDatum(stats.n);
		values[1] = Float8GetDatum(stats.accuracy);
		values[2] = Float8GetDatum(stats.top5);
		values[3] = Float8GetDatum(stats.loss);

		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
