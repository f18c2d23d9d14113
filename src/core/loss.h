/*
 * loss.h - softmax cross-entropy with label smoothing and MixUp (soft) targets.
 *
 * The target of image i is  lam * onehot(a_i) + (1 - lam) * onehot(b_i),  smoothed to
 * (1 - eps) * t + eps / C, which equals PyTorch's
 * lam * CE(z, a, label_smoothing=eps) + (1 - lam) * CE(z, b, label_smoothing=eps).
 */
#ifndef MLP_LOSS_H
#define MLP_LOSS_H

#include <stdint.h>

typedef struct MlpLossResult
{
	double		loss;			/* mean over the batch */
	int64_t		correct;		/* argmax == label_a */
	int64_t		correct_top5;	/* label_a among the 5 largest logits */
} MlpLossResult;

/*
 * logits [B, C]; label_b may be NULL (no MixUp, lam ignored).  When dlogits is not NULL it
 * receives d(mean loss)/d(logits) = (softmax - target) / B.
 */
MlpLossResult mlp_softmax_xent(const float *logits, int B, int C,
							   const int32_t *label_a, const int32_t *label_b, float lam,
							   float smoothing, float *dlogits);

/* Row-wise softmax of logits [B, C] into probs (may alias). */
void		mlp_softmax(const float *logits, int B, int C, float *probs);

#endif
