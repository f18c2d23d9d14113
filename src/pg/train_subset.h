/*
 * train_subset.h - train_size: the class-balanced subset of a run's source.
 *
 * The call (mlp_train, mlp_finetune) counts the rows of each class of the source and turns
 * train_size into per_class, refusing sizes the source cannot give; the worker keeps per_class
 * rows of each class of what it loaded (src/core/subset.c), chosen by the run's seed and the
 * images alone.  mlp_subset_key exposes the ordering key to SQL.
 */
#ifndef MLP_TRAIN_SUBSET_H
#define MLP_TRAIN_SUBSET_H

#include "postgres.h"

#include "core/subset.h"
#include "data_source.h"
#include "run_config.h"

/*
 * per_class = train_size / K for the K classes of counts; ERROR 22023 (with the rows of each
 * class in the detail) when the source has no labelled rows, train_size exceeds its rows, is
 * not a multiple of K (the hint gives the nearest multiples) or needs more rows of a class
 * than it has.
 */
extern int64 MlpTrainSizePerClass(int64 train_size, const MlpClassCounts *counts);

/*
 * For QueueRun, with the source resolved: when cfg->train_size is set, counts the classes of
 * src (as the caller, under the caller's search_path) and sets cfg->per_class; ERROR as
 * MlpTrainSizePerClass.
 */
extern void MlpCheckTrainSize(MlpRunConfig *cfg, const MlpResolvedSource *src);

/*
 * In the worker, right after the source is loaded: compacts train in place to the subset of
 * cfg (nothing when train_size is not set).  ERROR when the source changed since the call so
 * that the subset cannot be taken (a class has fewer than per_class rows, or the classes
 * differ).
 */
extern void MlpTakeTrainSubset(const MlpRunConfig *cfg, MlpSourceData *train);

/*
 * A streamed run's subset (src/core/subset.c, the selector): starts sel for cfg, false when
 * train_size is not set.  MlpStreamSubsetFinish after the survey has added every row: ERROR
 * as MlpTakeTrainSubset when the subset cannot be taken from the source as it is now.
 */
extern bool MlpStreamSubsetBegin(const MlpRunConfig *cfg, MlpSubsetSelector *sel);
extern void MlpStreamSubsetAdd(const MlpRunConfig *cfg, MlpSubsetSelector *sel,
							   const uint8 *images, const int32 *labels, int64 n,
							   int channels, int height, int width);
extern void MlpStreamSubsetFinish(const MlpRunConfig *cfg, MlpSubsetSelector *sel);

#endif
