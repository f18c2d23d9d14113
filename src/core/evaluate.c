/*
 * evaluate.c - the evaluation totals of evaluate.h, plain and with test-time augmentation.
 */
#include "evaluate.h"

#include <math.h>

#include "loss.h"
#include "rng.h"

void
mlp_eval_add_logits(MlpEvalTotals *tot, const float *logits, int B, int classes,
					const int32_t *labels)
{
	MlpLossResult res;

	if (B <= 0)
		return;
	res = mlp_softmax_xent(logits, B, classes, labels, NULL, 1.0f, 0.0f, NULL);
	tot->loss_sum += res.loss * B;
	tot->correct += res.correct;
	tot->correct_top5 += res.correct_top5;
	tot->n += B;
}

void
mlp_eval_add_batch(MlpEvalTotals *tot, const MlpModel *m, const float *x, int B,
				   const int32_t *labels, float *logits, float *scratch)
{
	if (B <= 0)
		return;
	mlp_model_infer(m, x, B, logits, scratch);
	mlp_eval_add_logits(tot, logits, B, m->arch.classes, labels);
}

void
mlp_tta_augment_defaults(MlpAugmentConfig *cfg, MlpImageSpec in, MlpImageSpec out)
{
	mlp_augment_defaults(cfg, in, out);
	cfg->scale_min = MLP_TTA_SCALE_MIN;
	cfg->scale_max = MLP_TTA_SCALE_MAX;
}

/*
 * log(sum_j exp(z_j)) of one row, with the same expressions in the same order as
 * mlp_softmax_xent: a single view must give its loss bit for bit.
 */
static double
row_logsumexp(const float *z, int C)
{
	float		zmax = z[0];
	double		sumexp = 0.0;

	for (int j = 1; j < C; j++)
		if (z[j] > zmax)
			zmax = z[j];
	for (int j = 0; j < C; j++)
		sumexp += exp((double) z[j] - zmax);
	return zmax + log(sumexp);
}

/*
 * log of the mean over the views of softmax(z_v)[j]: z [views, C] of one image, lse[v] the
 * log-sum-exp of row v.  For one view this is exactly z[j] - lse[0]: the maximum is that
 * term, exp(0) = 1, log(1) = 0.
 */
static double
mean_log_prob(const float *z, const double *lse, int views, int C, int j, double log_views)
{
	double		mx = (double) z[j] - lse[0];
	double		s = 0.0;

	for (int v = 1; v < views; v++)
	{
		double		lp = (double) z[(size_t) v * C + j] - lse[v];

		if (lp > mx)
			mx = lp;
	}
	if (mx == -INFINITY)
		return -INFINITY;		/* every view gives it probability 0 */
	for (int v = 0; v < views; v++)
		s += exp((double) z[(size_t) v * C + j] - lse[v] - mx);
	return mx + log(s) - log_views;
}

MlpStatus
mlp_eval_add_views(MlpEvalTotals *tot, const float *logits, int B, int views, int classes,
				   const int32_t *labels, MlpError *err)
{
	double		lse[MLP_TTA_MAX_VIEWS];
	double		log_views = log((double) views);
	double		total = 0.0;
	double		mean;

	if (views < 1 || views > MLP_TTA_MAX_VIEWS)
		return mlp_error_set(err, MLP_ERR_INVALID_ARGUMENT,
							 "views per image must be between 1 and %d, not %d",
							 MLP_TTA_MAX_VIEWS, views);
	if (B <= 0)
		return MLP_OK;
	for (int i = 0; i < B; i++)
	{
		const float *z = logits + (size_t) i * views * classes;
		int			a = labels[i];
		double		la;
		int			above = 0;

		for (int v = 0; v < views; v++)
			lse[v] = row_logsumexp(z + (size_t) v * classes, classes);
		la = mean_log_prob(z, lse, views, classes, a, log_views);
		for (int j = 0; j < classes; j++)
		{
			double		lj;

			if (j == a)
				continue;
			lj = mean_log_prob(z, lse, views, classes, j, log_views);
			if (lj > la || (lj == la && j < a))
				above++;
		}
		total += -la;
		tot->correct += above == 0;
		tot->correct_top5 += above < 5;
	}
	/* a batch's mean times its size, as mlp_eval_add_logits adds it (the same bits) */
	mean = total / B;
	tot->loss_sum += mean * B;
	tot->n += B;
	return MLP_OK;
}

MlpStatus
mlp_eval_add_tta(MlpEvalTotals *tot, const MlpModel *m, const MlpAugmentConfig *aug,
				 int views, uint64_t seed, int64_t first, const uint8_t *images, int B,
				 const int32_t *labels, float *x, float *logits, float *scratch,
				 MlpError *err)
{
	int64_t		in_dim = m->arch.in_dim;
	size_t		image_bytes = (size_t) aug->in.channels * aug->in.height * aug->in.width;

	if (views < 1 || views > MLP_TTA_MAX_VIEWS)
		return mlp_error_set(err, MLP_ERR_INVALID_ARGUMENT,
							 "views per image must be between 1 and %d, not %d",
							 MLP_TTA_MAX_VIEWS, views);
	if ((int64_t) aug->out.channels * aug->out.height * aug->out.width != in_dim ||
		aug->out.channels != aug->in.channels)
		return mlp_error_set(err, MLP_ERR_INVALID_ARGUMENT,
							 "views of %dx%dx%d images at %dx%dx%d do not fit a model input of %lld values",
							 aug->in.channels, aug->in.height, aug->in.width,
							 aug->out.channels, aug->out.height, aug->out.width,
							 (long long) in_dim);
	if (B <= 0)
		return MLP_OK;
	for (int i = 0; i < B; i++)
	{
		MlpRng		rng;

		/* the views of an image depend on the seed and its number only */
		mlp_rng_seed(&rng, seed, (uint64_t) (first + i));
		for (int v = 0; v < views; v++)
			mlp_augment_image(aug, images + (size_t) i * image_bytes,
							  x + ((size_t) i * views + v) * in_dim, &rng);
	}
	mlp_model_infer(m, x, B * views, logits, scratch);
	return mlp_eval_add_views(tot, logits, B, views, m->arch.classes, labels, err);
}

void
mlp_eval_stats(const MlpEvalTotals *tot, MlpEvalStats *stats)
{
	stats->n = tot->n;
	stats->loss = tot->n ? tot->loss_sum / tot->n : 0;
	stats->accuracy = tot->n ? (double) tot->correct / tot->n : 0;
	stats->top5 = tot->n ? (double) tot->correct_top5 / tot->n : 0;
}
