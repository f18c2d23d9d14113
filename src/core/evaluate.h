/*
 * evaluate.h - loss, top-1 and top-5 accuracy of a model over labelled images.
 *
 * The one evaluation of the core: the trainer's validation and the server's mlp_evaluate
 * add their batches to the same totals.  Batches are added one call at a time, so that the
 * caller keeps the loop (reading rows, checking for interrupts, setting BLAS threads) and
 * this code keeps the arithmetic.  No augmentation; the loss is without label smoothing.
 */
#ifndef MLP_EVALUATE_H
#define MLP_EVALUATE_H

#include <stdint.h>

#include "model.h"

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

/* Means of the totals (all 0 when no image was added). */
void		mlp_eval_stats(const MlpEvalTotals *tot, MlpEvalStats *stats);

#endif
