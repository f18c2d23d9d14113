/*
 * evaluate.c - the evaluation totals of evaluate.h.
 */
#include "evaluate.h"

#include "loss.h"

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
mlp_eval_stats(const MlpEvalTotals *tot, MlpEvalStats *stats)
{
	stats->n = tot->n;
	stats->loss = tot->n ? tot->loss_sum / tot->n : 0;
	stats->accuracy = tot->n ? (double) tot->correct / tot->n : 0;
	stats->top5 = tot->n ? (double) tot->correct_top5 / tot->n : 0;
}
