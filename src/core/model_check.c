/*
 * model_check.c - bounds on the values of an imported model (see model_check.h).
 */
#include "model_check.h"

#include <math.h>
#include <stdio.h>

int
mlp_model_check_values(const MlpModel *m, const MlpModelMeta *meta, char *err, size_t errlen)
{
	for (int t = 0; t < m->num_tensors; t++)
	{
		const MlpTensor *tensor = &m->tensors[t];
		const float *v = m->params + tensor->offset;

		for (size_t i = 0; i < tensor->numel; i++)
		{
			if (!isfinite(v[i]))
			{
				snprintf(err, errlen, "tensor %s has a non-finite value (%g) at element %zu",
						 tensor->name, (double) v[i], i);
				return -1;
			}
			if (fabsf(v[i]) > MLP_CHECK_MAX_ABS)
			{
				snprintf(err, errlen, "tensor %s has value %g at element %zu, beyond the bound of %g",
						 tensor->name, (double) v[i], i, (double) MLP_CHECK_MAX_ABS);
				return -1;
			}
		}
	}
	for (int c = 0; c < meta->input.channels; c++)
	{
		float		mean = meta->mean[c];
		float		std = meta->std[c];

		if (!isfinite(mean) || fabsf(mean) > MLP_CHECK_MAX_MEAN)
		{
			snprintf(err, errlen, "mean of channel %d is %g, outside [-%g, %g]", c, (double) mean,
					 (double) MLP_CHECK_MAX_MEAN, (double) MLP_CHECK_MAX_MEAN);
			return -1;
		}
		if (!isfinite(std) || std < MLP_CHECK_MIN_STD || std > MLP_CHECK_MAX_STD)
		{
			snprintf(err, errlen, "std of channel %d is %g, outside [%g, %g]", c, (double) std,
					 (double) MLP_CHECK_MIN_STD, (double) MLP_CHECK_MAX_STD);
			return -1;
		}
	}
	return 0;
}
