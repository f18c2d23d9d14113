/*
 * model_check.h - bounds on the values of a model that comes from outside (mlp_import).
 *
 * A file can hold any float: NaN, infinities or 1e38 make every prediction NaN (and classify
 * return 0), and a std of 1e-45 turns every pixel into an infinity.  Such a model is refused
 * at the door, with the tensor or statistic named, rather than scored wrongly for ever.
 *
 * The bounds are far outside what training produces (trained weights of the paper's models
 * stay below 100 in magnitude) and keep every activation far from float overflow: with
 * |x| <= 1/MLP_CHECK_MIN_STD per input and |w| <= MLP_CHECK_MAX_ABS, a layer of up to 2^20
 * inputs sums to at most about 1e16.
 */
#ifndef MLP_MODEL_CHECK_H
#define MLP_MODEL_CHECK_H

#include <stddef.h>

#include "model.h"
#include "weights.h"

#define MLP_CHECK_MAX_ABS	1e6f	/* largest |parameter| */
#define MLP_CHECK_MIN_STD	1e-4f	/* smallest per-channel std, 0-1 pixel scale */
#define MLP_CHECK_MAX_STD	1e4f
#define MLP_CHECK_MAX_MEAN	1e3f	/* largest |mean| */

/*
 * 0 when every parameter is finite with |v| <= MLP_CHECK_MAX_ABS and mean and std are within
 * their bounds; else -1 with a message naming the tensor (and the index and value of its
 * first bad element) or the statistic.
 */
int			mlp_model_check_values(const MlpModel *m, const MlpModelMeta *meta, char *err,
								   size_t errlen);

#endif
