/*
 * evaluate.h - loss, top-1 and top-5 accuracy of a model over labelled images.
 *
 * The one evaluation of the core: the trainer's validation and the server's mlp_evaluate
 * add their batches to the same totals.  Batches are added one call at a time, so that the
 * caller keeps the loop (reading rows, checking for interrupts, setting BLAS threads) and
 * this code keeps the arithmetic.  The loss is without label smoothing.
 *
 * Test-time augmentation (mlp_evaluate's tta): each image is scored as several random views
 * (random-resized crop and flip, the training recipe's code in augment.c with a milder scale
 * range), the softmax probabilities of its views are averaged, and top-1, top-5 and the loss
 * -log(mean probability of the label) come from that average.  The views of image i are drawn
 * from the stream (seed, i), i its number in reading order, so the result does not depend on
 * how the images are cut into calls.
 */
#ifndef MLP_EVALUATE_H
#define MLP_EVALUATE_H

#include <stdint.h>

#include "augment.h"
#include "model.h"
#include "status.h"

/* Most views per image of test-time augmentation (mlp_evaluate's tta bound). */
#define MLP_TTA_MAX_VIEWS 64

/* The crops of test-time augmentation: milder than training's 0.08 (docs/design.md). */
#define MLP_TTA_SCALE_MIN 0.35
#define MLP_TTA_SCALE_MAX 1.0

typedef struct MlpEvalStats
{
	int64_t		n;
	double		loss;			/* mean cross-entropy, no smoothing */
	double		accuracy;		/* top-1 */
	double		top5;
} MlpEvalStats;

/* Running sums over the batches added so far; start from {0}. */
typedef struct MlpEvalTotals
{
	double		loss_sum;
	int64_t		correct;
	int64_t		correct_top5;
	int64_t		n;
} MlpEvalTotals;

/*
 * A batch of B normalised images x [B, m->arch.in_dim] with their labels: inference with m
 * into logits [B, classes], then added to tot.  scratch holds mlp_model_scratch_floats(m, B).
 */
void		mlp_eval_add_batch(MlpEvalTotals *tot, const MlpModel *m, const float *x, int B,
							   const int32_t *labels, float *logits, float *scratch);

/* The logits [B, classes] of a batch that the caller ran forward itself, added to tot. */
void		mlp_eval_add_logits(MlpEvalTotals *tot, const float *logits, int B, int classes,
								const int32_t *labels);

/*
 * The augmentation of a test-time view: mlp_augment_defaults (crop, flip with p = 0.5, ratio
 * 3/4-4/3) with the scale range MLP_TTA_SCALE_MIN-MLP_TTA_SCALE_MAX; mean 0 and std 1 until
 * the caller sets the model's.
 */
void		mlp_tta_augment_defaults(MlpAugmentConfig *cfg, MlpImageSpec in, MlpImageSpec out);

/*
 * The logits [B * views, classes] of B images, views consecutive rows per image (row
 * i * views + v), added to tot as B images: per image the softmax probabilities of its views
 * are averaged, top-1 and top-5 are the ranks of the label in that average (ties count
 * against the label only from lower classes, as in mlp_eval_add_logits) and the loss is
 * -log of its probability there.  The average is computed in double in the log domain
 * (log-sum-exp over the views of their log-probabilities, minus log views), so that tiny
 * probabilities do not underflow and one view gives exactly what mlp_eval_add_logits gives.
 * 1 <= views <= MLP_TTA_MAX_VIEWS, else MLP_ERR_INVALID_ARGUMENT and tot is unchanged.
 */
MlpStatus	mlp_eval_add_views(MlpEvalTotals *tot, const float *logits, int B, int views,
							   int classes, const int32_t *labels, MlpError *err);

/*
 * Test-time augmentation of B uint8 planar images (aug->in each, consecutive), the first of
 * which is image number `first` of the evaluation in reading order: `views` views per image,
 * each mlp_augment_image(aug) drawn in turn from the stream mlp_rng_seed(seed, first + i),
 * one inference of all B * views rows, then mlp_eval_add_views.  aug->out must be the model's
 * input.  x holds B * views * m->arch.in_dim floats, logits B * views * classes, scratch
 * mlp_model_scratch_floats(m, B * views).  With aug's crop and flip off every view is the
 * plain preprocessed image (how the tests compare with plain evaluation).
 */
MlpStatus	mlp_eval_add_tta(MlpEvalTotals *tot, const MlpModel *m, const MlpAugmentConfig *aug,
							 int views, uint64_t seed, int64_t first, const uint8_t *images,
							 int B, const int32_t *labels, float *x, float *logits,
							 float *scratch, MlpError *err);

/* Means of the totals (all 0 when no image was added). */
void		mlp_eval_stats(const MlpEvalTotals *tot, MlpEvalStats *stats);

#endif
