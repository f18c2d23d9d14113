/*
 * train_subset.c - train_size, at the call and in the worker, and mlp_subset_key (see
 * train_subset.h; the selection itself is src/core/subset.c).
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/memutils.h"

#include "core/subset.h"
#include "core_error.h"
#include "image_type.h"
#include "privilege.h"
#include "train_subset.h"

/* "Rows by class: class 0 has 120 rows, ...", abbreviated beyond 20 classes. */
static char *
ClassCountsDetail(const MlpClassCounts *counts)
{
	char		buf[MLP_SUBSET_DESCRIBE_LEN];

	mlp_subset_describe(counts->labels, counts->counts, counts->k, buf, sizeof(buf));
	return psprintf("Rows by class: %s.", buf);
}

int64
MlpTrainSizePerClass(int64 train_size, const MlpClassCounts *counts)
{
	int64		k = counts->k;
	int64		per_class;
	int			smallest = 0;

	if (k == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the source has no labelled rows to take a train_size of " INT64_FORMAT " from",
						train_size)));
	if (train_size > counts->total)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("train_size " INT64_FORMAT " is larger than the source, which has " INT64_FORMAT " rows",
						train_size, counts->total),
				 errdetail("%s", ClassCountsDetail(counts))));
	if (train_size % k != 0)
	{
		int64		lower = train_size / k * k;

		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("train_size " INT64_FORMAT " is not a multiple of " INT64_FORMAT ", the number of classes of the source",
						train_size, k),
				 errdetail("The subset takes the same number of rows of each class."),
				 lower > 0 ?
				 errhint("Use " INT64_FORMAT " or " INT64_FORMAT ".", lower, lower + k) :
				 errhint("Use " INT64_FORMAT ".", k)));
	}
	per_class = train_size / k;
	for (int i = 1; i < counts->k; i++)
		if (counts->counts[i] < counts->counts[smallest])
			smallest = i;
	if (counts->counts[smallest] < per_class)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("train_size " INT64_FORMAT " takes " INT64_FORMAT " rows of each of the " INT64_FORMAT " classes, but class " INT64_FORMAT " has only " INT64_FORMAT,
						train_size, per_class, k, counts->labels[smallest],
						counts->counts[smallest]),
				 errdetail("%s", ClassCountsDetail(counts)),
				 errhint("Use a train_size of at most " INT64_FORMAT " (" INT64_FORMAT " classes x " INT64_FORMAT " %s).",
						 k * counts->counts[smallest], k, counts->counts[smallest],
						 counts->counts[smallest] == 1 ? "row" : "rows")));
	return per_class;
}

void
MlpCheckTrainSize(MlpRunConfig *cfg, const MlpResolvedSource *src)
{
	MlpClassCounts counts;

	cfg->per_class = 0;
	if (cfg->train_size <= 0)
		return;
	MlpSpiConnect();
	MlpSourceClassCounts(src, cfg->label_column, &counts);
	SPI_finish();
	cfg->per_class = MlpTrainSizePerClass(cfg->train_size, &counts);
}

/* per_class as mlp_train stored it: train_size is a multiple of it */
static void
CheckPerClass(const MlpRunConfig *cfg)
{
	if (cfg->per_class <= 0 || cfg->train_size % cfg->per_class != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("run config has train_size " INT64_FORMAT " but per_class " INT64_FORMAT,
						cfg->train_size, cfg->per_class),
				 errhint("mlp_train stores per_class = train_size / the classes of the source.")));
}

static void
ReportSubsetError(const MlpRunConfig *cfg, const MlpError *err)
{
	ereport(ERROR,
			(errcode(MlpCoreErrcode(err->status)),
			 errmsg("the subset of train_size " INT64_FORMAT " cannot be taken from the source as it is now: %s",
					cfg->train_size, err->message),
			 errhint("The source changed after the run was queued; queue it again, and mlp_train checks train_size against the source as it is then.")));
}

void
MlpTakeTrainSubset(const MlpRunConfig *cfg, MlpSourceData *train)
{
	Size		image_bytes = (Size) train->channels * train->height * train->width;
	int64		kept;
	MlpError	err;

	if (cfg->train_size <= 0)
		return;
	CheckPerClass(cfg);
	if (mlp_subset_take(train->images, train->labels, train->n, train->channels,
						train->height, train->width, cfg->seed, cfg->per_class,
						(int) (cfg->train_size / cfg->per_class), &kept, &err) != MLP_OK)
		ReportSubsetError(cfg, &err);
	/* give back the rows left out: the data is most of a worker's memory */
	train->n = kept;
	train->images = repalloc_huge(train->images, kept * image_bytes);
	train->labels = repalloc_huge(train->labels, kept * sizeof(int32));
	train->max_label = -1;
	for (int64 i = 0; i < kept; i++)
		train->max_label = Max(train->max_label, train->labels[i]);
}

/*
 * mlp_subset_key(img image, seed bigint): the key by which train_size orders the rows of a
 * class (the smallest per_class are kept), so that a user can rebuild a run's subset in SQL.
 */
PG_FUNCTION_INFO_V1(mlp_subset_key);
Datum
mlp_subset_key(PG_FUNCTION_ARGS)
{
	MlpImage   *img = PG_GETARG_MLP_IMAGE_P(0);
	int64		seed = PG_GETARG_INT64(1);

	PG_RETURN_INT64(mlp_image_subset_key(seed, img->data, img->channels, img->height,
										 img->width));
}

bool
MlpStreamSubsetBegin(const MlpRunConfig *cfg, MlpSubsetSelector *sel)
{
	if (cfg->train_size <= 0)
		return false;
	CheckPerClass(cfg);
	mlp_subset_selector_init(sel, cfg->seed, cfg->per_class);
	return true;
}

void
MlpStreamSubsetAdd(const MlpRunConfig *cfg, MlpSubsetSelector *sel, const uint8 *images,
				   const int32 *labels, int64 n, int channels, int height, int width)
{
	MlpError	err;

	if (labels == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("train_size needs the labels of the source")));
	if (mlp_subset_selector_add(sel, images, labels, n, channels, height, width, &err) != MLP_OK)
		ReportSubsetError(cfg, &err);
}

void
MlpStreamSubsetFinish(const MlpRunConfig *cfg, MlpSubsetSelector *sel)
{
	MlpError	err;

	if (mlp_subset_selector_finish(sel, (int) (cfg->train_size / cfg->per_class), &err) != MLP_OK)
		ReportSubsetError(cfg, &err);
}
